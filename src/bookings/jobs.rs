//! Bookings' background work: lapsing unanswered requests and unpaid holds, completing stays
//! after check-out, and emailing guests and hosts about each move.

use std::{
    collections::{HashMap, hash_map::Entry},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    model::{Action, Actor, Booking, BookingStatus},
    service::move_booking,
    store,
};
use crate::{
    authz::{BookingAction, Permit},
    dates::format_date,
    db::Db,
    error::ApiError,
    ids::{BookingId, TenantId, UserId},
    jobs::{Job, JobContext, JobError, JobRegistry, Schedule},
    mail::{self, Branding, OutgoingEmail, Template, templates::BookingMessage},
    money::Money,
    properties::service as properties,
    tenants::{Tenant, service as tenants, settings::PaymentCollection},
    users::{User, service as users},
};

/// Lapses a request or hold at its deadline, if it is still unanswered or unpaid by then.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExpireBooking {
    pub booking_id: Uuid,
}

impl Job for ExpireBooking {
    const KIND: &'static str = "bookings.expire";
}

/// Completes confirmed stays whose check-out day has come in their marketplace's time zone.
#[derive(Debug, Serialize, Deserialize)]
pub struct CompleteStays {}

impl Job for CompleteStays {
    const KIND: &'static str = "bookings.complete";
    const MAX_ATTEMPTS: u32 = 3;
}

/// Emails the guest, and the host where it concerns them, that a booking reached `status`.
#[derive(Debug, Serialize, Deserialize)]
pub struct NotifyBooking {
    pub booking_id: Uuid,
    pub status: BookingStatus,
}

impl Job for NotifyBooking {
    const KIND: &'static str = "bookings.notify";
}

/// How many stays one completion run handles; the next run takes the rest.
const COMPLETION_BATCH: u32 = 500;

pub fn register_jobs(registry: &mut JobRegistry) {
    registry
        .register(expire)
        .register(notify)
        .register(complete)
        .every(Schedule::every(Duration::from_secs(900)), CompleteStays {});
}

async fn tenant_of(db: &Db, context: &JobContext) -> Result<Tenant, JobError> {
    let id = context
        .tenant
        .ok_or_else(|| JobError::Permanent("a booking job without its tenant".into()))?;
    tenants::find_by_id(db, id)
        .await?
        .ok_or_else(|| JobError::Permanent(format!("tenant {} does not exist", id.0)))
}

#[tracing::instrument(skip(context), fields(booking = %job.booking_id))]
async fn expire(context: JobContext, job: ExpireBooking) -> Result<(), JobError> {
    let db = &context.state.db;
    let tenant = tenant_of(db, &context).await?;
    expire_if_lapsed(db, &tenant, BookingId(job.booking_id)).await?;
    Ok(())
}

/// Expires a request or hold whose deadline has passed by the tenant's clock.
async fn expire_if_lapsed(db: &Db, tenant: &Tenant, id: BookingId) -> Result<(), ApiError> {
    let now = tenant.now();
    let mut tx = db.begin().await?;
    let Some(booking) = store::get_in(&mut tx, tenant.id, id).await? else {
        return Ok(());
    };
    // A request accepted since has a new deadline with a job of its own.
    let lapsed = booking.expires_at.is_some_and(|deadline| deadline <= now)
        && matches!(
            booking.status,
            BookingStatus::Requested | BookingStatus::PendingPayment
        );
    if !lapsed {
        return Ok(());
    }
    move_booking(
        &mut tx,
        &Permit::for_system(tenant.id, BookingAction::RespondAny),
        tenant,
        booking,
        (Action::Expire, Actor::System, None),
        now,
    )
    .await?;
    tx.commit().await
}

/// Runs at once what fell due in a tenant by its clock: requests and holds past their
/// deadline expire, confirmed stays whose check-out time has come complete. A test clock's
/// advance calls it, since its jumps do not wait for the scheduled jobs.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn run_due(db: &Db, tenant: &Tenant) -> Result<(), ApiError> {
    for id in store::lapsed_in(db, tenant.id, tenant.now()).await? {
        expire_if_lapsed(db, tenant, id).await?;
    }
    for id in store::checking_out_in(db, tenant.id, completion_horizon(tenant)).await? {
        complete_stay(db, tenant, id).await?;
    }
    Ok(())
}

/// The latest check-out date that may be due in the tenant: a property's own time zone is
/// at most a day ahead of the tenant's; `complete_stay` decides by the property's clock.
fn completion_horizon(tenant: &Tenant) -> time::Date {
    tenant.today() + time::Duration::days(1)
}

