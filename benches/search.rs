//! Search throughput and latency as the catalogue grows: 1 000, 10 000 and 100 000 listings
//! (seeded with `staybase demo seed`'s generator), a mix of the searches guests make, by a
//! signed-in guest so that every answer comes from the database, not the public read cache.
//! Each size also reports the p50 and p99 of every kind of search (on standard error).
//!
//! Run: `cargo bench --bench search` (SQLite; `STAYBASE_BENCH_DATABASE_URL=postgres://...`
//! for PostgreSQL, which must be an empty database). `STAYBASE_BENCH_SECONDS` per size
//! (default 10).

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use common::percentile;

/// The kinds of search measured; two ask for dates a month ahead, which the availability rules
/// (bookings, blocks, preparation, weekdays, seasons, notice and window) filter.
fn searches() -> Vec<String> {
    let check_in = time::OffsetDateTime::now_utc().date() + time::Duration::days(30);
    let dates = format!(
        "check_in={check_in}&check_out={}",
        check_in + time::Duration::days(3)
    );
    [
        "",
        "city=Paris",
        "city=Lisbon&sort=price_asc",
        "country=IT&guests=4",
        "min_price=8000&max_price=15000&sort=price_asc",
        "amenities=wifi,kitchen",
        "near=41.39,2.17&radius_km=5",
        "sort=price_desc&guests=2",
        &format!("city=Paris&guests=2&{dates}"),
        &format!("sort=price_asc&{dates}"),
    ]
    .map(str::to_owned)
    .to_vec()
}

struct Measured {
    size: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

async fn measure(size: usize, phase: Duration) -> Measured {
    let app = common::serve(0).await;
    let base = &app.base;
    let slug = format!("bench{size}");
    let seeding = Instant::now();
    let seeded = staybase::demo::seed(&app.state.db, &slug, size, "correct horse battery")
        .await
        .expect("seed");
    eprintln!("seeded {size} listings in {:.1?}", seeding.elapsed());

    // A seeded guest, signed in: registration answers 202 without a token.
    let client = reqwest::Client::new();
    let session: serde_json::Value = client
        .post(format!("{base}/v1/t/{slug}/auth/login"))
        .json(&serde_json::json!({
            "email": seeded.guests[0], "password": "correct horse battery"
        }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("token response");
    let token = session["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let searches = Arc::new(searches());
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let (client, stop, token) = (client.clone(), stop.clone(), token.clone());
        let searches = searches.clone();
        let base = format!("{base}/v1/t/{slug}/properties?");
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = worker;
            while !stop.load(Ordering::Relaxed) {
                let kind = n % searches.len();
                let url = format!("{base}{}", searches[kind]);
                n += 1;
                let started = Instant::now();
                let response = client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("search");
                assert!(
                    response.status().is_success(),
                    "{url}: {}",
                    response.status()
                );
                response.bytes().await.expect("body");
                latencies.push((kind, started.elapsed()));
            }
            latencies
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(phase).await;
    stop.store(true, Ordering::Relaxed);
    let mut by_kind: Vec<(usize, Duration)> = Vec::new();
    for worker in workers {
        by_kind.extend(worker.await.expect("worker"));
    }
    let elapsed = started.elapsed();
    // Which searches make the tail: the p99 of each kind.
    for (kind, search) in searches.iter().enumerate() {
        let mut own: Vec<Duration> = by_kind
            .iter()
            .filter(|(of, _)| *of == kind)
            .map(|(_, latency)| *latency)
            .collect();
        own.sort();
        eprintln!(
            "  {size:>7} {:<48} p50={:>8.2?} p99={:>8.2?}",
            if search.is_empty() {
                "(newest)"
            } else {
                search
            },
            percentile(&own, 0.50),
            percentile(&own, 0.99)
        );
    }
    let mut latencies: Vec<Duration> = by_kind.into_iter().map(|(_, latency)| latency).collect();
    latencies.sort();
    Measured {
        size,
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    }
}

#[tokio::main]
async fn main() {
    let phase = common::phase();
    let mut results = Vec::new();
    for size in [1_000, 10_000, 100_000] {
        let measured = measure(size, phase).await;
        println!(
            "{:>7} listings: {:>8.1} searches/s  p50={:>8.2?}  p99={:>8.2?}",
            measured.size, measured.per_second, measured.p50, measured.p99
        );
        results.push(measured);
    }
    let (first, last) = (&results[0], &results[results.len() - 1]);
    println!(
        "data grew {}x; p99 latency grew {:.1}x",
        last.size / first.size,
        last.p99.as_secs_f64() / first.p99.as_secs_f64().max(1e-9)
    );
}
