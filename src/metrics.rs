//! Prometheus metrics at `/metrics`: HTTP traffic recorded by the edge as requests finish, and
//! database pool and job queue state read at scrape time.

use std::time::Duration;

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::{db::Db, error::ApiError, jobs::store as job_store, on_db};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The operation id, or the operational path; `unmatched` for unknown routes.
    route: String,
    status: u16,
    /// The tenant's plan; `none` outside tenant routes.
    tenant_plan: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: String,
    status: String,
}

type DurationFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: DurationFamily,
    pool: Family<PoolLabels, Gauge>,
    jobs: Family<JobLabels, Gauge>,
    rate_limited: Family<PlanLabels, Counter>,
    cache: Family<CacheLabels, Counter>,
    plugin_calls: Family<PluginCallLabels, Counter>,
    plugin_fuel: Family<PluginLabels, Histogram, fn() -> Histogram>,
    plugin_durations: Family<PluginLabels, Histogram, fn() -> Histogram>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    tenant: String,
    plugin: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginCallLabels {
    tenant: String,
    plugin: String,
    /// `ok`, or the failure's reason (`timeout`, `fuel_exhausted`, ...).
    outcome: String,
}

fn fuel_histogram() -> Histogram {
    // 1 000 to about 16 M units.
    Histogram::new(exponential_buckets(1_000.0, 4.0, 13))
}

fn plugin_duration_histogram() -> Histogram {
    // 10 us to about 80 ms.
    Histogram::new(exponential_buckets(0.000_01, 2.0, 14))
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlanLabels {
    tenant_plan: String,
}

/// What the edge knows about a finished request.
pub struct FinishedRequest<'a> {
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub tenant_plan: &'a str,
    pub elapsed: Duration,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("staybase");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route, status and tenant plan",
            requests.clone(),
        );
        let durations: DurationFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route",
            durations.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections by state (idle, in_use, max)",
            pool.clone(),
        );
        let jobs = Family::<JobLabels, Gauge>::default();
        registry.register(
            "jobs",
            "Background jobs by kind and status (queued, running, failed, done, dead)",
            jobs.clone(),
        );
        let rate_limited = Family::<PlanLabels, Counter>::default();
        registry.register(
            "rate_limit_rejections",
            "Requests refused with 429 by tenant plan",
            rate_limited.clone(),
        );
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "cache_lookups",
            "Read-cache lookups by result (hit, miss)",
            cache.clone(),
        );
        let plugin_calls = Family::<PluginCallLabels, Counter>::default();
        registry.register(
            "plugin_calls",
            "Tenant plugin calls by tenant, plugin and outcome (ok or the failure's reason)",
            plugin_calls.clone(),
        );
        let plugin_fuel: Family<PluginLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(fuel_histogram);
        registry.register(
            "plugin_fuel_used",
            "Fuel each tenant plugin call used, by tenant and plugin",
            plugin_fuel.clone(),
        );
        let plugin_durations: Family<PluginLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(plugin_duration_histogram);
        registry.register(
            "plugin_call_duration_seconds",
            "Wall-clock time of each tenant plugin call, by tenant and plugin",
            plugin_durations.clone(),
        );
        Self {
            registry,
            requests,
            durations,
            pool,
            jobs,
            rate_limited,
            cache,
            plugin_calls,
            plugin_fuel,
            plugin_durations,
        }
    }
}

impl Metrics {
    pub fn record_request(&self, request: FinishedRequest<'_>) {
        self.requests
            .get_or_create(&RequestLabels {
                method: request.method.to_owned(),
                route: request.route.to_owned(),
                status: request.status,
                tenant_plan: request.tenant_plan.to_owned(),
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels {
                method: request.method.to_owned(),
                route: request.route.to_owned(),
            })
            .observe(request.elapsed.as_secs_f64());
    }

    pub fn record_cache(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.cache.get_or_create(&CacheLabels { result }).inc();
    }

    /// One plugin call: `failure` is its reason when it failed.
    pub fn record_plugin_call(
        &self,
        tenant: &str,
        plugin: &str,
        failure: Option<&str>,
        (fuel, elapsed): (u64, Duration),
    ) {
        let labels = PluginLabels {
            tenant: tenant.to_owned(),
            plugin: plugin.to_owned(),
        };
        self.plugin_calls
            .get_or_create(&PluginCallLabels {
                tenant: labels.tenant.clone(),
                plugin: labels.plugin.clone(),
                outcome: failure.unwrap_or("ok").to_owned(),
            })
            .inc();
        self.plugin_fuel.get_or_create(&labels).observe(fuel as f64);
        self.plugin_durations
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    pub fn record_rate_limited(&self, tenant_plan: &str) {
        self.rate_limited
            .get_or_create(&PlanLabels {
                tenant_plan: tenant_plan.to_owned(),
            })
            .inc();
    }

    /// The text exposition, with pool and queue gauges refreshed from the database.
    pub async fn render(&self, db: &Db) -> Result<String, ApiError> {
        let (size, idle, max) = on_db!(db, |pool| (
            pool.size(),
            pool.num_idle() as u32,
            pool.options().get_max_connections()
        ));
        self.pool
            .get_or_create(&PoolLabels { state: "idle" })
            .set(i64::from(idle));
        self.pool
            .get_or_create(&PoolLabels { state: "in_use" })
            .set(i64::from(size.saturating_sub(idle)));
        self.pool
            .get_or_create(&PoolLabels { state: "max" })
            .set(i64::from(max));

        let counts = job_store::counts(db).await?;
        self.jobs.clear();
        for count in counts {
            self.jobs
                .get_or_create(&JobLabels {
                    kind: count.kind,
                    status: count.status,
                })
                .set(count.count);
        }

        let mut text = String::new();
        encode(&mut text, &self.registry).map_err(ApiError::internal)?;
        Ok(text)
    }
}
