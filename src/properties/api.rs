//! `/v1/t/{tenant}/properties`: listings and their search; `/amenities`: the catalogue.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::MaybeUndefined,
};
use uuid::Uuid;

use super::{
    model::{
        Listing, Location, Page, Property, PropertyDetail, PropertyStatus, Search, Sort,
        calendar_feed_path,
    },
    service::{self, PriceCurrencies},
};
use crate::{
    app::AppState,
    availability::{StayRules, TimeOfDay, Weekdays},
    cache::{Rendering, Seen},
    dates::Stay,
    error::{ApiError, FieldError},
    error_statuses,
    http::{
        ApiDate, ApiResult, BodyExample, Caller, JsonAnswer, JsonBody, MoneyDto, NoStore, Public,
        cursor, tenancy,
    },
    ids::PropertyId,
    photos::api::ImageView,
    tenants::{Tenant, api::BookingModeDto, settings::BookingMode},
};

#[derive(Debug, Clone, Object)]
#[oai(rename = "Location")]
pub struct LocationDto {
    #[oai(validator(max_length = 200))]
    address: String,
    #[oai(validator(max_length = 100))]
    city: String,
    /// ISO 3166-1 alpha-2, e.g. `FR`.
    #[oai(validator(min_length = 2, max_length = 2))]
    country: String,
    #[oai(validator(minimum(value = "-90"), maximum(value = "90")))]
    lat: f64,
    #[oai(validator(minimum(value = "-180"), maximum(value = "180")))]
    lng: f64,
}

impl From<LocationDto> for Location {
    fn from(dto: LocationDto) -> Self {
        Self {
            address: dto.address,
            city: dto.city,
            country: dto.country,
            lat: dto.lat,
            lng: dto.lng,
        }
    }
}

#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "snake_case", rename = "PropertyStatus")]
pub enum StatusDto {
    /// Only the owner and tenant admins see it (the default for new listings).
    Draft,
    /// Public: in search and bookable.
    Listed,
    /// Off the market; the owner and admins still see it.
    Unlisted,
}

impl From<StatusDto> for PropertyStatus {
    fn from(dto: StatusDto) -> Self {
        match dto {
            StatusDto::Draft => Self::Draft,
            StatusDto::Listed => Self::Listed,
            StatusDto::Unlisted => Self::Unlisted,
        }
    }
}

impl From<PropertyStatus> for StatusDto {
    fn from(status: PropertyStatus) -> Self {
        match status {
            PropertyStatus::Draft => Self::Draft,
            PropertyStatus::Listed => Self::Listed,
            PropertyStatus::Unlisted => Self::Unlisted,
        }
    }
}

/// A day of the week.
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase", rename = "Weekday")]
pub enum WeekdayDto {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl WeekdayDto {
    const ALL: [WeekdayDto; 7] = [
        Self::Mon,
        Self::Tue,
        Self::Wed,
        Self::Thu,
        Self::Fri,
        Self::Sat,
        Self::Sun,
    ];
}

fn weekday_names(days: &[WeekdayDto]) -> Vec<String> {
    days.iter()
        .map(|day| format!("{day:?}").to_lowercase())
        .collect()
}

fn weekdays_view(days: Weekdays) -> Vec<WeekdayDto> {
    let names = days.names();
    WeekdayDto::ALL
        .into_iter()
        .filter(|day| names.contains(&format!("{day:?}").to_lowercase()))
        .collect()
}

/// The stay rules and guest pricing of a request, parsed: `None` where the request left a
/// field out.
#[derive(Default)]
struct RuleFields {
    check_in_weekdays: Option<Weekdays>,
    check_out_weekdays: Option<Weekdays>,
    check_in_time: Option<TimeOfDay>,
    check_out_time: Option<TimeOfDay>,
}

impl RuleFields {
    /// Parses the fields whose values the schema cannot check (day sets, times of day).
    fn parse(
        (check_in_weekdays, check_out_weekdays): (Option<&[WeekdayDto]>, Option<&[WeekdayDto]>),
        (check_in_time, check_out_time): (Option<&str>, Option<&str>),
    ) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let mut days = |field: &str, value: Option<&[WeekdayDto]>| {
            value.and_then(|value| match Weekdays::parse(&weekday_names(value)) {
                Ok(days) => Some(days),
                Err(_) => {
                    errors.push(FieldError::new(field, "must name at least one day"));
                    None
                }
            })
        };
        let check_in_weekdays = days("check_in_weekdays", check_in_weekdays);
        let check_out_weekdays = days("check_out_weekdays", check_out_weekdays);
        let mut time = |field: &str, value: Option<&str>| {
            value.and_then(|value| {
                let parsed = TimeOfDay::parse(value);
                if parsed.is_none() {
                    errors.push(FieldError::new(field, "must be a time like 15:00"));
                }
                parsed
            })
        };
        let check_in_time = time("check_in_time", check_in_time);
        let check_out_time = time("check_out_time", check_out_time);
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(Self {
            check_in_weekdays,
            check_out_weekdays,
            check_in_time,
            check_out_time,
        })
    }

