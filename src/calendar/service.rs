//! Calendar rules: the property's owner (or a tenant admin) blocks and unblocks nights, imports
//! other calendars and rotates the export's secret; anyone who may see the property reads its
//! availability; the export feed's secret is its own credential.

use time::{Date, Duration};
use uuid::Uuid;

use super::{
    ical,
    jobs::SyncCalendarImport,
    model::{CalendarImport, MAX_IMPORTS, source_of},
    store,
};
use crate::{
    app::AppState,
    auth::Principal,
    authz::PropertyAction,
    availability::{self, Block, NightStatus, Sources},
    dates::MAX_NIGHTS,
    db::Timestamp,
    error::{ApiError, ErrorCode},
    ids::PropertyId,
    jobs::{self, EnqueueOptions},
    outbound::FetchError,
    properties::{
        model::calendar_feed_path,
        service::{self as properties, CHANGE},
    },
    tenants::Tenant,
};

const READ: (PropertyAction, PropertyAction) = (PropertyAction::ReadOwn, PropertyAction::ReadAny);

/// Blocks `[start, end)`, merging with the host blocks it overlaps or touches; returns the
/// resulting block.
#[tracing::instrument(skip(state, tenant, principal, reason), fields(tenant = %tenant.slug))]
pub async fn block(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    (start, end): (Date, Date),
    reason: Option<String>,
) -> Result<Block, ApiError> {
    let (_, permit) = properties::for_change(state, tenant, principal, property, CHANGE).await?;
    if start < tenant.today() {
        return Err(ApiError::validation("start", "must not be in the past"));
    }
    let reason = reason
        .map(|reason| reason.trim().to_owned())
        .filter(|reason| !reason.is_empty());
    if reason
        .as_ref()
        .is_some_and(|reason| reason.chars().count() > 200)
    {
        return Err(ApiError::validation(
            "reason",
            "must be at most 200 characters",
        ));
    }
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    if !availability::lock_calendar(&mut tx, tenant.id, property).await? {
        return Err(ApiError::NotFound("property"));
    }
    if availability::booked_in(&mut tx, tenant.id, property, (start, end)).await? {
        return Err(ApiError::Conflict {
            code: ErrorCode::DatesBooked,
            detail: "Some of these nights are booked; cancel the booking to free them.".into(),
        });
    }
    let merged_with =
        store::host_blocks_touching(&mut tx, tenant.id, property, (start, end)).await?;
    let merged = Block {
        id: Uuid::now_v7(),
        start: merged_with
            .iter()
            .map(|block| block.start)
            .fold(start, Date::min),
        end: merged_with
            .iter()
            .map(|block| block.end)
            .fold(end, Date::max),
        reason: reason.or_else(|| merged_with.iter().find_map(|block| block.reason.clone())),
    };
    let ids: Vec<Uuid> = merged_with.iter().map(|block| block.id).collect();
    store::merge_host_blocks(&mut tx, &permit, property, &ids, &merged, now).await?;
    tx.commit().await?;
    Ok(merged)
}

/// The host's upcoming blocks.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn blocks(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
) -> Result<Vec<Block>, ApiError> {
    properties::for_change(state, tenant, principal, property, READ).await?;
    let today = tenant.today();
    let until = today + Duration::days(2 * MAX_NIGHTS);
    availability::blocks_between(
        &state.db,
        tenant.id,
        property,
        (today, until),
        Sources::Host,
    )
    .await
}

#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn unblock(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    block: Uuid,
) -> Result<(), ApiError> {
    let (_, permit) = properties::for_change(state, tenant, principal, property, CHANGE).await?;
    let mut tx = state.db.begin().await?;
    if !store::delete_host_block(&mut tx, &permit, property, block).await? {
        return Err(ApiError::NotFound("blocked range"));
    }
    tx.commit().await
}

/// Each night of `[from, to)` and whether it can be booked, under the property's rules.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn availability(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    range: (Date, Date),
) -> Result<Vec<(Date, NightStatus)>, ApiError> {
    let found = properties::get(state, tenant, principal, property).await?;
    let rules = &found.listing.rules;
    availability::nights(
        &state.db,
        tenant.id,
        property,
        range,
        (
            &rules.in_force(&tenant.settings, tenant.now()),
            rules.preparation_nights,
        ),
    )
    .await
}

/// Replaces the export feed's secret; the old URL stops working. Returns the new URL.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn rotate_export(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
) -> Result<String, ApiError> {
    let token = properties::rotate_calendar_token(state, tenant, principal, property).await?;
    Ok(calendar_feed_path(tenant, &token))
}

