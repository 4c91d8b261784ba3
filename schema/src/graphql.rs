//! The GraphQL surface: one query/mutation pair per domain, merged.

mod account;
mod types;

use async_graphql::{MergedObject, MergedSubscription};

pub use account::{AccountMutation, AccountQuery, AccountSubscription};

/// Root query.
#[derive(MergedObject, Default)]
pub struct Query(AccountQuery);

/// Root mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(AccountMutation);

/// Root subscription.
#[derive(MergedSubscription, Default)]
pub struct Subscription(AccountSubscription);
