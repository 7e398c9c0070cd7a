//! What a tenant's pricing plugin adds to a quote, for each example (`seasonal-weekend` and
//! `stay-discounts` in Rust, `seasonal-weekend-js` in JavaScript):
//!
//! 1. The plugin call alone: `Runtime::price` on a prepared component with the sample quote
//!    (`plugins/examples/sample-quote.json`, with the example's own `config.json`), one call
//!    at a time: a fresh instance in a fresh store, the call and its teardown, as every live
//!    call does. Its p50, p99, mean and calls/s, the call's own `duration` ("sandbox": from
//!    its slot to its teardown, without the caller's await) and the fuel a call uses. Target
//!    for the Rust examples: p50 <= 50 us.
//! 2. Anonymous quotes through HTTP (`POST /v1/t/bench/properties/{id}/quote`, seven nights
//!    from a Thursday, across 1 000 seeded listings), by one client at a time (the latency a
//!    quote gains on an idle server) and by 8 concurrent clients (the cores saturated:
//!    throughput): with no plugin active, then with each example uploaded and activated
//!    through the API, then with none again (to show the drift between phases). The added
//!    latency is the difference with the first row.
//!
//! Everything runs in this process, one phase after the other (each after a one-second
//! warm-up); the HTTP clients share the cores with the server, the same way in every phase.
//!
//! Run: `cargo bench --bench plugins` (SQLite; `STAYBASE_BENCH_DATABASE_URL=postgres://...`
//! for PostgreSQL, which must be an empty database). `STAYBASE_BENCH_SECONDS` per phase
//! (default 10; 13 phases).

mod common;
// This bench books nothing: it uses the marketplace's listings and accounts only.
#[allow(dead_code)]
#[path = "common/marketplace.rs"]
mod marketplace;

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use staybase::plugins::{
    model::PluginKind,
    runtime::{FailureReason, Limits, PluginQuote, Runtime},
    service,
};

const LISTINGS: usize = 1_000;
const CLIENTS: usize = 8;
const WARM_UP: Duration = Duration::from_secs(1);
/// Shows the first failed call or quote (on standard error).
static FIRST_FAILURE: std::sync::Once = std::sync::Once::new();
/// The Rust examples' target for the plugin call alone.
const TARGET_P50: Duration = Duration::from_micros(50);

/// The pricing examples: name (directory, module and plugin name) and language.
const EXAMPLES: [(&str, &str); 3] = [
    ("seasonal-weekend", "Rust"),
    ("stay-discounts", "Rust"),
    ("seasonal-weekend-js", "JavaScript"),
];

fn example_file(name: &str, file: &str) -> Vec<u8> {
    let path = format!(
        "{}/plugins/examples/{name}/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn module(name: &str) -> Vec<u8> {
    example_file(name, &format!("{name}.wasm"))
}

fn config(name: &str) -> String {
    String::from_utf8(example_file(name, "config.json"))
        .expect("a UTF-8 config")
        .trim()
        .to_owned()
}

/// Latencies of a phase, sorted, and how long it took.
#[derive(Clone, Copy)]
struct Measured {
    count: usize,
    /// Requests that did not succeed (counted in the latencies too).
    failed: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

impl Measured {
    fn new(mut latencies: Vec<Duration>, failed: usize, elapsed: Duration) -> Self {
        latencies.sort();
        let total: Duration = latencies.iter().sum();
        Self {
            count: latencies.len(),
            failed,
            elapsed,
            p50: common::percentile(&latencies, 0.50),
            p99: common::percentile(&latencies, 0.99),
            mean: total / u32::try_from(latencies.len().max(1)).expect("calls"),
        }
    }

    /// Successful calls or requests per second.
    fn per_second(&self) -> f64 {
        (self.count - self.failed) as f64 / self.elapsed.as_secs_f64()
    }
}

/// The plugin call alone, one at a time for `phase`.
struct Alone {
    calls: Measured,
    /// `Call::duration`: instantiate, call and fuel accounting, on the blocking thread.
    sandbox_p50: Duration,
    fuel: u64,
}

async fn call_alone(name: &str, phase: Duration) -> Alone {
    let runtime = Runtime::shared().expect("plugin runtime");
    let prepared = service::prepare_local(PluginKind::Pricing, &module(name)).expect("prepared");
    let mut quote: PluginQuote = serde_json::from_str(service::SAMPLE_QUOTE).expect("sample");
    quote.config = config(name);
    let limits = Limits::default();
    let run = async |phase: Duration| {
        let (mut latencies, mut sandbox, mut fuel, mut failed) = (Vec::new(), Vec::new(), 0, 0);
        let started = Instant::now();
        while started.elapsed() < phase {
            let (prepared, quote) = (Arc::clone(&prepared), quote.clone());
            let called = Instant::now();
            let call = runtime
                .price((uuid::Uuid::nil(), prepared), quote, limits)
                .await;
            latencies.push(called.elapsed());
            match call.result {
                Ok(priced) => assert!(!priced.lines.is_empty(), "{name} priced no line"),
                // Past the deadline (a descheduled thread): counted, not fatal.
                Err(failure) if failure.reason == FailureReason::Timeout => {
                    FIRST_FAILURE.call_once(|| eprintln!("a call failed: {failure:?}"));
                    failed += 1;
                }
                Err(failure) => panic!("{name}: {failure:?}"),
            }
            sandbox.push(call.duration);
            fuel = call.fuel_used;
        }
        let elapsed = started.elapsed();
        sandbox.sort();
        (Measured::new(latencies, failed, elapsed), sandbox, fuel)
    };
    run(WARM_UP).await;
    let (calls, sandbox, fuel) = run(phase).await;
    Alone {
        calls,
        sandbox_p50: common::percentile(&sandbox, 0.50),
        fuel,
    }
}

/// Runs `request` from `clients` tasks for `phase`; `request(i)` gets a number unique to the
/// run and says whether it succeeded.
async fn drive<F, Fut>(phase: Duration, clients: usize, request: Arc<F>) -> Measured
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (request, next, stop) = (request.clone(), next.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut latencies, mut failed) = (Vec::new(), 0);
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    if !request(next.fetch_add(1, Ordering::Relaxed)).await {
                        failed += 1;
                    }
                    latencies.push(started.elapsed());
                }
                (latencies, failed)
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(phase).await;
    stop.store(true, Ordering::Relaxed);
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for task in tasks {
        let (task_latencies, task_failed) = task.await.expect("client task");
        latencies.extend(task_latencies);
        failed += task_failed;
    }
    Measured::new(latencies, failed, started.elapsed())
}

