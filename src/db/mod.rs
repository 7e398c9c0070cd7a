//! The database handle over both backends. Stores write one SQL text with `$1` placeholders
//! (SQLite accepts them too) and run it through `on_db!` / `on_tx!`, which expand the same
//! expression once per backend, so every query is compiled against both drivers.

pub mod notifications;
pub mod timestamp;

use std::{
    collections::HashMap,
    path::PathBuf,
    str::FromStr,
    sync::{Arc, LazyLock, Mutex},
    time::Duration,
};

use sqlx::{
    PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::{
    config::{Config, DatabaseKind},
    error::ApiError,
};

pub use timestamp::Timestamp;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

/// A value bound to a dynamically built query (see `bind_all!`).
#[derive(Debug, Clone)]
pub enum Bind {
    Uuid(Uuid),
    Text(String),
    Int(i64),
    Float(f64),
    Date(time::Date),
}

/// Binds each of `$binds` to `$query`, in order.
#[macro_export]
macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for bind in $binds {
            query = match bind {
                $crate::db::Bind::Uuid(value) => query.bind(*value),
                $crate::db::Bind::Text(value) => query.bind(value.clone()),
                $crate::db::Bind::Int(value) => query.bind(*value),
                $crate::db::Bind::Float(value) => query.bind(*value),
                $crate::db::Bind::Date(value) => query.bind(*value),
            };
        }
        query
    }};
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, taking the single write
/// lock up front so that a read-then-write cannot be overtaken by another writer.
#[derive(Debug)]
pub enum Tx {
    Sqlite(SqliteTx),
    Postgres(Transaction<'static, Postgres>),
}

/// A SQLite write transaction and its turn in the process's queue of writers to its file.
///
/// SQLite admits one writer; others wait in its busy handler, which sleeps in growing steps
/// (up to 100 ms) and serves no one in order, so under load a writer could wait seconds. The
/// process's writers therefore take turns first, in order; every write goes through one (a
/// `Tx`), so SQLite's lock is contended only by other processes. Dereferences to the
/// connection, as a `Transaction` does.
#[derive(Debug)]
pub struct SqliteTx {
    /// Present until `commit` takes it.
    transaction: Option<Transaction<'static, Sqlite>>,
    turn: Option<OwnedSemaphorePermit>,
}

impl std::ops::Deref for SqliteTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.transaction
            .as_ref()
            .expect("a transaction is open until commit")
    }
}

impl std::ops::DerefMut for SqliteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.transaction
            .as_mut()
            .expect("a transaction is open until commit")
    }
}

impl Drop for SqliteTx {
    /// A transaction dropped unfinished (an error, a replay) is rolled back before the turn
    /// passes on, so the next writer does not meet the lock of a rollback still pending.
    fn drop(&mut self) {
        let (Some(transaction), Some(turn)) = (self.transaction.take(), self.turn.take()) else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = transaction.rollback().await {
                    tracing::warn!(error = %err, "rolling back a dropped transaction failed");
                }
                drop(turn);
            });
        }
    }
}

/// How long a writer waits for its turn, as long as SQLite's busy timeout.
const WRITER_TURN_TIMEOUT: Duration = Duration::from_secs(10);

/// The writer queues of the process: by SQLite file, and by the path each pool names it with,
/// so that the file system resolves a path once, not on every transaction.
#[derive(Default)]
struct WriterQueues {
    by_file: HashMap<PathBuf, Arc<Semaphore>>,
    by_path: HashMap<PathBuf, Arc<Semaphore>>,
}

/// The writer queue of a SQLite file, shared by every pool of the process that opens it.
fn writer_queue(path: &std::path::Path) -> Arc<Semaphore> {
    static QUEUES: LazyLock<Mutex<WriterQueues>> = LazyLock::new(Mutex::default);
    let mut queues = QUEUES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(queue) = queues.by_path.get(path) {
        return Arc::clone(queue);
    }
    let file = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let queue = Arc::clone(
        queues
            .by_file
            .entry(file)
            .or_insert_with(|| Arc::new(Semaphore::new(1))),
    );
    queues.by_path.insert(path.to_owned(), Arc::clone(&queue));
    queue
}

