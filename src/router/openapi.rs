//! The OpenAPI document as served and committed: poem-openapi's, completed with what
//! poem-openapi cannot write.

use serde_json::{Map, Value, json};

use super::service;

/// The OpenAPI document: what `/openapi.json` and `/docs` serve and `openapi/openapi.json`
/// holds. It is poem-openapi's document completed with what poem-openapi cannot write:
///
/// - `security: []` on the operations that take no security extractor (the default policy's
///   anonymous ones and platform sign-in): poem-openapi drops an empty requirement list, and an
///   operation without `security` reads as undecided to linters;
/// - the headers the HTTP edge adds to responses (`X-Request-Id` on every one, `RateLimit-*`
///   wherever a rate limit is checked, `Retry-After` on 429), declared in `components.headers`;
/// - header names in their usual spelling (the derive upper-cases the ones it declares).
///
/// The keys come out sorted (serde_json maps here are ordered by key).
pub fn spec_json() -> String {
    let raw: Value =
        serde_json::from_str(&service().spec()).expect("poem-openapi writes its document as JSON");
    let mut text = serde_json::to_string_pretty(&complete(raw)).expect("a JSON value serializes");
    text.push('\n');
    text
}

/// The headers `http::Edge` adds, as `components.headers`.
fn edge_headers() -> Value {
    let seconds_or_count = json!({ "type": "integer", "format": "int64", "minimum": 0 });
    json!({
        "X-Request-Id": {
            "description": "The request's id, for support and logs: the client's own \
                `X-Request-Id` when it sent a sane one (at most 128 characters of \
                `A-Za-z0-9-_.:/+=`), else a generated one.",
            "required": true,
            "schema": { "type": "string" },
        },
        "RateLimit-Limit": {
            "description": "Requests per minute this caller may make of this kind (sign-ins, \
                writes or reads), under the tightest of the limits that apply. Sent when the \
                request was counted against the rate limits (they can be switched off).",
            "required": false,
            "schema": seconds_or_count,
        },
        "RateLimit-Remaining": {
            "description": "Requests left under that limit. Sent with `RateLimit-Limit`.",
            "required": false,
            "schema": seconds_or_count,
        },
        "RateLimit-Reset": {
            "description": "Seconds until the allowance is full again. Sent with \
                `RateLimit-Limit`.",
            "required": false,
            "schema": seconds_or_count,
        },
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "required": true,
            "schema": seconds_or_count,
        },
    })
}

const RATE_LIMIT_HEADERS: [&str; 3] = ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"];

fn header_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/headers/{name}") })
}

/// `IDEMPOTENT-REPLAYED` -> `Idempotent-Replayed`.
fn usual_spelling(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn complete(mut spec: Value) -> Value {
    spec["components"]["headers"] = edge_headers();
    let operations = spec["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(Value::as_object_mut);
    for operation in operations {
        operation.entry("security").or_insert_with(|| json!([]));
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        // The operations a rate limit is checked on are the ones that can answer 429; they
        // send `RateLimit-*` on any answer given after the check.
        let rate_limited = responses.contains_key("429");
        for (status, response) in responses.iter_mut() {
            let Some(response) = response.as_object_mut() else {
                continue;
            };
            let declared = match response.remove("headers") {
                Some(Value::Object(declared)) => declared,
                _ => Map::new(),
            };
            let mut headers: Map<String, Value> = declared
                .into_iter()
                .map(|(name, header)| {
                    if name.bytes().any(|b| b.is_ascii_lowercase()) {
                        (name, header)
                    } else {
                        (usual_spelling(&name), header)
                    }
                })
                .collect();
            headers.insert("X-Request-Id".into(), header_ref("X-Request-Id"));
            if rate_limited {
                for name in RATE_LIMIT_HEADERS {
                    headers.insert(name.into(), header_ref(name));
                }
            }
            if status == "429" {
                headers.insert("Retry-After".into(), header_ref("Retry-After"));
            }
            response.insert("headers".into(), Value::Object(headers));
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_cased_header_names_get_their_usual_spelling() {
        assert_eq!(usual_spelling("IDEMPOTENT-REPLAYED"), "Idempotent-Replayed");
        assert_eq!(usual_spelling("X-REQUEST-ID"), "X-Request-Id");
    }

    #[test]
    fn only_operations_that_can_answer_429_get_rate_limit_headers() {
        let spec = complete(json!({
            "components": {},
            "paths": {
                "/limited": { "get": { "responses": {
                    "200": { "headers": { "CACHE-CONTROL": { "schema": {} } } },
                    "429": {},
                } } },
                "/open": { "get": { "security": [{ "x": [] }], "responses": { "200": {} } } },
            },
        }));
        let limited = &spec["paths"]["/limited"]["get"];
        assert_eq!(limited["security"], json!([]));
        let ok: Vec<&String> = limited["responses"]["200"]["headers"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(
            ok,
            [
                "Cache-Control",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "X-Request-Id"
            ]
        );
        assert_eq!(
            limited["responses"]["429"]["headers"]["Retry-After"],
            header_ref("Retry-After")
        );
        let open = &spec["paths"]["/open"]["get"];
        assert_eq!(open["security"], json!([{ "x": [] }]));
        assert_eq!(
            open["responses"]["200"]["headers"],
            json!({ "X-Request-Id": header_ref("X-Request-Id") })
        );
        assert!(spec["components"]["headers"]["Retry-After"]["required"] == true);
    }
}
