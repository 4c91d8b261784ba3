//! `sign_ups`: registrations waiting for their address to be confirmed,
//! and notices mailed to addresses that already have an account.

use sea_orm::entity::prelude::*;

/// One `signUp`: a pending registration (with a token) or a notice (without).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sign_ups")]
pub struct Model {
    /// Identifier.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The address, normalised.
    pub email: String,
    /// SHA-256 of the mailed confirmation secret; `None` for a notice.
    pub token_hash: Option<String>,
    /// The invitation the registration accepts, when it came with one.
    pub invitation_id: Option<Uuid>,
    /// When `signUp` was asked.
    pub created_at: ChronoDateTimeUtc,
    /// After this the link is refused and the row is purged.
    pub expires_at: ChronoDateTimeUtc,
    /// When the link was followed.
    pub confirmed_at: Option<ChronoDateTimeUtc>,
}

/// No relations: nothing owns a sign-up until it is confirmed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
