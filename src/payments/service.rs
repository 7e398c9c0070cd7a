//! Payment rules: who may pay for, see and refund what; how a provider's outcome moves a
//! payment and its booking; refunds by policy and by admins; payouts to hosts.
//!
//! A provider is never called inside a database transaction: a payment is recorded first (its
//! idempotency key claimed in the same transaction), the provider is called with the payment's
//! id as its idempotency key, and its answer is recorded in a second transaction. The same
//! outcome may also arrive by webhook; statuses only move forward, so the order does not matter.

use std::sync::Arc;

use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    jobs::{
        AskProvider, EmailAboutMoney, EmailKind, ExecuteRefund, MakePayoutPayable,
        ProcessProviderEvent, VoidPayment,
    },
    model::{Capture, Payment, PaymentStatus, Payout, PayoutStatus, Refund, RefundStatus, Split},
    provider::{
        IntentOutcome, NewIntent, PaymentProvider, ProviderError, REFUNDS_UPDATED, WebhookDelivery,
    },
    simulated::{self, Simulated},
    store::{self, PayoutQuery, Scope},
};
use crate::{
    app::AppState,
    auth::Principal,
    authz::{PaymentAction, PayoutAction, Permit},
    bookings::{
        model::{Booking, BookingStatus},
        service as bookings,
    },
    db::{Timestamp, Tx},
    error::{ApiError, ErrorCode},
    events,
    idempotency::{self, Claim, IdempotencyKey},
    ids::{BookingId, PaymentId, PayoutId, RefundId, UserId},
    jobs::{self, EnqueueOptions, Job},
    money::Money,
    payment_provider::{self, model::ProviderSettings},
    pricing::engine::LineCode,
    properties::service as properties,
    tenants::{Tenant, settings::PaymentCollection},
};

/// The provider that takes the tenant's new payments: Stripe once its settings are stored,
/// else the simulated one (test tenants can store no other).
pub async fn provider_for(
    state: &AppState,
    tenant: &Tenant,
) -> Result<Arc<dyn PaymentProvider>, ApiError> {
    let settings = payment_provider::service::for_payments(state, tenant.id).await?;
    provider_from(state, tenant, settings.kind().as_str(), settings)
}

/// The provider a payment was made with, or a webhook names: 404 for an unknown one, or for
/// Stripe when the tenant has no Stripe settings.
async fn provider_named(
    state: &AppState,
    tenant: &Tenant,
    name: &str,
) -> Result<Arc<dyn PaymentProvider>, ApiError> {
    let settings = payment_provider::service::for_payments(state, tenant.id).await?;
    provider_from(state, tenant, name, settings)
}

fn provider_from(
    state: &AppState,
    tenant: &Tenant,
    name: &str,
    settings: ProviderSettings,
) -> Result<Arc<dyn PaymentProvider>, ApiError> {
    match (name, settings) {
        ("simulated", _) => Ok(Arc::new(Simulated::new(
            state.db.clone(),
            state.secrets.clone(),
            tenant.id,
        ))),
        ("stripe", ProviderSettings::Stripe(settings)) => Ok(Arc::new(super::stripe::Stripe::new(
            state.outbound.clone(),
            settings,
        ))),
        _ => Err(ApiError::NotFound("payment provider")),
    }
}

fn provider_failure(err: ProviderError) -> ApiError {
    match err {
        ProviderError::Unavailable(cause) => {
            tracing::warn!(%cause, "the payment provider is unavailable");
            ApiError::Unavailable("payment provider")
        }
        ProviderError::Refused(cause) => ApiError::internal(cause),
    }
}

fn in_tenant(tenant: &Tenant) -> EnqueueOptions {
    EnqueueOptions {
        tenant: Some(tenant.id),
        ..EnqueueOptions::default()
    }
}

async fn enqueue<J: Job>(tx: &mut Tx, tenant: &Tenant, job: &J) -> Result<(), ApiError> {
    jobs::enqueue(tx, job, in_tenant(tenant)).await.map(drop)
}

fn summary(payment: &Payment) -> Value {
    json!({
        "id": payment.id,
        "booking_id": payment.booking_id,
        "status": payment.status.as_str(),
        "amount": payment.amount,
        "captured": payment.money(payment.captured),
        "refunded": payment.money(payment.refunded),
        "provider": payment.provider,
        "failure_code": payment.failure_code,
    })
}

/// The outcome of a create: new, or the payment an earlier request with the same key made, as
/// it is now.
pub enum Created<T> {
    New(T),
    Replayed(T),
}

/// Pays for (or, while a request waits for the host, authorizes) the caller's booking.
#[tracing::instrument(skip(state, tenant, principal, payment_method, idempotency_key), fields(tenant = %tenant.slug))]
pub async fn create(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    booking_id: BookingId,
    payment_method: String,
    idempotency_key: Option<&str>,
) -> Result<Created<Payment>, ApiError> {
    let caller = principal.user()?;
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, PaymentAction::CreateOwn)
        .await?;
    let request = json!({ "booking_id": booking_id, "payment_method": payment_method });
    let key = IdempotencyKey::new(idempotency_key, "create_payment", &request)?;
    let started = start(
        state,
        tenant,
        (&permit, caller.user_id),
        (booking_id, payment_method),
        &key,
    )
    .await;
    let payment = match started {
        Ok(Started::New(payment)) => *payment,
        Ok(Started::Replayed(id)) => {
            let payment = stored(state, tenant, id).await?;
            // The first attempt never heard from the provider: ask again, under the same key.
            let unanswered =
                payment.status == PaymentStatus::Processing && payment.provider_reference.is_none();
            return Ok(Created::Replayed(if unanswered {
                send(state, tenant, payment).await?
            } else {
                payment
            }));
        }
        Err(err) => return Err(remembered(state, tenant, (caller.user_id, &key), err).await),
    };
    send(state, tenant, payment).await.map(Created::New)
}