    fn apply(self, rules: &mut StayRules) {
        if let Some(days) = self.check_in_weekdays {
            rules.check_in_weekdays = days;
        }
        if let Some(days) = self.check_out_weekdays {
            rules.check_out_weekdays = days;
        }
        if let Some(time) = self.check_in_time {
            rules.check_in_time = time;
        }
        if let Some(time) = self.check_out_time {
            rules.check_out_time = time;
        }
    }
}

/// A new listing. `weekend_price` is the price of Friday and Saturday nights, when it differs;
/// `status` defaults to `draft`. `extra_guest_fee` is charged per night for each guest above
/// `included_guests`.
// Field docs on `$ref` fields would wrap them in `allOf`, which SDK generators mishandle.
#[derive(Debug, Object)]
pub struct NewProperty {
    #[oai(validator(max_length = 120))]
    name: String,
    #[oai(validator(max_length = 5000))]
    description: String,
    location: LocationDto,
    nightly_price: MoneyDto,
    cleaning_fee: Option<MoneyDto>,
    weekend_price: Option<MoneyDto>,
    /// Discount in basis points for stays of 7 nights or more.
    #[oai(validator(minimum(value = "0"), maximum(value = "9000")))]
    weekly_discount_bps: Option<u32>,
    /// Discount in basis points for stays of 28 nights or more.
    #[oai(validator(minimum(value = "0"), maximum(value = "9000")))]
    monthly_discount_bps: Option<u32>,
    #[oai(validator(minimum(value = "1"), maximum(value = "50")))]
    max_guests: u32,
    #[oai(validator(maximum(value = "50")))]
    bedrooms: Option<u32>,
    #[oai(validator(maximum(value = "50")))]
    bathrooms: Option<u32>,
    /// Default 1.
    #[oai(validator(minimum(value = "1"), maximum(value = "365")))]
    min_nights: Option<u32>,
    /// Default 365.
    #[oai(validator(minimum(value = "1"), maximum(value = "730")))]
    max_nights: Option<u32>,
    /// Codes from `GET amenities`.
    amenities: Option<Vec<String>>,
    status: Option<StatusDto>,
    /// IANA time zone of the property, e.g. `Europe/Paris` (default: the marketplace's).
    timezone: Option<String>,
    booking_mode: Option<BookingModeDto>,
    /// Hours needed between booking and the check-in time (default 0: today is bookable).
    #[oai(validator(maximum(value = "720")))]
    advance_notice_hours: Option<u32>,
    /// Nights kept free before and after every stay (default 0).
    #[oai(validator(maximum(value = "30")))]
    preparation_nights: Option<u32>,
    /// Days a stay may start on (default every day).
    check_in_weekdays: Option<Vec<WeekdayDto>>,
    /// Days a stay may end on (default every day).
    check_out_weekdays: Option<Vec<WeekdayDto>>,
    /// How many days after today a stay may start (default: the marketplace's
    /// `booking_window_days`).
    #[oai(validator(minimum(value = "1"), maximum(value = "1095")))]
    booking_window_days: Option<u32>,
    /// Local check-in time, `HH:MM` (default `15:00`).
    check_in_time: Option<String>,
    /// Local check-out time, `HH:MM` (default `11:00`).
    check_out_time: Option<String>,
    /// Guests the nightly price covers (default: every guest).
    #[oai(validator(minimum(value = "1"), maximum(value = "50")))]
    included_guests: Option<u32>,
    extra_guest_fee: Option<MoneyDto>,
}

