//! The customer in what members wrote and were told: the account's chats
//! (members' messages, answers, the quotes of their citations, session
//! titles) and the store's analyses (the question, its plan and failure
//! reason, the tasks' objectives, outputs and errors, the tool calls'
//! inputs and summaries, the events, the result's summary and body).
//!
//! Each mention is replaced where it stands by [`REDACTED`], rather than
//! the row deleted: a session keeps its turns (every question still
//! followed by its answer, and the history the next answer reads is the
//! redacted one), an analysis its shape, and the words around a mention
//! say nothing about the customer. Strings that are ids are left alone (a
//! run of digits in a UUID is no phone number). An answer being written
//! when the request comes may be drawing on what was just erased, and is
//! written after this transaction: it is stopped ([`STOPPED_BY_ERASURE`]),
//! so its writer's final, conditional update stores nothing.

use std::collections::HashSet;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use uuid::Uuid;

use alatar_entity::{
    AccountScope, ChatMessageStatus, ChatRole, ScopeSession, agent_task, analysis_event, analysis_request,
    analysis_result, chat_message, chat_session, tool_call,
};

use super::{CustomerMarks, PAGE};
use crate::knowledge::chat::title_of;

/// What a mention of the customer is replaced by.
pub const REDACTED: &str = "[redacted]";
/// Why an answer being written when a `customers/redact` came was stopped.
pub const STOPPED_BY_ERASURE: &str =
    "stopped: what it drew on changed at the shop's privacy request (Shopify customers/redact); ask again";

impl CustomerMarks {
    /// `text` with every mention of the customer replaced by [`REDACTED`]
    /// (overlapping mentions as one); `None` when it names them nowhere.
    pub fn redact(&self, text: &str) -> Option<String> {
        let found = self.find_in(text);
        if found.is_empty() {
            return None;
        }
        let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(found.len());
        for range in found {
            match merged.last_mut() {
                Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
                _ => merged.push(range),
            }
        }
        let chars: Vec<char> = text.chars().collect();
        let mut redacted = String::with_capacity(text.len());
        let mut at = 0;
        for range in merged {
            redacted.extend(&chars[at..range.start]);
            redacted.push_str(REDACTED);
            at = range.end;
        }
        redacted.extend(&chars[at..]);
        Some(redacted)
    }

    /// Redacts every string in `value` (not object keys, not ids); whether
    /// any changed.
    pub fn redact_json(&self, value: &mut Value) -> bool {
        match value {
            Value::String(text) if Uuid::parse_str(text.as_str()).is_err() => match self.redact(text) {
                Some(redacted) => {
                    *text = redacted;
                    true
                }
                None => false,
            },
            Value::Array(items) => items.iter_mut().fold(false, |changed, item| self.redact_json(item) || changed),
            Value::Object(members) => {
                members.values_mut().fold(false, |changed, member| self.redact_json(member) || changed)
            }
            _ => false,
        }
    }

    /// [`Self::redact`] of an optional text.
    fn redact_some(&self, text: Option<&str>) -> Option<String> {
        text.and_then(|t| self.redact(t))
    }
}

/// What the account's chats lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ChatRedaction {
    /// Messages whose text, error or citations named the customer.
    pub messages: u64,
    /// Sessions whose title did (or came from a first message that did).
    pub titles: u64,
}

