//! SQL of the job queue. Claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite the claim
//! runs in a `BEGIN IMMEDIATE` transaction, which already admits one writer at a time.

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::JobId;
use crate::{
    db::{Db, Timestamp, Tx},
    error::ApiError,
    ids::TenantId,
    on_db, on_tx,
};

pub struct NewJob<'a> {
    pub id: JobId,
    pub tenant: Option<TenantId>,
    pub kind: &'a str,
    pub payload: &'a Value,
    pub max_attempts: u32,
    pub run_at: Timestamp,
    pub unique_key: Option<&'a str>,
    pub now: Timestamp,
}

/// Inserts `jobs` in one statement, skipping those whose unique key is taken; returns how many
/// were inserted.
#[tracing::instrument(level = "debug", skip_all, fields(count = jobs.len()))]
pub async fn insert(tx: &mut Tx, jobs: &[NewJob<'_>]) -> Result<u64, ApiError> {
    let rows: Vec<String> = (0..jobs.len())
        .map(|n| {
            let p = |k: usize| format!("${}", n * 8 + k);
            format!(
                "({}, {}, {}, {}, 'queued', 0, {}, {}, {}, {}, {})",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8),
                p(8)
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO jobs (id, tenant_id, kind, payload, status, attempts, max_attempts, \
         run_at, unique_key, created_at, updated_at) VALUES {} \
         ON CONFLICT (unique_key) DO NOTHING",
        rows.join(", ")
    );
    let inserted = on_tx!(tx, |conn| {
        let mut statement = sqlx::query(&sql);
        for job in jobs {
            statement = statement
                .bind(job.id.0)
                .bind(job.tenant.map(|tenant| tenant.0))
                .bind(job.kind)
                .bind(Json(&job.payload))
                .bind(i64::from(job.max_attempts))
                .bind(job.run_at)
                .bind(job.unique_key)
                .bind(job.now);
        }
        statement
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(inserted)
}

#[derive(Debug, sqlx::FromRow)]
pub struct ClaimedRow {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub kind: String,
    pub payload: Json<Value>,
    pub attempts: i64,
    pub max_attempts: i64,
}

const CLAIM_POSTGRES: &str = "\
    UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1, \
        locked_until = $2, updated_at = $3 \
    WHERE id = (\
        SELECT id FROM jobs \
        WHERE kind = ANY($4) AND ((status IN ('queued', 'failed') AND run_at <= $3) \
            OR (status = 'running' AND locked_until <= $3 AND attempts < max_attempts)) \
        ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
    RETURNING id, tenant_id, kind, payload, CAST(attempts AS BIGINT) AS attempts, \
        CAST(max_attempts AS BIGINT) AS max_attempts";

const CLAIM_SQLITE: &str = "\
    UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1, \
        locked_until = $2, updated_at = $3 \
    WHERE id = (\
        SELECT id FROM jobs \
        WHERE kind IN (SELECT value FROM json_each($4)) \
            AND ((status IN ('queued', 'failed') AND run_at <= $3) \
            OR (status = 'running' AND locked_until <= $3 AND attempts < max_attempts)) \
        ORDER BY run_at, id LIMIT 1) \
    RETURNING id, tenant_id, kind, payload, attempts, max_attempts";

/// Leases the next due job of one of `kinds` (or one whose lease ran out) to `worker`.
#[tracing::instrument(level = "debug", skip_all, fields(worker = worker))]
pub async fn claim(
    db: &Db,
    worker: &str,
    kinds: &[&str],
    now: Timestamp,
    lease_until: Timestamp,
) -> Result<Option<ClaimedRow>, ApiError> {
    let mut tx = db.begin().await?;
    // A job whose every attempt lost its worker (a crash, an out-of-memory kill) would otherwise
    // be retried forever: its lease expired with no attempts left, so it is dead.
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE jobs SET status = 'dead', locked_by = NULL, locked_until = NULL, \
             finished_at = $1, updated_at = $1, \
             last_error = 'every attempt ended with its worker gone (lease expired)' \
             WHERE status = 'running' AND locked_until <= $1 AND attempts >= max_attempts",
        )
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    let row = match &mut tx {
        Tx::Postgres(tx) => {
            sqlx::query_as(CLAIM_POSTGRES)
                .bind(worker)
                .bind(lease_until)
                .bind(now)
                .bind(kinds)
                .fetch_optional(&mut **tx)
                .await?
        }
        Tx::Sqlite(tx) => {
            sqlx::query_as(CLAIM_SQLITE)
                .bind(worker)
                .bind(lease_until)
                .bind(now)
                .bind(Json(kinds))
                .fetch_optional(&mut **tx)
                .await?
        }
    };
    tx.commit().await?;
    Ok(row)
}

/// Extends a lease; `false` when the worker no longer holds it.
#[tracing::instrument(level = "debug", skip_all, fields(job = %id, worker = worker))]
pub async fn extend_lease(
    db: &Db,
    id: JobId,
    worker: &str,
    lease_until: Timestamp,
) -> Result<bool, ApiError> {
    // A transaction, so that on SQLite the heartbeat takes its turn among the writers.
    let mut tx = db.begin().await?;
    let updated = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE jobs SET locked_until = $1 \
             WHERE id = $2 AND locked_by = $3 AND status = 'running'",
        )
        .bind(lease_until)
        .bind(id.0)
        .bind(worker)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    tx.commit().await?;
    Ok(updated == 1)
}

/// How an attempt ended, as written to the row.
pub enum Outcome<'a> {
    Done,
    RetryAt {
        run_at: Timestamp,
        error: &'a str,
    },
    Dead {
        error: &'a str,
    },
    /// Handed back untried (shutdown): the attempt does not count.
    Released,
}

/// Records the outcome if `worker` still holds the lease; `false` when it lost it.
#[tracing::instrument(level = "debug", skip_all, fields(job = %id, worker = worker))]
pub async fn finish(
    db: &Db,
    id: JobId,
    worker: &str,
    outcome: Outcome<'_>,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let (sql, run_at, error) = match outcome {
        Outcome::Done => (
            "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, \
             finished_at = $1, updated_at = $1, last_error = $2 \
             WHERE id = $3 AND locked_by = $4 AND status = 'running'",
            None,
            None,
        ),
        Outcome::RetryAt { run_at, error } => (
            "UPDATE jobs SET status = 'failed', locked_by = NULL, locked_until = NULL, \
             run_at = $5, updated_at = $1, last_error = $2 \
             WHERE id = $3 AND locked_by = $4 AND status = 'running'",
            Some(run_at),
            Some(error),
        ),
        Outcome::Dead { error } => (
            "UPDATE jobs SET status = 'dead', locked_by = NULL, locked_until = NULL, \
             finished_at = $1, updated_at = $1, last_error = $2 \
             WHERE id = $3 AND locked_by = $4 AND status = 'running'",
            None,
            Some(error),
        ),
        Outcome::Released => (
            "UPDATE jobs SET status = CASE WHEN attempts > 1 THEN 'failed' ELSE 'queued' END, \
             attempts = attempts - 1, locked_by = NULL, locked_until = NULL, \
             run_at = $1, updated_at = $1, last_error = $2 \
             WHERE id = $3 AND locked_by = $4 AND status = 'running'",
            None,
            Some("released unfinished at worker shutdown"),
        ),
    };
    let mut tx = db.begin().await?;
    let updated = on_tx!(&mut tx, |conn| {
        let query = sqlx::query(sql)
            .bind(now)
            .bind(error)
            .bind(id.0)
            .bind(worker);
        let query = match run_at {
            Some(run_at) => query.bind(run_at),
            None => query,
        };
        query.execute(conn).await.map(|done| done.rows_affected())
    })?;
    tx.commit().await?;
    Ok(updated == 1)
}

