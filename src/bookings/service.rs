//! Booking rules: who may book and see and move which bookings, the checks and the price fixed
//! at creation, and what every move writes with it (history, events, notifications, expiry).

use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    jobs::{ExpireBooking, NotifyBooking},
    model::{Action, Actor, Booking, BookingStatus, HistoryEntry, PricedLine, refund},
    store::{self, ListQuery, Scope},
};
use crate::{
    app::AppState,
    auth::Principal,
    authz::{BookingAction, Permit, PropertyAction},
    availability,
    dates::{Stay, format_date},
    db::{Db, Timestamp, Tx},
    error::{ApiError, ErrorCode},
    events,
    idempotency::{self, Claim, IdempotencyKey, Replay},
    ids::{BookingId, PropertyId, TenantId, UserId},
    jobs::{self, EnqueueOptions},
    payments::service as payments,
    plugins::{model::PluginKind, service as plugins},
    pricing::service as pricing,
    properties::service as properties,
    reviews,
    tenants::Tenant,
    users::service as users,
};

pub struct NewBooking {
    pub property: PropertyId,
    pub stay: Stay,
    pub guests: u32,
}

impl NewBooking {
    /// The request as the idempotency key's hash sees it.
    fn as_request(&self) -> Value {
        json!({
            "property_id": self.property,
            "check_in": format_date(self.stay.check_in),
            "check_out": format_date(self.stay.check_out),
            "guests": self.guests,
        })
    }
}

/// The outcome of a create.
pub enum Created {
    New(Box<Booking>),
    /// An earlier request with the same idempotency key made this booking; it is answered as it
    /// was then.
    Replayed(Box<Booking>),
}

/// The first answer to a key, as the booking it made (or the problem it met).
async fn replayed(state: &AppState, tenant: &Tenant, replay: Replay) -> Result<Created, ApiError> {
    let answer = replay.into_result()?;
    let booking = match serde_json::from_value::<Booking>(answer.clone()) {
        Ok(booking) => booking,
        // Keys recorded before bookings were kept as data hold the rendered answer: its
        // booking is read again.
        Err(_) => {
            let id = answer
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| Uuid::parse_str(id).ok())
                .ok_or_else(|| ApiError::internal("an idempotent answer names no booking"))?;
            store::get(&state.db, tenant.id, BookingId(id))
                .await?
                .ok_or_else(|| ApiError::internal("an idempotent answer's booking is gone"))?
        }
    };
    Ok(Created::Replayed(Box::new(booking)))
}

/// How the caller stands to a booking: its guest, its host (the property's owner), or neither
/// (then acting with tenant-wide rights, which the authorizer checks).
fn relation(principal: &Principal, booking: &Booking) -> Actor {
    match principal {
        Principal::User(user) if user.user_id == booking.guest_id => Actor::Guest,
        Principal::User(user) if user.user_id == booking.host_id => Actor::Host,
        _ => Actor::Admin,
    }
}

/// What a caller does to a booking, before the relation picks the scoped permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Read,
    Cancel,
    Respond,
}

/// The permission `verb` needs, by the caller's relation to the booking.
fn permission(verb: Verb, relation: Actor) -> BookingAction {
    match (verb, relation) {
        (Verb::Read, Actor::Guest) => BookingAction::ReadOwn,
        (Verb::Read, Actor::Host) => BookingAction::ReadHosted,
        (Verb::Read, _) => BookingAction::ReadAny,
        (Verb::Cancel, Actor::Guest) => BookingAction::CancelOwn,
        (Verb::Cancel, Actor::Host) => BookingAction::CancelHosted,
        (Verb::Cancel, _) => BookingAction::CancelAny,
        (Verb::Respond, Actor::Host) => BookingAction::RespondHosted,
        (Verb::Respond, _) => BookingAction::RespondAny,
    }
}

