//! Payments of a tenant whose provider is Stripe go to its account (a fake Stripe on loopback):
//! the charge carries our payment's id, declines are outcomes, and Stripe's webhooks, verified
//! with the tenant's webhook secret, move the payment and its booking.

use reqwest::StatusCode;
use serde_json::{Value, json};
use staybase::{config::Secret, secret_box::SecretString, stripe::webhook};

use super::{paid, settled, url};
use crate::{
    helpers::{Account, Stay, TestApp, assert_problem, eventually, spawn_app_with},
    secrets::KEY_A,
    stripe::{Fake, SECRET_KEY, fake_stripe},
};

const WEBHOOK_SECRET: &str = "whsec_TenantWebhookSecret2468";

/// Sends Stripe's `payment_intent.succeeded` for `reference` (our payment `payment_id`),
/// signed with `secret`.
async fn stripe_webhook(
    app: &TestApp,
    (reference, payment_id): (&str, &str),
    secret: &str,
) -> reqwest::Response {
    let body = json!({
        "id": format!("evt_{reference}"), "type": "payment_intent.succeeded",
        "data": { "object": {
            "id": reference, "object": "payment_intent", "status": "succeeded",
            "amount": 1, "amount_received": 1, "currency": "eur",
            "metadata": { "payment_id": payment_id }
        } }
    })
    .to_string();
    signed(app, body, secret).await
}

