//! The members callers are, as they are now: a per-process cache of member
//! rows (with their account's tier) that every authenticated operation
//! resolves its caller through, and `me` displays.
//!
//! Access tokens live for hours; a member can be removed or given another
//! role at any moment. Reading the row on every request made `me` cost ten
//! times a plain HTTP answer, so rows are kept here, at most
//! [`MemberCache::ttl`] (a safety net), and dropped at once, on every
//! instance, when they change: [`MembershipChanges`](super::membership::MembershipChanges)
//! carries each change (Redis pub/sub in production, this process
//! embedded). While changes from other instances may not arrive (the Redis
//! subscription is down), entries are kept at most [`UNHEARD_TTL`].
//!
//! A read that began before a change is not kept after it (a generation
//! counter, checked under the lock changes take), so a row read just
//! before a removal cannot outlive the removal in memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use tokio::sync::broadcast;
use uuid::Uuid;

use alatar_entity::{AccountScope, Tier, user};

use super::accounts;
use super::membership::MembershipChange;
use crate::bounded::make_room;
use crate::error::{ApiError, ApiResult};

/// Entries at most (see [`make_room`]).
const MAX_ENTRIES: usize = 10_000;
/// How long entries are kept while changes made on other instances may not
/// reach this one.
pub const UNHEARD_TTL: Duration = Duration::from_secs(1);
/// Changes buffered for open subscriptions; one that falls further behind
/// re-reads its caller.
const CHANGES_BACKLOG: usize = 256;

/// A member as last read: their row and their account's tier.
#[derive(Debug, Clone)]
pub struct Member {
    /// The member's row, role included.
    pub user: user::Model,
    /// Their account's plan (rate limits).
    pub tier: Tier,
}

/// Members by user id, each with the time it was read.
pub struct MemberCache {
    ttl: Duration,
    entries: Mutex<HashMap<Uuid, (Instant, Arc<Member>)>>,
    /// Bumped by every change; a read begun under an older value is not kept.
    generation: AtomicU64,
    /// Whether changes made on other instances reach this cache now.
    hearing: AtomicBool,
    /// Removals and role changes applied here, for open subscriptions.
    applied: broadcast::Sender<MembershipChange>,
}

impl Default for MemberCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_TTL)
    }
}

impl MemberCache {
    /// How long an entry is kept when every change reaches this cache: only
    /// a change lost on its way depends on it.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

