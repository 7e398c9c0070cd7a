//! Properties' SQL. Searches are keyset-paginated on indexes that lead with the tenant.

use uuid::Uuid;

use super::model::{Cursor, Listing, Location, Property, PropertyStatus, Search, Sort};
use crate::availability::{RuleSearch, StayRules, TimeOfDay, Weekdays};
use crate::photos::model::PropertyImage;
use crate::tenants::settings::BookingMode;
use crate::{
    authz::{Permit, PropertyAction, ReviewAction},
    availability::{self, Dialect},
    bind_all,
    db::{Bind, Db, Timestamp, Tx},
    error::ApiError,
    ids::{PropertyId, TenantId, UserId},
    on_db, on_tx, pricing,
};

#[derive(sqlx::FromRow)]
struct PropertyRow {
    tenant_id: Uuid,
    id: Uuid,
    owner_id: Uuid,
    name: String,
    description: String,
    address: String,
    city: String,
    country: String,
    lat: f64,
    lng: f64,
    currency: String,
    nightly_price: i64,
    cleaning_fee: i64,
    weekend_price: Option<i64>,
    weekly_discount_bps: i64,
    monthly_discount_bps: i64,
    max_guests: i64,
    bedrooms: Option<i64>,
    bathrooms: Option<i64>,
    min_nights: i64,
    max_nights: i64,
    amenities: String,
    status: String,
    timezone: Option<String>,
    booking_mode: Option<String>,
    advance_notice_hours: i64,
    preparation_nights: i64,
    check_in_weekdays: i64,
    check_out_weekdays: i64,
    booking_window_days: Option<i64>,
    check_in_time: String,
    check_out_time: String,
    included_guests: Option<i64>,
    extra_guest_fee: i64,
    rating_sum: i64,
    review_count: i64,
    ical_token: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl TryFrom<PropertyRow> for Property {
    type Error = ApiError;

    fn try_from(row: PropertyRow) -> Result<Self, ApiError> {
        let corrupt =
            |what: &str| ApiError::internal(format!("property {} has an invalid {what}", row.id));
        let number = |value: i64, what: &str| u32::try_from(value).map_err(|_| corrupt(what));
        Ok(Property {
            tenant_id: TenantId(row.tenant_id),
            id: PropertyId(row.id),
            owner_id: UserId(row.owner_id),
            currency: row.currency,
            listing: Listing {
                status: PropertyStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
                weekly_discount_bps: number(row.weekly_discount_bps, "weekly discount")?,
                monthly_discount_bps: number(row.monthly_discount_bps, "monthly discount")?,
                max_guests: number(row.max_guests, "max_guests")?,
                bedrooms: row.bedrooms.map(|n| number(n, "bedrooms")).transpose()?,
                bathrooms: row.bathrooms.map(|n| number(n, "bathrooms")).transpose()?,
                min_nights: number(row.min_nights, "min_nights")?,
                max_nights: number(row.max_nights, "max_nights")?,
                booking_mode: row
                    .booking_mode
                    .as_deref()
                    .map(|mode| BookingMode::parse(mode).ok_or_else(|| corrupt("booking mode")))
                    .transpose()?,
                rules: StayRules {
                    timezone: row.timezone,
                    advance_notice_hours: number(row.advance_notice_hours, "advance notice")?,
                    preparation_nights: number(row.preparation_nights, "preparation nights")?,
                    check_in_weekdays: Weekdays::from_bits(row.check_in_weekdays)
                        .ok_or_else(|| corrupt("check-in weekdays"))?,
                    check_out_weekdays: Weekdays::from_bits(row.check_out_weekdays)
                        .ok_or_else(|| corrupt("check-out weekdays"))?,
                    booking_window_days: row
                        .booking_window_days
                        .map(|days| number(days, "booking window"))
                        .transpose()?,
                    check_in_time: TimeOfDay::parse(&row.check_in_time)
                        .ok_or_else(|| corrupt("check-in time"))?,
                    check_out_time: TimeOfDay::parse(&row.check_out_time)
                        .ok_or_else(|| corrupt("check-out time"))?,
                },
                included_guests: row
                    .included_guests
                    .map(|n| number(n, "included guests"))
                    .transpose()?,
                extra_guest_fee: row.extra_guest_fee,
                name: row.name,
                description: row.description,
                location: Location {
                    address: row.address,
                    city: row.city,
                    country: row.country,
                    lat: row.lat,
                    lng: row.lng,
                },
                nightly_price: row.nightly_price,
                cleaning_fee: row.cleaning_fee,
                weekend_price: row.weekend_price,
                amenities: row
                    .amenities
                    .split(',')
                    .filter(|code| !code.is_empty())
                    .map(str::to_owned)
                    .collect(),
            },
            rating_sum: row.rating_sum,
            review_count: row.review_count,
            ical_token: row.ical_token,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const COLUMNS: &str = "tenant_id, id, owner_id, name, description, address, city, country, lat, \
    lng, currency, nightly_price, cleaning_fee, weekend_price, \
    CAST(weekly_discount_bps AS BIGINT) AS weekly_discount_bps, \
    CAST(monthly_discount_bps AS BIGINT) AS monthly_discount_bps, \
    CAST(max_guests AS BIGINT) AS max_guests, CAST(bedrooms AS BIGINT) AS bedrooms, \
    CAST(bathrooms AS BIGINT) AS bathrooms, CAST(min_nights AS BIGINT) AS min_nights, \
    CAST(max_nights AS BIGINT) AS max_nights, amenities, status, timezone, booking_mode, \
    CAST(advance_notice_hours AS BIGINT) AS advance_notice_hours, \
    CAST(preparation_nights AS BIGINT) AS preparation_nights, \
    CAST(check_in_weekdays AS BIGINT) AS check_in_weekdays, \
    CAST(check_out_weekdays AS BIGINT) AS check_out_weekdays, \
    CAST(booking_window_days AS BIGINT) AS booking_window_days, check_in_time, check_out_time, \
    CAST(included_guests AS BIGINT) AS included_guests, extra_guest_fee, rating_sum, \
    review_count, ical_token, created_at, updated_at";

async fn write_amenities(
    tx: &mut Tx,
    tenant: TenantId,
    id: PropertyId,
    amenities: &[String],
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query("DELETE FROM property_amenities WHERE tenant_id = $1 AND property_id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .execute(&mut *conn)
            .await?;
        for amenity in amenities {
            sqlx::query("INSERT INTO property_amenities (tenant_id, property_id, amenity) VALUES ($1, $2, $3)")
                .bind(tenant.0)
                .bind(id.0)
                .bind(amenity)
                .execute(&mut *conn)
                .await?;
        }
        Ok::<(), sqlx::Error>(())
    })?;
    Ok(())
}

fn listing_binds(listing: &Listing) -> Vec<Bind> {
    let int = |value: u32| Bind::Int(i64::from(value));
    let optional = |value: Option<u32>| value.map_or(Bind::Int(-1), int);
    vec![
        Bind::Text(listing.name.clone()),
        Bind::Text(listing.description.clone()),
        Bind::Text(listing.location.address.clone()),
        Bind::Text(listing.location.city.clone()),
        Bind::Text(listing.location.city.to_lowercase()),
        Bind::Text(listing.location.country.clone()),
        Bind::Float(listing.location.lat),
        Bind::Float(listing.location.lng),
        Bind::Int(listing.nightly_price),
        Bind::Int(listing.cleaning_fee),
        Bind::Int(listing.weekend_price.unwrap_or(-1)),
        int(listing.weekly_discount_bps),
        int(listing.monthly_discount_bps),
        int(listing.max_guests),
        optional(listing.bedrooms),
        optional(listing.bathrooms),
        int(listing.min_nights),
        int(listing.max_nights),
        Bind::Text(listing.amenities.join(",")),
        Bind::Text(listing.status.as_str().to_owned()),
        Bind::Text(listing.rules.timezone.clone().unwrap_or_default()),
        Bind::Text(
            listing
                .booking_mode
                .map_or("", |mode| mode.as_str())
                .to_owned(),
        ),
        int(listing.rules.advance_notice_hours),
        int(listing.rules.preparation_nights),
        Bind::Int(i64::from(listing.rules.check_in_weekdays.bits())),
        Bind::Int(i64::from(listing.rules.check_out_weekdays.bits())),
        optional(listing.rules.booking_window_days),
        Bind::Text(listing.rules.check_in_time.to_string()),
        Bind::Text(listing.rules.check_out_time.to_string()),
        optional(listing.included_guests),
        Bind::Int(listing.extra_guest_fee),
    ]
}

/// The listing columns in the order of `listing_binds`; -1 (or "" in text) stands for "none" in
/// optional ones.
const LISTING_COLUMNS: [&str; 31] = [
    "name",
    "description",
    "address",
    "city",
    "city_key",
    "country",
    "lat",
    "lng",
    "nightly_price",
    "cleaning_fee",
    "weekend_price",
    "weekly_discount_bps",
    "monthly_discount_bps",
    "max_guests",
    "bedrooms",
    "bathrooms",
    "min_nights",
    "max_nights",
    "amenities",
    "status",
    "timezone",
    "booking_mode",
    "advance_notice_hours",
    "preparation_nights",
    "check_in_weekdays",
    "check_out_weekdays",
    "booking_window_days",
    "check_in_time",
    "check_out_time",
    "included_guests",
    "extra_guest_fee",
];

fn value_expression(column: &str, placeholder: usize) -> String {
    match column {
        "weekend_price" | "bedrooms" | "bathrooms" => format!("NULLIF(${placeholder}, -1)"),
        "booking_window_days" | "included_guests" => {
            format!("CAST(NULLIF(${placeholder}, -1) AS INTEGER)")
        }
        "timezone" | "booking_mode" => format!("NULLIF(${placeholder}, '')"),
        "weekly_discount_bps"
        | "monthly_discount_bps"
        | "max_guests"
        | "min_nights"
        | "max_nights"
        | "advance_notice_hours"
        | "preparation_nights"
        | "check_in_weekdays"
        | "check_out_weekdays" => {
            format!("CAST(${placeholder} AS INTEGER)")
        }
        _ => format!("${placeholder}"),
    }
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), property = %property.id))]
pub async fn insert(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    property: &Property,
) -> Result<(), ApiError> {
    permit.require(&[PropertyAction::Create])?;
    permit.require_tenant(property.tenant_id)?;
    let mut columns = vec![
        "tenant_id",
        "id",
        "owner_id",
        "currency",
        "created_at",
        "updated_at",
    ];
    columns.extend(LISTING_COLUMNS);
    let values: Vec<String> = (1..=6)
        .map(|n| format!("${n}"))
        .chain(
            LISTING_COLUMNS
                .iter()
                .enumerate()
                .map(|(i, column)| value_expression(column, i + 7)),
        )
        .collect();
    let sql = format!(
        "INSERT INTO properties ({}) VALUES ({})",
        columns.join(", "),
        values.join(", ")
    );
    let mut binds = vec![
        Bind::Uuid(property.tenant_id.0),
        Bind::Uuid(property.id.0),
        Bind::Uuid(property.owner_id.0),
        Bind::Text(property.currency.clone()),
    ];
    binds.extend(listing_binds(&property.listing));
    on_tx!(tx, |conn| {
        let query = sqlx::query(&sql);
        let query = bind_all!(query, &binds[..4]);
        let query = query.bind(property.created_at).bind(property.updated_at);
        bind_all!(query, &binds[4..])
            .execute(&mut *conn)
            .await
            .map(drop)
    })?;
    if let Some(token) = &property.ical_token {
        write_ical_token(tx, property.tenant_id, property.id, token).await?;
    }
    write_amenities(
        tx,
        property.tenant_id,
        property.id,
        &property.listing.amenities,
    )
    .await
}

/// Sets the secret of the calendar export feed; `false` when there is no such (undeleted)
/// property.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), property = %id))]
pub async fn set_ical_token(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    id: PropertyId,
    token: &str,
) -> Result<bool, ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    write_ical_token(tx, permit.tenant(), id, token).await
}

