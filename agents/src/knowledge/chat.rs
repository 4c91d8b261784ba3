//! Chat over a collection (seed 000 P18–P21, seed 004): one answer to a
//! member's message, written from the session's collection only.
//!
//! The steps of [`write_answer`]: the session's last turns (history), the
//! retrieval (the message's telling words, and the previous question's,
//! searched `HYBRID`, [`RETRIEVED`] chunks), then the words:
//!
//! - with a chat model (`Llm::chat` answers): an "answer only from the
//!   context, cite `[n]`" prompt ([`prompt`]) with the history and the
//!   numbered, fenced chunks, streamed through the chat client in the
//!   member's model; its `[n]` markers become the citations;
//! - without one (the offline model): an extractive answer ([`extractive`])
//!   that quotes the most relevant sentences of the chunks with their
//!   citations, or says [`NOTHING_FOUND`] when none passes the threshold.
//!
//! Nothing retrieved is [`NOTHING_FOUND`] on both paths, no model asked.
//! The text streams as `CHAT_DELTA` events on the pipeline's bus, keyed by
//! the session (`request_id`, sequence 0: not journalled, the message row
//! is the record), then the stored message is finished (`COMPLETE` with
//! citations, token count and model, or `FAILED` with an error the member
//! can read and what was streamed before it) and `CHAT_COMPLETED` or
//! `CHAT_FAILED` is published. The user's message is never touched.
//!
//! Token counts are the pipeline's chunking tokenizer's count of the text
//! (the embedding model's tokenizer when one is loaded, else
//! `ApproxTokens`), or the provider's completion tokens when it reports
//! them.
//!
//! Architecture invariant: no GraphQL here; every tenant row is read and
//! written through the message's `AccountScope`.

pub mod extractive;
pub mod interrupted;
pub mod prompt;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use alatar_entity::{AccountScope, ChatMessageStatus, ChatRole, chat_message, chat_session, collection};

use super::search::{self, SearchHit, SearchMode, SearchQuery};
use super::sentences;
use crate::llm::{ChatPrompt, LlmError};
use crate::pipeline::{Event, Pipeline};
use crate::write::write_transaction;

pub use interrupted::{
    INTERRUPTED_AFTER, INTERRUPTED_BY_RESTART, RESTART_MARGIN, fail_interrupted, fail_interrupted_by_restart,
    fail_unfinished,
};

/// A piece of an answer's text: `{sessionId, messageId, text, offset}`
/// (`offset`: characters of the answer before it, so a gap shows).
pub const CHAT_DELTA: &str = "CHAT_DELTA";
/// An answer was stored `COMPLETE`: `{sessionId, messageId}`.
pub const CHAT_COMPLETED: &str = "CHAT_COMPLETED";
/// An answer was stored `FAILED`: `{sessionId, messageId, error}`.
pub const CHAT_FAILED: &str = "CHAT_FAILED";
/// A session was deleted: `{sessionId}`.
pub const CHAT_SESSION_DELETED: &str = "CHAT_SESSION_DELETED";

/// Who wrote an answer made of the documents' own sentences (or the
/// honest "don't say"): no model.
pub const EXTRACTIVE_MODEL: &str = "extractive";
/// The answer when the documents hold nothing relevant.
pub const NOTHING_FOUND: &str = "The documents in this collection don't say.";
/// Chunks retrieved per answer.
pub const RETRIEVED: usize = 6;
/// Earlier messages (both roles) the prompt carries.
pub const HISTORY_MESSAGES: u64 = 6;
/// Characters of each earlier message the prompt carries.
const HISTORY_CHARS: usize = 2_000;
/// Words searched for, at most (with the `or`s between them, within the
/// 64 pieces a search query reads).
const RETRIEVAL_TERMS: usize = 32;
/// Pieces of text waiting to be published; the writer waits beyond it.
const DELTA_BUFFER: usize = 64;
/// A session's title until its first message names it.
pub const DEFAULT_TITLE: &str = "New chat";
/// Longest title taken from a first message, in characters.
pub const TITLE_CHARS: usize = 80;

