//! Listings: what a host offers, how it is validated, and how it is searched.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    auth::secrets,
    availability::{
        StayRules,
        rules::{MAX_ADVANCE_NOTICE_HOURS, MAX_PREPARATION_NIGHTS, is_time_zone},
    },
    dates::Stay,
    db::Timestamp,
    error::FieldError,
    ids::{PropertyId, TenantId, UserId},
    photos::model::PropertyImage,
    tenants::{Tenant, settings::BookingMode},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyStatus {
    /// Only its owner and the tenant's admins see it.
    Draft,
    /// Public: in search, bookable.
    Listed,
    /// Taken off the market for a while; its owner and admins still see it.
    Unlisted,
}

impl PropertyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Listed => "listed",
            Self::Unlisted => "unlisted",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "draft" => Some(Self::Draft),
            "listed" => Some(Self::Listed),
            "unlisted" => Some(Self::Unlisted),
            _ => None,
        }
    }
}

/// Amenity codes a property can list, with their labels.
pub const AMENITIES: &[(&str, &str)] = &[
    ("air_conditioning", "Air conditioning"),
    ("balcony", "Balcony"),
    ("bbq_grill", "Barbecue grill"),
    ("beachfront", "Beachfront"),
    ("breakfast", "Breakfast"),
    ("crib", "Crib"),
    ("dryer", "Dryer"),
    ("elevator", "Elevator"),
    ("ev_charger", "EV charger"),
    ("fireplace", "Fireplace"),
    ("free_parking", "Free parking"),
    ("gym", "Gym"),
    ("heating", "Heating"),
    ("hot_tub", "Hot tub"),
    ("kitchen", "Kitchen"),
    ("pets_allowed", "Pets allowed"),
    ("pool", "Pool"),
    ("self_check_in", "Self check-in"),
    ("smoking_allowed", "Smoking allowed"),
    ("tv", "TV"),
    ("washer", "Washer"),
    ("wheelchair_accessible", "Wheelchair accessible"),
    ("wifi", "Wi-Fi"),
    ("workspace", "Dedicated workspace"),
];

pub fn is_amenity(code: &str) -> bool {
    AMENITIES.iter().any(|(known, _)| *known == code)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub address: String,
    pub city: String,
    /// ISO 3166-1 alpha-2, uppercase.
    pub country: String,
    pub lat: f64,
    pub lng: f64,
}

/// Everything an owner decides about a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub name: String,
    pub description: String,
    pub location: Location,
    pub nightly_price: i64,
    pub cleaning_fee: i64,
    /// Price of Friday and Saturday nights, when it differs.
    pub weekend_price: Option<i64>,
    pub weekly_discount_bps: u32,
    pub monthly_discount_bps: u32,
    pub max_guests: u32,
    pub bedrooms: Option<u32>,
    pub bathrooms: Option<u32>,
    pub min_nights: u32,
    pub max_nights: u32,
    pub amenities: Vec<String>,
    pub status: PropertyStatus,
    /// How bookings start; `None`: the tenant's booking mode.
    pub booking_mode: Option<BookingMode>,
    /// When the property can be booked.
    pub rules: StayRules,
    /// Guests the nightly price covers; `None`: every guest the property takes.
    pub included_guests: Option<u32>,
    /// Per night, per guest above `included_guests`, in minor units.
    pub extra_guest_fee: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Property {
    pub tenant_id: TenantId,
    pub id: PropertyId,
    pub owner_id: UserId,
    /// ISO 4217 code of every price of the listing: the tenant's currency.
    pub currency: String,
    pub listing: Listing,
    pub rating_sum: i64,
    pub review_count: i64,
    /// The secret of the iCalendar export feed.
    pub ical_token: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Property {
    /// The average of the published reviews, half-even to two decimals; `None` without any.
    pub fn average_rating(&self) -> Option<f64> {
        (self.review_count > 0)
            .then(|| rating_x100(self.rating_sum, self.review_count) as f64 / 100.0)
    }
}

/// A change to a property's published ratings: what to add to their sum and their count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RatingChange {
    pub sum: i64,
    pub count: i64,
}

/// The average of `count` ratings summing to `sum`, times 100 and rounded half to even (0
/// without ratings): what `sort=rating` orders by, and the average shown, in hundredths.
pub fn rating_x100(sum: i64, count: i64) -> i64 {
    if count <= 0 {
        return 0;
    }
    let scaled = sum * 100;
    let (quotient, remainder) = (scaled / count, scaled % count);
    match (2 * remainder).cmp(&count) {
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal if quotient % 2 == 1 => quotient + 1,
        _ => quotient,
    }
}

