//! Saved workflows as the API sees them: names unique per account
//! (`CONFLICT`), definitions checked by `alatar_agents::workflows` on save
//! and again before every run (P23), each refusal `BAD_USER_INPUT` naming
//! the node; the collections `retrieve` nodes read must be the account's.
//! A run is an analysis request (`lifecycle::submit_workflow`), so it is
//! queued, streamed and read like one. Owners, admins and analysts create,
//! change, delete and run; viewers read.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr};
use serde_json::Value;
use uuid::Uuid;

use alatar_agents::pipeline::{Pipeline, lifecycle};
use alatar_agents::workflows::Definition;
use alatar_entity::{AccountScope, Role, analysis_request, collection, workflow};

use crate::auth::AccessClaims;
use crate::error::{ApiError, ApiResult};
use crate::service::analysis::{linked_store, request_model};

/// Longest workflow name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2_000;
/// Largest definition, as JSON.
pub const MAX_DEFINITION_BYTES: usize = 256 * 1024;
/// Largest set of a run's inputs, as JSON.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;

/// `FORBIDDEN` for viewers, who read workflows and their runs only.
fn may_edit(viewer: &AccessClaims, refusal: &'static str) -> ApiResult<()> {
    if viewer.role == Role::Viewer { Err(ApiError::Forbidden(refusal)) } else { Ok(()) }
}

/// A name: trimmed, 1 to 200 characters, no control characters.
fn parse_name(raw: &str) -> ApiResult<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ApiError::bad_input("name", "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad_input("name", format!("must be at most {MAX_NAME_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::bad_input("name", "must not contain control characters"));
    }
    Ok(name.to_owned())
}

/// A description: trimmed, blank is none, at most 2,000 characters.
fn parse_description(raw: Option<String>) -> ApiResult<Option<String>> {
    let Some(description) = raw.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()) else { return Ok(None) };
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::bad_input("description", format!("must be at most {MAX_DESCRIPTION_CHARS} characters")));
    }
    Ok(Some(description))
}

/// A unique violation on the name is `CONFLICT`; anything else internal.
fn name_taken(err: DbErr, name: &str) -> ApiError {
    if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        ApiError::Conflict(format!("a workflow named \"{name}\" already exists"))
    } else {
        ApiError::internal(err)
    }
}

/// `raw` parsed and validated, the collections its `retrieve` nodes read
/// the account's own; else `BAD_USER_INPUT` on `definition`, naming the node.
async fn checked(p: &Pipeline, scope: AccountScope, raw: &Value) -> ApiResult<Definition> {
    if serde_json::to_vec(raw).map_or(usize::MAX, |bytes| bytes.len()) > MAX_DEFINITION_BYTES {
        return Err(ApiError::bad_input("definition", format!("must be at most {MAX_DEFINITION_BYTES} bytes of JSON")));
    }
    let definition = Definition::parse(raw).map_err(|e| ApiError::bad_input("definition", e.to_string()))?;
    let read = definition.collections();
    if !read.is_empty() {
        let ids: Vec<Uuid> = read.iter().map(|(_, id)| *id).collect();
        let found: Vec<Uuid> = scope
            .find::<collection::Entity>()
            .select_only()
            .column(collection::Column::Id)
            .filter(collection::Column::Id.is_in(ids))
            .filter(collection::Column::RepositoryId.is_null())
            .into_tuple()
            .all(&scope.on(&p.db))
            .await
            .map_err(ApiError::internal)?;
        if let Some((node, id)) = read.iter().find(|(_, id)| !found.contains(id)) {
            return Err(ApiError::bad_input(
                "definition",
                format!("node `{node}`: collection {id} is not one of this account's collections"),
            ));
        }
    }
    Ok(definition)
}

