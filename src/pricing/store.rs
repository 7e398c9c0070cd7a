//! The SQL of per-date prices and seasons.

use std::collections::BTreeMap;

use time::Date;
use uuid::Uuid;

use super::engine::{NightRates, Season};
use crate::{
    authz::{Permit, PropertyAction},
    db::{Db, Timestamp, Tx},
    error::ApiError,
    ids::{PropertyId, TenantId},
    on_db, on_tx,
};

/// Per-date prices of property `$2` in tenant `$1` for the nights `[$3, $4)`.
const DATE_PRICES: &str = "SELECT night, price FROM property_date_prices \
     WHERE tenant_id = $1 AND property_id = $2 AND night >= $3 AND night < $4 ORDER BY night";

/// Seasons of property `$2` in tenant `$1` overlapping the nights `[$3, $4)`.
const SEASONS: &str = "SELECT id, start_date, end_date, nightly_price, \
     CAST(min_nights AS BIGINT) AS min_nights FROM property_seasons \
     WHERE tenant_id = $1 AND property_id = $2 AND start_date < $4 AND end_date > $3 \
     ORDER BY start_date, id";

#[derive(sqlx::FromRow)]
struct SeasonRow {
    id: Uuid,
    start_date: Date,
    end_date: Date,
    nightly_price: i64,
    min_nights: Option<i64>,
}

impl From<SeasonRow> for Season {
    fn from(row: SeasonRow) -> Self {
        Self {
            id: row.id,
            start: row.start_date,
            end: row.end_date,
            nightly_price: row.nightly_price,
            min_nights: row.min_nights.and_then(|n| u32::try_from(n).ok()),
        }
    }
}

/// Reads the per-date prices and seasons of `[from, to)` on `$executor` (a pool, or a
/// transaction's connection), as `Result<NightRates, sqlx::Error>`.
macro_rules! read_rates {
    ($executor:expr, $tenant:expr, $property:expr, ($from:expr, $to:expr)) => {{
        let dates: Vec<(Date, i64)> = sqlx::query_as(DATE_PRICES)
            .bind($tenant.0)
            .bind($property.0)
            .bind($from)
            .bind($to)
            .fetch_all($executor)
            .await?;
        let seasons: Vec<SeasonRow> = sqlx::query_as(SEASONS)
            .bind($tenant.0)
            .bind($property.0)
            .bind($from)
            .bind($to)
            .fetch_all($executor)
            .await?;
        Ok::<_, sqlx::Error>(NightRates {
            dates: dates.into_iter().collect::<BTreeMap<_, _>>(),
            seasons: seasons.into_iter().map(Season::from).collect(),
        })
    }};
}

/// The per-date prices and seasons of the nights `[from, to)`.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %property))]
pub async fn rates_between(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
    (from, to): (Date, Date),
) -> Result<NightRates, ApiError> {
    Ok(on_db!(db, |pool| read_rates!(
        pool,
        tenant,
        property,
        (from, to)
    ))?)
}

/// `rates_between`, read in a transaction (a booking's price, under the calendar's lock).
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %property))]
pub async fn rates_in(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
    (from, to): (Date, Date),
) -> Result<NightRates, ApiError> {
    Ok(on_tx!(tx, |conn| read_rates!(
        &mut *conn,
        tenant,
        property,
        (from, to)
    ))?)
}

/// Sets (or, with `None`, removes) the price of each night.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), property = %property))]
pub async fn put_date_prices(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    property: PropertyId,
    prices: &[(Date, Option<i64>)],
) -> Result<(), ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    let tenant = permit.tenant();
    on_tx!(tx, |conn| {
        for (night, price) in prices {
            sqlx::query(
                "DELETE FROM property_date_prices \
                 WHERE tenant_id = $1 AND property_id = $2 AND night = $3",
            )
            .bind(tenant.0)
            .bind(property.0)
            .bind(*night)
            .execute(&mut *conn)
            .await?;
            if let Some(price) = price {
                sqlx::query(
                    "INSERT INTO property_date_prices (tenant_id, property_id, night, price) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(tenant.0)
                .bind(property.0)
                .bind(*night)
                .bind(*price)
                .execute(&mut *conn)
                .await?;
            }
        }
        Ok::<(), sqlx::Error>(())
    })?;
    Ok(())
}

/// The per-date prices of the nights from `from` on, by date.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %property))]
pub async fn date_prices_from(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
    from: Date,
) -> Result<Vec<(Date, i64)>, ApiError> {
    Ok(on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT night, price FROM property_date_prices \
             WHERE tenant_id = $1 AND property_id = $2 AND night >= $3 ORDER BY night",
        )
        .bind(tenant.0)
        .bind(property.0)
        .bind(from)
        .fetch_all(pool)
        .await
    })?)
}

