//! `sign_ups`: registrations waiting for their address to be confirmed by
//! mail (issue 13: `signUp` answers the same for every address, so the
//! account is created only when the mailed link is followed). Also a row,
//! with no token, for each notice mailed to an address that already has an
//! account, so that mail to one address can be counted and capped. No
//! account owns these rows (there is none yet): they are read and written
//! by system statements only, like `users` at login.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SignUps {
    Table,
    Id,
    Email,
    TokenHash,
    PasswordHash,
    AccountName,
    InvitationId,
    CreatedAt,
    ExpiresAt,
    ConfirmedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SignUps::Table)
                    .col(pk_uuid(SignUps::Id))
                    .col(string_len(SignUps::Email, 254))
                    // Several NULLs (notices) are allowed by a unique index on both engines.
                    .col(string_len_null(SignUps::TokenHash, 64).unique_key())
                    .col(text_null(SignUps::PasswordHash))
                    .col(string_len_null(SignUps::AccountName, 200))
                    .col(uuid_null(SignUps::InvitationId))
                    .col(timestamp_with_time_zone(SignUps::CreatedAt))
                    .col(timestamp_with_time_zone(SignUps::ExpiresAt))
                    .col(timestamp_with_time_zone_null(SignUps::ConfirmedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sign_ups_email_created")
                    .table(SignUps::Table)
                    .col(SignUps::Email)
                    .col(SignUps::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("sign_ups_expires").table(SignUps::Table).col(SignUps::ExpiresAt).to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SignUps::Table).to_owned()).await?;
        Ok(())
    }
}
