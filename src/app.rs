//! Application state: the pools, clients and caches every handler and job reaches. It imports
//! no resource module, so every resource can import it.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use crate::{
    auth::{keys::SigningKeys, principals::Principals},
    authz::Authorizer,
    cache::ReadCache,
    config::{Config, Switch},
    db::{Db, DbSetupError},
    mail::Mailer,
    metrics::Metrics,
    outbound::Outbound,
    plugins::service::PluginHost,
    ratelimit::{RateLimiter, SignInFailures},
    secret_box::SecretBox,
    storage::ObjectStorage,
    tenants::directory::TenantDirectory,
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
    /// Seals and opens secrets stored in the database (`STAYBASE_SECRET_KEY`).
    pub secrets: SecretBox,
    pub authorizer: Authorizer,
    pub rate_limiter: RateLimiter,
    /// Failed sign-ins per account, which lock it out for a while.
    pub sign_in_failures: SignInFailures,
    pub storage: ObjectStorage,
    pub outbound: Outbound,
    pub cache: ReadCache,
    /// The tenants this replica resolved recently (see `tenants::directory`).
    pub tenants: TenantDirectory,
    /// Who is signed in, as this replica last read it (see `auth::principals`).
    pub principals: Principals,
    pub plugins: PluginHost,
    /// Where the server loop serves `/metrics`, once it listens (`metrics_bind` may say port 0).
    pub metrics_addr: OnceLock<SocketAddr>,
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
        let secrets = SecretBox::new(
            config.secret_key.as_ref(),
            config.secret_key_previous.as_ref(),
        )
        .map_err(StartError::Keys)?;
        if !secrets.is_configured() {
            tracing::warn!(
                "STAYBASE_SECRET_KEY is not set: JWT signing keys are stored unencrypted and \
                 payment provider secrets cannot be stored"
            );
        }
        let keys = SigningKeys::new(&db, &secrets);
        if config.migrate_on_start {
            keys.ensure_loaded()
                .await
                .map_err(|err| StartError::Keys(err.to_string()))?;
        }
        crate::auth::password::set_hashing_workers(config.hashing_workers);
        if config.rate_limits == Switch::Off {
            tracing::warn!("rate limits are OFF (STAYBASE_RATE_LIMITS=off): for load tests only");
        }
        let rate_limiter = RateLimiter::new(
            config.rate_limit_plans.clone(),
            redis
                .clone()
                .map(|pool| (pool, config.redis_key_prefix.clone())),
        );
        let sign_in_failures = SignInFailures::new(
            config.sign_in_max_failures,
            Duration::from_secs(config.sign_in_lockout_seconds),
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
        let plugins = PluginHost::new(config.plugin_fuel, config.plugin_fuel_plans.clone());
        Ok(Self(Arc::new(AppInner {
            config,
            db,
            redis,
            mailer,
            metrics,
            keys,
            secrets,
            authorizer: Authorizer::default(),
            rate_limiter,
            sign_in_failures,
            storage,
            outbound,
            cache,
            tenants: TenantDirectory::default(),
            principals: Principals::default(),
            plugins,
            metrics_addr: OnceLock::new(),
        })))
    }
}
