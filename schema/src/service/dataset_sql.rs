//! Questions answered by SQL as the API sees them (`askDataset`,
//! `validateSql`, `runSql`): only the caller's own datasets (another
//! account's is `NOT_FOUND`), only `READY` ones (`CONFLICT` otherwise);
//! every member may ask and run, viewers included, since everything runs
//! read-only. A refused statement is `BAD_USER_INPUT` naming the rule it
//! broke, and it never ran; a question outside the offline grammar is
//! `BAD_USER_INPUT` saying what was not understood; a statement the engine
//! rejects is `BAD_USER_INPUT` with the engine's words (no storage named);
//! one that ran too long is `TIMEOUT`. The work is
//! `alatar_agents::datasets::sql`.

use uuid::Uuid;

use alatar_agents::datasets::catalog::{TableLookup, ready_dataset};
use alatar_agents::datasets::sql::{Answer, DatasetSql, DatasetTable, ExecuteError, SqlError};
use alatar_agents::pipeline::Pipeline;
use alatar_entity::AccountScope;

use crate::auth::AccessClaims;
use crate::error::{ApiError, ApiResult};
use crate::service::analysis::request_model;

/// The account's dataset `id`, ready to be queried: the same lookup the
/// analyst team's `sql.query` makes (`datasets::catalog`).
async fn ready(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<DatasetTable> {
    match ready_dataset(&p.db, scope, id).await {
        Ok(found) => Ok(DatasetTable::of(&found)),
        Err(TableLookup::Missing) => Err(ApiError::NotFound("dataset")),
        Err(TableLookup::NotReady(status)) => {
            Err(ApiError::Conflict(format!("the dataset is {}, not READY; it cannot be queried", status.as_str())))
        }
        Err(TableLookup::Db(e)) => Err(ApiError::internal(e)),
    }
}

/// `BAD_USER_INPUT` on `field` for what the merchant can fix, `TIMEOUT`,
/// or internal.
fn api_error(err: SqlError, field: &'static str) -> ApiError {
    match err {
        SqlError::Refused(refusal) => ApiError::bad_input(field, refusal.to_string()),
        SqlError::Unanswerable(unanswerable) => ApiError::bad_input("question", unanswerable.to_string()),
        SqlError::Execute(ExecuteError::Timeout(limit)) => {
            ApiError::Timeout { budget_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX) }
        }
        SqlError::Execute(e @ (ExecuteError::Query(_) | ExecuteError::Unsupported { .. })) => {
            ApiError::bad_input(field, e.to_string())
        }
        SqlError::Execute(e) => ApiError::internal(e),
    }
}

/// Answers `question` over dataset `id` (see `DatasetSql::ask`), with the
/// member's preferred model when a model is configured.
#[tracing::instrument(skip_all, fields(dataset = %id))]
pub async fn ask(
    p: &Pipeline,
    sql: &DatasetSql,
    scope: AccountScope,
    viewer: &AccessClaims,
    id: Uuid,
    question: &str,
) -> ApiResult<Answer> {
    let table = ready(p, scope, id).await?;
    let model = request_model(p, scope, viewer).await;
    let model = (model != "offline").then_some(model);
    sql.ask(&table, question, p.llm.as_ref(), model.as_deref()).await.map_err(|e| api_error(e, "question"))
}

/// The rules `statement` breaks over dataset `id`: none when it may run.
#[tracing::instrument(skip_all, fields(dataset = %id))]
pub async fn check(
    p: &Pipeline,
    sql: &DatasetSql,
    scope: AccountScope,
    id: Uuid,
    statement: &str,
) -> ApiResult<Vec<String>> {
    let table = ready(p, scope, id).await?;
    Ok(match sql.validate(&table, statement) {
        Ok(_) => Vec::new(),
        Err(refusal) => vec![refusal.to_string()],
    })
}

/// Runs the merchant's own `statement` over dataset `id`, once it passed
/// every rule.
#[tracing::instrument(skip_all, fields(dataset = %id))]
pub async fn run(p: &Pipeline, sql: &DatasetSql, scope: AccountScope, id: Uuid, statement: &str) -> ApiResult<Answer> {
    let table = ready(p, scope, id).await?;
    let query = sql.validate(&table, statement).map_err(|refusal| ApiError::bad_input("sql", refusal.to_string()))?;
    sql.run(&table, &query).await.map_err(|e| api_error(e, "sql"))
}