async fn write_ical_token(
    tx: &mut Tx,
    tenant: TenantId,
    id: PropertyId,
    token: &str,
) -> Result<bool, ApiError> {
    let updated = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE properties SET ical_token = $3 \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(tenant.0)
        .bind(id.0)
        .bind(token)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(updated == 1)
}

/// Replaces the listing; `false` when there is no such (undeleted) property.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), property = %id))]
pub async fn update(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    id: PropertyId,
    listing: &Listing,
    now: Timestamp,
) -> Result<bool, ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    let tenant = permit.tenant();
    let set: Vec<String> = LISTING_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{column} = {}", value_expression(column, i + 4)))
        .collect();
    let sql = format!(
        "UPDATE properties SET {}, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        set.join(", ")
    );
    let binds = listing_binds(listing);
    let updated = on_tx!(tx, |conn| {
        let query = sqlx::query(&sql).bind(tenant.0).bind(id.0).bind(now);
        bind_all!(query, &binds)
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected())
    })?;
    if updated == 1 {
        write_amenities(tx, tenant, id, &listing.amenities).await?;
    }
    Ok(updated == 1)
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), property = %id))]
pub async fn soft_delete(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    id: PropertyId,
    now: Timestamp,
) -> Result<bool, ApiError> {
    permit.require(PropertyAction::DELETES)?;
    let tenant = permit.tenant();
    let deleted = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE properties SET deleted_at = $3, updated_at = $3 \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(tenant.0)
        .bind(id.0)
        .bind(now)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(deleted == 1)
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %id))]
pub async fn get(db: &Db, tenant: TenantId, id: PropertyId) -> Result<Option<Property>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM properties WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
    );
    let row: Option<PropertyRow> = on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(tenant.0)
        .bind(id.0)
        .fetch_optional(pool)
        .await)?;
    row.map(Property::try_from).transpose()
}

