//! Reviews' SQL: guests' reviews of properties, hosts' reviews of guests, and the per-star
//! counts of published reviews. Reads join the author's account for their first name.

use time::Date;
use uuid::Uuid;

use super::model::{
    GuestReview, Rating, Reply, Review, ReviewCursor, ReviewSort, ReviewStatus, Summary,
};
use crate::{
    authz::{GuestReviewAction, Permit, ReviewAction},
    bind_all,
    db::{Bind, Db, Timestamp, Tx, is_unique_violation},
    error::{ApiError, ErrorCode},
    ids::{BookingId, GuestReviewId, PropertyId, ReviewId, TenantId, UserId},
    on_db, on_tx,
};

const COLUMNS: &str = "r.tenant_id, r.id, r.property_id, r.booking_id, r.author_id, \
    u.first_name AS author_first_name, CAST(r.rating AS BIGINT) AS rating, r.comment, r.status, \
    r.status_reason, r.reply_text, r.reply_at, r.window_closes_on, r.created_at, r.updated_at";

const FROM: &str =
    "FROM reviews r JOIN users u ON u.tenant_id = r.tenant_id AND u.id = r.author_id";

const GUEST_COLUMNS: &str = "r.tenant_id, r.id, r.booking_id, r.guest_id, r.author_id, \
    u.first_name AS author_first_name, CAST(r.rating AS BIGINT) AS rating, r.comment, r.status, \
    r.status_reason, r.window_closes_on, r.created_at, r.updated_at";

const GUEST_FROM: &str =
    "FROM guest_reviews r JOIN users u ON u.tenant_id = r.tenant_id AND u.id = r.author_id";

fn corrupt(what: &str, id: Uuid) -> ApiError {
    ApiError::internal(format!("review {id} has an invalid {what}"))
}

fn rating(value: i64, id: Uuid) -> Result<Rating, ApiError> {
    Rating::parse(value).map_err(|_| corrupt("rating", id))
}

fn status(value: &str, id: Uuid) -> Result<ReviewStatus, ApiError> {
    ReviewStatus::parse(value).ok_or_else(|| corrupt("status", id))
}