/// Asks the provider to create the payment's intent and records its answer. Without an answer
/// the payment stays `processing` and a job asks again, with backoff, until the provider
/// answers; a retry of the request with the same key asks at once as well.
async fn send(state: &AppState, tenant: &Tenant, payment: Payment) -> Result<Payment, ApiError> {
    if let Some(answered) = ask_provider(state, tenant, &payment).await? {
        return Ok(answered);
    }
    let job = AskProvider {
        payment_id: payment.id.0,
    };
    let options = EnqueueOptions {
        unique_key: Some(format!("payments.ask_provider:{}", payment.id)),
        ..in_tenant(tenant)
    };
    let mut tx = state.db.begin().await?;
    jobs::enqueue(&mut tx, &job, options).await?;
    tx.commit().await?;
    Ok(payment)
}

/// Asks the provider again for a payment it never answered (a job); done once it has an
/// answer, whoever got it.
pub(super) async fn ask_provider_again(
    state: &AppState,
    tenant: &Tenant,
    id: PaymentId,
) -> Result<(), ApiError> {
    let payment = stored(state, tenant, id).await?;
    if payment.status != PaymentStatus::Processing || payment.provider_reference.is_some() {
        return Ok(());
    }
    match ask_provider(state, tenant, &payment).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::Unavailable("payment provider")),
    }
}

/// Asks the provider to create the payment's intent (the payment's id is the provider's
/// idempotency key, so asking again never charges twice) and records its answer; `None` when
/// the provider did not answer.
async fn ask_provider(
    state: &AppState,
    tenant: &Tenant,
    payment: &Payment,
) -> Result<Option<Payment>, ApiError> {
    let intent = NewIntent {
        amount: payment.amount.clone(),
        capture: payment.capture,
        payment_method: payment.payment_method.clone(),
        idempotency_key: payment.id.to_string(),
        payment_id: payment.id.to_string(),
    };
    let provider = provider_named(state, tenant, &payment.provider).await?;
    let outcome = match provider.create(&intent).await {
        Ok(outcome) => outcome,
        // Refused outright (a payment method the provider does not know, say): the attempt
        // failed, with no intent made, and the guest may pay again.
        Err(ProviderError::Refused(cause)) => {
            tracing::warn!(payment = %payment.id, %cause, "the provider refused the payment");
            IntentOutcome {
                reference: String::new(),
                status: PaymentStatus::Failed,
                failure_code: Some("provider_refused".into()),
            }
        }
        Err(err) => {
            tracing::warn!(payment = %payment.id, error = %err, "the provider did not answer");
            return Ok(None);
        }
    };
    record_outcome(state, tenant, payment.id, &outcome)
        .await
        .map(Some)
}

/// Records a keyed request's failure as its answer (when a retry would meet it again), and
/// hands the failure back.
async fn remembered(
    state: &AppState,
    tenant: &Tenant,
    (caller, key): (UserId, &IdempotencyKey),
    err: ApiError,
) -> ApiError {
    if let Err(unrecorded) =
        idempotency::remember_failure(&state.db, tenant.id, caller, key, &err).await
    {
        tracing::warn!(error = %unrecorded, "the failure of a keyed request was not recorded");
    }
    err
}

async fn stored(state: &AppState, tenant: &Tenant, id: PaymentId) -> Result<Payment, ApiError> {
    store::get(&state.db, tenant.id, id)
        .await?
        .ok_or_else(|| ApiError::internal("an idempotent answer's payment is gone"))
}

enum Started {
    New(Box<Payment>),
    /// The key was answered before, with this payment.
    Replayed(PaymentId),
}

/// The id of the payment or refund a keyed request's first answer names.
fn answered_id(replay: idempotency::Replay, field: &str) -> Result<Uuid, ApiError> {
    replay
        .into_result()?
        .get(field)
        .and_then(Value::as_str)
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| ApiError::internal(format!("an idempotent answer names no {field}")))
}

/// Records the payment attempt, its key claimed in the same transaction; for a key answered
/// before, the id of the payment it made.
async fn start(
    state: &AppState,
    tenant: &Tenant,
    (permit, caller): (&Permit<PaymentAction>, UserId),
    (booking_id, payment_method): (BookingId, String),
    key: &IdempotencyKey,
) -> Result<Started, ApiError> {
    let now = tenant.now();
    // Read before the transaction: opening sealed settings may write (a reseal).
    let provider = provider_for(state, tenant).await?.name();
    let mut tx = state.db.begin().await?;
    if let Claim::Replay(replay) = idempotency::claim(&mut tx, tenant.id, caller, key, now).await? {
        return Ok(Started::Replayed(PaymentId(answered_id(
            replay,
            "payment_id",
        )?)));
    }
    let booking = bookings::locked(&mut tx, tenant.id, booking_id)
        .await?
        .filter(|booking| booking.guest_id == caller)
        .ok_or(ApiError::NotFound("booking"))?;
    if booking.payment_collection == PaymentCollection::AtProperty {
        return Err(ApiError::Conflict {
            code: ErrorCode::PaymentNotRequired,
            detail: "This booking is paid at the property: there is nothing to pay online.".into(),
        });
    }
    let capture = match booking.status {
        BookingStatus::PendingPayment => Capture::Automatic,
        // Authorized now, captured when the host accepts.
        BookingStatus::Requested => Capture::Manual,
        other => {
            return Err(ApiError::StatusConflict {
                code: ErrorCode::BookingNotPayable,
                current: other.as_str(),
                detail: format!("The booking is {}: it cannot be paid for.", other.as_str()),
            });
        }
    };
    if let Some(live) = store::live_of_booking_in(&mut tx, tenant.id, booking.id).await? {
        return Err(ApiError::StatusConflict {
            code: ErrorCode::BookingNotPayable,
            current: booking.status.as_str(),
            detail: format!(
                "The booking already has a payment ({}, {}).",
                live.id,
                live.status.as_str()
            ),
        });
    }
    let payment = Payment {
        tenant_id: tenant.id,
        id: PaymentId(Uuid::now_v7()),
        booking_id: booking.id,
        guest_id: booking.guest_id,
        host_id: booking.host_id,
        property_id: booking.property_id,
        provider: provider.to_owned(),
        provider_reference: None,
        payment_method,
        capture,
        status: PaymentStatus::Processing,
        failure_code: None,
        amount: booking.total.clone(),
        captured: 0,
        refunded: 0,
        split: Split::default(),
        created_at: now,
        updated_at: now,
    };
    store::insert(&mut tx, permit, &payment).await?;
    let answer = json!({ "payment_id": payment.id });
    idempotency::record(&mut tx, tenant.id, caller, key, 201, &answer).await?;
    tx.commit().await?;
    Ok(Started::New(Box::new(payment)))
}

