//! Operational endpoints for orchestrators: liveness and readiness; and the metrics, served on
//! their own listener (`metrics_bind`), not the API's.

use std::time::Duration;

use poem::{IntoResponse, Response, handler, http::StatusCode, web::Data, web::Json};
use serde::Serialize;

use crate::app::AppState;

pub const PLAIN_GET_ROUTES: &[&str] = &[
    "/healthz",
    "/readyz",
    "/.well-known/jwks.json",
    "/openapi.json",
    "/docs",
];

/// What a `staybase worker` process serves.
pub const WORKER_ROUTES: &[&str] = &["/healthz", "/readyz"];

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is up and serving HTTP.
#[handler]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

#[derive(Serialize)]
struct Check {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Check {
    fn up() -> Self {
        Self {
            status: "up",
            error: None,
        }
    }

    fn down(error: String) -> Self {
        Self {
            status: "down",
            error: Some(error),
        }
    }
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    database: Check,
    redis: Check,
}

/// Ready when the database answers. Redis trouble only degrades: limits and caches fall back to
/// in-process ones, so traffic should keep flowing.
#[handler]
pub async fn readyz(state: Data<&AppState>) -> Response {
    let database = match tokio::time::timeout(CHECK_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => Check::up(),
        Ok(Err(err)) => Check::down(redacted_error(&err)),
        Err(_) => Check::down("timed out".into()),
    };
    let redis = match &state.redis {
        None => Check {
            status: "not_configured",
            error: None,
        },
        Some(pool) => match tokio::time::timeout(CHECK_TIMEOUT, ping_redis(pool)).await {
            Ok(Ok(())) => Check::up(),
            Ok(Err(err)) => Check::down(err),
            Err(_) => Check::down("timed out".into()),
        },
    };
    let (status, code) = match (database.status, redis.status) {
        ("down", _) => ("unavailable", StatusCode::SERVICE_UNAVAILABLE),
        (_, "down") => ("degraded", StatusCode::OK),
        _ => ("ready", StatusCode::OK),
    };
    if code != StatusCode::OK || status == "degraded" {
        tracing::warn!(status, database = ?database.error, redis = ?redis.error, "readiness check failed");
    }
    Json(Readiness {
        status,
        database,
        redis,
    })
    .with_status(code)
    .into_response()
}

/// The public keys that verify access tokens (JWK set).
#[handler]
pub async fn jwks(state: Data<&AppState>) -> poem::Result<Json<serde_json::Value>> {
    Ok(Json(state.keys.jwks().await?))
}

/// Prometheus text exposition (OpenMetrics).
#[handler]
pub async fn metrics(state: Data<&AppState>) -> poem::Result<Response> {
    let text = state.metrics.render(&state.db).await?;
    Ok(Response::builder()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text))
}

async fn ping_redis(pool: &deadpool_redis::Pool) -> Result<(), String> {
    let mut conn = pool.get().await.map_err(|err| err.to_string())?;
    deadpool_redis::redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .map(drop)
        .map_err(|err| err.to_string())
}

/// A short reason without connection strings or credentials.
fn redacted_error(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::PoolTimedOut => "connection pool timed out".into(),
        sqlx::Error::PoolClosed => "connection pool closed".into(),
        sqlx::Error::Io(io) => format!("i/o error: {}", io.kind()),
        sqlx::Error::Tls(_) => "TLS error".into(),
        sqlx::Error::Database(db) => format!("database error {}", db.code().unwrap_or_default()),
        _ => "database error".into(),
    }
}
