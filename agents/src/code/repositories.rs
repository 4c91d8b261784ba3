//! The analyst team's port onto one account's analysed repositories: the
//! completed analyses, code search and a node's neighbours, bound to the
//! account's scope when the department's task is built.

use async_trait::async_trait;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use alatar_entity::{AccountScope, repository_analysis};

use super::neighbours::{self, Neighbourhood};
use super::search::{self, CodeSearch};
use crate::pipeline::Pipeline;

/// Most analyses listed.
pub const MAX_LISTED: u64 = 50;

/// One account's analysed repositories.
#[async_trait]
pub trait Repositories: Send + Sync {
    /// Its completed analyses, newest first.
    async fn analyses(&self) -> anyhow::Result<Vec<repository_analysis::Model>>;
    /// Searches analysis `repository_id` (see `code::search`).
    async fn search(&self, repository_id: Uuid, query: &str, first: usize, expand: usize)
    -> anyhow::Result<CodeSearch>;
    /// Node `id` with its neighbours.
    async fn neighbourhood(&self, id: Uuid) -> anyhow::Result<Option<Neighbourhood>>;
}

/// [`Repositories`] over the database and the Knowledge index.
pub struct AccountRepositories {
    pipeline: Pipeline,
    scope: AccountScope,
}

impl AccountRepositories {
    /// `scope`'s repositories.
    pub fn new(pipeline: Pipeline, scope: AccountScope) -> Self {
        Self { pipeline, scope }
    }
}

#[async_trait]
impl Repositories for AccountRepositories {
    async fn analyses(&self) -> anyhow::Result<Vec<repository_analysis::Model>> {
        Ok(self
            .scope
            .find::<repository_analysis::Entity>()
            .filter(repository_analysis::Column::CompletedAt.is_not_null())
            .filter(repository_analysis::Column::Error.is_null())
            .order_by_desc(repository_analysis::Column::Id)
            .limit(MAX_LISTED)
            .all(&self.scope.on(&self.pipeline.db))
            .await?)
    }

    async fn search(
        &self,
        repository_id: Uuid,
        query: &str,
        first: usize,
        expand: usize,
    ) -> anyhow::Result<CodeSearch> {
        search::search_code(&self.pipeline, self.scope, repository_id, query, first, expand)
            .await?
            .ok_or_else(|| anyhow::anyhow!("repository {repository_id} has no completed analysis"))
    }

    async fn neighbourhood(&self, id: Uuid) -> anyhow::Result<Option<Neighbourhood>> {
        Ok(neighbours::neighbourhood(&self.pipeline.db, self.scope, id).await?)
    }
}
