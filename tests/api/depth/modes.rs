//! A property's own booking mode, the marketplace's verified-email requirement, and replayed
//! problem answers.

use reqwest::StatusCode;
use serde_json::json;

use super::listed_with;
use crate::helpers::{Stay, assert_problem, spawn_app, token_in_email};

#[tokio::test]
async fn a_property_may_take_requests_in_an_instant_marketplace_and_go_back() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let property = listed_with(&app, &host, json!({ "booking_mode": "request" })).await;
    let requested = app
        .bookings(&guest)
        .created(&Stay::days(20, 22).at(&property))
        .await;
    assert_eq!(requested["status"], "requested");
    assert!(requested["expires_at"].is_string());

    app.properties(&host)
        .updated(&property, &json!({ "booking_mode": null }))
        .await;
    let instant = app
        .bookings(&guest)
        .created(&Stay::days(24, 26).at(&property))
        .await;
    assert_eq!(instant["status"], "pending_payment");
}

#[tokio::test]
async fn a_marketplace_may_require_a_verified_email_before_booking() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let property = listed_with(&app, &host, json!({})).await;
    // Off by default: an unverified guest books.
    app.bookings(&guest)
        .created(&Stay::days(10, 12).at(&property))
        .await;

    let response = app
        .client
        .patch(app.url("/v1/t/acme/settings"))
        .bearer_auth(&admin.access_token)
        .json(&json!({ "require_verified_email": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let settings: serde_json::Value = response.json().await.unwrap();
    assert_eq!(settings["require_verified_email"], true);

    let stay = Stay::days(14, 16).at(&property);
    assert_problem(
        app.bookings(&guest).create(&stay).await,
        StatusCode::FORBIDDEN,
        "email_not_verified",
    )
    .await;
    let email = app
        .email_to("guest@example.com", "Subject: Confirm your email address")
        .await;
    let verified = app
        .post_json(
            "/v1/t/acme/auth/verify-email",
            &json!({ "token": token_in_email(&email) }),
            None,
        )
        .await;
    assert_eq!(verified.status(), StatusCode::NO_CONTENT);
    app.bookings(&guest).created(&stay).await;
}

#[tokio::test]
async fn a_replayed_problem_says_it_is_replayed() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let property = listed_with(&app, &host, json!({ "preparation_nights": 1 })).await;
    app.bookings(&guest)
        .created(&Stay::days(20, 22).at(&property))
        .await;
    let next_to_it = Stay::days(22, 24).at(&property);
    let first = app
        .bookings(&guest)
        .create_with_key("retry-me", &next_to_it)
        .await;
    assert!(!first.headers().contains_key("idempotent-replayed"));
    assert_problem(first, StatusCode::CONFLICT, "preparation_conflict").await;
    let again = app
        .bookings(&guest)
        .create_with_key("retry-me", &next_to_it)
        .await;
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|value| value.to_str().ok()),
        Some("true")
    );
    assert_problem(again, StatusCode::CONFLICT, "preparation_conflict").await;

    let missing = Stay::days(30, 32).at("0193a2b0-0000-7000-8000-000000000000");
    for replayed in [false, true] {
        let response = app
            .bookings(&guest)
            .create_with_key("missing-property", &missing)
            .await;
        assert_eq!(
            response.headers().contains_key("idempotent-replayed"),
            replayed
        );
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
}
