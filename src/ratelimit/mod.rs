//! Rate limits per route class (auth, writes, reads) and caller (IP when anonymous, user or API
//! key otherwise), under a per-tenant ceiling, with limits taken from the tenant's plan.
//! Anonymous reads and writes also draw on a tenant-wide share of their own (half the ceiling),
//! so that anonymous traffic from many addresses cannot use up the ceiling that signed-in callers
//! and sign-ins (whose routes are not charged to that share) need.
//!
//! In-process limits use governor. With Redis configured, one GCRA script of ours decides
//! atomically for all replicas (governor has no Redis store); while Redis is unreachable the
//! in-process limiter takes over so the service keeps answering.

use std::{
    collections::{BTreeMap, HashMap},
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::{ids::TenantId, outage::OutageLog};

mod sign_in;
use governor::{
    Quota, RateLimiter as Governor,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};
use serde::{Deserialize, Serialize};
pub use sign_in::SignInFailures;

/// Requests per minute allowed by a plan.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PlanLimits {
    /// Sign-in, registration, refresh and password reset, per caller.
    pub auth_per_minute: u32,
    /// Requests that change data, per caller.
    pub write_per_minute: u32,
    /// Reads, per caller.
    pub read_per_minute: u32,
    /// Everything, per tenant. Anonymous reads and writes together get at most
    /// `tenant_per_minute / 2` of it (see [`ANONYMOUS_SHARE_DIVISOR`]).
    pub tenant_per_minute: u32,
}

/// Anonymous reads and writes of a tenant may use at most this fraction (1 / divisor) of its
/// ceiling, leaving the rest to signed-in callers, API keys and sign-in routes.
pub const ANONYMOUS_SHARE_DIVISOR: u32 = 2;

impl PlanLimits {
    /// Requests per minute that anonymous reads and writes of one tenant share.
    pub fn anonymous_per_minute(&self) -> u32 {
        (self.tenant_per_minute / ANONYMOUS_SHARE_DIVISOR).max(1)
    }
}

impl Default for PlanLimits {
    fn default() -> Self {
        Self {
            auth_per_minute: 20,
            write_per_minute: 120,
            read_per_minute: 1200,
            tenant_per_minute: 12_000,
        }
    }
}

pub const DEFAULT_PLAN: &str = "default";

pub fn default_plans() -> BTreeMap<String, PlanLimits> {
    BTreeMap::from([(DEFAULT_PLAN.to_owned(), PlanLimits::default())])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    Auth,
    Write,
    Read,
}

impl RouteClass {
    fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Write => "write",
            Self::Read => "read",
        }
    }

    fn per_minute(self, limits: &PlanLimits) -> u32 {
        match self {
            Self::Auth => limits.auth_per_minute,
            Self::Write => limits.write_per_minute,
            Self::Read => limits.read_per_minute,
        }
    }
}

/// Whether the caller was identified (a user or an API key) or is charged by client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    Anonymous,
    Identified,
}

/// The outcome for one request, reported in `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the caller's allowance is full again.
    pub reset_secs: u64,
    /// Seconds until the next request can pass (0 when allowed).
    pub retry_after_secs: u64,
}

/// One limit to check: a key and its allowance per minute.
struct Bucket {
    key: String,
    per_minute: u32,
}

type Keyed =
    Governor<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

pub struct RateLimiter {
    plans: BTreeMap<String, PlanLimits>,
    redis: Option<(deadpool_redis::Pool, String)>,
    local: Mutex<HashMap<u32, Arc<Keyed>>>,
    clock: DefaultClock,
    redis_health: OutageLog,
}

