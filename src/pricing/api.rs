//! `POST /v1/t/{tenant}/properties/{id}/quote`, and a property's per-date prices
//! (`.../prices`) and seasons (`.../seasons`).

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi, param::Path, payload::Json, types::MaybeUndefined,
};
use uuid::Uuid;

use super::{
    engine::{LineCode, LineSource, Season},
    service::{self, DatePrice, NewSeason, SeasonChange},
};
use crate::{
    app::AppState,
    dates::{Stay, parse_date, parse_range},
    error::ApiError,
    error_statuses,
    http::{ApiDate, ApiResult, BodyExample, Caller, JsonBody, MoneyDto, Public, tenancy},
    ids::PropertyId,
    tenants::Tenant,
};

#[derive(Debug, Object)]
pub struct QuoteRequest {
    /// Arrival, `YYYY-MM-DD` (from the marketplace's today).
    check_in: ApiDate,
    /// Departure (exclusive).
    check_out: ApiDate,
    #[oai(validator(minimum(value = "1"), maximum(value = "50")))]
    guests: u32,
}

impl BodyExample for QuoteRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({ "check_in": "2027-07-14", "check_out": "2027-07-18", "guests": 2 })
    }
}

/// What a line charges or discounts.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum QuoteLineCode {
    /// Nights at the nightly price.
    Nights,
    /// Friday and Saturday nights at the weekend price.
    WeekendNights,
    /// Nights at a season's price.
    SeasonNights,
    /// Nights at their own (per-date) price.
    DatePriceNights,
    WeeklyDiscount,
    MonthlyDiscount,
    /// Per night, per guest above the included guests.
    ExtraGuestFee,
    CleaningFee,
    PlatformFee,
    Taxes,
    /// A pricing plugin's reduction.
    Discount,
    /// A pricing plugin's addition to the price of the stay.
    Surcharge,
    /// A pricing plugin's fee.
    Fee,
}

impl From<LineCode> for QuoteLineCode {
    fn from(code: LineCode) -> Self {
        match code {
            LineCode::Nights => Self::Nights,
            LineCode::WeekendNights => Self::WeekendNights,
            LineCode::SeasonNights => Self::SeasonNights,
            LineCode::DatePriceNights => Self::DatePriceNights,
            LineCode::ExtraGuestFee => Self::ExtraGuestFee,
            LineCode::WeeklyDiscount => Self::WeeklyDiscount,
            LineCode::MonthlyDiscount => Self::MonthlyDiscount,
            LineCode::CleaningFee => Self::CleaningFee,
            LineCode::PlatformFee => Self::PlatformFee,
            LineCode::Taxes => Self::Taxes,
            LineCode::Discount => Self::Discount,
            LineCode::Surcharge => Self::Surcharge,
            LineCode::Fee => Self::Fee,
        }
    }
}

/// Who set a line: `base`, the marketplace's prices and fees, or `plugin`, its pricing plugin
/// (which changed or added the line).
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "LineSource")]
pub enum LineSourceDto {
    Base,
    Plugin,
}

impl From<LineSource> for LineSourceDto {
    fn from(source: LineSource) -> Self {
        match source {
            LineSource::Base => Self::Base,
            LineSource::Plugin => Self::Plugin,
        }
    }
}

/// One line of a price: `amount` is negative for discounts.
// Field docs on `$ref` fields would wrap them in `allOf`, which SDK generators mishandle.
#[derive(Debug, Object)]
pub struct QuoteLine {
    pub code: QuoteLineCode,
    pub label: String,
    pub amount: MoneyDto,
    pub source: LineSourceDto,
}

/// The price of a stay: its line items and their sum, `total`.
#[derive(Debug, Object)]
#[oai(rename = "Quote")]
pub struct QuoteView {
    nights: u32,
    line_items: Vec<QuoteLine>,
    total: MoneyDto,
}

error_statuses!(QuoteErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);
error_statuses!(ReadErrors => [401, 403, 404, 429]);
error_statuses!(WriteErrors => [400, 401, 403, 404, 413, 415, 422, 429]);
error_statuses!(SeasonErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);

/// A night's price; `price` left out (or `null`) removes the night's own price.
#[derive(Debug, Object)]
pub struct DatePriceChange {
    /// The night, `YYYY-MM-DD` (from the property's today).
    date: ApiDate,
    price: Option<MoneyDto>,
}

#[derive(Debug, Object)]
pub struct DatePricesChange {
    /// At most 366 nights.
    dates: Vec<DatePriceChange>,
}

