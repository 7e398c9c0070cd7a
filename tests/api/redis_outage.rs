//! A Redis outage is logged when it starts (and as a reminder while it lasts), not per request.

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use staybase::config::Secret;
use tracing::{Event, Level, Subscriber, field::Field, field::Visit};
use tracing_subscriber::{Layer, Registry, layer::Context, prelude::*};

use crate::helpers::spawn_app_with;

/// The message of every warning or error the app logs.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for Warnings {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        // The app's own warnings: sqlx's slow-statement warnings (the harness creating the
        // test's PostgreSQL database on a busy machine) are not this test's subject.
        if *event.metadata().level() <= Level::WARN
            && event.metadata().target().starts_with("staybase")
        {
            let mut message = Message(String::new());
            event.record(&mut message);
            self.0.lock().unwrap().push(message.0);
        }
    }
}

#[tokio::test]
async fn an_unreachable_redis_is_logged_once_not_per_request() {
    // The server runs on this test's thread, so a thread-local subscriber sees its events.
    let warnings = Warnings::default();
    let _subscriber = tracing::subscriber::set_default(Registry::default().with(warnings.clone()));
    let app = spawn_app_with(|config| {
        config.redis_url = Some(Secret::new("redis://127.0.0.1:1"));
        // Without it the start warns that secrets cannot be sealed: not this test's warning.
        config.secret_key = Some(Secret::new(crate::secrets::KEY_A));
    })
    .await;
    app.create_tenant("acme").await;
    // Rate-limited reads, and listing searches that go through the read cache.
    for _ in 0..40 {
        assert_eq!(app.get("/v1/t/acme").await.status(), StatusCode::OK);
        assert_eq!(
            app.get("/v1/t/acme/properties").await.status(),
            StatusCode::OK
        );
    }
    let warnings = warnings.0.lock().unwrap().clone();
    let redis: Vec<_> = warnings.iter().filter(|m| m.contains("Redis")).collect();
    // One line each for the rate limiter and the read cache.
    assert!(
        (1..=2).contains(&redis.len()),
        "{} Redis warnings: {redis:#?}",
        redis.len()
    );
    assert_eq!(
        redis.len(),
        warnings.len(),
        "no other warnings: {warnings:#?}"
    );
}
