//! A property's calendar: `/v1/t/{tenant}/properties/{id}/availability`, its blocked dates,
//! its iCalendar export (`/v1/t/{tenant}/ical/{feed}`) and its imports of other calendars.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{model::CalendarImport, service};
use crate::{
    app::AppState,
    availability::{Block, NightStatus, rules::TimeRule},
    dates::parse_range,
    error_statuses,
    http::{ApiDate, ApiResult, BodyExample, Caller, JsonBody, NoStore, Public, tenancy},
    ids::PropertyId,
};

#[derive(Debug, Object)]
pub struct NewBlock {
    /// First blocked night, `YYYY-MM-DD`.
    start: ApiDate,
    /// The day after the last blocked night (exclusive).
    end: ApiDate,
    /// A note for the host, e.g. "renovation".
    #[oai(validator(max_length = 200))]
    reason: Option<String>,
}

impl BodyExample for NewBlock {
    fn example() -> serde_json::Value {
        serde_json::json!({ "start": "2027-08-01", "end": "2027-08-08", "reason": "renovation" })
    }
}

#[derive(Debug, Object)]
#[oai(rename = "BlockedRange")]
pub struct BlockView {
    id: Uuid,
    start: ApiDate,
    /// Exclusive.
    end: ApiDate,
    #[oai(nullable)]
    reason: Option<String>,
}

impl From<Block> for BlockView {
    fn from(block: Block) -> Self {
        Self {
            id: block.id,
            start: ApiDate::from(block.start),
            end: ApiDate::from(block.end),
            reason: block.reason,
        }
    }
}

#[derive(Debug, Object)]
pub struct BlockList {
    /// Blocks from today on.
    data: Vec<BlockView>,
    /// Always `null`: every upcoming block is in `data`.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "NightStatus")]
pub enum NightStatusDto {
    Available,
    Booked,
    Blocked,
    /// A rule of the property keeps new stays off it (`reason` says which).
    Unavailable,
}

/// Why a night cannot be booked.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "UnavailableReason")]
pub enum ReasonDto {
    /// A booking holds it.
    Booked,
    /// The host or an imported calendar blocked it.
    Blocked,
    /// It is kept free before or after a booking (`preparation_nights`).
    Preparation,
    /// Its check-in time is nearer than the property's `advance_notice_hours`.
    AdvanceNotice,
    /// It is further ahead than the booking window.
    OutsideWindow,
}

/// A night: `reason` says why it cannot be booked, and is absent when it is available.
// Field docs on `$ref` fields would wrap them in `allOf`, which SDK generators mishandle.
#[derive(Debug, Object)]
pub struct Night {
    date: ApiDate,
    status: NightStatusDto,
    #[oai(skip_serializing_if_is_none)]
    reason: Option<ReasonDto>,
}

impl Night {
    fn new(date: time::Date, status: NightStatus) -> Self {
        let (status, reason) = match status {
            NightStatus::Available => (NightStatusDto::Available, None),
            NightStatus::Booked => (NightStatusDto::Booked, Some(ReasonDto::Booked)),
            NightStatus::Blocked => (NightStatusDto::Blocked, Some(ReasonDto::Blocked)),
            NightStatus::Preparation => (NightStatusDto::Unavailable, Some(ReasonDto::Preparation)),
            NightStatus::Unavailable(TimeRule::AdvanceNotice) => {
                (NightStatusDto::Unavailable, Some(ReasonDto::AdvanceNotice))
            }
            NightStatus::Unavailable(TimeRule::OutsideWindow) => {
                (NightStatusDto::Unavailable, Some(ReasonDto::OutsideWindow))
            }
        };
        Self {
            date: ApiDate::from(date),
            status,
            reason,
        }
    }
}

#[derive(Debug, Object)]
pub struct Availability {
    property_id: Uuid,
    from: ApiDate,
    /// Exclusive.
    to: ApiDate,
    nights: Vec<Night>,
}

#[derive(Debug, Object)]
pub struct NewCalendarImport {
    /// The other platform's iCalendar export URL (http or https).
    #[oai(validator(max_length = 2000))]
    url: String,
}

impl BodyExample for NewCalendarImport {
    fn example() -> serde_json::Value {
        serde_json::json!({ "url": "https://calendar.example.com/export/listing-4711.ics" })
    }
}

#[derive(Debug, Object)]
#[oai(rename = "CalendarImport")]
pub struct CalendarImportView {
    id: Uuid,
    url: String,
    /// When the calendar was last fetched and applied; `null` until the first success.
    #[oai(nullable)]
    last_synced_at: Option<time::OffsetDateTime>,
    /// Why the last fetch failed, if it did.
    #[oai(nullable)]
    last_error: Option<String>,
    created_at: time::OffsetDateTime,
}

impl From<CalendarImport> for CalendarImportView {
    fn from(import: CalendarImport) -> Self {
        Self {
            id: import.id,
            url: import.url,
            last_synced_at: import.last_synced_at.map(|at| at.get()),
            last_error: import.last_error,
            created_at: import.created_at.get(),
        }
    }
}

#[derive(Debug, Object)]
pub struct CalendarImportList {
    data: Vec<CalendarImportView>,
    /// Always `null`: every import is in `data`.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum ImportCreated {
    /// Added; the first fetch follows shortly, then every 15 minutes.
    #[oai(status = 201)]
    Created(Json<CalendarImportView>),
}

#[derive(Debug, Object)]
pub struct CalendarExport {
    /// The new feed URL; the previous one no longer works.
    ical_export_url: String,
}

/// An iCalendar document.
pub struct Calendar(String);

impl poem::IntoResponse for Calendar {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type("text/calendar; charset=utf-8")
            .header("cache-control", "private, max-age=300")
            .body(self.0)
    }
}

