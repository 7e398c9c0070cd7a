//! `/v1/t/{tenant}/bookings/{id}/payments`, `/payments` (list, get, confirm, refunds, provider
//! webhooks) and `/payouts` (list, mark paid).

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    model::{Payment, PaymentStatus, Payout, PayoutStatus, Refund, RefundStatus},
    provider::WebhookDelivery,
    service::{self, Created, ListRole, NewRefund, PayoutFilter, PayoutRole, PayoutTotals},
};
use crate::{
    app::AppState,
    db::Timestamp,
    error::ApiError,
    error_statuses,
    http::{
        ApiResult, BodyExample, Caller, IdempotencyKey, JsonBody, MoneyDto, Public, RawJsonBody,
        cursor, tenancy,
    },
    ids::{BookingId, PaymentId, PayoutId, RefundId},
    money::Money,
};

/// Where a payment stands: `processing` (the outcome comes later by webhook),
/// `requires_action` (confirm it), `requires_capture` (authorized until the host answers),
/// `succeeded`, `failed`, `canceled` (voided), `partially_refunded`, `refunded`.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "PaymentStatus")]
pub enum PaymentStatusDto {
    RequiresAction,
    RequiresCapture,
    Processing,
    Succeeded,
    Failed,
    Canceled,
    Refunded,
    PartiallyRefunded,
}

impl From<PaymentStatus> for PaymentStatusDto {
    fn from(status: PaymentStatus) -> Self {
        match status {
            PaymentStatus::RequiresAction => Self::RequiresAction,
            PaymentStatus::RequiresCapture => Self::RequiresCapture,
            PaymentStatus::Processing => Self::Processing,
            PaymentStatus::Succeeded => Self::Succeeded,
            PaymentStatus::Failed => Self::Failed,
            PaymentStatus::Canceled => Self::Canceled,
            PaymentStatus::Refunded => Self::Refunded,
            PaymentStatus::PartiallyRefunded => Self::PartiallyRefunded,
        }
    }
}

/// Who keeps what of the money kept (captured - refunded): the platform's fee, the taxes, and
/// the rest for the host. Refunds reduce each in proportion.
#[derive(Debug, Object)]
#[oai(rename = "PaymentSplit")]
pub struct SplitView {
    platform_fee: MoneyDto,
    taxes: MoneyDto,
    host_payout: MoneyDto,
}

/// A payment of a booking at a provider: `amount` is the booking's total, `captured` what was
/// taken, `refunded` what was given back.
#[derive(Debug, Object)]
#[oai(rename = "Payment")]
pub struct PaymentView {
    id: Uuid,
    booking_id: Uuid,
    guest_id: Uuid,
    host_id: Uuid,
    property_id: Uuid,
    status: PaymentStatusDto,
    amount: MoneyDto,
    captured: MoneyDto,
    refunded: MoneyDto,
    /// `simulated` (the default) or another configured provider.
    provider: String,
    /// The provider's id of the payment, once it answered.
    #[oai(skip_serializing_if_is_none)]
    provider_reference: Option<String>,
    /// The provider's token of the guest's payment method.
    payment_method: String,
    /// Why it failed, e.g. `card_declined`.
    #[oai(skip_serializing_if_is_none)]
    failure_code: Option<String>,
    /// What the guest must do next: `confirm` (`POST payments/{id}/confirm`) while the status
    /// is `requires_action`.
    #[oai(skip_serializing_if_is_none)]
    next_action: Option<String>,
    split: SplitView,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<&Payment> for PaymentView {
    fn from(payment: &Payment) -> Self {
        let money = |amount| MoneyDto::from(&payment.money(amount));
        Self {
            id: payment.id.0,
            booking_id: payment.booking_id.0,
            guest_id: payment.guest_id.0,
            host_id: payment.host_id.0,
            property_id: payment.property_id.0,
            status: payment.status.into(),
            amount: MoneyDto::from(&payment.amount),
            captured: money(payment.captured),
            refunded: money(payment.refunded),
            provider: payment.provider.clone(),
            provider_reference: payment.provider_reference.clone(),
            payment_method: payment.payment_method.clone(),
            failure_code: payment.failure_code.clone(),
            next_action: (payment.status == PaymentStatus::RequiresAction)
                .then(|| "confirm".to_owned()),
            split: SplitView {
                platform_fee: money(payment.split.platform_fee),
                taxes: money(payment.split.taxes),
                host_payout: money(payment.split.host_payout),
            },
            created_at: payment.created_at.get(),
            updated_at: payment.updated_at.get(),
        }
    }
}

#[derive(Debug, Object)]
pub struct NewPaymentRequest {
    /// A provider token for the payment method (card numbers never reach Staybase). The
    /// simulated provider's test methods: `pm_sim_success`, `pm_sim_declined`,
    /// `pm_sim_requires_action`, `pm_sim_async_fail`.
    #[oai(validator(min_length = 1, max_length = 255))]
    payment_method: String,
}

impl BodyExample for NewPaymentRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({ "payment_method": "pm_sim_success" })
    }
}

