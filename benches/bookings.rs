//! Booking creations per second and their latency: 8 guests book non-conflicting three-night
//! stays across 1 000 listings as fast as they can, each request with its own idempotency key,
//! while the app's job workers send the notifications the bookings cause.
//!
//! Run: `cargo bench --bench bookings` (SQLite; `STAYBASE_BENCH_DATABASE_URL=postgres://...`
//! for PostgreSQL, which must be an empty database). `STAYBASE_BENCH_SECONDS` (default 10).

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use time::OffsetDateTime;

const LISTINGS: usize = 1_000;
const GUESTS: usize = 8;
const PASSWORD: &str = "correct horse battery";

/// The ids of the marketplace's listed properties, page by page.
async fn listed(client: &reqwest::Client, base: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/t/bench/properties?limit=100");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = client
            .get(&url)
            .send()
            .await
            .expect("search")
            .json()
            .await
            .expect("page");
        ids.extend(
            page["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|property| property["id"].as_str().expect("id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

async fn guest(client: &reqwest::Client, base: &str, n: usize) -> String {
    let session: Value = client
        .post(format!("{base}/v1/t/bench/auth/register"))
        .json(&json!({
            "email": format!("guest{n}@example.com"), "password": PASSWORD,
            "first_name": "Bench", "last_name": "Guest"
        }))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("token response");
    session["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

#[tokio::main]
async fn main() {
    let app = common::serve(2).await;
    staybase::demo::seed(&app.state.db, "bench", LISTINGS, PASSWORD)
        .await
        .expect("seed");
    let client = reqwest::Client::new();
    let properties = Arc::new(listed(&client, &app.base).await);
    let mut tokens = Vec::new();
    for n in 0..GUESTS {
        tokens.push(guest(&client, &app.base, n).await);
    }
    let today = OffsetDateTime::now_utc().date();
    // Request i books property i mod N in week i div N: no two requests overlap.
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for token in tokens {
        let (client, next, stop, properties) = (
            client.clone(),
            next.clone(),
            stop.clone(),
            properties.clone(),
        );
        let url = format!("{}/v1/t/bench/bookings", app.base);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let property = &properties[i % properties.len()];
                let week = (i / properties.len()) as i64;
                let check_in = today + time::Duration::days(30 + 7 * week);
                let started = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("bench-{i}"))
                    .json(&json!({
                        "property_id": property,
                        "check_in": check_in.to_string(),
                        "check_out": (check_in + time::Duration::days(3)).to_string(),
                        "guests": 1
                    }))
                    .send()
                    .await
                    .expect("book");
                let status = response.status();
                let body = response.text().await.expect("body");
                assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let phase = common::phase();
    let started = Instant::now();
    tokio::time::sleep(phase).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<Duration> = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("worker"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!(
        "{} bookings by {GUESTS} guests over {} listings in {elapsed:.1?}: {:.1} bookings/s  \
         p50={:.2?}  p99={:.2?}  max={:.2?}",
        latencies.len(),
        properties.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        common::percentile(&latencies, 0.50),
        common::percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
}
