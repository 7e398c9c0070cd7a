//! A radius search across the antimeridian finds listings on both sides of it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::listed_with;
use crate::helpers::spawn_app;

#[tokio::test]
async fn a_radius_across_the_antimeridian_finds_both_sides() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let at = |lng: f64| {
        json!({ "location": {
            "address": "a", "city": "Taveuni", "country": "FJ", "lat": -16.8, "lng": lng
        } })
    };
    let east = listed_with(&app, &host, at(179.95)).await;
    let west = listed_with(&app, &host, at(-179.95)).await;
    let far = listed_with(&app, &host, at(179.0)).await;
    for centre in ["-16.8,179.99", "-16.8,-179.99"] {
        let response = app
            .get(&format!("/v1/t/acme/properties?near={centre}&radius_km=20"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.unwrap();
        let ids: Vec<&str> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|property| property["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&east.as_str()), "{centre}: {ids:?}");
        assert!(ids.contains(&west.as_str()), "{centre}: {ids:?}");
        assert!(!ids.contains(&far.as_str()), "{centre}: 100 km away");
    }
}
