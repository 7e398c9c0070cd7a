//! Hosts' replies, tenant admins' hide and unhide, the events and emails reviews send.

use reqwest::StatusCode;
use serde_json::json;
use staybase::on_db;

use super::{expect, id, ids, market};
use crate::helpers::{assert_invalid, assert_problem};

/// How many events of `kind` the database holds.
async fn events(app: &crate::helpers::TestApp, kind: &str) -> i64 {
    on_db!(&app.state.db, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE kind = $1")
            .bind(kind)
            .fetch_one(pool)
            .await
    })
    .unwrap()
}

#[tokio::test]
async fn the_host_replies_once_and_may_edit_the_reply() {
    let market = market("immediate").await;
    let app = &market.app;
    let guest = app.register("acme", "guest@example.com", false).await;
    let other_host = app.register("acme", "other-host@example.com", true).await;
    market.stay(&guest, &market.property, (1, 2)).await;
    market.advance_days(2).await;
    app.email_to("guest@example.com", "How was your stay at Loft?")
        .await;
    let review = market.reviewed(&guest, &market.property, 5).await;
    app.email_to("host@example.com", "New review of Loft: 5/5")
        .await;

    for (account, code) in [(&other_host, "forbidden"), (&guest, "forbidden")] {
        assert_problem(
            market.reply(account, id(&review), "Thanks").await,
            StatusCode::FORBIDDEN,
            code,
        )
        .await;
    }
    assert_invalid(
        market.reply(&market.host, id(&review), " \u{0} ").await,
        "text",
    )
    .await;
    let replied = expect(
        market
            .reply(&market.host, id(&review), "Thank you\u{7}!")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replied["reply"]["text"], "Thank you!");
    assert!(replied["reply"]["at"].is_string());
    app.email_to("guest@example.com", "Loft replied to your review")
        .await;
    let edited = expect(
        market
            .reply(&market.host, id(&review), "Thank you, come back!")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["reply"]["text"], "Thank you, come back!");
    let page = market.reviews(&market.property).await;
    assert_eq!(page["data"][0]["reply"]["text"], "Thank you, come back!");
    assert_eq!(events(app, "review.replied").await, 2);
    assert_eq!(events(app, "review.created").await, 1);
    assert_eq!(events(app, "review.published").await, 1);
}

#[tokio::test]
async fn hidden_reviews_are_not_public_until_unhidden() {
    let market = market("immediate").await;
    let app = &market.app;
    let guest = market.guest_who_stayed().await;
    let review = market.reviewed(&guest, &market.property, 1).await;

    for account in [&guest, &market.host] {
        assert_problem(
            market.hide(account, id(&review), "rude").await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    assert_invalid(market.hide(&market.admin, id(&review), "").await, "reason").await;
    let hidden = expect(
        market
            .hide(&market.admin, id(&review), "Personal attack")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(hidden["status"], "hidden");
    assert_eq!(hidden["status_reason"], "Personal attack");
    for viewer in [None, Some(&market.host)] {
        let page = market.reviews_as(viewer, &market.property, "").await;
        assert_eq!(ids(&page), Vec::<String>::new());
        assert_eq!(page["summary"]["count"], 0);
    }
    let shown = market.property(&market.property).await;
    assert_eq!(
        (
            shown["average_rating"].clone(),
            shown["review_count"].clone()
        ),
        (json!(null), json!(0))
    );
    assert_problem(
        market.hide(&market.admin, id(&review), "again").await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    // Its author cannot edit it back into view; the host cannot see it to reply.
    assert_problem(
        market
            .patch(&guest, id(&review), json!({ "rating": 5 }))
            .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    assert_problem(
        market.reply(&market.host, id(&review), "Hm").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        market.unhide(&guest, id(&review)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // The moderation queue lists it for tenant admins only.
    let queue = |query: &'static str, account: &'static str| {
        let app = &market.app;
        let token = if account == "admin" {
            market.admin.access_token.clone()
        } else {
            market.host.access_token.clone()
        };
        async move {
            app.client
                .get(app.url(&format!("/v1/t/acme/reviews{query}")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let page = expect(queue("?status=held,hidden", "admin").await, StatusCode::OK).await;
    assert_eq!(ids(&page), [id(&review)]);
    assert_eq!(page["data"][0]["status_reason"], "Personal attack");
    let page = expect(queue("?status=published", "admin").await, StatusCode::OK).await;
    assert_eq!(ids(&page), Vec::<String>::new());
    assert_invalid(queue("?status=secret", "admin").await, "status").await;
    assert_problem(queue("", "host").await, StatusCode::FORBIDDEN, "forbidden").await;

    let back = expect(
        market.unhide(&market.admin, id(&review)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(back["status"], "published");
    assert_eq!(back["status_reason"], json!(null));
    let page = market.reviews(&market.property).await;
    assert_eq!(ids(&page), [id(&review)]);
    assert_eq!(page["summary"]["average"], 1.0);
    assert_problem(
        market.unhide(&market.admin, id(&review)).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    assert_eq!(events(app, "review.hidden").await, 1);
    assert_eq!(events(app, "review.published").await, 2);

    // Tenant admins may also delete any review.
    expect(
        market.delete(&market.admin, id(&review)).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(market.property(&market.property).await["review_count"], 0);
}