impl BodyExample for DatePricesChange {
    fn example() -> serde_json::Value {
        serde_json::json!({ "dates": [
            { "date": "2027-12-31", "price": { "amount": 30000, "currency": "EUR" } },
            { "date": "2027-12-24" }
        ] })
    }
}

/// A night with its own price, over any season, weekend or nightly price.
#[derive(Debug, Object)]
pub struct DatePriceView {
    date: ApiDate,
    price: MoneyDto,
}

#[derive(Debug, Object)]
pub struct DatePriceList {
    /// The property's per-date prices from its today on, by date.
    data: Vec<DatePriceView>,
    /// Always `null`: every upcoming per-date price is in `data`.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

impl DatePriceList {
    fn new(tenant: &Tenant, prices: Vec<(time::Date, i64)>) -> Self {
        Self {
            data: prices
                .into_iter()
                .map(|(date, amount)| DatePriceView {
                    date: ApiDate::from(date),
                    price: MoneyDto::new(amount, &tenant.settings.currency),
                })
                .collect(),
            next_cursor: None,
        }
    }
}

/// A nightly price for the nights `[start, end)`, over the weekend and nightly prices (a
/// night's own price comes first); `min_nights` applies to stays whose first night is in it.
#[derive(Debug, Object)]
pub struct NewSeasonRequest {
    /// First night, `YYYY-MM-DD`.
    start: ApiDate,
    /// The day after the last night (exclusive); at most 366 nights after `start`.
    end: ApiDate,
    nightly_price: MoneyDto,
    #[oai(validator(minimum(value = "1"), maximum(value = "365")))]
    min_nights: Option<u32>,
}

impl BodyExample for NewSeasonRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({
            "start": "2027-07-01", "end": "2027-09-01",
            "nightly_price": { "amount": 18000, "currency": "EUR" }, "min_nights": 3
        })
    }
}

/// Any subset of a season's fields; `min_nights: null` removes the minimum.
#[derive(Debug, Object)]
pub struct SeasonUpdate {
    start: Option<ApiDate>,
    end: Option<ApiDate>,
    nightly_price: Option<MoneyDto>,
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "365")))]
    min_nights: MaybeUndefined<u32>,
}

impl BodyExample for SeasonUpdate {
    fn example() -> serde_json::Value {
        serde_json::json!({ "nightly_price": { "amount": 19000, "currency": "EUR" }, "min_nights": null })
    }
}

#[derive(Debug, Object)]
#[oai(rename = "Season")]
pub struct SeasonView {
    id: Uuid,
    start: ApiDate,
    /// Exclusive.
    end: ApiDate,
    nightly_price: MoneyDto,
    #[oai(nullable)]
    min_nights: Option<u32>,
}

impl SeasonView {
    fn new(tenant: &Tenant, season: Season) -> Self {
        Self {
            id: season.id,
            start: ApiDate::from(season.start),
            end: ApiDate::from(season.end),
            nightly_price: MoneyDto::new(season.nightly_price, &tenant.settings.currency),
            min_nights: season.min_nights,
        }
    }
}

