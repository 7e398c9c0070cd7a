//! `/v1/t/{tenant}/properties`: listings and their search; `/amenities`: the catalogue.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Multipart, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::multipart::Upload,
};
use uuid::Uuid;

use super::{
    calendar::{self, Block, NightStatus},
    ical,
    images::{self, ImageStatus, PropertyImage, Rendition},
    imports::{self, CalendarImport},
    model::{AMENITIES, Listing, Location, Property, PropertyStatus},
    service::{self, PriceCurrencies, Search, Sort},
};
use crate::{
    app::AppState,
    authz::PropertyAction,
    cache::{JsonBytes, ReadCache},
    error::ApiError,
    error_statuses,
    http::{ApiResult, Caller, JsonBody, tenancy},
    ids::PropertyId,
    tenants::Tenant,
    users::api::page_limit,
};

/// An amount of money: `amount` in minor units (cents), never a float.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Money")]
pub struct MoneyDto {
    /// Minor units of the currency, e.g. 12500 for EUR 125.00.
    amount: i64,
    /// ISO 4217 code; must be the marketplace's currency.
    #[oai(validator(min_length = 3, max_length = 3))]
    currency: String,
}

impl MoneyDto {
    pub fn new(amount: i64, currency: &str) -> Self {
        Self {
            amount,
            currency: currency.to_owned(),
        }
    }
}

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

#[derive(Debug, Object)]
pub struct NewProperty {
    #[oai(validator(max_length = 120))]
    name: String,
    #[oai(validator(max_length = 5000))]
    description: String,
    location: LocationDto,
    nightly_price: MoneyDto,
    cleaning_fee: Option<MoneyDto>,
    /// Price of Friday and Saturday nights, when it differs.
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
    /// Default `draft`.
    status: Option<StatusDto>,
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
    weekend_price: Option<MoneyDto>,
    weekly_discount_bps: u32,
    monthly_discount_bps: u32,
    max_guests: u32,
    bedrooms: Option<u32>,
    bathrooms: Option<u32>,
    min_nights: u32,
    max_nights: u32,
    amenities: Vec<String>,
    status: StatusDto,
    /// 1 to 5; `null` until the first review.
    average_rating: Option<f64>,
    review_count: i64,
    /// The iCalendar feed of the property's unavailable nights, for other platforms; shown to
    /// its owner and tenant admins only.
    ical_export_url: Option<String>,
    /// Photos in display order.
    images: Vec<ImageView>,
    created_at: time::OffsetDateTime,
    updated_at: time::OffsetDateTime,
}

impl PropertyView {
    /// The view of `property` for a caller who manages it (`private`) or not.
    fn new(tenant: &Tenant, property: Property, private: bool, images: Vec<PropertyImage>) -> Self {
        let ical_export_url = property
            .ical_token
            .as_deref()
            .filter(|_| private)
            .map(|token| ical::export_url(tenant, token));
        let images = images
            .iter()
            .map(|image| ImageView::new(tenant, image))
            .collect();
        Self {
            ical_export_url,
            images,
            ..Self::from(property)
        }
    }
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "ImageStatus")]
pub enum ImageStatusDto {
    /// The renditions are being made.
    Processing,
    Ready,
    /// The file could not be decoded as an image.
    Failed,
}

#[derive(Debug, Object)]
#[oai(rename = "PropertyImage")]
pub struct ImageView {
    id: Uuid,
    position: i64,
    status: ImageStatusDto,
    /// At most 400 pixels on its longest side; set once ready.
    thumbnail_url: Option<String>,
    /// At most 1600 pixels on its longest side; set once ready.
    large_url: Option<String>,
}

impl ImageView {
    fn new(tenant: &Tenant, image: &PropertyImage) -> Self {
        let ready = image.status() == ImageStatus::Ready;
        let url = |size: &str| {
            ready.then(|| {
                format!(
                    "/v1/t/{}/properties/{}/images/{}/{size}",
                    tenant.slug, image.property_id, image.id
                )
            })
        };
        Self {
            id: image.id,
            position: image.position,
            status: match image.status() {
                ImageStatus::Processing => ImageStatusDto::Processing,
                ImageStatus::Ready => ImageStatusDto::Ready,
                ImageStatus::Failed => ImageStatusDto::Failed,
            },
            thumbnail_url: url("thumbnail"),
            large_url: url("large"),
        }
    }
}

