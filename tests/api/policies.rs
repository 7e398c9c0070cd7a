use reqwest::StatusCode;
use serde_json::{Value, json};
use staybase::{AppState, authz::UserAction, ids::UserId};

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn a_tenant_rule_grants_in_its_tenant_only_and_every_replica_sees_it() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let admin = app.tenant_admin("acme").await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let other_admin = app.tenant_admin("other").await;
    let other_guest = app.register("other", "guest@example.com", false).await;

    // A second replica on the same database, which has already cached the tenant's rules.
    let replica = AppState::start(app.state.config.clone()).await.unwrap();
    let acme = staybase::tenants::service::resolve_active(&replica.db, "acme")
        .await
        .unwrap();
    let guest_principal = |roles| {
        staybase::auth::Principal::User(staybase::auth::UserPrincipal {
            user_id: UserId(uuid::Uuid::parse_str(&guest.id).unwrap()),
            roles,
            session: None,
            api_key: None,
        })
    };
    let guest_roles = staybase::authz::Roles::new([staybase::authz::Role::Guest]);
    assert!(
        replica
            .authorizer
            .check(
                &replica.db,
                &acme,
                &guest_principal(guest_roles.clone()),
                UserAction::ListAny,
            )
            .await
            .is_err()
    );

    assert_problem(
        app.get_with("/v1/t/acme/users", &guest.access_token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let rule = json!({ "role": "guest", "object": "users", "action": "list:any" });
    let response = app
        .post_json("/v1/t/acme/policies", &rule, Some(&admin.access_token))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["source"], "tenant");
    assert_problem(
        app.post_json("/v1/t/acme/policies", &rule, Some(&admin.access_token))
            .await,
        StatusCode::CONFLICT,
        "rule_exists",
    )
    .await;

    assert_eq!(
        app.get_with("/v1/t/acme/users", &guest.access_token)
            .await
            .status(),
        StatusCode::OK
    );
    assert_problem(
        app.get_with("/v1/t/other/users", &other_guest.access_token)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let acme = staybase::tenants::service::resolve_active(&replica.db, "acme")
        .await
        .unwrap();
    assert!(
        replica
            .authorizer
            .check(
                &replica.db,
                &acme,
                &guest_principal(guest_roles.clone()),
                UserAction::ListAny,
            )
            .await
            .is_ok(),
        "the other replica rebuilt its rules"
    );

    let list: Value = app
        .get_with("/v1/t/acme/policies", &admin.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|rule| rule["source"] == "default")
    );
    let other_list: Value = app
        .get_with("/v1/t/other/policies", &other_admin.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        other_list["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|rule| rule["source"] == "default")
    );

    let id = created["id"].as_str().unwrap();
    let removed = app
        .client
        .delete(app.url(&format!("/v1/t/acme/policies/{id}")))
        .bearer_auth(&admin.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get_with("/v1/t/acme/users", &guest.access_token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let unknown = json!({ "role": "wizard", "object": "users", "action": "teleport" });
    let body = assert_problem(
        app.post_json("/v1/t/acme/policies", &unknown, Some(&admin.access_token))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
}
