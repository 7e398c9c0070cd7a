//! The OpenAPI document as SDK generators read it: real answers match their documented
//! schemas (an undeclared `null` or field fails), and the document keeps the shapes generators
//! handle (no `allOf`, one-line summaries, an example for every request body).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, day, spawn_app};

fn spec() -> Value {
    serde_json::from_str(&staybase::router::spec_json()).expect("the spec is JSON")
}

/// Every operation of the document, with its method and path.
fn operations(spec: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((method.clone(), path.clone(), operation));
        }
    }
    found
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            resolve(spec, &spec["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// Checks `value` against an OpenAPI 3.0 `schema` (the subset the document uses), pushing one
/// message per mismatch: a `null` where the schema is not nullable, a missing required field, a
/// field the schema does not declare, a wrong type, a value outside an enum or a bad format.
fn check(spec: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    if value.is_null() {
        if schema["nullable"] != json!(true) {
            errors.push(format!("{at}: null, but the schema does not allow null"));
        }
        return;
    }
    if let Some(parts) = schema["allOf"].as_array() {
        for part in parts {
            check(spec, part, value, at, errors);
        }
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    let fits = match schema["type"].as_str() {
        Some("object") => match value.as_object() {
            Some(object) => {
                let declared = schema["properties"].as_object();
                for required in schema["required"].as_array().into_iter().flatten() {
                    let name = required.as_str().unwrap();
                    if !object.contains_key(name) {
                        errors.push(format!("{at}.{name}: required but absent"));
                    }
                }
                for (name, field) in object {
                    match declared.and_then(|declared| declared.get(name)) {
                        Some(field_schema) => {
                            check(spec, field_schema, field, &format!("{at}.{name}"), errors)
                        }
                        None if schema["additionalProperties"].is_object() => check(
                            spec,
                            &schema["additionalProperties"],
                            field,
                            &format!("{at}.{name}"),
                            errors,
                        ),
                        None => errors.push(format!("{at}.{name}: not declared in the schema")),
                    }
                }
                true
            }
            None => false,
        },
        Some("array") => match value.as_array() {
            Some(items) => {
                for (index, item) in items.iter().enumerate() {
                    check(
                        spec,
                        &schema["items"],
                        item,
                        &format!("{at}[{index}]"),
                        errors,
                    );
                }
                true
            }
            None => false,
        },
        Some("string") => match value.as_str() {
            Some(text) => {
                let format_fits = match schema["format"].as_str() {
                    Some("date") => time::Date::parse(
                        text,
                        time::macros::format_description!("[year]-[month]-[day]"),
                    )
                    .is_ok(),
                    Some("date-time") => time::OffsetDateTime::parse(
                        text,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .is_ok(),
                    Some("uuid") => uuid::Uuid::parse_str(text).is_ok(),
                    _ => true,
                };
                if !format_fits {
                    errors.push(format!("{at}: {text:?} is not a {}", schema["format"]));
                }
                true
            }
            None => false,
        },
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !fits {
        errors.push(format!("{at}: {value} is not a {}", schema["type"]));
    }
}

/// Calls operations through HTTP and checks each answer against what the document says that
/// operation answers with that status.
struct Checker<'a> {
    app: &'a TestApp,
    spec: Value,
    checked: Vec<String>,
}

impl Checker<'_> {
    /// Calls an operation that must succeed; returns its status and body.
    async fn call(
        &mut self,
        operation_id: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, body) = self.answer(operation_id, method, path, token, body).await;
        assert!(status.is_success(), "{operation_id}: {status} {body}");
        (status, body)
    }

    /// Reads with an operation that must succeed.
    async fn get(&mut self, operation_id: &str, path: &str, token: Option<&str>) -> Value {
        self.call(operation_id, Method::GET, path, token, None)
            .await
            .1
    }

    /// Calls an operation, whatever it answers.
    async fn answer(
        &mut self,
        operation_id: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.app.client.request(method.clone(), self.app.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        if operation_id == "create_booking" {
            request = request.header("Idempotency-Key", uuid::Uuid::now_v7().to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let (documented_method, _, operation) = operations(&self.spec)
            .into_iter()
            .find(|(_, _, operation)| operation["operationId"] == operation_id)
            .unwrap_or_else(|| panic!("no operation {operation_id}"));
        assert_eq!(documented_method, method.as_str().to_lowercase());
        let documented = &operation["responses"][status.as_str()];
        assert!(
            documented.is_object(),
            "{operation_id} answered {status}, which it does not document: {text}"
        );
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        if let Some((_, media)) = documented["content"]
            .as_object()
            .and_then(|content| content.iter().next())
        {
            let mut errors = Vec::new();
            check(
                &self.spec,
                &media["schema"],
                &body,
                operation_id,
                &mut errors,
            );
            assert!(
                errors.is_empty(),
                "{operation_id} {status}: {errors:#?}\n{body:#}"
            );
        }
        self.checked.push(operation_id.to_owned());
        (status, body)
    }
}

#[tokio::test]
async fn real_answers_match_their_documented_schemas() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let spec = spec();
    let example = |schema: &str| spec["components"]["schemas"][schema]["example"].clone();
    let (register, new_property) = (example("RegisterRequest"), example("NewProperty"));
    let mut checker = Checker {
        app: &app,
        spec: spec.clone(),
        checked: Vec::new(),
    };
    let admin_token = Some(admin.access_token.as_str());
    let t = |path: &str| format!("/v1/t/acme{path}");

    // Sign-up and sign-in, with the documented examples as bodies.
    let (status, _) = checker
        .call(
            "register",
            Method::POST,
            &t("/auth/register"),
            None,
            Some(register),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, session) = checker
        .call(
            "login",
            Method::POST,
            &t("/auth/login"),
            None,
            Some(json!({ "email": "ana@example.com", "password": PASSWORD })),
        )
        .await;
    let guest = session["access_token"].as_str().unwrap().to_owned();
    let guest_id = session["user"]["id"].as_str().unwrap().to_owned();
    let guest_token = Some(guest.as_str());
    checker.get("get_me", &t("/users/me"), guest_token).await;

    // A host lists the example listing.
    let host = app.register("acme", "hugo@example.com", false).await;
    checker
        .call(
            "set_user_roles",
            Method::PUT,
            &t(&format!("/users/{}/roles", host.id)),
            admin_token,
            Some(example("RolesUpdate")),
        )
        .await;
    let host = app.sign_in("acme", "hugo@example.com").await;
    let host_token = Some(host.access_token.as_str());
    let (status, property) = checker
        .call(
            "create_property",
            Method::POST,
            &t("/properties"),
            host_token,
            Some(new_property),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{property}");
    let id = property["id"].as_str().unwrap().to_owned();
    let plain = checker
        .call(
            "create_property",
            Method::POST,
            &t("/properties"),
            host_token,
            Some(json!({
                "name": "Plain room", "description": "No extras.", "max_guests": 1, "status": "listed",
                "location": { "address": "1 Rua", "city": "Porto", "country": "PT", "lat": 41.1, "lng": -8.6 },
                "nightly_price": { "amount": 5000, "currency": "EUR" },
            })),
        )
        .await
        .1;
    assert!(plain.get("weekend_price").is_none(), "{plain}");

    checker
        .get("list_properties", &t("/properties"), None)
        .await;
    checker
        .get("get_property", &t(&format!("/properties/{id}")), None)
        .await;
    checker
        .get("get_property", &t(&format!("/properties/{id}")), host_token)
        .await;
    let (from, to) = (day(30), day(34));
    checker
        .get(
            "get_availability",
            &t(&format!(
                "/properties/{id}/availability?from={from}&to={to}"
            )),
            None,
        )
        .await;
    let stay = json!({ "check_in": from, "check_out": to, "guests": 2 });
    checker
        .call(
            "quote_stay",
            Method::POST,
            &t(&format!("/properties/{id}/quote")),
            None,
            Some(stay.clone()),
        )
        .await;
    let mut booking_body = stay;
    booking_body["property_id"] = json!(id);
    let (status, booking) = checker
        .call(
            "create_booking",
            Method::POST,
            &t("/bookings"),
            guest_token,
            Some(booking_body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{booking}");
    let booking_id = booking["id"].as_str().unwrap().to_owned();
    checker
        .get("list_bookings", &t("/bookings"), guest_token)
        .await;
    checker
        .get("list_bookings", &t("/bookings?role=host"), host_token)
        .await;
    let (_, cancelled) = checker
        .call(
            "cancel_booking",
            Method::POST,
            &t(&format!("/bookings/{booking_id}/cancel")),
            guest_token,
            None,
        )
        .await;
    assert_eq!(cancelled["status"], "cancelled");
    checker
        .get(
            "get_booking",
            &t(&format!("/bookings/{booking_id}")),
            guest_token,
        )
        .await;

    // The host's and the admin's side.
    checker
        .call(
            "block_dates",
            Method::POST,
            &t(&format!("/properties/{id}/blocked-dates")),
            host_token,
            Some(json!({ "start": day(60), "end": day(62) })),
        )
        .await;
    checker
        .get(
            "list_blocked_dates",
            &t(&format!("/properties/{id}/blocked-dates")),
            host_token,
        )
        .await;
    checker
        .call(
            "create_api_key",
            Method::POST,
            &t("/api-keys"),
            admin_token,
            Some(example("ApiKeyRequest")),
        )
        .await;
    checker
        .get("list_api_keys", &t("/api-keys"), admin_token)
        .await;
    checker
        .get("list_users", &t("/users?role=guest"), admin_token)
        .await;
    checker
        .get(
            "get_user_profile",
            &t(&format!("/users/{guest_id}")),
            host_token,
        )
        .await;
    checker
        .get("get_settings", &t("/settings"), admin_token)
        .await;
    checker
        .get("list_policies", &t("/policies"), admin_token)
        .await;
    checker.get("get_tenant", &t(""), None).await;

    // Problems are checked against their documented schema too.
    let (status, _) = checker
        .answer(
            "get_booking",
            Method::GET,
            &t(&format!("/bookings/{}", uuid::Uuid::now_v7())),
            guest_token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(checker.checked.len() >= 25, "{:?}", checker.checked);
}

#[test]
fn the_checker_refuses_what_the_schema_does_not_allow() {
    let spec = json!({ "components": { "schemas": {
        "Thing": {
            "type": "object",
            "required": ["id", "day"],
            "properties": {
                "id": { "type": "string", "format": "uuid" },
                "day": { "type": "string", "format": "date" },
                "note": { "type": "string", "nullable": true },
                "count": { "type": "integer" },
                "kind": { "type": "string", "enum": ["a", "b"] },
            },
        },
    } } });
    let schema = json!({ "$ref": "#/components/schemas/Thing" });
    let errors = |value: Value| {
        let mut errors = Vec::new();
        check(&spec, &schema, &value, "thing", &mut errors);
        errors
    };
    let id = "0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b";
    assert!(errors(json!({ "id": id, "day": "2027-07-14", "note": null, "kind": "a" })).is_empty());
    assert_eq!(
        errors(json!({ "id": id, "day": "2027-07-14", "count": null })).len(),
        1
    );
    assert_eq!(errors(json!({ "id": id })).len(), 1);
    assert_eq!(errors(json!({ "id": id, "day": "14/07/2027" })).len(), 1);
    assert_eq!(errors(json!({ "id": "x", "day": "2027-07-14" })).len(), 1);
    assert_eq!(
        errors(json!({ "id": id, "day": "2027-07-14", "extra": 1 })).len(),
        1
    );
    assert_eq!(
        errors(json!({ "id": id, "day": "2027-07-14", "kind": "c" })).len(),
        1
    );
    assert_eq!(
        errors(json!({ "id": id, "day": "2027-07-14", "count": "1" })).len(),
        1
    );
    assert_eq!(errors(json!([])).len(), 1);
}

#[test]
fn no_schema_wraps_a_reference_in_all_of() {
    fn find(value: &Value, at: &str, found: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                if object.contains_key("allOf") {
                    found.push(at.to_owned());
                }
                for (key, inner) in object {
                    find(inner, &format!("{at}/{key}"), found);
                }
            }
            Value::Array(items) => {
                for (index, inner) in items.iter().enumerate() {
                    find(inner, &format!("{at}/{index}"), found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    find(&spec(), "", &mut found);
    assert!(found.is_empty(), "allOf at {found:#?}");
}

#[test]
fn summaries_are_one_line_and_every_request_body_has_a_valid_example() {
    let spec = spec();
    for (method, path, operation) in operations(&spec) {
        let id = operation["operationId"].as_str().unwrap();
        let summary = operation["summary"].as_str().unwrap_or_default();
        assert!(
            !summary.is_empty() && !summary.contains('\n') && summary.len() <= 100,
            "{id}: summary {summary:?}"
        );
        let Some(content) = operation["requestBody"]["content"].as_object() else {
            continue;
        };
        for (media_type, media) in content {
            let schema = resolve(&spec, &media["schema"]);
            let example = &schema["example"];
            assert!(
                example.is_object(),
                "{method} {path} ({media_type}) has no example"
            );
            let mut errors = Vec::new();
            check(&spec, schema, example, id, &mut errors);
            assert!(errors.is_empty(), "{id}'s example: {errors:#?}");
        }
    }
}

#[test]
fn stay_dates_are_dates_and_the_idempotency_key_is_required() {
    let spec = spec();
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        for (field, property) in schema["properties"].as_object().into_iter().flatten() {
            if [
                "check_in",
                "check_out",
                "start",
                "end",
                "date",
                "from",
                "to",
            ]
            .contains(&field.as_str())
                // A test clock moves to an instant, not a day.
                && (name.as_str(), field.as_str()) != ("AdvanceTestClock", "to")
            {
                assert_eq!(property["format"], "date", "{name}.{field}");
            }
        }
    }
    let create_booking = &spec["paths"]["/v1/t/{tenant}/bookings"]["post"];
    let key = create_booking["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["name"] == "Idempotency-Key")
        .expect("create_booking documents Idempotency-Key");
    assert_eq!(key["in"], "header");
    assert_eq!(key["required"], true);
}

/// Reviews' answers, from a completed stay of a test tenant (its clock completes the stay).
#[tokio::test]
async fn review_answers_match_their_documented_schemas() {
    let app = spawn_app().await;
    app.create_test_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let mut checker = Checker {
        app: &app,
        spec: spec(),
        checked: Vec::new(),
    };
    let t = |path: &str| format!("/v1/t/acme{path}");
    let admin_token = Some(admin.access_token.as_str());
    checker
        .call(
            "update_settings",
            Method::PATCH,
            &t("/settings"),
            admin_token,
            Some(json!({ "payment_collection": "at_property", "review_publication": "double_blind" })),
        )
        .await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let (host_token, guest_token) = (
        Some(host.access_token.as_str()),
        Some(guest.access_token.as_str()),
    );
    let property = crate::bookings::listed_property(&app, &host, "Loft").await;
    let booking = app
        .bookings(&guest)
        .created(&crate::helpers::Stay::days(1, 2).at(&property))
        .await;
    checker
        .call(
            "advance_test_clock",
            Method::POST,
            &t("/test-clock/advance"),
            admin_token,
            Some(json!({ "hours": 72 })),
        )
        .await;

    let reviews = t(&format!("/properties/{property}/reviews"));
    let example = json!({ "rating": 4, "comment": "Quiet and bright." });
    let (_, review) = checker
        .call(
            "create_review",
            Method::POST,
            &reviews,
            guest_token,
            Some(example.clone()),
        )
        .await;
    assert_eq!(review["status"], "pending");
    let (status, _) = checker
        .answer(
            "create_review",
            Method::POST,
            &reviews,
            guest_token,
            Some(example.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let review_path = t(&format!("/reviews/{}", review["id"].as_str().unwrap()));
    checker
        .call(
            "update_review",
            Method::PATCH,
            &review_path,
            guest_token,
            Some(json!({ "rating": 5 })),
        )
        .await;
    let booking_id = booking["id"].as_str().unwrap();
    let guest_review = t(&format!("/bookings/{booking_id}/guest-review"));
    checker
        .call(
            "create_guest_review",
            Method::POST,
            &guest_review,
            host_token,
            Some(example),
        )
        .await;
    checker
        .call(
            "reply_to_review",
            Method::PUT,
            &format!("{review_path}/reply"),
            host_token,
            Some(json!({ "text": "Thank you!" })),
        )
        .await;
    let page = checker
        .get(
            "list_property_reviews",
            &format!("{reviews}?sort=rating_desc"),
            None,
        )
        .await;
    assert_eq!(page["data"][0]["reply"]["text"], "Thank you!");
    checker.get("get_review", &review_path, None).await;
    checker
        .get("list_reviews", &t("/reviews?status=published"), admin_token)
        .await;
    checker
        .get(
            "list_user_reviews",
            &t(&format!("/users/{}/reviews", guest.id)),
            host_token,
        )
        .await;
    checker
        .call(
            "hide_review",
            Method::POST,
            &format!("{review_path}/hide"),
            admin_token,
            Some(json!({ "reason": "Checked." })),
        )
        .await;
    checker
        .call(
            "unhide_review",
            Method::POST,
            &format!("{review_path}/unhide"),
            admin_token,
            None,
        )
        .await;
    checker
        .call(
            "delete_review",
            Method::DELETE,
            &review_path,
            guest_token,
            None,
        )
        .await;
    assert_eq!(checker.checked.len(), 14, "{:?}", checker.checked);
}

#[tokio::test]
async fn plugin_answers_match_their_documented_schemas() {
    use crate::plugins::{module, uploaded};
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let mut checker = Checker {
        app: &app,
        spec: spec(),
        checked: Vec::new(),
    };
    let t = |path: &str| format!("/v1/t/acme{path}");
    let admin_token = Some(admin.access_token.as_str());
    let plugin = uploaded(
        &app,
        ("acme", &admin),
        ("pricing", "panic", "{}"),
        module("hostile/panic/panic.wasm"),
    )
    .await;
    let id = plugin["id"].as_str().unwrap().to_owned();
    checker
        .get("list_plugins", &t("/plugins"), admin_token)
        .await;
    for (operation, path) in [
        ("activate_plugin", format!("/plugins/{id}/activate")),
        ("dry_run_plugin", format!("/plugins/{id}/dry-run")),
    ] {
        checker
            .call(
                operation,
                Method::POST,
                &t(&path),
                admin_token,
                Some(json!({})),
            )
            .await;
    }
    // A failed call, then the plugin with its recent failures and the problem it answers.
    let host = app.register("acme", "host@example.com", true).await;
    let property = crate::bookings::listed_property(&app, &host, "Loft").await;
    let (status, problem) = checker
        .answer(
            "quote_stay",
            Method::POST,
            &t(&format!("/properties/{property}/quote")),
            None,
            Some(json!({ "check_in": crate::helpers::day(20), "check_out": crate::helpers::day(22), "guests": 2 })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["reason"], "trap");
    crate::helpers::eventually(|| async {
        let plugin: Value = app
            .get_with(&t(&format!("/plugins/{id}")), &admin.access_token)
            .await
            .json()
            .await
            .unwrap();
        !plugin["recent_failures"].as_array().unwrap().is_empty()
    })
    .await;
    checker
        .get("get_plugin", &t(&format!("/plugins/{id}")), admin_token)
        .await;
    checker
        .call(
            "deactivate_plugin",
            Method::POST,
            &t(&format!("/plugins/{id}/deactivate")),
            admin_token,
            None,
        )
        .await;
    checker
        .call(
            "delete_plugin",
            Method::DELETE,
            &t(&format!("/plugins/{id}")),
            admin_token,
            None,
        )
        .await;
    assert_eq!(checker.checked.len(), 7, "{:?}", checker.checked);
}
