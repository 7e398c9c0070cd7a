//! Reviews' routes: `properties/{id}/reviews` (list, create), `reviews/{id}` (edit, delete),
//! its `reply`, `hide` and `unhide`; hosts' reviews of guests: `bookings/{id}/guest-review`
//! and `users/{id}/reviews`.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    model::{GuestReview, Review, ReviewSort, ReviewStatus, Summary},
    service::{self, Edit},
};
use crate::{
    app::AppState,
    error::ApiError,
    error_statuses,
    http::{ApiResult, BodyExample, Caller, JsonBody, NoStore, Public, cursor, tenancy},
    ids::{BookingId, GuestReviewId, PropertyId, ReviewId, UserId},
};

/// Where a review stands: `published` (public), `pending` (waiting for the other side of the
/// stay under double-blind publication), `held` (for moderation by the review rules),
/// `rejected` (by the review rules), `hidden` (by a tenant admin). Only published reviews are
/// public and count in ratings.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "ReviewStatus")]
pub enum ReviewStatusDto {
    Published,
    Pending,
    Held,
    Rejected,
    Hidden,
}

impl From<ReviewStatus> for ReviewStatusDto {
    fn from(status: ReviewStatus) -> Self {
        match status {
            ReviewStatus::Published => Self::Published,
            ReviewStatus::Pending => Self::Pending,
            ReviewStatus::Held => Self::Held,
            ReviewStatus::Rejected => Self::Rejected,
            ReviewStatus::Hidden => Self::Hidden,
        }
    }
}

/// The orders of a review list: `newest` (default), `rating_desc`, `rating_asc` (ties newest
/// first).
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "ReviewSort")]
pub enum ReviewSortDto {
    Newest,
    RatingDesc,
    RatingAsc,
}

impl From<ReviewSortDto> for ReviewSort {
    fn from(sort: ReviewSortDto) -> Self {
        match sort {
            ReviewSortDto::Newest => Self::Newest,
            ReviewSortDto::RatingDesc => Self::RatingDesc,
            ReviewSortDto::RatingAsc => Self::RatingAsc,
        }
    }
}

/// Who wrote a review, as others see them.
#[derive(Debug, Object)]
#[oai(rename = "ReviewAuthor")]
pub struct AuthorView {
    id: Uuid,
    first_name: String,
}

/// The host's reply to a review.
#[derive(Debug, Object)]
#[oai(rename = "ReviewReply")]
pub struct ReplyView {
    text: String,
    at: OffsetDateTime,
}

