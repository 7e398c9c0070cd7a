//! Refunds: by the booking's policy on cancellation, and by tenant admins, never beyond what
//! was captured.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Market, count, fetched, jobs_done, market, paid, post};
use crate::helpers::{assert_problem, eventually};

fn refunds_path(payment: &Value) -> String {
    format!("/payments/{}/refunds", payment["id"].as_str().unwrap())
}

#[tokio::test]
async fn a_cancellation_refunds_what_the_policy_gives_back() {
    let market = market().await;
    let Market {
        app, guest, host, ..
    } = &market;
    // Moderate (the default): everything back 5 days or more before check-in, half after.
    let early = market.booking(guest, (10, 13), "pending_payment").await;
    let early_payment = paid(app, guest, &early, "pm_sim_success").await;
    let close = market.booking(guest, (3, 5), "pending_payment").await;
    let close_payment = paid(app, guest, &close, "pm_sim_success").await;
    app.bookings(guest).cancelled(&early["id"]).await;
    let cancelled = app.bookings(guest).cancelled(&close["id"]).await;
    assert_eq!(cancelled["cancellation"]["refund"]["amount"], 12_500);
    let path = |payment: &Value| format!("/payments/{}", payment["id"].as_str().unwrap());
    let early_after = fetched(app, guest, &path(&early_payment)).await;
    assert_eq!(early_after["status"], "refunded");
    assert_eq!(early_after["refunded"], early["total"]);
    assert_eq!(early_after["split"]["host_payout"]["amount"], 0);
    let close_after = fetched(app, guest, &path(&close_payment)).await;
    assert_eq!(close_after["status"], "partially_refunded");
    assert_eq!(close_after["refunded"]["amount"], 12_500);
    assert_eq!(close_after["split"]["host_payout"]["amount"], 12_500);
    eventually(|| jobs_done(app)).await;
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) FROM refunds WHERE status = 'succeeded' AND reason = 'cancellation'"
        )
        .await,
        2
    );
    assert_eq!(
        count(app, "SELECT COUNT(*) FROM simulated_refunds").await,
        2
    );
    let payouts = fetched(app, host, "/payouts").await;
    let statuses: Vec<&str> = payouts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|payout| payout["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pending", "canceled"]);
    assert_eq!(payouts["totals"]["pending"]["amount"], 12_500);
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) FROM events WHERE kind = 'payment.refunded'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn admins_refund_in_part_or_in_full_within_the_capture() {
    let market = market().await;
    let Market {
        app, guest, admin, ..
    } = &market;
    let booking = market.booking(guest, (10, 13), "pending_payment").await;
    let payment = paid(app, guest, &booking, "pm_sim_success").await;
    let path = refunds_path(&payment);
    // Guests do not refund themselves.
    let refused = post(app, guest, &path, &json!({ "reason": "please" })).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let other_currency = json!({ "amount": { "amount": 100, "currency": "USD" }, "reason": "r" });
    assert_problem(
        post(app, admin, &path, &other_currency).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let too_much = json!({ "amount": { "amount": 35_001, "currency": "EUR" }, "reason": "r" });
    assert_problem(
        post(app, admin, &path, &too_much).await,
        StatusCode::CONFLICT,
        "refund_exceeds_captured",
    )
    .await;
    // The same key answers the same refund.
    let key = uuid::Uuid::now_v7().to_string();
    let partial =
        json!({ "amount": { "amount": 10_000, "currency": "EUR" }, "reason": "Broken heating" });
    let mut answers = Vec::new();
    for _ in 0..2 {
        let response = app
            .client
            .post(super::url(app, &path))
            .bearer_auth(&admin.access_token)
            .header("Idempotency-Key", &key)
            .json(&partial)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let replayed = response.headers().contains_key("idempotent-replayed");
        answers.push((replayed, response.json::<Value>().await.unwrap()));
    }
    assert!(!answers[0].0 && answers[1].0);
    assert_eq!(answers[0].1["id"], answers[1].1["id"]);
    assert_eq!(answers[0].1["status"], "succeeded");
    assert_eq!(answers[0].1["amount"]["amount"], 10_000);
    assert_eq!(answers[0].1["reason"], "Broken heating");
    assert_eq!(answers[0].1["requested_by"], admin.id.as_str());
    // No amount: the rest.
    let rest = post(app, admin, &path, &json!({ "reason": "Goodwill" })).await;
    assert_eq!(rest.status(), StatusCode::CREATED);
    let rest: Value = rest.json().await.unwrap();
    assert_eq!(rest["amount"]["amount"], 25_000);
    let after = fetched(
        app,
        admin,
        &format!("/payments/{}", payment["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(after["status"], "refunded");
    assert_eq!(after["refunded"]["amount"], 35_000);
    assert_problem(
        post(app, admin, &path, &json!({ "reason": "again" })).await,
        StatusCode::CONFLICT,
        "refund_exceeds_captured",
    )
    .await;
    // The payment's guest reads its refunds, newest first, a page at a time.
    let first = fetched(app, guest, &format!("{path}?limit=1")).await;
    assert_eq!(first["data"][0]["id"], rest["id"]);
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = fetched(app, guest, &format!("{path}?limit=1&cursor={cursor}")).await;
    assert_eq!(second["data"][0]["id"], answers[0].1["id"]);
    assert_eq!(second["next_cursor"], Value::Null);
    assert_problem(
        super::get(app, guest, &format!("{path}?cursor=not-a-cursor")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // Whoever may not see the payment does not see its refunds either.
    let stranger = app.register("acme", "stranger@example.com", false).await;
    assert_problem(
        super::get(app, &stranger, &path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn concurrent_refunds_never_exceed_the_capture() {
    let market = market().await;
    let Market {
        app, guest, admin, ..
    } = &market;
    let booking = market.booking(guest, (10, 13), "pending_payment").await;
    let payment = paid(app, guest, &booking, "pm_sim_success").await;
    assert_eq!(payment["captured"]["amount"], 35_000);
    let path = refunds_path(&payment);
    let body = json!({ "amount": { "amount": 10_000, "currency": "EUR" }, "reason": "race" });
    let answers =
        futures_util::future::join_all((0..10).map(|_| post(app, admin, &path, &body))).await;
    let mut created = 0;
    for answer in answers {
        match answer.status() {
            StatusCode::CREATED => created += 1,
            _ => {
                assert_problem(answer, StatusCode::CONFLICT, "refund_exceeds_captured").await;
            }
        }
    }
    assert_eq!(created, 3);
    let after = fetched(
        app,
        admin,
        &format!("/payments/{}", payment["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(after["refunded"]["amount"], 30_000);
    assert_eq!(after["status"], "partially_refunded");
    eventually(|| jobs_done(app)).await;
    assert_eq!(
        count(
            app,
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM simulated_refunds"
        )
        .await,
        30_000
    );
}
