//! Document summaries, one queue step per job (`SummarizeDocument`, on the
//! `Knowledge` department's queue): queued with the move to `INGESTED`
//! (`super::ingest`) and by `regenerateSummary` ([`request`]).
//!
//! Idempotent like the rest of the pipeline: a job carries its id, the
//! document records the id of the job it waits for (`summary_job_id`),
//! and the summary is written by one update conditional on that id, which
//! it clears. A redelivered job, one superseded by a newer request, one
//! whose document was erased meanwhile finds another id (or none) and
//! writes nothing.
//!
//! Who writes it: the pipeline's model ([`crate::llm::Llm::summarize`],
//! the router's cheap summary model, with the text as untrusted data).
//! Offline, or when a model's answer is unusable, the document's own most
//! central sentences ([`extractive`]): nothing the document does not say.
//! A model that is unavailable fails the delivery, which is retried; a
//! dead letter ([`give_up`]) writes the extractive summary, so every
//! ingested document gets one.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use alatar_entity::{AccountScope, DocumentStatus, ScopeSession, document, document_chunk};

use super::ingest::publish;
use super::sentences::{split, terms};
use crate::llm::{DocumentText, LlmError};
use crate::pipeline::journal::{enqueue, enqueue_all};
use crate::pipeline::{Message, Pipeline};
use crate::write::begin_write;

/// `summary_model` of a summary made of the document's own sentences.
pub const EXTRACTIVE: &str = "extractive";

/// Most characters of a document a model reads for its summary (about
/// 12,000 tokens: within a cheap model's window, at a cheap model's price).
pub const MAX_MODEL_INPUT_CHARS: usize = 48_000;

/// The queue message of job `job_id` for `document`.
pub fn message(document: &document::Model, job_id: Uuid) -> Message {
    Message::SummarizeDocument { account_id: document.account_id, document_id: document.id, job_id }
}

/// Queues a new summary job for an `INGESTED` document on `db` (the
/// caller's transaction: the job's id and its message commit together),
/// with `now` as the document's `updated_at`; the job's id, or `None` when
/// the document is not (or no longer) there or not `INGESTED`. The summary
/// it has stays until the new one is written.
pub async fn request<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    document_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, DbErr> {
    let job_id = Uuid::now_v7();
    let moved = scope
        .update_many::<document::Entity>()
        .col_expr(document::Column::SummaryJobId, Expr::value(Some(job_id)))
        .col_expr(document::Column::UpdatedAt, Expr::value(now))
        .filter(document::Column::Id.eq(document_id))
        .filter(document::Column::Status.eq(DocumentStatus::Ingested))
        .exec(&scope.on(db))
        .await?;
    if moved.rows_affected != 1 {
        return Ok(None);
    }
    let message = Message::SummarizeDocument { account_id: scope.account_id(), document_id, job_id };
    enqueue(db, &message).await?;
    Ok(Some(job_id))
}

/// Handles a `SummarizeDocument` message: writes the summary if the
/// document still waits for this job; `Ok` also when it does not.
pub async fn run(p: &Pipeline, account_id: Uuid, document_id: Uuid, job_id: Uuid) -> anyhow::Result<()> {
    let scope = AccountScope::new(account_id);
    let Some(found) = waiting(p, scope, document_id, job_id).await? else { return Ok(()) };
    let text = text_of(p, scope, document_id).await?;
    let outcome = summarize_with_model(p, &found, &text).await;
    let (summary, model) = match outcome {
        Ok(Some(written)) => written,
        Ok(None) => (extract_off_runtime(text).await?, EXTRACTIVE.to_owned()),
        Err(LlmError::Invalid(why)) => {
            tracing::warn!(%document_id, %why, "model summary refused; the document's own sentences instead");
            (extract_off_runtime(text).await?, EXTRACTIVE.to_owned())
        }
        Err(unavailable) => {
            let e = anyhow::Error::new(unavailable);
            return Err(e.context("the summary model is unavailable; the delivery is retried"));
        }
    };
    write(p, scope, &found, job_id, summary, model).await
}

