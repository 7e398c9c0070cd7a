//! Sign-in throughput, and how a cheap read fares while sign-ins saturate the CPU.
//!
//! argon2id at OWASP parameters is deliberately expensive; it runs on the blocking pool, so
//! the async runtime keeps serving other requests. This benchmark shows it: it measures the
//! latency of `GET /v1/t/{tenant}` alone, then again while sign-ins run flat out.
//!
//! Run: `cargo bench --bench auth` (STAYBASE_BENCH_SECONDS, default 10, per phase).

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;
use staybase::{
    AppState, Config,
    app::{self, Role},
    config::{Secret, Switch},
    tenants::service as tenants,
};

const PASSWORD: &str = "correct horse battery";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

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
    let seconds: u64 = std::env::var("STAYBASE_BENCH_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10);
    let phase = Duration::from_secs(seconds);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: Some(Secret::new(format!(
            "sqlite://{}",
            dir.path().join("bench.db").display()
        ))),
        data_dir: dir.path().to_owned(),
        workers: 0,
        rate_limits: Switch::Off,
        log: "warn".into(),
        ..Config::default()
    };
    let acceptor = app::bind(&config).await.expect("bind");
    let addr = poem::listener::Acceptor::local_addr(&acceptor)[0]
        .as_socket_addr()
        .copied()
        .expect("address");
    let state = AppState::start(config).await.expect("start");
    tenants::create(
        &state.db,
        tenants::NewTenant {
            slug: "bench",
            name: "Bench Stays",
        },
    )
    .await
    .expect("tenant");
    tokio::spawn(app::serve(
        acceptor,
        state,
        Role::Api,
        std::future::pending(),
    ));

    let base = format!("http://{addr}/v1/t/bench");
    let client = reqwest::Client::new();
    let registered = client
        .post(format!("{base}/auth/register"))
        .json(&json!({ "email": "bench@example.com", "password": PASSWORD, "first_name": "B", "last_name": "B" }))
        .send()
        .await
        .expect("register");
    assert!(registered.status().is_success());

    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!("staybase sign-in benchmark: {cores} cores, {seconds} s per phase, SQLite");

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
