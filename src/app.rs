//! Application state, the route tree and the server loop, shared by `main` and the tests.

use std::{future::Future, sync::Arc, time::Duration};

use poem::{
    Endpoint, EndpointExt, Route, Server,
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
};

use crate::{
    api,
    auth::keys::SigningKeys,
    authz::Authorizer,
    cache::ReadCache,
    config::{Config, Switch},
    db::{Db, DbSetupError},
    http::{AllowedMethods, BodyLimits, Edge},
    jobs::{self, WorkerOptions, WorkerPool},
    mail::Mailer,
    metrics::Metrics,
    ops,
    outbound::Outbound,
    ratelimit::RateLimiter,
    storage::ObjectStorage,
};

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

pub struct AppInner {
    pub config: Config,
    pub db: Db,
    pub redis: Option<deadpool_redis::Pool>,
    pub mailer: Mailer,
    pub metrics: Arc<Metrics>,
    pub keys: SigningKeys,
    pub authorizer: Authorizer,
    pub rate_limiter: RateLimiter,
    pub storage: ObjectStorage,
    pub outbound: Outbound,
    pub cache: ReadCache,
}

impl std::ops::Deref for AppState {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] DbSetupError),
    #[error("invalid Redis configuration: {0}")]
    Redis(String),
    #[error("invalid mail configuration: {0}")]
    Mail(String),
    #[error("object storage: {0}")]
    Storage(String),
    #[error("signing keys: {0}")]
    Keys(String),

    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

impl AppState {
    /// Opens the pools and, unless switched off, migrates the database.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let db = Db::connect_lazy(&config)?;
        if config.migrate_on_start {
            db.migrate().await?;
        }
        let redis = match &config.redis_url {
            Some(url) => Some(
                deadpool_redis::Config::from_url(url.expose())
                    .builder()
                    .map_err(|err| StartError::Redis(err.to_string()))?
                    .wait_timeout(Some(Duration::from_secs(2)))
                    .create_timeout(Some(Duration::from_secs(2)))
                    .runtime(deadpool_redis::Runtime::Tokio1)
                    .build()
                    .map_err(|err| StartError::Redis(err.to_string()))?,
            ),
            None => None,
        };
        let mailer = Mailer::from_config(&config).map_err(StartError::Mail)?;
        let storage = ObjectStorage::from_config(&config).map_err(StartError::Storage)?;
        let keys = SigningKeys::new(&db);
        if config.migrate_on_start {
            keys.ensure_loaded()
                .await
                .map_err(|err| StartError::Keys(err.to_string()))?;
        }
        if config.rate_limits == Switch::Off {
            tracing::warn!("rate limits are OFF (STAYBASE_RATE_LIMITS=off): for load tests only");
        }
        let rate_limiter = RateLimiter::new(
            config.rate_limit_plans.clone(),
            redis
                .clone()
                .map(|pool| (pool, config.redis_key_prefix.clone())),
        );
        let outbound = Outbound::new(
            crate::outbound::parse_allow(&config.outbound_allow).map_err(StartError::Storage)?,
        );
        let metrics = Arc::new(Metrics::default());
        let cache = ReadCache::new(
            redis
                .clone()
                .map(|pool| (pool, config.redis_key_prefix.clone())),
            Arc::clone(&metrics),
        );
        Ok(Self(Arc::new(AppInner {
            config,
            db,
            redis,
            mailer,
            metrics,
            keys,
            authorizer: Authorizer::default(),
            rate_limiter,
            storage,
            outbound,
            cache,
        })))
    }
}

/// What a process serves: the whole API, or (for `staybase worker`) only the operational routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Api,
    WorkerOnly,
}

/// The operational routes alone, for a worker process's probes.
fn operations_endpoint(state: AppState) -> impl Endpoint + 'static {
    let limits = BodyLimits {
        body: state.config.max_body_bytes,
        upload: state.config.max_upload_bytes,
    };
    let metrics = Arc::clone(&state.metrics);
    let route = Route::new()
        .at("/healthz", poem::get(ops::healthz))
        .at("/readyz", poem::get(ops::readyz))
        .at("/metrics", poem::get(ops::metrics))
        .data(state);
    Edge::new(
        route,
        limits,
        AllowedMethods::from_spec(&serde_json::Value::Null, ops::WORKER_ROUTES),
    )
    .with_metrics(metrics)
}

/// The whole HTTP application: operational routes, the API, its spec and docs, behind the edge.
pub fn endpoint(state: AppState) -> impl Endpoint + 'static {
    let service = api::service();
    let spec: serde_json::Value =
        serde_json::from_str(&service.spec()).unwrap_or(serde_json::Value::Null);
    let allowed = AllowedMethods::from_spec(&spec, ops::PLAIN_GET_ROUTES);
    let limits = BodyLimits {
        body: state.config.max_body_bytes,
        upload: state.config.max_upload_bytes,
    };
    let metrics = Arc::clone(&state.metrics);
    let route = Route::new()
        .at("/healthz", poem::get(ops::healthz))
        .at("/readyz", poem::get(ops::readyz))
        .at("/metrics", poem::get(ops::metrics))
        .at("/.well-known/jwks.json", poem::get(ops::jwks))
        .at("/openapi.json", service.spec_endpoint())
        .nest("/docs", service.swagger_ui())
        .nest(api::API_PREFIX, service)
        .data(state);
    Edge::new(route, limits, allowed).with_metrics(metrics)
}

/// Binds the configured address (port 0 picks a free one).
pub async fn bind(config: &Config) -> Result<TcpAcceptor, StartError> {
    TcpListener::bind(config.bind)
        .into_acceptor()
        .await
        .map_err(|source| StartError::Bind {
            addr: config.bind.to_string(),
            source,
        })
}

/// Serves until `shutdown` resolves, with the configured job workers beside the HTTP server;
/// then in-flight requests and running jobs get the grace period to finish.
pub async fn serve(
    acceptor: TcpAcceptor,
    state: AppState,
    role: Role,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let grace = Duration::from_secs(state.config.shutdown_grace_seconds);
    if let Some(addr) = acceptor
        .local_addr()
        .first()
        .and_then(|addr| addr.as_socket_addr().copied())
    {
        tracing::info!(%addr, backend = ?state.db.kind(), ?role, "staybase listening");
    }
    let workers = (state.config.workers > 0).then(|| {
        WorkerPool::start(
            state.clone(),
            jobs::application_registry(state.config.job_retention_hours),
            WorkerOptions::from_config(&state.config),
        )
    });
    // In-process rate-limit keys of callers gone quiet are forgotten, so memory stays bounded.
    let limiter_state = state.clone();
    let janitor = tokio::spawn(async move {
        let mut every_minute = tokio::time::interval(Duration::from_secs(60));
        loop {
            every_minute.tick().await;
            limiter_state.rate_limiter.forget_idle();
        }
    });
    let db = state.db.clone();
    // Workers stop claiming when the server stops accepting, so both share one grace period.
    let shutdown = async {
        shutdown.await;
        if let Some(workers) = &workers {
            workers.stop_claiming();
        }
    };
    let server = Server::new_with_acceptor(acceptor);
    let result = match role {
        Role::Api => {
            server
                .run_with_graceful_shutdown(endpoint(state), shutdown, Some(grace))
                .await
        }
        Role::WorkerOnly => {
            server
                .run_with_graceful_shutdown(operations_endpoint(state), shutdown, Some(grace))
                .await
        }
    };
    janitor.abort();
    if let Some(workers) = workers {
        workers.shutdown().await;
    }
    db.close().await;
    result
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
