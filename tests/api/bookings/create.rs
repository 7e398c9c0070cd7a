//! Making a booking: its price and held nights, and the checks a stay must pass first.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Market, booked, count, market};
use crate::helpers::{Block, PropertyPatch, SettingsPatch, Stay, assert_problem, day};

#[tokio::test]
async fn an_instant_booking_holds_its_nights_at_the_quoted_price() {
    let Market {
        app,
        admin,
        guest,
        property,
        ..
    } = market().await;
    let fees = SettingsPatch {
        platform_fee_bps: Some(1000),
        tax_bps: Some(500),
        ..SettingsPatch::default()
    };
    app.set_settings(&admin, &fees).await;
    let quote: Value = app
        .quote(&property, &Stay::days(10, 13))
        .await
        .json()
        .await
        .unwrap();

    let booking = booked(&app, &guest, &property, (10, 13), "pending_payment").await;
    assert_eq!(booking["line_items"], quote["line_items"]);
    assert_eq!(booking["total"], quote["total"]);
    assert_eq!(booking["total"]["currency"], "EUR");
    assert_eq!(booking["nights"], 3);
    assert_eq!(booking["guest_id"], guest.id.as_str());
    assert_eq!(booking["property_name"], "Loft");
    assert_eq!(booking["cancellation_policy"], "moderate");
    assert!(booking["cancellation"].is_null());
    assert!(booking["expires_at"].is_string(), "an unpaid hold lapses");
    assert_eq!(booking["history"][0]["status"], "pending_payment");
    assert_eq!(booking["history"][0]["by"], "guest");

    // Its nights are booked everywhere availability is read.
    assert_eq!(
        app.nights(&property, 9, 14).await,
        ["available", "booked", "booked", "booked", "available"]
    );
    let search: Value = app
        .get(&format!(
            "/v1/t/acme/properties?check_in={}&check_out={}",
            day(12),
            day(15)
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(search["data"], json!([]), "the date filter skips it");
    let quote_again = app.quote(&property, &Stay::days(12, 15)).await;
    assert_problem(quote_again, StatusCode::CONFLICT, "dates_unavailable").await;
    let other_guest = app.register("acme", "other@example.com", false).await;
    assert_problem(
        app.bookings(&other_guest)
            .create(&Stay::days(12, 15).at(&property))
            .await,
        StatusCode::CONFLICT,
        "dates_unavailable",
    )
    .await;
    // Check-out is exclusive: the next stay may start on the day this one ends.
    booked(&app, &other_guest, &property, (13, 15), "pending_payment").await;

    let owned = app.properties(&admin).fetched(&property).await;
    let feed = app
        .get(owned["ical_export_url"].as_str().unwrap())
        .await
        .text()
        .await
        .unwrap();
    let compact = |offset| day(offset).replace('-', "");
    assert!(feed.contains(&format!("DTSTART;VALUE=DATE:{}", compact(10))));
    assert!(feed.contains(&format!("DTEND;VALUE=DATE:{}", compact(13))));

    let events = count(
        &app,
        "SELECT COUNT(*) FROM events WHERE kind = 'booking.created'",
    )
    .await;
    assert_eq!(events, 2);
    app.email_to("guest@example.com", "held for you for 15 minutes")
        .await;
    app.email_to("guest@example.com", "Complete your booking of Loft")
        .await;
}

#[tokio::test]
async fn stays_are_checked_before_they_are_booked() {
    let Market {
        app,
        admin,
        host,
        guest,
        property,
    } = market().await;
    let bookings = app.bookings(&guest);
    let listings = app.properties(&host);
    let problem = assert_problem(
        bookings.create(&Stay::days(-1, 2).at(&property)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "check_in");
    let too_many = Stay {
        guests: 9,
        ..Stay::days(3, 5)
    };
    let problem = assert_problem(
        bookings.create(&too_many.at(&property)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "guests");
    let problem = assert_problem(
        bookings.create(&Stay::days(5, 3).at(&property)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "check_out");
    let problem = assert_problem(
        app.bookings(&host)
            .create(&Stay::days(3, 5).at(&property))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "property_id");
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_problem(
        bookings.create(&Stay::days(3, 5).at(&unknown)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    listings
        .updated(&property, &PropertyPatch::status("unlisted"))
        .await;
    assert_problem(
        bookings.create(&Stay::days(3, 5).at(&property)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    listings
        .updated(&property, &PropertyPatch::status("listed"))
        .await;

    // Blocked nights cannot be booked, and booked nights cannot be blocked.
    let blocked = listings.block(&property, &Block::days(20, 22)).await;
    assert_eq!(blocked.status(), StatusCode::CREATED);
    assert_problem(
        bookings.create(&Stay::days(21, 23).at(&property)).await,
        StatusCode::CONFLICT,
        "dates_unavailable",
    )
    .await;
    booked(&app, &guest, &property, (3, 5), "pending_payment").await;
    let overlapping_block = listings.block(&property, &Block::days(4, 6)).await;
    assert_problem(overlapping_block, StatusCode::CONFLICT, "dates_booked").await;
    // A property with upcoming bookings stays until they are cancelled.
    let delete = app.properties(&admin).delete(&property).await;
    assert_problem(delete, StatusCode::CONFLICT, "property_has_bookings").await;
    let one_guest = Stay {
        guests: 1,
        ..Stay::days(8, 9)
    };
    assert_problem(
        app.post_json("/v1/t/acme/bookings", &one_guest.at(&property), None)
            .await,
        StatusCode::UNAUTHORIZED,
        "authentication_required",
    )
    .await;
}
