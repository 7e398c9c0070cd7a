//! `Cache-Control: no-store` for answers that carry a token or a secret, documented in the spec.

use poem::{
    IntoResponse, Response,
    http::{HeaderValue, header},
};
use poem_openapi::{
    ApiResponse,
    registry::{MetaHeader, MetaResponses, Registry},
    types::Type,
};

/// The answer `T`, which no cache (browser, proxy) may keep: it carries a token or a secret.
pub struct NoStore<T>(pub T);

impl<T: IntoResponse> IntoResponse for NoStore<T> {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

impl<T: ApiResponse> ApiResponse for NoStore<T> {
    fn meta() -> MetaResponses {
        let mut meta = T::meta();
        for response in &mut meta.responses {
            response.headers.push(MetaHeader {
                name: "Cache-Control".into(),
                description: Some("`no-store`: the answer carries a secret.".into()),
                required: true,
                deprecated: false,
                schema: String::schema_ref(),
            });
        }
        meta
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}
