use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\x01\x01\x01\0\x18\xdd\x8d\xb4\0\0\0\0IEND\xaeB`\x82";

async fn upload(
    app: &crate::helpers::TestApp,
    token: &str,
    bytes: &[u8],
    name: &str,
) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned());
    app.client
        .put(app.url("/v1/t/acme/users/me/picture"))
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn profile_edits_are_validated_and_partial() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let ana = app.register("acme", "ana@example.com", false).await;
    let patch = |body: Value| {
        let app = &app;
        let token = ana.access_token.clone();
        async move {
            app.client
                .patch(app.url("/v1/t/acme/users/me"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let response = patch(json!({ "phone_number": "+33612345678" })).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["phone_number"], "+33612345678");
    assert_eq!(me["first_name"], "Ana", "untouched fields stay");

    let response = patch(json!({ "first_name": "", "phone_number": "12" })).await;
    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);

    let me: Value = patch(json!({ "phone_number": "" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["phone_number"],
        Value::Null,
        "an empty string removes the number"
    );
}

#[tokio::test]
async fn pictures_are_sniffed_stored_and_served_publicly() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let ana = app.register("acme", "ana@example.com", false).await;

    let fake = upload(
        &app,
        &ana.access_token,
        b"just text pretending",
        "photo.jpg",
    )
    .await;
    assert_problem(
        fake,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let response = upload(&app, &ana.access_token, PNG, "me.png").await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    let url = me["picture_url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/v1/t/acme/users/{}/picture", ana.id));

    let picture = app.get(&url).await;
    assert_eq!(picture.status(), StatusCode::OK);
    assert_eq!(picture.headers()["content-type"], "image/png");
    assert_eq!(picture.bytes().await.unwrap().as_ref(), PNG);

    let profile: Value = app
        .get(&format!("/v1/t/acme/users/{}", ana.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(profile["first_name"], "Ana");
    assert_eq!(profile["last_initial"], "L");
    assert!(
        profile.get("email").is_none() && profile.get("phone_number").is_none(),
        "{profile}"
    );

    let response = app
        .client
        .delete(app.url("/v1/t/acme/users/me/picture"))
        .bearer_auth(&ana.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&url).await, StatusCode::NOT_FOUND, "not_found").await;
    let objects = app.state.config.data_dir.join("objects");
    let files = walk(&objects);
    assert!(files.is_empty(), "the stored file is gone: {files:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[tokio::test]
async fn admins_page_through_users_and_change_roles() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    for n in 0..4 {
        app.register("acme", &format!("user{n}@example.com"), false)
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v1/t/acme/users?limit=2&cursor={cursor}"),
            None => "/v1/t/acme/users?limit=2".to_owned(),
        };
        let page: Value = app
            .get_with(&path, &admin.access_token)
            .await
            .json()
            .await
            .unwrap();
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        seen.extend(
            data.iter()
                .map(|user| user["email"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(seen[0], "user3@example.com", "newest first");

    for bad in [
        "/v1/t/acme/users?limit=0",
        "/v1/t/acme/users?limit=101",
        "/v1/t/acme/users?cursor=%%%",
    ] {
        assert_problem(
            app.get_with(bad, &admin.access_token).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }

    let ana = app.register("acme", "ana@example.com", false).await;
    let response = app
        .client
        .put(app.url(&format!("/v1/t/acme/users/{}/roles", ana.id)))
        .bearer_auth(&admin.access_token)
        .json(&json!({ "roles": ["host", "guest"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap()["roles"],
        json!(["host", "guest"])
    );
    let me: Value = app
        .get_with("/v1/t/acme/users/me", &ana.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["roles"],
        json!(["host", "guest"]),
        "the change holds for existing tokens"
    );

    let response = app
        .client
        .put(app.url(&format!("/v1/t/acme/users/{}/roles", ana.id)))
        .bearer_auth(&admin.access_token)
        .json(&json!({ "roles": ["superuser"] }))
        .send()
        .await
        .unwrap();
    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "roles[0]");

    let response = app
        .client
        .put(app.url(&format!("/v1/t/acme/users/{}/roles", admin.id)))
        .bearer_auth(&admin.access_token)
        .json(&json!({ "roles": ["guest"] }))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::CONFLICT, "cannot_lock_out_self").await;
}

#[tokio::test]
async fn users_of_another_tenant_are_not_found() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let admin = app.tenant_admin("acme").await;
    let stranger = app.register("other", "stranger@example.com", false).await;
    assert_problem(
        app.get(&format!("/v1/t/acme/users/{}", stranger.id)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let response = app
        .post_json(
            &format!("/v1/t/acme/users/{}/disable", stranger.id),
            &json!({}),
            Some(&admin.access_token),
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(
        app.get("/v1/t/acme/users/not-a-uuid").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

/// Tenant admins find accounts by role, status and the start of their email.
#[tokio::test]
async fn the_directory_filters_by_role_status_and_email_prefix() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    app.register("acme", "host.anna@example.com", true).await;
    let guest = app.register("acme", "guest_bob@example.com", false).await;
    app.register("acme", "guestxbob@example.com", false).await;
    let disabled = app
        .post_json(
            &format!("/v1/t/acme/users/{}/disable", guest.id),
            &serde_json::json!({}),
            Some(&admin.access_token),
        )
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    let emails = |query: &'static str| {
        let app = &app;
        let token = admin.access_token.clone();
        async move {
            let response = app
                .get_with(&format!("/v1/t/acme/users?{query}"), &token)
                .await;
            assert_eq!(response.status(), StatusCode::OK, "{query}");
            let page: Value = response.json().await.unwrap();
            let mut emails: Vec<String> = page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|user| user["email"].as_str().unwrap().to_owned())
                .collect();
            emails.sort();
            emails
        }
    };
    assert_eq!(emails("role=host").await, ["host.anna@example.com"]);
    assert_eq!(emails("status=disabled").await, ["guest_bob@example.com"]);
    // `_` is a literal character of the prefix, not LIKE's wildcard; case does not matter.
    assert_eq!(emails("email=GUEST_").await, ["guest_bob@example.com"]);
    assert_eq!(
        emails("role=guest&status=active&email=guest").await,
        ["guestxbob@example.com"]
    );
    for bad in ["role=wizard", "status=asleep"] {
        assert_problem(
            app.get_with(&format!("/v1/t/acme/users?{bad}"), &admin.access_token)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}
