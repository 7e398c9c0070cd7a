//! Email delivery through the job queue: SMTP to a real SMTP server on loopback, and the
//! default outbox of `.eml` files.

use std::sync::Arc;

use mailparse::MailHeaderMap;
use staybase::{
    config::{MailTransportKind, SmtpTls},
    jobs::store,
    mail::{self, Branding, OutgoingEmail, Template},
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    sync::Mutex,
};

use crate::helpers::{TestApp, eventually, spawn_app, spawn_app_with};

async fn queue_verification_email(app: &TestApp, to: &str) {
    let tenant = app.create_tenant("sunny").await;
    let email = OutgoingEmail::compose(
        to,
        &Template::VerifyEmail {
            first_name: "Ana".into(),
            link: "https://sunny.example/verify?token=abc".into(),
            expires_hours: 48,
        },
        &Branding::for_tenant(&tenant),
    )
    .unwrap();
    let mut tx = app.state.db.begin().await.unwrap();
    mail::enqueue(&mut tx, Some(tenant.id), email, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

fn assert_verification_message(raw: &[u8], to: &str) {
    let parsed = mailparse::parse_mail(raw).expect("a parsable message");
    let headers = parsed.get_headers();
    assert_eq!(
        headers.get_first_value("Subject").unwrap(),
        "Confirm your email address for sunny stays"
    );
    assert!(headers.get_first_value("To").unwrap().contains(to));
    assert!(
        headers
            .get_first_value("From")
            .unwrap()
            .contains("no-reply@localhost")
    );
    assert!(headers.get_first_value("Message-ID").is_some());
    assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
    let parts: Vec<_> = parsed
        .subparts
        .iter()
        .map(|p| p.ctype.mimetype.clone())
        .collect();
    assert_eq!(parts, ["text/plain", "text/html"]);
    assert!(parsed.subparts[0].get_body().unwrap().contains("Hello Ana"));
    // HTML escaping writes `/` as `&#x2f;`; browsers decode it in the attribute.
    let html = parsed.subparts[1].get_body().unwrap();
    assert!(
        html.contains("sunny.example&#x2f;verify?token=abc"),
        "{html}"
    );
}

#[tokio::test]
async fn the_file_transport_writes_a_parsable_eml_to_the_outbox() {
    let app = spawn_app_with(|config| {
        config.workers = 1;
        config.job_poll_interval_ms = 20;
    })
    .await;
    assert_eq!(
        app.state.config.mail_transport,
        MailTransportKind::File,
        "the default"
    );
    queue_verification_email(&app, "ana@example.com").await;

    let done_mail = || async {
        store::list_by_status(&app.state.db, "done", 10)
            .await
            .unwrap()
            .into_iter()
            .find(|job| job.kind == "mail.send")
    };
    eventually(|| async { done_mail().await.is_some() }).await;
    let job = done_mail().await.unwrap();
    let outbox = app.state.config.data_dir.join("outbox");
    let files: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    let file = outbox.join(format!("{}.eml", job.id));
    assert_eq!(
        files,
        std::slice::from_ref(&file),
        "one message, named by its job, no partial files"
    );
    assert_verification_message(&std::fs::read(&file).unwrap(), "ana@example.com");
}

/// A minimal SMTP server: records each message, answers RCPT with `rcpt_reply`.
async fn smtp_server(rcpt_reply: &'static str) -> (u16, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                write.write_all(b"220 test ESMTP ready\r\n").await.unwrap();
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let command = line.trim_end().to_ascii_uppercase();
                    let reply: &str = if command.starts_with("EHLO") {
                        "250-test\r\n250 8BITMIME\r\n"
                    } else if command.starts_with("HELO")
                        || command.starts_with("MAIL FROM")
                        || command.starts_with("RSET")
                        || command.starts_with("NOOP")
                    {
                        "250 OK\r\n"
                    } else if command.starts_with("RCPT TO") {
                        rcpt_reply
                    } else if command == "DATA" {
                        write.write_all(b"354 go ahead\r\n").await.unwrap();
                        let mut message = Vec::new();
                        loop {
                            let mut data = String::new();
                            lines.read_line(&mut data).await.unwrap();
                            if data == ".\r\n" {
                                break;
                            }
                            message.extend_from_slice(
                                data.strip_prefix('.').unwrap_or(&data).as_bytes(),
                            );
                        }
                        store.lock().await.push(message);
                        "250 queued\r\n"
                    } else if command == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        "502 unknown command\r\n"
                    };
                    write.write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (port, received)
}

fn smtp_app(port: u16) -> impl FnOnce(&mut staybase::Config) {
    move |config| {
        config.workers = 1;
        config.job_poll_interval_ms = 20;
        config.job_backoff_base_ms = 20;
        config.job_backoff_max_ms = 50;
        config.mail_transport = MailTransportKind::Smtp;
        config.smtp_host = Some("127.0.0.1".into());
        config.smtp_port = port;
        config.smtp_tls = SmtpTls::None;
    }
}

#[tokio::test]
async fn the_smtp_transport_delivers_to_an_smtp_server() {
    let (port, received) = smtp_server("250 OK\r\n").await;
    let app = spawn_app_with(smtp_app(port)).await;
    queue_verification_email(&app, "Ana Lima <ana@example.com>").await;

    eventually(|| async { !received.lock().await.is_empty() }).await;
    let messages = received.lock().await;
    assert_eq!(messages.len(), 1);
    assert_verification_message(&messages[0], "ana@example.com");
}

#[tokio::test]
async fn a_recipient_the_server_refuses_is_dead_lettered_without_retries() {
    let (port, received) = smtp_server("550 no such user\r\n").await;
    let app = spawn_app_with(smtp_app(port)).await;
    queue_verification_email(&app, "ghost@example.com").await;

    eventually(|| async {
        !store::list_by_status(&app.state.db, "dead", 10)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let dead = store::list_by_status(&app.state.db, "dead", 10)
        .await
        .unwrap();
    assert_eq!(dead[0].kind, "mail.send");
    assert_eq!(dead[0].attempts, 1, "a permanent refusal is not retried");
    assert!(
        dead[0].last_error.as_deref().unwrap().contains("550"),
        "{:?}",
        dead[0]
    );
    assert!(received.lock().await.is_empty());
}

#[tokio::test]
async fn a_temporary_smtp_failure_is_retried() {
    let (port, _received) = smtp_server("451 try again later\r\n").await;
    let app = spawn_app_with(smtp_app(port)).await;
    queue_verification_email(&app, "busy@example.com").await;

    eventually(|| async {
        store::list_by_status(&app.state.db, "failed", 10)
            .await
            .unwrap()
            .iter()
            .chain(
                store::list_by_status(&app.state.db, "running", 10)
                    .await
                    .unwrap()
                    .iter(),
            )
            .any(|job| job.attempts >= 2)
    })
    .await;
    assert!(
        store::list_by_status(&app.state.db, "dead", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A marketplace's emails come from its name, reply to its address and link to its own site.
#[tokio::test]
async fn emails_carry_the_tenants_name_reply_address_and_site() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let patch = |body: serde_json::Value| {
        let app = &app;
        let token = admin.access_token.clone();
        async move {
            app.client
                .patch(app.url("/v1/t/acme/settings"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let refused =
        patch(serde_json::json!({ "site_url": "javascript:alert(1)", "reply_to": "nope" })).await;
    let problem = crate::helpers::assert_problem(
        refused,
        reqwest::StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2, "{problem}");
    let set = patch(serde_json::json!({
        "display_name": "Acme Stays",
        "site_url": "https://stays.acme.test/",
        "reply_to": "help@acme.test"
    }))
    .await;
    assert_eq!(set.status(), reqwest::StatusCode::OK);

    app.register("acme", "ana@example.com", false).await;
    let raw = app.email_to("ana@example.com", "confirm").await;
    let email = mailparse::parse_mail(raw.as_bytes()).unwrap();
    let from = email.headers.get_first_value("From").unwrap();
    assert!(
        from.starts_with("\"Acme Stays\"") || from.starts_with("Acme Stays"),
        "{from}"
    );
    assert_eq!(
        email.headers.get_first_value("Reply-To").as_deref(),
        Some("help@acme.test")
    );
    let text = email.subparts[0].get_body().unwrap();
    assert!(
        text.contains("https://stays.acme.test/verify-email?tenant=acme&token="),
        "{text}"
    );
    assert!(!text.contains("localhost:3000"), "{text}");
}
