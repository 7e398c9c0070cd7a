//! Paying for instant bookings with each of the simulated provider's test methods, and the
//! bookings that cannot be paid.

use reqwest::StatusCode;
use serde_json::json;

use super::{Market, count, fetched, jobs_done, market, paid, pay_with_key, post, settled};
use crate::helpers::{SettingsPatch, assert_problem, eventually};

#[tokio::test]
async fn a_successful_payment_confirms_the_booking_with_its_split() {
    let market = market().await;
    market
        .settings(SettingsPatch {
            platform_fee_bps: Some(1_000),
            tax_bps: Some(500),
            ..SettingsPatch::default()
        })
        .await;
    let Market { app, guest, .. } = &market;
    let booking = market.booking(guest, (10, 13), "pending_payment").await;
    let total = booking["total"]["amount"].as_i64().unwrap();
    let payment = paid(app, guest, &booking, "pm_sim_success").await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    assert_eq!(payment["booking_id"], booking["id"]);
    assert_eq!(payment["provider"], "simulated");
    assert_eq!(payment["amount"], booking["total"]);
    assert_eq!(payment["captured"]["amount"], total);
    assert_eq!(payment["refunded"]["amount"], 0);
    // Subtotal 350.00: a 10 % fee of 35.00 and 5 % taxes of 17.50; the host gets the rest.
    assert_eq!(payment["split"]["platform_fee"]["amount"], 3_500);
    assert_eq!(payment["split"]["taxes"]["amount"], 1_750);
    assert_eq!(payment["split"]["host_payout"]["amount"], total - 5_250);
    let confirmed = app.bookings(guest).fetched(&booking["id"]).await;
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["history"][1]["by"], "system");
    app.email_to(
        "guest@example.com",
        "We received your payment of EUR 402.50",
    )
    .await;
    eventually(|| jobs_done(app)).await;
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) FROM events WHERE kind = 'payment.succeeded'"
        )
        .await,
        1
    );
    // The provider's webhook of the same success changed nothing more.
    let again = fetched(
        app,
        guest,
        &format!("/payments/{}", payment["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(again["status"], "succeeded");
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) FROM payment_provider_events WHERE processed_at IS NOT NULL"
        )
        .await,
        1
    );
    // Paid: no second payment.
    let problem = assert_problem(
        post(
            app,
            guest,
            &format!("/bookings/{}/payments", booking["id"].as_str().unwrap()),
            &json!({ "payment_method": "pm_sim_success" }),
        )
        .await,
        StatusCode::CONFLICT,
        "booking_not_payable",
    )
    .await;
    assert_eq!(problem["current_status"], "confirmed");
}

#[tokio::test]
async fn the_host_commission_comes_out_of_the_hosts_share_at_the_bookings_rate() {
    let market = market().await;
    let fees = |host_fee_bps| SettingsPatch {
        platform_fee_bps: Some(1_000),
        tax_bps: Some(500),
        host_fee_bps: Some(host_fee_bps),
        ..SettingsPatch::default()
    };
    market.settings(fees(1_500)).await;
    let Market { app, guest, .. } = &market;
    let booking = market.booking(guest, (10, 13), "pending_payment").await;
    // The guest's price has no commission in it: 350.00 + 35.00 fee + 17.50 taxes.
    assert_eq!(booking["total"]["amount"], 40_250);
    // A later rate is for later bookings.
    market.settings(fees(3_000)).await;
    let payment = paid(app, guest, &booking, "pm_sim_success").await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    // 15 % of the 350.00 subtotal (52.50) joins the 35.00 service fee.
    assert_eq!(payment["split"]["platform_fee"]["amount"], 8_750);
    assert_eq!(payment["split"]["taxes"]["amount"], 1_750);
    assert_eq!(payment["split"]["host_payout"]["amount"], 29_750);
    let next = market.booking(guest, (20, 23), "pending_payment").await;
    assert_eq!(next["total"]["amount"], 40_250);
    let payment = paid(app, guest, &next, "pm_sim_success").await;
    assert_eq!(payment["split"]["platform_fee"]["amount"], 3_500 + 10_500);
    assert_eq!(
        payment["split"]["host_payout"]["amount"],
        40_250 - 14_000 - 1_750
    );
}

