//! The life of a proposed action after the analysis: decisions, execution
//! exactly once, expiry and revert. Every state change is a conditional
//! update, written with its audit record and its event in one transaction.
//!
//! Exactly once: an approval moves `PENDING → APPROVED` conditionally, so a
//! replayed approval changes nothing and queues nothing. The worker moves
//! `APPROVED → EXECUTING` (storing the inverse) before it writes; a
//! redelivery that finds `EXECUTING` asks the store whether the change is
//! already there before writing again.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, UpdateMany};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_entity::{
    AccountScope, ActionStatus, AnalysisStatus, analysis_request, audit_entry, proposed_action, store,
};

use super::{Applied, Change, StoreWriter};
use crate::pipeline::bus::kind;
use crate::pipeline::journal::{append, enqueue, status_event, transition};
use crate::pipeline::{Message, Pipeline};
use crate::store::StoreError;
use crate::write::begin_write;

/// A revert claim older than this is considered abandoned (its process died).
const REVERT_CLAIM: Duration = Duration::minutes(5);

/// Who did something, for the audit log.
#[derive(Debug, Clone, Copy)]
pub enum Actor {
    /// A person.
    User(Uuid),
    /// The analyst team (proposals).
    Agent,
    /// Alatar itself (execution, expiry).
    System,
    /// Shopify (webhooks).
    Shopify,
}

impl Actor {
    fn parts(self) -> (Option<Uuid>, &'static str) {
        match self {
            Actor::User(id) => (Some(id), "user"),
            Actor::Agent => (None, "agent"),
            Actor::System => (None, "system"),
            Actor::Shopify => (None, "shopify"),
        }
    }
}