/// Redacts the customer from every chat message and session title of the
/// account: messages read in pages of [`PAGE`] in id order (so a session's
/// first message, which named it, comes first).
pub(super) async fn redact_chats<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    customer: &CustomerMarks,
) -> Result<ChatRedaction, DbErr> {
    let mut done = ChatRedaction::default();
    let mut seen: HashSet<Uuid> = HashSet::new();
    // Sessions named after a first message that named the customer: the
    // title is that message's first line, perhaps cut inside the address.
    let mut renamed: Vec<(Uuid, String)> = Vec::new();
    let mut after = Uuid::nil();
    loop {
        let page = scope
            .find::<chat_message::Entity>()
            .filter(chat_message::Column::Id.gt(after))
            .order_by_asc(chat_message::Column::Id)
            .limit(PAGE)
            .all(&scope.on(db))
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for mut message in page {
            let first = seen.insert(message.session_id);
            let content = customer.redact(&message.content);
            let error = customer.redact_some(message.error.as_deref());
            let cited = customer.redact_json(&mut message.citations);
            if first
                && message.role == ChatRole::User
                && let Some(content) = &content
            {
                renamed.push((message.session_id, title_of(content)));
            }
            if content.is_none() && error.is_none() && !cited {
                continue;
            }
            let mut update = scope
                .update_many::<chat_message::Entity>()
                .col_expr(chat_message::Column::Citations, Expr::value(message.citations));
            if let Some(content) = content {
                update = update.col_expr(chat_message::Column::Content, Expr::value(content));
            }
            if let Some(error) = error {
                update = update.col_expr(chat_message::Column::Error, Expr::value(Some(error)));
            }
            update.filter(chat_message::Column::Id.eq(message.id)).exec(&scope.on(db)).await?;
            done.messages += 1;
        }
    }
    let mut retitled: HashSet<Uuid> = HashSet::new();
    for (session_id, title) in renamed {
        let changed = scope
            .update_many::<chat_session::Entity>()
            .col_expr(chat_session::Column::Title, Expr::value(title))
            .filter(chat_session::Column::Id.eq(session_id))
            .exec(&scope.on(db))
            .await?;
        if changed.rows_affected > 0 {
            retitled.insert(session_id);
        }
    }
    // Any other title naming the customer.
    let titles: Vec<(Uuid, String)> = scope
        .find::<chat_session::Entity>()
        .select_only()
        .column(chat_session::Column::Id)
        .column(chat_session::Column::Title)
        .into_tuple()
        .all(&scope.on(db))
        .await?;
    for (session_id, title) in titles {
        let Some(title) = customer.redact(&title) else { continue };
        scope
            .update_many::<chat_session::Entity>()
            .col_expr(chat_session::Column::Title, Expr::value(title))
            .filter(chat_session::Column::Id.eq(session_id))
            .exec(&scope.on(db))
            .await?;
        retitled.insert(session_id);
    }
    done.titles = retitled.len() as u64;
    Ok(done)
}

/// Stores every answer of the account still being written `FAILED`
/// ([`STOPPED_BY_ERASURE`]); how many.
pub(super) async fn stop_answers<C: ScopeSession>(db: &C, scope: AccountScope) -> Result<u64, DbErr> {
    let stopped = scope
        .update_many::<chat_message::Entity>()
        .col_expr(chat_message::Column::Status, Expr::value(ChatMessageStatus::Failed.as_str()))
        .col_expr(chat_message::Column::Error, Expr::value(Some(STOPPED_BY_ERASURE.to_owned())))
        .filter(chat_message::Column::Status.eq(ChatMessageStatus::Streaming))
        .exec(&scope.on(db))
        .await?;
    Ok(stopped.rows_affected)
}

/// What the store's analyses lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct AnalysisRedaction {
    /// Requests whose question, plan or failure reason named the customer.
    pub requests: u64,
    /// Results whose summary or body did.
    pub results: u64,
    /// Tasks, tool calls and events that did.
    pub records: u64,
}

/// Redacts the customer from every analysis of `store_id` and the records
/// it wrote.
pub(super) async fn redact_analyses<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    store_id: Uuid,
    customer: &CustomerMarks,
) -> Result<AnalysisRedaction, DbErr> {
    let mut done = AnalysisRedaction::default();
    let requests = scope
        .find::<analysis_request::Entity>()
        .filter(analysis_request::Column::StoreId.eq(store_id))
        .all(&scope.on(db))
        .await?;
    let ids: Vec<Uuid> = requests.iter().map(|r| r.id).collect();
    for mut request in requests {
        let prompt = customer.redact(&request.prompt);
        let reason = customer.redact_some(request.failure_reason.as_deref());
        let planned = request.plan.as_mut().is_some_and(|plan| customer.redact_json(plan));
        if prompt.is_none() && reason.is_none() && !planned {
            continue;
        }
        let mut update = scope
            .update_many::<analysis_request::Entity>()
            .col_expr(analysis_request::Column::Plan, Expr::value(request.plan));
        if let Some(prompt) = prompt {
            update = update.col_expr(analysis_request::Column::Prompt, Expr::value(prompt));
        }
        if let Some(reason) = reason {
            update = update.col_expr(analysis_request::Column::FailureReason, Expr::value(Some(reason)));
        }
        update.filter(analysis_request::Column::Id.eq(request.id)).exec(&scope.on(db)).await?;
        done.requests += 1;
    }
    for ids in ids.chunks(PAGE as usize) {
        done.results += redact_results(db, scope, ids, customer).await?;
        done.records += redact_records(db, scope, ids, customer).await?;
    }
    Ok(done)
}

/// The results of `requests`; how many changed.
async fn redact_results<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    requests: &[Uuid],
    customer: &CustomerMarks,
) -> Result<u64, DbErr> {
    let mut changed = 0;
    for mut result in scope
        .find::<analysis_result::Entity>()
        .filter(analysis_result::Column::RequestId.is_in(requests.iter().copied()))
        .all(&scope.on(db))
        .await?
    {
        let summary = customer.redact(&result.summary);
        let body = customer.redact_json(&mut result.body);
        if summary.is_none() && !body {
            continue;
        }
        let mut update = scope
            .update_many::<analysis_result::Entity>()
            .col_expr(analysis_result::Column::Body, Expr::value(result.body));
        if let Some(summary) = summary {
            update = update.col_expr(analysis_result::Column::Summary, Expr::value(summary));
        }
        update.filter(analysis_result::Column::RequestId.eq(result.request_id)).exec(&scope.on(db)).await?;
        changed += 1;
    }
    Ok(changed)
}