#[derive(Debug, Object)]
pub struct SeasonList {
    data: Vec<SeasonView>,
    /// Always `null`: every season is in `data`.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum SeasonCreated {
    #[oai(status = 201)]
    Created(Json<SeasonView>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    #[oai(status = 204)]
    NoContent,
}

pub struct PricingApi;

#[OpenApi(tag = "crate::http::Tag::Properties")]
impl PricingApi {
    /// Price a stay.
    ///
    /// Line items (nights, weekend nights, length-of-stay discount, cleaning fee, service fee,
    /// taxes) and their total. 409 `dates_unavailable` when a night is taken.
    #[oai(
        path = "/t/:tenant/properties/:id/quote",
        method = "post",
        operation_id = "quote_stay"
    )]
    async fn quote(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        id: Path<Uuid>,
        body: JsonBody<QuoteRequest>,
    ) -> ApiResult<Json<QuoteView>, QuoteErrors> {
        let body = body.0;
        let stay = Stay::parse(&body.check_in, &body.check_out)?;
        let quote = service::quote(
            &state,
            &tenant.0,
            &caller.0,
            PropertyId(id.0),
            (stay, body.guests),
        )
        .await?;
        Ok(Json(QuoteView {
            nights: quote.nights,
            line_items: quote
                .line_items
                .into_iter()
                .map(|line| QuoteLine {
                    code: line.code.into(),
                    label: line.label,
                    amount: MoneyDto::from(&line.amount),
                    source: line.source.into(),
                })
                .collect(),
            total: MoneyDto::from(&quote.total),
        }))
    }

    /// Set or remove the prices of particular nights (the property's owner, or tenant admins).
    ///
    /// A night's own price comes before any season, weekend or nightly price. Answers the
    /// per-date prices from the property's today on.
    #[oai(
        path = "/t/:tenant/properties/:id/prices",
        method = "put",
        operation_id = "set_date_prices"
    )]
    async fn set_date_prices(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<DatePricesChange>,
    ) -> ApiResult<Json<DatePriceList>, WriteErrors> {
        let mut errors = Vec::new();
        let mut prices = Vec::new();
        for (index, night) in body.0.dates.into_iter().enumerate() {
            match parse_date(&format!("dates[{index}].date"), &night.date) {
                Ok(date) => prices.push(DatePrice {
                    date,
                    price: night.price.map(|money| (money.amount, money.currency)),
                }),
                Err(error) => errors.push(error),
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors).into());
        }
        let stored =
            service::put_date_prices(&state, &tenant.0, &caller.0, PropertyId(id.0), prices)
                .await?;
        Ok(Json(DatePriceList::new(&tenant.0, stored)))
    }

    /// The per-date prices from the property's today on (its owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/prices",
        method = "get",
        operation_id = "list_date_prices"
    )]
    async fn date_prices(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<DatePriceList>, ReadErrors> {
        let stored = service::date_prices(&state, &tenant.0, &caller.0, PropertyId(id.0)).await?;
        Ok(Json(DatePriceList::new(&tenant.0, stored)))
    }

    /// Add a season (the property's owner, or tenant admins).
    ///
    /// 409 `season_overlap` when it overlaps another season of the property.
    #[oai(
        path = "/t/:tenant/properties/:id/seasons",
        method = "post",
        operation_id = "create_season"
    )]
    async fn create_season(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<NewSeasonRequest>,
    ) -> ApiResult<SeasonCreated, SeasonErrors> {
        let body = body.0;
        let (start, end) = parse_range("start", &body.start, "end", &body.end)?;
        let season = service::add_season(
            &state,
            &tenant.0,
            &caller.0,
            PropertyId(id.0),
            NewSeason {
                start,
                end,
                nightly_price: (body.nightly_price.amount, body.nightly_price.currency),
                min_nights: body.min_nights,
            },
        )
        .await?;
        Ok(SeasonCreated::Created(Json(SeasonView::new(
            &tenant.0, season,
        ))))
    }

    /// The property's seasons, by start (its owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/seasons",
        method = "get",
        operation_id = "list_seasons"
    )]
    async fn seasons(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<SeasonList>, ReadErrors> {
        let seasons = service::seasons(&state, &tenant.0, &caller.0, PropertyId(id.0)).await?;
        Ok(Json(SeasonList {
            data: seasons
                .into_iter()
                .map(|season| SeasonView::new(&tenant.0, season))
                .collect(),
            next_cursor: None,
        }))
    }

    /// Change a season (the property's owner, or tenant admins).
    ///
    /// 409 `season_overlap` when it would overlap another season of the property.
    #[oai(
        path = "/t/:tenant/properties/:id/seasons/:season_id",
        method = "patch",
        operation_id = "update_season"
    )]
    async fn update_season(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        season_id: Path<Uuid>,
        body: JsonBody<SeasonUpdate>,
    ) -> ApiResult<Json<SeasonView>, SeasonErrors> {
        let body = body.0;
        let start = body
            .start
            .as_deref()
            .map(|value| parse_date("start", value));
        let end = body.end.as_deref().map(|value| parse_date("end", value));
        let errors: Vec<_> = [&start, &end]
            .into_iter()
            .filter_map(|parsed| parsed.as_ref().and_then(|parsed| parsed.as_ref().err()))
            .cloned()
            .collect();
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors).into());
        }
        let change = SeasonChange {
            start: start.and_then(Result::ok),
            end: end.and_then(Result::ok),
            nightly_price: body
                .nightly_price
                .map(|money| (money.amount, money.currency)),
            min_nights: match body.min_nights {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(nights) => Some(Some(nights)),
            },
        };
        let season = service::change_season(
            &state,
            &tenant.0,
            &caller.0,
            (PropertyId(id.0), season_id.0),
            change,
        )
        .await?;
        Ok(Json(SeasonView::new(&tenant.0, season)))
    }

    /// Remove a season (the property's owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/seasons/:season_id",
        method = "delete",
        operation_id = "delete_season"
    )]
    async fn delete_season(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        season_id: Path<Uuid>,
    ) -> ApiResult<Deleted, ReadErrors> {
        service::remove_season(&state, &tenant.0, &caller.0, PropertyId(id.0), season_id.0).await?;
        Ok(Deleted::NoContent)
    }
}
