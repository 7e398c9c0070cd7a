//! Calendar import jobs: every period each imported calendar is fetched again, and its events
//! replace the nights the previous fetch blocked.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use serde_json::json;
use time::Date;

use super::{ical::busy_ranges, model::CalendarImport, store};
use crate::{
    authz::{Permit, PropertyAction},
    availability,
    bookings::service as bookings,
    dates::{MAX_NIGHTS, format_date},
    db::{Timestamp, Tx},
    events,
    ids::{PropertyId, TenantId},
    jobs::{self, EnqueueOptions, Job, JobContext, JobError, JobRegistry, Schedule},
    mail::{self, Branding, OutgoingEmail, Template, templates::ImportConflictMessage},
    tenants::service as tenants,
    users::service as users,
};

/// Largest calendar accepted.
const MAX_FEED_BYTES: usize = 2 * 1024 * 1024;
/// How often every calendar is fetched again.
const SYNC_EVERY: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Serialize, Deserialize)]
pub struct SyncCalendarImport {
    pub tenant: Uuid,
    pub import: Uuid,
}

impl Job for SyncCalendarImport {
    const KIND: &'static str = "calendar_import.sync";
    const MAX_ATTEMPTS: u32 = 1;
    const TIMEOUT: Duration = Duration::from_secs(60);
}

/// Every period, queues a sync of every import.
#[derive(Debug, Serialize, Deserialize)]
pub struct SyncAllCalendarImports;

impl Job for SyncAllCalendarImports {
    const KIND: &'static str = "calendar_import.sync_all";
    const MAX_ATTEMPTS: u32 = 3;
}

pub fn register_jobs(registry: &mut JobRegistry) {
    registry
        .register(sync_import)
        .register(sync_all)
        .every(Schedule::every(SYNC_EVERY), SyncAllCalendarImports);
}

async fn sync_all(context: JobContext, _job: SyncAllCalendarImports) -> Result<(), JobError> {
    let imports = store::all_imports(&context.state.db).await?;
    let mut tx = context.state.db.begin().await?;
    for (tenant, import) in imports {
        jobs::enqueue(
            &mut tx,
            &SyncCalendarImport {
                tenant: tenant.0,
                import,
            },
            EnqueueOptions {
                tenant: Some(tenant),
                ..EnqueueOptions::default()
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Fetches one calendar and replaces the nights it blocks. A failed fetch is recorded on the
/// import for the host to see; the next period tries again.
#[tracing::instrument(skip(context), fields(tenant = %job.tenant, import = %job.import))]
async fn sync_import(context: JobContext, job: SyncCalendarImport) -> Result<(), JobError> {
    let state = &context.state;
    let tenant = TenantId(job.tenant);
    let Some(import) = store::get_import(&state.db, tenant, job.import).await? else {
        return Ok(()); // Removed since.
    };
    let today = time::OffsetDateTime::now_utc().date();
    let until = today + time::Duration::days(2 * MAX_NIGHTS);
    let outcome = match state.outbound.get(&import.url, MAX_FEED_BYTES).await {
        Ok(document) => busy_ranges(&document, today, until),
        Err(err) => Err(err.to_string()),
    };
    let now = Timestamp::now();
    // The job acts for the host who added the import.
    let permit = Permit::for_system(tenant, PropertyAction::UpdateAny);
    let mut tx = state.db.begin().await?;
    match &outcome {
        Ok(ranges) => {
            store::replace_imported_blocks(&mut tx, &permit, &import, ranges, now).await?;
            alert_double_bookings(&context, &mut tx, (tenant, &import), ranges, now).await?;
        }
        Err(reason) => {
            tracing::warn!(import = %import.id, error = %reason, "calendar import failed")
        }
    }
    let error = outcome.as_ref().err().map(String::as_str);
    store::record_sync(&mut tx, tenant, import.id, error, now).await?;
    tx.commit().await?;
    if outcome
        .as_ref()
        .is_ok_and(|ranges| ranges.len() >= BULK_IMPORT_RANGES)
    {
        state.db.analyze(&["blocked_ranges"]).await?;
    }
    Ok(())
}

/// Tells the host (an email and a `calendar_import.conflict` event) about each holding booking
/// that the imported calendar's busy ranges overlap: the nights were sold on another channel
/// too. Once per import and booking (the email's unique key), however often the calendar is
/// fetched again while the overlap lasts.
async fn alert_double_bookings(
    context: &JobContext,
    tx: &mut Tx,
    (tenant, import): (TenantId, &CalendarImport),
    ranges: &[(Date, Date)],
    now: Timestamp,
) -> Result<(), JobError> {
    let db = &context.state.db;
    let (Some(first), Some(last)) = (
        ranges.iter().map(|range| range.0).min(),
        ranges.iter().map(|range| range.1).max(),
    ) else {
        return Ok(());
    };
    let property = PropertyId(import.property_id);
    let booked = availability::booked_between(db, tenant, property, (first, last)).await?;
    let overlapping = booked.into_iter().filter(|(_, check_in, check_out)| {
        ranges
            .iter()
            .any(|(start, end)| start < check_out && end > check_in)
    });
    let mut market = None;
    for (id, _, _) in overlapping {
        let Some(booking) = bookings::find(db, tenant, id).await? else {
            continue;
        };
        let Some(host) = users::find(db, tenant, booking.host_id).await? else {
            continue;
        };
        if market.is_none() {
            market = tenants::find_by_id(db, tenant).await?;
        }
        let Some(market) = &market else {
            return Ok(());
        };
        let template = Template::ImportConflict(Box::new(ImportConflictMessage {
            first_name: host.first_name.clone(),
            property_name: booking.property_name.clone(),
            reference: booking.id.to_string(),
            check_in: format_date(booking.check_in),
            check_out: format_date(booking.check_out),
            calendar_url: import.url.clone(),
        }));
        let email =
            OutgoingEmail::compose(host.email.clone(), &template, &Branding::for_tenant(market))?;
        let unique_key = format!("calendar_import.conflict:{}:{}", import.id, booking.id);
        if mail::enqueue(tx, Some(tenant), email, Some(unique_key))
            .await?
            .is_some()
        {
            let payload = json!({
                "import_id": import.id,
                "property_id": booking.property_id,
                "booking_id": booking.id,
                "check_in": format_date(booking.check_in),
                "check_out": format_date(booking.check_out),
            });
            events::record_each(
                tx,
                tenant,
                &["calendar_import.conflict"],
                booking.id.0,
                &payload,
                now,
            )
            .await?;
        }
    }
    Ok(())
}

/// An import this large changes the blocks table enough for the planner's statistics to be
/// refreshed at once rather than when autovacuum gets to it.
const BULK_IMPORT_RANGES: usize = 500;
