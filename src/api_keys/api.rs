use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{service, store::ApiKey};
use crate::{
    app::AppState,
    authz::api::{RoleDto, requested_roles, role_views},
    error_statuses,
    http::{ApiResult, BodyExample, Caller, JsonBody, NoStore, tenancy},
};

#[derive(Debug, Object)]
pub struct ApiKeyRequest {
    /// What the key is for, e.g. "channel manager".
    #[oai(validator(max_length = 100))]
    name: String,
    /// Roles the key acts with (at least one).
    roles: Vec<RoleDto>,
}

impl BodyExample for ApiKeyRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({ "name": "nightly export", "roles": ["tenant_admin"] })
    }
}

#[derive(Debug, Object)]
#[oai(rename = "ApiKey")]
pub struct ApiKeyView {
    id: Uuid,
    name: String,
    roles: Vec<RoleDto>,
    /// The first characters of the secret, to recognise the key.
    prefix: String,
    created_at: time::OffsetDateTime,
    #[oai(nullable)]
    last_used_at: Option<time::OffsetDateTime>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(key: &ApiKey) -> Self {
        Self {
            id: key.id,
            name: key.name.clone(),
            roles: role_views(&key.roles),
            prefix: key.prefix.clone(),
            created_at: key.created_at.get(),
            last_used_at: key.last_used_at.map(|at| at.get()),
        }
    }
}

#[derive(Debug, Object)]
pub struct CreatedApiKey {
    id: Uuid,
    name: String,
    roles: Vec<RoleDto>,
    prefix: String,
    /// The secret: send as `Authorization: Bearer <secret>`. Shown only in this response.
    secret: String,
    created_at: time::OffsetDateTime,
}

#[derive(Debug, Object)]
pub struct ApiKeyList {
    data: Vec<ApiKeyView>,
    /// Always `null`: every active key is in `data`.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum Created {
    #[oai(status = 201)]
    Created(Json<CreatedApiKey>),
}

#[derive(ApiResponse)]
pub enum Revoked {
    #[oai(status = 204)]
    NoContent,
}

error_statuses!(ReadErrors => [401, 403, 404, 429]);
error_statuses!(WriteErrors => [400, 401, 403, 404, 413, 415, 422, 429]);

pub struct ApiKeysApi;

#[OpenApi(tag = "crate::http::Tag::ApiKeys")]
impl ApiKeysApi {
    /// Create an API key (tenant admins).
    ///
    /// The secret appears only in this response.
    #[oai(
        path = "/t/:tenant/api-keys",
        method = "post",
        operation_id = "create_api_key"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        body: JsonBody<ApiKeyRequest>,
    ) -> ApiResult<NoStore<Created>, WriteErrors> {
        let body = body.0;
        let roles = requested_roles("roles", body.roles)?;
        let (key, secret) =
            service::create(&state, &tenant.0, &caller.0, &body.name, roles).await?;
        Ok(NoStore(Created::Created(Json(CreatedApiKey {
            id: key.id,
            name: key.name,
            roles: role_views(&key.roles),
            prefix: key.prefix,
            secret,
            created_at: key.created_at.get(),
        }))))
    }

    /// List active API keys, without their secrets (tenant admins).
    #[oai(
        path = "/t/:tenant/api-keys",
        method = "get",
        operation_id = "list_api_keys"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
    ) -> ApiResult<Json<ApiKeyList>, ReadErrors> {
        let keys = service::list(&state, &tenant.0, &caller.0).await?;
        Ok(Json(ApiKeyList {
            data: keys.iter().map(ApiKeyView::from).collect(),
            next_cursor: None,
        }))
    }

    /// Revoke an API key (tenant admins); it stops working at once.
    #[oai(
        path = "/t/:tenant/api-keys/:id",
        method = "delete",
        operation_id = "revoke_api_key"
    )]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Revoked, ReadErrors> {
        service::revoke(&state, &tenant.0, &caller.0, id.0).await?;
        Ok(Revoked::NoContent)
    }
}