/// The quote body: seven nights from the first Thursday five weeks ahead, so that both
/// seasonal-weekend (the weekend) and stay-discounts (a week's stay) change the price.
fn stay() -> Value {
    let mut check_in = time::OffsetDateTime::now_utc().date() + time::Duration::days(35);
    while check_in.weekday() != time::Weekday::Thursday {
        check_in = check_in.next_day().expect("a date");
    }
    json!({
        "check_in": check_in.to_string(),
        "check_out": (check_in + time::Duration::days(7)).to_string(),
        "guests": 1
    })
}

/// An anonymous quote: the body, or the problem when it failed.
async fn quote(client: &reqwest::Client, url: &str, body: &Value) -> Result<Value, Value> {
    let response = client.post(url).json(body).send().await.expect("quote");
    let status = response.status();
    let body: Value = response.json().await.expect("quote body");
    if status == reqwest::StatusCode::OK {
        Ok(body)
    } else {
        Err(body)
    }
}

/// Whether a quote has a line the plugin made.
fn has_plugin_line(quote: &Value) -> bool {
    quote["line_items"]
        .as_array()
        .expect("line items")
        .iter()
        .any(|line| line["source"] == "plugin")
}

/// Uploads an example as a pricing plugin with its own config; returns its id.
async fn upload(client: &reqwest::Client, base: &str, token: &str, name: &str) -> String {
    let form = reqwest::multipart::Form::new()
        .text("kind", "pricing")
        .text("name", name.to_owned())
        .text("config", config(name))
        .part(
            "module",
            reqwest::multipart::Part::bytes(module(name)).file_name(format!("{name}.wasm")),
        );
    let response = client
        .post(format!("{base}/plugins"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    let body: Value = response.json().await.expect("upload body");
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("plugin id").to_owned()
}

/// Activates (`fail_closed`) or deactivates a plugin.
async fn switch(client: &reqwest::Client, base: &str, token: &str, id: &str, on: bool) {
    let url = format!(
        "{base}/plugins/{id}/{}",
        if on { "activate" } else { "deactivate" }
    );
    let mut request = client.post(url).bearer_auth(token);
    if on {
        request = request.json(&json!({ "failure_policy": "fail_closed" }));
    }
    let response = request.send().await.expect("activation");
    let status = response.status();
    let body: Value = response.json().await.expect("activation body");
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let expected = if on { "active" } else { "inactive" };
    assert_eq!(body["status"], expected, "{body}");
}

fn micros(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1e6)
}

fn millis(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    let phase = common::phase();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let backend = if std::env::var("STAYBASE_BENCH_DATABASE_URL").is_ok() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "staybase plugins: {cores} cores, {backend}, {LISTINGS} listings, {CLIENTS} HTTP clients, \
         {phase:?} a phase"
    );

    // 1. The plugin call alone.
    let mut alone = Vec::new();
    for (name, _) in EXAMPLES {
        alone.push(call_alone(name, phase).await);
    }
    println!();
    println!("plugin call alone: Runtime::price, prepared component, sample quote, one at a time");
    println!(
        "{:<21} {:<10} {:>9} {:>9} {:>9} {:>9} {:>12} {:>9} {:>7}  target",
        "example",
        "language",
        "p50 us",
        "p99 us",
        "mean us",
        "calls/s",
        "sandbox p50",
        "fuel",
        "failed"
    );
    for ((name, language), alone) in EXAMPLES.iter().zip(&alone) {
        let calls = &alone.calls;
        let target = if *language == "Rust" {
            if calls.p50 <= TARGET_P50 {
                "p50 <= 50 us: met"
            } else {
                "p50 <= 50 us: MISSED"
            }
        } else {
            "-"
        };
        println!(
            "{name:<21} {language:<10} {:>9} {:>9} {:>9} {:>9.0} {:>12} {:>9} {:>7}  {target}",
            micros(calls.p50),
            micros(calls.p99),
            micros(calls.mean),
            calls.per_second(),
            micros(alone.sandbox_p50),
            alone.fuel,
            calls.failed,
        );
    }

    // 2. Quotes through HTTP.
    let app = common::serve(0).await;
    staybase::demo::seed(&app.state.db, "bench", LISTINGS, marketplace::PASSWORD)
        .await
        .expect("seed");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .expect("client");
    let base = format!("{}/v1/t/bench", app.base);
    let properties = Arc::new(marketplace::listed(&client, &app.base).await);
    let token = marketplace::admin(&app, &client, "plugins-admin@example.com").await;
    // Every upload (the JavaScript one compiles for seconds) before any phase.
    let mut ids = Vec::new();
    for (name, _) in EXAMPLES {
        ids.push(upload(&client, &base, &token, name).await);
    }
    let body = Arc::new(stay());
    let request = {
        let (client, base, properties, body) = (
            client.clone(),
            base.clone(),
            properties.clone(),
            body.clone(),
        );
        Arc::new(move |i: usize| {
            let (client, body) = (client.clone(), body.clone());
            let url = format!(
                "{base}/properties/{}/quote",
                properties[i % properties.len()]
            );
            async move {
                match quote(&client, &url, &body).await {
                    Ok(_) => true,
                    // Only a failed plugin call may fail a quote (say, past its deadline).
                    Err(problem) if problem["code"] == "plugin_failed" => {
                        FIRST_FAILURE.call_once(|| eprintln!("a quote failed: {problem}"));
                        false
                    }
                    Err(problem) => panic!("{problem}"),
                }
            }
        })
    };
    let check_url = format!("{base}/properties/{}/quote", properties[0]);
    // Each phase twice: one client at a time (the latency a quote gains on an idle server)
    // and `CLIENTS` at once (the cores saturated: throughput).
    let mut phases: Vec<(String, &str, Measured, Measured)> = Vec::new();
    let mut measure = async |label: String, language: &'static str, plugin: bool| {
        let quoted = quote(&client, &check_url, &body)
            .await
            .unwrap_or_else(|problem| panic!("{label}: {problem}"));
        assert_eq!(has_plugin_line(&quoted), plugin, "{label}: {quoted}");
        drive(WARM_UP, 1, request.clone()).await;
        let alone = drive(phase, 1, request.clone()).await;
        drive(WARM_UP, CLIENTS, request.clone()).await;
        let loaded = drive(phase, CLIENTS, request.clone()).await;
        phases.push((label, language, alone, loaded));
    };
    measure("none".into(), "-", false).await;
    for ((name, language), id) in EXAMPLES.iter().zip(&ids) {
        switch(&client, &base, &token, id, true).await;
        measure((*name).to_owned(), language, true).await;
    }
    switch(&client, &base, &token, &ids[EXAMPLES.len() - 1], false).await;
    measure("none, again".into(), "-", false).await;

    let delta = |value: Duration, base: Duration| {
        format!("{:+.3}", (value.as_secs_f64() - base.as_secs_f64()) * 1e3)
    };
    for (title, clients, alone) in [
        ("one client at a time", 1, true),
        ("8 clients at once", CLIENTS, false),
    ] {
        let pick = |phase: &(String, &str, Measured, Measured)| {
            if alone { phase.2 } else { phase.3 }
        };
        println!();
        println!(
            "quotes through HTTP, {title}: POST /v1/t/bench/properties/{{id}}/quote, 7 nights \
             ({clients} anonymous client(s))"
        );
        println!(
            "{:<21} {:<10} {:>9} {:>9} {:>9} {:>10} {:>10} {:>7}",
            "active plugin",
            "language",
            "quotes/s",
            "p50 ms",
            "p99 ms",
            "+p50 ms",
            "+p99 ms",
            "failed"
        );
        let first = pick(&phases[0]);
        let (base_p50, base_p99) = (first.p50, first.p99);
        for phase in &phases {
            let measured = pick(phase);
            println!(
                "{:<21} {:<10} {:>9.0} {:>9} {:>9} {:>10} {:>10} {:>7}",
                phase.0,
                phase.1,
                measured.per_second(),
                millis(measured.p50),
                millis(measured.p99),
                delta(measured.p50, base_p50),
                delta(measured.p99, base_p99),
                measured.failed,
            );
        }
    }
}
