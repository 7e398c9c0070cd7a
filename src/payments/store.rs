//! Payments', refunds', payouts' and provider events' SQL.

use uuid::Uuid;

use super::model::{
    Capture, Payment, PaymentStatus, Payout, PayoutStatus, Refund, RefundStatus, Split,
};
use crate::{
    authz::{Action, Permit},
    bind_all,
    db::{Bind, Db, Timestamp, Tx},
    error::ApiError,
    ids::{BookingId, PaymentId, PayoutId, PropertyId, RefundId, TenantId, UserId},
    money::Money,
    on_db, on_tx,
};

const PAYMENT_COLUMNS: &str = "tenant_id, id, booking_id, guest_id, host_id, property_id, \
    provider, provider_reference, payment_method, capture, status, failure_code, currency, \
    amount, captured, refunded, platform_fee, taxes, host_payout, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct PaymentRow {
    tenant_id: Uuid,
    id: Uuid,
    booking_id: Uuid,
    guest_id: Uuid,
    host_id: Uuid,
    property_id: Uuid,
    provider: String,
    provider_reference: Option<String>,
    payment_method: String,
    capture: String,
    status: String,
    failure_code: Option<String>,
    currency: String,
    amount: i64,
    captured: i64,
    refunded: i64,
    platform_fee: i64,
    taxes: i64,
    host_payout: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl TryFrom<PaymentRow> for Payment {
    type Error = ApiError;

    fn try_from(row: PaymentRow) -> Result<Self, ApiError> {
        let corrupt =
            |what: &str| ApiError::internal(format!("payment {} has an invalid {what}", row.id));
        Ok(Payment {
            tenant_id: TenantId(row.tenant_id),
            id: PaymentId(row.id),
            booking_id: BookingId(row.booking_id),
            guest_id: UserId(row.guest_id),
            host_id: UserId(row.host_id),
            property_id: PropertyId(row.property_id),
            provider: row.provider,
            provider_reference: row.provider_reference,
            payment_method: row.payment_method,
            capture: Capture::parse(&row.capture).ok_or_else(|| corrupt("capture"))?,
            status: PaymentStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            failure_code: row.failure_code,
            amount: Money::new(row.amount, row.currency),
            captured: row.captured,
            refunded: row.refunded,
            split: Split {
                platform_fee: row.platform_fee,
                taxes: row.taxes,
                host_payout: row.host_payout,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Checks that a permit is for the tenant whose data a write touches.
fn check<A: Action>(permit: &Permit<A>, tenant: TenantId) -> Result<(), ApiError> {
    permit.require_tenant(tenant)
}

pub async fn insert<A: Action>(
    tx: &mut Tx,
    permit: &Permit<A>,
    payment: &Payment,
) -> Result<(), ApiError> {
    check(permit, payment.tenant_id)?;
    let result = on_tx!(tx, |conn| {
        sqlx::query(&format!(
            "INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
             $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
        ))
        .bind(payment.tenant_id.0)
        .bind(payment.id.0)
        .bind(payment.booking_id.0)
        .bind(payment.guest_id.0)
        .bind(payment.host_id.0)
        .bind(payment.property_id.0)
        .bind(&payment.provider)
        .bind(&payment.provider_reference)
        .bind(&payment.payment_method)
        .bind(payment.capture.as_str())
        .bind(payment.status.as_str())
        .bind(&payment.failure_code)
        .bind(&payment.amount.currency)
        .bind(payment.amount.amount)
        .bind(payment.captured)
        .bind(payment.refunded)
        .bind(payment.split.platform_fee)
        .bind(payment.split.taxes)
        .bind(payment.split.host_payout)
        .bind(payment.created_at)
        .bind(payment.updated_at)
        .execute(conn)
        .await
        .map(drop)
    });
    match result {
        // The one-live-payment-per-booking index: a concurrent attempt got there first.
        Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
            Err(ApiError::Unavailable("payment"))
        }
        other => Ok(other?),
    }
}

/// Writes what the provider or a refund changed.
pub async fn update<A: Action>(
    tx: &mut Tx,
    permit: &Permit<A>,
    payment: &Payment,
) -> Result<(), ApiError> {
    check(permit, payment.tenant_id)?;
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE payments SET provider_reference = $3, status = $4, failure_code = $5, \
             captured = $6, refunded = $7, platform_fee = $8, taxes = $9, host_payout = $10, \
             updated_at = $11 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(payment.tenant_id.0)
        .bind(payment.id.0)
        .bind(&payment.provider_reference)
        .bind(payment.status.as_str())
        .bind(&payment.failure_code)
        .bind(payment.captured)
        .bind(payment.refunded)
        .bind(payment.split.platform_fee)
        .bind(payment.split.taxes)
        .bind(payment.split.host_payout)
        .bind(payment.updated_at)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

pub async fn get(db: &Db, tenant: TenantId, id: PaymentId) -> Result<Option<Payment>, ApiError> {
    let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE tenant_id = $1 AND id = $2");
    let row: Option<PaymentRow> = on_db!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(pool)
            .await
    })?;
    row.map(Payment::try_from).transpose()
}

/// The first row `sql` (with `binds`) selects, read in the transaction and locked on
/// PostgreSQL until it ends (SQLite's writer lock serializes anyway).
async fn one_locked<R>(tx: &mut Tx, sql: &str, binds: &[Bind]) -> Result<Option<R>, ApiError>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    Ok(match tx {
        Tx::Postgres(tx) => {
            let sql = format!("{sql} FOR UPDATE");
            bind_all!(sqlx::query_as(&sql), binds)
                .fetch_optional(&mut **tx)
                .await?
        }
        Tx::Sqlite(tx) => {
            bind_all!(sqlx::query_as(sql), binds)
                .fetch_optional(&mut **tx)
                .await?
        }
    })
}

/// The payment matching `condition` (on `$1` tenant and the following `values`), locked.
async fn locked(
    tx: &mut Tx,
    tenant: TenantId,
    condition: &str,
    values: Vec<Bind>,
) -> Result<Option<Payment>, ApiError> {
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE tenant_id = $1 AND {condition} \
         ORDER BY id DESC LIMIT 1"
    );
    let mut binds = vec![Bind::Uuid(tenant.0)];
    binds.extend(values);
    let row: Option<PaymentRow> = one_locked(tx, &sql, &binds).await?;
    row.map(Payment::try_from).transpose()
}

/// The booking a payment is for, read without a lock (to lock the booking first).
pub async fn booking_of(
    tx: &mut Tx,
    tenant: TenantId,
    id: PaymentId,
) -> Result<Option<BookingId>, ApiError> {
    let booking: Option<Uuid> = on_tx!(tx, |conn| {
        sqlx::query_scalar("SELECT booking_id FROM payments WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(conn)
            .await
    })?;
    Ok(booking.map(BookingId))
}

/// The payment a provider's reference names.
pub async fn id_by_reference(
    tx: &mut Tx,
    tenant: TenantId,
    (provider, reference): (&str, &str),
) -> Result<Option<PaymentId>, ApiError> {
    let id: Option<Uuid> = on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "SELECT id FROM payments WHERE tenant_id = $1 AND provider = $2 \
             AND provider_reference = $3",
        )
        .bind(tenant.0)
        .bind(provider)
        .bind(reference)
        .fetch_optional(conn)
        .await
    })?;
    Ok(id.map(PaymentId))
}

