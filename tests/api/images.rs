//! Listing photos: sniffed uploads, renditions made by the job queue without metadata,
//! ordering, removal and who may do what.

use std::io::{Cursor, Write};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Account, TestApp, assert_problem, eventually, spawn_app_with};

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A JPEG carrying an EXIF block with a GPS marker, as phone cameras write them.
pub fn jpeg_with_exif() -> Vec<u8> {
    let image = image::RgbImage::from_pixel(64, 48, image::Rgb([200, 120, 40]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    let jpeg = out.into_inner();
    let payload = b"Exif\0\0MM\0*\0\0\0\x08GPSLatitude 48.8566 N";
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    segment.extend_from_slice(payload);
    let mut with_exif = jpeg[..2].to_vec();
    with_exif.extend(segment);
    with_exif.extend_from_slice(&jpeg[2..]);
    with_exif
}

async fn property(app: &TestApp, host: &Account) -> String {
    let body = json!({
        "name": "Studio", "description": "d",
        "location": { "address": "a", "city": "Paris", "country": "FR", "lat": 48.8, "lng": 2.3 },
        "nightly_price": { "amount": 9000, "currency": "EUR" }, "max_guests": 2, "status": "listed"
    });
    let created: Value = app
        .post_json("/v1/t/acme/properties", &body, Some(&host.access_token))
        .await
        .json()
        .await
        .unwrap();
    created["id"].as_str().unwrap().to_owned()
}

async fn upload(
    app: &TestApp,
    token: &str,
    property: &str,
    bytes: Vec<u8>,
    name: &str,
) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
    app.client
        .post(app.url(&format!("/v1/t/acme/properties/{property}/images")))
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
}

async fn images_of(app: &TestApp, property: &str) -> Vec<Value> {
    let view: Value = app
        .get(&format!("/v1/t/acme/properties/{property}"))
        .await
        .json()
        .await
        .unwrap();
    view["images"].as_array().unwrap().clone()
}

/// The property's images once the job has made every rendition.
async fn renditions_ready(app: &TestApp, property: &str) -> Vec<Value> {
    eventually(|| async {
        images_of(app, property)
            .await
            .iter()
            .all(|image| image["status"] == "ready")
    })
    .await;
    images_of(app, property).await
}

async fn fast_app() -> TestApp {
    spawn_app_with(|config| {
        config.workers = 1;
        config.job_poll_interval_ms = 20;
    })
    .await
}

#[tokio::test]
async fn photos_get_metadata_free_renditions() {
    let app = fast_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let id = property(&app, &host).await;

    let response = upload(&app, &host.access_token, &id, png(2000, 1000), "wide.png").await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["status"], "processing");
    assert_eq!(accepted["thumbnail_url"], Value::Null);
    let response = upload(&app, &host.access_token, &id, jpeg_with_exif(), "phone.jpg").await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let images = renditions_ready(&app, &id).await;
    assert_eq!(images.len(), 2);

    let thumbnail = app.get(images[0]["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!(thumbnail.status(), StatusCode::OK);
    assert_eq!(thumbnail.headers()["content-type"], "image/jpeg");
    let decoded = image::load_from_memory(&thumbnail.bytes().await.unwrap()).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (400, 200));
    let large = image::load_from_memory(
        &app.get(images[0]["large_url"].as_str().unwrap())
            .await
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(large.width(), 1600);

    for size in ["thumbnail_url", "large_url"] {
        let bytes = app
            .get(images[1][size].as_str().unwrap())
            .await
            .bytes()
            .await
            .unwrap();
        assert!(
            !bytes.windows(4).any(|window| window == b"Exif"),
            "{size} keeps no EXIF"
        );
        assert!(
            !bytes.windows(3).any(|window| window == b"GPS"),
            "{size} keeps no GPS data"
        );
    }
    let originals = app.state.config.data_dir.join("objects");
    let leftover: Vec<_> = walk(&originals)
        .into_iter()
        .filter(|path| path.to_string_lossy().contains("/originals/"))
        .collect();
    assert!(
        leftover.is_empty(),
        "uploads are deleted once rendered: {leftover:?}"
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
async fn uploads_are_recognised_by_content_and_owned() {
    let app = fast_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let other = app.register("acme", "other@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let id = property(&app, &host).await;

    let text = upload(
        &app,
        &host.access_token,
        &id,
        b"just some text".to_vec(),
        "photo.jpg",
    )
    .await;
    assert_problem(
        text,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    assert_problem(
        upload(&app, &other.access_token, &id, png(10, 10), "a.png").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        upload(&app, &guest.access_token, &id, png(10, 10), "a.png").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert!(images_of(&app, &id).await.is_empty());
}

#[tokio::test]
async fn photos_are_ordered_and_removed() {
    let app = fast_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let id = property(&app, &host).await;
    let mut ids = Vec::new();
    for size in [20, 30, 40] {
        let accepted: Value = upload(&app, &host.access_token, &id, png(size, size), "p.png")
            .await
            .json()
            .await
            .unwrap();
        ids.push(accepted["id"].as_str().unwrap().to_owned());
    }
    let reversed: Vec<&String> = ids.iter().rev().collect();
    let response = app
        .client
        .put(app.url(&format!("/v1/t/acme/properties/{id}/images/order")))
        .bearer_auth(&host.access_token)
        .json(&json!({ "image_ids": reversed }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let listed: Vec<String> = images_of(&app, &id)
        .await
        .iter()
        .map(|image| image["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed,
        reversed.iter().map(|id| (*id).clone()).collect::<Vec<_>>()
    );

    let response = app
        .client
        .put(app.url(&format!("/v1/t/acme/properties/{id}/images/order")))
        .bearer_auth(&host.access_token)
        .json(&json!({ "image_ids": [ids[0]] }))
        .send()
        .await
        .unwrap();
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let response = app
        .client
        .delete(app.url(&format!("/v1/t/acme/properties/{id}/images/{}", ids[1])))
        .bearer_auth(&host.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(images_of(&app, &id).await.len(), 2);

    // Listings carry their photos, fetched for the whole page at once.
    let page: Value = app.get("/v1/t/acme/properties").await.json().await.unwrap();
    assert_eq!(page["data"][0]["images"].as_array().unwrap().len(), 2);
}

/// A PNG declaring 7000x7000 pixels of 16-bit RGBA (374 MiB decoded), written row by row so
/// that the test never holds the pixels: zeros compress to a few hundred KB.
pub fn huge_png() -> Vec<u8> {
    const SIDE: u32 = 7000;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, SIDE, SIDE);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Sixteen);
    encoder.set_compression(png::Compression::Balanced);
    let mut writer = encoder.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let row = vec![0u8; SIDE as usize * 8];
    for _ in 0..SIDE {
        stream.write_all(&row).unwrap();
    }
    stream.finish().unwrap();
    writer.finish().unwrap();
    out
}

/// The peak resident memory of this process so far (`VmHWM`), in KiB. The app under test runs
/// in the test's process (nextest runs each test in its own).
fn peak_memory_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

#[tokio::test]
async fn images_too_large_to_decode_are_refused_before_any_decoding() {
    let app = fast_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let id = property(&app, &host).await;
    let huge = huge_png();
    assert!(huge.len() < 1024 * 1024, "{} bytes", huge.len());

    let before = peak_memory_kib();
    let photo = upload(&app, &host.access_token, &id, huge.clone(), "huge.png").await;
    let picture = app
        .client
        .put(app.url("/v1/t/acme/users/me/picture"))
        .bearer_auth(&host.access_token)
        .multipart(reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(huge).file_name("huge.png"),
        ))
        .send()
        .await
        .unwrap();
    for response in [photo, picture] {
        let body = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "file", "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("64 MiB"), "{message}");
        assert!(message.contains("7000x7000"), "{message}");
    }
    // Time for a renditions job, had one been queued.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let grown = peak_memory_kib().saturating_sub(before);
    assert!(
        grown < 64 * 1024,
        "peak memory grew by {grown} KiB while refusing the image"
    );
    assert!(images_of(&app, &id).await.is_empty());

    // An ordinary photo still gets its renditions.
    let response = upload(&app, &host.access_token, &id, png(1200, 900), "ok.png").await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let images = renditions_ready(&app, &id).await;
    let large = app.get(images[0]["large_url"].as_str().unwrap()).await;
    assert_eq!(large.status(), StatusCode::OK);
    assert_eq!(large.headers()["x-content-type-options"], "nosniff");
    let large = image::load_from_memory(&large.bytes().await.unwrap()).unwrap();
    assert_eq!((large.width(), large.height()), (1200, 900));
}
