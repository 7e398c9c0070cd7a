//! The busiest requests side by side with what the database itself can do, in one run on one
//! PostgreSQL cluster: `/healthz`, an anonymous (cached) property detail, a signed-in detail,
//! an anonymous search with and without dates, and booking creation, each driven by 32
//! concurrent connections for a phase; then `pgbench -S` (select-only) and pgbench's TPC-B on a
//! scratch database of the same cluster with the same 32 clients. The ratios are the targets:
//! cached detail >= 50% of `/healthz`, signed-in detail >= 40% of `pgbench -S`, booking
//! creation >= 50% of TPC-B.
//!
//! Every listing's detail is read once before the detail phases, so they measure cache hits
//! (each answer's first read is the database's, 10 000 of them).
//!
//! The read phases are driven by `wrk -t1` when it is installed (a load generator as cheap as
//! pgbench's own client, in a process of its own); without it, and for booking creation, by
//! tasks in this process, whose HTTP client costs more CPU than the server's fast paths and so
//! flattens the ratios.
//!
//! Run: `STAYBASE_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench cargo bench
//! --bench hot_paths` (an empty database; its cluster also gets a scratch `staybase_pgbench`
//! database). Without the variable it runs on SQLite and skips pgbench.
//! `STAYBASE_BENCH_SECONDS` (default 10) per phase.

mod common;
#[path = "common/marketplace.rs"]
mod marketplace;

use std::{
    future::Future,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use time::OffsetDateTime;

const LISTINGS: usize = 10_000;
const CONNECTIONS: usize = 32;

struct Measured {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// Runs `request` from `CONNECTIONS` tasks for a phase; `request(i)` gets a number unique to
/// the run and must succeed.
async fn drive<F, Fut>(request: F) -> Measured
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (request, next, stop) = (request.clone(), next.clone(), stop.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    request(next.fetch_add(1, Ordering::Relaxed)).await;
                    latencies.push(started.elapsed());
                }
                latencies
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(common::phase()).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("load task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Measured {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: common::percentile(&latencies, 0.50),
        p99: common::percentile(&latencies, 0.99),
    }
}

async fn get_ok(client: &reqwest::Client, url: &str, token: Option<&str>) {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.bytes().await.expect("body");
}

/// Whether `wrk` is installed.
fn has_wrk() -> bool {
    std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok()
}

/// A duration as wrk prints it: `812.00us`, `1.23ms`, `2.00s`.
fn wrk_duration(text: &str) -> Option<Duration> {
    let (number, scale) = if let Some(us) = text.strip_suffix("us") {
        (us, 1e-6)
    } else if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1e-3)
    } else if let Some(m) = text.strip_suffix('m') {
        (m, 60.0)
    } else {
        (text.strip_suffix('s')?, 1.0)
    };
    Some(Duration::from_secs_f64(number.parse::<f64>().ok()? * scale))
}

/// `wrk -t1` with `CONNECTIONS` connections for a phase, GETting `paths` of `base` in turn
/// (with `token` as a bearer token); every answer must be a success.
async fn wrk(base: &str, paths: &[String], token: Option<&str>) -> Measured {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("paths.lua");
    let quoted: Vec<String> = paths.iter().map(|path| format!("{path:?}")).collect();
    let mut lua = format!("local paths = {{{}}}\nlocal n = 0\n", quoted.join(","));
    if let Some(token) = token {
        lua.push_str(&format!(
            "wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"
        ));
    }
    lua.push_str(
        "request = function()\n  n = n + 1\n  \
         return wrk.format(\"GET\", paths[(n % #paths) + 1])\nend\n",
    );
    std::fs::write(&script, lua).expect("wrk script");
    let output = tokio::process::Command::new("wrk")
        .args(["-t1", "--latency", "-c"])
        .arg(CONNECTIONS.to_string())
        .arg("-d")
        .arg(format!("{}s", common::phase().as_secs()))
        .arg("-s")
        .arg(&script)
        .arg(base)
        .output()
        .await
        .expect("wrk");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed: {text}");
    assert!(
        !text.contains("Non-2xx"),
        "wrk got answers that are not successes: {text}"
    );
    let field = |label: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {label} in wrk's output: {text}"))
    };
    Measured {
        per_second: field("Requests/sec:").parse().expect("requests per second"),
        p50: wrk_duration(field("50%")).expect("p50"),
        p99: wrk_duration(field("99%")).expect("p99"),
    }
}

