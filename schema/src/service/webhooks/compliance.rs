//! The customer-level compliance topics. `customers/data_request` exports,
//! and `customers/redact` cuts out, every copy of one customer's rows the
//! store's analyses hold: task outputs, tool-call inputs, event payloads,
//! result bodies, proposals' parameters and previews, and the audit records
//! that quote them; the export adds their record and orders from the cache.
//!
//! A customer's row is a JSON object whose `customer_id` (or `customerId`)
//! names them. Aggregates name nobody and stay.
//!
//! `customers/redact` also reaches the account's documents: the chunks that
//! name the customer's email or phone go with their vectors and full-text
//! entries, as do the matching documents' original files and summaries
//! (`alatar_agents::knowledge::erase`), and every mention of them in the
//! account's chats and the store's analyses' text is replaced by
//! `[redacted]`. The redaction is recorded as a compliance request holding
//! counts only ([`redaction_record`]).

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DbErr, QueryFilter, QuerySelect};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::knowledge::erase::{CustomerErasure, CustomerMarks};
use alatar_agents::shopify::cache::key;
use alatar_agents::shopify::gid_number;
use alatar_entity::{
    AccountScope, ScopeSession, agent_task, analysis_event, analysis_request, analysis_result, audit_entry,
    proposed_action, shopify_cache, tool_call,
};

/// The store's analyses by id, and the ids of the actions they proposed.
struct Analyses {
    requests: Vec<Uuid>,
    actions: Vec<Uuid>,
}

impl Analyses {
    async fn of<C: ScopeSession>(db: &C, scope: AccountScope, store_id: Uuid) -> Result<Self, DbErr> {
        let requests: Vec<Uuid> = scope
            .find::<analysis_request::Entity>()
            .select_only()
            .column(analysis_request::Column::Id)
            .filter(analysis_request::Column::StoreId.eq(store_id))
            .into_tuple()
            .all(&scope.on(db))
            .await?;
        let actions: Vec<Uuid> = scope
            .find::<proposed_action::Entity>()
            .select_only()
            .column(proposed_action::Column::Id)
            .filter(proposed_action::Column::RequestId.is_in(requests.clone()))
            .into_tuple()
            .all(&scope.on(db))
            .await?;
        Ok(Self { requests, actions })
    }

    /// The store's audit records: written for the store or for one of its actions.
    fn audit(&self, store_id: Uuid) -> Condition {
        Condition::any()
            .add(audit_entry::Column::StoreId.eq(store_id))
            .add(audit_entry::Column::ActionId.is_in(self.actions.clone()))
    }
}