/// A session's title from its first message: its first line, spaces
/// collapsed, cut to [`TITLE_CHARS`] characters.
pub fn title_of(content: &str) -> String {
    let line = content.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(DEFAULT_TITLE);
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= TITLE_CHARS {
        return line;
    }
    let cut: String = line.chars().take(TITLE_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// A passage an answer cites, as stored in `chat_messages.citations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Citation {
    /// The `[n]` of the answer that refers to it (1-based).
    pub index: u32,
    /// The chunk quoted.
    pub chunk_id: Uuid,
    /// Its document.
    pub document_id: Uuid,
    /// The document's name.
    pub document_filename: String,
    /// 1-based page of a PDF; `None` for unpaginated documents.
    pub page: Option<i32>,
    /// Offset of the quote's first character in the page's extracted text
    /// (Unicode scalar values), as chunk offsets are.
    pub char_start: i32,
    /// Offset one past its last character.
    pub char_end: i32,
    /// The quoted text, exactly as the source has it.
    pub quote: String,
}

impl Citation {
    /// `returns.pdf p. 2`, or the name alone for unpaginated documents.
    pub fn label(&self) -> String {
        match self.page {
            Some(page) => format!("{} p. {page}", self.document_filename),
            None => self.document_filename.clone(),
        }
    }

    /// Quotes `sentence` (a sentence of `hit`'s chunk) as citation `index`.
    pub fn of_sentence(index: u32, hit: &SearchHit, sentence: &sentences::Sentence<'_>) -> Self {
        let at = |offset: usize| hit.chunk.char_start.saturating_add(i32::try_from(offset).unwrap_or(i32::MAX));
        Self {
            index,
            chunk_id: hit.chunk.id,
            document_id: hit.document.id,
            document_filename: hit.document.filename.clone(),
            page: hit.chunk.page,
            char_start: at(sentence.char_start),
            char_end: at(sentence.char_end),
            quote: sentence.text.to_owned(),
        }
    }

    /// The citations stored in `json` (nothing for anything else).
    pub fn all_in(json: &Value) -> Vec<Self> {
        serde_json::from_value(json.clone()).unwrap_or_default()
    }
}

/// An answer to write: the assistant message stored `STREAMING` beside
/// the member's message.
#[derive(Debug, Clone)]
pub struct PendingAnswer {
    /// The session's account.
    pub scope: AccountScope,
    /// The session.
    pub session: chat_session::Model,
    /// The member's message.
    pub question: chat_message::Model,
    /// The `STREAMING` assistant message to finish.
    pub answer_id: Uuid,
    /// The model asked for (the session's, else the member's preference).
    pub model: Option<String>,
}

/// What an answer came to, before it is stored.
struct Written {
    text: String,
    citations: Vec<Citation>,
    model: String,
    tokens: Option<u32>,
    error: Option<String>,
}

/// Writes the answer to `pending`, streams it and stores it; the stored
/// message, or `None` when it was no longer there to finish (deleted with
/// its session, or finished by someone else). An `Err` only when even the
/// failure could not be stored.
#[tracing::instrument(skip_all, fields(session_id = %pending.session.id, message_id = %pending.answer_id))]
pub async fn write_answer(p: &Pipeline, pending: PendingAnswer) -> anyhow::Result<Option<chat_message::Model>> {
    let (deltas, pieces) = mpsc::channel::<String>(DELTA_BUFFER);
    let (written, streamed) = tokio::join!(compose(p, &pending, deltas), publish_pieces(p, &pending, pieces));
    let written = match written {
        Ok(written) => written,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "chat answer could not be written");
            Written {
                text: streamed,
                citations: Vec::new(),
                model: requested_model(p, &pending),
                tokens: None,
                error: Some("the answer could not be written: the documents could not be read right now".into()),
            }
        }
    };
    finish(p, &pending, written).await
}

/// The model an answer asked for: the member's choice, else the default.
fn requested_model(p: &Pipeline, pending: &PendingAnswer) -> String {
    pending.model.clone().unwrap_or_else(|| p.llm.model().to_owned())
}

