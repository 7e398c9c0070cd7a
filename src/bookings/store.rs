//! Bookings' SQL. Every read joins the property for its name and owner (the host).

use time::Date;
use uuid::Uuid;

use super::model::{Actor, Booking, BookingStatus, PricedLine};
use crate::pricing::engine::{LineCode, LineSource};
use crate::{
    authz::{BookingAction, Permit},
    bind_all,
    db::{Bind, Db, Timestamp, Tx, is_exclusion_violation},
    error::ApiError,
    ids::{BookingId, PropertyId, TenantId, UserId},
    money::Money,
    on_db, on_tx,
    tenants::settings::{CancellationPolicy, PaymentCollection},
};

const COLUMNS: &str = "b.tenant_id, b.id, b.property_id, p.name AS property_name, \
    p.owner_id AS host_id, b.guest_id, b.check_in, b.check_out, CAST(b.guests AS BIGINT) AS guests, \
    b.status, b.currency, b.total, b.line_items, b.cancellation_policy, b.payment_collection, \
    CAST(b.host_fee_bps AS BIGINT) AS host_fee_bps, b.expires_at, \
    b.cancelled_by, b.refund_amount, b.history, b.created_at, b.updated_at";

const FROM: &str =
    "FROM bookings b JOIN properties p ON p.tenant_id = b.tenant_id AND p.id = b.property_id";

#[derive(sqlx::FromRow)]
struct BookingRow {
    tenant_id: Uuid,
    id: Uuid,
    property_id: Uuid,
    property_name: String,
    host_id: Uuid,
    guest_id: Uuid,
    check_in: Date,
    check_out: Date,
    guests: i64,
    status: String,
    currency: String,
    total: i64,
    line_items: String,
    cancellation_policy: String,
    payment_collection: String,
    host_fee_bps: i64,
    expires_at: Option<Timestamp>,
    cancelled_by: Option<String>,
    refund_amount: Option<i64>,
    history: String,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl TryFrom<BookingRow> for Booking {
    type Error = ApiError;

    fn try_from(row: BookingRow) -> Result<Self, ApiError> {
        let corrupt =
            |what: &str| ApiError::internal(format!("booking {} has an invalid {what}", row.id));
        Ok(Booking {
            tenant_id: TenantId(row.tenant_id),
            id: BookingId(row.id),
            property_id: PropertyId(row.property_id),
            property_name: row.property_name,
            host_id: UserId(row.host_id),
            guest_id: UserId(row.guest_id),
            check_in: row.check_in,
            check_out: row.check_out,
            guests: u32::try_from(row.guests).map_err(|_| corrupt("guests"))?,
            status: BookingStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            line_items: serde_json::from_str::<Vec<StoredLine>>(&row.line_items)
                .map_err(|_| corrupt("line_items"))?
                .into_iter()
                .map(|line| PricedLine {
                    code: line.code,
                    label: line.label,
                    amount: Money::new(line.amount, &row.currency),
                    source: line.source,
                })
                .collect(),
            total: Money::new(row.total, &row.currency),
            refund: row
                .refund_amount
                .map(|amount| Money::new(amount, &row.currency)),
            cancellation_policy: CancellationPolicy::parse(&row.cancellation_policy)
                .ok_or_else(|| corrupt("cancellation_policy"))?,
            payment_collection: PaymentCollection::parse(&row.payment_collection)
                .ok_or_else(|| corrupt("payment_collection"))?,
            host_fee_bps: u32::try_from(row.host_fee_bps).map_err(|_| corrupt("host_fee_bps"))?,
            expires_at: row.expires_at,
            cancelled_by: row
                .cancelled_by
                .map(|by| Actor::parse(&by).ok_or_else(|| corrupt("cancelled_by")))
                .transpose()?,
            history: serde_json::from_str(&row.history).map_err(|_| corrupt("history"))?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A line item as the `line_items` column stores it: in minor units of the booking's currency.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredLine {
    code: LineCode,
    label: String,
    amount: i64,
    /// Absent in lines stored before plugins existed: the engine's.
    #[serde(default)]
    source: LineSource,
}

fn stored_lines(booking: &Booking) -> Vec<StoredLine> {
    booking
        .line_items
        .iter()
        .map(|line| StoredLine {
            code: line.code,
            label: line.label.clone(),
            amount: line.amount.amount,
            source: line.source,
        })
        .collect()
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(ApiError::internal)
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %booking.tenant_id, booking = %booking.id))]
pub async fn insert(
    tx: &mut Tx,
    permit: &Permit<BookingAction>,
    booking: &Booking,
) -> Result<(), ApiError> {
    permit.require(&[BookingAction::Create])?;
    permit.require_tenant(booking.tenant_id)?;
    let line_items = json(&stored_lines(booking))?;
    let history = json(&booking.history)?;
    let result = on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO bookings (tenant_id, id, property_id, guest_id, check_in, check_out, \
             guests, status, currency, total, line_items, cancellation_policy, expires_at, \
             history, created_at, updated_at, payment_collection, host_fee_bps) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18)",
        )
        .bind(booking.tenant_id.0)
        .bind(booking.id.0)
        .bind(booking.property_id.0)
        .bind(booking.guest_id.0)
        .bind(booking.check_in)
        .bind(booking.check_out)
        .bind(i64::from(booking.guests) as i32)
        .bind(booking.status.as_str())
        .bind(&booking.total.currency)
        .bind(booking.total.amount)
        .bind(&line_items)
        .bind(booking.cancellation_policy.as_str())
        .bind(booking.expires_at)
        .bind(&history)
        .bind(booking.created_at)
        .bind(booking.updated_at)
        .bind(booking.payment_collection.as_str())
        .bind(i64::from(booking.host_fee_bps) as i32)
        .execute(conn)
        .await
        .map(drop)
    });
    match result {
        Ok(()) => Ok(()),
        Err(err) if is_exclusion_violation(&err) => Err(ApiError::dates_unavailable()),
        Err(err) => Err(err.into()),
    }
}

