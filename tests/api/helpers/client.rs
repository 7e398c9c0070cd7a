//! A typed client for the resources most tests touch in the `acme` tenant: bookings,
//! properties, quotes, availability and settings. Request bodies are structs; each call
//! returns the raw [`Response`] (for failure paths and `assert_problem`), and where tests
//! need it a twin named for the outcome (`created`, `cancelled`, `fetched`, `page`, ...)
//! that asserts success and returns the JSON answer.

use std::fmt::Display;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::{Account, TestApp, day};

/// What names a resource in a path: an id, or an `id` value of a JSON answer.
pub trait Id {
    fn id(&self) -> &str;
}

impl Id for str {
    fn id(&self) -> &str {
        self
    }
}

impl Id for String {
    fn id(&self) -> &str {
        self
    }
}

impl Id for Value {
    fn id(&self) -> &str {
        self.as_str().expect("an id is a string")
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Money {
    pub amount: i64,
    pub currency: &'static str,
}

pub fn eur(amount: i64) -> Money {
    Money {
        amount,
        currency: "EUR",
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Location<'a> {
    pub address: &'a str,
    pub city: &'a str,
    pub country: &'a str,
    pub lat: f64,
    pub lng: f64,
}

impl Location<'static> {
    /// Where the booking and calendar tests' listings stand.
    pub const NICE: Self = Self {
        address: "a",
        city: "Nice",
        country: "FR",
        lat: 43.7,
        lng: 7.26,
    };
}

/// The body of `POST /properties`. Optional fields left `None` are not sent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewProperty<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub location: Location<'a>,
    pub nightly_price: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weekend_price: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleaning_fee: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weekly_discount_bps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_discount_bps: Option<u32>,
    pub max_guests: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_nights: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_nights: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'a str>,
}

impl Default for Money {
    fn default() -> Self {
        eur(0)
    }
}

/// The body of `PATCH /properties/{id}`: only the fields set are sent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PropertyPatch<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nightly_price: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_guests: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'a str>,
}

impl<'a> PropertyPatch<'a> {
    /// Lists or unlists a property.
    pub fn status(status: &'a str) -> Self {
        Self {
            status: Some(status),
            ..Self::default()
        }
    }
}

/// Nights a host blocks, from `start` to the exclusive `end`.
#[derive(Debug, Clone, Serialize)]
pub struct Block<'a> {
    pub start: String,
    pub end: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

impl Block<'_> {
    pub fn new(start: impl Display, end: impl Display) -> Self {
        Self {
            start: start.to_string(),
            end: end.to_string(),
            reason: None,
        }
    }

    /// From `start` to `end` days from today.
    pub fn days(start: i64, end: i64) -> Self {
        Self::new(day(start), day(end))
    }
}

/// A stay: the body of a quote, and with a property the body of a booking.
#[derive(Debug, Clone, Serialize)]
pub struct Stay {
    pub check_in: String,
    pub check_out: String,
    pub guests: u32,
}

impl Stay {
    pub fn new(check_in: impl Display, check_out: impl Display, guests: u32) -> Self {
        Self {
            check_in: check_in.to_string(),
            check_out: check_out.to_string(),
            guests,
        }
    }

    /// From `check_in` to `check_out` days from today, for two guests.
    pub fn days(check_in: i64, check_out: i64) -> Self {
        Self::new(day(check_in), day(check_out), 2)
    }

    /// This stay booked at `property`.
    pub fn at(self, property: &(impl Id + ?Sized)) -> NewBooking<'_> {
        NewBooking {
            property_id: property.id(),
            stay: self,
        }
    }
}

/// The body of `POST /bookings`.
#[derive(Debug, Clone, Serialize)]
pub struct NewBooking<'a> {
    pub property_id: &'a str,
    #[serde(flatten)]
    pub stay: Stay,
}

/// The body of `PATCH /settings`: only the fields set are sent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SettingsPatch<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_mode: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_collection: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation_policy: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_fee_bps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_bps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_fee_bps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unpaid_bookings: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_stay_nights: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_window_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_publication: Option<&'a str>,
}

