//! Test harness: each test gets the real app on a random loopback port with its own empty
//! database (a temporary SQLite file, or a PostgreSQL database cloned from a migrated template
//! when `STAYBASE_TEST_DATABASE_URL` is set) and talks to it over HTTP.

use std::{net::SocketAddr, path::PathBuf, sync::Once};

use mailparse::MailHeaderMap;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection};
use staybase::{
    AppState, Config,
    config::{DatabaseKind, Secret},
    router::server::Mode,
    tenants::{Tenant, service as tenants},
};
use tokio::sync::oneshot;

mod client;
pub use client::*;

pub const TEST_DATABASE_URL: &str = "STAYBASE_TEST_DATABASE_URL";
pub const TEST_REDIS_URL: &str = "STAYBASE_TEST_REDIS_URL";

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: Client,
    pub state: AppState,
    pub database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    _database: TestDatabase,
    _data_dir: tempfile::TempDir,
}

pub fn expected_backend() -> DatabaseKind {
    match std::env::var(TEST_DATABASE_URL) {
        Ok(_) => DatabaseKind::Postgres,
        Err(_) => DatabaseKind::Sqlite,
    }
}

fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("STAYBASE_TEST_LOG") {
            staybase::telemetry::init(&filter, staybase::config::LogFormat::Text);
        }
    });
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app on a fresh database, after `adjust` has changed its configuration.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    init_logging();
    let database = TestDatabase::create().await;
    let data_dir = tempfile::tempdir().expect("data dir");
    let mut config = Config {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        metrics_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: Some(Secret::new(database.url.clone())),
        redis_url: std::env::var(TEST_REDIS_URL).ok().map(Secret::new),
        data_dir: data_dir.path().to_owned(),
        // Each app its own Redis namespace, so tests sharing a Redis do not share limits.
        redis_key_prefix: format!("test-{}", uuid::Uuid::now_v7().simple()),
        // Generous limits: the rate-limit tests set their own.
        rate_limit_plans: [(
            staybase::ratelimit::DEFAULT_PLAN.to_owned(),
            staybase::ratelimit::PlanLimits {
                auth_per_minute: 10_000,
                write_per_minute: 10_000,
                read_per_minute: 10_000,
                tenant_per_minute: 100_000,
            },
        )]
        .into(),
        ..Config::default()
    };
    adjust(&mut config);
    spawn_with_config(config, database, data_dir).await
}

