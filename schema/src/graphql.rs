//! The GraphQL surface: one query/mutation pair per domain, merged.

mod account;
mod analysis;
mod types;

use async_graphql::{MergedObject, MergedSubscription};

pub use account::{AccountMutation, AccountQuery, AccountSubscription};
pub use analysis::{AnalysisMutation, AnalysisQuery, AnalysisSubscription};

/// Root query.
#[derive(MergedObject, Default)]
pub struct Query(AccountQuery, AnalysisQuery);

/// Root mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(AccountMutation, AnalysisMutation);

/// Root subscription.
#[derive(MergedSubscription, Default)]
pub struct Subscription(AccountSubscription, AnalysisSubscription);