/// The answer's words, each piece sent to `deltas` as it is written.
async fn compose(p: &Pipeline, pending: &PendingAnswer, deltas: mpsc::Sender<String>) -> anyhow::Result<Written> {
    let scope = pending.scope;
    let history = history(&p.db, scope, &pending.question).await?;
    let hits = retrieve(p, pending, &history).await?;
    let question = pending.question.content.as_str();
    if hits.is_empty() {
        let _ = deltas.send(NOTHING_FOUND.to_owned()).await;
        return Ok(extractive_answer(NOTHING_FOUND.to_owned(), Vec::new()));
    }
    let turns = prompt::history(&history, HISTORY_CHARS);
    let message = prompt::message(question, &hits);
    let asked = ChatPrompt {
        instructions: prompt::INSTRUCTIONS,
        history: &turns,
        message: &message,
        model: pending.model.as_deref(),
    };
    // The pieces a failing model sent are kept (the member saw them).
    let (sent, mut kept) = mpsc::channel::<String>(DELTA_BUFFER);
    let relay = async {
        let mut so_far = String::new();
        while let Some(piece) = kept.recv().await {
            so_far.push_str(&piece);
            let _ = deltas.send(piece).await;
        }
        so_far
    };
    let ask = async move {
        let outcome = p.llm.chat(&asked, &sent).await;
        drop(sent);
        outcome
    };
    let (outcome, so_far) = tokio::join!(ask, relay);
    match outcome {
        Ok(Some(reply)) => {
            let citations = prompt::citations(&reply.text, question, &hits);
            Ok(Written {
                text: reply.text,
                citations,
                model: reply.model,
                tokens: reply.completion_tokens,
                error: None,
            })
        }
        Ok(None) => {
            let extract = extractive::answer(question, &hits);
            for part in &extract.parts {
                let _ = deltas.send(part.clone()).await;
            }
            Ok(extractive_answer(extract.parts.concat(), extract.citations))
        }
        Err(e) => {
            tracing::warn!(error = %e, "chat model failed");
            Ok(Written {
                text: so_far,
                citations: Vec::new(),
                model: requested_model(p, pending),
                tokens: None,
                error: Some(failure(&e)),
            })
        }
    }
}

fn extractive_answer(text: String, citations: Vec<Citation>) -> Written {
    Written { text, citations, model: EXTRACTIVE_MODEL.to_owned(), tokens: None, error: None }
}

/// What a member is told when the model failed (the cause is logged).
fn failure(error: &LlmError) -> String {
    match error {
        LlmError::Unavailable(_) => "the model is unavailable right now; ask again in a moment".to_owned(),
        LlmError::CircuitOpen(open) => format!(
            "the model is unavailable after repeated failures; ask again in {} s",
            open.retry_in.as_secs().max(1)
        ),
        LlmError::Invalid(_) => "the model's answer broke off or was refused; ask again".to_owned(),
    }
}

/// Publishes the pieces as `CHAT_DELTA` events (those waiting together as
/// one) until the writer is done; the whole text streamed.
async fn publish_pieces(p: &Pipeline, pending: &PendingAnswer, mut pieces: mpsc::Receiver<String>) -> String {
    let mut streamed = String::new();
    let mut offset = 0usize;
    let mut waiting = Vec::new();
    while pieces.recv_many(&mut waiting, DELTA_BUFFER).await > 0 {
        let text = waiting.concat();
        waiting.clear();
        if text.is_empty() {
            continue;
        }
        let payload = json!({
            "sessionId": pending.session.id,
            "messageId": pending.answer_id,
            "text": text,
            "offset": offset,
        });
        offset += text.chars().count();
        streamed.push_str(&text);
        p.bus.publish(&[event(pending.scope, pending.session.id, CHAT_DELTA, payload)]).await;
    }
    streamed
}

/// The bus event `kind` of `session_id`.
fn event(scope: AccountScope, session_id: Uuid, kind: &str, payload: Value) -> Event {
    Event {
        id: Uuid::now_v7(),
        account_id: scope.account_id(),
        request_id: session_id,
        sequence: 0,
        kind: kind.to_owned(),
        payload,
        created_at: Utc::now(),
    }
}

/// Tells the session's watchers it is gone.
pub async fn publish_deletion(p: &Pipeline, scope: AccountScope, session_id: Uuid) {
    p.bus.publish(&[event(scope, session_id, CHAT_SESSION_DELETED, json!({ "sessionId": session_id }))]).await;
}

