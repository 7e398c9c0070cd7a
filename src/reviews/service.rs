//! Review rules: who may review which stay and when, double-blind publication, replies and
//! moderation, and the property ratings kept exact in the transaction of every change.
//!
//! Locks are taken in one order, so that concurrent changes wait rather than deadlock: the
//! booking (the stay), then its reviews, then the property's rating.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use time::Date;
use uuid::Uuid;

use super::{
    jobs::{Notice, NotifyReview},
    model::{
        Draft, GuestReview, MAX_REASON, MAX_REPLY, Rating, Reply, Review, ReviewCursor, ReviewSort,
        ReviewStatus, Summary, clean_text,
    },
    rules::{self, Context, Decision, Subject},
    store,
};
use crate::{
    app::AppState,
    auth::Principal,
    authz::{Action, GuestReviewAction, Permit, ReviewAction, own_or_any},
    bookings::{
        model::{Booking, BookingStatus},
        service as bookings,
    },
    db::{Timestamp, Tx},
    error::{ApiError, ErrorCode},
    events,
    ids::{BookingId, GuestReviewId, PropertyId, ReviewId, TenantId, UserId},
    jobs::{self, EnqueueOptions},
    plugins::{model::PluginKind, service as plugins},
    properties::{model::RatingChange, service as properties},
    tenants::{Tenant, settings::ReviewPublication},
    users::service as users,
};

async fn check<A: Action>(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    action: A,
) -> Result<Permit<A>, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, action)
        .await
}

fn not_allowed(detail: &str) -> ApiError {
    ApiError::Refused {
        code: ErrorCode::ReviewNotAllowed,
        detail: detail.to_owned(),
    }
}

fn window_closed(closed_on: Date) -> ApiError {
    ApiError::Refused {
        code: ErrorCode::ReviewWindowClosed,
        detail: format!("The review window of this stay closed on {closed_on}."),
    }
}

/// The first day on which a stay checking out on `check_out` can no longer be reviewed:
/// reviews are written during the tenant's `review_window_days` after check-out.
fn window_closes_on(tenant: &Tenant, check_out: Date) -> Date {
    check_out + time::Duration::days(i64::from(tenant.settings.review_window_days) + 1)
}

/// The last day on which a stay checking out on `check_out` can be reviewed.
pub fn last_review_day(tenant: &Tenant, check_out: Date) -> Date {
    window_closes_on(tenant, check_out) - time::Duration::days(1)
}

/// Where a review the rules accepted stands: public at once, unless the tenant publishes
/// double-blind and the other side of the stay has not written yet while the window is open.
fn accepted_status(
    tenant: &Tenant,
    other_side_written: bool,
    window_closes_on: Date,
) -> ReviewStatus {
    let immediate = tenant.settings.review_publication == ReviewPublication::Immediate;
    if immediate || other_side_written || tenant.today() >= window_closes_on {
        ReviewStatus::Published
    } else {
        ReviewStatus::Pending
    }
}

/// Where a new review of `booking`'s stay stands, with the reason of a refusal or hold, and
/// the first day its window is closed: 403 `review_window_closed` once that day has come.
async fn place_new(
    state: &AppState,
    tenant: &Tenant,
    draft: &Draft,
    (subject, booking): (Subject, &Booking),
    other_side_written: bool,
) -> Result<(ReviewStatus, Option<String>, Date), ApiError> {
    let closes_on = window_closes_on(tenant, booking.check_out);
    if tenant.today() >= closes_on {
        return Err(window_closed(closes_on));
    }
    let context = Context {
        tenant,
        subject,
        booking,
        edit: false,
    };
    let accepted = accepted_status(tenant, other_side_written, closes_on);
    let (status, reason) = decided(rules::decide(state, draft, &context).await?, accepted);
    Ok((status, reason, closes_on))
}

/// The status (and its reason) the rules' decision gives a review, `accepted` when it passes.
fn decided(decision: Decision, accepted: ReviewStatus) -> (ReviewStatus, Option<String>) {
    match decision {
        Decision::Accept => (accepted, None),
        Decision::Reject(reason) => (ReviewStatus::Rejected, Some(reason)),
        Decision::Hold(reason) => (ReviewStatus::Held, Some(reason)),
    }
}

