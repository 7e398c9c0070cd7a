//! Every operation in the spec, called by every kind of caller: the decision must be the one
//! this table expects. An operation missing from the table fails the test, so no route ships
//! without a decided authorization.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Account, PASSWORD, TestApp, spawn_app};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Who {
    Anonymous,
    Guest,
    Host,
    TenantAdmin,
    /// A signed-in user of another tenant, using their token here.
    OtherTenantUser,
    /// An API key with the tenant_admin role.
    AdminApiKey,
    PlatformAdmin,
}

use Who::*;

const EVERYONE_HERE: &[Who] = &[Anonymous, Guest, Host, TenantAdmin, AdminApiKey];
const SIGNED_IN: &[Who] = &[Guest, Host, TenantAdmin, AdminApiKey];
const ADMINS: &[Who] = &[TenantAdmin, AdminApiKey];
const HOSTS: &[Who] = &[Host, TenantAdmin, AdminApiKey];
/// Accounts with the guest role (every registered account; not the admin API key).
const GUESTS: &[Who] = &[Guest, Host, TenantAdmin];
/// Platform routes that take no credentials.
const PLATFORM_PUBLIC: &[Who] = &[
    Anonymous,
    Guest,
    Host,
    TenantAdmin,
    OtherTenantUser,
    AdminApiKey,
    PlatformAdmin,
];

/// Who may call each operation (the spec documents the same: `openapi.rs`).
pub(crate) fn expectations() -> BTreeMap<&'static str, &'static [Who]> {
    BTreeMap::from([
        ("get_tenant", EVERYONE_HERE),
        ("get_settings", ADMINS),
        ("list_amenities", EVERYONE_HERE),
        ("list_properties", EVERYONE_HERE),
        ("get_property", EVERYONE_HERE),
        ("create_property", HOSTS),
        ("update_property", HOSTS),
        ("delete_property", HOSTS),
        ("get_availability", EVERYONE_HERE),
        ("block_dates", HOSTS),
        ("list_blocked_dates", HOSTS),
        ("unblock_dates", HOSTS),
        ("export_calendar", EVERYONE_HERE),
        ("rotate_calendar_export", HOSTS),
        ("upload_property_image", HOSTS),
        ("order_property_images", HOSTS),
        ("delete_property_image", HOSTS),
        ("get_property_image", EVERYONE_HERE),
        ("quote_stay", EVERYONE_HERE),
        ("set_date_prices", HOSTS),
        ("list_date_prices", HOSTS),
        ("create_season", HOSTS),
        ("list_seasons", HOSTS),
        ("update_season", HOSTS),
        ("delete_season", HOSTS),
        ("add_calendar_import", HOSTS),
        ("list_calendar_imports", HOSTS),
        ("remove_calendar_import", HOSTS),
        ("update_settings", ADMINS),
        ("create_booking", GUESTS),
        ("list_bookings", GUESTS),
        // Another's booking is not found rather than refused, so as not to reveal it.
        ("get_booking", SIGNED_IN),
        ("cancel_booking", SIGNED_IN),
        ("accept_booking", SIGNED_IN),
        ("decline_booking", SIGNED_IN),
        ("create_payment", GUESTS),
        ("confirm_payment", GUESTS),
        ("list_payments", GUESTS),
        // Another's payment is not found rather than refused, so as not to reveal it.
        ("get_payment", SIGNED_IN),
        ("list_refunds", SIGNED_IN),
        ("create_refund", ADMINS),
        // Providers call it without credentials; a bad signature is a 400, not a refusal.
        ("receive_payment_webhook", EVERYONE_HERE),
        ("list_payouts", HOSTS),
        ("mark_payout_paid", ADMINS),
        ("list_property_reviews", EVERYONE_HERE),
        ("get_review", EVERYONE_HERE),
        ("list_reviews", ADMINS),
        // Without a completed stay the guest is refused with `review_not_allowed`, not by the
        // rules.
        ("create_review", GUESTS),
        ("update_review", GUESTS),
        // Another's review is not found rather than refused, so as not to reveal it.
        ("delete_review", SIGNED_IN),
        ("reply_to_review", HOSTS),
        ("hide_review", ADMINS),
        ("unhide_review", ADMINS),
        ("create_guest_review", HOSTS),
        ("list_user_reviews", HOSTS),
        ("replace_password", EVERYONE_HERE),
        ("register", EVERYONE_HERE),
        ("login", EVERYONE_HERE),
        ("refresh_token", EVERYONE_HERE),
        ("logout", EVERYONE_HERE),
        ("verify_email", EVERYONE_HERE),
        ("request_password_reset", EVERYONE_HERE),
        ("confirm_password_reset", EVERYONE_HERE),
        ("get_user_profile", EVERYONE_HERE),
        ("get_user_picture", EVERYONE_HERE),
        ("get_me", SIGNED_IN),
        ("update_me", SIGNED_IN),
        ("change_password", SIGNED_IN),
        ("upload_my_picture", SIGNED_IN),
        ("delete_my_picture", SIGNED_IN),
        ("list_users", ADMINS),
        ("set_user_roles", ADMINS),
        ("disable_user", ADMINS),
        ("enable_user", ADMINS),
        ("create_api_key", ADMINS),
        ("list_api_keys", ADMINS),
        ("revoke_api_key", ADMINS),
        ("list_policies", ADMINS),
        ("add_policy", ADMINS),
        ("remove_policy", ADMINS),
        ("get_payment_provider", ADMINS),
        ("set_payment_provider", ADMINS),
        // Answered 409 on this live tenant once allowed.
        ("upload_plugin", ADMINS),
        ("list_plugins", ADMINS),
        ("get_plugin", ADMINS),
        ("delete_plugin", ADMINS),
        ("activate_plugin", ADMINS),
        ("deactivate_plugin", ADMINS),
        ("dry_run_plugin", ADMINS),
        ("get_test_clock", ADMINS),
        ("advance_test_clock", ADMINS),
        ("admin_login", PLATFORM_PUBLIC),
        ("admin_change_password", PLATFORM_PUBLIC),
        ("admin_me", &[PlatformAdmin]),
        ("admin_list_tenants", &[PlatformAdmin]),
        ("admin_get_tenant", &[PlatformAdmin]),
        ("admin_update_tenant", &[PlatformAdmin]),
    ])
}

