//! A test tenant's clock drives its payments: a success that comes after the hold lapsed by
//! the clock is refunded at once, and a payout becomes payable when the clock passes its time.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{fetched, paid, post, settled};
use crate::{
    helpers::{Account, Stay, TestApp, day},
    test_clock::test_market,
};

async fn advance(app: &TestApp, admin: &Account, hours: u32) {
    let response = app
        .post_json(
            "/v1/t/acme/test-clock/advance",
            &json!({ "hours": hours }),
            Some(&admin.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// The status of the payout of `booking`, as tenant admins list it.
async fn payout_status(app: &TestApp, admin: &Account, booking: &Value) -> String {
    let payouts = fetched(app, admin, "/payouts?role=admin").await;
    payouts["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|payout| payout["booking_id"] == booking["id"])
        .map(|payout| payout["status"].as_str().unwrap().to_owned())
        .expect("a payout of the booking")
}

#[tokio::test]
async fn a_test_clock_drives_a_late_success_and_a_payout() {
    let (app, admin, guest, property) = test_market().await;
    let bookings = app.bookings(&guest);

    // The guest's 3-D Secure step outlasts the hold by the tenant's clock: the booking expires
    // (its nights free for others), and the success that follows is refunded, not confirmed.
    let late = bookings.created(&Stay::days(3, 5).at(&property)).await;
    assert_eq!(late["status"], "pending_payment");
    let payment = paid(&app, &guest, &late, "pm_sim_requires_action").await;
    assert_eq!(payment["status"], "requires_action");
    advance(&app, &admin, 1).await;
    assert_eq!(bookings.fetched(&late["id"]).await["status"], "expired");
    let path = format!("/payments/{}/confirm", payment["id"].as_str().unwrap());
    let confirmed = post(&app, &guest, &path, &json!({})).await;
    assert!(confirmed.status().is_success(), "{}", confirmed.status());
    settled(&app, &guest, &payment, |current| {
        current["status"] == "refunded"
    })
    .await;
    assert_eq!(bookings.fetched(&late["id"]).await["status"], "expired");

    // A paid stay's payout waits until 24 hours after check-in by the clock.
    let stay = bookings.created(&Stay::days(2, 4).at(&property)).await;
    let payment = paid(&app, &guest, &stay, "pm_sim_success").await;
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(payout_status(&app, &admin, &stay).await, "pending");
    advance(&app, &admin, 24).await;
    assert_eq!(payout_status(&app, &admin, &stay).await, "pending");
    advance(&app, &admin, 24 * 3).await;
    assert_eq!(payout_status(&app, &admin, &stay).await, "payable");
}

#[tokio::test]
async fn a_refund_after_the_payout_was_paid_is_owed_back_by_the_host() {
    let (app, admin, guest, property) = test_market().await;
    let stay = app
        .bookings(&guest)
        .created(&Stay::days(2, 4).at(&property))
        .await;
    let payment = paid(&app, &guest, &stay, "pm_sim_success").await;
    advance(&app, &admin, 24 * 4).await;
    let payout = fetched(&app, &admin, "/payouts?role=admin").await["data"][0].clone();
    assert_eq!(payout["status"], "payable");
    assert_eq!(payout["owed_back"]["amount"], 0);
    let mark = format!("/payouts/{}/mark-paid", payout["id"].as_str().unwrap());
    assert_eq!(
        post(&app, &admin, &mark, &json!({})).await.status(),
        StatusCode::OK
    );

    // Two nights and cleaning (250.00), no fees: every cent refunded was the host's.
    let refunds = format!("/payments/{}/refunds", payment["id"].as_str().unwrap());
    let part = json!({ "amount": { "amount": 10_000, "currency": "EUR" }, "reason": "No heating" });
    assert_eq!(
        post(&app, &admin, &refunds, &part).await.status(),
        StatusCode::CREATED
    );
    let payouts = fetched(&app, &admin, "/payouts?role=admin").await;
    let after = &payouts["data"][0];
    assert_eq!(after["status"], "paid");
    assert_eq!(
        after["amount"], payout["amount"],
        "what was paid stays as paid"
    );
    assert_eq!(after["owed_back"]["amount"], 10_000);
    assert_eq!(payouts["totals"]["owed_back"]["amount"], 10_000);
    assert_eq!(payouts["totals"]["paid"]["amount"], 25_000);

    let rest = json!({ "reason": "Goodwill" });
    assert_eq!(
        post(&app, &admin, &refunds, &rest).await.status(),
        StatusCode::CREATED
    );
    let host_view = fetched(&app, &admin, "/payouts?role=admin").await["data"][0].clone();
    assert_eq!(
        host_view["status"], "paid",
        "a paid payout is never canceled"
    );
    assert_eq!(host_view["owed_back"]["amount"], 25_000);
}

#[tokio::test]
async fn a_payout_is_payable_a_day_after_the_propertys_own_check_in_time() {
    let (app, admin, guest, property) = test_market().await;
    // 23:00 in Tokyo (UTC+9, no DST) is 14:00 UTC, an hour before the tenant's default 15:00.
    app.properties(&admin)
        .updated(
            &property,
            &json!({ "check_in_time": "23:00", "timezone": "Asia/Tokyo" }),
        )
        .await;
    let stay = app
        .bookings(&guest)
        .created(&Stay::days(2, 4).at(&property))
        .await;
    paid(&app, &guest, &stay, "pm_sim_success").await;
    for (at, status) in [("13:59:00", "pending"), ("14:00:00", "payable")] {
        let to = json!({ "to": format!("{}T{at}Z", day(3)) });
        let response = app
            .post_json(
                "/v1/t/acme/test-clock/advance",
                &to,
                Some(&admin.access_token),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(payout_status(&app, &admin, &stay).await, status, "at {at}");
    }
}
