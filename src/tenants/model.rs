use std::fmt;

use serde::Serialize;

use super::settings::TenantSettings;
use crate::db::Timestamp;
use crate::ids::TenantId;

/// Slugs that would read as platform paths or impersonate the operator.
const RESERVED_SLUGS: &[&str] = &[
    "admin", "api", "app", "docs", "help", "platform", "staybase", "static", "status", "support",
    "www",
];

/// A tenant's URL identifier: 3-40 characters of lowercase letters, digits and single hyphens,
/// starting with a letter and not ending with a hyphen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        if !(3..=40).contains(&value.len()) {
            return Err("must be 3 to 40 characters long");
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("may contain only lowercase letters, digits and hyphens");
        }
        if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err("must start with a letter");
        }
        if value.ends_with('-') || value.contains("--") {
            return Err("must not end with a hyphen or contain two in a row");
        }
        if RESERVED_SLUGS.contains(&value) {
            return Err("is reserved");
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub name: String,
    pub status: TenantStatus,
    /// Bumped whenever the tenant's own authorization rules change.
    pub policy_version: i64,
    /// Bumped by every change to the tenant's listings; read caches key on it.
    pub listings_version: i64,
    /// Bumped by every change to which plugins are active; prepared plugins key on it.
    pub plugins_version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// A test tenant: the simulated payment provider only, and its own clock.
    pub test_mode: bool,
    /// A test tenant's clock: it stands still until its administrators advance it.
    #[serde(skip)]
    pub clock: Option<Timestamp>,
    #[serde(skip)]
    pub settings: TenantSettings,
}

impl Tenant {
    /// Where emailed links lead: the tenant's storefront, else the deployment's default.
    pub fn site_url<'a>(&'a self, default: &'a str) -> &'a str {
        self.settings
            .site_url
            .as_deref()
            .unwrap_or(default)
            .trim_end_matches('/')
    }

    pub fn plan(&self) -> &str {
        &self.settings.rate_limit_plan
    }

    /// The tenant's now, which every time-based rule of the tenant reads: its test clock in
    /// test mode, the wall clock otherwise.
    pub fn now(&self) -> Timestamp {
        match self.clock {
            Some(clock) if self.test_mode => clock,
            _ => Timestamp::now(),
        }
    }

    /// Today's date in the tenant's time zone at its now: "today" for every date rule.
    pub fn today(&self) -> time::Date {
        self.settings.today_at(self.now())
    }
}

/// A display name: trimmed, 1-100 characters, no control characters.
pub fn parse_tenant_name(value: &str) -> Result<String, &'static str> {
    let name = value.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("must be 1 to 100 characters long");
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_slugs() {
        for slug in ["acme", "beach-houses", "a1b", "x".repeat(40).as_str()] {
            assert!(TenantSlug::parse(slug).is_ok(), "{slug}");
        }
    }

    #[test]
    fn rejects_malformed_slugs() {
        for slug in [
            "ab",
            &"x".repeat(41),
            "Acme",
            "1acme",
            "acme-",
            "ac--me",
            "acme_1",
            "acmé",
            "admin",
            "",
        ] {
            assert!(TenantSlug::parse(slug).is_err(), "{slug}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_tenant_name("  Acme Stays ").unwrap(), "Acme Stays");
        assert!(parse_tenant_name("   ").is_err());
        assert!(parse_tenant_name(&"n".repeat(101)).is_err());
        assert!(parse_tenant_name("a\u{0}b").is_err());
    }
}
