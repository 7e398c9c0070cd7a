//! The Stripe client against a fake Stripe on loopback that records what it is sent: paths,
//! form fields, the `Idempotency-Key`, the tenant's key as Bearer auth; declines as outcomes,
//! the outbound guard, and no key in the logs of a whole Stripe flow.

use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, Mutex},
};

use poem::{
    EndpointExt, Request, Response, Route, Server,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    web::{Data, Form, Path},
};
use serde_json::{Value, json};
use staybase::{
    config::Secret,
    money::Money,
    outbound::{FetchError, Outbound, parse_allow},
    payment_provider::model::ProviderSettings,
    secret_box::SecretString,
    stripe::{
        PaymentState,
        client::{CaptureMethod, NewIntent, StripeClient, StripeError},
        webhook,
    },
};

use crate::{helpers::spawn_app_with, secrets::KEY_A};

pub(crate) const SECRET_KEY: &str = "sk_test_51FakeStripeAccountKey0042";

/// A request as the fake received it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) path: String,
    authorization: String,
    pub(crate) idempotency_key: Option<String>,
    form: Vec<(String, String)>,
}

impl Received {
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Clone, Default)]
pub(crate) struct Fake {
    received: Arc<Mutex<Vec<Received>>>,
    /// First answers by idempotency key, as Stripe replays them.
    answers: Arc<Mutex<HashMap<String, (u16, Value)>>>,
    intents: Arc<Mutex<HashMap<String, Value>>>,
    /// While set, every request meets an outage (503) and nothing is done or remembered.
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl Fake {
    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Starts or ends an outage.
    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// Payment intents the fake created (charges at the provider).
    pub(crate) fn created(&self) -> usize {
        self.intents.lock().unwrap().len()
    }

    fn answer(&self, path: &str, form: &[(String, String)]) -> (u16, Value) {
        let field = |name: &str| {
            form.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        let mut intents = self.intents.lock().unwrap();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match segments.as_slice() {
            ["v1", "payment_intents"] => {
                let id = format!("pi_{}", intents.len() + 1);
                let amount: i64 = field("amount").unwrap_or_default().parse().unwrap_or(0);
                let manual = field("capture_method").as_deref() == Some("manual");
                let mut intent = json!({
                    "id": id, "object": "payment_intent", "amount": amount,
                    "currency": field("currency"), "amount_capturable": 0, "amount_received": 0,
                    "status": "succeeded", "last_payment_error": null, "next_action": null,
                });
                let answer = match field("payment_method").as_deref() {
                    Some("pm_card_visa") if manual => {
                        intent["status"] = json!("requires_capture");
                        intent["amount_capturable"] = json!(amount);
                        (200, intent.clone())
                    }
                    Some("pm_card_visa") => {
                        intent["amount_received"] = json!(amount);
                        (200, intent.clone())
                    }
                    Some("pm_card_authenticationRequired") => {
                        intent["status"] = json!("requires_action");
                        intent["next_action"] = json!({
                            "type": "redirect_to_url",
                            "redirect_to_url": { "url": "https://hooks.stripe.com/3d_secure/x" }
                        });
                        (200, intent.clone())
                    }
                    Some("pm_card_chargeDeclined") => {
                        intent["status"] = json!("requires_payment_method");
                        intent["last_payment_error"] =
                            json!({ "code": "card_declined", "decline_code": "generic_decline" });
                        (
                            402,
                            json!({ "error": {
                                "type": "card_error", "code": "card_declined",
                                "decline_code": "generic_decline",
                                "message": "Your card was declined.",
                                "payment_intent": intent.clone(),
                            } }),
                        )
                    }
                    Some("pm_card_unknown") => {
                        return (
                            400,
                            json!({ "error": {
                                "type": "invalid_request_error", "code": "resource_missing",
                                "message": "No such PaymentMethod: 'pm_card_unknown'",
                            } }),
                        );
                    }
                    _ => {
                        return (
                            500,
                            json!({ "error": { "type": "api_error", "message": "boom" } }),
                        );
                    }
                };
                intents.insert(id, intent);
                answer
            }
            ["v1", "payment_intents", id, action] => {
                let Some(intent) = intents.get_mut(*id) else {
                    return (
                        404,
                        json!({ "error": { "type": "invalid_request_error", "code": "resource_missing" } }),
                    );
                };
                let amount = intent["amount"].as_i64().unwrap_or(0);
                match *action {
                    "confirm" => {
                        intent["status"] = json!("succeeded");
                        intent["amount_received"] = json!(amount);
                        intent["next_action"] = Value::Null;
                    }
                    "capture" => {
                        let captured = field("amount_to_capture")
                            .and_then(|value| value.parse::<i64>().ok())
                            .unwrap_or(amount);
                        intent["status"] = json!("succeeded");
                        intent["amount_capturable"] = json!(0);
                        intent["amount_received"] = json!(captured);
                    }
                    "cancel" => {
                        intent["status"] = json!("canceled");
                        intent["amount_capturable"] = json!(0);
                    }
                    _ => return (404, json!({ "error": { "type": "invalid_request_error" } })),
                }
                (200, intent.clone())
            }
            ["v1", "refunds"] => {
                let intent = field("payment_intent").unwrap_or_default();
                let Some(intent) = intents.get(&intent) else {
                    return (
                        400,
                        json!({ "error": { "type": "invalid_request_error", "code": "resource_missing" } }),
                    );
                };
                let amount = field("amount")
                    .and_then(|value| value.parse::<i64>().ok())
                    .unwrap_or_else(|| intent["amount_received"].as_i64().unwrap_or(0));
                (
                    200,
                    json!({ "id": "re_1", "object": "refund", "status": "succeeded",
                            "amount": amount, "currency": intent["currency"] }),
                )
            }
            _ => (404, json!({ "error": { "type": "invalid_request_error" } })),
        }
    }
}

#[poem::handler]
fn stripe_endpoint(
    request: &Request,
    Path(path): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
    Data(fake): Data<&Fake>,
) -> Response {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let path = format!("/{path}");
    let received = Received {
        path: path.clone(),
        authorization: header("authorization").unwrap_or_default(),
        idempotency_key: header("idempotency-key"),
        form: form.clone(),
    };
    fake.received.lock().unwrap().push(received.clone());
    let (status, body) = if fake.down.load(std::sync::atomic::Ordering::SeqCst) {
        (
            503,
            json!({ "error": { "type": "api_error", "message": "outage" } }),
        )
    } else if received.authorization != format!("Bearer {SECRET_KEY}") {
        (
            401,
            json!({ "error": { "type": "invalid_request_error", "message": "Invalid API Key provided" } }),
        )
    } else {
        let key = received.idempotency_key.clone().unwrap_or_default();
        let known = fake.answers.lock().unwrap().get(&key).cloned();
        known.unwrap_or_else(|| {
            let answer = fake.answer(&path, &form);
            fake.answers.lock().unwrap().insert(key, answer.clone());
            answer
        })
    };
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(body.to_string())
}

/// Starts the fake on a loopback port; returns it and its base URL.
pub(crate) async fn fake_stripe() -> (Fake, String) {
    let fake = Fake::default();
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("bind the fake");
    let addr = acceptor.local_addr()[0]
        .as_socket_addr()
        .copied()
        .expect("tcp address");
    let app = Route::new()
        .at("/*path", poem::post(stripe_endpoint))
        .data(fake.clone());
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    (fake, format!("http://{addr}"))
}

fn loopback() -> Outbound {
    Outbound::new(parse_allow("127.0.0.0/8").unwrap())
}

fn client(base: &str) -> StripeClient {
    StripeClient::new(loopback(), base, SecretString::new(SECRET_KEY))
}

fn eur(amount: i64) -> Money {
    Money::new(amount, "EUR")
}

fn intent<'a>(amount: &'a Money, capture: CaptureMethod, method: &'a str) -> NewIntent<'a> {
    NewIntent {
        amount,
        capture,
        payment_method: method,
        metadata: &[],
    }
}

#[tokio::test]
async fn a_charge_sends_the_form_stripe_takes_with_the_key_and_idempotency_key() {
    let (fake, base) = fake_stripe().await;
    let amount = eur(41_500);
    let metadata = [
        (
            "booking_id",
            "0192f0c1-b000-7000-8000-000000000001".to_owned(),
        ),
        (
            "payment_id",
            "0192f0c1-b000-7000-8000-000000000002".to_owned(),
        ),
    ];
    let charged = client(&base)
        .create_intent(
            &NewIntent {
                amount: &amount,
                capture: CaptureMethod::Automatic,
                payment_method: "pm_card_visa",
                metadata: &metadata,
            },
            "payment-1:create",
        )
        .await
        .unwrap();
    assert_eq!(charged.state, PaymentState::Succeeded);
    assert_eq!(charged.reference, "pi_1");
    assert_eq!(charged.received, amount);

    let sent = fake.received();
    assert_eq!(sent.len(), 1);
    let sent = &sent[0];
    assert_eq!(sent.path, "/v1/payment_intents");
    assert_eq!(sent.authorization, format!("Bearer {SECRET_KEY}"));
    assert_eq!(sent.idempotency_key.as_deref(), Some("payment-1:create"));
    for (name, value) in [
        ("amount", "41500"),
        ("currency", "eur"),
        ("capture_method", "automatic"),
        ("payment_method", "pm_card_visa"),
        ("confirm", "true"),
        (
            "metadata[booking_id]",
            "0192f0c1-b000-7000-8000-000000000001",
        ),
        (
            "metadata[payment_id]",
            "0192f0c1-b000-7000-8000-000000000002",
        ),
    ] {
        assert_eq!(sent.field(name), Some(value), "{name} in {:?}", sent.form);
    }
}

#[tokio::test]
async fn a_retry_with_the_same_key_charges_once() {
    let (fake, base) = fake_stripe().await;
    let amount = eur(10_000);
    let stripe = client(&base);
    let request = intent(&amount, CaptureMethod::Automatic, "pm_card_visa");
    let first = stripe
        .create_intent(&request, "payment-7:create")
        .await
        .unwrap();
    let again = stripe
        .create_intent(&request, "payment-7:create")
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(fake.created(), 1, "one charge at the provider");
    let other = stripe
        .create_intent(&request, "payment-8:create")
        .await
        .unwrap();
    assert_ne!(other.reference, first.reference);
    assert_eq!(fake.created(), 2);
}

#[tokio::test]
async fn manual_capture_holds_then_captures_or_cancels() {
    let (fake, base) = fake_stripe().await;
    let stripe = client(&base);
    let amount = eur(20_000);
    let held = stripe
        .create_intent(
            &intent(&amount, CaptureMethod::Manual, "pm_card_visa"),
            "p1:create",
        )
        .await
        .unwrap();
    assert_eq!(held.state, PaymentState::RequiresCapture);
    assert_eq!(held.capturable, amount);
    let captured = stripe
        .capture(&held.reference, Some(&eur(15_000)), "p1:capture")
        .await
        .unwrap();
    assert_eq!(captured.state, PaymentState::Succeeded);
    assert_eq!(captured.received, eur(15_000));

    let voided_hold = stripe
        .create_intent(
            &intent(&amount, CaptureMethod::Manual, "pm_card_visa"),
            "p2:create",
        )
        .await
        .unwrap();
    let canceled = stripe
        .cancel(&voided_hold.reference, "p2:cancel")
        .await
        .unwrap();
    assert_eq!(canceled.state, PaymentState::Canceled);

    let sent = fake.received();
    assert_eq!(sent[0].field("capture_method"), Some("manual"));
    assert_eq!(
        sent[1].path,
        format!("/v1/payment_intents/{}/capture", held.reference)
    );
    assert_eq!(sent[1].field("amount_to_capture"), Some("15000"));
    assert_eq!(sent[1].idempotency_key.as_deref(), Some("p1:capture"));
    assert_eq!(
        sent[3].path,
        format!("/v1/payment_intents/{}/cancel", voided_hold.reference)
    );
    assert_eq!(sent[3].idempotency_key.as_deref(), Some("p2:cancel"));
    assert!(
        sent.iter()
            .all(|request| request.authorization == format!("Bearer {SECRET_KEY}"))
    );
}

#[tokio::test]
async fn a_decline_is_an_outcome_and_an_action_is_confirmed_later() {
    let (fake, base) = fake_stripe().await;
    let stripe = client(&base);
    let amount = eur(5_000);
    let declined = stripe
        .create_intent(
            &intent(&amount, CaptureMethod::Automatic, "pm_card_chargeDeclined"),
            "d:create",
        )
        .await
        .expect("a decline is not an error");
    assert_eq!(declined.state, PaymentState::Failed);
    assert_eq!(declined.failure_code.as_deref(), Some("generic_decline"));

    let pending = stripe
        .create_intent(
            &intent(
                &amount,
                CaptureMethod::Automatic,
                "pm_card_authenticationRequired",
            ),
            "a:create",
        )
        .await
        .unwrap();
    assert_eq!(pending.state, PaymentState::RequiresAction);
    assert_eq!(
        pending.next_action_url.as_deref(),
        Some("https://hooks.stripe.com/3d_secure/x")
    );
    let confirmed = stripe
        .confirm(&pending.reference, "a:confirm")
        .await
        .unwrap();
    assert_eq!(confirmed.state, PaymentState::Succeeded);
    let sent = fake.received();
    let confirm = sent.last().unwrap();
    assert_eq!(
        confirm.path,
        format!("/v1/payment_intents/{}/confirm", pending.reference)
    );
    assert_eq!(confirm.idempotency_key.as_deref(), Some("a:confirm"));
}

#[tokio::test]
async fn refunds_name_the_intent_and_the_amount() {
    let (fake, base) = fake_stripe().await;
    let stripe = client(&base);
    let amount = eur(30_000);
    let paid = stripe
        .create_intent(
            &intent(&amount, CaptureMethod::Automatic, "pm_card_visa"),
            "r:create",
        )
        .await
        .unwrap();
    let refund = stripe
        .refund(&paid.reference, Some(&eur(12_345)), "refund-1")
        .await
        .unwrap();
    assert_eq!(refund.amount, eur(12_345));
    assert_eq!(refund.status, "succeeded");
    let whole = stripe
        .refund(&paid.reference, None, "refund-2")
        .await
        .unwrap();
    assert_eq!(whole.amount, amount);
    let sent = fake.received();
    assert_eq!(sent[1].path, "/v1/refunds");
    assert_eq!(
        sent[1].field("payment_intent"),
        Some(paid.reference.as_str())
    );
    assert_eq!(sent[1].field("amount"), Some("12345"));
    assert_eq!(sent[1].idempotency_key.as_deref(), Some("refund-1"));
    assert_eq!(sent[2].field("amount"), None, "the rest");
}

#[tokio::test]
async fn failures_are_told_apart_and_never_show_the_key() {
    let (fake, base) = fake_stripe().await;
    let amount = eur(1_000);
    let wrong_key = StripeClient::new(loopback(), &base, SecretString::new("sk_test_wrong_0000"));
    let err = wrong_key
        .create_intent(
            &intent(&amount, CaptureMethod::Automatic, "pm_card_visa"),
            "k1",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StripeError::Authentication), "{err:?}");
    assert!(!err.is_retryable());
    let err = client(&base)
        .create_intent(
            &intent(&amount, CaptureMethod::Automatic, "pm_server_error"),
            "k2",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StripeError::Unavailable(500)), "{err:?}");
    assert!(err.is_retryable());
    let err = client(&base).cancel("pi_unknown", "k3").await.unwrap_err();
    assert!(
        matches!(&err, StripeError::Rejected { status: 404, code } if code == "resource_missing"),
        "{err:?}"
    );
    let err = client(&base)
        .cancel("pi_1/../../refunds", "k4")
        .await
        .unwrap_err();
    assert!(matches!(err, StripeError::Rejected { status: 400, .. }));
    assert_eq!(fake.received().len(), 3, "a bad reference is not sent");
    let debug = format!("{:?}", client(&base));
    assert!(!debug.contains(SECRET_KEY), "{debug}");
}