/// The document, if it is `INGESTED` and waits for `job_id`.
async fn waiting(
    p: &Pipeline,
    scope: AccountScope,
    document_id: Uuid,
    job_id: Uuid,
) -> anyhow::Result<Option<document::Model>> {
    let found =
        scope.find::<document::Entity>().filter(document::Column::Id.eq(document_id)).one(&scope.on(&p.db)).await?;
    Ok(found.filter(|d| d.summary_job_id == Some(job_id) && d.status == DocumentStatus::Ingested))
}

/// The model's summary and its id; `Ok(None)` without a model that writes
/// summaries, or without text to give it.
async fn summarize_with_model(
    p: &Pipeline,
    found: &document::Model,
    text: &str,
) -> Result<Option<(String, String)>, LlmError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let cut = text.char_indices().nth(MAX_MODEL_INPUT_CHARS).map(|(at, _)| at);
    let excerpt = cut.map_or(text, |at| &text[..at]);
    let document = DocumentText { filename: &found.filename, text: excerpt, truncated: cut.is_some() };
    Ok(p.llm.summarize(&document).await?.map(|written| (written.text, written.model)))
}

async fn extract_off_runtime(text: String) -> anyhow::Result<String> {
    // Linear, but a long document is still CPU work: off the runtime.
    Ok(tokio::task::spawn_blocking(move || extractive(&text)).await?)
}

/// Writes the summary if the document still waits for `job_id`, clearing
/// it; publishes the document (its `updated_at` moved, so `documentUpdates`
/// yields it).
async fn write(
    p: &Pipeline,
    scope: AccountScope,
    found: &document::Model,
    job_id: Uuid,
    summary: String,
    model: String,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let written = scope
        .update_many::<document::Entity>()
        .col_expr(document::Column::Summary, Expr::value(Some(summary.clone())))
        .col_expr(document::Column::SummaryModel, Expr::value(Some(model.clone())))
        .col_expr(document::Column::SummarizedAt, Expr::value(Some(now)))
        .col_expr(document::Column::SummaryJobId, Expr::value(Option::<Uuid>::None))
        .col_expr(document::Column::UpdatedAt, Expr::value(now))
        .filter(document::Column::Id.eq(found.id))
        .filter(document::Column::SummaryJobId.eq(job_id))
        .exec(&scope.on(&p.db))
        .await?;
    if written.rows_affected == 1 {
        let summarized = document::Model {
            summary: Some(summary),
            summary_model: Some(model),
            summarized_at: Some(now),
            summary_job_id: None,
            updated_at: now,
            ..found.clone()
        };
        publish(p, &summarized).await;
    }
    Ok(())
}

/// The document's text as its chunks hold it: in reading order, each
/// overlap once, pages a blank line apart.
async fn text_of(p: &Pipeline, scope: AccountScope, document_id: Uuid) -> Result<String, DbErr> {
    let chunks = scope
        .find::<document_chunk::Entity>()
        .filter(document_chunk::Column::DocumentId.eq(document_id))
        .order_by_asc(document_chunk::Column::Ordinal)
        .all(&scope.on(&p.db))
        .await?;
    Ok(joined(&chunks))
}

/// Chunks (in reading order) back into text: a chunk overlapping the one
/// before it on its page adds only what comes after; one after a gap
/// (whitespace the chunker left out) starts a new line.
fn joined(chunks: &[document_chunk::Model]) -> String {
    let mut text = String::new();
    let mut reached: Option<(Option<i32>, usize)> = None;
    for chunk in chunks {
        let (start, end) = (offset(chunk.char_start), offset(chunk.char_end));
        let skip = match reached {
            Some((page, at)) if page == chunk.page => {
                if end <= at {
                    continue;
                }
                if start > at {
                    text.push('\n');
                }
                at.saturating_sub(start)
            }
            Some(_) => {
                text.push_str("\n\n");
                0
            }
            None => 0,
        };
        text.extend(chunk.text.chars().skip(skip));
        reached = Some((chunk.page, end));
    }
    text
}

