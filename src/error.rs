//! The one error type of the application and the one table of its stable error codes. The HTTP
//! layer (`http::problems`) renders an `ApiError` as an RFC 9457 problem document.

use http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The one table of error codes. A macro, so that the HTTP layer's schema enum is generated from
/// the same list: `with_error_codes!(callback)` calls `callback!` with every `Variant => "code"`.
#[macro_export]
macro_rules! with_error_codes {
    ($callback:ident) => {
        $callback! {
            /// The request is malformed (a header, a multipart body, an upload).
            MalformedRequest => "malformed_request",
            /// The body is not JSON.
            MalformedJson => "malformed_json",
            /// Fields are missing or invalid; `errors` names each.
            ValidationFailed => "validation_failed",
            NotFound => "not_found",
            RouteNotFound => "route_not_found",
            MethodNotAllowed => "method_not_allowed",
            AuthenticationRequired => "authentication_required",
            /// The `Authorization` header is not `Bearer <token>`.
            InvalidAuthorization => "invalid_authorization",
            /// The access token is invalid, expired or revoked.
            InvalidToken => "invalid_token",
            InvalidCredentials => "invalid_credentials",
            InvalidRefreshToken => "invalid_refresh_token",
            /// A refresh token was used twice: its session has been ended.
            RefreshTokenReused => "refresh_token_reused",
            AccountDisabled => "account_disabled",
            PasswordChangeRequired => "password_change_required",
            Forbidden => "forbidden",
            /// A tenant admin may not disable or demote their own account.
            CannotLockOutSelf => "cannot_lock_out_self",
            RateLimited => "rate_limited",
            TenantNotFound => "tenant_not_found",
            TenantSuspended => "tenant_suspended",
            UnsupportedMediaType => "unsupported_media_type",
            PayloadTooLarge => "payload_too_large",
            IdempotencyKeyRequired => "idempotency_key_required",
            InvalidIdempotencyKey => "invalid_idempotency_key",
            /// The `Idempotency-Key` was used before with another request.
            IdempotencyKeyReused => "idempotency_key_reused",
            SlugTaken => "slug_taken",
            EmailTaken => "email_taken",
            RuleExists => "rule_exists",
            /// The marketplace's currency cannot change once it has listings.
            CurrencyLocked => "currency_locked",
            TooManyImages => "too_many_images",
            TooManyImports => "too_many_imports",
            /// A night of the stay is booked or blocked.
            DatesUnavailable => "dates_unavailable",
            /// A night of the range is booked, so it cannot be blocked.
            DatesBooked => "dates_booked",
            PropertyHasBookings => "property_has_bookings",
            /// The resource's status does not allow the action; `current_status` names it.
            InvalidTransition => "invalid_transition",
            StayEnded => "stay_ended",
            /// The booking is paid at the property: there is nothing to pay online.
            PaymentNotRequired => "payment_not_required",
            /// The booking's status (`current_status`) or its payment under way does not allow
            /// a payment.
            BookingNotPayable => "booking_not_payable",
            /// A refund would give back more than was captured and not yet refunded.
            RefundExceedsCaptured => "refund_exceeds_captured",
            /// A provider webhook's signature or timestamp does not verify.
            InvalidSignature => "invalid_signature",
            /// The payout is not yet payable, or already paid or canceled.
            PayoutNotPayable => "payout_not_payable",
            /// The guest already has as many unpaid bookings as the marketplace allows.
            TooManyUnpaidBookings => "too_many_unpaid_bookings",
            /// The stay starts later than the marketplace's booking window allows.
            OutsideBookingWindow => "outside_booking_window",
            /// The stay starts sooner than the property's advance notice allows.
            AdvanceNotice => "advance_notice",
            /// The property does not take arrivals on the stay's check-in day.
            CheckInDayNotAllowed => "check_in_day_not_allowed",
            /// The property does not take departures on the stay's check-out day.
            CheckOutDayNotAllowed => "check_out_day_not_allowed",
            /// The stay falls within the preparation nights kept free around another stay.
            PreparationConflict => "preparation_conflict",
            /// The marketplace requires a verified email address before booking.
            EmailNotVerified => "email_not_verified",
            /// The season overlaps another season of the property.
            SeasonOverlap => "season_overlap",
            /// The deployment has no `STAYBASE_SECRET_KEY`, so it cannot store secrets.
            SecretKeyMissing => "secret_key_missing",
            /// Test clocks exist only in test tenants.
            NotATestTenant => "not_a_test_tenant",
            /// A test tenant takes payments with the simulated provider only.
            TestTenantSimulatedOnly => "test_tenant_simulated_only",
            /// The caller already reviewed this property (or this stay's guest).
            ReviewExists => "review_exists",
            /// Only the guest of a completed stay reviews a property, and only its host the
            /// guest.
            ReviewNotAllowed => "review_not_allowed",
            /// The stay's review window (`review_window_days` after check-out) has closed.
            ReviewWindowClosed => "review_window_closed",
            /// The marketplace's plugin failed (`reason` names how) and its policy refuses the
            /// request rather than go on without it.
            PluginFailed => "plugin_failed",
            /// An uploaded plugin module does not compile, does not implement its kind's
            /// world, or imports what plugins may not use.
            PluginInvalid => "plugin_invalid",
            /// Another change to the same resource committed at the same moment; retry.
            ConcurrentChange => "concurrent_change",
            ServiceUnavailable => "service_unavailable",
            /// A client error the framework raised that no other code describes.
            RequestRejected => "request_rejected",
            InternalError => "internal_error",
        }
    };
}