/// The split of a capture: the platform keeps the booking's service-fee line and its commission
/// on the stay subtotal (every line but the fee and the taxes, at the booking's `host_fee_bps`),
/// the tax line goes to taxes, the host gets the rest.
fn split_of(booking: &Booking, captured: i64) -> Result<Split, ApiError> {
    let sum_of = |keep: &dyn Fn(LineCode) -> bool| -> i64 {
        booking
            .line_items
            .iter()
            .filter(|line| keep(line.code))
            .map(|line| line.amount.amount)
            .sum()
    };
    let service_fee = sum_of(&|code| code == LineCode::PlatformFee);
    let taxes = sum_of(&|code| code == LineCode::Taxes);
    let subtotal = sum_of(&|code| !matches!(code, LineCode::PlatformFee | LineCode::Taxes));
    let commission = booking
        .total
        .with_amount(subtotal)
        .share(booking.host_fee_bps)
        .map_err(ApiError::internal)?
        .amount;
    Split::of(captured, service_fee + commission, taxes).map_err(ApiError::internal)
}

/// When a stay's payout becomes payable: 24 hours after check-in, at the property's check-in
/// time in its time zone.
async fn payable_at(
    tx: &mut Tx,
    tenant: &Tenant,
    booking: &Booking,
) -> Result<Timestamp, ApiError> {
    let rules = properties::stay_rules_in(tx, tenant.id, booking.property_id).await?;
    let check_in = rules
        .in_force(&tenant.settings, tenant.now())
        .check_in_at(booking.check_in);
    Ok(check_in + time::Duration::hours(24))
}

fn system(tenant: &Tenant) -> Permit<PaymentAction> {
    Permit::for_system(tenant.id, PaymentAction::RefundAny)
}

/// Records what the provider answered about the payment `id`.
async fn record_outcome(
    state: &AppState,
    tenant: &Tenant,
    id: PaymentId,
    outcome: &IntentOutcome,
) -> Result<Payment, ApiError> {
    let mut tx = state.db.begin().await?;
    let payment = apply(&mut tx, tenant, id, outcome).await?;
    tx.commit().await?;
    Ok(payment)
}

/// Moves the payment `id` to the provider's news, if that is forward, with what follows: the
/// booking confirmed and the payout owed on success, or (when the booking can no longer be
/// confirmed) everything refunded at once; failures announced; stray authorizations voided.
async fn apply(
    tx: &mut Tx,
    tenant: &Tenant,
    id: PaymentId,
    news: &IntentOutcome,
) -> Result<Payment, ApiError> {
    let now = tenant.now();
    // Locked in the order cancellation locks them: the booking, then its payment.
    let booking_id = store::booking_of(tx, tenant.id, id)
        .await?
        .ok_or(ApiError::NotFound("payment"))?;
    let booking = bookings::locked(tx, tenant.id, booking_id)
        .await?
        .ok_or_else(|| ApiError::internal("a payment's booking is gone"))?;
    let mut payment = store::get_in(tx, tenant.id, id)
        .await?
        .ok_or(ApiError::NotFound("payment"))?;
    let permit = system(tenant);
    // An attempt the provider refused made no intent, so it has no reference to learn.
    let learned_reference = payment.provider_reference.is_none() && !news.reference.is_empty();
    if learned_reference {
        payment.provider_reference = Some(news.reference.clone());
    }
    // Refunds are ours to record; the provider's word on them changes nothing here.
    let refund_news = matches!(
        news.status,
        PaymentStatus::Refunded | PaymentStatus::PartiallyRefunded
    );
    if refund_news || !payment.status.may_become(news.status) {
        if learned_reference {
            store::update(tx, &permit, &payment).await?;
        }
        return Ok(payment);
    }
    payment.status = news.status;
    payment.failure_code = news.failure_code.clone();
    payment.updated_at = now;
    match news.status {
        PaymentStatus::Succeeded => {
            payment.captured = payment.amount.amount;
            payment.split = split_of(&booking, payment.captured)?;
            store::update(tx, &permit, &payment).await?;
            events::record(
                tx,
                tenant.id,
                "payment.succeeded",
                payment.id.0,
                &summary(&payment),
                now,
            )
            .await?;
            settle(tx, tenant, &mut payment, booking, now).await?;
        }
        PaymentStatus::RequiresCapture if booking.status != BookingStatus::Requested => {
            store::update(tx, &permit, &payment).await?;
            enqueue(
                tx,
                tenant,
                &VoidPayment {
                    payment_id: payment.id.0,
                },
            )
            .await?;
        }
        PaymentStatus::Failed => {
            store::update(tx, &permit, &payment).await?;
            events::record(
                tx,
                tenant.id,
                "payment.failed",
                payment.id.0,
                &summary(&payment),
                now,
            )
            .await?;
        }
        _ => store::update(tx, &permit, &payment).await?,
    }
    Ok(payment)
}

