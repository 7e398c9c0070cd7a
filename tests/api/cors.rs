//! A marketplace's own sites call its API from the browser: CORS for the origins the tenant
//! allows, and for no others.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_problem, spawn_app};

const SITE: &str = "https://stays.acme.test";

#[tokio::test]
async fn allowed_origins_get_preflights_and_readable_answers_others_do_not() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let admin = app.tenant_admin("acme").await;
    let preflight = |origin: &'static str, tenant: &'static str| {
        let app = &app;
        async move {
            app.client
                .request(
                    Method::OPTIONS,
                    app.url(&format!("/v1/t/{tenant}/bookings")),
                )
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization,content-type,idempotency-key",
                )
                .send()
                .await
                .unwrap()
        }
    };
    // No origin is allowed until the tenant says so.
    assert_problem(
        preflight(SITE, "acme").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let response = app
        .client
        .patch(app.url("/v1/t/acme/settings"))
        .bearer_auth(&admin.access_token)
        .json(&json!({ "allowed_origins": [SITE, "http://localhost:5173/"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let settings: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        settings["allowed_origins"],
        json!([SITE, "http://localhost:5173"])
    );
    let bad = app
        .client
        .patch(app.url("/v1/t/acme/settings"))
        .bearer_auth(&admin.access_token)
        .json(&json!({ "allowed_origins": ["https://stays.acme.test/path", "*"] }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2, "{problem}");

    let allowed = preflight(SITE, "acme").await;
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], SITE);
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let allowed_headers = headers["access-control-allow-headers"].to_str().unwrap();
    for header in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed_headers.contains(header), "{allowed_headers}");
    }
    assert!(headers.get("access-control-allow-credentials").is_none());
    assert_eq!(headers["vary"], "Origin");
    // Another site, and the same site on another tenant, are refused.
    for (origin, tenant) in [("https://evil.test", "acme"), (SITE, "other")] {
        let refused = preflight(origin, tenant).await;
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
        assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    }

    // Answers, errors included, name the allowed origin and expose the headers clients read.
    let read = |origin: &'static str, path: &'static str| {
        let app = &app;
        async move {
            app.client
                .get(app.url(path))
                .header("origin", origin)
                .send()
                .await
                .unwrap()
        }
    };
    let answer = read(SITE, "/v1/t/acme/properties").await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["access-control-allow-origin"], SITE);
    let exposed = answer.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for header in ["x-request-id", "retry-after", "ratelimit-remaining"] {
        assert!(exposed.contains(header), "{exposed}");
    }
    let missing = read(
        SITE,
        "/v1/t/acme/properties/0190c5d2-0000-7000-8000-000000000000",
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()["access-control-allow-origin"], SITE);
    let foreign = read("https://evil.test", "/v1/t/acme/properties").await;
    assert_eq!(foreign.status(), StatusCode::OK);
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
