//! Request mode: the guest authorizes while the host decides; accepting captures, declining
//! voids. And the race of a success that comes after the hold expired.

use mailparse::MailHeaderMap;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Market, count, fetched, jobs_done, market, paid, post, settled};
use crate::{
    bookings::lifecycle::lapse,
    helpers::{SettingsPatch, eventually},
};

/// The subjects of every email sent so far.
fn subjects(app: &crate::helpers::TestApp) -> Vec<String> {
    let outbox = app.state.config.data_dir.join("outbox");
    std::fs::read_dir(outbox)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| std::fs::read(entry.path()).ok())
                .filter_map(|raw| {
                    mailparse::parse_mail(&raw)
                        .ok()?
                        .headers
                        .get_first_value("Subject")
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn on_request(market: &Market) {
    market
        .settings(SettingsPatch {
            booking_mode: Some("request"),
            ..SettingsPatch::default()
        })
        .await;
}

#[tokio::test]
async fn an_authorized_request_is_captured_and_confirmed_as_the_host_accepts() {
    let market = market().await;
    on_request(&market).await;
    let Market {
        app, guest, host, ..
    } = &market;
    let booking = market.booking(guest, (10, 13), "requested").await;
    let authorized = paid(app, guest, &booking, "pm_sim_success").await;
    assert_eq!(authorized["status"], "requires_capture");
    assert_eq!(authorized["captured"]["amount"], 0);
    assert_eq!(
        app.bookings(guest).fetched(&booking["id"]).await["status"],
        "requested"
    );
    let accepted = app.bookings(host).accepted(&booking["id"]).await;
    assert_eq!(accepted["status"], "confirmed", "{accepted}");
    let path = format!("/payments/{}", authorized["id"].as_str().unwrap());
    let captured = fetched(app, guest, &path).await;
    assert_eq!(captured["status"], "succeeded");
    assert_eq!(captured["captured"], booking["total"]);
    // The guest hears of the confirmation and the receipt, not of a payment still due.
    app.email_to("guest@example.com", "is confirmed").await;
    app.email_to("guest@example.com", "We received your payment")
        .await;
    eventually(|| async {
        count(
            app,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'bookings.notify' \
             AND status IN ('queued', 'running', 'failed')",
        )
        .await
            == 0
    })
    .await;
    assert!(
        !subjects(app)
            .iter()
            .any(|subject| subject.contains("Complete your booking")),
        "{:?}",
        subjects(app)
    );
    // Without an authorization, acceptance waits for payment as before.
    let unpaid = market.booking(guest, (20, 22), "requested").await;
    let accepted = app.bookings(host).accepted(&unpaid["id"]).await;
    assert_eq!(accepted["status"], "pending_payment");
}

#[tokio::test]
async fn declining_a_request_voids_its_authorization() {
    let market = market().await;
    on_request(&market).await;
    let Market {
        app, guest, host, ..
    } = &market;
    let booking = market.booking(guest, (10, 13), "requested").await;
    let authorized = paid(app, guest, &booking, "pm_sim_success").await;
    app.bookings(host).declined(&booking["id"]).await;
    let voided = settled(app, guest, &authorized, |payment| {
        payment["status"] == "canceled"
    })
    .await;
    assert_eq!(voided["captured"]["amount"], 0);
    eventually(|| jobs_done(app)).await;
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) FROM simulated_intents WHERE status = 'canceled'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_success_after_the_hold_expired_never_confirms_and_is_refunded() {
    let market = market().await;
    let Market { app, guest, .. } = &market;
    let booking = market.booking(guest, (10, 13), "pending_payment").await;
    let payment = paid(app, guest, &booking, "pm_sim_requires_action").await;
    lapse(app, &booking["id"]).await;
    eventually(|| async {
        app.bookings(guest).fetched(&booking["id"]).await["status"] == "expired"
    })
    .await;
    // Someone else books the freed nights.
    let other = app.register("acme", "other@example.com", false).await;
    market.booking(&other, (10, 13), "pending_payment").await;
    // The guest completes the payment only now: it succeeds at the provider, too late.
    let path = format!("/payments/{}/confirm", payment["id"].as_str().unwrap());
    let response = post(app, guest, &path, &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let late: Value = response.json().await.unwrap();
    assert_eq!(late["status"], "refunded", "{late}");
    assert_eq!(late["captured"], booking["total"]);
    assert_eq!(late["refunded"], booking["total"]);
    assert_eq!(
        app.bookings(guest).fetched(&booking["id"]).await["status"],
        "expired"
    );
    eventually(|| jobs_done(app)).await;
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) FROM refunds WHERE reason = 'booking_not_payable' AND status = 'succeeded'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) FROM events WHERE kind = 'payment.refunded'"
        )
        .await,
        1
    );
    assert_eq!(count(app, "SELECT COUNT(*) FROM payouts").await, 0);
}

#[tokio::test]
async fn a_success_after_the_deadline_is_refunded_even_before_the_hold_is_expired() {
    let market = market().await;
    let Market { app, guest, .. } = &market;
    let booking = market.booking(guest, (10, 13), "pending_payment").await;
    let payment = paid(app, guest, &booking, "pm_sim_requires_action").await;
    // The deadline has passed; the expiry job has not run yet.
    let id = uuid::Uuid::parse_str(booking["id"].as_str().unwrap()).unwrap();
    let past = staybase::db::Timestamp::now() - time::Duration::seconds(1);
    staybase::on_db!(&app.state.db, |pool| {
        sqlx::query("UPDATE bookings SET expires_at = $1 WHERE id = $2")
            .bind(past)
            .bind(id)
            .execute(pool)
            .await
            .map(drop)
    })
    .unwrap();
    let path = format!("/payments/{}/confirm", payment["id"].as_str().unwrap());
    let late: Value = post(app, guest, &path, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(late["status"], "refunded", "{late}");
    assert_eq!(
        app.bookings(guest).fetched(&booking["id"]).await["status"],
        "pending_payment"
    );
}
