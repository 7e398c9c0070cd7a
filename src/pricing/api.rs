//! `POST /v1/t/{tenant}/properties/{id}/quote`.

use poem::web::Data;
use poem_openapi::{Enum, Object, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{engine::LineCode, service};
use crate::{
    app::AppState,
    dates::Stay,
    error_statuses,
    http::{ApiDate, ApiResult, BodyExample, Caller, JsonBody, MoneyDto, Public, tenancy},
    ids::PropertyId,
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
    Nights,
    WeekendNights,
    WeeklyDiscount,
    MonthlyDiscount,
    CleaningFee,
    PlatformFee,
    Taxes,
}

impl From<LineCode> for QuoteLineCode {
    fn from(code: LineCode) -> Self {
        match code {
            LineCode::Nights => Self::Nights,
            LineCode::WeekendNights => Self::WeekendNights,
            LineCode::WeeklyDiscount => Self::WeeklyDiscount,
            LineCode::MonthlyDiscount => Self::MonthlyDiscount,
            LineCode::CleaningFee => Self::CleaningFee,
            LineCode::PlatformFee => Self::PlatformFee,
            LineCode::Taxes => Self::Taxes,
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
                })
                .collect(),
            total: MoneyDto::from(&quote.total),
        }))
    }
}
