//! Every configuration row of the README does what it says when given through the environment.

// figment's `Jail` closures return its own (large) error type.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;

use staybase::{
    Config,
    config::{LogFormat, MailTransportKind, SmtpTls, Switch},
};

const README: &str = include_str!("../../README.md");

/// The variables the README's configuration table documents, shorthands (`/ `_PORT``) spelled
/// out and `<PLAN>` as `DEFAULT`.
fn documented() -> Vec<String> {
    let section = README
        .split("## Configuration")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a configuration section");
    let mut names = Vec::new();
    for row in section
        .lines()
        .filter(|line| line.starts_with("| `STAYBASE_"))
    {
        let cell = row.split('|').nth(1).unwrap_or_default();
        let mut first: Option<String> = None;
        for name in cell.split('`').skip(1).step_by(2) {
            let name = name.replace("<PLAN>", "DEFAULT");
            let name = match (&first, name.strip_prefix('_')) {
                (None, _) => name,
                (Some(_), None) if name.starts_with("STAYBASE_") => name,
                // `_MAX_MS` after `..._BASE_MS` replaces as many segments as it has.
                (Some(base), Some(tail)) => {
                    let kept = base.split('_').count() - tail.split('_').count();
                    let stem: Vec<&str> = base.split('_').take(kept).collect();
                    format!("{}_{tail}", stem.join("_"))
                }
                // The other route classes of a plan: `WRITE_`, ..., `TENANT_PER_MINUTE`.
                (Some(base), None) if name.ends_with('_') => base.replace("AUTH_", &name),
                (Some(base), None) => base.replace("AUTH_PER_MINUTE", &name),
            };
            first.get_or_insert_with(|| name.clone());
            names.push(name);
        }
    }
    names
}

/// 32 bytes in base64, as `STAYBASE_SECRET_KEY` wants.
const KEY_1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const KEY_2: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

/// A variable, a value for it, and how the loaded configuration shows it took effect.
type Sample = (&'static str, &'static str, fn(&Config) -> bool);