/// A refund: `amount` to give back (absent: all that is left of the capture) and why.
#[derive(Debug, Object)]
pub struct NewRefundRequest {
    #[oai(skip_serializing_if_is_none)]
    amount: Option<MoneyDto>,
    #[oai(validator(min_length = 1, max_length = 500))]
    reason: String,
}

impl BodyExample for NewRefundRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({ "amount": { "amount": 5000, "currency": "EUR" }, "reason": "Broken heating" })
    }
}

/// `pending` until the provider confirms it, then `succeeded` (or `failed`).
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "RefundStatus")]
pub enum RefundStatusDto {
    Pending,
    Succeeded,
    Failed,
}

/// Money given back on a payment.
#[derive(Debug, Object)]
#[oai(rename = "Refund")]
pub struct RefundView {
    id: Uuid,
    payment_id: Uuid,
    amount: MoneyDto,
    status: RefundStatusDto,
    /// `cancellation` (by the booking's policy), `booking_not_payable` (a payment that
    /// succeeded too late), `refunded_at_provider` (made in the provider's dashboard), or an
    /// admin's words.
    reason: String,
    /// The admin who asked; absent for Staybase's own refunds.
    #[oai(skip_serializing_if_is_none)]
    requested_by: Option<Uuid>,
    created_at: OffsetDateTime,
}

impl From<&Refund> for RefundView {
    fn from(refund: &Refund) -> Self {
        Self {
            id: refund.id.0,
            payment_id: refund.payment_id.0,
            amount: MoneyDto::from(&refund.amount),
            status: match refund.status {
                RefundStatus::Pending => RefundStatusDto::Pending,
                RefundStatus::Succeeded => RefundStatusDto::Succeeded,
                RefundStatus::Failed => RefundStatusDto::Failed,
            },
            reason: refund.reason.clone(),
            requested_by: refund.requested_by.map(|user| user.0),
            created_at: refund.created_at.get(),
        }
    }
}

/// `pending` until 24 h after check-in, then `payable`, then `paid`; `canceled` when the
/// payment was refunded in full.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "PayoutStatus")]
pub enum PayoutStatusDto {
    Pending,
    Payable,
    Paid,
    Canceled,
}

impl From<PayoutStatusDto> for PayoutStatus {
    fn from(status: PayoutStatusDto) -> Self {
        match status {
            PayoutStatusDto::Pending => Self::Pending,
            PayoutStatusDto::Payable => Self::Payable,
            PayoutStatusDto::Paid => Self::Paid,
            PayoutStatusDto::Canceled => Self::Canceled,
        }
    }
}

/// What a host is owed for a paid booking. `owed_back` is what refunds took from the host's
/// share after the payout was paid (0 unless paid): the host owes it back.
#[derive(Debug, Object)]
#[oai(rename = "Payout")]
pub struct PayoutView {
    id: Uuid,
    booking_id: Uuid,
    host_id: Uuid,
    amount: MoneyDto,
    status: PayoutStatusDto,
    /// 24 hours after check-in (the property's check-in time on the check-in date, in its time
    /// zone).
    payable_at: OffsetDateTime,
    #[oai(nullable)]
    paid_at: Option<OffsetDateTime>,
    owed_back: MoneyDto,
}

impl From<&Payout> for PayoutView {
    fn from(payout: &Payout) -> Self {
        Self {
            id: payout.id.0,
            booking_id: payout.booking_id.0,
            host_id: payout.host_id.0,
            amount: MoneyDto::from(&payout.amount),
            status: match payout.status {
                PayoutStatus::Pending => PayoutStatusDto::Pending,
                PayoutStatus::Payable => PayoutStatusDto::Payable,
                PayoutStatus::Paid => PayoutStatusDto::Paid,
                PayoutStatus::Canceled => PayoutStatusDto::Canceled,
            },
            payable_at: payout.payable_at.get(),
            paid_at: payout.paid_at.map(Timestamp::get),
            owed_back: MoneyDto::from(&payout.amount.with_amount(payout.owed_back)),
        }
    }
}

