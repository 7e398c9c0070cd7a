//! The HTTP edge shared by every route: request ids, the request span and summary log line,
//! the body limit, and the one mapping from any error to problem+json.

pub mod answer;
pub mod caller;
pub mod cors;
pub mod cursor;
pub mod date;
pub mod idempotency_key;
pub mod json;
pub mod money;
pub mod multipart;
pub mod no_store;
pub mod problems;
pub mod tag;
pub mod tenancy;

use std::{
    sync::{Arc, OnceLock},
    time::Instant,
};

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
};
use poem_openapi::OperationId;
use tracing::{Instrument, field::Empty};

use crate::{
    error::ApiError,
    metrics::{FinishedRequest, Metrics},
    ratelimit::Decision,
    tenants::Tenant,
};

pub use answer::JsonAnswer;
pub use caller::{Caller, Public};
pub use date::ApiDate;
pub use idempotency_key::IdempotencyKey;
pub use json::{BodyExample, JsonBody, RawJsonBody};
pub use money::MoneyDto;
pub use multipart::MultipartBody;
pub use no_store::NoStore;
pub use problems::{ApiResult, Failure};
pub use tag::Tag;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served, echoed from `X-Request-Id` when the client sent a sane one.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn client_request_id(request: &Request) -> Option<String> {
    let value = request.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let sane = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b));
    sane.then(|| value.to_owned())
}

/// What extractors learn about a request that the edge reports once it has finished.
#[derive(Debug, Default)]
pub struct RequestFacts {
    /// Set by the tenancy extractor.
    pub tenant: OnceLock<Tenant>,
    /// Set where a rate limit was checked.
    pub rate_limit: OnceLock<Decision>,
}

/// Which methods each path template answers, for the `Allow` header of a 405.
#[derive(Debug, Default)]
pub struct AllowedMethods {
    routes: Vec<(Vec<String>, Vec<Method>)>,
    plain_routes: &'static [&'static str],
}

impl AllowedMethods {
    /// Reads the paths of an OpenAPI document and adds the plain routes served beside it.
    pub fn from_spec(spec: &serde_json::Value, plain_get_routes: &'static [&'static str]) -> Self {
        let mut routes = Vec::new();
        if let Some(paths) = spec.get("paths").and_then(|paths| paths.as_object()) {
            for (template, operations) in paths {
                let methods = operations
                    .as_object()
                    .into_iter()
                    .flat_map(|map| map.keys())
                    .filter_map(|method| Method::from_bytes(method.to_uppercase().as_bytes()).ok())
                    .collect();
                routes.push((split(template), methods));
            }
        }
        for route in plain_get_routes {
            routes.push((split(route), vec![Method::GET]));
        }
        Self {
            routes,
            plain_routes: plain_get_routes,
        }
    }

    /// The plain (non-API) route this path is, for metric labels.
    fn plain_route(&self, path: &str) -> Option<&'static str> {
        self.plain_routes
            .iter()
            .copied()
            .find(|route| *route == path)
    }

    fn for_path(&self, path: &str) -> Option<String> {
        let segments = split(path);
        let (_, methods) = self.routes.iter().find(|(template, _)| {
            template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t.starts_with('{') || t == s)
        })?;
        let mut names: Vec<&str> = methods.iter().map(Method::as_str).collect();
        if names.contains(&"GET") {
            names.push("HEAD");
        }
        Some(names.join(", "))
    }
}

fn split(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|segment| !segment.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The outermost layer: every response leaves it with `X-Request-Id`, `X-Content-Type-Options`
/// and `X-Frame-Options`, every error as problem+json.
pub struct Edge<E> {
    inner: E,
    limits: BodyLimits,
    allowed: Arc<AllowedMethods>,
    metrics: Option<Arc<Metrics>>,
    cors: Option<cors::Cors>,
}

/// The largest bodies accepted: file uploads (multipart) may be larger than anything else.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub body: usize,
    pub upload: usize,
}

impl BodyLimits {
    fn for_request(self, request: &Request) -> usize {
        let multipart = request.content_type().is_some_and(|content_type| {
            content_type
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        });
        if multipart { self.upload } else { self.body }
    }
}

