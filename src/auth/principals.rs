//! Who is signed in, remembered per access token's user and session, so that a signed-in read
//! does not ask the database who its caller is.
//!
//! Only what decides a request is kept: the user's roles, whether the account is disabled and
//! whether the session has ended. A change to any of them holds at once on the replica that
//! made it (it forgets the user right after its commit) and, on PostgreSQL, on every other
//! replica as soon as the trigger's notification arrives (`NOTIFY staybase_principals` with
//! the user id, whoever wrote). Nothing is remembered while no notification can arrive: on
//! SQLite (replicas sharing a file could not tell each other) and while the listener is not
//! connected, every request reads afresh. `STALENESS_BOUND` is the net under all of this.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use uuid::Uuid;

use crate::{
    authz::Roles,
    db::notifications::Follower,
    ids::{TenantId, UserId},
};

/// The longest an entry lives, whatever the notifications say.
pub const STALENESS_BOUND: Duration = Duration::from_secs(1);

/// The PostgreSQL channel of changes to users and sessions (see the `principal_notify`
/// migration).
const CHANNEL: &str = "staybase_principals";

/// The signed-in state of one user's session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub roles: Roles,
    pub disabled: bool,
    pub session_ended: bool,
}

type Key = (TenantId, UserId, Option<Uuid>);

#[derive(Clone)]
pub struct Principals(Arc<Inner>);

struct Inner {
    entries: moka::sync::Cache<Key, SignedIn>,
    /// Bumped by every forgetting: a read that began before it must not be remembered.
    epoch: AtomicU64,
    /// Whether changes reach this replica, so that entries may be kept.
    following: AtomicBool,
}

/// A read of the database about to start, which may be remembered once it is done.
#[derive(Debug, Clone, Copy)]
pub struct Read(Option<u64>);

impl Default for Principals {
    fn default() -> Self {
        Self(Arc::new(Inner {
            entries: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(STALENESS_BOUND)
                .support_invalidation_closures()
                .build(),
            epoch: AtomicU64::new(0),
            following: AtomicBool::new(false),
        }))
    }
}

impl Principals {
    pub fn get(&self, tenant: TenantId, user: UserId, session: Option<Uuid>) -> Option<SignedIn> {
        self.0.entries.get(&(tenant, user, session))
    }

    /// Call before reading what `remember` will be given.
    pub fn begin_read(&self) -> Read {
        let inner = &self.0;
        // The epoch first: a change seen as followed is then either before the read or bumps it.
        let epoch = inner.epoch.load(Ordering::SeqCst);
        Read(inner.following.load(Ordering::SeqCst).then_some(epoch))
    }

    /// Keeps what `read` found, unless something was forgotten since it began (its result may
    /// predate that change) or changes are not followed.
    pub fn remember(
        &self,
        read: Read,
        tenant: TenantId,
        user: UserId,
        session: Option<Uuid>,
        signed_in: SignedIn,
    ) {
        let Read(Some(epoch)) = read else {
            return;
        };
        self.0.entries.insert((tenant, user, session), signed_in);
        // Checked after the insert: a forgetting that raced it either sees the entry or moved
        // the epoch, and then the entry goes.
        if self.0.epoch.load(Ordering::SeqCst) != epoch {
            self.0.entries.invalidate(&(tenant, user, session));
        }
    }

    /// Forgets every session of the user (a session ended, roles changed, account disabled).
    pub fn forget_user(&self, user: UserId) {
        self.0.epoch.fetch_add(1, Ordering::SeqCst);
        if self
            .0
            .entries
            .invalidate_entries_if(move |(_, id, _), _| *id == user)
            .is_err()
        {
            self.forget_all();
        }
    }

    fn forget_all(&self) {
        self.0.epoch.fetch_add(1, Ordering::SeqCst);
        self.0.entries.invalidate_all();
    }
}

impl Follower for Principals {
    fn channel(&self) -> &'static str {
        CHANNEL
    }

    fn listening(&self) {
        self.forget_all();
        self.0.following.store(true, Ordering::SeqCst);
    }

    fn notified(&self, user: &str) {
        match user.parse() {
            Ok(id) => self.forget_user(UserId(id)),
            Err(_) => {
                tracing::warn!(payload = user, "a principal change without a user id");
                self.forget_all();
            }
        }
    }

    fn missed(&self) {
        self.0.following.store(false, Ordering::SeqCst);
        self.forget_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_in() -> SignedIn {
        SignedIn {
            roles: Roles::default(),
            disabled: false,
            session_ended: false,
        }
    }

    fn ids() -> (TenantId, UserId, Option<Uuid>) {
        (
            TenantId(Uuid::now_v7()),
            UserId(Uuid::now_v7()),
            Some(Uuid::now_v7()),
        )
    }

    #[test]
    fn nothing_is_remembered_until_changes_are_followed() {
        let principals = Principals::default();
        let (tenant, user, session) = ids();
        let read = principals.begin_read();
        principals.remember(read, tenant, user, session, signed_in());
        assert!(principals.get(tenant, user, session).is_none());

        principals.listening();
        let read = principals.begin_read();
        principals.remember(read, tenant, user, session, signed_in());
        assert!(principals.get(tenant, user, session).is_some());

        principals.missed();
        assert!(principals.get(tenant, user, session).is_none());
        let read = principals.begin_read();
        principals.remember(read, tenant, user, session, signed_in());
        assert!(principals.get(tenant, user, session).is_none());
    }

    #[test]
    fn a_read_that_straddles_a_change_is_not_remembered() {
        let principals = Principals::default();
        principals.listening();
        let (tenant, user, session) = ids();
        let read = principals.begin_read();
        principals.forget_user(UserId(Uuid::now_v7()));
        principals.remember(read, tenant, user, session, signed_in());
        assert!(principals.get(tenant, user, session).is_none());
    }

    #[test]
    fn a_notified_user_is_forgotten_with_all_their_sessions_and_no_one_else() {
        let principals = Principals::default();
        principals.listening();
        let (tenant, user, session) = ids();
        let (_, other, other_session) = ids();
        for (user, session) in [(user, session), (user, None), (other, other_session)] {
            let read = principals.begin_read();
            principals.remember(read, tenant, user, session, signed_in());
        }
        principals.notified(&user.0.to_string());
        assert!(principals.get(tenant, user, session).is_none());
        assert!(principals.get(tenant, user, None).is_none());
        assert!(principals.get(tenant, other, other_session).is_some());

        principals.notified("not a user id");
        assert!(principals.get(tenant, other, other_session).is_none());
    }
}
