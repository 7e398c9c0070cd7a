//! Authorization with Casbin (RBAC with domains, one domain per tenant).
//!
//! Services decide whether a target is the caller's own, then ask `Authorizer::check`, which
//! answers with a `Permit` for that tenant and action. Store functions that write tenant data
//! take a `&Permit` of their resource's actions, so a write whose check was skipped, or was made
//! for another resource, does not compile.

pub mod api;
mod permission;
pub mod service;
mod store;

use std::{
    collections::{BTreeSet, HashMap},
    fmt,
    sync::Arc,
};

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use serde::Serialize;
use tokio::sync::RwLock;

pub use permission::{
    AccountAction, Action, ApiKeyAction, AuthAction, BookingAction, GuestReviewAction,
    PaymentAction, PaymentProviderAction, PayoutAction, Permission, PluginAction, PolicyAction,
    ProfileAction, PropertyAction, ReviewAction, SettingsAction, TenantAction, TestClockAction,
    UserAction, own_or_any,
};

use crate::{auth::Principal, db::Db, error::ApiError, ids::TenantId, tenants::Tenant};

const MODEL: &str = include_str!("../../policies/model.conf");
const DEFAULT_POLICY: &str = include_str!("../../policies/policy.csv");
/// The role every caller has, signed in or not.
pub const ANONYMOUS: &str = "anonymous";

/// A role a tenant's user or API key can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    TenantAdmin,
    Host,
    Guest,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::TenantAdmin, Role::Host, Role::Guest];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TenantAdmin => "tenant_admin",
            Self::Host => "host",
            Self::Guest => "guest",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == value)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of roles, stored as a comma-separated column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Roles(BTreeSet<Role>);

impl Roles {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        Self(roles.into_iter().collect())
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn is_subset(&self, other: &Roles) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    pub fn names(&self) -> Vec<String> {
        self.iter().map(|role| role.as_str().to_owned()).collect()
    }

    pub fn to_column(&self) -> String {
        self.names().join(",")
    }