/// Checks the permission of the caller's relation to the booking, falling back to the tenant-wide
/// one: a tenant admin who owns the property (without the host role) still manages its bookings.
async fn authorize(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    verb: Verb,
    relation: Actor,
) -> Result<Permit<BookingAction>, ApiError> {
    let check = |action| state.authorizer.check(&state.db, tenant, principal, action);
    match check(permission(verb, relation)).await {
        Err(ApiError::Forbidden(_)) if relation != Actor::Admin => {
            check(permission(verb, Actor::Admin)).await
        }
        decided => decided,
    }
}

fn summary(booking: &Booking) -> Value {
    json!({
        "id": booking.id,
        "property_id": booking.property_id,
        "guest_id": booking.guest_id,
        "status": booking.status.as_str(),
        "check_in": format_date(booking.check_in),
        "check_out": format_date(booking.check_out),
        "guests": booking.guests,
        "total": booking.total,
        "refund": booking.refund,
    })
}

/// When a booking in `status` lapses: an unanswered request after the tenant's request expiry,
/// an unpaid hold after its hold minutes.
fn deadline(tenant: &Tenant, status: BookingStatus, now: Timestamp) -> Option<Timestamp> {
    let settings = &tenant.settings;
    match status {
        BookingStatus::Requested => {
            Some(now + time::Duration::hours(i64::from(settings.request_expiry_hours)))
        }
        BookingStatus::PendingPayment => {
            Some(now + time::Duration::minutes(i64::from(settings.hold_minutes)))
        }
        _ => None,
    }
}

/// Writes what goes with a booking reaching its status: the domain events, the notification,
/// and the expiry job when it can lapse.
async fn announce(
    tx: &mut Tx,
    tenant: &Tenant,
    booking: &Booking,
    event: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    let payload = summary(booking);
    let kinds: &[&str] = if booking.status == BookingStatus::Confirmed {
        &[event, "booking.confirmed"]
    } else {
        &[event]
    };
    events::record_each(tx, tenant.id, kinds, booking.id.0, &payload, now).await?;
    let in_tenant = || EnqueueOptions {
        tenant: Some(tenant.id),
        ..EnqueueOptions::default()
    };
    let mut work = Vec::new();
    if booking.status == BookingStatus::Completed {
        let invite = reviews::jobs::InviteToReview {
            booking_id: booking.id.0,
        };
        work.push(jobs::Pending::new(&invite, in_tenant())?);
    } else {
        let notify = NotifyBooking {
            booking_id: booking.id.0,
            status: booking.status,
        };
        work.push(jobs::Pending::new(&notify, in_tenant())?);
    }
    if let Some(expires_at) = booking.expires_at {
        let expire = ExpireBooking {
            booking_id: booking.id.0,
        };
        let options = EnqueueOptions {
            run_at: Some(expires_at),
            ..in_tenant()
        };
        work.push(jobs::Pending::new(&expire, options)?);
    }
    jobs::enqueue_all(tx, &work).await
}

/// Books a stay for the caller. The property row is locked (PostgreSQL; SQLite's writer lock
/// serializes anyway) before the nights are checked, so two overlapping requests cannot both
/// pass; PostgreSQL's exclusion constraint backs this. The price is the quote's, fixed here.
#[tracing::instrument(skip(state, tenant, principal, new, idempotency_key), fields(tenant = %tenant.slug, property = %new.property))]
pub async fn create(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    new: NewBooking,
    idempotency_key: Option<&str>,
) -> Result<Created, ApiError> {
    let caller = principal.user()?;
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, BookingAction::Create)
        .await?;
    let key = IdempotencyKey::new(idempotency_key, "create_booking", &new.as_request())?;
    // A retry is recognised by the claim inside the transaction: new keys, the common case,
    // cost no read before it.
    let booked = book(state, tenant, principal, &permit, (new, &key)).await;
    if let Err(err) = &booked
        && let Err(unrecorded) =
            idempotency::remember_failure(&state.db, tenant.id, caller.user_id, &key, err).await
    {
        tracing::warn!(error = %unrecorded, "the failure of a keyed request was not recorded");
    }
    booked
}