async fn spawn_with_config(
    config: Config,
    database: TestDatabase,
    data_dir: tempfile::TempDir,
) -> TestApp {
    let acceptor = staybase::router::server::bind(&config).await.expect("bind");
    let addr = poem::listener::Acceptor::local_addr(&acceptor)[0]
        .as_socket_addr()
        .copied()
        .expect("tcp address");
    let database_url = config.database_url().expose().to_owned();
    let state = AppState::start(config).await.expect("start app");
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    tokio::spawn(staybase::router::server::serve(
        acceptor,
        state.clone(),
        Mode::Api,
        async {
            let _ = shutdown_rx.await;
        },
    ));
    TestApp {
        addr,
        client: Client::builder().build().expect("http client"),
        state,
        database_url,
        shutdown: Some(shutdown),
        _database: database,
        _data_dir: data_dir,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The text of `GET /metrics` on the metrics listener (not the API's port).
    pub async fn metrics(&self) -> Response {
        let addr = loop {
            // Bound by the server loop as it starts.
            match self.state.metrics_addr.get() {
                Some(addr) => break *addr,
                None => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
            }
        };
        self.client
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .expect("metrics request")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Another instance of the app on the same database (and Redis), as a second replica
    /// behind a load balancer would be; returns its base URL. It serves until the test ends.
    pub async fn replica(&self) -> String {
        self.replica_with(|_| {}).await.expect("start replica")
    }

    /// Like `replica`, with the configuration changed first (a restart with new settings);
    /// the start's error when it refuses to start.
    pub async fn replica_with(
        &self,
        adjust: impl FnOnce(&mut Config),
    ) -> Result<String, staybase::app::StartError> {
        let mut config = self.state.config.clone();
        adjust(&mut config);
        let other = AppState::start(config.clone()).await?;
        let acceptor = staybase::router::server::bind(&config)
            .await
            .expect("bind replica");
        let addr = poem::listener::Acceptor::local_addr(&acceptor)[0]
            .as_socket_addr()
            .copied()
            .expect("tcp address");
        tokio::spawn(staybase::router::server::serve(
            acceptor,
            other,
            Mode::Api,
            std::future::pending(),
        ));
        Ok(format!("http://{addr}"))
    }

    pub async fn create_tenant(&self, slug: &str) -> Tenant {
        self.create_tenant_in_mode(slug, false).await
    }

    /// A test tenant: simulated payments only, and its own clock.
    pub async fn create_test_tenant(&self, slug: &str) -> Tenant {
        self.create_tenant_in_mode(slug, true).await
    }

    async fn create_tenant_in_mode(&self, slug: &str, test_mode: bool) -> Tenant {
        tenants::create(
            &self.state.db,
            tenants::NewTenant {
                slug,
                name: &format!("{slug} stays"),
                test_mode,
            },
        )
        .await
        .expect("create tenant")
    }
}

pub const PASSWORD: &str = "correct horse battery";

/// A signed-in account: its token response and the pieces tests use most.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl Account {
    fn from_token_response(body: &Value) -> Self {
        Self {
            id: body["user"]["id"].as_str().expect("user id").to_owned(),
            access_token: body["access_token"]
                .as_str()
                .expect("access token")
                .to_owned(),
            refresh_token: body["refresh_token"]
                .as_str()
                .expect("refresh token")
                .to_owned(),
        }
    }
}

impl TestApp {
    pub async fn post_json(
        &self,
        path: &str,
        body: &(impl serde::Serialize + ?Sized),
        token: Option<&str>,
    ) -> Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    pub async fn get_with(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// Registers `email` in `tenant`, signs it in and returns the account.
    pub async fn register(&self, tenant: &str, email: &str, host: bool) -> Account {
        let response = self
            .post_json(
                &format!("/v1/t/{tenant}/auth/register"),
                &serde_json::json!({
                    "email": email,
                    "password": PASSWORD,
                    "first_name": "Ana",
                    "last_name": "Lima",
                    "host": host,
                }),
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "register {email}");
        self.sign_in(tenant, email).await
    }

    pub async fn login(&self, tenant: &str, email: &str, password: &str) -> Response {
        self.post_json(
            &format!("/v1/t/{tenant}/auth/login"),
            &serde_json::json!({ "email": email, "password": password }),
            None,
        )
        .await
    }

    /// Signs `email` in and returns the account.
    pub async fn sign_in(&self, tenant: &str, email: &str) -> Account {
        let response = self.login(tenant, email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "login {email}");
        Account::from_token_response(&response.json().await.expect("token response"))
    }

    /// Gives the account these roles directly in the database (the operator CLI's job).
    pub async fn set_roles(&self, account: &Account, roles: &str) {
        let id = uuid::Uuid::parse_str(&account.id).expect("user id");
        staybase::on_db!(&self.state.db, |pool| {
            sqlx::query("UPDATE users SET roles = $1 WHERE id = $2")
                .bind(roles)
                .bind(id)
                .execute(pool)
                .await
                .map(drop)
        })
        .expect("set roles");
        // As a service that changes roles does after its commit: this replica need not wait
        // for PostgreSQL's notification.
        self.state.principals.forget_user(staybase::ids::UserId(id));
    }

    /// A tenant administrator of `tenant`, signed in.
    pub async fn tenant_admin(&self, tenant: &str) -> Account {
        let email = format!("admin-{}@example.com", uuid::Uuid::now_v7().simple());
        let account = self.register(tenant, &email, false).await;
        self.set_roles(&account, "tenant_admin,guest").await;
        account
    }

    /// The most recent email to `to` whose subject or plain text (decoded) contains `about`,
    /// waiting for the worker to write it. Returns the raw message.
    pub async fn email_to(&self, to: &str, about: &str) -> String {
        let outbox = self.state.config.data_dir.join("outbox");
        let latest = || {
            let mut messages: Vec<_> = std::fs::read_dir(&outbox)
                .ok()?
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
                .collect();
            messages.sort();
            messages.into_iter().rev().find_map(|path| {
                let raw = std::fs::read_to_string(path).ok()?;
                let parsed = mailparse::parse_mail(raw.as_bytes()).ok()?;
                let subject = parsed
                    .headers
                    .get_first_value("Subject")
                    .unwrap_or_default();
                let text = parsed.subparts.first()?.get_body().ok()?;
                let readable = format!("Subject: {subject}\n{text}");
                (raw.contains(&format!("To: {to}")) && readable.contains(about)).then_some(raw)
            })
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            if let Some(message) = latest() {
                return message;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no email to {to} about {about:?} within 15 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// The `token=` value of the first link in an email.
pub fn token_in_email(email: &str) -> String {
    let parsed = mailparse::parse_mail(email.as_bytes()).expect("email parses");
    let text = parsed.subparts[0].get_body().expect("plain text part");
    let start = text.find("token=").expect("a link with a token") + "token=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

/// The date `offset` days from today (UTC, the default tenant time zone), as `YYYY-MM-DD`.
pub fn day(offset: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(offset)).to_string()
}

/// Polls `check` until it holds; fails the test after 15 seconds.
pub async fn eventually<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within 15 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The codes and amounts of a quote's (or a booking's) line items.
pub fn line_amounts(priced: &Value) -> Vec<(String, i64)> {
    priced["line_items"]
        .as_array()
        .expect("line items")
        .iter()
        .map(|line| {
            (
                line["code"].as_str().expect("code").to_owned(),
                line["amount"]["amount"].as_i64().expect("amount"),
            )
        })
        .collect()
}

/// Asserts a problem+json answer with this status and code; returns the document.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status of {}", response.url());
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["type"], format!("urn:staybase:problem:{code}"));
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    assert!(body["errors"].is_array(), "{body}");
    body
}

/// Asserts a 422 `validation_failed` answer whose `errors` name `field`; returns the document.
pub async fn assert_invalid(response: Response, field: &str) -> Value {
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|error| error["field"] == field),
        "no error names {field}: {problem}"
    );
    problem
}

enum TestDatabaseKind {
    /// Kept for its Drop, which deletes the file with its -wal and -shm companions.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

pub struct TestDatabase {
    pub url: String,
    kind: TestDatabaseKind,
}

impl TestDatabase {
    pub async fn create() -> Self {
        match std::env::var(TEST_DATABASE_URL) {
            Ok(admin_url) => Self::create_postgres(admin_url).await,
            Err(_) => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("staybase.db").display());
                Self {
                    url,
                    kind: TestDatabaseKind::Sqlite { _dir: dir },
                }
            }
        }
    }

    /// Clones a migrated template, created once per migration set by whichever test gets the
    /// advisory lock first (nextest runs each test in its own process).
    async fn create_postgres(admin_url: String) -> Self {
        let template = format!("staybase_tpl_{}", migrations_fingerprint());
        let name = format!("staybase_t_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to test PostgreSQL");
        admin
            .execute("SELECT pg_advisory_lock(7261120401)")
            .await
            .expect("lock");
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&template)
                .fetch_one(&mut admin)
                .await
                .expect("look up template");
        if !exists {
            let building = format!("{template}_building");
            admin
                .execute(format!("DROP DATABASE IF EXISTS {building}").as_str())
                .await
                .expect("drop partial template");
            admin
                .execute(format!("CREATE DATABASE {building}").as_str())
                .await
                .expect("create template");
            let config = Config {
                database_url: Some(Secret::new(database_url(&admin_url, &building))),
                ..Config::default()
            };
            let db = staybase::db::Db::connect_lazy(&config).expect("template pool");
            db.migrate().await.expect("migrate template");
            db.close().await;
            admin
                .execute(format!("ALTER DATABASE {building} RENAME TO {template}").as_str())
                .await
                .expect("publish template");
        }
        admin
            .execute(
                format!("CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY").as_str(),
            )
            .await
            .expect("clone template");
        admin
            .execute("SELECT pg_advisory_unlock(7261120401)")
            .await
            .expect("unlock");
        Self {
            url: database_url(&admin_url, &name),
            kind: TestDatabaseKind::Postgres { admin_url, name },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabaseKind::Postgres { admin_url, name } = &self.kind {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime: use a thread with its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async {
                    if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                        let _ = admin
                            .execute(
                                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                            )
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// The same server with the database path replaced.
fn database_url(admin_url: &str, database: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url, String::new()),
    };
    let server = match base.rsplit_once('/') {
        Some((server, _)) if server.contains("//") && !server.ends_with('/') => server,
        _ => base.trim_end_matches('/'),
    };
    format!("{server}/{database}{query}")
}

fn migrations_fingerprint() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("migrations dir")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    files.sort();
    // FNV-1a: stable across processes, unlike the std hasher's random keys.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        for byte in std::fs::read(&file).expect("migration file") {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}
