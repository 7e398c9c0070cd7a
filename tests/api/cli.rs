//! The operator CLI against the same database the server uses.

use std::process::Command;

use tokio::process::Command as AsyncCommand;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_problem, spawn_app};

/// Runs the CLI without blocking the test's runtime, which also drives the app under test.
/// Logging stays at its default level: what a command prints must parse despite it.
async fn staybase(database_url: &str, args: &[&str]) -> std::process::Output {
    staybase_with_env(database_url, &[], args).await
}

/// `staybase` with more environment variables.
pub(crate) async fn staybase_with_env(
    database_url: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    AsyncCommand::new(env!("CARGO_BIN_EXE_staybase"))
        .args(args)
        .env("STAYBASE_DATABASE_URL", database_url)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("run staybase")
}

#[tokio::test]
async fn tenant_create_makes_a_tenant_whose_routes_answer() {
    let app = spawn_app().await;
    assert_problem(
        app.get("/v1/t/seaside").await,
        StatusCode::NOT_FOUND,
        "tenant_not_found",
    )
    .await;

    let output = staybase(
        &app.database_url,
        &[
            "tenant",
            "create",
            "--slug",
            "seaside",
            "--name",
            "Seaside Stays",
        ],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let created: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(created["slug"], "seaside");
    assert_eq!(created["status"], "active");

    let response = app.get("/v1/t/seaside").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["display_name"],
        "Seaside Stays"
    );

    let output = staybase(
        &app.database_url,
        &["tenant", "suspend", "--slug", "seaside"],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The server learns of the CLI's change by notification (PostgreSQL) or once its copy of
    // the tenant expires.
    let suspended_at = std::time::Instant::now();
    crate::helpers::eventually(|| async {
        app.get("/v1/t/seaside").await.status() == StatusCode::FORBIDDEN
    })
    .await;
    assert!(suspended_at.elapsed() < std::time::Duration::from_secs(1));
    assert_problem(
        app.get("/v1/t/seaside").await,
        StatusCode::FORBIDDEN,
        "tenant_suspended",
    )
    .await;
}

#[tokio::test]
async fn tenant_create_reports_bad_input_and_duplicates() {
    let app = spawn_app().await;
    let output = staybase(
        &app.database_url,
        &["tenant", "create", "--slug", "No", "--name", "x"],
    )
    .await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--slug"));

    app.create_tenant("taken").await;
    let output = staybase(
        &app.database_url,
        &["tenant", "create", "--slug", "taken", "--name", "x"],
    )
    .await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("already in use"));
}

#[test]
fn a_bad_setting_is_named_at_start_up() {
    let output = Command::new(env!("CARGO_BIN_EXE_staybase"))
        .arg("migrate")
        .env("STAYBASE_BIND", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("STAYBASE_BIND"));
}

#[test]
fn openapi_command_prints_the_spec() {
    let output = Command::new(env!("CARGO_BIN_EXE_staybase"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        staybase::router::spec_json()
    );
}

#[tokio::test]
async fn healthcheck_succeeds_only_against_a_running_server() {
    let app = spawn_app().await;
    let check = |bind: String| {
        Command::new(env!("CARGO_BIN_EXE_staybase"))
            .arg("healthcheck")
            .env("STAYBASE_BIND", bind)
            .output()
            .unwrap()
    };
    let up = tokio::task::spawn_blocking({
        let bind = app.addr.to_string();
        move || check(bind)
    })
    .await
    .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );

    let down = check("127.0.0.1:1".to_owned());
    assert!(!down.status.success());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `staybase <command>` on a free port (and its metrics on another); returns the child,
/// its base URL once `/healthz` answers, and its metrics base URL.
async fn start_process(
    command: &str,
    database_url: &str,
    data_dir: &std::path::Path,
) -> (tokio::process::Child, String, String) {
    let (port, metrics_port) = (free_port(), free_port());
    let child = AsyncCommand::new(env!("CARGO_BIN_EXE_staybase"))
        .arg(command)
        .env("STAYBASE_DATABASE_URL", database_url)
        .env("STAYBASE_DATA_DIR", data_dir)
        .env("STAYBASE_BIND", format!("127.0.0.1:{port}"))
        .env("STAYBASE_METRICS_BIND", format!("127.0.0.1:{metrics_port}"))
        .env("STAYBASE_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    crate::helpers::eventually(|| async {
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|response| response.status() == StatusCode::OK)
    })
    .await;
    (child, base, format!("http://127.0.0.1:{metrics_port}"))
}

