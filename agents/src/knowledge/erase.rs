//! Privacy erasure in the merchant's documents, for Shopify's compliance
//! webhooks (`schema`'s `webhooks`, which verifies the shop and derives the
//! account first).
//!
//! - [`erase_customer`] (`customers/redact`): every chunk of the account's
//!   documents that names the customer, by email (case aside, whole
//!   addresses only) or phone (by its digits, whatever the punctuation),
//!   goes: the chunk row, its vector and, with the row, its full-text entry
//!   (PostgreSQL's generated `tsvector` is a column of the row; SQLite's
//!   FTS5 index is kept by the chunks' delete trigger). So does every chunk
//!   that overlaps one of those mentions in the page's text (a neighbour
//!   cut through the middle of an address holds part of it). A document
//!   that lost chunks also loses its original file (the upload holds the
//!   same text) and its summary (re-written from what is left); its row
//!   stays, marked with `redacted_at` and a note, so the merchant sees what
//!   happened and why the document can no longer be read again.
//!   The same request redacts the customer's mentions, by the same rules,
//!   from the account's chats and the store's analyses (`mentions`: each
//!   replaced by `[redacted]` where it stands, the rows kept) and stops
//!   any answer still being written from what was erased.
//! - [`erase_collections`] (`shop/redact`): the account's collections with
//!   all their documents, files, chunks and vectors.
//!
//! Everything runs on the caller's connection (the webhook's transaction)
//! through the [`AccountScope`]. A document still being extracted when the
//! request comes has no chunks to look at yet: the erasure cannot see it.

mod mentions;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use alatar_entity::{
    AccountScope, DocumentStatus, ScopeSession, chunk_embedding, collection, document, document_chunk, document_file,
};

use crate::pipeline::Message;
use crate::pipeline::journal::enqueue_all;

use mentions::{redact_analyses, redact_chats, stop_answers};

pub use mentions::{REDACTED, STOPPED_BY_ERASURE};

/// Fewest digits a phone number needs to be looked for: shorter ones
/// (extensions, order numbers, years) would erase unrelated text.
pub const MIN_PHONE_DIGITS: usize = 7;

/// How many of a phone number's last digits are looked for: about the
/// national number without its country code, so `+1 555 010 2345`,
/// `(555) 010-2345` and `001-555-010-2345` all name the same phone.
const PHONE_KEY_DIGITS: usize = 9;

/// Chunks read, and ids bound, per statement.
const PAGE: u64 = 500;

/// What names a customer in a text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerMarks {
    /// The email address, lower-cased.
    email: Option<Vec<char>>,
    /// The phone number's last digits.
    phone: Option<String>,
}

impl CustomerMarks {
    /// From the webhook's `customer.email` and `customer.phone`; an email
    /// without a local part and a domain, or a phone of fewer than
    /// [`MIN_PHONE_DIGITS`] digits, is not looked for.
    pub fn new(email: Option<&str>, phone: Option<&str>) -> Self {
        let email = email.map(str::trim).filter(|e| {
            let (local, domain) = e.split_once('@').unwrap_or_default();
            !local.is_empty() && !domain.is_empty() && !e.chars().any(char::is_whitespace)
        });
        let phone: Option<String> = phone.map(|p| p.chars().filter(char::is_ascii_digit).collect());
        let phone = phone.filter(|digits| digits.len() >= MIN_PHONE_DIGITS).map(|digits| {
            let skip = digits.len().saturating_sub(PHONE_KEY_DIGITS);
            digits[skip..].to_owned()
        });
        Self { email: email.map(|e| e.chars().flat_map(char::to_lowercase).collect()), phone }
    }

