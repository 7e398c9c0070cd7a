//! What time does to bookings: unpaid holds and unanswered requests expire, stays complete
//! after check-out.

use reqwest::StatusCode;
use serde_json::Value;
use staybase::{
    bookings::jobs::CompleteStays,
    db::Timestamp,
    jobs::{self, EnqueueOptions},
    on_db,
};
use time::{Duration, OffsetDateTime};

use super::{Market, booked, market};
use crate::helpers::{BookingsClient, SettingsPatch, Stay, TestApp, assert_problem, eventually};

/// Moves a booking's deadline and its expiry job to now, as if its hold had run out.
pub(crate) async fn lapse(app: &TestApp, id: &Value) {
    let id = uuid::Uuid::parse_str(id.as_str().unwrap()).unwrap();
    let now = Timestamp::now();
    on_db!(&app.state.db, |pool| async {
        sqlx::query("UPDATE bookings SET expires_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?;
        sqlx::query("UPDATE jobs SET run_at = $1 WHERE kind = 'bookings.expire' AND CAST(payload AS TEXT) LIKE $2")
            .bind(now)
            .bind(format!("%{id}%"))
            .execute(pool)
            .await
            .map(drop)
    }
    .await)
    .unwrap();
}

/// The booking's status, for polling: an answer of any kind is read as it is.
async fn status(bookings: &BookingsClient<'_>, id: &Value) -> Value {
    let booking: Value = bookings.get(id).await.json().await.unwrap();
    booking["status"].clone()
}

#[tokio::test]
async fn an_unpaid_hold_expires_and_frees_its_nights() {
    let Market {
        app,
        guest,
        property,
        ..
    } = market().await;
    let guests = app.bookings(&guest);
    let hold = booked(&app, &guest, &property, (4, 6), "pending_payment").await;
    let other = app.register("acme", "other@example.com", false).await;
    assert_eq!(
        app.bookings(&other)
            .create(&Stay::days(5, 7).at(&property))
            .await
            .status(),
        StatusCode::CONFLICT
    );
    lapse(&app, &hold["id"]).await;
    eventually(|| async { status(&guests, &hold["id"]).await == "expired" }).await;
    let expired = guests.fetched(&hold["id"]).await;
    assert_eq!(expired["history"][1]["by"], "system");
    assert!(expired["history"][1]["user_id"].is_null());
    assert_eq!(
        app.nights(&property, 4, 6).await,
        ["available", "available"]
    );
    booked(&app, &other, &property, (5, 7), "pending_payment").await;
    app.email_to("guest@example.com", "has expired").await;
    assert_problem(
        guests.cancel(&hold["id"]).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
}

#[tokio::test]
async fn stays_complete_after_check_out() {
    let Market {
        app,
        admin,
        guest,
        property,
        ..
    } = market().await;
    let at_property = SettingsPatch {
        payment_collection: Some("at_property"),
        ..SettingsPatch::default()
    };
    app.set_settings(&admin, &at_property).await;
    let guests = app.bookings(&guest);
    let past = booked(&app, &guest, &property, (2, 4), "confirmed").await;
    let future = booked(&app, &guest, &property, (6, 8), "confirmed").await;
    let id = uuid::Uuid::parse_str(past["id"].as_str().unwrap()).unwrap();
    let today = OffsetDateTime::now_utc().date();
    on_db!(&app.state.db, |pool| {
        sqlx::query("UPDATE bookings SET check_in = $1, check_out = $2 WHERE id = $3")
            .bind(today - Duration::days(4))
            .bind(today - Duration::days(1))
            .bind(id)
            .execute(pool)
            .await
            .map(drop)
    })
    .unwrap();
    // Its check-out day has come: too late to cancel, even before the job completes it.
    assert_problem(
        app.bookings(&admin).cancel(&past["id"]).await,
        StatusCode::CONFLICT,
        "stay_ended",
    )
    .await;
    let mut tx = app.state.db.begin().await.unwrap();
    jobs::enqueue(&mut tx, &CompleteStays {}, EnqueueOptions::default())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    eventually(|| async { status(&guests, &past["id"]).await == "completed" }).await;
    let upcoming = guests.fetched(&future["id"]).await;
    assert_eq!(upcoming["status"], "confirmed");
    let problem = assert_problem(
        guests.cancel(&past["id"]).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    assert_eq!(problem["current_status"], "completed");
}

#[tokio::test]
async fn accepted_requests_wait_for_payment_and_unanswered_ones_lapse() {
    let Market {
        app,
        admin,
        host,
        guest,
        property,
    } = market().await;
    let on_request = SettingsPatch {
        booking_mode: Some("request"),
        ..SettingsPatch::default()
    };
    app.set_settings(&admin, &on_request).await;
    let hosts = app.bookings(&host);
    let accepted = booked(&app, &guest, &property, (3, 5), "requested").await;
    let unanswered = booked(&app, &guest, &property, (8, 10), "requested").await;

    let pending = hosts.accepted(&accepted["id"]).await;
    assert_eq!(
        pending["status"], "pending_payment",
        "online payment is due"
    );
    assert!(pending["expires_at"].is_string());
    assert_ne!(
        pending["expires_at"], accepted["expires_at"],
        "a new deadline"
    );
    app.email_to("guest@example.com", "held for you for 15 minutes")
        .await;

    for booking in [&unanswered, &accepted] {
        lapse(&app, &booking["id"]).await;
    }
    let guests = app.bookings(&guest);
    for booking in [&unanswered, &accepted] {
        eventually(|| async { status(&guests, &booking["id"]).await == "expired" }).await;
    }
    assert_eq!(
        app.nights(&property, 3, 5).await,
        ["available", "available"]
    );
    let problem = assert_problem(
        hosts.accept(&unanswered["id"]).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    assert_eq!(problem["current_status"], "expired");
}
