//! The analysis pipeline: stores, requests, tasks, tool calls, events,
//! results, proposed actions and the transactional outbox.

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
    AccountId,
    Kind,
    Name,
    ShopDomain,
    DemoSeed,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AnalysisRequests {
    Table,
    Id,
    AccountId,
    UserId,
    StoreId,
    Prompt,
    Status,
    Intent,
    Plan,
    Model,
    FailureReason,
    LastSequence,
    CreatedAt,
    UpdatedAt,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum AgentTasks {
    Table,
    Id,
    AccountId,
    RequestId,
    Step,
    Department,
    Objective,
    DependsOn,
    Status,
    Attempts,
    ErrorCount,
    LastError,
    Output,
    CreatedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum ToolCalls {
    Table,
    Id,
    AccountId,
    RequestId,
    TaskId,
    Tool,
    Input,
    OutputSummary,
    Attempts,
    DurationUs,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AnalysisEvents {
    Table,
    Id,
    AccountId,
    RequestId,
    Sequence,
    Kind,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AnalysisResults {
    Table,
    RequestId,
    AccountId,
    Summary,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProposedActions {
    Table,
    Id,
    AccountId,
    RequestId,
    Kind,
    Parameters,
    Preview,
    RequiredScopes,
    Status,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum OutboxMessages {
    Table,
    Id,
    Queue,
    Payload,
    CreatedAt,
}

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
                    .table(Stores::Table)
                    .col(pk_uuid(Stores::Id))
                    .col(uuid(Stores::AccountId))
                    .col(string_len(Stores::Kind, 16))
                    .col(string_len(Stores::Name, 200))
                    .col(string_len_null(Stores::ShopDomain, 255))
                    .col(big_integer_null(Stores::DemoSeed))
                    .col(timestamp_with_time_zone(Stores::CreatedAt))
                    .foreign_key(&mut fk(Stores::Table, "account_id", Accounts::Table, Accounts::Id))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("idx_stores_account", Stores::Table, &["account_id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table(AnalysisRequests::Table)
                    .col(pk_uuid(AnalysisRequests::Id))
                    .col(uuid(AnalysisRequests::AccountId))
                    .col(uuid(AnalysisRequests::UserId))
                    .col(uuid(AnalysisRequests::StoreId))
                    .col(text(AnalysisRequests::Prompt))
                    .col(string_len(AnalysisRequests::Status, 24))
                    .col(string_len_null(AnalysisRequests::Intent, 64))
                    .col(json_null(AnalysisRequests::Plan))
                    .col(string_len(AnalysisRequests::Model, 200))
                    .col(text_null(AnalysisRequests::FailureReason))
                    .col(big_integer(AnalysisRequests::LastSequence))
                    .col(timestamp_with_time_zone(AnalysisRequests::CreatedAt))
                    .col(timestamp_with_time_zone(AnalysisRequests::UpdatedAt))
                    .col(timestamp_with_time_zone_null(AnalysisRequests::StartedAt))
                    .col(timestamp_with_time_zone_null(AnalysisRequests::FinishedAt))
                    .foreign_key(&mut fk(AnalysisRequests::Table, "account_id", Accounts::Table, Accounts::Id))
                    .foreign_key(&mut fk(AnalysisRequests::Table, "store_id", Stores::Table, Stores::Id))
                    .to_owned(),
            )
            .await?;
        // Listing is "newest first within an account", paged by id (UUIDv7).
        manager
            .create_index(index("idx_analysis_requests_account", AnalysisRequests::Table, &["account_id", "id"]))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AgentTasks::Table)
                    .col(pk_uuid(AgentTasks::Id))
                    .col(uuid(AgentTasks::AccountId))
                    .col(uuid(AgentTasks::RequestId))
                    .col(integer(AgentTasks::Step))
                    .col(string_len(AgentTasks::Department, 64))
                    .col(text(AgentTasks::Objective))
                    .col(json(AgentTasks::DependsOn))
                    .col(string_len(AgentTasks::Status, 16))
                    .col(integer(AgentTasks::Attempts))
                    .col(integer(AgentTasks::ErrorCount))
                    .col(text_null(AgentTasks::LastError))
                    .col(json_null(AgentTasks::Output))
                    .col(timestamp_with_time_zone(AgentTasks::CreatedAt))
                    .col(timestamp_with_time_zone_null(AgentTasks::FinishedAt))
                    .foreign_key(&mut fk(
                        AgentTasks::Table,
                        "request_id",
                        AnalysisRequests::Table,
                        AnalysisRequests::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("idx_agent_tasks_step", AgentTasks::Table, &["request_id", "step"]).unique().to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ToolCalls::Table)
                    .col(pk_uuid(ToolCalls::Id))
                    .col(uuid(ToolCalls::AccountId))
                    .col(uuid(ToolCalls::RequestId))
                    .col(uuid(ToolCalls::TaskId))
                    .col(string_len(ToolCalls::Tool, 100))
                    .col(json(ToolCalls::Input))
                    .col(text(ToolCalls::OutputSummary))
                    .col(integer(ToolCalls::Attempts))
                    .col(big_integer(ToolCalls::DurationUs))
                    .col(timestamp_with_time_zone(ToolCalls::CreatedAt))
                    .foreign_key(&mut fk(ToolCalls::Table, "task_id", AgentTasks::Table, AgentTasks::Id))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("idx_tool_calls_request", ToolCalls::Table, &["request_id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table(AnalysisEvents::Table)
                    .col(pk_uuid(AnalysisEvents::Id))
                    .col(uuid(AnalysisEvents::AccountId))
                    .col(uuid(AnalysisEvents::RequestId))
                    .col(big_integer(AnalysisEvents::Sequence))
                    .col(string_len(AnalysisEvents::Kind, 32))
                    .col(json(AnalysisEvents::Payload))
                    .col(timestamp_with_time_zone(AnalysisEvents::CreatedAt))
                    .foreign_key(&mut fk(
                        AnalysisEvents::Table,
                        "request_id",
                        AnalysisRequests::Table,
                        AnalysisRequests::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        // Replay reads a range of one request's sequence; the unique index
        // also makes a duplicated event impossible.
        manager
            .create_index(
                index("idx_analysis_events_sequence", AnalysisEvents::Table, &["request_id", "sequence"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AnalysisResults::Table)
                    .col(pk_uuid(AnalysisResults::RequestId))
                    .col(uuid(AnalysisResults::AccountId))
                    .col(text(AnalysisResults::Summary))
                    .col(json(AnalysisResults::Body))
                    .col(timestamp_with_time_zone(AnalysisResults::CreatedAt))
                    .foreign_key(&mut fk(
                        AnalysisResults::Table,
                        "request_id",
                        AnalysisRequests::Table,
                        AnalysisRequests::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProposedActions::Table)
                    .col(pk_uuid(ProposedActions::Id))
                    .col(uuid(ProposedActions::AccountId))
                    .col(uuid(ProposedActions::RequestId))
                    .col(string_len(ProposedActions::Kind, 64))
                    .col(json(ProposedActions::Parameters))
                    .col(json(ProposedActions::Preview))
                    .col(json(ProposedActions::RequiredScopes))
                    .col(string_len(ProposedActions::Status, 16))
                    .col(timestamp_with_time_zone(ProposedActions::CreatedAt))
                    .col(timestamp_with_time_zone(ProposedActions::ExpiresAt))
                    .foreign_key(&mut fk(
                        ProposedActions::Table,
                        "request_id",
                        AnalysisRequests::Table,
                        AnalysisRequests::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("idx_proposed_actions_request", ProposedActions::Table, &["request_id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table(OutboxMessages::Table)
                    .col(pk_uuid(OutboxMessages::Id))
                    .col(string_len(OutboxMessages::Queue, 128))
                    .col(text(OutboxMessages::Payload))
                    .col(timestamp_with_time_zone(OutboxMessages::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OutboxMessages::Table.into_iden(),
            ProposedActions::Table.into_iden(),
            AnalysisResults::Table.into_iden(),
            AnalysisEvents::Table.into_iden(),
            ToolCalls::Table.into_iden(),
            AgentTasks::Table.into_iden(),
            AnalysisRequests::Table.into_iden(),
            Stores::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