pub async fn get_in(
    tx: &mut Tx,
    tenant: TenantId,
    id: PaymentId,
) -> Result<Option<Payment>, ApiError> {
    locked(tx, tenant, "id = $2", vec![Bind::Uuid(id.0)]).await
}

/// The booking's payment that is under way or went through, if any.
pub async fn live_of_booking_in(
    tx: &mut Tx,
    tenant: TenantId,
    booking: BookingId,
) -> Result<Option<Payment>, ApiError> {
    locked(
        tx,
        tenant,
        "booking_id = $2 AND status NOT IN ('failed', 'canceled')",
        vec![Bind::Uuid(booking.0)],
    )
    .await
}

/// Whose payments a list shows.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Guest(UserId),
    Host(UserId),
    Tenant,
}

pub async fn list(
    db: &Db,
    tenant: TenantId,
    scope: Scope,
    (after, limit): (Option<PaymentId>, u32),
) -> Result<Vec<Payment>, ApiError> {
    let mut binds = vec![Bind::Uuid(tenant.0)];
    let mut conditions = vec!["tenant_id = $1".to_owned()];
    match scope {
        Scope::Guest(user) => {
            binds.push(Bind::Uuid(user.0));
            conditions.push(format!("guest_id = ${}", binds.len()));
        }
        Scope::Host(user) => {
            binds.push(Bind::Uuid(user.0));
            conditions.push(format!("host_id = ${}", binds.len()));
        }
        Scope::Tenant => {}
    }
    if let Some(after) = after {
        binds.push(Bind::Uuid(after.0));
        conditions.push(format!("id < ${}", binds.len()));
    }
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE {} ORDER BY id DESC LIMIT {limit}",
        conditions.join(" AND ")
    );
    let rows: Vec<PaymentRow> = on_db!(db, |pool| {
        bind_all!(sqlx::query_as(&sql), &binds)
            .fetch_all(pool)
            .await
    })?;
    rows.into_iter().map(Payment::try_from).collect()
}

