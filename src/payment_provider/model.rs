//! Provider settings as the rules see them: opened credentials whose `Debug` redacts them, and
//! the view an administrator gets, which holds no secret.

use crate::{error::FieldError, secret_box::SecretString};

/// Where Stripe's API is unless a tenant says otherwise (tests point it at a fake).
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";
/// Webhook signing secrets accepted at once: the current one and those being rotated out.
pub const MAX_WEBHOOK_SECRETS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Simulated,
    Stripe,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Simulated => "simulated",
            Self::Stripe => "stripe",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "simulated" => Some(Self::Simulated),
            "stripe" => Some(Self::Stripe),
            _ => None,
        }
    }
}

/// Stripe's secrets, sealed together as one JSON document.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct StripeCredentials {
    pub secret_key: SecretString,
    /// The first signs new webhooks; the others are still accepted during a rotation.
    pub webhook_secrets: Vec<SecretString>,
}

impl StripeCredentials {
    /// The document that is sealed (the only place the secrets are serialized).
    pub fn to_sealed_json(&self) -> Vec<u8> {
        serde_json::json!({
            "secret_key": self.secret_key.expose(),
            "webhook_secrets": self
                .webhook_secrets
                .iter()
                .map(SecretString::expose)
                .collect::<Vec<_>>(),
        })
        .to_string()
        .into_bytes()
    }
}

#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub credentials: StripeCredentials,
    pub api_base: String,
}

/// A tenant's provider with opened credentials, for the payments core.
#[derive(Debug, Clone)]
pub enum ProviderSettings {
    Simulated,
    Stripe(StripeSettings),
}

impl ProviderSettings {
    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::Simulated => ProviderKind::Simulated,
            Self::Stripe(_) => ProviderKind::Stripe,
        }
    }
}

/// What an administrator sees: which secrets are set, by their last four characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderView {
    pub provider: ProviderKind,
    pub stripe: Option<StripeView>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeView {
    pub secret_key_last4: String,
    pub webhook_secrets_last4: Vec<String>,
    pub api_base: String,
}

/// A validated `PUT payment-provider` body.
#[derive(Debug)]
pub enum ProviderChange {
    Simulated,
    Stripe(StripeSettings),
}

/// The Stripe part of a `PUT` body, before validation.
pub struct StripeInput {
    pub secret_key: String,
    pub webhook_secrets: Vec<String>,
    pub api_base: Option<String>,
}

/// Parses a `PUT` body: every problem at once, named by its field.
pub fn parse_change(
    provider: ProviderKind,
    stripe: Option<StripeInput>,
) -> Result<ProviderChange, Vec<FieldError>> {
    match (provider, stripe) {
        (ProviderKind::Simulated, None) => Ok(ProviderChange::Simulated),
        (ProviderKind::Simulated, Some(_)) => Err(vec![FieldError::new(
            "stripe",
            "is only accepted with provider \"stripe\"",
        )]),
        (ProviderKind::Stripe, None) => Err(vec![FieldError::new(
            "stripe",
            "is required with provider \"stripe\"",
        )]),
        (ProviderKind::Stripe, Some(input)) => parse_stripe(input).map(ProviderChange::Stripe),
    }
}

