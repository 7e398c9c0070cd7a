//! A property's own time zone: its "today" around midnight, beside a property in the
//! marketplace's zone.

use reqwest::StatusCode;
use serde_json::json;
use time::macros::date;

use super::{advance_to, json_of, listed_with, nights};
use crate::helpers::{SettingsPatch, Stay, assert_invalid, spawn_app};

#[tokio::test]
async fn a_propertys_today_is_the_date_in_its_own_time_zone() {
    let app = spawn_app().await;
    app.create_test_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let auckland = listed_with(
        &app,
        &host,
        json!({ "timezone": "Pacific/Auckland", "advance_notice_hours": 1 }),
    )
    .await;
    let utc = listed_with(&app, &host, json!({ "advance_notice_hours": 1 })).await;

    // 10:30 UTC on 10 January is 23:30 in Auckland (UTC+13): its check-in at 15:00 has passed.
    advance_to(&app, &admin, "2027-01-10T10:30:00Z").await;
    let tonight = Stay::new(date!(2027 - 01 - 10), date!(2027 - 01 - 12), 2);
    json_of(app.quote(&utc, &tonight).await, StatusCode::OK).await;
    json_of(
        app.quote(
            &auckland,
            &Stay::new(date!(2027 - 01 - 11), date!(2027 - 01 - 13), 2),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        nights(
            &app,
            &auckland,
            (date!(2027 - 01 - 10), date!(2027 - 01 - 12))
        )
        .await,
        ["unavailable:advance_notice", "available"]
    );

    // Past midnight in Auckland (11:30 UTC): 10 January is yesterday there, today in UTC.
    advance_to(&app, &admin, "2027-01-10T11:30:00Z").await;
    assert_invalid(app.quote(&auckland, &tonight).await, "check_in").await;
    json_of(app.quote(&utc, &tonight).await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_stay_completes_at_the_propertys_check_out_time() {
    let app = spawn_app().await;
    app.create_test_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    app.set_settings(
        &admin,
        &SettingsPatch {
            payment_collection: Some("at_property"),
            ..SettingsPatch::default()
        },
    )
    .await;
    let property = listed_with(
        &app,
        &host,
        json!({ "timezone": "Europe/Paris", "check_out_time": "10:00" }),
    )
    .await;
    advance_to(&app, &admin, "2027-03-20T12:00:00Z").await;
    let stay = app
        .bookings(&guest)
        .created(&Stay::new(date!(2027 - 03 - 25), date!(2027 - 03 - 27), 2).at(&property))
        .await;
    assert_eq!(stay["status"], "confirmed");
    let status = || async {
        app.bookings(&guest).fetched(&stay["id"]).await["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // 10:00 in Paris (winter time) is 09:00 UTC: the check-out day alone does not complete it.
    advance_to(&app, &admin, "2027-03-27T08:59:00Z").await;
    assert_eq!(status().await, "confirmed");
    advance_to(&app, &admin, "2027-03-27T09:00:00Z").await;
    assert_eq!(status().await, "completed");
}