#[derive(sqlx::FromRow)]
struct ReviewRow {
    tenant_id: Uuid,
    id: Uuid,
    property_id: Uuid,
    booking_id: Uuid,
    author_id: Uuid,
    author_first_name: String,
    rating: i64,
    comment: String,
    status: String,
    status_reason: Option<String>,
    reply_text: Option<String>,
    reply_at: Option<Timestamp>,
    window_closes_on: Date,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl TryFrom<ReviewRow> for Review {
    type Error = ApiError;

    fn try_from(row: ReviewRow) -> Result<Self, ApiError> {
        Ok(Review {
            tenant_id: TenantId(row.tenant_id),
            id: ReviewId(row.id),
            property_id: PropertyId(row.property_id),
            booking_id: BookingId(row.booking_id),
            author_id: UserId(row.author_id),
            author_first_name: row.author_first_name,
            rating: rating(row.rating, row.id)?,
            comment: row.comment,
            status: status(&row.status, row.id)?,
            status_reason: row.status_reason,
            reply: match (row.reply_text, row.reply_at) {
                (Some(text), Some(at)) => Some(Reply { text, at }),
                _ => None,
            },
            window_closes_on: row.window_closes_on,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct GuestReviewRow {
    tenant_id: Uuid,
    id: Uuid,
    booking_id: Uuid,
    guest_id: Uuid,
    author_id: Uuid,
    author_first_name: String,
    rating: i64,
    comment: String,
    status: String,
    status_reason: Option<String>,
    window_closes_on: Date,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl TryFrom<GuestReviewRow> for GuestReview {
    type Error = ApiError;

    fn try_from(row: GuestReviewRow) -> Result<Self, ApiError> {
        Ok(GuestReview {
            tenant_id: TenantId(row.tenant_id),
            id: GuestReviewId(row.id),
            booking_id: BookingId(row.booking_id),
            guest_id: UserId(row.guest_id),
            author_id: UserId(row.author_id),
            author_first_name: row.author_first_name,
            rating: rating(row.rating, row.id)?,
            comment: row.comment,
            status: status(&row.status, row.id)?,
            status_reason: row.status_reason,
            window_closes_on: row.window_closes_on,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A new row of either kind of review: `subject` is the property reviewed, or the guest.
struct NewRow<'a> {
    tenant: TenantId,
    id: Uuid,
    booking: BookingId,
    subject: Uuid,
    author: UserId,
    rating: Rating,
    comment: &'a str,
    status: ReviewStatus,
    status_reason: Option<&'a str>,
    window_closes_on: Date,
    created_at: Timestamp,
}

/// Inserts `row` into `table`, whose `subject_column` holds the subject; 409 `review_exists`
/// (about `what`) when the table's unique key already holds the author's review.
async fn insert_row(
    tx: &mut Tx,
    (table, subject_column): (&str, &str),
    row: NewRow<'_>,
    what: &str,
) -> Result<(), ApiError> {
    let sql = format!(
        "INSERT INTO {table} (tenant_id, id, booking_id, {subject_column}, author_id, rating, \
         comment, status, status_reason, window_closes_on, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, CAST($6 AS INTEGER), $7, $8, $9, $10, $11, $11)"
    );
    let result = on_tx!(tx, |conn| {
        sqlx::query(&sql)
            .bind(row.tenant.0)
            .bind(row.id)
            .bind(row.booking.0)
            .bind(row.subject)
            .bind(row.author.0)
            .bind(i64::from(row.rating.get()))
            .bind(row.comment)
            .bind(row.status.as_str())
            .bind(row.status_reason)
            .bind(row.window_closes_on)
            .bind(row.created_at)
            .execute(conn)
            .await
            .map(drop)
    });
    match result {
        Ok(()) => Ok(()),
        Err(err) if is_unique_violation(&err) => Err(ApiError::Conflict {
            code: ErrorCode::ReviewExists,
            detail: format!("You already reviewed {what}; edit or delete that review instead."),
        }),
        Err(err) => Err(err.into()),
    }
}

/// Inserts a new review; 409 `review_exists` when its author already reviewed the property.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %review.tenant_id, review = %review.id))]
pub async fn insert(
    tx: &mut Tx,
    permit: &Permit<ReviewAction>,
    review: &Review,
) -> Result<(), ApiError> {
    permit.require(&[ReviewAction::CreateOwn])?;
    permit.require_tenant(review.tenant_id)?;
    let row = NewRow {
        tenant: review.tenant_id,
        id: review.id.0,
        booking: review.booking_id,
        subject: review.property_id.0,
        author: review.author_id,
        rating: review.rating,
        comment: &review.comment,
        status: review.status,
        status_reason: review.status_reason.as_deref(),
        window_closes_on: review.window_closes_on,
        created_at: review.created_at,
    };
    insert_row(tx, ("reviews", "property_id"), row, "this property").await
}

/// Writes what can change in a review: rating, comment, status and its reason, reply.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %review.tenant_id, review = %review.id))]
pub async fn update(
    tx: &mut Tx,
    permit: &Permit<ReviewAction>,
    review: &Review,
) -> Result<(), ApiError> {
    permit.require(ReviewAction::WRITES)?;
    permit.require_tenant(review.tenant_id)?;
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE reviews SET rating = CAST($3 AS INTEGER), comment = $4, status = $5, \
             status_reason = $6, reply_text = $7, reply_at = $8, updated_at = $9 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(review.tenant_id.0)
        .bind(review.id.0)
        .bind(i64::from(review.rating.get()))
        .bind(&review.comment)
        .bind(review.status.as_str())
        .bind(&review.status_reason)
        .bind(review.reply.as_ref().map(|reply| reply.text.clone()))
        .bind(review.reply.as_ref().map(|reply| reply.at))
        .bind(review.updated_at)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), review = %id))]
pub async fn delete(
    tx: &mut Tx,
    permit: &Permit<ReviewAction>,
    id: ReviewId,
) -> Result<(), ApiError> {
    permit.require(&[ReviewAction::DeleteOwn, ReviewAction::DeleteAny])?;
    let tenant = permit.tenant();
    on_tx!(tx, |conn| {
        sqlx::query("DELETE FROM reviews WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .execute(conn)
            .await
            .map(drop)
    })?;
    Ok(())
}

#[tracing::instrument(level = "debug", skip(db))]
pub async fn get(db: &Db, tenant: TenantId, id: ReviewId) -> Result<Option<Review>, ApiError> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE r.tenant_id = $1 AND r.id = $2");
    let row: Option<ReviewRow> = on_db!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(pool)
            .await
    })?;
    row.map(Review::try_from).transpose()
}

/// One row of `sql`, which binds the tenant as `$1` and `id` as `$2`, read on the
/// transaction's connection and (on PostgreSQL) locked until it ends: `sql` names the
/// reviews table `r`.
async fn locked_row<R>(
    tx: &mut Tx,
    sql: &str,
    (tenant, id): (TenantId, Uuid),
) -> Result<Option<R>, ApiError>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + Send
        + Unpin,
{
    let row = match tx {
        Tx::Postgres(tx) => {
            sqlx::query_as(&format!("{sql} FOR UPDATE OF r"))
                .bind(tenant.0)
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?
        }
        Tx::Sqlite(tx) => {
            sqlx::query_as(sql)
                .bind(tenant.0)
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?
        }
    };
    Ok(row)
}

/// One review matching `condition` (on `$2` the id given), read and locked in `tx`.
async fn one_review_in(
    tx: &mut Tx,
    condition: &str,
    key: (TenantId, Uuid),
) -> Result<Option<Review>, ApiError> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE r.tenant_id = $1 AND {condition}");
    let row: Option<ReviewRow> = locked_row(tx, &sql, key).await?;
    row.map(Review::try_from).transpose()
}

/// The review, read and locked in `tx`.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn get_in(
    tx: &mut Tx,
    tenant: TenantId,
    id: ReviewId,
) -> Result<Option<Review>, ApiError> {
    one_review_in(tx, "r.id = $2", (tenant, id.0)).await
}

/// The guest's review of the property about this stay, read and locked in `tx`.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn of_booking_in(
    tx: &mut Tx,
    tenant: TenantId,
    booking: BookingId,
) -> Result<Option<Review>, ApiError> {
    one_review_in(tx, "r.booking_id = $2", (tenant, booking.0)).await
}

/// A page of the property's published reviews in `sort` order, after `cursor`.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn list_published(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
    (sort, cursor): (ReviewSort, Option<ReviewCursor>),
    limit: u32,
) -> Result<Vec<Review>, ApiError> {
    let mut conditions = vec![
        "r.tenant_id = $1".to_owned(),
        "r.property_id = $2".to_owned(),
        "r.status = 'published'".to_owned(),
    ];
    let mut binds = vec![Bind::Uuid(tenant.0), Bind::Uuid(property.0)];
    if let Some(cursor) = cursor {
        binds.push(Bind::Int(i64::from(cursor.rating)));
        binds.push(Bind::Uuid(cursor.id.0));
        let (k, i) = (binds.len() - 1, binds.len());
        conditions.push(match sort {
            ReviewSort::Newest => format!("r.id < ${i}"),
            ReviewSort::RatingDesc => {
                format!("(r.rating < ${k} OR (r.rating = ${k} AND r.id < ${i}))")
            }
            ReviewSort::RatingAsc => {
                format!("(r.rating > ${k} OR (r.rating = ${k} AND r.id < ${i}))")
            }
        });
    }
    let order_by = match sort {
        ReviewSort::Newest => "r.id DESC",
        ReviewSort::RatingDesc => "r.rating DESC, r.id DESC",
        ReviewSort::RatingAsc => "r.rating ASC, r.id DESC",
    };
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE {} ORDER BY {order_by} LIMIT {limit}",
        conditions.join(" AND ")
    );
    let rows: Vec<ReviewRow> = on_db!(db, |pool| {
        let statement = sqlx::query_as(&sql);
        bind_all!(statement, &binds).fetch_all(pool).await
    })?;
    rows.into_iter().map(Review::try_from).collect()
}