/// A request that passes validation, so that the answer shows the authorization decision.
fn body_for(operation: &str) -> Option<Value> {
    let unique = uuid::Uuid::now_v7().simple().to_string();
    Some(match operation {
        "register" => {
            json!({ "email": format!("{unique}@example.com"), "password": PASSWORD, "first_name": "A", "last_name": "B" })
        }
        "login" => json!({ "email": "nobody@example.com", "password": PASSWORD }),
        "refresh_token" | "logout" => json!({ "refresh_token": "rt_unknown" }),
        "verify_email" => json!({ "token": "ve_unknown" }),
        "request_password_reset" => json!({ "email": "nobody@example.com" }),
        "confirm_password_reset" => {
            json!({ "token": "pr_unknown", "new_password": "a brand new passphrase" })
        }
        "update_me" => json!({ "first_name": "Ana" }),
        "create_property" | "update_property" => json!({
            "name": "Walk", "description": "d",
            "location": { "address": "a", "city": "Paris", "country": "FR", "lat": 1.0, "lng": 1.0 },
            "nightly_price": { "amount": 100, "currency": "EUR" }, "max_guests": 2
        }),
        "update_settings" => json!({ "hold_minutes": 20 }),
        "order_property_images" => json!({ "image_ids": [] }),
        "quote_stay" => json!({ "check_in": "2099-01-05", "check_out": "2099-01-08", "guests": 2 }),
        "create_payment" => json!({ "payment_method": "pm_sim_success" }),
        "create_refund" => json!({ "reason": "goodwill" }),
        "create_review" | "create_guest_review" => json!({ "rating": 5, "comment": "Lovely" }),
        "update_review" => json!({ "rating": 4 }),
        "reply_to_review" => json!({ "text": "Thank you" }),
        "hide_review" => json!({ "reason": "off topic" }),
        "create_booking" => json!({
            "property_id": uuid::Uuid::now_v7(), "check_in": "2099-01-05", "check_out": "2099-01-08", "guests": 2
        }),
        // Refused as a private address once authorised (422), so nothing is fetched.
        "add_calendar_import" => json!({ "url": "http://127.0.0.1:9/cal.ics" }),
        "block_dates" => json!({ "start": "2099-01-01", "end": "2099-01-05" }),
        "set_date_prices" => json!({ "dates": [] }),
        "update_season" => json!({ "min_nights": 2 }),
        "create_season" => json!({
            "start": "2099-01-01", "end": "2099-01-05",
            "nightly_price": { "amount": 100, "currency": "EUR" }
        }),
        "replace_password" => {
            json!({ "email": "nobody@example.com", "current_password": PASSWORD, "new_password": "a brand new passphrase" })
        }
        "change_password" => {
            json!({ "current_password": "not the password", "new_password": "a brand new passphrase" })
        }
        "set_user_roles" => json!({ "roles": ["guest"] }),
        "set_payment_provider" => json!({ "provider": "simulated" }),
        "advance_test_clock" => json!({ "hours": 1 }),
        "create_api_key" => json!({ "name": "integration", "roles": ["guest"] }),
        // Restates a default rule, so the walk itself changes no decision.
        "add_policy" => json!({ "role": "tenant_admin", "object": "users", "action": "list:any" }),
        "admin_login" => json!({ "email": "nobody@example.com", "password": PASSWORD }),
        "admin_change_password" => {
            json!({ "email": "nobody@example.com", "current_password": PASSWORD, "new_password": "a brand new passphrase" })
        }
        "disable_user"
        | "enable_user"
        | "admin_update_tenant"
        | "activate_plugin"
        | "dry_run_plugin" => json!({}),
        _ => return None,
    })
}

/// Denied means: asked to authenticate, or authenticated and refused by the rules.
fn denied(status: StatusCode, body: &Value) -> bool {
    matches!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNAUTHORIZED,
            Some("authentication_required" | "invalid_token")
        ) | (StatusCode::FORBIDDEN, Some("forbidden"))
    )
}