/// After a capture: confirms the booking it paid for and records the host's payout; a booking
/// that can no longer be confirmed (its hold expired, it was cancelled) gets everything back.
async fn settle(
    tx: &mut Tx,
    tenant: &Tenant,
    payment: &mut Payment,
    booking: Booking,
    now: Timestamp,
) -> Result<(), ApiError> {
    // A hold past its deadline is over, whether or not its expiry job has run yet.
    let lapsed = booking.expires_at.is_some_and(|deadline| deadline <= now);
    let booking = match booking.status {
        BookingStatus::PendingPayment if !lapsed => bookings::pay(tx, tenant, booking, now).await?,
        BookingStatus::Confirmed => booking,
        other => {
            tracing::warn!(payment = %payment.id, booking = %booking.id, status = other.as_str(),
                lapsed, "a payment succeeded for a booking that can no longer be confirmed: refunding it");
            let everything = payment.refundable();
            record_refund(
                tx,
                tenant,
                payment,
                (everything, "booking_not_payable", RefundedBy::Staybase),
                None,
                now,
            )
            .await?;
            return Ok(());
        }
    };
    // One payout per booking, whichever of its outcomes' arrivals gets here.
    if store::payout_of_booking_in(tx, tenant.id, booking.id)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let receipt = EmailAboutMoney {
        booking_id: booking.id.0,
        kind: EmailKind::Receipt,
        amount: payment.money(payment.captured),
    };
    enqueue(tx, tenant, &receipt).await?;
    let payout = Payout {
        tenant_id: tenant.id,
        id: PayoutId(Uuid::now_v7()),
        booking_id: booking.id,
        payment_id: payment.id,
        host_id: booking.host_id,
        amount: payment.money(payment.split.host_payout),
        owed_back: 0,
        status: PayoutStatus::Pending,
        payable_at: payable_at(tx, tenant, &booking).await?,
        paid_at: None,
        paid_by: None,
    };
    store::save_payout(tx, &system(tenant), &payout, now).await?;
    let due = EnqueueOptions {
        run_at: Some(payout.payable_at),
        ..in_tenant(tenant)
    };
    jobs::enqueue(
        tx,
        &MakePayoutPayable {
            payout_id: payout.id.0,
        },
        due,
    )
    .await
    .map(drop)
}

/// Who gives the money back: Staybase, by asking the provider, or the provider, which already
/// did (a refund made in its dashboard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefundedBy {
    Staybase,
    Provider,
}

/// Gives back `amount` of a captured payment: the split shrinks in proportion, the host's
/// payout with it, and the provider is asked by a job (and at once by an admin's request)
/// unless it made the refund itself.
async fn record_refund(
    tx: &mut Tx,
    tenant: &Tenant,
    payment: &mut Payment,
    (amount, reason, by): (i64, &str, RefundedBy),
    requested_by: Option<UserId>,
    now: Timestamp,
) -> Result<Refund, ApiError> {
    if amount <= 0 || amount > payment.refundable() {
        return Err(ApiError::Conflict {
            code: ErrorCode::RefundExceedsCaptured,
            detail: format!(
                "At most {} is left to refund.",
                payment.money(payment.refundable())
            ),
        });
    }
    let parts = payment.split.refund_parts(amount);
    payment.split = payment.split.minus(&parts);
    payment.refunded += amount;
    payment.status = if payment.refundable() == 0 {
        PaymentStatus::Refunded
    } else {
        PaymentStatus::PartiallyRefunded
    };
    payment.updated_at = now;
    let permit = system(tenant);
    store::update(tx, &permit, payment).await?;
    let refund = Refund {
        tenant_id: tenant.id,
        id: RefundId(Uuid::now_v7()),
        payment_id: payment.id,
        amount: payment.money(amount),
        parts,
        reason: reason.to_owned(),
        status: match by {
            RefundedBy::Staybase => RefundStatus::Pending,
            RefundedBy::Provider => RefundStatus::Succeeded,
        },
        provider_reference: None,
        requested_by,
        created_at: now,
    };
    store::insert_refund(tx, &permit, &refund).await?;
    if by == RefundedBy::Staybase {
        let job = ExecuteRefund {
            refund_id: refund.id.0,
        };
        enqueue(tx, tenant, &job).await?;
    }
    let mut payload = summary(payment);
    payload["refund"] =
        json!({ "id": refund.id, "amount": refund.amount, "reason": refund.reason });
    events::record(
        tx,
        tenant.id,
        "payment.refunded",
        payment.id.0,
        &payload,
        now,
    )
    .await?;
    follow_split(tx, tenant, payment, now).await?;
    Ok(refund)
}

/// Keeps the booking's payout equal to the host's share of the payment; a payment refunded in
/// full cancels it. A payout already paid is history and keeps its amount: what a later refund
/// takes from the host's share is recorded as owed back.
async fn follow_split(
    tx: &mut Tx,
    tenant: &Tenant,
    payment: &Payment,
    now: Timestamp,
) -> Result<(), ApiError> {
    let Some(mut payout) = store::payout_of_booking_in(tx, tenant.id, payment.booking_id).await?
    else {
        return Ok(());
    };
    if payout.status == PayoutStatus::Paid {
        payout.owed_back = payout.amount.amount - payment.split.host_payout;
    } else {
        payout.amount = payment.money(payment.split.host_payout);
        if payment.status == PaymentStatus::Refunded {
            payout.status = PayoutStatus::Canceled;
        }
    }
    store::save_payout(tx, &system(tenant), &payout, now).await
}