/// Who calls, and where: the app itself or another replica of it.
#[derive(Clone, Copy)]
struct Caller<'a> {
    app: &'a TestApp,
    base: Option<&'a str>,
    token: Option<&'a str>,
}

impl<'a> Caller<'a> {
    fn new(app: &'a TestApp, account: Option<&'a Account>) -> Self {
        Self {
            app,
            base: None,
            token: account.map(|account| account.access_token.as_str()),
        }
    }

    /// A request to `path` under the tenant, signed in when there is an account.
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let base = self.base.map_or_else(|| self.app.url(""), str::to_owned);
        let request = self
            .app
            .client
            .request(method, format!("{base}/v1/t/acme{path}"));
        match self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }
}

async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("request")
}

/// The JSON answer, once the status is the one expected.
async fn expect(response: Response, status: StatusCode) -> Value {
    let (actual, url) = (response.status(), response.url().clone());
    let body = response.text().await.expect("body");
    assert_eq!(actual, status, "{url}: {body}");
    serde_json::from_str(&body).expect("JSON body")
}

impl TestApp {
    /// Bookings as `account` sees and moves them.
    pub fn bookings<'a>(&'a self, account: &'a Account) -> BookingsClient<'a> {
        BookingsClient {
            caller: Caller::new(self, Some(account)),
        }
    }

    /// Properties as `account` owns or administers them.
    pub fn properties<'a>(&'a self, account: &'a Account) -> PropertiesClient<'a> {
        PropertiesClient {
            caller: Caller::new(self, Some(account)),
        }
    }

    /// An anonymous quote for `stay` at `property`.
    pub async fn quote(&self, property: &(impl Id + ?Sized), stay: &Stay) -> Response {
        let path = format!("/properties/{}/quote", property.id());
        send(
            Caller::new(self, None)
                .request(Method::POST, &path)
                .json(stay),
        )
        .await
    }

    /// The status of each night from `from` to `to` days from today, as anyone sees it.
    pub async fn nights(&self, property: &(impl Id + ?Sized), from: i64, to: i64) -> Vec<String> {
        let path = format!(
            "/properties/{}/availability?from={}&to={}",
            property.id(),
            day(from),
            day(to)
        );
        let response = send(Caller::new(self, None).request(Method::GET, &path)).await;
        expect(response, StatusCode::OK).await["nights"]
            .as_array()
            .expect("nights")
            .iter()
            .map(|night| night["status"].as_str().expect("status").to_owned())
            .collect()
    }

    /// Changes the tenant's settings as `admin`, which must succeed.
    pub async fn set_settings(&self, admin: &Account, patch: &SettingsPatch<'_>) {
        let request = Caller::new(self, Some(admin)).request(Method::PATCH, "/settings");
        expect(send(request.json(patch)).await, StatusCode::OK).await;
    }
}

pub struct BookingsClient<'a> {
    caller: Caller<'a>,
}

impl<'a> BookingsClient<'a> {
    /// The same calls through another replica at `base` (see [`TestApp::replica`]).
    pub fn via(mut self, base: &'a str) -> Self {
        self.caller.base = Some(base);
        self
    }

    /// Books with a fresh idempotency key.
    pub async fn create(&self, booking: &NewBooking<'_>) -> Response {
        self.create_with_key(&uuid::Uuid::now_v7().to_string(), booking)
            .await
    }

    pub async fn create_with_key(&self, key: &str, booking: &NewBooking<'_>) -> Response {
        let request = self.caller.request(Method::POST, "/bookings");
        send(request.header("Idempotency-Key", key).json(booking)).await
    }

    /// The booking made, which must be created.
    pub async fn created(&self, booking: &NewBooking<'_>) -> Value {
        expect(self.create(booking).await, StatusCode::CREATED).await
    }

    pub async fn get(&self, id: &(impl Id + ?Sized)) -> Response {
        let path = format!("/bookings/{}", id.id());
        send(self.caller.request(Method::GET, &path)).await
    }

