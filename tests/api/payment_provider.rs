//! `GET/PUT payment-provider`: tenant admins choose the provider; Stripe secrets are stored
//! sealed, never returned, and opened only for the payments core.

use reqwest::StatusCode;
use serde_json::{Value, json};
use staybase::{config::Secret, payment_provider::model::ProviderSettings};

use crate::{
    helpers::{TestApp, assert_invalid, assert_problem, spawn_app, spawn_app_with},
    secrets::KEY_A,
};

const SECRET_KEY: &str = "sk_test_51SecretKeyMaterial9876";
const WEBHOOK_NEW: &str = "whsec_NewSigningSecret4321";
const WEBHOOK_OLD: &str = "whsec_OldSigningSecret8765";

fn stripe_body() -> Value {
    json!({
        "provider": "stripe",
        "stripe": {
            "secret_key": SECRET_KEY,
            "webhook_secrets": [WEBHOOK_NEW, WEBHOOK_OLD],
            "api_base": "http://127.0.0.1:12111",
        }
    })
}

async fn put(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.client
        .put(app.url("/v1/t/acme/payment-provider"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("request")
}

/// What `GET payment-provider` answers an admin of acme.
async fn shown(app: &TestApp, token: &str) -> Value {
    let response = app.get_with("/v1/t/acme/payment-provider", token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("JSON")
}

/// The tenant's stored row, every column as text.
async fn stored_row(app: &TestApp) -> String {
    let row: (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = staybase::on_db!(&app.state.db, |pool| {
        sqlx::query_as(
            "SELECT provider, stripe_credentials, stripe_secret_key_last4, \
                 stripe_webhook_secrets_last4, stripe_api_base FROM payment_provider_settings",
        )
        .fetch_one(pool)
        .await
    })
    .expect("read settings");
    format!("{row:?}")
}

#[tokio::test]
async fn stripe_secrets_are_stored_sealed_and_never_shown() {
    let app = spawn_app_with(|config| config.secret_key = Some(Secret::new(KEY_A))).await;
    let tenant = app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;

    let default = shown(&app, &admin.access_token).await;
    assert_eq!(default, json!({ "provider": "simulated" }));

    let response = put(&app, &admin.access_token, &stripe_body()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let expected = json!({
        "provider": "stripe",
        "stripe": {
            "secret_key_last4": "9876",
            "webhook_secrets_last4": ["4321", "8765"],
            "api_base": "http://127.0.0.1:12111",
        }
    });
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), expected);
    let view = shown(&app, &admin.access_token).await;
    assert_eq!(view, expected);

    // The database holds the secrets sealed: neither they nor more than their last four
    // characters appear anywhere in the row.
    let row = stored_row(&app).await;
    for secret in [SECRET_KEY, WEBHOOK_NEW, WEBHOOK_OLD] {
        assert!(!row.contains(secret), "{row}");
        assert!(!row.contains(&secret[secret.len() - 8..]), "{row}");
    }
    assert!(row.contains("\"v1:"), "{row}");

    // The payments core gets them opened; their Debug output stays redacted.
    let opened = staybase::payment_provider::service::for_payments(&app.state, tenant.id)
        .await
        .unwrap();
    let ProviderSettings::Stripe(stripe) = &opened else {
        panic!("stripe settings expected, got {opened:?}")
    };
    assert_eq!(stripe.credentials.secret_key.expose(), SECRET_KEY);
    let webhooks: Vec<_> = stripe
        .credentials
        .webhook_secrets
        .iter()
        .map(|secret| secret.expose())
        .collect();
    assert_eq!(webhooks, [WEBHOOK_NEW, WEBHOOK_OLD]);
    assert_eq!(stripe.api_base, "http://127.0.0.1:12111");
    let debug = format!("{opened:?}");
    assert!(
        !debug.contains(SECRET_KEY) && !debug.contains(WEBHOOK_NEW),
        "{debug}"
    );

    // Back to the simulated provider: the credentials are gone.
    let response = put(
        &app,
        &admin.access_token,
        &json!({ "provider": "simulated" }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!stored_row(&app).await.contains("v1:"));
    assert!(matches!(
        staybase::payment_provider::service::for_payments(&app.state, tenant.id)
            .await
            .unwrap(),
        ProviderSettings::Simulated
    ));
}

#[tokio::test]
async fn without_a_secret_key_stripe_credentials_are_refused() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let response = put(&app, &admin.access_token, &stripe_body()).await;
    assert_problem(response, StatusCode::CONFLICT, "secret_key_missing").await;
    assert_eq!(
        shown(&app, &admin.access_token).await["provider"],
        "simulated"
    );
    // The simulated provider needs no secret.
    let response = put(
        &app,
        &admin.access_token,
        &json!({ "provider": "simulated" }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn invalid_settings_name_their_fields() {
    let app = spawn_app_with(|config| config.secret_key = Some(Secret::new(KEY_A))).await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let cases = [
        (json!({ "provider": "paypal" }), "provider"),
        (json!({ "provider": "stripe" }), "stripe"),
        (
            json!({ "provider": "simulated", "stripe": stripe_body()["stripe"] }),
            "stripe",
        ),
        (
            json!({ "provider": "stripe", "stripe": { "secret_key": "pk_test_publishable", "webhook_secrets": [WEBHOOK_NEW] } }),
            "stripe.secret_key",
        ),
        (
            json!({ "provider": "stripe", "stripe": { "secret_key": SECRET_KEY, "webhook_secrets": [] } }),
            "stripe.webhook_secrets",
        ),
        (
            json!({ "provider": "stripe", "stripe": { "secret_key": SECRET_KEY, "webhook_secrets": [WEBHOOK_NEW, "nope"] } }),
            "stripe.webhook_secrets[1]",
        ),
        (
            json!({ "provider": "stripe", "stripe": { "secret_key": SECRET_KEY, "webhook_secrets": [WEBHOOK_NEW], "api_base": "file:///etc" } }),
            "stripe.api_base",
        ),
        (
            json!({ "provider": "stripe", "stripe": { "webhook_secrets": [WEBHOOK_NEW] } }),
            "stripe.secret_key",
        ),
    ];
    for (body, field) in cases {
        let problem = assert_invalid(put(&app, &admin.access_token, &body).await, field).await;
        // A refused secret is not echoed back.
        assert!(!problem.to_string().contains(SECRET_KEY), "{problem}");
    }
    let view = shown(&app, &admin.access_token).await;
    assert_eq!(view["provider"], "simulated", "nothing changed");
}

#[tokio::test]
async fn only_this_tenants_admins_see_or_change_it() {
    let app = spawn_app_with(|config| config.secret_key = Some(Secret::new(KEY_A))).await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let host = app.register("acme", "host@example.com", true).await;
    let other_admin = app.tenant_admin("other").await;
    let response = put(&app, &host.access_token, &stripe_body()).await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = app
        .get_with("/v1/t/acme/payment-provider", &host.access_token)
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = put(&app, &other_admin.access_token, &stripe_body()).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // The other tenant's own settings are its own.
    let response = app
        .client
        .put(app.url("/v1/t/other/payment-provider"))
        .bearer_auth(&other_admin.access_token)
        .json(&stripe_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let acme_admin = app.tenant_admin("acme").await;
    let acme = shown(&app, &acme_admin.access_token).await;
    assert_eq!(acme["provider"], "simulated");
}

#[tokio::test]
async fn credentials_sealed_under_the_previous_key_are_sealed_again_when_read() {
    let app = spawn_app_with(|config| config.secret_key = Some(Secret::new(KEY_A))).await;
    let tenant = app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    assert_eq!(
        put(&app, &admin.access_token, &stripe_body())
            .await
            .status(),
        StatusCode::OK
    );
    let before = stored_row(&app).await;
    let mut config = app.state.config.clone();
    config.secret_key = Some(Secret::new(crate::secrets::KEY_B));
    config.secret_key_previous = Some(Secret::new(KEY_A));
    let rotated = staybase::AppState::start(config.clone()).await.unwrap();
    assert_eq!(
        staybase::payment_provider::service::reseal_all(&rotated)
            .await
            .unwrap(),
        1
    );
    assert_ne!(stored_row(&app).await, before);
    assert_eq!(
        staybase::payment_provider::service::reseal_all(&rotated)
            .await
            .unwrap(),
        0,
        "nothing left to seal again"
    );
    config.secret_key_previous = None;
    let after = staybase::AppState::start(config).await.unwrap();
    let opened = staybase::payment_provider::service::for_payments(&after, tenant.id)
        .await
        .unwrap();
    assert!(matches!(opened, ProviderSettings::Stripe(_)));
}