/// Delivers `body` to the Stripe webhook route, signed now with `secret`.
async fn signed(app: &TestApp, body: String, secret: &str) -> reqwest::Response {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature = webhook::sign(&SecretString::new(secret), now, body.as_bytes());
    app.client
        .post(url(app, "/payments/webhooks/stripe"))
        .header("Stripe-Signature", signature)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Sends Stripe's `charge.refunded` for the intent `reference`: `refunded` of its 200.00
/// charge refunded so far.
async fn charge_refunded(
    app: &TestApp,
    (reference, event_id): (&str, &str),
    refunded: i64,
) -> reqwest::Response {
    let body = json!({
        "id": event_id, "type": "charge.refunded",
        "data": { "object": {
            "id": format!("ch_{reference}"), "object": "charge", "payment_intent": reference,
            "amount": 25_000, "amount_captured": 25_000, "amount_refunded": refunded,
            "currency": "eur"
        } }
    })
    .to_string();
    signed(app, body, WEBHOOK_SECRET).await
}

fn refunds_path(payment: &Value) -> String {
    format!("/payments/{}/refunds", payment["id"].as_str().unwrap())
}

async fn booked(app: &TestApp, guest: &Account, property: &str, days: (i64, i64)) -> Value {
    let booking = app
        .bookings(guest)
        .created(&Stay::days(days.0, days.1).at(property))
        .await;
    assert_eq!(booking["status"], "pending_payment", "{booking}");
    booking
}

/// A tenant `acme` on Stripe (the fake), with its admin, a guest and a host's listed property.
async fn stripe_market() -> (Fake, TestApp, Account, Account, String) {
    let (fake, base) = fake_stripe().await;
    let app = spawn_app_with(|config| {
        config.secret_key = Some(Secret::new(KEY_A));
        config.outbound_allow = "127.0.0.0/8".into();
    })
    .await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let property = crate::bookings::listed_property(&app, &host, "Loft").await;
    let response = app
        .client
        .put(app.url("/v1/t/acme/payment-provider"))
        .bearer_auth(&admin.access_token)
        .json(&json!({ "provider": "stripe", "stripe": {
            "secret_key": SECRET_KEY, "webhook_secrets": [WEBHOOK_SECRET], "api_base": base
        } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    (fake, app, admin, guest, property)
}

#[tokio::test]
async fn a_payment_stripe_never_answered_is_asked_again_in_the_background() {
    let (fake, app, _admin, guest, property) = stripe_market().await;
    fake.set_down(true);
    let booking = booked(&app, &guest, &property, (10, 12)).await;
    let payment = paid(&app, &guest, &booking, "pm_card_visa").await;
    assert_eq!(payment["status"], "processing", "{payment}");
    fake.set_down(false);
    // Nobody retries the request: a job asks Stripe again, under the same key.
    settled(&app, &guest, &payment, |current| {
        current["status"] == "succeeded"
    })
    .await;
    assert_eq!(fake.created(), 1, "one charge");
    let asked: Vec<_> = fake
        .received()
        .into_iter()
        .filter(|received| received.path == "/v1/payment_intents")
        .collect();
    assert!(asked.len() >= 2, "asked again");
    assert!(
        asked
            .iter()
            .all(|received| received.idempotency_key == asked[0].idempotency_key)
    );
    let confirmed = app.bookings(&guest).fetched(&booking["id"]).await;
    assert_eq!(confirmed["status"], "confirmed");
}

#[tokio::test]
async fn a_tenant_on_stripe_is_charged_at_its_stripe_account() {
    let (fake, app, admin, guest, property) = stripe_market().await;

    // A charge: the booked total, our payment's id as metadata, confirmed at once.
    let booking = booked(&app, &guest, &property, (10, 12)).await;
    let payment = paid(&app, &guest, &booking, "pm_card_visa").await;
    assert_eq!(payment["provider"], "stripe");
    assert_eq!(payment["status"], "succeeded", "{payment}");
    let charge = fake
        .received()
        .into_iter()
        .find(|received| received.path == "/v1/payment_intents")
        .expect("a PaymentIntent created");
    assert_eq!(
        charge.field("amount"),
        booking["total"]["amount"]
            .as_i64()
            .map(|a| a.to_string())
            .as_deref()
    );
    assert_eq!(charge.field("metadata[payment_id]"), payment["id"].as_str());
    assert!(charge.idempotency_key.is_some());
    let confirmed: Value = app
        .get_with(
            &format!("/v1/t/acme/bookings/{}", booking["id"].as_str().unwrap()),
            &guest.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(confirmed["status"], "confirmed");

    // The operator refunds 50.00 in Stripe's dashboard: Stripe's `charge.refunded` brings it
    // into the ledger as a refund already made, and nothing more is asked of Stripe.
    let reference = format!("pi_{}", fake.created());
    let refunded = charge_refunded(&app, (&reference, "evt_dashboard_1"), 5_000).await;
    assert!(refunded.status().is_success(), "{}", refunded.status());
    let after = settled(&app, &guest, &payment, |current| {
        current["status"] == "partially_refunded"
    })
    .await;
    assert_eq!(after["refunded"]["amount"], 5_000);
    let refunds = super::fetched(&app, &admin, &refunds_path(&payment)).await;
    assert_eq!(refunds["data"][0]["reason"], "refunded_at_provider");
    assert_eq!(refunds["data"][0]["status"], "succeeded");
    assert_eq!(refunds["data"][0]["amount"]["amount"], 5_000);
    // Stripe repeats the total with each later refund: a total already known changes nothing.
    charge_refunded(&app, (&reference, "evt_dashboard_2"), 5_000).await;
    eventually(|| super::jobs_done(&app)).await;
    let again = super::fetched(&app, &admin, &refunds_path(&payment)).await;
    assert_eq!(again["data"].as_array().unwrap().len(), 1);
    assert!(
        fake.received()
            .iter()
            .all(|received| received.path != "/v1/refunds"),
        "no refund asked of Stripe"
    );

    // A payment method Stripe does not know fails the attempt; the guest pays again.
    let retried = booked(&app, &guest, &property, (40, 42)).await;
    let refused = paid(&app, &guest, &retried, "pm_card_unknown").await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert_eq!(refused["failure_code"], "provider_refused");
    let second = paid(&app, &guest, &retried, "pm_card_visa").await;
    assert_eq!(second["status"], "succeeded", "{second}");

    // A decline is a failed payment with Stripe's decline code.
    let declined = booked(&app, &guest, &property, (20, 22)).await;
    let failed = paid(&app, &guest, &declined, "pm_card_chargeDeclined").await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failure_code"], "generic_decline");

    // 3-D Secure: the payment waits; Stripe's webhook, verified with the tenant's secret,
    // completes it. A webhook signed with another secret is refused and changes nothing.
    let waiting = booked(&app, &guest, &property, (30, 32)).await;
    let pending = paid(&app, &guest, &waiting, "pm_card_authenticationRequired").await;
    assert_eq!(pending["status"], "requires_action");
    // The fake numbers the intents it made.
    let reference = format!("pi_{}", fake.created());
    let payment_id = pending["id"].as_str().unwrap();
    assert_problem(
        stripe_webhook(&app, (&reference, payment_id), "whsec_NotTheTenants1357").await,
        StatusCode::BAD_REQUEST,
        "invalid_signature",
    )
    .await;
    let accepted = stripe_webhook(&app, (&reference, payment_id), WEBHOOK_SECRET).await;
    assert!(accepted.status().is_success(), "{}", accepted.status());
    settled(&app, &guest, &pending, |current| {
        current["status"] == "succeeded"
    })
    .await;
}