/// A page of the tenant's reviews in `statuses` (all when empty), newest first, after `after`.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn list_in_statuses(
    db: &Db,
    tenant: TenantId,
    statuses: &[ReviewStatus],
    after: Option<ReviewId>,
    limit: u32,
) -> Result<Vec<Review>, ApiError> {
    let mut conditions = vec!["r.tenant_id = $1".to_owned()];
    let mut binds = vec![Bind::Uuid(tenant.0)];
    if let Some(after) = after {
        binds.push(Bind::Uuid(after.0));
        conditions.push(format!("r.id < ${}", binds.len()));
    }
    if !statuses.is_empty() {
        let first = binds.len() + 1;
        let placeholders: Vec<String> = (first..first + statuses.len())
            .map(|n| format!("${n}"))
            .collect();
        binds.extend(
            statuses
                .iter()
                .map(|status| Bind::Text(status.as_str().to_owned())),
        );
        conditions.push(format!("r.status IN ({})", placeholders.join(", ")));
    }
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE {} ORDER BY r.id DESC LIMIT {limit}",
        conditions.join(" AND ")
    );
    let rows: Vec<ReviewRow> = on_db!(db, |pool| {
        let statement = sqlx::query_as(&sql);
        bind_all!(statement, &binds).fetch_all(pool).await
    })?;
    rows.into_iter().map(Review::try_from).collect()
}

