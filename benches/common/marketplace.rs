//! What the benchmarks that use a seeded marketplace share: its listings, accounts and
//! settings (included with `#[path]` by those benchmarks only, so the others compile none of it).

use crate::common::BenchApp;

pub const PASSWORD: &str = "correct horse battery";

/// The ids of tenant `bench`'s listed properties, page by page.
pub async fn listed(client: &reqwest::Client, base: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/t/bench/properties?limit=100");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: serde_json::Value = client
            .get(&url)
            .send()
            .await
            .expect("search")
            .json()
            .await
            .expect("page");
        ids.extend(
            page["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|property| property["id"].as_str().expect("id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

/// Signs `email` in to tenant `bench` with `PASSWORD`; returns the access token.
pub async fn sign_in(client: &reqwest::Client, base: &str, email: &str) -> String {
    let session: serde_json::Value = client
        .post(format!("{base}/v1/t/bench/auth/login"))
        .json(&serde_json::json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("token response");
    session["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

/// Registers `email` in tenant `bench` and signs it in; returns the access token.
pub async fn sign_up(client: &reqwest::Client, base: &str, email: &str) -> String {
    let registered = client
        .post(format!("{base}/v1/t/bench/auth/register"))
        .json(&serde_json::json!({
            "email": email, "password": PASSWORD, "first_name": "Bench", "last_name": "Guest"
        }))
        .send()
        .await
        .expect("register");
    assert!(registered.status().is_success(), "{}", registered.status());
    sign_in(client, base, email).await
}

/// Sets how tenant `bench` collects payment: `at_property` confirms bookings at once, so no guest
/// reaches the cap of unpaid bookings; `online` leaves them to be paid. A new account becomes
/// its admin to say so.
pub async fn collect_payment(app: &BenchApp, client: &reqwest::Client, collection: &str) {
    let token = admin(app, client, "bench-admin@example.com").await;
    let response = client
        .patch(format!("{}/v1/t/bench/settings", app.base))
        .bearer_auth(token)
        .json(&serde_json::json!({ "payment_collection": collection }))
        .send()
        .await
        .expect("settings");
    assert!(response.status().is_success(), "{}", response.status());
}

/// The body of booking request `i` for three nights: property `i` mod N in week `i` div N
/// from a month ahead, so that no two requests overlap.
pub fn stay(properties: &[String], i: usize) -> serde_json::Value {
    let week = (i / properties.len()) as i64;
    let check_in = time::OffsetDateTime::now_utc().date() + time::Duration::days(30 + 7 * week);
    serde_json::json!({
        "property_id": properties[i % properties.len()],
        "check_in": check_in.to_string(),
        "check_out": (check_in + time::Duration::days(3)).to_string(),
        "guests": 1
    })
}

/// A new tenant admin of `bench` with this email; returns their access token.
pub async fn admin(app: &BenchApp, client: &reqwest::Client, email: &str) -> String {
    sign_up(client, &app.base, email).await;
    staybase::users::service::set_roles_by_operator(
        &app.state.db,
        "bench",
        email,
        staybase::authz::Roles::new([
            staybase::authz::Role::TenantAdmin,
            staybase::authz::Role::Guest,
        ]),
    )
    .await
    .expect("admin role");
    sign_in(client, &app.base, email).await
}
