//! Who is making a request inside a tenant, as the services see it.

use uuid::Uuid;

use crate::{authz::Roles, error::ApiError, ids::UserId};

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
