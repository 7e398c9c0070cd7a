//! Tenant settings: defaults, validation, who may read and change them, their effect, and a
//! change made on one instance seen by another.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{io::AsyncWriteExt, process::Command};

use crate::helpers::{PASSWORD, TestApp, assert_problem, spawn_app};

async fn patch(
    app: &TestApp,
    base: &str,
    tenant: &str,
    token: &str,
    body: Value,
) -> reqwest::Response {
    app.client
        .patch(format!("{base}/v1/t/{tenant}/settings"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_new_tenant_has_the_documented_defaults() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let response = app
        .get_with("/v1/t/acme/settings", &admin.access_token)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let settings: Value = response.json().await.unwrap();
    assert_eq!(
        settings,
        json!({
            "display_name": "acme stays", "currency": "EUR", "timezone": "UTC",
            "booking_mode": "instant", "payment_collection": "online", "hold_minutes": 15,
            "request_expiry_hours": 24, "platform_fee_bps": 0, "tax_bps": 0, "host_fee_bps": 0,
            "cancellation_policy": "moderate", "self_service_hosts": true,
            "require_verified_email": false,
            "review_window_days": 30, "review_publication": "double_blind",
            "max_unpaid_bookings": 3, "max_stay_nights": 90,
            "booking_window_days": 730, "allowed_origins": [], "site_url": null,
            "reply_to": null, "rate_limit_plan": "default", "version": 1
        })
    );
}

#[tokio::test]
async fn every_field_is_validated_and_named() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let base = app.url("");
    let invalid = [
        ("display_name", json!("")),
        ("currency", json!("EURO")),
        ("currency", json!("XYZ")),
        ("timezone", json!("Mars/Olympus")),
        ("booking_mode", json!("auction")),
        ("payment_collection", json!("cash")),
        ("hold_minutes", json!(1)),
        ("hold_minutes", json!("15")),
        ("request_expiry_hours", json!(0)),
        ("platform_fee_bps", json!(5001)),
        ("tax_bps", json!(-1)),
        ("host_fee_bps", json!(5001)),
        ("cancellation_policy", json!("lenient")),
        ("self_service_hosts", json!("yes")),
        ("review_window_days", json!(366)),
        ("rate_limit_plan", json!("gold")),
    ];
    for (field, value) in invalid {
        let response = patch(
            &app,
            &base,
            "acme",
            &admin.access_token,
            json!({ field: value }),
        )
        .await;
        let body = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(
            body["errors"][0]["field"], field,
            "{field} = {value}: {body}"
        );
    }
    let settings: Value = app
        .get_with("/v1/t/acme/settings", &admin.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["version"], 1, "no rejected change was applied");

    let response = patch(
        &app,
        &base,
        "acme",
        &admin.access_token,
        json!({ "currency": "USD", "timezone": "America/New_York", "booking_mode": "request",
                "payment_collection": "at_property", "platform_fee_bps": 1200, "tax_bps": 550 }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let settings: Value = response.json().await.unwrap();
    assert_eq!(settings["currency"], "USD");
    assert_eq!(settings["booking_mode"], "request");
    assert_eq!(settings["hold_minutes"], 15, "fields not named stay");
    assert_eq!(settings["version"], 2);
    let public: Value = app.get("/v1/t/acme").await.json().await.unwrap();
    assert_eq!(public["currency"], "USD");
    assert_eq!(public["timezone"], "America/New_York");
}

#[tokio::test]
async fn only_the_tenants_admins_read_or_change_settings() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let base = app.url("");
    let guest = app.register("acme", "guest@example.com", false).await;
    let host = app.register("acme", "host@example.com", true).await;
    let other_admin = app.tenant_admin("other").await;
    for account in [&guest, &host] {
        assert_problem(
            app.get_with("/v1/t/acme/settings", &account.access_token)
                .await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        let response = patch(
            &app,
            &base,
            "acme",
            &account.access_token,
            json!({ "tax_bps": 100 }),
        )
        .await;
        assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Another tenant's admin holds no credentials valid here.
    assert_problem(
        app.get_with("/v1/t/acme/settings", &other_admin.access_token)
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let response = patch(
        &app,
        &base,
        "acme",
        &other_admin.access_token,
        json!({ "tax_bps": 100 }),
    )
    .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(
        app.get("/v1/t/acme/settings").await,
        StatusCode::UNAUTHORIZED,
        "authentication_required",
    )
    .await;
}

#[tokio::test]
async fn without_self_service_hosts_registration_grants_only_guest() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let base = app.url("");
    let before = app.register("acme", "early@example.com", true).await;
    let me: Value = app
        .get_with("/v1/t/acme/users/me", &before.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], json!(["host", "guest"]));

    let response = patch(
        &app,
        &base,
        "acme",
        &admin.access_token,
        json!({ "self_service_hosts": false }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let after = app.register("acme", "late@example.com", true).await;
    let me: Value = app
        .get_with("/v1/t/acme/users/me", &after.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], json!(["guest"]));
}

#[tokio::test]
async fn a_change_through_one_instance_is_seen_by_another_on_its_next_request() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;

    let other_base = app.replica().await;

    let read = |base: String| {
        let app = &app;
        let token = admin.access_token.clone();
        async move {
            app.client
                .get(format!("{base}/v1/t/acme/settings"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(read(other_base.clone()).await["display_name"], "acme stays");
    let response = patch(
        &app,
        &app.url(""),
        "acme",
        &admin.access_token,
        json!({ "display_name": "Acme Riviera" }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen = read(other_base).await;
    assert_eq!(seen["display_name"], "Acme Riviera");
    assert_eq!(seen["version"], 2);
}

async fn staybase(
    database_url: &str,
    args: &[&str],
    password: Option<&str>,
    stdin: Option<&str>,
) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_staybase"));
    command
        .args(args)
        .env("STAYBASE_DATABASE_URL", database_url)
        .env("STAYBASE_LOG", "warn")
        .env_remove("STAYBASE_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(password) = password {
        command.env("STAYBASE_PASSWORD", password);
    }
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.unwrap();
    }
    drop(input);
    child.wait_with_output().await.unwrap()
}

#[tokio::test]
async fn tenant_create_with_an_admin_email_makes_a_tenant_admin() {
    let app = spawn_app().await;
    let args = [
        "tenant",
        "create",
        "--slug",
        "seaside",
        "--name",
        "Seaside",
        "--admin-email",
        "boss@seaside.example",
    ];
    let output = staybase(&app.database_url, &args, Some(PASSWORD), None).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let response = app.login("seaside", "boss@seaside.example", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["user"]["roles"], json!(["tenant_admin", "guest"]));
    let token = session["access_token"].as_str().unwrap();
    assert_eq!(
        app.get_with("/v1/t/seaside/settings", token).await.status(),
        StatusCode::OK
    );

    let args = [
        "tenant",
        "create",
        "--slug",
        "bayside",
        "--name",
        "Bayside",
        "--admin-email",
        "boss@bayside.example",
    ];
    let output = staybase(&app.database_url, &args, None, Some("a piped passphrase\n")).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        app.login("bayside", "boss@bayside.example", "a piped passphrase")
            .await
            .status(),
        StatusCode::OK
    );

    let args = [
        "tenant",
        "create",
        "--slug",
        "weak",
        "--name",
        "Weak",
        "--admin-email",
        "boss@weak.example",
    ];
    let output = staybase(&app.database_url, &args, Some("short"), None).await;
    assert!(!output.status.success(), "a weak password is refused");
    assert_problem(
        app.get("/v1/t/weak").await,
        StatusCode::NOT_FOUND,
        "tenant_not_found",
    )
    .await;
}

#[tokio::test]
async fn a_one_time_admin_password_must_be_replaced_before_signing_in() {
    let app = spawn_app().await;
    let args = [
        "tenant",
        "create",
        "--slug",
        "seaside",
        "--name",
        "Seaside",
        "--admin-email",
        "boss@seaside.example",
    ];
    let output = staybase(&app.database_url, &args, None, None).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let one_time = stderr
        .lines()
        .find_map(|line| line.strip_prefix("one-time password: "))
        .expect("printed")
        .to_owned();
    let created: Value = serde_json::from_slice(&output.stdout).expect("stdout stays JSON");
    assert_eq!(created["slug"], "seaside");

    assert_problem(
        app.login("seaside", "boss@seaside.example", &one_time)
            .await,
        StatusCode::FORBIDDEN,
        "password_change_required",
    )
    .await;
    let response = app
        .post_json(
            "/v1/t/seaside/auth/password-change",
            &json!({ "email": "boss@seaside.example", "current_password": one_time, "new_password": "my own passphrase" }),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["user"]["roles"], json!(["tenant_admin", "guest"]));
    assert_eq!(
        app.login("seaside", "boss@seaside.example", "my own passphrase")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn user_roles_command_fixes_roles() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let ana = app.register("acme", "ana@example.com", false).await;
    let output = staybase(
        &app.database_url,
        &[
            "user",
            "roles",
            "--tenant",
            "acme",
            "--email",
            "ANA@example.com",
            "--set",
            "host,guest",
        ],
        None,
        None,
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let me: Value = app
        .get_with("/v1/t/acme/users/me", &ana.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], json!(["host", "guest"]));

    let output = staybase(
        &app.database_url,
        &[
            "user",
            "roles",
            "--tenant",
            "acme",
            "--email",
            "ana@example.com",
            "--set",
            "root",
        ],
        None,
        None,
    )
    .await;
    assert!(!output.status.success());
    let output = staybase(
        &app.database_url,
        &[
            "user",
            "roles",
            "--tenant",
            "acme",
            "--email",
            "ghost@example.com",
            "--set",
            "guest",
        ],
        None,
        None,
    )
    .await;
    assert!(!output.status.success());
}

/// A typo is not silently dropped: a field the request does not have is named in the 422, with
/// every other invalid field, each once, and nothing changes.
#[tokio::test]
async fn unknown_fields_are_named_with_every_other_invalid_field() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let base = app.url("");
    let response = patch(
        &app,
        &base,
        "acme",
        &admin.access_token,
        json!({ "primary_colour": "#ff0000", "hold_minutes": "soon", "tax_bps": -1 }),
    )
    .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let mut fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["hold_minutes", "primary_colour", "tax_bps"],
        "{problem}"
    );
    let settings: Value = app
        .get_with("/v1/t/acme/settings", &admin.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["version"], 1, "nothing changed");
}

/// A change that changes nothing writes nothing: the version stays.
#[tokio::test]
async fn an_empty_or_same_valued_change_keeps_the_version() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let base = app.url("");
    for body in [json!({}), json!({ "hold_minutes": 15, "currency": "EUR" })] {
        let response = patch(&app, &base, "acme", &admin.access_token, body.clone()).await;
        assert_eq!(response.status(), StatusCode::OK, "{body}");
        let settings: Value = response.json().await.unwrap();
        assert_eq!(settings["version"], 1, "{body}");
    }
    let changed: Value = patch(
        &app,
        &base,
        "acme",
        &admin.access_token,
        json!({ "hold_minutes": 20 }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(changed["version"], 2);
}
