//! One guest cannot hold a marketplace's calendars: unpaid bookings per guest, stay length and
//! how far ahead a stay may start are capped by tenant settings.

use reqwest::StatusCode;

use super::{booked, listed_property, market};
use crate::helpers::{SettingsPatch, Stay, assert_problem};

#[tokio::test]
async fn a_guest_holds_at_most_the_allowed_unpaid_bookings() {
    let market = market().await;
    let (app, guest) = (&market.app, &market.guest);
    let other_property = listed_property(app, &market.host, "Cabin").await;
    // The default is 3; each holds nights of one of the two listings.
    let first = booked(app, guest, &market.property, (5, 7), "pending_payment").await;
    booked(app, guest, &market.property, (10, 12), "pending_payment").await;
    booked(app, guest, &other_property, (5, 7), "pending_payment").await;
    let refused = assert_problem(
        app.bookings(guest)
            .create(&Stay::days(20, 22).at(&other_property))
            .await,
        StatusCode::CONFLICT,
        "too_many_unpaid_bookings",
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("at most 3"),
        "{refused}"
    );
    // Another guest is not held back by this one.
    let other = app.register("acme", "other@example.com", false).await;
    booked(app, &other, &other_property, (20, 22), "pending_payment").await;
    // Cancelling one frees a place; the tenant can raise the cap.
    app.bookings(guest).cancelled(&first["id"]).await;
    booked(app, guest, &other_property, (30, 32), "pending_payment").await;
    assert_problem(
        app.bookings(guest)
            .create(&Stay::days(40, 42).at(&other_property))
            .await,
        StatusCode::CONFLICT,
        "too_many_unpaid_bookings",
    )
    .await;
    let raised = SettingsPatch {
        max_unpaid_bookings: Some(4),
        ..SettingsPatch::default()
    };
    app.set_settings(&market.admin, &raised).await;
    booked(app, guest, &other_property, (40, 42), "pending_payment").await;
}

#[tokio::test]
async fn concurrent_bookings_of_one_guest_stay_within_the_cap() {
    let market = market().await;
    let (app, guest) = (&market.app, &market.guest);
    let mut properties = vec![market.property.clone()];
    for name in ["Cabin", "Barn", "Mill", "Tower", "Lodge"] {
        properties.push(listed_property(app, &market.host, name).await);
    }
    let replica = app.replica().await;
    let requests = properties.iter().enumerate().map(|(n, property)| {
        let client = app.bookings(guest);
        let client = if n % 2 == 0 {
            client
        } else {
            client.via(&replica)
        };
        async move { client.create(&Stay::days(5, 7).at(property)).await.status() }
    });
    let statuses = futures_util::future::join_all(requests).await;
    let created = statuses
        .iter()
        .filter(|status| **status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 3, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|status| [StatusCode::CREATED, StatusCode::CONFLICT].contains(status)),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn stays_are_capped_in_length_and_in_how_far_ahead_they_start() {
    let market = market().await;
    let (app, guest) = (&market.app, &market.guest);
    let caps = SettingsPatch {
        max_stay_nights: Some(5),
        booking_window_days: Some(60),
        ..SettingsPatch::default()
    };
    app.set_settings(&market.admin, &caps).await;
    // The listing allows 30 nights; the marketplace 5.
    for refused in [
        app.quote(&market.property, &Stay::days(10, 16)).await,
        app.bookings(guest)
            .create(&Stay::days(10, 16).at(&market.property))
            .await,
    ] {
        let problem = assert_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "check_out", "{problem}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("1 to 5 nights"),
            "{problem}"
        );
    }
    for too_far in [
        app.quote(&market.property, &Stay::days(61, 63)).await,
        app.bookings(guest)
            .create(&Stay::days(61, 63).at(&market.property))
            .await,
        // The year 9999 is a date, but no stay starts there.
        app.bookings(guest)
            .create(&Stay::new("9999-12-01", "9999-12-03", 2).at(&market.property))
            .await,
    ] {
        assert_problem(too_far, StatusCode::CONFLICT, "outside_booking_window").await;
    }
    booked(app, guest, &market.property, (55, 60), "pending_payment").await;
}
