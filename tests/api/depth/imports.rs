//! A calendar import that overlaps a booking here alerts the host: the nights were sold on
//! another channel too.

use reqwest::StatusCode;
use serde_json::{Value, json};
use staybase::{
    calendar::jobs::SyncCalendarImport,
    db::Timestamp,
    jobs::{self, EnqueueOptions},
    on_db,
};

use super::listed_with;
use crate::{
    calendar::{ics_day, serve_feed},
    helpers::{Stay, TestApp, eventually, spawn_app_with},
};

async fn conflicts(app: &TestApp) -> i64 {
    on_db!(&app.state.db, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE kind = 'calendar_import.conflict'")
            .fetch_one(pool)
            .await
    })
    .unwrap()
}

#[tokio::test]
async fn an_import_overlapping_a_booking_alerts_the_host_once() {
    let app = spawn_app_with(|config| {
        config.outbound_allow = "127.0.0.0/8".into();
        config.workers = 1;
        config.job_poll_interval_ms = 20;
    })
    .await;
    let tenant = app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let property = listed_with(&app, &host, json!({})).await;
    let booking = app
        .bookings(&guest)
        .created(&Stay::days(5, 8).at(&property))
        .await;
    let event = |start: i64, end: i64| {
        format!(
            "BEGIN:VEVENT\r\nUID:{start}\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nEND:VEVENT\r\n",
            ics_day(start),
            ics_day(end)
        )
    };
    // One busy range overlaps the booking, another does not.
    let feed = serve_feed(format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other//EN\r\n{}{}END:VCALENDAR\r\n",
        event(7, 10),
        event(20, 22)
    ))
    .await;
    let response = app
        .post_json(
            &format!("/v1/t/acme/properties/{property}/calendar-imports"),
            &json!({ "url": feed }),
            Some(&host.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let import: Value = response.json().await.unwrap();

    let email = app
        .email_to(
            "host@example.com",
            "Subject: Possible double booking at Loft",
        )
        .await;
    assert!(email.contains(booking["id"].as_str().unwrap()), "{email}");
    assert_eq!(conflicts(&app).await, 1);

    // Fetched again while the overlap lasts: no second alert.
    let import_id = uuid::Uuid::parse_str(import["id"].as_str().unwrap()).unwrap();
    let mut tx = app.state.db.begin().await.unwrap();
    jobs::enqueue(
        &mut tx,
        &SyncCalendarImport {
            tenant: tenant.id.0,
            import: import_id,
        },
        EnqueueOptions {
            tenant: Some(tenant.id),
            ..EnqueueOptions::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let enqueued_at = Timestamp::now();
    eventually(|| async {
        let synced: Option<Timestamp> = on_db!(&app.state.db, |pool| {
            sqlx::query_scalar("SELECT last_synced_at FROM calendar_imports WHERE id = $1")
                .bind(import_id)
                .fetch_one(pool)
                .await
        })
        .unwrap();
        synced.is_some_and(|at| at > enqueued_at)
    })
    .await;
    assert_eq!(conflicts(&app).await, 1);
}
