//! `/v1/t/{tenant}/bookings`: create (with an idempotency key), list, get, and the moves a
//! guest, host or tenant admin makes: cancel, accept, decline.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    model::{Action, Actor, Booking, BookingStatus},
    service::{self, Created, ListRole, NewBooking},
    store::ListQuery,
};
use crate::{
    app::AppState,
    dates::{Stay, parse_date},
    error::ApiError,
    error_statuses,
    http::{
        ApiDate, ApiResult, BodyExample, Caller, IdempotencyKey, JsonBody, MoneyDto, cursor,
        tenancy,
    },
    ids::{BookingId, PropertyId},
    pricing::api::QuoteLine,
    tenants::api::CancellationPolicyDto,
};

/// Where a booking stands: `requested` (waiting for the host, request mode),
/// `pending_payment` (holding its nights until paid), `confirmed`, `completed` (the stay is
/// over), `cancelled`, `declined`, `expired` (unanswered or unpaid in time).
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "BookingStatus")]
pub enum BookingStatusDto {
    Requested,
    PendingPayment,
    Confirmed,
    Completed,
    Cancelled,
    Declined,
    Expired,
}

impl From<BookingStatus> for BookingStatusDto {
    fn from(status: BookingStatus) -> Self {
        match status {
            BookingStatus::Requested => Self::Requested,
            BookingStatus::PendingPayment => Self::PendingPayment,
            BookingStatus::Confirmed => Self::Confirmed,
            BookingStatus::Completed => Self::Completed,
            BookingStatus::Cancelled => Self::Cancelled,
            BookingStatus::Declined => Self::Declined,
            BookingStatus::Expired => Self::Expired,
        }
    }
}

#[derive(Debug, Object)]
pub struct NewBookingRequest {
    property_id: Uuid,
    /// Arrival, `YYYY-MM-DD` (from the marketplace's today).
    check_in: ApiDate,
    /// Departure (exclusive).
    check_out: ApiDate,
    #[oai(validator(minimum(value = "1"), maximum(value = "50")))]
    guests: u32,
}

impl BodyExample for NewBookingRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({ "property_id": "0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b", "check_in": "2027-07-14", "check_out": "2027-07-18", "guests": 2 })
    }
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "BookingActor")]
pub enum ActorDto {
    Guest,
    Host,
    Admin,
    System,
}

impl From<Actor> for ActorDto {
    fn from(actor: Actor) -> Self {
        match actor {
            Actor::Guest => Self::Guest,
            Actor::Host => Self::Host,
            Actor::Admin => Self::Admin,
            Actor::System => Self::System,
        }
    }
}

/// One step of a booking's history: the `status` reached, when, and by whom.
#[derive(Debug, Object)]
#[oai(rename = "BookingStatusChange")]
pub struct HistoryView {
    status: BookingStatusDto,
    at: OffsetDateTime,
    by: ActorDto,
    /// The user who made the change; absent for the system's.
    #[oai(nullable)]
    user_id: Option<Uuid>,
}

/// Who cancelled, and the `refund`: what the guest gets back (or is not charged) under the
/// policy snapshot; 0 when the booking was never confirmed, as nothing was charged. Present on
/// cancelled bookings only.
// Field docs on `$ref` fields would wrap them in `allOf`, which SDK generators mishandle.
#[derive(Debug, Object)]
#[oai(rename = "Cancellation")]
pub struct CancellationView {
    by: ActorDto,
    refund: MoneyDto,
}

