//! Reviews' background work: publishing reviews still waiting for the other side when their
//! stay's window closes, and the emails (a review published to the host, a reply to the guest,
//! the invitation to review at check-out).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::service;
use crate::{
    app::AppState,
    bookings::{model::Booking, service as bookings},
    dates::format_date,
    db::Db,
    ids::{BookingId, ReviewId, TenantId, UserId},
    jobs::{Job, JobContext, JobError, JobRegistry, Schedule},
    mail::{self, Branding, OutgoingEmail, Template, templates::ReviewMessage},
    tenants::{Tenant, service as tenants},
    users::service as users,
};

/// What a review email announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// To the property's host: the review is public.
    Published,
    /// To the review's author: the host replied.
    Replied,
}

/// Emails the host about a published review, or its author about the host's reply.
#[derive(Debug, Serialize, Deserialize)]
pub struct NotifyReview {
    pub review_id: Uuid,
    pub notice: Notice,
}

impl Job for NotifyReview {
    const KIND: &'static str = "reviews.notify";
}

/// Invites the guest of a stay that just completed to review it.
#[derive(Debug, Serialize, Deserialize)]
pub struct InviteToReview {
    pub booking_id: Uuid,
}

impl Job for InviteToReview {
    const KIND: &'static str = "reviews.invite";
}

/// Publishes reviews whose stay's review window has closed in their marketplace's time zone
/// while they waited for the other side.
#[derive(Debug, Serialize, Deserialize)]
pub struct PublishDueReviews {}

impl Job for PublishDueReviews {
    const KIND: &'static str = "reviews.publish_due";
    const MAX_ATTEMPTS: u32 = 3;
}

pub fn register_jobs(registry: &mut JobRegistry) {
    registry
        .register(notify)
        .register(invite)
        .register(publish_due)
        .every(
            Schedule::every(Duration::from_secs(900)),
            PublishDueReviews {},
        );
}

async fn tenant_of(db: &Db, context: &JobContext) -> Result<Tenant, JobError> {
    let id = context
        .tenant
        .ok_or_else(|| JobError::Permanent("a review job without its tenant".into()))?;
    tenants::find_by_id(db, id)
        .await?
        .ok_or_else(|| JobError::Permanent(format!("tenant {} does not exist", id.0)))
}

#[tracing::instrument(skip_all)]
async fn publish_due(context: JobContext, _job: PublishDueReviews) -> Result<(), JobError> {
    let state = &context.state;
    // No time zone is more than a day ahead of UTC: later windows are closed nowhere yet
    // (test clocks ahead of the wall clock publish their own when advanced).
    let horizon = time::OffsetDateTime::now_utc().date() + time::Duration::days(1);
    let mut failed = 0;
    for tenant_id in service::tenants_with_pending_by(state, horizon).await? {
        let Some(tenant) = tenants::find_by_id(&state.db, tenant_id).await? else {
            continue;
        };
        // One tenant's failure must not hold up the others.
        if let Err(err) = service::run_due(state, &tenant).await {
            failed += 1;
            tracing::warn!(tenant = %tenant.slug, error = %err, "due reviews were not published");
        }
    }
    if failed > 0 {
        return Err(JobError::Retry(format!(
            "{failed} tenants' due reviews were not published"
        )));
    }
    Ok(())
}

async fn booking_of(db: &Db, tenant: TenantId, id: BookingId) -> Result<Booking, JobError> {
    bookings::find(db, tenant, id)
        .await?
        .ok_or_else(|| JobError::Permanent("the booking does not exist".into()))
}

/// Queues `message` to `recipient`, once per `unique_key` however often the job runs.
async fn send(
    state: &AppState,
    tenant: &Tenant,
    (recipient, message): (UserId, ReviewMessage),
    unique_key: String,
) -> Result<(), JobError> {
    let db = &state.db;
    let user = users::find(db, tenant.id, recipient)
        .await?
        .ok_or_else(|| JobError::Permanent("the recipient does not exist".into()))?;
    let message = ReviewMessage {
        first_name: user.first_name.clone(),
        ..message
    };
    let email = OutgoingEmail::compose(
        user.email.clone(),
        &Template::Review(Box::new(message)),
        &Branding::for_tenant(tenant),
    )?;
    let mut tx = db.begin().await?;
    mail::enqueue(&mut tx, Some(tenant.id), email, Some(unique_key)).await?;
    tx.commit().await.map_err(JobError::from)
}

fn message(kind: &str, booking: &Booking) -> ReviewMessage {
    ReviewMessage {
        kind: kind.to_owned(),
        first_name: String::new(),
        property_name: booking.property_name.clone(),
        reference: booking.id.to_string(),
        check_in: format_date(booking.check_in),
        check_out: format_date(booking.check_out),
        rating: 0,
        text: String::new(),
        review_until: String::new(),
    }
}

#[tracing::instrument(skip(context), fields(review = %job.review_id, notice = ?job.notice))]
async fn notify(context: JobContext, job: NotifyReview) -> Result<(), JobError> {
    let state = &context.state;
    let tenant = tenant_of(&state.db, &context).await?;
    let Some(review) = service::find(state, tenant.id, ReviewId(job.review_id)).await? else {
        // Deleted since: nothing to announce.
        return Ok(());
    };
    let booking = booking_of(&state.db, tenant.id, review.booking_id).await?;
    let (recipient, kind, text) = match job.notice {
        Notice::Published => (booking.host_id, "published", review.comment.clone()),
        Notice::Replied => (
            review.author_id,
            "replied",
            review
                .reply
                .as_ref()
                .map(|reply| reply.text.clone())
                .unwrap_or_default(),
        ),
    };
    let message = ReviewMessage {
        rating: review.rating.get(),
        text,
        ..message(kind, &booking)
    };
    let unique_key = format!("review:{}:{kind}", review.id);
    send(state, &tenant, (recipient, message), unique_key).await
}

#[tracing::instrument(skip(context), fields(booking = %job.booking_id))]
async fn invite(context: JobContext, job: InviteToReview) -> Result<(), JobError> {
    let state = &context.state;
    let tenant = tenant_of(&state.db, &context).await?;
    let booking = booking_of(&state.db, tenant.id, BookingId(job.booking_id)).await?;
    let last_day = service::last_review_day(&tenant, booking.check_out);
    let message = ReviewMessage {
        review_until: format_date(last_day),
        ..message("invite", &booking)
    };
    let unique_key = format!("review:{}:invite", booking.id);
    send(state, &tenant, (booking.guest_id, message), unique_key).await
}
