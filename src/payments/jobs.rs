//! Payments' background work: processing provider webhook events, asking the provider for
//! refunds and voids, delivering the simulated provider's webhooks, and making payouts payable.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{service, simulated::SendWebhook};
use crate::{
    bookings::service as bookings,
    dates::format_date,
    db::Db,
    error::ApiError,
    ids::{BookingId, PaymentId, PayoutId, RefundId},
    jobs::{Job, JobContext, JobError, JobRegistry},
    mail::{self, Branding, OutgoingEmail, Template, templates::PaymentMessage},
    money::Money,
    tenants::{Tenant, service as tenants},
    users::service as users,
};

/// Applies a stored provider event (exactly once).
#[derive(Debug, Serialize, Deserialize)]
pub struct ProcessProviderEvent {
    pub provider: String,
    pub event_id: String,
}

impl Job for ProcessProviderEvent {
    const KIND: &'static str = "payments.process_event";
    /// A payment may be recorded moments after its provider's first event: retried until then.
    const MAX_ATTEMPTS: u32 = 8;
}

/// Asks the provider again to create the intent of a payment whose first request it never
/// answered, under the same idempotency key.
#[derive(Debug, Serialize, Deserialize)]
pub struct AskProvider {
    pub payment_id: Uuid,
}

impl Job for AskProvider {
    const KIND: &'static str = "payments.ask_provider";
    /// With backoff doubling to its cap, about a day of outage.
    const MAX_ATTEMPTS: u32 = 30;
}

/// Asks the provider for a recorded refund.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExecuteRefund {
    pub refund_id: Uuid,
}

impl Job for ExecuteRefund {
    const KIND: &'static str = "payments.refund";
    const MAX_ATTEMPTS: u32 = 10;
}

/// Voids an authorization, or a payment under way, that its booking no longer wants.
#[derive(Debug, Serialize, Deserialize)]
pub struct VoidPayment {
    pub payment_id: Uuid,
}

impl Job for VoidPayment {
    const KIND: &'static str = "payments.void";
    const MAX_ATTEMPTS: u32 = 10;
}

/// Which email a payment job sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    /// To the guest, for a payment that went through.
    Receipt,
    /// To the host, for a payout now payable.
    Payout,
}

/// Emails the guest a receipt, or the host a payout notice, for a booking.
#[derive(Debug, Serialize, Deserialize)]
pub struct EmailAboutMoney {
    pub booking_id: Uuid,
    pub kind: EmailKind,
    pub amount: Money,
}

impl Job for EmailAboutMoney {
    const KIND: &'static str = "payments.email";
}

/// Makes a payout payable at its time, 24 hours after check-in (enqueued to run then).
#[derive(Debug, Serialize, Deserialize)]
pub struct MakePayoutPayable {
    pub payout_id: Uuid,
}

impl Job for MakePayoutPayable {
    const KIND: &'static str = "payments.payout_due";
}

pub fn register_jobs(registry: &mut JobRegistry) {
    registry
        .register(process_event)
        .register(ask_provider)
        .register(execute_refund)
        .register(void)
        .register(send_simulated_webhook)
        .register(payout_due)
        .register(email);
}

async fn tenant_of(db: &Db, context: &JobContext) -> Result<Tenant, JobError> {
    let id = context
        .tenant
        .ok_or_else(|| JobError::Permanent("a payment job without its tenant".into()))?;
    tenants::find_by_id(db, id)
        .await?
        .ok_or_else(|| JobError::Permanent(format!("tenant {} does not exist", id.0)))
}

/// A missing payment (not recorded yet) or an unreachable provider is worth another try.
fn retried(err: ApiError) -> JobError {
    match err {
        ApiError::NotFound(what) => JobError::Retry(format!("{what} not found yet")),
        other => other.into(),
    }
}

#[tracing::instrument(skip(context), fields(event = %job.event_id))]
async fn process_event(context: JobContext, job: ProcessProviderEvent) -> Result<(), JobError> {
    let tenant = tenant_of(&context.state.db, &context).await?;
    service::process_event(&context.state, &tenant, (&job.provider, &job.event_id))
        .await
        .map_err(retried)
}

#[tracing::instrument(skip(context), fields(payment = %job.payment_id))]
async fn ask_provider(context: JobContext, job: AskProvider) -> Result<(), JobError> {
    let tenant = tenant_of(&context.state.db, &context).await?;
    service::ask_provider_again(&context.state, &tenant, PaymentId(job.payment_id))
        .await
        .map_err(retried)
}

#[tracing::instrument(skip(context), fields(refund = %job.refund_id))]
async fn execute_refund(context: JobContext, job: ExecuteRefund) -> Result<(), JobError> {
    let tenant = tenant_of(&context.state.db, &context).await?;
    service::execute_refund(&context.state, &tenant, RefundId(job.refund_id))
        .await
        .map(drop)
        .map_err(retried)
}

#[tracing::instrument(skip(context), fields(payment = %job.payment_id))]
async fn void(context: JobContext, job: VoidPayment) -> Result<(), JobError> {
    let tenant = tenant_of(&context.state.db, &context).await?;
    service::void(&context.state, &tenant, PaymentId(job.payment_id))
        .await
        .map_err(retried)
}

#[tracing::instrument(skip(context, job), fields(event = %job.body.id))]
async fn send_simulated_webhook(context: JobContext, job: SendWebhook) -> Result<(), JobError> {
    let tenant = tenant_of(&context.state.db, &context).await?;
    service::deliver_simulated(&context.state, &tenant, &job.body)
        .await
        .map_err(JobError::from)
}

#[tracing::instrument(skip(context), fields(payout = %job.payout_id))]
async fn payout_due(context: JobContext, job: MakePayoutPayable) -> Result<(), JobError> {
    let tenant = tenant_of(&context.state.db, &context).await?;
    service::make_payable(&context.state, &tenant, PayoutId(job.payout_id))
        .await
        .map_err(JobError::from)
}

#[tracing::instrument(skip(context, job), fields(booking = %job.booking_id, kind = ?job.kind))]
async fn email(context: JobContext, job: EmailAboutMoney) -> Result<(), JobError> {
    let db = &context.state.db;
    let tenant = tenant_of(db, &context).await?;
    let booking = bookings::find(db, tenant.id, BookingId(job.booking_id))
        .await?
        .ok_or_else(|| JobError::Permanent("the booking does not exist".into()))?;
    let (recipient, kind) = match job.kind {
        EmailKind::Receipt => (booking.guest_id, "receipt"),
        EmailKind::Payout => (booking.host_id, "payout"),
    };
    let user = users::find(db, tenant.id, recipient)
        .await?
        .ok_or_else(|| JobError::Permanent("the recipient does not exist".into()))?;
    let template = Template::Payment(Box::new(PaymentMessage {
        kind: kind.to_owned(),
        first_name: user.first_name.clone(),
        property_name: booking.property_name.clone(),
        reference: booking.id.to_string(),
        check_in: format_date(booking.check_in),
        check_out: format_date(booking.check_out),
        amount: job.amount.to_string(),
    }));
    let email = OutgoingEmail::compose(
        user.email.clone(),
        &template,
        &Branding::for_tenant(&tenant),
    )?;
    let mut tx = db.begin().await?;
    // One message per booking and kind, however often this job runs.
    let unique_key = format!("payment:{}:{kind}", booking.id);
    mail::enqueue(&mut tx, Some(tenant.id), email, Some(unique_key)).await?;
    tx.commit().await?;
    Ok(())
}
