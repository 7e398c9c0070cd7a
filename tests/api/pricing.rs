//! Quotes through HTTP: line items from the listing and the tenant's fees, and the rules a
//! stay must meet.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime, Weekday};

use crate::helpers::{TestApp, assert_problem, spawn_app};

/// The next Monday at least two weeks away, so that weekend nights fall where the test expects.
fn monday(weeks_ahead: i64) -> time::Date {
    let mut day = OffsetDateTime::now_utc().date() + Duration::days(7 * weeks_ahead);
    while day.weekday() != Weekday::Monday {
        day = day.next_day().unwrap();
    }
    day
}

async fn quote(
    app: &TestApp,
    id: &str,
    check_in: time::Date,
    check_out: time::Date,
    guests: u32,
) -> reqwest::Response {
    app.post_json(
        &format!("/v1/t/acme/properties/{id}/quote"),
        &json!({ "check_in": check_in.to_string(), "check_out": check_out.to_string(), "guests": guests }),
        None,
    )
    .await
}

#[tokio::test]
async fn a_quote_itemises_the_stay_with_the_tenants_fees() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let response = app
        .client
        .patch(app.url("/v1/t/acme/settings"))
        .bearer_auth(&admin.access_token)
        .json(&json!({ "platform_fee_bps": 1000, "tax_bps": 500 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = json!({
        "name": "Loft", "description": "d",
        "location": { "address": "a", "city": "Paris", "country": "FR", "lat": 48.8, "lng": 2.3 },
        "nightly_price": { "amount": 10000, "currency": "EUR" },
        "weekend_price": { "amount": 15000, "currency": "EUR" },
        "cleaning_fee": { "amount": 5000, "currency": "EUR" },
        "weekly_discount_bps": 1000,
        "max_guests": 3, "min_nights": 2, "max_nights": 14, "status": "listed"
    });
    let property: Value = app
        .post_json("/v1/t/acme/properties", &body, Some(&host.access_token))
        .await
        .json()
        .await
        .unwrap();
    let id = property["id"].as_str().unwrap().to_owned();

    // Thursday to Sunday: one weeknight, then Friday and Saturday.
    let thursday = monday(2) + Duration::days(3);
    let response = quote(&app, &id, thursday, thursday + Duration::days(3), 2).await;
    assert_eq!(response.status(), StatusCode::OK);
    let quote_body: Value = response.json().await.unwrap();
    let lines: Vec<(String, i64)> = quote_body["line_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            (
                line["code"].as_str().unwrap().to_owned(),
                line["amount"]["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    // Subtotal 10000 + 30000 + 5000 = 45000: fee 10 % = 4500, taxes 5 % = 2250.
    assert_eq!(
        lines,
        [
            ("nights".to_owned(), 10_000),
            ("weekend_nights".to_owned(), 30_000),
            ("cleaning_fee".to_owned(), 5_000),
            ("platform_fee".to_owned(), 4_500),
            ("taxes".to_owned(), 2_250),
        ]
    );
    assert_eq!(
        quote_body["total"],
        json!({ "amount": 51750, "currency": "EUR" })
    );
    assert_eq!(quote_body["nights"], 3);

    // A week: the weekly discount applies to the nights.
    let week: Value = quote(&app, &id, monday(2), monday(2) + Duration::days(7), 2)
        .await
        .json()
        .await
        .unwrap();
    let discount = week["line_items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["code"] == "weekly_discount")
        .unwrap();
    assert_eq!(
        discount["amount"]["amount"], -8_000,
        "10 % of 5 × 10000 + 2 × 15000"
    );

    // The rules of a stay.
    let past = OffsetDateTime::now_utc().date() - Duration::days(2);
    let body = assert_problem(
        quote(&app, &id, past, past + Duration::days(3), 2).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "check_in");
    let body = assert_problem(
        quote(&app, &id, monday(2), monday(2) + Duration::days(1), 2).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        body["errors"][0]["field"], "check_out",
        "one night is under the minimum"
    );
    let body = assert_problem(
        quote(&app, &id, monday(2), monday(2) + Duration::days(3), 4).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "guests");

    let block = json!({ "start": (monday(2) + Duration::days(1)).to_string(), "end": (monday(2) + Duration::days(2)).to_string() });
    let response = app
        .post_json(
            &format!("/v1/t/acme/properties/{id}/blocked-dates"),
            &block,
            Some(&host.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_problem(
        quote(&app, &id, monday(2), monday(2) + Duration::days(3), 2).await,
        StatusCode::CONFLICT,
        "dates_unavailable",
    )
    .await;
}
