//! The review-rules plugin decides on reviews as its README says; a failing one holds or
//! accepts them as its failure policy says.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Market, call, expect, market};
use crate::{
    helpers::{Account, assert_problem},
    plugins::{activate, example_config, module, upload, uploaded},
};

impl Market {
    async fn comment(&self, guest: &Account, comment: &str) -> Value {
        let path = format!("/properties/{}/reviews", self.property);
        let body = json!({ "rating": 4, "comment": comment });
        expect(
            call(
                &self.app,
                (reqwest::Method::POST, &path),
                Some(guest),
                Some(body),
            )
            .await,
            StatusCode::CREATED,
        )
        .await
    }

    /// Guests whose stays at the market's property are all completed.
    async fn guests_who_stayed(&self, count: i64) -> Vec<Account> {
        let mut guests = Vec::new();
        for n in 0..count {
            let guest = self
                .app
                .register("acme", &format!("guest{n}@example.com"), false)
                .await;
            self.stay(&guest, &self.property, (1 + n, 2 + n)).await;
            guests.push(guest);
        }
        self.advance_days(u32::try_from(count).unwrap() + 2).await;
        guests
    }
}

#[tokio::test]
async fn the_review_guard_rejects_blocked_words_and_holds_short_comments() {
    let market = market("immediate").await;
    let app = &market.app;
    let admin = ("acme", &market.admin);
    // A pricing component is no review-rules plugin.
    let response = upload(
        app,
        admin,
        ("review_rules", "discounts", "{}"),
        module("examples/stay-discounts/stay-discounts.wasm"),
    )
    .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "plugin_invalid").await;
    let guard = uploaded(
        app,
        admin,
        (
            "review_rules",
            "review-guard",
            &example_config("review-guard"),
        ),
        module("examples/review-guard/review-guard.wasm"),
    )
    .await;
    assert_eq!(guard["world"], "review-rules");
    activate(
        app,
        "acme",
        &market.admin,
        guard["id"].as_str().unwrap(),
        "hold",
    )
    .await;

    let guests = market.guests_who_stayed(3).await;
    let rejected = market
        .comment(&guests[0], "Total SCAM. The photos lie, avoid this place.")
        .await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(
        rejected["status_reason"],
        "the comment contains the blocked word \"scam\""
    );
    let held = market.comment(&guests[1], "Fine.").await;
    assert_eq!(held["status"], "held");
    assert_eq!(
        held["status_reason"],
        "the comment is shorter than 20 characters (5)"
    );
    let published = market
        .comment(&guests[2], "Spotless, quiet and exactly as pictured.")
        .await;
    assert_eq!(published["status"], "published");
    assert_eq!(
        market.reviews(&market.property).await["summary"]["count"],
        1
    );
}

#[tokio::test]
async fn a_failing_review_plugin_holds_or_accepts_as_its_policy_says() {
    let market = market("immediate").await;
    let app = &market.app;
    let failing = uploaded(
        app,
        ("acme", &market.admin),
        ("review_rules", "review-panic", "{}"),
        module("hostile/review-panic/review-panic.wasm"),
    )
    .await;
    let id = failing["id"].as_str().unwrap();
    let guests = market.guests_who_stayed(2).await;

    activate(app, "acme", &market.admin, id, "hold").await;
    let held = market
        .comment(&guests[0], "Spotless, quiet and exactly as pictured.")
        .await;
    assert_eq!(held["status"], "held");
    assert_eq!(
        held["status_reason"],
        "The review rules could not decide (trap); a moderator will."
    );
    activate(app, "acme", &market.admin, id, "accept").await;
    let accepted = market
        .comment(&guests[1], "Lovely stay, would book again.")
        .await;
    assert_eq!(accepted["status"], "published");
}
