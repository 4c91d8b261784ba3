//! Questions over a dataset answered by read-only SQL (seed 001 §4,
//! P13–P16), as a pipeline of small steps:
//!
//! 1. the statement: the merchant's own (`runSql`), a model's (with a
//!    model configured: the columns and a sample of rows in its prompt,
//!    structured output), or the [`offline`] translator's;
//! 2. [`validate`]: parsed with `sqlparser`, checked against the rules,
//!    the dataset's table rewritten to its physical name, the row cap
//!    applied; a refusal names its rule and nothing runs;
//! 3. [`cache`]: the result of the same statement on the same version of
//!    the dataset within five minutes, if there is one;
//! 4. [`execute`]: read-only, per engine, within a time limit;
//! 5. the explanation: the model's, or a template over the result.
//!
//! A model's statement passes the same validator as anyone's; when it is
//! refused (or the model is unavailable) the translator answers instead,
//! and if it cannot, the refusal is the answer.

pub mod cache;
pub mod execute;
pub mod offline;
pub mod validate;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use sea_orm::DatabaseConnection;
use serde_json::Value;
use uuid::Uuid;

use alatar_entity::dataset;

pub use cache::{CacheKey, MemoryCache, RedisCache, ResultCache};
pub use execute::{ExecuteError, Limits, QueryRows, ResultColumn};
pub use offline::{Translation, Unanswerable};
pub use validate::{Engine, Refusal, Rule, Target, ValidatedQuery};

use super::column::ColumnSpec;
use super::storage::{physical_table, sqlite_path};
use crate::llm::{Llm, OFFLINE_AUTHOR, SqlQuestion, SqlResultBrief};

/// Longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 1_000;
/// Rows of the dataset a model is shown.
const SAMPLE_ROWS: usize = 5;
/// Rows of a result a model explaining it is shown.
const EXPLAINED_ROWS: usize = 20;

/// A dataset as the SQL layer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetTable {
    /// Its id (its storage's name).
    pub id: Uuid,
    /// Its name, accepted as its table's name too.
    pub name: String,
    /// Bumped on every reload: part of every cache key.
    pub version: i32,
    /// Its columns, in order.
    pub columns: Vec<ColumnSpec>,
}

impl DatasetTable {
    /// The dataset row's SQL face.
    pub fn of(model: &dataset::Model) -> Self {
        Self {
            id: model.id,
            name: model.name.clone(),
            version: model.version,
            columns: ColumnSpec::list_from(&model.columns),
        }
    }
}

/// A statement's result, with what it was and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The statement as the merchant reads it (naming `data`).
    pub sql: String,
    /// The result.
    pub rows: Arc<QueryRows>,
    /// What the query computes and what the result shows.
    pub explanation: String,
    /// Milliseconds to run it (or to find it in the cache).
    pub execution_time_ms: u64,
    /// Served from the cache.
    pub cached: bool,
    /// Who wrote the statement and the explanation: a model's id, or the
    /// offline rules; `None` for the merchant's own statement.
    pub written_by: Option<String>,
}