#[derive(sqlx::FromRow)]
struct PropertyImageRow {
    #[sqlx(flatten)]
    property: PropertyRow,
    image_id: Option<Uuid>,
    image_position: Option<i64>,
    image_status: Option<String>,
    image_original_key: Option<String>,
    image_thumbnail_key: Option<String>,
    image_large_key: Option<String>,
}

/// The property with its images in display order, in one round trip (a signed-in detail
/// read; the images are `photos`' table, joined here so that the read is one query).
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %id))]
pub async fn get_with_images(
    db: &Db,
    tenant: TenantId,
    id: PropertyId,
) -> Result<Option<(Property, Vec<PropertyImage>)>, ApiError> {
    let sql = format!(
        "SELECT p.*, i.id AS image_id, CAST(i.position AS BIGINT) AS image_position, \
         i.status AS image_status, i.original_key AS image_original_key, \
         i.thumbnail_key AS image_thumbnail_key, i.large_key AS image_large_key \
         FROM (SELECT {COLUMNS} FROM properties \
               WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL) AS p \
         LEFT JOIN property_images AS i ON i.tenant_id = p.tenant_id AND i.property_id = p.id \
         ORDER BY i.position, i.id"
    );
    let rows: Vec<PropertyImageRow> = on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(tenant.0)
        .bind(id.0)
        .fetch_all(pool)
        .await)?;
    let mut property = None;
    let mut images = Vec::new();
    for row in rows {
        if let (Some(image), Some(position), Some(status)) =
            (row.image_id, row.image_position, row.image_status)
        {
            images.push(PropertyImage::from_columns(
                image,
                row.property.id,
                position,
                status,
                row.image_original_key,
                row.image_thumbnail_key,
                row.image_large_key,
            ));
        }
        if property.is_none() {
            property = Some(Property::try_from(row.property)?);
        }
    }
    Ok(property.map(|property| (property, images)))
}

