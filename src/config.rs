//! Settings from defaults, an optional TOML file and `STAYBASE_*` environment variables,
//! validated once at start-up.

use std::{
    collections::BTreeMap, fmt, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

use crate::ratelimit::{DEFAULT_PLAN, PlanLimits};

/// A setting whose value must never reach a log line.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `sqlite://...` or `postgres://...`; unset means a SQLite file in `data_dir`.
    pub database_url: Option<Secret>,
    /// Holds the default SQLite database and, later, the mail outbox and uploaded objects.
    pub data_dir: PathBuf,
    pub database_max_connections: u32,
    pub database_acquire_timeout_ms: u64,
    pub migrate_on_start: bool,
    pub redis_url: Option<Secret>,
    pub bind: SocketAddr,
    /// Where `GET /metrics` is served, apart from the API (port 0 picks a free one).
    pub metrics_bind: SocketAddr,
    pub log: String,
    pub log_format: LogFormat,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long in-flight requests (and running jobs) may run on after SIGTERM.
    pub shutdown_grace_seconds: u64,
    /// How long a new connection may take to send its first request's headers.
    pub header_read_timeout_seconds: u64,
    /// A connection with no traffic for this long is closed (idle keep-alive included).
    pub idle_timeout_seconds: u64,
    /// Connections served at once; further ones wait until one closes.
    pub max_connections: usize,
    /// Job workers started by `staybase serve` (0: none; run `staybase worker` instead).
    pub workers: usize,
    /// Password hashes (argon2id, 19 MiB of memory each) computed at once; unset: one fewer
    /// than the cores, at least one.
    pub hashing_workers: Option<usize>,
    pub job_poll_interval_ms: u64,
    /// A claimed job whose worker stops renewing its lease runs again after this.
    pub job_lease_seconds: u64,
    pub job_backoff_base_ms: u64,
    pub job_backoff_max_ms: u64,
    /// Finished jobs are deleted after this many hours; dead ones are kept.
    pub job_retention_hours: u32,
    pub mail_transport: MailTransportKind,
    /// The sender of every message, e.g. `Staybase <no-reply@example.com>`.
    pub mail_from: String,
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<Secret>,
    /// `on`, or `off` for load tests only (a warning is logged at start).
    pub rate_limits: Switch,
    /// Requests per minute per plan; `default` applies to tenants without a plan of their own.
    pub rate_limit_plans: BTreeMap<String, PlanLimits>,
    /// Fuel (roughly, WebAssembly instructions) per plugin call, unless the tenant's plan
    /// has its own in `plugin_fuel_plans`.
    pub plugin_fuel: u64,
    /// Fuel per plugin call by tenant plan.
    pub plugin_fuel_plans: BTreeMap<String, u64>,
    /// Failed sign-ins to one account (from any address) that lock it out.
    pub sign_in_max_failures: u32,
    /// How long those failures are counted, and how long the lockout then lasts.
    pub sign_in_lockout_seconds: u64,
    /// Namespace of this deployment's keys in Redis.
    pub redis_key_prefix: String,
    /// Where people open links from emails (verification, password reset).
    pub public_app_url: String,
    /// Uploaded files: unset stores them under `<data_dir>/objects`; `s3://bucket/prefix` uses
    /// S3 or a compatible service, configured by the usual `AWS_*` variables.
    pub object_store_url: Option<String>,
    /// Largest multipart (file upload) body, in bytes.
    pub max_upload_bytes: usize,
    /// Comma-separated CIDR ranges that outbound fetches (calendar imports, webhooks) may reach
    /// despite the private-address guard, e.g. `127.0.0.0/8` for tests.
    pub outbound_allow: String,
    /// Seals secrets at rest (JWT signing keys, payment provider credentials): 32 random bytes,
    /// base64. Unset: signing keys stay in the clear and provider secrets cannot be stored.
    pub secret_key: Option<Secret>,
    /// The key before a rotation: still opens values until they are sealed under the new one.
    pub secret_key_previous: Option<Secret>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    /// Each message becomes a `.eml` file under `<data_dir>/outbox/`.
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
    /// No encryption: only for a relay on a trusted network or tests.
    None,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: None,
            data_dir: PathBuf::from("./data"),
            database_max_connections: 10,
            database_acquire_timeout_ms: 5_000,
            migrate_on_start: true,
            redis_url: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_bind: SocketAddr::from(([127, 0, 0, 1], 9090)),
            log: "info".to_owned(),
            log_format: LogFormat::Text,
            max_body_bytes: 1024 * 1024,
            shutdown_grace_seconds: 30,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 60,
            max_connections: 1024,
            workers: 2,
            hashing_workers: None,
            job_poll_interval_ms: 500,
            job_lease_seconds: 30,
            job_backoff_base_ms: 2_000,
            job_backoff_max_ms: 3_600_000,
            job_retention_hours: 168,
            mail_transport: MailTransportKind::File,
            mail_from: "Staybase <no-reply@localhost>".to_owned(),
            smtp_host: None,
            smtp_port: 587,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            rate_limits: Switch::On,
            rate_limit_plans: crate::ratelimit::default_plans(),
            plugin_fuel: crate::plugins::runtime::DEFAULT_FUEL,
            plugin_fuel_plans: BTreeMap::new(),
            sign_in_max_failures: 10,
            sign_in_lockout_seconds: 300,
            redis_key_prefix: "staybase".to_owned(),
            public_app_url: "http://localhost:3000".to_owned(),
            object_store_url: None,
            max_upload_bytes: 10 * 1024 * 1024,
            outbound_allow: String::new(),
            secret_key: None,
            secret_key_previous: None,
        }
    }
}

