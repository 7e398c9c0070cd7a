//! Authentication: who is calling. Access tokens (EdDSA JWTs bound to one tenant), opaque
//! refresh tokens rotated on every use, API keys for integrators, passwords with argon2id.

pub mod api;
pub mod jobs;
pub mod keys;
pub mod password;
mod principal;
pub mod principals;
pub mod secrets;
pub mod service;
mod store;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;
use crate::error::ErrorCode;

pub use principal::{Principal, UserPrincipal};

/// Audience of tokens for a tenant's API.
pub const TENANT_AUDIENCE: &str = "staybase:tenant";
/// Audience of platform operators' tokens, accepted on `/v1/admin/*` only.
pub const PLATFORM_AUDIENCE: &str = "staybase:platform";

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: Uuid,
    /// The tenant the token is bound to (absent on platform tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<Uuid>,
    pub aud: String,
    pub roles: Vec<String>,
    /// The session (refresh-token family) the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
}

pub fn account_disabled() -> ApiError {
    ApiError::Refused {
        code: ErrorCode::AccountDisabled,
        detail: "This account is disabled.".into(),
    }
}
