//! A tenant's settings: how its marketplace books, charges and limits.

use serde::{Deserialize, Serialize};

use crate::{db::Timestamp, error::FieldError, ratelimit::DEFAULT_PLAN};

/// Active ISO 4217 currency codes.
const CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWL",
];

macro_rules! setting_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(value: &str) -> Option<Self> {
                match value { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

setting_enum!(
    /// `instant`: a booking holds its dates at once; `request`: the host accepts or declines.
    BookingMode { Instant => "instant", Request => "request" }
);
setting_enum!(
    /// `online`: guests pay through Staybase; `at_property`: bookings confirm without payment.
    PaymentCollection { Online => "online", AtProperty => "at_property" }
);
setting_enum!(
    /// The refund rules a booking snapshots when it is made.
    CancellationPolicy { Flexible => "flexible", Moderate => "moderate", Strict => "strict" }
);
setting_enum!(
    /// `immediate`: reviews appear as they are written; `double_blind`: a stay's two reviews
    /// (the guest's of the property, the host's of the guest) appear together once both are
    /// written, or when the review window closes.
    ReviewPublication { Immediate => "immediate", DoubleBlind => "double_blind" }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSettings {
    pub display_name: String,
    pub currency: String,
    pub timezone: String,
    pub booking_mode: BookingMode,
    pub payment_collection: PaymentCollection,
    pub hold_minutes: u32,
    pub request_expiry_hours: u32,
    pub platform_fee_bps: u32,
    pub tax_bps: u32,
    /// The commission kept from the host's share, in basis points of the stay subtotal.
    pub host_fee_bps: u32,
    pub cancellation_policy: CancellationPolicy,
    pub self_service_hosts: bool,
    /// Whether guests must verify their email address before booking.
    pub require_verified_email: bool,
    pub review_window_days: u32,
    pub review_publication: ReviewPublication,
    /// Unpaid bookings (requests and holds) a guest may have at once.
    pub max_unpaid_bookings: u32,
    /// The longest stay, whatever a listing allows.
    pub max_stay_nights: u32,
    /// How many days ahead of the tenant's today a stay may start.
    pub booking_window_days: u32,
    /// Browser origins (`https://stays.example.com`) allowed to call the API (CORS).
    pub allowed_origins: Vec<String>,
    /// The operator's storefront, where emailed links lead (`None`: the deployment's
    /// `STAYBASE_PUBLIC_APP_URL`).
    pub site_url: Option<String>,
    /// Where replies to the marketplace's emails go.
    pub reply_to: Option<String>,
    pub rate_limit_plan: String,
    pub version: i64,
}

/// Bounds of the numeric settings, shared by the OpenAPI schema and the checks.
pub mod bounds {
    pub const HOLD_MINUTES: (u32, u32) = (5, 1440);
    pub const REQUEST_EXPIRY_HOURS: (u32, u32) = (1, 168);
    pub const FEE_BPS: (u32, u32) = (0, 5000);
    pub const REVIEW_WINDOW_DAYS: (u32, u32) = (1, 365);
    pub const MAX_UNPAID_BOOKINGS: (u32, u32) = (1, 100);
    pub const MAX_STAY_NIGHTS: (u32, u32) = (1, 366);
    pub const BOOKING_WINDOW_DAYS: (u32, u32) = (1, 1095);
}

impl TenantSettings {
    /// The settings of a new tenant.
    pub fn defaults(display_name: &str) -> Self {
        Self {
            display_name: display_name.to_owned(),
            currency: "EUR".into(),
            timezone: "UTC".into(),
            booking_mode: BookingMode::Instant,
            payment_collection: PaymentCollection::Online,
            hold_minutes: 15,
            request_expiry_hours: 24,
            platform_fee_bps: 0,
            tax_bps: 0,
            host_fee_bps: 0,
            cancellation_policy: CancellationPolicy::Moderate,
            self_service_hosts: true,
            require_verified_email: false,
            review_window_days: 30,
            review_publication: ReviewPublication::DoubleBlind,
            max_unpaid_bookings: 3,
            max_stay_nights: 90,
            booking_window_days: 730,
            allowed_origins: Vec::new(),
            site_url: None,
            reply_to: None,
            rate_limit_plan: DEFAULT_PLAN.into(),
            version: 1,
        }
    }

    /// The date at `now` in the tenant's time zone (`Tenant::today` gives the tenant's now).
    pub fn today_at(&self, now: Timestamp) -> time::Date {
        let zone = jiff::tz::TimeZone::get(&self.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
        let at = jiff::Timestamp::from_second(now.get().unix_timestamp())
            .unwrap_or_else(|_| jiff::Timestamp::now());
        let date = zone.to_datetime(at).date();
        time::Month::try_from(date.month() as u8)
            .ok()
            .and_then(|month| {
                time::Date::from_calendar_date(i32::from(date.year()), month, date.day() as u8).ok()
            })
            .unwrap_or_else(|| now.get().date())
    }
}

/// A requested change; `None` leaves a setting as it is.
#[derive(Debug, Default)]
pub struct SettingsChange {
    pub display_name: Option<String>,
    pub currency: Option<String>,
    pub timezone: Option<String>,
    pub booking_mode: Option<String>,
    pub payment_collection: Option<String>,
    pub hold_minutes: Option<u32>,
    pub request_expiry_hours: Option<u32>,
    pub platform_fee_bps: Option<u32>,
    pub tax_bps: Option<u32>,
    pub host_fee_bps: Option<u32>,
    pub cancellation_policy: Option<String>,
    pub self_service_hosts: Option<bool>,
    pub require_verified_email: Option<bool>,
    pub review_window_days: Option<u32>,
    pub review_publication: Option<String>,
    pub max_unpaid_bookings: Option<u32>,
    pub max_stay_nights: Option<u32>,
    pub booking_window_days: Option<u32>,
    pub allowed_origins: Option<Vec<String>>,
    /// An empty string removes it.
    pub site_url: Option<String>,
    /// An empty string removes it.
    pub reply_to: Option<String>,
    pub rate_limit_plan: Option<String>,
}

/// Origins a tenant may allow.
pub const MAX_ALLOWED_ORIGINS: usize = 20;

/// An origin as browsers send it: `http(s)://host[:port]`, no path, lower case.
fn parse_origin(value: &str) -> Option<String> {
    let url = reqwest::Url::parse(value.trim()).ok()?;
    let origin = url.origin().ascii_serialization();
    let exact = origin == value.trim().trim_end_matches('/').to_ascii_lowercase();
    (matches!(url.scheme(), "http" | "https") && exact).then_some(origin)
}

fn within(
    field: &str,
    value: u32,
    (min, max): (u32, u32),
    errors: &mut Vec<FieldError>,
) -> Option<u32> {
    if (min..=max).contains(&value) {
        Some(value)
    } else {
        errors.push(FieldError::new(
            field,
            format!("must be between {min} and {max}"),
        ));
        None
    }
}

fn one_of<T: Copy>(
    field: &str,
    value: &str,
    parse: fn(&str) -> Option<T>,
    all: &[T],
    name: fn(T) -> &'static str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let parsed = parse(value);
    if parsed.is_none() {
        let allowed: Vec<&str> = all.iter().map(|item| name(*item)).collect();
        errors.push(FieldError::new(
            field,
            format!("must be one of: {}", allowed.join(", ")),
        ));
    }
    parsed
}

impl SettingsChange {
    /// Applies the change to `current`, checking every field; `plans` are the configured
    /// rate-limit plans.
    pub fn apply(
        self,
        current: &TenantSettings,
        plans: &[&str],
    ) -> Result<TenantSettings, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut next = current.clone();
        if let Some(name) = self.display_name {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
                errors.push(FieldError::new(
                    "display_name",
                    "must be 1 to 100 characters without control characters",
                ));
            } else {
                next.display_name = name.to_owned();
            }
        }
        if let Some(currency) = self.currency {
            if CURRENCIES.contains(&currency.as_str()) {
                next.currency = currency;
            } else {
                errors.push(FieldError::new(
                    "currency",
                    "must be an ISO 4217 code such as EUR or USD",
                ));
            }
        }
        if let Some(timezone) = self.timezone {
            if jiff::tz::TimeZone::get(&timezone).is_ok() && !timezone.is_empty() {
                next.timezone = timezone;
            } else {
                errors.push(FieldError::new(
                    "timezone",
                    "must be an IANA time zone such as Europe/Paris",
                ));
            }
        }
        if let Some(mode) = self.booking_mode
            && let Some(mode) = one_of(
                "booking_mode",
                &mode,
                BookingMode::parse,
                BookingMode::ALL,
                BookingMode::as_str,
                &mut errors,
            )
        {
            next.booking_mode = mode;
        }
        if let Some(collection) = self.payment_collection
            && let Some(collection) = one_of(
                "payment_collection",
                &collection,
                PaymentCollection::parse,
                PaymentCollection::ALL,
                PaymentCollection::as_str,
                &mut errors,
            )
        {
            next.payment_collection = collection;
        }
        if let Some(policy) = self.cancellation_policy
            && let Some(policy) = one_of(
                "cancellation_policy",
                &policy,
                CancellationPolicy::parse,
                CancellationPolicy::ALL,
                CancellationPolicy::as_str,
                &mut errors,
            )
        {
            next.cancellation_policy = policy;
        }
        if let Some(publication) = self.review_publication
            && let Some(publication) = one_of(
                "review_publication",
                &publication,
                ReviewPublication::parse,
                ReviewPublication::ALL,
                ReviewPublication::as_str,
                &mut errors,
            )
        {
            next.review_publication = publication;
        }
        if let Some(url) = self.site_url {
            let url = url.trim().trim_end_matches('/');
            let parsed = reqwest::Url::parse(url).ok();
            if url.is_empty() {
                next.site_url = None;
            } else if url.len() <= 200
                && parsed.is_some_and(|parsed| {
                    matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some()
                })
            {
                next.site_url = Some(url.to_owned());
            } else {
                errors.push(FieldError::new(
                    "site_url",
                    "must be an http(s) URL like https://stays.example.com",
                ));
            }
        }
        if let Some(address) = self.reply_to {
            let address = address.trim();
            if address.is_empty() {
                next.reply_to = None;
            } else {
                match crate::users::model::Email::parse(address) {
                    Ok(email) => next.reply_to = Some(email.display),
                    Err(message) => errors.push(FieldError::new("reply_to", message)),
                }
            }
        }
        if let Some(origins) = self.allowed_origins {
            if origins.len() > MAX_ALLOWED_ORIGINS {
                errors.push(FieldError::new(
                    "allowed_origins",
                    format!("must list at most {MAX_ALLOWED_ORIGINS} origins"),
                ));
            } else {
                let mut parsed = Vec::new();
                for (index, origin) in origins.iter().enumerate() {
                    match parse_origin(origin) {
                        Some(origin) if !parsed.contains(&origin) => parsed.push(origin),
                        Some(_) => {}
                        None => errors.push(FieldError::new(
                            format!("allowed_origins[{index}]"),
                            "must be an origin like https://stays.example.com (no path)",
                        )),
                    }
                }
                next.allowed_origins = parsed;
            }
        }
        let limits = [
            (
                "max_unpaid_bookings",
                self.max_unpaid_bookings,
                bounds::MAX_UNPAID_BOOKINGS,
                &mut next.max_unpaid_bookings,
            ),
            (
                "max_stay_nights",
                self.max_stay_nights,
                bounds::MAX_STAY_NIGHTS,
                &mut next.max_stay_nights,
            ),
            (
                "booking_window_days",
                self.booking_window_days,
                bounds::BOOKING_WINDOW_DAYS,
                &mut next.booking_window_days,
            ),
        ];
        for (field, change, range, setting) in limits {
            if let Some(value) = change
                && let Some(value) = within(field, value, range, &mut errors)
            {
                *setting = value;
            }
        }
        if let Some(minutes) = self.hold_minutes
            && let Some(minutes) =
                within("hold_minutes", minutes, bounds::HOLD_MINUTES, &mut errors)
        {
            next.hold_minutes = minutes;
        }
        if let Some(hours) = self.request_expiry_hours
            && let Some(hours) = within(
                "request_expiry_hours",
                hours,
                bounds::REQUEST_EXPIRY_HOURS,
                &mut errors,
            )
        {
            next.request_expiry_hours = hours;
        }
        if let Some(bps) = self.platform_fee_bps
            && let Some(bps) = within("platform_fee_bps", bps, bounds::FEE_BPS, &mut errors)
        {
            next.platform_fee_bps = bps;
        }
        if let Some(bps) = self.tax_bps
            && let Some(bps) = within("tax_bps", bps, bounds::FEE_BPS, &mut errors)
        {
            next.tax_bps = bps;
        }
        if let Some(bps) = self.host_fee_bps
            && let Some(bps) = within("host_fee_bps", bps, bounds::FEE_BPS, &mut errors)
        {
            next.host_fee_bps = bps;
        }
        if let Some(days) = self.review_window_days
            && let Some(days) = within(
                "review_window_days",
                days,
                bounds::REVIEW_WINDOW_DAYS,
                &mut errors,
            )
        {
            next.review_window_days = days;
        }
        if let Some(hosts) = self.self_service_hosts {
            next.self_service_hosts = hosts;
        }
        if let Some(required) = self.require_verified_email {
            next.require_verified_email = required;
        }
        if let Some(plan) = self.rate_limit_plan {
            if plans.contains(&plan.as_str()) {
                next.rate_limit_plan = plan;
            } else {
                errors.push(FieldError::new(
                    "rate_limit_plan",
                    format!("must be one of the configured plans: {}", plans.join(", ")),
                ));
            }
        }
        if errors.is_empty() {
            Ok(next)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_checked_and_named() {
        let current = TenantSettings::defaults("Acme");
        let change = SettingsChange {
            display_name: Some(" ".into()),
            currency: Some("EURO".into()),
            timezone: Some("Mars/Olympus".into()),
            booking_mode: Some("auction".into()),
            payment_collection: Some("cash".into()),
            hold_minutes: Some(1),
            request_expiry_hours: Some(0),
            platform_fee_bps: Some(9000),
            tax_bps: Some(5001),
            host_fee_bps: Some(5001),
            cancellation_policy: Some("none".into()),
            self_service_hosts: Some(false),
            require_verified_email: Some(true),
            review_window_days: Some(0),
            review_publication: Some("whenever".into()),
            max_unpaid_bookings: Some(0),
            max_stay_nights: Some(367),
            booking_window_days: Some(0),
            allowed_origins: Some(vec!["https://ok.example".into(), "ftp://x/y".into()]),
            site_url: Some("javascript:alert(1)".into()),
            reply_to: Some("not an address".into()),
            rate_limit_plan: Some("gold".into()),
        };
        let mut fields: Vec<String> = change
            .apply(&current, &["default"])
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "allowed_origins[1]",
                "booking_mode",
                "booking_window_days",
                "cancellation_policy",
                "currency",
                "display_name",
                "hold_minutes",
                "host_fee_bps",
                "max_stay_nights",
                "max_unpaid_bookings",
                "payment_collection",
                "platform_fee_bps",
                "rate_limit_plan",
                "reply_to",
                "request_expiry_hours",
                "review_publication",
                "review_window_days",
                "site_url",
                "tax_bps",
                "timezone"
            ]
        );
    }

    #[test]
    fn a_valid_change_applies_only_what_it_names() {
        let current = TenantSettings::defaults("Acme");
        let next = SettingsChange {
            currency: Some("USD".into()),
            timezone: Some("America/New_York".into()),
            booking_mode: Some("request".into()),
            ..SettingsChange::default()
        }
        .apply(&current, &["default"])
        .unwrap();
        assert_eq!(next.currency, "USD");
        assert_eq!(next.booking_mode, BookingMode::Request);
        assert_eq!(next.hold_minutes, 15);
        assert_eq!(next.display_name, "Acme");
    }

    #[test]
    fn today_follows_the_time_zone() {
        let mut settings = TenantSettings::defaults("Acme");
        let now = Timestamp::now();
        let utc = settings.today_at(now);
        settings.timezone = "Pacific/Kiritimati".into();
        let ahead = settings.today_at(now);
        settings.timezone = "Pacific/Pago_Pago".into();
        let behind = settings.today_at(now);
        assert!(ahead >= utc && behind <= utc);
        assert!(
            ahead > behind,
            "UTC+14 and UTC-11 are never on the same date"
        );
    }
}
