//! A statement checked before it runs (seed 001 P14, P15).
//!
//! The text is parsed by `sqlparser` with the dialect of the engine in use
//! into a typed tree, and the tree is walked node by node against an
//! allow-list: exactly one query (`SELECT`, `WITH … SELECT`, set operations
//! of selects) whose only table is the dataset's own (`data`, or the
//! dataset's name), common table expressions that read, functions from
//! [`functions`](self::functions), plain literals and casts to plain types.
//! Whatever the walker does not know is refused, and the refusal names the
//! rule it broke ([`Rule`]). The dataset's table is rewritten to its
//! physical name (aliased to what the statement called it), the row cap is
//! applied as the outermost `LIMIT`, and the text that runs is printed from
//! the checked tree, never the input: comments, stacked statements and
//! quoting tricks cannot reach the engine. That text must parse back to
//! itself, or it is refused too. A refused statement is never executed.

mod expr;
pub(crate) mod functions;
mod walk;

#[cfg(test)]
mod corpus;

use std::fmt;

use sea_orm::DbBackend;
use sqlparser::ast::Statement;
use sqlparser::dialect::{Dialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

/// Longest statement accepted, in bytes.
pub const MAX_SQL_BYTES: usize = 20_000;
/// Most tokens (whitespace and comments aside) a statement may have. The
/// parser bounds its own recursion, but `a + a + … + a` is built in a loop
/// as a left-deep tree; bounding the tokens bounds that tree's depth, and
/// with it every recursive walk, print, clone and drop of it.
pub const MAX_TOKENS: usize = 4_000;

/// The engine a statement is checked for and runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// Embedded: one SQLite file per dataset.
    Sqlite,
    /// Production: a table per dataset in `alatar_datasets`.
    Postgres,
}

impl Engine {
    /// The engine behind a sea-orm connection.
    pub fn of(backend: DbBackend) -> Self {
        match backend {
            DbBackend::Postgres => Engine::Postgres,
            _ => Engine::Sqlite,
        }
    }

    /// Its name, as the merchant reads it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }

    fn dialect(self) -> &'static dyn Dialect {
        match self {
            Engine::Sqlite => &SQLiteDialect {},
            Engine::Postgres => &PostgreSqlDialect {},
        }
    }
}

/// The rule a refused statement broke; its [`Rule::code`] is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Nothing to run.
    Empty,
    /// Over [`MAX_SQL_BYTES`].
    TooLong,
    /// Over [`MAX_TOKENS`], or nested deeper than the walker follows.
    TooComplex,
    /// The parser could not read it.
    Syntax,
    /// More than one statement.
    MultipleStatements,
    /// A statement that is not a query (DDL, `PRAGMA`, `ATTACH`, `COPY`, `SET`…).
    NotAQuery,
    /// `INSERT`, `UPDATE`, `DELETE`, `MERGE`, also inside `WITH`.
    DataModifying,
    /// `SELECT … INTO`.
    Into,
    /// `FOR UPDATE` / `FOR SHARE`.
    Locking,
    /// A table other than the dataset's.
    OtherTable,
    /// A system catalog (`pg_*`, `information_schema`, `sqlite_*`).
    SystemCatalog,
    /// A function in `FROM` (`generate_series`, `json_each`…).
    TableFunction,
    /// A function outside the allow-list, or qualified, or quoted.
    Function,
    /// `WITH RECURSIVE`.
    Recursive,
    /// A common table expression named like the dataset or a catalog.
    CteName,
    /// A literal other than a plain string, number, boolean or `NULL`.
    Literal,
    /// A cast to a type outside the plain ones.
    Type,
    /// A `LIMIT`, `OFFSET` or `FETCH` that is not a whole number.
    Limit,
    /// Any other construct the walker does not allow.
    Construct,
    /// The checked statement does not print back to itself.
    Normalization,
}

impl Rule {
    /// The stable code clients and tests read.
    pub fn code(self) -> &'static str {
        match self {
            Rule::Empty => "EMPTY",
            Rule::TooLong => "TOO_LONG",
            Rule::TooComplex => "TOO_COMPLEX",
            Rule::Syntax => "SYNTAX",
            Rule::MultipleStatements => "MULTIPLE_STATEMENTS",
            Rule::NotAQuery => "NOT_A_QUERY",
            Rule::DataModifying => "DATA_MODIFYING",
            Rule::Into => "SELECT_INTO",
            Rule::Locking => "LOCKING",
            Rule::OtherTable => "OTHER_TABLE",
            Rule::SystemCatalog => "SYSTEM_CATALOG",
            Rule::TableFunction => "TABLE_FUNCTION",
            Rule::Function => "FUNCTION",
            Rule::Recursive => "RECURSIVE",
            Rule::CteName => "CTE_NAME",
            Rule::Literal => "LITERAL",
            Rule::Type => "TYPE",
            Rule::Limit => "LIMIT",
            Rule::Construct => "CONSTRUCT",
            Rule::Normalization => "NORMALIZATION",
        }
    }
}