impl BodyExample for NewProperty {
    fn example() -> serde_json::Value {
        serde_json::json!({
            "name": "Seaside loft",
            "description": "Two rooms above the harbour, five minutes from the beach.",
            "location": { "address": "12 Rua do Mar", "city": "Porto", "country": "PT", "lat": 41.1496, "lng": -8.611 },
            "nightly_price": { "amount": 12000, "currency": "EUR" },
            "cleaning_fee": { "amount": 3000, "currency": "EUR" },
            "weekend_price": { "amount": 14000, "currency": "EUR" },
            "weekly_discount_bps": 1000,
            "max_guests": 4,
            "bedrooms": 2,
            "bathrooms": 1,
            "min_nights": 2,
            "amenities": ["wifi", "kitchen"],
            "status": "listed"
        })
    }
}

/// Any subset of a listing's fields. `null` for `timezone`, `booking_mode`,
/// `booking_window_days` or `included_guests` returns to the default (the marketplace's
/// setting; every guest included).
#[derive(Debug, Object)]
pub struct PropertyUpdate {
    #[oai(validator(max_length = 120))]
    name: Option<String>,
    #[oai(validator(max_length = 5000))]
    description: Option<String>,
    location: Option<LocationDto>,
    nightly_price: Option<MoneyDto>,
    cleaning_fee: Option<MoneyDto>,
    weekend_price: Option<MoneyDto>,
    #[oai(validator(minimum(value = "0"), maximum(value = "9000")))]
    weekly_discount_bps: Option<u32>,
    #[oai(validator(minimum(value = "0"), maximum(value = "9000")))]
    monthly_discount_bps: Option<u32>,
    #[oai(validator(minimum(value = "1"), maximum(value = "50")))]
    max_guests: Option<u32>,
    #[oai(validator(maximum(value = "50")))]
    bedrooms: Option<u32>,
    #[oai(validator(maximum(value = "50")))]
    bathrooms: Option<u32>,
    #[oai(validator(minimum(value = "1"), maximum(value = "365")))]
    min_nights: Option<u32>,
    #[oai(validator(minimum(value = "1"), maximum(value = "730")))]
    max_nights: Option<u32>,
    amenities: Option<Vec<String>>,
    status: Option<StatusDto>,
    /// `null` returns to the marketplace's time zone.
    #[oai(nullable)]
    timezone: MaybeUndefined<String>,
    booking_mode: MaybeUndefined<BookingModeDto>,
    #[oai(validator(maximum(value = "720")))]
    advance_notice_hours: Option<u32>,
    #[oai(validator(maximum(value = "30")))]
    preparation_nights: Option<u32>,
    check_in_weekdays: Option<Vec<WeekdayDto>>,
    check_out_weekdays: Option<Vec<WeekdayDto>>,
    /// `null` returns to the marketplace's booking window.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "1095")))]
    booking_window_days: MaybeUndefined<u32>,
    check_in_time: Option<String>,
    check_out_time: Option<String>,
    /// `null`: every guest is included.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "50")))]
    included_guests: MaybeUndefined<u32>,
    extra_guest_fee: Option<MoneyDto>,
}

impl BodyExample for PropertyUpdate {
    fn example() -> serde_json::Value {
        serde_json::json!({ "nightly_price": { "amount": 13000, "currency": "EUR" }, "status": "listed" })
    }
}

/// A listing. `booking_mode` is absent while the marketplace's applies; `timezone`,
/// `booking_window_days` and `included_guests` are `null` while the default does.
#[derive(Debug, Object)]
#[oai(rename = "Property")]
pub struct PropertyView {
    id: Uuid,
    owner_id: Uuid,
    name: String,
    description: String,
    location: LocationDto,
    nightly_price: MoneyDto,
    cleaning_fee: MoneyDto,
    #[oai(skip_serializing_if_is_none)]
    weekend_price: Option<MoneyDto>,
    weekly_discount_bps: u32,
    monthly_discount_bps: u32,
    max_guests: u32,
    #[oai(nullable)]
    bedrooms: Option<u32>,
    #[oai(nullable)]
    bathrooms: Option<u32>,
    min_nights: u32,
    max_nights: u32,
    amenities: Vec<String>,
    status: StatusDto,
    /// IANA time zone; `null`: the marketplace's.
    #[oai(nullable)]
    timezone: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    booking_mode: Option<BookingModeDto>,
    advance_notice_hours: u32,
    preparation_nights: u32,
    check_in_weekdays: Vec<WeekdayDto>,
    check_out_weekdays: Vec<WeekdayDto>,
    /// `null`: the marketplace's booking window.
    #[oai(nullable)]
    booking_window_days: Option<u32>,
    check_in_time: String,
    check_out_time: String,
    /// `null`: every guest is included.
    #[oai(nullable)]
    included_guests: Option<u32>,
    extra_guest_fee: MoneyDto,
    /// 1 to 5; `null` until the first review.
    #[oai(nullable)]
    average_rating: Option<f64>,
    review_count: i64,
    /// The iCalendar feed of the property's unavailable nights, for other platforms; shown to
    /// its owner and tenant admins only.
    #[oai(nullable)]
    ical_export_url: Option<String>,
    /// Photos in display order.
    images: Vec<ImageView>,
    created_at: time::OffsetDateTime,
    updated_at: time::OffsetDateTime,
}

