use reqwest::StatusCode;
use serde_json::Value;
use staybase::{
    error::{ApiError, ErrorCode},
    tenants::{TenantStatus, service as tenants},
};

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn a_tenant_answers_under_its_slug() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let response = app.get("/v1/t/acme").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["slug"], "acme");
    assert_eq!(body["display_name"], "acme stays");
}

#[tokio::test]
async fn an_unknown_tenant_is_not_found() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    for path in ["/v1/t/nobody", "/v1/t/NotASlug", "/v1/t/a"] {
        assert_problem(
            app.get(path).await,
            StatusCode::NOT_FOUND,
            "tenant_not_found",
        )
        .await;
    }
}

#[tokio::test]
async fn a_suspended_tenant_is_refused_until_resumed() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;

    tenants::set_status(&app.state, "acme", TenantStatus::Suspended)
        .await
        .unwrap();
    assert_problem(
        app.get("/v1/t/acme").await,
        StatusCode::FORBIDDEN,
        "tenant_suspended",
    )
    .await;
    assert_eq!(
        app.get("/v1/t/other").await.status(),
        StatusCode::OK,
        "others unaffected"
    );

    tenants::set_status(&app.state, "acme", TenantStatus::Active)
        .await
        .unwrap();
    assert_eq!(app.get("/v1/t/acme").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn slugs_are_unique_and_validated() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let duplicate = tenants::create(
        &app.state.db,
        tenants::NewTenant {
            slug: "acme",
            name: "Another",
            test_mode: false,
        },
    )
    .await;
    assert!(
        matches!(
            duplicate,
            Err(ApiError::Conflict {
                code: ErrorCode::SlugTaken,
                ..
            })
        ),
        "{duplicate:?}"
    );

    let invalid = tenants::create(
        &app.state.db,
        tenants::NewTenant {
            slug: "Bad Slug",
            name: " ",
            test_mode: false,
        },
    )
    .await;
    match invalid {
        Err(ApiError::Validation(errors)) => {
            let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["slug", "name"]);
        }
        other => panic!("expected validation errors, got {other:?}"),
    }
    let missing = tenants::set_status(&app.state, "ghost", TenantStatus::Suspended).await;
    assert!(matches!(missing, Err(ApiError::TenantNotFound)));
}