/// The permit for what Staybase does on its own: publishing the other side of a stay, or a
/// lone review when its window closes.
fn system(tenant: TenantId) -> Permit<ReviewAction> {
    Permit::for_system(tenant, ReviewAction::ModerateAny)
}

fn payload(review: &Review) -> Value {
    json!({
        "id": review.id,
        "about": "property",
        "property_id": review.property_id,
        "booking_id": review.booking_id,
        "author_id": review.author_id,
        "rating": review.rating.get(),
        "status": review.status.as_str(),
    })
}

fn guest_payload(review: &GuestReview) -> Value {
    json!({
        "id": review.id,
        "about": "guest",
        "booking_id": review.booking_id,
        "guest_id": review.guest_id,
        "author_id": review.author_id,
        "rating": review.rating.get(),
        "status": review.status.as_str(),
    })
}

/// Records `kinds` about a property review and enqueues its email, if any.
async fn announce(
    tx: &mut Tx,
    tenant: TenantId,
    review: &Review,
    (kinds, notice): (&[&str], Option<Notice>),
    now: Timestamp,
) -> Result<(), ApiError> {
    events::record_each(tx, tenant, kinds, review.id.0, &payload(review), now).await?;
    let Some(notice) = notice else {
        return Ok(());
    };
    let job = NotifyReview {
        review_id: review.id.0,
        notice,
    };
    let options = EnqueueOptions {
        tenant: Some(tenant),
        ..EnqueueOptions::default()
    };
    jobs::enqueue_all(tx, &[jobs::Pending::new(&job, options)?]).await
}

/// What a review newly published announces: the event, and the host's email.
async fn announce_published(
    tx: &mut Tx,
    tenant: TenantId,
    review: &Review,
    also: &[&str],
    now: Timestamp,
) -> Result<(), ApiError> {
    let mut kinds = also.to_vec();
    kinds.push("review.published");
    announce(tx, tenant, review, (&kinds, Some(Notice::Published)), now).await
}

/// Moves the property's rating from counting `before` to counting `after` (the stars of a
/// published review, or none) in `tx`: the property's sum, count and average, and its
/// per-star counts. `true` when anything changed.
async fn recount(
    tx: &mut Tx,
    permit: &Permit<ReviewAction>,
    property: PropertyId,
    (before, after): (Option<Rating>, Option<Rating>),
) -> Result<bool, ApiError> {
    if before == after {
        return Ok(false);
    }
    let stars = |rating: Option<Rating>| rating.map_or(0, |rating| i64::from(rating.get()));
    let change = RatingChange {
        sum: stars(after) - stars(before),
        count: i64::from(after.is_some()) - i64::from(before.is_some()),
    };
    properties::adjust_rating(tx, permit, property, change).await?;
    if let Some(rating) = before {
        store::add_stars(tx, permit, property, (rating, -1)).await?;
    }
    if let Some(rating) = after {
        store::add_stars(tx, permit, property, (rating, 1)).await?;
    }
    Ok(true)
}

/// Commits `tx`; when it changed a rating, the tenant's cached property answers go stale.
async fn finish(state: &AppState, tx: Tx, tenant: TenantId, rated: bool) -> Result<(), ApiError> {
    if rated {
        properties::commit_rating_change(state, tx, tenant).await
    } else {
        tx.commit().await
    }
}

async fn first_name(tx: &mut Tx, tenant: TenantId, user: UserId) -> Result<String, ApiError> {
    Ok(users::get_in(tx, tenant, user)
        .await?
        .ok_or_else(ApiError::invalid_token)?
        .first_name)
}

/// Publishes the host's review of the guest of a stay whose guest just reviewed the property,
/// if it was waiting for that.
async fn publish_waiting_guest_review(
    tx: &mut Tx,
    tenant: TenantId,
    waiting: Option<GuestReview>,
    now: Timestamp,
) -> Result<(), ApiError> {
    let Some(mut review) = waiting.filter(|review| review.status == ReviewStatus::Pending) else {
        return Ok(());
    };
    review.status = ReviewStatus::Published;
    review.updated_at = now;
    let permit = Permit::for_system(tenant, GuestReviewAction::CreateHosted);
    store::update_guest_review_status(tx, &permit, &review).await?;
    events::record(
        tx,
        tenant,
        "review.published",
        review.id.0,
        &guest_payload(&review),
        now,
    )
    .await
}

