//! Each stay rule of a property through quotes, bookings, availability and search: a stay the
//! rules forbid is 409 with a code naming the rule.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::{Duration, Weekday, macros::date};

use super::{advance_to, found, json_of, listed_with, next, nights};
use crate::helpers::{Stay, assert_invalid, assert_problem, spawn_app};

#[tokio::test]
async fn check_in_and_check_out_days_and_the_booking_window_are_409_naming_the_rule() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let saturdays = listed_with(
        &app,
        &host,
        json!({
            "check_in_weekdays": ["sat"], "check_out_weekdays": ["sat", "sun"],
            "booking_window_days": 60
        }),
    )
    .await;
    let any_day = listed_with(&app, &host, json!({})).await;

    let saturday = next(Weekday::Saturday, 14);
    let week = (saturday, saturday + Duration::days(7));
    let quote = |(check_in, check_out): (time::Date, time::Date)| {
        let app = &app;
        let saturdays = &saturdays;
        async move {
            app.quote(saturdays, &Stay::new(check_in, check_out, 2))
                .await
        }
    };
    json_of(quote(week).await, StatusCode::OK).await;
    assert_problem(
        quote((week.0 + Duration::days(1), week.1)).await,
        StatusCode::CONFLICT,
        "check_in_day_not_allowed",
    )
    .await;
    assert_problem(
        quote((week.0, week.1 - Duration::days(1))).await,
        StatusCode::CONFLICT,
        "check_out_day_not_allowed",
    )
    .await;
    let far = next(Weekday::Saturday, 62);
    assert_problem(
        quote((far, far + Duration::days(7))).await,
        StatusCode::CONFLICT,
        "outside_booking_window",
    )
    .await;
    // Bookings meet the same rules.
    let sunday_arrival = Stay::new(week.0 + Duration::days(1), week.1, 2);
    assert_problem(
        app.bookings(&guest)
            .create(&sunday_arrival.at(&saturdays))
            .await,
        StatusCode::CONFLICT,
        "check_in_day_not_allowed",
    )
    .await;

    // Search finds only what the rules allow.
    assert!(found(&app, week).await.contains(&saturdays));
    let sunday_search = found(&app, (week.0 + Duration::days(1), week.1)).await;
    assert!(!sunday_search.contains(&saturdays));
    assert!(sunday_search.contains(&any_day));
    assert!(
        !found(&app, (far, far + Duration::days(7)))
            .await
            .contains(&saturdays)
    );

    // Nights past the window say so.
    let today = time::OffsetDateTime::now_utc().date();
    let edge = nights(
        &app,
        &saturdays,
        (today + Duration::days(60), today + Duration::days(62)),
    )
    .await;
    assert_eq!(edge, ["available", "unavailable:outside_window"]);

    // `null` returns to the marketplace's window (730 days).
    let owner = app.properties(&host);
    let changed = owner
        .updated(&saturdays, &json!({ "booking_window_days": null }))
        .await;
    assert_eq!(changed["booking_window_days"], Value::Null);
    json_of(quote((far, far + Duration::days(7))).await, StatusCode::OK).await;
    let booked = app
        .bookings(&guest)
        .created(&Stay::new(week.0, week.1, 2).at(&saturdays))
        .await;
    assert_eq!(booked["status"], "pending_payment");
}

#[tokio::test]
async fn rules_are_checked_as_they_are_set() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let property = listed_with(&app, &host, json!({})).await;
    let fetched = app.properties(&host).fetched(&property).await;
    for (field, default) in [
        ("timezone", Value::Null),
        ("advance_notice_hours", json!(0)),
        ("preparation_nights", json!(0)),
        (
            "check_in_weekdays",
            json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
        ),
        ("booking_window_days", Value::Null),
        ("check_in_time", json!("15:00")),
        ("check_out_time", json!("11:00")),
        ("included_guests", Value::Null),
        ("extra_guest_fee", json!({ "amount": 0, "currency": "EUR" })),
    ] {
        assert_eq!(fetched[field], default, "{field}");
    }
    assert!(fetched.get("booking_mode").is_none(), "the marketplace's");
    let owner = app.properties(&host);
    for (patch, field) in [
        (json!({ "check_in_weekdays": [] }), "check_in_weekdays"),
        (
            json!({ "check_out_weekdays": ["funday"] }),
            "check_out_weekdays[0]",
        ),
        (json!({ "check_in_time": "25:00" }), "check_in_time"),
        (json!({ "check_out_time": "9am" }), "check_out_time"),
        (json!({ "timezone": "Mars/Olympus" }), "timezone"),
        (
            json!({ "advance_notice_hours": 721 }),
            "advance_notice_hours",
        ),
        (json!({ "preparation_nights": 31 }), "preparation_nights"),
        (json!({ "booking_window_days": 0 }), "booking_window_days"),
        (json!({ "included_guests": 5 }), "included_guests"),
        (
            json!({ "extra_guest_fee": { "amount": 100, "currency": "USD" } }),
            "extra_guest_fee.currency",
        ),
        (json!({ "booking_mode": "auction" }), "booking_mode"),
    ] {
        assert_invalid(owner.update(&property, &patch).await, field).await;
    }
    let changed = owner
        .updated(
            &property,
            &json!({
                "timezone": "Europe/Lisbon", "check_in_weekdays": ["sun", "fri"],
                "check_in_time": "16:30", "booking_mode": "request"
            }),
        )
        .await;
    assert_eq!(changed["timezone"], "Europe/Lisbon");
    assert_eq!(changed["check_in_weekdays"], json!(["fri", "sun"]));
    assert_eq!(changed["check_in_time"], "16:30");
    assert_eq!(changed["booking_mode"], "request");
    // Fields left out keep their values; `null` returns to the marketplace's.
    let again = owner.updated(&property, &json!({ "timezone": null })).await;
    assert_eq!(again["timezone"], Value::Null);
    assert_eq!(again["booking_mode"], "request");
}