    /// Nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.phone.is_none()
    }

    /// An email address is looked for.
    pub fn has_email(&self) -> bool {
        self.email.is_some()
    }

    /// A phone number is looked for.
    pub fn has_phone(&self) -> bool {
        self.phone.is_some()
    }

    /// Where `text` names the customer, in characters (Unicode scalar values).
    pub fn find_in(&self, text: &str) -> Vec<Range<usize>> {
        let chars: Vec<char> = text.chars().collect();
        let mut found = Vec::new();
        if let Some(email) = &self.email {
            found.extend(email_mentions(&chars, email));
        }
        if let Some(key) = &self.phone {
            let runs = phone_runs(&chars).into_iter();
            found.extend(runs.filter(|(digits, _)| digits.contains(key.as_str())).map(|(_, range)| range));
        }
        found.sort_by_key(|r| (r.start, r.end));
        found
    }

    /// Whether `text` names the customer.
    pub fn named_in(&self, text: &str) -> bool {
        !self.find_in(text).is_empty()
    }
}

fn same_letter(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

/// Characters that continue an address's local part leftwards.
fn local_char(c: char) -> bool {
    c.is_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c)
}

/// Whole-address occurrences of `email` (lower-cased) in `chars`: not
/// inside a longer local part (`jimbob@…` for `bob@…`) nor a longer
/// domain (`…@example.com.au` for `…@example.com`).
fn email_mentions(chars: &[char], email: &[char]) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    if email.is_empty() || chars.len() < email.len() {
        return found;
    }
    for start in 0..=chars.len() - email.len() {
        let end = start + email.len();
        if !chars[start..end].iter().zip(email).all(|(&a, &b)| same_letter(a, b)) {
            continue;
        }
        let before = start.checked_sub(1).map(|i| chars[i]);
        let after = chars.get(end).copied();
        let longer_domain = match after {
            Some('.') => chars.get(end + 1).is_some_and(|c| c.is_alphanumeric()),
            Some(c) => c.is_alphanumeric() || c == '-' || c == '_',
            None => false,
        };
        if !before.is_some_and(local_char) && !longer_domain {
            found.push(start..end);
        }
    }
    found
}

/// What may stand between a phone number's digits.
fn phone_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' | '\u{202f}' | '\u{2010}' | '\u{2011}' | '\u{2013}')
}

/// Runs of digits with at most three separators between any two (`+1
/// (555) 010-2345`), each as its digits and its range from the first digit
/// to the last.
fn phone_runs(chars: &[char]) -> Vec<(String, Range<usize>)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let (start, mut end, mut digits) = (i, i, String::new());
        let mut j = i;
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                digits.push(chars[j]);
                end = j + 1;
                j += 1;
                continue;
            }
            let gap = chars[j..].iter().take_while(|&&c| phone_separator(c)).count();
            if gap == 0 || gap > 3 || !chars.get(j + gap).is_some_and(char::is_ascii_digit) {
                break;
            }
            j += gap;
        }
        runs.push((digits, start..end));
        i = end.max(i + 1);
    }
    runs
}

/// What [`erase_customer`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CustomerErasure {
    /// Chunks deleted (with their full-text entries).
    pub chunks: u64,
    /// Their vectors.
    pub vectors: u64,
    /// Documents that lost chunks or a summary naming the customer.
    pub documents: u64,
    /// Original files deleted.
    pub files: u64,
    /// Summaries dropped (to be written again from what is left).
    pub summaries: u64,
    /// Chat messages whose text, error or citations named the customer.
    pub chat_messages: u64,
    /// Chat sessions whose title named the customer.
    pub chat_titles: u64,
    /// Answers being written, stopped (they could quote what went).
    pub chat_answers_stopped: u64,
    /// The store's analysis requests whose question, plan or failure
    /// reason named the customer.
    pub analyses: u64,
    /// Their results whose summary or body did.
    pub analysis_results: u64,
    /// Their tasks, tool calls and events that did.
    pub analysis_records: u64,
}

/// A chunk's place: its document, page and range in the page's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    document_id: Uuid,
    page: Option<i32>,
    start: usize,
    end: usize,
}

