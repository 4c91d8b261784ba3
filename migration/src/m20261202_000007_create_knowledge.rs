//! Knowledge: collections, their documents (with the uploaded bytes in a
//! table of their own, so listing documents never reads them) and the
//! documents' chunks. Every table holds an `account_id`, so on PostgreSQL
//! each gets row-level security through `alatar_protect_tenant_table`
//! (migration 000006).

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
    AccountId,
    Name,
    Description,
    EmbeddingModel,
    EmbeddingDimension,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    AccountId,
    CollectionId,
    Filename,
    ContentType,
    ByteSize,
    Sha256,
    Status,
    Progress,
    FailureReason,
    PageCount,
    ChunkCount,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DocumentFiles {
    Table,
    DocumentId,
    AccountId,
    Content,
}

#[derive(DeriveIden)]
enum DocumentChunks {
    Table,
    Id,
    AccountId,
    DocumentId,
    CollectionId,
    Ordinal,
    Text,
    Page,
    CharStart,
    CharEnd,
    TokenCount,
}

/// The new tenant tables, for row-level security.
const TENANT_TABLES: [&str; 4] = ["collections", "documents", "document_files", "document_chunks"];

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
                    .table(Collections::Table)
                    .col(pk_uuid(Collections::Id))
                    .col(uuid(Collections::AccountId))
                    .col(string_len(Collections::Name, 200))
                    .col(text_null(Collections::Description))
                    .col(string_len_null(Collections::EmbeddingModel, 200))
                    .col(integer_null(Collections::EmbeddingDimension))
                    .col(timestamp_with_time_zone(Collections::CreatedAt))
                    .col(timestamp_with_time_zone(Collections::UpdatedAt))
                    .foreign_key(&mut fk(Collections::Table, "account_id", Accounts::Table, Accounts::Id))
                    .to_owned(),
            )
            .await?;
        // Names are unique per account (`CONFLICT`); listing pages by id
        // within the account.
        manager
            .create_index(
                index("idx_collections_account_name", Collections::Table, &["account_id", "name"]).unique().to_owned(),
            )
            .await?;
        manager.create_index(index("idx_collections_account", Collections::Table, &["account_id", "id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table(Documents::Table)
                    .col(pk_uuid(Documents::Id))
                    .col(uuid(Documents::AccountId))
                    .col(uuid(Documents::CollectionId))
                    .col(string_len(Documents::Filename, 255))
                    .col(string_len(Documents::ContentType, 64))
                    .col(big_integer(Documents::ByteSize))
                    .col(string_len(Documents::Sha256, 64))
                    .col(string_len(Documents::Status, 16))
                    .col(integer(Documents::Progress))
                    .col(text_null(Documents::FailureReason))
                    .col(integer_null(Documents::PageCount))
                    .col(integer_null(Documents::ChunkCount))
                    .col(timestamp_with_time_zone(Documents::CreatedAt))
                    .col(timestamp_with_time_zone(Documents::UpdatedAt))
                    .foreign_key(&mut fk(Documents::Table, "account_id", Accounts::Table, Accounts::Id))
                    .foreign_key(&mut fk(Documents::Table, "collection_id", Collections::Table, Collections::Id))
                    .to_owned(),
            )
            .await?;
        // The same file twice in one collection is one document.
        manager
            .create_index(
                index("idx_documents_collection_sha256", Documents::Table, &["collection_id", "sha256"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("idx_documents_collection", Documents::Table, &["collection_id", "id"])).await?;
        // The worker's resume sweep looks for unfinished ones.
        manager.create_index(index("idx_documents_status", Documents::Table, &["status"])).await?;
        manager
            .create_table(
                Table::create()
                    .table(DocumentFiles::Table)
                    .col(pk_uuid(DocumentFiles::DocumentId))
                    .col(uuid(DocumentFiles::AccountId))
                    .col(blob(DocumentFiles::Content))
                    .foreign_key(&mut fk(DocumentFiles::Table, "document_id", Documents::Table, Documents::Id))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DocumentChunks::Table)
                    .col(pk_uuid(DocumentChunks::Id))
                    .col(uuid(DocumentChunks::AccountId))
                    .col(uuid(DocumentChunks::DocumentId))
                    .col(uuid(DocumentChunks::CollectionId))
                    .col(integer(DocumentChunks::Ordinal))
                    .col(text(DocumentChunks::Text))
                    .col(integer_null(DocumentChunks::Page))
                    .col(integer(DocumentChunks::CharStart))
                    .col(integer(DocumentChunks::CharEnd))
                    .col(integer(DocumentChunks::TokenCount))
                    .foreign_key(&mut fk(DocumentChunks::Table, "document_id", Documents::Table, Documents::Id))
                    .to_owned(),
            )
            .await?;
        // A re-run ingestion replaces the chunks; two with one ordinal
        // cannot exist.
        manager
            .create_index(
                index("idx_document_chunks_ordinal", DocumentChunks::Table, &["document_id", "ordinal"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("idx_document_chunks_collection", DocumentChunks::Table, &["collection_id"]))
            .await?;
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
        for table in [
            DocumentChunks::Table.into_iden(),
            DocumentFiles::Table.into_iden(),
            Documents::Table.into_iden(),
            Collections::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
