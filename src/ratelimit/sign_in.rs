//! Failed sign-ins per account: after `max_failures` wrong passwords for one account (whoever
//! sent them, from however many addresses) within `lockout`, the account takes no password for
//! `lockout` from the last of them. Kept in Redis when configured (shared by the replicas), in
//! process otherwise or while Redis is unreachable. Keys are opaque digests chosen by the caller.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use super::connection;
use crate::outage::OutageLog;

/// How many in-process accounts are remembered before expired ones are swept.
const SWEEP_ABOVE: usize = 10_000;

const RECORD_SCRIPT: &str = r"
-- KEYS[1]: the account. ARGV: the lockout in ms, the failures that start it.
local failures = redis.call('INCR', KEYS[1])
if failures == 1 or failures == tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return failures
";

const LOCKED_SCRIPT: &str = r"
-- KEYS[1]: the account. ARGV[1]: the failures that lock it. Returns the ms left, or -1.
local failures = tonumber(redis.call('GET', KEYS[1]) or '0')
if failures < tonumber(ARGV[1]) then return -1 end
return math.max(redis.call('PTTL', KEYS[1]), 1)
";

struct Window {
    failures: u32,
    until: Instant,
}

pub struct SignInFailures {
    max_failures: u32,
    lockout: Duration,
    redis: Option<(deadpool_redis::Pool, String)>,
    local: Mutex<HashMap<String, Window>>,
    redis_health: OutageLog,
}

impl SignInFailures {
    pub fn new(
        max_failures: u32,
        lockout: Duration,
        redis: Option<(deadpool_redis::Pool, String)>,
    ) -> Self {
        Self {
            max_failures: max_failures.max(1),
            lockout,
            redis,
            local: Mutex::new(HashMap::new()),
            redis_health: OutageLog::new("Redis sign-in limit", "counting in process"),
        }
    }

    /// Seconds until `account` takes a password again, when it is locked out.
    pub async fn locked_for(&self, account: &str) -> Option<u64> {
        if let Some((pool, prefix)) = &self.redis {
            let script = deadpool_redis::redis::Script::new(LOCKED_SCRIPT);
            let mut invocation = script.prepare_invoke();
            invocation
                .key(format!("{prefix}:signin:{account}"))
                .arg(self.max_failures);
            if let Ok(ms) = self.redis_health.observe(run(pool, &invocation).await) {
                return u64::try_from(ms).ok().map(|ms| ms.div_ceil(1000).max(1));
            }
        }
        let mut local = self.lock_local();
        let now = Instant::now();
        match local.get(account) {
            Some(window) if window.until <= now => {
                local.remove(account);
                None
            }
            Some(window) if window.failures >= self.max_failures => Some(
                window
                    .until
                    .duration_since(now)
                    .as_secs_f64()
                    .ceil()
                    .max(1.0) as u64,
            ),
            _ => None,
        }
    }

    /// Counts a wrong password for `account`.
    pub async fn record_failure(&self, account: &str) {
        let lockout_ms = u64::try_from(self.lockout.as_millis()).unwrap_or(u64::MAX);
        if let Some((pool, prefix)) = &self.redis {
            let script = deadpool_redis::redis::Script::new(RECORD_SCRIPT);
            let mut invocation = script.prepare_invoke();
            invocation
                .key(format!("{prefix}:signin:{account}"))
                .arg(lockout_ms.max(1))
                .arg(self.max_failures);
            if self
                .redis_health
                .observe(run(pool, &invocation).await)
                .is_ok()
            {
                return;
            }
        }
        let mut local = self.lock_local();
        let now = Instant::now();
        if local.len() > SWEEP_ABOVE {
            local.retain(|_, window| window.until > now);
        }
        let window = local
            .entry(account.to_owned())
            .and_modify(|window| {
                if window.until <= now {
                    *window = Window {
                        failures: 0,
                        until: now + self.lockout,
                    };
                }
            })
            .or_insert(Window {
                failures: 0,
                until: now + self.lockout,
            });
        window.failures += 1;
        if window.failures == self.max_failures {
            window.until = now + self.lockout;
        }
    }

    /// Forgets the failures of `account` (its owner signed in).
    pub async fn clear(&self, account: &str) {
        if let Some((pool, prefix)) = &self.redis {
            let mut command = deadpool_redis::redis::cmd("DEL");
            command.arg(format!("{prefix}:signin:{account}"));
            let _ = self.redis_health.observe(query(pool, &command).await);
        }
        self.lock_local().remove(account);
    }

    fn lock_local(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        self.local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn run(
    pool: &deadpool_redis::Pool,
    invocation: &deadpool_redis::redis::ScriptInvocation<'_>,
) -> Result<i64, String> {
    let mut conn = connection(pool).await?;
    tokio::time::timeout(
        Duration::from_millis(500),
        invocation.invoke_async(&mut conn),
    )
    .await
    .map_err(|_| "timed out".to_owned())?
    .map_err(|err| err.to_string())
}

async fn query(
    pool: &deadpool_redis::Pool,
    command: &deadpool_redis::redis::Cmd,
) -> Result<i64, String> {
    let mut conn = connection(pool).await?;
    tokio::time::timeout(Duration::from_millis(500), command.query_async(&mut conn))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn failures_lock_an_account_then_expire() {
        let failures = SignInFailures::new(3, Duration::from_millis(200), None);
        for _ in 0..3 {
            assert_eq!(failures.locked_for("a").await, None);
            failures.record_failure("a").await;
        }
        assert_eq!(failures.locked_for("a").await, Some(1));
        assert_eq!(failures.locked_for("b").await, None, "accounts are apart");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(failures.locked_for("a").await, None);
        failures.record_failure("a").await;
        failures.clear("a").await;
        failures.record_failure("a").await;
        failures.record_failure("a").await;
        assert_eq!(failures.locked_for("a").await, None, "a sign-in clears");
    }
}