fn parse_stripe(input: StripeInput) -> Result<StripeSettings, Vec<FieldError>> {
    let mut errors = Vec::new();
    let secret_key = input.secret_key;
    if !(secret_key.starts_with("sk_") || secret_key.starts_with("rk_"))
        || !(8..=255).contains(&secret_key.len())
        || !secret_key.bytes().all(|b| b.is_ascii_graphic())
    {
        errors.push(FieldError::new(
            "stripe.secret_key",
            "must be a Stripe secret or restricted key (sk_... or rk_...)",
        ));
    }
    let webhook_secrets = input.webhook_secrets;
    if webhook_secrets.is_empty() || webhook_secrets.len() > MAX_WEBHOOK_SECRETS {
        errors.push(FieldError::new(
            "stripe.webhook_secrets",
            format!("must list 1 to {MAX_WEBHOOK_SECRETS} webhook signing secrets"),
        ));
    }
    for (index, secret) in webhook_secrets.iter().enumerate() {
        if !secret.starts_with("whsec_")
            || !(10..=255).contains(&secret.len())
            || !secret.bytes().all(|b| b.is_ascii_graphic())
        {
            errors.push(FieldError::new(
                format!("stripe.webhook_secrets[{index}]"),
                "must be a Stripe webhook signing secret (whsec_...)",
            ));
        }
    }
    let api_base = input
        .api_base
        .map(|base| base.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| STRIPE_API_BASE.to_owned());
    if !valid_api_base(&api_base) {
        errors.push(FieldError::new(
            "stripe.api_base",
            "must be an http(s) URL without a path, query or credentials",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(StripeSettings {
        credentials: StripeCredentials {
            secret_key: SecretString::new(secret_key),
            webhook_secrets: webhook_secrets.into_iter().map(SecretString::new).collect(),
        },
        api_base,
    })
}

/// `https://host[:port]` (or `http://` for a local fake); where requests actually may go is
/// the outbound guard's decision, at call time.
fn valid_api_base(base: &str) -> bool {
    let Some(rest) = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty()
        && base.len() <= 200
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripe(key: &str, secrets: &[&str], base: Option<&str>) -> Option<StripeInput> {
        Some(StripeInput {
            secret_key: key.to_owned(),
            webhook_secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
            api_base: base.map(str::to_owned),
        })
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|error| error.field).collect()
    }

    #[test]
    fn a_valid_stripe_change_keeps_the_secrets_redacted() {
        let change = parse_change(
            ProviderKind::Stripe,
            stripe(
                "sk_test_123456789",
                &["whsec_abcdefgh"],
                Some("http://127.0.0.1:9/"),
            ),
        )
        .unwrap();
        let ProviderChange::Stripe(settings) = &change else {
            panic!("stripe")
        };
        assert_eq!(settings.api_base, "http://127.0.0.1:9");
        let debug = format!("{change:?}");
        assert!(
            !debug.contains("sk_test") && !debug.contains("whsec_"),
            "{debug}"
        );
        let sealed = String::from_utf8(settings.credentials.to_sealed_json()).unwrap();
        assert!(sealed.contains("sk_test_123456789") && sealed.contains("whsec_abcdefgh"));
    }

    #[test]
    fn defaults_to_stripes_own_api() {
        let Ok(ProviderChange::Stripe(settings)) = parse_change(
            ProviderKind::Stripe,
            stripe("rk_live_123456789", &["whsec_abcdefgh"], None),
        ) else {
            panic!("valid")
        };
        assert_eq!(settings.api_base, STRIPE_API_BASE);
    }

    #[test]
    fn every_bad_field_is_named() {
        assert_eq!(
            fields(parse_change(ProviderKind::Stripe, None).unwrap_err()),
            ["stripe"]
        );
        assert_eq!(
            fields(parse_change(ProviderKind::Simulated, stripe("sk_1", &[], None)).unwrap_err()),
            ["stripe"]
        );
        assert_eq!(
            fields(
                parse_change(
                    ProviderKind::Stripe,
                    stripe(
                        "pk_test_123456",
                        &["whsec_abcdefgh", "nope"],
                        Some("ftp://x/y")
                    )
                )
                .unwrap_err()
            ),
            [
                "stripe.secret_key",
                "stripe.webhook_secrets[1]",
                "stripe.api_base"
            ]
        );
        assert_eq!(
            fields(
                parse_change(ProviderKind::Stripe, stripe("sk_test_123456", &[], None))
                    .unwrap_err()
            ),
            ["stripe.webhook_secrets"]
        );
        assert!(
            parse_change(
                ProviderKind::Stripe,
                stripe(
                    "sk_test_123456",
                    &["whsec_abcdefgh"],
                    Some("https://a.b/v1")
                )
            )
            .is_err()
        );
    }
}
