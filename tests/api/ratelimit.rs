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
    let app = spawn_app_with(login_limit(5)).await;
    app.create_tenant("acme").await;
    // Registering and signing in are sign-in routes: two accounts use four of the address's five.
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

/// A client whose requests come from `127.0.0.<last>` (all of 127/8 reaches the loopback server).
pub fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, last]))
        .build()
        .expect("http client")
}

#[tokio::test]
async fn anonymous_traffic_cannot_use_up_the_tenant_ceiling() {
    let app = spawn_app_with(|config| {
        config.rate_limit_plans.insert(
            DEFAULT_PLAN.to_owned(),
            PlanLimits {
                auth_per_minute: 10,
                write_per_minute: 10,
                read_per_minute: 4,
                // Anonymous reads and writes share half of it: 8.
                tenant_per_minute: 16,
            },
        );
    })
    .await;
    app.create_tenant("acme").await;
    let account = app.register("acme", "ana@example.com", false).await;

    // Anonymous reads from one address after another, each within its own allowance of 4,
    // until the tenant refuses anonymous callers.
    let mut anonymous_passed = 0;
    let mut refusal = None;
    'flood: for last in 2..=10 {
        let client = client_from(last);
        for _ in 0..4 {
            let response = client.get(app.url("/v1/t/acme")).send().await.unwrap();
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                refusal = Some(response);
                break 'flood;
            }
            assert_eq!(response.status(), StatusCode::OK);
            anonymous_passed += 1;
        }
    }
    let refusal = refusal.expect("anonymous callers are refused at some point");
    assert!(refusal.headers().contains_key("retry-after"));
    assert_problem(refusal, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(
        anonymous_passed, 8,
        "anonymous callers get half the ceiling"
    );

    // The signed-in user and sign-ins keep the rest.
    assert_eq!(
        app.get_with("/v1/t/acme/users/me", &account.access_token)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login("acme", "ana@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

async fn login_from(
    app: &crate::helpers::TestApp,
    last: u8,
    email: &str,
    password: &str,
) -> reqwest::Response {
    client_from(last)
        .post(app.url("/v1/t/acme/auth/login"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

/// The status, code and detail of a refusal, and its `Retry-After`.
async fn refusal(response: reqwest::Response) -> (StatusCode, u64, serde_json::Value) {
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map_or(0, |value| value.to_str().unwrap().parse().unwrap());
    let body: serde_json::Value = response.json().await.unwrap();
    (
        status,
        retry_after,
        serde_json::json!({ "code": body["code"], "detail": body["detail"] }),
    )
}

#[tokio::test]
async fn wrong_passwords_from_many_addresses_lock_the_account_for_a_while() {
    let app = spawn_app_with(|config| {
        config.sign_in_max_failures = 3;
        config.sign_in_lockout_seconds = 2;
    })
    .await;
    app.create_tenant("acme").await;
    app.register("acme", "ana@example.com", false).await;
    app.register("acme", "bob@example.com", false).await;

    for (last, email) in [
        (2, "ana@example.com"),
        (3, "ANA@example.com"),
        (4, " ana@example.com"),
    ] {
        let response = login_from(&app, last, email, "wrong password!").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "guess from .{last}"
        );
    }
    // Locked out: even the right password, from a fresh address, is refused.
    let (status, retry_after, locked) =
        refusal(login_from(&app, 5, "ana@example.com", PASSWORD).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(locked["code"], "rate_limited");

    // An unknown address behaves the same.
    for last in [6, 7, 8] {
        let response = login_from(&app, last, "nobody@example.com", "wrong password!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let (status, retry_after, unknown) =
        refusal(login_from(&app, 9, "nobody@example.com", PASSWORD).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(unknown["code"], locked["code"]);

    // Another account is unaffected.
    assert_eq!(
        login_from(&app, 5, "bob@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );

    // Once the lockout is over, the right password works again.
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(
        login_from(&app, 5, "ana@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}