impl<E> Edge<E> {
    pub fn new(inner: E, limits: BodyLimits, allowed: AllowedMethods) -> Self {
        Self {
            inner,
            limits,
            allowed: Arc::new(allowed),
            metrics: None,
            cors: None,
        }
    }

    /// Answers tenants' allowed browser origins (CORS).
    pub fn with_cors(self, cors: cors::Cors) -> Self {
        Self {
            cors: Some(cors),
            ..self
        }
    }

    /// Records every finished request in `metrics`.
    pub fn with_metrics(self, metrics: Arc<Metrics>) -> Self {
        Self {
            metrics: Some(metrics),
            ..self
        }
    }
}

impl<E: Endpoint> Edge<E> {
    async fn call_limited(&self, mut request: Request) -> poem::Result<Response> {
        let limit = self.limits.for_request(&request);
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            return Err(ApiError::PayloadTooLarge { limit }.into());
        }
        // Read under the limit whatever the framing (chunked bodies carry no Content-Length).
        let body = request
            .take_body()
            .into_bytes_limit(limit)
            .await
            .map_err(|err| match err {
                poem::error::ReadBodyError::PayloadTooLarge => ApiError::PayloadTooLarge { limit },
                other => {
                    ApiError::MalformedRequest(format!("The body could not be read: {other}."))
                }
            })?;
        request.set_body(body);
        self.inner
            .call(request)
            .await
            .map(IntoResponse::into_response)
    }
}

impl<E: Endpoint> Endpoint for Edge<E> {
    type Output = Response;

    async fn call(&self, mut request: Request) -> poem::Result<Response> {
        let request_id =
            client_request_id(&request).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        request.set_data(RequestId(request_id.clone()));
        let facts = Arc::new(RequestFacts::default());
        request.set_data(Arc::clone(&facts));
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let span = tracing::info_span!(
            "request",
            %method,
            %path,
            request_id = %request_id,
            operation = Empty,
            tenant = Empty,
            principal = Empty,
            status = Empty,
        );
        let started = Instant::now();
        let origin = match &self.cors {
            Some(cors) => cors.origin_of(&request).await,
            None => None,
        };
        let result = match &origin {
            Some(origin) if cors::is_preflight(&request) => {
                if origin.allowed {
                    Ok(cors::preflight())
                } else {
                    Err(ApiError::Forbidden(
                        "This origin is not among the marketplace's allowed origins.".into(),
                    )
                    .into())
                }
            }
            _ => self.call_limited(request).instrument(span.clone()).await,
        };

        let mut operation_id = None;
        let mut response = match result {
            Ok(response) => response,
            Err(err) => {
                if let Some(operation) = err.data::<OperationId>() {
                    operation_id = Some(operation.0);
                }
                let error = classify(err);
                let mut response = span.in_scope(|| problem_response(&error, &request_id));
                // A refusal of the service's own (an account locked out) says when to retry.
                if let ApiError::RateLimited { retry_after_secs } = error {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                }
                if matches!(error, ApiError::MethodNotAllowed)
                    && let Some(allow) = self.allowed.for_path(&path)
                    && let Ok(value) = HeaderValue::from_str(&allow)
                {
                    response.headers_mut().insert(header::ALLOW, value);
                }
                response
            }
        };
        if let Some(operation) = response.data::<OperationId>() {
            operation_id = Some(operation.0);
        }
        if let Some(operation) = operation_id {
            span.record("operation", operation);
        }
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        add_security_headers(response.headers_mut());
        if let Some(origin) = &origin {
            cors::vary(response.headers_mut());
            if origin.allowed {
                cors::allow(response.headers_mut(), origin);
            }
        }
        if let Some(decision) = facts.rate_limit.get() {
            add_rate_limit_headers(response.headers_mut(), decision);
        }
        if response.status() == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        let status = response.status().as_u16();
        span.record("status", status);
        let elapsed = started.elapsed();
        if let Some(metrics) = &self.metrics {
            let route = operation_id
                .or_else(|| self.allowed.plain_route(&path).filter(|_| status != 404))
                .unwrap_or("unmatched");
            metrics.record_request(FinishedRequest {
                method: method.as_str(),
                route,
                status,
                tenant_plan: facts.tenant.get().map_or("none", Tenant::plan),
                elapsed,
            });
        }
        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
        span.in_scope(|| tracing::info!(status, elapsed_ms, "request finished"));
        Ok(response)
    }
}

