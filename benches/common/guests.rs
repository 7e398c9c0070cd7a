//! Guests taking turns at a request for a phase (included with `#[path]` by the benchmarks that
//! drive one task per signed-in guest).

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use crate::{
    common::{self, BenchApp, phase},
    marketplace,
};

/// A served marketplace of seeded listings with guests signed up.
pub struct Market {
    pub app: BenchApp,
    pub client: reqwest::Client,
    pub properties: Arc<Vec<String>>,
    /// One access token per guest.
    pub tokens: Vec<String>,
}

/// Serves the app with two job workers, seeds `listings` listings in tenant `bench`, sets how
/// it collects payment, and signs up `guests` guests.
pub async fn market((listings, guests): (usize, usize), collection: &str) -> Market {
    let app = common::serve(2).await;
    staybase::demo::seed(&app.state.db, "bench", listings, marketplace::PASSWORD)
        .await
        .expect("seed");
    let client = reqwest::Client::new();
    let properties = Arc::new(marketplace::listed(&client, &app.base).await);
    marketplace::collect_payment(&app, &client, collection).await;
    let mut tokens = Vec::new();
    for n in 0..guests {
        let email = format!("guest{n}@example.com");
        tokens.push(marketplace::sign_up(&client, &app.base, &email).await);
    }
    Market {
        app,
        client,
        properties,
        tokens,
    }
}

/// Runs `request(i, token)` on one task per guest token for a phase, `i` unique to the run;
/// returns the latencies the calls report, sorted, and how long the phase took.
pub async fn per_guest<F, Fut>(tokens: Vec<String>, request: F) -> (Vec<Duration>, Duration)
where
    F: Fn(usize, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Duration> + Send,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (request, next, stop) = (request.clone(), next.clone(), stop.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    latencies.push(request(i, token.clone()).await);
                }
                latencies
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(phase()).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("worker"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    (latencies, elapsed)
}
