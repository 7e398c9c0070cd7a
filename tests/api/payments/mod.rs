//! Payments through HTTP: the simulated provider's outcomes, idempotent creation, provider
//! webhooks, refunds, payouts and the ledger, who sees what.

mod clock;
mod create;
mod ledger;
mod refunds;
mod requests;
mod through_stripe;
mod visibility;
mod webhooks;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use staybase::on_db;

use crate::helpers::{Account, SettingsPatch, Stay, TestApp, spawn_app};

/// A tenant `acme` with a host's listed property (EUR 100 a night, EUR 50 cleaning), a guest
/// and an admin.
struct Market {
    app: TestApp,
    admin: Account,
    host: Account,
    guest: Account,
    property: String,
}

async fn market() -> Market {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let property = crate::bookings::listed_property(&app, &host, "Loft").await;
    Market {
        app,
        admin,
        host,
        guest,
        property,
    }
}

impl Market {
    /// A booking by `guest` of the nights `days` from today, in the status expected.
    async fn booking(&self, guest: &Account, days: (i64, i64), status: &str) -> Value {
        let booking = self
            .app
            .bookings(guest)
            .created(&Stay::days(days.0, days.1).at(&self.property))
            .await;
        assert_eq!(booking["status"], status, "{booking}");
        booking
    }

    async fn settings(&self, patch: SettingsPatch<'_>) {
        self.app.set_settings(&self.admin, &patch).await;
    }
}

fn url(app: &TestApp, path: &str) -> String {
    app.url(&format!("/v1/t/acme{path}"))
}

/// `POST bookings/{id}/payments` with this key.
async fn pay_with_key(
    app: &TestApp,
    guest: &Account,
    booking: &Value,
    (method, key): (&str, &str),
) -> Response {
    app.client
        .post(url(
            app,
            &format!("/bookings/{}/payments", booking["id"].as_str().unwrap()),
        ))
        .bearer_auth(&guest.access_token)
        .header("Idempotency-Key", key)
        .json(&json!({ "payment_method": method }))
        .send()
        .await
        .unwrap()
}

/// A payment made with a fresh key, which must be answered 201.
pub(crate) async fn paid(app: &TestApp, guest: &Account, booking: &Value, method: &str) -> Value {
    let key = uuid::Uuid::now_v7().to_string();
    let response = pay_with_key(app, guest, booking, (method, &key)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn get(app: &TestApp, account: &Account, path: &str) -> Response {
    app.client
        .get(url(app, path))
        .bearer_auth(&account.access_token)
        .send()
        .await
        .unwrap()
}

async fn fetched(app: &TestApp, account: &Account, path: &str) -> Value {
    let response = get(app, account, path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

async fn post(app: &TestApp, account: &Account, path: &str, body: &Value) -> Response {
    app.client
        .post(url(app, path))
        .bearer_auth(&account.access_token)
        .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The payment as `account` sees it, once `check` holds for it; fails after 15 seconds.
async fn settled(
    app: &TestApp,
    account: &Account,
    payment: &Value,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let path = format!("/payments/{}", payment["id"].as_str().unwrap());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let current = fetched(app, account, &path).await;
        if check(&current) {
            return current;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "payment stuck: {current}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The number a `SELECT COUNT(*)` query gives.
async fn count(app: &TestApp, sql: &str) -> i64 {
    on_db!(&app.state.db, |pool| {
        sqlx::query_scalar(sql).fetch_one(pool).await
    })
    .unwrap()
}

/// Whether every background job has finished (none pending or running).
async fn jobs_done(app: &TestApp) -> bool {
    count(
        app,
        "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running', 'failed') \
         AND kind LIKE 'payments.%' AND kind <> 'payments.payout_due'",
    )
    .await
        == 0
}
