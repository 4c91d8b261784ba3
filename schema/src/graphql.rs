//! The GraphQL surface: one query/mutation pair per domain, merged.

mod account;
mod actions;
mod analysis;
mod chat;
mod code;
mod dashboards;
mod dataset_insights;
mod dataset_sql;
mod datasets;
mod knowledge;
mod market;
mod ml_models;
mod shopify;
mod types;
mod workflow;

use async_graphql::{ID, MergedObject, MergedSubscription};
use uuid::Uuid;

use crate::error::ApiError;

pub use account::{AccountMutation, AccountQuery, AccountSubscription};
pub use actions::{ActionMutation, ActionQuery, ActionSubscription};
pub use analysis::{AnalysisMutation, AnalysisQuery, AnalysisSubscription};
pub use chat::{ChatMutation, ChatQuery, ChatSubscription};
pub use code::{CodeMutation, CodeQuery};
pub use dashboards::{DashboardMutation, DashboardQuery, DashboardSubscription};
pub use dataset_insights::DatasetInsightsMutation;
pub use dataset_sql::DatasetSqlQuery;
pub use datasets::{DatasetMutation, DatasetQuery, DatasetSubscription};
pub use knowledge::{KnowledgeMutation, KnowledgeQuery, KnowledgeSubscription};
pub use market::{MarketMutation, MarketQuery, MarketSubscription};
pub use ml_models::{MlModelMutation, MlModelQuery};
pub use shopify::{ShopifyMutation, form_pairs};
pub use workflow::{WorkflowMutation, WorkflowQuery};

/// Root query.
#[derive(MergedObject, Default)]
pub struct Query(
    AccountQuery,
    AnalysisQuery,
    ActionQuery,
    KnowledgeQuery,
    ChatQuery,
    WorkflowQuery,
    DatasetQuery,
    DatasetSqlQuery,
    MlModelQuery,
    DashboardQuery,
    MarketQuery,
    CodeQuery,
);

/// Root mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    AccountMutation,
    AnalysisMutation,
    ShopifyMutation,
    ActionMutation,
    KnowledgeMutation,
    ChatMutation,
    WorkflowMutation,
    DatasetMutation,
    DatasetInsightsMutation,
    MlModelMutation,
    DashboardMutation,
    MarketMutation,
    CodeMutation,
);

/// Root subscription.
#[derive(MergedSubscription, Default)]
pub struct Subscription(
    AccountSubscription,
    AnalysisSubscription,
    ActionSubscription,
    KnowledgeSubscription,
    ChatSubscription,
    DatasetSubscription,
    DashboardSubscription,
    MarketSubscription,
);

/// An `ID` argument as a UUID, or `BAD_USER_INPUT` naming `field`.
fn parse_id(field: &'static str, id: &ID) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::bad_input(field, "is not a valid id"))
}