/// Everything held about one customer: their record and orders from the
/// cache, and each of their rows copied into the store's analyses, with
/// where it was found.
pub(super) async fn export<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    store_id: Uuid,
    customer: Option<u64>,
) -> Result<Value, DbErr> {
    let Some(customer) = customer else {
        return Ok(json!({
            "customer": null, "orders": [], "analysisRows": [], "toolInputs": [], "events": [],
            "results": [], "proposals": [], "auditLog": [], "exportedAt": Utc::now()
        }));
    };
    let (record, orders) = cached(db, scope, store_id, customer).await?;
    let analyses = Analyses::of(db, scope, store_id).await?;

    let mut analysis_rows = Vec::new();
    for task in scope
        .find::<agent_task::Entity>()
        .filter(agent_task::Column::RequestId.is_in(analyses.requests.clone()))
        .all(&scope.on(db))
        .await?
    {
        let rows = task.output.as_ref().map(|o| rows_of(o, customer)).unwrap_or_default();
        if !rows.is_empty() {
            analysis_rows.push(json!({
                "requestId": task.request_id, "taskId": task.id, "department": task.department, "rows": rows
            }));
        }
    }
    let mut tool_inputs = Vec::new();
    for call in scope
        .find::<tool_call::Entity>()
        .filter(tool_call::Column::RequestId.is_in(analyses.requests.clone()))
        .all(&scope.on(db))
        .await?
    {
        let rows = rows_of(&call.input, customer);
        if !rows.is_empty() {
            tool_inputs.push(json!({
                "requestId": call.request_id, "toolCallId": call.id, "tool": call.tool, "rows": rows
            }));
        }
    }
    let mut events = Vec::new();
    for event in scope
        .find::<analysis_event::Entity>()
        .filter(analysis_event::Column::RequestId.is_in(analyses.requests.clone()))
        .all(&scope.on(db))
        .await?
    {
        let rows = rows_of(&event.payload, customer);
        if !rows.is_empty() {
            events.push(json!({
                "requestId": event.request_id, "sequence": event.sequence, "kind": event.kind, "rows": rows
            }));
        }
    }
    let mut results = Vec::new();
    for result in scope
        .find::<analysis_result::Entity>()
        .filter(analysis_result::Column::RequestId.is_in(analyses.requests.clone()))
        .all(&scope.on(db))
        .await?
    {
        let rows = rows_of(&result.body, customer);
        if !rows.is_empty() {
            results.push(json!({ "requestId": result.request_id, "rows": rows }));
        }
    }
    let mut proposals = Vec::new();
    for action in scope
        .find::<proposed_action::Entity>()
        .filter(proposed_action::Column::Id.is_in(analyses.actions.clone()))
        .all(&scope.on(db))
        .await?
    {
        let (parameters, preview) = (rows_of(&action.parameters, customer), rows_of(&action.preview, customer));
        if !parameters.is_empty() || !preview.is_empty() {
            proposals.push(json!({
                "actionId": action.id, "requestId": action.request_id, "kind": action.kind,
                "status": action.status.as_str(), "parameters": parameters, "preview": preview
            }));
        }
    }
    let mut audit_log = Vec::new();
    for entry in scope.find::<audit_entry::Entity>().filter(analyses.audit(store_id)).all(&scope.on(db)).await? {
        let rows = rows_of(&entry.detail, customer);
        if !rows.is_empty() {
            audit_log.push(json!({
                "auditId": entry.id, "event": entry.event, "actionId": entry.action_id,
                "at": entry.created_at, "rows": rows
            }));
        }
    }
    Ok(json!({
        "customerId": customer,
        "customer": record,
        "orders": orders,
        "analysisRows": analysis_rows,
        "toolInputs": tool_inputs,
        "events": events,
        "results": results,
        "proposals": proposals,
        "auditLog": audit_log,
        "exportedAt": Utc::now()
    }))
}

/// The customer's record and orders as the cache holds them.
async fn cached<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    store_id: Uuid,
    customer: u64,
) -> Result<(Value, Vec<Value>), DbErr> {
    let matches = |node: &Value, pointer: &str| {
        node.pointer(pointer).and_then(Value::as_str).and_then(gid_number) == Some(customer)
    };
    let entries = scope
        .find::<shopify_cache::Entity>()
        .filter(shopify_cache::Column::StoreId.eq(store_id))
        .all(&scope.on(db))
        .await?;
    let mut record = Value::Null;
    let mut orders = Vec::new();
    for entry in entries {
        let nodes = entry.body.as_array().cloned().unwrap_or_default();
        if entry.key == key::CUSTOMERS {
            if let Some(found) = nodes.into_iter().find(|n| matches(n, "/id")) {
                record = found;
            }
        } else if entry.key.starts_with(key::ORDERS) {
            orders.extend(nodes.into_iter().filter(|n| matches(n, "/customer/id")));
        }
    }
    Ok((record, orders))
}