/// The highest rate a plan may allow (100 000 per second).
const MAX_PER_MINUTE: u32 = 6_000_000;

/// Environment variables that are read elsewhere, not settings of `Config`.
const NON_SETTING_VARS: &[&str] = &["config", "password"];

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// The names of the configured rate-limit plans.
    pub fn plan_names(&self) -> Vec<&str> {
        self.rate_limit_plans.keys().map(String::as_str).collect()
    }

    /// Defaults, then the TOML file named by `STAYBASE_CONFIG` (if any), then `STAYBASE_*`.
    pub fn load() -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Ok(path) = std::env::var("STAYBASE_CONFIG") {
            if !std::path::Path::new(&path).is_file() {
                return Err(ConfigError(format!(
                    "STAYBASE_CONFIG names {path}, which is not a readable file"
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // Only settings are read from the environment; `unknown_env_vars` reports the rest.
        let known = setting_names();
        // A nested setting (`RATE_LIMIT_PLANS__GOLD__READ_PER_MINUTE`) is known by its first
        // segment, whether the filter sees the key before or after `split` made `__` a `.`.
        let env = Env::prefixed("STAYBASE_").split("__").filter(move |key| {
            let key = key.as_str().to_ascii_lowercase();
            let top = key.split('.').next().unwrap_or_default();
            let top = top.split("__").next().unwrap_or_default();
            known.iter().any(|name| name == top)
        });
        let config: Config = figment
            .merge(env)
            .extract()
            .map_err(describe_figment_error)?;
        config.validate()?;
        Ok(config)
    }

    /// `STAYBASE_*` variables that match no setting: likely typos, reported at start-up.
    pub fn unknown_env_vars() -> Vec<String> {
        let known = setting_names();
        std::env::vars()
            .filter_map(|(name, _)| {
                let key = name.strip_prefix("STAYBASE_")?.to_ascii_lowercase();
                let top = key.split("__").next().unwrap_or_default().to_owned();
                (!known.contains(&top) && !is_non_setting(&key)).then_some(name)
            })
            .collect()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.database_url {
            DatabaseKind::of_url(url.expose()).map_err(ConfigError)?;
        }
        if let Some(url) = &self.redis_url
            && !(url.expose().starts_with("redis://") || url.expose().starts_with("rediss://"))
        {
            return Err(ConfigError(
                "STAYBASE_REDIS_URL must start with redis:// or rediss://".into(),
            ));
        }
        if self.database_max_connections == 0 {
            return Err(ConfigError(
                "STAYBASE_DATABASE_MAX_CONNECTIONS must be at least 1".into(),
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError(
                "STAYBASE_MAX_BODY_BYTES must be at least 1024".into(),
            ));
        }
        let fuel_range = 1_000..=1_000_000_000;
        if !fuel_range.contains(&self.plugin_fuel)
            || self
                .plugin_fuel_plans
                .values()
                .any(|fuel| !fuel_range.contains(fuel))
        {
            return Err(ConfigError(
                "STAYBASE_PLUGIN_FUEL and STAYBASE_PLUGIN_FUEL_PLANS__<PLAN> must be 1000 to \
                 1000000000"
                    .into(),
            ));
        }
        if self.hashing_workers == Some(0) {
            return Err(ConfigError(
                "STAYBASE_HASHING_WORKERS must be at least 1 (unset: one fewer than the cores)"
                    .into(),
            ));
        }
        if self.header_read_timeout_seconds == 0
            || self.idle_timeout_seconds == 0
            || self.max_connections == 0
        {
            return Err(ConfigError(
                "STAYBASE_HEADER_READ_TIMEOUT_SECONDS, STAYBASE_IDLE_TIMEOUT_SECONDS and \
                 STAYBASE_MAX_CONNECTIONS must be at least 1"
                    .into(),
            ));
        }
        if self.job_lease_seconds < 3 {
            return Err(ConfigError(
                "STAYBASE_JOB_LEASE_SECONDS must be at least 3".into(),
            ));
        }
        if self.job_poll_interval_ms == 0 || self.job_backoff_base_ms == 0 {
            return Err(ConfigError(
                "STAYBASE_JOB_POLL_INTERVAL_MS and STAYBASE_JOB_BACKOFF_BASE_MS must be positive"
                    .into(),
            ));
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError(
                "STAYBASE_MAIL_FROM must be an address like `Name <user@example.com>`".into(),
            ));
        }
        if self.mail_transport == MailTransportKind::Smtp && self.smtp_host.is_none() {
            return Err(ConfigError(
                "STAYBASE_SMTP_HOST is required when STAYBASE_MAIL_TRANSPORT=smtp".into(),
            ));
        }
        if self.smtp_username.is_some() != self.smtp_password.is_some() {
            return Err(ConfigError(
                "STAYBASE_SMTP_USERNAME and STAYBASE_SMTP_PASSWORD go together".into(),
            ));
        }
        if !self.rate_limit_plans.contains_key(DEFAULT_PLAN) {
            return Err(ConfigError(
                "STAYBASE_RATE_LIMIT_PLANS must keep a `default` plan".into(),
            ));
        }
        if let Some((name, _)) = self.rate_limit_plans.iter().find(|(_, limits)| {
            [
                limits.auth_per_minute,
                limits.write_per_minute,
                limits.read_per_minute,
                limits.tenant_per_minute,
            ]
            .iter()
            .any(|&limit| limit == 0 || limit > MAX_PER_MINUTE)
        }) {
            return Err(ConfigError(format!(
                "STAYBASE_RATE_LIMIT_PLANS__{}: every limit must be 1 to {MAX_PER_MINUTE} per minute",
                name.to_ascii_uppercase()
            )));
        }
        if self.sign_in_max_failures == 0 || self.sign_in_lockout_seconds == 0 {
            return Err(ConfigError(
                "STAYBASE_SIGN_IN_MAX_FAILURES and STAYBASE_SIGN_IN_LOCKOUT_SECONDS must be positive"
                    .into(),
            ));
        }
        if !(self.public_app_url.starts_with("https://")
            || self.public_app_url.starts_with("http://"))
        {
            return Err(ConfigError(
                "STAYBASE_PUBLIC_APP_URL must be an http(s) URL".into(),
            ));
        }
        if let Some(url) = &self.object_store_url
            && !url.starts_with("s3://")
        {
            return Err(ConfigError(
                "STAYBASE_OBJECT_STORE_URL must be an s3:// URL (unset: local files)".into(),
            ));
        }
        if self.max_upload_bytes < self.max_body_bytes {
            return Err(ConfigError(
                "STAYBASE_MAX_UPLOAD_BYTES must be at least STAYBASE_MAX_BODY_BYTES".into(),
            ));
        }
        crate::outbound::parse_allow(&self.outbound_allow)
            .map_err(|err| ConfigError(format!("STAYBASE_OUTBOUND_ALLOW: {err}")))?;
        for (name, key) in [
            ("STAYBASE_SECRET_KEY", &self.secret_key),
            ("STAYBASE_SECRET_KEY_PREVIOUS", &self.secret_key_previous),
        ] {
            if let Some(key) = key {
                crate::secret_box::parse_key(key.expose())
                    .map_err(|err| ConfigError(format!("{name} {err}")))?;
            }
        }
        if self.secret_key_previous.is_some() && self.secret_key.is_none() {
            return Err(ConfigError(
                "STAYBASE_SECRET_KEY_PREVIOUS needs STAYBASE_SECRET_KEY (the new key)".into(),
            ));
        }
        tracing_subscriber::EnvFilter::from_str(&self.log)
            .map_err(|err| ConfigError(format!("STAYBASE_LOG is not a valid filter: {err}")))?;
        Ok(())
    }

    /// The database URL, defaulting to a SQLite file under `data_dir`.
    pub fn database_url(&self) -> Secret {
        match &self.database_url {
            Some(url) => url.clone(),
            None => Secret::new(format!(
                "sqlite://{}",
                self.data_dir.join("staybase.db").display()
            )),
        }
    }

    pub fn database_acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.database_acquire_timeout_ms)
    }
}

fn setting_names() -> Vec<String> {
    serde_json::to_value(Config::default())
        .ok()
        .and_then(|value| value.as_object().map(|map| map.keys().cloned().collect()))
        .unwrap_or_default()
}

fn is_non_setting(key: &str) -> bool {
    NON_SETTING_VARS.contains(&key) || key.starts_with("test_")
}

fn describe_figment_error(err: figment::Error) -> ConfigError {
    let messages = err
        .into_iter()
        .map(|err| {
            let setting = if err.path.is_empty() {
                "configuration".to_owned()
            } else {
                format!("STAYBASE_{}", err.path.join("__").to_ascii_uppercase())
            };
            format!("{setting}: {}", err.kind)
        })
        .collect::<Vec<_>>();
    ConfigError(messages.join("; "))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    pub fn of_url(url: &str) -> Result<Self, String> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(
                "STAYBASE_DATABASE_URL must start with sqlite:, postgres:// or postgresql://"
                    .into(),
            )
        }
    }
}