/// The property, read on the transaction's connection and (on PostgreSQL) locked until it ends.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %id))]
pub async fn get_in(
    tx: &mut Tx,
    tenant: TenantId,
    id: PropertyId,
) -> Result<Option<Property>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM properties WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
    );
    let row: Option<PropertyRow> = match tx {
        Tx::Postgres(tx) => {
            sqlx::query_as(&format!("{sql} FOR UPDATE"))
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
    row.map(Property::try_from).transpose()
}

/// The property's stay rules, read on the transaction's connection without a lock; deleted
/// properties keep theirs.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %id))]
pub async fn stay_rules_in(
    tx: &mut Tx,
    tenant: TenantId,
    id: PropertyId,
) -> Result<Option<StayRules>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM properties WHERE tenant_id = $1 AND id = $2");
    let row: Option<PropertyRow> = on_tx!(tx, |conn| {
        sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(conn)
            .await
    })?;
    Ok(row
        .map(Property::try_from)
        .transpose()?
        .map(|property| property.listing.rules))
}

/// The property's rating aggregate (sum and count of its published reviews), read in `tx` and
/// (on PostgreSQL) locked until it ends; deleted properties keep theirs too.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %id))]
pub async fn rating_in(
    tx: &mut Tx,
    tenant: TenantId,
    id: PropertyId,
) -> Result<Option<(i64, i64)>, ApiError> {
    let sql = "SELECT rating_sum, review_count FROM properties WHERE tenant_id = $1 AND id = $2";
    let row: Option<(i64, i64)> = match tx {
        Tx::Postgres(tx) => {
            sqlx::query_as(&format!("{sql} FOR UPDATE"))
                .bind(tenant.0)
                .bind(id.0)
                .fetch_optional(&mut **tx)
                .await?
        }
        Tx::Sqlite(tx) => {
            sqlx::query_as(sql)
                .bind(tenant.0)
                .bind(id.0)
                .fetch_optional(&mut **tx)
                .await?
        }
    };
    Ok(row)
}