    /// The booking, which must be visible.
    pub async fn fetched(&self, id: &(impl Id + ?Sized)) -> Value {
        expect(self.get(id).await, StatusCode::OK).await
    }

    /// `GET /bookings` with a query string such as `role=host&limit=2` (or none).
    pub async fn list(&self, query: &str) -> Response {
        let path = match query {
            "" => "/bookings".to_owned(),
            query => format!("/bookings?{query}"),
        };
        send(self.caller.request(Method::GET, &path)).await
    }

    /// A page of bookings, which must be given.
    pub async fn page(&self, query: &str) -> Value {
        expect(self.list(query).await, StatusCode::OK).await
    }

    pub async fn accept(&self, id: &(impl Id + ?Sized)) -> Response {
        self.transition(id, "accept").await
    }

    pub async fn decline(&self, id: &(impl Id + ?Sized)) -> Response {
        self.transition(id, "decline").await
    }

    pub async fn cancel(&self, id: &(impl Id + ?Sized)) -> Response {
        self.transition(id, "cancel").await
    }

    /// The booking after an accept that must succeed.
    pub async fn accepted(&self, id: &(impl Id + ?Sized)) -> Value {
        expect(self.accept(id).await, StatusCode::OK).await
    }

    /// The booking after a decline that must succeed.
    pub async fn declined(&self, id: &(impl Id + ?Sized)) -> Value {
        expect(self.decline(id).await, StatusCode::OK).await
    }

    /// The booking after a cancellation that must succeed.
    pub async fn cancelled(&self, id: &(impl Id + ?Sized)) -> Value {
        expect(self.cancel(id).await, StatusCode::OK).await
    }

    async fn transition(&self, id: &(impl Id + ?Sized), action: &str) -> Response {
        let path = format!("/bookings/{}/{action}", id.id());
        send(self.caller.request(Method::POST, &path)).await
    }
}

pub struct PropertiesClient<'a> {
    caller: Caller<'a>,
}

impl PropertiesClient<'_> {
    /// Any body: a [`NewProperty`], or JSON a test has broken on purpose.
    pub async fn create(&self, property: &(impl Serialize + ?Sized)) -> Response {
        send(
            self.caller
                .request(Method::POST, "/properties")
                .json(property),
        )
        .await
    }

    /// The property made, which must be created.
    pub async fn created(&self, property: &(impl Serialize + ?Sized)) -> Value {
        expect(self.create(property).await, StatusCode::CREATED).await
    }

    /// `PATCH /properties/{id}` with `patch` (a `PropertyPatch`, or any JSON).
    pub async fn update(
        &self,
        id: &(impl Id + ?Sized),
        patch: &(impl Serialize + ?Sized),
    ) -> Response {
        let path = format!("/properties/{}", id.id());
        send(self.caller.request(Method::PATCH, &path).json(patch)).await
    }

    /// The property after an update that must succeed.
    pub async fn updated(
        &self,
        id: &(impl Id + ?Sized),
        patch: &(impl Serialize + ?Sized),
    ) -> Value {
        expect(self.update(id, patch).await, StatusCode::OK).await
    }

    /// The property as its owner (or an admin) sees it, which must be visible.
    pub async fn fetched(&self, id: &(impl Id + ?Sized)) -> Value {
        let path = format!("/properties/{}", id.id());
        expect(
            send(self.caller.request(Method::GET, &path)).await,
            StatusCode::OK,
        )
        .await
    }

    pub async fn delete(&self, id: &(impl Id + ?Sized)) -> Response {
        let path = format!("/properties/{}", id.id());
        send(self.caller.request(Method::DELETE, &path)).await
    }

    pub async fn block(&self, id: &(impl Id + ?Sized), block: &Block<'_>) -> Response {
        let path = format!("/properties/{}/blocked-dates", id.id());
        send(self.caller.request(Method::POST, &path).json(block)).await
    }
}