/// How many published reviews of the property gave each number of stars.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn summary(db: &Db, tenant: TenantId, property: PropertyId) -> Result<Summary, ApiError> {
    let rows: Vec<(i64, i64)> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT CAST(stars AS BIGINT), CAST(reviews AS BIGINT) FROM review_stars \
             WHERE tenant_id = $1 AND property_id = $2",
        )
        .bind(tenant.0)
        .bind(property.0)
        .fetch_all(pool)
        .await
    })?;
    let mut summary = Summary::default();
    for (stars, reviews) in rows {
        let slot = usize::try_from(stars - 1)
            .ok()
            .and_then(|index| summary.stars.get_mut(index))
            .ok_or_else(|| ApiError::internal(format!("review_stars has {stars} stars")))?;
        *slot = reviews;
    }
    Ok(summary)
}

/// Adds `delta` (1 or -1) to the property's count of published reviews with `stars`.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), property = %property))]
pub async fn add_stars(
    tx: &mut Tx,
    permit: &Permit<ReviewAction>,
    property: PropertyId,
    (stars, delta): (Rating, i64),
) -> Result<(), ApiError> {
    permit.require(ReviewAction::WRITES)?;
    let tenant = permit.tenant();
    // A review leaving the count was counted, so its row exists; the first of its stars to
    // join makes the row.
    let sql = if delta < 0 {
        "UPDATE review_stars SET reviews = reviews + CAST($4 AS INTEGER) \
         WHERE tenant_id = $1 AND property_id = $2 AND stars = CAST($3 AS INTEGER)"
    } else {
        "INSERT INTO review_stars (tenant_id, property_id, stars, reviews) \
         VALUES ($1, $2, CAST($3 AS INTEGER), CAST($4 AS INTEGER)) \
         ON CONFLICT (tenant_id, property_id, stars) \
         DO UPDATE SET reviews = review_stars.reviews + excluded.reviews"
    };
    let updated = on_tx!(tx, |conn| {
        sqlx::query(sql)
            .bind(tenant.0)
            .bind(property.0)
            .bind(i64::from(stars.get()))
            .bind(delta)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })?;
    if updated != 1 {
        return Err(ApiError::internal(format!(
            "the {stars:?} count of property {property} did not change"
        )));
    }
    Ok(())
}

/// A tenant's reviews waiting for the other side whose window closed by `today`, of both
/// kinds: guests' reviews of properties, and hosts' reviews of guests.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn pending_due(
    db: &Db,
    tenant: TenantId,
    today: Date,
) -> Result<(Vec<ReviewId>, Vec<GuestReviewId>), ApiError> {
    let (reviews, guest_reviews): (Vec<Uuid>, Vec<Uuid>) = on_db!(db, |pool| {
        let reviews = sqlx::query_scalar(
            "SELECT id FROM reviews WHERE tenant_id = $1 AND status = 'pending' \
             AND window_closes_on <= $2 ORDER BY id",
        )
        .bind(tenant.0)
        .bind(today)
        .fetch_all(pool)
        .await?;
        let guest_reviews = sqlx::query_scalar(
            "SELECT id FROM guest_reviews WHERE tenant_id = $1 AND status = 'pending' \
             AND window_closes_on <= $2 ORDER BY id",
        )
        .bind(tenant.0)
        .bind(today)
        .fetch_all(pool)
        .await?;
        Ok::<_, sqlx::Error>((reviews, guest_reviews))
    })?;
    Ok((
        reviews.into_iter().map(ReviewId).collect(),
        guest_reviews.into_iter().map(GuestReviewId).collect(),
    ))
}

