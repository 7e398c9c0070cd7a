//! Payment creations per second and their latency, with the simulated provider: 8 guests each
//! book a stay (not measured) and pay for it (measured), each request with its own idempotency
//! key, while the app's job workers deliver and process the webhooks the payments cause.
//!
//! Run: `cargo bench --bench payments` (SQLite; `STAYBASE_BENCH_DATABASE_URL=postgres://...`
//! for PostgreSQL, which must be an empty database). `STAYBASE_BENCH_SECONDS` (default 10).

mod common;
#[path = "common/guests.rs"]
mod guests;
#[path = "common/marketplace.rs"]
mod marketplace;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

const LISTINGS: usize = 1_000;
const GUESTS: usize = 8;

#[tokio::main]
async fn main() {
    let guests::Market {
        app,
        client,
        properties,
        tokens,
    } = guests::market((LISTINGS, GUESTS), "online").await;
    let base = format!("{}/v1/t/bench", app.base);
    let (latencies, elapsed) = guests::per_guest(tokens, move |i, token| {
        let (client, base, properties) = (client.clone(), base.clone(), properties.clone());
        async move {
            let booking: Value = client
                .post(format!("{base}/bookings"))
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("bench-booking-{i}"))
                .json(&marketplace::stay(&properties, i))
                .send()
                .await
                .expect("book")
                .json()
                .await
                .expect("booking");
            let id = booking["id"].as_str().expect("a booking");
            let started = Instant::now();
            let response = client
                .post(format!("{base}/bookings/{id}/payments"))
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("bench-payment-{i}"))
                .json(&json!({ "payment_method": "pm_sim_success" }))
                .send()
                .await
                .expect("pay");
            let status = response.status();
            let body = response.text().await.expect("body");
            assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
            started.elapsed()
        }
    })
    .await;
    // Each guest spends part of its time booking: the rate counts payment time only.
    let paying: Duration = latencies.iter().sum();
    println!(
        "{} payments by {GUESTS} guests in {elapsed:.1?}: {:.1} payments/s (of payment time)  \
         p50={:.2?}  p99={:.2?}  max={:.2?}",
        latencies.len(),
        latencies.len() as f64 * GUESTS as f64 / paying.as_secs_f64().max(f64::EPSILON),
        common::percentile(&latencies, 0.50),
        common::percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
}
