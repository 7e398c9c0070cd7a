//! Booking creations per second and their latency: 8 guests book non-conflicting three-night
//! stays across 1 000 listings as fast as they can, each request with its own idempotency key,
//! while the app's job workers send the notifications the bookings cause.
//!
//! Run: `cargo bench --bench bookings` (SQLite; `STAYBASE_BENCH_DATABASE_URL=postgres://...`
//! for PostgreSQL, which must be an empty database). `STAYBASE_BENCH_SECONDS` (default 10).

mod common;
#[path = "common/guests.rs"]
mod guests;
#[path = "common/marketplace.rs"]
mod marketplace;

use std::time::Instant;

const LISTINGS: usize = 1_000;
const GUESTS: usize = 8;

#[tokio::main]
async fn main() {
    let guests::Market {
        app,
        client,
        properties,
        tokens,
    } = guests::market((LISTINGS, GUESTS), "at_property").await;
    let url = format!("{}/v1/t/bench/bookings", app.base);
    let listings = properties.len();
    let (latencies, elapsed) = guests::per_guest(tokens, move |i, token| {
        let (client, url, properties) = (client.clone(), url.clone(), properties.clone());
        async move {
            let started = Instant::now();
            let response = client
                .post(&url)
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("bench-{i}"))
                .json(&marketplace::stay(&properties, i))
                .send()
                .await
                .expect("book");
            let status = response.status();
            let body = response.text().await.expect("body");
            assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
            started.elapsed()
        }
    })
    .await;
    println!(
        "{} bookings by {GUESTS} guests over {listings} listings in {elapsed:.1?}: {:.1} \
         bookings/s  p50={:.2?}  p99={:.2?}  max={:.2?}",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        common::percentile(&latencies, 0.50),
        common::percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
}
