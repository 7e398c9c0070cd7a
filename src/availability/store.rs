//! The SQL of the overlap rule, over holding bookings and blocked ranges.

use std::sync::LazyLock;

use time::Date;
use uuid::Uuid;

use super::model::{Block, Sources};
use crate::{
    bookings::model::BookingStatus,
    db::{Db, Tx},
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
/// `$check_out`.
pub fn free_stay_conditions(check_in: usize, check_out: usize) -> [String; 2] {
    [
        format!(
            "NOT EXISTS (SELECT 1 FROM blocked_ranges b WHERE b.tenant_id = properties.tenant_id \
             AND b.property_id = properties.id AND b.start_date < ${check_out} \
             AND b.end_date > ${check_in})"
        ),
        format!(
            "NOT EXISTS (SELECT 1 FROM bookings bk WHERE bk.tenant_id = properties.tenant_id \
             AND bk.property_id = properties.id AND bk.status IN {holding} \
             AND bk.check_in < ${check_out} AND bk.check_out > ${check_in})",
            holding = *HOLDING
        ),
    ]
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
