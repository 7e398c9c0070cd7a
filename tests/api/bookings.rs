//! Bookings through HTTP: the state machine, idempotency keys, who sees what, expiry and
//! completion jobs, notifications, and the guarantee that holding bookings never overlap.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use staybase::{
    bookings::jobs::CompleteStays,
    db::Timestamp,
    jobs::{self, EnqueueOptions},
    on_db,
};
use time::{Duration, OffsetDateTime};

use crate::helpers::{
    Account, TestApp, assert_problem, day, eventually, expected_backend, spawn_app,
};

/// A listed property of `host` at EUR 100 a night with a EUR 50 cleaning fee.
async fn listed_property(app: &TestApp, host: &Account, name: &str) -> String {
    let body = json!({
        "name": name, "description": "d",
        "location": { "address": "a", "city": "Nice", "country": "FR", "lat": 43.7, "lng": 7.26 },
        "nightly_price": { "amount": 10000, "currency": "EUR" },
        "cleaning_fee": { "amount": 5000, "currency": "EUR" },
        "max_guests": 4, "min_nights": 1, "max_nights": 30, "status": "listed"
    });
    let response = app
        .post_json("/v1/t/acme/properties", &body, Some(&host.access_token))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn book_at(
    app: &TestApp,
    base: &str,
    guest: &Account,
    (property, check_in, check_out): (&str, i64, i64),
    key: &str,
) -> Response {
    app.client
        .post(format!("{base}/v1/t/acme/bookings"))
        .bearer_auth(&guest.access_token)
        .header("Idempotency-Key", key)
        .json(&json!({
            "property_id": property, "check_in": day(check_in), "check_out": day(check_out), "guests": 2
        }))
        .send()
        .await
        .unwrap()
}

async fn book(
    app: &TestApp,
    guest: &Account,
    property: &str,
    (check_in, check_out): (i64, i64),
) -> Response {
    let key = uuid::Uuid::now_v7().to_string();
    book_at(
        app,
        &app.url(""),
        guest,
        (property, check_in, check_out),
        &key,
    )
    .await
}

async fn booked(
    app: &TestApp,
    guest: &Account,
    property: &str,
    stay: (i64, i64),
    status: &str,
) -> Value {
    let response = book(app, guest, property, stay).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let booking: Value = response.json().await.unwrap();
    assert_eq!(booking["status"], status, "{booking}");
    booking
}

/// The number a `SELECT COUNT(*)` query gives.
async fn count(app: &TestApp, sql: &str) -> i64 {
    on_db!(&app.state.db, |pool| {
        sqlx::query_scalar(sql).fetch_one(pool).await
    })
    .unwrap()
}

/// Lists or unlists the host's property.
async fn set_status(app: &TestApp, host: &Account, property: &str, status: &str) {
    let response = app
        .client
        .patch(app.url(&format!("/v1/t/acme/properties/{property}")))
        .bearer_auth(&host.access_token)
        .json(&json!({ "status": status }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

async fn post(app: &TestApp, path: &str, token: &str) -> Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn move_booking(app: &TestApp, id: &Value, action: &str, account: &Account) -> Response {
    post(
        app,
        &format!("/v1/t/acme/bookings/{}/{action}", id.as_str().unwrap()),
        &account.access_token,
    )
    .await
}

/// The booking after a move that must succeed.
async fn moved(app: &TestApp, id: &Value, action: &str, account: &Account) -> Value {
    let response = move_booking(app, id, action, account).await;
    assert_eq!(response.status(), StatusCode::OK, "{action}");
    response.json().await.unwrap()
}

async fn get_booking(app: &TestApp, id: &Value, account: &Account) -> Response {
    app.get_with(
        &format!("/v1/t/acme/bookings/{}", id.as_str().unwrap()),
        &account.access_token,
    )
    .await
}

async fn set_settings(app: &TestApp, admin: &Account, settings: Value) {
    let response = app
        .client
        .patch(app.url("/v1/t/acme/settings"))
        .bearer_auth(&admin.access_token)
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

async fn nights(app: &TestApp, property: &str, from: i64, to: i64) -> Vec<String> {
    let body: Value = app
        .get(&format!(
            "/v1/t/acme/properties/{property}/availability?from={}&to={}",
            day(from),
            day(to)
        ))
        .await
        .json()
        .await
        .unwrap();
    body["nights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|night| night["status"].as_str().unwrap().to_owned())
        .collect()
}

struct Market {
    app: TestApp,
    admin: Account,
    host: Account,
    guest: Account,
    property: String,
}

async fn market() -> Market {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let property = listed_property(&app, &host, "Loft").await;
    Market {
        app,
        admin,
        host,
        guest,
        property,
    }
}

#[tokio::test]
async fn an_instant_booking_holds_its_nights_at_the_quoted_price() {
    let Market {
        app,
        admin,
        guest,
        property,
        ..
    } = market().await;
    set_settings(
        &app,
        &admin,
        json!({ "platform_fee_bps": 1000, "tax_bps": 500 }),
    )
    .await;
    let quote: Value = app
        .post_json(
            &format!("/v1/t/acme/properties/{property}/quote"),
            &json!({ "check_in": day(10), "check_out": day(13), "guests": 2 }),
            None,
        )
        .await
        .json()
        .await
        .unwrap();

    let booking = booked(&app, &guest, &property, (10, 13), "pending_payment").await;
    assert_eq!(booking["line_items"], quote["line_items"]);
    assert_eq!(booking["total"], quote["total"]);
    assert_eq!(booking["total"]["currency"], "EUR");
    assert_eq!(booking["nights"], 3);
    assert_eq!(booking["guest_id"], guest.id.as_str());
    assert_eq!(booking["property_name"], "Loft");
    assert_eq!(booking["cancellation_policy"], "moderate");
    assert!(booking["cancellation"].is_null());
    assert!(booking["expires_at"].is_string(), "an unpaid hold lapses");
    assert_eq!(booking["history"][0]["status"], "pending_payment");
    assert_eq!(booking["history"][0]["by"], "guest");

    // Its nights are booked everywhere availability is read.
    assert_eq!(
        nights(&app, &property, 9, 14).await,
        ["available", "booked", "booked", "booked", "available"]
    );
    let search: Value = app
        .get(&format!(
            "/v1/t/acme/properties?check_in={}&check_out={}",
            day(12),
            day(15)
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(search["data"], json!([]), "the date filter skips it");
    let quote_again = app
        .post_json(
            &format!("/v1/t/acme/properties/{property}/quote"),
            &json!({ "check_in": day(12), "check_out": day(15), "guests": 2 }),
            None,
        )
        .await;
    assert_problem(quote_again, StatusCode::CONFLICT, "dates_unavailable").await;
    let other_guest = app.register("acme", "other@example.com", false).await;
    assert_problem(
        book(&app, &other_guest, &property, (12, 15)).await,
        StatusCode::CONFLICT,
        "dates_unavailable",
    )
    .await;
    // Check-out is exclusive: the next stay may start on the day this one ends.
    booked(&app, &other_guest, &property, (13, 15), "pending_payment").await;

    let owned: Value = app
        .get_with(
            &format!("/v1/t/acme/properties/{property}"),
            &admin.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    let feed = app
        .get(owned["ical_export_url"].as_str().unwrap())
        .await
        .text()
        .await
        .unwrap();
    let compact = |offset| day(offset).replace('-', "");
    assert!(feed.contains(&format!("DTSTART;VALUE=DATE:{}", compact(10))));
    assert!(feed.contains(&format!("DTEND;VALUE=DATE:{}", compact(13))));

    let events = count(
        &app,
        "SELECT COUNT(*) FROM events WHERE kind = 'booking.created'",
    )
    .await;
    assert_eq!(events, 2);
    app.email_to("guest@example.com", "held for you for 15 minutes")
        .await;
    app.email_to("guest@example.com", "Complete your booking of Loft")
        .await;
}

#[tokio::test]
async fn stays_are_checked_before_they_are_booked() {
    let Market {
        app,
        admin,
        host,
        guest,
        property,
    } = market().await;
    let body = |property: &str, check_in: String, check_out: String, guests: u32| json!({ "property_id": property, "check_in": check_in, "check_out": check_out, "guests": guests });
    let send = |body: Value, token: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/v1/t/acme/bookings"))
                .bearer_auth(token)
                .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let token = guest.access_token.clone();
    let problem = assert_problem(
        send(body(&property, day(-1), day(2), 2), token.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "check_in");
    let problem = assert_problem(
        send(body(&property, day(3), day(5), 9), token.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "guests");
    let problem = assert_problem(
        send(body(&property, day(5), day(3), 2), token.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "check_out");
    let problem = assert_problem(
        send(
            body(&property, day(3), day(5), 2),
            host.access_token.clone(),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "property_id");
    assert_problem(
        send(
            body(&uuid::Uuid::now_v7().to_string(), day(3), day(5), 2),
            token.clone(),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    set_status(&app, &host, &property, "unlisted").await;
    assert_problem(
        send(body(&property, day(3), day(5), 2), token.clone()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    set_status(&app, &host, &property, "listed").await;

    // Blocked nights cannot be booked, and booked nights cannot be blocked.
    let blocked = app
        .post_json(
            &format!("/v1/t/acme/properties/{property}/blocked-dates"),
            &json!({ "start": day(20), "end": day(22) }),
            Some(&host.access_token),
        )
        .await;
    assert_eq!(blocked.status(), StatusCode::CREATED);
    assert_problem(
        send(body(&property, day(21), day(23), 2), token.clone()).await,
        StatusCode::CONFLICT,
        "dates_unavailable",
    )
    .await;
    booked(&app, &guest, &property, (3, 5), "pending_payment").await;
    let overlapping_block = app
        .post_json(
            &format!("/v1/t/acme/properties/{property}/blocked-dates"),
            &json!({ "start": day(4), "end": day(6) }),
            Some(&host.access_token),
        )
        .await;
    assert_problem(overlapping_block, StatusCode::CONFLICT, "dates_booked").await;
    // A property with upcoming bookings stays until they are cancelled.
    let delete = app
        .client
        .delete(app.url(&format!("/v1/t/acme/properties/{property}")))
        .bearer_auth(&admin.access_token)
        .send()
        .await
        .unwrap();
    assert_problem(delete, StatusCode::CONFLICT, "property_has_bookings").await;
    assert_problem(
        app.post_json(
            "/v1/t/acme/bookings",
            &body(&property, day(8), day(9), 1),
            None,
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "authentication_required",
    )
    .await;
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_answer() {
    let Market {
        app,
        host,
        guest,
        property,
        ..
    } = market().await;
    let base = app.url("");
    let missing = app
        .post_json(
            "/v1/t/acme/bookings",
            &json!({ "property_id": property, "check_in": day(3), "check_out": day(5), "guests": 2 }),
            Some(&guest.access_token),
        )
        .await;
    assert_problem(missing, StatusCode::BAD_REQUEST, "idempotency_key_required").await;
    assert_problem(
        book_at(&app, &base, &guest, (&property, 3, 5), "has spaces").await,
        StatusCode::BAD_REQUEST,
        "invalid_idempotency_key",
    )
    .await;

    let first = book_at(&app, &base, &guest, (&property, 3, 5), "key-1").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let replay = book_at(&app, &base, &guest, (&property, 3, 5), "key-1").await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    assert_problem(
        book_at(&app, &base, &guest, (&property, 7, 9), "key-1").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    // Keys are per user: another guest's "key-1" is a request of its own.
    let other = app.register("acme", "other@example.com", false).await;
    let theirs = book_at(&app, &base, &other, (&property, 7, 9), "key-1").await;
    assert_eq!(theirs.status(), StatusCode::CREATED);
    // A refusal is the first answer too: once the nights are free, the same key still gets
    // it, and only a new key books them.
    let refused = assert_problem(
        book_at(&app, &base, &other, (&property, 4, 6), "key-2").await,
        StatusCode::CONFLICT,
        "dates_unavailable",
    )
    .await;
    moved(&app, &first["id"], "cancel", &guest).await;
    let replayed = assert_problem(
        book_at(&app, &base, &other, (&property, 4, 6), "key-2").await,
        StatusCode::CONFLICT,
        "dates_unavailable",
    )
    .await;
    assert_eq!(replayed["detail"], refused["detail"]);
    assert_ne!(replayed["request_id"], refused["request_id"]);
    let fresh = book_at(&app, &base, &other, (&property, 4, 6), "key-2b").await;
    assert_eq!(fresh.status(), StatusCode::CREATED);
    // The first answer stands even when the listing has since left the market.
    set_status(&app, &host, &property, "unlisted").await;
    let replay = book_at(&app, &base, &guest, (&property, 3, 5), "key-1").await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.json::<Value>().await.unwrap()["id"], first["id"]);
    set_status(&app, &host, &property, "listed").await;

    // Concurrent requests with one key, through two instances: one booking, one answer.
    let replica = app.replica().await;
    let requests = (0..10).map(|i| {
        let base = if i % 2 == 0 { &base } else { &replica };
        book_at(&app, base, &guest, (&property, 12, 14), "key-3")
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
    let anew = book_at(&app, &base, &guest, (&property, 20, 22), "key-1").await;
    assert_eq!(anew.status(), StatusCode::CREATED);
    assert!(anew.headers().get("idempotent-replayed").is_none());
    let count = count(&app, "SELECT COUNT(*) FROM bookings").await;
    assert_eq!(count, 5);
}

#[tokio::test]
async fn hosts_answer_requests_and_illegal_moves_name_the_current_state() {
    let Market {
        app,
        admin,
        host,
        guest,
        property,
    } = market().await;
    set_settings(
        &app,
        &admin,
        json!({ "booking_mode": "request", "payment_collection": "at_property" }),
    )
    .await;
    let request = booked(&app, &guest, &property, (5, 8), "requested").await;
    let id = &request["id"];
    assert!(
        request["expires_at"].is_string(),
        "an unanswered request lapses"
    );
    app.email_to("host@example.com", "New booking request for Loft")
        .await;
    app.email_to("host@example.com", "Accept or decline within 24 hours")
        .await;
    app.email_to("guest@example.com", "Your request for Loft was sent")
        .await;
    assert_eq!(
        nights(&app, &property, 5, 6).await,
        ["booked"],
        "a request holds its nights"
    );

    let refused = move_booking(&app, id, "accept", &guest).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let stranger = app.register("acme", "stranger@example.com", true).await;
    assert_problem(
        move_booking(&app, id, "accept", &stranger).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let accepted = move_booking(&app, id, "accept", &host).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let accepted: Value = accepted.json().await.unwrap();
    assert_eq!(accepted["status"], "confirmed");
    assert!(accepted["expires_at"].is_null());
    let statuses: Vec<&str> = accepted["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["requested", "confirmed"]);
    assert_eq!(accepted["history"][1]["by"], "host");
    assert_eq!(accepted["history"][1]["user_id"], host.id.as_str());
    app.email_to("guest@example.com", "Your booking of Loft is confirmed")
        .await;
    app.email_to("host@example.com", "New booking for Loft")
        .await;

    for action in ["accept", "decline"] {
        let problem = assert_problem(
            move_booking(&app, id, action, &host).await,
            StatusCode::CONFLICT,
            "invalid_transition",
        )
        .await;
        assert_eq!(problem["current_status"], "confirmed");
    }

    let second = booked(&app, &guest, &property, (10, 12), "requested").await;
    let declined = move_booking(&app, &second["id"], "decline", &admin).await;
    assert_eq!(declined.status(), StatusCode::OK);
    let declined: Value = declined.json().await.unwrap();
    assert_eq!(declined["status"], "declined");
    assert_eq!(declined["history"][1]["by"], "admin");
    assert_eq!(
        nights(&app, &property, 10, 12).await,
        ["available", "available"],
        "a declined request frees its nights"
    );
    app.email_to("guest@example.com", "declined your request")
        .await;
    for action in ["cancel", "accept"] {
        let problem = assert_problem(
            move_booking(&app, &second["id"], action, &guest).await,
            if action == "cancel" {
                StatusCode::CONFLICT
            } else {
                StatusCode::FORBIDDEN
            },
            if action == "cancel" {
                "invalid_transition"
            } else {
                "forbidden"
            },
        )
        .await;
        if action == "cancel" {
            assert_eq!(problem["current_status"], "declined");
        }
    }
    // Cancelling a request releases its nights too.
    let third = booked(&app, &guest, &property, (10, 12), "requested").await;
    let cancelled: Value = moved(&app, &third["id"], "cancel", &guest).await;
    assert_eq!(cancelled["status"], "cancelled");
    // A tenant admin's own listing (admins list without the host role): they answer as its host.
    let admins = listed_property(&app, &admin, "Admin's").await;
    let request = booked(&app, &guest, &admins, (10, 12), "requested").await;
    let answered = moved(&app, &request["id"], "accept", &admin).await;
    assert_eq!(answered["history"][1]["by"], "host");
    let hosted: Value = app
        .get_with("/v1/t/acme/bookings?role=host", &admin.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hosted["data"][0]["id"], request["id"]);
    assert_eq!(
        cancelled["cancellation"]["refund"]["amount"], 0,
        "nothing was charged"
    );
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
    set_settings(
        &app,
        &admin,
        json!({ "payment_collection": "at_property", "cancellation_policy": "moderate" }),
    )
    .await;
    // Three nights at 100 and cleaning at 50: 350.00, of which half is refundable under
    // the moderate policy three days before check-in.
    let close = booked(&app, &guest, &property, (3, 6), "confirmed").await;
    assert_eq!(close["total"]["amount"], 35000);
    let far = booked(&app, &guest, &property, (20, 22), "confirmed").await;
    let hosts_cancel = booked(&app, &guest, &property, (2, 3), "confirmed").await;
    // A later policy change does not touch bookings already made.
    set_settings(&app, &admin, json!({ "cancellation_policy": "strict" })).await;
    let late = booked(&app, &guest, &property, (6, 8), "confirmed").await;
    assert_eq!(late["cancellation_policy"], "strict");

    let cancelled: Value = moved(&app, &close["id"], "cancel", &guest).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancellation_policy"], "moderate");
    assert_eq!(
        cancelled["cancellation"],
        json!({ "by": "guest", "refund": { "amount": 17500, "currency": "EUR" } })
    );
    let far: Value = moved(&app, &far["id"], "cancel", &guest).await;
    assert_eq!(
        far["cancellation"]["refund"]["amount"], 25000,
        "moderate, 20 days ahead"
    );
    let late: Value = moved(&app, &late["id"], "cancel", &guest).await;
    assert_eq!(
        late["cancellation"]["refund"]["amount"], 0,
        "strict, 6 days ahead"
    );
    let by_host: Value = moved(&app, &hosts_cancel["id"], "cancel", &host).await;
    assert_eq!(
        by_host["cancellation"],
        json!({ "by": "host", "refund": { "amount": 15000, "currency": "EUR" } })
    );
    let problem = assert_problem(
        move_booking(&app, &close["id"], "cancel", &guest).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    assert_eq!(problem["current_status"], "cancelled");
    assert_eq!(nights(&app, &property, 3, 4).await, ["available"]);

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

#[tokio::test]
async fn guests_hosts_and_admins_see_their_own_bookings() {
    let Market {
        app,
        admin,
        host,
        guest,
        property,
    } = market().await;
    let other_host = app.register("acme", "host2@example.com", true).await;
    let other_property = listed_property(&app, &other_host, "Barn").await;
    let other_guest = app.register("acme", "guest2@example.com", false).await;
    let mine = booked(&app, &guest, &property, (3, 5), "pending_payment").await;
    let second = booked(&app, &guest, &other_property, (3, 5), "pending_payment").await;
    let theirs = booked(
        &app,
        &other_guest,
        &other_property,
        (10, 12),
        "pending_payment",
    )
    .await;

    let list = |query: &'static str, account: &Account| {
        let app = &app;
        let token = account.access_token.clone();
        async move {
            app.get_with(&format!("/v1/t/acme/bookings{query}"), &token)
                .await
        }
    };
    let ids = |page: Value| -> Vec<Value> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|booking| booking["id"].clone())
            .collect()
    };
    let page: Value = list("", &guest).await.json().await.unwrap();
    assert_eq!(ids(page), [second["id"].clone(), mine["id"].clone()]);
    let page: Value = list("?role=host", &host).await.json().await.unwrap();
    assert_eq!(ids(page), [mine["id"].clone()]);
    let page: Value = list("?role=host", &other_host).await.json().await.unwrap();
    assert_eq!(ids(page), [theirs["id"].clone(), second["id"].clone()]);
    let page: Value = list("?role=admin", &admin).await.json().await.unwrap();
    assert_eq!(ids(page).len(), 3);
    assert_problem(
        list("?role=admin", &host).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        list("?role=host", &guest).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get("/v1/t/acme/bookings").await,
        StatusCode::UNAUTHORIZED,
        "authentication_required",
    )
    .await;

    // Filters and pages.
    move_booking(&app, &second["id"], "cancel", &guest).await;
    let page: Value = list("?status=cancelled", &guest)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(page), [second["id"].clone()]);
    let page: Value = list("?role=admin&status=pending_payment,cancelled", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(page).len(), 3);
    let query: &'static str =
        Box::leak(format!("?role=admin&from={}&to={}", day(9), day(11)).into_boxed_str());
    let page: Value = list(query, &admin).await.json().await.unwrap();
    assert_eq!(ids(page), [theirs["id"].clone()]);
    let first_page: Value = list("?role=admin&limit=2", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(first_page.clone()).len(), 2);
    let cursor = first_page["next_cursor"].as_str().unwrap().to_owned();
    let next: Value = app
        .get_with(
            &format!("/v1/t/acme/bookings?role=admin&limit=2&cursor={cursor}"),
            &admin.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(next.clone()), [mine["id"].clone()]);
    assert!(next["next_cursor"].is_null());
    for bad in ["?status=paid", "?from=tomorrow", "?cursor=nope", "?limit=0"] {
        assert_problem(
            list(bad, &guest).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }

    // One booking, three views of it.
    for (account, visible) in [
        (&guest, true),
        (&host, true),
        (&admin, true),
        (&other_guest, false),
        (&other_host, false),
    ] {
        let response = get_booking(&app, &mine["id"], account).await;
        if visible {
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.json::<Value>().await.unwrap()["id"], mine["id"]);
        } else {
            assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
        }
    }
    assert_problem(
        move_booking(&app, &mine["id"], "cancel", &other_guest).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

/// Moves a booking's deadline and its expiry job to now, as if its hold had run out.
async fn lapse(app: &TestApp, id: &Value) {
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

#[tokio::test]
async fn an_unpaid_hold_expires_and_frees_its_nights() {
    let Market {
        app,
        guest,
        property,
        ..
    } = market().await;
    let hold = booked(&app, &guest, &property, (4, 6), "pending_payment").await;
    let other = app.register("acme", "other@example.com", false).await;
    assert_eq!(
        book(&app, &other, &property, (5, 7)).await.status(),
        StatusCode::CONFLICT
    );
    lapse(&app, &hold["id"]).await;
    eventually(|| async {
        let booking: Value = get_booking(&app, &hold["id"], &guest)
            .await
            .json()
            .await
            .unwrap();
        booking["status"] == "expired"
    })
    .await;
    let expired: Value = get_booking(&app, &hold["id"], &guest)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(expired["history"][1]["by"], "system");
    assert!(expired["history"][1]["user_id"].is_null());
    assert_eq!(
        nights(&app, &property, 4, 6).await,
        ["available", "available"]
    );
    booked(&app, &other, &property, (5, 7), "pending_payment").await;
    app.email_to("guest@example.com", "has expired").await;
    assert_problem(
        move_booking(&app, &hold["id"], "cancel", &guest).await,
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
    set_settings(&app, &admin, json!({ "payment_collection": "at_property" })).await;
    let past = booked(&app, &guest, &property, (2, 4), "confirmed").await;
    let future = booked(&app, &guest, &property, (6, 8), "confirmed").await;
    let id = uuid::Uuid::parse_str(past["id"].as_str().unwrap()).unwrap();
    let today = OffsetDateTime::now_utc().date();
    on_db!(&app.state.db, |pool| {
        sqlx::query("UPDATE bookings SET check_in = $1, check_out = $2 WHERE id = $3")
            .bind(today - Duration::days(3))
            .bind(today)
            .bind(id)
            .execute(pool)
            .await
            .map(drop)
    })
    .unwrap();
    // Its check-out day has come: too late to cancel, even before the job completes it.
    assert_problem(
        move_booking(&app, &past["id"], "cancel", &admin).await,
        StatusCode::CONFLICT,
        "stay_ended",
    )
    .await;
    let mut tx = app.state.db.begin().await.unwrap();
    jobs::enqueue(&mut tx, &CompleteStays {}, EnqueueOptions::default())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    eventually(|| async {
        let booking: Value = get_booking(&app, &past["id"], &guest)
            .await
            .json()
            .await
            .unwrap();
        booking["status"] == "completed"
    })
    .await;
    let upcoming: Value = get_booking(&app, &future["id"], &guest)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(upcoming["status"], "confirmed");
    let problem = assert_problem(
        move_booking(&app, &past["id"], "cancel", &guest).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    assert_eq!(problem["current_status"], "completed");
}

#[tokio::test]
async fn fifty_concurrent_overlapping_requests_make_one_booking() {
    let Market {
        app,
        host,
        property,
        ..
    } = market().await;
    let replica = app.replica().await;
    let base = app.url("");
    let mut guests = Vec::new();
    for n in 0..5 {
        guests.push(
            app.register("acme", &format!("g{n}@example.com"), false)
                .await,
        );
    }
    // Every stay is three nights starting on day 10, 11 or 12: each pair overlaps.
    let requests = (0..50).map(|i| {
        let base = if i % 2 == 0 { &base } else { &replica };
        let check_in = 10 + (i % 3);
        let key = format!("race-{i}");
        let guest = &guests[i as usize % guests.len()];
        let (app, property) = (&app, &property);
        async move { book_at(app, base, guest, (property, check_in, check_in + 3), &key).await }
    });
    let responses = futures_util::future::join_all(requests).await;
    let mut created = 0;
    let mut conflicts = 0;
    for response in responses {
        match response.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                assert_problem(response, StatusCode::CONFLICT, "dates_unavailable").await;
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
        }
    }
    assert_eq!((created, conflicts), (1, 49));
    let holding = count(&app, "SELECT COUNT(*) FROM bookings WHERE status IN ('requested', 'pending_payment', 'confirmed')").await;
    assert_eq!(holding, 1);
    let page: Value = app
        .get_with("/v1/t/acme/bookings?role=host", &host.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn postgres_refuses_overlapping_holding_stays_by_itself() {
    if expected_backend() != staybase::config::DatabaseKind::Postgres {
        return;
    }
    let Market {
        app,
        guest,
        property,
        ..
    } = market().await;
    let booking = booked(&app, &guest, &property, (3, 6), "pending_payment").await;
    let id = uuid::Uuid::parse_str(booking["id"].as_str().unwrap()).unwrap();
    let staybase::db::Db::Postgres(pool) = &app.state.db else {
        unreachable!("the backend is PostgreSQL");
    };
    // A copy of the row under another id, written past the service's checks.
    let copy = |status: &'static str| {
        sqlx::query(
            "INSERT INTO bookings (tenant_id, id, property_id, guest_id, check_in, check_out, \
             guests, status, currency, total, line_items, cancellation_policy, expires_at, \
             history, created_at, updated_at) \
             SELECT tenant_id, $2, property_id, guest_id, check_in + 1, check_out + 1, guests, $3, \
             currency, total, line_items, cancellation_policy, expires_at, history, created_at, \
             updated_at FROM bookings WHERE id = $1",
        )
        .bind(id)
        .bind(uuid::Uuid::now_v7())
        .bind(status)
    };
    let err = copy("confirmed").execute(pool).await.unwrap_err();
    assert!(staybase::db::is_exclusion_violation(&err), "{err}");
    copy("cancelled")
        .execute(pool)
        .await
        .expect("cancelled stays hold nothing");
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
    set_settings(&app, &admin, json!({ "booking_mode": "request" })).await;
    let accepted = booked(&app, &guest, &property, (3, 5), "requested").await;
    let unanswered = booked(&app, &guest, &property, (8, 10), "requested").await;

    let pending = moved(&app, &accepted["id"], "accept", &host).await;
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
    for booking in [&unanswered, &accepted] {
        eventually(|| async {
            let current: Value = get_booking(&app, &booking["id"], &guest)
                .await
                .json()
                .await
                .unwrap();
            current["status"] == "expired"
        })
        .await;
    }
    assert_eq!(
        nights(&app, &property, 3, 5).await,
        ["available", "available"]
    );
    let problem = assert_problem(
        move_booking(&app, &unanswered["id"], "accept", &host).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    assert_eq!(problem["current_status"], "expired");
}
