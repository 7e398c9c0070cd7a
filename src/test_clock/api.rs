//! `/v1/t/{tenant}/test-clock`: a test tenant's clock (tenant admins).

use poem::web::Data;
use poem_openapi::{Object, OpenApi, payload::Json};
use time::OffsetDateTime;

use super::service::{self, Advance};
use crate::{
    app::AppState,
    db::Timestamp,
    error_statuses,
    http::{ApiResult, BodyExample, Caller, JsonBody, tenancy},
};

#[derive(Debug, Object)]
#[oai(rename = "TestClock")]
pub struct TestClockView {
    /// The tenant's time, which every time-based rule of the tenant reads.
    now: OffsetDateTime,
}

impl From<Timestamp> for TestClockView {
    fn from(now: Timestamp) -> Self {
        Self { now: now.get() }
    }
}

/// Where to move the clock: `to` a time, or forward by `hours` (one of the two; never back).
#[derive(Debug, Object)]
pub struct AdvanceTestClock {
    to: Option<OffsetDateTime>,
    hours: Option<u32>,
}

impl BodyExample for AdvanceTestClock {
    fn example() -> serde_json::Value {
        serde_json::json!({ "hours": 24 })
    }
}

error_statuses!(ReadErrors => [401, 403, 404, 409, 429]);
error_statuses!(AdvanceErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);

pub struct TestClockApi;

#[OpenApi(tag = "crate::http::Tag::TestClocks")]
impl TestClockApi {
    /// Read a test tenant's clock (tenant admins; 409 `not_a_test_tenant` on live tenants).
    ///
    /// It starts at the tenant's creation and stands still between advances.
    #[oai(
        path = "/t/:tenant/test-clock",
        method = "get",
        operation_id = "get_test_clock"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
    ) -> ApiResult<Json<TestClockView>, ReadErrors> {
        Ok(Json(
            service::now(&state, &tenant.0, &caller.0).await?.into(),
        ))
    }

    /// Advance a test tenant's clock and run what fell due (tenant admins).
    ///
    /// Holds and requests past their deadline expire and stays whose check-out day has come
    /// complete before the answer. A time before the clock is 422 naming `to`.
    #[oai(
        path = "/t/:tenant/test-clock/advance",
        method = "post",
        operation_id = "advance_test_clock"
    )]
    async fn advance(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        body: JsonBody<AdvanceTestClock>,
    ) -> ApiResult<Json<TestClockView>, AdvanceErrors> {
        let advance = Advance::parse(body.0.to.map(Timestamp::from), body.0.hours)?;
        Ok(Json(
            service::advance(&state, &tenant.0, &caller.0, advance)
                .await?
                .into(),
        ))
    }
}
