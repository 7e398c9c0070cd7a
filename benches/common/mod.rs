//! What the benchmarks share: a served app on a fresh database, and latency percentiles.

use std::{net::SocketAddr, time::Duration};

use staybase::{
    AppState, Config,
    config::{Secret, Switch},
    router::server::{self, Mode},
};

/// Seconds per measured phase: `STAYBASE_BENCH_SECONDS`, default 10.
pub fn phase() -> Duration {
    Duration::from_secs(
        std::env::var("STAYBASE_BENCH_SECONDS")
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(10),
    )
}

/// The value below which a share `p` of the sorted latencies fall.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub struct BenchApp {
    /// `http://127.0.0.1:port`.
    pub base: String,
    pub state: AppState,
    _dir: tempfile::TempDir,
}

/// Serves the app on loopback with rate limits off, on `STAYBASE_BENCH_DATABASE_URL` (an empty
/// PostgreSQL database) or a fresh SQLite file, with `workers` job workers.
pub async fn serve(workers: usize) -> BenchApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = std::env::var("STAYBASE_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let config = Config {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        metrics_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: Some(Secret::new(database_url)),
        data_dir: dir.path().to_owned(),
        workers,
        rate_limits: Switch::Off,
        log: "warn".into(),
        ..Config::default()
    };
    let acceptor = server::bind(&config).await.expect("bind");
    let addr = poem::listener::Acceptor::local_addr(&acceptor)[0]
        .as_socket_addr()
        .copied()
        .expect("address");
    let state = AppState::start(config).await.expect("start");
    tokio::spawn(server::serve(
        acceptor,
        state.clone(),
        Mode::Api,
        std::future::pending(),
    ));
    BenchApp {
        base: format!("http://{addr}"),
        state,
        _dir: dir,
    }
}
