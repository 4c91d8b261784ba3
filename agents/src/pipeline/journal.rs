//! The pipeline's writes: conditional status transitions, numbered events
//! and outbox messages, always inside the caller's transaction so that a
//! state change, its events and the messages it causes commit together.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_entity::{AnalysisStatus, analysis_event, analysis_request, outbox_message};

use super::bus::{Event, kind};
use super::message::Message;

/// Moves a request from one of `from` to `to`; `false` if it was not in one
/// of them (someone else moved it first, or it was cancelled).
pub async fn transition<C: ConnectionTrait>(
    db: &C,
    request_id: Uuid,
    from: &[AnalysisStatus],
    to: AnalysisStatus,
    reason: Option<&str>,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let mut update = analysis_request::Entity::update_many()
        .col_expr(analysis_request::Column::Status, Expr::value(to))
        .col_expr(analysis_request::Column::UpdatedAt, Expr::value(now));
    if to == AnalysisStatus::Planning {
        update = update.col_expr(analysis_request::Column::StartedAt, Expr::value(now));
    }
    // The analysis is finished when it settles: its result written, or it
    // failed or was cancelled. Deciding on its proposals later does not move
    // that time, hence the first time only.
    if to.is_settled() {
        let first = Func::coalesce([Expr::col(analysis_request::Column::FinishedAt), Expr::value(now)]);
        update = update.col_expr(analysis_request::Column::FinishedAt, first.into());
    }
    if let Some(reason) = reason {
        update = update.col_expr(analysis_request::Column::FailureReason, Expr::value(reason));
    }
    let result = update
        .filter(analysis_request::Column::Id.eq(request_id))
        .filter(analysis_request::Column::Status.is_in(from.iter().copied()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The payload of a `STATUS_CHANGED` event.
pub fn status_event(status: AnalysisStatus, reason: Option<&str>) -> (&'static str, Value) {
    (kind::STATUS_CHANGED, json!({ "status": status.as_str(), "reason": reason }))
}

/// Appends events with the next sequence numbers. The counter update locks
/// the request row, so concurrent writers of one request queue up and the
/// numbers have no gaps; the unique index forbids duplicates outright.
pub async fn append<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    request_id: Uuid,
    events: Vec<(&str, Value)>,
) -> Result<Vec<Event>, DbErr> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let n = events.len() as i64;
    // One round trip: bump the counter and read it back (PostgreSQL and
    // SQLite both have RETURNING).
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE analysis_requests SET last_sequence = last_sequence + $1 WHERE id = $2 RETURNING last_sequence"
        }
        _ => "UPDATE analysis_requests SET last_sequence = last_sequence + ? WHERE id = ? RETURNING last_sequence",
    };
    let last: i64 = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [n.into(), request_id.into()]))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("analysis request {request_id}")))?
        .try_get("", "last_sequence")?;
    let events = events.into_iter().map(|(kind, payload)| (Uuid::now_v7(), kind, payload)).collect();
    let models = numbered(account_id, request_id, last, events, Utc::now());
    analysis_event::Entity::insert_many(models.iter().cloned().map(analysis_event::ActiveModel::from))
        .exec_without_returning(db)
        .await?;
    Ok(models.into_iter().map(Event::from).collect())
}

/// `events` as rows once the request's counter reads `last`: numbered in
/// order, the last one `last`.
pub(crate) fn numbered(
    account_id: Uuid,
    request_id: Uuid,
    last: i64,
    events: Vec<(Uuid, &str, Value)>,
    at: DateTime<Utc>,
) -> Vec<analysis_event::Model> {
    let first = last - events.len() as i64 + 1;
    events
        .into_iter()
        .zip(first..)
        .map(|((id, kind, payload), sequence)| analysis_event::Model {
            id,
            account_id,
            request_id,
            sequence,
            kind: kind.to_owned(),
            payload,
            created_at: at,
        })
        .collect()
}

/// Queues `message` for the relay; it is published only if this commits.
pub async fn enqueue<C: ConnectionTrait>(db: &C, message: &Message) -> Result<(), DbErr> {
    enqueue_all(db, std::slice::from_ref(message)).await
}

/// Queues `messages` for the relay in one statement, in order.
pub async fn enqueue_all<C: ConnectionTrait>(db: &C, messages: &[Message]) -> Result<(), DbErr> {
    if messages.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let rows = messages
        .iter()
        .map(|message| {
            let payload = serde_json::to_string(message).map_err(|e| DbErr::Custom(e.to_string()))?;
            Ok(outbox_message::ActiveModel {
                id: Set(Uuid::now_v7()),
                queue: Set(message.queue().to_owned()),
                payload: Set(payload),
                created_at: Set(now),
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    outbox_message::Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

/// Persisted events of a request after `after`, in order.
pub async fn events_after<C: ConnectionTrait>(
    db: &C,
    request_id: Uuid,
    after: i64,
    limit: u64,
) -> Result<Vec<Event>, DbErr> {
    Ok(analysis_event::Entity::find()
        .filter(analysis_event::Column::RequestId.eq(request_id))
        .filter(analysis_event::Column::Sequence.gt(after))
        .order_by_asc(analysis_event::Column::Sequence)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(Event::from)
        .collect())
}
