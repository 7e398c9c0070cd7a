//! Booking creations per second and their latency: 8 guests book non-conflicting three-night
//! stays across 1 000 listings as fast as they can, each request with its own idempotency key,
//! while the app's job workers send the notifications the bookings cause.
//!
//! Run: `cargo bench --bench bookings` (SQLite; `STAYBASE_BENCH_DATABASE_URL=postgres://...`
//! for PostgreSQL, which must be an empty database). `STAYBASE_BENCH_SECONDS` (default 10).

mod common;
#[path = "common/marketplace.rs"]
mod marketplace;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;
use time::OffsetDateTime;

const LISTINGS: usize = 1_000;
const GUESTS: usize = 8;

#[tokio::main]
async fn main() {
    let app = common::serve(2).await;
    staybase::demo::seed(&app.state.db, "bench", LISTINGS, marketplace::PASSWORD)
        .await
        .expect("seed");
    let client = reqwest::Client::new();
    let properties = Arc::new(marketplace::listed(&client, &app.base).await);
    marketplace::pay_at_property(&app, &client).await;
    let mut tokens = Vec::new();
    for n in 0..GUESTS {
        tokens
            .push(marketplace::sign_up(&client, &app.base, &format!("guest{n}@example.com")).await);
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