/// The work of `create` once its key is known to be new.
async fn book(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    permit: &Permit<BookingAction>,
    (new, key): (NewBooking, &IdempotencyKey),
) -> Result<Created, ApiError> {
    let caller = principal.user()?;
    let stay = new.stay;
    let now = tenant.now();
    // The pricing plugin is ready before the transaction locks anything.
    plugins::warm(state, tenant, PluginKind::Pricing).await?;
    let mut tx = state.db.begin().await?;
    // Keys are kept for 24 hours of wall-clock time, whatever a test tenant's clock says.
    if let Claim::Replay(replay) =
        idempotency::claim(&mut tx, tenant.id, caller.user_id, key, Timestamp::now()).await?
    {
        return replayed(state, tenant, replay).await;
    }
    // The one read of the property: listed, locked until the commit.
    let property = properties::listed_for_booking(&mut tx, tenant.id, new.property).await?;
    let status = BookingStatus::initial(
        property
            .listing
            .booking_mode
            .unwrap_or(tenant.settings.booking_mode),
        tenant.settings.payment_collection,
    );
    if !status.is_paid_for() {
        check_unpaid_cap(&mut tx, tenant, caller.user_id).await?;
    }
    state
        .authorizer
        .check(&state.db, tenant, principal, PropertyAction::Read)
        .await?;
    if property.owner_id == caller.user_id {
        return Err(ApiError::validation(
            "property_id",
            "is your own listing: hosts cannot book their own properties",
        ));
    }
    let rates = pricing::rates_in(&mut tx, tenant.id, property.id, stay).await?;
    pricing::check_stay(tenant, &property.listing, (stay, new.guests), &rates)?;
    if tenant.settings.require_verified_email {
        check_verified_email(&mut tx, tenant, caller.user_id).await?;
    }
    availability::check_free(
        &mut tx,
        tenant.id,
        property.id,
        (stay, property.listing.rules.preparation_nights),
    )
    .await?;
    let quote = pricing::price(state, tenant, &property, (stay, new.guests), &rates).await?;
    let booking = Booking {
        tenant_id: tenant.id,
        id: BookingId(Uuid::now_v7()),
        property_id: property.id,
        property_name: property.listing.name.clone(),
        host_id: property.owner_id,
        guest_id: caller.user_id,
        check_in: stay.check_in,
        check_out: stay.check_out,
        guests: new.guests,
        status,
        total: quote.total,
        line_items: quote.line_items.iter().map(PricedLine::from).collect(),
        cancellation_policy: tenant.settings.cancellation_policy,
        payment_collection: tenant.settings.payment_collection,
        host_fee_bps: tenant.settings.host_fee_bps,
        expires_at: deadline(tenant, status, now),
        cancelled_by: None,
        refund: None,
        history: vec![HistoryEntry::new(
            status,
            Actor::Guest,
            Some(caller.user_id),
            now,
        )],
        created_at: now,
        updated_at: now,
    };
    store::insert(&mut tx, permit, &booking).await?;
    announce(&mut tx, tenant, &booking, "booking.created", now).await?;
    let outcome = serde_json::to_value(&booking).map_err(ApiError::internal)?;
    idempotency::record(&mut tx, tenant.id, caller.user_id, key, 201, &outcome).await?;
    tx.commit().await?;
    Ok(Created::New(Box::new(booking)))
}

/// Refuses one more unpaid booking to a guest who has as many as the tenant allows, so that one
/// account cannot hold calendars without paying. The guest's row is locked first, so that the
/// guest's concurrent bookings are counted one after the other.
async fn check_unpaid_cap(tx: &mut Tx, tenant: &Tenant, guest: UserId) -> Result<(), ApiError> {
    users::get_in(tx, tenant.id, guest)
        .await?
        .ok_or_else(ApiError::invalid_token)?;
    let unpaid = store::unpaid_of_guest(tx, tenant.id, guest).await?;
    let allowed = tenant.settings.max_unpaid_bookings;
    if unpaid >= i64::from(allowed) {
        return Err(ApiError::Conflict {
            code: ErrorCode::TooManyUnpaidBookings,
            detail: format!(
                "You have {unpaid} unpaid bookings; pay for or cancel one before booking again \
                 (at most {allowed} at a time)."
            ),
        });
    }
    Ok(())
}

