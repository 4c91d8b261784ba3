//! Tenancy, enforced in one place.
//!
//! Architecture invariant: services never call `Entity::find()` (or
//! `update_many` / `delete_many`) on a [`TenantOwned`] entity directly; they go
//! through an [`AccountScope`], which is built only from an authenticated
//! viewer. The tenancy property tests exercise every operation through it.
//! Its queries run on a [`Scoped`] connection (`scope.on(&db)`), under which
//! PostgreSQL's row-level security holds them to the account as well.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, DeleteMany, EntityTrait, PrimaryKeyTrait, QueryFilter, QuerySelect, Select,
    UpdateMany,
};
use uuid::Uuid;

mod row_security;

pub use row_security::{SYSTEM_SESSION, ScopeSession, Scoped, TENANT_ROLE};

use crate::{
    agent_task, analysis_event, analysis_request, analysis_result, audit_entry, chat_message, chat_session,
    chunk_embedding, collection, compliance_request, document, document_chunk, document_file, invitation,
    proposed_action, refresh_token, shopify_cache, shopify_credential, store, tool_call, user, user_preferences,
};

/// An entity whose rows belong to one account.
pub trait TenantOwned: EntityTrait {
    /// The column holding the owning account's id.
    fn account_column() -> Self::Column;
}

/// The account an operation acts for; every query it builds is filtered to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountScope {
    account_id: Uuid,
}

impl AccountScope {
    /// Scope to `account_id`. Callers derive it from verified credentials.
    pub fn new(account_id: Uuid) -> Self {
        Self { account_id }
    }

    /// The account this scope is bound to.
    pub fn account_id(&self) -> Uuid {
        self.account_id
    }

    /// `SELECT … WHERE account_id = ?`.
    pub fn find<E: TenantOwned>(&self) -> Select<E> {
        E::find().filter(E::account_column().eq(self.account_id))
    }

    /// `UPDATE … WHERE account_id = ?`; add further filters on the result.
    pub fn update_many<E: TenantOwned>(&self) -> UpdateMany<E> {
        E::update_many().filter(E::account_column().eq(self.account_id))
    }

    /// The account a Shopify shop is linked to, with its credential: for
    /// callers that verified the shop's identity (a webhook's HMAC, an App
    /// Bridge session token) and act for that shop's account.
    pub async fn of_shop<C: ConnectionTrait>(
        db: &C,
        shop_domain: &str,
    ) -> Result<Option<(Self, shopify_credential::Model)>, DbErr> {
        Ok(shopify_credential::Entity::find()
            .filter(shopify_credential::Column::ShopDomain.eq(shop_domain))
            .one(db)
            .await?
            .map(|c| (Self::new(c.account_id), c)))
    }

    /// Which account owns the row `id`, whoever asks: only for telling
    /// "not yours" (`FORBIDDEN`) from "no such thing" (`NOT_FOUND`) where
    /// the API promises that distinction. Never returns the row.
    pub async fn owner_of<E: TenantOwned, C: ConnectionTrait>(
        db: &C,
        id: <E::PrimaryKey as PrimaryKeyTrait>::ValueType,
    ) -> Result<Option<Uuid>, DbErr> {
        E::find_by_id(id).select_only().column(E::account_column()).into_tuple::<Uuid>().one(db).await
    }

    /// `DELETE … WHERE account_id = ?`; add further filters on the result.
    pub fn delete_many<E: TenantOwned>(&self) -> DeleteMany<E> {
        E::delete_many().filter(E::account_column().eq(self.account_id))
    }
}

macro_rules! tenant_owned {
    ($($module:ident),* $(,)?) => {$(
        impl TenantOwned for $module::Entity {
            fn account_column() -> Self::Column {
                $module::Column::AccountId
            }
        }
    )*};
}

tenant_owned!(
    user,
    user_preferences,
    refresh_token,
    invitation,
    store,
    analysis_request,
    agent_task,
    tool_call,
    analysis_event,
    analysis_result,
    proposed_action,
    shopify_credential,
    shopify_cache,
    audit_entry,
    compliance_request,
    collection,
    document,
    document_file,
    document_chunk,
    chunk_embedding,
    chat_session,
    chat_message,
);
