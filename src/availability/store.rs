//! The SQL of the overlap rule, over holding bookings and blocked ranges.

use std::sync::LazyLock;

use time::Date;
use uuid::Uuid;

use super::{
    model::{Block, Sources},
    rules::{MAX_ADVANCE_NOTICE_HOURS, Weekdays},
};
pub use crate::config::DatabaseKind as Dialect;
use crate::{
    bookings::model::BookingStatus,
    dates::Stay,
    db::{Bind, Db, Timestamp, Tx},
    error::ApiError,
    ids::{BookingId, PropertyId, TenantId},
    on_db, on_tx,
};

/// The SQL list of the statuses that hold nights: `('requested', ...)`.
static HOLDING: LazyLock<String> = LazyLock::new(|| {
    let quoted: Vec<String> = BookingStatus::HOLDING
        .iter()
        .map(|status| format!("'{}'", status.as_str()))
        .collect();
    format!("({})", quoted.join(", "))
});

/// Bookings of property `$2` in tenant `$1` that hold a night of `[$3, $4)`.
fn held_overlapping() -> String {
    format!(
        "FROM bookings WHERE tenant_id = $1 AND property_id = $2 AND status IN {holding} \
         AND check_in < $4 AND check_out > $3",
        holding = *HOLDING
    )
}

/// One row when a night of `[$3, $4)` of property `$2` is booked or blocked.
fn stay_taken() -> String {
    format!(
        "SELECT 1 {} UNION ALL \
         SELECT 1 FROM blocked_ranges WHERE tenant_id = $1 AND property_id = $2 \
           AND start_date < $4 AND end_date > $3 \
         LIMIT 1",
        held_overlapping()
    )
}

/// The conditions, on a query over `properties`, that no holding booking and no blocked range
/// covers a night of the stay whose check-in and check-out are bound as `$check_in` and
/// `$check_out`, and that no holding booking lies within the property's preparation nights of
/// it (date arithmetic is the one place the two dialects differ).
pub fn free_stay_conditions(check_in: usize, check_out: usize, dialect: Dialect) -> [String; 2] {
    let (padded_out, padded_in) = match dialect {
        Dialect::Sqlite => (
            format!("date(${check_out}, '+' || properties.preparation_nights || ' days')"),
            format!("date(${check_in}, '-' || properties.preparation_nights || ' days')"),
        ),
        Dialect::Postgres => (
            format!("(CAST(${check_out} AS DATE) + properties.preparation_nights)"),
            format!("(CAST(${check_in} AS DATE) - properties.preparation_nights)"),
        ),
    };
    [
        format!(
            "NOT EXISTS (SELECT 1 FROM blocked_ranges b WHERE b.tenant_id = properties.tenant_id \
             AND b.property_id = properties.id AND b.start_date < ${check_out} \
             AND b.end_date > ${check_in})"
        ),
        format!(
            "NOT EXISTS (SELECT 1 FROM bookings bk WHERE bk.tenant_id = properties.tenant_id \
             AND bk.property_id = properties.id AND bk.status IN {holding} \
             AND bk.check_in < {padded_out} AND bk.check_out > {padded_in})",
            holding = *HOLDING
        ),
    ]
}

/// What a search's rule conditions are computed from.
pub struct RuleSearch {
    pub stay: Stay,
    pub now: Timestamp,
    /// The tenant's today and its booking window, for properties that have none of their own.
    pub tenant_today: Date,
    pub tenant_window_days: u32,
}

/// The conditions, on a query over `properties`, that a property's rules may allow the stay,
/// with their binds, numbered from `$first`. Weekdays are exact; the booking window and the
/// advance notice depend on each property's time zone, so here they are bounds wide enough
/// for any zone, and `InForce::check` decides exactly on the rows found.
pub fn rule_conditions(first: usize, search: &RuleSearch) -> (Vec<String>, Vec<Bind>) {
    let stay = search.stay;
    let days_ahead = (stay.check_in - search.tenant_today).whole_days();
    // The latest check-in instant of the check-in date in any zone (UTC-12, at 23:59).
    let latest_check_in = stay.check_in.midnight().assume_utc() + time::Duration::hours(36);
    let hours_to_check_in = (latest_check_in - search.now.get()).whole_hours();
    let mut conditions = vec![
        format!("(check_in_weekdays & ${}) <> 0", first),
        format!("(check_out_weekdays & ${}) <> 0", first + 1),
        // Dates of two zones differ by two days at most.
        format!(
            "COALESCE(booking_window_days, ${}) >= ${}",
            first + 2,
            first + 3
        ),
    ];
    let mut binds = vec![
        Bind::Int(i64::from(Weekdays::bit(stay.check_in.weekday()))),
        Bind::Int(i64::from(Weekdays::bit(stay.check_out.weekday()))),
        Bind::Int(i64::from(search.tenant_window_days)),
        Bind::Int(days_ahead - 2),
    ];
    if hours_to_check_in < i64::from(MAX_ADVANCE_NOTICE_HOURS) {
        conditions.push(format!("advance_notice_hours <= ${}", first + 4));
        binds.push(Bind::Int(hours_to_check_in.max(0)));
    }
    (conditions, binds)
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %property))]
pub async fn lock_property(
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

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %property))]
pub async fn stay_is_free(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
    (check_in, check_out): (Date, Date),
) -> Result<bool, ApiError> {
    let sql = stay_taken();
    let taken: Option<i32> = on_tx!(tx, |conn| {
        sqlx::query_scalar(&sql)
            .bind(tenant.0)
            .bind(property.0)
            .bind(check_in)
            .bind(check_out)
            .fetch_optional(conn)
            .await
    })?;
    Ok(taken.is_none())
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %property))]
pub async fn stay_is_free_now(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
    (check_in, check_out): (Date, Date),
) -> Result<bool, ApiError> {
    let sql = stay_taken();
    let taken: Option<i32> = on_db!(db, |pool| {
        sqlx::query_scalar(&sql)
            .bind(tenant.0)
            .bind(property.0)
            .bind(check_in)
            .bind(check_out)
            .fetch_optional(pool)
            .await
    })?;
    Ok(taken.is_none())
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %property))]
pub async fn booked_between(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
    (from, to): (Date, Date),
) -> Result<Vec<(BookingId, Date, Date)>, ApiError> {
    let sql = format!(
        "SELECT id, check_in, check_out {} ORDER BY check_in",
        held_overlapping()
    );
    let rows: Vec<(Uuid, Date, Date)> = on_db!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(property.0)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(id, check_in, check_out)| (BookingId(id), check_in, check_out))
        .collect())
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %property))]
pub async fn booked_in(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
    (from, to): (Date, Date),
) -> Result<bool, ApiError> {
    let sql = format!("SELECT 1 {} LIMIT 1", held_overlapping());
    let found: Option<i32> = on_tx!(tx, |conn| {
        sqlx::query_scalar(&sql)
            .bind(tenant.0)
            .bind(property.0)
            .bind(from)
            .bind(to)
            .fetch_optional(conn)
            .await
    })?;
    Ok(found.is_some())
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %property))]
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
