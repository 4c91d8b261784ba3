//! Human-approved store changes. Agents only ever *propose* (a `PENDING`
//! row); the only code that writes to a store is [`execute`] and
//! [`revert`], reached solely from a recorded approval (or revert) by a
//! person. No tool, department or model output can call them.
//!
//! - [`Change`]: what a proposal does, re-validated from the stored
//!   parameters at every step (never trusted from the proposal's preview).
//! - [`StoreWriter`]: the port a store implements to apply changes; the
//!   Shopify Admin API implements it, the demo store refuses writes.
//! - [`parameters_hash`]: what the approver saw; approval must quote it.

mod executor;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use executor::{Actor, RevertError, approve, audit, execute, expire_due, fail_undeliverable, reject, revert};

use crate::store::StoreError;
use crate::tools::propose::{DiscountParameters, ProductUpdateParameters, validate_discount, validate_product};

/// A store change, as executed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Change {
    /// `discountCodeBasicCreate`.
    CreateDiscount(DiscountParameters),
    /// `productUpdate` (title and description).
    UpdateProduct(ProductUpdateParameters),
    /// `discountCodeDelete`: the inverse of a created discount.
    #[serde(rename_all = "camelCase")]
    DeleteDiscount {
        /// The discount's global id.
        discount_id: String,
        /// Its code, for the record.
        code: String,
    },
}

impl Change {
    /// The change a stored proposal describes, validated again.
    pub fn from_proposal(kind: &str, parameters: &Value) -> Result<Self, String> {
        let change = match kind {
            "CREATE_DISCOUNT" => Change::CreateDiscount(
                serde_json::from_value(parameters.clone()).map_err(|e| format!("bad discount parameters: {e}"))?,
            ),
            "UPDATE_PRODUCT" => Change::UpdateProduct(
                serde_json::from_value(parameters.clone()).map_err(|e| format!("bad product parameters: {e}"))?,
            ),
            other => return Err(format!("{other} cannot be executed")),
        };
        change.validate()?;
        Ok(change)
    }

    /// The rules of its kind.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Change::CreateDiscount(d) => validate_discount(d),
            Change::UpdateProduct(p) => validate_product(p),
            Change::DeleteDiscount { discount_id, .. } if discount_id.starts_with("gid://shopify/") => Ok(()),
            Change::DeleteDiscount { .. } => Err("discount id must be a Shopify global id".into()),
        }
    }

    /// Access scopes the store must have granted.
    pub fn required_scopes(&self) -> &'static [&'static str] {
        match self {
            Change::CreateDiscount(_) | Change::DeleteDiscount { .. } => &["write_discounts"],
            Change::UpdateProduct(_) => &["write_products"],
        }
    }
}

/// SHA-256 (hex) of the kind and the canonical JSON of the parameters: the
/// approver quotes it, so an approval only ever covers what was shown.
pub fn parameters_hash(kind: &str, parameters: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical(parameters).as_bytes());
    hex::encode(hasher.finalize())
}

/// JSON with object keys sorted at every level, independent of map order.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> =
                keys.into_iter().map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k]))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// What applying a change produced.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The store's answer, kept on the action and in the audit log.
    pub response: Value,
    /// The change that undoes it, when known only after applying (a new discount's id).
    pub inverse: Option<Change>,
}

/// Writes to a store. Implementations must make [`find_applied`](Self::find_applied)
/// recognise a change already made, so a crash between the write and its
/// record never writes twice.
#[async_trait]
pub trait StoreWriter: Send + Sync {
    /// Scopes the store granted.
    fn granted_scopes(&self) -> &[String];
    /// Before applying: the change that will undo it, from the store's current state.
    async fn prepare(&self, change: &Change) -> Result<Option<Change>, StoreError>;
    /// Applies the change.
    async fn apply(&self, change: &Change) -> Result<Applied, StoreError>;
    /// The change's effect if it is already in the store.
    async fn find_applied(&self, change: &Change) -> Result<Option<Applied>, StoreError>;
}

/// The demo store: read-only, so approvals of its proposals fail with a reason.
pub struct ReadOnlyStore;

#[async_trait]
impl StoreWriter for ReadOnlyStore {
    fn granted_scopes(&self) -> &[String] {
        &[]
    }
    async fn prepare(&self, _: &Change) -> Result<Option<Change>, StoreError> {
        Err(StoreError::Denied("the demo store is read-only: link a Shopify store to run actions".into()))
    }
    async fn apply(&self, _: &Change) -> Result<Applied, StoreError> {
        Err(StoreError::Denied("the demo store is read-only: link a Shopify store to run actions".into()))
    }
    async fn find_applied(&self, _: &Change) -> Result<Option<Applied>, StoreError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hash_ignores_key_order_and_sees_every_value() {
        let a = json!({"code": "SAVE10", "percentage": 10, "nested": {"x": 1, "y": [1, 2]}});
        let b = json!({"nested": {"y": [1, 2], "x": 1}, "percentage": 10, "code": "SAVE10"});
        assert_eq!(parameters_hash("CREATE_DISCOUNT", &a), parameters_hash("CREATE_DISCOUNT", &b));
        let c = json!({"code": "SAVE10", "percentage": 11, "nested": {"x": 1, "y": [1, 2]}});
        assert_ne!(parameters_hash("CREATE_DISCOUNT", &a), parameters_hash("CREATE_DISCOUNT", &c));
        assert_ne!(parameters_hash("CREATE_DISCOUNT", &a), parameters_hash("UPDATE_PRODUCT", &a));
    }

    #[test]
    fn proposals_are_validated_again() {
        let ok = json!({"title": "t", "code": "SAVE10", "percentage": 10, "productIds": [], "startsOn": "2026-11-01",
            "endsOn": "2026-11-10", "oncePerCustomer": true});
        assert!(Change::from_proposal("CREATE_DISCOUNT", &ok).is_ok());
        let mut greedy = ok.clone();
        greedy["percentage"] = json!(90);
        assert!(Change::from_proposal("CREATE_DISCOUNT", &greedy).is_err());
        assert!(Change::from_proposal("DELETE_EVERYTHING", &ok).is_err());
    }
}
