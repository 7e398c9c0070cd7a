//! Moves between states: hosts accept or decline requests, guests cancel them, and a move
//! that is not allowed names the state the booking is in.

use reqwest::StatusCode;

use super::{Market, booked, listed_property, market};
use crate::helpers::{SettingsPatch, assert_problem};

#[tokio::test]
async fn hosts_answer_requests_and_illegal_moves_name_the_current_state() {
    let Market {
        app,
        admin,
        host,
        guest,
        property,
    } = market().await;
    let on_request = SettingsPatch {
        booking_mode: Some("request"),
        payment_collection: Some("at_property"),
        ..SettingsPatch::default()
    };
    app.set_settings(&admin, &on_request).await;
    let (guests, hosts) = (app.bookings(&guest), app.bookings(&host));
    let request = booked(&app, &guest, &property, (5, 8), "requested").await;
    let id = &request["id"];
    assert!(
        request["expires_at"].is_string(),
        "an unanswered request lapses"
    );
    app.email_to("host@example.com", "New booking request for Loft")
        .await;
    app.email_to("host@example.com", "Accept or decline within 24 hours")
        .await;
    app.email_to("guest@example.com", "Your request for Loft was sent")
        .await;
    assert_eq!(
        app.nights(&property, 5, 6).await,
        ["booked"],
        "a request holds its nights"
    );

    let refused = guests.accept(id).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let stranger = app.register("acme", "stranger@example.com", true).await;
    assert_problem(
        app.bookings(&stranger).accept(id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let accepted = hosts.accepted(id).await;
    assert_eq!(accepted["status"], "confirmed");
    assert!(accepted["expires_at"].is_null());
    let statuses: Vec<&str> = accepted["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["requested", "confirmed"]);
    assert_eq!(accepted["history"][1]["by"], "host");
    assert_eq!(accepted["history"][1]["user_id"], host.id.as_str());
    app.email_to("guest@example.com", "Your booking of Loft is confirmed")
        .await;
    app.email_to("host@example.com", "New booking for Loft")
        .await;

    for again in [hosts.accept(id).await, hosts.decline(id).await] {
        let problem = assert_problem(again, StatusCode::CONFLICT, "invalid_transition").await;
        assert_eq!(problem["current_status"], "confirmed");
    }

    let second = booked(&app, &guest, &property, (10, 12), "requested").await;
    let declined = app.bookings(&admin).declined(&second["id"]).await;
    assert_eq!(declined["status"], "declined");
    assert_eq!(declined["history"][1]["by"], "admin");
    assert_eq!(
        app.nights(&property, 10, 12).await,
        ["available", "available"],
        "a declined request frees its nights"
    );
    app.email_to("guest@example.com", "declined your request")
        .await;
    let problem = assert_problem(
        guests.cancel(&second["id"]).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    assert_eq!(problem["current_status"], "declined");
    assert_problem(
        guests.accept(&second["id"]).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Cancelling a request releases its nights too.
    let third = booked(&app, &guest, &property, (10, 12), "requested").await;
    let cancelled = guests.cancelled(&third["id"]).await;
    assert_eq!(cancelled["status"], "cancelled");
    // A tenant admin's own listing (admins list without the host role): they answer as its host.
    let admins = listed_property(&app, &admin, "Admin's").await;
    let request = booked(&app, &guest, &admins, (10, 12), "requested").await;
    let answered = app.bookings(&admin).accepted(&request["id"]).await;
    assert_eq!(answered["history"][1]["by"], "host");
    let hosted = app.bookings(&admin).page("role=host").await;
    assert_eq!(hosted["data"][0]["id"], request["id"]);
    assert_eq!(
        cancelled["cancellation"]["refund"]["amount"], 0,
        "nothing was charged"
    );
}
