//! Quotes through HTTP: line items from the listing and the tenant's fees, and the rules a
//! stay must meet.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime, Weekday};

use crate::helpers::{
    Block, Location, NewProperty, SettingsPatch, Stay, assert_problem, eur, line_amounts, spawn_app,
};

/// The next Monday at least two weeks away, so that weekend nights fall where the test expects.
fn monday(weeks_ahead: i64) -> time::Date {
    let mut day = OffsetDateTime::now_utc().date() + Duration::days(7 * weeks_ahead);
    while day.weekday() != Weekday::Monday {
        day = day.next_day().unwrap();
    }
    day
}

const PARIS: Location = Location {
    address: "a",
    city: "Paris",
    country: "FR",
    lat: 48.8,
    lng: 2.3,
};

#[tokio::test]
async fn a_quote_itemises_the_stay_with_the_tenants_fees() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let fees = SettingsPatch {
        platform_fee_bps: Some(1000),
        tax_bps: Some(500),
        ..SettingsPatch::default()
    };
    app.set_settings(&admin, &fees).await;
    let loft = NewProperty {
        name: "Loft",
        description: "d",
        location: PARIS,
        nightly_price: eur(10_000),
        weekend_price: Some(eur(15_000)),
        cleaning_fee: Some(eur(5_000)),
        weekly_discount_bps: Some(1000),
        max_guests: 3,
        min_nights: Some(2),
        max_nights: Some(14),
        status: Some("listed"),
        ..NewProperty::default()
    };
    let property = app.properties(&host).created(&loft).await;
    let id = property["id"].as_str().unwrap().to_owned();

    // Thursday to Sunday: one weeknight, then Friday and Saturday.
    let thursday = monday(2) + Duration::days(3);
    let response = app
        .quote(&id, &Stay::new(thursday, thursday + Duration::days(3), 2))
        .await;
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
    let week: Value = app
        .quote(&id, &Stay::new(monday(2), monday(2) + Duration::days(7), 2))
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
        app.quote(&id, &Stay::new(past, past + Duration::days(3), 2))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "check_in");
    let body = assert_problem(
        app.quote(&id, &Stay::new(monday(2), monday(2) + Duration::days(1), 2))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        body["errors"][0]["field"], "check_out",
        "one night is under the minimum"
    );
    let body = assert_problem(
        app.quote(&id, &Stay::new(monday(2), monday(2) + Duration::days(3), 4))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "guests");

    let block = Block::new(monday(2) + Duration::days(1), monday(2) + Duration::days(2));
    let response = app.properties(&host).block(&id, &block).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_problem(
        app.quote(&id, &Stay::new(monday(2), monday(2) + Duration::days(3), 2))
            .await,
        StatusCode::CONFLICT,
        "dates_unavailable",
    )
    .await;
}

#[tokio::test]
async fn quotes_round_half_to_even_and_take_one_length_of_stay_discount() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let fees = SettingsPatch {
        platform_fee_bps: Some(5000),
        tax_bps: Some(5000),
        ..SettingsPatch::default()
    };
    app.set_settings(&admin, &fees).await;
    let odd = NewProperty {
        name: "Odd",
        description: "d",
        location: PARIS,
        nightly_price: eur(10_001),
        weekly_discount_bps: Some(1000),
        monthly_discount_bps: Some(1500),
        max_guests: 2,
        min_nights: Some(1),
        max_nights: Some(60),
        status: Some("listed"),
        ..NewProperty::default()
    };
    let property = app.properties(&host).created(&odd).await;
    let id = property["id"].as_str().unwrap().to_owned();
    let lines = line_amounts;

    // One weeknight of 100.01: half of it is 50.005, which rounds to the even 50.00.
    let one: Value = app
        .quote(&id, &Stay::new(monday(2), monday(2) + Duration::days(1), 1))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        lines(&one),
        [
            ("nights".to_owned(), 10_001),
            ("platform_fee".to_owned(), 5_000),
            ("taxes".to_owned(), 5_000),
        ]
    );
    assert_eq!(one["total"]["amount"], 20_001);

    // 28 nights take the monthly discount only: 15 % of 280 028 is 42 004.2 -> 42 004.
    let month: Value = app
        .quote(
            &id,
            &Stay::new(monday(2), monday(2) + Duration::days(28), 1),
        )
        .await
        .json()
        .await
        .unwrap();
    let month_lines = lines(&month);
    assert_eq!(month_lines[0], ("nights".to_owned(), 280_028));
    assert_eq!(month_lines[1], ("monthly_discount".to_owned(), -42_004));
    assert!(
        month_lines
            .iter()
            .all(|(code, _)| code != "weekly_discount"),
        "{month_lines:?}"
    );
    // Subtotal 238 024: half is 119 012 exactly, for the fee and for the taxes.
    assert_eq!(month_lines[2], ("platform_fee".to_owned(), 119_012));
    assert_eq!(month_lines[3], ("taxes".to_owned(), 119_012));
    let sum: i64 = month_lines.iter().map(|(_, amount)| amount).sum();
    assert_eq!(month["total"]["amount"], sum);
}