/// The export feed: one all-day event per unavailable range (the host's blocks, the bookings
/// and the preparation nights around them), from today for a year.
#[tracing::instrument(skip(state, tenant, principal, token), fields(tenant = %tenant.slug))]
pub async fn export(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    token: &str,
) -> Result<String, ApiError> {
    let (property, name, preparation_nights) =
        properties::by_calendar_token(state, tenant, principal, token)
            .await?
            .ok_or(ApiError::NotFound("calendar"))?;
    let today = tenant.today();
    let until = today + Duration::days(MAX_NIGHTS);
    let blocks = availability::blocks_between(
        &state.db,
        tenant.id,
        property,
        (today, until),
        Sources::Host,
    )
    .await?;
    let booked =
        availability::booked_between(&state.db, tenant.id, property, (today, until)).await?;
    let preparation = availability::preparation_between(
        &state.db,
        tenant.id,
        property,
        (today, until),
        preparation_nights,
    )
    .await?;
    // Bookings and blocks alike, by start: other platforms need only know the nights are taken.
    let mut taken: Vec<(Uuid, Date, Date)> = blocks
        .into_iter()
        .map(|block| (block.id, block.start, block.end))
        .chain(
            booked
                .into_iter()
                .map(|(id, check_in, check_out)| (id.0, check_in, check_out)),
        )
        .chain(
            preparation
                .into_iter()
                .map(|(id, start, end)| (preparation_event_id(id.0, start), start, end)),
        )
        .collect();
    taken.sort_by_key(|(id, start, _)| (*start, *id));
    Ok(ical::feed(tenant, &name, &taken))
}

/// A stable id for the preparation range of a booking that starts on `start`: the booking's
/// id with the range's day number mixed in, so that each range keeps its own event UID.
fn preparation_event_id(booking: Uuid, start: Date) -> Uuid {
    Uuid::from_u128(booking.as_u128() ^ u128::from(start.to_julian_day().unsigned_abs()))
}

#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn list_imports(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
) -> Result<Vec<CalendarImport>, ApiError> {
    properties::for_change(state, tenant, principal, property, READ).await?;
    store::imports_of(&state.db, tenant.id, property).await
}

/// Adds a calendar to import and fetches it right away (in a job).
#[tracing::instrument(skip(state, tenant, principal, url), fields(tenant = %tenant.slug))]
pub async fn add_import(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    url: &str,
) -> Result<CalendarImport, ApiError> {
    let (_, permit) = properties::for_change(state, tenant, principal, property, CHANGE).await?;
    let url = url.trim();
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| ApiError::validation("url", "must be an http(s) URL"))?;
    if url.len() > 2000 {
        return Err(ApiError::validation(
            "url",
            "must be at most 2000 characters",
        ));
    }
    match state.outbound.check(&parsed).await {
        Ok(_) => {}
        Err(err @ (FetchError::Scheme | FetchError::Forbidden | FetchError::Unresolvable)) => {
            return Err(ApiError::validation("url", err.to_string()));
        }
        Err(err) => return Err(ApiError::validation("url", err.to_string())),
    }
    if store::imports_of(&state.db, tenant.id, property)
        .await?
        .len()
        >= MAX_IMPORTS
    {
        return Err(ApiError::Conflict {
            code: ErrorCode::TooManyImports,
            detail: format!("A property imports at most {MAX_IMPORTS} calendars."),
        });
    }
    let import = CalendarImport {
        id: Uuid::now_v7(),
        property_id: property.0,
        url: url.to_owned(),
        last_synced_at: None,
        last_error: None,
        created_at: Timestamp::now(),
    };
    let mut tx = state.db.begin().await?;
    store::insert_import(&mut tx, &permit, &import).await?;
    jobs::enqueue(
        &mut tx,
        &SyncCalendarImport {
            tenant: tenant.id.0,
            import: import.id,
        },
        EnqueueOptions {
            tenant: Some(tenant.id),
            ..EnqueueOptions::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(import)
}

/// Stops importing a calendar and frees the nights it had blocked.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn remove_import(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    import: Uuid,
) -> Result<(), ApiError> {
    let (_, permit) = properties::for_change(state, tenant, principal, property, CHANGE).await?;
    let mut tx = state.db.begin().await?;
    if !store::delete_import(&mut tx, &permit, property, import, &source_of(import)).await? {
        return Err(ApiError::NotFound("calendar import"));
    }
    tx.commit().await
}