    pub fn from_column(column: &str) -> Result<Self, ApiError> {
        column
            .split(',')
            .filter(|name| !name.is_empty())
            .map(|name| {
                Role::parse(name)
                    .ok_or_else(|| ApiError::internal(format!("stored role {name:?} is unknown")))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Parses role names from a request; `field` names the body field in the 422.
    pub fn parse_names(field: &str, names: &[String]) -> Result<Self, ApiError> {
        let mut roles = Vec::with_capacity(names.len());
        for (index, name) in names.iter().enumerate() {
            roles.push(Role::parse(name).ok_or_else(|| {
                ApiError::validation(
                    format!("{field}[{index}]"),
                    "must be one of: tenant_admin, host, guest",
                )
            })?);
        }
        Self::at_least_one(field, roles)
    }

    /// The set of `roles`, refused (naming `field`) when empty.
    pub fn at_least_one(
        field: &str,
        roles: impl IntoIterator<Item = Role>,
    ) -> Result<Self, ApiError> {
        let roles: BTreeSet<Role> = roles.into_iter().collect();
        if roles.is_empty() {
            return Err(ApiError::validation(field, "must name at least one role"));
        }
        Ok(Self(roles))
    }
}

/// Proof that the caller may perform `action` in `tenant`; required by the store writes and
/// service steps of that resource kind, so a permit for another resource does not type-check
/// and one for another tenant is refused.
#[derive(Debug)]
pub struct Permit<A: Action> {
    tenant: TenantId,
    action: A,
}

impl<A: Action> Permit<A> {
    /// A permit for an operator command run from the CLI, which acts outside any tenant's
    /// rules (creating a tenant's first administrator, fixing roles).
    pub(crate) fn for_operator(tenant: TenantId, action: A) -> Self {
        Self { tenant, action }
    }

    /// A permit for work Staybase does on its own schedule (expiring holds, completing stays),
    /// which no caller requested: the system acts with the tenant-wide action.
    pub(crate) fn for_system(tenant: TenantId, action: A) -> Self {
        Self { tenant, action }
    }

    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// Refuses a permit granted for another action than the ones a write needs (a permit to
    /// read a listing cannot change it).
    pub fn require(&self, actions: &[A]) -> Result<(), ApiError> {
        if actions.contains(&self.action) {
            Ok(())
        } else {
            Err(ApiError::internal(format!(
                "a permit for {} was used for a write it does not allow",
                self.action.permission()
            )))
        }
    }

    /// Refuses to write `tenant`'s data under another tenant's permit.
    pub fn require_tenant(&self, tenant: TenantId) -> Result<(), ApiError> {
        if tenant == self.tenant {
            Ok(())
        } else {
            Err(ApiError::internal(format!(
                "a permit for {} of tenant {} was used for tenant {tenant}",
                self.action.permission(),
                self.tenant
            )))
        }
    }
}

/// One allow rule: the pieces of a `p` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Rule {
    pub role: String,
    pub object: String,
    pub action: String,
}

fn default_rules() -> Vec<Rule> {
    DEFAULT_POLICY
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("p,"))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            match fields.as_slice() {
                ["p", role, "*", object, action] => Some(Rule {
                    role: (*role).to_owned(),
                    object: (*object).to_owned(),
                    action: (*action).to_owned(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// A decision's question: the tenant and the version of its rules, the caller's roles (a bit
/// each; none for anonymous callers), the object and the action.
type Question = (TenantId, i64, u8, &'static str, &'static str);

/// Tenant enforcers, each cached with the policy version it was built from, and the decisions
/// they made: evaluating casbin's matcher costs more than the rest of a cached read, and the
/// same few questions come back on every request.
pub struct Authorizer {
    defaults: Vec<Rule>,
    enforcers: RwLock<HashMap<TenantId, (i64, Arc<Enforcer>)>>,
    decisions: moka::sync::Cache<Question, bool>,
}

impl Default for Authorizer {
    fn default() -> Self {
        Self {
            defaults: default_rules(),
            enforcers: RwLock::new(HashMap::new()),
            // A new policy version asks new questions; the old answers age out by size.
            decisions: moka::sync::Cache::new(100_000),
        }
    }
}

/// The caller's roles as bits, for `Question`.
fn role_bits(principal: &Principal) -> u8 {
    let Principal::User(user) = principal else {
        return 0;
    };
    user.roles.iter().fold(0, |bits, role| {
        bits | match role {
            Role::TenantAdmin => 1,
            Role::Host => 2,
            Role::Guest => 4,
        }
    })
}

impl Authorizer {
    pub fn defaults(&self) -> &[Rule] {
        &self.defaults
    }

    /// Allows or refuses `principal` to do `action` in `tenant`.
    pub async fn check<A: Action>(
        &self,
        db: &Db,
        tenant: &Tenant,
        principal: &Principal,
        action: A,
    ) -> Result<Permit<A>, ApiError> {
        let (object, verb) = (A::OBJECT, action.as_str());
        let question = (
            tenant.id,
            tenant.policy_version,
            role_bits(principal),
            object,
            verb,
        );
        let allowed = match self.decisions.get(&question) {
            Some(allowed) => allowed,
            None => {
                let allowed = self.decide(db, tenant, principal, object, verb).await?;
                self.decisions.insert(question, allowed);
                allowed
            }
        };
        if allowed {
            return Ok(Permit {
                tenant: tenant.id,
                action,
            });
        }
        Err(if principal.is_anonymous() {
            ApiError::AuthenticationRequired
        } else {
            ApiError::Forbidden(format!("Your roles do not allow {verb} on {object}."))
        })
    }

    /// Whether the tenant's rules let anonymous callers or one of the principal's roles do
    /// `verb` on `object`.
    async fn decide(
        &self,
        db: &Db,
        tenant: &Tenant,
        principal: &Principal,
        object: &str,
        verb: &str,
    ) -> Result<bool, ApiError> {
        let enforcer = self.enforcer(db, tenant).await?;
        let domain = tenant.id.to_string();
        let roles = principal.roles();
        let subjects = std::iter::once(ANONYMOUS).chain(roles.iter().map(|role| role.as_str()));
        for subject in subjects {
            let allowed = enforcer
                .enforce((subject, domain.as_str(), object, verb))
                .map_err(|err| ApiError::internal(err.to_string()))?;
            if allowed {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn enforcer(&self, db: &Db, tenant: &Tenant) -> Result<Arc<Enforcer>, ApiError> {
        if let Some((version, enforcer)) = self.enforcers.read().await.get(&tenant.id)
            && *version == tenant.policy_version
        {
            return Ok(Arc::clone(enforcer));
        }
        let tenant_rules = store::list(db, tenant.id).await?;
        let enforcer = Arc::new(
            self.build(tenant.id, tenant_rules.iter().map(|r| &r.rule))
                .await?,
        );
        self.enforcers
            .write()
            .await
            .insert(tenant.id, (tenant.policy_version, Arc::clone(&enforcer)));
        Ok(enforcer)
    }

    async fn build<'a>(
        &self,
        tenant: TenantId,
        tenant_rules: impl Iterator<Item = &'a Rule>,
    ) -> Result<Enforcer, ApiError> {
        let casbin = |err: casbin::Error| ApiError::internal(err.to_string());
        let model = DefaultModel::from_str(MODEL).await.map_err(casbin)?;
        let mut enforcer = Enforcer::new(model, MemoryAdapter::default())
            .await
            .map_err(casbin)?;
        let domain = tenant.to_string();
        let mut lines: Vec<Vec<String>> = self
            .defaults
            .iter()
            .map(|rule| {
                vec![
                    rule.role.clone(),
                    "*".into(),
                    rule.object.clone(),
                    rule.action.clone(),
                ]
            })
            .collect();
        lines.extend(tenant_rules.map(|rule| {
            vec![
                rule.role.clone(),
                domain.clone(),
                rule.object.clone(),
                rule.action.clone(),
            ]
        }));
        enforcer.add_policies(lines).await.map_err(casbin)?;
        Ok(enforcer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_parses_and_speaks_only_of_known_roles() {
        let rules = default_rules();
        assert!(rules.len() > 10);
        for rule in &rules {
            assert!(
                rule.role == ANONYMOUS || Role::parse(&rule.role).is_some(),
                "{rule:?}"
            );
        }
    }

    #[test]
    fn the_permission_enum_and_the_default_policy_name_the_same_permissions() {
        let in_policy: BTreeSet<(String, String)> = default_rules()
            .into_iter()
            .map(|rule| (rule.object, rule.action))
            .collect();
        let in_enum: BTreeSet<(String, String)> = Permission::all()
            .map(|permission| {
                let (object, action) = permission.parts();
                (object.to_owned(), action.to_owned())
            })
            .collect();
        let missing_from_enum: Vec<_> = in_policy.difference(&in_enum).collect();
        let missing_from_policy: Vec<_> = in_enum.difference(&in_policy).collect();
        assert!(
            missing_from_enum.is_empty(),
            "policies/policy.csv names permissions the Permission enum lacks: {missing_from_enum:?}"
        );
        assert!(
            missing_from_policy.is_empty(),
            "the Permission enum has permissions no default rule grants: {missing_from_policy:?}"
        );
        for permission in Permission::all() {
            let (object, action) = permission.parts();
            assert_eq!(Permission::parse(object, action), Some(permission));
        }
        assert_eq!(Permission::parse("bookings", "fly"), None);
    }

    #[test]
    fn a_permit_allows_only_the_actions_it_was_granted_for() {
        let tenant = TenantId(uuid::Uuid::nil());
        let read = Permit::for_system(tenant, PropertyAction::ReadOwn);
        assert!(read.require(PropertyAction::CHANGES).is_err());
        let change = Permit::for_system(tenant, PropertyAction::UpdateOwn);
        assert!(change.require(PropertyAction::CHANGES).is_ok());
        assert!(change.require(PropertyAction::DELETES).is_err());
        assert!(change.require_tenant(tenant).is_ok());
        assert!(
            change
                .require_tenant(TenantId(uuid::Uuid::from_u128(1)))
                .is_err()
        );
    }

    #[test]
    fn roles_round_trip_through_their_column() {
        let roles = Roles::new([Role::Host, Role::Guest]);
        assert_eq!(roles.to_column(), "host,guest");
        assert_eq!(Roles::from_column("host,guest").unwrap(), roles);
        assert!(Roles::from_column("host,root").is_err());
        assert!(Roles::parse_names("roles", &["host".into(), "wizard".into()]).is_err());
        assert!(Roles::parse_names("roles", &[]).is_err());
    }
}