/// A guest's review of a property, about their latest completed stay there (`booking_id`).
/// `comment` and the reply are plain text: escape them when displaying them.
#[derive(Debug, Object)]
#[oai(rename = "Review")]
pub struct ReviewView {
    id: Uuid,
    property_id: Uuid,
    booking_id: Uuid,
    author: AuthorView,
    /// 1 to 5 stars.
    rating: u8,
    comment: String,
    status: ReviewStatusDto,
    /// Why the review is held, rejected or hidden; shown to its author and tenant admins.
    #[oai(nullable)]
    status_reason: Option<String>,
    // Absent until the host replies: a nullable `$ref` would need `allOf`, which SDK
    // generators mishandle.
    #[oai(skip_serializing_if_is_none)]
    reply: Option<ReplyView>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<&Review> for ReviewView {
    fn from(review: &Review) -> Self {
        Self {
            id: review.id.0,
            property_id: review.property_id.0,
            booking_id: review.booking_id.0,
            author: AuthorView {
                id: review.author_id.0,
                first_name: review.author_first_name.clone(),
            },
            rating: review.rating.get(),
            comment: review.comment.clone(),
            status: review.status.into(),
            status_reason: review.status_reason.clone(),
            reply: review.reply.as_ref().map(|reply| ReplyView {
                text: reply.text.clone(),
                at: reply.at.get(),
            }),
            created_at: review.created_at.get(),
            updated_at: review.updated_at.get(),
        }
    }
}

/// How many published reviews gave each number of stars.
#[derive(Debug, Object)]
#[oai(rename = "StarCounts")]
pub struct StarsView {
    #[oai(rename = "1")]
    one: i64,
    #[oai(rename = "2")]
    two: i64,
    #[oai(rename = "3")]
    three: i64,
    #[oai(rename = "4")]
    four: i64,
    #[oai(rename = "5")]
    five: i64,
}

/// A property's published reviews: the average (half-even to two decimals, `null` without
/// reviews), their count and the count per number of stars.
#[derive(Debug, Object)]
#[oai(rename = "ReviewSummary")]
pub struct SummaryView {
    #[oai(nullable)]
    average: Option<f64>,
    count: i64,
    stars: StarsView,
}

impl From<Summary> for SummaryView {
    fn from(summary: Summary) -> Self {
        let [one, two, three, four, five] = summary.stars;
        Self {
            average: summary.average(),
            count: summary.count(),
            stars: StarsView {
                one,
                two,
                three,
                four,
                five,
            },
        }
    }
}

#[derive(Debug, Object)]
pub struct ReviewPage {
    data: Vec<ReviewView>,
    /// Pass as `cursor` (with the same sort) for the next page; `null` on the last page.
    #[oai(nullable)]
    next_cursor: Option<String>,
    summary: SummaryView,
}

/// Reviews in any status, for tenant admins.
#[derive(Debug, Object)]
#[oai(rename = "ReviewModerationPage")]
pub struct ModerationPage {
    data: Vec<ReviewView>,
    /// Pass as `cursor` (with the same filter) for the next page; `null` on the last page.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

fn parse_statuses(value: Option<&str>) -> Result<Vec<ReviewStatus>, ApiError> {
    value
        .into_iter()
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            ReviewStatus::parse(name).ok_or_else(|| {
                ApiError::validation(
                    "status",
                    "must list statuses among published, pending, held, rejected, hidden",
                )
            })
        })
        .collect()
}

/// A review: 1 to 5 stars and a comment (at most 2000 characters; control characters other
/// than line breaks are removed).
#[derive(Debug, Object)]
pub struct NewReviewRequest {
    rating: i64,
    comment: String,
}

impl BodyExample for NewReviewRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({ "rating": 5, "comment": "Bright, quiet and spotless; we will be back." })
    }
}

/// A change to one's review: any of `rating` and `comment`.
#[derive(Debug, Object)]
pub struct ReviewUpdate {
    rating: Option<i64>,
    comment: Option<String>,
}

impl BodyExample for ReviewUpdate {
    fn example() -> serde_json::Value {
        serde_json::json!({ "rating": 4 })
    }
}

/// The host's reply, 1 to 2000 characters.
#[derive(Debug, Object)]
pub struct ReplyRequest {
    text: String,
}

impl BodyExample for ReplyRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({ "text": "Thank you, come back any time!" })
    }
}

/// Why a review is hidden, 1 to 500 characters.
#[derive(Debug, Object)]
pub struct HideRequest {
    reason: String,
}

impl BodyExample for HideRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({ "reason": "Personal information about the host." })
    }
}

/// A host's review of the guest of one of their stays; `author` is the host.
#[derive(Debug, Object)]
#[oai(rename = "GuestReview")]
pub struct GuestReviewView {
    id: Uuid,
    booking_id: Uuid,
    guest_id: Uuid,
    author: AuthorView,
    rating: u8,
    comment: String,
    status: ReviewStatusDto,
    #[oai(nullable)]
    status_reason: Option<String>,
    created_at: OffsetDateTime,
}

impl From<&GuestReview> for GuestReviewView {
    fn from(review: &GuestReview) -> Self {
        Self {
            id: review.id.0,
            booking_id: review.booking_id.0,
            guest_id: review.guest_id.0,
            author: AuthorView {
                id: review.author_id.0,
                first_name: review.author_first_name.clone(),
            },
            rating: review.rating.get(),
            comment: review.comment.clone(),
            status: review.status.into(),
            status_reason: review.status_reason.clone(),
            created_at: review.created_at.get(),
        }
    }
}

