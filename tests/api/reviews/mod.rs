//! Reviews through HTTP: who may review which stay and when, double-blind publication,
//! replies and moderation, and property ratings that always equal a recount. Stays are
//! completed by advancing the test tenant's clock, never by writing to the database.

mod aggregates;
mod create;
mod moderation;
mod plugins;
mod publication;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::{
    bookings::listed_property,
    helpers::{Account, SettingsPatch, Stay, TestApp, spawn_app},
};

/// A test tenant `acme` whose stays are paid at the property (so bookings are confirmed at
/// once), with its admin and a host's listed property.
struct Market {
    app: TestApp,
    admin: Account,
    host: Account,
    property: String,
}

async fn market(publication: &str) -> Market {
    let app = spawn_app().await;
    app.create_test_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    app.set_settings(
        &admin,
        &SettingsPatch {
            payment_collection: Some("at_property"),
            review_publication: Some(publication),
            ..SettingsPatch::default()
        },
    )
    .await;
    let host = app.register("acme", "host@example.com", true).await;
    let property = listed_property(&app, &host, "Loft").await;
    Market {
        app,
        admin,
        host,
        property,
    }
}

fn url(app: &TestApp, path: &str) -> String {
    app.url(&format!("/v1/t/acme{path}"))
}

/// A request to `path` under the tenant, signed in as `account` when there is one.
async fn call(
    app: &TestApp,
    (method, path): (Method, &str),
    account: Option<&Account>,
    body: Option<Value>,
) -> Response {
    let mut request = app.client.request(method, url(app, path));
    if let Some(account) = account {
        request = request.bearer_auth(&account.access_token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

/// The JSON answer, once the status is the one expected.
async fn expect(response: Response, status: StatusCode) -> Value {
    let (actual, url) = (response.status(), response.url().clone());
    let body = response.text().await.expect("body");
    assert_eq!(actual, status, "{url}: {body}");
    if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).expect("JSON body")
    }
}

fn id(value: &Value) -> &str {
    value["id"].as_str().expect("an id")
}

impl Market {
    /// A confirmed stay of `guest` at `property`, `days` from the wall clock's today: book
    /// before the clock moves.
    async fn stay(&self, guest: &Account, property: &str, days: (i64, i64)) -> Value {
        let booking = self
            .app
            .bookings(guest)
            .created(&Stay::days(days.0, days.1).at(property))
            .await;
        assert_eq!(booking["status"], "confirmed", "{booking}");
        booking
    }

    /// A guest whose one-night stay at the market's property, from tomorrow, is completed
    /// (the clock moves three days).
    async fn guest_who_stayed(&self) -> Account {
        let guest = self.app.register("acme", "guest@example.com", false).await;
        self.stay(&guest, &self.property, (1, 2)).await;
        self.advance_days(3).await;
        guest
    }

    /// Moves the tenant's clock `days` days forward, running what fell due.
    async fn advance_days(&self, days: u32) {
        let response = call(
            &self.app,
            (Method::POST, "/test-clock/advance"),
            Some(&self.admin),
            Some(json!({ "hours": days * 24 })),
        )
        .await;
        expect(response, StatusCode::OK).await;
    }

    async fn review(&self, guest: &Account, property: &str, rating: i64) -> Response {
        let path = format!("/properties/{property}/reviews");
        let body = json!({ "rating": rating, "comment": format!("{rating} stars") });
        call(&self.app, (Method::POST, &path), Some(guest), Some(body)).await
    }

    /// A review that must be created.
    async fn reviewed(&self, guest: &Account, property: &str, rating: i64) -> Value {
        expect(
            self.review(guest, property, rating).await,
            StatusCode::CREATED,
        )
        .await
    }

    /// The property's reviews and summary as `account` (or anyone) sees them.
    async fn reviews_as(&self, account: Option<&Account>, property: &str, query: &str) -> Value {
        let path = format!("/properties/{property}/reviews{query}");
        expect(
            call(&self.app, (Method::GET, &path), account, None).await,
            StatusCode::OK,
        )
        .await
    }

    async fn reviews(&self, property: &str) -> Value {
        self.reviews_as(None, property, "").await
    }

    /// The property as anyone sees it.
    async fn property(&self, property: &str) -> Value {
        let path = format!("/properties/{property}");
        expect(
            call(&self.app, (Method::GET, &path), None, None).await,
            StatusCode::OK,
        )
        .await
    }

    /// `GET reviews/{id}` as `account` (or anyone).
    async fn get_review(&self, account: Option<&Account>, review: &str) -> Response {
        let path = format!("/reviews/{review}");
        call(&self.app, (Method::GET, &path), account, None).await
    }

    async fn patch(&self, account: &Account, review: &str, body: Value) -> Response {
        let path = format!("/reviews/{review}");
        call(&self.app, (Method::PATCH, &path), Some(account), Some(body)).await
    }

    async fn delete(&self, account: &Account, review: &str) -> Response {
        let path = format!("/reviews/{review}");
        call(&self.app, (Method::DELETE, &path), Some(account), None).await
    }

    async fn reply(&self, account: &Account, review: &str, text: &str) -> Response {
        let path = format!("/reviews/{review}/reply");
        let body = json!({ "text": text });
        call(&self.app, (Method::PUT, &path), Some(account), Some(body)).await
    }

    async fn hide(&self, account: &Account, review: &str, reason: &str) -> Response {
        let path = format!("/reviews/{review}/hide");
        let body = json!({ "reason": reason });
        call(&self.app, (Method::POST, &path), Some(account), Some(body)).await
    }

    async fn unhide(&self, account: &Account, review: &str) -> Response {
        let path = format!("/reviews/{review}/unhide");
        call(&self.app, (Method::POST, &path), Some(account), None).await
    }

    /// The host of `booking` reviews its guest.
    async fn review_guest(&self, host: &Account, booking: &Value, rating: i64) -> Response {
        let path = format!("/bookings/{}/guest-review", id(booking));
        let body = json!({ "rating": rating, "comment": "A considerate guest" });
        call(&self.app, (Method::POST, &path), Some(host), Some(body)).await
    }

    /// Hosts' published reviews of `guest`, as `account` sees them.
    async fn reviews_of_guest(&self, account: &Account, guest: &Account) -> Vec<Value> {
        let path = format!("/users/{}/reviews", guest.id);
        let page = expect(
            call(&self.app, (Method::GET, &path), Some(account), None).await,
            StatusCode::OK,
        )
        .await;
        page["data"].as_array().expect("data").clone()
    }
}

/// The ids of a list's reviews, in order.
fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|review| id(review).to_owned())
        .collect()
}
