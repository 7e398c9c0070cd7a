use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{Value, json};
use staybase::ratelimit::{DEFAULT_PLAN, PlanLimits};

use crate::{
    authz::{Who, expectations},
    helpers::{spawn_app, spawn_app_with},
};

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
    let served = response.text().await.unwrap();
    assert!(
        served == staybase::router::spec_json(),
        "/openapi.json serves the committed document"
    );
    let spec: Value = serde_json::from_str(&served).unwrap();
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
    let page = response.text().await.unwrap();
    assert!(page.contains("swagger"));
    // The same document as /openapi.json, not poem-openapi's own.
    assert!(page.contains(staybase::router::spec_json().trim_end()));
}

fn spec() -> Value {
    serde_json::from_str(&staybase::router::spec_json()).expect("the document is JSON")
}

/// Every operation of `spec`: (path template, method, operation).
fn operations(spec: &Value) -> Vec<(&str, &str, &Value)> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            found.push((path.as_str(), method.as_str(), operation));
        }
    }
    found
}

/// The operations whose documented `security` differs from what the callers allowed to use it
/// need: none (`[]`) when anonymous callers may, the platform's bearer scheme for `/v1/admin`,
/// the tenant's otherwise. An operation without an expectation is listed too.
fn security_mismatches(spec: &Value, allowed: &BTreeMap<&str, &[Who]>) -> Vec<String> {
    let mut wrong = Vec::new();
    for (path, method, operation) in operations(spec) {
        let id = operation["operationId"].as_str().unwrap_or("?");
        let Some(callers) = allowed.get(id) else {
            wrong.push(format!("{id}: no authorization expectation in authz.rs"));
            continue;
        };
        let expected = if callers.contains(&Who::Anonymous) {
            json!([])
        } else if path.starts_with("/v1/admin/") {
            json!([{ "platform_bearer": [] }])
        } else {
            json!([{ "bearer": [] }])
        };
        if operation.get("security") != Some(&expected) {
            wrong.push(format!(
                "{id} ({method} {path}): security {} instead of {expected}",
                operation.get("security").unwrap_or(&Value::Null)
            ));
        }
    }
    wrong
}

/// SDK generators read `security` to decide which calls need credentials: it must say what the
/// authorization walk (`authz.rs`) finds, so a new public route cannot be documented as
/// authenticated, nor a protected one as public.
#[test]
fn each_operation_documents_the_security_its_callers_need() {
    let spec = spec();
    let allowed = expectations();
    assert_eq!(security_mismatches(&spec, &allowed), Vec::<String>::new());

    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["platform_bearer"]["type"], "http");
    let documented: Vec<&Value> = operations(&spec)
        .into_iter()
        .map(|(_, _, operation)| &operation["security"])
        .collect();
    let public = documented
        .iter()
        .filter(|security| **security == &json!([]))
        .count();
    let anonymous = allowed
        .values()
        .filter(|callers| callers.contains(&Who::Anonymous))
        .count();
    assert_eq!(public, anonymous, "public operations");
    assert!(public > 0 && public < documented.len());

    // The check itself catches each kind of mistake.
    let mut broken = spec.clone();
    let paths = &mut broken["paths"];
    // A public operation documented as authenticated, or as optionally so.
    paths["/v1/t/{tenant}/auth/login"]["post"]["security"] = json!([{ "bearer": [] }]);
    paths["/v1/t/{tenant}"]["get"]["security"] = json!([{ "bearer": [] }, {}]);
    // A protected operation documented as public, or with no decision at all.
    paths["/v1/t/{tenant}/users/me"]["get"]["security"] = json!([]);
    paths["/v1/t/{tenant}/settings"]["get"]
        .as_object_mut()
        .unwrap()
        .remove("security");
    // The other scheme.
    paths["/v1/admin/me"]["get"]["security"] = json!([{ "bearer": [] }]);
    let mut caught: Vec<String> = security_mismatches(&broken, &allowed)
        .iter()
        .map(|line| line.split(' ').next().unwrap().to_owned())
        .collect();
    caught.sort();
    assert_eq!(
        caught,
        ["admin_me", "get_me", "get_settings", "get_tenant", "login"]
    );
    // An operation nobody decided on.
    let mut unknown = allowed.clone();
    unknown.remove("get_booking");
    assert_eq!(
        security_mismatches(&spec, &unknown),
        ["get_booking: no authorization expectation in authz.rs"]
    );
}