/// Writes a booking's new status and what came with it, if it is still in `from`; `false`
/// when another transaction moved it first.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %booking.tenant_id, booking = %booking.id, to = booking.status.as_str()))]
pub async fn update_status(
    tx: &mut Tx,
    permit: &Permit<BookingAction>,
    booking: &Booking,
    from: BookingStatus,
) -> Result<bool, ApiError> {
    permit.require(BookingAction::MOVES)?;
    permit.require_tenant(booking.tenant_id)?;
    let history = json(&booking.history)?;
    let result = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE bookings SET status = $3, expires_at = $4, cancelled_by = $5, \
             refund_amount = $6, history = $7, updated_at = $8 \
             WHERE tenant_id = $1 AND id = $2 AND status = $9",
        )
        .bind(booking.tenant_id.0)
        .bind(booking.id.0)
        .bind(booking.status.as_str())
        .bind(booking.expires_at)
        .bind(booking.cancelled_by.map(Actor::as_str))
        .bind(booking.refund.as_ref().map(|refund| refund.amount))
        .bind(&history)
        .bind(booking.updated_at)
        .bind(from.as_str())
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    });
    match result {
        Ok(updated) => Ok(updated == 1),
        Err(err) if is_exclusion_violation(&err) => Err(ApiError::dates_unavailable()),
        Err(err) => Err(err.into()),
    }
}

#[tracing::instrument(level = "debug", skip(db))]
pub async fn get(db: &Db, tenant: TenantId, id: BookingId) -> Result<Option<Booking>, ApiError> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE b.tenant_id = $1 AND b.id = $2");
    let row: Option<BookingRow> = on_db!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(pool)
            .await
    })?;
    row.map(Booking::try_from).transpose()
}

/// The booking, read on the transaction's connection and (on PostgreSQL) locked until it ends.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn get_in(
    tx: &mut Tx,
    tenant: TenantId,
    id: BookingId,
) -> Result<Option<Booking>, ApiError> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE b.tenant_id = $1 AND b.id = $2");
    let row: Option<BookingRow> = match tx {
        Tx::Postgres(tx) => {
            sqlx::query_as(&format!("{sql} FOR UPDATE OF b"))
                .bind(tenant.0)
                .bind(id.0)
                .fetch_optional(&mut **tx)
                .await?
        }
        Tx::Sqlite(tx) => {
            sqlx::query_as(&sql)
                .bind(tenant.0)
                .bind(id.0)
                .fetch_optional(&mut **tx)
                .await?
        }
    };
    row.map(Booking::try_from).transpose()
}

/// The guest's completed stay at the property that checked out last, read on the
/// transaction's connection and (on PostgreSQL) locked until it ends.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn latest_completed_in(
    tx: &mut Tx,
    tenant: TenantId,
    (guest, property): (UserId, PropertyId),
) -> Result<Option<Booking>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE b.tenant_id = $1 AND b.guest_id = $2 \
         AND b.property_id = $3 AND b.status = 'completed' \
         ORDER BY b.check_out DESC, b.id DESC LIMIT 1"
    );
    let row: Option<BookingRow> = match tx {
        Tx::Postgres(tx) => {
            sqlx::query_as(&format!("{sql} FOR UPDATE OF b"))
                .bind(tenant.0)
                .bind(guest.0)
                .bind(property.0)
                .fetch_optional(&mut **tx)
                .await?
        }
        Tx::Sqlite(tx) => {
            sqlx::query_as(&sql)
                .bind(tenant.0)
                .bind(guest.0)
                .bind(property.0)
                .fetch_optional(&mut **tx)
                .await?
        }
    };
    row.map(Booking::try_from).transpose()
}

/// Whose bookings a list shows.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Made by this guest.
    Guest(UserId),
    /// Of this host's properties.
    Host(UserId),
    /// All of the tenant's.
    Tenant,
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub statuses: Vec<BookingStatus>,
    /// Stays with a night on or after this date.
    pub from: Option<Date>,
    /// Stays with a night before this date.
    pub to: Option<Date>,
    /// Newest first, after this booking.
    pub after: Option<BookingId>,
    pub limit: u32,
}

