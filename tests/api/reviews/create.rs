//! Writing, editing and deleting a review: only the guest of a completed stay, within the
//! window, once per property (also under concurrent attempts), with checked input.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Market, call, expect, id, ids, market};
use crate::helpers::{assert_invalid, assert_problem};

#[tokio::test]
async fn only_the_guest_of_a_completed_stay_reviews_within_the_window() {
    let market = market("immediate").await;
    let app = &market.app;
    let property = market.property.as_str();
    let guest = app.register("acme", "guest@example.com", false).await;
    let late = app.register("acme", "late@example.com", false).await;
    let stranger = app.register("acme", "stranger@example.com", false).await;
    let booking = market.stay(&guest, property, (1, 3)).await;
    market.stay(&late, property, (3, 4)).await;

    // A confirmed stay that has not ended, or none at all, gives no right to review.
    for account in [&guest, &stranger, &market.host] {
        assert_problem(
            market.review(account, property, 5).await,
            StatusCode::FORBIDDEN,
            "review_not_allowed",
        )
        .await;
    }
    market.advance_days(4).await;
    assert_problem(
        market.review(&stranger, property, 5).await,
        StatusCode::FORBIDDEN,
        "review_not_allowed",
    )
    .await;

    // Input is checked before the rules: 422 names each field.
    for rating in [0, 6, -1] {
        assert_invalid(market.review(&stranger, property, rating).await, "rating").await;
    }
    let path = format!("/properties/{property}/reviews");
    let long = json!({ "rating": 5, "comment": "a".repeat(2001) });
    let response = call(app, (Method::POST, &path), Some(&guest), Some(long)).await;
    assert_invalid(response, "comment").await;
    let fractional = json!({ "rating": 4.5, "comment": "" });
    let response = call(app, (Method::POST, &path), Some(&guest), Some(fractional)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The review of the latest completed stay, as plain text without control characters.
    let body = json!({ "rating": 4, "comment": " Great\u{7} stay\r\nwould return\u{1b} " });
    let response = call(app, (Method::POST, &path), Some(&guest), Some(body)).await;
    let review = expect(response, StatusCode::CREATED).await;
    assert_eq!(review["comment"], "Great stay\nwould return");
    assert_eq!(review["rating"], 4);
    assert_eq!(review["status"], "published");
    assert_eq!(review["booking_id"], booking["id"]);
    assert_eq!(review["property_id"], property);
    assert_eq!(
        review["author"],
        json!({ "id": guest.id, "first_name": "Ana" })
    );
    assert!(review.get("reply").is_none(), "{review}");
    assert_problem(
        market.review(&guest, property, 2).await,
        StatusCode::CONFLICT,
        "review_exists",
    )
    .await;

    let page = market.reviews(property).await;
    assert_eq!(ids(&page), [id(&review)]);
    assert_eq!(
        page["summary"],
        json!({ "average": 4.0, "count": 1, "stars": { "1": 0, "2": 0, "3": 0, "4": 1, "5": 0 } })
    );
    assert_eq!(page["next_cursor"], json!(null));
    let shown = market.property(property).await;
    assert_eq!(
        (
            shown["average_rating"].clone(),
            shown["review_count"].clone()
        ),
        (json!(4.0), json!(1))
    );

    // The author edits within the window; nobody else does.
    let edited = expect(
        market
            .patch(&guest, id(&review), json!({ "rating": 2 }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (edited["rating"].clone(), edited["comment"].clone()),
        (json!(2), review["comment"].clone())
    );
    assert_eq!(market.property(property).await["average_rating"], 2.0);
    assert_problem(
        market
            .patch(&stranger, id(&review), json!({ "rating": 5 }))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_invalid(
        market
            .patch(&guest, id(&review), json!({ "rating": 9 }))
            .await,
        "rating",
    )
    .await;
    assert_problem(
        market
            .patch(&market.host, id(&review), json!({ "rating": 5 }))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // The window: `review_window_days` (30) after check-out, by the tenant's today.
    market.advance_days(29).await;
    expect(
        market
            .patch(&guest, id(&review), json!({ "comment": "still fine" }))
            .await,
        StatusCode::OK,
    )
    .await;
    market.advance_days(1).await;
    assert_problem(
        market
            .patch(&guest, id(&review), json!({ "rating": 5 }))
            .await,
        StatusCode::FORBIDDEN,
        "review_window_closed",
    )
    .await;
    // The later stay's window is open one more day.
    market.reviewed(&late, property, 5).await;
    market.advance_days(1).await;
    let third = app.register("acme", "third@example.com", false).await;
    assert_problem(
        market.review(&third, property, 5).await,
        StatusCode::FORBIDDEN,
        "review_not_allowed",
    )
    .await;
    assert_eq!(market.reviews(property).await["summary"]["average"], 3.5);

    // Deleting is not bound to the window; the rating forgets the review.
    assert_problem(
        market.delete(&stranger, id(&review)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect(
        market.delete(&guest, id(&review)).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_problem(
        market.delete(&guest, id(&review)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let page = market.reviews(property).await;
    assert_eq!(page["summary"]["count"], 1);
    assert_eq!(page["summary"]["average"], 5.0);
    assert_eq!(market.property(property).await["review_count"], 1);
}

#[tokio::test]
async fn the_window_closing_refuses_a_first_review_too() {
    let market = market("immediate").await;
    let early = market
        .app
        .register("acme", "early@example.com", false)
        .await;
    let later = market
        .app
        .register("acme", "later@example.com", false)
        .await;
    market.stay(&early, &market.property, (1, 2)).await;
    market.stay(&later, &market.property, (2, 3)).await;
    // 30 days after the first stay's check-out; the last day of the second stay's window.
    market.advance_days(2 + 31).await;
    assert_problem(
        market.review(&early, &market.property, 3).await,
        StatusCode::FORBIDDEN,
        "review_window_closed",
    )
    .await;
    market.reviewed(&later, &market.property, 3).await;
}

#[tokio::test]
async fn ten_concurrent_reviews_of_one_guest_make_one() {
    let market = market("immediate").await;
    let guest = market.guest_who_stayed().await;
    let answers = futures_util::future::join_all(
        (1..=10).map(|rating| market.review(&guest, &market.property, (rating % 5) + 1)),
    )
    .await;
    let mut statuses: Vec<u16> = answers
        .iter()
        .map(|answer| answer.status().as_u16())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
    for answer in answers {
        if answer.status() == StatusCode::CONFLICT {
            assert_problem(answer, StatusCode::CONFLICT, "review_exists").await;
        }
    }
    let page = market.reviews(&market.property).await;
    assert_eq!(page["summary"]["count"], 1);
    assert_eq!(market.property(&market.property).await["review_count"], 1);
}

#[tokio::test]
async fn another_tenants_review_is_not_found() {
    let market = market("immediate").await;
    let guest = market.guest_who_stayed().await;
    let review = market.reviewed(&guest, &market.property, 5).await;

    market.app.create_tenant("other").await;
    let admin = market.app.tenant_admin("other").await;
    let host = market.app.register("other", "host@example.com", true).await;
    let in_other = |path: String| market.app.url(&format!("/v1/t/other{path}"));
    let review_path = format!("/reviews/{}", id(&review));
    for (method, path, account, body) in [
        (
            Method::POST,
            format!("{review_path}/hide"),
            &admin,
            Some(json!({ "reason": "spam" })),
        ),
        (Method::POST, format!("{review_path}/unhide"), &admin, None),
        (Method::DELETE, review_path.clone(), &admin, None),
        (
            Method::PUT,
            format!("{review_path}/reply"),
            &host,
            Some(json!({ "text": "hi" })),
        ),
        (
            Method::GET,
            format!("/properties/{}/reviews", market.property),
            &admin,
            None,
        ),
    ] {
        let mut request = market
            .app
            .client
            .request(method, in_other(path))
            .bearer_auth(&account.access_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        assert_problem(
            request.send().await.unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    assert_eq!(
        market.reviews(&market.property).await["summary"]["count"],
        1
    );
}

/// A review of `guest`'s latest completed stay at the property, never an earlier one.
#[tokio::test]
async fn the_latest_completed_stay_is_the_one_reviewed() {
    let market: Market = market("immediate").await;
    let guest = market
        .app
        .register("acme", "guest@example.com", false)
        .await;
    market.stay(&guest, &market.property, (1, 2)).await;
    let latest = market.stay(&guest, &market.property, (4, 6)).await;
    market.advance_days(7).await;
    let review = market.reviewed(&guest, &market.property, 4).await;
    assert_eq!(review["booking_id"], latest["id"]);
}