/// Generators and linters want to know where the API is and under what terms.
#[test]
fn the_document_names_its_server_license_and_contact() {
    let spec = spec();
    assert_eq!(spec["servers"][0]["url"], "/", "{}", spec["servers"]);
    assert!(
        spec["servers"][0]["description"]
            .as_str()
            .unwrap()
            .contains("/v1")
    );
    let info = &spec["info"];
    assert!(!info["license"]["name"].as_str().unwrap().is_empty());
    assert!(
        info["license"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert!(!info["contact"]["name"].as_str().unwrap().is_empty());
    assert!(
        info["contact"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
}

fn operation<'a>(spec: &'a Value, id: &str) -> &'a Value {
    operations(spec)
        .into_iter()
        .find(|(_, _, operation)| operation["operationId"] == id)
        .unwrap_or_else(|| panic!("{id} in the spec"))
        .2
}

/// The headers documented for `operation`'s `status` answer, by lower-cased name, with
/// whether each is required (references to `components.headers` resolved).
fn documented_headers(spec: &Value, operation: &Value, status: u16) -> BTreeMap<String, bool> {
    let headers = operation["responses"][status.to_string()]["headers"]
        .as_object()
        .unwrap_or_else(|| panic!("{} documents {status}", operation["operationId"]));
    headers
        .iter()
        .map(|(name, header)| {
            let header = match header["$ref"].as_str() {
                Some(reference) => {
                    let name = reference
                        .strip_prefix("#/components/headers/")
                        .expect("a reference to components.headers");
                    &spec["components"]["headers"][name]
                }
                None => header,
            };
            assert!(
                header["schema"].is_object() && header["description"].is_string(),
                "{name}: {header}"
            );
            (
                name.to_ascii_lowercase(),
                header["required"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

const EDGE_HEADERS: [&str; 5] = [
    "x-request-id",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "retry-after",
];

/// Every answer carries `X-Request-Id`; the operations a rate limit is checked on (the ones
/// that can answer 429) may carry `RateLimit-*` on any answer, and `Retry-After` on 429. The
/// names are spelled as usual, not upper-cased.
#[test]
fn responses_document_the_headers_the_edge_adds() {
    let spec = spec();
    let mut rate_limited = Vec::new();
    for (_, _, operation) in operations(&spec) {
        let id = operation["operationId"].as_str().unwrap();
        let responses = operation["responses"].as_object().unwrap();
        let limited = responses.contains_key("429");
        if limited {
            rate_limited.push(id);
        }
        for (status, response) in responses {
            let names: Vec<&String> = response["headers"].as_object().unwrap().keys().collect();
            for name in &names {
                assert!(
                    name.bytes().any(|b| b.is_ascii_lowercase()),
                    "{id} {status}: header {name} is upper-cased"
                );
            }
            let headers = documented_headers(&spec, operation, status.parse().unwrap());
            assert_eq!(headers.get("x-request-id"), Some(&true), "{id} {status}");
            for name in ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"] {
                let expected = limited.then_some(&false);
                assert_eq!(headers.get(name), expected, "{id} {status} {name}");
            }
            let retry_after = (status == "429").then_some(&true);
            assert_eq!(headers.get("retry-after"), retry_after, "{id} {status}");
        }
    }
    // Every tenant route is rate limited, and so are platform sign-ins; not `admin_me`.
    assert!(rate_limited.contains(&"get_tenant") && rate_limited.contains(&"admin_login"));
    assert!(!rate_limited.contains(&"admin_me"));

    let create_booking = operation(&spec, "create_booking");
    let replayed = &create_booking["responses"]["201"]["headers"]["Idempotent-Replayed"];
    assert_eq!(replayed["schema"]["type"], "boolean", "{create_booking}");
    assert!(
        replayed["description"]
            .as_str()
            .is_some_and(|text| text.contains("Idempotency-Key")),
        "{replayed}"
    );
}

/// What the server sends matches the document: the edge's headers on live answers are the
/// documented ones, and the required ones are there, including on a 429.
#[tokio::test]
async fn live_answers_carry_the_documented_headers() {
    let app = spawn_app_with(|config| {
        config.rate_limit_plans.insert(
            DEFAULT_PLAN.to_owned(),
            PlanLimits {
                read_per_minute: 2,
                ..PlanLimits::default()
            },
        );
    })
    .await;
    app.create_tenant("acme").await;
    let spec = spec();
    let get_tenant = operation(&spec, "get_tenant");
    let admin_me = operation(&spec, "admin_me");
    let answers = [
        (get_tenant, app.get("/v1/t/acme").await),
        (get_tenant, app.get("/v1/t/acme").await),
        (get_tenant, app.get("/v1/t/acme").await),
        (admin_me, app.get("/v1/admin/me").await),
    ];
    let statuses: Vec<u16> = answers.iter().map(|(_, r)| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 200, 429, 401]);
    for (operation, response) in &answers {
        let status = response.status().as_u16();
        let documented = documented_headers(&spec, operation, status);
        let id = &operation["operationId"];
        for name in EDGE_HEADERS {
            let sent = response.headers().contains_key(name);
            match documented.get(name) {
                Some(true) => assert!(sent, "{id} {status}: {name} is required"),
                Some(false) => {}
                None => assert!(!sent, "{id} {status}: {name} is sent but not documented"),
            }
        }
    }
    // The optional ones are in fact sent where rate limits apply.
    for (_, response) in &answers[..3] {
        assert!(response.headers().contains_key("ratelimit-remaining"));
    }
    assert!(!answers[3].1.headers().contains_key("ratelimit-limit"));
}
