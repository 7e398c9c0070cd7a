//! The caller of a tenant route: its bearer credentials authenticated, and its request counted
//! against the tenant's rate limits. `Caller` documents the operation as requiring the `bearer`
//! scheme; `Caller<Public>`, for the operations the default policy opens to anonymous callers,
//! documents none and behaves the same.

use std::{marker::PhantomData, net::IpAddr, sync::Arc};

use poem::{Request, RequestBody, http::header};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaSecurityScheme, Registry},
};

use super::RequestFacts;
use crate::{
    app::AppState,
    auth::{Principal, service as auth_service},
    config::Switch,
    error::{ApiError, ErrorCode},
    ratelimit::{Identity, RouteClass},
};

/// The authenticated caller of a tenant route, rate limited. Must follow the tenant path
/// parameter in a handler's arguments (it reads the tenant that one resolved). `A` says how
/// the operation is documented, nothing else: `Bearer` (the default) or `Public`.
pub struct Caller<A: Access = Bearer>(pub Principal, PhantomData<A>);

/// How an operation taking a `Caller` is documented in the spec. Whatever it says, a bearer
/// token sent is authenticated (a bad one is refused) and the request is rate limited.
pub trait Access: Send + Sync + 'static {
    /// The security schemes the operation requires.
    const SCHEMES: &'static [&'static str];
}

/// The operation requires the `bearer` scheme: `[{"bearer": []}]`.
pub struct Bearer;

/// The operation is open to anonymous callers under the default policy: no requirement is
/// documented (`security: []`, written by `router::spec_json`, as poem-openapi drops an empty
/// list). A tenant's own policy rules may still open or close it.
pub struct Public;

impl Access for Bearer {
    const SCHEMES: &'static [&'static str] = &["bearer"];
}

impl Access for Public {
    const SCHEMES: &'static [&'static str] = &[];
}

fn bearer(request: &Request) -> Result<Option<&str>, ApiError> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::invalid_token())?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(ApiError::Unauthenticated {
            code: ErrorCode::InvalidAuthorization,
            detail: "Send `Authorization: Bearer <access token or API key>`.".into(),
        }),
    }
}

fn route_class(request: &Request) -> RouteClass {
    // The original URI: inside the API the router has stripped the `/v1` prefix.
    let in_auth = request
        .original_uri()
        .path()
        .split('/')
        .nth(4)
        .is_some_and(|segment| segment == "auth");
    if in_auth {
        RouteClass::Auth
    } else if request.method().is_safe() {
        RouteClass::Read
    } else {
        RouteClass::Write
    }
}

fn client_ip(request: &Request) -> Option<IpAddr> {
    request.remote_addr().as_socket_addr().map(|addr| addr.ip())
}

impl<'a, A: Access> ApiExtractor<'a> for Caller<A> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            "bearer",
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "An access token from `auth/login` (JWT, 15 minutes) or an integrator API key \
                     (`sk_...`). Operations documented with `security: []` are open to \
                     anonymous callers; a token sent to them is checked all the same.",
                ),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: Some("JWT"),
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    // No security fallback: the schemes listed are required, and none means a public
    // operation rather than an optional scheme.
    fn security_schemes() -> Vec<&'static str> {
        A::SCHEMES.to_vec()
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let state = request
            .data::<AppState>()
            .ok_or_else(|| ApiError::internal("application state missing from the request"))?;
        let facts = request
            .data::<Arc<RequestFacts>>()
            .ok_or_else(|| ApiError::internal("request facts missing"))?;
        let tenant = facts
            .tenant
            .get()
            .ok_or_else(|| ApiError::internal("Caller must follow the tenant parameter"))?;

        let principal = match bearer(request) {
            Ok(token) => auth_service::authenticate(state, tenant, token).await,
            Err(err) => Err(err),
        };
        if state.config.rate_limits == Switch::On {
            let class = route_class(request);
            // Sign-in routes and failed authentications are charged to the client address, so
            // that neither fresh accounts nor bad credentials buy more guesses.
            let (limit_key, identity) = match (&principal, class) {
                (Ok(Principal::User(user)), RouteClass::Read | RouteClass::Write) => (
                    match user.api_key {
                        Some(key) => format!("key:{key}"),
                        None => format!("user:{}", user.user_id),
                    },
                    Identity::Identified,
                ),
                _ => (
                    format!(
                        "ip:{}:{}",
                        tenant.id,
                        client_ip(request)
                            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
                    ),
                    Identity::Anonymous,
                ),
            };
            let decision = state
                .rate_limiter
                .check(tenant.plan(), tenant.id, class, &limit_key, identity)
                .await;
            let _ = facts.rate_limit.set(decision);
            if !decision.allowed {
                state.metrics.record_rate_limited(tenant.plan());
                return Err(ApiError::RateLimited {
                    retry_after_secs: decision.retry_after_secs,
                }
                .into());
            }
        }
        let principal = principal?;
        if let Principal::User(user) = &principal {
            tracing::Span::current().record("principal", tracing::field::display(user.user_id));
        }
        Ok(Self(principal, PhantomData))
    }
}