/// Deletes jobs that finished successfully before `cutoff`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn prune_done(db: &Db, cutoff: Timestamp) -> Result<u64, ApiError> {
    let mut tx = db.begin().await?;
    let deleted = on_tx!(&mut tx, |conn| {
        sqlx::query("DELETE FROM jobs WHERE status = 'done' AND finished_at < $1")
            .bind(cutoff)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })?;
    tx.commit().await?;
    Ok(deleted)
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct KindStatusCount {
    pub kind: String,
    pub status: String,
    pub count: i64,
}

/// Jobs per kind and status, for metrics.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn counts(db: &Db) -> Result<Vec<KindStatusCount>, ApiError> {
    Ok(on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT kind, status, COUNT(*) AS count FROM jobs GROUP BY kind, status \
             ORDER BY kind, status",
        )
        .fetch_all(pool)
        .await
    })?)
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct JobSummary {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// The most recent jobs in a status, newest first (operators inspecting dead letters).
#[tracing::instrument(level = "debug", skip_all, fields(status = status))]
pub async fn list_by_status(
    db: &Db,
    status: &str,
    limit: i64,
) -> Result<Vec<JobSummary>, ApiError> {
    Ok(on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT id, tenant_id, kind, status, CAST(attempts AS BIGINT) AS attempts, \
             CAST(max_attempts AS BIGINT) AS max_attempts, run_at, last_error, created_at, finished_at \
             FROM jobs WHERE status = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(status)
        .bind(limit)
        .fetch_all(pool)
        .await
    })?)
}

/// Puts a dead job back in the queue with a fresh set of attempts; `false` if it is not dead.
#[tracing::instrument(level = "debug", skip_all, fields(job = %id))]
pub async fn retry_dead(db: &Db, id: JobId, now: Timestamp) -> Result<bool, ApiError> {
    let mut tx = db.begin().await?;
    let updated = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, updated_at = $1, \
             finished_at = NULL WHERE id = $2 AND status = 'dead'",
        )
        .bind(now)
        .bind(id.0)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    tx.commit().await?;
    Ok(updated == 1)
}
