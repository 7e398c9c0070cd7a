//! Idempotency keys: a repeated request gets the first answer, per user, for a day.

use reqwest::StatusCode;
use serde_json::Value;
use staybase::{db::Timestamp, on_db};
use time::Duration;

use super::{Market, count, market};
use crate::helpers::{PropertyPatch, Stay, assert_problem};

#[tokio::test]
async fn idempotency_keys_replay_the_first_answer() {
    let Market {
        app,
        host,
        guest,
        property,
        ..
    } = market().await;
    let mine = app.bookings(&guest);
    let missing = app
        .post_json(
            "/v1/t/acme/bookings",
            &Stay::days(3, 5).at(&property),
            Some(&guest.access_token),
        )
        .await;
    assert_problem(missing, StatusCode::BAD_REQUEST, "idempotency_key_required").await;
    assert_problem(
        mine.create_with_key("has spaces", &Stay::days(3, 5).at(&property))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_idempotency_key",
    )
    .await;

    let first = mine
        .create_with_key("key-1", &Stay::days(3, 5).at(&property))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let replay = mine
        .create_with_key("key-1", &Stay::days(3, 5).at(&property))
        .await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    assert_problem(
        mine.create_with_key("key-1", &Stay::days(7, 9).at(&property))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    // Keys are per user: another guest's "key-1" is a request of its own.
    let other = app.register("acme", "other@example.com", false).await;
    let theirs = app.bookings(&other);
    let created = theirs
        .create_with_key("key-1", &Stay::days(7, 9).at(&property))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    // A refusal is the first answer too: once the nights are free, the same key still gets
    // it, and only a new key books them.
    let refused = assert_problem(
        theirs
            .create_with_key("key-2", &Stay::days(4, 6).at(&property))
            .await,
        StatusCode::CONFLICT,
        "dates_unavailable",
    )
    .await;
    mine.cancelled(&first["id"]).await;
    let replayed = assert_problem(
        theirs
            .create_with_key("key-2", &Stay::days(4, 6).at(&property))
            .await,
        StatusCode::CONFLICT,
        "dates_unavailable",
    )
    .await;
    assert_eq!(replayed["detail"], refused["detail"]);
    assert_ne!(replayed["request_id"], refused["request_id"]);
    let fresh = theirs
        .create_with_key("key-2b", &Stay::days(4, 6).at(&property))
        .await;
    assert_eq!(fresh.status(), StatusCode::CREATED);
    // The first answer stands even when the listing has since left the market.
    let listings = app.properties(&host);
    listings
        .updated(&property, &PropertyPatch::status("unlisted"))
        .await;
    let replay = mine
        .create_with_key("key-1", &Stay::days(3, 5).at(&property))
        .await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.json::<Value>().await.unwrap()["id"], first["id"]);
    listings
        .updated(&property, &PropertyPatch::status("listed"))
        .await;

    // Concurrent requests with one key, through two instances: one booking, one answer.
    let replica = app.replica().await;
    let requests = (0..10).map(|i| {
        let through = match i % 2 {
            0 => app.bookings(&guest),
            _ => app.bookings(&guest).via(&replica),
        };
        let stay = Stay::days(12, 14).at(&property);
        async move { through.create_with_key("key-3", &stay).await }
    });
    let responses = futures_util::future::join_all(requests).await;
    let mut ids = std::collections::BTreeSet::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::CREATED);
        ids.insert(response.json::<Value>().await.unwrap()["id"].to_string());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    // After 24 hours a key is forgotten: reused with another body, it books anew.
    let guest_id = uuid::Uuid::parse_str(&guest.id).unwrap();
    let day_ago = Timestamp::now() - Duration::hours(25);
    on_db!(&app.state.db, |pool| {
        sqlx::query(
            "UPDATE idempotency_keys SET created_at = $1 WHERE user_id = $2 AND key = 'key-1'",
        )
        .bind(day_ago)
        .bind(guest_id)
        .execute(pool)
        .await
        .map(drop)
    })
    .unwrap();
    let anew = mine
        .create_with_key("key-1", &Stay::days(20, 22).at(&property))
        .await;
    assert_eq!(anew.status(), StatusCode::CREATED);
    assert!(anew.headers().get("idempotent-replayed").is_none());
    let count = count(&app, "SELECT COUNT(*) FROM bookings").await;
    assert_eq!(count, 5);
}

/// Keys recorded before bookings were stored as data hold the rendered answer; a retry within
/// the day still gets its booking, not an error.
#[tokio::test]
async fn answers_recorded_in_the_earlier_format_are_still_replayed() {
    let Market {
        app,
        guest,
        property,
        ..
    } = market().await;
    let mine = app.bookings(&guest);
    let first = mine
        .create_with_key("old-format", &Stay::days(3, 5).at(&property))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    on_db!(&app.state.db, |pool| {
        sqlx::query("UPDATE idempotency_keys SET response_body = $1 WHERE key = 'old-format'")
            .bind(first.to_string())
            .execute(pool)
            .await
            .map(drop)
    })
    .unwrap();
    let replay = mine
        .create_with_key("old-format", &Stay::days(3, 5).at(&property))
        .await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM bookings").await, 1);
}