/// Why a statement will not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The rule it broke.
    pub rule: Rule,
    /// What in the statement broke it, in plain words.
    pub detail: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule.code(), self.detail)
    }
}

impl std::error::Error for Refusal {}

fn refuse(rule: Rule, detail: impl Into<String>) -> Refusal {
    Refusal { rule, detail: detail.into() }
}

/// What a statement may name and what it becomes.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The engine it runs on.
    pub engine: Engine,
    /// The dataset's own name (also accepted as its table's name).
    pub dataset_name: &'a str,
    /// The table reference that runs (`storage::physical_table`).
    pub physical: &'a str,
    /// Most rows returned; one more is fetched to tell truncation.
    pub row_cap: usize,
}

/// A statement that passed every rule, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedQuery {
    shown: String,
    executed: String,
}

impl ValidatedQuery {
    /// The statement as the merchant reads it: normalised, naming `data`
    /// (or what they called it), with their own `LIMIT`.
    pub fn sql(&self) -> &str {
        &self.shown
    }

    /// What runs: the physical table, the row cap applied.
    pub fn executed(&self) -> &str {
        &self.executed
    }

    /// A statement that skipped validation: only for tests proving that
    /// the read-only execution refuses writes by itself.
    #[doc(hidden)]
    pub fn unchecked_for_tests(executed: impl Into<String>) -> Self {
        let executed = executed.into();
        Self { shown: executed.clone(), executed }
    }
}

/// Checks `sql` for `target` and prepares it to run; see the module doc.
pub fn validate(sql: &str, target: &Target<'_>) -> Result<ValidatedQuery, Refusal> {
    let text = sql.trim();
    if text.is_empty() {
        return Err(refuse(Rule::Empty, "the statement is empty"));
    }
    if text.len() > MAX_SQL_BYTES {
        return Err(refuse(Rule::TooLong, format!("the statement is longer than {MAX_SQL_BYTES} bytes")));
    }
    let dialect = target.engine.dialect();
    let tokens = Tokenizer::new(dialect, text).tokenize().map_err(|e| refuse(Rule::Syntax, e.to_string()))?;
    let significant = tokens.iter().filter(|t| !matches!(t, Token::Whitespace(_))).count();
    if significant > MAX_TOKENS {
        return Err(refuse(Rule::TooComplex, format!("the statement has more than {MAX_TOKENS} tokens")));
    }
    let mut statements = Parser::new(dialect)
        .try_with_sql(text)
        .and_then(|mut parser| parser.parse_statements())
        .map_err(|e| refuse(Rule::Syntax, e.to_string().trim_start_matches("sql parser error: ").to_owned()))?;
    let statement = match statements.len() {
        0 => return Err(refuse(Rule::Empty, "the statement is empty")),
        1 => statements.remove(0),
        n => return Err(refuse(Rule::MultipleStatements, format!("exactly one statement may run, found {n}"))),
    };
    let query = match statement {
        Statement::Query(query) => query,
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) | Statement::Merge(_) => {
            return Err(refuse(
                Rule::DataModifying,
                format!("{} changes data; only queries that read may run", keyword(&statement)),
            ));
        }
        other => {
            return Err(refuse(
                Rule::NotAQuery,
                format!("{} is not a query; only SELECT (with WITH, UNION…) may run", keyword(&other)),
            ));
        }
    };
    let physical = Parser::new(dialect)
        .try_with_sql(target.physical)
        .and_then(|mut parser| parser.parse_object_name(false))
        .map_err(|e| refuse(Rule::Normalization, format!("the dataset's table name does not parse: {e}")))?;
    let mut executed = query.clone();
    let mut walker =
        walk::Walker { engine: target.engine, dataset_name: target.dataset_name, physical, depth: 0, ctes: Vec::new() };
    walker.query(&mut executed, Some(target.row_cap))?;
    let shown = query.to_string();
    let executed = executed.to_string();
    let reparsed = Parser::parse_sql(dialect, &executed)
        .map_err(|e| refuse(Rule::Normalization, format!("the checked statement does not parse back: {e}")))?;
    if reparsed.len() != 1 || reparsed[0].to_string() != executed {
        return Err(refuse(Rule::Normalization, "the checked statement does not print back to itself"));
    }
    Ok(ValidatedQuery { shown, executed })
}

/// The statement's leading keyword, for refusals (`DROP`, `PRAGMA`…).
fn keyword(statement: &Statement) -> String {
    let text = statement.to_string();
    text.split_whitespace().next().unwrap_or("the statement").to_ascii_uppercase()
}

/// At most 60 characters of a node, for refusals.
fn snippet(node: &impl fmt::Display) -> String {
    let text = node.to_string();
    if text.chars().count() <= 60 { text } else { format!("{}…", text.chars().take(60).collect::<String>()) }
}

/// Whether a (lower-cased) name is a system catalog or schema.
fn is_system(name: &str) -> bool {
    name.starts_with("pg_") || name == "information_schema" || name.starts_with("sqlite_")
}