const GCRA_SCRIPT: &str = r"
-- GCRA over every key: all must allow, then all are charged. ARGV: per key, the emission
-- interval in microseconds and the burst in requests. Returns, for the tightest key:
-- allowed (0/1), limit, remaining, reset us, retry-after us.
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local result = {1, 0, 2147483647, 0, 0}
local new_tats = {}
for i, key in ipairs(KEYS) do
  local emission = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local tolerance = emission * burst
  local new_tat = tat + emission
  local allow_at = new_tat - tolerance
  if now < allow_at then
    return {0, burst, 0, tat - now, allow_at - now}
  end
  new_tats[i] = new_tat
  local remaining = math.floor((tolerance - (new_tat - now)) / emission)
  if remaining < result[3] then
    result = {1, burst, remaining, new_tat - now, 0}
  end
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, new_tats[i], 'PX', math.max(1, math.ceil((new_tats[i] - now) / 1000)))
end
return result
";

impl RateLimiter {
    pub fn new(
        plans: BTreeMap<String, PlanLimits>,
        redis: Option<(deadpool_redis::Pool, String)>,
    ) -> Self {
        Self {
            plans,
            redis,
            local: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
            redis_health: OutageLog::new("Redis rate limit", "limiting in process"),
        }
    }

    fn plan(&self, name: &str) -> PlanLimits {
        self.plans
            .get(name)
            .or_else(|| self.plans.get(DEFAULT_PLAN))
            .copied()
            .unwrap_or_default()
    }

    /// Charges one request of `class` by `caller` in `tenant` on `plan`. Anonymous reads and
    /// writes are also charged to the tenant's anonymous share; sign-in routes are not, so that
    /// anonymous traffic never keeps a tenant's users from signing in.
    pub async fn check(
        &self,
        plan: &str,
        tenant: TenantId,
        class: RouteClass,
        caller: &str,
        identity: Identity,
    ) -> Decision {
        let limits = self.plan(plan);
        let mut buckets = vec![Bucket {
            key: format!("{}:{plan}:{caller}", class.as_str()),
            per_minute: class.per_minute(&limits),
        }];
        if identity == Identity::Anonymous && class != RouteClass::Auth {
            buckets.push(Bucket {
                key: format!("tenant-anonymous:{plan}:{tenant}"),
                per_minute: limits.anonymous_per_minute(),
            });
        }
        buckets.push(Bucket {
            key: format!("tenant:{plan}:{tenant}"),
            per_minute: limits.tenant_per_minute,
        });
        if let Some((pool, prefix)) = &self.redis
            && let Ok(decision) = self
                .redis_health
                .observe(check_redis(pool, prefix, &buckets).await)
        {
            return decision;
        }
        self.check_local(&buckets)
    }

    fn check_local(&self, buckets: &[Bucket]) -> Decision {
        let mut tightest: Option<Decision> = None;
        for bucket in buckets {
            let limiter = self.local_limiter(bucket.per_minute);
            let decision = match limiter.check_key(&bucket.key) {
                Ok(snapshot) => {
                    let remaining = snapshot.remaining_burst_capacity();
                    let per_request = 60.0 / f64::from(bucket.per_minute.max(1));
                    Decision {
                        allowed: true,
                        limit: bucket.per_minute,
                        remaining,
                        reset_secs: (f64::from(
                            bucket.per_minute - remaining.min(bucket.per_minute),
                        ) * per_request)
                            .ceil() as u64,
                        retry_after_secs: 0,
                    }
                }
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    return Decision {
                        allowed: false,
                        limit: bucket.per_minute,
                        remaining: 0,
                        reset_secs: 60,
                        retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                    };
                }
            };
            if tightest.is_none_or(|t| decision.remaining < t.remaining) {
                tightest = Some(decision);
            }
        }
        tightest.unwrap_or(Decision {
            allowed: true,
            limit: 0,
            remaining: 0,
            reset_secs: 0,
            retry_after_secs: 0,
        })
    }

    fn local_limiter(&self, per_minute: u32) -> Arc<Keyed> {
        let mut limiters = self
            .local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(limiters.entry(per_minute).or_insert_with(|| {
            let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
            Arc::new(
                Governor::keyed(Quota::per_minute(per_minute))
                    .with_middleware::<StateInformationMiddleware>(),
            )
        }))
    }

    /// Forgets idle in-process keys; called periodically so memory stays bounded.
    pub fn forget_idle(&self) {
        let limiters = self
            .local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for limiter in limiters.values() {
            limiter.retain_recent();
        }
    }
}

