//! The authentication life cycle through HTTP: registration, sign-in, refresh rotation and
//! reuse detection, logout, email verification, password reset and change, hostile tokens.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde_json::{Value, json};
use staybase::auth::{AccessClaims, TENANT_AUDIENCE};

use crate::helpers::{PASSWORD, TestApp, assert_problem, spawn_app, token_in_email};

async fn me(app: &TestApp, tenant: &str, token: &str) -> reqwest::Response {
    app.get_with(&format!("/v1/t/{tenant}/users/me"), token)
        .await
}

async fn refresh(app: &TestApp, tenant: &str, refresh_token: &str) -> reqwest::Response {
    app.post_json(
        &format!("/v1/t/{tenant}/auth/refresh"),
        &json!({ "refresh_token": refresh_token }),
        None,
    )
    .await
}

#[tokio::test]
async fn registration_then_sign_in_gives_a_token_response_and_stores_argon2id_hashes() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let response = app
        .post_json(
            "/v1/t/acme/auth/register",
            &json!({
                "email": "Ana.Lima@Example.com", "password": PASSWORD,
                "first_name": "Ana", "last_name": "Lima", "phone_number": "+33612345678", "host": true
            }),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = app.login("acme", "ana.lima@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["email"], "Ana.Lima@Example.com");
    assert_eq!(body["user"]["roles"], json!(["host", "guest"]));
    assert!(body["refresh_token"].as_str().unwrap().starts_with("rt_"));

    let token = body["access_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|key| key["kid"] == header["kid"] && key["crv"] == "Ed25519")
    );

    let profile: Value = me(&app, "acme", token).await.json().await.unwrap();
    assert_eq!(profile["phone_number"], "+33612345678");
    assert_eq!(profile["email_verified"], false);

    let hashes: Vec<String> = staybase::on_db!(&app.state.db, |pool| {
        sqlx::query_scalar("SELECT password_hash FROM users")
            .fetch_all(pool)
            .await
    })
    .unwrap();
    assert_eq!(hashes.len(), 1);
    assert!(hashes[0].starts_with("$argon2id$"), "{}", hashes[0]);

    // The same address, whatever its case, cannot register twice (see
    // `registering_a_taken_address_answers_as_for_a_new_one_and_tells_its_owner`).
    let again = app
        .post_json(
            "/v1/t/acme/auth/register",
            &json!({ "email": "ana.lima@example.COM", "password": PASSWORD, "first_name": "A", "last_name": "L" }),
            None,
        )
        .await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    let hashes: Vec<String> = staybase::on_db!(&app.state.db, |pool| {
        sqlx::query_scalar("SELECT password_hash FROM users")
            .fetch_all(pool)
            .await
    })
    .unwrap();
    assert_eq!(hashes.len(), 1);
}

/// What the caller sees of an answer: status, content type and body.
async fn seen(response: reqwest::Response) -> (StatusCode, Option<String>, String) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned());
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn registering_a_taken_address_answers_as_for_a_new_one_and_tells_its_owner() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.register("acme", "ana@example.com", false).await;
    let register = |email: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.post_json(
                "/v1/t/acme/auth/register",
                &json!({ "email": email, "password": password, "first_name": "Eve", "last_name": "X" }),
                None,
            )
            .await
        }
    };
    let taken = seen(register("ANA@example.com", "an attacker's passphrase").await).await;
    let new = seen(register("bo@example.com", "an attacker's passphrase").await).await;
    assert_eq!(taken, new, "the same answer for a taken and a new address");
    assert_eq!(taken.0, StatusCode::ACCEPTED);

    // The owner hears of it; the account and its password are untouched.
    let email = app.email_to("ana@example.com", "tried to create").await;
    let text = mailparse::parse_mail(email.as_bytes()).unwrap().subparts[0]
        .get_body()
        .unwrap();
    assert!(text.contains("/sign-in?tenant=acme"), "{text}");
    assert_eq!(
        app.login("acme", "ana@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    let wrong = app
        .login("acme", "ana@example.com", "an attacker's passphrase")
        .await;
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // The new address got its verification email.
    app.email_to("bo@example.com", "Confirm your email address")
        .await;
}

/// The field a 422 names.
async fn refused_field(response: reqwest::Response) -> Value {
    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    body["errors"][0]["field"].clone()
}

#[tokio::test]
async fn common_passwords_are_refused_at_registration_change_and_reset() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let response = app
        .post_json(
            "/v1/t/acme/auth/register",
            &json!({ "email": "ana@example.com", "password": "password123", "first_name": "A", "last_name": "L" }),
            None,
        )
        .await;
    assert_eq!(refused_field(response).await, "password");

    let account = app.register("acme", "ana@example.com", false).await;
    let response = app
        .post_json(
            "/v1/t/acme/users/me/password",
            &json!({ "current_password": PASSWORD, "new_password": "QwertyUiop" }),
            Some(&account.access_token),
        )
        .await;
    assert_eq!(refused_field(response).await, "new_password");

    let response = app
        .post_json(
            "/v1/t/acme/auth/password-reset",
            &json!({ "email": "ana@example.com" }),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let token = token_in_email(&app.email_to("ana@example.com", "Reset your").await);
    let response = app
        .post_json(
            "/v1/t/acme/auth/password-reset/confirm",
            &json!({ "token": token, "new_password": "1qaz2wsx3edc" }),
            None,
        )
        .await;
    assert_eq!(refused_field(response).await, "new_password");
    // The password is unchanged.
    assert_eq!(
        app.login("acme", "ana@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_password_reset_request_does_the_same_work_for_known_and_unknown_addresses() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.register("acme", "ana@example.com", false).await;
    let mut answers = Vec::new();
    for email in ["ana@example.com", "nobody@example.com"] {
        let response = app
            .post_json(
                "/v1/t/acme/auth/password-reset",
                &json!({ "email": email }),
                None,
            )
            .await;
        answers.push(seen(response).await);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
    // Each request queued one job, whether or not the address has an account: the lookup and
    // the email happen in the job, out of the request's time.
    let queued: Vec<String> = staybase::on_db!(&app.state.db, |pool| {
        sqlx::query_scalar("SELECT kind FROM jobs WHERE kind = 'auth.password_reset'")
            .fetch_all(pool)
            .await
    })
    .unwrap();
    assert_eq!(queued.len(), 2, "{queued:?}");
    app.email_to("ana@example.com", "Reset your").await;
}

#[tokio::test]
async fn registration_validates_every_field() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let response = app
        .post_json(
            "/v1/t/acme/auth/register",
            &json!({ "email": "not-an-email", "password": "short", "first_name": " ", "last_name": "L", "phone_number": "0612" }),
            None,
        )
        .await;
    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["email", "first_name", "password", "phone_number"]);

    let response = app
        .post_json(
            "/v1/t/acme/auth/register",
            &json!({ "email": "ana@example.com", "password": "ana@example.com", "first_name": "A", "last_name": "L" }),
            None,
        )
        .await;
    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "password");
}

#[tokio::test]
async fn login_answers_the_same_for_a_wrong_password_and_an_unknown_email() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.register("acme", "ana@example.com", false).await;

    let wrong = app
        .login("acme", "ana@example.com", "wrong password!")
        .await;
    let wrong = assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unknown = app.login("acme", "nobody@example.com", PASSWORD).await;
    let unknown = assert_problem(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(wrong["detail"], unknown["detail"]);

    let ok = app.login("acme", "ANA@example.com", PASSWORD).await;
    assert_eq!(
        ok.status(),
        StatusCode::OK,
        "emails match case-insensitively"
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let account = app.register("acme", "ana@example.com", false).await;

    let first = refresh(&app, "acme", &account.refresh_token).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let rotated = first["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, account.refresh_token);
    assert_eq!(
        me(&app, "acme", first["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );

    // The spent token comes back: someone has a copy. The whole session ends.
    let replay = refresh(&app, "acme", &account.refresh_token).await;
    assert_problem(replay, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
    let after = refresh(&app, "acme", &rotated).await;
    assert_problem(after, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;

    // Other sessions of the same user are untouched.
    let other = app.sign_in("acme", "ana@example.com").await;
    assert_eq!(
        refresh(&app, "acme", &other.refresh_token).await.status(),
        StatusCode::OK
    );

    let bogus = refresh(&app, "acme", "rt_made-up").await;
    assert_problem(bogus, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let account = app.register("acme", "ana@example.com", false).await;
    let response = app
        .post_json(
            "/v1/t/acme/auth/logout",
            &json!({ "refresh_token": account.refresh_token }),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = refresh(&app, "acme", &account.refresh_token).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[tokio::test]
async fn the_emailed_token_verifies_the_address_once() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let account = app.register("acme", "ana@example.com", false).await;
    let email = app
        .email_to("ana@example.com", "Subject: Confirm your email address")
        .await;
    let token = token_in_email(&email);

    let verify = |token: String| {
        let app = &app;
        async move {
            app.post_json(
                "/v1/t/acme/auth/verify-email",
                &json!({ "token": token }),
                None,
            )
            .await
        }
    };
    assert_eq!(verify(token.clone()).await.status(), StatusCode::NO_CONTENT);
    let profile: Value = me(&app, "acme", &account.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(profile["email_verified"], true);

    let again = verify(token).await;
    let body = assert_problem(again, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "token");
}

#[tokio::test]
async fn password_reset_by_email_sets_a_new_password_and_ends_sessions() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let account = app.register("acme", "ana@example.com", false).await;

    for email in ["ana@example.com", "nobody@example.com"] {
        let response = app
            .post_json(
                "/v1/t/acme/auth/password-reset",
                &json!({ "email": email }),
                None,
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::ACCEPTED,
            "same answer for {email}"
        );
    }
    let email = app
        .email_to("ana@example.com", "Subject: Reset your acme stays password")
        .await;
    let token = token_in_email(&email);

    let weak = app
        .post_json(
            "/v1/t/acme/auth/password-reset/confirm",
            &json!({ "token": token, "new_password": "short" }),
            None,
        )
        .await;
    let body = assert_problem(weak, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "new_password");

    // The weak attempt did not spend the token.
    let response = app
        .post_json(
            "/v1/t/acme/auth/password-reset/confirm",
            &json!({ "token": token, "new_password": "a brand new passphrase" }),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        refresh(&app, "acme", &account.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    assert_eq!(
        app.login("acme", "ana@example.com", "a brand new passphrase")
            .await
            .status(),
        StatusCode::OK
    );
    assert_problem(
        app.login("acme", "ana@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    let reused = app
        .post_json(
            "/v1/t/acme/auth/password-reset/confirm",
            &json!({ "token": token, "new_password": "yet another passphrase" }),
            None,
        )
        .await;
    assert_problem(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn changing_the_password_checks_the_current_one_and_ends_other_sessions() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let current = app.register("acme", "ana@example.com", false).await;
    let other = app.sign_in("acme", "ana@example.com").await;

    let wrong = app
        .post_json(
            "/v1/t/acme/users/me/password",
            &json!({ "current_password": "not my password", "new_password": "a brand new passphrase" }),
            Some(&current.access_token),
        )
        .await;
    let body = assert_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "current_password");

    let response = app
        .post_json(
            "/v1/t/acme/users/me/password",
            &json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
            Some(&current.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        refresh(&app, "acme", &current.refresh_token).await.status(),
        StatusCode::OK,
        "this session goes on"
    );
    assert_problem(
        refresh(&app, "acme", &other.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn a_token_of_one_tenant_is_refused_by_another() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let account = app.register("acme", "ana@example.com", false).await;
    assert_eq!(
        me(&app, "acme", &account.access_token).await.status(),
        StatusCode::OK
    );
    assert_problem(
        me(&app, "other", &account.access_token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // Even where anonymous callers are welcome, a foreign token is not.
    assert_problem(
        app.get_with("/v1/t/other", &account.access_token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let response = refresh(&app, "other", &account.refresh_token).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

fn claims(app_user: &str, tenant: uuid::Uuid, exp_offset: i64) -> AccessClaims {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    AccessClaims {
        sub: uuid::Uuid::parse_str(app_user).unwrap(),
        tid: Some(tenant),
        aud: TENANT_AUDIENCE.to_owned(),
        roles: vec!["tenant_admin".into()],
        sid: None,
        iat: now - 3600,
        exp: now + exp_offset,
        jti: uuid::Uuid::now_v7(),
    }
}

/// The server remembers tokens it has verified; a remembered token still dies at its expiry
/// (plus the 30 s leeway), and a changed one is verified afresh.
#[tokio::test]
async fn a_remembered_token_is_refused_once_it_expires() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme").await;
    let account = app.register("acme", "ana@example.com", false).await;
    // Expired 26 s ago: accepted for the 4 s left of the leeway, then refused.
    let ending = app
        .state
        .keys
        .sign(&claims(&account.id, tenant.id.0, -26))
        .await
        .unwrap();
    assert_eq!(me(&app, "acme", &ending).await.status(), StatusCode::OK);
    let mut parts: Vec<String> = ending.split('.').map(str::to_owned).collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["exp"] = json!(payload["exp"].as_i64().unwrap() + 3600);
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    let extended = parts.join(".");
    assert_problem(
        me(&app, "acme", &extended).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_problem(
        me(&app, "acme", &ending).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn tampered_expired_unsigned_and_foreign_tokens_are_refused() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme").await;
    let account = app.register("acme", "ana@example.com", false).await;
    let header_of = |token: &str| -> Value {
        serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    let kid = header_of(&account.access_token)["kid"]
        .as_str()
        .unwrap()
        .to_owned();

    // Tampered: the payload claims admin roles, the signature is the original one.
    let parts: Vec<&str> = account.access_token.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["roles"] = json!(["tenant_admin"]);
    payload["sub"] = json!(uuid::Uuid::now_v7());
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );

    // Expired, but signed by the real key.
    let expired = app
        .state
        .keys
        .sign(&claims(&account.id, tenant.id.0, -120))
        .await
        .unwrap();

    // alg: none.
    let none_header =
        URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "JWT", "kid": kid }).to_string());
    let unsigned = format!("{none_header}.{}.", parts[1]);

    // Signed by a key that is not ours.
    let foreign_key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&foreign_key).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.clone());
    let wrong_key = jsonwebtoken::encode(
        &header,
        &claims(&account.id, tenant.id.0, 600),
        &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
    )
    .unwrap();

    // HS256 keyed with our public key (the classic algorithm confusion).
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let public = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.clone());
    let confused = jsonwebtoken::encode(
        &header,
        &claims(&account.id, tenant.id.0, 600),
        &jsonwebtoken::EncodingKey::from_secret(&public),
    )
    .unwrap();

    for (name, token) in [
        ("tampered", tampered),
        ("expired", expired),
        ("alg none", unsigned),
        ("wrong key", wrong_key),
        ("HS256 with the public key", confused),
        ("garbage", "not.a.jwt".to_owned()),
    ] {
        let response = me(&app, "acme", &token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{name}");
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    let response = app
        .client
        .get(app.url("/v1/t/acme/users/me"))
        .header("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l")
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_authorization").await;
    assert_problem(
        app.get("/v1/t/acme/users/me").await,
        StatusCode::UNAUTHORIZED,
        "authentication_required",
    )
    .await;
}

#[tokio::test]
async fn a_disabled_account_can_neither_sign_in_nor_use_its_tokens() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let guest = app.register("acme", "ana@example.com", false).await;

    let response = app
        .post_json(
            &format!("/v1/t/acme/users/{}/disable", guest.id),
            &json!({}),
            Some(&admin.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["disabled"], true);

    assert_problem(
        me(&app, "acme", &guest.access_token).await,
        StatusCode::FORBIDDEN,
        "account_disabled",
    )
    .await;
    assert_problem(
        app.login("acme", "ana@example.com", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "account_disabled",
    )
    .await;
    assert_problem(
        refresh(&app, "acme", &guest.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;

    let response = app
        .post_json(
            &format!("/v1/t/acme/users/{}/enable", guest.id),
            &json!({}),
            Some(&admin.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.login("acme", "ana@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_access_token_ends_with_its_session() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let first = app.register("acme", "ana@example.com", false).await;
    let second = app.sign_in("acme", "ana@example.com").await;

    let response = app
        .post_json(
            "/v1/t/acme/auth/logout",
            &json!({ "refresh_token": first.refresh_token }),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        me(&app, "acme", &first.access_token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_eq!(
        me(&app, "acme", &second.access_token).await.status(),
        StatusCode::OK,
        "other sessions go on"
    );

    let third = app.sign_in("acme", "ana@example.com").await;
    let response = app
        .post_json(
            "/v1/t/acme/users/me/password",
            &json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
            Some(&third.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        me(&app, "acme", &third.access_token).await.status(),
        StatusCode::OK
    );
    assert_problem(
        me(&app, "acme", &second.access_token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn a_newer_reset_link_or_a_new_password_voids_older_links() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let account = app.register("acme", "ana@example.com", false).await;
    let reset = |email: &'static str| {
        let app = &app;
        async move {
            app.post_json(
                "/v1/t/acme/auth/password-reset",
                &json!({ "email": email }),
                None,
            )
            .await
        }
    };
    let confirm = |token: String| {
        let app = &app;
        async move {
            app.post_json(
                "/v1/t/acme/auth/password-reset/confirm",
                &json!({ "token": token, "new_password": "a brand new passphrase" }),
                None,
            )
            .await
        }
    };
    assert_eq!(
        reset("ana@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let first = token_in_email(&app.email_to("ana@example.com", "Subject: Reset your").await);
    assert_eq!(
        reset("ana@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let second = loop {
        let token = token_in_email(&app.email_to("ana@example.com", "Subject: Reset your").await);
        if token != first {
            break token;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_problem(
        confirm(first).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let response = app
        .post_json(
            "/v1/t/acme/users/me/password",
            &json!({ "current_password": PASSWORD, "new_password": "my changed passphrase" }),
            Some(&account.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        confirm(second).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

/// Answers carrying a token, a secret or a secret URL must not be kept by any cache.
#[tokio::test]
async fn answers_with_tokens_or_secrets_are_not_stored() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let no_store = |response: &reqwest::Response, what: &str| {
        assert!(
            response.status().is_success(),
            "{what}: {}",
            response.status()
        );
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{what}"
        );
    };
    let response = app
        .post_json(
            "/v1/t/acme/auth/register",
            &json!({
                "email": "host@example.com", "password": PASSWORD,
                "first_name": "Ana", "last_name": "Lima", "host": true
            }),
            None,
        )
        .await;
    // Registration answers 202 with no body (no session, no token): nothing to keep from caches.
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = app.login("acme", "host@example.com", PASSWORD).await;
    no_store(&response, "login");
    let session: Value = response.json().await.unwrap();
    let response = refresh(&app, "acme", session["refresh_token"].as_str().unwrap()).await;
    no_store(&response, "refresh");
    let host: Value = response.json().await.unwrap();
    let host_token = host["access_token"].as_str().unwrap();

    // The owner's view of a listing carries its secret calendar feed URL.
    let response = app
        .post_json(
            "/v1/t/acme/properties",
            &json!({
                "name": "Studio", "description": "d",
                "location": { "address": "a", "city": "Paris", "country": "FR", "lat": 48.8, "lng": 2.3 },
                "nightly_price": { "amount": 9000, "currency": "EUR" }, "max_guests": 2
            }),
            Some(host_token),
        )
        .await;
    no_store(&response, "property creation");
    let property: Value = response.json().await.unwrap();
    assert!(property["ical_export_url"].is_string(), "{property}");
    let id = property["id"].as_str().unwrap();
    let response = app
        .get_with(&format!("/v1/t/acme/properties/{id}"), host_token)
        .await;
    no_store(&response, "the owner's property");
    let response = app
        .post_json(
            &format!("/v1/t/acme/properties/{id}/ical-export/rotate"),
            &json!({}),
            Some(host_token),
        )
        .await;
    no_store(&response, "calendar export rotation");

    // Answers without secrets are left alone.
    let response = app.get("/v1/t/acme").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("cache-control").is_none());
}
