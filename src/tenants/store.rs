//! Tenants' SQL. A tenant is always read with its settings, in the one query each tenant-scoped
//! request makes anyway, so a settings change holds on every replica from the next request.

use uuid::Uuid;

use super::{
    model::{Tenant, TenantSlug, TenantStatus},
    settings::{
        BookingMode, CancellationPolicy, PaymentCollection, ReviewPublication, TenantSettings,
    },
};
use crate::{
    authz::{Permit, SettingsAction, TestClockAction},
    db::{Db, Timestamp, Tx},
    error::ApiError,
    ids::TenantId,
    on_db, on_tx,
};

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: Uuid,
    slug: String,
    name: String,
    status: String,
    policy_version: i64,
    listings_version: i64,
    plugins_version: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
    display_name: String,
    currency: String,
    timezone: String,
    booking_mode: String,
    payment_collection: String,
    hold_minutes: i64,
    request_expiry_hours: i64,
    platform_fee_bps: i64,
    tax_bps: i64,
    host_fee_bps: i64,
    cancellation_policy: String,
    self_service_hosts: bool,
    require_verified_email: bool,
    review_window_days: i64,
    review_publication: String,
    max_unpaid_bookings: i64,
    max_stay_nights: i64,
    booking_window_days: i64,
    allowed_origins: String,
    site_url: String,
    reply_to: String,
    rate_limit_plan: String,
    settings_version: i64,
    test_mode: bool,
    clock_at: Option<Timestamp>,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = ApiError;

    fn try_from(row: TenantRow) -> Result<Self, ApiError> {
        let corrupt =
            |what: &str| ApiError::internal(format!("tenant {} has an invalid {what}", row.id));
        let number = |value: i64, what: &str| u32::try_from(value).map_err(|_| corrupt(what));
        let settings = TenantSettings {
            booking_mode: BookingMode::parse(&row.booking_mode)
                .ok_or_else(|| corrupt("booking_mode"))?,
            payment_collection: PaymentCollection::parse(&row.payment_collection)
                .ok_or_else(|| corrupt("payment_collection"))?,
            cancellation_policy: CancellationPolicy::parse(&row.cancellation_policy)
                .ok_or_else(|| corrupt("cancellation_policy"))?,
            hold_minutes: number(row.hold_minutes, "hold_minutes")?,
            request_expiry_hours: number(row.request_expiry_hours, "request_expiry_hours")?,
            platform_fee_bps: number(row.platform_fee_bps, "platform_fee_bps")?,
            tax_bps: number(row.tax_bps, "tax_bps")?,
            host_fee_bps: number(row.host_fee_bps, "host_fee_bps")?,
            review_window_days: number(row.review_window_days, "review_window_days")?,
            review_publication: ReviewPublication::parse(&row.review_publication)
                .ok_or_else(|| corrupt("review_publication"))?,
            max_unpaid_bookings: number(row.max_unpaid_bookings, "max_unpaid_bookings")?,
            max_stay_nights: number(row.max_stay_nights, "max_stay_nights")?,
            booking_window_days: number(row.booking_window_days, "booking_window_days")?,
            allowed_origins: row
                .allowed_origins
                .split(',')
                .filter(|origin| !origin.is_empty())
                .map(str::to_owned)
                .collect(),
            site_url: Some(row.site_url).filter(|url| !url.is_empty()),
            reply_to: Some(row.reply_to).filter(|address| !address.is_empty()),
            display_name: row.display_name,
            currency: row.currency,
            timezone: row.timezone,
            self_service_hosts: row.self_service_hosts,
            require_verified_email: row.require_verified_email,
            rate_limit_plan: row.rate_limit_plan,
            version: row.settings_version,
        };
        Ok(Tenant {
            id: TenantId(row.id),
            slug: TenantSlug::parse(&row.slug).map_err(|_| corrupt("slug"))?,
            status: TenantStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            name: row.name,
            policy_version: row.policy_version,
            listings_version: row.listings_version,
            plugins_version: row.plugins_version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            test_mode: row.test_mode,
            clock: row.clock_at,
            settings,
        })
    }
}

const SELECT: &str = "SELECT t.id, t.slug, t.name, t.status, t.policy_version, \
    t.listings_version, t.plugins_version, t.created_at, \
    t.updated_at, s.display_name, s.currency, s.timezone, s.booking_mode, s.payment_collection, \
    CAST(s.hold_minutes AS BIGINT) AS hold_minutes, \
    CAST(s.request_expiry_hours AS BIGINT) AS request_expiry_hours, \
    CAST(s.platform_fee_bps AS BIGINT) AS platform_fee_bps, CAST(s.tax_bps AS BIGINT) AS tax_bps, \
    CAST(s.host_fee_bps AS BIGINT) AS host_fee_bps, \
    s.cancellation_policy, s.self_service_hosts, s.require_verified_email, \
    CAST(s.review_window_days AS BIGINT) AS review_window_days, s.review_publication, \
    CAST(s.max_unpaid_bookings AS BIGINT) AS max_unpaid_bookings, \
    CAST(s.max_stay_nights AS BIGINT) AS max_stay_nights, \
    CAST(s.booking_window_days AS BIGINT) AS booking_window_days, s.allowed_origins, \
    s.site_url, s.reply_to, \
    s.rate_limit_plan, \
    s.version AS settings_version, t.test_mode, t.clock_at \
    FROM tenants t JOIN tenant_settings s ON s.tenant_id = t.id";