/// Appends an audit record (inside the caller's transaction).
pub async fn audit<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    actor: Actor,
    event: &str,
    action_id: Option<Uuid>,
    store_id: Option<Uuid>,
    detail: Value,
) -> Result<(), DbErr> {
    let (actor_user_id, actor) = actor.parts();
    audit_entry::Entity::insert(audit_entry::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(account_id),
        actor_user_id: Set(actor_user_id),
        actor: Set(actor.to_owned()),
        event: Set(event.to_owned()),
        action_id: Set(action_id),
        store_id: Set(store_id),
        detail: Set(detail),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Moves an action from one of `from` to `to`, with extra column changes.
async fn set_status<C: ConnectionTrait>(
    db: &C,
    action_id: Uuid,
    from: &[ActionStatus],
    to: ActionStatus,
    extra: impl FnOnce(UpdateMany<proposed_action::Entity>) -> UpdateMany<proposed_action::Entity>,
) -> Result<bool, DbErr> {
    let update = proposed_action::Entity::update_many()
        .col_expr(proposed_action::Column::Status, Expr::value(to))
        .col_expr(proposed_action::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(proposed_action::Column::Id.eq(action_id))
        .filter(proposed_action::Column::Status.is_in(from.iter().copied()));
    Ok(extra(update).exec(db).await?.rows_affected == 1)
}

fn action_event(action: &proposed_action::Model, status: ActionStatus, reason: Option<&str>) -> (&'static str, Value) {
    (
        kind::ACTION_STATUS_CHANGED,
        json!({ "actionId": action.id, "kind": action.kind, "status": status.as_str(), "reason": reason }),
    )
}

/// After an action settled: the request completes once none is open.
async fn settle_request<C: ConnectionTrait>(
    db: &C,
    action: &proposed_action::Model,
) -> Result<Option<(&'static str, Value)>, DbErr> {
    // Lock the request row first: two last decisions committing at once
    // would otherwise each see the other still open (write skew), and
    // neither would complete the request.
    analysis_request::Entity::update_many()
        .col_expr(analysis_request::Column::LastSequence, Expr::col(analysis_request::Column::LastSequence))
        .filter(analysis_request::Column::Id.eq(action.request_id))
        .exec(db)
        .await?;
    let open = proposed_action::Entity::find()
        .filter(proposed_action::Column::RequestId.eq(action.request_id))
        .filter(proposed_action::Column::Status.is_in([
            ActionStatus::Pending,
            ActionStatus::Approved,
            ActionStatus::Executing,
        ]))
        .one(db)
        .await?;
    if open.is_some() {
        return Ok(None);
    }
    let done =
        transition(db, action.request_id, &[AnalysisStatus::AwaitingApproval], AnalysisStatus::Completed, None).await?;
    Ok(done.then(|| status_event(AnalysisStatus::Completed, None)))
}

async fn reload(p: &Pipeline, id: Uuid) -> Result<proposed_action::Model, DbErr> {
    proposed_action::Entity::find_by_id(id)
        .one(&p.db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("action {id}")))
}

/// Records a person's approval and queues the execution; `false` (and no
/// effect) when the action was no longer `PENDING`, e.g. a replayed approval.
pub async fn approve(
    p: &Pipeline,
    action: &proposed_action::Model,
    user: Uuid,
    parameters_hash: &str,
) -> Result<(proposed_action::Model, bool), DbErr> {
    let now = Utc::now();
    let tx = begin_write(&p.db).await?;
    let moved = set_status(&tx, action.id, &[ActionStatus::Pending], ActionStatus::Approved, |u| {
        u.col_expr(proposed_action::Column::DecidedBy, Expr::value(user))
            .col_expr(proposed_action::Column::DecidedAt, Expr::value(now))
            .filter(proposed_action::Column::ExpiresAt.gt(now))
    })
    .await?;
    if !moved {
        drop(tx);
        return Ok((reload(p, action.id).await?, false));
    }
    let detail = json!({ "kind": action.kind, "parameters": action.parameters, "parametersHash": parameters_hash });
    audit(&tx, action.account_id, Actor::User(user), "APPROVED", Some(action.id), None, detail).await?;
    let events =
        append(&tx, action.account_id, action.request_id, vec![action_event(action, ActionStatus::Approved, None)])
            .await?;
    enqueue(&tx, &Message::ExecuteAction { request_id: action.request_id, action_id: action.id }).await?;
    tx.commit().await?;
    p.committed(&events).await;
    Ok((reload(p, action.id).await?, true))
}

/// Records a rejection; `false` when the action was no longer `PENDING`.
pub async fn reject(
    p: &Pipeline,
    action: &proposed_action::Model,
    user: Uuid,
    reason: Option<&str>,
) -> Result<(proposed_action::Model, bool), DbErr> {
    let now = Utc::now();
    let tx = begin_write(&p.db).await?;
    let moved = set_status(&tx, action.id, &[ActionStatus::Pending], ActionStatus::Rejected, |u| {
        u.col_expr(proposed_action::Column::DecidedBy, Expr::value(user))
            .col_expr(proposed_action::Column::DecidedAt, Expr::value(now))
            .col_expr(proposed_action::Column::DecisionReason, Expr::value(reason.map(str::to_owned)))
    })
    .await?;
    if !moved {
        drop(tx);
        return Ok((reload(p, action.id).await?, false));
    }
    audit(&tx, action.account_id, Actor::User(user), "REJECTED", Some(action.id), None, json!({ "reason": reason }))
        .await?;
    let mut events = vec![action_event(action, ActionStatus::Rejected, reason)];
    events.extend(settle_request(&tx, action).await?);
    let events = append(&tx, action.account_id, action.request_id, events).await?;
    tx.commit().await?;
    p.committed(&events).await;
    Ok((reload(p, action.id).await?, true))
}

/// Expires undecided actions past their expiry; returns how many.
pub async fn expire_due(p: &Pipeline) -> Result<usize, DbErr> {
    // A system sweep across accounts: each row is then handled in its own account.
    let due = proposed_action::Entity::find()
        .filter(proposed_action::Column::Status.eq(ActionStatus::Pending))
        .filter(proposed_action::Column::ExpiresAt.lte(Utc::now()))
        .all(&p.db)
        .await?;
    let mut expired = 0;
    for action in due {
        let tx = begin_write(&p.db).await?;
        if !set_status(&tx, action.id, &[ActionStatus::Pending], ActionStatus::Expired, |u| u).await? {
            continue;
        }
        audit(
            &tx,
            action.account_id,
            Actor::System,
            "EXPIRED",
            Some(action.id),
            None,
            json!({ "expiresAt": action.expires_at }),
        )
        .await?;
        let mut events = vec![action_event(&action, ActionStatus::Expired, Some("nobody decided before it expired"))];
        events.extend(settle_request(&tx, &action).await?);
        let events = append(&tx, action.account_id, action.request_id, events).await?;
        tx.commit().await?;
        p.committed(&events).await;
        expired += 1;
    }
    Ok(expired)
}

async fn store_of(p: &Pipeline, action: &proposed_action::Model) -> Result<store::Model, DbErr> {
    let scope = AccountScope::new(action.account_id);
    let request = scope
        .find::<analysis_request::Entity>()
        .filter(analysis_request::Column::Id.eq(action.request_id))
        .one(&scope.on(&p.db))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("request {}", action.request_id)))?;
    scope
        .find::<store::Entity>()
        .filter(store::Column::Id.eq(request.store_id))
        .one(&scope.on(&p.db))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("store {}", request.store_id)))
}

