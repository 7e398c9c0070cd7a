//! Holding bookings never overlap: not under fifty racing requests through two replicas,
//! and on PostgreSQL not even for rows written past the service.

use reqwest::StatusCode;

use super::{Market, booked, count, market};
use crate::helpers::{Stay, assert_problem, expected_backend};

#[tokio::test]
async fn fifty_concurrent_overlapping_requests_make_one_booking() {
    let Market {
        app,
        host,
        property,
        ..
    } = market().await;
    let replica = app.replica().await;
    let mut guests = Vec::new();
    for n in 0..5 {
        guests.push(
            app.register("acme", &format!("g{n}@example.com"), false)
                .await,
        );
    }
    // Every stay is three nights starting on day 10, 11 or 12: each pair overlaps.
    let requests = (0..50).map(|i| {
        let guest = &guests[i as usize % guests.len()];
        let through = match i % 2 {
            0 => app.bookings(guest),
            _ => app.bookings(guest).via(&replica),
        };
        let check_in = 10 + (i % 3);
        let stay = Stay::days(check_in, check_in + 3).at(&property);
        let key = format!("race-{i}");
        async move { through.create_with_key(&key, &stay).await }
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
    let page = app.bookings(&host).page("role=host").await;
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