/// What a booking's move means for its payment, in the transaction of the move: a cancellation
/// refunds what the policy gives back (at most what is left of the capture); a cancelled,
/// declined or unanswered request voids an authorization. An unpaid hold that expires leaves
/// its payment alone: should it still succeed, it is refunded then.
pub async fn booking_moved(
    tx: &mut Tx,
    tenant: &Tenant,
    (booking, from): (&Booking, BookingStatus),
    now: Timestamp,
) -> Result<(), ApiError> {
    let voids = match booking.status {
        BookingStatus::Cancelled | BookingStatus::Declined => true,
        BookingStatus::Expired => from == BookingStatus::Requested,
        _ => return Ok(()),
    };
    let Some(mut payment) = store::live_of_booking_in(tx, tenant.id, booking.id).await? else {
        return Ok(());
    };
    if payment.status.is_open() {
        if voids {
            enqueue(
                tx,
                tenant,
                &VoidPayment {
                    payment_id: payment.id.0,
                },
            )
            .await?;
        }
        return Ok(());
    }
    let owed = booking
        .refund
        .as_ref()
        .map_or(0, |refund| refund.amount)
        .min(payment.refundable());
    if booking.status == BookingStatus::Cancelled && owed > 0 {
        record_refund(
            tx,
            tenant,
            &mut payment,
            (owed, "cancellation", RefundedBy::Staybase),
            None,
            now,
        )
        .await?;
    }
    Ok(())
}

/// Captures the authorization of a request the host accepts, before the booking moves; the
/// payment, if any, to record in the move's transaction.
pub async fn capture_for_acceptance(
    state: &AppState,
    tenant: &Tenant,
    booking: &Booking,
) -> Result<Option<(PaymentId, IntentOutcome)>, ApiError> {
    let mut tx = state.db.begin().await?;
    let live = store::live_of_booking_in(&mut tx, tenant.id, booking.id).await?;
    tx.commit().await?;
    let Some(payment) = live.filter(|payment| payment.status == PaymentStatus::RequiresCapture)
    else {
        return Ok(None);
    };
    let Some(reference) = payment.provider_reference.as_deref() else {
        return Ok(None);
    };
    let provider = provider_named(state, tenant, &payment.provider).await?;
    let outcome = provider
        .capture(reference, &format!("capture-{}", payment.id))
        .await
        .map_err(provider_failure)?;
    Ok(Some((payment.id, outcome)))
}

/// Records a capture made for an acceptance, in the acceptance's transaction (the booking is
/// locked there already and pending payment now): it confirms the booking.
pub async fn record_acceptance_capture(
    tx: &mut Tx,
    tenant: &Tenant,
    (id, outcome): (PaymentId, IntentOutcome),
) -> Result<(), ApiError> {
    apply(tx, tenant, id, &outcome).await.map(drop)
}

/// Completes a payment that required the guest's action (its guest).
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn confirm(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: PaymentId,
) -> Result<Payment, ApiError> {
    let caller = principal.user()?;
    state
        .authorizer
        .check(&state.db, tenant, principal, PaymentAction::ConfirmOwn)
        .await?;
    let payment = store::get(&state.db, tenant.id, id)
        .await?
        .filter(|payment| payment.guest_id == caller.user_id)
        .ok_or(ApiError::NotFound("payment"))?;
    let reference = match (&payment.status, payment.provider_reference.as_deref()) {
        (PaymentStatus::RequiresAction, Some(reference)) => reference.to_owned(),
        (status, _) => {
            return Err(ApiError::InvalidTransition {
                current: status.as_str(),
                attempted: "confirm",
            });
        }
    };
    let provider = provider_named(state, tenant, &payment.provider).await?;
    let outcome = provider
        .confirm(&reference, &format!("confirm-{}", payment.id))
        .await
        .map_err(provider_failure)?;
    record_outcome(state, tenant, payment.id, &outcome).await
}

/// How the caller stands to a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListRole {
    Guest,
    Host,
    Admin,
}

/// Checks the caller's permission to read as `role`, falling back to the tenant-wide one for
/// a host (a tenant admin who owns properties without the host role).
async fn may_read(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    role: ListRole,
) -> Result<(), ApiError> {
    let check = |action| state.authorizer.check(&state.db, tenant, principal, action);
    match role {
        ListRole::Guest => check(PaymentAction::ReadOwn).await.map(drop),
        ListRole::Host => match check(PaymentAction::ReadHosted).await {
            Err(ApiError::Forbidden(_)) => check(PaymentAction::ReadAny).await.map(drop),
            decided => decided.map(drop),
        },
        ListRole::Admin => check(PaymentAction::ReadAny).await.map(drop),
    }
}

/// The payment, if the caller may see it: its guest, its host, or a tenant admin; others get
/// 404, as if it did not exist.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn get(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: PaymentId,
) -> Result<Payment, ApiError> {
    let caller = principal.user()?;
    let payment = store::get(&state.db, tenant.id, id)
        .await?
        .ok_or(ApiError::NotFound("payment"))?;
    let role = if payment.guest_id == caller.user_id {
        ListRole::Guest
    } else if payment.host_id == caller.user_id {
        ListRole::Host
    } else {
        ListRole::Admin
    };
    match may_read(state, tenant, principal, role).await {
        Ok(()) => Ok(payment),
        Err(ApiError::Forbidden(_)) => Err(ApiError::NotFound("payment")),
        Err(other) => Err(other),
    }
}

pub struct Page<T, Id> {
    pub items: Vec<T>,
    pub next: Option<Id>,
}

fn page<T, Id>(mut items: Vec<T>, limit: u32, id: impl Fn(&T) -> Id) -> Page<T, Id> {
    let limit = limit as usize;
    let next = (items.len() > limit).then(|| {
        items.truncate(limit);
        items.last().map(id)
    });
    Page {
        items,
        next: next.flatten(),
    }
}

