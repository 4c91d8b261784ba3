//! The rows a training reads: one statement through the same validator and
//! read-only execution as `runSql` (the table named `data`, rewritten to
//! the physical one; the reader role on PostgreSQL, a read-only file on
//! SQLite; a time limit), at most [`MAX_TRAINING_ROWS`] rows, and fewer
//! when the features encode wide ([`row_cap`]).
//!
//! A larger table is sampled: every `step`-th row, `step` the row count
//! over the cap rounded up. On SQLite by `rowid` (rows are numbered in
//! load order and never deleted); on PostgreSQL by `row_number()` over the
//! columns read, in order: a heap's scan order can change (synchronised
//! scans start wherever another scan is), and ordering by the values makes
//! the sample, and the row order the folds are dealt from, depend on the
//! table's contents only. Equal rows are interchangeable, so ties do not
//! matter. PostgreSQL reads the whole table in that order even when it
//! needs no sample, for the same reason.

use std::time::Duration;

use serde_json::Value;

use alatar_entity::dataset;

use super::{MAX_CATEGORIES, MAX_TRAINING_CELLS, MAX_TRAINING_ROWS};
use crate::datasets::column::{ColumnSpec, ColumnType, quote};
use crate::datasets::sql::DatasetTable;
use crate::datasets::sql::execute::{self, ExecuteError, Limits};
use crate::datasets::sql::validate::{self, Engine, Refusal, Target};
use crate::datasets::storage::{physical_table, sqlite_path};
use crate::pipeline::Pipeline;

/// Rows a training of `read` (the target and features) takes at most: as
/// many as keep the encoded matrix within [`MAX_TRAINING_CELLS`], a text
/// column counted as its [`MAX_CATEGORIES`] one-hot columns and one more,
/// every other column as one; never more than [`MAX_TRAINING_ROWS`].
pub fn row_cap(columns: &[ColumnSpec], read: &[String]) -> usize {
    let width: usize = read
        .iter()
        .map(|name| match columns.iter().find(|c| &c.name == name).map(|c| c.kind) {
            Some(ColumnType::Text) => MAX_CATEGORIES + 1,
            _ => 1,
        })
        .sum();
    (MAX_TRAINING_CELLS / width.max(1)).clamp(1, MAX_TRAINING_ROWS)
}

/// Why the rows could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The statement broke a rule of the validator (a column name it
    /// cannot take); it did not run.
    #[error("the training's statement was refused: {0}")]
    Refused(#[from] Refusal),
    /// It failed or ran too long.
    #[error(transparent)]
    Execute(#[from] ExecuteError),
}

/// The rows read.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Each row's cells, in the order of the columns asked for.
    pub rows: Vec<Vec<Value>>,
    /// Every `step`-th row was read (1: all of them).
    pub step: u64,
}

/// The name of the row-number column: one no column has.
fn row_alias(table: &DatasetTable) -> String {
    let mut alias = "training_row".to_owned();
    while table.columns.iter().any(|c| c.name.eq_ignore_ascii_case(&alias)) {
        alias.push('_');
    }
    alias
}

/// The statement reading `items` of every `step`-th row (see the module
/// documentation).
fn sample_sql(engine: Engine, table: &DatasetTable, items: &str, step: u64) -> String {
    let shadowed = table.columns.iter().any(|c| c.name.eq_ignore_ascii_case("rowid"));
    match engine {
        Engine::Sqlite if step <= 1 => format!("SELECT {items} FROM data"),
        Engine::Sqlite if !shadowed => format!("SELECT {items} FROM data WHERE rowid % {step} = 0"),
        Engine::Postgres if step <= 1 => format!("SELECT {items} FROM data ORDER BY {items}"),
        _ => {
            let alias = quote(&row_alias(table));
            format!(
                "SELECT {items} FROM (SELECT {items}, row_number() OVER (ORDER BY {items}) AS {alias} FROM data) \
                 AS sampled WHERE {alias} % {step} = 0"
            )
        }
    }
}

/// Reads `columns` of `dataset`'s rows (sampled, see the module
/// documentation), the statement held to `timeout`.
pub async fn read(
    p: &Pipeline,
    dataset: &dataset::Model,
    columns: &[String],
    timeout: Duration,
) -> Result<Sample, ReadError> {
    let table = DatasetTable::of(dataset);
    let backend = p.db.get_database_backend();
    let engine = Engine::of(backend);
    let rows = u64::try_from(dataset.row_count.max(0)).unwrap_or(0);
    let row_cap = row_cap(&ColumnSpec::list_from(&dataset.columns), columns);
    let cap = row_cap as u64;
    let step = rows.div_ceil(cap).max(1);
    let items: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    let sql = sample_sql(engine, &table, &items.join(", "), step);
    let physical = physical_table(backend, table.id);
    let target = Target { engine, dataset_name: &table.name, physical: &physical, row_cap };
    let checked = validate::validate(&sql, &target)?;
    let file = sqlite_path(&p.datasets.data_dir, table.id);
    let storage = execute::Storage {
        db: &p.db,
        sqlite_file: &file,
        physical: &physical,
        columns: &table.columns,
        version: table.version,
    };
    let limits = Limits { row_cap, timeout };
    let answer = execute::run(storage, &checked, limits).await?;
    Ok(Sample { rows: answer.rows, step })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, kind: ColumnType) -> ColumnSpec {
        ColumnSpec { name: name.to_owned(), kind, inferred: kind }
    }

    #[test]
    fn wide_text_features_take_fewer_rows() {
        let mut columns = vec![column("y", ColumnType::Float), column("x", ColumnType::Float)];
        let names = |n: usize| -> Vec<String> { (0..n).map(|i| format!("t{i}")).collect() };
        assert_eq!(row_cap(&columns, &["y".into(), "x".into()]), MAX_TRAINING_ROWS);
        for name in names(200) {
            columns.push(column(&name, ColumnType::Text));
        }
        let mut read = vec!["y".to_owned()];
        read.extend(names(200));
        // 1 + 200 × 21 encoded columns: 10M / 4,201 rows.
        assert_eq!(row_cap(&columns, &read), MAX_TRAINING_CELLS / 4_201);
        assert!(row_cap(&columns, &read) * 4_201 <= MAX_TRAINING_CELLS);
    }
}
