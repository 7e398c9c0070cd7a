//! Every kind of bad request answers problem+json with a stable code, never a 500.

use poem::{
    Route, Server,
    listener::{Acceptor, Listener, TcpListener},
};
use poem_openapi::{Object, OpenApi, OpenApiService, payload::Json};
use reqwest::StatusCode;
use serde_json::{Value, json};
use staybase::http::{AllowedMethods, BodyExample, BodyLimits, Edge, JsonBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{assert_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn unknown_routes_are_problem_documents() {
    let app = spawn_app().await;
    for path in ["/nope", "/v1", "/v1/t/acme/no-such-resource", "/v2/t/acme"] {
        assert_problem(
            app.get(path).await,
            StatusCode::NOT_FOUND,
            "route_not_found",
        )
        .await;
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let response = app
        .client
        .delete(app.url("/v1/t/acme"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    assert_problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;

    let response = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    assert_problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn an_oversize_body_is_413_with_or_without_content_length() {
    let app = spawn_app_with(|config| config.max_body_bytes = 4096).await;
    app.create_tenant("acme").await;

    let response = app
        .client
        .post(app.url("/v1/t/acme"))
        .header("content-type", "application/json")
        .body(vec![b' '; 5000])
        .send()
        .await
        .unwrap();
    let body = assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(body["detail"].as_str().unwrap().contains("4096"));

    // Chunked: no Content-Length to trust, the limit holds while reading.
    let chunk = "x".repeat(3000);
    let request = format!(
        "POST /v1/t/acme HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
        len = chunk.len()
    );
    let (head, body) = raw_request(app.addr, request.as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json")
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "payload_too_large");
}

#[tokio::test]
async fn a_body_under_the_limit_reaches_the_route() {
    let app = spawn_app_with(|config| config.max_body_bytes = 4096).await;
    app.create_tenant("acme").await;
    let response = app
        .client
        .post(app.url("/v1/t/acme"))
        .body(vec![b' '; 4000])
        .send()
        .await
        .unwrap();
    assert_problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

async fn raw_request(addr: std::net::SocketAddr, request: &[u8]) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_owned(), body.to_owned())
}

/// A JSON operation built on the crate's body extractor, served behind the crate's edge.
#[derive(Debug, Object)]
struct Location {
    city: String,
    #[oai(validator(minimum(value = "-90"), maximum(value = "90")))]
    lat: f64,
}

#[derive(Debug, Object)]
struct Listing {
    name: String,
    guests: u32,
    location: Location,
    amenities: Option<Vec<String>>,
}

impl BodyExample for Listing {
    fn example() -> Value {
        json!({ "name": "Loft", "guests": 2, "location": { "city": "Porto", "lat": 41.1 } })
    }
}

struct ListingApi;

#[OpenApi]
impl ListingApi {
    #[oai(path = "/listings", method = "post")]
    async fn create(&self, body: JsonBody<Listing>) -> Json<Value> {
        Json(json!({ "name": body.name, "guests": body.guests, "city": body.location.city }))
    }
}

async fn spawn_json_fixture() -> String {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
    let route = Route::new().nest("/", OpenApiService::new(ListingApi, "fixture", "1"));
    let limits = BodyLimits {
        body: 64 * 1024,
        upload: 64 * 1024,
    };
    let edge = Edge::new(route, limits, AllowedMethods::default());
    tokio::spawn(Server::new_with_acceptor(acceptor).run(edge));
    format!("http://{addr}/listings")
}

async fn post(url: &str, content_type: Option<&str>, body: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(url).body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn json_bodies_are_checked_field_by_field() {
    let url = spawn_json_fixture().await;

    let ok = post(
        &url,
        Some("application/json"),
        r#"{"name":"Loft","guests":2,"location":{"city":"Lyon","lat":45.7}}"#,
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.json::<Value>().await.unwrap()["city"], "Lyon");

    let response = post(&url, Some("application/json"), r#"{"name": "Loft", "#).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "malformed_json").await;

    let response = post(&url, Some("application/json"), "").await;
    assert_problem(response, StatusCode::BAD_REQUEST, "malformed_json").await;

    let response = post(&url, Some("text/plain"), r#"{"name":"Loft"}"#).await;
    assert_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let response = post(&url, None, r#"{"name":"Loft"}"#).await;
    assert_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let response = post(
        &url,
        Some("application/json; charset=utf-8"),
        r#"{"name":5,"guests":-1,"location":{"lat":120},"amenities":["wifi",7]}"#,
    )
    .await;
    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| {
            assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
            error["field"].as_str().unwrap()
        })
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "amenities[1]",
            "guests",
            "location.city",
            "location.lat",
            "name"
        ]
    );
}

/// A database that drops the connection (PostgreSQL terminating the backend, as it does while
/// stopping; a closed pool on SQLite) is a 503 to retry, not an internal error.
#[tokio::test]
async fn a_lost_database_connection_is_unavailable_not_an_internal_error() {
    use staybase::{db::Db, error::ApiError};

    let app = spawn_app().await;
    let err = match &app.state.db {
        Db::Postgres(pool) => {
            let mut conn = pool.acquire().await.unwrap();
            sqlx::query("SELECT pg_terminate_backend(pg_backend_pid())")
                .execute(&mut *conn)
                .await
                .unwrap_err()
        }
        Db::Sqlite(pool) => {
            pool.close().await;
            sqlx::query("SELECT 1").execute(pool).await.unwrap_err()
        }
    };
    let answer = ApiError::from(err);
    assert_eq!(answer.status(), 503, "{answer:?}");
    assert_eq!(answer.code().as_str(), "service_unavailable");
}
