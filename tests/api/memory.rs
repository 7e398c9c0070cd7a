//! What the server process holds in memory after work that used to make it grow.

use reqwest::StatusCode;
use serde_json::json;
use tokio::process::Command;

use crate::helpers::{PASSWORD, eventually, spawn_app};

/// The anonymous resident memory of process `pid` (its heap and stacks, not the pages of its
/// executable, whose size depends on the build profile) in MiB, from `/proc`.
fn anonymous_resident_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("RssAnon");
    kib / 1024.0
}

/// argon2 needs 19 MiB a run; the server reuses one workspace per hashing worker instead of
/// leaving the allocator holding one per blocking thread (157 MiB after 100 sign-ins before).
/// The whole resident set of a release build is measured by `cargo bench --bench memory`.
#[tokio::test]
async fn a_hundred_sign_ins_leave_the_server_under_64_mib() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let data_dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_staybase"))
        .arg("serve")
        .env("STAYBASE_DATABASE_URL", &app.database_url)
        .env("STAYBASE_DATA_DIR", data_dir.path())
        .env("STAYBASE_BIND", format!("127.0.0.1:{port}"))
        .env("STAYBASE_METRICS_BIND", "127.0.0.1:0")
        .env("STAYBASE_RATE_LIMITS", "off")
        .env("STAYBASE_HASHING_WORKERS", "2")
        .env("STAYBASE_LOG", "error")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}/v1/t/acme");
    let client = reqwest::Client::new();
    eventually(|| async { client.get(&base).send().await.is_ok() }).await;

    let registered = client
        .post(format!("{base}/auth/register"))
        .json(&json!({ "email": "ana@example.com", "password": PASSWORD, "first_name": "Ana", "last_name": "Lima" }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::ACCEPTED);

    // Eight clients at once, as a burst of sign-ins would come.
    let signers: Vec<_> = (0..8)
        .map(|_| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                for _ in 0..100 / 8 + 1 {
                    let response = client
                        .post(format!("{base}/auth/login"))
                        .json(&json!({ "email": "ana@example.com", "password": PASSWORD }))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                }
            })
        })
        .collect();
    for signer in signers {
        signer.await.unwrap();
    }

    let allocated = anonymous_resident_mib(server.id().unwrap());
    assert!(
        allocated < 64.0,
        "the server holds {allocated:.1} MiB after 104 sign-ins"
    );
    server.kill().await.unwrap();
}