/// A Redis connection, or why there is none within a quarter of a second.
async fn connection(pool: &deadpool_redis::Pool) -> Result<deadpool_redis::Connection, String> {
    tokio::time::timeout(Duration::from_millis(250), pool.get())
        .await
        .map_err(|_| "timed out waiting for a connection".to_owned())?
        .map_err(|err| err.to_string())
}

async fn check_redis(
    pool: &deadpool_redis::Pool,
    prefix: &str,
    buckets: &[Bucket],
) -> Result<Decision, String> {
    let mut conn = connection(pool).await?;
    let script = deadpool_redis::redis::Script::new(GCRA_SCRIPT);
    let mut invocation = script.prepare_invoke();
    for bucket in buckets {
        let per_minute = u64::from(bucket.per_minute.max(1));
        invocation
            .key(format!("{prefix}:rl:{}", bucket.key))
            .arg(60_000_000 / per_minute)
            .arg(per_minute);
    }
    let reply: Vec<i64> = tokio::time::timeout(
        Duration::from_millis(500),
        invocation.invoke_async(&mut conn),
    )
    .await
    .map_err(|_| "timed out".to_owned())?
    .map_err(|err| err.to_string())?;
    let [allowed, limit, remaining, reset_us, retry_us] = reply[..] else {
        return Err(format!("unexpected script reply {reply:?}"));
    };
    let seconds = |us: i64| (us.max(0) as u64).div_ceil(1_000_000);
    Ok(Decision {
        allowed: allowed == 1,
        limit: limit as u32,
        remaining: remaining.clamp(0, i64::from(u32::MAX)) as u32,
        reset_secs: seconds(reset_us),
        retry_after_secs: if allowed == 1 {
            0
        } else {
            seconds(retry_us).max(1)
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(auth_per_minute: u32) -> RateLimiter {
        let plans = BTreeMap::from([(
            DEFAULT_PLAN.to_owned(),
            PlanLimits {
                auth_per_minute,
                ..PlanLimits::default()
            },
        )]);
        RateLimiter::new(plans, None)
    }

    #[tokio::test]
    async fn a_caller_gets_its_allowance_then_waits() {
        let limiter = limiter(3);
        let tenant = TenantId(uuid::Uuid::now_v7());
        let mut remaining = Vec::new();
        for _ in 0..3 {
            let decision = limiter
                .check(
                    "default",
                    tenant,
                    RouteClass::Auth,
                    "ip:1",
                    Identity::Anonymous,
                )
                .await;
            assert!(decision.allowed);
            remaining.push(decision.remaining);
        }
        assert_eq!(remaining, [2, 1, 0]);
        let refused = limiter
            .check(
                "default",
                tenant,
                RouteClass::Auth,
                "ip:1",
                Identity::Anonymous,
            )
            .await;
        assert!(!refused.allowed);
        assert!(refused.retry_after_secs >= 1 && refused.retry_after_secs <= 20);
        let other = limiter
            .check(
                "default",
                tenant,
                RouteClass::Auth,
                "ip:2",
                Identity::Anonymous,
            )
            .await;
        assert!(other.allowed, "callers are limited separately");
    }

    #[tokio::test]
    async fn an_unknown_plan_falls_back_to_the_default() {
        let limiter = limiter(1);
        let tenant = TenantId(uuid::Uuid::now_v7());
        assert!(
            limiter
                .check(
                    "gold",
                    tenant,
                    RouteClass::Auth,
                    "ip:1",
                    Identity::Anonymous
                )
                .await
                .allowed
        );
        assert!(
            !limiter
                .check(
                    "gold",
                    tenant,
                    RouteClass::Auth,
                    "ip:1",
                    Identity::Anonymous
                )
                .await
                .allowed
        );
    }
}
