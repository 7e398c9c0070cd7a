use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");

/// The committed spec is what SDK generators read: it must match the code.
/// Regenerate with `STAYBASE_UPDATE_OPENAPI=1 cargo nextest run -E 'test(openapi)'`
/// or `cargo run -- openapi > openapi/openapi.json`.
#[test]
fn committed_openapi_matches_the_code() {
    let generated = staybase::router::spec_json();
    if std::env::var_os("STAYBASE_UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, &generated).expect("write openapi/openapi.json");
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale. Regenerate it with \
         `cargo run -- openapi > openapi/openapi.json` and commit the result."
    );
}

#[tokio::test]
async fn the_served_spec_is_openapi_3_with_stable_operation_ids() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let spec: Value = response.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));

    let paths = spec["paths"].as_object().unwrap();
    assert!(
        paths.keys().all(|path| path.starts_with("/v1/")),
        "{:?}",
        paths.keys()
    );
    let mut operation_ids = Vec::new();
    for operations in paths.values() {
        for operation in operations.as_object().unwrap().values() {
            let id = operation["operationId"]
                .as_str()
                .expect("every operation has an id");
            assert!(
                id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "snake_case operationId: {id}"
            );
            assert!(
                !operation["tags"].as_array().unwrap().is_empty(),
                "{id} has a tag"
            );
            operation_ids.push(id.to_owned());
        }
    }
    let count = operation_ids.len();
    operation_ids.sort();
    operation_ids.dedup();
    assert_eq!(operation_ids.len(), count, "operationIds are unique");
    assert!(operation_ids.contains(&"get_tenant".to_owned()));
}

#[tokio::test]
async fn interactive_docs_are_served() {
    let app = spawn_app().await;
    let response = app.get("/docs").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("swagger"));
}