/// Publishes the guest's review of a property whose host just reviewed the guest, if it was
/// waiting for that; `true` when the property's rating changed.
async fn publish_waiting_review(
    tx: &mut Tx,
    tenant: TenantId,
    waiting: Option<Review>,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let Some(mut review) = waiting.filter(|review| review.status == ReviewStatus::Pending) else {
        return Ok(false);
    };
    review.status = ReviewStatus::Published;
    review.updated_at = now;
    let permit = system(tenant);
    store::update(tx, &permit, &review).await?;
    let rated = recount(tx, &permit, review.property_id, (None, review.counted())).await?;
    announce_published(tx, tenant, &review, &[], now).await?;
    Ok(rated)
}

/// The guest reviews a property: about their latest completed stay there, within the review
/// window after its check-out. One review per guest and property (409 `review_exists`, from
/// the database's unique key however concurrent the attempts).
#[tracing::instrument(skip(state, tenant, principal, draft), fields(tenant = %tenant.slug))]
pub async fn create(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    draft: (i64, String),
) -> Result<Review, ApiError> {
    let caller = principal.user()?;
    let permit = check(state, tenant, principal, ReviewAction::CreateOwn).await?;
    let draft = Draft::parse(draft.0, &draft.1)?;
    let property = properties::get(state, tenant, principal, property).await?;
    let now = tenant.now();
    plugins::warm(state, tenant, PluginKind::ReviewRules).await?;
    let mut tx = state.db.begin().await?;
    let booking =
        bookings::latest_completed_stay(&mut tx, tenant.id, (caller.user_id, property.id))
            .await?
            .ok_or_else(|| {
                not_allowed("Only a guest whose stay at this property is completed may review it.")
            })?;
    let other_side = store::guest_review_of_booking_in(&mut tx, tenant.id, booking.id).await?;
    let (status, status_reason, closes_on) = place_new(
        state,
        tenant,
        &draft,
        (Subject::Property, &booking),
        other_side.is_some(),
    )
    .await?;
    let review = Review {
        tenant_id: tenant.id,
        id: ReviewId(Uuid::now_v7()),
        property_id: property.id,
        booking_id: booking.id,
        author_id: caller.user_id,
        author_first_name: first_name(&mut tx, tenant.id, caller.user_id).await?,
        rating: draft.rating,
        comment: draft.comment,
        status,
        status_reason,
        reply: None,
        window_closes_on: closes_on,
        created_at: now,
        updated_at: now,
    };
    store::insert(&mut tx, &permit, &review).await?;
    let rated = recount(&mut tx, &permit, property.id, (None, review.counted())).await?;
    if review.status == ReviewStatus::Published {
        announce_published(&mut tx, tenant.id, &review, &["review.created"], now).await?;
    } else {
        announce(
            &mut tx,
            tenant.id,
            &review,
            (&["review.created"], None),
            now,
        )
        .await?;
    }
    publish_waiting_guest_review(&mut tx, tenant.id, other_side, now).await?;
    finish(state, tx, tenant.id, rated).await?;
    Ok(review)
}

/// The review if the caller may see it: published ones to anyone, others to their author and
/// tenant admins; to anyone else it does not exist.
async fn visible(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: ReviewId,
) -> Result<Review, ApiError> {
    let review = store::get(&state.db, tenant.id, id)
        .await?
        .ok_or(ApiError::NotFound("review"))?;
    let author = matches!(principal, Principal::User(user) if user.user_id == review.author_id);
    if review.status == ReviewStatus::Published || author {
        return Ok(review);
    }
    match check(state, tenant, principal, ReviewAction::ModerateAny).await {
        Ok(_) => Ok(review),
        Err(ApiError::Forbidden(_) | ApiError::AuthenticationRequired) => {
            Err(ApiError::NotFound("review"))
        }
        Err(other) => Err(other),
    }
}

/// One review: published ones to anyone, others to their author and tenant admins.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn get(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: ReviewId,
) -> Result<Review, ApiError> {
    check(state, tenant, principal, ReviewAction::Read).await?;
    visible(state, tenant, principal, id).await
}

