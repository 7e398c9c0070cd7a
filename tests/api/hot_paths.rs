//! What the busiest requests cost: database statements counted, and how fast a change to a
//! tenant or to a signed-in caller reaches every replica.

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::Value;
use staybase::tenants::{TenantStatus, service as tenants};
use tracing_subscriber::{Layer, filter::Targets, layer::SubscriberExt};

use crate::helpers::{
    Account, Location, NewProperty, PropertyPatch, TestApp, assert_problem, eur, spawn_app,
};

/// Counts the statements sqlx runs (its `sqlx::query` events) while serving requests (inside
/// a `request` span), on every thread of the process: the job worker's and other background
/// statements are not the request's. Nor is the tenant directory's refresh of a tenant (inside
/// `resolve_for_request`), which happens at most once per staleness bound (500 ms) per tenant
/// and replica whatever the traffic; under load a test's requests may straddle one.
#[derive(Clone, Default)]
struct Statements(Arc<AtomicUsize>);

impl<S> Layer<S> for Statements
where
    S: tracing::Subscriber + for<'lookup> tracing_subscriber::registry::LookupSpan<'lookup>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let spans: Vec<&str> = ctx
            .event_scope(event)
            .map(|scope| scope.map(|span| span.name()).collect())
            .unwrap_or_default();
        if event.metadata().target() == "sqlx::query"
            && spans.contains(&"request")
            && !spans.contains(&"resolve_for_request")
        {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Statements {
    /// The counter of the whole process, installed by the first test that asks. Under nextest
    /// each test has a process of its own; under `cargo test` neighbours' statements count too.
    fn install() -> Self {
        static INSTALLED: OnceLock<Statements> = OnceLock::new();
        INSTALLED
            .get_or_init(|| {
                let statements = Self::default();
                let subscriber = tracing_subscriber::registry().with(
                    statements.clone().with_filter(
                        Targets::new()
                            .with_target("sqlx::query", tracing::Level::TRACE)
                            .with_target("staybase::http", tracing::Level::INFO)
                            .with_target("staybase::tenants", tracing::Level::INFO),
                    ),
                );
                tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
                statements
            })
            .clone()
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A tenant `acme` whose admin hosts one property with this status; its detail's path.
async fn app_with_a_listing(status: &str) -> (TestApp, Account, Value, String) {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.tenant_admin("acme").await;
    app.set_roles(&host, "tenant_admin,host,guest").await;
    let property = app
        .properties(&host)
        .created(&NewProperty {
            name: "Loft",
            description: "d",
            location: Location::NICE,
            nightly_price: eur(10_000),
            max_guests: 2,
            status: Some(status),
            ..NewProperty::default()
        })
        .await;
    let path = format!("/v1/t/acme/properties/{}", property["id"].as_str().unwrap());
    (app, host, property, path)
}

/// The host renames the property "Harbour loft".
async fn rename(app: &TestApp, host: &Account, property: &Value) {
    app.properties(host)
        .updated(
            &property["id"],
            &PropertyPatch {
                name: Some("Harbour loft"),
                ..PropertyPatch::default()
            },
        )
        .await;
}

#[tokio::test]
async fn a_cached_listing_answer_runs_no_statement() {
    let statements = Statements::install();
    let (app, host, property, path) = app_with_a_listing("listed").await;

    // The first anonymous reads fill the caches (the tenant, and each answer).
    let search = "/v1/t/acme/properties";
    assert_eq!(app.get(&path).await.status(), StatusCode::OK);
    assert_eq!(app.get(search).await.status(), StatusCode::OK);
    let before = statements.count();
    assert!(before > 0, "the counter sees statements");
    // Well within the directory's staleness bound, after which the tenant is read again.
    for _ in 0..2 {
        assert_eq!(app.get(&path).await.status(), StatusCode::OK);
        assert_eq!(app.get(search).await.status(), StatusCode::OK);
    }
    assert_eq!(statements.count(), before, "cache hits ran statements");

    // A change is seen at once by the replica that made it.
    rename(&app, &host, &property).await;
    let fresh: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(fresh["name"], "Harbour loft");
}

/// Whether the app runs on PostgreSQL, where replicas are notified of changes and so remember
/// who is signed in (`auth::principals`).
fn remembers_callers(app: &TestApp) -> bool {
    matches!(app.state.db, staybase::db::Db::Postgres(_))
}

#[tokio::test]
async fn a_signed_in_detail_runs_at_most_two_statements() {
    let statements = Statements::install();
    let (app, host, _, path) = app_with_a_listing("draft").await;
    let guest = app.register("acme", "gina@example.com", false).await;
    // The first reads resolve the tenant; then each read is measured.
    assert_eq!(
        app.get_with(&path, &host.access_token).await.status(),
        StatusCode::OK
    );
    for (token, status) in [
        (&host.access_token, StatusCode::OK),
        // Another user's draft is not found, after the same two statements.
        (&guest.access_token, StatusCode::NOT_FOUND),
    ] {
        // The fewest of three reads: a periodic refresh that falls due during one of them
        // under load is not what every read costs.
        let mut fewest = usize::MAX;
        for _ in 0..3 {
            let before = statements.count();
            let response = app.get_with(&path, token).await;
            assert_eq!(response.status(), status);
            fewest = fewest.min(statements.count() - before);
        }
        // The property with its photos, after the user with their session's state where the
        // caller is not remembered.
        assert_eq!(fewest, if remembers_callers(&app) { 1 } else { 2 });
    }
}

#[tokio::test]
async fn a_tenant_suspended_through_one_replica_is_refused_by_another_within_a_second() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let replica = app.replica().await;
    let client = reqwest::Client::new();
    let tenant_on_replica = format!("{replica}/v1/t/acme");
    // The replica knows the tenant (it is in its directory).
    for _ in 0..2 {
        let response = client.get(&tenant_on_replica).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    tenants::set_status(&app.state, "acme", TenantStatus::Suspended)
        .await
        .unwrap();
    let suspended_at = Instant::now();
    assert_problem(
        app.get("/v1/t/acme").await,
        StatusCode::FORBIDDEN,
        "tenant_suspended",
    )
    .await;
    loop {
        let response = client.get(&tenant_on_replica).send().await.unwrap();
        if response.status() == StatusCode::FORBIDDEN {
            assert_problem(response, StatusCode::FORBIDDEN, "tenant_suspended").await;
            break;
        }
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            suspended_at.elapsed() < Duration::from_secs(1),
            "the replica still serves the suspended tenant"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(suspended_at.elapsed() < Duration::from_secs(1));

    tenants::set_status(&app.state, "acme", TenantStatus::Active)
        .await
        .unwrap();
    crate::helpers::eventually(|| async {
        client
            .get(&tenant_on_replica)
            .send()
            .await
            .is_ok_and(|response| response.status() == StatusCode::OK)
    })
    .await;
}

/// On PostgreSQL a replica learns of a change by notification, well before its copy of the
/// tenant would expire: a change made elsewhere (here, through another state) is forgotten
/// within 400 ms of the copy being made, which `STALENESS_BOUND` alone (500 ms) cannot do.
#[tokio::test]
async fn replicas_forget_a_changed_tenant_when_postgresql_notifies_them() {
    use staybase::tenants::directory::{STALENESS_BOUND, TenantDirectory};

    let app = spawn_app().await;
    if !matches!(app.state.db, staybase::db::Db::Postgres(_)) {
        // SQLite has no notifications: its replicas rely on the bound.
        return;
    }
    let tenant = app.create_tenant("acme").await;
    let directory = TenantDirectory::default();
    let listener =
        staybase::db::notifications::follow(&app.state.db, vec![Arc::new(directory.clone())])
            .expect("PostgreSQL has a listener");
    // Long enough for the listener to be connected and listening.
    tokio::time::sleep(Duration::from_millis(300)).await;

    directory.remember(&tenant);
    let remembered_at = Instant::now();
    assert!(directory.get("acme").is_some());
    tenants::set_status(&app.state, "acme", TenantStatus::Suspended)
        .await
        .unwrap();
    while directory.get("acme").is_some() {
        assert!(
            remembered_at.elapsed() < Duration::from_millis(400),
            "not notified"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(remembered_at.elapsed() < STALENESS_BOUND);
    listener.abort();
}

/// Signed-in guests share the cached answer of a listed property (on SQLite after one
/// statement: who they are; on PostgreSQL, once remembered, none); its owner reads it afresh,
/// with the private fields.
#[tokio::test]
async fn a_guest_shares_the_cached_detail_and_its_owner_reads_it_afresh() {
    let statements = Statements::install();
    let (app, host, property, path) = app_with_a_listing("listed").await;
    let guest = app.register("acme", "gina@example.com", false).await;
    let anonymous: Value = app.get(&path).await.json().await.unwrap();
    let session = usize::from(!remembers_callers(&app));

    assert_eq!(
        app.get_with(&path, &guest.access_token).await.status(),
        StatusCode::OK
    );
    let before = statements.count();
    let response = app.get_with(&path, &guest.access_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        statements.count() - before,
        session,
        "the guest's session only"
    );
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen, anonymous);
    assert!(seen["ical_export_url"].is_null(), "{seen}");

    assert_eq!(
        app.get_with(&path, &host.access_token).await.status(),
        StatusCode::OK
    );
    let before = statements.count();
    let response = app.get_with(&path, &host.access_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        statements.count() - before,
        session + 1,
        "the owner reads afresh"
    );
    let own: Value = response.json().await.unwrap();
    assert!(own["ical_export_url"].is_string(), "{own}");

    // The guest sees a change at once, as an anonymous caller would.
    rename(&app, &host, &property).await;
    let fresh: Value = app
        .get_with(&path, &guest.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fresh["name"], "Harbour loft");
}

/// What `token` gets from `users/me` on `base`.
async fn me_on(client: &reqwest::Client, base: &str, token: &str) -> reqwest::Response {
    client
        .get(format!("{base}/v1/t/acme/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Asks `base` until `token` is refused with `status` and `code`; it must be within 400 ms of
/// `changed_at`, well before `principals::STALENESS_BOUND` would end a remembered caller.
async fn refused_soon(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    (status, code): (StatusCode, &str),
    changed_at: Instant,
) {
    loop {
        let response = me_on(client, base, token).await;
        if response.status() != StatusCode::OK {
            assert_problem(response, status, code).await;
            break;
        }
        assert!(
            changed_at.elapsed() < Duration::from_millis(400),
            "{base} still serves the caller"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        changed_at.elapsed() < staybase::auth::principals::STALENESS_BOUND,
        "refused only when the remembered caller expired"
    );
}

/// A session ended, or an account disabled, through one replica is refused by it at once and
/// by another replica that remembered the caller within moments (on PostgreSQL, told by
/// notification; on SQLite nothing is remembered).
#[tokio::test]
async fn a_session_ended_through_one_replica_is_refused_by_every_replica() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let admin = app.tenant_admin("acme").await;
    let ana = app.register("acme", "ana@example.com", false).await;
    let bob = app.register("acme", "bob@example.com", false).await;
    let replica = app.replica().await;
    let client = reqwest::Client::new();
    let here = app.url("");
    // Long enough for the replica's listener to be listening; then both know both callers.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for account in [&ana, &bob] {
        for base in [here.as_str(), replica.as_str()] {
            for _ in 0..2 {
                let response = me_on(&client, base, &account.access_token).await;
                assert_eq!(response.status(), StatusCode::OK);
            }
        }
    }

    let response = app
        .post_json(
            "/v1/t/acme/auth/logout",
            &serde_json::json!({ "refresh_token": ana.refresh_token }),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let ended_at = Instant::now();
    let invalid = (StatusCode::UNAUTHORIZED, "invalid_token");
    assert_problem(
        me_on(&client, &here, &ana.access_token).await,
        invalid.0,
        invalid.1,
    )
    .await;
    refused_soon(&client, &replica, &ana.access_token, invalid, ended_at).await;

    let response = app
        .post_json(
            &format!("/v1/t/acme/users/{}/disable", bob.id),
            &serde_json::json!({}),
            Some(&admin.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let disabled_at = Instant::now();
    let disabled = (StatusCode::FORBIDDEN, "account_disabled");
    assert_problem(
        me_on(&client, &here, &bob.access_token).await,
        disabled.0,
        disabled.1,
    )
    .await;
    refused_soon(&client, &replica, &bob.access_token, disabled, disabled_at).await;
}

/// An integrator's read asks for its key with the key's creator in one statement, and records
/// the key's use at most once a minute, not on every request.
#[tokio::test]
async fn an_api_key_read_runs_one_statement_for_its_key() {
    let statements = Statements::install();
    let (app, _, _, path) = app_with_a_listing("listed").await;
    let admin = app.tenant_admin("acme").await;
    let response = app
        .post_json(
            "/v1/t/acme/api-keys",
            &serde_json::json!({ "name": "channel manager", "roles": ["guest"] }),
            Some(&admin.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    // The first read records the key's use (and fills the caches).
    assert_eq!(app.get_with(&path, &secret).await.status(), StatusCode::OK);

    let mut fewest = usize::MAX;
    for _ in 0..3 {
        let before = statements.count();
        assert_eq!(app.get_with(&path, &secret).await.status(), StatusCode::OK);
        fewest = fewest.min(statements.count() - before);
    }
    assert_eq!(fewest, 1, "the key with its creator, nothing written");
}

/// On PostgreSQL a replica that remembered a caller forgets them when the triggers notify it:
/// roles changed by hand in the database, and a session ended through another replica.
#[tokio::test]
async fn replicas_forget_a_changed_caller_when_postgresql_notifies_them() {
    use staybase::{
        auth::principals::{Principals, SignedIn},
        authz::Roles,
        ids::UserId,
    };

    let app = spawn_app().await;
    if !remembers_callers(&app) {
        // SQLite has no notifications: its replicas remember no caller.
        return;
    }
    let tenant = app.create_tenant("acme").await;
    let ana = app.register("acme", "ana@example.com", false).await;
    let user = UserId(ana.id.parse().unwrap());
    let principals = Principals::default();
    let listener =
        staybase::db::notifications::follow(&app.state.db, vec![Arc::new(principals.clone())])
            .expect("PostgreSQL has a listener");
    let remembered = || {
        let read = principals.begin_read();
        let signed_in = SignedIn {
            roles: Roles::default(),
            disabled: false,
            session_ended: false,
        };
        principals.remember(read, tenant.id, user, None, signed_in);
        principals.get(tenant.id, user, None).is_some()
    };
    let forgotten_soon = async |changed_at: Instant| {
        while principals.get(tenant.id, user, None).is_some() {
            assert!(
                changed_at.elapsed() < Duration::from_millis(400),
                "not notified"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    // Nothing is remembered until the listener listens.
    let started = Instant::now();
    while !remembered() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never listening"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let changed_at = Instant::now();
    app.set_roles(&ana, "guest,host").await;
    forgotten_soon(changed_at).await;

    assert!(remembered());
    let changed_at = Instant::now();
    let response = app
        .post_json(
            "/v1/t/acme/auth/logout",
            &serde_json::json!({ "refresh_token": ana.refresh_token }),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    forgotten_soon(changed_at).await;
    listener.abort();
}
