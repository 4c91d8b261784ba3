//! Shopify: sealed credentials, install nonces, processed webhooks, the data
//! cache, compliance requests, the audit log, and the approval columns of
//! proposed actions.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Stores {
    Table,
    Id,
    DisconnectedAt,
}

#[derive(DeriveIden)]
enum ShopifyCredentials {
    Table,
    StoreId,
    AccountId,
    ShopDomain,
    AccessToken,
    RefreshToken,
    AccessExpiresAt,
    RefreshExpiresAt,
    Scopes,
    Status,
    LinkedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    Nonce,
    AccountId,
    UserId,
    ShopDomain,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    WebhookId,
    ShopDomain,
    Topic,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum ShopifyCache {
    Table,
    StoreId,
    Key,
    AccountId,
    Body,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ComplianceRequests {
    Table,
    Id,
    AccountId,
    StoreId,
    Topic,
    CustomerId,
    Export,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    AccountId,
    ActorUserId,
    Actor,
    Event,
    ActionId,
    StoreId,
    Detail,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProposedActions {
    Table,
    UpdatedAt,
    DecidedBy,
    DecidedAt,
    DecisionReason,
    Outcome,
    Inverse,
    ExecutedAt,
    FailureReason,
    RevertingAt,
}

fn cascade<F: IntoIden + 'static, T: IntoIden + 'static, C: IntoIden + 'static>(
    from: F,
    column: &str,
    to: T,
    to_column: C,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, Alias::new(column))
        .to(to, to_column)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index<T: IntoIden + 'static>(name: &str, table: T, columns: &[&str], unique: bool) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    if unique {
        index.unique();
    }
    for column in columns {
        index.col(Alias::new(*column));
    }
    index.to_owned()
}

