//! A read cache for public listing answers: in process (moka) by default, Redis when configured
//! (shared by the replicas). Services cache domain values (as JSON), not HTTP bodies. Keys carry
//! the tenant's listings version, which every listing change bumps in its transaction: the
//! replica that made it serves fresh answers at once, the others as soon as they learn of the
//! new version (a notification on PostgreSQL, `tenants::directory::STALENESS_BOUND` at worst).
//! Nothing that depends on availability is cached. The short time-to-live only bounds memory.
//!
//! In front of it, each replica keeps the answers it rendered from those values (`Rendering`):
//! the bytes an API sends, under the value's key, so that a hit is not decoded and encoded
//! again. They carry the same versioned key, so they are exactly as fresh.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use serde::{Serialize, de::DeserializeOwned};

use crate::{ids::UserId, metrics::Metrics, outage::OutageLog, tenants::Tenant};

const TIME_TO_LIVE: Duration = Duration::from_secs(60);

/// How an API turns a shared value into the bytes it sends. Named, so that two renderings of
/// one value (say REST and GraphQL) are kept apart; it may read the tenant (its slug is in the
/// key), nothing else.
pub struct Rendering<T> {
    pub name: &'static str,
    pub render: fn(&Tenant, T) -> Bytes,
}

/// A value as a service hands it to its API: rendered already when it is a shared answer.
pub enum Seen<T> {
    Value(T),
    Rendered(Bytes),
}

/// A rendered shared answer, and the one user who would see it otherwise (a listing's owner).
#[derive(Clone)]
pub struct RenderedAnswer {
    pub manager: Option<UserId>,
    pub body: Bytes,
}

pub struct ReadCache {
    local: moka::future::Cache<String, Bytes>,
    rendered: moka::sync::Cache<String, RenderedAnswer>,
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
            rendered: moka::sync::Cache::builder()
                .max_capacity(64 * 1024 * 1024)
                .weigher(|key: &String, answer: &RenderedAnswer| {
                    (key.len() + answer.body.len())
                        .try_into()
                        .unwrap_or(u32::MAX)
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

    fn rendered_key<T>(key: &str, tenant: &Tenant, rendering: &Rendering<T>) -> String {
        format!("{key}|{}|{}", rendering.name, tenant.slug.as_str())
    }

    /// The answer rendered from the value under `key`, if this replica has it and `serves` says
    /// it is the caller's (a listing's manager reads afresh instead).
    pub fn rendered<T>(
        &self,
        key: &str,
        tenant: &Tenant,
        rendering: &Rendering<T>,
        serves: impl FnOnce(&RenderedAnswer) -> bool,
    ) -> Option<Bytes> {
        let answer = self
            .rendered
            .get(&Self::rendered_key(key, tenant, rendering))
            .filter(serves)?;
        self.metrics.record_cache(true);
        Some(answer.body)
    }

    /// Renders `value`, the shared answer under `key`, and keeps the bytes; returns them.
    pub fn keep_rendered<T>(
        &self,
        key: &str,
        tenant: &Tenant,
        rendering: &Rendering<T>,
        manager: Option<UserId>,
        value: T,
    ) -> Bytes {
        let body = (rendering.render)(tenant, value);
        self.rendered.insert(
            Self::rendered_key(key, tenant, rendering),
            RenderedAnswer {
                manager,
                body: body.clone(),
            },
        );
        body
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
