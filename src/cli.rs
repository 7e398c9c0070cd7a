//! The operator commands behind `staybase <subcommand>`; `main.rs` only parses and dispatches.

use std::{net::SocketAddr, time::Duration};

use clap::{Parser, Subcommand};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::{
    admin::service::{self as admin_service, InitialPassword},
    app::{self, AppState},
    authz::Roles,
    config::Config,
    db::{Db, Timestamp},
    error::ApiError,
    jobs::{JobId, store as job_store},
    plugins::kit,
    router::server::{self, Mode},
    tenants::{TenantStatus, service as tenants},
    users,
};

#[derive(Debug, Parser)]
#[command(
    name = "staybase",
    version,
    about = "Multi-tenant backend for vacation-rental marketplaces"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default), with `STAYBASE_WORKERS` job workers beside it.
    Serve,
    /// Run job workers only (at least one), serving /healthz and /readyz for probes.
    Worker,
    /// Inspect and retry background jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage tenants (marketplaces).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage platform administrators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Fix a tenant user's account without the API.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the JWT signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Demo data for trying the product and benchmarking.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Write and check tenant plugins (WebAssembly components), without a server.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Print the OpenAPI document.
    Openapi,
    /// Exit 0 when the local server's /healthz answers (for container health checks).
    Healthcheck,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant, and its first administrator when an email is given. The
    /// administrator's password comes from STAYBASE_PASSWORD or standard input (never the
    /// command line); with neither, a one-time password is printed that must be replaced at
    /// auth/password-change before signing in.
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_email: Option<String>,
        /// A test tenant: the simulated payment provider only, and a clock its administrators
        /// advance (`POST /v1/t/{slug}/test-clock/advance`).
        #[arg(long)]
        test_mode: bool,
    },
    /// List every tenant as JSON lines (slug, name, status, settings).
    List,
    /// Put a tenant on one of the configured rate-limit plans (`STAYBASE_RATE_LIMIT_PLANS`).
    Plan {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        plan: String,
    },
    /// Suspend a tenant: its API answers 403 `tenant_suspended`, its data is kept.
    Suspend {
        #[arg(long)]
        slug: String,
    },
    /// Resume a suspended tenant.
    Resume {
        #[arg(long)]
        slug: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a platform administrator. The password comes from STAYBASE_PASSWORD or standard
    /// input (never the command line); with neither, a one-time password is printed that must
    /// be replaced at /v1/admin/auth/password before signing in.
    Create {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Replace a user's roles, e.g. `--set host,guest`.
    Roles {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_delimiter = ',', required = true)]
        set: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Seed hosts, guests and listings across European cities into a tenant (created if
    /// needed). Accounts get the password from STAYBASE_PASSWORD, else one printed at the end.
    Seed {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        properties: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key and retire the current one (it verifies until its tokens expire).
    Rotate,
    /// Seal every stored secret under STAYBASE_SECRET_KEY: after setting the key, or after a
    /// rotation, before STAYBASE_SECRET_KEY_PREVIOUS is removed.
    Reseal,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Write a ready Rust project for a plugin into ./NAME (see its README).
    New {
        /// The project's, crate's and component's name: lowercase letters, digits, `_`.
        name: String,
        /// `pricing` or `review-rules`.
        #[arg(long)]
        kind: String,
        /// Where to create the project folder.
        #[arg(long, default_value = ".")]
        dir: std::path::PathBuf,
    },
    /// Check a component as an upload would, and run it once on a JSON input (the sample
    /// input of its kind by default); exits non-zero if it is refused or its call fails.
    Check {
        /// The `.wasm` component.
        file: std::path::PathBuf,
        /// `pricing` or `review-rules`.
        #[arg(long)]
        kind: String,
        /// A JSON file holding the input (a quote or a review, snake_case fields; `config` a
        /// JSON string).
        #[arg(long)]
        input: Option<std::path::PathBuf>,
        /// Fuel for the call, as a tenant's plan would give it.
        #[arg(long, default_value_t = crate::plugins::runtime::DEFAULT_FUEL)]
        fuel: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List the most recent jobs in a status (default: dead letters), as JSON lines.
    List {
        #[arg(long, default_value = "dead", value_parser = ["queued", "running", "failed", "done", "dead"])]
        status: String,
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=1000))]
        limit: i64,
    },
    /// Put a dead job back in the queue with a fresh set of attempts.
    Retry { id: uuid::Uuid },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Start(#[from] app::StartError),
    #[error(transparent)]
    Database(#[from] crate::db::DbSetupError),
    #[error("{}", describe(.0))]
    Api(#[from] ApiError),
    #[error("{0}")]
    Failed(String),
}

fn describe(err: &ApiError) -> String {
    match err {
        ApiError::Validation(errors) => errors
            .iter()
            .map(|e| format!("--{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("\n"),
        ApiError::Internal(cause) => format!("internal error: {cause}"),
        other => other.detail(),
    }
}

pub async fn run(command: Command, config: Config) -> Result<(), CliError> {
    match command {
        Command::Serve => serve(config, Mode::Api).await,
        Command::Worker => {
            let config = Config {
                workers: config.workers.max(1),
                ..config
            };
            serve(config, Mode::WorkerOnly).await
        }
        Command::Jobs(command) => jobs(command, config).await,
        Command::Migrate => {
            let db = Db::connect_lazy(&config)?;
            db.migrate().await?;
            db.close().await;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Tenant(command) => tenant(command, config).await,
        Command::Admin(AdminCommand::Create { email }) => {
            let initial = match read_password().await? {
                Some(password) => InitialPassword::Given(password),
                None => InitialPassword::OneTime,
            };
            let state = AppState::start(config).await?;
            let one_time = admin_service::create(&state.db, &email, initial).await?;
            state.db.close().await;
            match one_time {
                Some(password) => println!(
                    "platform administrator {email} created\none-time password: {password}\n\
                     replace it at POST /v1/admin/auth/password before signing in"
                ),
                None => println!("platform administrator {email} created"),
            }
            Ok(())
        }
        Command::User(UserCommand::Roles { tenant, email, set }) => {
            let roles = Roles::parse_names("set", &set)?;
            let state = AppState::start(config).await?;
            let user =
                users::service::set_roles_by_operator(&state.db, &tenant, &email, roles).await?;
            state.db.close().await;
            println!(
                "{} in {tenant} now has roles {}",
                user.email,
                user.roles.to_column()
            );
            Ok(())
        }
        Command::Demo(DemoCommand::Seed { tenant, properties }) => {
            let (password, generated) = match std::env::var("STAYBASE_PASSWORD") {
                Ok(password) => (password, false),
                Err(_) => (crate::auth::password::one_time(), true),
            };
            let state = AppState::start(config).await?;
            let seeded =
                crate::demo::seed(&state.db, &tenant, properties as usize, &password).await?;
            state.db.close().await;
            println!(
                "seeded {}: {} hosts, {} guests, {} properties",
                seeded.tenant.slug,
                seeded.hosts.len(),
                seeded.guests.len(),
                seeded.properties
            );
            for (role, emails) in [("host", &seeded.hosts), ("guest", &seeded.guests)] {
                for email in emails {
                    println!("{role} {email}");
                }
            }
            if generated {
                println!("password of every demo account: {password}");
            } else {
                println!("password of every demo account: the value of STAYBASE_PASSWORD");
            }
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate) => {
            let state = AppState::start(config).await?;
            let kid = state.keys.rotate().await?;
            state.db.close().await;
            println!("new signing key {kid}; the previous one verifies until its tokens expire");
            Ok(())
        }
        Command::Keys(KeysCommand::Reseal) => {
            let state = AppState::start(config).await?;
            if !state.secrets.is_configured() {
                return Err(CliError::Failed("STAYBASE_SECRET_KEY is not set".into()));
            }
            // Loading the signing keys seals those in the clear or under the previous key.
            state.keys.ensure_loaded().await?;
            let tenants = crate::payment_provider::service::reseal_all(&state).await?;
            let webhook_keys =
                crate::payments::simulated::reseal_webhook_keys(&state.db, &state.secrets).await?;
            state.db.close().await;
            println!(
                "signing keys sealed; payment provider credentials of {tenants} tenants and \
                 {webhook_keys} simulated webhook keys sealed again"
            );
            Ok(())
        }
        Command::Plugin(command) => plugin(command).await,
        Command::Openapi => {
            print!("{}", crate::router::spec_json());
            Ok(())
        }
        Command::Healthcheck => healthcheck(config.bind).await,
    }
}

async fn plugin(command: PluginCommand) -> Result<(), CliError> {
    let kind_of = |kind: &str| {
        kit::parse_kind(kind).ok_or_else(|| {
            CliError::Failed(format!("--kind {kind:?}: must be pricing or review-rules"))
        })
    };
    match command {
        PluginCommand::New { name, kind, dir } => {
            let folder =
                kit::new_project(&dir, &name, kind_of(&kind)?).map_err(CliError::Failed)?;
            println!(
                "created {}: see its README.md to build, check and upload it",
                folder.display()
            );
            Ok(())
        }
        PluginCommand::Check {
            file,
            kind,
            input,
            fuel,
        } => {
            let kind = kind_of(&kind)?;
            let input = match input {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|err| CliError::Failed(format!("{}: {err}", path.display())))?;
                    Some(serde_json::from_str(&text).map_err(|err| {
                        CliError::Failed(format!("{}: not JSON: {err}", path.display()))
                    })?)
                }
                None => None,
            };
            let run = kit::check(&file, kind, input, fuel)
                .await
                .map_err(|err| CliError::Failed(format!("refused: {err}")))?;
            for line in &run.logs {
                println!("log: {line}");
            }
            println!(
                "fuel used: {}, duration: {} us",
                run.fuel_used,
                run.duration.as_micros()
            );
            match (run.output, run.error) {
                (Some(output), _) => {
                    println!("ok: {output}");
                    Ok(())
                }
                (None, Some(failure)) => Err(CliError::Failed(format!(
                    "the call failed ({}): {}",
                    failure.reason.as_str(),
                    failure.message
                ))),
                (None, None) => Err(CliError::Failed("the call answered nothing".into())),
            }
        }
    }
}

async fn serve(config: Config, mode: Mode) -> Result<(), CliError> {
    let acceptor = server::bind(&config).await?;
    let state = AppState::start(config).await?;
    server::serve(acceptor, state, mode, server::shutdown_signal())
        .await
        .map_err(|err| CliError::Failed(format!("server error: {err}")))
}

async fn tenant(command: TenantCommand, config: Config) -> Result<(), CliError> {
    if let TenantCommand::List = command {
        let state = AppState::start(config).await?;
        let tenants = tenants::list(&state.db).await?;
        state.db.close().await;
        for tenant in tenants {
            let line =
                serde_json::to_string(&tenant).map_err(|err| CliError::Failed(err.to_string()))?;
            println!("{line}");
        }
        return Ok(());
    }
    let admin_password = match &command {
        TenantCommand::Create {
            admin_email: Some(_),
            ..
        } => Some(match read_password().await? {
            Some(password) => InitialPassword::Given(password),
            None => InitialPassword::OneTime,
        }),
        _ => None,
    };
    let created_without_admin = matches!(
        &command,
        TenantCommand::Create {
            admin_email: None,
            ..
        }
    );
    let state = AppState::start(config).await?;
    let mut one_time_password = None;
    let tenant = match command {
        TenantCommand::Create {
            slug,
            name,
            admin_email,
            test_mode,
        } => {
            let admin = admin_email
                .as_deref()
                .zip(admin_password)
                .map(|(email, password)| tenants::FirstAdmin { email, password });
            let (tenant, one_time) = tenants::create_with_admin(
                &state.db,
                tenants::NewTenant {
                    slug: &slug,
                    name: &name,
                    test_mode,
                },
                admin,
            )
            .await?;
            one_time_password = one_time;
            tenant
        }
        TenantCommand::List => unreachable!("listed above"),
        TenantCommand::Plan { slug, plan } => {
            let change = tenants::OperatorChange {
                rate_limit_plan: Some(plan),
            };
            tenants::change_as_operator(&state, &slug, change).await?
        }
        TenantCommand::Suspend { slug } => {
            tenants::set_status(&state, &slug, TenantStatus::Suspended).await?
        }
        TenantCommand::Resume { slug } => {
            tenants::set_status(&state, &slug, TenantStatus::Active).await?
        }
    };
    state.db.close().await;
    let json =
        serde_json::to_string_pretty(&tenant).map_err(|err| CliError::Failed(err.to_string()))?;
    println!("{json}");
    // Hints go to standard error, so that standard output stays the tenant's JSON.
    if let Some(password) = one_time_password {
        eprintln!(
            "one-time password: {password}\nreplace it at POST /v1/t/{}/auth/password-change before signing in",
            tenant.slug
        );
    }
    if created_without_admin {
        eprintln!(
            "{slug} has no administrator yet: create the tenant with --admin-email, or register an \
             account (POST /v1/t/{slug}/auth/register) and run\n  staybase user roles --tenant {slug} \
             --email <email> --set tenant_admin,guest",
            slug = tenant.slug
        );
    }
    Ok(())
}

async fn jobs(command: JobsCommand, config: Config) -> Result<(), CliError> {
    let state = AppState::start(config).await?;
    match command {
        JobsCommand::List { status, limit } => {
            for job in job_store::list_by_status(&state.db, &status, limit).await? {
                let line =
                    serde_json::to_string(&job).map_err(|err| CliError::Failed(err.to_string()))?;
                println!("{line}");
            }
        }
        JobsCommand::Retry { id } => {
            if !job_store::retry_dead(&state.db, JobId(id), Timestamp::now()).await? {
                return Err(CliError::Failed(format!("no dead job has the id {id}")));
            }
            println!("job {id} queued again");
        }
    }
    state.db.close().await;
    Ok(())
}

/// The password for a new account: `STAYBASE_PASSWORD`, else a line from standard input when
/// it is not a terminal. `None` asks for a one-time password.
async fn read_password() -> Result<Option<String>, CliError> {
    if let Ok(password) = std::env::var("STAYBASE_PASSWORD") {
        return Ok(Some(password));
    }
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let mut line = String::new();
    tokio::io::BufReader::new(tokio::io::stdin())
        .read_line(&mut line)
        .await
        .map_err(|err| {
            CliError::Failed(format!("reading the password from standard input: {err}"))
        })?;
    let password = line.trim_end_matches(['\r', '\n']);
    Ok((!password.is_empty()).then(|| password.to_owned()))
}

/// A bare HTTP/1.1 request: the runtime image has no curl, and a client crate is not worth it.
async fn healthcheck(bind: SocketAddr) -> Result<(), CliError> {
    let target = if bind.ip().is_unspecified() {
        match bind {
            SocketAddr::V4(_) => SocketAddr::from(([127, 0, 0, 1], bind.port())),
            SocketAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, bind.port())),
        }
    } else {
        bind
    };
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(target).await?;
        let request =
            format!("GET /healthz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        Ok::<_, std::io::Error>(head)
    };
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(head)) if head.starts_with(b"HTTP/1.1 200") => Ok(()),
        Ok(Ok(head)) => Err(CliError::Failed(format!(
            "{target}/healthz answered {}",
            String::from_utf8_lossy(&head)
        ))),
        Ok(Err(err)) => Err(CliError::Failed(format!("{target}/healthz: {err}"))),
        Err(_) => Err(CliError::Failed(format!("{target}/healthz timed out"))),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
