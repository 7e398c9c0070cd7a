//! Tenant plugins through HTTP: the example components change real quotes and bookings exactly
//! as their READMEs say, activation and rollback, both failure policies, other tenants
//! untouched, and hostile components refused at upload or contained at call.

use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use time::{OffsetDateTime, Weekday};

use crate::{
    bookings::listed_property,
    helpers::{Account, Stay, TestApp, assert_problem, spawn_app, spawn_app_with},
};

/// A committed component under `plugins/`.
pub(crate) fn module(path: &str) -> Vec<u8> {
    let file = format!("{}/plugins/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&file).unwrap_or_else(|err| panic!("{file}: {err}"))
}

/// A committed hostile component.
fn hostile(name: &str) -> Vec<u8> {
    module(&format!("hostile/{name}/{name}.wasm"))
}

pub(crate) fn example_config(name: &str) -> String {
    String::from_utf8(module(&format!("examples/{name}/config.json"))).unwrap()
}

pub(crate) async fn upload(
    app: &TestApp,
    (tenant, admin): (&str, &Account),
    (kind, name, config): (&str, &str, &str),
    bytes: Vec<u8>,
) -> Response {
    let form = reqwest::multipart::Form::new()
        .text("kind", kind.to_owned())
        .text("name", name.to_owned())
        .text("config", config.to_owned())
        .part(
            "module",
            reqwest::multipart::Part::bytes(bytes).file_name(format!("{name}.wasm")),
        );
    app.client
        .post(app.url(&format!("/v1/t/{tenant}/plugins")))
        .bearer_auth(&admin.access_token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// A plugin that must upload.
pub(crate) async fn uploaded(
    app: &TestApp,
    (tenant, admin): (&str, &Account),
    (kind, name, config): (&str, &str, &str),
    bytes: Vec<u8>,
) -> Value {
    let response = upload(app, (tenant, admin), (kind, name, config), bytes).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

pub(crate) async fn post(app: &TestApp, admin: &Account, path: &str, body: Value) -> Response {
    app.client
        .post(app.url(path))
        .bearer_auth(&admin.access_token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn activate(app: &TestApp, tenant: &str, admin: &Account, id: &str, policy: &str) {
    let response = post(
        app,
        admin,
        &format!("/v1/t/{tenant}/plugins/{id}/activate"),
        json!({ "failure_policy": policy }),
    )
    .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "active");
    assert_eq!(body["failure_policy"], policy);
}

async fn dry_run(app: &TestApp, admin: &Account, id: &str, input: Option<Value>) -> Value {
    let body = match input {
        Some(input) => json!({ "input": input }),
        None => json!({}),
    };
    let response = post(
        app,
        admin,
        &format!("/v1/t/acme/plugins/{id}/dry-run"),
        body,
    )
    .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A weekday at least two weeks away, so that no "last minute" rule applies.
fn next(weekday: Weekday) -> time::Date {
    let mut day = OffsetDateTime::now_utc().date() + time::Duration::days(14);
    while day.weekday() != weekday {
        day = day.next_day().unwrap();
    }
    day
}

/// `(code, amount, source)` of each line.
fn lines(priced: &Value) -> Vec<(String, i64, String)> {
    priced["line_items"]
        .as_array()
        .unwrap_or_else(|| panic!("no lines: {priced}"))
        .iter()
        .map(|line| {
            (
                line["code"].as_str().unwrap().to_owned(),
                line["amount"]["amount"].as_i64().unwrap(),
                line["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn line(code: &str, amount: i64, source: &str) -> (String, i64, String) {
    (code.to_owned(), amount, source.to_owned())
}

/// A marketplace with a 10 % service fee and a host's listed property (10 000 a night,
/// 5 000 cleaning).
async fn marketplace(app: &TestApp, slug: &str) -> (Account, String) {
    app.create_tenant(slug).await;
    let admin = app.tenant_admin(slug).await;
    let response = app
        .client
        .patch(app.url(&format!("/v1/t/{slug}/settings")))
        .bearer_auth(&admin.access_token)
        .json(&json!({ "platform_fee_bps": 1000, "tax_bps": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let host = app
        .register(slug, &format!("host@{slug}.example.com"), true)
        .await;
    let property = listed_property_in(app, slug, &host).await;
    (admin, property)
}

async fn listed_property_in(app: &TestApp, slug: &str, host: &Account) -> String {
    if slug == "acme" {
        return listed_property(app, host, "Loft").await;
    }
    let response = app
        .client
        .post(app.url(&format!("/v1/t/{slug}/properties")))
        .bearer_auth(&host.access_token)
        .json(&json!({
            "name": "Loft", "description": "d",
            "location": { "address": "a", "city": "Nice", "country": "FR", "lat": 43.7, "lng": 7.26 },
            "nightly_price": { "amount": 10_000, "currency": "EUR" },
            "cleaning_fee": { "amount": 5_000, "currency": "EUR" },
            "max_guests": 4, "min_nights": 1, "max_nights": 30, "status": "listed"
        }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn quote_in(app: &TestApp, slug: &str, property: &str, stay: &Stay) -> Response {
    app.client
        .post(app.url(&format!("/v1/t/{slug}/properties/{property}/quote")))
        .json(stay)
        .send()
        .await
        .unwrap()
}

async fn quoted(app: &TestApp, slug: &str, property: &str, stay: &Stay) -> Value {
    let response = quote_in(app, slug, property, stay).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn the_pricing_examples_change_quotes_and_bookings_exactly_as_their_readmes_say() {
    let app = spawn_app().await;
    let (admin, property) = marketplace(&app, "acme").await;
    let (_, other_property) = marketplace(&app, "other").await;
    let thursday = next(Weekday::Thursday);
    let weekend = Stay::new(thursday, thursday + time::Duration::days(3), 2);
    // Four weeks after the weekends, so that booking either leaves the other free.
    let monday = next(Weekday::Monday) + time::Duration::days(28);
    let week = Stay::new(monday, monday + time::Duration::days(7), 2);
    let base = quoted(&app, "acme", &property, &weekend).await;
    assert_eq!(
        lines(&base),
        [
            line("nights", 30_000, "base"),
            line("cleaning_fee", 5_000, "base"),
            line("platform_fee", 3_500, "base"),
        ]
    );

    // seasonal-weekend, weekends only: 15 % of the Friday and Saturday nights' 20 000.
    let seasonal = uploaded(
        &app,
        ("acme", &admin),
        ("pricing", "seasonal-weekend", r#"{"weekend_percent":15}"#),
        module("examples/seasonal-weekend/seasonal-weekend.wasm"),
    )
    .await;
    assert_eq!(seasonal["version"], 1);
    assert_eq!(seasonal["status"], "inactive");
    assert_eq!(seasonal["world"], "pricing");
    assert_eq!(seasonal["sha256"].as_str().unwrap().len(), 64);
    let seasonal_id = seasonal["id"].as_str().unwrap().to_owned();
    // Uploaded is not active: quotes do not change.
    assert_eq!(quoted(&app, "acme", &property, &weekend).await, base);
    activate(&app, "acme", &admin, &seasonal_id, "fail_closed").await;
    let surcharged = [
        line("nights", 30_000, "base"),
        line("cleaning_fee", 5_000, "base"),
        line("surcharge", 3_000, "plugin"),
        // The service fee follows the plugin: 10 % of 38 000.
        line("platform_fee", 3_800, "base"),
    ];
    let quote = quoted(&app, "acme", &property, &weekend).await;
    assert_eq!(lines(&quote), surcharged);
    assert_eq!(quote["total"]["amount"], 41_800);
    assert_eq!(
        quote["line_items"][2]["label"],
        "Weekend surcharge (15%, 2 nights)"
    );
    // Another marketplace's quotes are untouched.
    let other = quoted(&app, "other", &other_property, &weekend).await;
    assert_eq!(other["total"]["amount"], 38_500);

    // The booking keeps the adjusted lines.
    let guest = app.register("acme", "guest@example.com", false).await;
    let booking = app
        .bookings(&guest)
        .created(&weekend.clone().at(property.as_str()))
        .await;
    assert_eq!(lines(&booking), surcharged);
    assert_eq!(booking["total"]["amount"], 41_800);

    // stay-discounts replaces it as the active pricing plugin: 10 % off a week's nights.
    let discounts = uploaded(
        &app,
        ("acme", &admin),
        (
            "pricing",
            "stay-discounts",
            &example_config("stay-discounts"),
        ),
        module("examples/stay-discounts/stay-discounts.wasm"),
    )
    .await;
    let discounts_id = discounts["id"].as_str().unwrap().to_owned();
    activate(&app, "acme", &admin, &discounts_id, "fail_closed").await;
    let quote = quoted(&app, "acme", &property, &week).await;
    assert_eq!(
        lines(&quote),
        [
            line("nights", 70_000, "base"),
            line("cleaning_fee", 5_000, "base"),
            line("discount", -7_000, "plugin"),
            line("platform_fee", 6_800, "base"),
        ]
    );
    assert_eq!(quote["total"]["amount"], 74_800);
    let booking = app
        .bookings(&guest)
        .created(&week.clone().at(property.as_str()))
        .await;
    assert_eq!(lines(&booking), lines(&quote));
    assert_eq!(booking["total"]["amount"], 74_800);
    let listed: Value = app
        .client
        .get(app.url("/v1/t/acme/plugins"))
        .bearer_auth(&admin.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<(&str, &str)> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|plugin| {
            (
                plugin["name"].as_str().unwrap(),
                plugin["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("stay-discounts", "active"),
            ("seasonal-weekend", "inactive")
        ]
    );

    // The booked nights are taken: later quotes price the next weekend.
    let later = Stay::new(
        thursday + time::Duration::days(7),
        thursday + time::Duration::days(10),
        2,
    );
    // Rollback is activating the old version; deactivating leaves the base price.
    activate(&app, "acme", &admin, &seasonal_id, "fallback").await;
    assert_eq!(
        lines(&quoted(&app, "acme", &property, &later).await),
        surcharged
    );
    let response = post(
        &app,
        &admin,
        &format!("/v1/t/acme/plugins/{seasonal_id}/deactivate"),
        json!({}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(quoted(&app, "acme", &property, &later).await, base);

    // The same plugin in JavaScript prices the same stay to the cent.
    let js = uploaded(
        &app,
        ("acme", &admin),
        (
            "pricing",
            "seasonal-weekend-js",
            r#"{"weekend_percent":15}"#,
        ),
        module("examples/seasonal-weekend-js/seasonal-weekend-js.wasm"),
    )
    .await;
    activate(
        &app,
        "acme",
        &admin,
        js["id"].as_str().unwrap(),
        "fail_closed",
    )
    .await;
    assert_eq!(
        lines(&quoted(&app, "acme", &property, &later).await),
        surcharged
    );
    let booking = app
        .bookings(&guest)
        .created(&later.clone().at(property.as_str()))
        .await;
    assert_eq!(lines(&booking), surcharged);
    assert_eq!(booking["total"]["amount"], 41_800);

    // Every call is counted by tenant, plugin and outcome, with its fuel and duration.
    let metrics = app.metrics().await.text().await.unwrap();
    for series in [
        r#"staybase_plugin_calls_total{tenant="acme",plugin="seasonal-weekend",outcome="ok"} "#,
        r#"staybase_plugin_fuel_used_count{tenant="acme",plugin="stay-discounts"} 2"#,
        r#"staybase_plugin_call_duration_seconds_count{tenant="acme",plugin="seasonal-weekend-js"} 2"#,
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
    assert!(!metrics.contains(r#"tenant="other""#));

    // A new upload of a name is its next version.
    let again = uploaded(
        &app,
        ("acme", &admin),
        ("pricing", "seasonal-weekend", "{}"),
        module("examples/seasonal-weekend/seasonal-weekend.wasm"),
    )
    .await;
    assert_eq!(again["version"], 2);
    assert_eq!(again["sha256"], seasonal["sha256"]);
}

/// The oversized module: a valid component padded past 4 MiB with a custom section.
fn oversized() -> Vec<u8> {
    let mut bytes = module("examples/stay-discounts/stay-discounts.wasm");
    let name = b"padding";
    let payload = 4 * 1024 * 1024 + 1;
    let mut size = name.len() + 1 + payload;
    bytes.push(0);
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            bytes.push(byte);
            break;
        }
        bytes.push(byte | 0x80);
    }
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend(std::iter::repeat_n(0u8, payload));
    bytes
}

#[tokio::test]
async fn hostile_plugins_are_refused_at_upload_or_contained_at_call() {
    // Fuel enough that the wall-clock deadline, not fuel, stops the infinite loop.
    let app = spawn_app_with(|config| config.plugin_fuel = 1_000_000_000).await;
    let (admin, property) = marketplace(&app, "acme").await;
    let tenant = ("acme", &admin);

    for (name, needle) in [
        ("wrong-world", "price"),
        ("wasi-filesystem", "wasi:filesystem"),
        ("wasi-sockets", "wasi:sockets"),
    ] {
        let response = upload(&app, tenant, ("pricing", name, "{}"), hostile(name)).await;
        let problem =
            assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "plugin_invalid").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(needle), "{name}: {detail}");
    }
    // A review-rules component is not a pricing plugin, nor bytes a component.
    let response = upload(
        &app,
        tenant,
        ("pricing", "guard", "{}"),
        module("examples/review-guard/review-guard.wasm"),
    )
    .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "plugin_invalid").await;
    let response = upload(
        &app,
        tenant,
        ("pricing", "junk", "{}"),
        b"\0asm\x01\0\0\0".to_vec(),
    )
    .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "plugin_invalid").await;
    let response = upload(&app, tenant, ("pricing", "huge", "{}"), oversized()).await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // The rest of an upload is checked too.
    let response = upload(
        &app,
        tenant,
        ("discounts", "", "[1]"),
        module("examples/stay-discounts/stay-discounts.wasm"),
    )
    .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["kind", "name", "config"]);

    // Contained at call: each fails with its reason in a dry run.
    let mut ids = std::collections::BTreeMap::new();
    for (name, reason) in [
        ("infinite-loop", "timeout"),
        ("memory-grower", "memory_limit"),
        ("deep-recursion", "trap"),
        ("panic", "trap"),
        ("huge-output", "output_too_large"),
    ] {
        let plugin = uploaded(&app, tenant, ("pricing", name, "{}"), hostile(name)).await;
        let id = plugin["id"].as_str().unwrap().to_owned();
        let run = dry_run(&app, &admin, &id, None).await;
        assert_eq!(run["output"], Value::Null, "{name}: {run}");
        assert_eq!(run["error"]["reason"], reason, "{name}: {run}");
        ids.insert(name, id);
    }
    let run = dry_run(&app, &admin, &ids["panic"], None).await;
    let logs = run["logs"].to_string();
    assert!(
        logs.contains("panicked"),
        "the panic message is in the logs: {run}"
    );

    // fail_closed: the quote is refused with the reason; fallback: the base price stands.
    let thursday = next(Weekday::Thursday);
    let stay = Stay::new(thursday, thursday + time::Duration::days(3), 2);
    activate(&app, "acme", &admin, &ids["panic"], "fail_closed").await;
    let problem = assert_problem(
        quote_in(&app, "acme", &property, &stay).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "plugin_failed",
    )
    .await;
    assert_eq!(problem["reason"], "trap");
    let guest = app.register("acme", "guest@example.com", false).await;
    let booking = app
        .bookings(&guest)
        .create_with_key("plugin-retry", &stay.clone().at(property.as_str()))
        .await;
    assert_problem(booking, StatusCode::UNPROCESSABLE_ENTITY, "plugin_failed").await;
    activate(&app, "acme", &admin, &ids["panic"], "fallback").await;
    let quote = quoted(&app, "acme", &property, &stay).await;
    assert_eq!(quote["total"]["amount"], 38_500);
    // The plugin's failure was not the request's: a retry with the same key books.
    let booking = app
        .bookings(&guest)
        .create_with_key("plugin-retry", &stay.clone().at(property.as_str()))
        .await;
    assert_eq!(booking.status(), StatusCode::CREATED);
    assert!(!booking.headers().contains_key("idempotent-replayed"));
    let later = Stay::new(
        thursday + time::Duration::days(7),
        thursday + time::Duration::days(10),
        2,
    );
    // Failed calls are kept for the tenant to see.
    crate::helpers::eventually(|| async {
        let plugin: Value = app
            .client
            .get(app.url(&format!("/v1/t/acme/plugins/{}", ids["panic"])))
            .bearer_auth(&admin.access_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let failures = plugin["recent_failures"].as_array().unwrap();
        failures.len() >= 2 && failures.iter().all(|failure| failure["reason"] == "trap")
    })
    .await;

    let metrics = app.metrics().await.text().await.unwrap();
    assert!(
        metrics.contains(
            r#"staybase_plugin_calls_total{tenant="acme",plugin="panic",outcome="trap"} 4"#
        ),
        "{metrics}"
    );

    // The infinite loop runs to its deadline while another tenant's quote answers at once.
    let (_, other_property) = marketplace(&app, "other").await;
    activate(&app, "acme", &admin, &ids["infinite-loop"], "fail_closed").await;
    let looping =
        futures_util::future::join_all((0..4).map(|_| quote_in(&app, "acme", &property, &later)));
    let meanwhile = async {
        let started = Instant::now();
        let other = quoted(&app, "other", &other_property, &later).await;
        (other, started.elapsed())
    };
    let (looped, (other, elapsed)) = tokio::join!(looping, meanwhile);
    assert_eq!(other["total"]["amount"], 38_500);
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    for quote in looped {
        let problem =
            assert_problem(quote, StatusCode::UNPROCESSABLE_ENTITY, "plugin_failed").await;
        assert_eq!(problem["reason"], "timeout");
    }

    // Deleting the active version stops it at once.
    let response = app
        .client
        .delete(app.url(&format!("/v1/t/acme/plugins/{}", ids["infinite-loop"])))
        .bearer_auth(&admin.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        quoted(&app, "acme", &property, &later).await["total"]["amount"],
        38_500
    );
}

#[tokio::test]
async fn dry_runs_answer_output_fuel_time_and_logs_and_plugins_stay_in_their_tenant() {
    let app = spawn_app().await;
    let (admin, _) = marketplace(&app, "acme").await;
    let (other_admin, _) = marketplace(&app, "other").await;
    let plugin = uploaded(
        &app,
        ("acme", &admin),
        (
            "pricing",
            "seasonal-weekend",
            &example_config("seasonal-weekend"),
        ),
        module("examples/seasonal-weekend/seasonal-weekend.wasm"),
    )
    .await;
    let id = plugin["id"].as_str().unwrap();
    // The sample input is the README's worked example.
    let run = dry_run(&app, &admin, id, None).await;
    assert!(run.get("error").is_none(), "{run}");
    let amounts: Vec<i64> = run["output"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["amount"].as_i64().unwrap())
        .collect();
    assert!(amounts.ends_with(&[16_222, 5_416]), "{run}");
    assert!(run["fuel_used"].as_u64().unwrap() > 0);
    assert!(run["duration_us"].as_u64().unwrap() > 0);
    assert!(
        run["logs"][0]
            .as_str()
            .unwrap()
            .starts_with("seasonal-weekend:"),
        "{run}"
    );
    // Without an input, the sample runs with the plugin's own configuration.
    let weekends = uploaded(
        &app,
        ("acme", &admin),
        ("pricing", "seasonal-weekend", r#"{"weekend_percent":100}"#),
        module("examples/seasonal-weekend/seasonal-weekend.wasm"),
    )
    .await;
    let run = dry_run(&app, &admin, weekends["id"].as_str().unwrap(), None).await;
    let surcharges: Vec<&Value> = run["output"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|line| line["code"] == "surcharge")
        .collect();
    assert_eq!(surcharges.len(), 1, "{run}");
    assert_eq!(surcharges[0]["amount"], 36_110);
    // Fuel stops a loop first under the default fuel.
    let looping = uploaded(
        &app,
        ("acme", &admin),
        ("pricing", "infinite-loop", "{}"),
        module("hostile/infinite-loop/infinite-loop.wasm"),
    )
    .await;
    let run = dry_run(&app, &admin, looping["id"].as_str().unwrap(), None).await;
    assert_eq!(run["error"]["reason"], "fuel_exhausted", "{run}");
    assert_eq!(run["fuel_used"], 10_000_000);
    // A given input, with another config; a malformed one is 422.
    let mut input: Value =
        serde_json::from_str(include_str!("../../plugins/examples/sample-quote.json")).unwrap();
    input["config"] = json!(r#"{"weekend_percent":100}"#);
    let run = dry_run(&app, &admin, id, Some(input)).await;
    assert_eq!(
        run["output"]["lines"].as_array().unwrap().last().unwrap()["amount"],
        36_110
    );
    let response = post(
        &app,
        &admin,
        &format!("/v1/t/acme/plugins/{id}/dry-run"),
        json!({ "input": { "nights": "seven" } }),
    )
    .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // A policy of the other kind is refused.
    let response = post(
        &app,
        &admin,
        &format!("/v1/t/acme/plugins/{id}/activate"),
        json!({ "failure_policy": "hold" }),
    )
    .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // Another tenant's admin does not see it.
    for path in [format!("/v1/t/other/plugins/{id}")] {
        let response = app
            .client
            .get(app.url(&path))
            .bearer_auth(&other_admin.access_token)
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    let response = post(
        &app,
        &other_admin,
        &format!("/v1/t/other/plugins/{id}/activate"),
        json!({}),
    )
    .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn plugin_output_is_checked_before_use_and_inputs_are_bounded() {
    let app = spawn_app().await;
    let (admin, _) = marketplace(&app, "acme").await;
    for (mode, message) in [
        ("currency", "currency"),
        ("code", "\"bonus\""),
        ("fee", "service fee"),
        ("negative", "negative"),
        ("label", "label"),
        ("sign", "positive or zero"),
    ] {
        let plugin = uploaded(
            &app,
            ("acme", &admin),
            (
                "pricing",
                &format!("bad-{mode}"),
                &format!("{{\"mode\":\"{mode}\"}}"),
            ),
            hostile("bad-output"),
        )
        .await;
        let mut input: Value =
            serde_json::from_str(include_str!("../../plugins/examples/sample-quote.json")).unwrap();
        input["config"] = json!(mode);
        let run = dry_run(&app, &admin, plugin["id"].as_str().unwrap(), Some(input)).await;
        assert_eq!(run["error"]["reason"], "invalid_output", "{mode}: {run}");
        let detail = run["error"]["message"].as_str().unwrap();
        assert!(detail.contains(message), "{mode}: {detail}");
    }
    // The same plugin with a harmless config passes the base lines through.
    let plugin = uploaded(
        &app,
        ("acme", &admin),
        ("pricing", "bad-none", "{}"),
        hostile("bad-output"),
    )
    .await;
    let id = plugin["id"].as_str().unwrap();
    let run = dry_run(&app, &admin, id, None).await;
    assert!(run.get("error").is_none(), "{run}");
    // An input over 128 kB is refused before the plugin runs.
    let mut input: Value =
        serde_json::from_str(include_str!("../../plugins/examples/sample-quote.json")).unwrap();
    input["property"]["amenities"] = json!(vec!["x".repeat(1000); 140]);
    let run = dry_run(&app, &admin, id, Some(input)).await;
    assert_eq!(run["error"]["reason"], "input_too_large", "{run}");
    assert_eq!(run["fuel_used"], 0);
}

#[tokio::test]
async fn compiled_code_is_kept_for_other_replicas_and_compiled_again_for_another_engine() {
    let app = spawn_app().await;
    let (admin, property) = marketplace(&app, "acme").await;
    let plugin = uploaded(
        &app,
        ("acme", &admin),
        ("pricing", "seasonal-weekend", r#"{"weekend_percent":15}"#),
        module("examples/seasonal-weekend/seasonal-weekend.wasm"),
    )
    .await;
    activate(
        &app,
        "acme",
        &admin,
        plugin["id"].as_str().unwrap(),
        "fail_closed",
    )
    .await;
    let engines = || async {
        staybase::on_db!(&app.state.db, |pool| sqlx::query_scalar::<_, String>(
            "SELECT engine FROM plugin_code ORDER BY engine"
        )
        .fetch_all(pool)
        .await)
        .unwrap()
    };
    let compiled = engines().await;
    assert_eq!(compiled.len(), 1, "compiled once, at upload");
    let thursday = next(Weekday::Thursday);
    let stay = Stay::new(thursday, thursday + time::Duration::days(3), 2);
    let surcharged = |quote: Value| quote["total"]["amount"] == 41_800;

    // Another replica loads the stored code instead of compiling.
    let replica = app.replica().await;
    let quote_at = |base: String| {
        let (client, stay, property) = (app.client.clone(), stay.clone(), property.clone());
        async move {
            client
                .post(format!("{base}/v1/t/acme/properties/{property}/quote"))
                .json(&stay)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert!(surcharged(quote_at(replica).await));
    assert_eq!(engines().await, compiled);

    // Code of another engine build is not loaded: a new replica compiles the module again.
    staybase::on_db!(&app.state.db, |pool| sqlx::query(
        "UPDATE plugin_code SET engine = 'wasmtime-0.0.0-retired'"
    )
    .execute(pool)
    .await
    .map(drop))
    .unwrap();
    let replica = app.replica().await;
    assert!(surcharged(quote_at(replica).await));
    let mut expected = vec!["wasmtime-0.0.0-retired".to_owned(), compiled[0].clone()];
    expected.sort();
    crate::helpers::eventually(|| async { engines().await == expected }).await;

    // Stored code this engine cannot load fails the calls under the plugin's policy; it is
    // not an error of the request.
    staybase::on_db!(&app.state.db, |pool| sqlx::query(
        "UPDATE plugin_code SET code = $1"
    )
    .bind(vec![0u8; 64])
    .execute(pool)
    .await
    .map(drop))
    .unwrap();
    let replica = app.replica().await;
    let problem = quote_at(replica).await;
    assert_eq!(problem["code"], "plugin_failed", "{problem}");
    assert_eq!(problem["reason"], "prepare_failed", "{problem}");
}