/// Payments newest first: the caller's, those of the caller's properties, or all of the
/// tenant's for its admins.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn list(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    role: ListRole,
    (after, limit): (Option<PaymentId>, u32),
) -> Result<Page<Payment, PaymentId>, ApiError> {
    let caller = principal.user()?;
    may_read(state, tenant, principal, role).await?;
    let scope = match role {
        ListRole::Guest => Scope::Guest(caller.user_id),
        ListRole::Host => Scope::Host(caller.user_id),
        ListRole::Admin => Scope::Tenant,
    };
    let payments = store::list(&state.db, tenant.id, scope, (after, limit + 1)).await?;
    Ok(page(payments, limit, |payment| payment.id))
}

/// The refunds of a payment, newest first, for whoever may see the payment.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn refunds(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: PaymentId,
    (after, limit): (Option<RefundId>, u32),
) -> Result<Page<Refund, RefundId>, ApiError> {
    let payment = get(state, tenant, principal, id).await?;
    let refunds = store::refunds_of(&state.db, tenant.id, payment.id, (after, limit + 1)).await?;
    Ok(page(refunds, limit, |refund| refund.id))
}

/// A refund a tenant admin asks for: `amount` (default: all that is left) with a reason.
pub struct NewRefund {
    pub amount: Option<Money>,
    pub reason: String,
}

/// Refunds some or all of a captured payment (tenant admins). Concurrent refunds are counted one
/// after the other under the payment's lock: together they never exceed the capture.
#[tracing::instrument(skip(state, tenant, principal, new, idempotency_key), fields(tenant = %tenant.slug))]
pub async fn refund(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: PaymentId,
    new: NewRefund,
    idempotency_key: Option<&str>,
) -> Result<Created<Refund>, ApiError> {
    let caller = principal.user()?;
    state
        .authorizer
        .check(&state.db, tenant, principal, PaymentAction::RefundAny)
        .await?;
    let request = json!({ "payment_id": id, "amount": new.amount, "reason": new.reason });
    let key = IdempotencyKey::new(idempotency_key, "create_refund", &request)?;
    let recorded = async {
        let now = tenant.now();
        let mut tx = state.db.begin().await?;
        if let Claim::Replay(replay) =
            idempotency::claim(&mut tx, tenant.id, caller.user_id, &key, now).await?
        {
            return Ok(Created::Replayed(RefundId(answered_id(
                replay,
                "refund_id",
            )?)));
        }
        let mut payment = store::get_in(&mut tx, tenant.id, id)
            .await?
            .ok_or(ApiError::NotFound("payment"))?;
        let amount = match &new.amount {
            Some(amount) if amount.currency != payment.amount.currency => {
                return Err(ApiError::validation(
                    "amount.currency",
                    format!(
                        "must be the payment's currency, {}",
                        payment.amount.currency
                    ),
                ));
            }
            Some(amount) => amount.amount,
            None => payment.refundable(),
        };
        let refund = record_refund(
            &mut tx,
            tenant,
            &mut payment,
            (amount, &new.reason, RefundedBy::Staybase),
            Some(caller.user_id),
            now,
        )
        .await?;
        let answer = json!({ "refund_id": refund.id });
        idempotency::record(&mut tx, tenant.id, caller.user_id, &key, 201, &answer).await?;
        tx.commit().await?;
        Ok(Created::New(refund.id))
    }
    .await;
    match recorded {
        Ok(Created::New(refund)) => Ok(Created::New(execute_refund(state, tenant, refund).await?)),
        Ok(Created::Replayed(refund)) => Ok(Created::Replayed(
            store::refund(&state.db, tenant.id, refund)
                .await?
                .ok_or_else(|| ApiError::internal("an idempotent answer's refund is gone"))?,
        )),
        Err(err) => Err(remembered(state, tenant, (caller.user_id, &key), err).await),
    }
}

/// Asks the provider for a recorded refund, once: its idempotency key is the refund's id. A
/// refusal gives the amount back to the split; an unreachable provider is tried again later.
pub(super) async fn execute_refund(
    state: &AppState,
    tenant: &Tenant,
    id: RefundId,
) -> Result<Refund, ApiError> {
    let mut refund = store::refund(&state.db, tenant.id, id)
        .await?
        .ok_or(ApiError::NotFound("refund"))?;
    if refund.status != RefundStatus::Pending {
        return Ok(refund);
    }
    let payment = stored(state, tenant, refund.payment_id).await?;
    let reference = payment
        .provider_reference
        .clone()
        .ok_or(ApiError::Unavailable("payment provider"))?;
    let provider = provider_named(state, tenant, &payment.provider).await?;
    let answer = provider
        .refund(&reference, &refund.amount, &refund.id.to_string())
        .await;
    let now = tenant.now();
    let mut tx = state.db.begin().await?;
    let permit = system(tenant);
    match answer {
        Ok(outcome) => {
            refund.status = RefundStatus::Succeeded;
            refund.provider_reference = Some(outcome.reference);
        }
        Err(ProviderError::Refused(cause)) => {
            tracing::error!(refund = %refund.id, %cause, "the provider refused a refund");
            refund.status = RefundStatus::Failed;
            let mut payment = store::get_in(&mut tx, tenant.id, payment.id)
                .await?
                .ok_or(ApiError::NotFound("payment"))?;
            payment.refunded -= refund.amount.amount;
            payment.split = Split {
                platform_fee: payment.split.platform_fee + refund.parts.platform_fee,
                taxes: payment.split.taxes + refund.parts.taxes,
                host_payout: payment.split.host_payout + refund.parts.host_payout,
            };
            payment.status = if payment.refunded == 0 {
                PaymentStatus::Succeeded
            } else {
                PaymentStatus::PartiallyRefunded
            };
            payment.updated_at = now;
            store::update(&mut tx, &permit, &payment).await?;
        }
        Err(err) => return Err(provider_failure(err)),
    }
    store::set_refund_status(&mut tx, &permit, &refund, now).await?;
    tx.commit().await?;
    Ok(refund)
}

