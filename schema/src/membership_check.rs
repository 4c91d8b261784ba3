//! The membership check, run by the request guard: every operation acts
//! as the member its caller is now, and no subscription outlives the
//! membership it began under.
//!
//! Access tokens live for hours, and a member can be removed or given
//! another role at any moment. Before anything executes, the token's user
//! is resolved through [`MemberCache`] (memory, or the database on a miss)
//! and a [`Caller`] with the member's current role and tier goes into the
//! request: resolvers read only that ([`ContextExt::viewer`]), so a removed
//! member is `UNAUTHENTICATED` on every field, as `me` is, and a demoted one
//! acts with the role they have now. Over a WebSocket the token comes once,
//! in `connection_init`; every operation on the connection is checked all
//! the same.
//!
//! A subscription watches the membership it began under: when a removal or
//! role change of its caller arrives, and every [`MemberCache::ttl`] in
//! case one was lost, it re-reads them. A removed member's subscription
//! ends with an `UNAUTHENTICATED` error; one whose role changed completes,
//! so that the client subscribes again under the role it has now (what a
//! subscription yields is resolved with the caller it began with).
//!
//! [`ContextExt::viewer`]: crate::ContextExt::viewer

use std::any::TypeId;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_graphql::extensions::ExtensionContext;
use async_graphql::{Request, Response, ServerError, ServerResult};
use futures_util::stream::{BoxStream, StreamExt};
use sea_orm::DatabaseConnection;
use tokio::sync::Semaphore;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Interval, MissedTickBehavior};
use uuid::Uuid;

use alatar_entity::{AccountScope, Role};

use crate::auth::AccessClaims;
use crate::context::{AppState, Caller, Viewer};
use crate::error::ApiError;
use crate::service::{MemberCache, MembershipChange};

/// The shortest time between two periodic re-reads of a subscription's caller.
const MIN_RECHECK: Duration = Duration::from_secs(1);

/// Subscriptions re-reading their caller at once. After a lost Redis
/// subscription every one of them re-reads; queued on these permits, the
/// first of a member's reads the database and the others find the result in
/// the cache, instead of all of them reading at once.
static RECHECKS: Semaphore = Semaphore::const_new(8);

/// Who an operation began as.
#[derive(Debug, Clone, Copy)]
struct BeganAs {
    user_id: Uuid,
    account_id: Uuid,
    role: Role,
}

/// Per request: who it began as, once resolved, for its subscription (whose
/// stream exists before the request is prepared) to watch. Run by the
/// request guard rather than as an extension of its own: async-graphql wraps
/// every field's resolution in one boxed future per extension, and a second
/// extension cost the `me` benchmark a fifth of its throughput.
#[derive(Default)]
pub(crate) struct MembershipCheck {
    began_as: Arc<OnceLock<BeganAs>>,
}

/// A GraphQL error with `err`'s message and code.
fn server_error(err: &ApiError) -> ServerError {
    let mut error = ServerError::new(err.to_string(), None);
    err.annotate(&mut error);
    error
}

/// The token's claims: the request's own (HTTP), else the connection's
/// (WebSocket `connection_init`).
fn token_claims(ctx: &ExtensionContext<'_>, request: &Request) -> Option<AccessClaims> {
    let own = request.data.get(&TypeId::of::<Viewer>()).and_then(|data| data.downcast_ref::<Viewer>());
    own.or_else(|| ctx.data_opt::<Viewer>()).map(|viewer| viewer.0.clone())
}