/// Why a question or statement got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The statement broke a rule; it did not run.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The offline translator does not understand the question.
    #[error(transparent)]
    Unanswerable(#[from] Unanswerable),
    /// It ran and failed.
    #[error(transparent)]
    Execute(#[from] ExecuteError),
}

/// The read-only SQL service over datasets.
pub struct DatasetSql {
    db: DatabaseConnection,
    data_dir: PathBuf,
    limits: Limits,
    cache: Arc<dyn ResultCache>,
}

impl DatasetSql {
    /// Over `db` (its backend picks the engine), SQLite files under `data_dir`.
    pub fn new(db: DatabaseConnection, data_dir: PathBuf, limits: Limits, cache: Arc<dyn ResultCache>) -> Self {
        Self { db, data_dir, limits, cache }
    }

    /// The engine statements run on.
    pub fn engine(&self) -> Engine {
        Engine::of(self.db.get_database_backend())
    }

    /// The row cap and time limit.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn physical(&self, table: &DatasetTable) -> String {
        physical_table(self.db.get_database_backend(), table.id)
    }

    /// Checks `sql` against the rules for `table`; nothing runs.
    pub fn validate(&self, table: &DatasetTable, sql: &str) -> Result<ValidatedQuery, Refusal> {
        let physical = self.physical(table);
        let row_cap = self.limits.row_cap;
        let target = Target { engine: self.engine(), dataset_name: &table.name, physical: &physical, row_cap };
        validate::validate(sql, &target)
    }

    /// Runs a checked statement, or serves its cached result; the
    /// explanation is a summary of the result.
    pub async fn run(&self, table: &DatasetTable, query: &ValidatedQuery) -> Result<Answer, SqlError> {
        let started = Instant::now();
        let key = CacheKey::new(table.id, table.version, query.executed());
        if let Some(rows) = self.cache.get(&key).await {
            return Ok(self.answer(query, rows, started, true));
        }
        let rows = Arc::new(self.execute(table, query).await?);
        self.cache.put(key, rows.clone()).await;
        Ok(self.answer(query, rows, started, false))
    }

    fn answer(&self, query: &ValidatedQuery, rows: Arc<QueryRows>, started: Instant, cached: bool) -> Answer {
        let explanation = summary(&rows, self.limits.row_cap);
        let execution_time_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Answer { sql: query.sql().to_owned(), rows, explanation, execution_time_ms, cached, written_by: None }
    }

    async fn execute(&self, table: &DatasetTable, query: &ValidatedQuery) -> Result<QueryRows, ExecuteError> {
        let physical = self.physical(table);
        let file = sqlite_path(&self.data_dir, table.id);
        let storage = execute::Storage {
            db: &self.db,
            sqlite_file: &file,
            physical: &physical,
            columns: &table.columns,
            version: table.version,
        };
        execute::run(storage, query, self.limits).await
    }

    /// Answers `question`: with the model's SQL when it writes any and it
    /// passes, else with the offline translator's (see the module doc).
    /// `model` is the member's preferred model.
    pub async fn ask(
        &self,
        table: &DatasetTable,
        question: &str,
        llm: &dyn Llm,
        model: Option<&str>,
    ) -> Result<Answer, SqlError> {
        let question = question.trim();
        if question.is_empty() {
            return Err(Unanswerable("ask a question about the dataset's columns".into()).into());
        }
        if question.chars().count() > MAX_QUESTION_CHARS {
            return Err(Unanswerable(format!("a question is at most {MAX_QUESTION_CHARS} characters")).into());
        }
        let mut refused = None;
        if llm.model() != "offline" {
            match self.ask_model(table, question, llm, model).await {
                Ok(Some(answer)) => return Ok(answer),
                Ok(None) => {}
                Err(refusal) => refused = Some(refusal),
            }
        }
        match offline::translate(question, &table.columns, self.engine()) {
            Ok(translation) => {
                let query = self.validate(table, &translation.sql)?;
                let mut answer = self.run(table, &query).await?;
                answer.explanation = format!("{} {}", translation.explanation, answer.explanation);
                answer.written_by = Some(OFFLINE_AUTHOR.to_owned());
                Ok(answer)
            }
            // The model's refused statement says more than "not understood".
            Err(unanswerable) => Err(refused.map_or(SqlError::Unanswerable(unanswerable), SqlError::Refused)),
        }
    }

    /// The model's answer; `Ok(None)` when it wrote none (or was not
    /// reachable), `Err` with the refusal when its statement broke a rule.
    async fn ask_model(
        &self,
        table: &DatasetTable,
        question: &str,
        llm: &dyn Llm,
        model: Option<&str>,
    ) -> Result<Option<Answer>, Refusal> {
        let sample = match self.validate(table, &format!("SELECT * FROM data LIMIT {SAMPLE_ROWS}")) {
            Ok(query) => self.execute(table, &query).await.map(|rows| rows.rows).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let functions = validate::functions::allowed_names(self.engine());
        let prompt = SqlQuestion {
            question,
            engine: self.engine().name(),
            columns: &table.columns,
            sample: &sample,
            functions: &functions,
        };
        let draft = match llm.write_sql(&prompt, model).await {
            Ok(Some(draft)) => draft,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "the model wrote no SQL; the offline translator answers");
                return Ok(None);
            }
        };
        let query = match self.validate(table, &draft.sql) {
            Ok(query) => query,
            Err(refusal) => {
                tracing::warn!(model = %draft.model, %refusal, "the model's SQL was refused; it did not run");
                return Err(refusal);
            }
        };
        let Ok(mut answer) = self.run(table, &query).await.inspect_err(|e| {
            tracing::warn!(model = %draft.model, error = %e, "the model's SQL failed; the offline translator answers");
        }) else {
            return Ok(None);
        };
        let names: Vec<String> = answer.rows.columns.iter().map(|c| c.name.clone()).collect();
        let shown: Vec<Vec<Value>> = answer.rows.rows.iter().take(EXPLAINED_ROWS).cloned().collect();
        let brief = SqlResultBrief {
            question,
            sql: &answer.sql,
            columns: &names,
            rows: &shown,
            row_count: answer.rows.rows.len(),
            truncated: answer.rows.truncated,
        };
        answer.explanation = match llm.explain_sql_result(&brief, model).await {
            Ok(Some(words)) => words,
            other => {
                if let Err(e) = other {
                    tracing::warn!(error = %e, "the model did not explain the result; a template does");
                }
                format!("{} {}", draft.explanation, answer.explanation)
            }
        };
        answer.written_by = Some(draft.model);
        Ok(Some(answer))
    }
}

/// A value as a sentence shows it.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{s}\""),
        Value::Null => "empty".into(),
        other => other.to_string(),
    }
}

/// What a result holds, in words: no arithmetic, only what is there.
pub fn summary(rows: &QueryRows, row_cap: usize) -> String {
    let first = rows.rows.first();
    let text = match (rows.rows.len(), rows.columns.len(), first) {
        (0, _, _) | (_, _, None) => "No rows matched.".to_owned(),
        (1, 1, Some(row)) => format!("The result is {}.", row.first().map(shown).unwrap_or_default()),
        (n, _, Some(row)) => {
            let pairs: Vec<String> =
                rows.columns.iter().zip(row).map(|(c, v)| format!("{} {}", c.name, shown(v))).collect();
            let count = if n == 1 { "1 row".to_owned() } else { format!("{n} rows") };
            format!("{count}; the first: {}.", pairs.join(", "))
        }
    };
    if rows.truncated { format!("{text} Only the first {row_cap} rows are returned; there are more.") } else { text }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn summaries_say_what_is_there() {
        let column = |name: &str| ResultColumn { name: name.into(), kind: "TEXT".into() };
        let empty = QueryRows { columns: vec![column("n")], rows: vec![], truncated: false };
        assert_eq!(summary(&empty, 10), "No rows matched.");
        let one = QueryRows { columns: vec![column("n")], rows: vec![vec![json!(42)]], truncated: false };
        assert_eq!(summary(&one, 10), "The result is 42.");
        let many = QueryRows {
            columns: vec![column("campaign"), column("total")],
            rows: vec![vec![json!("Spring"), json!(12.5)], vec![json!("Fall"), Value::Null]],
            truncated: true,
        };
        assert_eq!(
            summary(&many, 2),
            "2 rows; the first: campaign \"Spring\", total 12.5. Only the first 2 rows are returned; there are more."
        );
    }
}