/// Worker: runs an approved action against its store, exactly once. A
/// transient store failure returns an error (the message is redelivered and
/// the next attempt reconciles first); anything else fails the action.
pub async fn execute(p: &Pipeline, action_id: Uuid) -> anyhow::Result<()> {
    let Some(action) = proposed_action::Entity::find_by_id(action_id).one(&p.db).await? else { return Ok(()) };
    if !matches!(action.status, ActionStatus::Approved | ActionStatus::Executing) {
        return Ok(()); // decided otherwise, done, or reverted: a redelivery
    }
    let change = match Change::from_proposal(&action.kind, &action.parameters) {
        Ok(c) => c,
        Err(reason) => return fail(p, &action, &reason).await,
    };
    let store = store_of(p, &action).await?;
    let writer = match p.stores.writer(&store).await {
        Ok(w) => w,
        Err(e) if e.is_transient() => return Err(e.into()),
        Err(e) => return fail(p, &action, &e.to_string()).await,
    };
    if action.status == ActionStatus::Executing {
        // An earlier attempt died after claiming the action: did its write land?
        match writer.find_applied(&change).await {
            Ok(Some(applied)) => return executed(p, &action, applied, true).await,
            Ok(None) => {}
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) => return fail(p, &action, &e.to_string()).await,
        }
        return run(p, &action, &change, writer.as_ref()).await;
    }
    let missing: Vec<&str> =
        change.required_scopes().iter().copied().filter(|s| !writer.granted_scopes().iter().any(|g| g == s)).collect();
    if !missing.is_empty() && !writer.granted_scopes().is_empty() {
        return fail(p, &action, &format!("the store has not granted {}", missing.join(", "))).await;
    }
    let inverse = match writer.prepare(&change).await {
        Ok(inverse) => inverse,
        Err(e) if e.is_transient() => return Err(e.into()),
        Err(e) => return fail(p, &action, &e.to_string()).await,
    };
    let tx = begin_write(&p.db).await?;
    let inverse_json = inverse.as_ref().map(serde_json::to_value).transpose()?;
    if !set_status(&tx, action.id, &[ActionStatus::Approved], ActionStatus::Executing, |u| {
        u.col_expr(proposed_action::Column::Inverse, Expr::value(inverse_json))
    })
    .await?
    {
        return Ok(()); // someone else claimed it
    }
    audit(
        &tx,
        action.account_id,
        Actor::System,
        "EXECUTION_STARTED",
        Some(action.id),
        Some(store.id),
        json!({ "change": change }),
    )
    .await?;
    let events =
        append(&tx, action.account_id, action.request_id, vec![action_event(&action, ActionStatus::Executing, None)])
            .await?;
    tx.commit().await?;
    p.committed(&events).await;
    run(p, &action, &change, writer.as_ref()).await
}

async fn run(
    p: &Pipeline,
    action: &proposed_action::Model,
    change: &Change,
    writer: &dyn StoreWriter,
) -> anyhow::Result<()> {
    match writer.apply(change).await {
        Ok(applied) => executed(p, action, applied, false).await,
        Err(e) if e.is_transient() => Err(e.into()),
        // A retried write whose first attempt landed is refused as a
        // duplicate: ask the store before calling it a failure.
        Err(e) => match writer.find_applied(change).await {
            Ok(Some(applied)) => executed(p, action, applied, true).await,
            Err(lookup) if lookup.is_transient() => Err(lookup.into()),
            _ => fail(p, action, &e.to_string()).await,
        },
    }
}

async fn executed(
    p: &Pipeline,
    action: &proposed_action::Model,
    applied: Applied,
    reconciled: bool,
) -> anyhow::Result<()> {
    let current = reload(p, action.id).await?;
    let inverse = match applied.inverse {
        Some(inverse) => Some(serde_json::to_value(inverse)?),
        None => current.inverse.clone(),
    };
    let tx = begin_write(&p.db).await?;
    let response = applied.response.clone();
    if !set_status(&tx, action.id, &[ActionStatus::Executing], ActionStatus::Executed, |u| {
        u.col_expr(proposed_action::Column::Outcome, Expr::value(json!({ "execution": response })))
            .col_expr(proposed_action::Column::Inverse, Expr::value(inverse))
            .col_expr(proposed_action::Column::ExecutedAt, Expr::value(Utc::now()))
    })
    .await?
    {
        return Ok(());
    }
    audit(
        &tx,
        action.account_id,
        Actor::System,
        "EXECUTED",
        Some(action.id),
        None,
        json!({ "response": applied.response, "reconciled": reconciled }),
    )
    .await?;
    let mut events = vec![action_event(action, ActionStatus::Executed, None)];
    events.extend(settle_request(&tx, action).await?);
    let events = append(&tx, action.account_id, action.request_id, events).await?;
    tx.commit().await?;
    p.committed(&events).await;
    tracing::info!(action_id = %action.id, kind = %action.kind, reconciled, "action executed");
    Ok(())
}

