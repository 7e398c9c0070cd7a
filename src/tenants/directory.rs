//! The tenants a replica has resolved recently, so that a request (a cached listing answer
//! above all) does not query the database for its tenant.
//!
//! A tenant changes rarely (status, settings, plan, rules, listings version) and every replica
//! must notice at once. Three paths keep entries fresh:
//! - the replica that made a change forgets its entry right after the commit;
//! - on PostgreSQL, triggers on `tenants` and `tenant_settings` send `NOTIFY staybase_tenants`
//!   with the slug on every commit that changes them (whoever wrote: another replica, the CLI,
//!   a manual `UPDATE`), and every replica follows them (`db::notifications`) and forgets that
//!   entry;
//! - an entry lives at most `STALENESS_BOUND`, the fallback when a notification cannot arrive
//!   (SQLite files shared by processes, a lost listener connection).

use std::time::Duration;

use super::Tenant;
use crate::{db::notifications::Follower, ids::TenantId};

/// The longest a replica may act on a tenant as it was before a change it was not told of.
pub const STALENESS_BOUND: Duration = Duration::from_millis(500);

/// The PostgreSQL channel of tenant changes (see the `tenant_notify` migration).
const CHANNEL: &str = "staybase_tenants";

#[derive(Clone)]
pub struct TenantDirectory {
    by_slug: moka::sync::Cache<String, Tenant>,
}

impl Default for TenantDirectory {
    fn default() -> Self {
        Self {
            by_slug: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(STALENESS_BOUND)
                .build(),
        }
    }
}

impl TenantDirectory {
    pub fn get(&self, slug: &str) -> Option<Tenant> {
        self.by_slug.get(slug)
    }

    pub fn remember(&self, tenant: &Tenant) {
        self.by_slug
            .insert(tenant.slug.as_str().to_owned(), tenant.clone());
    }

    /// Drops what this replica knows of the tenant; the next request reads it again.
    pub fn forget(&self, slug: &str) {
        self.by_slug.invalidate(slug);
    }

    pub fn forget_id(&self, id: TenantId) {
        for (slug, tenant) in &self.by_slug {
            if tenant.id == id {
                self.by_slug.invalidate(slug.as_str());
            }
        }
    }
}

impl Follower for TenantDirectory {
    fn channel(&self) -> &'static str {
        CHANNEL
    }

    fn notified(&self, slug: &str) {
        self.forget(slug);
    }

    fn missed(&self) {
        self.by_slug.invalidate_all();
    }
}