/// Removes each of `customer`'s rows from every analysis of the store;
/// returns how many proposals changed.
pub(super) async fn erase<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    store_id: Uuid,
    customer: u64,
) -> Result<u64, DbErr> {
    let analyses = Analyses::of(db, scope, store_id).await?;
    for mut task in scope
        .find::<agent_task::Entity>()
        .filter(agent_task::Column::RequestId.is_in(analyses.requests.clone()))
        .all(&scope.on(db))
        .await?
    {
        if task.output.as_mut().is_some_and(|o| cut_customer(o, customer)) {
            scope
                .update_many::<agent_task::Entity>()
                .col_expr(agent_task::Column::Output, Expr::value(task.output))
                .filter(agent_task::Column::Id.eq(task.id))
                .exec(&scope.on(db))
                .await?;
        }
    }
    for mut call in scope
        .find::<tool_call::Entity>()
        .filter(tool_call::Column::RequestId.is_in(analyses.requests.clone()))
        .all(&scope.on(db))
        .await?
    {
        if cut_customer(&mut call.input, customer) {
            scope
                .update_many::<tool_call::Entity>()
                .col_expr(tool_call::Column::Input, Expr::value(call.input))
                .filter(tool_call::Column::Id.eq(call.id))
                .exec(&scope.on(db))
                .await?;
        }
    }
    for mut event in scope
        .find::<analysis_event::Entity>()
        .filter(analysis_event::Column::RequestId.is_in(analyses.requests.clone()))
        .all(&scope.on(db))
        .await?
    {
        if cut_customer(&mut event.payload, customer) {
            scope
                .update_many::<analysis_event::Entity>()
                .col_expr(analysis_event::Column::Payload, Expr::value(event.payload))
                .filter(analysis_event::Column::Id.eq(event.id))
                .exec(&scope.on(db))
                .await?;
        }
    }
    for mut result in scope
        .find::<analysis_result::Entity>()
        .filter(analysis_result::Column::RequestId.is_in(analyses.requests.clone()))
        .all(&scope.on(db))
        .await?
    {
        if cut_customer(&mut result.body, customer) {
            scope
                .update_many::<analysis_result::Entity>()
                .col_expr(analysis_result::Column::Body, Expr::value(result.body))
                .filter(analysis_result::Column::RequestId.eq(result.request_id))
                .exec(&scope.on(db))
                .await?;
        }
    }
    // Approval recomputes `parameters_hash` from the stored parameters, so a
    // proposal whose parameters lost a row no longer matches the hash its
    // approver saw: approving it takes a fresh review of what is left. An
    // action already approved runs `Change::from_proposal`, whose typed
    // parameters name no customer: the rows cut were fields it ignores, so it
    // still runs exactly the approved change (parameters that were the
    // customer's row as a whole become `{}` and fail validation instead).
    let mut proposals = 0;
    for mut action in scope
        .find::<proposed_action::Entity>()
        .filter(proposed_action::Column::Id.is_in(analyses.actions.clone()))
        .all(&scope.on(db))
        .await?
    {
        let parameters = cut_customer(&mut action.parameters, customer);
        let preview = cut_customer(&mut action.preview, customer);
        if parameters || preview {
            scope
                .update_many::<proposed_action::Entity>()
                .col_expr(proposed_action::Column::Parameters, Expr::value(action.parameters))
                .col_expr(proposed_action::Column::Preview, Expr::value(action.preview))
                .filter(proposed_action::Column::Id.eq(action.id))
                .exec(&scope.on(db))
                .await?;
            proposals += 1;
        }
    }
    // Audit records quote proposals' parameters (`PROPOSED`, `APPROVED`).
    for mut entry in scope.find::<audit_entry::Entity>().filter(analyses.audit(store_id)).all(&scope.on(db)).await? {
        if cut_customer(&mut entry.detail, customer) {
            scope
                .update_many::<audit_entry::Entity>()
                .col_expr(audit_entry::Column::Detail, Expr::value(entry.detail))
                .filter(audit_entry::Column::Id.eq(entry.id))
                .exec(&scope.on(db))
                .await?;
        }
    }
    Ok(proposals)
}

/// What names the customer in documents: `customer.email` and
/// `customer.phone` of a `customers/redact` payload.
pub(super) fn marks(payload: &Value) -> CustomerMarks {
    let field = |name: &str| payload.get("customer").and_then(|c| c.get(name)).and_then(Value::as_str);
    CustomerMarks::new(field("email"), field("phone"))
}

