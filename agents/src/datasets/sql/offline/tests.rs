//! Each rule of the grammar, on both engines, and the refusals. Every
//! translation must pass the validator as well.

use super::phrases::words;
use super::{Unanswerable, translate};
use crate::datasets::column::{ColumnSpec, ColumnType};
use crate::datasets::sql::validate::{Engine, Target, validate};

fn column(name: &str, kind: ColumnType) -> ColumnSpec {
    ColumnSpec { name: name.into(), kind, inferred: kind }
}

fn spend() -> Vec<ColumnSpec> {
    vec![
        column("day", ColumnType::Date),
        column("campaign", ColumnType::Text),
        column("channel", ColumnType::Text),
        column("spend", ColumnType::Float),
        column("clicks", ColumnType::Integer),
        column("active", ColumnType::Boolean),
    ]
}

fn sql_on(engine: Engine, columns: &[ColumnSpec], question: &str) -> String {
    let translation =
        translate(question, columns, engine).unwrap_or_else(|e| panic!("{question:?} on {engine:?}: {e}"));
    let physical = match engine {
        Engine::Sqlite => "data",
        Engine::Postgres => "alatar_datasets.\"ds_00\"",
    };
    let target = Target { engine, dataset_name: "spend", physical, row_cap: 10_000 };
    if let Err(refusal) = validate(&translation.sql, &target) {
        panic!("the translation of {question:?} on {engine:?} was refused: {refusal}\n{}", translation.sql);
    }
    assert!(translation.explanation.ends_with('.'), "{}", translation.explanation);
    translation.sql
}

/// The SQLite translation, checked to validate on PostgreSQL as well.
fn sql(question: &str) -> String {
    sql_on(Engine::Postgres, &spend(), question);
    sql_on(Engine::Sqlite, &spend(), question)
}

fn refused(question: &str, why: &str) {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        match translate(question, &spend(), engine) {
            Ok(t) => panic!("{question:?} translated to {}", t.sql),
            Err(Unanswerable(reason)) => assert!(reason.contains(why), "{question:?}: {reason}"),
        }
    }
}

#[test]
fn words_keep_quoted_values_and_operators() {
    let split = words("Top 5 \"Paid Social\" campaigns, spend >= $1,000?");
    let texts: Vec<&str> = split.iter().map(|w| w.text.as_str()).collect();
    assert_eq!(texts, ["top", "5", "paid social", "campaigns", "spend", ">=", "1000"]);
    assert!(split[2].quoted && split[2].raw == "Paid Social");
}

#[test]
fn measures() {
    assert_eq!(sql("What is the average clicks?"), "SELECT AVG(\"clicks\") AS \"average_clicks\" FROM data");
    assert_eq!(sql("total spend"), "SELECT SUM(\"spend\") AS \"total_spend\" FROM data");
    assert_eq!(sql("sum of spend"), "SELECT SUM(\"spend\") AS \"total_spend\" FROM data");
    assert_eq!(sql("max spend"), "SELECT MAX(\"spend\") AS \"max_spend\" FROM data");
    assert_eq!(sql("how many rows"), "SELECT COUNT(*) AS \"row_count\" FROM data");
    assert_eq!(sql("number of records"), "SELECT COUNT(*) AS \"row_count\" FROM data");
    assert_eq!(sql("how many campaigns"), "SELECT COUNT(DISTINCT \"campaign\") AS \"distinct_campaign\" FROM data");
    assert_eq!(sql("how many clicks"), "SELECT SUM(\"clicks\") AS \"total_clicks\" FROM data");
}

