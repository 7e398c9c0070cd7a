//! Calendar imports: a host's calendars on other platforms, fetched periodically, whose events
//! become blocked nights here (replacing what the previous fetch of the same calendar gave).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::Date;
use uuid::Uuid;

use super::{calendar::MAX_NIGHTS, service as properties};
use crate::{
    app::AppState,
    auth::Principal,
    authz::PropertyAction,
    db::{Db, Timestamp},
    error::{ApiError, ErrorCode},
    ids::{PropertyId, TenantId},
    jobs::{self, EnqueueOptions, Job, JobContext, JobError, JobRegistry, Schedule},
    on_db, on_tx,
    outbound::FetchError,
    tenants::Tenant,
};

/// Largest calendar accepted.
const MAX_FEED_BYTES: usize = 2 * 1024 * 1024;
/// Calendars per property.
const MAX_IMPORTS: usize = 10;
/// How often every calendar is fetched again.
const SYNC_EVERY: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CalendarImport {
    pub id: Uuid,
    pub property_id: Uuid,
    pub url: String,
    pub last_synced_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "id, property_id, url, last_synced_at, last_error, created_at";

fn source_of(import: Uuid) -> String {
    format!("import:{import}")
}

async fn imports_of(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
) -> Result<Vec<CalendarImport>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM calendar_imports WHERE tenant_id = $1 AND property_id = $2 ORDER BY id"
    );
    Ok(on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(tenant.0)
        .bind(property.0)
        .fetch_all(pool)
        .await)?)
}

pub async fn list(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
) -> Result<Vec<CalendarImport>, ApiError> {
    properties::for_change(
        state,
        tenant,
        principal,
        property,
        (PropertyAction::ReadOwn, PropertyAction::ReadAny),
    )
    .await?;
    imports_of(&state.db, tenant.id, property).await
}

/// Adds a calendar to import and fetches it right away (in a job).
pub async fn add(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    url: &str,
) -> Result<CalendarImport, ApiError> {
    properties::for_change(
        state,
        tenant,
        principal,
        property,
        (PropertyAction::UpdateOwn, PropertyAction::UpdateAny),
    )
    .await?;
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
    if imports_of(&state.db, tenant.id, property).await?.len() >= MAX_IMPORTS {
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
    on_tx!(&mut tx, |conn| {
        sqlx::query("INSERT INTO calendar_imports (tenant_id, id, property_id, url, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(tenant.id.0)
            .bind(import.id)
            .bind(property.0)
            .bind(&import.url)
            .bind(import.created_at)
            .execute(conn)
            .await
            .map(drop)
    })?;
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
pub async fn remove(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    import: Uuid,
) -> Result<(), ApiError> {
    properties::for_change(
        state,
        tenant,
        principal,
        property,
        (PropertyAction::UpdateOwn, PropertyAction::UpdateAny),
    )
    .await?;
    let mut tx = state.db.begin().await?;
    let deleted = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "DELETE FROM calendar_imports WHERE tenant_id = $1 AND property_id = $2 AND id = $3",
        )
        .bind(tenant.id.0)
        .bind(property.0)
        .bind(import)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    if deleted == 0 {
        return Err(ApiError::NotFound("calendar import"));
    }
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "DELETE FROM blocked_ranges WHERE tenant_id = $1 AND property_id = $2 AND source = $3",
        )
        .bind(tenant.id.0)
        .bind(property.0)
        .bind(source_of(import))
        .execute(conn)
        .await
        .map(drop)
    })?;
    crate::tenants::store::bump_listings(&mut tx, tenant.id).await?;
    tx.commit().await
}

/// The busy ranges `[start, end)` of an iCalendar document, clipped to `[from, until)`.
pub fn busy_ranges(document: &[u8], from: Date, until: Date) -> Result<Vec<(Date, Date)>, String> {
    let mut ranges = Vec::new();
    for calendar in ical::IcalParser::new(document) {
        let calendar = calendar.map_err(|err| format!("not an iCalendar document: {err}"))?;
        for event in calendar.events {
            let value = |name: &str| {
                event
                    .properties
                    .iter()
                    .find(|property| property.name == name)
                    .and_then(|property| property.value.as_deref())
                    .and_then(parse_ical_date)
            };
            let Some(start) = value("DTSTART") else {
                continue;
            };
            let end = value("DTEND").unwrap_or(start.next_day().unwrap_or(start));
            let (start, end) = (start.max(from), end.min(until));
            if start < end {
                ranges.push((start, end));
            }
        }
    }
    ranges.sort();
    // Overlapping or touching events become one range.
    let mut merged: Vec<(Date, Date)> = Vec::new();
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    Ok(merged)
}

