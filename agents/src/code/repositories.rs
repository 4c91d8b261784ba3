//! The analyst team's port onto one account's analysed repositories: the
//! completed analyses, code search and a node's neighbours, and a new
//! analysis of a repository a question names, bound to the account's scope
//! (and the asking user) when the department's task is built.

use async_trait::async_trait;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use alatar_entity::{AccountScope, Role, job, repository_analysis, user};

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
    /// Starts an analysis of `url` for the asking user, with the checks of
    /// `analyzeRepository` (scheme, private addresses, viewers), unless one
    /// of the same repository is under way.
    async fn analyse(&self, url: &str) -> anyhow::Result<Analysing>;
}

/// What [`Repositories::analyse`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Analysing {
    /// Queued now.
    Queued(repository_analysis::Model),
    /// One of the same repository was under way already.
    Running(repository_analysis::Model),
    /// Not started, and why (said to the merchant).
    Refused(String),
}

/// A repository URL as compared: lower case, without a trailing `/` or `.git`.
pub fn same_repository(a: &str, b: &str) -> bool {
    let norm = |u: &str| {
        let u = u.trim().trim_end_matches('/').to_lowercase();
        u.strip_suffix(".git").map(str::to_owned).unwrap_or(u)
    };
    norm(a) == norm(b)
}

/// [`Repositories`] over the database and the Knowledge index.
pub struct AccountRepositories {
    pipeline: Pipeline,
    scope: AccountScope,
    /// Who asked: a new analysis is theirs, and needs their role to allow it.
    requester: Uuid,
}

impl AccountRepositories {
    /// `scope`'s repositories, as `requester` may use them.
    pub fn new(pipeline: Pipeline, scope: AccountScope, requester: Uuid) -> Self {
        Self { pipeline, scope, requester }
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

    async fn analyse(&self, url: &str) -> anyhow::Result<Analysing> {
        let on = self.scope.on(&self.pipeline.db);
        // The member as they are now: removed, or a viewer, starts nothing.
        let member = self.scope.find::<user::Entity>().filter(user::Column::Id.eq(self.requester)).one(&on).await?;
        match member.map(|m| m.role) {
            None => return Ok(Analysing::Refused("the asking user is no longer a member of this account".into())),
            Some(Role::Viewer) => return Ok(Analysing::Refused("viewers cannot analyse repositories".into())),
            Some(_) => {}
        }
        // The newest analysis of the same repository decides: under way
        // (its job queued or running), failed (said, not tried again: the
        // merchant retries with analyzeRepository), or none (start one).
        let newest = self
            .scope
            .find::<repository_analysis::Entity>()
            .order_by_desc(repository_analysis::Column::Id)
            .limit(MAX_LISTED)
            .all(&on)
            .await?
            .into_iter()
            .find(|a| same_repository(&a.url, url));
        if let Some(newest) = newest {
            let status = self.scope.find::<job::Entity>().filter(job::Column::Id.eq(newest.job_id)).one(&on).await?;
            let open = status.as_ref().is_some_and(|j| !j.status().is_terminal());
            if open {
                return Ok(Analysing::Running(newest));
            }
            if let Some(error) = newest.error.as_deref() {
                return Ok(Analysing::Refused(format!(
                    "its last analysis failed ({error}); analyzeRepository tries it again"
                )));
            }
        }
        if let Err(refused) = super::source::check(url, &self.pipeline.code).await {
            return Ok(Analysing::Refused(refused.to_string()));
        }
        let (analysis, job) = super::queued(self.scope.account_id(), self.requester, url.trim(), None, None);
        let tx = crate::write::begin_write(&self.pipeline.db).await?;
        super::insert(&tx, &analysis, &job).await?;
        tx.commit().await?;
        self.pipeline.outbox.notify_one();
        Ok(Analysing::Queued(analysis))
    }
}
