use poem_openapi::{Object, OpenApi, payload::Json};

use poem::web::Data;

use crate::{
    app::AppState,
    auth::Caller,
    error_statuses,
    http::{ApiResult, tenancy},
};

use super::model::Tenant;

/// A marketplace as its public site sees it.
#[derive(Debug, Object)]
#[oai(rename = "Tenant")]
pub struct TenantView {
    /// The URL identifier used in `/v1/t/{tenant}`.
    slug: String,
    /// The marketplace's name.
    name: String,
}

impl From<&Tenant> for TenantView {
    fn from(tenant: &Tenant) -> Self {
        Self {
            slug: tenant.slug.to_string(),
            name: tenant.name.clone(),
        }
    }
}

error_statuses!(TenantLookupErrors => [401, 403, 404, 429]);

pub struct TenantsApi;

#[OpenApi(tag = "crate::api::Tag::Tenants")]
impl TenantsApi {
    /// Get a marketplace's public profile.
    ///
    /// Answers 404 `tenant_not_found` for an unknown slug and 403 `tenant_suspended` while the
    /// marketplace is suspended.
    #[oai(path = "/t/:tenant", method = "get", operation_id = "get_tenant")]
    async fn get_tenant(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
    ) -> ApiResult<Json<TenantView>, TenantLookupErrors> {
        state
            .authorizer
            .check(&state.db, &tenant.0, &caller.0, "tenant", "read")
            .await?;
        Ok(Json(TenantView::from(&tenant.0)))
    }
}
