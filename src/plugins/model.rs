//! Plugins as the domain sees them: a tenant's uploaded versions, their kind, status and
//! failure policy, and the checks of what an upload carries.

use uuid::Uuid;

use super::runtime::World;
use crate::{db::Timestamp, error::ApiError, ids::TenantId};

/// The longest plugin name, in characters.
pub const MAX_NAME: usize = 100;
/// The largest configuration, in bytes of JSON text.
pub const MAX_CONFIG_BYTES: usize = 16 * 1024;
/// Failed calls kept per plugin.
pub const KEPT_FAILURES: i64 = 20;

/// What a plugin decides: the hook it runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    Pricing,
    ReviewRules,
}

impl PluginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pricing => "pricing",
            Self::ReviewRules => "review_rules",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pricing" => Some(Self::Pricing),
            "review_rules" => Some(Self::ReviewRules),
            _ => None,
        }
    }

    pub fn world(self) -> World {
        match self {
            Self::Pricing => World::Pricing,
            Self::ReviewRules => World::ReviewRules,
        }
    }

    /// The policy of an activation that names none: a price is never guessed, and a review
    /// waits for a person.
    pub fn default_policy(self) -> FailurePolicy {
        match self {
            Self::Pricing => FailurePolicy::FailClosed,
            Self::ReviewRules => FailurePolicy::Hold,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginStatus {
    Active,
    Inactive,
}

impl PluginStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Self::Active),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }
}

/// What a failed call leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Pricing: the quote or booking is refused with 422 `plugin_failed`.
    FailClosed,
    /// Pricing: the base price stands, and the failure is logged.
    Fallback,
    /// Review rules: the review is held for moderation.
    Hold,
    /// Review rules: the review is accepted.
    Accept,
}

impl FailurePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FailClosed => "fail_closed",
            Self::Fallback => "fallback",
            Self::Hold => "hold",
            Self::Accept => "accept",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::FailClosed, Self::Fallback, Self::Hold, Self::Accept]
            .into_iter()
            .find(|policy| policy.as_str() == value)
    }

    /// Whether the policy applies to plugins of `kind`.
    pub fn fits(self, kind: PluginKind) -> bool {
        match kind {
            PluginKind::Pricing => matches!(self, Self::FailClosed | Self::Fallback),
            PluginKind::ReviewRules => matches!(self, Self::Hold | Self::Accept),
        }
    }
}

/// One uploaded version of a plugin.
#[derive(Debug, Clone)]
pub struct Plugin {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub kind: PluginKind,
    pub name: String,
    pub version: i64,
    /// Hex SHA-256 of the module's bytes.
    pub sha256: String,
    pub size: i64,
    /// JSON text passed to every call.
    pub config: String,
    pub status: PluginStatus,
    /// Set while active.
    pub failure_policy: Option<FailurePolicy>,
    pub created_at: Timestamp,
    pub activated_at: Option<Timestamp>,
}

/// A failed call, as kept for the tenant to see.
#[derive(Debug, Clone)]
pub struct RecordedFailure {
    pub reason: String,
    pub message: String,
    pub at: Timestamp,
}

/// A plugin name: trimmed, 1 to 100 characters, no control characters.
pub fn parse_name(value: &str) -> Result<String, ApiError> {
    let name = value.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "name",
            format!("must be 1 to {MAX_NAME} characters without control characters"),
        ));
    }
    Ok(name.to_owned())
}

/// A configuration: JSON text of at most 16 KiB, an object (`{}` when none is given).
pub fn parse_config(value: Option<&str>) -> Result<String, ApiError> {
    let text = value.map(str::trim).filter(|text| !text.is_empty());
    let Some(text) = text else {
        return Ok("{}".into());
    };
    if text.len() > MAX_CONFIG_BYTES {
        return Err(ApiError::validation(
            "config",
            format!("must be at most {MAX_CONFIG_BYTES} bytes of JSON"),
        ));
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => Ok(text.to_owned()),
        Ok(_) => Err(ApiError::validation("config", "must be a JSON object")),
        Err(err) => Err(ApiError::validation(
            "config",
            format!("is not valid JSON: {err}"),
        )),
    }
}
