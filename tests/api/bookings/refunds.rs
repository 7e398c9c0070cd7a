//! Cancellations: the refund follows the policy in force when the booking was made.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Market, booked, count, market};
use crate::helpers::{Account, SettingsPatch, TestApp, assert_problem};

/// A booking of `days` from today, paid online, so confirmed.
async fn confirmed(app: &TestApp, guest: &Account, property: &str, days: (i64, i64)) -> Value {
    let booking = booked(app, guest, property, days, "pending_payment").await;
    let payment = crate::payments::paid(app, guest, &booking, "pm_sim_success").await;
    assert_eq!(payment["status"], "succeeded");
    app.bookings(guest).fetched(&booking["id"]).await
}

#[tokio::test]
async fn cancellations_refund_by_the_policy_snapshot() {
    let Market {
        app,
        admin,
        host,
        guest,
        property,
    } = market().await;
    let moderate = SettingsPatch {
        cancellation_policy: Some("moderate"),
        ..SettingsPatch::default()
    };
    app.set_settings(&admin, &moderate).await;
    // Three nights at 100 and cleaning at 50: 350.00, of which half is refundable under
    // the moderate policy three days before check-in.
    let close = confirmed(&app, &guest, &property, (3, 6)).await;
    assert_eq!(close["total"]["amount"], 35000);
    let far = confirmed(&app, &guest, &property, (20, 22)).await;
    let hosts_cancel = confirmed(&app, &guest, &property, (2, 3)).await;
    // A later policy change does not touch bookings already made.
    let strict = SettingsPatch {
        cancellation_policy: Some("strict"),
        ..SettingsPatch::default()
    };
    app.set_settings(&admin, &strict).await;
    let late = confirmed(&app, &guest, &property, (6, 8)).await;
    assert_eq!(late["cancellation_policy"], "strict");

    let guests = app.bookings(&guest);
    let cancelled = guests.cancelled(&close["id"]).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancellation_policy"], "moderate");
    assert_eq!(
        cancelled["cancellation"],
        json!({ "by": "guest", "refund": { "amount": 17500, "currency": "EUR" } })
    );
    let far = guests.cancelled(&far["id"]).await;
    assert_eq!(
        far["cancellation"]["refund"]["amount"], 25000,
        "moderate, 20 days ahead"
    );
    let late = guests.cancelled(&late["id"]).await;
    assert_eq!(
        late["cancellation"]["refund"]["amount"], 0,
        "strict, 6 days ahead"
    );
    let by_host = app.bookings(&host).cancelled(&hosts_cancel["id"]).await;
    assert_eq!(
        by_host["cancellation"],
        json!({ "by": "host", "refund": { "amount": 15000, "currency": "EUR" } })
    );
    let problem = assert_problem(
        guests.cancel(&close["id"]).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    assert_eq!(problem["current_status"], "cancelled");
    assert_eq!(app.nights(&property, 3, 4).await, ["available"]);

    app.email_to(
        "guest@example.com",
        "cancelled by the host. Refund: EUR 150.00",
    )
    .await;
    app.email_to("host@example.com", "cancelled by you").await;
    let cancelled_events = count(
        &app,
        "SELECT COUNT(*) FROM events WHERE kind = 'booking.cancelled'",
    )
    .await;
    assert_eq!(cancelled_events, 4);
}
