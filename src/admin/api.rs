//! `/v1/admin`: the platform operators' API. Only platform tokens are accepted here, and they
//! are accepted nowhere else.

use std::sync::Arc;

use poem::{
    Request, RequestBody,
    http::header,
    web::{Data, RemoteAddr},
};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, Enum, ExtractParamOptions, Object, OpenApi,
    param::Path,
    payload::Json,
    registry::{MetaSecurityScheme, Registry},
};
use uuid::Uuid;

use super::{
    service::{self, AdminSession},
    store::PlatformAdmin,
};
use crate::{
    app::AppState,
    auth::api::TokenType,
    config::Switch,
    error::ApiError,
    error_statuses,
    http::{ApiResult, BodyExample, JsonBody, NoStore, RequestFacts},
    ids::TenantId,
    ratelimit::{DEFAULT_PLAN, Identity, RouteClass},
    tenants::{Tenant, model::TenantStatus, service as tenants},
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

impl BodyExample for AdminLogin {
    fn example() -> serde_json::Value {
        serde_json::json!({ "email": "ops@example.com", "password": "correct horse battery" })
    }
}

#[derive(Debug, Object)]
pub struct AdminPasswordChange {
    email: String,
    #[oai(write_only)]
    current_password: String,
    #[oai(write_only)]
    new_password: String,
}

impl BodyExample for AdminPasswordChange {
    fn example() -> serde_json::Value {
        serde_json::json!({ "email": "ops@example.com", "current_password": "Tk7fQ2mWp9LxZ4vRb8Nc", "new_password": "correct horse battery" })
    }
}

#[derive(Debug, Object)]
pub struct AdminIdentity {
    id: Uuid,
    email: String,
    roles: Vec<PlatformRole>,
}

/// A platform operator's role.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum PlatformRole {
    PlatformAdmin,
}

impl From<&PlatformAdmin> for AdminIdentity {
    fn from(admin: &PlatformAdmin) -> Self {
        Self {
            id: admin.id,
            email: admin.email.clone(),
            roles: vec![PlatformRole::PlatformAdmin],
        }
    }
}

#[derive(Debug, Object)]
pub struct AdminTokenResponse {
    /// Send as `Authorization: Bearer <access_token>` to `/v1/admin/*`.
    access_token: String,
    /// Always `null`: platform sessions are not refreshed; sign in again.
    #[oai(nullable)]
    refresh_token: Option<String>,
    token_type: TokenType,
    expires_in: u64,
    user: AdminIdentity,
}

impl From<AdminSession> for AdminTokenResponse {
    fn from(session: AdminSession) -> Self {
        Self {
            access_token: session.access_token,
            refresh_token: None,
            token_type: TokenType::Bearer,
            expires_in: session.expires_in,
            user: AdminIdentity::from(&session.admin),
        }
    }
}

/// A tenant as platform operators see it.
#[derive(Debug, Object)]
#[oai(rename = "AdminTenant")]
pub struct AdminTenant {
    id: Uuid,
    slug: String,
    name: String,
    status: AdminTenantStatus,
    /// The rate-limit plan (one of `STAYBASE_RATE_LIMIT_PLANS`) the tenant's requests count
    /// against.
    rate_limit_plan: String,
    /// A test tenant: simulated payments only, and a clock its administrators advance.
    test_mode: bool,
    created_at: time::OffsetDateTime,
    updated_at: time::OffsetDateTime,
}

/// `suspended` tenants answer 403 `tenant_suspended` on every tenant route.
#[derive(Debug, Enum)]
#[oai(rename_all = "snake_case")]
pub enum AdminTenantStatus {
    Active,
    Suspended,
}

impl From<Tenant> for AdminTenant {
    fn from(tenant: Tenant) -> Self {
        Self {
            id: tenant.id.0,
            slug: tenant.slug.as_str().to_owned(),
            name: tenant.name,
            status: match tenant.status {
                TenantStatus::Active => AdminTenantStatus::Active,
                TenantStatus::Suspended => AdminTenantStatus::Suspended,
            },
            rate_limit_plan: tenant.settings.rate_limit_plan,
            test_mode: tenant.test_mode,
            created_at: tenant.created_at.get(),
            updated_at: tenant.updated_at.get(),
        }
    }
}

/// Every tenant, by slug (a list without paging: `next_cursor` is always `null`).
#[derive(Debug, Object)]
pub struct AdminTenantList {
    data: Vec<AdminTenant>,
    #[oai(nullable)]
    next_cursor: Option<String>,
}

/// What platform operators change on a tenant; absent fields stay as they are.
#[derive(Debug, Object)]
pub struct AdminTenantPatch {
    /// One of the deployment's configured plans (`STAYBASE_RATE_LIMIT_PLANS`).
    rate_limit_plan: Option<String>,
}

impl BodyExample for AdminTenantPatch {
    fn example() -> serde_json::Value {
        serde_json::json!({ "rate_limit_plan": "default" })
    }
}

error_statuses!(LoginErrors => [400, 401, 403, 413, 415, 422, 429]);
error_statuses!(ReadErrors => [401, 403]);
error_statuses!(TenantReadErrors => [401, 403, 404]);
error_statuses!(TenantPatchErrors => [400, 401, 403, 404, 413, 415, 422]);

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

    /// List every tenant, whatever its status.
    #[oai(
        path = "/admin/tenants",
        method = "get",
        operation_id = "admin_list_tenants"
    )]
    async fn list_tenants(
        &self,
        state: Data<&AppState>,
        _caller: AdminCaller,
    ) -> ApiResult<NoStore<Json<AdminTenantList>>, ReadErrors> {
        let tenants = tenants::list(&state.db).await?;
        Ok(NoStore(Json(AdminTenantList {
            data: tenants.into_iter().map(AdminTenant::from).collect(),
            next_cursor: None,
        })))
    }

    /// Get a tenant by slug, whatever its status.
    #[oai(
        path = "/admin/tenants/:slug",
        method = "get",
        operation_id = "admin_get_tenant"
    )]
    async fn get_tenant(
        &self,
        state: Data<&AppState>,
        _caller: AdminCaller,
        slug: Path<String>,
    ) -> ApiResult<NoStore<Json<AdminTenant>>, TenantReadErrors> {
        let tenant = tenants::find_by_slug(&state.db, &slug.0).await?;
        Ok(NoStore(Json(tenant.into())))
    }

    /// Change a tenant's platform-controlled fields (its rate-limit plan).
    ///
    /// An unknown plan is 422 naming the configured ones. Tenant admins read their plan in
    /// `GET settings` but cannot change it.
    #[oai(
        path = "/admin/tenants/:slug",
        method = "patch",
        operation_id = "admin_update_tenant"
    )]
    async fn update_tenant(
        &self,
        state: Data<&AppState>,
        _caller: AdminCaller,
        slug: Path<String>,
        body: JsonBody<AdminTenantPatch>,
    ) -> ApiResult<NoStore<Json<AdminTenant>>, TenantPatchErrors> {
        let change = tenants::OperatorChange {
            rate_limit_plan: body.0.rate_limit_plan,
        };
        let tenant = tenants::change_as_operator(&state, &slug.0, change).await?;
        Ok(NoStore(Json(tenant.into())))
    }
}