fn samples() -> Vec<Sample> {
    vec![
        ("STAYBASE_DATABASE_URL", "sqlite:///tmp/x.db", |c| {
            c.database_url().expose() == "sqlite:///tmp/x.db"
        }),
        ("STAYBASE_DATA_DIR", "/srv/staybase", |c| {
            c.data_dir.to_str() == Some("/srv/staybase")
        }),
        ("STAYBASE_DATABASE_MAX_CONNECTIONS", "33", |c| {
            c.database_max_connections == 33
        }),
        ("STAYBASE_DATABASE_ACQUIRE_TIMEOUT_MS", "1234", |c| {
            c.database_acquire_timeout_ms == 1234
        }),
        ("STAYBASE_MIGRATE_ON_START", "false", |c| {
            !c.migrate_on_start
        }),
        ("STAYBASE_REDIS_URL", "redis://cache:6379", |c| {
            c.redis_url.as_ref().map(|url| url.expose()) == Some("redis://cache:6379")
        }),
        ("STAYBASE_BIND", "0.0.0.0:9999", |c| {
            c.bind == "0.0.0.0:9999".parse::<SocketAddr>().unwrap()
        }),
        ("STAYBASE_LOG", "warn", |c| c.log == "warn"),
        ("STAYBASE_LOG_FORMAT", "json", |c| {
            c.log_format == LogFormat::Json
        }),
        ("STAYBASE_MAX_BODY_BYTES", "4096", |c| {
            c.max_body_bytes == 4096
        }),
        ("STAYBASE_METRICS_BIND", "0.0.0.0:9191", |c| {
            c.metrics_bind == "0.0.0.0:9191".parse::<SocketAddr>().unwrap()
        }),
        ("STAYBASE_SHUTDOWN_GRACE_SECONDS", "7", |c| {
            c.shutdown_grace_seconds == 7
        }),
        ("STAYBASE_HEADER_READ_TIMEOUT_SECONDS", "3", |c| {
            c.header_read_timeout_seconds == 3
        }),
        ("STAYBASE_IDLE_TIMEOUT_SECONDS", "9", |c| {
            c.idle_timeout_seconds == 9
        }),
        ("STAYBASE_MAX_CONNECTIONS", "77", |c| {
            c.max_connections == 77
        }),
        ("STAYBASE_WORKERS", "0", |c| c.workers == 0),
        ("STAYBASE_PLUGIN_FUEL", "5000000", |c| {
            c.plugin_fuel == 5_000_000
        }),
        ("STAYBASE_PLUGIN_FUEL_PLANS__DEFAULT", "20000000", |c| {
            c.plugin_fuel_plans.get("default") == Some(&20_000_000)
        }),
        ("STAYBASE_HASHING_WORKERS", "3", |c| {
            c.hashing_workers == Some(3)
        }),
        ("STAYBASE_JOB_POLL_INTERVAL_MS", "250", |c| {
            c.job_poll_interval_ms == 250
        }),
        ("STAYBASE_JOB_LEASE_SECONDS", "45", |c| {
            c.job_lease_seconds == 45
        }),
        ("STAYBASE_JOB_BACKOFF_BASE_MS", "3000", |c| {
            c.job_backoff_base_ms == 3000
        }),
        ("STAYBASE_JOB_BACKOFF_MAX_MS", "60000", |c| {
            c.job_backoff_max_ms == 60_000
        }),
        ("STAYBASE_JOB_RETENTION_HOURS", "12", |c| {
            c.job_retention_hours == 12
        }),
        ("STAYBASE_MAIL_TRANSPORT", "file", |c| {
            c.mail_transport == MailTransportKind::File
        }),
        ("STAYBASE_MAIL_FROM", "Acme <hello@acme.test>", |c| {
            c.mail_from == "Acme <hello@acme.test>"
        }),
        ("STAYBASE_SMTP_HOST", "smtp.acme.test", |c| {
            c.smtp_host.as_deref() == Some("smtp.acme.test")
        }),
        ("STAYBASE_SMTP_PORT", "2525", |c| c.smtp_port == 2525),
        ("STAYBASE_SMTP_TLS", "tls", |c| c.smtp_tls == SmtpTls::Tls),
        ("STAYBASE_SMTP_USERNAME", "mailer", |c| {
            c.smtp_username.as_deref() == Some("mailer")
        }),
        ("STAYBASE_SMTP_PASSWORD", "hunter2", |c| {
            c.smtp_password.as_ref().map(|secret| secret.expose()) == Some("hunter2")
        }),
        ("STAYBASE_RATE_LIMITS", "off", |c| {
            c.rate_limits == Switch::Off
        }),
        (
            "STAYBASE_RATE_LIMIT_PLANS__DEFAULT__AUTH_PER_MINUTE",
            "11",
            |c| c.rate_limit_plans["default"].auth_per_minute == 11,
        ),
        (
            "STAYBASE_RATE_LIMIT_PLANS__DEFAULT__WRITE_PER_MINUTE",
            "12",
            |c| c.rate_limit_plans["default"].write_per_minute == 12,
        ),
        (
            "STAYBASE_RATE_LIMIT_PLANS__DEFAULT__READ_PER_MINUTE",
            "13",
            |c| c.rate_limit_plans["default"].read_per_minute == 13,
        ),
        (
            "STAYBASE_RATE_LIMIT_PLANS__DEFAULT__TENANT_PER_MINUTE",
            "14",
            |c| c.rate_limit_plans["default"].tenant_per_minute == 14,
        ),
        ("STAYBASE_SIGN_IN_MAX_FAILURES", "4", |c| {
            c.sign_in_max_failures == 4
        }),
        ("STAYBASE_SIGN_IN_LOCKOUT_SECONDS", "30", |c| {
            c.sign_in_lockout_seconds == 30
        }),
        ("STAYBASE_REDIS_KEY_PREFIX", "acme", |c| {
            c.redis_key_prefix == "acme"
        }),
        ("STAYBASE_PUBLIC_APP_URL", "https://stays.acme.test", |c| {
            c.public_app_url == "https://stays.acme.test"
        }),
        ("STAYBASE_OBJECT_STORE_URL", "s3://bucket/prefix", |c| {
            c.object_store_url.as_deref() == Some("s3://bucket/prefix")
        }),
        ("STAYBASE_MAX_UPLOAD_BYTES", "2097152", |c| {
            c.max_upload_bytes == 2_097_152
        }),
        ("STAYBASE_OUTBOUND_ALLOW", "127.0.0.0/8", |c| {
            c.outbound_allow == "127.0.0.0/8"
        }),
        ("STAYBASE_SECRET_KEY", KEY_1, |c| {
            c.secret_key.as_ref().map(|key| key.expose()) == Some(KEY_1)
        }),
        ("STAYBASE_SECRET_KEY_PREVIOUS", KEY_2, |c| {
            c.secret_key_previous.as_ref().map(|key| key.expose()) == Some(KEY_2)
        }),
    ]
}

/// Settings the configuration checks together with `name`.
fn companions(name: &str) -> &'static [(&'static str, &'static str)] {
    match name {
        "STAYBASE_SMTP_USERNAME" => &[("STAYBASE_SMTP_PASSWORD", "secret")],
        "STAYBASE_SMTP_PASSWORD" => &[("STAYBASE_SMTP_USERNAME", "mailer")],
        "STAYBASE_SECRET_KEY_PREVIOUS" => &[("STAYBASE_SECRET_KEY", KEY_1)],
        _ => &[],
    }
}

#[test]
fn every_documented_variable_takes_effect_through_the_environment() {
    let documented = documented();
    let samples = samples();
    for name in &documented {
        assert!(
            samples.iter().any(|(sample, ..)| sample == name),
            "the README documents {name}, which this test does not try"
        );
    }
    for (name, value, took_effect) in samples {
        assert!(
            documented.iter().any(|documented| documented == name),
            "{name} is tried here but not documented in the README"
        );
        figment::Jail::expect_with(|jail| {
            jail.set_env(name, value);
            for (companion, value) in companions(name) {
                jail.set_env(companion, value);
            }
            let config = Config::load().map_err(|err| err.to_string())?;
            assert!(took_effect(&config), "{name}={value} did not take effect");
            assert!(
                Config::unknown_env_vars().is_empty(),
                "{name} was reported unknown"
            );
            Ok(())
        });
    }
}
