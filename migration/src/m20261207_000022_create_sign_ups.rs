//! `sign_ups`: registrations waiting for their address to be confirmed by
//! mail (issue 13: `signUp` answers the same for every address, so the
//! account is created only when the mailed link is followed, and its
//! password is chosen then, by whoever holds the mailbox). Also a row, with
//! no token, for each notice mailed to an address that already has an
//! account, so that mail to one address can be counted and capped. No
//! account owns these rows (there is none yet): they are read and written
//! by system statements only, like `users` at login. On PostgreSQL row
//! security lets only system sessions at them (`alatar_app`, the tenants'
//! role, is granted nothing).

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

const SYSTEM_ONLY: &str = r#"
ALTER TABLE sign_ups ENABLE ROW LEVEL SECURITY;
ALTER TABLE sign_ups FORCE ROW LEVEL SECURITY;
CREATE POLICY alatar_system ON sign_ups USING (alatar_system_session()) WITH CHECK (alatar_system_session());
"#;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SignUps {
    Table,
    Id,
    Email,
    TokenHash,
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
        if manager.get_database_backend() == DbBackend::Postgres {
            manager.get_connection().execute_unprepared(SYSTEM_ONLY).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SignUps::Table).to_owned()).await?;
        Ok(())
    }
}
