//! Test harness: each test gets the real app on a random loopback port with its own empty
//! database (a temporary SQLite file, or a PostgreSQL database cloned from a migrated template
//! when `STAYBASE_TEST_DATABASE_URL` is set) and talks to it over HTTP.

use std::{net::SocketAddr, path::PathBuf, sync::Once};

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection};
use staybase::{
    AppState, Config,
    app::Role,
    config::{DatabaseKind, Secret},
    tenants::{Tenant, service as tenants},
};
use tokio::sync::oneshot;

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
        database_url: Some(Secret::new(database.url.clone())),
        redis_url: std::env::var(TEST_REDIS_URL).ok().map(Secret::new),
        data_dir: data_dir.path().to_owned(),
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
    let acceptor = staybase::app::bind(&config).await.expect("bind");
    let addr = poem::listener::Acceptor::local_addr(&acceptor)[0]
        .as_socket_addr()
        .copied()
        .expect("tcp address");
    let database_url = config.database_url().expose().to_owned();
    let state = AppState::start(config).await.expect("start app");
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    tokio::spawn(staybase::app::serve(
        acceptor,
        state.clone(),
        Role::Api,
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

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn create_tenant(&self, slug: &str) -> Tenant {
        tenants::create(
            &self.state.db,
            tenants::NewTenant {
                slug,
                name: &format!("{slug} stays"),
            },
        )
        .await
        .expect("create tenant")
    }
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