/// Writes the property's rating aggregate and the average `sort=rating` orders by.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), property = %id))]
pub async fn set_rating(
    tx: &mut Tx,
    permit: &Permit<ReviewAction>,
    id: PropertyId,
    (sum, count, x100): (i64, i64, i64),
) -> Result<(), ApiError> {
    permit.require(ReviewAction::WRITES)?;
    let tenant = permit.tenant();
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE properties SET rating_sum = $3, review_count = $4, \
             rating_x100 = CAST($5 AS INTEGER) WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(id.0)
        .bind(sum)
        .bind(count)
        .bind(x100)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// Whether the tenant has ever had a property (deleted ones count: their bookings keep prices).
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn tenant_has_properties(tx: &mut Tx, tenant: TenantId) -> Result<bool, ApiError> {
    let found: Option<i32> = on_tx!(tx, |conn| {
        sqlx::query_scalar("SELECT 1 FROM properties WHERE tenant_id = $1 LIMIT 1")
            .bind(tenant.0)
            .fetch_optional(conn)
            .await
    })?;
    Ok(found.is_some())
}

/// A search as SQL: conditions with their binds, an order and a keyset position.
pub struct SearchQuery {
    pub conditions: Vec<String>,
    pub binds: Vec<Bind>,
    pub order_by: &'static str,
    pub limit: u32,
}

const KM_PER_DEGREE: f64 = 111.195;

/// A radius search's bounding box holding at least this many listings is "crowded": walking the
/// sort order's index and testing each listing's distance finds a page after about
/// `listed / CROWDED` listings per match, while reading the box whole would read and sort every
/// listing in it (thousands in a big city at 100 000 listings: the search tail). A box with
/// fewer is read whole, never more than this many rows.
const CROWDED: i64 = 1_000;

/// A radius search's bounding box in degrees: (south, north, west, east), and the longitude
/// scale at its latitude.
fn bounding_box((lat, lng, radius_km): (f64, f64, f64)) -> ((f64, f64, f64, f64), f64) {
    let degrees = radius_km / KM_PER_DEGREE;
    let shrink = lat.to_radians().cos().max(0.01);
    (
        (
            lat - degrees,
            lat + degrees,
            lng - degrees / shrink,
            lng + degrees / shrink,
        ),
        shrink,
    )
}

/// The longitude ranges a bounding box from `west` to `east` covers: one, or two when it
/// crosses the antimeridian (a box wider than the world covers it all).
fn longitude_ranges(west: f64, east: f64) -> Vec<(f64, f64)> {
    if east - west >= 360.0 {
        vec![(-180.0, 180.0)]
    } else if west < -180.0 {
        vec![(west + 360.0, 180.0), (-180.0, east)]
    } else if east > 180.0 {
        vec![(west, 180.0), (-180.0, east - 360.0)]
    } else {
        vec![(west, east)]
    }
}

/// Whether a radius search's bounding box holds `CROWDED` listings or more: an index-only count
/// (of each side of the antimeridian) that stops there.
async fn is_crowded(db: &Db, tenant: TenantId, near: (f64, f64, f64)) -> Result<bool, ApiError> {
    let ((south, north, west, east), _) = bounding_box(near);
    let mut found = 0;
    for (from, to) in longitude_ranges(west, east) {
        let counted: i64 = on_db!(db, |pool| {
            sqlx::query_scalar(
                "SELECT count(*) FROM (SELECT 1 FROM properties WHERE tenant_id = $1 \
                 AND deleted_at IS NULL AND lat >= $2 AND lat <= $3 AND lng >= $4 AND lng <= $5 \
                 LIMIT $6) AS area",
            )
            .bind(tenant.0)
            .bind(south)
            .bind(north)
            .bind(from)
            .bind(to)
            .bind(CROWDED)
            .fetch_one(pool)
            .await
        })?;
        found += counted;
    }
    Ok(found >= CROWDED)
}

/// The SQL of a checked search (one more row than a page, to tell whether another page
/// follows): listed properties, or `owner`'s in any status, after `cursor` in `sort` order.
/// A radius search in a crowded area is steered off the location index (see `CROWDED`).
pub async fn search_query(
    db: &Db,
    tenant: TenantId,
    (owner, rules): (Option<UserId>, Option<&RuleSearch>),
    search: &Search,
    order: (Sort, Option<&Cursor>),
) -> Result<SearchQuery, ApiError> {
    let crowded = match search.near {
        Some(near) => is_crowded(db, tenant, near).await?,
        None => false,
    };
    Ok(search_sql(
        (tenant, db.kind()),
        (owner, rules),
        search,
        order,
        crowded,
    ))
}

fn search_sql(
    (tenant, dialect): (TenantId, Dialect),
    (owner, rules): (Option<UserId>, Option<&RuleSearch>),
    search: &Search,
    (sort, cursor): (Sort, Option<&Cursor>),
    crowded: bool,
) -> SearchQuery {
    let mut conditions = vec!["tenant_id = $1".to_owned(), "deleted_at IS NULL".to_owned()];
    let mut binds = vec![Bind::Uuid(tenant.0)];
    // Adds a condition on a new bind; the condition gets the bind's placeholder number.
    macro_rules! add {
        ($condition:expr, $value:expr $(,)?) => {{
            binds.push($value);
            let n = binds.len();
            conditions.push($condition(n));
        }};
    }
    if let Some(owner) = owner {
        add!(|n: usize| format!("owner_id = ${n}"), Bind::Uuid(owner.0));
    } else {
        add!(
            |n: usize| format!("status = ${n}"),
            Bind::Text(PropertyStatus::Listed.as_str().into()),
        );
    }
    if let Some(city) = &search.city {
        add!(
            |n: usize| format!("city_key = ${n}"),
            Bind::Text(city.trim().to_lowercase()),
        );
    }
    if let Some(country) = &search.country {
        add!(
            |n: usize| format!("country = ${n}"),
            Bind::Text(country.trim().to_uppercase()),
        );
    }
    if let Some(guests) = search.guests {
        add!(
            |n: usize| format!("max_guests >= ${n}"),
            Bind::Int(i64::from(guests)),
        );
    }
    if let Some(min) = search.min_price {
        add!(|n: usize| format!("nightly_price >= ${n}"), Bind::Int(min));
    }
    if let Some(max) = search.max_price {
        add!(|n: usize| format!("nightly_price <= ${n}"), Bind::Int(max));
    }
    for amenity in &search.amenities {
        add!(
            |n: usize| {
                format!(
                    "EXISTS (SELECT 1 FROM property_amenities a WHERE a.tenant_id = properties.tenant_id \
                     AND a.property_id = properties.id AND a.amenity = ${n})"
                )
            },
            Bind::Text(amenity.clone()),
        );
    }
    if let Some(near) = search.near {
        // A bounding box the indexes can use, then the distance on an equirectangular
        // projection (accurate to well under 1 % at city scale; needs no trigonometry in SQL).
        // In a crowded box, `+lat` keeps both planners off the location index (an expression
        // is not the indexed column), so the sort order's index is walked instead.
        let (lat, lng, radius_km) = near;
        let ((south, north, west, east), shrink) = bounding_box(near);
        let column = if crowded { "+lat" } else { "lat" };
        add!(|n: usize| format!("{column} >= ${n}"), Bind::Float(south));
        add!(|n: usize| format!("{column} <= ${n}"), Bind::Float(north));
        let ranges = longitude_ranges(west, east);
        let mut alternatives = Vec::new();
        for (from, to) in &ranges {
            binds.push(Bind::Float(*from));
            binds.push(Bind::Float(*to));
            let n = binds.len();
            alternatives.push(format!("(lng >= ${} AND lng <= ${n})", n - 1));
        }
        conditions.push(alternatives.join(" OR "));
        let degrees = radius_km / KM_PER_DEGREE;
        binds.push(Bind::Float(lat));
        binds.push(Bind::Float(lng));
        binds.push(Bind::Float(shrink));
        binds.push(Bind::Float(degrees * degrees));
        let n = binds.len();
        let (a, b, c, d) = (n - 3, n - 2, n - 1, n);
        // Across the antimeridian, the longitude difference wraps to the short way round.
        let delta = if ranges.len() > 1 {
            format!(
                "(CASE WHEN lng - ${b} > 180 THEN lng - ${b} - 360 \
                 WHEN lng - ${b} < -180 THEN lng - ${b} + 360 ELSE lng - ${b} END)"
            )
        } else {
            format!("(lng - ${b})")
        };
        conditions.push(format!(
            "((lat - ${a}) * (lat - ${a}) + {delta} * ${c} * {delta} * ${c}) <= ${d}"
        ));
    }
    if let Some(stay) = search.stay {
        let nights = stay.nights();
        add!(|n: usize| format!("min_nights <= ${n}"), Bind::Int(nights));
        add!(|n: usize| format!("max_nights >= ${n}"), Bind::Int(nights));
        binds.push(Bind::Date(stay.check_in));
        binds.push(Bind::Date(stay.check_out));
        let n = binds.len();
        conditions.extend(availability::free_stay_conditions(n - 1, n, dialect));
        binds.push(Bind::Int(nights));
        conditions.push(pricing::season_min_nights_condition(n - 1, n + 1));
        let n = binds.len();
        if let Some(rules) = rules {
            let (more, values) = availability::rule_conditions(n + 1, rules);
            conditions.extend(more);
            binds.extend(values);
        }
    }
    if let Some(cursor) = cursor {
        if sort != Sort::Newest {
            binds.push(Bind::Int(cursor.key));
        }
        binds.push(Bind::Uuid(cursor.id));
        let (k, i) = (binds.len() - 1, binds.len());
        conditions.push(match sort {
            Sort::Newest => format!("id < ${i}"),
            Sort::PriceAsc => {
                format!("(nightly_price > ${k} OR (nightly_price = ${k} AND id > ${i}))")
            }
            Sort::PriceDesc => {
                format!("(nightly_price < ${k} OR (nightly_price = ${k} AND id < ${i}))")
            }
            Sort::Rating => format!("(rating_x100 < ${k} OR (rating_x100 = ${k} AND id < ${i}))"),
        });
    }
    let order_by = match sort {
        Sort::Newest => "id DESC",
        Sort::PriceAsc => "nightly_price ASC, id ASC",
        Sort::PriceDesc => "nightly_price DESC, id DESC",
        Sort::Rating => "rating_x100 DESC, id DESC",
    };
    SearchQuery {
        conditions,
        binds,
        order_by,
        limit: search.limit + 1,
    }
}

/// The property whose calendar export feed has this secret, with its name and preparation
/// nights.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn find_by_calendar_token(
    db: &Db,
    tenant: TenantId,
    token: &str,
) -> Result<Option<(PropertyId, String, u32)>, ApiError> {
    let row: Option<(Uuid, String, i64)> = on_db!(db, |pool| {
        sqlx::query_as("SELECT id, name, CAST(preparation_nights AS BIGINT) FROM properties WHERE tenant_id = $1 AND ical_token = $2 AND deleted_at IS NULL")
            .bind(tenant.0)
            .bind(token)
            .fetch_optional(pool)
            .await
    })?;
    Ok(row.map(|(id, name, preparation)| {
        (
            PropertyId(id),
            name,
            u32::try_from(preparation).unwrap_or(0),
        )
    }))
}