/// The review read and locked in `tx` after its stay's booking (the lock order), or 404 when
/// it is gone.
async fn locked(tx: &mut Tx, tenant: TenantId, review: &Review) -> Result<Review, ApiError> {
    bookings::locked(tx, tenant, review.booking_id).await?;
    store::get_in(tx, tenant, review.id)
        .await?
        .ok_or(ApiError::NotFound("review"))
}

/// A change of rating or comment, `None` leaving it as it is.
pub struct Edit {
    pub rating: Option<i64>,
    pub comment: Option<String>,
}

/// The author edits their review within the stay's review window; the rules decide again.
#[tracing::instrument(skip(state, tenant, principal, edit), fields(tenant = %tenant.slug))]
pub async fn update(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: ReviewId,
    edit: Edit,
) -> Result<Review, ApiError> {
    let caller = principal.user()?;
    let permit = check(state, tenant, principal, ReviewAction::UpdateOwn).await?;
    let rating = edit.rating.map(Rating::parse).transpose();
    let comment = edit
        .comment
        .as_deref()
        .map(|comment| clean_text("comment", comment, super::model::MAX_COMMENT, true))
        .transpose();
    let (rating, comment) = match (rating, comment) {
        (Ok(rating), Ok(comment)) => (rating, comment),
        (rating, comment) => {
            return Err(ApiError::Validation(
                [rating.err(), comment.err()]
                    .into_iter()
                    .flatten()
                    .collect(),
            ));
        }
    };
    let review = visible(state, tenant, principal, id).await?;
    if review.author_id != caller.user_id {
        return Err(ApiError::Forbidden(
            "Only its author edits a review.".into(),
        ));
    }
    let now = tenant.now();
    plugins::warm(state, tenant, PluginKind::ReviewRules).await?;
    let mut tx = state.db.begin().await?;
    let booking = bookings::locked(&mut tx, tenant.id, review.booking_id)
        .await?
        .ok_or(ApiError::NotFound("review"))?;
    let current = store::get_in(&mut tx, tenant.id, id)
        .await?
        .ok_or(ApiError::NotFound("review"))?;
    if current.status == ReviewStatus::Hidden {
        return Err(ApiError::InvalidTransition {
            current: current.status.as_str(),
            attempted: "edit",
        });
    }
    if tenant.today() >= current.window_closes_on {
        return Err(window_closed(current.window_closes_on));
    }
    let draft = Draft {
        rating: rating.unwrap_or(current.rating),
        comment: comment.unwrap_or_else(|| current.comment.clone()),
    };
    let decision = rules::decide(
        state,
        &draft,
        &Context {
            tenant,
            subject: Subject::Property,
            booking: &booking,
            edit: true,
        },
    )
    .await?;
    // An accepted edit keeps a review where it was; one the rules had refused or held is
    // placed as a new one would be.
    let accepted = match current.status {
        ReviewStatus::Published | ReviewStatus::Pending => current.status,
        _ => {
            let other_side =
                store::guest_review_of_booking_in(&mut tx, tenant.id, booking.id).await?;
            accepted_status(tenant, other_side.is_some(), current.window_closes_on)
        }
    };
    let (status, status_reason) = decided(decision, accepted);
    let updated = Review {
        rating: draft.rating,
        comment: draft.comment,
        status,
        status_reason,
        updated_at: now,
        ..current.clone()
    };
    store::update(&mut tx, &permit, &updated).await?;
    let rated = recount(
        &mut tx,
        &permit,
        updated.property_id,
        (current.counted(), updated.counted()),
    )
    .await?;
    if updated.status == ReviewStatus::Published && current.status != ReviewStatus::Published {
        announce_published(&mut tx, tenant.id, &updated, &[], now).await?;
    }
    finish(state, tx, tenant.id, rated).await?;
    Ok(updated)
}

