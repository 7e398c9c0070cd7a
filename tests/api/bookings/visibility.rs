//! Who sees which bookings: guests their own, hosts their listings', admins all; filters
//! and pages of the list.

use reqwest::StatusCode;
use serde_json::Value;

use super::{Market, booked, listed_property, market};
use crate::helpers::{assert_problem, day};

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

    let (guests, hosts, admins) = (
        app.bookings(&guest),
        app.bookings(&host),
        app.bookings(&admin),
    );
    let ids = |page: Value| -> Vec<Value> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|booking| booking["id"].clone())
            .collect()
    };
    let page = guests.page("").await;
    assert_eq!(ids(page), [second["id"].clone(), mine["id"].clone()]);
    let page = hosts.page("role=host").await;
    assert_eq!(ids(page), [mine["id"].clone()]);
    let page = app.bookings(&other_host).page("role=host").await;
    assert_eq!(ids(page), [theirs["id"].clone(), second["id"].clone()]);
    let page = admins.page("role=admin").await;
    assert_eq!(ids(page).len(), 3);
    assert_problem(
        hosts.list("role=admin").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        guests.list("role=host").await,
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
    guests.cancel(&second["id"]).await;
    let page = guests.page("status=cancelled").await;
    assert_eq!(ids(page), [second["id"].clone()]);
    let page = admins
        .page("role=admin&status=pending_payment,cancelled")
        .await;
    assert_eq!(ids(page).len(), 3);
    let page = admins
        .page(&format!("role=admin&from={}&to={}", day(9), day(11)))
        .await;
    assert_eq!(ids(page), [theirs["id"].clone()]);
    let first_page = admins.page("role=admin&limit=2").await;
    assert_eq!(ids(first_page.clone()).len(), 2);
    let cursor = first_page["next_cursor"].as_str().unwrap().to_owned();
    let next = admins
        .page(&format!("role=admin&limit=2&cursor={cursor}"))
        .await;
    assert_eq!(ids(next.clone()), [mine["id"].clone()]);
    assert!(next["next_cursor"].is_null());
    for bad in ["status=paid", "from=tomorrow", "cursor=nope", "limit=0"] {
        assert_problem(
            guests.list(bad).await,
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
        let response = app.bookings(account).get(&mine["id"]).await;
        if visible {
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.json::<Value>().await.unwrap()["id"], mine["id"]);
        } else {
            assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
        }
    }
    assert_problem(
        app.bookings(&other_guest).cancel(&mine["id"]).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
