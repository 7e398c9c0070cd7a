//! A booking's trace shows its service and store spans, with the tenant and the ids they act on.

use std::sync::{Arc, Mutex};

use tracing::{
    Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id},
};
use tracing_subscriber::{Layer, Registry, layer::Context, prelude::*};

use super::market;
use crate::helpers::Stay;

/// A span as recorded: its module, its name and its fields as `name=value`.
#[derive(Debug, Clone)]
struct Recorded {
    target: String,
    name: String,
    fields: Vec<String>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Recorded>>>);

struct Fields(Vec<String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push(format!("{}={value:?}", field.name()));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push(format!("{}={value}", field.name()));
    }
}

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_new_span(&self, attributes: &Attributes<'_>, _id: &Id, _context: Context<'_, S>) {
        let mut fields = Fields(Vec::new());
        attributes.record(&mut fields);
        let metadata = attributes.metadata();
        self.0.lock().unwrap().push(Recorded {
            target: metadata.target().to_owned(),
            name: metadata.name().to_owned(),
            fields: fields.0,
        });
    }
}

impl Recorder {
    fn find(&self, target: &str, name: &str) -> Option<Recorded> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .find(|span| span.target == target && span.name == name)
            .cloned()
    }
}

#[tokio::test]
async fn a_booking_shows_its_service_and_store_spans() {
    // The test's runtime runs the server on this thread, so a thread-local subscriber sees the
    // request's spans (store spans are at debug level: record every level).
    let recorder = Recorder::default();
    let _subscriber = tracing::subscriber::set_default(Registry::default().with(recorder.clone()));
    let market = market().await;
    let booking = market
        .app
        .bookings(&market.guest)
        .created(&Stay::days(10, 12).at(&market.property))
        .await;

    let create = recorder
        .find("staybase::bookings::service", "create")
        .expect("a service span");
    assert!(
        create.fields.contains(&"tenant=acme".to_owned()),
        "{create:?}"
    );
    assert!(
        create
            .fields
            .contains(&format!("property={}", market.property)),
        "{create:?}"
    );
    let overlap = recorder
        .find("staybase::availability", "check_free")
        .expect("the overlap check's span");
    assert!(
        overlap
            .fields
            .iter()
            .any(|field| field.starts_with("tenant=")),
        "{overlap:?}"
    );
    let insert = recorder
        .find("staybase::bookings::store", "insert")
        .expect("a store span");
    assert!(
        insert
            .fields
            .contains(&format!("booking={}", booking["id"].as_str().unwrap())),
        "{insert:?}"
    );
    // Secrets never reach a span.
    let all = recorder.0.lock().unwrap();
    for span in all.iter() {
        for field in &span.fields {
            assert!(
                !field.contains(&market.guest.access_token),
                "{span:?} records a token"
            );
        }
    }
}
