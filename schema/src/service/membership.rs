//! Membership changes (a member removed or given another role, a login, an
//! account's new tier), the port that carries them to every instance's
//! [`MemberCache`], and its two implementations side by side:
//! [`InProcessMembershipChanges`] for one process, [`RedisMembershipChanges`]
//! for instances sharing a Redis.
//!
//! Every authenticated operation acts as the member its caller is now, read
//! through the cache; a change must therefore reach every cache at once, or
//! a removed member would keep access for as long as an entry lives.

mod redis;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use self::redis::RedisMembershipChanges;
use super::MemberCache;

/// What changed; travels between instances as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum MembershipChange {
    /// The member was removed or given another role: their entry goes, and
    /// their open subscriptions re-read them.
    Member {
        /// The member concerned.
        #[serde(rename = "userId")]
        user_id: Uuid,
    },
    /// The member's row changed in what only `me` shows (a login): their
    /// entry goes; subscriptions are not disturbed.
    Details {
        /// The member concerned.
        #[serde(rename = "userId")]
        user_id: Uuid,
    },
    /// Something every member of the account acts with changed (its tier):
    /// their entries go.
    Account {
        /// The account concerned.
        #[serde(rename = "accountId")]
        account_id: Uuid,
    },
    /// This instance may have missed changes (its Redis subscription was
    /// down): every entry goes and every subscription re-reads its caller.
    /// Raised locally, never published.
    Unknown,
}

impl MembershipChange {
    /// Whether it may end a subscription: removals and role changes do.
    pub fn may_end_subscriptions(self) -> bool {
        matches!(self, Self::Member { .. } | Self::Unknown)
    }

    /// Whether it may concern member `user_id` of account `account_id`.
    pub fn concerns(self, user_id: Uuid, account_id: Uuid) -> bool {
        match self {
            Self::Member { user_id: changed } | Self::Details { user_id: changed } => changed == user_id,
            Self::Account { account_id: changed } => changed == account_id,
            Self::Unknown => true,
        }
    }
}

/// Port: tells every instance's [`MemberCache`] of a change.
pub trait MembershipChanges: Send + Sync {
    /// Applies `change` to this instance's cache at once, and to the others'
    /// as soon as it reaches them; never blocks the caller.
    fn publish(&self, change: MembershipChange);
}

/// One process: changes apply to its cache directly.
pub struct InProcessMembershipChanges {
    cache: Arc<MemberCache>,
}

impl InProcessMembershipChanges {
    /// Changes applied to `cache`.
    pub fn new(cache: Arc<MemberCache>) -> Self {
        Self { cache }
    }
}

impl MembershipChanges for InProcessMembershipChanges {
    fn publish(&self, change: MembershipChange) {
        self.cache.apply(change);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_travel_as_json() {
        let user_id = Uuid::now_v7();
        let change = MembershipChange::Member { user_id };
        let json = serde_json::to_value(change).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json, serde_json::json!({ "kind": "member", "userId": user_id }));
        let back: MembershipChange = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, change);
    }

    #[test]
    fn only_removals_and_role_changes_reach_subscriptions() {
        let (user_id, account_id) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(MembershipChange::Member { user_id }.may_end_subscriptions());
        assert!(MembershipChange::Unknown.may_end_subscriptions());
        assert!(!MembershipChange::Details { user_id }.may_end_subscriptions());
        assert!(!MembershipChange::Account { account_id }.may_end_subscriptions());
        assert!(MembershipChange::Member { user_id }.concerns(user_id, account_id));
        assert!(!MembershipChange::Member { user_id: Uuid::now_v7() }.concerns(user_id, account_id));
        assert!(MembershipChange::Account { account_id }.concerns(Uuid::now_v7(), account_id));
    }
}
