//! Request guard, run inside async-graphql before any resolver: caps aliases
//! (async-graphql caps depth and complexity itself) and applies rate limits.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest, NextRequest,
    NextSubscribe, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{Name, Positioned, Request, Response, ServerError, ServerResult, ValidationResult, Variables};
use futures_util::stream::{BoxStream, StreamExt};

use alatar_entity::Tier;

use crate::context::Viewer;
use crate::documents::{DocumentKey, ValidatedDocuments};
use crate::error::ApiError;
use crate::rate_limit::{RateDecision, RateLimiter};

/// Rate limit settings.
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Heavy operations per user per window on the free tier.
    pub free_per_window: u64,
    /// The same on the premium tier.
    pub premium_per_window: u64,
    /// Window length (one hour by default).
    pub window: Duration,
    /// Root fields that count as heavy (analysis and query operations).
    pub heavy_fields: HashSet<String>,
}

/// Builds a [`RequestGuard`] per request.
pub struct RequestGuardFactory {
    pub(crate) max_aliases: usize,
    pub(crate) limits: Arc<RateLimits>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) validated: Arc<ValidatedDocuments>,
}

impl ExtensionFactory for RequestGuardFactory {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestGuard {
            max_aliases: self.max_aliases,
            limits: self.limits.clone(),
            limiter: self.limiter.clone(),
            heavy_by_operation: Mutex::new(HashMap::new()),
            validated: self.validated.clone(),
            document: Mutex::new(None),
        })
    }
}

/// Per-request state: heavy root fields per operation name (`None` for the
/// anonymous one), found at parse time and charged at execute time, so that
/// only valid operations count.
pub struct RequestGuard {
    max_aliases: usize,
    limits: Arc<RateLimits>,
    limiter: Arc<dyn RateLimiter>,
    heavy_by_operation: Mutex<HashMap<Option<String>, u64>>,
    validated: Arc<ValidatedDocuments>,
    /// This request's document, when its validation can be remembered.
    document: Mutex<Option<DocumentKey>>,
}

fn count_aliases(set: &SelectionSet, fragments: &HashMap<Name, Positioned<FragmentDefinition>>, depth: usize) -> usize {
    if depth > 64 {
        return 0; // fragment cycles are rejected by validation; do not recurse forever
    }
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + count_aliases(&f.node.selection_set.node, fragments, depth + 1)
            }
            Selection::InlineFragment(f) => count_aliases(&f.node.selection_set.node, fragments, depth + 1),
            Selection::FragmentSpread(s) => fragments
                .get(&s.node.fragment_name.node)
                .map_or(0, |d| count_aliases(&d.node.selection_set.node, fragments, depth + 1)),
        })
        .sum()
}

fn heavy_root_fields(set: &SelectionSet, doc: &ExecutableDocument, heavy: &HashSet<String>) -> u64 {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => u64::from(heavy.contains(f.node.name.node.as_str())),
            Selection::InlineFragment(f) => heavy_root_fields(&f.node.selection_set.node, doc, heavy),
            Selection::FragmentSpread(s) => doc
                .fragments
                .get(&s.node.fragment_name.node)
                .map_or(0, |d| heavy_root_fields(&d.node.selection_set.node, doc, heavy)),
        })
        .sum()
}

/// Gives every error a stable code: [`ApiError`]s annotate themselves;
/// errors raised by async-graphql itself before execution (parse, validation,
/// limits, variable coercion) are the client's: `BAD_USER_INPUT`.
pub(crate) fn annotate_errors(response: &mut Response) {
    for error in &mut response.errors {
        if let Some(values) = error.source::<ApiError>().map(ApiError::extensions) {
            let ext = error.extensions.get_or_insert_with(Default::default);
            for (key, value) in values {
                ext.set(key, value);
            }
        } else if error.extensions.as_ref().is_none_or(|e| e.get("code").is_none()) {
            let code = if error.path.is_empty() { "BAD_USER_INPUT" } else { "INTERNAL" };
            if code == "INTERNAL" {
                tracing::error!(message = %error.message, "unclassified resolver error");
                error.message = "internal error".into();
            }
            error.extensions.get_or_insert_with(Default::default).set("code", code);
        }
    }
}

#[async_trait::async_trait]
impl Extension for RequestGuard {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        annotate_errors(&mut response);
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream)
            .map(|mut response| {
                annotate_errors(&mut response);
                response
            })
            .boxed()
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = next.run(ctx, request).await?;
        if let (Some(key), Ok(mut slot)) = (ValidatedDocuments::key(&request), self.document.lock()) {
            *slot = Some(key);
        }
        Ok(request)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let key = self.document.lock().ok().and_then(|mut slot| slot.take());
        if let Some(result) = key.as_ref().and_then(|key| self.validated.get(key)) {
            return Ok(result);
        }
        let result = next.run(ctx).await?;
        if let Some(key) = key {
            self.validated.put(key, result);
        }
        Ok(result)
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let mut aliases = 0;
        let mut heavy = HashMap::new();
        for (name, op) in doc.operations.iter() {
            aliases += count_aliases(&op.node.selection_set.node, &doc.fragments, 0);
            let count = heavy_root_fields(&op.node.selection_set.node, &doc, &self.limits.heavy_fields);
            heavy.insert(name.map(|n| n.to_string()), count);
        }
        if aliases > self.max_aliases {
            return Err(ServerError::new(
                format!("query uses {aliases} aliases, more than the limit of {}", self.max_aliases),
                None,
            ));
        }
        if let Ok(mut slot) = self.heavy_by_operation.lock() {
            *slot = heavy;
        }
        Ok(doc)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let cost = self.heavy_by_operation.lock().ok().and_then(|map| match operation_name {
            Some(name) => map.get(&Some(name.to_owned())).copied(),
            None if map.len() == 1 => map.values().next().copied(),
            None => None,
        });
        let viewer = ctx.data_opt::<Viewer>();
        if let (Some(cost @ 1..), Some(Viewer(claims))) = (cost, viewer) {
            let limit = match claims.tier {
                Tier::Free => self.limits.free_per_window,
                Tier::Premium => self.limits.premium_per_window,
            };
            match self.limiter.hit(&claims.sub.to_string(), cost, limit, self.limits.window).await {
                Ok(RateDecision::Allowed) => {}
                Ok(RateDecision::Limited { retry_after }) => {
                    let err = ApiError::RateLimited { retry_after };
                    let mut error = ServerError::new(err.to_string(), None);
                    err.annotate(&mut error);
                    return Response::from_errors(vec![error]);
                }
                // Fail open: a Redis outage must not take the API down with it.
                Err(err) => tracing::warn!(error = format!("{err:#}"), "rate limiter unavailable; request allowed"),
            }
        }
        next.run(ctx, operation_name).await
    }
}