#[derive(Debug, Multipart)]
pub struct ImageUpload {
    /// A JPEG, PNG or WebP photo of at most 10 MiB (recognised by content).
    file: Upload,
}

#[derive(Debug, Object)]
pub struct ImageOrder {
    /// Every image of the property, in the new order.
    image_ids: Vec<Uuid>,
}

#[derive(Debug, Object)]
pub struct ImageList {
    data: Vec<ImageView>,
    /// Always `null`: every image is in `data`.
    next_cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "ImageSize")]
pub enum SizeDto {
    Thumbnail,
    Large,
}

#[derive(ApiResponse)]
pub enum ImageAccepted {
    /// Stored; the renditions follow shortly (`status` becomes `ready`).
    #[oai(status = 202)]
    Accepted(Json<ImageView>),
}

/// A JPEG rendition.
pub struct Jpeg(bytes::Bytes);

impl poem::IntoResponse for Jpeg {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type("image/jpeg")
            .header("cache-control", "public, max-age=86400, immutable")
            .body(self.0)
    }
}

impl ApiResponse for Jpeg {
    fn meta() -> poem_openapi::registry::MetaResponses {
        use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses};
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The rendition",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "image/jpeg",
                    schema: <poem_openapi::payload::Binary<Vec<u8>> as poem_openapi::payload::Payload>::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut poem_openapi::registry::Registry) {}
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
error_statuses!(WriteConflictErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);
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

#[derive(Debug, Object)]
pub struct NewBlock {
    /// First blocked night, `YYYY-MM-DD`.
    start: String,
    /// The day after the last blocked night (exclusive).
    end: String,
    /// A note for the host, e.g. "renovation".
    #[oai(validator(max_length = 200))]
    reason: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename = "BlockedRange")]
pub struct BlockView {
    id: Uuid,
    start: String,
    /// Exclusive.
    end: String,
    reason: Option<String>,
}

impl From<Block> for BlockView {
    fn from(block: Block) -> Self {
        Self {
            id: block.id,
            start: calendar::format_date(block.start),
            end: calendar::format_date(block.end),
            reason: block.reason,
        }
    }
}

#[derive(Debug, Object)]
pub struct BlockList {
    /// Blocks from today on.
    data: Vec<BlockView>,
    /// Always `null`: every upcoming block is in `data`.
    next_cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "NightStatus")]
pub enum NightStatusDto {
    Available,
    Booked,
    Blocked,
}

#[derive(Debug, Object)]
pub struct Night {
    date: String,
    status: NightStatusDto,
}

#[derive(Debug, Object)]
pub struct Availability {
    property_id: Uuid,
    from: String,
    /// Exclusive.
    to: String,
    nights: Vec<Night>,
}

#[derive(Debug, Object)]
pub struct NewCalendarImport {
    /// The other platform's iCalendar export URL (http or https).
    #[oai(validator(max_length = 2000))]
    url: String,
}

#[derive(Debug, Object)]
#[oai(rename = "CalendarImport")]
pub struct CalendarImportView {
    id: Uuid,
    url: String,
    /// When the calendar was last fetched and applied; `null` until the first success.
    last_synced_at: Option<time::OffsetDateTime>,
    /// Why the last fetch failed, if it did.
    last_error: Option<String>,
    created_at: time::OffsetDateTime,
}

impl From<CalendarImport> for CalendarImportView {
    fn from(import: CalendarImport) -> Self {
        Self {
            id: import.id,
            url: import.url,
            last_synced_at: import.last_synced_at.map(|at| at.get()),
            last_error: import.last_error,
            created_at: import.created_at.get(),
        }
    }
}

#[derive(Debug, Object)]
pub struct CalendarImportList {
    data: Vec<CalendarImportView>,
    /// Always `null`: every import is in `data`.
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum ImportCreated {
    /// Added; the first fetch follows shortly, then every 15 minutes.
    #[oai(status = 201)]
    Created(Json<CalendarImportView>),
}

#[derive(Debug, Object)]
pub struct CalendarExport {
    /// The new feed URL; the previous one no longer works.
    ical_export_url: String,
}

/// An iCalendar document.
pub struct Calendar(String);

impl poem::IntoResponse for Calendar {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type("text/calendar; charset=utf-8")
            .header("cache-control", "private, max-age=300")
            .body(self.0)
    }
}

