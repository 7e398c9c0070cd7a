//! Provider webhooks: verified by signature and timestamp, processed once, forward only.

use reqwest::StatusCode;
use serde_json::{Value, json};
use staybase::{
    db::Timestamp,
    ids::TenantId,
    on_db,
    payments::simulated::{self, SIGNATURE_HEADER},
};

use super::{Market, count, fetched, jobs_done, market, paid, settled, url};
use crate::helpers::{TestApp, assert_problem, eventually};

async fn acme(app: &TestApp) -> TenantId {
    let id: uuid::Uuid = on_db!(&app.state.db, |pool| {
        sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'acme'")
            .fetch_one(pool)
            .await
    })
    .unwrap();
    TenantId(id)
}

/// An event of the simulated provider about `payment`.
fn event(kind: &str, payment: &Value, status: &str) -> Value {
    json!({
        "id": format!("evt_test_{}", uuid::Uuid::now_v7().simple()),
        "type": kind,
        "created": Timestamp::now().get().unix_timestamp(),
        "data": {
            "reference": payment["provider_reference"],
            "payment_id": payment["id"],
            "status": status,
        }
    })
}

/// Delivers `body` signed at `at` with `key` (the tenant's own unless given).
async fn deliver(
    app: &TestApp,
    body: &Value,
    at: Timestamp,
    key: Option<&str>,
) -> reqwest::Response {
    let bytes = serde_json::to_vec(body).unwrap();
    let key = match key {
        Some(key) => key.to_owned(),
        None => simulated::webhook_key(&app.state.db, &app.state.secrets, acme(app).await)
            .await
            .unwrap(),
    };
    app.client
        .post(url(app, "/payments/webhooks/simulated"))
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, simulated::signature(&key, at, &bytes))
        .body(bytes)
        .send()
        .await
        .unwrap()
}

const EVENTS: &str = "SELECT COUNT(*) FROM payment_provider_events";

#[tokio::test]
async fn a_bad_signature_or_an_old_timestamp_is_refused_and_changes_nothing() {
    let market = market().await;
    let Market { app, guest, .. } = &market;
    let booking = market.booking(guest, (10, 12), "pending_payment").await;
    let payment = paid(app, guest, &booking, "pm_sim_requires_action").await;
    eventually(|| jobs_done(app)).await;
    let stored = count(app, EVENTS).await;
    let success = event("intent.succeeded", &payment, "succeeded");
    assert_problem(
        deliver(app, &success, Timestamp::now(), Some("not the key")).await,
        StatusCode::BAD_REQUEST,
        "invalid_signature",
    )
    .await;
    let old = Timestamp::now() - time::Duration::minutes(6);
    assert_problem(
        deliver(app, &success, old, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_signature",
    )
    .await;
    // Unsigned.
    let unsigned = app
        .client
        .post(url(app, "/payments/webhooks/simulated"))
        .json(&success)
        .send()
        .await
        .unwrap();
    assert_problem(unsigned, StatusCode::BAD_REQUEST, "invalid_signature").await;
    // Signed, then tampered with.
    let key = simulated::webhook_key(&app.state.db, &app.state.secrets, acme(app).await)
        .await
        .unwrap();
    let signature = simulated::signature(
        &key,
        Timestamp::now(),
        &serde_json::to_vec(&success).unwrap(),
    );
    let mut tampered = success.clone();
    tampered["data"]["status"] = json!("failed");
    let response = app
        .client
        .post(url(app, "/payments/webhooks/simulated"))
        .header(SIGNATURE_HEADER, signature)
        .json(&tampered)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::BAD_REQUEST, "invalid_signature").await;
    assert_eq!(count(app, EVENTS).await, stored);
    let path = format!("/payments/{}", payment["id"].as_str().unwrap());
    assert_eq!(
        fetched(app, guest, &path).await["status"],
        "requires_action"
    );
    assert_eq!(
        app.bookings(guest).fetched(&booking["id"]).await["status"],
        "pending_payment"
    );
    // An unknown provider.
    let response = app
        .client
        .post(url(app, "/payments/webhooks/paypal"))
        .json(&success)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn each_event_is_processed_once_and_statuses_only_move_forward() {
    let market = market().await;
    let Market { app, guest, .. } = &market;
    let booking = market.booking(guest, (10, 12), "pending_payment").await;
    let payment = paid(app, guest, &booking, "pm_sim_requires_action").await;
    eventually(|| jobs_done(app)).await;
    let stored = count(app, EVENTS).await;
    let success = event("intent.succeeded", &payment, "succeeded");
    for _ in 0..3 {
        let response = deliver(app, &success, Timestamp::now(), None).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(count(app, EVENTS).await, stored + 1);
    let succeeded = settled(app, guest, &payment, |payment| {
        payment["status"] == "succeeded"
    })
    .await;
    assert_eq!(succeeded["captured"], booking["total"]);
    assert_eq!(
        app.bookings(guest).fetched(&booking["id"]).await["status"],
        "confirmed"
    );
    // A late `processing`, and a failure after success, change nothing.
    for (kind, status) in [
        ("intent.processing", "processing"),
        ("intent.failed", "failed"),
    ] {
        let late = event(kind, &payment, status);
        assert_eq!(
            deliver(app, &late, Timestamp::now(), None).await.status(),
            StatusCode::OK
        );
    }
    // An event of a kind we do not act on is acknowledged and ignored.
    let unknown =
        json!({ "id": "evt_other_1", "type": "customer.created", "created": 1, "data": {} });
    assert_eq!(
        deliver(app, &unknown, Timestamp::now(), None)
            .await
            .status(),
        StatusCode::OK
    );
    eventually(|| jobs_done(app)).await;
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) FROM payment_provider_events WHERE processed_at IS NULL"
        )
        .await,
        0
    );
    let path = format!("/payments/{}", payment["id"].as_str().unwrap());
    assert_eq!(fetched(app, guest, &path).await["status"], "succeeded");
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) FROM events WHERE kind = 'payment.succeeded'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) FROM events WHERE kind = 'payment.failed'"
        )
        .await,
        0
    );
}