#[tracing::instrument(skip_all)]
async fn complete(context: JobContext, _job: CompleteStays) -> Result<(), JobError> {
    let db = &context.state.db;
    // No time zone is more than a day ahead of UTC: later check-outs are not due anywhere yet
    // (test clocks ahead of the wall clock run their own completions when advanced).
    let horizon = time::OffsetDateTime::now_utc().date() + time::Duration::days(1);
    let due = store::confirmed_checking_out_by(db, horizon, COMPLETION_BATCH).await?;
    let mut tenants: HashMap<TenantId, Tenant> = HashMap::new();
    let (mut completed, mut failed) = (0, 0);
    for (tenant_id, id, check_out) in due {
        let tenant = match tenants.entry(tenant_id) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => match tenants::find_by_id(db, tenant_id).await? {
                Some(tenant) => slot.insert(tenant),
                None => continue,
            },
        };
        // The tenant's today: its time zone, and a test tenant's own clock.
        if check_out > completion_horizon(tenant) {
            continue;
        }
        // One stay that cannot be completed must not hold up the others.
        match complete_stay(db, tenant, id).await {
            Ok(true) => completed += 1,
            Ok(false) => {}
            Err(err) => {
                failed += 1;
                tracing::warn!(booking_id = %id, error = %err, "a stay could not be completed");
            }
        }
    }
    tracing::info!(completed, failed, "completed stays");
    if failed > 0 {
        return Err(JobError::Retry(format!(
            "{failed} stays could not be completed"
        )));
    }
    Ok(())
}

/// Completes one confirmed stay once its check-out time (the property's, in its time zone)
/// has come; `false` when it is no longer confirmed or not due yet.
#[tracing::instrument(skip(db, tenant), fields(tenant = %tenant.slug))]
async fn complete_stay(db: &Db, tenant: &Tenant, id: BookingId) -> Result<bool, ApiError> {
    let Some(booking) = store::get(db, tenant.id, id).await? else {
        return Ok(false);
    };
    let rules = properties::stay_rules(db, tenant.id, booking.property_id).await?;
    let now = tenant.now();
    if rules
        .in_force(&tenant.settings, now)
        .check_out_at(booking.check_out)
        > now
    {
        return Ok(false);
    }
    let mut tx = db.begin().await?;
    let Some(booking) = store::get_in(&mut tx, tenant.id, id).await? else {
        return Ok(false);
    };
    if booking.status != BookingStatus::Confirmed {
        return Ok(false);
    }
    move_booking(
        &mut tx,
        &Permit::for_system(tenant.id, BookingAction::RespondAny),
        tenant,
        booking,
        (Action::Complete, Actor::System, None),
        tenant.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Who hears of a booking reaching a status: the guest always; the host of requests,
/// confirmations and cancellations.
fn host_hears(status: BookingStatus) -> bool {
    matches!(
        status,
        BookingStatus::Requested | BookingStatus::Confirmed | BookingStatus::Cancelled
    )
}

#[tracing::instrument(skip(context), fields(booking = %job.booking_id, status = job.status.as_str()))]
async fn notify(context: JobContext, job: NotifyBooking) -> Result<(), JobError> {
    let db = &context.state.db;
    let tenant = tenant_of(db, &context).await?;
    let Some(booking) = store::get(db, tenant.id, BookingId(job.booking_id)).await? else {
        return Err(JobError::Permanent("the booking does not exist".into()));
    };
    // An invitation to pay is pointless once the booking was paid (as its host accepted it).
    if job.status == BookingStatus::PendingPayment && booking.status.is_paid_for() {
        return Ok(());
    }
    let guest = user(db, &tenant, booking.guest_id).await?;
    let mut recipients = vec![(guest.clone(), false)];
    if host_hears(job.status) {
        recipients.push((user(db, &tenant, booking.host_id).await?, true));
    }
    let brand = Branding::for_tenant(&tenant);
    let mut emails = Vec::new();
    for (recipient, for_host) in &recipients {
        let template = template(&tenant, &booking, job.status, recipient, &guest, *for_host);
        let email = OutgoingEmail::compose(recipient.email.clone(), &template, &brand)?;
        // One message per booking, status and recipient, however often this job runs.
        let unique_key = format!(
            "booking:{}:{}:{}",
            booking.id,
            job.status.as_str(),
            if *for_host { "host" } else { "guest" }
        );
        emails.push((email, unique_key));
    }
    let mut tx = db.begin().await?;
    for (email, unique_key) in emails {
        mail::enqueue(&mut tx, Some(tenant.id), email, Some(unique_key)).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn user(db: &Db, tenant: &Tenant, id: UserId) -> Result<User, ApiError> {
    users::find(db, tenant.id, id)
        .await?
        .ok_or_else(|| ApiError::internal(format!("user {id} of a booking does not exist")))
}

fn template(
    tenant: &Tenant,
    booking: &Booking,
    status: BookingStatus,
    recipient: &User,
    guest: &User,
    for_host: bool,
) -> Template {
    Template::Booking(Box::new(BookingMessage {
        status: status.as_str().to_owned(),
        for_host,
        first_name: recipient.first_name.clone(),
        guest_name: format!("{} {}", guest.first_name, guest.last_name),
        property_name: booking.property_name.clone(),
        reference: booking.id.to_string(),
        check_in: format_date(booking.check_in),
        check_out: format_date(booking.check_out),
        nights: booking.nights(),
        guests: booking.guests,
        total: booking.total.to_string(),
        refund: booking.refund.as_ref().map(Money::to_string),
        paid_at_property: booking.payment_collection == PaymentCollection::AtProperty,
        cancelled_by: booking.cancelled_by.map(|by| by.as_str().to_owned()),
        hold_minutes: tenant.settings.hold_minutes,
        request_expiry_hours: tenant.settings.request_expiry_hours,
    }))
}