/// Voids an authorization or an unfinished payment whose booking no longer wants it.
pub(super) async fn void(state: &AppState, tenant: &Tenant, id: PaymentId) -> Result<(), ApiError> {
    let payment = stored(state, tenant, id).await?;
    if !payment.status.is_open() {
        return Ok(());
    }
    let reference = payment
        .provider_reference
        .clone()
        .ok_or(ApiError::Unavailable("payment provider"))?;
    let provider = provider_named(state, tenant, &payment.provider).await?;
    let outcome = provider
        .cancel(&reference, &format!("cancel-{}", payment.id))
        .await
        .map_err(provider_failure)?;
    record_outcome(state, tenant, id, &outcome).await.map(drop)
}

/// Receives a provider's webhook: 400 `invalid_signature` unless it verifies (nothing is
/// stored then); a new event is stored and left to a job, a repeated one acknowledged.
#[tracing::instrument(skip(state, tenant, delivery), fields(tenant = %tenant.slug))]
pub async fn receive_webhook(
    state: &AppState,
    tenant: &Tenant,
    provider: &str,
    delivery: WebhookDelivery<'_>,
) -> Result<(), ApiError> {
    let provider = provider_named(state, tenant, provider).await?;
    // Providers sign at the wall clock's time; a test tenant's clock is for its rules.
    let now = Timestamp::now();
    let event = provider
        .verify_webhook(delivery, now)
        .await
        .map_err(provider_failure)?
        .ok_or_else(|| ApiError::BadRequest {
            code: ErrorCode::InvalidSignature,
            detail: "The webhook's signature or timestamp does not verify.".into(),
        })?;
    let payload = serde_json::to_string(&event).map_err(ApiError::internal)?;
    let mut tx = state.db.begin().await?;
    let name = provider.name();
    if store::insert_event(
        &mut tx,
        tenant.id,
        (name, &event.id, &event.kind),
        &payload,
        now,
    )
    .await?
    {
        let job = ProcessProviderEvent {
            provider: name.to_owned(),
            event_id: event.id.clone(),
        };
        enqueue(&mut tx, tenant, &job).await?;
    } else {
        tracing::info!(event = %event.id, "a provider event delivered again is ignored");
    }
    tx.commit().await
}

/// Processes a stored provider event, exactly once: it is marked processed in the transaction
/// that applies it. Kinds other than intent news are acknowledged and ignored.
pub(super) async fn process_event(
    state: &AppState,
    tenant: &Tenant,
    (provider, event_id): (&str, &str),
) -> Result<(), ApiError> {
    let Some(payload) = store::event_payload(&state.db, tenant.id, (provider, event_id)).await?
    else {
        return Ok(());
    };
    let event: super::provider::ProviderEvent =
        serde_json::from_str(&payload).map_err(ApiError::internal)?;
    let now = tenant.now();
    let mut tx = state.db.begin().await?;
    let target = match (&event.status, &event.reference) {
        (Some(status), Some(reference)) if event.kind.starts_with("intent.") => {
            let by_id = event
                .payment_id
                .as_deref()
                .and_then(|id| Uuid::parse_str(id).ok())
                .map(PaymentId);
            let id = match by_id {
                Some(id) => Some(id),
                None => store::id_by_reference(&mut tx, tenant.id, (provider, reference)).await?,
            };
            id.map(|id| {
                (
                    id,
                    IntentOutcome {
                        reference: reference.clone(),
                        status: *status,
                        failure_code: event.failure_code.clone(),
                    },
                )
            })
        }
        _ => None,
    };
    if !store::mark_event_processed(&mut tx, tenant.id, (provider, event_id), now).await? {
        return Ok(());
    }
    if let (REFUNDS_UPDATED, Some(reference), Some(total)) =
        (event.kind.as_str(), &event.reference, event.refunded)
    {
        reconcile_refunds(&mut tx, tenant, (provider, reference), total, now).await?;
        return tx.commit().await;
    }
    match target {
        Some((id, outcome)) => match apply(&mut tx, tenant, id, &outcome).await {
            // Not one of ours (another system's intent on the same account).
            Err(ApiError::NotFound(_)) => {}
            other => {
                other?;
            }
        },
        None => tracing::info!(kind = %event.kind, "a provider event of no interest is ignored"),
    }
    tx.commit().await
}

/// Records what the provider refunded beyond the refunds Staybase knows of (ours are counted
/// from the moment they are asked for), as a refund the provider already made: the payment,
/// its split and the host's payout follow, and nothing is asked of the provider.
async fn reconcile_refunds(
    tx: &mut Tx,
    tenant: &Tenant,
    (provider, reference): (&str, &str),
    refunded_at_provider: i64,
    now: Timestamp,
) -> Result<(), ApiError> {
    let Some(id) = store::id_by_reference(tx, tenant.id, (provider, reference)).await? else {
        return Ok(());
    };
    let Some(mut payment) = store::get_in(tx, tenant.id, id).await? else {
        return Ok(());
    };
    let unknown = (refunded_at_provider - payment.refunded).min(payment.refundable());
    if unknown <= 0 {
        return Ok(());
    }
    tracing::info!(payment = %payment.id, amount = unknown, "recording a refund made at the provider");
    let source = (unknown, "refunded_at_provider", RefundedBy::Provider);
    record_refund(tx, tenant, &mut payment, source, None, now)
        .await
        .map(drop)
}