impl ApiResponse for Calendar {
    fn meta() -> poem_openapi::registry::MetaResponses {
        use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses};
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The feed (RFC 5545): one all-day event per unavailable range",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "text/calendar",
                    schema: <poem_openapi::payload::PlainText<String> as poem_openapi::payload::Payload>::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut poem_openapi::registry::Registry) {}
}

#[derive(ApiResponse)]
pub enum BlockCreated {
    /// The block as stored, merged with the blocks it overlaps or touches.
    #[oai(status = 201)]
    Created(Json<BlockView>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    #[oai(status = 204)]
    NoContent,
}

error_statuses!(ReadErrors => [401, 403, 404, 422, 429]);
error_statuses!(WriteConflictErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);

pub struct CalendarApi;

#[OpenApi(tag = "crate::http::Tag::Properties")]
impl CalendarApi {
    /// Each night of `[from, to)` (at most 366) and whether it can be booked.
    ///
    /// A night is available, booked, blocked, or unavailable under the property's rules, with
    /// the `reason` of each night that is not available.
    #[oai(
        path = "/t/:tenant/properties/:id/availability",
        method = "get",
        operation_id = "get_availability"
    )]
    async fn availability(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        id: Path<Uuid>,
        /// First night, `YYYY-MM-DD`.
        from: Query<ApiDate>,
        /// The day after the last night (exclusive).
        to: Query<ApiDate>,
    ) -> ApiResult<Json<Availability>, ReadErrors> {
        let range = parse_range("from", &from.0, "to", &to.0)?;
        let nights =
            service::availability(&state, &tenant.0, &caller.0, PropertyId(id.0), range).await?;
        Ok(Json(Availability {
            property_id: id.0,
            from: ApiDate::from(range.0),
            to: ApiDate::from(range.1),
            nights: nights
                .into_iter()
                .map(|(date, status)| Night::new(date, status))
                .collect(),
        }))
    }

    /// Block nights (the property's owner, or tenant admins).
    ///
    /// Blocks that overlap or touch merge into one.
    #[oai(
        path = "/t/:tenant/properties/:id/blocked-dates",
        method = "post",
        operation_id = "block_dates"
    )]
    async fn block(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<NewBlock>,
    ) -> ApiResult<BlockCreated, WriteConflictErrors> {
        let body = body.0;
        let range = parse_range("start", &body.start, "end", &body.end)?;
        let block = service::block(
            &state,
            &tenant.0,
            &caller.0,
            PropertyId(id.0),
            range,
            body.reason,
        )
        .await?;
        Ok(BlockCreated::Created(Json(block.into())))
    }

    /// The upcoming blocked ranges (the property's owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/blocked-dates",
        method = "get",
        operation_id = "list_blocked_dates"
    )]
    async fn blocks(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<BlockList>, ReadErrors> {
        let blocks = service::blocks(&state, &tenant.0, &caller.0, PropertyId(id.0)).await?;
        Ok(Json(BlockList {
            data: blocks.into_iter().map(BlockView::from).collect(),
            next_cursor: None,
        }))
    }

    /// Unblock a range (the property's owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/blocked-dates/:block_id",
        method = "delete",
        operation_id = "unblock_dates"
    )]
    async fn unblock(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        block_id: Path<Uuid>,
    ) -> ApiResult<Deleted, ReadErrors> {
        service::unblock(&state, &tenant.0, &caller.0, PropertyId(id.0), block_id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// A property's iCalendar feed (`.ics`) of unavailable nights, for other platforms.
    ///
    /// The secret in the URL is the credential: hosts rotate it when it leaks.
    #[oai(
        path = "/t/:tenant/ical/:feed",
        method = "get",
        operation_id = "export_calendar"
    )]
    async fn export_calendar(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        /// The feed's file name, `<secret>.ics`.
        feed: Path<String>,
    ) -> ApiResult<Calendar, ReadErrors> {
        let token = feed.0.strip_suffix(".ics").unwrap_or(&feed.0);
        Ok(Calendar(
            service::export(&state, &tenant.0, &caller.0, token).await?,
        ))
    }

    /// Issue a new calendar export URL (the property's owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/ical-export/rotate",
        method = "post",
        operation_id = "rotate_calendar_export"
    )]
    async fn rotate_export(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<NoStore<Json<CalendarExport>>, ReadErrors> {
        let ical_export_url =
            service::rotate_export(&state, &tenant.0, &caller.0, PropertyId(id.0)).await?;
        Ok(NoStore(Json(CalendarExport { ical_export_url })))
    }

    /// Import a calendar from another platform (the property's owner, or tenant admins).
    ///
    /// Its events block nights here, refreshed every 15 minutes. Private and loopback addresses
    /// are refused (422 naming `url`).
    #[oai(
        path = "/t/:tenant/properties/:id/calendar-imports",
        method = "post",
        operation_id = "add_calendar_import"
    )]
    async fn add_import(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<NewCalendarImport>,
    ) -> ApiResult<ImportCreated, WriteConflictErrors> {
        let import =
            service::add_import(&state, &tenant.0, &caller.0, PropertyId(id.0), &body.url).await?;
        Ok(ImportCreated::Created(Json(import.into())))
    }

    /// The calendars a property imports, with their last sync (owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/calendar-imports",
        method = "get",
        operation_id = "list_calendar_imports"
    )]
    async fn list_imports(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<CalendarImportList>, ReadErrors> {
        let list = service::list_imports(&state, &tenant.0, &caller.0, PropertyId(id.0)).await?;
        Ok(Json(CalendarImportList {
            data: list.into_iter().map(CalendarImportView::from).collect(),
            next_cursor: None,
        }))
    }

    /// Stop importing a calendar; the nights it blocked are free again.
    #[oai(
        path = "/t/:tenant/properties/:id/calendar-imports/:import_id",
        method = "delete",
        operation_id = "remove_calendar_import"
    )]
    async fn remove_import(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        import_id: Path<Uuid>,
    ) -> ApiResult<Deleted, ReadErrors> {
        service::remove_import(&state, &tenant.0, &caller.0, PropertyId(id.0), import_id.0).await?;
        Ok(Deleted::NoContent)
    }
}
