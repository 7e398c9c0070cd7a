use reqwest::StatusCode;
use staybase::{
    AppState,
    ratelimit::{DEFAULT_PLAN, PlanLimits},
};

use crate::helpers::{PASSWORD, TEST_REDIS_URL, assert_problem, spawn_app_with};

fn login_limit(per_minute: u32) -> impl FnOnce(&mut staybase::Config) {
    move |config| {
        config.rate_limit_plans.insert(
            DEFAULT_PLAN.to_owned(),
            PlanLimits {
                auth_per_minute: per_minute,
                ..PlanLimits::default()
            },
        );
    }
}

#[tokio::test]
async fn logins_beyond_the_limit_answer_429_with_headers() {
    let app = spawn_app_with(login_limit(5)).await;
    app.create_tenant("acme").await;
    for attempt in 0..5 {
        let response = app.login("acme", "ana@example.com", PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt} is judged"
        );
        assert_eq!(response.headers()["ratelimit-limit"], "5");
        assert_eq!(
            response.headers()["ratelimit-remaining"],
            (4 - attempt).to_string().as_str()
        );
        assert!(response.headers().contains_key("ratelimit-reset"));
    }
    let response = app.login("acme", "ana@example.com", PASSWORD).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // Reads are another class, with their own allowance.
    assert_eq!(app.get("/v1/t/acme").await.status(), StatusCode::OK);
    let metrics = app.metrics().await.text().await.unwrap();
    assert!(
        metrics.contains(r#"staybase_rate_limit_rejections_total{tenant_plan="default"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn with_redis_two_instances_share_one_limit() {
    if std::env::var(TEST_REDIS_URL).is_err() {
        // Only the Redis run proves sharing; without Redis each instance limits alone.
        return;
    }
    let app = spawn_app_with(login_limit(6)).await;
    app.create_tenant("acme").await;
    let other = AppState::start(app.state.config.clone()).await.unwrap();
    let other_addr = {
        let acceptor = staybase::router::server::bind(&staybase::Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            ..app.state.config.clone()
        })
        .await
        .unwrap();
        let addr = poem::listener::Acceptor::local_addr(&acceptor)[0]
            .as_socket_addr()
            .copied()
            .unwrap();
        tokio::spawn(staybase::router::server::serve(
            acceptor,
            other,
            staybase::router::server::Mode::Api,
            std::future::pending(),
        ));
        addr
    };

    let mut passed = 0;
    let mut limited = 0;
    for attempt in 0..12 {
        let base = if attempt % 2 == 0 {
            format!("http://{}", app.addr)
        } else {
            format!("http://{other_addr}")
        };
        let response = app
            .client
            .post(format!("{base}/v1/t/acme/auth/login"))
            .json(&serde_json::json!({ "email": "ana@example.com", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            _ => passed += 1,
        }
    }
    assert_eq!(
        passed, 6,
        "the two instances together allow the configured count"
    );
    assert_eq!(limited, 6);
}

#[tokio::test]
async fn signed_in_callers_do_not_get_more_sign_in_attempts() {
    let app = spawn_app_with(login_limit(3)).await;
    app.create_tenant("acme").await;
    // Registering is a sign-in route too: two accounts use two of the address's three.
    let first = app.register("acme", "first@example.com", false).await;
    let second = app.register("acme", "second@example.com", false).await;
    let attempt = |token: String| {
        let app = &app;
        async move {
            app.post_json(
                "/v1/t/acme/auth/login",
                &serde_json::json!({ "email": "victim@example.com", "password": PASSWORD }),
                Some(&token),
            )
            .await
        }
    };
    assert_eq!(
        attempt(first.access_token.clone()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_problem(
        attempt(second.access_token.clone()).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    // Other routes are limited per account, not per address.
    assert_eq!(
        app.get_with("/v1/t/acme/users/me", &first.access_token)
            .await
            .status(),
        StatusCode::OK
    );
}
