//! Per-operation error documentation: handlers return `Result<_, Failure<S>>`, where `S`
//! lists the problem statuses the operation can answer, so the OpenAPI spec shows each one
//! with the problem+json schema. At run time a `Failure` is just the `ApiError` it carries.

use std::marker::PhantomData;

use poem::http::StatusCode;
use poem_openapi::{
    ApiResponse,
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
};

use crate::error::{ApiError, PROBLEM_CONTENT_TYPE, Problem};

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