/// PostgreSQL's plan for a search, as `EXPLAIN (FORMAT JSON)` gives it (`None` on SQLite).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn explain_search(
    db: &Db,
    query: &SearchQuery,
) -> Result<Option<serde_json::Value>, ApiError> {
    let Db::Postgres(pool) = db else {
        return Ok(None);
    };
    let sql = format!(
        "EXPLAIN (FORMAT JSON) SELECT {COLUMNS} FROM properties WHERE {} ORDER BY {} LIMIT {}",
        query.conditions.join(" AND "),
        query.order_by,
        query.limit
    );
    let statement = sqlx::query_scalar::<_, sqlx::types::Json<serde_json::Value>>(&sql);
    let plan = bind_all!(statement, &query.binds).fetch_one(pool).await?;
    Ok(Some(plan.0))
}

/// PostgreSQL's plan for `get` (`None` on SQLite).
pub async fn explain_get(
    db: &Db,
    tenant: TenantId,
    id: PropertyId,
) -> Result<Option<serde_json::Value>, ApiError> {
    let Db::Postgres(pool) = db else {
        return Ok(None);
    };
    let sql = format!(
        "EXPLAIN (FORMAT JSON) SELECT {COLUMNS} FROM properties \
         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
    );
    let plan = sqlx::query_scalar::<_, sqlx::types::Json<serde_json::Value>>(&sql)
        .bind(tenant.0)
        .bind(id.0)
        .fetch_one(pool)
        .await?;
    Ok(Some(plan.0))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn search(db: &Db, query: &SearchQuery) -> Result<Vec<Property>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM properties WHERE {} ORDER BY {} LIMIT {}",
        query.conditions.join(" AND "),
        query.order_by,
        query.limit
    );
    let rows: Vec<PropertyRow> = on_db!(db, |pool| {
        let statement = sqlx::query_as(&sql);
        bind_all!(statement, &query.binds).fetch_all(pool).await
    })?;
    rows.into_iter().map(Property::try_from).collect()
}