const REFUND_COLUMNS: &str = "tenant_id, id, payment_id, currency, amount, platform_fee_part, \
    taxes_part, host_payout_part, reason, status, provider_reference, requested_by, created_at, \
    updated_at";

#[derive(sqlx::FromRow)]
struct RefundRow {
    tenant_id: Uuid,
    id: Uuid,
    payment_id: Uuid,
    currency: String,
    amount: i64,
    platform_fee_part: i64,
    taxes_part: i64,
    host_payout_part: i64,
    reason: String,
    status: String,
    provider_reference: Option<String>,
    requested_by: Option<Uuid>,
    created_at: Timestamp,
}

impl TryFrom<RefundRow> for Refund {
    type Error = ApiError;

    fn try_from(row: RefundRow) -> Result<Self, ApiError> {
        Ok(Refund {
            tenant_id: TenantId(row.tenant_id),
            id: RefundId(row.id),
            payment_id: PaymentId(row.payment_id),
            amount: Money::new(row.amount, row.currency),
            parts: Split {
                platform_fee: row.platform_fee_part,
                taxes: row.taxes_part,
                host_payout: row.host_payout_part,
            },
            reason: row.reason,
            status: RefundStatus::parse(&row.status).ok_or_else(|| {
                ApiError::internal(format!("refund {} has an invalid status", row.id))
            })?,
            provider_reference: row.provider_reference,
            requested_by: row.requested_by.map(UserId),
            created_at: row.created_at,
        })
    }
}

