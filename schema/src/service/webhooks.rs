//! Shopify webhooks: verified over the raw body, processed once per
//! `X-Shopify-Webhook-Id`, each in one transaction with its dedup record
//! (a failure rolls both back, so Shopify's retry processes it again).
//!
//! Topics: `app/uninstalled` revokes the token; order, product and customer
//! topics drop cached data; the mandatory compliance topics produce a
//! customer's data (`customers/data_request`) or erase it
//! (`customers/redact`, `shop/redact`); the customer-level ones reach every
//! copy of the customer's rows in analyses (see `compliance`). A shop's
//! erasure also takes its accounts' datasets (rows in the transaction, their
//! tables' and uploads' files once it committed) and saved workflows.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect, SqlErr,
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::actions::{Actor, audit};
use alatar_agents::datasets::erase::{self as datasets_erase, erase_datasets};
use alatar_agents::knowledge::erase::{erase_collections, erase_customer};
use alatar_agents::shopify::cache::{self, key};
use alatar_agents::shopify::credentials::status;
use alatar_agents::shopify::{ShopDomain, gid_number, signature};
use alatar_agents::workflows::erase::erase_workflows;
use alatar_agents::write::begin_write;
use alatar_entity::{
    AccountScope, ScopeSession, agent_task, analysis_event, analysis_request, analysis_result, audit_entry,
    compliance_request, dashboard, oauth_state, proposed_action, repository_analysis, shopify_cache,
    shopify_credential, stock_bar, store, tool_call, webhook_delivery,
};

use super::dashboards::exports as dashboard_exports;
use super::shopify::ShopifyService;

mod compliance;

/// One delivery as received.
pub struct Delivery<'a> {
    /// `X-Shopify-Topic`.
    pub topic: &'a str,
    /// `X-Shopify-Shop-Domain`.
    pub shop: &'a str,
    /// `X-Shopify-Webhook-Id`.
    pub webhook_id: &'a str,
    /// `X-Shopify-Hmac-Sha256`.
    pub hmac: Option<&'a str>,
    /// The raw body, exactly as sent.
    pub body: &'a [u8],
}

/// What became of a delivery.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Missing or wrong HMAC: nothing changed (HTTP 401).
    Unauthorized,
    /// Malformed (no id, no shop, unreadable body): nothing changed (HTTP 400).
    Malformed(&'static str),
    /// Processed now.
    Processed,
    /// Seen before: nothing done again.
    Duplicate,
}

