//! `/v1/t/{tenant}/policies`: the tenant's own authorization rules (tenant admins).

use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{Role, Roles, Rule, service, store::TenantRule};
use crate::{
    app::AppState,
    error_statuses,
    http::{ApiResult, BodyExample, Caller, JsonBody, tenancy},
};

/// A role a user or an API key holds in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case", rename = "Role")]
pub enum RoleDto {
    TenantAdmin,
    Host,
    Guest,
}

impl From<Role> for RoleDto {
    fn from(role: Role) -> Self {
        match role {
            Role::TenantAdmin => Self::TenantAdmin,
            Role::Host => Self::Host,
            Role::Guest => Self::Guest,
        }
    }
}

impl From<RoleDto> for Role {
    fn from(role: RoleDto) -> Self {
        match role {
            RoleDto::TenantAdmin => Self::TenantAdmin,
            RoleDto::Host => Self::Host,
            RoleDto::Guest => Self::Guest,
        }
    }
}

/// `roles` as answers show them.
pub fn role_views(roles: &Roles) -> Vec<RoleDto> {
    roles.iter().map(RoleDto::from).collect()
}

/// Requested `roles` (from the body field `field`): at least one.
pub fn requested_roles(field: &str, roles: Vec<RoleDto>) -> Result<Roles, crate::error::ApiError> {
    Roles::at_least_one(field, roles.into_iter().map(Role::from))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum RuleSource {
    /// Built in (`policies/policy.csv`); cannot be removed.
    Default,
    /// Added by this tenant.
    Tenant,
}

#[derive(Debug, Object)]
pub struct PolicyRule {
    /// Set on the tenant's own rules (use it to remove one).
    #[oai(nullable)]
    id: Option<Uuid>,
    source: RuleSource,
    /// `anonymous` (every caller), `guest`, `host` or `tenant_admin`.
    role: String,
    object: String,
    action: String,
    #[oai(nullable)]
    created_at: Option<time::OffsetDateTime>,
}

#[derive(Debug, Object)]
pub struct PolicyList {
    data: Vec<PolicyRule>,
    /// Always `null`: every rule is in `data`.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(Debug, Object)]
pub struct NewPolicyRule {
    /// `anonymous`, `guest`, `host` or `tenant_admin`.
    role: String,
    /// A resource kind that the default rules name, e.g. `users`.
    object: String,
    /// An action the default rules name for that object, e.g. `list:any`.
    action: String,
}

impl BodyExample for NewPolicyRule {
    fn example() -> serde_json::Value {
        serde_json::json!({ "role": "host", "object": "bookings", "action": "read:any" })
    }
}

#[derive(ApiResponse)]
pub enum Created {
    #[oai(status = 201)]
    Created(Json<PolicyRule>),
}

#[derive(ApiResponse)]
pub enum Removed {
    #[oai(status = 204)]
    NoContent,
}

error_statuses!(ReadErrors => [401, 403, 404, 429]);
error_statuses!(WriteErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);

fn tenant_rule_view(rule: TenantRule) -> PolicyRule {
    PolicyRule {
        id: Some(rule.id),
        source: RuleSource::Tenant,
        role: rule.rule.role,
        object: rule.rule.object,
        action: rule.rule.action,
        created_at: Some(rule.created_at.get()),
    }
}

pub struct PoliciesApi;

#[OpenApi(tag = "crate::http::Tag::Policies")]
impl PoliciesApi {
    /// List the authorization rules in force: the defaults and the tenant's own.
    #[oai(
        path = "/t/:tenant/policies",
        method = "get",
        operation_id = "list_policies"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
    ) -> ApiResult<Json<PolicyList>, ReadErrors> {
        let own = service::list(&state, &tenant.0, &caller.0).await?;
        let defaults = state.authorizer.defaults().iter().map(|rule| PolicyRule {
            id: None,
            source: RuleSource::Default,
            role: rule.role.clone(),
            object: rule.object.clone(),
            action: rule.action.clone(),
            created_at: None,
        });
        Ok(Json(PolicyList {
            data: defaults
                .chain(own.into_iter().map(tenant_rule_view))
                .collect(),
            next_cursor: None,
        }))
    }

    /// Add an allow rule for this tenant; it holds on every replica from the next request.
    #[oai(
        path = "/t/:tenant/policies",
        method = "post",
        operation_id = "add_policy"
    )]
    async fn add(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        body: JsonBody<NewPolicyRule>,
    ) -> ApiResult<Created, WriteErrors> {
        let body = body.0;
        let rule = Rule {
            role: body.role,
            object: body.object,
            action: body.action,
        };
        let rule = service::add(&state, &tenant.0, &caller.0, rule).await?;
        Ok(Created::Created(Json(tenant_rule_view(rule))))
    }

    /// Remove one of the tenant's own rules.
    #[oai(
        path = "/t/:tenant/policies/:id",
        method = "delete",
        operation_id = "remove_policy"
    )]
    async fn remove(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Removed, ReadErrors> {
        service::remove(&state, &tenant.0, &caller.0, id.0).await?;
        Ok(Removed::NoContent)
    }
}
