//! `/v1/admin`: the platform operators' API. Only platform tokens are accepted here, and they
//! are accepted nowhere else.

use std::sync::Arc;

use poem::{
    Request, RequestBody,
    http::header,
    web::{Data, RemoteAddr},
};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions, Object, OpenApi,
    payload::Json,
    registry::{MetaSecurityScheme, Registry},
};
use uuid::Uuid;

use super::{
    service::{self, AdminSession, PLATFORM_ADMIN_ROLE},
    store::PlatformAdmin,
};
use crate::{
    app::AppState,
    config::Switch,
    error::ApiError,
    error_statuses,
    http::{ApiResult, JsonBody, NoStore, RequestFacts},
    ids::TenantId,
    ratelimit::{DEFAULT_PLAN, Identity, RouteClass},
};

/// Platform sign-in attempts are limited per client address like tenant sign-ins, under a
/// platform-wide ceiling (the nil tenant).
async fn limit_sign_in(
    state: &AppState,
    remote: &RemoteAddr,
    facts: &RequestFacts,
) -> Result<(), ApiError> {
    if state.config.rate_limits == Switch::Off {
        return Ok(());
    }
    let caller = remote
        .as_socket_addr()
        .map_or_else(|| "unknown".to_owned(), |addr| addr.ip().to_string());
    let decision = state
        .rate_limiter
        .check(
            DEFAULT_PLAN,
            TenantId(Uuid::nil()),
            RouteClass::Auth,
            &format!("platform-ip:{caller}"),
            Identity::Anonymous,
        )
        .await;
    let _ = facts.rate_limit.set(decision);
    if decision.allowed {
        Ok(())
    } else {
        state.metrics.record_rate_limited(DEFAULT_PLAN);
        Err(ApiError::RateLimited {
            retry_after_secs: decision.retry_after_secs,
        })
    }
}

/// An authenticated platform administrator.
pub struct AdminCaller(pub PlatformAdmin);

impl<'a> ApiExtractor<'a> for AdminCaller {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            "platform_bearer",
            MetaSecurityScheme {
                ty: "http",
                description: Some("An access token from `/v1/admin/auth/login`."),
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
        vec!["platform_bearer"]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let state = request
            .data::<AppState>()
            .ok_or_else(|| ApiError::internal("application state missing from the request"))?;
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or(ApiError::AuthenticationRequired)?;
        Ok(Self(service::authenticate(state, token).await?))
    }
}

#[derive(Debug, Object)]
pub struct AdminLogin {
    email: String,
    #[oai(write_only)]
    password: String,
}

#[derive(Debug, Object)]
pub struct AdminPasswordChange {
    email: String,
    #[oai(write_only)]
    current_password: String,
    #[oai(write_only)]
    new_password: String,
}

#[derive(Debug, Object)]
pub struct AdminIdentity {
    id: Uuid,
    email: String,
    roles: Vec<String>,
}

impl From<&PlatformAdmin> for AdminIdentity {
    fn from(admin: &PlatformAdmin) -> Self {
        Self {
            id: admin.id,
            email: admin.email.clone(),
            roles: vec![PLATFORM_ADMIN_ROLE.to_owned()],
        }
    }
}

#[derive(Debug, Object)]
pub struct AdminTokenResponse {
    /// Send as `Authorization: Bearer <access_token>` to `/v1/admin/*`.
    access_token: String,
    /// Always `null`: platform sessions are not refreshed; sign in again.
    refresh_token: Option<String>,
    token_type: String,
    expires_in: u64,
    user: AdminIdentity,
}

impl From<AdminSession> for AdminTokenResponse {
    fn from(session: AdminSession) -> Self {
        Self {
            access_token: session.access_token,
            refresh_token: None,
            token_type: "Bearer".into(),
            expires_in: session.expires_in,
            user: AdminIdentity::from(&session.admin),
        }
    }
}

error_statuses!(LoginErrors => [400, 401, 403, 413, 415, 422, 429]);
error_statuses!(ReadErrors => [401, 403]);

pub struct AdminApi;

#[OpenApi(tag = "crate::http::Tag::Admin")]
impl AdminApi {
    /// Sign in as a platform administrator.
    ///
    /// 403 `password_change_required` while the account has a one-time password.
    #[oai(
        path = "/admin/auth/login",
        method = "post",
        operation_id = "admin_login"
    )]
    async fn login(
        &self,
        state: Data<&AppState>,
        remote: &RemoteAddr,
        facts: Data<&Arc<RequestFacts>>,
        body: JsonBody<AdminLogin>,
    ) -> ApiResult<NoStore<Json<AdminTokenResponse>>, LoginErrors> {
        limit_sign_in(&state, remote, &facts).await?;
        let body = body.0;
        Ok(NoStore(Json(
            service::login(&state, &body.email, body.password)
                .await?
                .into(),
        )))
    }

    /// Replace a platform administrator's password (the one-time one, at first) and sign in.
    #[oai(
        path = "/admin/auth/password",
        method = "post",
        operation_id = "admin_change_password"
    )]
    async fn change_password(
        &self,
        state: Data<&AppState>,
        remote: &RemoteAddr,
        facts: Data<&Arc<RequestFacts>>,
        body: JsonBody<AdminPasswordChange>,
    ) -> ApiResult<NoStore<Json<AdminTokenResponse>>, LoginErrors> {
        limit_sign_in(&state, remote, &facts).await?;
        let body = body.0;
        let session = service::change_password(
            &state,
            &body.email,
            body.current_password,
            body.new_password,
        )
        .await?;
        Ok(NoStore(Json(session.into())))
    }

    /// Who am I (platform administrators).
    #[oai(path = "/admin/me", method = "get", operation_id = "admin_me")]
    async fn me(&self, caller: AdminCaller) -> ApiResult<Json<AdminIdentity>, ReadErrors> {
        Ok(Json(AdminIdentity::from(&caller.0)))
    }
}