/// Erases every chunk of the account that names the customer and redacts
/// them from its chats and from the analyses of `store_id` (the store whose
/// customer they are; see the module's documentation); queues the
/// summaries to write again on `db`, committed with the caller's
/// transaction.
pub async fn erase_customer<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    store_id: Uuid,
    customer: &CustomerMarks,
) -> Result<CustomerErasure, DbErr> {
    if customer.is_empty() {
        return Ok(CustomerErasure::default());
    }
    let (mut doomed, mentions) = chunks_naming(db, scope, customer).await?;
    doomed.extend(overlapping(db, scope, &mentions).await?);
    let touched: BTreeSet<Uuid> = mentions.iter().map(|m| m.document_id).collect();
    let doomed: Vec<Uuid> = doomed.into_iter().collect();
    let mut erased = CustomerErasure::default();
    for ids in doomed.chunks(PAGE as usize) {
        let vectors = || chunk_embedding::Column::ChunkId.is_in(ids.iter().copied());
        erased.vectors += scope.find::<chunk_embedding::Entity>().filter(vectors()).count(&scope.on(db)).await?;
        // The chunks first, as a deletion of a document takes them: their
        // vectors go by the foreign key's cascade (and the explicit delete
        // after it, which then finds nothing), and an ingestion storing a
        // vector meanwhile waits on the chunk instead of locking the other
        // way round.
        erased.chunks += scope
            .delete_many::<document_chunk::Entity>()
            .filter(document_chunk::Column::Id.is_in(ids.iter().copied()))
            .exec(&scope.on(db))
            .await?
            .rows_affected;
        scope.delete_many::<chunk_embedding::Entity>().filter(vectors()).exec(&scope.on(db)).await?;
    }
    let touched: Vec<Uuid> = touched.into_iter().collect();
    for ids in touched.chunks(PAGE as usize) {
        erased.files += scope
            .delete_many::<document_file::Entity>()
            .filter(document_file::Column::DocumentId.is_in(ids.iter().copied()))
            .exec(&scope.on(db))
            .await?
            .rows_affected;
    }
    // Documents whose summary names the customer, though no chunk does any
    // more (a summary written before an earlier erasure, a model's words).
    let summarized: Vec<document::Model> =
        scope.find::<document::Entity>().filter(document::Column::Summary.is_not_null()).all(&scope.on(db)).await?;
    let mut redo: BTreeSet<Uuid> = touched.iter().copied().collect();
    redo.extend(summarized.iter().filter(|d| d.summary.as_deref().is_some_and(|s| customer.named_in(s))).map(|d| d.id));
    let mut messages = Vec::new();
    for id in redo {
        let lost_chunks = touched.binary_search(&id).is_ok();
        let (summary, message) = redact_document(db, scope, id, lost_chunks).await?;
        erased.documents += 1;
        erased.summaries += u64::from(summary);
        messages.extend(message);
    }
    enqueue_all(db, &messages).await?;
    let chats = redact_chats(db, scope, customer).await?;
    erased.chat_messages = chats.messages;
    erased.chat_titles = chats.titles;
    // An answer being written read its passages and history before this
    // transaction and is stored after it: one drawing on what just went
    // could name the customer again.
    if erased.chunks > 0 || erased.summaries > 0 || chats.messages > 0 || chats.titles > 0 {
        erased.chat_answers_stopped = stop_answers(db, scope).await?;
    }
    let analyses = redact_analyses(db, scope, store_id, customer).await?;
    erased.analyses = analyses.requests;
    erased.analysis_results = analyses.results;
    erased.analysis_records = analyses.records;
    if erased != CustomerErasure::default() {
        tracing::info!(
            account_id = %scope.account_id(),
            chunks = erased.chunks,
            vectors = erased.vectors,
            documents = erased.documents,
            files = erased.files,
            summaries = erased.summaries,
            chat_messages = erased.chat_messages,
            chat_titles = erased.chat_titles,
            chat_answers_stopped = erased.chat_answers_stopped,
            analyses = erased.analyses,
            analysis_results = erased.analysis_results,
            analysis_records = erased.analysis_records,
            "customer erased from documents, chats and analyses"
        );
    }
    Ok(erased)
}

