//! Test tenants' clocks: they start at the tenant's creation, stand still, move forward only
//! when an admin advances them, and advancing runs what fell due (expiry, completion) before
//! answering. Live tenants have none; test tenants pay with the simulated provider only.

use reqwest::StatusCode;
use serde_json::{Value, json};
use staybase::{config::Secret, db::Timestamp};
use time::{Duration, OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{
    admin::admin_token,
    bookings::listed_property,
    cli::staybase_with_env,
    helpers::{
        Account, SettingsPatch, Stay, TestApp, assert_invalid, assert_problem, spawn_app,
        spawn_app_with,
    },
    secrets::KEY_A,
};

async fn clock(app: &TestApp, admin: &Account) -> reqwest::Response {
    app.get_with("/v1/t/acme/test-clock", &admin.access_token)
        .await
}

async fn advance(app: &TestApp, admin: &Account, body: Value) -> reqwest::Response {
    app.post_json(
        "/v1/t/acme/test-clock/advance",
        &body,
        Some(&admin.access_token),
    )
    .await
}

/// The `now` of a clock answer.
async fn now_of(response: reqwest::Response) -> OffsetDateTime {
    assert_eq!(response.status(), StatusCode::OK, "{}", response.url());
    let body: Value = response.json().await.unwrap();
    OffsetDateTime::parse(body["now"].as_str().unwrap(), &Rfc3339).unwrap()
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

/// A test tenant `acme` with its admin, a guest, and a host's listed property.
pub(crate) async fn test_market() -> (TestApp, Account, Account, String) {
    let app = spawn_app().await;
    app.create_test_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let property = listed_property(&app, &host, "Loft").await;
    (app, admin, guest, property)
}

#[tokio::test]
async fn a_test_clock_starts_at_creation_stands_still_and_moves_forward_only() {
    let app = spawn_app().await;
    let tenant = app.create_test_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let created = tenant.created_at.get();

    assert_eq!(now_of(clock(&app, &admin).await).await, created);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(
        now_of(clock(&app, &admin).await).await,
        created,
        "stands still"
    );

    let moved = now_of(advance(&app, &admin, json!({ "hours": 2 })).await).await;
    assert_eq!(moved, created + Duration::hours(2));
    assert_eq!(now_of(clock(&app, &admin).await).await, moved);

    let to = created + Duration::hours(5);
    let moved = now_of(advance(&app, &admin, json!({ "to": rfc3339(to) })).await).await;
    assert_eq!(moved, to);

    for (body, field) in [
        (json!({ "to": rfc3339(created + Duration::hours(1)) }), "to"),
        (json!({}), "to"),
        (json!({ "to": rfc3339(to), "hours": 1 }), "hours"),
        (json!({ "hours": 0 }), "hours"),
    ] {
        assert_invalid(advance(&app, &admin, body).await, field).await;
    }
    assert_eq!(
        now_of(clock(&app, &admin).await).await,
        to,
        "never moved back"
    );

    let guest = app.register("acme", "guest@example.com", false).await;
    assert_problem(
        clock(&app, &guest).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        advance(&app, &guest, json!({ "hours": 1 })).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn live_tenants_have_no_test_clock() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    assert_problem(
        clock(&app, &admin).await,
        StatusCode::CONFLICT,
        "not_a_test_tenant",
    )
    .await;
    assert_problem(
        advance(&app, &admin, json!({ "hours": 1 })).await,
        StatusCode::CONFLICT,
        "not_a_test_tenant",
    )
    .await;
}

#[tokio::test]
async fn advancing_runs_hold_and_request_expiry_and_completion_before_answering() {
    let (app, admin, guest, property) = test_market().await;
    let bookings = app.bookings(&guest);

    // An unpaid hold lapses after 15 minutes of the tenant's clock, not of the wall clock.
    let hold = bookings.created(&Stay::days(3, 5).at(&property)).await;
    assert_eq!(hold["status"], "pending_payment");
    now_of(advance(&app, &admin, json!({ "hours": 1 })).await).await;
    assert_eq!(bookings.fetched(&hold["id"]).await["status"], "expired");

    // An unanswered request lapses after 24 hours.
    app.set_settings(
        &admin,
        &SettingsPatch {
            booking_mode: Some("request"),
            ..SettingsPatch::default()
        },
    )
    .await;
    let request = bookings.created(&Stay::days(10, 12).at(&property)).await;
    assert_eq!(request["status"], "requested");
    now_of(advance(&app, &admin, json!({ "hours": 23 })).await).await;
    assert_eq!(
        bookings.fetched(&request["id"]).await["status"],
        "requested"
    );
    now_of(advance(&app, &admin, json!({ "hours": 2 })).await).await;
    assert_eq!(bookings.fetched(&request["id"]).await["status"], "expired");

    // A stay paid at the property completes at its check-out time by the tenant's clock.
    app.set_settings(
        &admin,
        &SettingsPatch {
            booking_mode: Some("instant"),
            payment_collection: Some("at_property"),
            ..SettingsPatch::default()
        },
    )
    .await;
    let stay = bookings.created(&Stay::days(4, 6).at(&property)).await;
    assert_eq!(stay["status"], "confirmed");
    now_of(advance(&app, &admin, json!({ "hours": 24 * 3 })).await).await;
    assert_eq!(bookings.fetched(&stay["id"]).await["status"], "confirmed");
    // A day past check-out: past its check-out time whatever the hour the test started.
    now_of(advance(&app, &admin, json!({ "hours": 24 * 4 })).await).await;
    assert_eq!(bookings.fetched(&stay["id"]).await["status"], "completed");

    // "Today" for date rules is the clock's: a stay starting before it cannot be booked.
    let response = bookings.create(&Stay::days(2, 4).at(&property)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_test_tenant_pays_with_the_simulated_provider_only() {
    let app = spawn_app_with(|config| config.secret_key = Some(Secret::new(KEY_A))).await;
    app.create_test_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let response = app
        .client
        .put(app.url("/v1/t/acme/payment-provider"))
        .bearer_auth(&admin.access_token)
        .json(&json!({
            "provider": "stripe",
            "stripe": { "secret_key": "sk_test_1234567890", "webhook_secrets": ["whsec_1234567890"] }
        }))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::CONFLICT, "test_tenant_simulated_only").await;
}

#[tokio::test]
async fn the_cli_creates_test_tenants() {
    let app = spawn_app().await;
    let before = Timestamp::now().get();
    let output = staybase_with_env(
        &app.database_url,
        &[],
        &[
            "tenant",
            "create",
            "--slug",
            "acme",
            "--name",
            "Acme Lab",
            "--test-mode",
        ],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let created: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(created["test_mode"], true);
    let admin = app.tenant_admin("acme").await;
    let now = now_of(clock(&app, &admin).await).await;
    assert!(now >= before - Duration::seconds(1) && now <= OffsetDateTime::now_utc());

    // Platform admins see which tenants are test tenants.
    let operator = admin_token(&app).await;
    let seen: Value = app
        .get_with("/v1/admin/tenants/acme", &operator)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["test_mode"], true, "{seen}");
    app.create_tenant("live").await;
    let seen: Value = app
        .get_with("/v1/admin/tenants/live", &operator)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["test_mode"], false, "{seen}");
}