macro_rules! define_error_code {
    ($($(#[$doc:meta])* $name:ident => $code:literal,)+) => {
        /// A stable machine-readable error code, the `code` of problem documents.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)+
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(Self::$name,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => $code,)+
                }
            }

            pub fn parse(code: &str) -> Option<Self> {
                match code {
                    $($code => Some(Self::$name),)+
                    _ => None,
                }
            }
        }
    };
}

with_error_codes!(define_error_code);

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Self::parse(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code {code:?}")))
    }
}

/// A field-level validation message; `field` is a dotted path into the request body
/// (`location.lat`, `amenities[2]`) or the name of a query parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    BadRequest { code: ErrorCode, detail: String },
    /// 422 with a specific code, for a request that is well-formed but cannot be processed
    /// (`idempotency_key_reused`).
    #[error("unprocessable: {detail}")]
    Unprocessable { code: ErrorCode, detail: String },
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
    Unauthenticated { code: ErrorCode, detail: String },
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 403 with a specific code (`account_disabled`, `password_change_required`, ...).
    #[error("refused: {detail}")]
    Refused { code: ErrorCode, detail: String },
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
    Conflict { code: ErrorCode, detail: String },
    /// 409 `invalid_transition`: the resource's current status does not allow the action.
    #[error("cannot {attempted} in status {current}")]
    InvalidTransition {
        current: &'static str,
        attempted: &'static str,
    },
    /// 409 with a specific code and the resource's current status (`booking_not_payable`).
    #[error("conflict in status {current}: {detail}")]
    StatusConflict {
        code: ErrorCode,
        current: &'static str,
        detail: String,
    },
    #[error("{0} unavailable")]
    Unavailable(&'static str),
    /// A client error the framework raised that no other variant describes.
    #[error("request rejected: {detail}")]
    Rejected { status: StatusCode, detail: String },
    /// 422 `plugin_failed`: the tenant's plugin failed for `reason` under a failing-closed
    /// policy.
    #[error("plugin failed ({reason}): {detail}")]
    PluginFailed {
        reason: &'static str,
        detail: String,
    },
    /// The problem answered before to a request with the same idempotency key, answered again.
    #[error("replayed problem: {}", .0.code)]
    Replayed(Box<RecordedError>),
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn invalid_token() -> Self {
        Self::Unauthenticated {
            code: ErrorCode::InvalidToken,
            detail: "The token is invalid, expired or revoked.".into(),
        }
    }

    /// 409: a night of the stay is booked or blocked.
    pub fn dates_unavailable() -> Self {
        Self::Conflict {
            code: ErrorCode::DatesUnavailable,
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
            Self::Validation(_) | Self::Unprocessable { .. } | Self::PluginFailed { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::NotFound(_) | Self::RouteNotFound | Self::TenantNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::AuthenticationRequired | Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::Refused { .. } => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TenantSuspended => StatusCode::FORBIDDEN,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Conflict { .. }
            | Self::InvalidTransition { .. }
            | Self::StatusConflict { .. } => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Rejected { status, .. } => *status,
            Self::Replayed(recorded) => {
                StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::MalformedRequest(_) => ErrorCode::MalformedRequest,
            Self::MalformedJson(_) => ErrorCode::MalformedJson,
            Self::Validation(_) => ErrorCode::ValidationFailed,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::RouteNotFound => ErrorCode::RouteNotFound,
            Self::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Self::AuthenticationRequired => ErrorCode::AuthenticationRequired,
            Self::Unauthenticated { code, .. }
            | Self::Refused { code, .. }
            | Self::BadRequest { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::Conflict { code, .. }
            | Self::StatusConflict { code, .. } => *code,
            Self::InvalidTransition { .. } => ErrorCode::InvalidTransition,
            Self::PluginFailed { .. } => ErrorCode::PluginFailed,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::TenantNotFound => ErrorCode::TenantNotFound,
            Self::TenantSuspended => ErrorCode::TenantSuspended,
            Self::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            Self::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            Self::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Self::Rejected { .. } => ErrorCode::RequestRejected,
            Self::Replayed(recorded) => recorded.code,
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }

    pub fn title(&self) -> &str {
        match self {
            Self::MalformedRequest(_) | Self::BadRequest { .. } => "Malformed request",
            Self::Unprocessable { .. } => "Unprocessable request",
            Self::PluginFailed { .. } => "Plugin failed",
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
            Self::Conflict { .. } | Self::StatusConflict { .. } => "Conflict",
            Self::Unavailable(_) => "Service unavailable",
            Self::Rejected { .. } => "Request rejected",
            Self::Replayed(recorded) => &recorded.title,
            Self::Internal(_) => "Internal server error",
        }
    }

    /// A sentence for people; never carries internal causes.
    pub fn detail(&self) -> String {
        match self {
            Self::MalformedRequest(detail)
            | Self::MalformedJson(detail)
            | Self::UnsupportedMediaType(detail)
            | Self::Conflict { detail, .. }
            | Self::StatusConflict { detail, .. }
            | Self::BadRequest { detail, .. }
            | Self::Unprocessable { detail, .. }
            | Self::PluginFailed { detail, .. }
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
            Self::Replayed(recorded) => recorded.detail.clone(),
            Self::Internal(_) => {
                "An unexpected error occurred; the request id identifies it in our logs.".into()
            }
        }
    }

    /// The field problems of a `validation_failed`.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Validation(errors) => errors,
            Self::Replayed(recorded) => &recorded.errors,
            _ => &[],
        }
    }

    /// For `plugin_failed`: how the plugin failed.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::PluginFailed { reason, .. } => Some(reason),
            Self::Replayed(recorded) => recorded.reason.as_deref(),
            _ => None,
        }
    }

    /// For `invalid_transition`: the resource's current status.
    pub fn current_status(&self) -> Option<&str> {
        match self {
            Self::InvalidTransition { current, .. } | Self::StatusConflict { current, .. } => {
                Some(current)
            }
            Self::Replayed(recorded) => recorded.current_status.as_deref(),
            _ => None,
        }
    }
}

