//! The tenant path parameter. poem-openapi treats an argument as a path parameter only when its
//! type is named `Path`, so this extractor has that name: it documents `{tenant}` in the spec
//! and resolves it to an active `Tenant` (404 `tenant_not_found`, 403 `tenant_suspended`).

use std::sync::Arc;

use poem::{Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaParamIn, MetaSchema, MetaSchemaRef},
};

use crate::{
    app::AppState,
    error::ApiError,
    http::RequestFacts,
    tenants::{Tenant, service},
};

pub struct Path(pub Tenant);

impl<'a> ApiExtractor<'a> for Path {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    const PARAM_IS_REQUIRED: bool = true;

    type ParamType = String;
    type ParamRawType = String;

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Path)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        let mut schema = MetaSchema::new("string");
        schema.description = Some("The marketplace's slug.");
        schema.pattern = Some("^[a-z][a-z0-9-]{1,38}[a-z0-9]$".to_owned());
        schema.min_length = Some(3);
        schema.max_length = Some(40);
        Some(MetaSchemaRef::Inline(Box::new(schema)))
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let slug = request
            .raw_path_param(param_opts.name)
            .ok_or(ApiError::TenantNotFound)?;
        let state = request
            .data::<AppState>()
            .ok_or_else(|| ApiError::internal("application state missing from the request"))?;
        let tenant = service::resolve_for_request(state, slug).await?;
        tracing::Span::current().record("tenant", tenant.slug.as_str());
        if let Some(facts) = request.data::<Arc<RequestFacts>>() {
            let _ = facts.tenant.set(tenant.clone());
        }
        Ok(Self(tenant))
    }
}
