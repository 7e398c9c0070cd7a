//! Secrets at rest: JWT signing keys sealed under `STAYBASE_SECRET_KEY` (rows written before the
//! key was set are sealed at the next start), tokens verifying across restarts and a rotation
//! of the secret key; the simulated provider's webhook keys sealed the same way.

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::StatusCode;
use staybase::{config::Secret, payments::simulated, secret_box::SecretBox};

use crate::{
    cli::staybase_with_env,
    helpers::{TestApp, spawn_app, spawn_app_with},
};

pub const KEY_A: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
pub const KEY_B: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

/// Every stored private key, as the database holds it.
async fn stored_private_keys(app: &TestApp) -> Vec<String> {
    staybase::on_db!(&app.state.db, |pool| {
        sqlx::query_scalar("SELECT private_key FROM signing_keys ORDER BY id")
            .fetch_all(pool)
            .await
    })
    .expect("read signing keys")
}

/// The DER of Ed25519's algorithm identifier (OID 1.3.101.112), in every PKCS#8 Ed25519 key.
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// Whether a stored value holds a private key in the clear (base64 PKCS#8, or inside `v1:`).
fn holds_clear_key(stored: &str) -> bool {
    let raw = STANDARD
        .decode(stored.strip_prefix("v1:").unwrap_or(stored))
        .expect("base64");
    raw.windows(ED25519_OID.len())
        .any(|window| window == ED25519_OID)
}

/// Every tenant's simulated webhook key, as the database holds it.
async fn stored_webhook_keys(app: &TestApp) -> Vec<String> {
    staybase::on_db!(&app.state.db, |pool| {
        sqlx::query_scalar("SELECT secret FROM simulated_webhook_keys ORDER BY tenant_id")
            .fetch_all(pool)
            .await
    })
    .expect("read simulated webhook keys")
}