fn offset(n: i32) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// A message that kept failing (the model stayed unavailable): the
/// document gets its extractive summary.
pub async fn give_up(p: &Pipeline, account_id: Uuid, document_id: Uuid, job_id: Uuid) -> anyhow::Result<()> {
    let scope = AccountScope::new(account_id);
    let Some(found) = waiting(p, scope, document_id, job_id).await? else { return Ok(()) };
    tracing::error!(%document_id, deliveries = p.config.max_deliveries, "summary dead-lettered; extractive instead");
    let text = text_of(p, scope, document_id).await?;
    let summary = extract_off_runtime(text).await?;
    write(p, scope, &found, job_id, summary, EXTRACTIVE.to_owned()).await
}

/// Re-queues the job of every ingested document still waiting for its
/// summary (the embedded queue forgets its messages on restart; a job that
/// already ran finds its id gone and does nothing).
pub async fn resume_unfinished(p: &Pipeline) -> anyhow::Result<usize> {
    // The worker acts across accounts here, as ingestion's resume does;
    // each message carries its document's account.
    let waiting = document::Entity::find()
        .filter(document::Column::SummaryJobId.is_not_null())
        .filter(document::Column::Status.eq(DocumentStatus::Ingested))
        .all(&p.db)
        .await?;
    let messages: Vec<Message> =
        waiting.iter().filter_map(|d| d.summary_job_id.map(|job_id| message(d, job_id))).collect();
    if messages.is_empty() {
        return Ok(0);
    }
    let tx = begin_write(&p.db).await?;
    enqueue_all(&tx, &messages).await?;
    tx.commit().await?;
    p.outbox.notify_one();
    Ok(messages.len())
}

/// Most characters of a document the extractive summary reads (its
/// beginning): bounds the memory and time of a summary of a huge file.
pub const MAX_EXTRACTIVE_CHARS: usize = 1_000_000;

/// Fewest terms a sentence needs to be picked: a heading or a fragment
/// says too little on its own (it still counts as context for the others).
const MIN_PICKED_TERMS: usize = 3;

/// The document's most central sentences, verbatim and in document order:
/// those most like the rest of it, by the average cosine of their terms
/// (`sentences::terms`: stop words out, plurals folded) with every other
/// sentence's. A quarter of the candidates, three to five (all of them
/// when there are three or fewer); the earlier of two equal ones. Empty
/// when the text holds no sentence.
pub fn extractive(text: &str) -> String {
    let text = text.char_indices().nth(MAX_EXTRACTIVE_CHARS).map_or(text, |(at, _)| &text[..at]);
    let sentences = split(text);
    let held: Vec<Vec<String>> = sentences.iter().map(|s| terms(s.text)).collect();
    let picked = central(&held, MIN_PICKED_TERMS);
    picked.iter().map(|&i| sentences[i].text).collect::<Vec<_>>().join(" ")
}

