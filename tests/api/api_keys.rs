use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Account, TestApp, assert_problem, spawn_app};

#[tokio::test]
async fn api_keys_are_shown_once_act_with_their_roles_and_stop_when_revoked() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let admin = app.tenant_admin("acme").await;

    let response = app
        .post_json(
            "/v1/t/acme/api-keys",
            &json!({ "name": "channel manager", "roles": ["guest"] }),
            Some(&admin.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "the secret is shown once: no cache may keep it"
    );
    let created: Value = response.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk_"));
    assert!(secret.starts_with(created["prefix"].as_str().unwrap()));

    let list: Value = app
        .get_with("/v1/t/acme/api-keys", &admin.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(
        !list.to_string().contains(&secret),
        "the secret is never listed"
    );
    assert!(list["data"][0]["last_used_at"].is_null());

    // The key acts for its creator, with only the key's roles.
    let me: Value = app
        .get_with("/v1/t/acme/users/me", &secret)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], admin.id.as_str());
    assert_problem(
        app.get_with("/v1/t/acme/users", &secret).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get_with("/v1/t/other/users/me", &secret).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let list: Value = app
        .get_with("/v1/t/acme/api-keys", &admin.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        list["data"][0]["last_used_at"].is_string(),
        "use is recorded"
    );

    let stored: Vec<String> = staybase::on_db!(&app.state.db, |pool| {
        sqlx::query_scalar("SELECT secret_hash FROM api_keys")
            .fetch_all(pool)
            .await
    })
    .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], secret, "stored hashed");

    let id = created["id"].as_str().unwrap();
    let response = app
        .client
        .delete(app.url(&format!("/v1/t/acme/api-keys/{id}")))
        .bearer_auth(&admin.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get_with("/v1/t/acme/users/me", &secret).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let again = app
        .client
        .delete(app.url(&format!("/v1/t/acme/api-keys/{id}")))
        .bearer_auth(&admin.access_token)
        .send()
        .await
        .unwrap();
    assert_problem(again, StatusCode::NOT_FOUND, "not_found").await;

    let response = app
        .post_json(
            "/v1/t/acme/api-keys",
            &json!({ "name": " ", "roles": [] }),
            Some(&admin.access_token),
        )
        .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn a_key_never_holds_more_than_its_creator() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let response = app
        .post_json(
            "/v1/t/acme/api-keys",
            &json!({ "name": "too much", "roles": ["host"] }),
            Some(&admin.access_token),
        )
        .await;
    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "roles");

    let created: Value = app
        .post_json(
            "/v1/t/acme/api-keys",
            &json!({ "name": "admin key", "roles": ["tenant_admin"] }),
            Some(&admin.access_token),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get_with("/v1/t/acme/users", &secret).await.status(),
        StatusCode::OK
    );

    // Demoting the creator demotes the key at once.
    app.set_roles(&admin, "guest").await;
    assert_problem(
        app.get_with("/v1/t/acme/users", &secret).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

struct CreatedKey {
    id: uuid::Uuid,
    secret: String,
}

async fn create_guest_key(app: &TestApp, tenant: &str, admin: &Account) -> CreatedKey {
    let response = app
        .post_json(
            &format!("/v1/t/{tenant}/api-keys"),
            &json!({ "name": "channel manager", "roles": ["guest"] }),
            Some(&admin.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    CreatedKey {
        id: created["id"].as_str().unwrap().parse().unwrap(),
        secret: created["secret"].as_str().unwrap().to_owned(),
    }
}

async fn me_id(app: &TestApp, tenant: &str, secret: &str) -> Value {
    let me: Value = app
        .get_with(&format!("/v1/t/{tenant}/users/me"), secret)
        .await
        .json()
        .await
        .unwrap();
    me["id"].clone()
}

/// Secret hashes are unique within a tenant, not across tenants, and a secret is looked up only
/// in the tenant it is presented to: were two tenants' keys to share a hash, each would still
/// act in its own tenant only.
#[tokio::test]
async fn secret_hashes_are_unique_per_tenant_and_looked_up_in_it() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let acme_admin = app.tenant_admin("acme").await;
    let other_admin = app.tenant_admin("other").await;
    let acme_key = create_guest_key(&app, "acme", &acme_admin).await;
    let other_key = create_guest_key(&app, "other", &other_admin).await;
    let db = &app.state.db;

    let same_tenant: Result<_, sqlx::Error> = staybase::on_db!(db, |pool| {
        sqlx::query(
            "INSERT INTO api_keys (tenant_id, id, name, prefix, secret_hash, roles, created_by, \
             created_at) SELECT tenant_id, $1, name, prefix, secret_hash, roles, created_by, \
             created_at FROM api_keys WHERE id = $2",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(acme_key.id)
        .execute(pool)
        .await
        .map(drop)
    });
    assert!(
        same_tenant
            .as_ref()
            .is_err_and(staybase::db::is_unique_violation),
        "a secret hash twice in one tenant: {same_tenant:?}"
    );

    let other_tenant = staybase::on_db!(db, |pool| {
        sqlx::query(
            "UPDATE api_keys SET secret_hash = \
             (SELECT secret_hash FROM api_keys WHERE id = $1) WHERE id = $2",
        )
        .bind(acme_key.id)
        .bind(other_key.id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
    })
    .expect("the same secret hash in another tenant");
    assert_eq!(other_tenant, 1);

    assert_eq!(
        me_id(&app, "acme", &acme_key.secret).await,
        acme_admin.id.as_str()
    );
    assert_eq!(
        me_id(&app, "other", &acme_key.secret).await,
        other_admin.id.as_str(),
        "the secret finds the key of the tenant it is presented to"
    );
    assert_problem(
        app.get_with("/v1/t/other/users/me", &other_key.secret)
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}
