//! Marketplace depth through HTTP: each stay rule of a property (advance notice, preparation,
//! check-in and check-out days, booking window) through quotes, bookings, availability and
//! search; per-date prices, seasons and guest fees to the cent; booking modes and verified
//! emails; a property's own time zone around midnight and a DST change.

mod imports;
mod modes;
mod near;
mod prices;
mod rules;
mod time_zone;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use time::{Date, Duration, OffsetDateTime, Weekday};

pub(crate) use crate::helpers::line_amounts as lines;
use crate::helpers::{Account, TestApp};

/// A listed property of `host` in Nice at EUR 100 a night, with `rules` (and any other
/// listing field) merged over that.
pub(crate) async fn listed_with(app: &TestApp, host: &Account, rules: Value) -> String {
    let mut body = json!({
        "name": "Loft", "description": "d",
        "location": { "address": "a", "city": "Nice", "country": "FR", "lat": 43.7, "lng": 7.26 },
        "nightly_price": { "amount": 10000, "currency": "EUR" },
        "max_guests": 4, "status": "listed"
    });
    for (field, value) in rules.as_object().expect("an object of fields") {
        body[field] = value.clone();
    }
    let created = app.properties(host).created(&body).await;
    created["id"].as_str().expect("property id").to_owned()
}

/// The first `weekday` at least `days` days after today (UTC).
fn next(weekday: Weekday, days: i64) -> Date {
    let mut day = OffsetDateTime::now_utc().date() + Duration::days(days);
    while day.weekday() != weekday {
        day = day.next_day().unwrap();
    }
    day
}

/// The ids of the listed properties free for the stay (a date search).
async fn found(app: &TestApp, (check_in, check_out): (Date, Date)) -> Vec<String> {
    let response = app
        .get(&format!(
            "/v1/t/acme/properties?city=Nice&check_in={check_in}&check_out={check_out}"
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|property| property["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Each night of `[from, to)` as `status` or `status:reason`.
async fn nights(app: &TestApp, property: &str, (from, to): (Date, Date)) -> Vec<String> {
    let response = app
        .get(&format!(
            "/v1/t/acme/properties/{property}/availability?from={from}&to={to}"
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["nights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|night| match night["reason"].as_str() {
            Some(reason) if night["status"] == "unavailable" => format!("unavailable:{reason}"),
            Some(reason) => {
                assert_eq!(night["status"], reason, "{night}");
                reason.to_owned()
            }
            None => night["status"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// Moves a test tenant's clock to `to` (RFC 3339).
async fn advance_to(app: &TestApp, admin: &Account, to: &str) {
    let response = app
        .post_json(
            "/v1/t/acme/test-clock/advance",
            &json!({ "to": to }),
            Some(&admin.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "advance to {to}");
}

async fn json_of(response: Response, status: StatusCode) -> Value {
    let url = response.url().clone();
    let actual = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "{url}: {body}");
    body
}