/// The shared answers as this API sends them (see `cache::Rendering`).
const DETAIL: Rendering<PropertyDetail> = Rendering {
    name: "rest-v1",
    render: |tenant, detail| JsonAnswer::encode(&PropertyView::new(tenant, detail)),
};
const PAGE: Rendering<Page> = Rendering {
    name: "rest-v1",
    render: |tenant, page| JsonAnswer::encode(&PropertyPage::new(tenant, page)),
};

impl PropertyView {
    /// The view of a property for a caller who manages it (`private`) or not.
    fn new(tenant: &Tenant, detail: PropertyDetail) -> Self {
        let ical_export_url = detail
            .property
            .ical_token
            .as_deref()
            .filter(|_| detail.private)
            .map(|token| calendar_feed_path(tenant, token));
        let images = detail
            .photos
            .iter()
            .map(|image| ImageView::new(tenant, image))
            .collect();
        Self {
            ical_export_url,
            images,
            ..Self::from(detail.property)
        }
    }
}

impl PropertyPage {
    fn new(tenant: &Tenant, page: Page) -> Self {
        Self {
            data: page
                .properties
                .into_iter()
                .map(|detail| PropertyView::new(tenant, detail))
                .collect(),
            next_cursor: page.next_cursor,
        }
    }
}

impl From<Property> for PropertyView {
    fn from(property: Property) -> Self {
        let average_rating = property.average_rating();
        let currency = property.currency;
        let listing = property.listing;
        Self {
            id: property.id.0,
            owner_id: property.owner_id.0,
            name: listing.name,
            description: listing.description,
            location: LocationDto {
                address: listing.location.address,
                city: listing.location.city,
                country: listing.location.country,
                lat: listing.location.lat,
                lng: listing.location.lng,
            },
            nightly_price: MoneyDto::new(listing.nightly_price, &currency),
            cleaning_fee: MoneyDto::new(listing.cleaning_fee, &currency),
            weekend_price: listing
                .weekend_price
                .map(|amount| MoneyDto::new(amount, &currency)),
            weekly_discount_bps: listing.weekly_discount_bps,
            monthly_discount_bps: listing.monthly_discount_bps,
            max_guests: listing.max_guests,
            bedrooms: listing.bedrooms,
            bathrooms: listing.bathrooms,
            min_nights: listing.min_nights,
            max_nights: listing.max_nights,
            amenities: listing.amenities,
            status: listing.status.into(),
            timezone: listing.rules.timezone,
            booking_mode: listing.booking_mode.map(BookingModeDto::from),
            advance_notice_hours: listing.rules.advance_notice_hours,
            preparation_nights: listing.rules.preparation_nights,
            check_in_weekdays: weekdays_view(listing.rules.check_in_weekdays),
            check_out_weekdays: weekdays_view(listing.rules.check_out_weekdays),
            booking_window_days: listing.rules.booking_window_days,
            check_in_time: listing.rules.check_in_time.to_string(),
            check_out_time: listing.rules.check_out_time.to_string(),
            included_guests: listing.included_guests,
            extra_guest_fee: MoneyDto::new(listing.extra_guest_fee, &currency),
            average_rating,
            review_count: property.review_count,
            ical_export_url: None,
            images: Vec::new(),
            created_at: property.created_at.get(),
            updated_at: property.updated_at.get(),
        }
    }
}

