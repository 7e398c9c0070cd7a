//! What the server process holds after sign-ins: argon2id needs 19 MiB a run, and the server
//! must not keep one such block per thread that ever hashed.
//!
//! Starts the release `staybase serve` as its own process (so its resident set is the server's
//! alone), registers one guest, then signs in 100 times one at a time and 100 times from 8
//! clients at once, printing the resident set (VmRSS) and its peak (VmHWM) after each phase.
//! Fails when the resident set after sign-ins reaches `LIMIT_MIB`, the bound the Helm chart's
//! memory request is set from.
//!
//! Run: `cargo bench --bench memory` (STAYBASE_BENCH_DATABASE_URL for an empty PostgreSQL
//! database instead of SQLite).

use std::process::Stdio;

use serde_json::json;
use tokio::process::Command;

const PASSWORD: &str = "correct horse battery";
const LIMIT_MIB: f64 = 64.0;

/// `VmRSS` and `VmHWM` of process `pid`, in MiB.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|value| {
                value
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .expect("status field")
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn sign_ins(client: &reqwest::Client, base: &str, clients: usize, total: usize) {
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, base) = (client.clone(), base.to_owned());
            tokio::spawn(async move {
                for _ in 0..total / clients {
                    let response = client
                        .post(format!("{base}/auth/login"))
                        .json(&json!({ "email": "bench@example.com", "password": PASSWORD }))
                        .send()
                        .await
                        .expect("login");
                    assert!(response.status().is_success(), "{}", response.status());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("signer");
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = std::env::var("STAYBASE_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let staybase = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_staybase"));
        command
            .env("STAYBASE_DATABASE_URL", &database_url)
            .env("STAYBASE_DATA_DIR", dir.path())
            .env("STAYBASE_BIND", format!("127.0.0.1:{port}"))
            .env("STAYBASE_METRICS_BIND", "127.0.0.1:0")
            .env("STAYBASE_RATE_LIMITS", "off")
            .env("STAYBASE_LOG", "error")
            .stdout(Stdio::null());
        command
    };
    let created = staybase()
        .args([
            "tenant",
            "create",
            "--slug",
            "bench",
            "--name",
            "Bench Stays",
        ])
        .status()
        .await
        .expect("tenant create");
    assert!(created.success());
    let mut server = staybase()
        .arg("serve")
        .kill_on_drop(true)
        .spawn()
        .expect("serve");
    let pid = server.id().expect("pid");

    let base = format!("http://127.0.0.1:{port}/v1/t/bench");
    let client = reqwest::Client::new();
    while client.get(&base).send().await.is_err() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let registered = client
        .post(format!("{base}/auth/register"))
        .json(&json!({ "email": "bench@example.com", "password": PASSWORD, "first_name": "B", "last_name": "B" }))
        .send()
        .await
        .expect("register");
    assert!(registered.status().is_success());

    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!("staybase memory benchmark: {cores} cores, server pid {pid}");
    let report = |phase: &str| {
        let (resident, peak) = memory_mib(pid);
        println!("{phase:<36} rss={resident:>6.1} MiB  peak={peak:>6.1} MiB");
        resident
    };
    report("after start and one registration");
    sign_ins(&client, &base, 1, 100).await;
    let sequential = report("after 100 sign-ins, one at a time");
    sign_ins(&client, &base, 8, 100).await;
    let concurrent = report("after 100 more, 8 clients at once");
    server.kill().await.expect("stop server");

    let worst = sequential.max(concurrent);
    assert!(
        worst < LIMIT_MIB,
        "the server holds {worst:.1} MiB after sign-ins (limit {LIMIT_MIB} MiB)"
    );
}