/// `20270714` or `20270714T150000Z` (the date part).
fn parse_ical_date(value: &str) -> Option<Date> {
    let digits = value.get(..8)?;
    let year = digits.get(..4)?.parse().ok()?;
    let month = time::Month::try_from(digits.get(4..6)?.parse::<u8>().ok()?).ok()?;
    let day = digits.get(6..8)?.parse().ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

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
    let imports: Vec<(Uuid, Uuid)> = on_db!(&context.state.db, |pool| {
        sqlx::query_as("SELECT tenant_id, id FROM calendar_imports")
            .fetch_all(pool)
            .await
    })
    .map_err(ApiError::from)?;
    let mut tx = context.state.db.begin().await?;
    for (tenant, import) in imports {
        jobs::enqueue(
            &mut tx,
            &SyncCalendarImport { tenant, import },
            EnqueueOptions {
                tenant: Some(TenantId(tenant)),
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
async fn sync_import(context: JobContext, job: SyncCalendarImport) -> Result<(), JobError> {
    let state = &context.state;
    let tenant = TenantId(job.tenant);
    let import: Option<CalendarImport> = on_db!(&state.db, |pool| {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM calendar_imports WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.0)
        .bind(job.import)
        .fetch_optional(pool)
        .await
    })
    .map_err(ApiError::from)?;
    let Some(import) = import else {
        return Ok(()); // Removed since.
    };
    let today = time::OffsetDateTime::now_utc().date();
    let until = today + time::Duration::days(2 * MAX_NIGHTS);
    let outcome = match state.outbound.get(&import.url, MAX_FEED_BYTES).await {
        Ok(document) => busy_ranges(&document, today, until),
        Err(err) => Err(err.to_string()),
    };
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    match &outcome {
        Ok(ranges) => {
            on_tx!(&mut tx, |conn| {
                sqlx::query("DELETE FROM blocked_ranges WHERE tenant_id = $1 AND property_id = $2 AND source = $3")
                    .bind(tenant.0)
                    .bind(import.property_id)
                    .bind(source_of(import.id))
                    .execute(conn)
                    .await
                    .map(drop)
            })
            .map_err(ApiError::from)?;
            for (start, end) in ranges {
                on_tx!(&mut tx, |conn| {
                    sqlx::query(
                        "INSERT INTO blocked_ranges (tenant_id, id, property_id, start_date, end_date, reason, source, created_at) \
                         VALUES ($1, $2, $3, $4, $5, 'imported', $6, $7)",
                    )
                    .bind(tenant.0)
                    .bind(Uuid::now_v7())
                    .bind(import.property_id)
                    .bind(*start)
                    .bind(*end)
                    .bind(source_of(import.id))
                    .bind(now)
                    .execute(conn)
                    .await
                    .map(drop)
                })
                .map_err(ApiError::from)?;
            }
        }
        Err(reason) => {
            tracing::warn!(import = %import.id, error = %reason, "calendar import failed")
        }
    }
    let error = outcome.as_ref().err().cloned();
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE calendar_imports SET last_synced_at = CASE WHEN $3 IS NULL THEN $4 ELSE last_synced_at END, \
             last_error = $3 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(import.id)
        .bind(error)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })
    .map_err(ApiError::from)?;
    crate::tenants::store::bump_listings(&mut tx, tenant).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn events_become_merged_clipped_ranges() {
        let document = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270710\r\nDTEND;VALUE=DATE:20270712\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nDTSTART:20270712T150000Z\r\nDTEND:20270714T100000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270101\r\nDTEND;VALUE=DATE:20270103\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270720\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let ranges = busy_ranges(document, date!(2027 - 06 - 01), date!(2028 - 06 - 01)).unwrap();
        assert_eq!(
            ranges,
            [
                (date!(2027 - 07 - 10), date!(2027 - 07 - 14)),
                (date!(2027 - 07 - 20), date!(2027 - 07 - 21)),
            ]
        );
        assert!(
            busy_ranges(
                b"<html>nope</html>",
                date!(2027 - 01 - 01),
                date!(2028 - 01 - 01)
            )
            .map_or(true, |r| r.is_empty())
        );
    }
}