#[test]
fn measures_by_a_column() {
    let by_campaign = "SELECT \"campaign\", SUM(\"spend\") AS \"total_spend\" FROM data GROUP BY 1 ORDER BY 2 DESC, 1";
    assert_eq!(sql("total spend by campaign"), by_campaign);
    assert_eq!(sql("Show me the total spend for each campaign"), by_campaign);
    assert_eq!(sql("spend per campaign"), by_campaign);
    assert_eq!(
        sql("lowest clicks per channel"),
        "SELECT \"channel\", MIN(\"clicks\") AS \"min_clicks\" FROM data GROUP BY 1 ORDER BY 2 DESC, 1"
    );
    assert_eq!(
        sql("count by channel"),
        "SELECT \"channel\", COUNT(*) AS \"row_count\" FROM data GROUP BY 1 ORDER BY 2 DESC, 1"
    );
    // Names match ignoring case, spaces and underscores.
    let columns = vec![column("Ad Spend", ColumnType::Float), column("campaign_name", ColumnType::Text)];
    assert_eq!(
        sql_on(Engine::Sqlite, &columns, "total ad_spend by Campaign Name"),
        "SELECT \"campaign_name\", SUM(\"Ad Spend\") AS \"total_ad_spend\" FROM data GROUP BY 1 ORDER BY 2 DESC, 1"
    );
}

#[test]
fn top_n() {
    assert_eq!(
        sql("top 5 campaigns by spend"),
        "SELECT \"campaign\", SUM(\"spend\") AS \"total_spend\" FROM data GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"
    );
    assert_eq!(
        sql("bottom 2 channels by average clicks"),
        "SELECT \"channel\", AVG(\"clicks\") AS \"average_clicks\" FROM data GROUP BY 1 ORDER BY 2 ASC, 1 LIMIT 2"
    );
    // A plural without a number is ten; a singular one.
    assert!(sql("top campaigns by spend").ends_with("LIMIT 10"));
    assert!(sql("top campaign by spend").ends_with("LIMIT 1"));
    assert_eq!(
        sql("Which campaign had the most clicks?"),
        "SELECT \"campaign\", SUM(\"clicks\") AS \"total_clicks\" FROM data GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
    );
}

#[test]
fn filters_on_values() {
    assert_eq!(
        sql("total spend where channel is email"),
        "SELECT SUM(\"spend\") AS \"total_spend\" FROM data WHERE lower(\"channel\") = lower('email')"
    );
    assert_eq!(
        sql("total spend by campaign where channel is 'Paid Social' and clicks over 10"),
        "SELECT \"campaign\", SUM(\"spend\") AS \"total_spend\" FROM data \
         WHERE lower(\"channel\") = lower('Paid Social') AND \"clicks\" > 10 GROUP BY 1 ORDER BY 2 DESC, 1"
    );
    assert!(sql("how many rows where channel is not search").ends_with("WHERE lower(\"channel\") <> lower('search')"));
    assert!(sql("how many rows where clicks at least 3").ends_with("WHERE \"clicks\" >= 3"));
    assert!(sql("how many rows where spend is less than 2.5").ends_with("WHERE \"spend\" < 2.5"));
    let contains = sql("total spend where campaign contains spring");
    assert!(contains.ends_with("WHERE instr(lower(\"campaign\"), lower('spring')) > 0"), "{contains}");
    assert!(sql("how many rows where active is yes").ends_with("WHERE \"active\" = 1"));
    let pg = sql_on(Engine::Postgres, &spend(), "how many rows where active is yes");
    assert!(pg.ends_with("WHERE \"active\" = TRUE"), "{pg}");
    assert!(sql("how many rows where day is 2026-03-02").ends_with("WHERE date(\"day\") = '2026-03-02'"));
    // A quote in a value stays inside the literal.
    assert!(sql("how many rows where campaign is \"O'Brien\"").ends_with("lower('O''Brien')"));
}

