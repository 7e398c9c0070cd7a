use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

/// A 2x2 RGBA PNG with a transparent pixel.
fn png() -> Vec<u8> {
    let image = image::RgbaImage::from_fn(2, 2, |x, y| {
        image::Rgba([200, 100, 50, if x == y { 255 } else { 0 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

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

    let response = upload(&app, &ana.access_token, &png(), "me.png").await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    let url = me["picture_url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/v1/t/acme/users/{}/picture", ana.id));

    let picture = app.get(&url).await;
    assert_eq!(picture.status(), StatusCode::OK);
    assert_eq!(picture.headers()["content-type"], "image/png");
    assert_eq!(picture.headers()["x-content-type-options"], "nosniff");
    // Stored as decoded and encoded again: the same pixels, not necessarily the same bytes.
    assert_eq!(
        image::load_from_memory(&picture.bytes().await.unwrap())
            .unwrap()
            .to_rgba8(),
        image::load_from_memory(&png()).unwrap().to_rgba8()
    );

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

#[tokio::test]
async fn pictures_are_stored_without_metadata_or_trailing_content() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let ana = app.register("acme", "ana@example.com", false).await;

    let with_exif = crate::images::jpeg_with_exif();
    assert!(with_exif.windows(4).any(|window| window == b"Exif"));
    let response = upload(&app, &ana.access_token, &with_exif, "phone.jpg").await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    // Anyone may read a picture: no GPS coordinates may reach them.
    let picture = app.get(me["picture_url"].as_str().unwrap()).await;
    assert_eq!(picture.status(), StatusCode::OK);
    assert_eq!(picture.headers()["content-type"], "image/jpeg");
    assert_eq!(picture.headers()["x-content-type-options"], "nosniff");
    let bytes = picture.bytes().await.unwrap();
    assert!(
        !bytes.windows(4).any(|window| window == b"Exif"),
        "EXIF kept"
    );
    assert!(!bytes.windows(3).any(|window| window == b"GPS"), "GPS kept");
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 48));

    // A PNG signature followed by HTML is no image, whatever its first bytes say.
    let mut polyglot = b"\x89PNG\r\n\x1a\n".to_vec();
    polyglot.extend_from_slice(b"<html><script>alert(document.cookie)</script></html>");
    assert_problem(
        upload(&app, &ana.access_token, &polyglot, "me.png").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    // A real PNG header with HTML after the pixels: decoded, so the HTML is not kept.
    let mut trailing = png();
    trailing.extend_from_slice(b"<html><script>alert(1)</script></html>");
    let response = upload(&app, &ana.access_token, &trailing, "me.png").await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    let bytes = app
        .get(me["picture_url"].as_str().unwrap())
        .await
        .bytes()
        .await
        .unwrap();
    assert!(
        !bytes.windows(6).any(|window| window == b"<html>"),
        "HTML kept"
    );
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