/// Reads the intent a simulated webhook job is about and signs and delivers it to the same
/// route a real provider's webhook takes.
pub(super) async fn deliver_simulated(
    state: &AppState,
    tenant: &Tenant,
    body: &simulated::WebhookBody,
) -> Result<(), ApiError> {
    let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
    let key = simulated::webhook_key(&state.db, &state.secrets, tenant.id).await?;
    // Signed at the wall clock's time, which the receiver's tolerance checks; a test tenant's
    // clock is for its rules, not for transport.
    let signature = simulated::signature(&key, Timestamp::now(), &bytes);
    let delivery = WebhookDelivery {
        signature: Some(&signature),
        body: &bytes,
    };
    receive_webhook(state, tenant, simulated::NAME, delivery).await
}

/// Whose payouts a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutRole {
    Host,
    Admin,
}

pub struct PayoutFilter {
    pub status: Option<PayoutStatus>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

/// The totals of a payout list, by status.
#[derive(Debug, Clone)]
pub struct PayoutTotals {
    pub pending: Money,
    pub payable: Money,
    pub paid: Money,
    pub owed_back: Money,
}

/// Payouts newest first, with the totals of every match (not only the page's).
#[tracing::instrument(skip(state, tenant, principal, filter), fields(tenant = %tenant.slug))]
pub async fn list_payouts(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    (role, filter): (PayoutRole, PayoutFilter),
    (after, limit): (Option<PayoutId>, u32),
) -> Result<(Page<Payout, PayoutId>, PayoutTotals), ApiError> {
    let caller = principal.user()?;
    let check = |action| state.authorizer.check(&state.db, tenant, principal, action);
    let host = match role {
        PayoutRole::Host => {
            match check(PayoutAction::ReadHosted).await {
                Err(ApiError::Forbidden(_)) => check(PayoutAction::ReadAny).await.map(drop),
                decided => decided.map(drop),
            }?;
            Some(caller.user_id)
        }
        PayoutRole::Admin => {
            check(PayoutAction::ReadAny).await?;
            None
        }
    };
    let query = PayoutQuery {
        host,
        status: filter.status,
        from: filter.from,
        to: filter.to,
    };
    let payouts = store::list_payouts(&state.db, tenant.id, &query, (after, limit + 1)).await?;
    let sums = store::payout_totals(&state.db, tenant.id, &query).await?;
    let currency = &tenant.settings.currency;
    let total = |status: PayoutStatus| {
        let amount = sums
            .iter()
            .filter(|(name, ..)| name == status.as_str())
            .map(|(_, sum, _)| *sum)
            .sum();
        Money::new(amount, currency.clone())
    };
    let owed_back = sums.iter().map(|(.., owed)| *owed).sum();
    let totals = PayoutTotals {
        pending: total(PayoutStatus::Pending),
        payable: total(PayoutStatus::Payable),
        paid: total(PayoutStatus::Paid),
        owed_back: Money::new(owed_back, currency.clone()),
    };
    Ok((page(payouts, limit, |payout| payout.id), totals))
}

fn payout_summary(payout: &Payout) -> Value {
    json!({
        "id": payout.id,
        "booking_id": payout.booking_id,
        "host_id": payout.host_id,
        "amount": payout.amount,
        "status": payout.status.as_str(),
    })
}

/// Records that a payable payout was paid to its host (tenant admins): 409 `payout_not_payable`
/// before it is payable or once paid.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn mark_paid(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: PayoutId,
) -> Result<Payout, ApiError> {
    let caller = principal.user()?;
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, PayoutAction::MarkPaidAny)
        .await?;
    let now = tenant.now();
    let mut tx = state.db.begin().await?;
    let mut payout = store::payout_in(&mut tx, tenant.id, id)
        .await?
        .ok_or(ApiError::NotFound("payout"))?;
    if payout.status != PayoutStatus::Payable {
        return Err(ApiError::StatusConflict {
            code: ErrorCode::PayoutNotPayable,
            current: payout.status.as_str(),
            detail: format!(
                "The payout is {}: it cannot be marked paid.",
                payout.status.as_str()
            ),
        });
    }
    payout.status = PayoutStatus::Paid;
    payout.paid_at = Some(now);
    payout.paid_by = Some(caller.user_id);
    store::save_payout(&mut tx, &permit, &payout, now).await?;
    events::record(
        &mut tx,
        tenant.id,
        "payout.paid",
        payout.id.0,
        &payout_summary(&payout),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(payout)
}

/// Makes payable every payout of the tenant whose time has come by its clock: for a test
/// tenant's clock, which moves ahead of the jobs scheduled on the wall clock's time.
pub async fn run_due(state: &AppState, tenant: &Tenant) -> Result<(), ApiError> {
    loop {
        let due = store::due_payouts(&state.db, tenant.id, tenant.now(), 100).await?;
        if due.is_empty() {
            return Ok(());
        }
        for id in due {
            make_payable(state, tenant, id).await?;
        }
    }
}

/// Makes a pending payout payable once its time has come (by the tenant's clock).
pub(super) async fn make_payable(
    state: &AppState,
    tenant: &Tenant,
    id: PayoutId,
) -> Result<(), ApiError> {
    let now = tenant.now();
    let mut tx = state.db.begin().await?;
    let Some(mut payout) = store::payout_in(&mut tx, tenant.id, id).await? else {
        return Ok(());
    };
    if payout.status != PayoutStatus::Pending || payout.payable_at > now {
        return Ok(());
    }
    payout.status = PayoutStatus::Payable;
    store::save_payout(&mut tx, &system(tenant), &payout, now).await?;
    let notice = EmailAboutMoney {
        booking_id: payout.booking_id.0,
        kind: EmailKind::Payout,
        amount: payout.amount.clone(),
    };
    enqueue(&mut tx, tenant, &notice).await?;
    events::record(
        &mut tx,
        tenant.id,
        "payout.payable",
        payout.id.0,
        &payout_summary(&payout),
        now,
    )
    .await?;
    tx.commit().await
}