pub enum InsertOutcome {
    Inserted,
    SlugTaken,
}

/// Inserts the tenant with its settings.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant.slug))]
pub async fn insert(tx: &mut Tx, tenant: &Tenant) -> Result<InsertOutcome, ApiError> {
    let result = on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO tenants (id, slug, name, status, created_at, updated_at, test_mode, \
             clock_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tenant.id.0)
        .bind(tenant.slug.as_str())
        .bind(&tenant.name)
        .bind(tenant.status.as_str())
        .bind(tenant.created_at)
        .bind(tenant.updated_at)
        .bind(tenant.test_mode)
        .bind(tenant.clock)
        .execute(conn)
        .await
        .map(drop)
    });
    match result {
        Ok(()) => {}
        Err(err) if crate::db::is_unique_violation(&err) => return Ok(InsertOutcome::SlugTaken),
        Err(err) => return Err(err.into()),
    }
    write_settings(tx, tenant.id, &tenant.settings, tenant.created_at, true).await?;
    Ok(InsertOutcome::Inserted)
}

async fn write_settings(
    tx: &mut Tx,
    tenant: TenantId,
    settings: &TenantSettings,
    now: Timestamp,
    new: bool,
) -> Result<(), ApiError> {
    let sql = if new {
        "INSERT INTO tenant_settings (tenant_id, display_name, currency, timezone, booking_mode, \
         payment_collection, hold_minutes, request_expiry_hours, platform_fee_bps, tax_bps, \
         cancellation_policy, self_service_hosts, review_window_days, rate_limit_plan, updated_at, \
         max_unpaid_bookings, max_stay_nights, booking_window_days, allowed_origins, site_url, \
         reply_to, host_fee_bps, review_publication, require_verified_email) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22, $23, $24)"
    } else {
        "UPDATE tenant_settings SET display_name = $2, currency = $3, timezone = $4, \
         booking_mode = $5, payment_collection = $6, hold_minutes = $7, \
         request_expiry_hours = $8, platform_fee_bps = $9, tax_bps = $10, \
         cancellation_policy = $11, self_service_hosts = $12, review_window_days = $13, \
         rate_limit_plan = $14, updated_at = $15, max_unpaid_bookings = $16, \
         max_stay_nights = $17, booking_window_days = $18, allowed_origins = $19, \
         site_url = $20, reply_to = $21, host_fee_bps = $22, review_publication = $23, \
         require_verified_email = $24, \
         version = version + 1 \
         WHERE tenant_id = $1"
    };
    on_tx!(tx, |conn| {
        sqlx::query(sql)
            .bind(tenant.0)
            .bind(&settings.display_name)
            .bind(&settings.currency)
            .bind(&settings.timezone)
            .bind(settings.booking_mode.as_str())
            .bind(settings.payment_collection.as_str())
            .bind(i64::from(settings.hold_minutes) as i32)
            .bind(i64::from(settings.request_expiry_hours) as i32)
            .bind(i64::from(settings.platform_fee_bps) as i32)
            .bind(i64::from(settings.tax_bps) as i32)
            .bind(settings.cancellation_policy.as_str())
            .bind(settings.self_service_hosts)
            .bind(i64::from(settings.review_window_days) as i32)
            .bind(&settings.rate_limit_plan)
            .bind(now)
            .bind(i64::from(settings.max_unpaid_bookings) as i32)
            .bind(i64::from(settings.max_stay_nights) as i32)
            .bind(i64::from(settings.booking_window_days) as i32)
            .bind(settings.allowed_origins.join(","))
            .bind(settings.site_url.as_deref().unwrap_or_default())
            .bind(settings.reply_to.as_deref().unwrap_or_default())
            .bind(i64::from(settings.host_fee_bps) as i32)
            .bind(settings.review_publication.as_str())
            .bind(settings.require_verified_email)
            .execute(conn)
            .await
            .map(drop)
    })?;
    Ok(())
}

/// Replaces the settings and bumps their version.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant()))]
pub async fn update_settings(
    tx: &mut Tx,
    permit: &Permit<SettingsAction>,
    settings: &TenantSettings,
    now: Timestamp,
) -> Result<(), ApiError> {
    let tenant = permit.tenant();
    write_settings(tx, tenant, settings, now, false).await
}

