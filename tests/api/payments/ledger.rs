//! The ledger: payouts, fees, taxes and refunds add up to what was captured, to the cent;
//! payouts become payable 24 h after check-in and are marked paid once.

use reqwest::StatusCode;
use serde_json::{Value, json};
use staybase::on_db;

use super::{Market, count, fetched, jobs_done, market, paid, post, url};
use crate::helpers::{SettingsPatch, assert_problem, day, eventually};

#[tokio::test]
async fn payouts_fees_taxes_and_refunds_add_up_to_the_captures() {
    let market = market().await;
    market
        .settings(SettingsPatch {
            platform_fee_bps: Some(1_234),
            tax_bps: Some(777),
            host_fee_bps: Some(1_111),
            max_unpaid_bookings: Some(100),
            ..SettingsPatch::default()
        })
        .await;
    let Market {
        app,
        guest,
        host,
        admin,
        ..
    } = &market;
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    for stay in 0..8_i64 {
        let start = 4 + stay * 3;
        let booking = market
            .booking(
                guest,
                (start, start + 1 + next(2) as i64),
                "pending_payment",
            )
            .await;
        let payment = paid(app, guest, &booking, "pm_sim_success").await;
        let path = format!("/payments/{}/refunds", payment["id"].as_str().unwrap());
        for _ in 0..next(3) {
            let amount = 1 + next(9_000) as i64;
            let body =
                json!({ "amount": { "amount": amount, "currency": "EUR" }, "reason": "random" });
            let response = post(app, admin, &path, &body).await;
            assert!(
                matches!(
                    response.status(),
                    StatusCode::CREATED | StatusCode::CONFLICT
                ),
                "{}",
                response.status()
            );
        }
        match next(3) {
            0 => {
                app.bookings(guest).cancelled(&booking["id"]).await;
            }
            1 => {
                app.bookings(host).cancelled(&booking["id"]).await;
            }
            _ => {}
        }
    }
    eventually(|| jobs_done(app)).await;
    let sum = |sql: &'static str| count(app, sql);
    let captured = sum("SELECT CAST(COALESCE(SUM(captured), 0) AS BIGINT) FROM payments").await;
    let fees = sum("SELECT CAST(COALESCE(SUM(platform_fee), 0) AS BIGINT) FROM payments").await;
    let taxes = sum("SELECT CAST(COALESCE(SUM(taxes), 0) AS BIGINT) FROM payments").await;
    // What hosts keep: a paid payout less what later refunds took back.
    let payouts =
        sum("SELECT CAST(COALESCE(SUM(amount - owed_back), 0) AS BIGINT) FROM payouts").await;
    let refunds = sum(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds WHERE status <> 'failed'",
    )
    .await;
    assert!(captured > 0 && refunds > 0 && fees > 0 && taxes > 0);
    assert_eq!(payouts + fees + taxes + refunds, captured);
    // Each payment on its own, and as the API shows it.
    let payments = fetched(app, admin, "/payments?role=admin&limit=100").await;
    for payment in payments["data"].as_array().unwrap() {
        let split = &payment["split"];
        let amount = |value: &Value| value["amount"].as_i64().unwrap();
        assert_eq!(
            amount(&split["platform_fee"])
                + amount(&split["taxes"])
                + amount(&split["host_payout"]),
            amount(&payment["captured"]) - amount(&payment["refunded"]),
            "{payment}"
        );
    }
}

#[tokio::test]
async fn payouts_become_payable_a_day_after_check_in_and_are_paid_once() {
    let market = market().await;
    let Market {
        app,
        guest,
        host,
        admin,
        ..
    } = &market;
    let booking = market.booking(guest, (10, 12), "pending_payment").await;
    paid(app, guest, &booking, "pm_sim_success").await;
    let payouts = fetched(app, host, "/payouts").await;
    let payout = payouts["data"][0].clone();
    assert_eq!(payout["status"], "pending");
    assert_eq!(payout["booking_id"], booking["id"]);
    assert_eq!(payout["amount"], booking["total"]);
    // Check-in at 15:00 in the marketplace's time zone (UTC), plus 24 hours.
    assert_eq!(payout["payable_at"], format!("{}T15:00:00Z", day(11)));
    assert_eq!(payouts["totals"]["pending"], booking["total"]);
    let mark = format!("/payouts/{}/mark-paid", payout["id"].as_str().unwrap());
    let problem = assert_problem(
        post(app, admin, &mark, &json!({})).await,
        StatusCode::CONFLICT,
        "payout_not_payable",
    )
    .await;
    assert_eq!(problem["current_status"], "pending");
    // Guests see no payouts; the filter on payable_at applies.
    assert_problem(
        super::get(app, guest, "/payouts").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let later = fetched(
        app,
        admin,
        &format!("/payouts?role=admin&from={}T00:00:00Z", day(12)),
    )
    .await;
    assert_eq!(later["data"].as_array().unwrap().len(), 0);
    assert_eq!(later["totals"]["pending"]["amount"], 0);
    // A day after check-in comes: the payout's time and its job's.
    let id = uuid::Uuid::parse_str(payout["id"].as_str().unwrap()).unwrap();
    let past = staybase::db::Timestamp::now() - time::Duration::minutes(1);
    on_db!(&app.state.db, |pool| async {
        sqlx::query("UPDATE payouts SET payable_at = $1 WHERE id = $2")
            .bind(past)
            .bind(id)
            .execute(pool)
            .await?;
        sqlx::query(
            "UPDATE jobs SET run_at = $1 WHERE kind = 'payments.payout_due' \
             AND CAST(payload AS TEXT) LIKE $2",
        )
        .bind(past)
        .bind(format!("%{id}%"))
        .execute(pool)
        .await
        .map(drop)
    }
    .await)
    .unwrap();
    eventually(|| async {
        fetched(app, host, "/payouts?status=payable").await["data"]
            .as_array()
            .unwrap()
            .len()
            == 1
    })
    .await;
    app.email_to("host@example.com", "Your payout of EUR 250.00")
        .await;
    assert_problem(
        post(app, host, &mark, &json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let response = post(app, admin, &mark, &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let paid_out: Value = response.json().await.unwrap();
    assert_eq!(paid_out["status"], "paid");
    assert!(paid_out["paid_at"].is_string());
    assert_problem(
        post(app, admin, &mark, &json!({})).await,
        StatusCode::CONFLICT,
        "payout_not_payable",
    )
    .await;
    let totals = fetched(app, admin, "/payouts?role=admin").await["totals"].clone();
    assert_eq!(totals["paid"], booking["total"]);
    assert_eq!(totals["payable"]["amount"], 0);
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) FROM events WHERE kind IN ('payout.payable', 'payout.paid')"
        )
        .await,
        2
    );
    let unknown = url(app, &format!("/payouts/{}/mark-paid", uuid::Uuid::now_v7()));
    let response = app
        .client
        .post(unknown)
        .bearer_auth(&admin.access_token)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
}