/// Indices (ascending) of the sentences to keep, given each sentence's
/// distinct terms. Average cosine similarity of binary term vectors,
/// `(1 / (n - 1)) Σ_j |Tᵢ ∩ Tⱼ| / √(|Tᵢ| |Tⱼ|)`, in one pass over the
/// terms: each term's weight is `Σ 1/√|Tⱼ|` over the sentences holding it.
fn central(terms: &[Vec<String>], min_terms: usize) -> Vec<usize> {
    let norm = |t: &Vec<String>| if t.is_empty() { 0.0 } else { 1.0 / (t.len() as f64).sqrt() };
    let mut weight: HashMap<&str, f64> = HashMap::new();
    for sentence in terms {
        for term in sentence {
            *weight.entry(term.as_str()).or_default() += norm(sentence);
        }
    }
    let others = terms.len().saturating_sub(1).max(1) as f64;
    let mut scored: Vec<(usize, f64)> = terms
        .iter()
        .enumerate()
        .filter(|(_, t)| t.len() >= min_terms)
        .map(|(i, t)| {
            let own = norm(t);
            let shared: f64 = t.iter().map(|term| weight.get(term.as_str()).copied().unwrap_or(0.0) - own).sum();
            (i, shared * own / others)
        })
        .collect();
    let keep = if scored.len() <= 3 { scored.len() } else { (scored.len() / 4).clamp(3, 5) };
    // Best first, the earlier of equals; then back into document order.
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut picked: Vec<usize> = scored.into_iter().take(keep).map(|(i, _)| i).collect();
    picked.sort_unstable();
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETURNS: &str = "Returns policy\n\nYou can return any item within thirty days of delivery for a full \
        refund. Refunds are paid to the original payment method within five days of the return arriving. Items \
        must be returned unworn, in the original packaging. Sale items can be returned within fourteen days for \
        a refund as store credit. Our office cat is called Biscuit. Exchanges for another size are free once \
        per order. Damaged items are refunded in full, including the delivery cost.";

    #[test]
    fn the_summary_is_the_documents_most_central_sentences_in_order() {
        let summary = extractive(RETURNS);
        let sentences: Vec<&str> = split(&summary).into_iter().map(|s| s.text).collect();
        assert_eq!(sentences.len(), 3, "{summary}");
        let mut last = 0;
        for sentence in &sentences {
            let at = RETURNS.find(sentence).unwrap_or_else(|| panic!("not in the document: {sentence}"));
            assert!(at >= last, "out of order: {summary}");
            last = at;
        }
        assert!(!summary.contains("Biscuit"), "{summary}");
        assert!(!summary.contains("Returns policy"), "a heading alone is no summary: {summary}");
        assert_eq!(extractive(RETURNS), summary, "deterministic");
    }

    #[test]
    fn short_and_empty_texts() {
        assert_eq!(extractive(""), "");
        assert_eq!(extractive("  \n\n ... "), "");
        let two = "Exchanges are free once per order. Sizes can be swapped by mail.";
        assert_eq!(extractive(two), two);
        assert_eq!(extractive("Hi. Thanks."), "", "nothing says enough to be picked");
    }

    #[test]
    fn more_sentences_keep_a_quarter_up_to_five() {
        let many: Vec<String> = (0..40).map(|i| format!("Parcel number {i} ships within days by courier.")).collect();
        let summary = extractive(&many.join(" "));
        assert_eq!(split(&summary).len(), 5, "{summary}");
        assert!(summary.starts_with("Parcel number 0 ships"), "equals keep the earliest: {summary}");
    }

    fn chunk(ordinal: i32, page: Option<i32>, start: i32, text: &str) -> document_chunk::Model {
        let end = start + i32::try_from(text.chars().count()).unwrap_or(0);
        document_chunk::Model {
            id: Uuid::now_v7(),
            account_id: Uuid::nil(),
            document_id: Uuid::nil(),
            collection_id: Uuid::nil(),
            ordinal,
            text: text.to_owned(),
            page,
            char_start: start,
            char_end: end,
            token_count: 1,
        }
    }

    #[test]
    fn chunks_join_back_with_each_overlap_once() {
        let page = "Returns within thirty days. Refunds in five days. Exchanges once.";
        let chunks = [
            chunk(0, Some(1), 0, &page[..49]),
            chunk(1, Some(1), 28, &page[28..]),
            chunk(2, Some(2), 0, "Page two."),
            chunk(3, Some(2), 12, "After a gap."),
        ];
        assert_eq!(joined(&chunks), format!("{page}\n\nPage two.\nAfter a gap."));
    }
}