#[derive(Debug, Object)]
pub struct PropertyPage {
    data: Vec<PropertyView>,
    /// Pass as `cursor` (with the same filters and sort) for the next page; `null` at the end.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(Debug, Object)]
pub struct Amenity {
    code: String,
    label: String,
}

#[derive(Debug, Object)]
pub struct AmenityList {
    data: Vec<Amenity>,
    /// Always `null`: the whole catalogue is in `data`.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "PropertySort")]
pub enum SortDto {
    Newest,
    PriceAsc,
    PriceDesc,
    Rating,
}

#[derive(ApiResponse)]
pub enum Created {
    #[oai(status = 201)]
    Created(Json<PropertyView>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    #[oai(status = 204)]
    NoContent,
}

error_statuses!(ReadErrors => [401, 403, 404, 422, 429]);
error_statuses!(WriteErrors => [400, 401, 403, 404, 413, 415, 422, 429]);
error_statuses!(DeleteErrors => [401, 403, 404, 409, 429]);

fn price(
    field: &'static str,
    money: Option<&MoneyDto>,
    currencies: &mut PriceCurrencies,
) -> Option<i64> {
    money.map(|money| {
        currencies.push((field, money.currency.clone()));
        money.amount
    })
}

fn parse_near(
    near: Option<&str>,
    radius_km: Option<f64>,
) -> Result<Option<(f64, f64, f64)>, ApiError> {
    let Some(near) = near else {
        return match radius_km {
            Some(_) => Err(ApiError::validation("radius_km", "needs `near`")),
            None => Ok(None),
        };
    };
    let point = near
        .split_once(',')
        .and_then(|(lat, lng)| {
            Some((
                lat.trim().parse::<f64>().ok()?,
                lng.trim().parse::<f64>().ok()?,
            ))
        })
        .filter(|(lat, lng)| (-90.0..=90.0).contains(lat) && (-180.0..=180.0).contains(lng));
    let Some((lat, lng)) = point else {
        return Err(ApiError::validation(
            "near",
            "must be `lat,lng`, e.g. 48.85,2.35",
        ));
    };
    let radius = radius_km.unwrap_or(10.0);
    if !(radius.is_finite() && radius > 0.0 && radius <= 500.0) {
        return Err(ApiError::validation(
            "radius_km",
            "must be more than 0 and at most 500",
        ));
    }
    Ok(Some((lat, lng, radius)))
}

pub struct PropertiesApi;

#[OpenApi(tag = "crate::http::Tag::Properties")]
impl PropertiesApi {
    /// The amenity catalogue: the codes listings and searches use.
    #[oai(
        path = "/t/:tenant/amenities",
        method = "get",
        operation_id = "list_amenities"
    )]
    async fn amenities(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
    ) -> ApiResult<Json<AmenityList>, ReadErrors> {
        let amenities = service::amenities(&state, &tenant.0, &caller.0).await?;
        Ok(Json(AmenityList {
            data: amenities
                .iter()
                .map(|(code, label)| Amenity {
                    code: (*code).to_owned(),
                    label: (*label).to_owned(),
                })
                .collect(),
            next_cursor: None,
        }))
    }