#[tokio::test]
async fn preparation_nights_keep_stays_apart_everywhere() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let property = listed_with(&app, &host, json!({ "preparation_nights": 2 })).await;
    let today = time::OffsetDateTime::now_utc().date();
    let day = |offset: i64| today + Duration::days(offset);
    app.bookings(&guest)
        .created(&Stay::new(day(30), day(33), 2).at(&property))
        .await;

    for (check_in, check_out, code) in [
        (33, 35, Some("preparation_conflict")),
        (27, 29, Some("preparation_conflict")),
        (31, 32, Some("dates_unavailable")),
        (35, 37, None),
        (26, 28, None),
    ] {
        let stay = Stay::new(day(check_in), day(check_out), 2);
        let response = app.quote(&property, &stay).await;
        match code {
            Some(code) => {
                assert_problem(response, StatusCode::CONFLICT, code).await;
            }
            None => {
                json_of(response, StatusCode::OK).await;
            }
        }
        let listed = found(&app, (day(check_in), day(check_out))).await;
        assert_eq!(listed.contains(&property), code.is_none(), "{check_in}");
    }
    assert_problem(
        app.bookings(&guest)
            .create(&Stay::new(day(33), day(35), 2).at(&property))
            .await,
        StatusCode::CONFLICT,
        "preparation_conflict",
    )
    .await;
    assert_eq!(
        nights(&app, &property, (day(27), day(36))).await,
        [
            "available",
            "unavailable:preparation",
            "unavailable:preparation",
            "booked",
            "booked",
            "booked",
            "unavailable:preparation",
            "unavailable:preparation",
            "available",
        ]
    );

    // The export shows the preparation nights beside the stay.
    let owner_view = app.properties(&host).fetched(&property).await;
    let feed = app
        .get(owner_view["ical_export_url"].as_str().unwrap())
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(feed.matches("BEGIN:VEVENT").count(), 3, "{feed}");
    let compact = |date: time::Date| date.to_string().replace('-', "");
    for start in [day(28), day(30), day(33)] {
        assert!(
            feed.contains(&format!("DTSTART;VALUE=DATE:{}", compact(start))),
            "{feed}"
        );
    }
}

#[tokio::test]
async fn advance_notice_counts_to_the_local_check_in_time_across_a_dst_change() {
    let app = spawn_app().await;
    app.create_test_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let property = listed_with(
        &app,
        &host,
        json!({ "timezone": "Europe/Paris", "advance_notice_hours": 24 }),
    )
    .await;
    // Paris moves to summer time on 2027-03-28: check-in at 15:00 that day is 13:00 UTC.
    let arrival = date!(2027 - 03 - 28);
    let stay = Stay::new(arrival, arrival + Duration::days(2), 2);
    advance_to(&app, &admin, "2027-03-27T12:59:00Z").await;
    json_of(app.quote(&property, &stay).await, StatusCode::OK).await;
    assert!(
        found(&app, (arrival, arrival + Duration::days(2)))
            .await
            .contains(&property)
    );
    assert_eq!(
        nights(&app, &property, (arrival, arrival + Duration::days(1))).await,
        ["available"]
    );

    // 23.5 hours before the check-in time (it would be 24.5 in winter time).
    advance_to(&app, &admin, "2027-03-27T13:30:00Z").await;
    let problem = assert_problem(
        app.quote(&property, &stay).await,
        StatusCode::CONFLICT,
        "advance_notice",
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("24 hours"));
    assert_problem(
        app.bookings(&guest)
            .create(&stay.clone().at(&property))
            .await,
        StatusCode::CONFLICT,
        "advance_notice",
    )
    .await;
    assert!(
        !found(&app, (arrival, arrival + Duration::days(2)))
            .await
            .contains(&property)
    );
    assert_eq!(
        nights(&app, &property, (arrival, arrival + Duration::days(2))).await,
        ["unavailable:advance_notice", "available"]
    );
    let next_day = Stay::new(arrival + Duration::days(1), arrival + Duration::days(3), 2);
    app.bookings(&guest).created(&next_day.at(&property)).await;
}
