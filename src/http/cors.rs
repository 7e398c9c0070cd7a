//! CORS for tenant routes: a marketplace's own sites (its `allowed_origins` setting) may call its
//! API from the browser. Preflights are answered at the edge; answers to an allowed origin,
//! errors included, name that origin (never `*`) and the headers clients read. Credentials are
//! bearer tokens sent by the page, never cookies, so `Access-Control-Allow-Credentials` is not
//! sent.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use poem::{
    Request, Response,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
};

/// Whether a tenant (by slug) allows an origin.
pub type OriginCheck = Arc<dyn Fn(String, String) -> BoxFuture<'static, bool> + Send + Sync>;

const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
const ALLOWED_HEADERS: &str = "authorization, content-type, idempotency-key, x-request-id";
const EXPOSED_HEADERS: &str = "ratelimit-limit, ratelimit-remaining, ratelimit-reset, retry-after, \
    x-request-id, idempotent-replayed, location";
/// How long a browser may reuse a preflight's answer, in seconds.
const MAX_AGE: &str = "600";

#[derive(Clone)]
pub struct Cors {
    check: OriginCheck,
}

/// The `Origin` of a request to a tenant route, and whether the tenant allows it.
pub struct RequestOrigin {
    value: HeaderValue,
    pub allowed: bool,
}

impl Cors {
    pub fn new(check: OriginCheck) -> Self {
        Self { check }
    }

    /// The request's origin, when it has one and addresses a tenant (`/v1/t/{tenant}/...`).
    pub async fn origin_of(&self, request: &Request) -> Option<RequestOrigin> {
        let value = request.headers().get(header::ORIGIN)?.clone();
        let mut segments = request.uri().path().split('/').filter(|s| !s.is_empty());
        let (Some("v1"), Some("t"), Some(slug)) =
            (segments.next(), segments.next(), segments.next())
        else {
            return None;
        };
        let origin = value.to_str().ok()?.to_ascii_lowercase();
        let allowed = (self.check)(slug.to_owned(), origin).await;
        Some(RequestOrigin { value, allowed })
    }
}

/// A preflight: `OPTIONS` asking whether a method may follow.
pub fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The answer to an allowed origin's preflight.
pub fn preflight() -> Response {
    let mut response = Response::builder().status(StatusCode::NO_CONTENT).finish();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE),
    );
    response
}

/// Names the allowed origin on an answer, and the headers its scripts may read.
pub fn allow(headers: &mut HeaderMap, origin: &RequestOrigin) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.value.clone());
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
}

/// Answers differ by origin: caches must keep them apart.
pub fn vary(headers: &mut HeaderMap) {
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}