    /// List a property (hosts and tenant admins).
    ///
    /// Prices must be in the marketplace's currency (422 naming the field otherwise).
    #[oai(
        path = "/t/:tenant/properties",
        method = "post",
        operation_id = "create_property"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        body: JsonBody<NewProperty>,
    ) -> ApiResult<NoStore<Created>, WriteErrors> {
        let body = body.0;
        let mut currencies = PriceCurrencies::new();
        let parsed = RuleFields::parse(
            (
                body.check_in_weekdays.as_deref(),
                body.check_out_weekdays.as_deref(),
            ),
            (
                body.check_in_time.as_deref(),
                body.check_out_time.as_deref(),
            ),
        )?;
        let mut rules = StayRules {
            timezone: body.timezone,
            advance_notice_hours: body.advance_notice_hours.unwrap_or(0),
            preparation_nights: body.preparation_nights.unwrap_or(0),
            booking_window_days: body.booking_window_days,
            ..StayRules::default()
        };
        parsed.apply(&mut rules);
        let listing = Listing {
            nightly_price: price("nightly_price", Some(&body.nightly_price), &mut currencies)
                .unwrap_or_default(),
            cleaning_fee: price("cleaning_fee", body.cleaning_fee.as_ref(), &mut currencies)
                .unwrap_or(0),
            weekend_price: price(
                "weekend_price",
                body.weekend_price.as_ref(),
                &mut currencies,
            ),
            name: body.name,
            description: body.description,
            location: body.location.into(),
            weekly_discount_bps: body.weekly_discount_bps.unwrap_or(0),
            monthly_discount_bps: body.monthly_discount_bps.unwrap_or(0),
            max_guests: body.max_guests,
            bedrooms: body.bedrooms,
            bathrooms: body.bathrooms,
            min_nights: body.min_nights.unwrap_or(1),
            max_nights: body.max_nights.unwrap_or(365),
            amenities: body.amenities.unwrap_or_default(),
            status: body
                .status
                .map_or(PropertyStatus::Draft, PropertyStatus::from),
            booking_mode: body.booking_mode.map(BookingMode::from),
            rules,
            included_guests: body.included_guests,
            extra_guest_fee: price(
                "extra_guest_fee",
                body.extra_guest_fee.as_ref(),
                &mut currencies,
            )
            .unwrap_or(0),
        };
        let property = service::create(&state, &tenant.0, &caller.0, listing, currencies).await?;
        let detail = PropertyDetail {
            property,
            photos: Vec::new(),
            private: true,
        };
        Ok(NoStore(Created::Created(Json(PropertyView::new(
            &tenant.0, detail,
        )))))
    }

