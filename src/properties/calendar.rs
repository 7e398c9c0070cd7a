//! A property's calendar: host blocks (merged when they overlap or touch) and the per-night
//! availability view, where the nights of holding bookings show as booked.

use time::{Date, Duration, format_description::well_known::Iso8601, macros::format_description};
use uuid::Uuid;

use super::service as properties;
use crate::{
    app::AppState,
    auth::Principal,
    authz::{Permit, PropertyAction},
    bookings,
    db::{Db, Timestamp, Tx},
    error::{ApiError, ErrorCode, FieldError},
    ids::{PropertyId, TenantId},
    on_db, on_tx,
    tenants::Tenant,
};

/// The longest range one request may cover (a year and a day).
pub const MAX_NIGHTS: i64 = 366;

/// Parses a `YYYY-MM-DD` date; `field` names it in the 422.
pub fn parse_date(field: &str, value: &str) -> Result<Date, FieldError> {
    let format = format_description!("[year]-[month]-[day]");
    Date::parse(value.trim(), &format)
        .map_err(|_| FieldError::new(field, "must be a date like 2027-07-14"))
}

pub fn format_date(date: Date) -> String {
    date.format(&Iso8601::DATE).unwrap_or_default()
}

/// Checks `[start, end)` is a forward range of at most `MAX_NIGHTS` nights.
pub fn parse_range(
    start_field: &str,
    start: &str,
    end_field: &str,
    end: &str,
) -> Result<(Date, Date), ApiError> {
    let start = parse_date(start_field, start);
    let end = parse_date(end_field, end);
    let (start, end) = match (start, end) {
        (Ok(start), Ok(end)) => (start, end),
        (start, end) => {
            return Err(ApiError::Validation(
                start.err().into_iter().chain(end.err()).collect(),
            ));
        }
    };
    if end <= start {
        return Err(ApiError::validation(
            end_field,
            format!("must be after {start_field}"),
        ));
    }
    if (end - start).whole_days() > MAX_NIGHTS {
        return Err(ApiError::validation(
            end_field,
            format!("must be at most {MAX_NIGHTS} nights after {start_field}"),
        ));
    }
    Ok((start, end))
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Block {
    pub id: Uuid,
    #[sqlx(rename = "start_date")]
    pub start: Date,
    #[sqlx(rename = "end_date")]
    pub end: Date,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NightStatus {
    Available,
    Booked,
    Blocked,
}

/// Serialises writers of one property's calendar: PostgreSQL locks the property row; SQLite's
/// `BEGIN IMMEDIATE` already admits one writer. `false` when there is no such property.
async fn lock_property(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
) -> Result<bool, ApiError> {
    let found: Option<i32> = match tx {
        Tx::Postgres(tx) => {
            sqlx::query_scalar(
                "SELECT 1 FROM properties WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE",
            )
            .bind(tenant.0)
            .bind(property.0)
            .fetch_optional(&mut **tx)
            .await?
        }
        Tx::Sqlite(tx) => {
            sqlx::query_scalar("SELECT 1 FROM properties WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL")
                .bind(tenant.0)
                .bind(property.0)
                .fetch_optional(&mut **tx)
                .await?
        }
    };
    Ok(found.is_some())
}

/// Host blocks overlapping or touching `[start, end)`.
async fn touching(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
    start: Date,
    end: Date,
) -> Result<Vec<Block>, ApiError> {
    Ok(on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT id, start_date, end_date, reason FROM blocked_ranges \
             WHERE tenant_id = $1 AND property_id = $2 AND source = 'host' \
               AND start_date <= $4 AND end_date >= $3",
        )
        .bind(tenant.0)
        .bind(property.0)
        .bind(start)
        .bind(end)
        .fetch_all(conn)
        .await
    })?)
}

/// Which blocked ranges a reader wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sources {
    /// Every range, imported ones included: what makes a night unavailable.
    All,
    /// The host's own ranges: what the host manages here and exports to other platforms
    /// (exporting imported ranges back out would echo calendars between platforms).
    Host,
}

pub async fn blocks_between(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
    (from, to): (Date, Date),
    sources: Sources,
) -> Result<Vec<Block>, ApiError> {
    let host_only = sources == Sources::Host;
    Ok(on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT id, start_date, end_date, reason FROM blocked_ranges \
             WHERE tenant_id = $1 AND property_id = $2 AND start_date < $4 AND end_date > $3 \
               AND ($5 = FALSE OR source = 'host') \
             ORDER BY start_date, id",
        )
        .bind(tenant.0)
        .bind(property.0)
        .bind(from)
        .bind(to)
        .bind(host_only)
        .fetch_all(pool)
        .await
    })?)
}