/// The sums of every matching payout by status (not only this page's), and what hosts owe back
/// on paid payouts that refunds reached later.
#[derive(Debug, Object)]
#[oai(rename = "PayoutTotals")]
pub struct PayoutTotalsView {
    pending: MoneyDto,
    payable: MoneyDto,
    paid: MoneyDto,
    owed_back: MoneyDto,
}

impl From<&PayoutTotals> for PayoutTotalsView {
    fn from(totals: &PayoutTotals) -> Self {
        Self {
            pending: MoneyDto::from(&totals.pending),
            payable: MoneyDto::from(&totals.payable),
            paid: MoneyDto::from(&totals.paid),
            owed_back: MoneyDto::from(&totals.owed_back),
        }
    }
}

#[derive(Debug, Object)]
pub struct PaymentPage {
    data: Vec<PaymentView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(Debug, Object)]
pub struct RefundPage {
    data: Vec<RefundView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(Debug, Object)]
pub struct PayoutPage {
    data: Vec<PayoutView>,
    /// Pass as `cursor` (with the same filters) for the next page; `null` on the last page.
    #[oai(nullable)]
    next_cursor: Option<String>,
    totals: PayoutTotalsView,
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "PaymentListRole")]
pub enum ListRoleDto {
    Guest,
    Host,
    Admin,
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "PayoutListRole")]
pub enum PayoutRoleDto {
    Host,
    Admin,
}

#[derive(ApiResponse)]
pub enum CreatedPayment {
    /// The payment with the provider's first answer (a decline is a `failed` payment, not an
    /// error). A retry with the same `Idempotency-Key` gets the same payment, as it is now,
    /// with `Idempotent-Replayed: true`.
    #[oai(status = 201)]
    Created(
        Json<PaymentView>,
        /// `true` when an earlier request with the same key made this payment; absent on a
        /// first answer.
        #[oai(header = "Idempotent-Replayed")]
        Option<bool>,
    ),
}

#[derive(ApiResponse)]
pub enum CreatedRefund {
    /// The refund. A retry with the same `Idempotency-Key` gets it again, with
    /// `Idempotent-Replayed: true`.
    #[oai(status = 201)]
    Created(
        Json<RefundView>,
        /// `true` when an earlier request with the same key made this refund; absent on a
        /// first answer.
        #[oai(header = "Idempotent-Replayed")]
        Option<bool>,
    ),
}

/// What a provider's webhook carries (the simulated provider's shape; another provider's is its
/// own): the event's unique `id`, its `type` (`intent.succeeded`, `intent.failed`, ...; others
/// are acknowledged and ignored) and the intent it is about.
#[derive(Debug, Object)]
#[oai(rename = "ProviderWebhook")]
pub struct WebhookDoc {
    id: String,
    #[oai(rename = "type")]
    kind: String,
    /// Unix seconds.
    created: i64,
    data: WebhookDataDoc,
}

/// The intent an event is about.
#[derive(Debug, Object)]
#[oai(rename = "ProviderWebhookData")]
pub struct WebhookDataDoc {
    reference: Option<String>,
    payment_id: Option<String>,
    status: Option<String>,
    failure_code: Option<String>,
}

impl BodyExample for WebhookDoc {
    fn example() -> serde_json::Value {
        serde_json::json!({
            "id": "evt_sim_0192f3c45d6e7f809a1b2c3d4e5f6a7b",
            "type": "intent.failed",
            "created": 1_800_000_000,
            "data": {
                "reference": "simpi_0192f3c45d6e7f809a1b2c3d4e5f6a7c",
                "payment_id": "0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a7d",
                "status": "failed",
                "failure_code": "card_declined"
            }
        })
    }
}

#[derive(ApiResponse)]
pub enum Acknowledged {
    /// Received (or received before): it is processed in the background.
    #[oai(status = 200)]
    Ok,
}

error_statuses!(CreateErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);
error_statuses!(ReadErrors => [401, 403, 404, 422, 429]);
error_statuses!(MoveErrors => [401, 403, 404, 409, 429]);
error_statuses!(WebhookErrors => [400, 404, 413, 415, 429]);

fn parse_time(field: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    value
        .map(|text| {
            OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map(Timestamp::from)
                .map_err(|_| ApiError::validation(field, "must be an RFC 3339 time"))
        })
        .transpose()
}