impl MembershipCheck {
    /// `inner` (a subscription's responses), ended when its caller stops
    /// being a member or changes role.
    pub(crate) fn watch<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        inner: BoxStream<'s, Response>,
    ) -> BoxStream<'s, Response> {
        let Some(state) = ctx.data_opt::<AppState>() else { return inner };
        let watch = Watch {
            inner,
            began_as: self.began_as.clone(),
            // Subscribed before the request is prepared: no change after the
            // caller was read can slip by.
            changes: Some(state.members.changes()),
            recheck: None,
            members: state.members.clone(),
            db: state.db.clone(),
            ended: false,
        };
        futures_util::stream::unfold(watch, |mut watch| async move {
            let item = watch.next().await?;
            Some((item, watch))
        })
        .boxed()
    }

    /// Puts the caller as they stand now into `request` (a [`Caller`]), or
    /// none for a token whose holder is no member any more.
    pub(crate) async fn admit(&self, ctx: &ExtensionContext<'_>, mut request: Request) -> ServerResult<Request> {
        if let Some(token) = token_claims(ctx, &request) {
            let Some(state) = ctx.data_opt::<AppState>() else {
                return Err(server_error(&ApiError::internal(anyhow::anyhow!("the schema has no application state"))));
            };
            match state.members.current(&state.db, AccountScope::new(token.acc), token.sub).await {
                Ok(Some(member)) => {
                    let (role, tier) = (member.user.role, member.tier);
                    let _ = self.began_as.set(BeganAs { user_id: token.sub, account_id: token.acc, role });
                    let changed = role != token.role || tier != token.tier;
                    let claims = AccessClaims { role, tier, ..token };
                    if changed {
                        // The rate limiter charges by the tier in the `Viewer`.
                        request.data.insert(Viewer(claims.clone()));
                    }
                    request.data.insert(Caller { claims, member });
                }
                // No `Caller`: every resolver that needs one answers UNAUTHENTICATED.
                Ok(None) => tracing::warn!(
                    user_id = %token.sub, account_id = %token.acc,
                    "a token of someone who is no member any more was refused"
                ),
                Err(err) => return Err(server_error(&err)),
            }
        }
        Ok(request)
    }
}

/// A subscription's responses, watching the membership it began under.
struct Watch<'s> {
    inner: BoxStream<'s, Response>,
    began_as: Arc<OnceLock<BeganAs>>,
    /// `None` once the cache's channel closed (it lives as long as the schema).
    changes: Option<broadcast::Receiver<MembershipChange>>,
    /// Made on the first poll, inside the runtime.
    recheck: Option<Interval>,
    members: Arc<MemberCache>,
    db: DatabaseConnection,
    ended: bool,
}

/// What woke a watching subscription.
enum Woken {
    Response(Option<Response>),
    Change(Result<MembershipChange, RecvError>),
    Recheck,
}

/// Where a subscription's caller stands, compared with when it began.
enum Standing {
    Unchanged,
    RoleChanged,
    Removed,
}

impl Watch<'_> {
    async fn next(&mut self) -> Option<Response> {
        while !self.ended {
            let every = self.members.ttl().max(MIN_RECHECK);
            let recheck = self.recheck.get_or_insert_with(|| {
                let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
                timer
            });
            let woken = tokio::select! {
                response = self.inner.next() => Woken::Response(response),
                change = next_change(&mut self.changes) => Woken::Change(change),
                _ = recheck.tick() => Woken::Recheck,
            };
            let began_as = self.began_as.get().copied();
            let reread = match woken {
                Woken::Response(response) => {
                    self.ended = response.is_none();
                    return response;
                }
                Woken::Change(Ok(change)) => began_as.is_some_and(|b| change.concerns(b.user_id, b.account_id)),
                // Some were missed: any of them may have been this caller's.
                Woken::Change(Err(RecvError::Lagged(_))) => true,
                Woken::Change(Err(RecvError::Closed)) => {
                    self.changes = None;
                    false
                }
                Woken::Recheck => true,
            };
            // Anonymous, or not begun yet: nothing to watch.
            let (true, Some(began_as)) = (reread, began_as) else { continue };
            // Boxed: an idle subscription's state stays small.
            match Box::pin(standing(&self.members, &self.db, began_as)).await {
                Standing::Unchanged => {}
                Standing::RoleChanged => {
                    self.ended = true;
                    return None;
                }
                Standing::Removed => {
                    self.ended = true;
                    return Some(Response::from_errors(vec![server_error(&ApiError::Unauthenticated)]));
                }
            }
        }
        None
    }
}

/// The next change, or never once the channel closed.
async fn next_change(
    changes: &mut Option<broadcast::Receiver<MembershipChange>>,
) -> Result<MembershipChange, RecvError> {
    match changes {
        Some(changes) => changes.recv().await,
        None => std::future::pending().await,
    }
}

/// Where `began_as`'s member stands now.
async fn standing(members: &MemberCache, db: &DatabaseConnection, began_as: BeganAs) -> Standing {
    let _permit = RECHECKS.acquire().await.ok();
    match members.current(db, AccountScope::new(began_as.account_id), began_as.user_id).await {
        Ok(Some(member)) if member.user.role == began_as.role => Standing::Unchanged,
        Ok(Some(_)) => Standing::RoleChanged,
        Ok(None) => Standing::Removed,
        Err(err) => {
            // Kept open: the next change or periodic re-read tries again.
            tracing::warn!(error = ?err, user_id = %began_as.user_id, "cannot re-read a subscriber's membership");
            Standing::Unchanged
        }
    }
}