/// Runs `$body` with `$conn` bound to the pool of whichever backend `$db` is.
#[macro_export]
macro_rules! on_db {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($conn) => $body,
            $crate::db::Db::Postgres($conn) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the connection of the transaction `$tx`.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::db::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("invalid database URL: {0}")]
    Url(#[source] sqlx::Error),
    #[error("could not create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Config(String),
}

impl Db {
    /// Builds the pool without connecting: the server starts (and reports not ready) while the
    /// database is down, and connects once it is up.
    pub fn connect_lazy(config: &Config) -> Result<Self, DbSetupError> {
        let url = config.database_url();
        let url = url.expose();
        let kind = DatabaseKind::of_url(url).map_err(DbSetupError::Config)?;
        let acquire_timeout = config.database_acquire_timeout();
        match kind {
            DatabaseKind::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(DbSetupError::Url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                if let Some(parent) = options.get_filename().parent()
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(parent).map_err(|source| DbSetupError::DataDir {
                        path: parent.display().to_string(),
                        source,
                    })?;
                }
                let pool = SqlitePoolOptions::new()
                    .max_connections(config.database_max_connections)
                    .acquire_timeout(acquire_timeout)
                    .connect_lazy_with(options);
                Ok(Self::Sqlite(pool))
            }
            DatabaseKind::Postgres => {
                let options = PgConnectOptions::from_str(url).map_err(DbSetupError::Url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(config.database_max_connections)
                    .acquire_timeout(acquire_timeout)
                    .connect_lazy_with(options);
                Ok(Self::Postgres(pool))
            }
        }
    }

    pub fn kind(&self) -> DatabaseKind {
        match self {
            Self::Sqlite(_) => DatabaseKind::Sqlite,
            Self::Postgres(_) => DatabaseKind::Postgres,
        }
    }

    /// Applies the pending forward-only migrations of this backend.
    pub async fn migrate(&self) -> Result<(), DbSetupError> {
        match self {
            Self::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Self::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_db!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(drop))
    }

    pub async fn begin(&self) -> Result<Tx, ApiError> {
        Ok(match self {
            Self::Sqlite(pool) => {
                let queue = writer_queue(pool.connect_options().get_filename());
                let turn = tokio::time::timeout(WRITER_TURN_TIMEOUT, queue.acquire_owned())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .ok_or(ApiError::Unavailable("database"))?;
                Tx::Sqlite(SqliteTx {
                    transaction: Some(pool.begin_with("BEGIN IMMEDIATE").await?),
                    turn: Some(turn),
                })
            }
            Self::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    pub async fn close(&self) {
        on_db!(self, |pool| pool.close().await)
    }

    /// Refreshes the planner's statistics of `tables` after a bulk write, so that the next
    /// queries are planned for what the tables now hold, not for what they held when
    /// autovacuum last looked (a primary-key lookup planned as a scan of the whole tenant).
    pub async fn analyze(&self, tables: &[&'static str]) -> Result<(), ApiError> {
        for table in tables {
            let sql = format!("ANALYZE {table}");
            on_db!(self, |pool| sqlx::query(&sql).execute(pool).await.map(drop))?;
        }
        Ok(())
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), ApiError> {
        match self {
            Self::Sqlite(mut tx) => {
                if let Some(transaction) = tx.transaction.take() {
                    transaction.commit().await?;
                }
            }
            Self::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// What a failed write means, by error kind rather than constraint name (SQLite has none).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

pub fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation)
}

/// PostgreSQL's exclusion violation (SQLSTATE 23P01), which has no sqlx error kind.
pub fn is_exclusion_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("23P01"))
}