async fn fail(p: &Pipeline, action: &proposed_action::Model, reason: &str) -> anyhow::Result<()> {
    let tx = begin_write(&p.db).await?;
    let why = reason.to_owned();
    if !set_status(&tx, action.id, &[ActionStatus::Approved, ActionStatus::Executing], ActionStatus::Failed, |u| {
        u.col_expr(proposed_action::Column::FailureReason, Expr::value(why))
    })
    .await?
    {
        return Ok(());
    }
    audit(&tx, action.account_id, Actor::System, "EXECUTION_FAILED", Some(action.id), None, json!({ "error": reason }))
        .await?;
    let mut events = vec![action_event(action, ActionStatus::Failed, Some(reason))];
    events.extend(settle_request(&tx, action).await?);
    let events = append(&tx, action.account_id, action.request_id, events).await?;
    tx.commit().await?;
    p.committed(&events).await;
    tracing::warn!(action_id = %action.id, kind = %action.kind, %reason, "action failed");
    Ok(())
}

/// Dead letter of an execution: the action fails with the reason.
pub async fn fail_undeliverable(p: &Pipeline, action_id: Uuid, reason: &str) -> anyhow::Result<()> {
    match proposed_action::Entity::find_by_id(action_id).one(&p.db).await? {
        Some(action) => fail(p, &action, reason).await,
        None => Ok(()),
    }
}

/// Why a revert did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RevertError {
    /// Not executed, already reverted, being reverted, or nothing to undo with.
    #[error("{0}")]
    NotRevertible(String),
    /// The store refused or failed; the action stays `EXECUTED`.
    #[error("the store did not accept the revert: {0}")]
    Store(StoreError),
    /// Database.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Undoes an executed action with the inverse stored at execution time.
pub async fn revert(
    p: &Pipeline,
    action: &proposed_action::Model,
    user: Uuid,
) -> Result<proposed_action::Model, RevertError> {
    let inverse: Change = match action.inverse.clone().map(serde_json::from_value) {
        Some(Ok(inverse)) => inverse,
        _ => return Err(RevertError::NotRevertible("no inverse was recorded for this action".into())),
    };
    let now = Utc::now();
    // Claim: only one revert runs, and only of an executed action.
    let claimed = proposed_action::Entity::update_many()
        .col_expr(proposed_action::Column::RevertingAt, Expr::value(now))
        .filter(proposed_action::Column::Id.eq(action.id))
        .filter(proposed_action::Column::Status.eq(ActionStatus::Executed))
        .filter(
            sea_orm::Condition::any()
                .add(proposed_action::Column::RevertingAt.is_null())
                .add(proposed_action::Column::RevertingAt.lt(now - REVERT_CLAIM)),
        )
        .exec(&p.db)
        .await?
        .rows_affected
        == 1;
    if !claimed {
        return Err(RevertError::NotRevertible(
            "only an executed action that is not being reverted can be reverted".into(),
        ));
    }
    let store = store_of(p, action).await?;
    let outcome = async {
        let writer = p.stores.writer(&store).await?;
        match writer.apply(&inverse).await {
            Ok(applied) => Ok(applied),
            // Already undone by hand: that is what we wanted.
            Err(StoreError::Rejected(e)) => writer.find_applied(&inverse).await?.ok_or(StoreError::Rejected(e)),
            Err(e) => Err(e),
        }
    }
    .await;
    let tx = begin_write(&p.db).await?;
    match outcome {
        Ok(applied) => {
            let mut record = action.outcome.clone().unwrap_or_else(|| json!({}));
            record["revert"] = applied.response.clone();
            set_status(&tx, action.id, &[ActionStatus::Executed], ActionStatus::Reverted, |u| {
                u.col_expr(proposed_action::Column::Outcome, Expr::value(record))
                    .col_expr(proposed_action::Column::RevertingAt, Expr::value(Option::<chrono::DateTime<Utc>>::None))
            })
            .await?;
            audit(
                &tx,
                action.account_id,
                Actor::User(user),
                "REVERTED",
                Some(action.id),
                Some(store.id),
                json!({ "inverse": inverse, "response": applied.response }),
            )
            .await?;
            let events = append(
                &tx,
                action.account_id,
                action.request_id,
                vec![action_event(action, ActionStatus::Reverted, None)],
            )
            .await?;
            tx.commit().await?;
            p.committed(&events).await;
            Ok(reload(p, action.id).await?)
        }
        Err(e) => {
            proposed_action::Entity::update_many()
                .col_expr(proposed_action::Column::RevertingAt, Expr::value(Option::<chrono::DateTime<Utc>>::None))
                .filter(proposed_action::Column::Id.eq(action.id))
                .exec(&tx)
                .await?;
            audit(
                &tx,
                action.account_id,
                Actor::User(user),
                "REVERT_FAILED",
                Some(action.id),
                Some(store.id),
                json!({ "error": e.to_string() }),
            )
            .await?;
            tx.commit().await?;
            Err(RevertError::Store(e))
        }
    }
}
