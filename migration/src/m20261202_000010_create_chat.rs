//! Knowledge chat: `chat_sessions` (a conversation over one collection,
//! deleted with it) and `chat_messages` (its turns, deleted with their
//! session; an answer's citations as JSON). Both hold an `account_id`, so
//! on PostgreSQL each gets row-level security through
//! `alatar_protect_tenant_table` (migration 000006).

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Collections {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ChatSessions {
    Table,
    Id,
    AccountId,
    CollectionId,
    UserId,
    Title,
    Model,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ChatMessages {
    Table,
    Id,
    AccountId,
    SessionId,
    Role,
    Content,
    Status,
    Error,
    Citations,
    TokenCount,
    Model,
    CreatedAt,
}

/// The new tenant tables, for row-level security.
const TENANT_TABLES: [&str; 2] = ["chat_sessions", "chat_messages"];

fn fk<F: IntoIden + 'static, T: IntoIden + 'static, C: IntoIden + 'static>(
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

fn index<T: IntoIden + 'static>(name: &str, table: T, columns: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(Alias::new(*column));
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChatSessions::Table)
                    .col(pk_uuid(ChatSessions::Id))
                    .col(uuid(ChatSessions::AccountId))
                    .col(uuid(ChatSessions::CollectionId))
                    .col(uuid(ChatSessions::UserId))
                    .col(string_len(ChatSessions::Title, 200))
                    .col(string_len_null(ChatSessions::Model, 200))
                    .col(timestamp_with_time_zone(ChatSessions::CreatedAt))
                    .col(timestamp_with_time_zone(ChatSessions::UpdatedAt))
                    .foreign_key(&mut fk(ChatSessions::Table, "account_id", Accounts::Table, Accounts::Id))
                    .foreign_key(&mut fk(ChatSessions::Table, "collection_id", Collections::Table, Collections::Id))
                    .to_owned(),
            )
            .await?;
        // Listing pages by id within the account; a collection's deletion
        // finds its sessions.
        manager.create_index(index("idx_chat_sessions_account", ChatSessions::Table, &["account_id", "id"])).await?;
        manager.create_index(index("idx_chat_sessions_collection", ChatSessions::Table, &["collection_id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table(ChatMessages::Table)
                    .col(pk_uuid(ChatMessages::Id))
                    .col(uuid(ChatMessages::AccountId))
                    .col(uuid(ChatMessages::SessionId))
                    .col(string_len(ChatMessages::Role, 16))
                    .col(text(ChatMessages::Content))
                    .col(string_len(ChatMessages::Status, 16))
                    .col(text_null(ChatMessages::Error))
                    .col(json(ChatMessages::Citations))
                    .col(integer_null(ChatMessages::TokenCount))
                    .col(string_len_null(ChatMessages::Model, 200))
                    .col(timestamp_with_time_zone(ChatMessages::CreatedAt))
                    .foreign_key(&mut fk(ChatMessages::Table, "account_id", Accounts::Table, Accounts::Id))
                    .foreign_key(&mut fk(ChatMessages::Table, "session_id", ChatSessions::Table, ChatSessions::Id))
                    .to_owned(),
            )
            .await?;
        // A session's messages in order (history, pages, the watcher's
        // re-read of its answers).
        manager.create_index(index("idx_chat_messages_session", ChatMessages::Table, &["session_id", "id"])).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            let protect: Vec<String> = TENANT_TABLES
                .iter()
                .map(|table| format!("SELECT alatar_protect_tenant_table('{table}'::regclass);"))
                .collect();
            manager.get_connection().execute_unprepared(&protect.join("\n")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [ChatMessages::Table.into_iden(), ChatSessions::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
