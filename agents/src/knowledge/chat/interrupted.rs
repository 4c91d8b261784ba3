//! Answers whose writer is gone. An answer is written by a task of the
//! `serve` process that took its message (not on the queue), so a process
//! that stops mid-answer leaves it `STREAMING`, and its session, which
//! takes one answer at a time, refuses the next message. Three ways out,
//! each a conditional update (`STREAMING` → `FAILED`) that publishes
//! `CHAT_FAILED`, so a writer that is in fact still alive finds its row
//! finished and stores nothing:
//!
//! - [`fail_unfinished`]: the writer's task failed or panicked (its
//!   supervisor in the schema service says so at once);
//! - [`fail_interrupted_by_restart`]: at start-up, every answer that began
//!   more than [`RESTART_MARGIN`] before this process started;
//! - [`fail_interrupted`]: on a session's next message, its answers older
//!   than [`INTERRUPTED_AFTER`] (a process that stopped while a peer kept
//!   serving, or an answer begun within the margin of a restart).
//!
//! Why a start time and not a lease: the rows carry no heartbeat or
//! writer (adding one is a migration), and on the embedded deployment, one
//! `serve` per data directory (its queue and bus are in-process), nothing
//! begun before this process can still have a writer. Where several
//! instances share PostgreSQL, an answer a peer began before this instance
//! started and is still writing is failed too: the peer's final update
//! then changes nothing and the member, told the server restarted, asks
//! again. The margin absorbs clock skew between instances; it is small
//! because the answers of a process that crashed just before this one
//! started fall inside it (and wait for [`INTERRUPTED_AFTER`]).

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use serde_json::json;
use uuid::Uuid;

use alatar_entity::{AccountScope, ChatMessageStatus, ChatRole, chat_message};

use super::{CHAT_FAILED, event};
use crate::pipeline::Pipeline;

/// An answer still `STREAMING` this long after it started was interrupted
/// (its process stopped): every attempt of a model call ends well before.
pub const INTERRUPTED_AFTER: Duration = Duration::from_secs(15 * 60);
/// Answers begun this shortly before a process started are not taken for
/// its predecessor's (clock skew between instances).
pub const RESTART_MARGIN: Duration = Duration::from_secs(2);
/// What a member reads on an answer its server's restart cut short.
pub const INTERRUPTED_BY_RESTART: &str = "interrupted: the server restarted before the answer finished";
/// What a member reads on an answer given up after [`INTERRUPTED_AFTER`].
const STOPPED: &str = "the answer was interrupted (the server stopped while writing it); ask again";

/// Stores `answer_id` `FAILED` with `error` if it is still `STREAMING`
/// (its writer panicked or is gone), and publishes it; whether it was.
pub async fn fail_unfinished(
    p: &Pipeline,
    scope: AccountScope,
    session_id: Uuid,
    answer_id: Uuid,
    error: &str,
) -> Result<bool, DbErr> {
    let done = scope
        .update_many::<chat_message::Entity>()
        .col_expr(chat_message::Column::Status, Expr::value(ChatMessageStatus::Failed.as_str()))
        .col_expr(chat_message::Column::Error, Expr::value(error.to_owned()))
        .filter(chat_message::Column::Id.eq(answer_id))
        .filter(chat_message::Column::Status.eq(ChatMessageStatus::Streaming))
        .exec(&scope.on(&p.db))
        .await?;
    if done.rows_affected > 0 {
        let payload = json!({ "sessionId": session_id, "messageId": answer_id, "error": error });
        p.bus.publish(&[event(scope, session_id, CHAT_FAILED, payload)]).await;
    }
    Ok(done.rows_affected > 0)
}

/// The session's answers still `STREAMING` after [`INTERRUPTED_AFTER`]:
/// their process stopped while writing them. Stored `FAILED`, so a session
/// is never stuck behind one; how many.
pub async fn fail_interrupted(p: &Pipeline, scope: AccountScope, session_id: Uuid) -> Result<u64, DbErr> {
    let cutoff = Utc::now() - chrono::Duration::from_std(INTERRUPTED_AFTER).unwrap_or(chrono::Duration::zero());
    let stale: Vec<Uuid> = scope
        .find::<chat_message::Entity>()
        .select_only()
        .column(chat_message::Column::Id)
        .filter(chat_message::Column::SessionId.eq(session_id))
        .filter(chat_message::Column::Status.eq(ChatMessageStatus::Streaming))
        .filter(chat_message::Column::CreatedAt.lt(cutoff))
        .into_tuple()
        .all(&scope.on(&p.db))
        .await?;
    let mut failed = 0;
    for id in stale {
        if fail_unfinished(p, scope, session_id, id, STOPPED).await? {
            failed += 1;
        }
    }
    Ok(failed)
}

/// The instant before which an answer still `STREAMING` at a start at
/// `started` lost its writer.
fn restart_cutoff(started: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(started) - chrono::Duration::from_std(RESTART_MARGIN).unwrap_or(chrono::Duration::zero())
}

/// At start-up (`started`: when this process began): every account's
/// answers still `STREAMING` that began more than [`RESTART_MARGIN`]
/// before, stored `FAILED` ([`INTERRUPTED_BY_RESTART`]) and published, so their
/// sessions take the next message at once; how many.
pub async fn fail_interrupted_by_restart(p: &Pipeline, started: SystemTime) -> Result<u64, DbErr> {
    let cutoff = restart_cutoff(started);
    // Across accounts, as the other start-up sweeps are; each row is then
    // finished through its own account's scope.
    let stale: Vec<(Uuid, Uuid, Uuid)> = chat_message::Entity::find()
        .select_only()
        .column(chat_message::Column::Id)
        .column(chat_message::Column::AccountId)
        .column(chat_message::Column::SessionId)
        .filter(chat_message::Column::Role.eq(ChatRole::Assistant))
        .filter(chat_message::Column::Status.eq(ChatMessageStatus::Streaming))
        .filter(chat_message::Column::CreatedAt.lt(cutoff))
        .into_tuple()
        .all(&p.db)
        .await?;
    let mut failed = 0;
    for (id, account_id, session_id) in stale {
        if fail_unfinished(p, AccountScope::new(account_id), session_id, id, INTERRUPTED_BY_RESTART).await? {
            failed += 1;
        }
    }
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restart_cutoff_is_the_start_less_the_margin() {
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let cutoff = restart_cutoff(started);
        assert_eq!(cutoff.timestamp(), 1_000 - RESTART_MARGIN.as_secs() as i64);
        assert!(RESTART_MARGIN < INTERRUPTED_AFTER);
    }
}