/// Refuses a booking to a guest whose email address is not verified yet, where the tenant
/// requires it (403 `email_not_verified`).
async fn check_verified_email(tx: &mut Tx, tenant: &Tenant, guest: UserId) -> Result<(), ApiError> {
    let user = users::get_in(tx, tenant.id, guest)
        .await?
        .ok_or_else(ApiError::invalid_token)?;
    if !user.email_verified {
        return Err(ApiError::Refused {
            code: ErrorCode::EmailNotVerified,
            detail: "Verify your email address before booking: follow the link we emailed you."
                .into(),
        });
    }
    Ok(())
}

/// The booking, if the caller may see it: its guest, its host, or a tenant admin. Others get
/// 404, as if it did not exist.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn get(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: BookingId,
) -> Result<Booking, ApiError> {
    principal.user()?;
    let booking = store::get(&state.db, tenant.id, id)
        .await?
        .ok_or(ApiError::NotFound("booking"))?;
    match authorize(
        state,
        tenant,
        principal,
        Verb::Read,
        relation(principal, &booking),
    )
    .await
    {
        Ok(_) => Ok(booking),
        Err(ApiError::Forbidden(_)) => Err(ApiError::NotFound("booking")),
        Err(other) => Err(other),
    }
}

/// Whose bookings a list asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListRole {
    Guest,
    Host,
    Admin,
}

pub struct Page {
    pub bookings: Vec<Booking>,
    pub next: Option<BookingId>,
}

/// Bookings newest first: the caller's as a guest, those of the caller's properties as a host,
/// or all of the tenant's for its admins.
#[tracing::instrument(skip(state, tenant, principal, query), fields(tenant = %tenant.slug))]
pub async fn list(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    role: ListRole,
    mut query: ListQuery,
) -> Result<Page, ApiError> {
    let caller = principal.user()?;
    let (scope, relation) = match role {
        ListRole::Guest => (Scope::Guest(caller.user_id), Actor::Guest),
        ListRole::Host => (Scope::Host(caller.user_id), Actor::Host),
        ListRole::Admin => (Scope::Tenant, Actor::Admin),
    };
    if relation == Actor::Guest {
        // One's own bookings as a guest: the guest role's, with no tenant-wide stand-in.
        state
            .authorizer
            .check(&state.db, tenant, principal, BookingAction::ReadOwn)
            .await?;
    } else {
        authorize(state, tenant, principal, Verb::Read, relation).await?;
    }
    let limit = query.limit as usize;
    query.limit += 1;
    let mut bookings = store::list(&state.db, tenant.id, scope, &query).await?;
    let next = (bookings.len() > limit).then(|| {
        bookings.truncate(limit);
        bookings.last().map(|booking| booking.id)
    });
    Ok(Page {
        bookings,
        next: next.flatten(),
    })
}

/// Accepts, declines or cancels a booking for the caller.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn act(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: BookingId,
    action: Action,
) -> Result<Booking, ApiError> {
    let caller = principal.user()?;
    let booking = get(state, tenant, principal, id).await?;
    let relation = relation(principal, &booking);
    let verb = if action == Action::Cancel {
        Verb::Cancel
    } else {
        Verb::Respond
    };
    if verb == Verb::Respond && relation == Actor::Guest {
        return Err(ApiError::Forbidden(
            "Only the host or a tenant admin answers a booking request.".into(),
        ));
    }
    let permit = authorize(state, tenant, principal, verb, relation).await?;
    // A request the guest authorized payment for is charged as it is accepted.
    let capture = if action == Action::Accept && booking.status == BookingStatus::Requested {
        payments::capture_for_acceptance(state, tenant, &booking).await?
    } else {
        None
    };
    let now = tenant.now();
    let mut tx = state.db.begin().await?;
    let current = store::get_in(&mut tx, tenant.id, id)
        .await?
        .ok_or(ApiError::NotFound("booking"))?;
    let mut moved = move_booking(
        &mut tx,
        &permit,
        tenant,
        current,
        (action, relation, Some(caller.user_id)),
        now,
    )
    .await?;
    if let Some(captured) = capture {
        payments::record_acceptance_capture(&mut tx, tenant, captured).await?;
        moved = store::get_in(&mut tx, tenant.id, id)
            .await?
            .ok_or(ApiError::NotFound("booking"))?;
    }
    tx.commit().await?;
    Ok(moved)
}