#[tokio::test]
async fn the_outbound_guard_keeps_stripe_calls_off_private_addresses() {
    let (fake, base) = fake_stripe().await;
    let guarded = StripeClient::new(Outbound::default(), &base, SecretString::new(SECRET_KEY));
    let amount = eur(1_000);
    let err = guarded
        .create_intent(
            &intent(&amount, CaptureMethod::Automatic, "pm_card_visa"),
            "g1",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StripeError::Unreachable(FetchError::Forbidden)),
        "{err:?}"
    );
    assert!(fake.received().is_empty());
}

/// Everything the subscriber writes, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_whole_stripe_flow_logs_no_secret() {
    // The test's runtime runs the server on this thread, so a thread-local subscriber sees the
    // server's logs too, at every level.
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _subscriber = tracing::subscriber::set_default(subscriber);

    let (_fake, base) = fake_stripe().await;
    let app = spawn_app_with(|config| {
        config.secret_key = Some(Secret::new(KEY_A));
        config.outbound_allow = "127.0.0.0/8".into();
    })
    .await;
    let tenant = app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let webhook_secret = "whsec_FakeWebhookSecret1234";
    let response = app
        .client
        .put(app.url("/v1/t/acme/payment-provider"))
        .bearer_auth(&admin.access_token)
        .json(&json!({
            "provider": "stripe",
            "stripe": { "secret_key": SECRET_KEY, "webhook_secrets": [webhook_secret], "api_base": base }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);

    let ProviderSettings::Stripe(settings) =
        staybase::payment_provider::service::for_payments(&app.state, tenant.id)
            .await
            .unwrap()
    else {
        panic!("stripe settings")
    };
    tracing::info!(?settings, "settings as the payments core sees them");
    let stripe = StripeClient::new(
        app.state.outbound.clone(),
        settings.api_base.clone(),
        settings.credentials.secret_key.clone(),
    );
    tracing::info!(?stripe, "client");
    let amount = eur(41_500);
    let held = stripe
        .create_intent(
            &intent(&amount, CaptureMethod::Manual, "pm_card_visa"),
            "flow:create",
        )
        .await
        .unwrap();
    stripe
        .capture(&held.reference, None, "flow:capture")
        .await
        .unwrap();
    stripe
        .refund(&held.reference, None, "flow:refund")
        .await
        .unwrap();
    let wrong = StripeClient::new(
        app.state.outbound.clone(),
        settings.api_base.clone(),
        SecretString::new("sk_test_AnotherSecretKey5555"),
    );
    let err = wrong
        .cancel(&held.reference, "flow:cancel")
        .await
        .unwrap_err();
    tracing::warn!(error = %err, error_debug = ?err, "as a caller would log it");

    let payload = json!({ "id": "evt_1", "type": "payment_intent.succeeded", "data": { "object": {
        "id": held.reference, "status": "succeeded", "amount": 41500, "amount_received": 41500,
        "currency": "eur" } } })
    .to_string();
    let secrets = &settings.credentials.webhook_secrets;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let header = webhook::sign(&secrets[0], now, payload.as_bytes());
    webhook::verify(&header, payload.as_bytes(), secrets, now).unwrap();
    let event = webhook::parse_event(payload.as_bytes()).unwrap().unwrap();
    tracing::info!(?event, "webhook event");

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("Stripe answered"), "the logs were captured");
    assert!(
        logs.contains("payment provider set"),
        "the server's logs were captured"
    );
    for secret in [
        SECRET_KEY,
        "sk_test_AnotherSecretKey5555",
        webhook_secret,
        KEY_A,
    ] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
}
