//! Email templates: for each message a subject, a plain-text part and an HTML part (which
//! extends the branded layout and is HTML-escaped), rendered with the tenant's branding.

use std::sync::LazyLock;

use minijinja::{AutoEscape, Environment, context};
use serde::Serialize;

use crate::tenants::Tenant;

const DEFAULT_PRIMARY_COLOR: &str = "#1f6feb";

/// How a tenant's messages look. Colours and logo come with tenant branding settings.
#[derive(Debug, Clone, Serialize)]
pub struct Branding {
    pub display_name: String,
    pub primary_color: String,
}

impl Branding {
    pub fn for_tenant(tenant: &Tenant) -> Self {
        Self {
            display_name: tenant.settings.display_name.clone(),
            primary_color: DEFAULT_PRIMARY_COLOR.to_owned(),
        }
    }
}

/// The messages Staybase sends, with what each needs.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "template", rename_all = "snake_case")]
pub enum Template {
    VerifyEmail {
        first_name: String,
        link: String,
        expires_hours: u32,
    },
    PasswordReset {
        first_name: String,
        link: String,
        expires_minutes: u32,
    },
}

impl Template {
    fn name(&self) -> &'static str {
        match self {
            Self::VerifyEmail { .. } => "verify_email",
            Self::PasswordReset { .. } => "password_reset",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("templates/", $name)))),*]
    };
}

const SOURCES: &[(&str, &str)] = templates!(
    "layout.html",
    "verify_email.subject",
    "verify_email.txt",
    "verify_email.html",
    "password_reset.subject",
    "password_reset.txt",
    "password_reset.html",
);

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut environment = Environment::new();
    environment.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    environment.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (name, source) in SOURCES {
        // The sources are compiled in; a syntax error is caught by the unit tests below.
        if let Err(err) = environment.add_template(name, source) {
            tracing::error!(template = name, error = %err, "email template does not compile");
        }
    }
    environment
});

pub fn render(template: &Template, brand: &Branding) -> Result<Rendered, minijinja::Error> {
    let name = template.name();
    let data = context! { brand => brand, ..minijinja::Value::from_serialize(template) };
    let part = |suffix: &str| {
        ENVIRONMENT
            .get_template(&format!("{name}.{suffix}"))
            .and_then(|template| template.render(&data))
    };
    Ok(Rendered {
        subject: part("subject")?.trim().to_owned(),
        text: part("txt")?,
        html: part("html")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand() -> Branding {
        Branding {
            display_name: "Sea & Sun".into(),
            primary_color: "#ff5a5f".into(),
        }
    }

    #[test]
    fn every_template_renders_with_branding() {
        let templates = [
            Template::VerifyEmail {
                first_name: "Ana".into(),
                link: "https://example.com/v?t=1".into(),
                expires_hours: 48,
            },
            Template::PasswordReset {
                first_name: "Ana".into(),
                link: "https://example.com/r?t=1".into(),
                expires_minutes: 30,
            },
        ];
        for template in templates {
            let rendered = render(&template, &brand()).unwrap();
            assert!(
                rendered.subject.contains("Sea & Sun"),
                "{}",
                rendered.subject
            );
            assert!(!rendered.subject.contains('\n'));
            assert!(rendered.text.contains("Hello Ana"));
            assert!(rendered.text.contains("https://example.com/"));
            assert!(rendered.html.contains("Sea &amp; Sun"), "HTML is escaped");
            assert!(rendered.html.contains("#ff5a5f"));
        }
    }

    #[test]
    fn user_data_cannot_inject_html() {
        let rendered = render(
            &Template::VerifyEmail {
                first_name: "<script>alert(1)</script>".into(),
                link: "https://example.com".into(),
                expires_hours: 1,
            },
            &brand(),
        )
        .unwrap();
        assert!(!rendered.html.contains("<script>"));
        assert!(rendered.text.contains("<script>"), "plain text is not HTML");
    }
}