/// A booking. `status` is where it stands, `cancellation_policy` the tenant's policy when it
/// was made (it decides refunds), `total` the price fixed then, and `cancellation` is present
/// once it is cancelled.
#[derive(Debug, Object)]
#[oai(rename = "Booking")]
pub struct BookingView {
    id: Uuid,
    property_id: Uuid,
    property_name: String,
    guest_id: Uuid,
    /// The property's owner.
    host_id: Uuid,
    check_in: ApiDate,
    check_out: ApiDate,
    nights: i64,
    guests: u32,
    status: BookingStatusDto,
    /// The price fixed when the booking was made.
    line_items: Vec<QuoteLine>,
    total: MoneyDto,
    cancellation_policy: CancellationPolicyDto,
    /// When a request or an unpaid hold lapses, while it can.
    #[oai(nullable)]
    expires_at: Option<OffsetDateTime>,
    #[oai(skip_serializing_if_is_none)]
    cancellation: Option<CancellationView>,
    /// Every status the booking has had, oldest first.
    history: Vec<HistoryView>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<&Booking> for BookingView {
    fn from(booking: &Booking) -> Self {
        Self {
            id: booking.id.0,
            property_id: booking.property_id.0,
            property_name: booking.property_name.clone(),
            guest_id: booking.guest_id.0,
            host_id: booking.host_id.0,
            check_in: ApiDate::from(booking.check_in),
            check_out: ApiDate::from(booking.check_out),
            nights: booking.nights(),
            guests: booking.guests,
            status: booking.status.into(),
            line_items: booking
                .line_items
                .iter()
                .map(|line| QuoteLine {
                    code: line.code.into(),
                    label: line.label.clone(),
                    amount: MoneyDto::from(&line.amount),
                    source: line.source.into(),
                })
                .collect(),
            total: MoneyDto::from(&booking.total),
            cancellation_policy: booking.cancellation_policy.into(),
            expires_at: booking.expires_at.map(|at| at.get()),
            cancellation: booking.cancelled_by.map(|by| CancellationView {
                by: by.into(),
                refund: MoneyDto::from(
                    &booking
                        .refund
                        .clone()
                        .unwrap_or_else(|| booking.total.with_amount(0)),
                ),
            }),
            history: booking
                .history
                .iter()
                .map(|entry| HistoryView {
                    status: entry.status.into(),
                    at: entry.at,
                    by: entry.by.into(),
                    user_id: entry.user_id,
                })
                .collect(),
            created_at: booking.created_at.get(),
            updated_at: booking.updated_at.get(),
        }
    }
}

#[derive(Debug, Object)]
pub struct BookingPage {
    data: Vec<BookingView>,
    /// Pass as `cursor` (with the same filters) for the next page; `null` on the last page.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "BookingListRole")]
pub enum ListRoleDto {
    Guest,
    Host,
    Admin,
}

#[derive(ApiResponse)]
pub enum CreatedBooking {
    /// The booking. A retry with the same `Idempotency-Key` and body gets the first answer
    /// again, with `Idempotent-Replayed: true`.
    #[oai(status = 201)]
    Created(
        Json<BookingView>,
        /// `true` when this is the first answer to the same `Idempotency-Key` and body,
        /// answered again (no new booking was made); absent on a first answer.
        #[oai(header = "Idempotent-Replayed")]
        Option<bool>,
    ),
}

error_statuses!(CreateErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);
error_statuses!(ReadErrors => [401, 403, 404, 422, 429]);
error_statuses!(MoveErrors => [401, 403, 404, 409, 429]);

fn parse_statuses(value: Option<&str>) -> Result<Vec<BookingStatus>, ApiError> {
    value
        .into_iter()
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            BookingStatus::parse(name).ok_or_else(|| {
                ApiError::validation(
                    "status",
                    "must list statuses among requested, pending_payment, confirmed, completed, \
                     cancelled, declined, expired",
                )
            })
        })
        .collect()
}

fn parse_optional_date(field: &str, value: Option<&str>) -> Result<Option<time::Date>, ApiError> {
    value
        .map(|value| parse_date(field, value).map_err(|err| ApiError::Validation(vec![err])))
        .transpose()
}

pub struct BookingsApi;