#[tracing::instrument(level = "debug", skip(db, query))]
pub async fn list(
    db: &Db,
    tenant: TenantId,
    scope: Scope,
    query: &ListQuery,
) -> Result<Vec<Booking>, ApiError> {
    let mut conditions = vec!["b.tenant_id = $1".to_owned()];
    let mut binds = vec![Bind::Uuid(tenant.0)];
    let mut add = |condition: &dyn Fn(usize) -> String, bind: Bind| {
        binds.push(bind);
        conditions.push(condition(binds.len()));
    };
    match scope {
        Scope::Guest(user) => add(&|n| format!("b.guest_id = ${n}"), Bind::Uuid(user.0)),
        Scope::Host(user) => add(&|n| format!("p.owner_id = ${n}"), Bind::Uuid(user.0)),
        Scope::Tenant => {}
    }
    if let Some(from) = query.from {
        add(&|n| format!("b.check_out > ${n}"), Bind::Date(from));
    }
    if let Some(to) = query.to {
        add(&|n| format!("b.check_in < ${n}"), Bind::Date(to));
    }
    if let Some(after) = query.after {
        add(&|n| format!("b.id < ${n}"), Bind::Uuid(after.0));
    }
    if !query.statuses.is_empty() {
        let first = binds.len() + 1;
        let placeholders: Vec<String> = (first..first + query.statuses.len())
            .map(|n| format!("${n}"))
            .collect();
        binds.extend(
            query
                .statuses
                .iter()
                .map(|status| Bind::Text(status.as_str().to_owned())),
        );
        conditions.push(format!("b.status IN ({})", placeholders.join(", ")));
    }
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE {} ORDER BY b.id DESC LIMIT {}",
        conditions.join(" AND "),
        query.limit
    );
    let rows: Vec<BookingRow> = on_db!(db, |pool| {
        let statement = sqlx::query_as(&sql);
        bind_all!(statement, &binds).fetch_all(pool).await
    })?;
    rows.into_iter().map(Booking::try_from).collect()
}

/// How many unpaid bookings (requests and holds) the guest has, read in the transaction that
/// holds the guest's lock.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn unpaid_of_guest(
    tx: &mut Tx,
    tenant: TenantId,
    guest: UserId,
) -> Result<i64, ApiError> {
    let statuses: Vec<String> = BookingStatus::UNPAID
        .iter()
        .map(|status| format!("'{}'", status.as_str()))
        .collect();
    let sql = format!(
        "SELECT COUNT(*) FROM bookings WHERE tenant_id = $1 AND guest_id = $2 AND status IN ({})",
        statuses.join(", ")
    );
    let count: i64 = on_tx!(tx, |conn| {
        sqlx::query_scalar(&sql)
            .bind(tenant.0)
            .bind(guest.0)
            .fetch_one(conn)
            .await
    })?;
    Ok(count)
}

/// Confirmed stays checking out on or before `until`, oldest first: candidates for
/// completion, which each tenant's today decides.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn confirmed_checking_out_by(
    db: &Db,
    until: Date,
    limit: u32,
) -> Result<Vec<(TenantId, BookingId, Date)>, ApiError> {
    let sql = format!(
        "SELECT tenant_id, id, check_out FROM bookings \
         WHERE status = 'confirmed' AND check_out <= $1 ORDER BY check_out LIMIT {limit}"
    );
    let rows: Vec<(Uuid, Uuid, Date)> = on_db!(db, |pool| {
        sqlx::query_as(&sql).bind(until).fetch_all(pool).await
    })?;
    Ok(rows
        .into_iter()
        .map(|(tenant, id, check_out)| (TenantId(tenant), BookingId(id), check_out))
        .collect())
}

/// A tenant's requests and holds whose deadline is `now` or earlier.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn lapsed_in(
    db: &Db,
    tenant: TenantId,
    now: Timestamp,
) -> Result<Vec<BookingId>, ApiError> {
    let ids: Vec<Uuid> = on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT id FROM bookings WHERE tenant_id = $1 \
             AND status IN ('requested', 'pending_payment') AND expires_at <= $2 ORDER BY id",
        )
        .bind(tenant.0)
        .bind(now)
        .fetch_all(pool)
        .await
    })?;
    Ok(ids.into_iter().map(BookingId).collect())
}

/// A tenant's confirmed stays checking out on `today` or earlier.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn checking_out_in(
    db: &Db,
    tenant: TenantId,
    today: Date,
) -> Result<Vec<BookingId>, ApiError> {
    let ids: Vec<Uuid> = on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT id FROM bookings WHERE tenant_id = $1 AND status = 'confirmed' \
             AND check_out <= $2 ORDER BY id",
        )
        .bind(tenant.0)
        .bind(today)
        .fetch_all(pool)
        .await
    })?;
    Ok(ids.into_iter().map(BookingId).collect())
}
