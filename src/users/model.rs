use crate::{
    authz::{Role, Roles},
    db::Timestamp,
    ids::{TenantId, UserId},
};

#[derive(Debug, Clone)]
pub struct User {
    pub tenant_id: TenantId,
    pub id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone_number: Option<String>,
    pub roles: Roles,
    pub email_verified: bool,
    pub disabled: bool,
    pub must_change_password: bool,
    pub picture_key: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An email address: as typed (trimmed) for display, lowercased for uniqueness and lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub display: String,
    pub normalized: String,
}

impl Email {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let display = value.trim();
        if display.is_empty() || display.len() > 254 {
            return Err("must be an email address of at most 254 characters");
        }
        let valid = display.parse::<lettre::Address>().is_ok()
            && display
                .rsplit_once('@')
                .is_some_and(|(_, domain)| domain.contains('.'));
        if !valid {
            return Err("must be an email address like name@example.com");
        }
        Ok(Self {
            display: display.to_owned(),
            normalized: display.to_lowercase(),
        })
    }
}

/// A first or last name: trimmed, 1-100 characters, no control characters.
pub fn parse_name(value: &str) -> Result<String, &'static str> {
    let name = value.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("must be 1 to 100 characters long");
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(name.to_owned())
}

/// A phone number in E.164 form: `+` then 7 to 15 digits, the first not zero.
pub fn parse_phone(value: &str) -> Result<String, &'static str> {
    let digits = value.strip_prefix('+').unwrap_or_default();
    let valid = (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if valid {
        Ok(value.to_owned())
    } else {
        Err("must be in E.164 form, e.g. +33612345678")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased_for_lookup() {
        let email = Email::parse("  Ana.Lima@Example.COM ").unwrap();
        assert_eq!(email.display, "Ana.Lima@Example.COM");
        assert_eq!(email.normalized, "ana.lima@example.com");
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@localhost",
            "a b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_are_e164() {
        assert!(parse_phone("+33612345678").is_ok());
        for bad in [
            "0612345678",
            "+0612345678",
            "+33 6 12",
            "+123",
            "+1234567890123456",
        ] {
            assert!(parse_phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_bounded() {
        assert_eq!(parse_name("  Ana ").unwrap(), "Ana");
        assert!(parse_name("").is_err());
        assert!(parse_name(&"a".repeat(101)).is_err());
    }
}

/// Which accounts a directory listing shows; `None` does not filter.
#[derive(Debug, Default)]
pub struct UserFilter {
    pub role: Option<Role>,
    /// `true`: only disabled accounts; `false`: only active ones.
    pub disabled: Option<bool>,
    /// Emails starting with this, case-insensitively.
    pub email_prefix: Option<String>,
}
