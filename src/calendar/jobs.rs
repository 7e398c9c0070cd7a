//! Calendar import jobs: every period each imported calendar is fetched again, and its events
//! replace the nights the previous fetch blocked.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ical::busy_ranges, store};
use crate::{
    authz::{Permit, PropertyAction},
    dates::MAX_NIGHTS,
    db::Timestamp,
    ids::TenantId,
    jobs::{self, EnqueueOptions, Job, JobContext, JobError, JobRegistry, Schedule},
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

/// An import this large changes the blocks table enough for the planner's statistics to be
/// refreshed at once rather than when autovacuum gets to it.
const BULK_IMPORT_RANGES: usize = 500;