/// Its author, or a tenant admin, deletes a review; the property's rating forgets it.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn delete(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: ReviewId,
) -> Result<(), ApiError> {
    let caller = principal.user()?;
    let review = visible(state, tenant, principal, id).await?;
    let own = review.author_id == caller.user_id;
    let permit = check(
        state,
        tenant,
        principal,
        own_or_any(own, (ReviewAction::DeleteOwn, ReviewAction::DeleteAny)),
    )
    .await?;
    let mut tx = state.db.begin().await?;
    let current = locked(&mut tx, tenant.id, &review).await?;
    store::delete(&mut tx, &permit, id).await?;
    let rated = recount(
        &mut tx,
        &permit,
        current.property_id,
        (current.counted(), None),
    )
    .await?;
    finish(state, tx, tenant.id, rated).await
}

/// The property's host replies to a published review, or edits the reply.
#[tracing::instrument(skip(state, tenant, principal, text), fields(tenant = %tenant.slug))]
pub async fn reply(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: ReviewId,
    text: &str,
) -> Result<Review, ApiError> {
    let caller = principal.user()?;
    let permit = check(state, tenant, principal, ReviewAction::ReplyHosted).await?;
    let text = clean_text("text", text, MAX_REPLY, false)
        .map_err(|err| ApiError::Validation(vec![err]))?;
    let review = visible(state, tenant, principal, id).await?;
    let property = properties::get(state, tenant, principal, review.property_id).await?;
    if property.owner_id != caller.user_id {
        return Err(ApiError::Forbidden(
            "Only the property's host replies to its reviews.".into(),
        ));
    }
    let now = tenant.now();
    let mut tx = state.db.begin().await?;
    let current = locked(&mut tx, tenant.id, &review).await?;
    if current.status != ReviewStatus::Published {
        return Err(ApiError::InvalidTransition {
            current: current.status.as_str(),
            attempted: "reply",
        });
    }
    let first = current.reply.is_none();
    let replied = Review {
        reply: Some(Reply { text, at: now }),
        updated_at: now,
        ..current
    };
    store::update(&mut tx, &permit, &replied).await?;
    let notice = first.then_some(Notice::Replied);
    announce(
        &mut tx,
        tenant.id,
        &replied,
        (&["review.replied"], notice),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(replied)
}

/// A tenant admin hides a review from the public, with the reason.
#[tracing::instrument(skip(state, tenant, principal, reason), fields(tenant = %tenant.slug))]
pub async fn hide(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: ReviewId,
    reason: &str,
) -> Result<Review, ApiError> {
    let permit = check(state, tenant, principal, ReviewAction::ModerateAny).await?;
    let reason = clean_text("reason", reason, MAX_REASON, false)
        .map_err(|err| ApiError::Validation(vec![err]))?;
    let review = visible(state, tenant, principal, id).await?;
    let now = tenant.now();
    let mut tx = state.db.begin().await?;
    let current = locked(&mut tx, tenant.id, &review).await?;
    if current.status == ReviewStatus::Hidden {
        return Err(ApiError::InvalidTransition {
            current: current.status.as_str(),
            attempted: "hide",
        });
    }
    let hidden = Review {
        status: ReviewStatus::Hidden,
        status_reason: Some(reason),
        updated_at: now,
        ..current.clone()
    };
    store::update(&mut tx, &permit, &hidden).await?;
    let rated = recount(
        &mut tx,
        &permit,
        hidden.property_id,
        (current.counted(), None),
    )
    .await?;
    announce(&mut tx, tenant.id, &hidden, (&["review.hidden"], None), now).await?;
    finish(state, tx, tenant.id, rated).await?;
    Ok(hidden)
}

/// A tenant admin brings back a hidden, held or rejected review: it is placed as a new one
/// would be (published, or pending the other side in double-blind publication).
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn unhide(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: ReviewId,
) -> Result<Review, ApiError> {
    let permit = check(state, tenant, principal, ReviewAction::ModerateAny).await?;
    let review = visible(state, tenant, principal, id).await?;
    let now = tenant.now();
    let mut tx = state.db.begin().await?;
    let current = locked(&mut tx, tenant.id, &review).await?;
    if matches!(
        current.status,
        ReviewStatus::Published | ReviewStatus::Pending
    ) {
        return Err(ApiError::InvalidTransition {
            current: current.status.as_str(),
            attempted: "unhide",
        });
    }
    let other_side =
        store::guest_review_of_booking_in(&mut tx, tenant.id, current.booking_id).await?;
    let shown = Review {
        status: accepted_status(tenant, other_side.is_some(), current.window_closes_on),
        status_reason: None,
        updated_at: now,
        ..current
    };
    store::update(&mut tx, &permit, &shown).await?;
    let rated = recount(&mut tx, &permit, shown.property_id, (None, shown.counted())).await?;
    if shown.status == ReviewStatus::Published {
        announce_published(&mut tx, tenant.id, &shown, &[], now).await?;
    }
    finish(state, tx, tenant.id, rated).await?;
    Ok(shown)
}

/// A page of a property's published reviews, and its rating summary.
pub struct Page {
    pub reviews: Vec<Review>,
    pub next_cursor: Option<String>,
    pub summary: Summary,
}

fn decode_cursor(cursor: &str, sort: ReviewSort) -> Result<ReviewCursor, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<ReviewCursor>(&bytes).ok())
        .filter(|cursor| cursor.sort == sort)
        .ok_or_else(|| ApiError::validation("cursor", "is not a cursor of this list and sort"))
}

