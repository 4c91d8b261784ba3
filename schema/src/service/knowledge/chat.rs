//! Chat sessions as the API sees them: bounds, tenancy and roles here, the
//! answer in `alatar_agents::knowledge::chat`. Every member role, viewers
//! included, may chat in their account's sessions (seed 004); another
//! account's session is `NOT_FOUND`. A session is deleted by who started
//! it, an owner or an admin.
//!
//! `sendChatMessage` stores the member's message and the answer's
//! `STREAMING` placeholder in one transaction (the session row updated
//! first, so two sends to one session queue on it; one whose session still
//! has an answer being written is `CONFLICT`) and answers at once with the
//! member's message. The answer is written by a task spawned here, not on
//! the queue: a chat is interactive (the first piece must come in
//! milliseconds, and an outbox, relay and queue hop would add to it), a
//! redelivered message would call the model, and bill it, a second time,
//! and the event bus already carries the pieces to a subscriber on any
//! instance. What a spawned task loses is surviving its process: an answer
//! whose process stopped is stored `FAILED` ("interrupted") when the next
//! `serve` process starts (every answer begun before it, less a small
//! margin), or else by the session's next message once it is older than
//! `INTERRUPTED_AFTER` (see `alatar_agents::knowledge::chat::interrupted`).
//! At most [`CONCURRENT_ANSWERS`] answers are written at once per process;
//! more wait for a turn.

mod updates;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use tokio::sync::Semaphore;
use tracing::Instrument;
use uuid::Uuid;

use alatar_agents::knowledge::chat::{self, PendingAnswer, title_of};
use alatar_agents::pipeline::Pipeline;
use alatar_agents::write::write_transaction;
use alatar_entity::{AccountScope, ChatMessageStatus, ChatRole, chat_message, chat_session};

use super::collection;
use crate::auth::AccessClaims;
use crate::error::{ApiError, ApiResult};

pub use alatar_agents::knowledge::chat::DEFAULT_TITLE;
pub use updates::{ChatUpdate, ChatUpdateKind, chat_message_updates};

/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4_000;
/// Longest model id, in characters.
pub const MAX_MODEL_CHARS: usize = 200;
/// Answers written at once in one process.
pub const CONCURRENT_ANSWERS: usize = 64;

static ANSWERS: Semaphore = Semaphore::const_new(CONCURRENT_ANSWERS);

/// A model id as asked for: trimmed, at most 200 characters, no spaces or
/// control characters; `None` when blank.
fn parse_model(raw: Option<String>) -> ApiResult<Option<String>> {
    let Some(model) = raw.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()) else { return Ok(None) };
    if model.chars().count() > MAX_MODEL_CHARS {
        return Err(ApiError::bad_input("model", format!("must be at most {MAX_MODEL_CHARS} characters")));
    }
    if model.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::bad_input("model", "must not contain spaces or control characters"));
    }
    Ok(Some(model))
}

/// A message as sent: trimmed, 1 to 4,000 characters, control characters
/// other than line breaks and tabs turned into spaces (PostgreSQL text
/// holds no NUL).
fn parse_content(raw: &str) -> ApiResult<String> {
    let kept: String = raw.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { ' ' } else { c }).collect();
    let content = kept.trim();
    if content.is_empty() {
        return Err(ApiError::bad_input("content", "must not be empty"));
    }
    if content.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::bad_input("content", format!("must be at most {MAX_MESSAGE_CHARS} characters")));
    }
    Ok(content.to_owned())
}