/// The session's last complete messages before `question`, oldest first.
async fn history(
    db: &DatabaseConnection,
    scope: AccountScope,
    question: &chat_message::Model,
) -> Result<Vec<chat_message::Model>, DbErr> {
    let mut last = scope
        .find::<chat_message::Entity>()
        .filter(chat_message::Column::SessionId.eq(question.session_id))
        .filter(chat_message::Column::Id.lt(question.id))
        .filter(chat_message::Column::Status.eq(ChatMessageStatus::Complete))
        .order_by_desc(chat_message::Column::Id)
        .limit(HISTORY_MESSAGES)
        .all(&scope.on(db))
        .await?;
    last.reverse();
    Ok(last)
}

/// A term and its common English inflections (`return`: `returns`,
/// `returned`; `policy`: `policies`), since the full-text engines match
/// words as written (no stemming, on purpose: see the search module).
fn inflections(term: &str) -> Vec<String> {
    let mut forms = vec![term.to_owned()];
    let ends_with_consonant_y =
        term.len() > 3 && term.ends_with('y') && !term[..term.len() - 1].ends_with(['a', 'e', 'i', 'o', 'u']);
    if ends_with_consonant_y {
        forms.push(format!("{}ies", &term[..term.len() - 1]));
    } else if term.ends_with(['s', 'x']) || term.ends_with("ch") || term.ends_with("sh") {
        forms.push(format!("{term}es"));
    } else {
        forms.push(format!("{term}s"));
    }
    if term.ends_with('e') {
        forms.push(format!("{term}d"));
    } else if !term.ends_with('y') && term.chars().all(char::is_alphabetic) {
        forms.push(format!("{term}ed"));
    }
    forms
}

/// What is searched for: the message's telling words as written, then
/// their terms with inflections, then the same of the previous question,
/// as alternatives (`a or b or c`): full-text engines want every word of a
/// query, and a question's words are not all in the passage that answers
/// it. At most [`RETRIEVAL_TERMS`] words (the engines read 64 pieces).
pub fn retrieval_text(message: &str, history: &[chat_message::Model]) -> String {
    let previous = history.iter().rev().find(|m| m.role == ChatRole::User).map(|m| m.content.as_str());
    let mut words: Vec<String> = Vec::new();
    for text in std::iter::once(message).chain(previous) {
        let inflected = sentences::terms(text).into_iter().flat_map(|term| inflections(&term));
        for word in sentences::keywords(text).into_iter().chain(inflected) {
            if !words.contains(&word) {
                words.push(word);
            }
        }
    }
    words.truncate(RETRIEVAL_TERMS);
    words.join(" or ")
}

/// The session's collection's chunks for the message, best first.
async fn retrieve(
    p: &Pipeline,
    pending: &PendingAnswer,
    history: &[chat_message::Model],
) -> anyhow::Result<Vec<SearchHit>> {
    let scope = pending.scope;
    let text = retrieval_text(&pending.question.content, history);
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let found = scope
        .find::<collection::Entity>()
        .filter(collection::Column::Id.eq(pending.session.collection_id))
        .one(&scope.on(&p.db))
        .await?;
    let Some(target) = found else { return Ok(Vec::new()) };
    let query = SearchQuery {
        scope,
        collection_id: target.id,
        text,
        first: RETRIEVED,
        mode: SearchMode::Hybrid,
        min_score: None,
        document_ids: None,
    };
    Ok(search::search(&p.db, p.retrievers(), &target, query).await?.hits)
}

