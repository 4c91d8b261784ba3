//! Request guard, run inside async-graphql before any resolver: bounds the
//! document (tokens before it is parsed; selections, aliases and directives
//! as its fragments expand, computed without expanding them: see
//! `document_bound`) before async-graphql walks it (which caps depth and
//! complexity itself), applies rate limits, gives each query or mutation a
//! time budget, and caps and codes the errors of every answer.

mod document_bound;
mod tokens;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest, NextRequest,
    NextSubscribe, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};
use futures_util::stream::{BoxStream, StreamExt};

use alatar_entity::Tier;

use crate::context::Viewer;
use crate::documents::{DocumentKey, ValidatedDocuments};
use crate::error::ApiError;
use crate::membership_check::MembershipCheck;
use crate::rate_limit::{RateDecision, RateLimiter};

pub(crate) use document_bound::DocumentLimits;

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
    pub(crate) bounds: DocumentLimits,
    pub(crate) max_errors: usize,
    pub(crate) operation_timeout: Option<Duration>,
    pub(crate) limits: Arc<RateLimits>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) validated: Arc<ValidatedDocuments>,
}

impl ExtensionFactory for RequestGuardFactory {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestGuard {
            bounds: self.bounds,
            max_errors: self.max_errors,
            operation_timeout: self.operation_timeout,
            limits: self.limits.clone(),
            limiter: self.limiter.clone(),
            heavy_by_operation: Mutex::new(HashMap::new()),
            validated: self.validated.clone(),
            document: Mutex::new(None),
            membership: MembershipCheck::default(),
        })
    }
}

/// Per-request state: heavy root fields per operation name (`None` for the
/// anonymous one), found at parse time and charged at execute time, so that
/// only valid operations count.
pub struct RequestGuard {
    bounds: DocumentLimits,
    max_errors: usize,
    /// `None`: operations run as long as they take.
    operation_timeout: Option<Duration>,
    limits: Arc<RateLimits>,
    limiter: Arc<dyn RateLimiter>,
    heavy_by_operation: Mutex<HashMap<Option<String>, u64>>,
    validated: Arc<ValidatedDocuments>,
    /// This request's document, when its validation can be remembered.
    document: Mutex<Option<DocumentKey>>,
    /// The caller as they stand now, and their subscriptions watched.
    membership: MembershipCheck,
}

impl RequestGuard {
    /// Refuses a document over the limits before async-graphql parses it
    /// (tokens) or walks it (the rest): its recursion-depth check, validation
    /// and complexity count follow every fragment spread path by path, so
    /// they must only ever see a bounded document. The request is parsed
    /// here, once (or was, by the `DocumentCache`); async-graphql takes the
    /// parsed document from it.
    fn bound(&self, ctx: &ExtensionContext<'_>, mut request: Request) -> ServerResult<Request> {
        self.bounds.check_text(&request.query)?;
        let directives = &ctx.schema_env.registry.directives;
        let repeatable = |name: &str| directives.get(name).map(|d| d.is_repeatable);
        self.bounds.check_document(request.parsed_query()?, &repeatable)?;
        Ok(request)
    }
}

/// Keeps the first `max` errors of `response` and says how many more there
/// were in one last error: validation reports every error it finds (one per
/// unknown directive, unused fragment or variable), and no answer should be
/// much larger than its request. async-graphql's validation has no error cap
/// of its own; the document limits bound how many it can find.
pub(crate) fn cap_errors(response: &mut Response, max: usize) {
    if response.errors.len() > max {
        let dropped = response.errors.len() - max;
        response.errors.truncate(max);
        let message = format!("too many errors; the first {max} shown, {dropped} more left out (max_errors)");
        response.errors.push(ServerError::new(message, None));
    }
}

/// Heavy root fields of an operation. It follows spreads path by path, which
/// is safe only because `prepare_request` bounded the expanded document.
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
        // Capped first, so that only the errors sent are annotated (and logged).
        cap_errors(&mut response, self.max_errors);
        annotate_errors(&mut response);
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let max_errors = self.max_errors;
        let inner = next.run(ctx, stream);
        self.membership
            .watch(ctx, inner)
            .map(move |mut response| {
                cap_errors(&mut response, max_errors);
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
        let request = self.bound(ctx, request)?;
        let request = self.membership.admit(ctx, request).await?;
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
        // The document was bounded in `prepare_request`, before this parse
        // step's own walks (async-graphql's recursion-depth check) ran.
        let doc = next.run(ctx, query, variables).await?;
        let mut heavy = HashMap::new();
        for (name, op) in doc.operations.iter() {
            let count = heavy_root_fields(&op.node.selection_set.node, &doc, &self.limits.heavy_fields);
            heavy.insert(name.map(|n| n.to_string()), count);
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
        let run = next.run(ctx, operation_name);
        let Some(budget) = self.operation_timeout else { return run.await };
        // Dropping the execution stops it at its next await point (a
        // database call, a lock, a spawned task's answer); work that never
        // awaits is bounded by the document limits instead. Subscriptions
        // never come through `execute`, so they have no budget.
        match tokio::time::timeout(budget, run).await {
            Ok(response) => response,
            Err(_) => {
                let budget_ms = u64::try_from(budget.as_millis()).unwrap_or(u64::MAX);
                tracing::warn!(budget_ms, operation = operation_name.unwrap_or(""), "operation ran past its budget");
                let err = ApiError::Timeout { budget_ms };
                let mut error = ServerError::new(err.to_string(), None);
                err.annotate(&mut error);
                Response::from_errors(vec![error])
            }
        }
    }
}