impl ApiResponse for Calendar {
    fn meta() -> poem_openapi::registry::MetaResponses {
        use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses};
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The feed (RFC 5545): one all-day event per unavailable range",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "text/calendar",
                    schema: <poem_openapi::payload::PlainText<String> as poem_openapi::payload::Payload>::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut poem_openapi::registry::Registry) {}
}

#[derive(ApiResponse)]
pub enum BlockCreated {
    /// The block as stored, merged with the blocks it overlaps or touches.
    #[oai(status = 201)]
    Created(Json<BlockView>),
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
        caller: Caller,
    ) -> ApiResult<Json<AmenityList>, ReadErrors> {
        state
            .authorizer
            .check(&state.db, &tenant.0, &caller.0, PropertyAction::Read)
            .await?;
        Ok(Json(AmenityList {
            data: AMENITIES
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
    ) -> ApiResult<Created, WriteErrors> {
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
        Ok(Created::Created(Json(PropertyView::new(
            &tenant.0,
            property,
            true,
            Vec::new(),
        ))))
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
        request: &poem::Request,
        tenant: tenancy::Path,
        caller: Caller,
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
        check_in: Query<Option<String>>,
        /// Day of departure (exclusive).
        check_out: Query<Option<String>>,
        /// `me`: only my listings, in any status.
        owner: Query<Option<String>>,
        sort: Query<Option<SortDto>>,
        /// Page size, 1 to 100 (default 20).
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<JsonBytes<PropertyPage>, ReadErrors> {
        let mine = match owner.0.as_deref() {
            None => false,
            Some("me") => true,
            Some(_) => return Err(ApiError::validation("owner", "must be `me`").into()),
        };
        let stay = match (check_in.0.as_deref(), check_out.0.as_deref()) {
            (None, None) => None,
            (Some(check_in), Some(check_out)) => Some(calendar::parse_range(
                "check_in",
                check_in,
                "check_out",
                check_out,
            )?),
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
            limit: page_limit(limit.0)?,
        };
        // Anonymous answers are the same for everyone: cache them.
        let cacheable = caller.0.is_anonymous();
        let key = ReadCache::key(
            &tenant.0,
            &format!(
                "search?{}",
                request.original_uri().query().unwrap_or_default()
            ),
        );
        if cacheable {
            state
                .authorizer
                .check(&state.db, &tenant.0, &caller.0, PropertyAction::Read)
                .await?;
            if let Some(bytes) = state.cache.get(&key).await {
                return Ok(JsonBytes::cached(bytes));
            }
        }
        let page = service::search(&state, &tenant.0, &caller.0, search).await?;
        let ids: Vec<PropertyId> = page.properties.iter().map(|property| property.id).collect();
        let mut photos = images::of_properties(&state.db, tenant.0.id, &ids).await?;
        let answer = JsonBytes::fresh(&PropertyPage {
            data: page
                .properties
                .into_iter()
                .map(|property| {
                    let private = service::manages(&caller.0, &property);
                    let photos = photos.remove(&property.id.0).unwrap_or_default();
                    PropertyView::new(&tenant.0, property, private, photos)
                })
                .collect(),
            next_cursor: page.next_cursor,
        });
        if cacheable {
            state.cache.put(key, answer.bytes()).await;
        }
        Ok(answer)
    }

    /// Get a property. Drafts and unlisted ones are visible to their owner and tenant admins
    /// only (404 for everyone else).
    #[oai(
        path = "/t/:tenant/properties/:id",
        method = "get",
        operation_id = "get_property"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<JsonBytes<PropertyView>, ReadErrors> {
        let cacheable = caller.0.is_anonymous();
        let key = ReadCache::key(&tenant.0, &format!("property/{}", id.0));
        if cacheable && let Some(bytes) = state.cache.get(&key).await {
            // Only listed properties are cached (others answer 404 to anonymous callers).
            state
                .authorizer
                .check(&state.db, &tenant.0, &caller.0, PropertyAction::Read)
                .await?;
            return Ok(JsonBytes::cached(bytes));
        }
        let property = service::get(&state, &tenant.0, &caller.0, PropertyId(id.0)).await?;
        let private = service::manages(&caller.0, &property);
        let photos = images::of_properties(&state.db, tenant.0.id, &[property.id])
            .await?
            .remove(&property.id.0)
            .unwrap_or_default();
        let answer = JsonBytes::fresh(&PropertyView::new(&tenant.0, property, private, photos));
        if cacheable {
            state.cache.put(key, answer.bytes()).await;
        }
        Ok(answer)
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
    ) -> ApiResult<Json<PropertyView>, WriteErrors> {
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
        let photos = images::of_properties(&state.db, tenant.0.id, &[property.id])
            .await?
            .remove(&property.id.0)
            .unwrap_or_default();
        Ok(Json(PropertyView::new(&tenant.0, property, true, photos)))
    }

    /// Each night of `[from, to)` (at most 366): available, booked or blocked.
    #[oai(
        path = "/t/:tenant/properties/:id/availability",
        method = "get",
        operation_id = "get_availability"
    )]
    async fn availability(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        /// First night, `YYYY-MM-DD`.
        from: Query<String>,
        /// The day after the last night (exclusive).
        to: Query<String>,
    ) -> ApiResult<Json<Availability>, ReadErrors> {
        let range = calendar::parse_range("from", &from.0, "to", &to.0)?;
        let nights =
            calendar::availability(&state, &tenant.0, &caller.0, PropertyId(id.0), range).await?;
        Ok(Json(Availability {
            property_id: id.0,
            from: calendar::format_date(range.0),
            to: calendar::format_date(range.1),
            nights: nights
                .into_iter()
                .map(|(date, status)| Night {
                    date: calendar::format_date(date),
                    status: match status {
                        NightStatus::Available => NightStatusDto::Available,
                        NightStatus::Booked => NightStatusDto::Booked,
                        NightStatus::Blocked => NightStatusDto::Blocked,
                    },
                })
                .collect(),
        }))
    }

    /// Block nights (the property's owner, or tenant admins). Blocks that overlap or touch
    /// merge into one.
    #[oai(
        path = "/t/:tenant/properties/:id/blocked-dates",
        method = "post",
        operation_id = "block_dates"
    )]
    async fn block(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<NewBlock>,
    ) -> ApiResult<BlockCreated, WriteConflictErrors> {
        let body = body.0;
        let range = calendar::parse_range("start", &body.start, "end", &body.end)?;
        let block = calendar::block(
            &state,
            &tenant.0,
            &caller.0,
            PropertyId(id.0),
            range,
            body.reason,
        )
        .await?;
        Ok(BlockCreated::Created(Json(block.into())))
    }

    /// The upcoming blocked ranges (the property's owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/blocked-dates",
        method = "get",
        operation_id = "list_blocked_dates"
    )]
    async fn blocks(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<BlockList>, ReadErrors> {
        let blocks = calendar::blocks(&state, &tenant.0, &caller.0, PropertyId(id.0)).await?;
        Ok(Json(BlockList {
            data: blocks.into_iter().map(BlockView::from).collect(),
            next_cursor: None,
        }))
    }

    /// Unblock a range (the property's owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/blocked-dates/:block_id",
        method = "delete",
        operation_id = "unblock_dates"
    )]
    async fn unblock(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        block_id: Path<Uuid>,
    ) -> ApiResult<Deleted, ReadErrors> {
        calendar::unblock(&state, &tenant.0, &caller.0, PropertyId(id.0), block_id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// A property's iCalendar feed (`.ics`) of unavailable nights, for other platforms. The
    /// secret in the URL is the credential: hosts rotate it when it leaks.
    #[oai(
        path = "/t/:tenant/ical/:feed",
        method = "get",
        operation_id = "export_calendar"
    )]
    async fn export_calendar(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        /// The feed's file name, `<secret>.ics`.
        feed: Path<String>,
    ) -> ApiResult<Calendar, ReadErrors> {
        let token = feed.0.strip_suffix(".ics").unwrap_or(&feed.0);
        Ok(Calendar(
            ical::export(&state, &tenant.0, &caller.0, token).await?,
        ))
    }

    /// Issue a new calendar export URL (the property's owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/ical-export/rotate",
        method = "post",
        operation_id = "rotate_calendar_export"
    )]
    async fn rotate_export(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<CalendarExport>, ReadErrors> {
        let ical_export_url = ical::rotate(&state, &tenant.0, &caller.0, PropertyId(id.0)).await?;
        Ok(Json(CalendarExport { ical_export_url }))
    }

    /// Add a photo (multipart field `file`; the property's owner, or tenant admins).
    ///
    /// JPEG, PNG or WebP by content (415 otherwise), at most 10 MiB and 20 photos per property.
    /// Thumbnail and large renditions, stripped of metadata, follow shortly.
    #[oai(
        path = "/t/:tenant/properties/:id/images",
        method = "post",
        operation_id = "upload_property_image"
    )]
    async fn upload_image(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        upload: ImageUpload,
    ) -> ApiResult<ImageAccepted, WriteConflictErrors> {
        let bytes = upload.file.into_vec().await.map_err(|err| {
            ApiError::MalformedRequest(format!("The upload could not be read: {err}."))
        })?;
        let image = images::upload(&state, &tenant.0, &caller.0, PropertyId(id.0), bytes).await?;
        Ok(ImageAccepted::Accepted(Json(ImageView::new(
            &tenant.0, &image,
        ))))
    }

    /// Reorder a property's photos (its owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/images/order",
        method = "put",
        operation_id = "order_property_images"
    )]
    async fn order_images(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<ImageOrder>,
    ) -> ApiResult<Json<ImageList>, WriteErrors> {
        let ordered = images::reorder(
            &state,
            &tenant.0,
            &caller.0,
            PropertyId(id.0),
            &body.image_ids,
        )
        .await?;
        Ok(Json(ImageList {
            data: ordered
                .iter()
                .map(|image| ImageView::new(&tenant.0, image))
                .collect(),
            next_cursor: None,
        }))
    }

    /// Remove a photo (the property's owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/images/:image_id",
        method = "delete",
        operation_id = "delete_property_image"
    )]
    async fn delete_image(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        image_id: Path<Uuid>,
    ) -> ApiResult<Deleted, ReadErrors> {
        images::delete(&state, &tenant.0, &caller.0, PropertyId(id.0), image_id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// A photo rendition (anyone who may see the property).
    #[oai(
        path = "/t/:tenant/properties/:id/images/:image_id/:size",
        method = "get",
        operation_id = "get_property_image"
    )]
    async fn get_image(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        image_id: Path<Uuid>,
        size: Path<SizeDto>,
    ) -> ApiResult<Jpeg, ReadErrors> {
        let which = match size.0 {
            SizeDto::Thumbnail => Rendition::Thumbnail,
            SizeDto::Large => Rendition::Large,
        };
        let bytes = images::rendition(
            &state,
            &tenant.0,
            &caller.0,
            PropertyId(id.0),
            image_id.0,
            which,
        )
        .await?;
        Ok(Jpeg(bytes))
    }

    /// Import a calendar from another platform (the property's owner, or tenant admins): its
    /// events block nights here, refreshed every 15 minutes. Private and loopback addresses are
    /// refused (422 naming `url`).
    #[oai(
        path = "/t/:tenant/properties/:id/calendar-imports",
        method = "post",
        operation_id = "add_calendar_import"
    )]
    async fn add_import(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<NewCalendarImport>,
    ) -> ApiResult<ImportCreated, WriteConflictErrors> {
        let import =
            imports::add(&state, &tenant.0, &caller.0, PropertyId(id.0), &body.url).await?;
        Ok(ImportCreated::Created(Json(import.into())))
    }

    /// The calendars a property imports, with their last sync (owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/calendar-imports",
        method = "get",
        operation_id = "list_calendar_imports"
    )]
    async fn list_imports(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<CalendarImportList>, ReadErrors> {
        let list = imports::list(&state, &tenant.0, &caller.0, PropertyId(id.0)).await?;
        Ok(Json(CalendarImportList {
            data: list.into_iter().map(CalendarImportView::from).collect(),
            next_cursor: None,
        }))
    }

    /// Stop importing a calendar; the nights it blocked are free again.
    #[oai(
        path = "/t/:tenant/properties/:id/calendar-imports/:import_id",
        method = "delete",
        operation_id = "remove_calendar_import"
    )]
    async fn remove_import(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        import_id: Path<Uuid>,
    ) -> ApiResult<Deleted, ReadErrors> {
        imports::remove(&state, &tenant.0, &caller.0, PropertyId(id.0), import_id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// Remove a property (its owner, or tenant admins). Its bookings keep their history.
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