/// The tasks, tool calls and events of `requests`; how many changed.
async fn redact_records<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    requests: &[Uuid],
    customer: &CustomerMarks,
) -> Result<u64, DbErr> {
    let mut changed = 0;
    for mut task in scope
        .find::<agent_task::Entity>()
        .filter(agent_task::Column::RequestId.is_in(requests.iter().copied()))
        .all(&scope.on(db))
        .await?
    {
        let objective = customer.redact(&task.objective);
        let error = customer.redact_some(task.last_error.as_deref());
        let output = task.output.as_mut().is_some_and(|o| customer.redact_json(o));
        if objective.is_none() && error.is_none() && !output {
            continue;
        }
        let mut update =
            scope.update_many::<agent_task::Entity>().col_expr(agent_task::Column::Output, Expr::value(task.output));
        if let Some(objective) = objective {
            update = update.col_expr(agent_task::Column::Objective, Expr::value(objective));
        }
        if let Some(error) = error {
            update = update.col_expr(agent_task::Column::LastError, Expr::value(Some(error)));
        }
        update.filter(agent_task::Column::Id.eq(task.id)).exec(&scope.on(db)).await?;
        changed += 1;
    }
    for mut call in scope
        .find::<tool_call::Entity>()
        .filter(tool_call::Column::RequestId.is_in(requests.iter().copied()))
        .all(&scope.on(db))
        .await?
    {
        let summary = customer.redact(&call.output_summary);
        let input = customer.redact_json(&mut call.input);
        if summary.is_none() && !input {
            continue;
        }
        let mut update =
            scope.update_many::<tool_call::Entity>().col_expr(tool_call::Column::Input, Expr::value(call.input));
        if let Some(summary) = summary {
            update = update.col_expr(tool_call::Column::OutputSummary, Expr::value(summary));
        }
        update.filter(tool_call::Column::Id.eq(call.id)).exec(&scope.on(db)).await?;
        changed += 1;
    }
    for mut event in scope
        .find::<analysis_event::Entity>()
        .filter(analysis_event::Column::RequestId.is_in(requests.iter().copied()))
        .all(&scope.on(db))
        .await?
    {
        if customer.redact_json(&mut event.payload) {
            scope
                .update_many::<analysis_event::Entity>()
                .col_expr(analysis_event::Column::Payload, Expr::value(event.payload))
                .filter(analysis_event::Column::Id.eq(event.id))
                .exec(&scope.on(db))
                .await?;
            changed += 1;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn jane() -> CustomerMarks {
        CustomerMarks::new(Some("Jane.Doe@Example.com"), Some("+1 (555) 010-2345"))
    }

    #[test]
    fn mentions_are_replaced_where_they_stand() {
        let said = "Write to JANE.DOE@EXAMPLE.COM or call 555.010.2345; bob.roe@example.com is someone else.";
        assert_eq!(
            jane().redact(said).as_deref(),
            Some("Write to [redacted] or call [redacted]; bob.roe@example.com is someone else.")
        );
        assert_eq!(jane().redact("Ünïcode: jane.doe@example.com!").as_deref(), Some("Ünïcode: [redacted]!"));
        assert_eq!(jane().redact("Nothing about her, order 2345."), None);
        // A phone inside an address is one mention.
        let overlapping = CustomerMarks::new(Some("5550102345@example.com"), Some("555 010 2345"));
        assert_eq!(overlapping.redact("at 5550102345@example.com").as_deref(), Some("at [redacted]"));
        let redacted = jane().redact("jane.doe@example.com, (555) 010-2345").unwrap_or_default();
        assert!(!jane().named_in(&redacted), "{redacted}");
    }

    #[test]
    fn json_strings_are_redacted_but_not_keys_or_ids() {
        let id = "01935d5e-5550-1023-4555-010234500000";
        let mut value = json!({
            "jane.doe@example.com": "key stays",
            "sections": [{ "title": "Jane", "body": "Mail jane.doe@example.com." }],
            "chunkId": id,
            "count": 5_550_102_345_u64,
        });
        assert!(jane().redact_json(&mut value));
        assert_eq!(value["sections"][0]["body"], "Mail [redacted].");
        assert_eq!(value["jane.doe@example.com"], "key stays");
        assert_eq!(value["chunkId"], id);
        assert_eq!(value["count"], 5_550_102_345_u64);
        assert!(!jane().redact_json(&mut value), "nothing left to redact");
    }
}