/// SQLite adds one column per `ALTER TABLE`.
async fn add_column<T: IntoIden + 'static>(
    manager: &SchemaManager<'_>,
    table: T,
    column: ColumnDef,
) -> Result<(), DbErr> {
    let mut column = column;
    manager.alter_table(Table::alter().table(table).add_column(&mut column).to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(manager, Stores::Table, timestamp_with_time_zone_null(Stores::DisconnectedAt)).await?;
        for column in [
            timestamp_with_time_zone_null(ProposedActions::UpdatedAt),
            uuid_null(ProposedActions::DecidedBy),
            timestamp_with_time_zone_null(ProposedActions::DecidedAt),
            text_null(ProposedActions::DecisionReason),
            json_null(ProposedActions::Outcome),
            json_null(ProposedActions::Inverse),
            timestamp_with_time_zone_null(ProposedActions::ExecutedAt),
            text_null(ProposedActions::FailureReason),
            timestamp_with_time_zone_null(ProposedActions::RevertingAt),
        ] {
            add_column(manager, ProposedActions::Table, column).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ShopifyCredentials::Table)
                    .col(pk_uuid(ShopifyCredentials::StoreId))
                    .col(uuid(ShopifyCredentials::AccountId))
                    .col(string_len(ShopifyCredentials::ShopDomain, 255))
                    .col(text(ShopifyCredentials::AccessToken))
                    .col(text_null(ShopifyCredentials::RefreshToken))
                    .col(timestamp_with_time_zone_null(ShopifyCredentials::AccessExpiresAt))
                    .col(timestamp_with_time_zone_null(ShopifyCredentials::RefreshExpiresAt))
                    .col(text(ShopifyCredentials::Scopes))
                    .col(string_len(ShopifyCredentials::Status, 16))
                    .col(timestamp_with_time_zone(ShopifyCredentials::LinkedAt))
                    .col(timestamp_with_time_zone(ShopifyCredentials::UpdatedAt))
                    .foreign_key(&mut cascade(ShopifyCredentials::Table, "store_id", Stores::Table, Stores::Id))
                    .foreign_key(&mut cascade(ShopifyCredentials::Table, "account_id", Accounts::Table, Accounts::Id))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("idx_shopify_credentials_shop", ShopifyCredentials::Table, &["shop_domain"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OauthStates::Table)
                    .col(string_len(OauthStates::Nonce, 64).primary_key())
                    .col(uuid(OauthStates::AccountId))
                    .col(uuid(OauthStates::UserId))
                    .col(string_len(OauthStates::ShopDomain, 255))
                    .col(timestamp_with_time_zone(OauthStates::ExpiresAt))
                    .col(timestamp_with_time_zone_null(OauthStates::UsedAt))
                    .foreign_key(&mut cascade(OauthStates::Table, "account_id", Accounts::Table, Accounts::Id))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(string_len(WebhookDeliveries::WebhookId, 255).primary_key())
                    .col(string_len(WebhookDeliveries::ShopDomain, 255))
                    .col(string_len(WebhookDeliveries::Topic, 64))
                    .col(timestamp_with_time_zone(WebhookDeliveries::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("idx_webhook_deliveries_shop", WebhookDeliveries::Table, &["shop_domain"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ShopifyCache::Table)
                    .col(uuid(ShopifyCache::StoreId))
                    .col(string_len(ShopifyCache::Key, 128))
                    .col(uuid(ShopifyCache::AccountId))
                    .col(json(ShopifyCache::Body))
                    .col(timestamp_with_time_zone(ShopifyCache::ExpiresAt))
                    .primary_key(Index::create().col(ShopifyCache::StoreId).col(ShopifyCache::Key))
                    .foreign_key(&mut cascade(ShopifyCache::Table, "store_id", Stores::Table, Stores::Id))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ComplianceRequests::Table)
                    .col(pk_uuid(ComplianceRequests::Id))
                    .col(uuid(ComplianceRequests::AccountId))
                    .col(uuid(ComplianceRequests::StoreId))
                    .col(string_len(ComplianceRequests::Topic, 64))
                    .col(big_integer_null(ComplianceRequests::CustomerId))
                    .col(json(ComplianceRequests::Export))
                    .col(timestamp_with_time_zone(ComplianceRequests::CreatedAt))
                    .foreign_key(&mut cascade(ComplianceRequests::Table, "store_id", Stores::Table, Stores::Id))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(pk_uuid(AuditLog::Id))
                    .col(uuid(AuditLog::AccountId))
                    .col(uuid_null(AuditLog::ActorUserId))
                    .col(string_len(AuditLog::Actor, 16))
                    .col(string_len(AuditLog::Event, 32))
                    .col(uuid_null(AuditLog::ActionId))
                    .col(uuid_null(AuditLog::StoreId))
                    .col(json(AuditLog::Detail))
                    .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                    .foreign_key(&mut cascade(AuditLog::Table, "account_id", Accounts::Table, Accounts::Id))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("idx_audit_log_account", AuditLog::Table, &["account_id", "id"], false)).await?;
        manager.create_index(index("idx_audit_log_store", AuditLog::Table, &["store_id"], false)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            ComplianceRequests::Table.into_iden(),
            ShopifyCache::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            OauthStates::Table.into_iden(),
            ShopifyCredentials::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for column in [
            ProposedActions::UpdatedAt.into_iden(),
            ProposedActions::DecidedBy.into_iden(),
            ProposedActions::DecidedAt.into_iden(),
            ProposedActions::DecisionReason.into_iden(),
            ProposedActions::Outcome.into_iden(),
            ProposedActions::Inverse.into_iden(),
            ProposedActions::ExecutedAt.into_iden(),
            ProposedActions::FailureReason.into_iden(),
            ProposedActions::RevertingAt.into_iden(),
        ] {
            manager.alter_table(Table::alter().table(ProposedActions::Table).drop_column(column).to_owned()).await?;
        }
        manager.alter_table(Table::alter().table(Stores::Table).drop_column(Stores::DisconnectedAt).to_owned()).await
    }
}
