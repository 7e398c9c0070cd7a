//! Authentication: who is calling. Access tokens (EdDSA JWTs bound to one tenant), opaque
//! refresh tokens rotated on every use, API keys for integrators, passwords with argon2id.

pub mod api;
pub mod keys;
pub mod password;
pub mod secrets;
pub mod service;
pub mod store;

use std::{net::IpAddr, sync::Arc};

use poem::{Request, RequestBody, http::header};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaSecurityScheme, Registry},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    api_keys,
    app::AppState,
    authz::Roles,
    error::ApiError,
    http::RequestFacts,
    ratelimit::RouteClass,
    tenants::Tenant,
    users::{self, UserId},
};

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

/// Who is making a request inside a tenant.
#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    User(UserPrincipal),
}

#[derive(Debug, Clone)]
pub struct UserPrincipal {
    pub user_id: UserId,
    pub roles: Roles,
    /// The session of the access token, if the caller used one.
    pub session: Option<Uuid>,
    /// The API key the caller used, if any.
    pub api_key: Option<Uuid>,
}

impl Principal {
    pub fn roles(&self) -> Roles {
        match self {
            Self::Anonymous => Roles::default(),
            Self::User(user) => user.roles.clone(),
        }
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self, Self::Anonymous)
    }

    pub fn user(&self) -> Result<&UserPrincipal, ApiError> {
        match self {
            Self::User(user) => Ok(user),
            Self::Anonymous => Err(ApiError::AuthenticationRequired),
        }
    }
}

/// The authenticated caller of a tenant route, rate limited. Must follow the tenant path
/// parameter in a handler's arguments (it reads the tenant that one resolved).
pub struct Caller(pub Principal);

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
            code: "invalid_authorization",
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

async fn authenticate(
    state: &AppState,
    tenant: &Tenant,
    request: &Request,
) -> Result<Principal, ApiError> {
    let Some(token) = bearer(request)? else {
        return Ok(Principal::Anonymous);
    };
    if token.starts_with(api_keys::SECRET_PREFIX) {
        return api_keys::service::authenticate(&state.db, tenant, token).await;
    }
    let claims: AccessClaims = state
        .keys
        .verify(token, TENANT_AUDIENCE)
        .await
        .map_err(|_| ApiError::invalid_token())?;
    if claims.tid != Some(tenant.id.0) {
        return Err(ApiError::invalid_token());
    }
    let user = users::store::get(&state.db, tenant.id, UserId(claims.sub))
        .await?
        .ok_or_else(ApiError::invalid_token)?;
    if user.disabled {
        return Err(account_disabled());
    }
    // An access token dies with its session (logout, password change, a reused refresh token).
    if let Some(session) = claims.sid
        && store::session_ended(&state.db, tenant.id, session).await?
    {
        return Err(ApiError::invalid_token());
    }
    Ok(Principal::User(UserPrincipal {
        user_id: user.id,
        // Current roles, not the token's: a role change or removal holds at once.
        roles: user.roles,
        session: claims.sid,
        api_key: None,
    }))
}

pub fn account_disabled() -> ApiError {
    ApiError::Refused {
        code: "account_disabled",
        detail: "This account is disabled.".into(),
    }
}

impl<'a> ApiExtractor<'a> for Caller {
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
                     (`sk_...`). Operations open to anonymous callers accept no credentials too.",
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

    fn security_schemes() -> Vec<&'static str> {
        vec!["bearer"]
    }

    fn has_security_fallback() -> bool {
        true
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

        let principal = authenticate(state, tenant, request).await;
        let class = route_class(request);
        // Sign-in routes and failed authentications are charged to the client address, so that
        // neither fresh accounts nor bad credentials buy more guesses.
        let limit_key = match (&principal, class) {
            (Ok(Principal::User(user)), RouteClass::Read | RouteClass::Write) => match user.api_key
            {
                Some(key) => format!("key:{key}"),
                None => format!("user:{}", user.user_id),
            },
            _ => format!(
                "ip:{}:{}",
                tenant.id,
                client_ip(request).map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
            ),
        };
        if state.config.rate_limits == crate::config::Switch::On {
            let decision = state
                .rate_limiter
                .check(tenant.plan(), tenant.id, class, &limit_key)
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
            tracing::Span::current().record("principal", user.user_id.to_string());
        }
        Ok(Self(principal))
    }
}