/// The account's chunks that name the customer, and each mention's place.
async fn chunks_naming<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    customer: &CustomerMarks,
) -> Result<(BTreeSet<Uuid>, Vec<Place>), DbErr> {
    let (mut doomed, mut mentions) = (BTreeSet::new(), Vec::new());
    let mut after = Uuid::nil();
    loop {
        // Whole rows of one page of chunks at a time, in id order: the text
        // is needed, and an account's chunks need not fit in memory.
        let page = scope
            .find::<document_chunk::Entity>()
            .filter(document_chunk::Column::Id.gt(after))
            .order_by_asc(document_chunk::Column::Id)
            .limit(PAGE)
            .all(&scope.on(db))
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for chunk in &page {
            let found = customer.find_in(&chunk.text);
            if found.is_empty() {
                continue;
            }
            doomed.insert(chunk.id);
            let offset = usize::try_from(chunk.char_start).unwrap_or(0);
            mentions.extend(found.into_iter().map(|r| Place {
                document_id: chunk.document_id,
                page: chunk.page,
                start: offset + r.start,
                end: offset + r.end,
            }));
        }
    }
    Ok((doomed, mentions))
}

/// The chunks of the mentions' documents whose range in the page overlaps
/// a mention: neighbours holding part of an address cut at their edge.
async fn overlapping<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    mentions: &[Place],
) -> Result<BTreeSet<Uuid>, DbErr> {
    let mut by_document: BTreeMap<Uuid, Vec<Place>> = BTreeMap::new();
    for mention in mentions {
        by_document.entry(mention.document_id).or_default().push(*mention);
    }
    let mut found = BTreeSet::new();
    for (document_id, mentions) in by_document {
        let chunks: Vec<(Uuid, Option<i32>, i32, i32)> = scope
            .find::<document_chunk::Entity>()
            .select_only()
            .column(document_chunk::Column::Id)
            .column(document_chunk::Column::Page)
            .column(document_chunk::Column::CharStart)
            .column(document_chunk::Column::CharEnd)
            .filter(document_chunk::Column::DocumentId.eq(document_id))
            .into_tuple()
            .all(&scope.on(db))
            .await?;
        for (id, page, start, end) in chunks {
            let (start, end) = (usize::try_from(start).unwrap_or(0), usize::try_from(end).unwrap_or(0));
            if mentions.iter().any(|m| m.page == page && m.start < end && start < m.end) {
                found.insert(id);
            }
        }
    }
    Ok(found)
}

/// Marks a document the erasure changed: its chunk count as it now is,
/// when and what was removed, its summary dropped and (when it is
/// `INGESTED`) queued to be written again from what is left. Whether it
/// had a summary, and the job's message.
async fn redact_document<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    id: Uuid,
    lost_chunks: bool,
) -> Result<(bool, Option<Message>), DbErr> {
    let Some(found) = scope.find::<document::Entity>().filter(document::Column::Id.eq(id)).one(&scope.on(db)).await?
    else {
        return Ok((false, None));
    };
    let remaining = scope
        .find::<document_chunk::Entity>()
        .filter(document_chunk::Column::DocumentId.eq(id))
        .count(&scope.on(db))
        .await?;
    let note = if lost_chunks {
        "Passages naming a customer were erased at the shop's request (Shopify customers/redact): they are gone \
         from its chunks, search and summary, and the original file was deleted, so it cannot be read again. \
         Upload a copy without them to replace it."
    } else {
        "Its summary named a customer and was erased at the shop's request (Shopify customers/redact)."
    };
    let job = (found.status == DocumentStatus::Ingested).then(Uuid::now_v7);
    let now = Utc::now();
    let mut update = scope
        .update_many::<document::Entity>()
        .col_expr(document::Column::Summary, Expr::value(Option::<String>::None))
        .col_expr(document::Column::SummaryModel, Expr::value(Option::<String>::None))
        .col_expr(document::Column::SummarizedAt, Expr::value(Option::<chrono::DateTime<Utc>>::None))
        .col_expr(document::Column::SummaryJobId, Expr::value(job))
        .col_expr(document::Column::RedactedAt, Expr::value(Some(now)))
        .col_expr(document::Column::RedactionNote, Expr::value(Some(note.to_owned())))
        .col_expr(document::Column::UpdatedAt, Expr::value(now));
    if lost_chunks {
        let remaining = i32::try_from(remaining).unwrap_or(i32::MAX);
        update = update.col_expr(document::Column::ChunkCount, Expr::value(Some(remaining)));
    }
    update.filter(document::Column::Id.eq(id)).exec(&scope.on(db)).await?;
    let message =
        job.map(|job_id| Message::SummarizeDocument { account_id: found.account_id, document_id: id, job_id });
    Ok((found.summary.is_some(), message))
}

