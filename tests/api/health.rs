use reqwest::StatusCode;
use serde_json::Value;
use staybase::config::{DatabaseKind, Secret};

use crate::helpers::{TEST_REDIS_URL, assert_problem, expected_backend, spawn_app, spawn_app_with};

#[tokio::test]
async fn healthz_answers_and_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        uuid::Uuid::parse_str(&id).is_ok(),
        "generated id is a UUID: {id}"
    );
}

#[tokio::test]
async fn a_sane_client_request_id_is_echoed_and_a_hostile_one_replaced() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "client-abc.123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-abc.123");

    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "x".repeat(500))
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "x".repeat(500).as_str());
}

#[tokio::test]
async fn the_suite_runs_on_the_backend_it_was_asked_for() {
    let app = spawn_app().await;
    assert_eq!(app.state.db.kind(), expected_backend());
}

#[tokio::test]
async fn readyz_reports_the_database_and_redis() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["database"]["status"], "up");
    let redis = if std::env::var(TEST_REDIS_URL).is_ok() {
        "up"
    } else {
        "not_configured"
    };
    assert_eq!(body["redis"]["status"], redis);
}

#[tokio::test]
async fn readyz_fails_while_the_database_is_unreachable() {
    // Nothing listens on port 1: the pool cannot connect, the process still serves.
    let app = spawn_app_with(|config| {
        config.database_url = Some(Secret::new("postgres://postgres@127.0.0.1:1/staybase"));
        config.migrate_on_start = false;
        config.database_acquire_timeout_ms = 500;
    })
    .await;
    assert_eq!(app.state.db.kind(), DatabaseKind::Postgres);
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);

    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"]["status"], "down");
    assert!(
        !body.to_string().contains("127.0.0.1:1"),
        "no connection details leak: {body}"
    );

    let response = app.get("/v1/t/acme").await;
    assert_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
}

#[tokio::test]
async fn readyz_fails_once_the_database_pool_is_gone() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    assert_eq!(app.get("/v1/t/acme").await.status(), StatusCode::OK);

    app.state.db.close().await;

    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    // A search for dates always reads the database (the tenant may still be in memory).
    let response = app
        .get(&format!(
            "/v1/t/acme/properties?check_in={}&check_out={}",
            crate::helpers::day(10),
            crate::helpers::day(12)
        ))
        .await;
    assert_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
}

#[tokio::test]
async fn redis_trouble_degrades_readiness_without_failing_it() {
    let app = spawn_app_with(|config| {
        config.redis_url = Some(Secret::new("redis://127.0.0.1:1"));
    })
    .await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["redis"]["status"], "down");
}

/// Every answer, errors and framework rejections included, forbids content sniffing and framing.
#[tokio::test]
async fn every_answer_forbids_sniffing_and_framing() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let answers = [
        ("/healthz", app.get("/healthz").await),
        ("/openapi.json", app.get("/openapi.json").await),
        ("a tenant", app.get("/v1/t/acme").await),
        ("an unknown tenant", app.get("/v1/t/nobody").await),
        ("no route", app.get("/no/such/route").await),
        (
            "authentication required",
            app.get("/v1/t/acme/users/me").await,
        ),
        (
            "method not allowed",
            app.client.delete(app.url("/healthz")).send().await.unwrap(),
        ),
        (
            "malformed JSON",
            app.client
                .post(app.url("/v1/t/acme/auth/login"))
                .header("content-type", "application/json")
                .body("{")
                .send()
                .await
                .unwrap(),
        ),
    ];
    for (what, response) in answers {
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    }
}
