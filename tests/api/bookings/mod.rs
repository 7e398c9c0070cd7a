//! Bookings through HTTP: the state machine, idempotency keys, who sees what, expiry and
//! completion jobs, notifications, and the guarantee that holding bookings never overlap.

mod caps;
mod concurrency;
mod create;
mod idempotency;
pub(crate) mod lifecycle;
mod refunds;
mod spans;
mod transitions;
mod visibility;

use serde_json::Value;
use staybase::on_db;

use crate::helpers::{Account, Location, NewProperty, Stay, TestApp, eur, spawn_app};

/// A listed property of `host` at EUR 100 a night with a EUR 50 cleaning fee.
pub(crate) async fn listed_property(app: &TestApp, host: &Account, name: &str) -> String {
    let property = NewProperty {
        name,
        description: "d",
        location: Location::NICE,
        nightly_price: eur(10_000),
        cleaning_fee: Some(eur(5_000)),
        max_guests: 4,
        min_nights: Some(1),
        max_nights: Some(30),
        status: Some("listed"),
        ..NewProperty::default()
    };
    let created = app.properties(host).created(&property).await;
    created["id"].as_str().unwrap().to_owned()
}

/// A booking of `stay` days from today that must be created with this status.
async fn booked(
    app: &TestApp,
    guest: &Account,
    property: &str,
    (check_in, check_out): (i64, i64),
    status: &str,
) -> Value {
    let booking = app
        .bookings(guest)
        .created(&Stay::days(check_in, check_out).at(property))
        .await;
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