/// Starts a chat over one of the account's collections; `model` (the
/// member's choice for this chat) wins over their preference.
pub async fn create_session(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    collection_id: Uuid,
    model: Option<String>,
) -> ApiResult<chat_session::Model> {
    let model = parse_model(model)?;
    let target = collection(p, scope, collection_id).await?;
    let now = Utc::now();
    let created = chat_session::Model {
        id: Uuid::now_v7(),
        account_id: scope.account_id(),
        collection_id: target.id,
        user_id: viewer.sub,
        title: DEFAULT_TITLE.to_owned(),
        model,
        created_at: now,
        updated_at: now,
    };
    chat_session::Entity::insert(chat_session::ActiveModel::from(created.clone()))
        .exec_without_returning(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    Ok(created)
}

/// One of the account's chat sessions.
pub async fn session(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<chat_session::Model> {
    scope
        .find::<chat_session::Entity>()
        .filter(chat_session::Column::Id.eq(id))
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("chat session"))
}

/// A page of the account's chat sessions, newest first, after the cursor `before_id`.
pub async fn sessions(
    p: &Pipeline,
    scope: AccountScope,
    before_id: Option<Uuid>,
    limit: u64,
) -> ApiResult<Vec<chat_session::Model>> {
    let mut query = scope.find::<chat_session::Entity>();
    if let Some(before) = before_id {
        query = query.filter(chat_session::Column::Id.lt(before));
    }
    query.order_by_desc(chat_session::Column::Id).limit(limit).all(&scope.on(&p.db)).await.map_err(ApiError::internal)
}

/// A page of a session's messages, oldest first, after the cursor `after_id`.
pub async fn messages(
    p: &Pipeline,
    scope: AccountScope,
    session_id: Uuid,
    after_id: Option<Uuid>,
    limit: u64,
) -> ApiResult<Vec<chat_message::Model>> {
    let mut query = scope.find::<chat_message::Entity>().filter(chat_message::Column::SessionId.eq(session_id));
    if let Some(after) = after_id {
        query = query.filter(chat_message::Column::Id.gt(after));
    }
    query.order_by_asc(chat_message::Column::Id).limit(limit).all(&scope.on(&p.db)).await.map_err(ApiError::internal)
}

/// The model an answer asks for: the session's, else the member's
/// preference (none with the offline model, which has no choice to make).
async fn preferred_model(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    session: &chat_session::Model,
) -> Option<String> {
    if let Some(model) = &session.model {
        return Some(model.clone());
    }
    if p.llm.model() == "offline" {
        return None;
    }
    crate::service::preferences::get(&p.db, scope, viewer.sub).await.ok().and_then(|prefs| prefs.llm_model)
}

/// Stores the member's message and queues its answer (written by a task
/// of this process, streamed on `chatMessageUpdates`); the stored message.
pub async fn send_message(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    session_id: Uuid,
    content: &str,
) -> ApiResult<chat_message::Model> {
    let content = parse_content(content)?;
    let mut found = session(p, scope, session_id).await?;
    chat::fail_interrupted(p, scope, session_id).await.map_err(ApiError::internal)?;
    let model = preferred_model(p, scope, viewer, &found).await;
    let now = Utc::now();
    let tokens = p.chunking.tokens.count_tokens(&content);
    let question = chat_message::Model {
        id: Uuid::now_v7(),
        account_id: scope.account_id(),
        session_id,
        role: ChatRole::User,
        content: content.clone(),
        status: ChatMessageStatus::Complete,
        error: None,
        citations: json!([]),
        token_count: Some(i32::try_from(tokens).unwrap_or(i32::MAX)),
        model: None,
        created_at: now,
    };
    let answer = chat_message::Model {
        id: Uuid::now_v7(),
        role: ChatRole::Assistant,
        content: String::new(),
        status: ChatMessageStatus::Streaming,
        token_count: None,
        ..question.clone()
    };
    let title = title_of(&content);
    let named = write_transaction(&p.db, |tx| {
        let (question, answer, title) = (question.clone(), answer.clone(), title.clone());
        async move {
            let on = scope.on(&tx);
            // First, so that concurrent sends to one session take turns.
            let touched = scope
                .update_many::<chat_session::Entity>()
                .col_expr(chat_session::Column::UpdatedAt, Expr::value(now))
                .filter(chat_session::Column::Id.eq(session_id))
                .exec(&on)
                .await?;
            if touched.rows_affected == 0 {
                return Err(ApiError::NotFound("chat session"));
            }
            let in_session =
                || scope.find::<chat_message::Entity>().filter(chat_message::Column::SessionId.eq(session_id));
            let busy =
                in_session().filter(chat_message::Column::Status.eq(ChatMessageStatus::Streaming)).count(&on).await?;
            if busy > 0 {
                return Err(ApiError::Conflict(
                    "an answer is still being written in this chat; send the next message once it is done".into(),
                ));
            }
            let first = in_session().count(&on).await? == 0;
            if first {
                scope
                    .update_many::<chat_session::Entity>()
                    .col_expr(chat_session::Column::Title, Expr::value(title))
                    .filter(chat_session::Column::Id.eq(session_id))
                    .exec(&on)
                    .await?;
            }
            chat_message::Entity::insert(chat_message::ActiveModel::from(question)).exec_without_returning(&on).await?;
            chat_message::Entity::insert(chat_message::ActiveModel::from(answer)).exec_without_returning(&on).await?;
            tx.commit().await?;
            Ok(first)
        }
    })
    .await?;
    if named {
        found.title = title;
    }
    found.updated_at = now;
    let pending = PendingAnswer { scope, session: found, question: question.clone(), answer_id: answer.id, model };
    spawn_answer(p.clone(), pending);
    Ok(question)
}

/// Writes the answer on a task of its own (in the request's span), in
/// turn with at most [`CONCURRENT_ANSWERS`] others; an answer whose writer
/// failed or panicked is stored `FAILED`, never left `STREAMING`.
fn spawn_answer(p: Pipeline, pending: PendingAnswer) {
    let (scope, session_id, answer_id) = (pending.scope, pending.session.id, pending.answer_id);
    let task = async move {
        let Ok(_turn) = ANSWERS.acquire().await else { return };
        let writer = {
            let p = p.clone();
            tokio::spawn(async move { chat::write_answer(&p, pending).await }.in_current_span())
        };
        let broken = match writer.await {
            Ok(Ok(_)) => return,
            Ok(Err(e)) => format!("{e:#}"),
            Err(e) => e.to_string(),
        };
        tracing::error!(error = %broken, %answer_id, "chat answer not stored; marking it failed");
        let why = "the answer could not be written; ask again";
        if let Err(e) = chat::fail_unfinished(&p, scope, session_id, answer_id, why).await {
            tracing::error!(error = %e, %answer_id, "chat answer left streaming");
        }
    };
    tokio::spawn(task.in_current_span());
}

/// Deletes a session with its messages; who started it, an owner or an
/// admin may.
pub async fn delete_session(p: &Pipeline, scope: AccountScope, viewer: &AccessClaims, id: Uuid) -> ApiResult<()> {
    let found = session(p, scope, id).await?;
    if found.user_id != viewer.sub && !viewer.role.can_manage_members() {
        return Err(ApiError::Forbidden("only who started a chat, an owner or an admin may delete it"));
    }
    let gone = write_transaction(&p.db, |tx| async move {
        let on = scope.on(&tx);
        scope.delete_many::<chat_message::Entity>().filter(chat_message::Column::SessionId.eq(id)).exec(&on).await?;
        let gone =
            scope.delete_many::<chat_session::Entity>().filter(chat_session::Column::Id.eq(id)).exec(&on).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(gone.rows_affected)
    })
    .await?;
    if gone == 0 {
        return Err(ApiError::NotFound("chat session"));
    }
    chat::publish_deletion(p, scope, id).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_bounded_and_cleaned() {
        let cleaned = parse_content("  What is the return window?\u{0}  ");
        assert_eq!(cleaned.ok().as_deref(), Some("What is the return window?"));
        assert_eq!(parse_content("a\nb\tc").ok().as_deref(), Some("a\nb\tc"));
        assert!(parse_content(" \n ").is_err());
        assert!(parse_content(&"x".repeat(MAX_MESSAGE_CHARS)).is_ok());
        let over = parse_content(&"x".repeat(MAX_MESSAGE_CHARS + 1));
        assert!(matches!(over, Err(ApiError::BadUserInput { field: "content", .. })), "{over:?}");
    }

    #[test]
    fn models_are_one_word_ids() {
        assert_eq!(parse_model(Some(" acme/m-1 ".into())).ok().flatten().as_deref(), Some("acme/m-1"));
        assert_eq!(parse_model(Some("  ".into())).ok().flatten(), None);
        assert!(parse_model(Some("two words".into())).is_err());
        assert!(parse_model(Some("m".repeat(MAX_MODEL_CHARS + 1))).is_err());
    }
}