/// The tenants with pending reviews whose window closes on or before `until`: candidates for
/// publication, which each tenant's today decides.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn tenants_with_pending_by(db: &Db, until: Date) -> Result<Vec<TenantId>, ApiError> {
    let ids: Vec<Uuid> = on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT tenant_id FROM reviews WHERE status = 'pending' AND window_closes_on <= $1 \
             UNION SELECT tenant_id FROM guest_reviews \
             WHERE status = 'pending' AND window_closes_on <= $1",
        )
        .bind(until)
        .fetch_all(pool)
        .await
    })?;
    Ok(ids.into_iter().map(TenantId).collect())
}

/// Inserts a host's review of a guest; 409 `review_exists` when the stay's guest was
/// reviewed already.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %review.tenant_id, review = %review.id))]
pub async fn insert_guest_review(
    tx: &mut Tx,
    permit: &Permit<GuestReviewAction>,
    review: &GuestReview,
) -> Result<(), ApiError> {
    permit.require(&[GuestReviewAction::CreateHosted])?;
    permit.require_tenant(review.tenant_id)?;
    let row = NewRow {
        tenant: review.tenant_id,
        id: review.id.0,
        booking: review.booking_id,
        subject: review.guest_id.0,
        author: review.author_id,
        rating: review.rating,
        comment: &review.comment,
        status: review.status,
        status_reason: review.status_reason.as_deref(),
        window_closes_on: review.window_closes_on,
        created_at: review.created_at,
    };
    insert_row(tx, ("guest_reviews", "guest_id"), row, "this stay's guest").await
}

/// One host's review of a guest matching `condition` (on `$2` the id given), read and
/// locked in `tx`.
async fn one_guest_review_in(
    tx: &mut Tx,
    condition: &str,
    key: (TenantId, Uuid),
) -> Result<Option<GuestReview>, ApiError> {
    let sql = format!("SELECT {GUEST_COLUMNS} {GUEST_FROM} WHERE r.tenant_id = $1 AND {condition}");
    let row: Option<GuestReviewRow> = locked_row(tx, &sql, key).await?;
    row.map(GuestReview::try_from).transpose()
}

#[tracing::instrument(level = "debug", skip(tx))]
pub async fn guest_review_in(
    tx: &mut Tx,
    tenant: TenantId,
    id: GuestReviewId,
) -> Result<Option<GuestReview>, ApiError> {
    one_guest_review_in(tx, "r.id = $2", (tenant, id.0)).await
}

/// The host's review of the guest of this stay, read and locked in `tx`.
#[tracing::instrument(level = "debug", skip(tx))]
pub async fn guest_review_of_booking_in(
    tx: &mut Tx,
    tenant: TenantId,
    booking: BookingId,
) -> Result<Option<GuestReview>, ApiError> {
    one_guest_review_in(tx, "r.booking_id = $2", (tenant, booking.0)).await
}

/// Writes a host's review's new status.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %review.tenant_id, review = %review.id))]
pub async fn update_guest_review_status(
    tx: &mut Tx,
    permit: &Permit<GuestReviewAction>,
    review: &GuestReview,
) -> Result<(), ApiError> {
    permit.require(&[GuestReviewAction::CreateHosted])?;
    permit.require_tenant(review.tenant_id)?;
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE guest_reviews SET status = $3, status_reason = $4, updated_at = $5 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(review.tenant_id.0)
        .bind(review.id.0)
        .bind(review.status.as_str())
        .bind(&review.status_reason)
        .bind(review.updated_at)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// A page of the guest's published reviews by hosts, newest first, after `after`.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn list_published_of_guest(
    db: &Db,
    tenant: TenantId,
    guest: UserId,
    after: Option<GuestReviewId>,
    limit: u32,
) -> Result<Vec<GuestReview>, ApiError> {
    let mut binds = vec![Bind::Uuid(tenant.0), Bind::Uuid(guest.0)];
    let mut keyset = String::new();
    if let Some(after) = after {
        binds.push(Bind::Uuid(after.0));
        keyset = " AND r.id < $3".to_owned();
    }
    let sql = format!(
        "SELECT {GUEST_COLUMNS} {GUEST_FROM} WHERE r.tenant_id = $1 AND r.guest_id = $2 \
         AND r.status = 'published'{keyset} ORDER BY r.id DESC LIMIT {limit}"
    );
    let rows: Vec<GuestReviewRow> = on_db!(db, |pool| {
        let statement = sqlx::query_as(&sql);
        bind_all!(statement, &binds).fetch_all(pool).await
    })?;
    rows.into_iter().map(GuestReview::try_from).collect()
}