/// Verifies and processes one delivery.
pub async fn receive(db: &DatabaseConnection, svc: &ShopifyService, delivery: Delivery<'_>) -> Result<Outcome, DbErr> {
    let secret = svc.shopify.app.api_secret.expose_secret().as_bytes();
    if !delivery.hmac.is_some_and(|h| signature::verify_body(secret, delivery.body, h)) {
        // A security event, in the request's span (request id); the headers
        // are unsigned, so the shop is only what the sender claims.
        tracing::warn!(
            claimed_shop = delivery.shop,
            topic = delivery.topic,
            webhook_id = delivery.webhook_id,
            hmac_present = delivery.hmac.is_some(),
            "webhook refused: invalid HMAC"
        );
        return Ok(Outcome::Unauthorized);
    }
    if delivery.webhook_id.is_empty() || delivery.topic.is_empty() || delivery.shop.is_empty() {
        return Ok(Outcome::Malformed("X-Shopify-Webhook-Id, X-Shopify-Topic and X-Shopify-Shop-Domain are required"));
    }
    let Ok(payload) = serde_json::from_slice::<Value>(delivery.body) else {
        return Ok(Outcome::Malformed("the body is not JSON"));
    };
    if ShopDomain::parse(delivery.shop).is_err() {
        return Ok(Outcome::Malformed("X-Shopify-Shop-Domain is not a shop domain"));
    }
    // Headers are not signed, the body is: where the body names its shop,
    // it must be the header's (a signed body replayed for another shop is refused).
    let named = payload.get("shop_domain").or_else(|| payload.get("myshopify_domain")).and_then(Value::as_str);
    if named.is_some_and(|named| named != delivery.shop) {
        tracing::warn!(
            claimed_shop = delivery.shop,
            body_shop = named,
            topic = delivery.topic,
            webhook_id = delivery.webhook_id,
            "webhook refused: signed for another shop"
        );
        return Ok(Outcome::Unauthorized);
    }
    let tx = begin_write(db).await?;
    let recorded = webhook_delivery::Entity::insert(webhook_delivery::ActiveModel {
        webhook_id: Set(delivery.webhook_id.to_owned()),
        shop_domain: Set(delivery.shop.to_owned()),
        topic: Set(delivery.topic.to_owned()),
        received_at: Set(Utc::now()),
    })
    .exec_without_returning(&tx)
    .await;
    match recorded {
        Ok(_) => {}
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => return Ok(Outcome::Duplicate),
        Err(e) => return Err(e),
    }
    let erased = process(&tx, delivery.topic, delivery.shop, &payload).await?;
    tx.commit().await?;
    // Only now: a rolled-back erasure must keep the files its rows name.
    for dataset_id in erased.datasets {
        datasets_erase::remove_files(&svc.data_dir, dataset_id).await;
    }
    for account_id in erased.exports_of {
        if let Some(market) = &svc.market
            && let Err(e) = market.latest.erase(account_id).await
        {
            tracing::warn!(%account_id, error = %e, "could not erase an account's latest market indicators");
        }
        let dir = dashboard_exports::account_dir(&svc.data_dir, account_id);
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %dir.display(), error = %e, "could not remove an account's dashboard exports");
        }
    }
    tracing::info!(topic = delivery.topic, shop = delivery.shop, webhook_id = delivery.webhook_id, "webhook processed");
    Ok(Outcome::Processed)
}

/// What an erasure leaves to remove from disk once its transaction committed.
#[derive(Debug, Default)]
struct Erased {
    /// Datasets whose SQLite files and uploads go.
    datasets: Vec<Uuid>,
    /// Accounts whose exported dashboard files go, and whose latest
    /// market indicators.
    exports_of: Vec<Uuid>,
}