#[test]
fn date_ranges() {
    assert_eq!(
        sql("total spend in 2026"),
        "SELECT SUM(\"spend\") AS \"total_spend\" FROM data \
         WHERE date(\"day\") >= '2026-01-01' AND date(\"day\") < '2027-01-01'"
    );
    assert!(sql("total spend in March 2026").ends_with(">= '2026-03-01' AND date(\"day\") < '2026-04-01'"));
    assert!(sql("total spend in 2026-02").ends_with(">= '2026-02-01' AND date(\"day\") < '2026-03-01'"));
    assert!(sql("total spend where day is in 2025").ends_with(">= '2025-01-01' AND date(\"day\") < '2026-01-01'"));
    assert!(sql("total spend since 2026-03-05").contains("date(\"day\") >= '2026-03-05'"));
    assert!(sql("total spend between 2026-01-01 and 2026-01-31").ends_with("< '2026-02-01'"));
    assert_eq!(
        sql("total spend in the last 30 days"),
        "SELECT SUM(\"spend\") AS \"total_spend\" FROM data \
         WHERE date(\"day\") > date((SELECT max(date(\"day\")) FROM data), '-30 days')"
    );
    let pg = sql_on(Engine::Postgres, &spend(), "total spend in the last 30 days");
    assert!(pg.ends_with("WHERE CAST(\"day\" AS DATE) > (SELECT max(CAST(\"day\" AS DATE)) FROM data) - 30"), "{pg}");
    let months = sql_on(Engine::Postgres, &spend(), "total spend in the past 3 months");
    assert!(months.ends_with("- INTERVAL '3 months'"), "{months}");
    assert!(sql("total spend last week").ends_with("'-7 days')"));
}

#[test]
fn trends() {
    assert_eq!(
        sql("monthly trend of spend"),
        "SELECT strftime('%Y-%m', \"day\") AS \"month\", SUM(\"spend\") AS \"total_spend\" \
         FROM data GROUP BY 1 ORDER BY 1"
    );
    let pg = sql_on(Engine::Postgres, &spend(), "spend trend by month");
    assert!(pg.starts_with("SELECT to_char(\"day\", 'YYYY-MM') AS \"month\""), "{pg}");
    assert!(sql("spend by week").starts_with("SELECT date(\"day\", 'weekday 0', '-6 days') AS \"week\""));
    assert_eq!(
        sql("daily clicks by channel"),
        "SELECT date(\"day\") AS \"day\", \"channel\", SUM(\"clicks\") AS \"total_clicks\" \
         FROM data GROUP BY 1, 2 ORDER BY 1, 2"
    );
    assert!(sql("spend over time in 2026").contains("WHERE date(\"day\") >= '2026-01-01'"));
    // Several date columns: the trend names one.
    let columns = vec![
        column("ordered", ColumnType::Date),
        column("shipped", ColumnType::Timestamp),
        column("n", ColumnType::Integer),
    ];
    assert!(sql_on(Engine::Sqlite, &columns, "weekly n over shipped").contains("date(\"shipped\", 'weekday 0'"));
    assert!(translate("monthly n", &columns, Engine::Sqlite).is_err_and(|e| e.0.contains("several date columns")));
}

#[test]
fn refusals_say_what_was_not_understood() {
    refused("", "ask a question");
    refused("why did spend drop?", "\"why\"");
    refused("delete all rows", "\"delete\"");
    refused("median spend", "\"median\"");
    refused("total campaign", "not a number");
    refused("total spend for email", "\"email\"");
    refused("total spend where channel is email or channel is search", "\"or\"");
    refused("total spend where clicks is many", "does not compare");
    refused("total spend where campaign over 3", "does not compare");
    refused("total spend by campaign and channel", "\"and\"");
    refused("spend over clicks", "date column");
    refused("total spend \"Spring\"", "not a column");
    refused("top by spend", "what to rank");
    refused("total spend in march", "\"march\"");
    let no_dates = vec![column("n", ColumnType::Integer)];
    assert!(translate("n by month", &no_dates, Engine::Sqlite).is_err_and(|e| e.0.contains("no date column")));
    assert!(Unanswerable("x".into()).to_string().starts_with("can't answer that offline"));
}
