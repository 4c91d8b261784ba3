//! Erasing an account's saved workflows (a shop's erasure, `shop/redact`):
//! their definitions name the merchant's collections, tools and prompts.
//! Their runs are analysis requests of a store, erased with the store.

use sea_orm::DbErr;

use alatar_entity::{AccountScope, ScopeSession, workflow};

/// Deletes every saved workflow of the account inside `db` (the caller's
/// transaction); how many.
pub async fn erase_workflows<C: ScopeSession>(db: &C, scope: AccountScope) -> Result<u64, DbErr> {
    Ok(scope.delete_many::<workflow::Entity>().exec(&scope.on(db)).await?.rows_affected)
}