struct Callers {
    tokens: BTreeMap<Who, Option<String>>,
}

async fn fresh_property(app: &TestApp, callers: &Callers) -> String {
    let host = callers.tokens[&Host].as_deref().unwrap();
    let body = body_for("create_property").unwrap();
    let mut body = body;
    body["status"] = json!("listed");
    let created: Value = app
        .post_json("/v1/t/acme/properties", &body, Some(host))
        .await
        .json()
        .await
        .unwrap();
    created["id"].as_str().expect("property created").to_owned()
}

async fn callers(app: &TestApp) -> Callers {
    let guest = app.register("acme", "guest@example.com", false).await;
    let host = app.register("acme", "host@example.com", true).await;
    let admin: Account = app.tenant_admin("acme").await;
    let other = app.register("other", "stranger@example.com", false).await;
    let key: Value = app
        .post_json(
            "/v1/t/acme/api-keys",
            &json!({ "name": "walker", "roles": ["tenant_admin"] }),
            Some(&admin.access_token),
        )
        .await
        .json()
        .await
        .unwrap();
    staybase::admin::service::create(
        &app.state.db,
        "ops@example.com",
        staybase::admin::service::InitialPassword::Given(PASSWORD.into()),
    )
    .await
    .unwrap();
    let platform: Value = app
        .post_json(
            "/v1/admin/auth/login",
            &json!({ "email": "ops@example.com", "password": PASSWORD }),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    Callers {
        tokens: BTreeMap::from([
            (Anonymous, None),
            (Guest, Some(guest.access_token)),
            (Host, Some(host.access_token)),
            (TenantAdmin, Some(admin.access_token)),
            (OtherTenantUser, Some(other.access_token)),
            (
                AdminApiKey,
                Some(key["secret"].as_str().unwrap().to_owned()),
            ),
            (
                PlatformAdmin,
                Some(platform["access_token"].as_str().unwrap().to_owned()),
            ),
        ]),
    }
}

/// A tiny valid PNG, for the upload operation.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\x01\x01\x01\0\x18\xdd\x8d\xb4\0\0\0\0IEND\xaeB`\x82";

#[tokio::test]
async fn every_operation_allows_exactly_the_expected_callers() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let callers = callers(&app).await;
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    let expectations = expectations();

    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    let mut walked = 0;
    for (template, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            let Some(allowed) = expectations.get(id) else {
                missing.push(id.to_owned());
                continue;
            };
            for (who, token) in &callers.tokens {
                // Property operations act on a fresh listed property of the host, so that one
                // caller's change (a deletion) cannot decide the next caller's answer.
                let target = if template.contains("/properties/{id}") {
                    fresh_property(&app, &callers).await
                } else {
                    uuid::Uuid::now_v7().to_string()
                };
                let mut path = template
                    .replace("{tenant}", "acme")
                    .replace("{slug}", "acme")
                    .replace("{id}", &target)
                    .replace("{block_id}", &uuid::Uuid::now_v7().to_string())
                    .replace("{image_id}", &uuid::Uuid::now_v7().to_string())
                    .replace("{size}", "thumbnail")
                    .replace("{import_id}", &uuid::Uuid::now_v7().to_string())
                    .replace("{season_id}", &uuid::Uuid::now_v7().to_string())
                    .replace("{provider}", "simulated");
                if id == "get_availability" {
                    path.push_str("?from=2099-01-01&to=2099-01-03");
                }
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let mut request = app.client.request(method, app.url(&path));
                if matches!(id, "create_booking" | "create_payment" | "create_refund") {
                    request = request.header("Idempotency-Key", uuid::Uuid::now_v7().to_string());
                }
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                if id == "upload_my_picture" || id == "upload_property_image" {
                    let part = reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("me.png");
                    request = request.multipart(reqwest::multipart::Form::new().part("file", part));
                } else if id == "upload_plugin" {
                    let module = reqwest::multipart::Part::bytes(b"not a component".to_vec())
                        .file_name("plugin.wasm");
                    let form = reqwest::multipart::Form::new()
                        .text("kind", "pricing")
                        .text("name", "probe")
                        .part("module", module);
                    request = request.multipart(form);
                } else if let Some(body) = body_for(id) {
                    request = request.json(&body);
                }
                let response = request.send().await.unwrap();
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                assert_ne!(
                    status,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "{id} as {who:?}: {body}"
                );
                let expected_allowed = allowed.contains(who);
                if denied(status, &body) == expected_allowed {
                    wrong.push(format!("{id} as {who:?}: {status} {body}"));
                }
                walked += 1;
            }
        }
    }
    assert!(
        missing.is_empty(),
        "operations without an authorization expectation: {missing:?}"
    );
    assert!(
        wrong.is_empty(),
        "unexpected decisions:\n{}",
        wrong.join("\n")
    );
    assert_eq!(
        walked,
        expectations.len() * callers.tokens.len(),
        "every expectation was walked"
    );
}