/// What a `customers/redact` erased, in counts, for the compliance record
/// and the audit log: it names nobody, not even by the email it looked for.
pub(super) fn redaction_record(proposals: u64, marks: &CustomerMarks, erased: &CustomerErasure) -> Value {
    json!({
        "proposalsChanged": proposals,
        "documents": {
            "searchedByEmail": marks.has_email(),
            "searchedByPhone": marks.has_phone(),
            "chunksErased": erased.chunks,
            "vectorsErased": erased.vectors,
            "documentsRedacted": erased.documents,
            "filesErased": erased.files,
            "summariesErased": erased.summaries,
        },
        "chats": {
            "messagesRedacted": erased.chat_messages,
            "titlesRedacted": erased.chat_titles,
            "answersStopped": erased.chat_answers_stopped,
        },
        "analyses": {
            "requestsRedacted": erased.analyses,
            "resultsRedacted": erased.analysis_results,
            "recordsRedacted": erased.analysis_records,
        },
        "erasedAt": Utc::now(),
    })
}

/// Whether `value` is `customer`'s row.
fn is_row(value: &Value, customer: u64) -> bool {
    value.get("customer_id").or_else(|| value.get("customerId")).is_some_and(|id| {
        id.as_u64() == Some(customer)
            || id.as_str().is_some_and(|s| s.parse::<u64>().ok().or_else(|| gid_number(s)) == Some(customer))
    })
}

/// Copies of `customer`'s rows in `value` (the outermost, each once).
fn rows_of(value: &Value, customer: u64) -> Vec<Value> {
    fn gather(value: &Value, customer: u64, rows: &mut Vec<Value>) {
        if is_row(value, customer) {
            rows.push(value.clone());
            return;
        }
        match value {
            Value::Array(items) => items.iter().for_each(|item| gather(item, customer, rows)),
            Value::Object(map) => map.values().for_each(|v| gather(v, customer, rows)),
            _ => {}
        }
    }
    let mut rows = Vec::new();
    gather(value, customer, &mut rows);
    rows
}

/// Drops `customer`'s rows from `value`: an array loses the element, an
/// object the member, and a value that is the row itself becomes `{}`;
/// `true` if anything changed.
fn cut_customer(value: &mut Value, customer: u64) -> bool {
    if is_row(value, customer) {
        *value = json!({});
        return true;
    }
    cut_within(value, customer)
}

fn cut_within(value: &mut Value, customer: u64) -> bool {
    match value {
        Value::Array(items) => {
            let before = items.len();
            items.retain(|item| !is_row(item, customer));
            let mut changed = items.len() != before;
            for item in items.iter_mut() {
                changed |= cut_within(item, customer);
            }
            changed
        }
        Value::Object(map) => {
            let before = map.len();
            map.retain(|_, v| !is_row(v, customer));
            let mut changed = map.len() != before;
            for v in map.values_mut() {
                changed |= cut_within(v, customer);
            }
            changed
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_found_and_cut_wherever_they_are() {
        let mut value = json!({
            "rows": [{ "customer_id": 501, "email": "a@x" }, { "customer_id": 502 }],
            "top": { "customerId": "501", "spend": 10 },
            "nested": [{ "inner": [{ "customer_id": "gid://shopify/Customer/501" }] }],
            "total": 3
        });
        assert_eq!(rows_of(&value, 501).len(), 3);
        assert!(cut_customer(&mut value, 501));
        assert_eq!(value, json!({ "rows": [{ "customer_id": 502 }], "nested": [{ "inner": [] }], "total": 3 }));
        assert!(!cut_customer(&mut value, 501));
        let mut whole = json!({ "customer_id": 501, "code": "X" });
        assert!(cut_customer(&mut whole, 501));
        assert_eq!(whole, json!({}));
    }
}