/// The published reviews of a property the caller may see, in `sort` order, with its summary.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn list(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    (sort, cursor, limit): (ReviewSort, Option<String>, u32),
) -> Result<Page, ApiError> {
    check(state, tenant, principal, ReviewAction::Read).await?;
    let cursor = cursor
        .as_deref()
        .map(|cursor| decode_cursor(cursor, sort))
        .transpose()?;
    let property = properties::get(state, tenant, principal, property).await?;
    let mut reviews =
        store::list_published(&state.db, tenant.id, property.id, (sort, cursor), limit + 1).await?;
    let next_cursor = (reviews.len() > limit as usize).then(|| {
        reviews.truncate(limit as usize);
        let last = reviews.last().expect("a full page has a last review");
        let cursor = ReviewCursor {
            sort,
            rating: last.rating.get(),
            id: last.id,
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
    });
    let summary = store::summary(&state.db, tenant.id, property.id).await?;
    Ok(Page {
        reviews,
        next_cursor,
        summary,
    })
}

/// A page of the tenant's reviews in any status, newest first.
pub struct ModerationPage {
    pub reviews: Vec<Review>,
    pub next: Option<ReviewId>,
}

/// The tenant's reviews in `statuses` (all when empty), newest first, for its admins: what is
/// held for moderation, hidden or waiting.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn list_for_moderation(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    statuses: &[ReviewStatus],
    (after, limit): (Option<ReviewId>, u32),
) -> Result<ModerationPage, ApiError> {
    check(state, tenant, principal, ReviewAction::ModerateAny).await?;
    let mut reviews =
        store::list_in_statuses(&state.db, tenant.id, statuses, after, limit + 1).await?;
    let next = (reviews.len() > limit as usize).then(|| {
        reviews.truncate(limit as usize);
        reviews.last().map(|review| review.id)
    });
    Ok(ModerationPage {
        reviews,
        next: next.flatten(),
    })
}

/// The host of a completed stay reviews its guest, within the review window.
#[tracing::instrument(skip(state, tenant, principal, draft), fields(tenant = %tenant.slug))]
pub async fn review_guest(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    booking: BookingId,
    draft: (i64, String),
) -> Result<GuestReview, ApiError> {
    let caller = principal.user()?;
    let permit = check(state, tenant, principal, GuestReviewAction::CreateHosted).await?;
    let draft = Draft::parse(draft.0, &draft.1)?;
    let seen = bookings::get(state, tenant, principal, booking).await?;
    if seen.host_id != caller.user_id {
        return Err(not_allowed("Only the stay's host reviews its guest."));
    }
    let now = tenant.now();
    plugins::warm(state, tenant, PluginKind::ReviewRules).await?;
    let mut tx = state.db.begin().await?;
    let booking: Booking = bookings::locked(&mut tx, tenant.id, booking)
        .await?
        .ok_or(ApiError::NotFound("booking"))?;
    if booking.status != BookingStatus::Completed {
        return Err(not_allowed(
            "The guest of a stay is reviewed once the stay is completed.",
        ));
    }
    let other_side = store::of_booking_in(&mut tx, tenant.id, booking.id).await?;
    let (status, status_reason, closes_on) = place_new(
        state,
        tenant,
        &draft,
        (Subject::Guest, &booking),
        other_side.is_some(),
    )
    .await?;
    let review = GuestReview {
        tenant_id: tenant.id,
        id: GuestReviewId(Uuid::now_v7()),
        booking_id: booking.id,
        guest_id: booking.guest_id,
        author_id: caller.user_id,
        author_first_name: first_name(&mut tx, tenant.id, caller.user_id).await?,
        rating: draft.rating,
        comment: draft.comment,
        status,
        status_reason,
        window_closes_on: closes_on,
        created_at: now,
        updated_at: now,
    };
    store::insert_guest_review(&mut tx, &permit, &review).await?;
    let kinds: &[&str] = if review.status == ReviewStatus::Published {
        &["review.created", "review.published"]
    } else {
        &["review.created"]
    };
    events::record_each(
        &mut tx,
        tenant.id,
        kinds,
        review.id.0,
        &guest_payload(&review),
        now,
    )
    .await?;
    let rated = publish_waiting_review(&mut tx, tenant.id, other_side, now).await?;
    finish(state, tx, tenant.id, rated).await?;
    Ok(review)
}