    /// Search listed properties, or your own (`owner=me`) in any status.
    ///
    /// Filters combine; `amenities` requires all of the given codes. Pages are keyset-based:
    /// rows added or changed while paging neither repeat nor go missing.
    #[oai(
        path = "/t/:tenant/properties",
        method = "get",
        operation_id = "list_properties"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn search(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        /// City name, case-insensitive.
        city: Query<Option<String>>,
        /// ISO 3166-1 alpha-2 country code.
        country: Query<Option<String>>,
        /// `lat,lng` centre of a radius search.
        near: Query<Option<String>>,
        /// Radius around `near` in kilometres (default 10, at most 500).
        radius_km: Query<Option<f64>>,
        /// Lowest nightly price, in minor units of the marketplace's currency.
        min_price: Query<Option<i64>>,
        /// Highest nightly price, in minor units.
        max_price: Query<Option<i64>>,
        /// Party size the property must take.
        guests: Query<Option<u32>>,
        /// Comma-separated amenity codes, all required.
        amenities: Query<Option<String>>,
        /// With `check_out`: only properties free for every night of the stay (`YYYY-MM-DD`)
        /// whose minimum and maximum nights allow it.
        check_in: Query<Option<ApiDate>>,
        /// Day of departure (exclusive).
        check_out: Query<Option<ApiDate>>,
        /// `me`: only my listings, in any status.
        owner: Query<Option<String>>,
        sort: Query<Option<SortDto>>,
        /// Page size, 1 to 100 (default 20).
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<NoStore<JsonAnswer<PropertyPage>>, ReadErrors> {
        let mine = match owner.0.as_deref() {
            None => false,
            Some("me") => true,
            Some(_) => return Err(ApiError::validation("owner", "must be `me`").into()),
        };
        let stay = match (check_in.0.as_deref(), check_out.0.as_deref()) {
            (None, None) => None,
            (Some(check_in), Some(check_out)) => Some(Stay::parse(check_in, check_out)?),
            (None, Some(_)) => {
                return Err(ApiError::validation("check_in", "is required with check_out").into());
            }
            (Some(_), None) => {
                return Err(ApiError::validation("check_out", "is required with check_in").into());
            }
        };
        let search = Search {
            stay,
            city: city.0,
            country: country.0,
            near: parse_near(near.0.as_deref(), radius_km.0)?,
            min_price: min_price.0,
            max_price: max_price.0,
            guests: guests.0,
            amenities: amenities
                .0
                .map(|list| {
                    list.split(',')
                        .map(|code| code.trim().to_owned())
                        .filter(|code| !code.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            mine,
            sort: sort.0.map(|sort| match sort {
                SortDto::Newest => Sort::Newest,
                SortDto::PriceAsc => Sort::PriceAsc,
                SortDto::PriceDesc => Sort::PriceDesc,
                SortDto::Rating => Sort::Rating,
            }),
            cursor: cursor.0,
            limit: cursor::page_limit(limit.0)?,
        };
        let page = service::search(&state, &tenant.0, &caller.0, search, &PAGE).await?;
        Ok(NoStore(match page {
            Seen::Value(page) => JsonAnswer::Value(PropertyPage::new(&tenant.0, page)),
            Seen::Rendered(body) => JsonAnswer::Encoded(body),
        }))
    }

    /// Get a property.
    ///
    /// Drafts and unlisted ones are visible to their owner and tenant admins only (404 for everyone
    /// else).
    #[oai(
        path = "/t/:tenant/properties/:id",
        method = "get",
        operation_id = "get_property"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        id: Path<Uuid>,
    ) -> ApiResult<NoStore<JsonAnswer<PropertyView>>, ReadErrors> {
        let detail =
            service::detail(&state, &tenant.0, &caller.0, PropertyId(id.0), &DETAIL).await?;
        Ok(NoStore(match detail {
            Seen::Value(detail) => JsonAnswer::Value(PropertyView::new(&tenant.0, detail)),
            Seen::Rendered(body) => JsonAnswer::Encoded(body),
        }))
    }

    /// Change a property (its owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id",
        method = "patch",
        operation_id = "update_property"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<PropertyUpdate>,
    ) -> ApiResult<NoStore<Json<PropertyView>>, WriteErrors> {
        let body = body.0;
        let mut currencies = PriceCurrencies::new();
        let nightly_price = price(
            "nightly_price",
            body.nightly_price.as_ref(),
            &mut currencies,
        );
        let cleaning_fee = price("cleaning_fee", body.cleaning_fee.as_ref(), &mut currencies);
        let weekend_price = price(
            "weekend_price",
            body.weekend_price.as_ref(),
            &mut currencies,
        );
        let extra_guest_fee = price(
            "extra_guest_fee",
            body.extra_guest_fee.as_ref(),
            &mut currencies,
        );
        let parsed = RuleFields::parse(
            (
                body.check_in_weekdays.as_deref(),
                body.check_out_weekdays.as_deref(),
            ),
            (
                body.check_in_time.as_deref(),
                body.check_out_time.as_deref(),
            ),
        )?;
        let edit = move |mut listing: Listing| {
            parsed.apply(&mut listing.rules);
            if let Some(value) = extra_guest_fee {
                listing.extra_guest_fee = value;
            }
            if let Some(hours) = body.advance_notice_hours {
                listing.rules.advance_notice_hours = hours;
            }
            if let Some(nights) = body.preparation_nights {
                listing.rules.preparation_nights = nights;
            }
            // A `null` returns to the marketplace's setting; an absent field keeps the value.
            body.timezone.update_to(&mut listing.rules.timezone);
            body.booking_mode
                .map_value(BookingMode::from)
                .update_to(&mut listing.booking_mode);
            body.booking_window_days
                .update_to(&mut listing.rules.booking_window_days);
            body.included_guests.update_to(&mut listing.included_guests);
            macro_rules! set {
                ($($field:ident),*) => { $(if let Some(value) = body.$field { listing.$field = value.into(); })* };
            }
            set!(
                name,
                description,
                location,
                weekly_discount_bps,
                monthly_discount_bps,
                max_guests,
                min_nights,
                max_nights,
                amenities,
                status
            );
            if let Some(value) = nightly_price {
                listing.nightly_price = value;
            }
            if let Some(value) = cleaning_fee {
                listing.cleaning_fee = value;
            }
            if weekend_price.is_some() {
                listing.weekend_price = weekend_price;
            }
            if body.bedrooms.is_some() {
                listing.bedrooms = body.bedrooms;
            }
            if body.bathrooms.is_some() {
                listing.bathrooms = body.bathrooms;
            }
            listing
        };
        let property = service::update(
            &state,
            &tenant.0,
            &caller.0,
            PropertyId(id.0),
            edit,
            currencies,
        )
        .await?;
        Ok(NoStore(Json(PropertyView::new(&tenant.0, property))))
    }

    /// Remove a property (its owner, or tenant admins).
    ///
    /// Its bookings keep their history.
    #[oai(
        path = "/t/:tenant/properties/:id",
        method = "delete",
        operation_id = "delete_property"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Deleted, DeleteErrors> {
        service::delete(&state, &tenant.0, &caller.0, PropertyId(id.0)).await?;
        Ok(Deleted::NoContent)
    }
}