/// Moves a booking read (and locked) in `tx` by `action`, with everything that goes with it.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, booking = %booking.id, from = booking.status.as_str()))]
pub(super) async fn move_booking(
    tx: &mut Tx,
    permit: &Permit<BookingAction>,
    tenant: &Tenant,
    booking: Booking,
    (action, by, user): (Action, Actor, Option<UserId>),
    now: Timestamp,
) -> Result<Booking, ApiError> {
    let from = booking.status;
    let to = from.apply(action, booking.payment_collection)?;
    if action == Action::Cancel && booking.check_out <= tenant.today() {
        return Err(ApiError::Conflict {
            code: ErrorCode::StayEnded,
            detail: "The stay has ended: it can no longer be cancelled.".into(),
        });
    }
    let mut moved = booking;
    moved.status = to;
    moved.updated_at = now;
    moved.expires_at = deadline(tenant, to, now);
    if action == Action::Cancel {
        moved.cancelled_by = Some(by);
        moved.refund = Some(refund(
            (moved.cancellation_policy, moved.payment_collection),
            from,
            by,
            &moved.total,
            (tenant.today(), moved.check_in),
        ));
    }
    moved.history.push(HistoryEntry::new(to, by, user, now));
    if !store::update_status(tx, permit, &moved, from).await? {
        // The row is locked, so only a concurrent writer on a stale read gets here.
        return Err(ApiError::Unavailable("booking"));
    }
    let event = match action {
        Action::Accept => "booking.accepted",
        Action::Decline => "booking.declined",
        Action::Cancel => "booking.cancelled",
        Action::Expire => "booking.expired",
        Action::Complete => "booking.completed",
        Action::Pay => "booking.paid",
    };
    announce(tx, tenant, &moved, event, now).await?;
    payments::booking_moved(tx, tenant, (&moved, from), now).await?;
    Ok(moved)
}

/// A booking as Staybase reads it for its own work (the payments' emails), for no caller.
pub async fn find(db: &Db, tenant: TenantId, id: BookingId) -> Result<Option<Booking>, ApiError> {
    store::get(db, tenant, id).await
}

/// The booking, read and locked in `tx` (on PostgreSQL) until it ends: for the payments
/// service, which records a payment with the booking's move.
pub async fn locked(
    tx: &mut Tx,
    tenant: TenantId,
    id: BookingId,
) -> Result<Option<Booking>, ApiError> {
    store::get_in(tx, tenant, id).await
}

/// The guest's completed stay at the property that checked out last, read and locked in `tx`
/// (on PostgreSQL) until it ends: the stay a guest's review is about.
pub async fn latest_completed_stay(
    tx: &mut Tx,
    tenant: TenantId,
    (guest, property): (UserId, PropertyId),
) -> Result<Option<Booking>, ApiError> {
    store::latest_completed_in(tx, tenant, (guest, property)).await
}

/// Confirms a booking whose payment went through, in the transaction that records the payment.
pub async fn pay(
    tx: &mut Tx,
    tenant: &Tenant,
    booking: Booking,
    now: Timestamp,
) -> Result<Booking, ApiError> {
    move_booking(
        tx,
        &Permit::for_system(tenant.id, BookingAction::RespondAny),
        tenant,
        booking,
        (Action::Pay, Actor::System, None),
        now,
    )
    .await
}