/// A page of hosts' published reviews of a guest, newest first.
pub struct GuestPage {
    pub reviews: Vec<GuestReview>,
    pub next: Option<GuestReviewId>,
}

/// What hosts of the tenant wrote about a guest (hosts and tenant admins).
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn of_guest(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    guest: UserId,
    (after, limit): (Option<GuestReviewId>, u32),
) -> Result<GuestPage, ApiError> {
    check(state, tenant, principal, GuestReviewAction::Read).await?;
    users::find(&state.db, tenant.id, guest)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let mut reviews =
        store::list_published_of_guest(&state.db, tenant.id, guest, after, limit + 1).await?;
    let next = (reviews.len() > limit as usize).then(|| {
        reviews.truncate(limit as usize);
        reviews.last().map(|review| review.id)
    });
    Ok(GuestPage {
        reviews,
        next: next.flatten(),
    })
}

/// Publishes, by the tenant's clock, the reviews still waiting for the other side of their
/// stay when its review window has closed. A test clock's advance calls it too.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn run_due(state: &AppState, tenant: &Tenant) -> Result<(), ApiError> {
    let (reviews, guest_reviews) = store::pending_due(&state.db, tenant.id, tenant.today()).await?;
    for id in reviews {
        publish_lone_review(state, tenant, id).await?;
    }
    for id in guest_reviews {
        publish_lone_guest_review(state, tenant, id).await?;
    }
    Ok(())
}

async fn publish_lone_review(
    state: &AppState,
    tenant: &Tenant,
    id: ReviewId,
) -> Result<(), ApiError> {
    let Some(review) = store::get(&state.db, tenant.id, id).await? else {
        return Ok(());
    };
    let mut tx = state.db.begin().await?;
    let current = locked(&mut tx, tenant.id, &review).await?;
    if current.status != ReviewStatus::Pending || current.window_closes_on > tenant.today() {
        return Ok(());
    }
    let rated = publish_waiting_review(&mut tx, tenant.id, Some(current), tenant.now()).await?;
    finish(state, tx, tenant.id, rated).await
}

async fn publish_lone_guest_review(
    state: &AppState,
    tenant: &Tenant,
    id: GuestReviewId,
) -> Result<(), ApiError> {
    let mut tx = state.db.begin().await?;
    let Some(current) = store::guest_review_in(&mut tx, tenant.id, id).await? else {
        return Ok(());
    };
    if current.window_closes_on > tenant.today() {
        return Ok(());
    }
    publish_waiting_guest_review(&mut tx, tenant.id, Some(current), tenant.now()).await?;
    tx.commit().await
}

/// The tenants with reviews waiting for the other side whose window closes on or before
/// `until`, for the periodic publication.
pub async fn tenants_with_pending_by(
    state: &AppState,
    until: Date,
) -> Result<Vec<TenantId>, ApiError> {
    store::tenants_with_pending_by(&state.db, until).await
}

/// A review as Staybase reads it for its own work (its emails), for no caller.
pub async fn find(
    state: &AppState,
    tenant: TenantId,
    id: ReviewId,
) -> Result<Option<Review>, ApiError> {
    store::get(&state.db, tenant, id).await
}