/// Stores the answer (a conditional update of the `STREAMING` message) and
/// publishes its end.
async fn finish(
    p: &Pipeline,
    pending: &PendingAnswer,
    written: Written,
) -> anyhow::Result<Option<chat_message::Model>> {
    let scope = pending.scope;
    let status = if written.error.is_some() { ChatMessageStatus::Failed } else { ChatMessageStatus::Complete };
    let counted = p.chunking.tokens.count_tokens(&written.text);
    let tokens = written.tokens.map_or(counted, |n| n as usize);
    let citations = serde_json::to_value(&written.citations)?;
    let id = pending.answer_id;
    let stored = write_transaction(&p.db, |tx| {
        let (text, citations, error, model) =
            (written.text.clone(), citations.clone(), written.error.clone(), written.model.clone());
        async move {
            let done = scope
                .update_many::<chat_message::Entity>()
                .col_expr(chat_message::Column::Content, Expr::value(text))
                .col_expr(chat_message::Column::Status, Expr::value(status.as_str()))
                .col_expr(chat_message::Column::Error, Expr::value(error))
                .col_expr(chat_message::Column::Citations, Expr::value(citations))
                .col_expr(chat_message::Column::TokenCount, Expr::value(i32::try_from(tokens).unwrap_or(i32::MAX)))
                .col_expr(chat_message::Column::Model, Expr::value(model))
                .filter(chat_message::Column::Id.eq(id))
                .filter(chat_message::Column::Status.eq(ChatMessageStatus::Streaming))
                .exec(&scope.on(&tx))
                .await?;
            tx.commit().await?;
            Ok::<_, DbErr>(done.rows_affected)
        }
    })
    .await?;
    if stored == 0 {
        return Ok(None);
    }
    let message =
        scope.find::<chat_message::Entity>().filter(chat_message::Column::Id.eq(id)).one(&scope.on(&p.db)).await?;
    let (kind, payload) = match &written.error {
        None => (CHAT_COMPLETED, json!({ "sessionId": pending.session.id, "messageId": id })),
        Some(error) => (CHAT_FAILED, json!({ "sessionId": pending.session.id, "messageId": id, "error": error })),
    };
    p.bus.publish(&[event(scope, pending.session.id, kind, payload)]).await;
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: ChatRole, content: &str) -> chat_message::Model {
        chat_message::Model {
            id: Uuid::now_v7(),
            account_id: Uuid::nil(),
            session_id: Uuid::nil(),
            role,
            content: content.into(),
            status: ChatMessageStatus::Complete,
            error: None,
            citations: json!([]),
            token_count: None,
            model: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn retrieval_asks_for_any_telling_word_of_this_and_the_last_question() {
        let history = [message(ChatRole::User, "What about exchanges?"), message(ChatRole::Assistant, "Once, free.")];
        assert_eq!(
            retrieval_text("How many days do I have to return items?", &history),
            "days or return or items or day or returns or returned or item or itemed or exchanges or exchange or \
             exchanged"
        );
        assert_eq!(inflections("policy"), ["policy", "policies"]);
        assert_eq!(inflections("box"), ["box", "boxes", "boxed"]);
        assert_eq!(inflections("size"), ["size", "sizes", "sized"]);
        assert_eq!(inflections("30"), ["30", "30s"]);
        assert_eq!(retrieval_text("How do I?", &[]), "");
        let long = (0..40).map(|n| format!("word{n}")).collect::<Vec<_>>().join(" ");
        assert_eq!(retrieval_text(&long, &[]).split(" or ").count(), RETRIEVAL_TERMS);
    }

    #[test]
    fn titles_come_from_the_first_line() {
        assert_eq!(title_of("\n  How long   do returns take?\nMore."), "How long do returns take?");
        let long = title_of(&"word ".repeat(40));
        assert_eq!(long.chars().count(), TITLE_CHARS, "{long}");
        assert!(long.ends_with('…'));
    }

    #[test]
    fn citations_are_labelled_by_file_and_page_and_read_back_from_json() {
        let citation = Citation {
            index: 1,
            chunk_id: Uuid::nil(),
            document_id: Uuid::nil(),
            document_filename: "returns.pdf".into(),
            page: Some(2),
            char_start: 3,
            char_end: 9,
            quote: "Quoted".into(),
        };
        assert_eq!(citation.label(), "returns.pdf p. 2");
        assert_eq!(Citation { page: None, ..citation.clone() }.label(), "returns.pdf");
        let stored = serde_json::to_value(vec![citation.clone()]).unwrap_or_default();
        assert_eq!(stored[0]["documentFilename"], "returns.pdf");
        assert_eq!(Citation::all_in(&stored), vec![citation]);
        assert!(Citation::all_in(&json!({ "not": "a list" })).is_empty());
    }
}