/// Every season of the property, by start.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %property))]
pub async fn seasons_of(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
) -> Result<Vec<Season>, ApiError> {
    let rows: Vec<SeasonRow> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT id, start_date, end_date, nightly_price, \
             CAST(min_nights AS BIGINT) AS min_nights FROM property_seasons \
             WHERE tenant_id = $1 AND property_id = $2 ORDER BY start_date, id",
        )
        .bind(tenant.0)
        .bind(property.0)
        .fetch_all(pool)
        .await
    })?;
    Ok(rows.into_iter().map(Season::from).collect())
}

/// The season, read in a transaction that holds the calendar's lock.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %property))]
pub async fn season_in(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
    season: Uuid,
) -> Result<Option<Season>, ApiError> {
    let row: Option<SeasonRow> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT id, start_date, end_date, nightly_price, \
             CAST(min_nights AS BIGINT) AS min_nights FROM property_seasons \
             WHERE tenant_id = $1 AND property_id = $2 AND id = $3",
        )
        .bind(tenant.0)
        .bind(property.0)
        .bind(season)
        .fetch_optional(conn)
        .await
    })?;
    Ok(row.map(Season::from))
}

/// Whether another season of the property than `except` covers a night of `[start, end)`.
async fn overlaps_another(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
    season: &Season,
) -> Result<bool, ApiError> {
    let overlapping: Option<i32> = on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "SELECT 1 FROM property_seasons WHERE tenant_id = $1 AND property_id = $2 \
             AND start_date < $4 AND end_date > $3 AND id <> $5 LIMIT 1",
        )
        .bind(tenant.0)
        .bind(property.0)
        .bind(season.start)
        .bind(season.end)
        .bind(season.id)
        .fetch_optional(conn)
        .await
    })?;
    Ok(overlapping.is_some())
}

/// Replaces a season unless it would overlap another of the property; `false` when it would.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), property = %property))]
pub async fn update_season(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    property: PropertyId,
    season: &Season,
) -> Result<bool, ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    let tenant = permit.tenant();
    if overlaps_another(tx, tenant, property, season).await? {
        return Ok(false);
    }
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE property_seasons SET start_date = $4, end_date = $5, nightly_price = $6, \
             min_nights = CAST(NULLIF($7, -1) AS INTEGER) \
             WHERE tenant_id = $1 AND property_id = $2 AND id = $3",
        )
        .bind(tenant.0)
        .bind(property.0)
        .bind(season.id)
        .bind(season.start)
        .bind(season.end)
        .bind(season.nightly_price)
        .bind(season.min_nights.map_or(-1, i64::from))
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(true)
}

/// Adds a season unless it overlaps another of the property; `false` when it does.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), property = %property))]
pub async fn insert_season(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    property: PropertyId,
    season: &Season,
    now: Timestamp,
) -> Result<bool, ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    let tenant = permit.tenant();
    if overlaps_another(tx, tenant, property, season).await? {
        return Ok(false);
    }
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO property_seasons (tenant_id, id, property_id, start_date, end_date, \
             nightly_price, min_nights, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, CAST(NULLIF($7, -1) AS INTEGER), $8)",
        )
        .bind(tenant.0)
        .bind(season.id)
        .bind(property.0)
        .bind(season.start)
        .bind(season.end)
        .bind(season.nightly_price)
        .bind(season.min_nights.map_or(-1, i64::from))
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(true)
}

/// Removes a season; `false` when the property has no such season.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), property = %property))]
pub async fn delete_season(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    property: PropertyId,
    season: Uuid,
) -> Result<bool, ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    let tenant = permit.tenant();
    let deleted = on_tx!(tx, |conn| {
        sqlx::query(
            "DELETE FROM property_seasons WHERE tenant_id = $1 AND property_id = $2 AND id = $3",
        )
        .bind(tenant.0)
        .bind(property.0)
        .bind(season)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(deleted == 1)
}

/// The condition, on a query over `properties`, that the season covering the check-in night
/// (bound as `$check_in`), if any, asks for no more nights than the stay's (bound as
/// `$nights`). A correlated scalar subquery (seasons never overlap, so at most one row): an
/// `EXISTS` would let PostgreSQL hash the whole seasons table for a search of many listings.
pub fn season_min_nights_condition(check_in: usize, nights: usize) -> String {
    format!(
        "COALESCE((SELECT s.min_nights FROM property_seasons s \
         WHERE s.tenant_id = properties.tenant_id AND s.property_id = properties.id \
         AND s.start_date <= ${check_in} AND s.end_date > ${check_in} LIMIT 1), 0) <= ${nights}"
    )
}
