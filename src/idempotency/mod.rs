//! Idempotency keys for creating requests (API.md): a retry with the same `Idempotency-Key` and
//! body within 24 hours gets the first response again; the same key with another body is 422.
//!
//! A key already answered is replayed before any work starts. Otherwise the key is claimed in the
//! transaction of the work it guards, before anything else is locked: a concurrent request with
//! the same key waits for that transaction (PostgreSQL's unique index; SQLite's single writer)
//! and then replays its response. A client error of the work (404, 409, 422) is the first
//! response too and is stored; transient failures (429, 5xx) are not, so their retry runs again.

mod store;

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use http::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use self::store::StoredKey;
use crate::{
    db::{Db, Timestamp, Tx},
    error::{ApiError, ErrorCode, RecordedError},
    ids::{TenantId, UserId},
    jobs::{Job, JobContext, JobError, JobRegistry, Schedule},
};

/// How long a key's response is replayed.
pub const RETENTION: time::Duration = time::Duration::hours(24);
pub const MAX_KEY_LENGTH: usize = 255;

/// A checked key and the hash of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    key: String,
    request_hash: String,
}

impl IdempotencyKey {
    /// Checks the `Idempotency-Key` header (1 to 255 visible ASCII characters) and hashes the
    /// operation with its request.
    pub fn new(header: Option<&str>, operation: &str, request: &Value) -> Result<Self, ApiError> {
        let key = header.ok_or_else(|| ApiError::BadRequest {
            code: ErrorCode::IdempotencyKeyRequired,
            detail: "Send an `Idempotency-Key` header: a unique value per logical request, \
                     reused only to retry it."
                .into(),
        })?;
        if key.is_empty()
            || key.len() > MAX_KEY_LENGTH
            || !key.bytes().all(|byte| byte.is_ascii_graphic())
        {
            return Err(ApiError::BadRequest {
                code: ErrorCode::InvalidIdempotencyKey,
                detail: format!(
                    "The `Idempotency-Key` must be 1 to {MAX_KEY_LENGTH} visible ASCII characters."
                ),
            });
        }
        // serde_json's maps are ordered by key, so equal requests hash equal.
        let mut hasher = Sha256::new();
        hasher.update(operation.as_bytes());
        hasher.update(b"\n");
        hasher.update(request.to_string().as_bytes());
        Ok(Self {
            key: key.to_owned(),
            request_hash: URL_SAFE_NO_PAD.encode(hasher.finalize()),
        })
    }
}

/// The first answer to a key: a success to send again, or a problem document.
#[derive(Debug)]
pub struct Replay {
    pub status: u16,
    pub body: Value,
}

impl Replay {
    /// The stored success body, or the stored problem as the error to answer again.
    pub fn into_result(self) -> Result<Value, ApiError> {
        if (200..300).contains(&self.status) {
            return Ok(self.body);
        }
        let recorded: RecordedError =
            serde_json::from_value(self.body).map_err(ApiError::internal)?;
        Err(ApiError::Replayed(Box::new(recorded)))
    }
}

/// What a claim found.
#[derive(Debug)]
pub enum Claim {
    /// The key is new: do the work, then `record` its response.
    Fresh,
    /// The key answered before: send this again.
    Replay(Replay),
}

fn replay(stored: StoredKey, key: &IdempotencyKey) -> Result<Replay, ApiError> {
    if stored.request_hash != key.request_hash {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::IdempotencyKeyReused,
            detail: "This Idempotency-Key was used with a different request.".into(),
        });
    }
    match (stored.response_status, stored.response_body) {
        (Some(status), Some(body)) => Ok(Replay {
            status: u16::try_from(status).map_err(ApiError::internal)?,
            body: serde_json::from_str(&body).map_err(ApiError::internal)?,
        }),
        _ => Err(ApiError::internal(
            "an idempotency key was stored without its response",
        )),
    }
}

