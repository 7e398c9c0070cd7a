//! Double-blind publication (the default): neither side of a stay sees the other's review
//! until both wrote theirs, or the window closed, when the clock's advance publishes the
//! lone one.

use reqwest::StatusCode;
use serde_json::json;

use super::{expect, id, ids, market};
use crate::helpers::{assert_invalid, assert_problem};

#[tokio::test]
async fn both_reviews_appear_when_the_second_is_written() {
    let market = market("double_blind").await;
    let app = &market.app;
    let property = market.property.as_str();
    let guest = app.register("acme", "guest@example.com", false).await;
    let other_host = app.register("acme", "other-host@example.com", true).await;
    let booking = market.stay(&guest, property, (1, 3)).await;

    // Before the stay is over the host cannot review its guest either.
    assert_problem(
        market.review_guest(&market.host, &booking, 5).await,
        StatusCode::FORBIDDEN,
        "review_not_allowed",
    )
    .await;
    market.advance_days(3).await;
    // Only the stay's host reviews its guest; guests have no right to.
    assert_problem(
        market.review_guest(&other_host, &booking, 5).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        market.review_guest(&guest, &booking, 5).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_invalid(
        market.review_guest(&market.host, &booking, 0).await,
        "rating",
    )
    .await;

    // The guest writes first: pending, seen by nobody else.
    let review = market.reviewed(&guest, property, 4).await;
    assert_eq!(review["status"], "pending");
    for viewer in [None, Some(&market.host), Some(&other_host)] {
        let page = market.reviews_as(viewer, property, "").await;
        assert_eq!(ids(&page), Vec::<String>::new());
        assert_eq!(page["summary"]["count"], 0);
        assert_eq!(page["summary"]["average"], json!(null));
    }
    // Its author and tenant admins read it; to anyone else it does not exist.
    for viewer in [&guest, &market.admin] {
        let seen = expect(
            market.get_review(Some(viewer), id(&review)).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(seen["status"], "pending");
    }
    for viewer in [None, Some(&market.host)] {
        assert_problem(
            market.get_review(viewer, id(&review)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    let shown = market.property(property).await;
    assert_eq!(
        (
            shown["average_rating"].clone(),
            shown["review_count"].clone()
        ),
        (json!(null), json!(0))
    );
    // The host cannot reply to what they cannot see.
    assert_problem(
        market.reply(&market.host, id(&review), "Thanks!").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // The host writes second: both appear at once.
    let of_guest = expect(
        market.review_guest(&market.host, &booking, 5).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(of_guest["status"], "published");
    assert_eq!(of_guest["guest_id"], guest.id);
    assert_eq!(of_guest["author"]["id"], market.host.id);
    assert_problem(
        market.review_guest(&market.host, &booking, 4).await,
        StatusCode::CONFLICT,
        "review_exists",
    )
    .await;
    let page = market.reviews(property).await;
    assert_eq!(ids(&page), [id(&review)]);
    assert_eq!(page["data"][0]["status"], "published");
    let seen = expect(market.get_review(None, id(&review)).await, StatusCode::OK).await;
    assert_eq!(seen["status"], "published");
    assert_eq!(page["summary"]["average"], 4.0);
    assert_eq!(market.property(property).await["review_count"], 1);
    let seen = market.reviews_of_guest(&other_host, &guest).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["id"], of_guest["id"]);
    assert_eq!(seen[0]["rating"], 5);
    // Guests do not read hosts' reviews of guests.
    let path = format!("/users/{}/reviews", guest.id);
    let response = app
        .client
        .get(app.url(&format!("/v1/t/acme{path}")))
        .bearer_auth(&guest.access_token)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn a_host_writing_first_waits_for_the_guest() {
    let market = market("double_blind").await;
    let app = &market.app;
    let guest = app.register("acme", "guest@example.com", false).await;
    let other_host = app.register("acme", "other-host@example.com", true).await;
    let booking = market.stay(&guest, &market.property, (1, 2)).await;
    market.advance_days(2).await;

    let of_guest = expect(
        market.review_guest(&market.host, &booking, 2).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(of_guest["status"], "pending");
    assert!(
        market
            .reviews_of_guest(&other_host, &guest)
            .await
            .is_empty()
    );
    assert!(
        market
            .reviews_of_guest(&market.admin, &guest)
            .await
            .is_empty()
    );

    let review = market.reviewed(&guest, &market.property, 5).await;
    assert_eq!(
        review["status"], "published",
        "the second side publishes both"
    );
    assert_eq!(ids(&market.reviews(&market.property).await), [id(&review)]);
    let seen = market.reviews_of_guest(&other_host, &guest).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["status"], "published");
}

#[tokio::test]
async fn lone_reviews_are_published_when_the_window_closes() {
    let market = market("double_blind").await;
    let app = &market.app;
    let guest = app.register("acme", "guest@example.com", false).await;
    let quiet = app.register("acme", "quiet@example.com", false).await;
    let other_host = app.register("acme", "other-host@example.com", true).await;
    market.stay(&guest, &market.property, (1, 2)).await;
    let quiet_stay = market.stay(&quiet, &market.property, (2, 3)).await;
    market.advance_days(3).await;

    // The guest of one stay and the host of another write; the other sides never do.
    let review = market.reviewed(&guest, &market.property, 3).await;
    assert_eq!(review["status"], "pending");
    let of_quiet = expect(
        market.review_guest(&market.host, &quiet_stay, 4).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(of_quiet["status"], "pending");

    // The first window (30 days after day 2) is still open on its last day, day 32.
    market.advance_days(29).await;
    assert_eq!(
        market.reviews(&market.property).await["summary"]["count"],
        0
    );
    market.advance_days(1).await;
    let page = market.reviews(&market.property).await;
    assert_eq!(ids(&page), [id(&review)]);
    assert_eq!(page["data"][0]["status"], "published");
    assert_eq!(
        market.property(&market.property).await["average_rating"],
        3.0
    );
    assert!(
        market
            .reviews_of_guest(&other_host, &quiet)
            .await
            .is_empty()
    );

    // The second closes a day later.
    market.advance_days(1).await;
    let seen = market.reviews_of_guest(&other_host, &quiet).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["id"], of_quiet["id"]);
}
