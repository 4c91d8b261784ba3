//! `StoreWriter` over the Admin API: `discountCodeBasicCreate`,
//! `productUpdate` and `discountCodeDelete`, each with a way to recognise
//! that it already happened (a discount code is unique in a shop; a product
//! either has the new text or not).

use async_trait::async_trait;
use serde_json::{Value, json};

use super::admin::user_errors;
use super::{AdminClient, gid};
use crate::actions::{Applied, Change, StoreWriter};
use crate::store::StoreError;
use crate::tools::propose::{DiscountParameters, ProductUpdateParameters};

/// Every document the writer sends, by name (the schema test validates each).
pub const DOCUMENTS: &[(&str, &str)] = &[
    ("Create", CREATE_DISCOUNT),
    ("ByCode", DISCOUNT_BY_CODE),
    ("Delete", DELETE_DISCOUNT),
    ("Node", DISCOUNT_NODE),
    ("Product", PRODUCT),
    ("Update", UPDATE_PRODUCT),
];

const CREATE_DISCOUNT: &str = "mutation Create($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode { id codeDiscount { ... on DiscountCodeBasic { title status startsAt endsAt } } }
    userErrors { field message code }
  }
}";
const DISCOUNT_BY_CODE: &str = "query ByCode($code: String!) { codeDiscountNodeByCode(code: $code) { id } }";
const DELETE_DISCOUNT: &str = "mutation Delete($id: ID!) {
  discountCodeDelete(id: $id) { deletedCodeDiscountId userErrors { field message code } }
}";
// `codeDiscountNode(id:)` is deprecated in 2026-10; `discountNode` replaces it.
const DISCOUNT_NODE: &str = "query Node($id: ID!) { discountNode(id: $id) { id } }";
const PRODUCT: &str = "query Product($id: ID!) { product(id: $id) { id title descriptionHtml } }";
const UPDATE_PRODUCT: &str = "mutation Update($product: ProductUpdateInput!) {
  productUpdate(product: $product) { product { id title descriptionHtml } userErrors { field message } }
}";

/// Writes to one Shopify store.
pub struct ShopifyWriter {
    admin: AdminClient,
    scopes: Vec<String>,
}

impl ShopifyWriter {
    /// A writer through `admin`, whose token was granted `scopes`.
    pub fn new(admin: AdminClient, scopes: Vec<String>) -> Self {
        Self { admin, scopes }
    }

    async fn product(&self, id: u64) -> Result<Value, StoreError> {
        let data = self.admin.graphql(PRODUCT, json!({ "id": gid("Product", id) })).await?;
        let product = data.get("product").cloned().unwrap_or(Value::Null);
        if product.is_null() {
            return Err(StoreError::Rejected(format!("product {id} does not exist")));
        }
        Ok(product)
    }

    async fn discount_by_code(&self, code: &str) -> Result<Option<String>, StoreError> {
        let data = self.admin.graphql(DISCOUNT_BY_CODE, json!({ "code": code })).await?;
        Ok(data.pointer("/codeDiscountNodeByCode/id").and_then(Value::as_str).map(str::to_owned))
    }
}

fn discount_input(d: &DiscountParameters) -> Value {
    let items = if d.product_ids.is_empty() {
        json!({ "all": true })
    } else {
        json!({ "products": { "productsToAdd": d.product_ids.iter().map(|id| gid("Product", *id)).collect::<Vec<_>>() } })
    };
    json!({
        "title": d.title,
        "code": d.code,
        "startsAt": format!("{}T00:00:00Z", d.starts_on),
        "endsAt": format!("{}T23:59:59Z", d.ends_on),
        // `customerSelection` is deprecated in 2026-10: `context` says who may buy.
        "context": { "all": "ALL" },
        "customerGets": { "value": { "percentage": f64::from(d.percentage) / 100.0 }, "items": items },
        "appliesOncePerCustomer": d.once_per_customer,
    })
}

fn text_of(product: &Value, field: &str) -> String {
    product.get(field).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn delete_inverse(id: String, code: &str) -> Option<Change> {
    Some(Change::DeleteDiscount { discount_id: id, code: code.to_owned() })
}

#[async_trait]
impl StoreWriter for ShopifyWriter {
    fn granted_scopes(&self) -> &[String] {
        &self.scopes
    }

    async fn prepare(&self, change: &Change) -> Result<Option<Change>, StoreError> {
        match change {
            Change::UpdateProduct(p) => {
                let current = self.product(p.product_id).await?;
                Ok(Some(Change::UpdateProduct(ProductUpdateParameters {
                    product_id: p.product_id,
                    current_title: p.title.clone(),
                    title: text_of(&current, "title"),
                    current_description: p.description.clone(),
                    description: text_of(&current, "descriptionHtml"),
                })))
            }
            // Before our first write the code must be free: otherwise
            // reconciliation would adopt (and a revert delete) someone
            // else's discount. A new discount's inverse needs its id: known after applying.
            Change::CreateDiscount(d) => match self.discount_by_code(&d.code).await? {
                Some(_) => Err(StoreError::Rejected(format!("discount code {} already exists in the shop", d.code))),
                None => Ok(None),
            },
            Change::DeleteDiscount { .. } => Ok(None),
        }
    }

    async fn apply(&self, change: &Change) -> Result<Applied, StoreError> {
        match change {
            Change::CreateDiscount(d) => {
                let data =
                    self.admin.graphql(CREATE_DISCOUNT, json!({ "basicCodeDiscount": discount_input(d) })).await?;
                let payload = &data["discountCodeBasicCreate"];
                user_errors(payload)?;
                let id = payload
                    .pointer("/codeDiscountNode/id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| StoreError::Rejected("no discount was created".into()))?
                    .to_owned();
                Ok(Applied { response: payload.clone(), inverse: delete_inverse(id, &d.code) })
            }
            Change::UpdateProduct(p) => {
                let input =
                    json!({ "id": gid("Product", p.product_id), "title": p.title, "descriptionHtml": p.description });
                let data = self.admin.graphql(UPDATE_PRODUCT, json!({ "product": input })).await?;
                let payload = &data["productUpdate"];
                user_errors(payload)?;
                Ok(Applied { response: payload.clone(), inverse: None })
            }
            Change::DeleteDiscount { discount_id, .. } => {
                let data = self.admin.graphql(DELETE_DISCOUNT, json!({ "id": discount_id })).await?;
                let payload = &data["discountCodeDelete"];
                user_errors(payload)?;
                Ok(Applied { response: payload.clone(), inverse: None })
            }
        }
    }

    async fn find_applied(&self, change: &Change) -> Result<Option<Applied>, StoreError> {
        match change {
            Change::CreateDiscount(d) => Ok(self.discount_by_code(&d.code).await?.map(|id| Applied {
                response: json!({ "codeDiscountNode": { "id": id }, "reconciled": true }),
                inverse: delete_inverse(id, &d.code),
            })),
            Change::UpdateProduct(p) => {
                let current = self.product(p.product_id).await?;
                let done =
                    text_of(&current, "title") == p.title && text_of(&current, "descriptionHtml") == p.description;
                Ok(done.then(|| Applied { response: json!({ "product": current, "reconciled": true }), inverse: None }))
            }
            Change::DeleteDiscount { discount_id, .. } => {
                let data = self.admin.graphql(DISCOUNT_NODE, json!({ "id": discount_id })).await?;
                let gone = data.get("discountNode").is_none_or(Value::is_null);
                Ok(gone.then(|| Applied {
                    response: json!({ "deletedCodeDiscountId": discount_id, "reconciled": true }),
                    inverse: None,
                }))
            }
        }
    }
}