/// On every response, errors included: no content sniffing (uploaded files are served), no
/// framing.
fn add_security_headers(headers: &mut poem::http::HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn add_rate_limit_headers(headers: &mut poem::http::HeaderMap, decision: &Decision) {
    let mut set = |name: &'static str, value: u64| {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    };
    set("ratelimit-limit", u64::from(decision.limit));
    set("ratelimit-remaining", u64::from(decision.remaining));
    set("ratelimit-reset", decision.reset_secs);
    if !decision.allowed {
        set("retry-after", decision.retry_after_secs);
    }
}

fn problem_response(error: &ApiError, request_id: &str) -> Response {
    if let ApiError::Internal(cause) = error {
        tracing::error!(error = %cause, "internal error");
    }
    let mut response = problems::Problem::of(error, Some(request_id)).into_response(error.status());
    // A problem answered again for a retried idempotency key says so, as a replayed success does.
    if let ApiError::Replayed(_) = error {
        response.headers_mut().insert(
            HeaderName::from_static("idempotent-replayed"),
            HeaderValue::from_static("true"),
        );
    }
    response
}

/// Turns whatever the framework or a handler raised into our one error type.
pub fn classify(err: poem::Error) -> ApiError {
    use poem_openapi::error as oai;

    if err.is::<ApiError>() {
        return match err.downcast::<ApiError>() {
            Ok(error) => error,
            Err(err) => ApiError::internal(err.to_string()),
        };
    }
    if err.is::<poem::error::NotFoundError>() {
        return ApiError::RouteNotFound;
    }
    if err.is::<poem::error::MethodNotAllowedError>() {
        return ApiError::MethodNotAllowed;
    }
    if let Some(content_type) = err.downcast_ref::<oai::ContentTypeError>() {
        return ApiError::UnsupportedMediaType(content_type.to_string());
    }
    if let Some(param) = err.downcast_ref::<oai::ParseParamError>() {
        return ApiError::validation(param.name, param.reason.clone());
    }
    if err.is::<oai::ParsePathError>() || err.is::<poem::error::ParsePathError>() {
        return ApiError::NotFound("resource");
    }
    if let Some(payload) = err.downcast_ref::<oai::ParseRequestPayloadError>() {
        return ApiError::MalformedRequest(payload.reason.clone());
    }
    if let Some(read) = err.downcast_ref::<poem::error::ReadBodyError>() {
        return ApiError::MalformedRequest(format!("The body could not be read: {read}."));
    }
    let status = err.status();
    if status.is_client_error() {
        ApiError::Rejected {
            status,
            detail: err.to_string(),
        }
    } else if status == StatusCode::SERVICE_UNAVAILABLE {
        ApiError::Unavailable("service")
    } else {
        ApiError::internal(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_header_lists_the_methods_of_the_matching_template() {
        let spec = serde_json::json!({
            "paths": {
                "/v1/t/{tenant}": { "get": {}, "patch": {} },
                "/v1/t/{tenant}/things": { "post": {} }
            }
        });
        let allowed = AllowedMethods::from_spec(&spec, &["/healthz"]);
        assert_eq!(
            allowed.for_path("/v1/t/acme").as_deref(),
            Some("GET, PATCH, HEAD")
        );
        assert_eq!(
            allowed.for_path("/v1/t/acme/things").as_deref(),
            Some("POST")
        );
        assert_eq!(allowed.for_path("/healthz").as_deref(), Some("GET, HEAD"));
        assert_eq!(allowed.for_path("/v1/nothing/here"), None);
    }

    #[test]
    fn framework_errors_map_to_stable_codes() {
        assert_eq!(
            classify(poem::error::NotFoundError.into()).code().as_str(),
            "route_not_found"
        );
        assert_eq!(
            classify(poem::error::MethodNotAllowedError.into())
                .code()
                .as_str(),
            "method_not_allowed"
        );
        let content_type = poem_openapi::error::ContentTypeError::ExpectContentType;
        assert_eq!(
            classify(content_type.into()).status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let internal = poem::Error::from_string("boom", StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(classify(internal).code().as_str(), "internal_error");
    }
}
