//! A read cache for public listing answers: in process (moka) by default, Redis when configured
//! (shared by the replicas). Services cache domain values (as JSON), not HTTP bodies. Keys carry
//! the tenant's listings version, which every listing change bumps in its transaction: the
//! replica that made it serves fresh answers at once, the others as soon as they learn of the
//! new version (a notification on PostgreSQL, `tenants::directory::STALENESS_BOUND` at worst).
//! Nothing that depends on availability is cached. The short time-to-live only bounds memory.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use serde::{Serialize, de::DeserializeOwned};

use crate::{metrics::Metrics, outage::OutageLog, tenants::Tenant};

const TIME_TO_LIVE: Duration = Duration::from_secs(60);

pub struct ReadCache {
    local: moka::future::Cache<String, Bytes>,
    redis: Option<(deadpool_redis::Pool, String)>,
    metrics: Arc<Metrics>,
    redis_health: OutageLog,
}

impl ReadCache {
    pub fn new(redis: Option<(deadpool_redis::Pool, String)>, metrics: Arc<Metrics>) -> Self {
        Self {
            local: moka::future::Cache::builder()
                .max_capacity(64 * 1024 * 1024)
                .weigher(|key: &String, value: &Bytes| {
                    (key.len() + value.len()).try_into().unwrap_or(u32::MAX)
                })
                .time_to_live(TIME_TO_LIVE)
                .build(),
            redis,
            metrics,
            redis_health: OutageLog::new("Redis cache", "caching in process"),
        }
    }

    /// The key of a listing answer: tenant, listings version, and what was asked.
    pub fn key(tenant: &Tenant, question: &str) -> String {
        // `v2`: values are domain JSON, which replicas of an earlier release (that cached
        // rendered answers under `listings:`) must not serve, nor these read theirs.
        format!(
            "listings:v2:{}:{}:{question}",
            tenant.id, tenant.listings_version
        )
    }

    async fn get(&self, key: &str) -> Option<Bytes> {
        match &self.redis {
            Some((pool, prefix)) => match self
                .redis_health
                .observe(redis_get(pool, &format!("{prefix}:cache:{key}")).await)
            {
                Ok(found) => found,
                Err(_) => self.local.get(key).await,
            },
            None => self.local.get(key).await,
        }
    }

    /// A cached value, if there is one that still decodes as `T`.
    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let value = self.get(key).await.and_then(|bytes| {
            serde_json::from_slice(&bytes)
                .inspect_err(
                    |err| tracing::warn!(error = %err, key, "a cached value did not decode"),
                )
                .ok()
        });
        self.metrics.record_cache(value.is_some());
        value
    }

    pub async fn put_json<T: Serialize>(&self, key: String, value: &T) {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.put(key, Bytes::from(bytes)).await,
            Err(err) => tracing::warn!(error = %err, key, "a value could not be cached"),
        }
    }

    async fn put(&self, key: String, value: Bytes) {
        if let Some((pool, prefix)) = &self.redis
            && self
                .redis_health
                .observe(redis_set(pool, &format!("{prefix}:cache:{key}"), &value).await)
                .is_ok()
        {
            return;
        }
        self.local.insert(key, value).await;
    }
}

async fn redis_get(pool: &deadpool_redis::Pool, key: &str) -> Result<Option<Bytes>, String> {
    let mut conn = tokio::time::timeout(Duration::from_millis(100), pool.get())
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|err| err.to_string())?;
    let value: Option<Vec<u8>> = deadpool_redis::redis::cmd("GET")
        .arg(key)
        .query_async(&mut conn)
        .await
        .map_err(|err| err.to_string())?;
    Ok(value.map(Bytes::from))
}

async fn redis_set(pool: &deadpool_redis::Pool, key: &str, value: &[u8]) -> Result<(), String> {
    let mut conn = tokio::time::timeout(Duration::from_millis(100), pool.get())
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|err| err.to_string())?;
    deadpool_redis::redis::cmd("SET")
        .arg(key)
        .arg(value)
        .arg("EX")
        .arg(TIME_TO_LIVE.as_secs())
        .query_async::<()>(&mut conn)
        .await
        .map_err(|err| err.to_string())
}