#[cfg(test)]
// figment's `Jail` closures return its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn default_database_is_a_sqlite_file_in_the_data_dir() {
        let config = Config::default();
        assert_eq!(
            config.database_url().expose(),
            "sqlite://./data/staybase.db"
        );
        assert_eq!(
            DatabaseKind::of_url(config.database_url().expose()),
            Ok(DatabaseKind::Sqlite)
        );
    }

    #[test]
    fn validation_names_the_bad_setting() {
        let config = Config {
            database_url: Some(Secret::new("mysql://x")),
            ..Config::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("STAYBASE_DATABASE_URL")
        );

        let config = Config {
            redis_url: Some(Secret::new("http://x")),
            ..Config::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("STAYBASE_REDIS_URL")
        );

        let config = Config {
            log: "info,=[".into(),
            ..Config::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("STAYBASE_LOG")
        );
    }

    #[test]
    fn figment_errors_name_the_environment_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("STAYBASE_BIND", "not-an-address");
            let err = Config::load().unwrap_err().to_string();
            assert!(err.contains("STAYBASE_BIND"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_variables_are_reported_not_fatal() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("STAYBASE_DATABSE_URL", "typo");
            jail.set_env("STAYBASE_TEST_DATABASE_URL", "postgres://x");
            jail.set_env("STAYBASE_MAX_BODY_BYTES", "2048");
            let config = Config::load().expect("unknown variables do not stop start-up");
            assert_eq!(config.max_body_bytes, 2048);
            assert_eq!(Config::unknown_env_vars(), ["STAYBASE_DATABSE_URL"]);
            Ok(())
        });
    }

    #[test]
    fn nested_settings_are_read_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("STAYBASE_RATE_LIMIT_PLANS__DEFAULT__READ_PER_MINUTE", "7");
            for (class, value) in [
                ("AUTH", "1"),
                ("WRITE", "2"),
                ("READ", "3"),
                ("TENANT", "4"),
            ] {
                jail.set_env(
                    format!("STAYBASE_RATE_LIMIT_PLANS__GOLD__{class}_PER_MINUTE"),
                    value,
                );
            }
            let config = Config::load().expect("valid");
            let default = &config.rate_limit_plans["default"];
            assert_eq!(default.read_per_minute, 7);
            assert_eq!(
                default.auth_per_minute,
                crate::ratelimit::default_plans()["default"].auth_per_minute
            );
            let gold = &config.rate_limit_plans["gold"];
            assert_eq!(
                (
                    gold.auth_per_minute,
                    gold.write_per_minute,
                    gold.read_per_minute,
                    gold.tenant_per_minute
                ),
                (1, 2, 3, 4)
            );
            assert!(Config::unknown_env_vars().is_empty());
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("STAYBASE_RATE_LIMIT_PLANS__SILVER__READ_PER_MINUTE", "3");
            let err = Config::load().unwrap_err().to_string();
            assert!(err.contains("STAYBASE_RATE_LIMIT_PLANS__SILVER"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let config = Config {
            database_url: Some(Secret::new("postgres://user:hunter2@db/x")),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
