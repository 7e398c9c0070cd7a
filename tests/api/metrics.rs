use reqwest::StatusCode;
use staybase::jobs::{self, EnqueueOptions};
use staybase::mail::{OutgoingEmail, SendEmail};

use crate::helpers::{assert_problem, spawn_app_with};

/// The value of the series `name{labels}` in a text exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_expose_traffic_pool_and_queue_series() {
    let app = spawn_app_with(|config| config.workers = 0).await;
    app.create_tenant("acme").await;
    for _ in 0..3 {
        assert_eq!(app.get("/v1/t/acme").await.status(), StatusCode::OK);
    }
    assert_eq!(
        app.get("/v1/t/nobody").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/no/such/route").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);

    let mut tx = app.state.db.begin().await.unwrap();
    let email = SendEmail {
        email: OutgoingEmail {
            to: "ana@example.com".into(),
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            from_name: None,
            reply_to: None,
        },
    };
    jobs::enqueue(&mut tx, &email, EnqueueOptions::default())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Not on the API's port: only on the metrics listener (`metrics_bind`).
    assert_problem(
        app.get("/metrics").await,
        StatusCode::NOT_FOUND,
        "route_not_found",
    )
    .await;
    let response = app.metrics().await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = response.text().await.unwrap();

    let requests =
        |labels: &str| sample(&text, &format!("staybase_http_requests_total{{{labels}}}"));
    assert_eq!(
        requests(r#"method="GET",route="get_tenant",status="200",tenant_plan="default""#),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        requests(r#"method="GET",route="get_tenant",status="404",tenant_plan="none""#),
        Some(1.0),
        "an unknown tenant never resolves a plan"
    );
    assert_eq!(
        requests(r#"method="GET",route="unmatched",status="404",tenant_plan="none""#),
        Some(2.0),
        "unknown paths share one series, /metrics on the API's port among them"
    );
    assert_eq!(
        requests(r#"method="GET",route="/healthz",status="200",tenant_plan="none""#),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"staybase_http_request_duration_seconds_count{method="GET",route="get_tenant"}"#
        ),
        Some(4.0),
        "latency covers every get_tenant request, whatever its status"
    );
    assert!(sample(&text, r#"staybase_db_pool_connections{state="max"}"#).unwrap() >= 1.0);
    assert!(sample(&text, r#"staybase_db_pool_connections{state="idle"}"#).is_some());
    assert_eq!(
        sample(&text, r#"staybase_jobs{kind="mail.send",status="queued"}"#),
        Some(1.0)
    );
    assert!(text.trim_end().ends_with("# EOF"));
}