async fn me_status(app: &TestApp, base: &str, token: &str) -> StatusCode {
    app.client
        .get(format!("{base}/v1/t/acme/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .status()
}

#[tokio::test]
async fn a_new_installation_with_a_key_stores_signing_keys_sealed() {
    let app = spawn_app_with(|config| config.secret_key = Some(Secret::new(KEY_A))).await;
    app.create_tenant("acme").await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let stored = stored_private_keys(&app).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].starts_with("v1:"), "{stored:?}");
    assert!(!holds_clear_key(&stored[0]));
    assert_eq!(
        me_status(&app, &app.url(""), &guest.access_token).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn clear_keys_are_sealed_at_the_next_start_with_a_key_and_tokens_keep_working() {
    // Started without a key: the signing key is stored in the clear, as before.
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let clear = stored_private_keys(&app).await;
    assert!(holds_clear_key(&clear[0]), "{clear:?}");

    // A restart with the key seals it; the token signed before still verifies.
    let sealed_replica = app
        .replica_with(|config| config.secret_key = Some(Secret::new(KEY_A)))
        .await
        .expect("start with the key");
    let sealed = stored_private_keys(&app).await;
    assert!(sealed[0].starts_with("v1:"), "{sealed:?}");
    assert!(!holds_clear_key(&sealed[0]) && !sealed[0].contains(&clear[0]));
    assert_eq!(
        me_status(&app, &sealed_replica, &guest.access_token).await,
        StatusCode::OK
    );

    // It signs with the sealed key, and another restart verifies both tokens.
    let response = app
        .client
        .post(format!("{sealed_replica}/v1/t/acme/auth/login"))
        .json(&serde_json::json!({ "email": "guest@example.com", "password": crate::helpers::PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    let fresh = body["access_token"].as_str().unwrap().to_owned();
    let restarted = app
        .replica_with(|config| config.secret_key = Some(Secret::new(KEY_A)))
        .await
        .expect("restart");
    for token in [&guest.access_token, &fresh] {
        assert_eq!(me_status(&app, &restarted, token).await, StatusCode::OK);
    }
    assert_eq!(
        stored_private_keys(&app).await,
        sealed,
        "nothing sealed twice"
    );

    // A wrong key cannot open the signing key: the server refuses to start.
    let wrong = app
        .replica_with(|config| config.secret_key = Some(Secret::new(KEY_B)))
        .await;
    assert!(wrong.is_err(), "started with the wrong secret key");
}

#[tokio::test]
async fn rotating_the_secret_key_seals_again_under_the_new_one() {
    let app = spawn_app_with(|config| config.secret_key = Some(Secret::new(KEY_A))).await;
    app.create_tenant("acme").await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let under_a = stored_private_keys(&app).await;

    // The new key without the previous one cannot open what A sealed.
    assert!(
        app.replica_with(|config| config.secret_key = Some(Secret::new(KEY_B)))
            .await
            .is_err()
    );
    // With A as the previous key, the start seals under B.
    let rotating = app
        .replica_with(|config| {
            config.secret_key = Some(Secret::new(KEY_B));
            config.secret_key_previous = Some(Secret::new(KEY_A));
        })
        .await
        .expect("start during the rotation");
    let under_b = stored_private_keys(&app).await;
    assert!(under_b[0].starts_with("v1:") && under_b != under_a);
    assert_eq!(
        me_status(&app, &rotating, &guest.access_token).await,
        StatusCode::OK
    );
    // Done: B alone opens everything.
    let after = app
        .replica_with(|config| config.secret_key = Some(Secret::new(KEY_B)))
        .await
        .expect("start with the new key only");
    assert_eq!(
        me_status(&app, &after, &guest.access_token).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn simulated_webhook_keys_are_stored_sealed_under_the_secret_key() {
    let app = spawn_app_with(|config| config.secret_key = Some(Secret::new(KEY_A))).await;
    let tenant = app.create_tenant("acme").await;
    let key = simulated::webhook_key(&app.state.db, &app.state.secrets, tenant.id)
        .await
        .unwrap();
    let stored = stored_webhook_keys(&app).await;
    assert!(stored[0].starts_with("v1:") && !stored[0].contains(&key));
    // Read again, it is the same key and stays as it was stored.
    let again = simulated::webhook_key(&app.state.db, &app.state.secrets, tenant.id)
        .await
        .unwrap();
    assert_eq!(again, key);
    assert_eq!(stored_webhook_keys(&app).await, stored);
    // Without the secret key it cannot be read.
    assert!(
        simulated::webhook_key(&app.state.db, &SecretBox::default(), tenant.id)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn keys_reseal_seals_what_an_installation_stored_in_the_clear() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme").await;
    let guest = app.register("acme", "guest@example.com", false).await;
    assert!(holds_clear_key(&stored_private_keys(&app).await[0]));
    let webhook_key = simulated::webhook_key(&app.state.db, &app.state.secrets, tenant.id)
        .await
        .unwrap();
    assert_eq!(
        stored_webhook_keys(&app).await,
        std::slice::from_ref(&webhook_key)
    );

    let refused = staybase_with_env(&app.database_url, &[], &["keys", "reseal"]).await;
    assert!(!refused.status.success(), "resealed without a key");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("STAYBASE_SECRET_KEY"));

    let output = staybase_with_env(
        &app.database_url,
        &[("STAYBASE_SECRET_KEY", KEY_A)],
        &["keys", "reseal"],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 simulated webhook keys"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let sealed = stored_private_keys(&app).await;
    assert!(sealed[0].starts_with("v1:") && !holds_clear_key(&sealed[0]));
    let sealed_webhook_key = &stored_webhook_keys(&app).await[0];
    assert!(sealed_webhook_key.starts_with("v1:") && !sealed_webhook_key.contains(&webhook_key));
    let key_a = SecretBox::new(Some(&Secret::new(KEY_A)), None).unwrap();
    assert_eq!(
        simulated::webhook_key(&app.state.db, &key_a, tenant.id)
            .await
            .unwrap(),
        webhook_key
    );
    let restarted = app
        .replica_with(|config| config.secret_key = Some(Secret::new(KEY_A)))
        .await
        .expect("start with the key");
    assert_eq!(
        me_status(&app, &restarted, &guest.access_token).await,
        StatusCode::OK
    );
}