#[derive(Debug, Object)]
pub struct GuestReviewPage {
    data: Vec<GuestReviewView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum CreatedReview {
    #[oai(status = 201)]
    Created(Json<ReviewView>),
}

#[derive(ApiResponse)]
pub enum CreatedGuestReview {
    #[oai(status = 201)]
    Created(Json<GuestReviewView>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    #[oai(status = 204)]
    NoContent,
}

error_statuses!(ListErrors => [401, 403, 404, 422, 429]);
error_statuses!(CreateErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);
error_statuses!(ChangeErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);
error_statuses!(DeleteErrors => [401, 403, 404, 429]);
error_statuses!(MoveErrors => [401, 403, 404, 409, 429]);

pub struct ReviewsApi;

#[OpenApi(tag = "crate::http::Tag::Reviews")]
impl ReviewsApi {
    /// List a property's published reviews, with its rating summary (anyone).
    #[oai(
        path = "/t/:tenant/properties/:id/reviews",
        method = "get",
        operation_id = "list_property_reviews"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        id: Path<Uuid>,
        sort: Query<Option<ReviewSortDto>>,
        /// Page size, 1 to 100 (default 20).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<NoStore<Json<ReviewPage>>, ListErrors> {
        let sort = sort.0.map_or(ReviewSort::Newest, ReviewSort::from);
        let limit = cursor::page_limit(limit.0)?;
        let page = service::list(
            &state,
            &tenant.0,
            &caller.0,
            PropertyId(id.0),
            (sort, cursor.0, limit),
        )
        .await?;
        Ok(NoStore(Json(ReviewPage {
            data: page.reviews.iter().map(ReviewView::from).collect(),
            next_cursor: page.next_cursor,
            summary: page.summary.into(),
        })))
    }

    /// Review a property (its guests, after a completed stay).
    ///
    /// The review is about the caller's latest completed stay at the property and is written
    /// within the marketplace's `review_window_days` after its check-out (403
    /// `review_window_closed` after; 403 `review_not_allowed` without a completed stay). One
    /// review per guest and property: 409 `review_exists`. Under double-blind publication it
    /// is `pending` until the host reviews the guest or the window closes.
    #[oai(
        path = "/t/:tenant/properties/:id/reviews",
        method = "post",
        operation_id = "create_review"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<NewReviewRequest>,
    ) -> ApiResult<CreatedReview, CreateErrors> {
        let body = body.0;
        let review = service::create(
            &state,
            &tenant.0,
            &caller.0,
            PropertyId(id.0),
            (body.rating, body.comment),
        )
        .await?;
        Ok(CreatedReview::Created(Json(ReviewView::from(&review))))
    }

