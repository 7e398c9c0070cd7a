//! The server loop shared by `main` and the tests: the HTTP server and the job workers of one
//! process, and their graceful shutdown.

use std::{future::Future, io, sync::Arc, time::Duration};

use poem::{
    Server,
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
};

use super::connections::GuardedAcceptor;
use crate::{
    app::{AppState, StartError},
    config::Config,
    db::notifications,
    job_registry,
    jobs::{WorkerOptions, WorkerPool},
    router,
};

/// What a process serves: the whole API, or (for `staybase worker`) only the operational routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Api,
    WorkerOnly,
}

/// Binds the configured address (port 0 picks a free one).
pub async fn bind(config: &Config) -> Result<TcpAcceptor, StartError> {
    TcpListener::bind(config.bind)
        .into_acceptor()
        .await
        .map_err(|source| StartError::Bind {
            addr: config.bind.to_string(),
            source,
        })
}

/// Serves until `shutdown` resolves, with the configured job workers beside the HTTP server;
/// then in-flight requests and running jobs get the grace period to finish.
pub async fn serve(
    acceptor: TcpAcceptor,
    state: AppState,
    mode: Mode,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let grace = Duration::from_secs(state.config.shutdown_grace_seconds);
    if let Some(addr) = acceptor
        .local_addr()
        .first()
        .and_then(|addr| addr.as_socket_addr().copied())
    {
        tracing::info!(%addr, backend = ?state.db.kind(), ?mode, "staybase listening");
    }
    let metrics_server = serve_metrics(&state).await?;
    let workers = (state.config.workers > 0).then(|| {
        WorkerPool::start(
            state.clone(),
            job_registry::application(state.config.job_retention_hours),
            WorkerOptions::from_config(&state.config),
        )
    });
    // In-process rate-limit keys of callers gone quiet are forgotten, so memory stays bounded.
    let limiter_state = state.clone();
    let janitor = tokio::spawn(async move {
        let mut every_minute = tokio::time::interval(Duration::from_secs(60));
        loop {
            every_minute.tick().await;
            limiter_state.rate_limiter.forget_idle();
        }
    });
    let changes = notifications::follow(
        &state.db,
        vec![
            Arc::new(state.tenants.clone()),
            Arc::new(state.principals.clone()),
        ],
    );
    let db = state.db.clone();
    // Workers stop claiming when the server stops accepting, so both share one grace period.
    let shutdown = async {
        shutdown.await;
        if let Some(workers) = &workers {
            workers.stop_claiming();
        }
    };
    let acceptor = GuardedAcceptor::new(
        acceptor,
        state.config.max_connections,
        Duration::from_secs(state.config.header_read_timeout_seconds),
    );
    let server = Server::new_with_acceptor(acceptor)
        .idle_timeout(Duration::from_secs(state.config.idle_timeout_seconds));
    let result = match mode {
        Mode::Api => {
            server
                .run_with_graceful_shutdown(router::endpoint(state), shutdown, Some(grace))
                .await
        }
        Mode::WorkerOnly => {
            server
                .run_with_graceful_shutdown(
                    router::operations_endpoint(state),
                    shutdown,
                    Some(grace),
                )
                .await
        }
    };
    janitor.abort();
    if let Some(changes) = changes {
        changes.abort();
    }
    metrics_server.abort();
    if let Some(workers) = workers {
        workers.shutdown().await;
    }
    db.close().await;
    result
}

/// Serves `/metrics` on `metrics_bind` (in both modes), apart from the API, until aborted;
/// records the bound address in the state.
async fn serve_metrics(state: &AppState) -> io::Result<tokio::task::JoinHandle<io::Result<()>>> {
    let configured = state.config.metrics_bind;
    let acceptor = TcpListener::bind(configured)
        .into_acceptor()
        .await
        .map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("could not listen on {configured} (STAYBASE_METRICS_BIND): {err}"),
            )
        })?;
    if let Some(addr) = acceptor
        .local_addr()
        .first()
        .and_then(|addr| addr.as_socket_addr().copied())
    {
        tracing::info!(%addr, "metrics listening");
        let _ = state.metrics_addr.set(addr);
    }
    let endpoint = router::metrics_endpoint(state.clone());
    Ok(tokio::spawn(
        Server::new_with_acceptor(acceptor).run(endpoint),
    ))
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