async fn delete_blocks(tx: &mut Tx, tenant: TenantId, ids: &[Uuid]) -> Result<(), ApiError> {
    for id in ids {
        on_tx!(&mut *tx, |conn| {
            sqlx::query("DELETE FROM blocked_ranges WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(*id)
                .execute(conn)
                .await
                .map(drop)
        })?;
    }
    Ok(())
}

async fn insert_block(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    property: PropertyId,
    block: &Block,
    now: Timestamp,
) -> Result<(), ApiError> {
    let tenant = permit.tenant();
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO blocked_ranges (tenant_id, id, property_id, start_date, end_date, reason, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant.0)
        .bind(block.id)
        .bind(property.0)
        .bind(block.start)
        .bind(block.end)
        .bind(&block.reason)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// Blocks `[start, end)`, merging with the host blocks it overlaps or touches; returns the
/// resulting block.
pub async fn block(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    (start, end): (Date, Date),
    reason: Option<String>,
) -> Result<Block, ApiError> {
    let (_, permit) = properties::for_change(
        state,
        tenant,
        principal,
        property,
        (PropertyAction::UpdateOwn, PropertyAction::UpdateAny),
    )
    .await?;
    if start < tenant.settings.today() {
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
    if !lock_property(&mut tx, tenant.id, property).await? {
        return Err(ApiError::NotFound("property"));
    }
    if bookings::store::any_held_in(&mut tx, tenant.id, property, (start, end)).await? {
        return Err(ApiError::Conflict {
            code: ErrorCode::DatesBooked,
            detail: "Some of these nights are booked; cancel the booking to free them.".into(),
        });
    }
    let merged_with = touching(&mut tx, tenant.id, property, start, end).await?;
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
    delete_blocks(&mut tx, tenant.id, &ids).await?;
    insert_block(&mut tx, &permit, property, &merged, now).await?;
    crate::tenants::store::bump_listings(&mut tx, tenant.id).await?;
    tx.commit().await?;
    Ok(merged)
}

pub async fn blocks(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
) -> Result<Vec<Block>, ApiError> {
    properties::for_change(
        state,
        tenant,
        principal,
        property,
        (PropertyAction::ReadOwn, PropertyAction::ReadAny),
    )
    .await?;
    let today = tenant.settings.today();
    let until = today + Duration::days(2 * MAX_NIGHTS);
    blocks_between(
        &state.db,
        tenant.id,
        property,
        (today, until),
        Sources::Host,
    )
    .await
}

pub async fn unblock(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    block: Uuid,
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
            "DELETE FROM blocked_ranges WHERE tenant_id = $1 AND property_id = $2 AND id = $3 AND source = 'host'",
        )
        .bind(tenant.id.0)
        .bind(property.0)
        .bind(block)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    if deleted == 0 {
        return Err(ApiError::NotFound("blocked range"));
    }
    crate::tenants::store::bump_listings(&mut tx, tenant.id).await?;
    tx.commit().await
}

/// Each night of `[from, to)` and whether it can be booked.
pub async fn availability(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    (from, to): (Date, Date),
) -> Result<Vec<(Date, NightStatus)>, ApiError> {
    properties::get(state, tenant, principal, property).await?;
    let blocks = blocks_between(&state.db, tenant.id, property, (from, to), Sources::All).await?;
    let booked = bookings::store::held_between(&state.db, tenant.id, property, (from, to)).await?;
    let mut nights = Vec::new();
    let mut night = from;
    while night < to {
        let status = if booked
            .iter()
            .any(|(_, check_in, check_out)| *check_in <= night && night < *check_out)
        {
            NightStatus::Booked
        } else if blocks
            .iter()
            .any(|block| block.start <= night && night < block.end)
        {
            NightStatus::Blocked
        } else {
            NightStatus::Available
        };
        nights.push((night, status));
        night = night.next_day().unwrap_or(to);
    }
    Ok(nights)
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn ranges_are_forward_and_bounded() {
        assert_eq!(
            parse_range("from", "2027-07-01", "to", "2027-07-03").unwrap(),
            (date!(2027 - 07 - 01), date!(2027 - 07 - 03))
        );
        assert!(parse_range("from", "2027-07-03", "to", "2027-07-03").is_err());
        assert!(parse_range("from", "2027-07-01", "to", "2028-07-03").is_err());
        let Err(ApiError::Validation(errors)) = parse_range("from", "July", "to", "2027-02-30")
        else {
            panic!("expected field errors");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["from", "to"]);
    }
}