/// Saves a new workflow.
pub async fn create_workflow(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    name: &str,
    description: Option<String>,
    definition: Value,
) -> ApiResult<workflow::Model> {
    may_edit(viewer, "viewers cannot create workflows")?;
    let name = parse_name(name)?;
    let description = parse_description(description)?;
    checked(p, scope, &definition).await?;
    let now = Utc::now();
    workflow::Entity::insert(workflow::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(scope.account_id()),
        name: Set(name.clone()),
        description: Set(description),
        definition: Set(definition),
        created_by: Set(viewer.sub),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(&p.db)
    .await
    .map_err(|e| name_taken(e, &name))
}

/// One of the account's workflows.
pub async fn workflow(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<workflow::Model> {
    scope
        .find::<workflow::Entity>()
        .filter(workflow::Column::Id.eq(id))
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("workflow"))
}

/// A page of the account's workflows, newest first, after the cursor `before_id`.
pub async fn workflows(
    p: &Pipeline,
    scope: AccountScope,
    before_id: Option<Uuid>,
    limit: u64,
) -> ApiResult<Vec<workflow::Model>> {
    let mut query = scope.find::<workflow::Entity>();
    if let Some(before) = before_id {
        query = query.filter(workflow::Column::Id.lt(before));
    }
    query.order_by_desc(workflow::Column::Id).limit(limit).all(&scope.on(&p.db)).await.map_err(ApiError::internal)
}

/// What an update changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct WorkflowChange {
    /// A new name (unique in the account).
    pub name: Option<String>,
    /// A new description; `Some(None)` removes it.
    pub description: Option<Option<String>>,
    /// A new definition, checked like a new workflow's.
    pub definition: Option<Value>,
}

/// Changes a workflow's name, description or definition. Runs under way
/// keep the definition they were planned with.
pub async fn update_workflow(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    id: Uuid,
    change: WorkflowChange,
) -> ApiResult<workflow::Model> {
    may_edit(viewer, "viewers cannot change workflows")?;
    let name = change.name.as_deref().map(parse_name).transpose()?;
    let description = change.description.map(parse_description).transpose()?;
    if let Some(definition) = &change.definition {
        checked(p, scope, definition).await?;
    }
    let mut update = scope
        .update_many::<workflow::Entity>()
        .col_expr(workflow::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(workflow::Column::Id.eq(id));
    if let Some(name) = &name {
        update = update.col_expr(workflow::Column::Name, Expr::value(name.clone()));
    }
    if let Some(description) = description {
        update = update.col_expr(workflow::Column::Description, Expr::value(description));
    }
    if let Some(definition) = change.definition {
        update = update.col_expr(workflow::Column::Definition, Expr::value(definition));
    }
    let changed =
        update.exec(&scope.on(&p.db)).await.map_err(|e| name_taken(e, name.as_deref().unwrap_or_default()))?;
    if changed.rows_affected == 0 {
        return Err(ApiError::NotFound("workflow"));
    }
    workflow(p, scope, id).await
}

/// Deletes a workflow; its past runs stay, with the definition they ran.
pub async fn delete_workflow(p: &Pipeline, scope: AccountScope, viewer: &AccessClaims, id: Uuid) -> ApiResult<()> {
    may_edit(viewer, "viewers cannot delete workflows")?;
    let gone = scope
        .delete_many::<workflow::Entity>()
        .filter(workflow::Column::Id.eq(id))
        .exec(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    if gone.rows_affected == 0 {
        return Err(ApiError::NotFound("workflow"));
    }
    Ok(())
}

/// Queues a run of a workflow over one of the account's stores: its
/// definition and the run's `inputs` are checked first (P23), so an invalid
/// workflow or a missing input is refused before anything is queued.
pub async fn run_workflow(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    id: Uuid,
    inputs: Option<Value>,
    store_id: Uuid,
) -> ApiResult<analysis_request::Model> {
    may_edit(viewer, "viewers cannot run workflows")?;
    let found = workflow(p, scope, id).await?;
    if let Some(given) = &inputs
        && serde_json::to_vec(given).map_or(usize::MAX, |bytes| bytes.len()) > MAX_INPUT_BYTES
    {
        return Err(ApiError::bad_input("inputs", format!("must be at most {MAX_INPUT_BYTES} bytes of JSON")));
    }
    let definition = checked(p, scope, &found.definition).await?;
    let inputs = definition.check_inputs(inputs.as_ref()).map_err(|e| ApiError::bad_input("inputs", e.to_string()))?;
    linked_store(p, scope, store_id).await?;
    let new = lifecycle::NewRequest {
        account_id: scope.account_id(),
        user_id: viewer.sub,
        store_id,
        prompt: found.name.clone(),
        model: request_model(p, scope, viewer).await,
    };
    let run = lifecycle::WorkflowRun { workflow_id: found.id, inputs: Value::Object(inputs) };
    lifecycle::submit_workflow(p, new, run).await.map_err(ApiError::internal)
}