/// Claims `key` for `user` in the transaction of the work it guards.
#[tracing::instrument(skip_all, fields(tenant = %tenant, user = %user))]
pub async fn claim(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    key: &IdempotencyKey,
    now: Timestamp,
) -> Result<Claim, ApiError> {
    // A new key, the common case, is one statement. On PostgreSQL the insert waits while
    // another transaction holds the same key; once that one commits nothing is inserted, and
    // its response is read and replayed.
    if store::insert(tx, tenant, user, &key.key, &key.request_hash, now).await? {
        return Ok(Claim::Fresh);
    }
    let stored = store::get_in(tx, tenant, user, &key.key)
        .await?
        .ok_or(ApiError::Unavailable("database"))?;
    if stored.created_at > now - RETENTION {
        return replay(stored, key).map(Claim::Replay);
    }
    // Forgotten: past its retention, though not pruned yet.
    store::delete(tx, tenant, user, &key.key).await?;
    if store::insert(tx, tenant, user, &key.key, &key.request_hash, now).await? {
        Ok(Claim::Fresh)
    } else {
        Err(ApiError::Unavailable("database"))
    }
}

/// Stores the response to replay for a claimed key, in the same transaction.
#[tracing::instrument(skip_all, fields(tenant = %tenant, user = %user))]
pub async fn record(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    key: &IdempotencyKey,
    status: u16,
    body: &Value,
) -> Result<(), ApiError> {
    store::set_response(tx, tenant, user, &key.key, status, body).await
}

/// Stores `err` as the first answer to `key` when it is a client error of the work (a 404, 409 or
/// 422 the same request would get again); a transient one (429, 5xx) stays unrecorded, and so
/// do refusals that depend on something other than the request, which a retry with the same
/// key may find changed: the marketplace's plugin failing, the caller's email unverified.
#[tracing::instrument(skip_all, fields(tenant = %tenant, user = %user))]
pub async fn remember_failure(
    db: &Db,
    tenant: TenantId,
    user: UserId,
    key: &IdempotencyKey,
    err: &ApiError,
) -> Result<(), ApiError> {
    let status = err.status();
    let passing = matches!(
        err.code(),
        ErrorCode::PluginFailed | ErrorCode::EmailNotVerified
    );
    if !status.is_client_error() || status == StatusCode::TOO_MANY_REQUESTS || passing {
        return Ok(());
    }
    let problem = serde_json::to_value(RecordedError::of(err)).map_err(ApiError::internal)?;
    let mut tx = db.begin().await?;
    // A concurrent retry may have answered first: its answer stands.
    if let Claim::Fresh = claim(&mut tx, tenant, user, key, Timestamp::now()).await? {
        record(&mut tx, tenant, user, key, status.as_u16(), &problem).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Deletes keys past their retention.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct PruneIdempotencyKeys {}

impl Job for PruneIdempotencyKeys {
    const KIND: &'static str = "idempotency.prune";
    const MAX_ATTEMPTS: u32 = 3;
}

async fn prune(context: JobContext, _job: PruneIdempotencyKeys) -> Result<(), JobError> {
    let cutoff = Timestamp::now() - RETENTION;
    let mut tx = context.state.db.begin().await?;
    let deleted = store::delete_created_before(&mut tx, cutoff).await?;
    tx.commit().await?;
    tracing::info!(deleted, "pruned idempotency keys");
    Ok(())
}

pub fn register_jobs(registry: &mut JobRegistry) {
    registry.register(prune).every(
        Schedule::every(Duration::from_secs(3600)),
        PruneIdempotencyKeys {},
    );
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_are_required_and_checked() {
        let body = json!({ "a": 1 });
        let code = |header: Option<&str>| match IdempotencyKey::new(header, "op", &body) {
            Err(ApiError::BadRequest { code, .. }) => code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code(None).as_str(), "idempotency_key_required");
        assert_eq!(code(Some("")).as_str(), "invalid_idempotency_key");
        assert_eq!(code(Some("has space")).as_str(), "invalid_idempotency_key");
        assert_eq!(
            code(Some(&"k".repeat(256))).as_str(),
            "invalid_idempotency_key"
        );
        assert!(IdempotencyKey::new(Some("0b5e-x_1"), "op", &body).is_ok());
    }

    #[test]
    fn equal_requests_hash_equal_whatever_the_field_order() {
        let hash = |operation: &str, request: Value| {
            IdempotencyKey::new(Some("k"), operation, &request)
                .unwrap()
                .request_hash
        };
        let first = hash("create_booking", json!({ "a": 1, "b": "x" }));
        let reordered: Value = serde_json::from_str(r#"{"b":"x","a":1}"#).unwrap();
        assert_eq!(first, hash("create_booking", reordered));
        assert_ne!(first, hash("create_booking", json!({ "a": 2, "b": "x" })));
        assert_ne!(first, hash("create_payment", json!({ "a": 1, "b": "x" })));
    }
}
