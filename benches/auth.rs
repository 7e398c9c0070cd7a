//! Sign-in throughput, and how a cheap read fares while sign-ins saturate the CPU.
//!
//! argon2id at OWASP parameters is deliberately expensive; it runs on the blocking pool, so
//! the async runtime keeps serving other requests. This benchmark shows it: it measures the
//! latency of `GET /v1/t/{tenant}` alone, then again while sign-ins run flat out.
//!
//! Run: `cargo bench --bench auth` (STAYBASE_BENCH_SECONDS, default 10, per phase;
//! STAYBASE_BENCH_DATABASE_URL for an empty PostgreSQL database instead of SQLite).

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use common::percentile;
use serde_json::json;
use staybase::tenants::service as tenants;

const PASSWORD: &str = "correct horse battery";

/// Reads the tenant profile in a loop until `stop`; returns the sorted latencies.
async fn read_loop(client: reqwest::Client, url: String, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let mut latencies = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let response = client.get(&url).send().await.expect("read");
        assert!(response.status().is_success());
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    latencies.sort();
    latencies
}

fn report(name: &str, latencies: &[Duration]) {
    println!(
        "{name:<28} n={:<6} p50={:>8.2?} p99={:>8.2?} max={:>8.2?}",
        latencies.len(),
        percentile(latencies, 0.50),
        percentile(latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
}

#[tokio::main]
async fn main() {
    let phase = common::phase();
    // SQLite unless STAYBASE_BENCH_DATABASE_URL says otherwise.
    let app = common::serve(0).await;
    tenants::create(
        &app.state.db,
        tenants::NewTenant {
            slug: "bench",
            name: "Bench Stays",
            test_mode: false,
        },
    )
    .await
    .expect("tenant");

    let base = format!("{}/v1/t/bench", app.base);
    let client = reqwest::Client::new();
    let registered = client
        .post(format!("{base}/auth/register"))
        .json(&json!({ "email": "bench@example.com", "password": PASSWORD, "first_name": "B", "last_name": "B" }))
        .send()
        .await
        .expect("register");
    assert!(registered.status().is_success());

    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!("staybase sign-in benchmark: {cores} cores, {phase:?} per phase");

    let stop = Arc::new(AtomicBool::new(false));
    let idle = tokio::spawn(read_loop(client.clone(), base.clone(), stop.clone()));
    tokio::time::sleep(phase).await;
    stop.store(true, Ordering::Relaxed);
    let idle = idle.await.expect("reader");

    let stop = Arc::new(AtomicBool::new(false));
    let logins = Arc::new(AtomicU64::new(0));
    let mut signers = Vec::new();
    // Enough concurrent sign-ins to keep every core hashing.
    for _ in 0..cores * 4 {
        let (client, url, stop, logins) = (
            client.clone(),
            format!("{base}/auth/login"),
            stop.clone(),
            logins.clone(),
        );
        signers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let response = client
                    .post(&url)
                    .json(&json!({ "email": "bench@example.com", "password": PASSWORD }))
                    .send()
                    .await
                    .expect("login");
                assert!(response.status().is_success(), "{}", response.status());
                logins.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    let loaded = tokio::spawn(read_loop(client.clone(), base.clone(), stop.clone()));
    tokio::time::sleep(phase).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let loaded = loaded.await.expect("reader");
    for signer in signers {
        signer.await.expect("signer");
    }

    let total = logins.load(Ordering::Relaxed);
    println!(
        "logins: {total} in {elapsed:.1?} = {:.1} logins/s",
        total as f64 / elapsed.as_secs_f64()
    );
    report("read, idle server", &idle);
    report("read, sign-ins saturating", &loaded);
    let ratio =
        percentile(&loaded, 0.99).as_secs_f64() / percentile(&idle, 0.99).as_secs_f64().max(1e-9);
    println!("read p99 under sign-in load / idle: {ratio:.1}x");
}
