//! `/v1/t/{tenant}/properties`: listings and their search; `/amenities`: the catalogue.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
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
    dates::Stay,
    error::ApiError,
    error_statuses,
    http::{
        ApiDate, ApiResult, BodyExample, Caller, JsonBody, MoneyDto, NoStore, Public, cursor,
        tenancy,
    },
    ids::PropertyId,
    photos::api::ImageView,
    tenants::Tenant,
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

/// A new listing. `weekend_price` is the price of Friday and Saturday nights, when it differs;
/// `status` defaults to `draft`.
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

/// Any subset of a listing's fields.
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
}

impl BodyExample for PropertyUpdate {
    fn example() -> serde_json::Value {
        serde_json::json!({ "nightly_price": { "amount": 13000, "currency": "EUR" }, "status": "listed" })
    }
}

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
    ) -> ApiResult<NoStore<Json<PropertyPage>>, ReadErrors> {
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
        let page = service::search(&state, &tenant.0, &caller.0, search).await?;
        Ok(NoStore(Json(PropertyPage::new(&tenant.0, page))))
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
    ) -> ApiResult<NoStore<Json<PropertyView>>, ReadErrors> {
        let detail = service::detail(&state, &tenant.0, &caller.0, PropertyId(id.0)).await?;
        Ok(NoStore(Json(PropertyView::new(&tenant.0, detail))))
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
        let edit = move |mut listing: Listing| {
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