async fn terminate(mut child: tokio::process::Child) -> std::process::ExitStatus {
    let pid = child.id().unwrap().to_string();
    let killed = AsyncCommand::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    tokio::time::timeout(std::time::Duration::from_secs(20), child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap()
}

#[tokio::test]
async fn serve_stops_cleanly_on_sigterm() {
    let app = spawn_app().await;
    let data_dir = tempfile::tempdir().unwrap();
    let (child, base, metrics) = start_process("serve", &app.database_url, data_dir.path()).await;
    app.create_tenant("acme").await;
    let response = reqwest::get(format!("{base}/v1/t/acme")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = reqwest::get(format!("{metrics}/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(terminate(child).await.success());
}

#[tokio::test]
async fn worker_serves_probes_and_metrics_only_and_stops_on_sigterm() {
    let app = spawn_app().await;
    let data_dir = tempfile::tempdir().unwrap();
    let (child, base, metrics) = start_process("worker", &app.database_url, data_dir.path()).await;
    let get = |path: &str| reqwest::get(format!("{base}{path}"));
    assert_eq!(get("/readyz").await.unwrap().status(), StatusCode::OK);
    let response = reqwest::get(format!("{metrics}/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        get("/metrics").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    app.create_tenant("acme").await;
    assert_problem(
        get("/v1/t/acme").await.unwrap(),
        StatusCode::NOT_FOUND,
        "route_not_found",
    )
    .await;
    assert!(terminate(child).await.success());
}

#[tokio::test]
async fn demo_seed_makes_a_browsable_marketplace() {
    let app = spawn_app().await;
    let output = AsyncCommand::new(env!("CARGO_BIN_EXE_staybase"))
        .args(["demo", "seed", "--tenant", "demo", "--properties", "45"])
        .env("STAYBASE_DATABASE_URL", &app.database_url)
        .env("STAYBASE_PASSWORD", crate::helpers::PASSWORD)
        .env("STAYBASE_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("3 hosts, 10 guests, 45 properties"));
    // It says which accounts it made, and with which password.
    let printed_hosts: Vec<&str> = printed
        .lines()
        .filter_map(|line| line.strip_prefix("host "))
        .collect();
    let printed_guests = printed
        .lines()
        .filter(|line| line.starts_with("guest "))
        .count();
    assert_eq!((printed_hosts.len(), printed_guests), (3, 10), "{printed}");
    assert!(
        printed.contains("password of every demo account: the value of STAYBASE_PASSWORD"),
        "{printed}"
    );
    assert_eq!(
        app.login("demo", printed_hosts[0], crate::helpers::PASSWORD)
            .await
            .status(),
        StatusCode::OK,
        "a printed account signs in"
    );

    let page: Value = app
        .get("/v1/t/demo/properties?limit=100")
        .await
        .json()
        .await
        .unwrap();
    let listed = page["data"].as_array().unwrap().len();
    assert!(
        (35..=45).contains(&listed),
        "most demo listings are listed: {listed}"
    );
    let paris: Value = app
        .get("/v1/t/demo/properties?country=FR&sort=price_asc")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        paris["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["location"]["country"] == "FR")
    );
    let host: String = staybase::on_db!(&app.state.db, |pool| {
        sqlx::query_scalar("SELECT email FROM users WHERE roles LIKE '%host%' ORDER BY id LIMIT 1")
            .fetch_one(pool)
            .await
    })
    .unwrap();
    assert_eq!(
        app.login("demo", &host, crate::helpers::PASSWORD)
            .await
            .status(),
        StatusCode::OK,
        "seeded accounts sign in"
    );
}

/// Logs go to standard error, as plain text when that is not a terminal (a file, a pipe, a
/// collector), and in either format leave standard output to what the command prints.
#[tokio::test]
async fn logs_are_plain_text_on_standard_error_when_it_is_not_a_terminal() {
    let app = spawn_app().await;
    for format in ["text", "json"] {
        let output = AsyncCommand::new(env!("CARGO_BIN_EXE_staybase"))
            .args([
                "tenant",
                "create",
                "--slug",
                &format!("logs-{format}"),
                "--name",
                "Logs",
            ])
            .env("STAYBASE_DATABASE_URL", &app.database_url)
            .env("STAYBASE_LOG", "debug")
            .env("STAYBASE_LOG_FORMAT", format)
            .output()
            .await
            .expect("run staybase");
        assert!(output.status.success());
        let logs = String::from_utf8_lossy(&output.stderr);
        assert!(!logs.is_empty(), "{format}: no logs at debug level");
        assert!(!logs.contains('\u{1b}'), "{format}: ANSI codes in {logs}");
        serde_json::from_slice::<Value>(&output.stdout).unwrap_or_else(|err| {
            panic!("{format}: standard output is not the JSON answer: {err}")
        });
    }
}

/// `tenant list` shows every tenant; `tenant create` without an administrator says how to add one.
#[tokio::test]
async fn tenants_are_listed_and_an_admin_less_tenant_gets_a_hint() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let created = staybase(
        &app.database_url,
        &["tenant", "create", "--slug", "seaside", "--name", "Seaside"],
    )
    .await;
    assert!(created.status.success());
    let hint = String::from_utf8_lossy(&created.stderr);
    assert!(
        hint.contains("seaside has no administrator yet")
            && hint.contains("staybase user roles --tenant seaside"),
        "{hint}"
    );
    serde_json::from_slice::<Value>(&created.stdout).expect("standard output stays the JSON");

    let listed = staybase(&app.database_url, &["tenant", "list"]).await;
    assert!(listed.status.success());
    let slugs: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|line| {
            let tenant: Value = serde_json::from_str(line).expect("a JSON line per tenant");
            tenant["slug"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(slugs, ["acme", "seaside"]);
}

/// A tenant's rate-limit plan is the platform's decision: operators set it from the CLI (tenant
/// admins cannot, see the settings tests), and only to a configured plan.
#[tokio::test]
async fn operators_put_a_tenant_on_a_configured_plan() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let plan = |name: &'static str| {
        let url = app.database_url.clone();
        async move {
            let mut command = AsyncCommand::new(env!("CARGO_BIN_EXE_staybase"));
            command
                .args(["tenant", "plan", "--slug", "acme", "--plan", name])
                .env("STAYBASE_DATABASE_URL", url);
            for class in ["AUTH", "WRITE", "READ", "TENANT"] {
                command.env(
                    format!("STAYBASE_RATE_LIMIT_PLANS__GOLD__{class}_PER_MINUTE"),
                    "600",
                );
            }
            command.output().await.expect("run staybase")
        }
    };
    let unknown = plan("platinum").await;
    assert!(!unknown.status.success());
    let gold = plan("gold").await;
    assert!(
        gold.status.success(),
        "{}",
        String::from_utf8_lossy(&gold.stderr)
    );
    let tenant: Value = serde_json::from_slice(&gold.stdout).expect("the tenant as JSON");
    assert_eq!(tenant["slug"], "acme", "{tenant}");
    let admin = app.tenant_admin("acme").await;
    let settings: Value = app
        .get_with("/v1/t/acme/settings", &admin.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["rate_limit_plan"], "gold");
}

/// `staybase plugin ...`: no database involved.
async fn plugin_cli(args: &[&str]) -> (bool, String) {
    let output = staybase("sqlite::memory:", args).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn plugin_new_writes_a_ready_project_for_each_kind() {
    let dir = tempfile::tempdir().unwrap();
    let parent = dir.path().to_str().unwrap();
    for (name, kind, world, api_kind) in [
        ("surge", "pricing", "pricing", "pricing"),
        ("guard", "review-rules", "review-rules", "review_rules"),
    ] {
        let (ok, text) =
            plugin_cli(&["plugin", "new", name, "--kind", kind, "--dir", parent]).await;
        assert!(ok, "{text}");
        let project = dir.path().join(name);
        let read = |path: &str| std::fs::read_to_string(project.join(path)).unwrap();
        assert!(read("Cargo.toml").contains(&format!("name = \"{name}\"")));
        assert!(read("Cargo.toml").contains(&format!("kind = \"{kind}\"")));
        assert_eq!(
            read("wit/plugin.wit"),
            include_str!("../../plugins/wit/plugin.wit")
        );
        assert!(read("src/lib.rs").contains(&format!("world: \"{world}\"")));
        assert!(read(".cargo/config.toml").contains("link-arg=-zstack-size=65536"));
        let readme = read("README.md");
        assert!(
            !readme.contains("{{"),
            "every placeholder is filled: {readme}"
        );
        assert!(readme.contains(&format!("-F kind={api_kind}")));
        assert!(readme.contains(&format!(
            "staybase plugin check target/wasm32-wasip2/release/{name}.wasm --kind {kind}"
        )));
    }
    // Not over an existing folder, nor with a name Cargo would rename, nor another kind.
    for args in [
        [
            "plugin", "new", "surge", "--kind", "pricing", "--dir", parent,
        ],
        [
            "plugin",
            "new",
            "my-plugin",
            "--kind",
            "pricing",
            "--dir",
            parent,
        ],
        ["plugin", "new", "other", "--kind", "taxes", "--dir", parent],
    ] {
        let (ok, text) = plugin_cli(&args).await;
        assert!(!ok, "{args:?} must fail: {text}");
    }
}

#[tokio::test]
async fn plugin_check_accepts_the_examples_and_refuses_the_hostile_modules() {
    let root = env!("CARGO_MANIFEST_DIR");
    let path = |relative: &str| format!("{root}/plugins/{relative}");
    for (file, kind) in [
        ("examples/seasonal-weekend/seasonal-weekend.wasm", "pricing"),
        ("examples/stay-discounts/stay-discounts.wasm", "pricing"),
        (
            "examples/seasonal-weekend-js/seasonal-weekend-js.wasm",
            "pricing",
        ),
        ("examples/review-guard/review-guard.wasm", "review-rules"),
    ] {
        let (ok, text) = plugin_cli(&["plugin", "check", &path(file), "--kind", kind]).await;
        assert!(ok, "{file}: {text}");
        assert!(text.contains("ok: {"), "{file}: {text}");
    }
    // A given input: the review guard rejects a blocked word.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("review.json");
    let mut review: Value =
        serde_json::from_str(include_str!("../../plugins/examples/sample-review.json")).unwrap();
    review["comment"] = "What a scam".into();
    review["config"] = include_str!("../../plugins/examples/review-guard/config.json")
        .trim()
        .into();
    std::fs::write(&input, review.to_string()).unwrap();
    let (ok, text) = plugin_cli(&[
        "plugin",
        "check",
        &path("examples/review-guard/review-guard.wasm"),
        "--kind",
        "review-rules",
        "--input",
        input.to_str().unwrap(),
    ])
    .await;
    assert!(ok, "{text}");
    assert!(text.contains(r#""decision":"reject""#), "{text}");

    // With fuel enough, the deadline and the memory cap stop what fuel would otherwise.
    for (name, fuel, expected) in [
        ("wrong-world", "10000000", "refused"),
        ("wasi-filesystem", "10000000", "wasi:filesystem"),
        ("wasi-sockets", "10000000", "wasi:sockets"),
        ("infinite-loop", "10000000", "fuel_exhausted"),
        ("infinite-loop", "1000000000", "(timeout)"),
        ("memory-grower", "10000000", "memory_limit"),
        ("deep-recursion", "10000000", "(trap)"),
        ("panic", "10000000", "panicked"),
        ("huge-output", "10000000", "output_too_large"),
    ] {
        let file = path(&format!("hostile/{name}/{name}.wasm"));
        let args = [
            "plugin", "check", &file, "--kind", "pricing", "--fuel", fuel,
        ];
        let (ok, text) = plugin_cli(&args).await;
        assert!(!ok, "{name} must be refused: {text}");
        assert!(text.contains(expected), "{name}: {text}");
    }
    // The wrong kind is refused too.
    let (ok, text) = plugin_cli(&[
        "plugin",
        "check",
        &path("examples/stay-discounts/stay-discounts.wasm"),
        "--kind",
        "review-rules",
    ])
    .await;
    assert!(!ok, "{text}");
}
