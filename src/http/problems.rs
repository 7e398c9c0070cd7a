//! Problem documents (RFC 9457): how an `ApiError` is answered, and its schema in the spec.
//!
//! Per-operation error documentation: handlers return `Result<_, Failure<S>>`, where `S`
//! lists the problem statuses the operation can answer, so the OpenAPI spec shows each one
//! with the problem+json schema. At run time a `Failure` is just the `ApiError` it carries.

use std::marker::PhantomData;

use poem::http::StatusCode;
use poem_openapi::{
    ApiResponse, Enum, Object,
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
};

use crate::error::{ApiError, ErrorCode, FieldError};

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

macro_rules! define_problem_code {
    ($($(#[$doc:meta])* $name:ident => $code:literal,)+) => {
        /// Stable machine-readable error codes: switch on these, not on `title` or `detail`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
        #[oai(rename = "ErrorCode", rename_all = "snake_case")]
        pub enum ProblemCode {
            $($(#[$doc])* $name,)+
        }

        impl From<ErrorCode> for ProblemCode {
            fn from(code: ErrorCode) -> Self {
                match code {
                    $(ErrorCode::$name => Self::$name,)+
                }
            }
        }
    };
}

crate::with_error_codes!(define_problem_code);

/// A field-level validation message.
#[derive(Debug, Clone, Object)]
#[oai(rename = "FieldError")]
pub struct FieldErrorView {
    /// A dotted path into the request body (`location.lat`, `amenities[2]`) or the name of a
    /// query parameter.
    pub field: String,
    pub message: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Problem")]
pub struct Problem {
    /// A URI naming the problem type: `urn:staybase:problem:<code>`.
    #[oai(rename = "type")]
    pub type_: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for people.
    pub detail: String,
    // Documented on the enum: a description here would wrap its reference in an `allOf`.
    pub code: ProblemCode,
    /// Field-level problems, for `validation_failed`.
    pub errors: Vec<FieldErrorView>,
    /// For `invalid_transition`: the resource's current status.
    #[oai(skip_serializing_if_is_none)]
    pub current_status: Option<String>,
    /// For `plugin_failed`: how the plugin failed (`fuel_exhausted`, `timeout`,
    /// `memory_limit`, `stack_overflow`, `trap`, `input_too_large`, `output_too_large`,
    /// `invalid_output`, `plugin_error`, `prepare_failed`).
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
    /// The request id, also sent as `X-Request-Id`.
    #[oai(skip_serializing_if_is_none)]
    pub request_id: Option<String>,
}

impl Problem {
    pub fn of(error: &ApiError, request_id: Option<&str>) -> Self {
        let code = error.code();
        Self {
            type_: format!("urn:staybase:problem:{code}"),
            title: error.title().to_owned(),
            status: error.status().as_u16(),
            detail: error.detail(),
            code: code.into(),
            errors: error
                .field_errors()
                .iter()
                .map(|FieldError { field, message }| FieldErrorView {
                    field: field.clone(),
                    message: message.clone(),
                })
                .collect(),
            current_status: error.current_status().map(str::to_owned),
            reason: error.reason().map(str::to_owned),
            request_id: request_id.map(str::to_owned),
        }
    }

    pub fn into_response(self, status: StatusCode) -> poem::Response {
        use poem_openapi::types::ToJSON;
        let body = serde_json::to_vec(&self.to_json()).unwrap_or_default();
        poem::Response::builder()
            .status(status)
            .content_type(PROBLEM_CONTENT_TYPE)
            .body(body)
    }
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        ApiError::status(self)
    }

    fn as_response(&self) -> poem::Response {
        Problem::of(self, None).into_response(self.status())
    }
}

/// The problem statuses one operation documents (503, database trouble, is added to every set).
pub trait ErrorStatuses: Send + Sync + 'static {
    const STATUSES: &'static [u16];
}

/// Declares a zero-sized `ErrorStatuses` type: `error_statuses!(TenantRead => [403, 404]);`.
#[macro_export]
macro_rules! error_statuses {
    ($(#[$meta:meta])* $name:ident => [$($status:literal),* $(,)?]) => {
        $(#[$meta])*
        pub struct $name;
        impl $crate::http::problems::ErrorStatuses for $name {
            const STATUSES: &'static [u16] = &[$($status),*];
        }
    };
}

pub struct Failure<S>(pub ApiError, PhantomData<S>);

pub type ApiResult<T, S> = Result<T, Failure<S>>;

impl<S> From<ApiError> for Failure<S> {
    fn from(err: ApiError) -> Self {
        Self(err, PhantomData)
    }
}

impl<S> From<Failure<S>> for poem::Error {
    fn from(failure: Failure<S>) -> Self {
        poem::Error::from(failure.0)
    }
}

impl<S: ErrorStatuses> ApiResponse for Failure<S> {
    fn meta() -> MetaResponses {
        let statuses = S::STATUSES.iter().chain(std::iter::once(&503));
        MetaResponses {
            responses: statuses
                .map(|&status| MetaResponse {
                    description: StatusCode::from_u16(status)
                        .ok()
                        .and_then(|status| status.canonical_reason())
                        .unwrap_or("Error"),
                    status: Some(status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: PROBLEM_CONTENT_TYPE,
                        schema: Problem::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;

    use super::*;

    #[test]
    fn the_schema_enum_names_every_error_code_as_the_code_does() {
        for &code in ErrorCode::ALL {
            assert_eq!(
                ProblemCode::from(code).to_json(),
                Some(serde_json::Value::from(code.as_str()))
            );
        }
    }
}
