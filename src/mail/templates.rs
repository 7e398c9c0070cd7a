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
    /// Also the sender's name.
    pub display_name: String,
    pub primary_color: String,
    #[serde(skip)]
    pub reply_to: Option<String>,
}

impl Branding {
    pub fn for_tenant(tenant: &Tenant) -> Self {
        Self {
            display_name: tenant.settings.display_name.clone(),
            primary_color: DEFAULT_PRIMARY_COLOR.to_owned(),
            reply_to: tenant.settings.reply_to.clone(),
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
    /// Someone tried to register with the address of an existing account.
    RegistrationAttempt {
        first_name: String,
        sign_in_link: String,
    },
    /// A booking reached a status.
    Booking(Box<BookingMessage>),
    /// A payment's receipt to the guest, or a payout's notice to the host.
    Payment(Box<PaymentMessage>),
    /// A review published (to the host), a host's reply (to the guest), or an invitation to
    /// review a stay (to the guest).
    Review(Box<ReviewMessage>),
    /// An imported calendar marks busy nights of a booking: a double booking, to the host.
    ImportConflict(Box<ImportConflictMessage>),
}

/// What a message about reviews says: `kind` is `published` (to the host: `rating` and the
/// comment in `text`), `replied` (to the guest: the reply in `text`) or `invite` (to the guest:
/// review until `review_until`).
#[derive(Debug, Clone, Serialize)]
pub struct ReviewMessage {
    pub kind: String,
    pub first_name: String,
    pub property_name: String,
    pub reference: String,
    pub check_in: String,
    pub check_out: String,
    pub rating: u8,
    pub text: String,
    pub review_until: String,
}

/// What the host is told when another channel's calendar overlaps a booking.
#[derive(Debug, Clone, Serialize)]
pub struct ImportConflictMessage {
    pub first_name: String,
    pub property_name: String,
    pub reference: String,
    pub check_in: String,
    pub check_out: String,
    /// The imported calendar's URL.
    pub calendar_url: String,
}

/// What a message about money says: `kind` is `receipt` (to the guest, for a payment) or
/// `payout` (to the host, now payable).
#[derive(Debug, Clone, Serialize)]
pub struct PaymentMessage {
    pub kind: String,
    pub first_name: String,
    pub property_name: String,
    pub reference: String,
    pub check_in: String,
    pub check_out: String,
    pub amount: String,
}

/// What a message about a booking says: it reached `status`; to its guest, or to its host when
/// `for_host`.
#[derive(Debug, Clone, Serialize)]
pub struct BookingMessage {
    pub status: String,
    pub for_host: bool,
    pub first_name: String,
    pub guest_name: String,
    pub property_name: String,
    pub reference: String,
    pub check_in: String,
    pub check_out: String,
    pub nights: i64,
    pub guests: u32,
    pub total: String,
    pub refund: Option<String>,
    /// Payment was due at the property: a cancellation refunds nothing online.
    pub paid_at_property: bool,
    pub cancelled_by: Option<String>,
    pub hold_minutes: u32,
    pub request_expiry_hours: u32,
}

impl Template {
    fn name(&self) -> &'static str {
        match self {
            Self::VerifyEmail { .. } => "verify_email",
            Self::PasswordReset { .. } => "password_reset",
            Self::RegistrationAttempt { .. } => "registration_attempt",
            Self::Booking(_) => "booking",
            Self::Payment(_) => "payment",
            Self::Review(_) => "review",
            Self::ImportConflict(_) => "import_conflict",
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
    "registration_attempt.subject",
    "registration_attempt.txt",
    "registration_attempt.html",
    "booking.subject",
    "booking.txt",
    "booking.html",
    "payment.subject",
    "payment.txt",
    "payment.html",
    "review.subject",
    "review.txt",
    "review.html",
    "import_conflict.subject",
    "import_conflict.txt",
    "import_conflict.html",
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
            reply_to: None,
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
            Template::RegistrationAttempt {
                first_name: "Ana".into(),
                sign_in_link: "https://example.com/sign-in?tenant=acme".into(),
            },
            Template::ImportConflict(Box::new(ImportConflictMessage {
                first_name: "Ana".into(),
                property_name: "Loft & Garden".into(),
                reference: "0190".into(),
                check_in: "2027-07-14".into(),
                check_out: "2027-07-17".into(),
                calendar_url: "https://example.com/4711.ics".into(),
            })),
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

    fn booking(status: &str, for_host: bool, cancelled_by: Option<&str>) -> Template {
        Template::Booking(Box::new(BookingMessage {
            status: status.into(),
            for_host,
            first_name: "Ana".into(),
            guest_name: "Bo <b>Lund</b>".into(),
            property_name: "Loft & Garden".into(),
            reference: "0190".into(),
            check_in: "2027-07-14".into(),
            check_out: "2027-07-17".into(),
            nights: 3,
            guests: 2,
            total: "EUR 330.00".into(),
            refund: cancelled_by.map(|_| "EUR 165.00".into()),
            paid_at_property: false,
            cancelled_by: cancelled_by.map(str::to_owned),
            hold_minutes: 15,
            request_expiry_hours: 24,
        }))
    }

    #[test]
    fn payment_messages_give_the_amount_to_the_guest_or_the_host() {
        for (kind, subject, text) in [
            (
                "receipt",
                "Your receipt for Loft & Garden",
                "We received your payment of EUR 330.00",
            ),
            (
                "payout",
                "Your payout for Loft & Garden is payable",
                "Your payout of EUR 330.00",
            ),
        ] {
            let message = Template::Payment(Box::new(PaymentMessage {
                kind: kind.into(),
                first_name: "Ana".into(),
                property_name: "Loft & Garden".into(),
                reference: "0190".into(),
                check_in: "2027-07-14".into(),
                check_out: "2027-07-17".into(),
                amount: "EUR 330.00".into(),
            }));
            let rendered = render(&message, &brand()).unwrap();
            assert_eq!(rendered.subject, format!("{subject} · Sea & Sun"));
            assert!(rendered.text.contains(text), "{}", rendered.text);
            assert!(rendered.text.contains("Booking reference: 0190"));
            assert!(rendered.html.contains("Loft &amp; Garden"));
        }
    }

    #[test]
    fn review_messages_speak_to_the_host_or_the_guest() {
        for (kind, subject, text) in [
            (
                "published",
                "New review of Loft & Garden: 4/5",
                "A guest reviewed your stay",
            ),
            (
                "replied",
                "Loft & Garden replied to your review",
                "<script>thanks</script>",
            ),
            (
                "invite",
                "How was your stay at Loft & Garden?",
                "until 2027-08-17",
            ),
        ] {
            let message = Template::Review(Box::new(ReviewMessage {
                kind: kind.into(),
                first_name: "Ana".into(),
                property_name: "Loft & Garden".into(),
                reference: "0190".into(),
                check_in: "2027-07-14".into(),
                check_out: "2027-07-17".into(),
                rating: 4,
                text: "<script>thanks</script>".into(),
                review_until: "2027-08-17".into(),
            }));
            let rendered = render(&message, &brand()).unwrap();
            assert_eq!(rendered.subject, format!("{subject} · Sea & Sun"));
            assert!(rendered.text.contains(text), "{}", rendered.text);
            assert!(!rendered.html.contains("<script>"), "HTML is escaped");
        }
    }

    #[test]
    fn booking_messages_say_what_happened_to_whom() {
        let cases = [
            (
                booking("requested", true, None),
                "New booking request for Loft & Garden",
                "Bo <b>Lund</b> asks to stay",
            ),
            (
                booking("requested", false, None),
                "Your request for Loft & Garden was sent",
                "24 hours to answer",
            ),
            (
                booking("pending_payment", false, None),
                "Complete your booking",
                "held for you for 15 minutes",
            ),
            (
                booking("confirmed", true, None),
                "New booking for Loft & Garden",
                "Bo <b>Lund</b> booked",
            ),
            (
                booking("confirmed", false, None),
                "is confirmed",
                "is confirmed",
            ),
            (
                booking("cancelled", false, Some("guest")),
                "was cancelled",
                "cancelled by you. Refund: EUR 165.00",
            ),
            (
                booking("cancelled", true, Some("guest")),
                "was cancelled",
                "cancelled by the guest.",
            ),
            (
                {
                    let Template::Booking(mut message) = booking("cancelled", false, Some("guest"))
                    else {
                        unreachable!()
                    };
                    message.paid_at_property = true;
                    Template::Booking(message)
                },
                "was cancelled",
                "cancelled by you. It was to be paid at the property: nothing was charged, so \
                 nothing is refunded.",
            ),
            (
                booking("cancelled", false, Some("host")),
                "was cancelled",
                "cancelled by the host.",
            ),
            (
                booking("cancelled", true, Some("admin")),
                "was cancelled",
                "cancelled by the marketplace.",
            ),
            (
                booking("declined", false, None),
                "was declined",
                "declined your request",
            ),
            (
                booking("expired", false, None),
                "has expired",
                "not answered or paid in time",
            ),
        ];
        for (template, subject, text) in cases {
            let rendered = render(&template, &brand()).unwrap();
            assert!(rendered.subject.contains(subject), "{}", rendered.subject);
            assert!(
                rendered.subject.ends_with("Sea & Sun"),
                "{}",
                rendered.subject
            );
            assert!(rendered.text.contains(text), "{}", rendered.text);
            assert!(rendered.text.contains("Total: EUR 330.00"));
            assert!(
                rendered.html.contains("Loft &amp; Garden"),
                "{}",
                rendered.html
            );
            assert!(!rendered.html.contains("<b>Lund"), "HTML is escaped");
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
