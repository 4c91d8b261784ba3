//! A short-lived, per-process cache of the members `me` reads.
//!
//! `me` is what every client asks first and then keeps asking (each app load,
//! each poll), while a member row changes rarely. Reading it through the
//! database every time made the query cost ten times a plain HTTP answer.
//!
//! Only display reads use it: authorisation (`accounts::actor`,
//! `accounts::manager`) always re-reads the row. Writes in this process
//! (login, member removal) forget the entry at once; a write on another
//! instance shows here after at most [`MemberCache::ttl`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use alatar_entity::{AccountScope, user};

use crate::bounded::make_room;

/// Entries at most (see [`make_room`]).
const MAX_ENTRIES: usize = 10_000;

/// Members by user id, each with the time it was read.
pub struct MemberCache {
    ttl: Duration,
    entries: Mutex<HashMap<Uuid, (Instant, user::Model)>>,
}

impl Default for MemberCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(1))
    }
}

impl MemberCache {
    /// A cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// How stale an entry may be.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The member `user_id` of `scope`'s account, if read within the TTL.
    pub fn get(&self, scope: AccountScope, user_id: Uuid) -> Option<user::Model> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (at, member) = entries.get(&user_id)?;
        (at.elapsed() < self.ttl && member.account_id == scope.account_id()).then(|| member.clone())
    }

    /// Remembers a member just read.
    pub fn put(&self, member: &user::Model) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        make_room(&mut entries, MAX_ENTRIES, |(at, _)| at.elapsed() < self.ttl);
        entries.insert(member.id, (Instant::now(), member.clone()));
    }

    /// Drops `user_id` after a change to their row.
    pub fn forget(&self, user_id: Uuid) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(&user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(account_id: Uuid) -> user::Model {
        user::Model {
            id: Uuid::now_v7(),
            account_id,
            email: "a@shop.example".into(),
            password_hash: String::new(),
            role: alatar_entity::Role::Owner,
            created_at: chrono::Utc::now(),
            last_login_at: None,
            shopify_user_id: None,
        }
    }

    #[test]
    fn serves_fresh_entries_of_the_same_account_only() {
        let cache = MemberCache::new(Duration::from_secs(60));
        let account = Uuid::now_v7();
        let m = member(account);
        assert!(cache.get(AccountScope::new(account), m.id).is_none());
        cache.put(&m);
        assert_eq!(cache.get(AccountScope::new(account), m.id).map(|u| u.id), Some(m.id));
        assert!(cache.get(AccountScope::new(Uuid::now_v7()), m.id).is_none(), "another account's scope");
        cache.forget(m.id);
        assert!(cache.get(AccountScope::new(account), m.id).is_none());
    }

    #[test]
    fn entries_expire() {
        let cache = MemberCache::new(Duration::from_millis(1));
        let m = member(Uuid::now_v7());
        cache.put(&m);
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.get(AccountScope::new(m.account_id), m.id).is_none());
    }
}
