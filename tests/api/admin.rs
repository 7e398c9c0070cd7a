//! Platform administrators: created from the CLI, signed in to /v1/admin only.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{io::AsyncWriteExt, process::Command};

use crate::helpers::{PASSWORD, assert_problem, spawn_app};

async fn admin_create(
    database_url: &str,
    email: &str,
    password_env: Option<&str>,
    stdin: Option<&str>,
) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_staybase"));
    command
        .args(["admin", "create", "--email", email])
        .env("STAYBASE_DATABASE_URL", database_url)
        .env("STAYBASE_LOG", "warn")
        .env_remove("STAYBASE_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(password) = password_env {
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

async fn login(app: &crate::helpers::TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/v1/admin/auth/login",
        &json!({ "email": email, "password": password }),
        None,
    )
    .await
}

#[tokio::test]
async fn an_administrator_from_the_environment_signs_in_to_the_admin_api_only() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let output = admin_create(&app.database_url, "ops@example.com", Some(PASSWORD), None).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains(PASSWORD));

    let response = login(&app, "ops@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["user"]["roles"], json!(["platform_admin"]));
    let token = session["access_token"].as_str().unwrap();

    let me: Value = app
        .get_with("/v1/admin/me", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ops@example.com");
    assert_problem(
        app.get_with("/v1/t/acme/users/me", token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    let tenant_user = app.register("acme", "ana@example.com", false).await;
    assert_problem(
        app.get_with("/v1/admin/me", &tenant_user.access_token)
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_problem(
        app.get("/v1/admin/me").await,
        StatusCode::UNAUTHORIZED,
        "authentication_required",
    )
    .await;
    assert_problem(
        login(&app, "ops@example.com", "wrong password!").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    let duplicate = admin_create(&app.database_url, "OPS@example.com", Some(PASSWORD), None).await;
    assert!(!duplicate.status.success());
}

#[tokio::test]
async fn the_password_can_come_from_standard_input() {
    let app = spawn_app().await;
    let output = admin_create(
        &app.database_url,
        "ops@example.com",
        None,
        Some("a piped passphrase\n"),
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        login(&app, "ops@example.com", "a piped passphrase")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_one_time_password_must_be_replaced_before_signing_in() {
    let app = spawn_app().await;
    let output = admin_create(&app.database_url, "ops@example.com", None, None).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let one_time = stdout
        .lines()
        .find_map(|line| line.strip_prefix("one-time password: "))
        .expect("the one-time password is printed")
        .to_owned();

    assert_problem(
        login(&app, "ops@example.com", &one_time).await,
        StatusCode::FORBIDDEN,
        "password_change_required",
    )
    .await;
    let change = |current: String, new: &'static str| {
        let app = &app;
        async move {
            app.post_json(
                "/v1/admin/auth/password",
                &json!({ "email": "ops@example.com", "current_password": current, "new_password": new }),
                None,
            )
            .await
        }
    };
    assert_problem(
        change(one_time.clone(), "short").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let response = change(one_time.clone(), "my own passphrase").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        login(&app, "ops@example.com", "my own passphrase")
            .await
            .status(),
        StatusCode::OK
    );
    assert_problem(
        login(&app, "ops@example.com", &one_time).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

/// Signs in a new platform administrator and returns its access token.
pub(crate) async fn admin_token(app: &crate::helpers::TestApp) -> String {
    let created = admin_create(&app.database_url, "ops@example.com", Some(PASSWORD), None).await;
    assert!(created.status.success());
    let session: Value = login(app, "ops@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    session["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn platform_admins_list_tenants_and_put_one_on_a_plan() {
    let app = crate::helpers::spawn_app_with(|config| {
        let gold = config.rate_limit_plans["default"];
        config.rate_limit_plans.insert("gold".into(), gold);
    })
    .await;
    app.create_tenant("acme").await;
    app.create_tenant("zephyr").await;
    let token = admin_token(&app).await;

    let response = app.get_with("/v1/admin/tenants", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let list: Value = response.json().await.unwrap();
    let slugs: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tenant| tenant["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["acme", "zephyr"]);
    assert_eq!(list["next_cursor"], Value::Null);
    assert_eq!(list["data"][0]["status"], "active");
    assert_eq!(list["data"][0]["rate_limit_plan"], "default");

    let patch = |slug: &str, body: Value| {
        app.client
            .patch(app.url(&format!("/v1/admin/tenants/{slug}")))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let moved: Value = patch("acme", json!({ "rate_limit_plan": "gold" }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(moved["rate_limit_plan"], "gold");
    assert_eq!(moved["slug"], "acme");
    let fetched: Value = app
        .get_with("/v1/admin/tenants/acme", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["rate_limit_plan"], "gold");
    let tenant_admin = app.tenant_admin("acme").await;
    let settings: Value = app
        .get_with("/v1/t/acme/settings", &tenant_admin.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["rate_limit_plan"], "gold");

    // An empty change changes nothing; bad input is named; the other tenant is untouched.
    let unchanged: Value = patch("acme", json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged["rate_limit_plan"], "gold");
    assert_eq!(unchanged["updated_at"], fetched["updated_at"]);
    let problem = assert_problem(
        patch("acme", json!({ "rate_limit_plan": "platinum" }))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "rate_limit_plan");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("default, gold"),
        "{problem}"
    );
    assert_problem(
        patch("acme", json!({ "plan": "gold" })).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_problem(
        patch("nowhere", json!({ "rate_limit_plan": "gold" }))
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "tenant_not_found",
    )
    .await;
    assert_problem(
        app.get_with("/v1/admin/tenants/nowhere", &token).await,
        StatusCode::NOT_FOUND,
        "tenant_not_found",
    )
    .await;
    let zephyr: Value = app
        .get_with("/v1/admin/tenants/zephyr", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(zephyr["rate_limit_plan"], "default");

    // Tenant tokens, even a tenant admin's, are not platform tokens.
    assert_problem(
        app.get_with("/v1/admin/tenants", &tenant_admin.access_token)
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_problem(
        app.client
            .patch(app.url("/v1/admin/tenants/acme"))
            .json(&json!({ "rate_limit_plan": "default" }))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "authentication_required",
    )
    .await;
}