fn created<T, V>(created: Created<T>, view: impl Fn(&T) -> V) -> (V, Option<bool>) {
    match created {
        Created::New(value) => (view(&value), None),
        Created::Replayed(value) => (view(&value), Some(true)),
    }
}

pub struct PaymentsApi;

#[OpenApi(tag = "crate::http::Tag::Payments")]
impl PaymentsApi {
    /// Pay for a booking (its guest).
    ///
    /// A `pending_payment` booking is charged its total and confirmed in the same step when the
    /// payment succeeds; a `requested` one is authorized (`requires_capture`) and charged when
    /// the host accepts. Requires an `Idempotency-Key`: a retry never charges twice. 409
    /// `payment_not_required` for a booking paid at the property; 409 `booking_not_payable`
    /// (with `current_status`) in other statuses or while another payment is under way.
    #[oai(
        path = "/t/:tenant/bookings/:id/payments",
        method = "post",
        operation_id = "create_payment"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        /// A unique value per logical request (e.g. a UUID), reused only to retry it.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: IdempotencyKey,
        body: JsonBody<NewPaymentRequest>,
    ) -> ApiResult<CreatedPayment, CreateErrors> {
        let made = service::create(
            &state,
            &tenant.0,
            &caller.0,
            BookingId(id.0),
            body.0.payment_method,
            idempotency_key.0.as_deref(),
        )
        .await?;
        let (view, replayed) = created(made, |payment| PaymentView::from(payment));
        Ok(CreatedPayment::Created(Json(view), replayed))
    }

    /// Confirm a payment that requires action (its guest), once the guest completed the step.
    ///
    /// 409 `invalid_transition` (with `current_status`) in any other status.
    #[oai(
        path = "/t/:tenant/payments/:id/confirm",
        method = "post",
        operation_id = "confirm_payment"
    )]
    async fn confirm(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<PaymentView>, MoveErrors> {
        let payment = service::confirm(&state, &tenant.0, &caller.0, PaymentId(id.0)).await?;
        Ok(Json(PaymentView::from(&payment)))
    }

    /// List payments, newest first.
    ///
    /// `role=guest` (default): mine; `role=host`: those of my properties' bookings;
    /// `role=admin`: all of the marketplace's (tenant admins).
    #[oai(
        path = "/t/:tenant/payments",
        method = "get",
        operation_id = "list_payments"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        role: Query<Option<ListRoleDto>>,
        /// Page size, 1 to 100 (default 20).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<PaymentPage>, ReadErrors> {
        let role = match role.0.unwrap_or(ListRoleDto::Guest) {
            ListRoleDto::Guest => ListRole::Guest,
            ListRoleDto::Host => ListRole::Host,
            ListRoleDto::Admin => ListRole::Admin,
        };
        let after = cursor::decode(cursor.0.as_deref())?.map(PaymentId);
        let limit = cursor::page_limit(limit.0)?;
        let page = service::list(&state, &tenant.0, &caller.0, role, (after, limit)).await?;
        Ok(Json(PaymentPage {
            data: page.items.iter().map(PaymentView::from).collect(),
            next_cursor: page.next.map(|id| cursor::encode(id.0)),
        }))
    }

    /// Get a payment (its guest, its host, or a tenant admin).
    #[oai(
        path = "/t/:tenant/payments/:id",
        method = "get",
        operation_id = "get_payment"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<PaymentView>, ReadErrors> {
        let payment = service::get(&state, &tenant.0, &caller.0, PaymentId(id.0)).await?;
        Ok(Json(PaymentView::from(&payment)))
    }

    /// List a payment's refunds, newest first (whoever may see the payment).
    #[oai(
        path = "/t/:tenant/payments/:id/refunds",
        method = "get",
        operation_id = "list_refunds"
    )]
    async fn refunds(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        /// Page size, 1 to 100 (default 20).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<RefundPage>, ReadErrors> {
        let after = cursor::decode(cursor.0.as_deref())?.map(RefundId);
        let limit = cursor::page_limit(limit.0)?;
        let page = service::refunds(
            &state,
            &tenant.0,
            &caller.0,
            PaymentId(id.0),
            (after, limit),
        )
        .await?;
        Ok(Json(RefundPage {
            data: page.items.iter().map(RefundView::from).collect(),
            next_cursor: page.next.map(|id| cursor::encode(id.0)),
        }))
    }

    /// Refund a payment, in full or in part (tenant admins).
    ///
    /// Without `amount`, all that is left of the capture. Requires an `Idempotency-Key`.
    /// Refunds together never exceed the capture: 409 `refund_exceeds_captured`.
    #[oai(
        path = "/t/:tenant/payments/:id/refunds",
        method = "post",
        operation_id = "create_refund"
    )]
    async fn refund(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        /// A unique value per logical request (e.g. a UUID), reused only to retry it.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: IdempotencyKey,
        body: JsonBody<NewRefundRequest>,
    ) -> ApiResult<CreatedRefund, CreateErrors> {
        let body = body.0;
        let new = NewRefund {
            amount: body
                .amount
                .map(|amount| Money::new(amount.amount, amount.currency)),
            reason: body.reason,
        };
        let made = service::refund(
            &state,
            &tenant.0,
            &caller.0,
            PaymentId(id.0),
            new,
            idempotency_key.0.as_deref(),
        )
        .await?;
        let (view, replayed) = created(made, |refund| RefundView::from(refund));
        Ok(CreatedRefund::Created(Json(view), replayed))
    }

    /// Receive a payment provider's webhook (the provider; no credentials).
    ///
    /// The signature header (`Staybase-Signature` for the simulated provider, `Stripe-Signature`
    /// for Stripe) and its timestamp (at most 5 minutes off) are verified: 400
    /// `invalid_signature` otherwise, and nothing changes. Each event id is processed once; a repeated delivery is acknowledged.
    #[oai(
        path = "/t/:tenant/payments/webhooks/:provider",
        method = "post",
        operation_id = "receive_payment_webhook"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn webhook(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        _caller: Caller<Public>,
        /// `simulated`, or another configured provider.
        provider: Path<String>,
        /// The simulated provider's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
        /// "<t>.<body>">`.
        #[oai(name = "Staybase-Signature")]
        signature: Header<Option<String>>,
        /// Stripe's signature (`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with
        /// a webhook secret of the tenant's Stripe settings), on `.../webhooks/stripe`.
        #[oai(name = "Stripe-Signature")]
        stripe_signature: Header<Option<String>>,
        body: RawJsonBody<WebhookDoc>,
    ) -> ApiResult<Acknowledged, WebhookErrors> {
        let delivery = WebhookDelivery {
            signature: stripe_signature.0.as_deref().or(signature.0.as_deref()),
            body: &body.0,
        };
        service::receive_webhook(&state, &tenant.0, &provider.0, delivery).await?;
        Ok(Acknowledged::Ok)
    }

    /// List payouts, newest first, with totals by status.
    ///
    /// `role=host` (default): mine; `role=admin`: every host's (tenant admins). `from`/`to`
    /// (RFC 3339) filter on `payable_at`, `to` exclusive.
    #[oai(
        path = "/t/:tenant/payouts",
        method = "get",
        operation_id = "list_payouts"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn payouts(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        role: Query<Option<PayoutRoleDto>>,
        status: Query<Option<PayoutStatusDto>>,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
        /// Page size, 1 to 100 (default 20).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<PayoutPage>, ReadErrors> {
        let role = match role.0.unwrap_or(PayoutRoleDto::Host) {
            PayoutRoleDto::Host => PayoutRole::Host,
            PayoutRoleDto::Admin => PayoutRole::Admin,
        };
        let filter = PayoutFilter {
            status: status.0.map(PayoutStatus::from),
            from: parse_time("from", from.0.as_deref())?,
            to: parse_time("to", to.0.as_deref())?,
        };
        let after = cursor::decode(cursor.0.as_deref())?.map(PayoutId);
        let limit = cursor::page_limit(limit.0)?;
        let (page, totals) =
            service::list_payouts(&state, &tenant.0, &caller.0, (role, filter), (after, limit))
                .await?;
        Ok(Json(PayoutPage {
            data: page.items.iter().map(PayoutView::from).collect(),
            next_cursor: page.next.map(|id| cursor::encode(id.0)),
            totals: PayoutTotalsView::from(&totals),
        }))
    }

    /// Record that a payable payout was paid to its host (tenant admins).
    ///
    /// 409 `payout_not_payable` (with `current_status`) before it is payable or once paid.
    #[oai(
        path = "/t/:tenant/payouts/:id/mark-paid",
        method = "post",
        operation_id = "mark_payout_paid"
    )]
    async fn mark_paid(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<PayoutView>, MoveErrors> {
        let payout = service::mark_paid(&state, &tenant.0, &caller.0, PayoutId(id.0)).await?;
        Ok(Json(PayoutView::from(&payout)))
    }
}