/// A new secret for a property's calendar export feed.
pub fn new_calendar_token() -> String {
    secrets::generate("cal_")
}

/// Where a property's calendar export feed is served; the token in it is the credential.
pub fn calendar_feed_path(tenant: &Tenant, token: &str) -> String {
    format!("/v1/t/{}/ical/{token}.ics", tenant.slug)
}

/// A property as a caller sees it: with its photos, and whether the caller manages it (and so
/// sees its private parts, such as the calendar export URL).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PropertyDetail {
    pub property: Property,
    pub photos: Vec<PropertyImage>,
    pub private: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    Newest,
    PriceAsc,
    PriceDesc,
    Rating,
}

#[derive(Debug, Default, Serialize)]
pub struct Search {
    pub city: Option<String>,
    pub country: Option<String>,
    /// Centre and radius in kilometres.
    pub near: Option<(f64, f64, f64)>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub guests: Option<u32>,
    pub amenities: Vec<String>,
    /// Only properties free every night of the stay whose stay limits fit.
    pub stay: Option<Stay>,
    /// Only the caller's own listings, in any status.
    pub mine: bool,
    pub sort: Option<Sort>,
    pub cursor: Option<String>,
    pub limit: u32,
}

/// Where the previous page ended, as the sort saw it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Cursor {
    pub sort: Sort,
    pub key: i64,
    pub id: Uuid,
}

impl Cursor {
    /// The position after `property` in `sort` order.
    pub fn after(sort: Sort, property: &Property) -> Self {
        let key = match sort {
            Sort::Newest => 0,
            Sort::PriceAsc | Sort::PriceDesc => property.listing.nightly_price,
            Sort::Rating => rating_x100(property.rating_sum, property.review_count),
        };
        Self {
            sort,
            key,
            id: property.id.0,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Page {
    pub properties: Vec<PropertyDetail>,
    pub next_cursor: Option<String>,
}

impl Listing {
    /// The largest price accepted, in minor units (10 million in the major unit).
    pub const MAX_AMOUNT: i64 = 1_000_000_000;
}

const MAX_AMOUNT: i64 = Listing::MAX_AMOUNT;
const MAX_DISCOUNT_BPS: u32 = 9000;

fn text(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("must be 1 to {max} characters long"),
        ));
    }
    trimmed.to_owned()
}

fn range(field: &str, value: u32, min: u32, max: u32, errors: &mut Vec<FieldError>) {
    if !(min..=max).contains(&value) {
        errors.push(FieldError::new(
            field,
            format!("must be between {min} and {max}"),
        ));
    }
}

impl Listing {
    /// Normalises and checks every field; errors name the request fields.
    pub fn validated(mut self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        self.name = text("name", &self.name, 120, &mut errors);
        self.description = text("description", &self.description, 5000, &mut errors);
        self.location.address = text("location.address", &self.location.address, 200, &mut errors);
        self.location.city = text("location.city", &self.location.city, 100, &mut errors);
        self.location.country = self.location.country.trim().to_uppercase();
        if self.location.country.len() != 2
            || !self
                .location
                .country
                .bytes()
                .all(|b| b.is_ascii_uppercase())
        {
            errors.push(FieldError::new(
                "location.country",
                "must be an ISO 3166-1 alpha-2 code such as FR",
            ));
        }
        if !(self.location.lat.is_finite() && (-90.0..=90.0).contains(&self.location.lat)) {
            errors.push(FieldError::new(
                "location.lat",
                "must be between -90 and 90",
            ));
        }
        if !(self.location.lng.is_finite() && (-180.0..=180.0).contains(&self.location.lng)) {
            errors.push(FieldError::new(
                "location.lng",
                "must be between -180 and 180",
            ));
        }
        for (field, amount, minimum) in [
            ("nightly_price.amount", Some(self.nightly_price), 1),
            ("cleaning_fee.amount", Some(self.cleaning_fee), 0),
            ("weekend_price.amount", self.weekend_price, 1),
            ("extra_guest_fee.amount", Some(self.extra_guest_fee), 0),
        ] {
            if let Some(amount) = amount
                && !(minimum..=MAX_AMOUNT).contains(&amount)
            {
                errors.push(FieldError::new(
                    field,
                    format!("must be between {minimum} and {MAX_AMOUNT} minor units"),
                ));
            }
        }
        range(
            "weekly_discount_bps",
            self.weekly_discount_bps,
            0,
            MAX_DISCOUNT_BPS,
            &mut errors,
        );
        range(
            "monthly_discount_bps",
            self.monthly_discount_bps,
            0,
            MAX_DISCOUNT_BPS,
            &mut errors,
        );
        range("max_guests", self.max_guests, 1, 50, &mut errors);
        if let Some(bedrooms) = self.bedrooms {
            range("bedrooms", bedrooms, 0, 50, &mut errors);
        }
        if let Some(bathrooms) = self.bathrooms {
            range("bathrooms", bathrooms, 0, 50, &mut errors);
        }
        range("min_nights", self.min_nights, 1, 365, &mut errors);
        range("max_nights", self.max_nights, 1, 730, &mut errors);
        if self.min_nights > self.max_nights {
            errors.push(FieldError::new("min_nights", "must not exceed max_nights"));
        }
        if let Some(included) = self.included_guests {
            range(
                "included_guests",
                included,
                1,
                self.max_guests.max(1),
                &mut errors,
            );
        }
        self.validate_rules(&mut errors);
        for (index, code) in self.amenities.iter().enumerate() {
            if !is_amenity(code) {
                errors.push(FieldError::new(
                    format!("amenities[{index}]"),
                    "is not an amenity code (see GET amenities)",
                ));
            }
        }
        self.amenities.sort();
        self.amenities.dedup();
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }

    fn validate_rules(&mut self, errors: &mut Vec<FieldError>) {
        let rules = &mut self.rules;
        if let Some(zone) = &rules.timezone {
            let zone = zone.trim().to_owned();
            if !is_time_zone(&zone) {
                errors.push(FieldError::new(
                    "timezone",
                    "must be an IANA time zone such as Europe/Paris",
                ));
            }
            rules.timezone = Some(zone);
        }
        range(
            "advance_notice_hours",
            rules.advance_notice_hours,
            0,
            MAX_ADVANCE_NOTICE_HOURS,
            errors,
        );
        range(
            "preparation_nights",
            rules.preparation_nights,
            0,
            MAX_PREPARATION_NIGHTS,
            errors,
        );
        if let Some(days) = rules.booking_window_days {
            range("booking_window_days", days, 1, 1095, errors);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_rating_is_rounded_half_to_even_in_hundredths() {
        assert_eq!(rating_x100(0, 0), 0);
        assert_eq!(rating_x100(5, 1), 500);
        // 14 / 3 = 4.666...: up; 13 / 3 = 4.333...: down.
        assert_eq!(rating_x100(14, 3), 467);
        assert_eq!(rating_x100(13, 3), 433);
        // Exactly half a hundredth: to the even neighbour. 401/200 = 2.005, 403/200 = 2.015.
        assert_eq!(rating_x100(401, 200), 200);
        assert_eq!(rating_x100(403, 200), 202);
    }

    pub fn listing() -> Listing {
        Listing {
            name: "Loft".into(),
            description: "Bright loft".into(),
            location: Location {
                address: "1 Rue de la Paix".into(),
                city: "Paris".into(),
                country: "fr".into(),
                lat: 48.86,
                lng: 2.33,
            },
            nightly_price: 12_500,
            cleaning_fee: 3_000,
            weekend_price: None,
            weekly_discount_bps: 1000,
            monthly_discount_bps: 2000,
            max_guests: 4,
            bedrooms: Some(2),
            bathrooms: Some(1),
            min_nights: 2,
            max_nights: 30,
            amenities: vec!["wifi".into(), "kitchen".into(), "wifi".into()],
            status: PropertyStatus::Draft,
            booking_mode: None,
            rules: StayRules::default(),
            included_guests: None,
            extra_guest_fee: 0,
        }
    }

    #[test]
    fn a_good_listing_is_normalised() {
        let listing = listing().validated().unwrap();
        assert_eq!(listing.location.country, "FR");
        assert_eq!(listing.amenities, ["kitchen", "wifi"]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut bad = listing();
        bad.name = " ".into();
        bad.location.lat = 91.0;
        bad.location.lng = f64::NAN;
        bad.location.country = "FRA".into();
        bad.nightly_price = 0;
        bad.weekend_price = Some(-5);
        bad.min_nights = 40;
        bad.max_nights = 30;
        bad.amenities = vec!["moat".into()];
        bad.included_guests = Some(5);
        bad.rules.timezone = Some("Mars/Olympus".into());
        bad.rules.preparation_nights = 31;
        let mut fields: Vec<String> = bad
            .validated()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "amenities[0]",
                "included_guests",
                "location.country",
                "location.lat",
                "location.lng",
                "min_nights",
                "name",
                "nightly_price.amount",
                "preparation_nights",
                "timezone",
                "weekend_price.amount"
            ]
        );
    }
}