#[tokio::test]
async fn a_decline_leaves_the_booking_pending_and_the_guest_may_retry() {
    let market = market().await;
    let Market { app, guest, .. } = &market;
    let booking = market.booking(guest, (10, 12), "pending_payment").await;
    let declined = paid(app, guest, &booking, "pm_sim_declined").await;
    assert_eq!(declined["status"], "failed");
    assert_eq!(declined["failure_code"], "card_declined");
    assert_eq!(declined["captured"]["amount"], 0);
    assert_eq!(
        app.bookings(guest).fetched(&booking["id"]).await["status"],
        "pending_payment"
    );
    let retried = paid(app, guest, &booking, "pm_sim_success").await;
    assert_eq!(retried["status"], "succeeded");
    assert_ne!(retried["id"], declined["id"]);
    assert_eq!(
        app.bookings(guest).fetched(&booking["id"]).await["status"],
        "confirmed"
    );
    eventually(|| jobs_done(app)).await;
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) FROM events WHERE kind = 'payment.failed'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_payment_that_requires_action_succeeds_once_confirmed() {
    let market = market().await;
    let Market { app, guest, .. } = &market;
    let booking = market.booking(guest, (10, 12), "pending_payment").await;
    let payment = paid(app, guest, &booking, "pm_sim_requires_action").await;
    assert_eq!(payment["status"], "requires_action");
    assert_eq!(payment["next_action"], "confirm");
    let path = format!("/payments/{}/confirm", payment["id"].as_str().unwrap());
    let confirmed = post(app, guest, &path, &json!({})).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let confirmed: serde_json::Value = confirmed.json().await.unwrap();
    assert_eq!(confirmed["status"], "succeeded");
    assert!(confirmed.get("next_action").is_none());
    assert_eq!(
        app.bookings(guest).fetched(&booking["id"]).await["status"],
        "confirmed"
    );
    let problem = assert_problem(
        post(app, guest, &path, &json!({})).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    assert_eq!(problem["current_status"], "succeeded");
}

#[tokio::test]
async fn an_asynchronous_failure_arrives_by_webhook() {
    let market = market().await;
    let Market { app, guest, .. } = &market;
    let booking = market.booking(guest, (10, 12), "pending_payment").await;
    let payment = paid(app, guest, &booking, "pm_sim_async_fail").await;
    assert_eq!(payment["status"], "processing");
    let failed = settled(app, guest, &payment, |payment| {
        payment["status"] == "failed"
    })
    .await;
    assert_eq!(failed["failure_code"], "card_declined");
    eventually(|| jobs_done(app)).await;
    // The late `processing` webhook did not undo the failure.
    let settled = fetched(
        app,
        guest,
        &format!("/payments/{}", payment["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(settled["status"], "failed");
    assert_eq!(
        app.bookings(guest).fetched(&booking["id"]).await["status"],
        "pending_payment"
    );
}

#[tokio::test]
async fn bookings_paid_at_the_property_take_no_online_payment_and_refund_nothing() {
    let market = market().await;
    market
        .settings(SettingsPatch {
            payment_collection: Some("at_property"),
            ..SettingsPatch::default()
        })
        .await;
    let Market { app, guest, .. } = &market;
    let booking = market.booking(guest, (10, 12), "confirmed").await;
    let key = uuid::Uuid::now_v7().to_string();
    assert_problem(
        pay_with_key(app, guest, &booking, ("pm_sim_success", &key)).await,
        StatusCode::CONFLICT,
        "payment_not_required",
    )
    .await;
    // The booking keeps the collection it was made under, whatever the setting is now.
    market
        .settings(SettingsPatch {
            payment_collection: Some("online"),
            ..SettingsPatch::default()
        })
        .await;
    let cancelled = app.bookings(guest).cancelled(&booking["id"]).await;
    assert_eq!(cancelled["cancellation"]["refund"]["amount"], 0);
    let email = app.email_to("guest@example.com", "was cancelled").await;
    assert!(email.contains("nothing is refunded"), "{email}");
    assert!(!email.contains("Refund:"), "{email}");
}

#[tokio::test]
async fn only_unpaid_bookings_of_ones_own_can_be_paid() {
    let market = market().await;
    let Market {
        app, guest, host, ..
    } = &market;
    let booking = market.booking(guest, (10, 12), "pending_payment").await;
    let key = uuid::Uuid::now_v7().to_string();
    // Someone else's booking does not exist for them.
    assert_problem(
        pay_with_key(app, host, &booking, ("pm_sim_success", &key)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    app.bookings(guest).cancelled(&booking["id"]).await;
    let key = uuid::Uuid::now_v7().to_string();
    let problem = assert_problem(
        pay_with_key(app, guest, &booking, ("pm_sim_success", &key)).await,
        StatusCode::CONFLICT,
        "booking_not_payable",
    )
    .await;
    assert_eq!(problem["current_status"], "cancelled");
    // Without a key.
    let response = app
        .client
        .post(super::url(
            app,
            &format!("/bookings/{}/payments", booking["id"].as_str().unwrap()),
        ))
        .bearer_auth(&guest.access_token)
        .json(&json!({ "payment_method": "pm_sim_success" }))
        .send()
        .await
        .unwrap();
    assert_problem(
        response,
        StatusCode::BAD_REQUEST,
        "idempotency_key_required",
    )
    .await;
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_charge_once() {
    let market = market().await;
    let Market { app, guest, .. } = &market;
    let booking = market.booking(guest, (10, 12), "pending_payment").await;
    let key = uuid::Uuid::now_v7().to_string();
    let answers = futures_util::future::join_all(
        (0..20).map(|_| pay_with_key(app, guest, &booking, ("pm_sim_success", &key))),
    )
    .await;
    let mut ids = std::collections::BTreeSet::new();
    let mut replayed = 0;
    for answer in answers {
        assert_eq!(answer.status(), StatusCode::CREATED);
        if answer.headers().get("idempotent-replayed").is_some() {
            replayed += 1;
        }
        let payment: serde_json::Value = answer.json().await.unwrap();
        ids.insert(payment["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "one payment: {ids:?}");
    assert_eq!(replayed, 19);
    // One charge at the provider.
    assert_eq!(
        count(app, "SELECT COUNT(*) FROM simulated_intents").await,
        1
    );
    assert_eq!(count(app, "SELECT COUNT(*) FROM payments").await, 1);
    // The same key with another body.
    let other = pay_with_key(app, guest, &booking, ("pm_sim_declined", &key)).await;
    assert_problem(
        other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
}
