//! The one error type of the API and its RFC 9457 problem+json rendering.

use poem::http::StatusCode;
use poem_openapi::Object;
use serde::{Deserialize, Serialize};

/// A field-level validation message; `field` is a dotted path into the request body
/// (`location.lat`, `amenities[2]`) or the name of a query parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Object)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed request: {0}")]
    MalformedRequest(String),
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// 400 with a specific code (`idempotency_key_required`, ...).
    #[error("bad request: {detail}")]
    BadRequest { code: &'static str, detail: String },
    /// 422 with a specific code, for a request that is well-formed but cannot be processed
    /// (`idempotency_key_reused`).
    #[error("unprocessable: {detail}")]
    Unprocessable { code: &'static str, detail: String },
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("no route matches the path")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("authentication required")]
    AuthenticationRequired,
    /// 401 with a specific code (`invalid_token`, `invalid_credentials`, ...).
    #[error("unauthenticated: {detail}")]
    Unauthenticated { code: &'static str, detail: String },
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 403 with a specific code (`account_disabled`, `password_change_required`, ...).
    #[error("refused: {detail}")]
    Refused { code: &'static str, detail: String },
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("tenant not found")]
    TenantNotFound,
    #[error("tenant suspended")]
    TenantSuspended,
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("conflict: {detail}")]
    Conflict { code: &'static str, detail: String },
    /// 409 `invalid_transition`: the resource's current status does not allow the action.
    #[error("cannot {attempted} in status {current}")]
    InvalidTransition {
        current: &'static str,
        attempted: &'static str,
    },
    #[error("{0} unavailable")]
    Unavailable(&'static str),
    /// A client error the framework raised that no other variant describes.
    #[error("request rejected: {detail}")]
    Rejected { status: StatusCode, detail: String },
    /// The problem answered before to a request with the same idempotency key, answered again.
    #[error("replayed problem: {}", .0.code)]
    Replayed(Box<Problem>),
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn invalid_token() -> Self {
        Self::Unauthenticated {
            code: "invalid_token",
            detail: "The token is invalid, expired or revoked.".into(),
        }
    }

    /// 409: a night of the stay is booked or blocked.
    pub fn dates_unavailable() -> Self {
        Self::Conflict {
            code: "dates_unavailable",
            detail: "Some nights of this stay are not available.".into(),
        }
    }

    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(err.into())
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedRequest(_) | Self::MalformedJson(_) | Self::BadRequest { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::Validation(_) | Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) | Self::RouteNotFound | Self::TenantNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::AuthenticationRequired | Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::Refused { .. } => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TenantSuspended => StatusCode::FORBIDDEN,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Conflict { .. } | Self::InvalidTransition { .. } => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Rejected { status, .. } => *status,
            Self::Replayed(problem) => {
                StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> &str {
        match self {
            Self::MalformedRequest(_) => "malformed_request",
            Self::MalformedJson(_) => "malformed_json",
            Self::Validation(_) => "validation_failed",
            Self::NotFound(_) => "not_found",
            Self::RouteNotFound => "route_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::AuthenticationRequired => "authentication_required",
            Self::Unauthenticated { code, .. }
            | Self::Refused { code, .. }
            | Self::BadRequest { code, .. }
            | Self::Unprocessable { code, .. } => code,
            Self::InvalidTransition { .. } => "invalid_transition",
            Self::Forbidden(_) => "forbidden",
            Self::RateLimited { .. } => "rate_limited",
            Self::TenantNotFound => "tenant_not_found",
            Self::TenantSuspended => "tenant_suspended",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Conflict { code, .. } => code,
            Self::Unavailable(_) => "service_unavailable",
            Self::Rejected { .. } => "request_rejected",
            Self::Replayed(problem) => &problem.code,
            Self::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &str {
        match self {
            Self::MalformedRequest(_) | Self::BadRequest { .. } => "Malformed request",
            Self::Unprocessable { .. } => "Unprocessable request",
            Self::InvalidTransition { .. } => "Invalid transition",
            Self::MalformedJson(_) => "Malformed JSON body",
            Self::Validation(_) => "Validation failed",
            Self::NotFound(_) => "Not found",
            Self::RouteNotFound => "Route not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::AuthenticationRequired | Self::Unauthenticated { .. } => "Unauthorized",
            Self::Forbidden(_) | Self::Refused { .. } => "Forbidden",
            Self::RateLimited { .. } => "Too many requests",
            Self::TenantNotFound => "Tenant not found",
            Self::TenantSuspended => "Tenant suspended",
            Self::UnsupportedMediaType(_) => "Unsupported media type",
            Self::PayloadTooLarge { .. } => "Payload too large",
            Self::Conflict { .. } => "Conflict",
            Self::Unavailable(_) => "Service unavailable",
            Self::Rejected { .. } => "Request rejected",
            Self::Replayed(problem) => &problem.title,
            Self::Internal(_) => "Internal server error",
        }
    }

    /// A sentence for people; never carries internal causes.
    fn detail(&self) -> String {
        match self {
            Self::MalformedRequest(detail)
            | Self::MalformedJson(detail)
            | Self::UnsupportedMediaType(detail)
            | Self::Conflict { detail, .. }
            | Self::BadRequest { detail, .. }
            | Self::Unprocessable { detail, .. }
            | Self::Rejected { detail, .. }
            | Self::Unauthenticated { detail, .. }
            | Self::Refused { detail, .. }
            | Self::Forbidden(detail) => detail.clone(),
            Self::AuthenticationRequired => {
                "Sign in: send `Authorization: Bearer <access token or API key>`.".into()
            }
            Self::RateLimited { retry_after_secs } => {
                format!("Too many requests; retry in {retry_after_secs} s.")
            }
            Self::Validation(errors) => match errors.as_slice() {
                [one] => format!("{}: {}", one.field, one.message),
                _ => format!("{} fields are invalid", errors.len()),
            },
            Self::NotFound(what) => format!("The {what} does not exist."),
            Self::InvalidTransition { current, attempted } => {
                format!("The status is {current}: it does not allow {attempted}.")
            }
            Self::RouteNotFound => "No API route matches this path.".into(),
            Self::MethodNotAllowed => "This path does not support the request method.".into(),
            Self::TenantNotFound => "No marketplace has this identifier.".into(),
            Self::TenantSuspended => "This marketplace is suspended.".into(),
            Self::PayloadTooLarge { limit } => {
                format!("The request body exceeds the limit of {limit} bytes.")
            }
            Self::Unavailable(what) => {
                format!("The {what} is unavailable; retry shortly.")
            }
            Self::Replayed(problem) => problem.detail.clone(),
            Self::Internal(_) => {
                "An unexpected error occurred; the request id identifies it in our logs.".into()
            }
        }
    }

    pub fn to_problem(&self, request_id: Option<&str>) -> Problem {
        let status = self.status();
        Problem {
            type_: format!("urn:staybase:problem:{}", self.code()),
            title: self.title().to_owned(),
            status: status.as_u16(),
            detail: self.detail(),
            code: self.code().to_owned(),
            errors: match self {
                Self::Validation(errors) => errors.clone(),
                Self::Replayed(problem) => problem.errors.clone(),
                _ => Vec::new(),
            },
            current_status: match self {
                Self::InvalidTransition { current, .. } => Some((*current).to_owned()),
                Self::Replayed(problem) => problem.current_status.clone(),
                _ => None,
            },
            request_id: request_id.map(str::to_owned),
        }
    }
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        ApiError::status(self)
    }

    fn as_response(&self) -> poem::Response {
        self.to_problem(None).into_response(self.status())
    }
}

/// PostgreSQL's "busy, try again" errors: serialization failure, deadlock, lock not available.
const POSTGRES_CONTENTION: &[&str] = &["40001", "40P01", "55P03"];

/// Whether a database error code means contention rather than a fault: PostgreSQL's SQLSTATEs
/// above, or SQLite's (extended) result codes whose primary code is BUSY (5) or LOCKED (6).
fn is_contention(code: &str) -> bool {
    POSTGRES_CONTENTION.contains(&code)
        || (code.len() < 5
            && code
                .parse::<i32>()
                .is_ok_and(|code| matches!(code & 0xff, 5 | 6)))
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        let contended = matches!(&err, sqlx::Error::Database(db)
            if db.code().is_some_and(|code| is_contention(&code)));
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %err, "database unavailable");
                Self::Unavailable("database")
            }
            other if contended => {
                tracing::warn!(error = %other, "database contention");
                Self::Unavailable("database")
            }
            other => Self::internal(other),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(rename = "Problem")]
pub struct Problem {
    /// A URI naming the problem type: `urn:staybase:problem:<code>`.
    #[serde(rename = "type")]
    #[oai(rename = "type")]
    pub type_: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for people.
    pub detail: String,
    /// Stable machine-readable code, e.g. `validation_failed`, `not_found`.
    pub code: String,
    /// Field-level problems, for `validation_failed`.
    pub errors: Vec<FieldError>,
    /// For `invalid_transition`: the resource's current status.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_status: Option<String>,
    /// The request id, also sent as `X-Request-Id`.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

impl Problem {
    pub fn into_response(self, status: StatusCode) -> poem::Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        poem::Response::builder()
            .status(status)
            .content_type(PROBLEM_CONTENT_TYPE)
            .body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contention_codes_of_both_databases_are_recognised() {
        for busy in ["5", "6", "261", "517", "262", "40001", "40P01", "55P03"] {
            assert!(is_contention(busy), "{busy}");
        }
        for fault in ["19", "2067", "23505", "23P01", "42P01", "1"] {
            assert!(!is_contention(fault), "{fault}");
        }
    }
}