/// Processes a verified delivery inside `db` (its transaction); what it
/// erased whose files go once that committed.
async fn process<C: ScopeSession>(db: &C, topic: &str, shop: &str, payload: &Value) -> Result<Erased, DbErr> {
    if topic == "shop/redact" {
        return erase_shop(db, shop).await;
    }
    let Some((scope, credential)) = AccountScope::of_shop(db, shop).await? else {
        // Not (or no longer) linked: nothing of it is here.
        return Ok(Erased::default());
    };
    let store_id = credential.store_id;
    match topic {
        "app/uninstalled" => {
            scope
                .update_many::<shopify_credential::Entity>()
                .col_expr(shopify_credential::Column::Status, Expr::value(status::REVOKED))
                .col_expr(shopify_credential::Column::AccessToken, Expr::value(""))
                .col_expr(shopify_credential::Column::RefreshToken, Expr::value(Option::<String>::None))
                .col_expr(shopify_credential::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(shopify_credential::Column::StoreId.eq(store_id))
                .exec(&scope.on(db))
                .await?;
            scope
                .update_many::<store::Entity>()
                .col_expr(store::Column::DisconnectedAt, Expr::value(Utc::now()))
                .filter(store::Column::Id.eq(store_id))
                .exec(&scope.on(db))
                .await?;
            cache::invalidate(db, scope, store_id, &[]).await?;
            audit(
                db,
                scope.account_id(),
                Actor::Shopify,
                "APP_UNINSTALLED",
                None,
                Some(store_id),
                json!({ "shop": shop }),
            )
            .await?;
        }
        "customers/data_request" => {
            let customer = customer_id(payload);
            let export = compliance::export(db, scope, store_id, customer).await?;
            compliance_request::Entity::insert(compliance_request::ActiveModel {
                id: Set(Uuid::now_v7()),
                account_id: Set(scope.account_id()),
                store_id: Set(store_id),
                topic: Set(topic.to_owned()),
                customer_id: Set(customer.map(|c| c as i64)),
                export: Set(export),
                created_at: Set(Utc::now()),
            })
            .exec_without_returning(db)
            .await?;
        }
        "customers/redact" => {
            // Customer records live in the cache: drop all of it (orders embed
            // customer ids) and every export about them; per-customer rows
            // copied into analyses (task outputs, tool inputs, events, result
            // bodies, proposals, the audit records quoting them) are cut out
            // of them. Aggregates stay: they identify nobody. The account's
            // documents lose every chunk naming the customer's email or phone,
            // and its chats and the store's analyses every mention of them.
            cache::invalidate(db, scope, store_id, &[]).await?;
            let customer = customer_id(payload);
            let mut proposals = 0;
            if let Some(customer) = customer {
                proposals = compliance::erase(db, scope, store_id, customer).await?;
                scope
                    .delete_many::<compliance_request::Entity>()
                    .filter(compliance_request::Column::StoreId.eq(store_id))
                    .filter(compliance_request::Column::CustomerId.eq(customer as i64))
                    .exec(&scope.on(db))
                    .await?;
            }
            let marks = compliance::marks(payload);
            let documents = erase_customer(db, scope, store_id, &marks).await?;
            // Counts only: the record of what was done names nobody (the
            // proposals' count tells the merchant why a hash changed).
            let detail = compliance::redaction_record(proposals, &marks, &documents);
            compliance_request::Entity::insert(compliance_request::ActiveModel {
                id: Set(Uuid::now_v7()),
                account_id: Set(scope.account_id()),
                store_id: Set(store_id),
                topic: Set(topic.to_owned()),
                customer_id: Set(customer.map(|c| c as i64)),
                export: Set(detail.clone()),
                created_at: Set(Utc::now()),
            })
            .exec_without_returning(db)
            .await?;
            audit(db, scope.account_id(), Actor::Shopify, "CUSTOMER_REDACTED", None, Some(store_id), detail).await?;
        }
        t if t.starts_with("orders/") || t.starts_with("refunds/") => {
            cache::invalidate(db, scope, store_id, &[key::ORDERS]).await?;
        }
        t if t.starts_with("products/") || t.starts_with("inventory_levels/") || t.starts_with("inventory_items/") => {
            cache::invalidate(db, scope, store_id, &[key::PRODUCTS]).await?;
        }
        t if t.starts_with("customers/") => {
            cache::invalidate(db, scope, store_id, &[key::CUSTOMERS, key::ORDERS]).await?;
        }
        other => tracing::info!(topic = other, "webhook topic needs no action"),
    }
    Ok(Erased::default())
}

fn customer_id(payload: &Value) -> Option<u64> {
    let id = payload.pointer("/customer/id")?;
    id.as_u64().or_else(|| id.as_str().and_then(|s| s.parse().ok().or_else(|| gid_number(s))))
}

/// `shop/redact`: every row of the shop, in every account it was ever
/// linked to — analyses, tasks, tool calls, events, results, actions,
/// audit records, credentials, cache, compliance requests, nonces and the
/// webhook records themselves — and those accounts' document collections
/// (documents, files, chunks, vectors), datasets (rows, jobs, models,
/// PostgreSQL tables), dashboards (charts, share links, exports), saved
/// workflows, repository analyses (code graphs and their indexes) and
/// market data (minute bars, latest indicators), which are the account's,
/// not one store's. What has files
/// (datasets' SQLite files and uploads, exported dashboards) that go once
/// the transaction committed.
async fn erase_shop<C: ScopeSession>(db: &C, shop: &str) -> Result<Erased, DbErr> {
    // A system erasure across accounts, keyed by the verified shop domain.
    let stores: Vec<store::Model> = store::Entity::find().filter(store::Column::ShopDomain.eq(shop)).all(db).await?;
    let accounts: std::collections::BTreeSet<Uuid> = stores.iter().map(|s| s.account_id).collect();
    let mut datasets = Vec::new();
    let mut exports_of = Vec::new();
    for account_id in accounts {
        let scope = AccountScope::new(account_id);
        let erased = erase_collections(db, scope).await?;
        tracing::info!(
            shop,
            %account_id,
            collections = erased.collections,
            documents = erased.documents,
            chunks = erased.chunks,
            vectors = erased.vectors,
            "shop's document collections erased"
        );
        let erased = erase_datasets(db, scope).await?;
        tracing::info!(
            shop,
            %account_id,
            datasets = erased.datasets,
            jobs = erased.jobs,
            models = erased.models,
            "shop's datasets erased"
        );
        datasets.extend(erased.ids);
        // Their runs are the stores' analysis requests, erased below.
        let workflows = erase_workflows(db, scope).await?;
        tracing::info!(shop, %account_id, workflows, "shop's workflows erased");
        // Their charts, links and exports go with them (foreign keys).
        let dashboards = scope.delete_many::<dashboard::Entity>().exec(&scope.on(db)).await?.rows_affected;
        tracing::info!(shop, %account_id, dashboards, "shop's dashboards erased");
        // Repository analyses with their code graphs and indexes (foreign
        // keys; their jobs went with the datasets'), and the share prices'
        // minute bars; the latest indicators go once this commits.
        let repositories = scope.delete_many::<repository_analysis::Entity>().exec(&scope.on(db)).await?.rows_affected;
        let bars = scope.delete_many::<stock_bar::Entity>().exec(&scope.on(db)).await?.rows_affected;
        tracing::info!(shop, %account_id, repositories, bars, "shop's repository analyses and market history erased");
        exports_of.push(account_id);
    }
    for found in &stores {
        let scope = AccountScope::new(found.account_id);
        let requests: Vec<Uuid> = scope
            .find::<analysis_request::Entity>()
            .select_only()
            .column(analysis_request::Column::Id)
            .filter(analysis_request::Column::StoreId.eq(found.id))
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
        scope
            .delete_many::<audit_entry::Entity>()
            .filter(
                Condition::any()
                    .add(audit_entry::Column::StoreId.eq(found.id))
                    .add(audit_entry::Column::ActionId.is_in(actions)),
            )
            .exec(&scope.on(db))
            .await?;
        scope
            .delete_many::<proposed_action::Entity>()
            .filter(proposed_action::Column::RequestId.is_in(requests.clone()))
            .exec(&scope.on(db))
            .await?;
        scope
            .delete_many::<analysis_result::Entity>()
            .filter(analysis_result::Column::RequestId.is_in(requests.clone()))
            .exec(&scope.on(db))
            .await?;
        scope
            .delete_many::<analysis_event::Entity>()
            .filter(analysis_event::Column::RequestId.is_in(requests.clone()))
            .exec(&scope.on(db))
            .await?;
        scope
            .delete_many::<tool_call::Entity>()
            .filter(tool_call::Column::RequestId.is_in(requests.clone()))
            .exec(&scope.on(db))
            .await?;
        scope
            .delete_many::<agent_task::Entity>()
            .filter(agent_task::Column::RequestId.is_in(requests.clone()))
            .exec(&scope.on(db))
            .await?;
        scope
            .delete_many::<analysis_request::Entity>()
            .filter(analysis_request::Column::Id.is_in(requests))
            .exec(&scope.on(db))
            .await?;
        scope
            .delete_many::<shopify_cache::Entity>()
            .filter(shopify_cache::Column::StoreId.eq(found.id))
            .exec(&scope.on(db))
            .await?;
        scope
            .delete_many::<compliance_request::Entity>()
            .filter(compliance_request::Column::StoreId.eq(found.id))
            .exec(&scope.on(db))
            .await?;
        scope
            .delete_many::<shopify_credential::Entity>()
            .filter(shopify_credential::Column::StoreId.eq(found.id))
            .exec(&scope.on(db))
            .await?;
        scope.delete_many::<store::Entity>().filter(store::Column::Id.eq(found.id)).exec(&scope.on(db)).await?;
    }
    oauth_state::Entity::delete_many().filter(oauth_state::Column::ShopDomain.eq(shop)).exec(db).await?;
    webhook_delivery::Entity::delete_many().filter(webhook_delivery::Column::ShopDomain.eq(shop)).exec(db).await?;
    tracing::info!(shop, stores = stores.len(), "shop erased");
    Ok(Erased { datasets, exports_of })
}