/// The tenant's currency, read on the transaction's connection; on PostgreSQL the settings row
/// is share-locked until the transaction ends, so the currency cannot change under it.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn currency_for_share(tx: &mut Tx, tenant: TenantId) -> Result<String, ApiError> {
    let sql = "SELECT currency FROM tenant_settings WHERE tenant_id = $1";
    let currency: String = match tx {
        Tx::Postgres(tx) => {
            sqlx::query_scalar(&format!("{sql} FOR SHARE"))
                .bind(tenant.0)
                .fetch_one(&mut **tx)
                .await?
        }
        Tx::Sqlite(tx) => {
            sqlx::query_scalar(sql)
                .bind(tenant.0)
                .fetch_one(&mut **tx)
                .await?
        }
    };
    Ok(currency)
}

/// Marks a change to the tenant's listings, in the transaction of the change.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn bump_listings(tx: &mut Tx, tenant: TenantId) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE tenants SET listings_version = listings_version + 1 WHERE id = $1")
            .bind(tenant.0)
            .execute(conn)
            .await
            .map(drop)
    })?;
    Ok(())
}

/// Marks a change to which of the tenant's plugins are active, in the transaction of the
/// change.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn bump_plugins(tx: &mut Tx, tenant: TenantId) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE tenants SET plugins_version = plugins_version + 1 WHERE id = $1")
            .bind(tenant.0)
            .execute(conn)
            .await
            .map(drop)
    })?;
    Ok(())
}

/// Locks the settings row for an update (PostgreSQL; SQLite's write transaction is exclusive).
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn lock_settings(tx: &mut Tx, tenant: TenantId) -> Result<(), ApiError> {
    if let Tx::Postgres(tx) = tx {
        sqlx::query("SELECT 1 FROM tenant_settings WHERE tenant_id = $1 FOR UPDATE")
            .bind(tenant.0)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all, fields(slug = %slug))]
pub async fn find_by_slug(db: &Db, slug: &TenantSlug) -> Result<Option<Tenant>, ApiError> {
    let sql = format!("{SELECT} WHERE t.slug = $1");
    let row: Option<TenantRow> = on_db!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(slug.as_str())
            .fetch_optional(pool)
            .await
    })?;
    row.map(Tenant::try_from).transpose()
}

/// Every tenant, by slug.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(db: &Db) -> Result<Vec<Tenant>, ApiError> {
    let sql = format!("{SELECT} ORDER BY t.slug");
    let rows: Vec<TenantRow> = on_db!(db, |pool| sqlx::query_as(&sql).fetch_all(pool).await)?;
    rows.into_iter().map(Tenant::try_from).collect()
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %id))]
pub async fn find_by_id(db: &Db, id: TenantId) -> Result<Option<Tenant>, ApiError> {
    let sql = format!("{SELECT} WHERE t.id = $1");
    let row: Option<TenantRow> = on_db!(db, |pool| {
        sqlx::query_as(&sql).bind(id.0).fetch_optional(pool).await
    })?;
    row.map(Tenant::try_from).transpose()
}

#[tracing::instrument(level = "debug", skip_all, fields(slug = %slug))]
pub async fn find_by_slug_in(tx: &mut Tx, slug: &TenantSlug) -> Result<Option<Tenant>, ApiError> {
    let sql = format!("{SELECT} WHERE t.slug = $1");
    let row: Option<TenantRow> = on_tx!(tx, |conn| {
        sqlx::query_as(&sql)
            .bind(slug.as_str())
            .fetch_optional(conn)
            .await
    })?;
    row.map(Tenant::try_from).transpose()
}

/// Moves a test tenant's clock forward to `to`; `false` when it is not a test tenant or its
/// clock is already later (a concurrent advance).
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant()))]
pub async fn advance_clock(
    tx: &mut Tx,
    permit: &Permit<TestClockAction>,
    to: Timestamp,
) -> Result<bool, ApiError> {
    permit.require(&[TestClockAction::Advance])?;
    let updated = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE tenants SET clock_at = $1 WHERE id = $2 AND test_mode AND clock_at <= $1",
        )
        .bind(to)
        .bind(permit.tenant().0)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(updated == 1)
}

/// Sets the status; returns the updated tenant, or `None` when no tenant has the slug.
#[tracing::instrument(level = "debug", skip_all, fields(slug = %slug, status = ?status))]
pub async fn set_status(
    tx: &mut Tx,
    slug: &TenantSlug,
    status: TenantStatus,
    now: Timestamp,
) -> Result<Option<Tenant>, ApiError> {
    let updated = on_tx!(tx, |conn| {
        sqlx::query("UPDATE tenants SET status = $1, updated_at = $2 WHERE slug = $3")
            .bind(status.as_str())
            .bind(now)
            .bind(slug.as_str())
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })?;
    if updated == 0 {
        return Ok(None);
    }
    find_by_slug_in(tx, slug).await
}