/// An error as data, kept to be answered again (an idempotency key's first answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedError {
    pub status: u16,
    pub code: ErrorCode,
    pub title: String,
    pub detail: String,
    #[serde(default)]
    pub errors: Vec<FieldError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl RecordedError {
    pub fn of(err: &ApiError) -> Self {
        Self {
            status: err.status().as_u16(),
            code: err.code(),
            title: err.title().to_owned(),
            detail: err.detail(),
            errors: err.field_errors().to_vec(),
            current_status: err.current_status().map(str::to_owned),
            reason: err.reason().map(str::to_owned),
        }
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

/// Whether a PostgreSQL SQLSTATE means the connection or the server went away rather than the
/// statement failing: connection exceptions (class 08) and the server shutting down or
/// starting (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now).
fn is_connection_loss(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        let contended = matches!(&err, sqlx::Error::Database(db)
            if db.code().is_some_and(|code| is_contention(&code)));
        let lost = matches!(&err, sqlx::Error::Database(db)
            if db.code().is_some_and(|code| is_connection_loss(&code)));
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => {
                tracing::warn!(error = %err, "database unavailable");
                Self::Unavailable("database")
            }
            other if lost => {
                tracing::warn!(error = %other, "database connection lost");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_round_trip_through_their_names() {
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(serde_json::from_value::<ErrorCode>(json).unwrap(), code);
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }

    #[test]
    fn lost_connections_are_recognised() {
        for lost in ["57P01", "57P02", "57P03", "08000", "08003", "08006"] {
            assert!(is_connection_loss(lost), "{lost}");
        }
        for fault in ["23505", "40001", "42P01", "5", "57014"] {
            assert!(!is_connection_loss(fault), "{fault}");
        }
    }

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
