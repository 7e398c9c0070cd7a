//! Per-date prices, seasons and the extra-guest fee: the precedence of prices night by night,
//! to the cent, through quotes and bookings; who manages them, and how bad input is answered.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::{Duration, Weekday};

use super::{found, json_of, lines, listed_with, next};
use crate::helpers::{
    Account, SettingsPatch, Stay, TestApp, assert_invalid, assert_problem, spawn_app,
};

async fn call(
    app: &TestApp,
    who: &Account,
    (method, path): (Method, &str),
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(&format!("/v1/t/acme/properties/{path}")))
        .bearer_auth(&who.access_token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

fn eur(amount: i64) -> Value {
    json!({ "amount": amount, "currency": "EUR" })
}

#[tokio::test]
async fn each_night_takes_its_own_price_then_its_season_then_the_weekend_price_to_the_cent() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    app.set_settings(
        &admin,
        &SettingsPatch {
            platform_fee_bps: Some(1000),
            ..SettingsPatch::default()
        },
    )
    .await;
    let property = listed_with(
        &app,
        &host,
        json!({
            "weekend_price": eur(15_000), "cleaning_fee": eur(2_500),
            "weekly_discount_bps": 1000, "included_guests": 2, "extra_guest_fee": eur(1_250)
        }),
    )
    .await;
    let monday = next(Weekday::Monday, 21);
    let (wednesday, friday) = (monday + Duration::days(2), monday + Duration::days(4));
    let season = json_of(
        call(
            &app,
            &host,
            (Method::POST, &format!("{property}/seasons")),
            Some(json!({
                "start": wednesday.to_string(), "end": (friday + Duration::days(1)).to_string(),
                "nightly_price": eur(12_345), "min_nights": 3
            })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(season["min_nights"], 3);
    let prices = json_of(
        call(
            &app,
            &host,
            (Method::PUT, &format!("{property}/prices")),
            Some(json!({ "dates": [{ "date": friday.to_string(), "price": eur(20_001) }] })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        prices["data"],
        json!([{ "date": friday.to_string(), "price": eur(20_001) }])
    );

    // Mon, Tue, Sun at the nightly price; Wed, Thu in the season; Fri at its own price (over
    // the season and the weekend price); Sat at the weekend price. 89691 before the 10 %
    // weekly discount (8969.1 -> 8969); 2 extra guests × 7 nights × 1250 = 17500; cleaning
    // 2500; subtotal 100722, service fee 10 % = 10072.2 -> 10072.
    let week = Stay::new(monday, monday + Duration::days(7), 4);
    let quote = json_of(app.quote(&property, &week).await, StatusCode::OK).await;
    let expected = [
        ("nights", 30_000),
        ("weekend_nights", 15_000),
        ("season_nights", 24_690),
        ("date_price_nights", 20_001),
        ("weekly_discount", -8_969),
        ("extra_guest_fee", 17_500),
        ("cleaning_fee", 2_500),
        ("platform_fee", 10_072),
    ]
    .map(|(code, amount)| (code.to_owned(), amount));
    assert_eq!(lines(&quote), expected);
    assert_eq!(quote["total"], eur(110_794));
    assert_eq!(
        quote["line_items"][3]["label"],
        "1 night at its own price × 20001"
    );
    let booking = app
        .bookings(&guest)
        .created(&week.clone().at(&property))
        .await;
    assert_eq!(lines(&booking), expected);
    assert_eq!(booking["total"], eur(110_794));

    // A stay starting in the season meets its minimum (422 like any stay length), in search too.
    let short = Stay::new(wednesday + Duration::days(7), friday + Duration::days(7), 2);
    let later_season = json!({
        "start": (wednesday + Duration::days(7)).to_string(),
        "end": (friday + Duration::days(8)).to_string(),
        "nightly_price": eur(12_345), "min_nights": 3
    });
    json_of(
        call(
            &app,
            &host,
            (Method::POST, &format!("{property}/seasons")),
            Some(later_season),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_invalid(app.quote(&property, &short).await, "check_out").await;
    let short_dates = (wednesday + Duration::days(7), friday + Duration::days(7));
    assert!(!found(&app, short_dates).await.contains(&property));
    let before_season = (monday + Duration::days(7), wednesday + Duration::days(7));
    assert!(found(&app, before_season).await.contains(&property));

    // `null` removes the night's own price.
    let removed = json_of(
        call(
            &app,
            &host,
            (Method::PUT, &format!("{property}/prices")),
            Some(json!({ "dates": [{ "date": friday.to_string(), "price": null }] })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(removed["data"], json!([]));
    let two_guests = Stay::new(monday + Duration::days(14), monday + Duration::days(15), 2);
    let plain = json_of(app.quote(&property, &two_guests).await, StatusCode::OK).await;
    assert_eq!(
        lines(&plain),
        [
            ("nights".to_owned(), 10_000),
            ("cleaning_fee".to_owned(), 2_500),
            ("platform_fee".to_owned(), 1_250),
        ],
        "no extra-guest fee for the included guests"
    );
}

#[tokio::test]
async fn owners_manage_prices_and_seasons_and_bad_input_is_named() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let other_host = app.register("acme", "other@example.com", true).await;
    let property = listed_with(&app, &host, json!({})).await;
    let today = time::OffsetDateTime::now_utc().date();
    let day = |offset: i64| (today + Duration::days(offset)).to_string();
    let prices = format!("{property}/prices");
    let seasons = format!("{property}/seasons");

    for (body, field) in [
        (
            json!({ "dates": [{ "date": day(-1), "price": eur(100) }] }),
            "dates[0].date",
        ),
        (
            json!({ "dates": [{ "date": day(3), "price": { "amount": 100, "currency": "USD" } }] }),
            "dates[0].price.currency",
        ),
        (
            json!({ "dates": [{ "date": day(3), "price": eur(0) }] }),
            "dates[0].price.amount",
        ),
        (
            json!({ "dates": [{ "date": day(3) }, { "date": day(3) }] }),
            "dates[1].date",
        ),
        (json!({ "dates": [{ "date": "soon" }] }), "dates[0].date"),
    ] {
        assert_invalid(
            call(&app, &host, (Method::PUT, &prices), Some(body)).await,
            field,
        )
        .await;
    }
    for (body, field) in [
        (
            json!({ "start": day(10), "end": day(10), "nightly_price": eur(100) }),
            "end",
        ),
        (
            json!({ "start": day(10), "end": day(12), "nightly_price": eur(-1) }),
            "nightly_price.amount",
        ),
        (
            json!({ "start": day(10), "end": day(12), "nightly_price": eur(100), "min_nights": 0 }),
            "min_nights",
        ),
    ] {
        assert_invalid(
            call(&app, &host, (Method::POST, &seasons), Some(body)).await,
            field,
        )
        .await;
    }

    let summer = json!({ "start": day(10), "end": day(20), "nightly_price": eur(15_000) });
    let created = json_of(
        call(&app, &host, (Method::POST, &seasons), Some(summer)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["min_nights"], Value::Null);
    let overlapping = json!({ "start": day(19), "end": day(25), "nightly_price": eur(9_000) });
    assert_problem(
        call(&app, &host, (Method::POST, &seasons), Some(overlapping)).await,
        StatusCode::CONFLICT,
        "season_overlap",
    )
    .await;
    // Touching is not overlapping.
    let next_season = json!({ "start": day(20), "end": day(25), "nightly_price": eur(9_000) });
    json_of(
        call(&app, &host, (Method::POST, &seasons), Some(next_season)).await,
        StatusCode::CREATED,
    )
    .await;
    let listed = json_of(
        call(&app, &host, (Method::GET, &seasons), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert_eq!(listed["data"][0]["id"], created["id"]);

    // Only the owner (or an admin) manages them; another host is refused, a guest too.
    for who in [&guest, &other_host] {
        assert_problem(
            call(&app, who, (Method::GET, &seasons), None).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_problem(
            call(
                &app,
                who,
                (Method::PUT, &prices),
                Some(json!({ "dates": [] })),
            )
            .await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    // Another tenant's host finds no such property.
    let stranger = app.register("other", "stranger@example.com", true).await;
    let response = app
        .client
        .get(app.url(&format!("/v1/t/other/properties/{seasons}")))
        .bearer_auth(&stranger.access_token)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;

    let season = format!("{seasons}/{}", created["id"].as_str().unwrap());
    let changed = json_of(
        call(
            &app,
            &host,
            (Method::PATCH, &season),
            Some(json!({ "nightly_price": eur(16_000), "min_nights": 2 })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["nightly_price"], eur(16_000));
    assert_eq!(changed["min_nights"], 2);
    assert_eq!(changed["start"], day(10));
    let cleared = json_of(
        call(
            &app,
            &host,
            (Method::PATCH, &season),
            Some(json!({ "min_nights": null })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["min_nights"], Value::Null);
    assert_eq!(cleared["nightly_price"], eur(16_000));
    assert_problem(
        call(
            &app,
            &host,
            (Method::PATCH, &season),
            Some(json!({ "end": day(21) })),
        )
        .await,
        StatusCode::CONFLICT,
        "season_overlap",
    )
    .await;
    for (body, field) in [
        (json!({ "start": "someday" }), "start"),
        (json!({ "end": day(9) }), "end"),
    ] {
        assert_invalid(
            call(&app, &host, (Method::PATCH, &season), Some(body)).await,
            field,
        )
        .await;
    }
    assert_problem(
        call(
            &app,
            &other_host,
            (Method::PATCH, &season),
            Some(json!({ "min_nights": 1 })),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        call(
            &app,
            &host,
            (
                Method::PATCH,
                &format!("{seasons}/{}", uuid::Uuid::now_v7()),
            ),
            Some(json!({ "min_nights": 1 })),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        call(&app, &host, (Method::DELETE, &season), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        call(&app, &host, (Method::DELETE, &season), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Its nights are free for another season now.
    let within = json!({ "start": day(12), "end": day(15), "nightly_price": eur(9_000) });
    json_of(
        call(&app, &host, (Method::POST, &seasons), Some(within)).await,
        StatusCode::CREATED,
    )
    .await;
}