    /// A cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            hearing: AtomicBool::new(true),
            applied: broadcast::channel(CHANGES_BACKLOG).0,
        }
    }

    /// How stale an entry may be.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How long entries are kept just now.
    fn fresh_for(&self) -> Duration {
        if self.hearing.load(Ordering::Acquire) { self.ttl } else { self.ttl.min(UNHEARD_TTL) }
    }

    /// The member `user_id` of `scope`'s account, if read recently enough.
    pub fn get(&self, scope: AccountScope, user_id: Uuid) -> Option<Arc<Member>> {
        let fresh_for = self.fresh_for();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (at, member) = entries.get(&user_id)?;
        (at.elapsed() < fresh_for && member.user.account_id == scope.account_id()).then(|| member.clone())
    }

    /// The member `user_id` of `scope`'s account as they are now: from
    /// memory when fresh, else read (and kept); `None` when they are no
    /// member of it (removed, or never were).
    pub async fn current(
        &self,
        db: &DatabaseConnection,
        scope: AccountScope,
        user_id: Uuid,
    ) -> ApiResult<Option<Arc<Member>>> {
        if let Some(found) = self.get(scope, user_id) {
            return Ok(Some(found));
        }
        // Taken before the read: a change while it runs keeps its result out.
        let generation = self.generation.load(Ordering::SeqCst);
        let user = match accounts::member(db, scope, user_id).await {
            Ok(user) => user,
            Err(ApiError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let tier = match accounts::account(db, scope).await {
            Ok(account) => account.tier,
            Err(ApiError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let member = Arc::new(Member { user, tier });
        self.put(member.clone(), generation);
        Ok(Some(member))
    }

    /// Keeps `member`, read when the generation was `generation`, unless a
    /// change came since.
    fn put(&self, member: Arc<Member>, generation: u64) {
        let fresh_for = self.fresh_for();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Under the lock `apply` removes entries under, after bumping the
        // generation: a change before this check keeps the read out, one
        // after it removes the entry.
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        make_room(&mut entries, MAX_ENTRIES, |(at, _)| at.elapsed() < fresh_for);
        entries.insert(member.user.id, (Instant::now(), member));
    }

    /// Applies a change made here or on another instance: drops the entries
    /// it concerns and tells open subscriptions of removals and role changes.
    pub fn apply(&self, change: MembershipChange) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            match change {
                MembershipChange::Member { user_id } | MembershipChange::Details { user_id } => {
                    entries.remove(&user_id);
                }
                MembershipChange::Account { account_id } => {
                    entries.retain(|_, (_, member)| member.user.account_id != account_id);
                }
                MembershipChange::Unknown => entries.clear(),
            }
        }
        if change.may_end_subscriptions() {
            // No open subscription is not an error.
            let _ = self.applied.send(change);
        }
    }

    /// Drops `user_id` in this process only; a change other instances must
    /// see goes through [`MembershipChanges`](super::membership::MembershipChanges).
    pub fn forget(&self, user_id: Uuid) {
        self.apply(MembershipChange::Member { user_id });
    }

    /// Whether changes made on other instances reach this cache now; while
    /// they may not, entries are kept at most [`UNHEARD_TTL`].
    pub fn set_hearing(&self, hearing: bool) {
        self.hearing.store(hearing, Ordering::Release);
    }

    /// Removals and role changes applied from now on (and
    /// [`MembershipChange::Unknown`]), for a subscription to re-read its
    /// caller.
    pub fn changes(&self) -> broadcast::Receiver<MembershipChange> {
        self.applied.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(account_id: Uuid) -> Arc<Member> {
        Arc::new(Member {
            user: user::Model {
                id: Uuid::now_v7(),
                account_id,
                email: "a@shop.example".into(),
                password_hash: String::new(),
                role: alatar_entity::Role::Owner,
                created_at: chrono::Utc::now(),
                last_login_at: None,
                shopify_user_id: None,
            },
            tier: Tier::Free,
        })
    }

    /// Keeps `m` as a read that began now.
    fn read(cache: &MemberCache, m: &Arc<Member>) {
        cache.put(m.clone(), cache.generation.load(Ordering::SeqCst));
    }

    #[test]
    fn serves_fresh_entries_of_the_same_account_only() {
        let cache = MemberCache::new(Duration::from_secs(60));
        let account = Uuid::now_v7();
        let m = member(account);
        assert!(cache.get(AccountScope::new(account), m.user.id).is_none());
        read(&cache, &m);
        assert_eq!(cache.get(AccountScope::new(account), m.user.id).map(|u| u.user.id), Some(m.user.id));
        assert!(cache.get(AccountScope::new(Uuid::now_v7()), m.user.id).is_none(), "another account's scope");
        cache.forget(m.user.id);
        assert!(cache.get(AccountScope::new(account), m.user.id).is_none());
    }

    #[test]
    fn entries_expire() {
        let cache = MemberCache::new(Duration::from_millis(1));
        let m = member(Uuid::now_v7());
        read(&cache, &m);
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.get(AccountScope::new(m.user.account_id), m.user.id).is_none());
    }

    #[test]
    fn a_read_begun_before_a_change_is_not_kept() {
        let cache = MemberCache::new(Duration::from_secs(60));
        let m = member(Uuid::now_v7());
        let began = cache.generation.load(Ordering::SeqCst);
        cache.apply(MembershipChange::Member { user_id: m.user.id });
        cache.put(m.clone(), began);
        assert!(cache.get(AccountScope::new(m.user.account_id), m.user.id).is_none());
    }

    #[test]
    fn account_changes_drop_that_accounts_members_only() {
        let cache = MemberCache::new(Duration::from_secs(60));
        let (here, there) = (member(Uuid::now_v7()), member(Uuid::now_v7()));
        read(&cache, &here);
        read(&cache, &there);
        cache.apply(MembershipChange::Account { account_id: here.user.account_id });
        assert!(cache.get(AccountScope::new(here.user.account_id), here.user.id).is_none());
        assert!(cache.get(AccountScope::new(there.user.account_id), there.user.id).is_some());
        cache.apply(MembershipChange::Unknown);
        assert!(cache.get(AccountScope::new(there.user.account_id), there.user.id).is_none());
    }

    #[test]
    fn entries_are_kept_briefly_while_other_instances_are_not_heard() {
        let cache = MemberCache::new(Duration::from_secs(60));
        let m = member(Uuid::now_v7());
        read(&cache, &m);
        cache.set_hearing(false);
        assert!(cache.get(AccountScope::new(m.user.account_id), m.user.id).is_some(), "younger than 1 s");
        std::thread::sleep(UNHEARD_TTL + Duration::from_millis(50));
        assert!(cache.get(AccountScope::new(m.user.account_id), m.user.id).is_none());
    }

    #[test]
    fn subscriptions_hear_of_removals_and_role_changes_only() {
        let cache = MemberCache::new(Duration::from_secs(60));
        let mut changes = cache.changes();
        let user_id = Uuid::now_v7();
        cache.apply(MembershipChange::Details { user_id });
        cache.apply(MembershipChange::Member { user_id });
        assert_eq!(changes.try_recv().ok(), Some(MembershipChange::Member { user_id }));
        assert!(changes.try_recv().is_err());
    }
}