#[OpenApi(tag = "crate::http::Tag::Bookings")]
impl BookingsApi {
    /// Book a stay (guests).
    ///
    /// The price is the quote's, fixed now. In `instant` mode the booking is `pending_payment`
    /// (online payment) or `confirmed` (payment at the property); in `request` mode it is
    /// `requested` until the host answers. Requires an `Idempotency-Key` (400
    /// `idempotency_key_required`); the same key with another body is 422
    /// `idempotency_key_reused`. 409 `dates_unavailable` when a night is booked or blocked.
    #[oai(
        path = "/t/:tenant/bookings",
        method = "post",
        operation_id = "create_booking"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        /// A unique value per logical request (e.g. a UUID), reused only to retry it; kept
        /// for 24 hours.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: IdempotencyKey,
        body: JsonBody<NewBookingRequest>,
    ) -> ApiResult<CreatedBooking, CreateErrors> {
        let body = body.0;
        let new = NewBooking {
            property: PropertyId(body.property_id),
            stay: Stay::parse(&body.check_in, &body.check_out)?,
            guests: body.guests,
        };
        let created = service::create(
            &state,
            &tenant.0,
            &caller.0,
            new,
            idempotency_key.0.as_deref(),
        )
        .await?;
        Ok(match created {
            Created::New(booking) => {
                CreatedBooking::Created(Json(BookingView::from(booking.as_ref())), None)
            }
            Created::Replayed(booking) => {
                CreatedBooking::Created(Json(BookingView::from(booking.as_ref())), Some(true))
            }
        })
    }

    /// List bookings, newest first.
    ///
    /// `role=guest` (default): my bookings; `role=host`: the bookings of my properties;
    /// `role=admin`: all of the marketplace's (tenant admins).
    #[oai(
        path = "/t/:tenant/bookings",
        method = "get",
        operation_id = "list_bookings"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        role: Query<Option<ListRoleDto>>,
        /// Comma-separated statuses, e.g. `pending_payment,confirmed`.
        status: Query<Option<String>>,
        /// Only stays with a night on or after this date (`YYYY-MM-DD`).
        from: Query<Option<ApiDate>>,
        /// Only stays with a night before this date.
        to: Query<Option<ApiDate>>,
        /// Page size, 1 to 100 (default 20).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<BookingPage>, ReadErrors> {
        let role = match role.0.unwrap_or(ListRoleDto::Guest) {
            ListRoleDto::Guest => ListRole::Guest,
            ListRoleDto::Host => ListRole::Host,
            ListRoleDto::Admin => ListRole::Admin,
        };
        let query = ListQuery {
            statuses: parse_statuses(status.0.as_deref())?,
            from: parse_optional_date("from", from.0.as_deref())?,
            to: parse_optional_date("to", to.0.as_deref())?,
            after: cursor::decode(cursor.0.as_deref())?.map(BookingId),
            limit: cursor::page_limit(limit.0)?,
        };
        let page = service::list(&state, &tenant.0, &caller.0, role, query).await?;
        Ok(Json(BookingPage {
            data: page.bookings.iter().map(BookingView::from).collect(),
            next_cursor: page.next.map(|id| cursor::encode(id.0)),
        }))
    }

    /// Get a booking (its guest, its host, or a tenant admin).
    #[oai(
        path = "/t/:tenant/bookings/:id",
        method = "get",
        operation_id = "get_booking"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<BookingView>, ReadErrors> {
        let booking = service::get(&state, &tenant.0, &caller.0, BookingId(id.0)).await?;
        Ok(Json(BookingView::from(&booking)))
    }

    /// Cancel a requested, pending or confirmed booking (its guest, its host, or a tenant admin).
    ///
    /// The refund follows the booking's policy snapshot when the guest cancels, and is the whole
    /// total when the host or an admin does. 409 `invalid_transition` otherwise.
    #[oai(
        path = "/t/:tenant/bookings/:id/cancel",
        method = "post",
        operation_id = "cancel_booking"
    )]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<BookingView>, MoveErrors> {
        act(&state, &tenant, &caller, id.0, Action::Cancel).await
    }

    /// Accept a booking request (its host or a tenant admin).
    ///
    /// It moves on as an instant booking would, to `pending_payment` or `confirmed`.
    #[oai(
        path = "/t/:tenant/bookings/:id/accept",
        method = "post",
        operation_id = "accept_booking"
    )]
    async fn accept(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<BookingView>, MoveErrors> {
        act(&state, &tenant, &caller, id.0, Action::Accept).await
    }

    /// Decline a booking request (its host or a tenant admin); its nights are free again.
    #[oai(
        path = "/t/:tenant/bookings/:id/decline",
        method = "post",
        operation_id = "decline_booking"
    )]
    async fn decline(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<BookingView>, MoveErrors> {
        act(&state, &tenant, &caller, id.0, Action::Decline).await
    }
}

async fn act(
    state: &AppState,
    tenant: &tenancy::Path,
    caller: &Caller,
    id: Uuid,
    action: Action,
) -> ApiResult<Json<BookingView>, MoveErrors> {
    let booking = service::act(state, &tenant.0, &caller.0, BookingId(id), action).await?;
    Ok(Json(BookingView::from(&booking)))
}