/// Measures GETs of `paths` (taken in turn): with wrk when there is one, else from this process.
async fn reads(
    client: &reqwest::Client,
    base: &str,
    paths: Vec<String>,
    token: Option<Arc<str>>,
) -> Measured {
    if has_wrk() {
        return wrk(base, &paths, token.as_deref()).await;
    }
    let (client, base, paths) = (client.clone(), base.to_owned(), Arc::new(paths));
    drive(move |i| {
        let (client, url, token) = (
            client.clone(),
            format!("{base}{}", paths[i % paths.len()]),
            token.clone(),
        );
        async move { get_ok(&client, &url, token.as_deref()).await }
    })
    .await
}

/// GETs each of `paths` once, from `CONNECTIONS` tasks: the answers are cached (and rendered)
/// before a phase that measures cache hits.
async fn warm(client: &reqwest::Client, base: &str, paths: &[String]) {
    let chunk = paths.len().div_ceil(CONNECTIONS).max(1);
    let tasks: Vec<_> = paths
        .chunks(chunk)
        .map(|paths| {
            let (client, urls) = (
                client.clone(),
                paths
                    .iter()
                    .map(|path| format!("{base}{path}"))
                    .collect::<Vec<_>>(),
            );
            tokio::spawn(async move {
                for url in urls {
                    get_ok(&client, &url, None).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("warm-up task");
    }
}

/// Runs pgbench; returns what it printed, or why it failed.
fn run_pgbench(url: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new("pgbench")
        .args(args)
        .arg(url)
        .output()
        .map_err(|err| format!("pgbench: {err}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The transactions per second pgbench reports, or why there are none.
fn pgbench(url: &str, args: &[&str]) -> Result<f64, String> {
    let text = run_pgbench(url, args)?;
    text.lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .ok_or_else(|| format!("no tps in pgbench's output: {text}"))
}

/// pgbench's select-only and TPC-B rates on a scratch database of the cluster of `url`.
fn pgbench_rates(url: &str) -> Result<(f64, f64), String> {
    let (server, _) = url.rsplit_once('/').ok_or("a database URL")?;
    let admin = format!("{server}/postgres");
    let scratch = format!("{server}/staybase_pgbench");
    let psql = |sql: &str| {
        Command::new("psql")
            .args([admin.as_str(), "-q", "-c", sql])
            .status()
            .map_err(|err| format!("psql: {err}"))
    };
    psql("DROP DATABASE IF EXISTS staybase_pgbench")?;
    psql("CREATE DATABASE staybase_pgbench")?;
    run_pgbench(&scratch, &["-i", "-q", "-s", "10"])?;
    let seconds = common::phase().as_secs().to_string();
    let clients = CONNECTIONS.to_string();
    let common_args = ["-c", clients.as_str(), "-j", "2", "-T", seconds.as_str()];
    let select = pgbench(&scratch, &[&common_args[..], &["-S"]].concat())?;
    let tpcb = pgbench(&scratch, &common_args)?;
    psql("DROP DATABASE staybase_pgbench")?;
    Ok((select, tpcb))
}

#[tokio::main]
async fn main() {
    let app = common::serve(2).await;
    let database_url = std::env::var("STAYBASE_BENCH_DATABASE_URL").ok();
    let seeded = staybase::demo::seed(&app.state.db, "bench", LISTINGS, marketplace::PASSWORD)
        .await
        .expect("seed");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .expect("client");
    let base = format!("{}/v1/t/bench", app.base);
    // Bookings are confirmed at once, so no guest reaches the cap of unpaid bookings.
    marketplace::collect_payment(&app, &client, "at_property").await;
    let properties = Arc::new(marketplace::listed(&client, &app.base).await);
    let token: Arc<str> = marketplace::sign_in(&client, &app.base, &seeded.guests[0])
        .await
        .into();

    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!(
        "staybase hot paths: {cores} cores, {LISTINGS} listings, {CONNECTIONS} connections, \
         {:?} a phase, reads driven by {}, {}",
        common::phase(),
        if has_wrk() { "wrk -t1" } else { "this process" },
        if database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let mut results: Vec<(&str, Measured)> = Vec::new();

    let detail_paths: Vec<String> = properties
        .iter()
        .map(|id| format!("/v1/t/bench/properties/{id}"))
        .collect();
    results.push((
        "GET /healthz",
        reads(&client, &app.base, vec!["/healthz".to_owned()], None).await,
    ));
    warm(&client, &app.base, &detail_paths).await;
    results.push((
        "anonymous detail (cached)",
        reads(&client, &app.base, detail_paths.clone(), None).await,
    ));
    results.push((
        "signed-in detail",
        reads(&client, &app.base, detail_paths, Some(token.clone())).await,
    ));
    let searches = (1..=4)
        .map(|guests| format!("/v1/t/bench/properties?guests={guests}"))
        .collect();
    results.push((
        "search (cached)",
        reads(&client, &app.base, searches, None).await,
    ));
    let today = OffsetDateTime::now_utc().date();
    let dated = (0..200)
        .map(|day| {
            let check_in = today + time::Duration::days(20 + day);
            format!(
                "/v1/t/bench/properties?check_in={check_in}&check_out={}",
                check_in + time::Duration::days(3)
            )
        })
        .collect();
    results.push((
        "search for dates",
        reads(&client, &app.base, dated, None).await,
    ));
    // Booking i takes property i mod N in week i div N, so no two overlap; the seeded guests
    // take turns.
    let mut guests = Vec::new();
    for email in &seeded.guests {
        guests.push(marketplace::sign_in(&client, &app.base, email).await);
    }
    let guests = Arc::new(guests);
    let (c, b, p) = (client.clone(), base.clone(), properties.clone());
    results.push((
        "booking create",
        drive(move |i| {
            let (c, url, guests, listings) = (
                c.clone(),
                format!("{b}/bookings"),
                guests.clone(),
                p.clone(),
            );
            async move {
                let response = c
                    .post(&url)
                    .bearer_auth(&guests[i % guests.len()])
                    .header("Idempotency-Key", format!("hot-{i}"))
                    .json(&marketplace::stay(&listings, i))
                    .send()
                    .await
                    .expect("book");
                let status = response.status();
                let body = response.text().await.expect("body");
                assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
            }
        })
        .await,
    ));

    println!("{:<28} {:>10} {:>10} {:>10}", "", "per s", "p50", "p99");
    for (name, measured) in &results {
        println!(
            "{name:<28} {:>10.0} {:>10.2?} {:>10.2?}",
            measured.per_second, measured.p50, measured.p99
        );
    }
    let rate = |name: &str| {
        results
            .iter()
            .find(|(measured, _)| *measured == name)
            .map_or(0.0, |(_, measured)| measured.per_second)
    };
    println!(
        "cached detail / healthz: {:.0}% (target >= 50%)",
        100.0 * rate("anonymous detail (cached)") / rate("GET /healthz")
    );
    match database_url.as_deref().map(pgbench_rates) {
        Some(Ok((select, tpcb))) => {
            println!("pgbench -S: {select:.0} tps; TPC-B: {tpcb:.0} tps");
            println!(
                "signed-in detail / pgbench -S: {:.0}% (target >= 40%)",
                100.0 * rate("signed-in detail") / select
            );
            println!(
                "booking create / TPC-B: {:.0}% (target >= 50%)",
                100.0 * rate("booking create") / tpcb
            );
        }
        Some(Err(why)) => println!("pgbench could not run: {why}"),
        None => println!("SQLite: no pgbench comparison"),
    }
}
