//! `POST /v1/t/{tenant}/properties/{id}/quote`.

use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::service;
use crate::{
    app::AppState,
    dates::Stay,
    error_statuses,
    http::{ApiResult, Caller, JsonBody, MoneyDto, tenancy},
    ids::PropertyId,
};

#[derive(Debug, Object)]
pub struct QuoteRequest {
    /// Arrival, `YYYY-MM-DD` (from the marketplace's today).
    check_in: String,
    /// Departure (exclusive).
    check_out: String,
    #[oai(validator(minimum(value = "1"), maximum(value = "50")))]
    guests: u32,
}

#[derive(Debug, Object)]
pub struct QuoteLine {
    /// `nights`, `weekend_nights`, `weekly_discount`, `monthly_discount`, `cleaning_fee`,
    /// `platform_fee` or `taxes`.
    pub code: String,
    pub label: String,
    /// Negative for discounts.
    pub amount: MoneyDto,
}

#[derive(Debug, Object)]
#[oai(rename = "Quote")]
pub struct QuoteView {
    nights: u32,
    line_items: Vec<QuoteLine>,
    /// The sum of the line items.
    total: MoneyDto,
}

error_statuses!(QuoteErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);

pub struct PricingApi;

#[OpenApi(tag = "crate::http::Tag::Properties")]
impl PricingApi {
    /// Price a stay: line items (nights, weekend nights, length-of-stay discount, cleaning fee,
    /// service fee, taxes) and their total. 409 `dates_unavailable` when a night is taken.
    #[oai(
        path = "/t/:tenant/properties/:id/quote",
        method = "post",
        operation_id = "quote_stay"
    )]
    async fn quote(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<crate::http::caller::Public>,
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
                    code: line.code.to_owned(),
                    label: line.label,
                    amount: MoneyDto::from(&line.amount),
                })
                .collect(),
            total: MoneyDto::from(&quote.total),
        }))
    }
}