/// What [`erase_collections`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectionsErasure {
    /// Collections deleted.
    pub collections: u64,
    /// Their documents.
    pub documents: u64,
    /// The documents' chunks (with their full-text entries).
    pub chunks: u64,
    /// The chunks' vectors.
    pub vectors: u64,
}

/// Deletes the account's collections with their documents, files, chunks
/// and vectors: chunks first (their vectors cascade, as above), each kind
/// explicitly too (the counts, and no reliance on the cascades).
pub async fn erase_collections<C: ScopeSession>(db: &C, scope: AccountScope) -> Result<CollectionsErasure, DbErr> {
    let vectors = scope.find::<chunk_embedding::Entity>().count(&scope.on(db)).await?;
    let chunks = scope.delete_many::<document_chunk::Entity>().exec(&scope.on(db)).await?.rows_affected;
    scope.delete_many::<chunk_embedding::Entity>().exec(&scope.on(db)).await?;
    scope.delete_many::<document_file::Entity>().exec(&scope.on(db)).await?;
    let documents = scope.delete_many::<document::Entity>().exec(&scope.on(db)).await?.rows_affected;
    let collections = scope.delete_many::<collection::Entity>().exec(&scope.on(db)).await?.rows_affected;
    Ok(CollectionsErasure { collections, documents, chunks, vectors })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(email: Option<&str>, phone: Option<&str>) -> CustomerMarks {
        CustomerMarks::new(email, phone)
    }

    #[test]
    fn emails_match_whole_addresses_case_aside() {
        let jane = marks(Some(" Jane.Doe@Example.com "), None);
        assert!(jane.named_in("Write to JANE.DOE@EXAMPLE.COM today."));
        assert!(jane.named_in("<jane.doe@example.com>"));
        assert!(jane.named_in("jane.doe@example.com."), "a sentence's full stop ends it");
        assert!(!jane.named_in("mary.jane.doe@example.com"));
        assert!(!jane.named_in("jane.doe@example.com.au"));
        assert!(!jane.named_in("jane.doe@example.community"));
        assert!(!jane.named_in("jane doe at example dot com"));
        let found = jane.find_in("Ünïcode first: jane.doe@example.com");
        assert_eq!(found, vec![15..35]);
        assert!(marks(Some("not-an-address"), None).is_empty());
        assert!(marks(Some("@example.com"), None).is_empty());
    }

    #[test]
    fn phones_match_by_digits_whatever_the_punctuation() {
        let phone = marks(None, Some("+1 (555) 010-2345"));
        for written in ["+15550102345", "(555) 010-2345", "555.010.2345", "call 001 555 010 2345 now", "5550102345"] {
            assert!(phone.named_in(written), "{written}");
        }
        assert!(!phone.named_in("Order 2345, room 010"), "short numbers are other numbers");
        assert!(!phone.named_in("555 010 2346"));
        let french = marks(None, Some("+33 6 12 34 56 78"));
        assert!(french.named_in("Tél. 06 12 34 56 78"));
        assert_eq!(phone.find_in("Tel: (555) 010-2345!"), vec![6..19]);
    }

    #[test]
    fn short_phones_are_not_looked_for() {
        assert!(marks(None, Some("12-34")).is_empty());
        assert!(marks(None, Some("123456")).is_empty());
        assert!(!marks(None, Some("1234567")).is_empty());
        assert!(marks(None, None).is_empty());
    }

    #[test]
    fn runs_do_not_bridge_long_gaps() {
        let runs = phone_runs(&"555    0102345 and 12".chars().collect::<Vec<_>>());
        let digits: Vec<&str> = runs.iter().map(|(d, _)| d.as_str()).collect();
        assert_eq!(digits, ["555", "0102345", "12"]);
    }
}
