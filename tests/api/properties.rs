//! Listings through HTTP: ownership and visibility, validation, the currency rule, search
//! filters and keyset pagination.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PropertyPatch, TestApp, assert_problem, eur, spawn_app};

fn listing(name: &str, city: &str, price: i64) -> Value {
    json!({
        "name": name,
        "description": "A calm place",
        "location": { "address": "1 Main Street", "city": city, "country": "FR", "lat": 48.8566, "lng": 2.3522 },
        "nightly_price": { "amount": price, "currency": "EUR" },
        "max_guests": 4,
        "amenities": ["wifi"],
        "status": "listed"
    })
}

async fn search(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/v1/t/acme/properties?{query}")).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    response.json().await.unwrap()
}

fn names(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn hosts_own_their_listings_and_drafts_stay_private() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let other_host = app.register("acme", "other@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let admin = app.tenant_admin("acme").await;

    let mut draft = listing("Loft", "Paris", 12_500);
    draft.as_object_mut().unwrap().remove("status");
    let property = app.properties(&host).created(&draft).await;
    assert_eq!(property["status"], "draft");
    assert_eq!(property["owner_id"], host.id.as_str());
    assert_eq!(
        property["nightly_price"],
        json!({ "amount": 12500, "currency": "EUR" })
    );
    assert_eq!(
        property["cleaning_fee"],
        json!({ "amount": 0, "currency": "EUR" })
    );
    assert_eq!(property["average_rating"], Value::Null);
    let id = property["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/t/acme/properties/{id}");

    assert_eq!(
        app.get_with(&path, &host.access_token).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get_with(&path, &admin.access_token).await.status(),
        StatusCode::OK
    );
    assert_problem(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(
        app.get_with(&path, &guest.access_token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(
        names(&search(&app, "").await).is_empty(),
        "drafts are not searchable"
    );
    let mine: Value = app
        .get_with("/v1/t/acme/properties?owner=me", &host.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(&mine), ["Loft"]);

    let listed = PropertyPatch {
        status: Some("listed"),
        max_guests: Some(6),
        ..PropertyPatch::default()
    };
    let response = app.properties(&host).update(&id, &listed).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["max_guests"], 6);
    assert_eq!(app.get(&path).await.status(), StatusCode::OK);
    assert_eq!(names(&search(&app, "").await), ["Loft"]);

    let renamed = PropertyPatch {
        name: Some("Mine now"),
        ..PropertyPatch::default()
    };
    let response = app.properties(&other_host).update(&id, &renamed).await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    let renamed = PropertyPatch {
        name: Some("Loft by the park"),
        ..PropertyPatch::default()
    };
    let response = app.properties(&admin).update(&id, &renamed).await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_problem(
        app.properties(&guest)
            .create(&listing("Guest place", "Paris", 100))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post_json("/v1/t/acme/properties", &listing("x", "Paris", 100), None)
            .await,
        StatusCode::UNAUTHORIZED,
        "authentication_required",
    )
    .await;

    assert_problem(
        app.properties(&other_host).delete(&id).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.properties(&host).delete(&id).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        app.get_with(&path, &host.access_token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(names(&search(&app, "").await).is_empty());

    let events: Vec<String> = staybase::on_db!(&app.state.db, |pool| {
        sqlx::query_scalar("SELECT kind FROM events ORDER BY id")
            .fetch_all(pool)
            .await
    })
    .unwrap();
    assert_eq!(
        events,
        [
            "property.created",
            "property.updated",
            "property.updated",
            "property.deleted"
        ]
    );
}

#[tokio::test]
async fn another_tenants_property_is_not_found() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let stranger = app.register("other", "host@other.example", true).await;
    let response = app
        .post_json(
            "/v1/t/other/properties",
            &listing("Elsewhere", "Lyon", 9_000),
            Some(&stranger.access_token),
        )
        .await;
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.get(&format!("/v1/t/other/properties/{id}"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_problem(
        app.get(&format!("/v1/t/acme/properties/{id}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn listings_are_validated_field_by_field() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let mut bad = listing(" ", "Paris", 0);
    bad["nightly_price"]["currency"] = json!("USD");
    bad["location"]["lat"] = json!(95.0);
    bad["location"]["country"] = json!("fr1");
    bad["min_nights"] = json!(20);
    bad["max_nights"] = json!(10);
    bad["amenities"] = json!(["wifi", "moat"]);
    let body = assert_problem(
        app.properties(&host).create(&bad).await,
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
    // The schema check reports what it can see (the latitude's range, the country's length);
    // the listing's own rules report the rest once the body has the right shape.
    assert_eq!(fields, ["location.country", "location.lat"], "{body}");

    bad["location"]["lat"] = json!(45.0);
    bad["location"]["country"] = json!("F1");
    let body = assert_problem(
        app.properties(&host).create(&bad).await,
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
    assert_eq!(
        fields,
        [
            "amenities[1]",
            "location.country",
            "min_nights",
            "name",
            "nightly_price.amount",
            "nightly_price.currency"
        ]
    );
}

#[tokio::test]
async fn the_currency_is_fixed_once_the_tenant_has_a_property() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let settings = |body: Value| {
        let app = &app;
        let token = admin.access_token.clone();
        async move {
            app.client
                .patch(app.url("/v1/t/acme/settings"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        settings(json!({ "currency": "USD" })).await.status(),
        StatusCode::OK,
        "no property yet"
    );
    let in_euros = app
        .properties(&host)
        .create(&listing("Loft", "Paris", 12_500))
        .await;
    let body = assert_problem(
        in_euros,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "nightly_price.currency");

    let mut in_dollars = listing("Loft", "Paris", 12_500);
    in_dollars["nightly_price"]["currency"] = json!("USD");
    app.properties(&host).created(&in_dollars).await;
    assert_problem(
        settings(json!({ "currency": "EUR" })).await,
        StatusCode::CONFLICT,
        "currency_locked",
    )
    .await;
    assert_eq!(
        settings(json!({ "tax_bps": 700, "currency": "USD" }))
            .await
            .status(),
        StatusCode::OK,
        "other settings still change"
    );
}

#[tokio::test]
async fn search_filters_combine() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let mut rows = Vec::new();
    for (name, city, country, lat, lng, price, guests, amenities) in [
        (
            "Paris loft",
            "Paris",
            "FR",
            48.8566,
            2.3522,
            15_000,
            2,
            vec!["wifi", "kitchen"],
        ),
        (
            "Paris family flat",
            "paris",
            "FR",
            48.8606,
            2.3376,
            22_000,
            6,
            vec!["wifi", "kitchen", "washer"],
        ),
        (
            "Versailles house",
            "Versailles",
            "FR",
            48.8049,
            2.1204,
            30_000,
            8,
            vec!["pool", "wifi"],
        ),
        (
            "Lyon studio",
            "Lyon",
            "FR",
            45.7640,
            4.8357,
            8_000,
            2,
            vec!["wifi"],
        ),
        (
            "Berlin room",
            "Berlin",
            "DE",
            52.5200,
            13.4050,
            6_000,
            1,
            vec![],
        ),
    ] {
        let mut body = listing(name, city, price);
        body["location"] = json!({ "address": "1 Main Street", "city": city, "country": country, "lat": lat, "lng": lng });
        body["max_guests"] = json!(guests);
        body["amenities"] = json!(amenities);
        rows.push(app.properties(&host).created(&body).await);
    }

    let mut paris = names(&search(&app, "city=PARIS").await);
    paris.sort();
    assert_eq!(paris, ["Paris family flat", "Paris loft"]);
    assert_eq!(names(&search(&app, "country=de").await), ["Berlin room"]);
    assert_eq!(
        names(&search(&app, "guests=5&sort=price_asc").await),
        ["Paris family flat", "Versailles house"]
    );
    assert_eq!(
        names(&search(&app, "min_price=7000&max_price=16000&sort=price_asc").await),
        ["Lyon studio", "Paris loft"]
    );
    assert_eq!(
        names(&search(&app, "amenities=wifi,kitchen&sort=price_desc").await),
        ["Paris family flat", "Paris loft"]
    );
    // 5 km around Notre-Dame: the two Paris flats, not Versailles (about 17 km away).
    let mut near = names(&search(&app, "near=48.853,2.3499&radius_km=5").await);
    near.sort();
    assert_eq!(near, ["Paris family flat", "Paris loft"]);
    assert_eq!(
        names(&search(&app, "near=48.853,2.3499&radius_km=25&sort=price_desc").await)[0],
        "Versailles house"
    );
    assert_eq!(
        names(&search(&app, "sort=price_desc&limit=1").await),
        ["Versailles house"]
    );

    for bad in [
        "near=north",
        "radius_km=3",
        "amenities=moat",
        "min_price=9&max_price=1",
        "sort=cheapest",
        "owner=you",
        "limit=500",
    ] {
        let response = app.get(&format!("/v1/t/acme/properties?{bad}")).await;
        assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

#[tokio::test]
async fn pages_neither_repeat_nor_skip_while_listings_are_added() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    for n in 0..7 {
        app.properties(&host)
            .created(&listing(
                &format!("Home {n}"),
                "Paris",
                10_000 + (n % 3) * 1000,
            ))
            .await;
    }
    for sort in ["newest", "price_asc", "price_desc", "rating"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut added = 0;
        loop {
            let query = match &cursor {
                Some(cursor) => format!("sort={sort}&limit=3&cursor={cursor}"),
                None => format!("sort={sort}&limit=3"),
            };
            let page = search(&app, &query).await;
            seen.extend(names(&page));
            // A new listing arrives between pages.
            app.properties(&host)
                .created(&listing(&format!("Late {sort} {added}"), "Paris", 10_500))
                .await;
            added += 1;
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: no repeats in {seen:?}");
        for n in 0..7 {
            assert!(
                seen.contains(&format!("Home {n}")),
                "{sort}: Home {n} not skipped: {seen:?}"
            );
        }
        let wrong_sort = app
            .get(&format!(
                "/v1/t/acme/properties?sort=newest&cursor={}",
                cursor.unwrap_or_default()
            ))
            .await;
        if sort != "newest" {
            assert_problem(
                wrong_sort,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            )
            .await;
        }
    }
}

#[tokio::test]
async fn the_amenity_catalogue_is_public() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let catalogue: Value = app.get("/v1/t/acme/amenities").await.json().await.unwrap();
    let codes: Vec<&str> = catalogue["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"wifi") && codes.contains(&"pool"));
}

#[tokio::test]
async fn public_answers_are_cached_and_a_change_shows_at_once() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let property = app
        .properties(&host)
        .created(&listing("Loft", "Paris", 12_500))
        .await;
    let id = property["id"].as_str().unwrap().to_owned();
    let detail = format!("/v1/t/acme/properties/{id}");
    let hits = || async {
        let metrics = app.metrics().await.text().await.unwrap();
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(r#"staybase_cache_lookups_total{result="hit"} "#))
            .map_or(0, |count| count.trim().parse::<u64>().unwrap())
    };

    for _ in 0..2 {
        let page = search(&app, "city=Paris").await;
        assert_eq!(page["data"][0]["nightly_price"]["amount"], 12500);
        let view: Value = app.get(&detail).await.json().await.unwrap();
        assert_eq!(view["nightly_price"]["amount"], 12500);
    }
    assert_eq!(
        hits().await,
        2,
        "the second search and the second read came from the cache"
    );

    let cheaper = PropertyPatch {
        nightly_price: Some(eur(9900)),
        ..PropertyPatch::default()
    };
    let response = app.properties(&host).update(&id, &cheaper).await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = app.get(&detail).await.json().await.unwrap();
    assert_eq!(
        view["nightly_price"]["amount"], 9900,
        "the change shows at once"
    );
    assert_eq!(
        search(&app, "city=Paris").await["data"][0]["nightly_price"]["amount"],
        9900
    );

    // Signed-in owners get their private view, never a cached public one.
    let owned: Value = app
        .get_with(&detail, &host.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(owned["ical_export_url"].is_string());
}