pub async fn insert_refund<A: Action>(
    tx: &mut Tx,
    permit: &Permit<A>,
    refund: &Refund,
) -> Result<(), ApiError> {
    check(permit, refund.tenant_id)?;
    on_tx!(tx, |conn| {
        sqlx::query(&format!(
            "INSERT INTO refunds ({REFUND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $13)"
        ))
        .bind(refund.tenant_id.0)
        .bind(refund.id.0)
        .bind(refund.payment_id.0)
        .bind(&refund.amount.currency)
        .bind(refund.amount.amount)
        .bind(refund.parts.platform_fee)
        .bind(refund.parts.taxes)
        .bind(refund.parts.host_payout)
        .bind(&refund.reason)
        .bind(refund.status.as_str())
        .bind(&refund.provider_reference)
        .bind(refund.requested_by.map(|user| user.0))
        .bind(refund.created_at)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

pub async fn refund(db: &Db, tenant: TenantId, id: RefundId) -> Result<Option<Refund>, ApiError> {
    let sql = format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE tenant_id = $1 AND id = $2");
    let row: Option<RefundRow> = on_db!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(pool)
            .await
    })?;
    row.map(Refund::try_from).transpose()
}

/// A payment's refunds, newest first, after the cursor's.
pub async fn refunds_of(
    db: &Db,
    tenant: TenantId,
    payment: PaymentId,
    (after, limit): (Option<RefundId>, u32),
) -> Result<Vec<Refund>, ApiError> {
    let mut binds = vec![Bind::Uuid(tenant.0), Bind::Uuid(payment.0)];
    let mut condition = String::new();
    if let Some(after) = after {
        binds.push(Bind::Uuid(after.0));
        condition = format!(" AND id < ${}", binds.len());
    }
    let sql = format!(
        "SELECT {REFUND_COLUMNS} FROM refunds WHERE tenant_id = $1 AND payment_id = $2{condition} \
         ORDER BY id DESC LIMIT {limit}"
    );
    let rows: Vec<RefundRow> = on_db!(db, |pool| {
        bind_all!(sqlx::query_as(&sql), &binds)
            .fetch_all(pool)
            .await
    })?;
    rows.into_iter().map(Refund::try_from).collect()
}

pub async fn set_refund_status<A: Action>(
    tx: &mut Tx,
    permit: &Permit<A>,
    refund: &Refund,
    now: Timestamp,
) -> Result<(), ApiError> {
    check(permit, refund.tenant_id)?;
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE refunds SET status = $3, provider_reference = $4, updated_at = $5 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(refund.tenant_id.0)
        .bind(refund.id.0)
        .bind(refund.status.as_str())
        .bind(&refund.provider_reference)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

const PAYOUT_COLUMNS: &str = "tenant_id, id, booking_id, payment_id, host_id, currency, amount, \
    status, payable_at, paid_at, paid_by, owed_back";

#[derive(sqlx::FromRow)]
struct PayoutRow {
    tenant_id: Uuid,
    id: Uuid,
    booking_id: Uuid,
    payment_id: Uuid,
    host_id: Uuid,
    currency: String,
    amount: i64,
    status: String,
    payable_at: Timestamp,
    paid_at: Option<Timestamp>,
    paid_by: Option<Uuid>,
    owed_back: i64,
}

impl TryFrom<PayoutRow> for Payout {
    type Error = ApiError;

    fn try_from(row: PayoutRow) -> Result<Self, ApiError> {
        Ok(Payout {
            tenant_id: TenantId(row.tenant_id),
            id: PayoutId(row.id),
            booking_id: BookingId(row.booking_id),
            payment_id: PaymentId(row.payment_id),
            host_id: UserId(row.host_id),
            amount: Money::new(row.amount, row.currency),
            owed_back: row.owed_back,
            status: PayoutStatus::parse(&row.status).ok_or_else(|| {
                ApiError::internal(format!("payout {} has an invalid status", row.id))
            })?,
            payable_at: row.payable_at,
            paid_at: row.paid_at,
            paid_by: row.paid_by.map(UserId),
        })
    }
}

/// Writes a payout: new, or changed by a refund, a due date or a payment.
pub async fn save_payout<A: Action>(
    tx: &mut Tx,
    permit: &Permit<A>,
    payout: &Payout,
    now: Timestamp,
) -> Result<(), ApiError> {
    check(permit, payout.tenant_id)?;
    on_tx!(tx, |conn| {
        sqlx::query(&format!(
            "INSERT INTO payouts ({PAYOUT_COLUMNS}, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) \
             ON CONFLICT (tenant_id, id) DO UPDATE SET amount = excluded.amount, \
             status = excluded.status, paid_at = excluded.paid_at, paid_by = excluded.paid_by, \
             owed_back = excluded.owed_back, updated_at = excluded.updated_at"
        ))
        .bind(payout.tenant_id.0)
        .bind(payout.id.0)
        .bind(payout.booking_id.0)
        .bind(payout.payment_id.0)
        .bind(payout.host_id.0)
        .bind(&payout.amount.currency)
        .bind(payout.amount.amount)
        .bind(payout.status.as_str())
        .bind(payout.payable_at)
        .bind(payout.paid_at)
        .bind(payout.paid_by.map(|user| user.0))
        .bind(payout.owed_back)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// The payout matching `condition` on `$2`, locked.
async fn payout_locked(
    tx: &mut Tx,
    tenant: TenantId,
    condition: &str,
    id: Uuid,
) -> Result<Option<Payout>, ApiError> {
    let sql = format!("SELECT {PAYOUT_COLUMNS} FROM payouts WHERE tenant_id = $1 AND {condition}");
    let row: Option<PayoutRow> =
        one_locked(tx, &sql, &[Bind::Uuid(tenant.0), Bind::Uuid(id)]).await?;
    row.map(Payout::try_from).transpose()
}

pub async fn payout_in(
    tx: &mut Tx,
    tenant: TenantId,
    id: PayoutId,
) -> Result<Option<Payout>, ApiError> {
    payout_locked(tx, tenant, "id = $2", id.0).await
}

pub async fn payout_of_booking_in(
    tx: &mut Tx,
    tenant: TenantId,
    booking: BookingId,
) -> Result<Option<Payout>, ApiError> {
    payout_locked(tx, tenant, "booking_id = $2", booking.0).await
}

/// The tenant's pending payouts whose time has come by `now`, soonest first (at most `limit`).
pub async fn due_payouts(
    db: &Db,
    tenant: TenantId,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<PayoutId>, ApiError> {
    let ids: Vec<Uuid> = on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT id FROM payouts WHERE tenant_id = $1 AND status = 'pending' \
             AND payable_at <= $2 ORDER BY payable_at, id LIMIT $3",
        )
        .bind(tenant.0)
        .bind(now)
        .bind(limit)
        .fetch_all(pool)
        .await
    })?;
    Ok(ids.into_iter().map(PayoutId).collect())
}

#[derive(Debug, Clone, Default)]
pub struct PayoutQuery {
    pub host: Option<UserId>,
    pub status: Option<PayoutStatus>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

/// The conditions of a payout query, their text binds, then the times to bind after them.
fn payout_conditions(
    tenant: TenantId,
    query: &PayoutQuery,
) -> (Vec<String>, Vec<Bind>, Vec<Timestamp>) {
    let mut binds = vec![Bind::Uuid(tenant.0)];
    let mut conditions = vec!["tenant_id = $1".to_owned()];
    if let Some(host) = query.host {
        binds.push(Bind::Uuid(host.0));
        conditions.push(format!("host_id = ${}", binds.len()));
    }
    if let Some(status) = query.status {
        binds.push(Bind::Text(status.as_str().to_owned()));
        conditions.push(format!("status = ${}", binds.len()));
    }
    let mut times = Vec::new();
    for (bound, operator) in [(query.from, ">="), (query.to, "<")] {
        if let Some(at) = bound {
            times.push(at);
            conditions.push(format!(
                "payable_at {operator} ${}",
                binds.len() + times.len()
            ));
        }
    }
    (conditions, binds, times)
}

pub async fn list_payouts(
    db: &Db,
    tenant: TenantId,
    query: &PayoutQuery,
    (after, limit): (Option<PayoutId>, u32),
) -> Result<Vec<Payout>, ApiError> {
    let (mut conditions, binds, times) = payout_conditions(tenant, query);
    if after.is_some() {
        conditions.push(format!("id < ${}", binds.len() + times.len() + 1));
    }
    let sql = format!(
        "SELECT {PAYOUT_COLUMNS} FROM payouts WHERE {} ORDER BY id DESC LIMIT {limit}",
        conditions.join(" AND ")
    );
    let rows: Vec<PayoutRow> = on_db!(db, |pool| {
        let mut statement = bind_all!(sqlx::query_as(&sql), &binds);
        for at in &times {
            statement = statement.bind(*at);
        }
        if let Some(after) = after {
            statement = statement.bind(after.0);
        }
        statement.fetch_all(pool).await
    })?;
    rows.into_iter().map(Payout::try_from).collect()
}

/// The sums of the matching payouts by status, and of what is owed back on them, in minor
/// units.
pub async fn payout_totals(
    db: &Db,
    tenant: TenantId,
    query: &PayoutQuery,
) -> Result<Vec<(String, i64, i64)>, ApiError> {
    let (conditions, binds, times) = payout_conditions(tenant, query);
    let sql = format!(
        "SELECT status, CAST(SUM(amount) AS BIGINT), CAST(SUM(owed_back) AS BIGINT) \
         FROM payouts WHERE {} GROUP BY status",
        conditions.join(" AND ")
    );
    Ok(on_db!(db, |pool| {
        let mut statement = bind_all!(sqlx::query_as(&sql), &binds);
        for at in &times {
            statement = statement.bind(*at);
        }
        statement.fetch_all(pool).await
    })?)
}

/// Stores a provider event unless one with its id was stored before; `false` then.
pub async fn insert_event(
    tx: &mut Tx,
    tenant: TenantId,
    (provider, id, kind): (&str, &str, &str),
    payload: &str,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let done = on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO payment_provider_events (tenant_id, provider, event_id, event_type, \
             payload, received_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(tenant.0)
        .bind(provider)
        .bind(id)
        .bind(kind)
        .bind(payload)
        .bind(now)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(done == 1)
}

/// Marks an unprocessed event processed; `false` when it was processed already.
pub async fn mark_event_processed(
    tx: &mut Tx,
    tenant: TenantId,
    (provider, id): (&str, &str),
    now: Timestamp,
) -> Result<bool, ApiError> {
    let done = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE payment_provider_events SET processed_at = $4 \
             WHERE tenant_id = $1 AND provider = $2 AND event_id = $3 AND processed_at IS NULL",
        )
        .bind(tenant.0)
        .bind(provider)
        .bind(id)
        .bind(now)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(done == 1)
}

/// The stored payload of an event.
pub async fn event_payload(
    db: &Db,
    tenant: TenantId,
    (provider, id): (&str, &str),
) -> Result<Option<String>, ApiError> {
    Ok(on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT payload FROM payment_provider_events \
             WHERE tenant_id = $1 AND provider = $2 AND event_id = $3",
        )
        .bind(tenant.0)
        .bind(provider)
        .bind(id)
        .fetch_optional(pool)
        .await
    })?)
}
