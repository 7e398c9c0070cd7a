use poem_openapi::{Object, OpenApi, payload::Json};

use crate::{error_statuses, http::ApiResult, http::tenancy};

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

error_statuses!(TenantLookupErrors => [403, 404]);

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
        tenant: tenancy::Path,
    ) -> ApiResult<Json<TenantView>, TenantLookupErrors> {
        Ok(Json(TenantView::from(&tenant.0)))
    }
}