    /// List the marketplace's reviews in any status, newest first (tenant admins).
    ///
    /// `status` is a comma-separated list (`held,hidden`: the moderation queue); all when
    /// absent.
    #[oai(
        path = "/t/:tenant/reviews",
        method = "get",
        operation_id = "list_reviews"
    )]
    async fn list_all(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        status: Query<Option<String>>,
        /// Page size, 1 to 100 (default 20).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<ModerationPage>, ListErrors> {
        let statuses = parse_statuses(status.0.as_deref())?;
        let after = cursor::decode(cursor.0.as_deref())?.map(ReviewId);
        let limit = cursor::page_limit(limit.0)?;
        let page =
            service::list_for_moderation(&state, &tenant.0, &caller.0, &statuses, (after, limit))
                .await?;
        Ok(Json(ModerationPage {
            data: page.reviews.iter().map(ReviewView::from).collect(),
            next_cursor: page.next.map(|id| cursor::encode(id.0)),
        }))
    }

    /// Get a review (anyone when published; otherwise its author and tenant admins).
    ///
    /// A review that is not published is not found for anyone else.
    #[oai(
        path = "/t/:tenant/reviews/:id",
        method = "get",
        operation_id = "get_review"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        id: Path<Uuid>,
    ) -> ApiResult<NoStore<Json<ReviewView>>, ListErrors> {
        let review = service::get(&state, &tenant.0, &caller.0, ReviewId(id.0)).await?;
        Ok(NoStore(Json(ReviewView::from(&review))))
    }

    /// Edit one's review within the stay's review window (its author).
    #[oai(
        path = "/t/:tenant/reviews/:id",
        method = "patch",
        operation_id = "update_review"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<ReviewUpdate>,
    ) -> ApiResult<Json<ReviewView>, ChangeErrors> {
        let body = body.0;
        let edit = Edit {
            rating: body.rating,
            comment: body.comment,
        };
        let review = service::update(&state, &tenant.0, &caller.0, ReviewId(id.0), edit).await?;
        Ok(Json(ReviewView::from(&review)))
    }

    /// Delete a review (its author, or tenant admins).
    #[oai(
        path = "/t/:tenant/reviews/:id",
        method = "delete",
        operation_id = "delete_review"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Deleted, DeleteErrors> {
        service::delete(&state, &tenant.0, &caller.0, ReviewId(id.0)).await?;
        Ok(Deleted::NoContent)
    }

    /// Reply to a published review of one's property, or replace the reply (its host).
    #[oai(
        path = "/t/:tenant/reviews/:id/reply",
        method = "put",
        operation_id = "reply_to_review"
    )]
    async fn reply(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<ReplyRequest>,
    ) -> ApiResult<Json<ReviewView>, ChangeErrors> {
        let review =
            service::reply(&state, &tenant.0, &caller.0, ReviewId(id.0), &body.text).await?;
        Ok(Json(ReviewView::from(&review)))
    }

    /// Hide a review from the public, with the reason (tenant admins).
    #[oai(
        path = "/t/:tenant/reviews/:id/hide",
        method = "post",
        operation_id = "hide_review"
    )]
    async fn hide(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<HideRequest>,
    ) -> ApiResult<Json<ReviewView>, ChangeErrors> {
        let review =
            service::hide(&state, &tenant.0, &caller.0, ReviewId(id.0), &body.reason).await?;
        Ok(Json(ReviewView::from(&review)))
    }

    /// Bring back a hidden, held or rejected review (tenant admins).
    ///
    /// It is placed as a new review would be: published, or pending the other side of the
    /// stay under double-blind publication.
    #[oai(
        path = "/t/:tenant/reviews/:id/unhide",
        method = "post",
        operation_id = "unhide_review"
    )]
    async fn unhide(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<ReviewView>, MoveErrors> {
        let review = service::unhide(&state, &tenant.0, &caller.0, ReviewId(id.0)).await?;
        Ok(Json(ReviewView::from(&review)))
    }

    /// Review the guest of a completed stay (its host).
    ///
    /// Within the stay's review window; once per stay (409 `review_exists`). Under
    /// double-blind publication it is `pending` until the guest reviews the property or the
    /// window closes.
    #[oai(
        path = "/t/:tenant/bookings/:id/guest-review",
        method = "post",
        operation_id = "create_guest_review"
    )]
    async fn review_guest(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<NewReviewRequest>,
    ) -> ApiResult<CreatedGuestReview, CreateErrors> {
        let body = body.0;
        let review = service::review_guest(
            &state,
            &tenant.0,
            &caller.0,
            BookingId(id.0),
            (body.rating, body.comment),
        )
        .await?;
        Ok(CreatedGuestReview::Created(Json(GuestReviewView::from(
            &review,
        ))))
    }

    /// List hosts' published reviews of a guest, newest first (hosts and tenant admins).
    #[oai(
        path = "/t/:tenant/users/:id/reviews",
        method = "get",
        operation_id = "list_user_reviews"
    )]
    async fn of_guest(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        /// Page size, 1 to 100 (default 20).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<GuestReviewPage>, ListErrors> {
        let after = cursor::decode(cursor.0.as_deref())?.map(GuestReviewId);
        let limit = cursor::page_limit(limit.0)?;
        let page =
            service::of_guest(&state, &tenant.0, &caller.0, UserId(id.0), (after, limit)).await?;
        Ok(Json(GuestReviewPage {
            data: page.reviews.iter().map(GuestReviewView::from).collect(),
            next_cursor: page.next.map(|id| cursor::encode(id.0)),
        }))
    }
}
