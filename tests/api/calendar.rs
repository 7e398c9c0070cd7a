//! Blocked dates, the availability view, and the search's date filter.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Account, Block, Location, NewProperty, Stay, TestApp, assert_problem, day, eur, spawn_app,
};

async fn listed_property(app: &TestApp, host: &Account, name: &str) -> String {
    let property = NewProperty {
        name,
        description: "d",
        location: Location::NICE,
        nightly_price: eur(10_000),
        max_guests: 2,
        min_nights: Some(2),
        max_nights: Some(10),
        status: Some("listed"),
        ..NewProperty::default()
    };
    let created = app.properties(host).created(&property).await;
    created["id"].as_str().unwrap().to_owned()
}

async fn block(app: &TestApp, host: &Account, id: &str, start: i64, end: i64) -> reqwest::Response {
    let block = Block {
        reason: Some("maintenance"),
        ..Block::days(start, end)
    };
    app.properties(host).block(id, &block).await
}

#[tokio::test]
async fn blocks_merge_and_show_in_availability() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let id = listed_property(&app, &host, "Villa").await;

    let first = block(&app, &host, &id, 10, 12).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    // Touching at day 12 and overlapping the next: one block from day 10 to 16.
    assert_eq!(
        block(&app, &host, &id, 12, 14).await.status(),
        StatusCode::CREATED
    );
    let merged: Value = block(&app, &host, &id, 13, 16).await.json().await.unwrap();
    assert_eq!(merged["start"], day(10));
    assert_eq!(merged["end"], day(16));
    assert_eq!(
        block(&app, &host, &id, 20, 21).await.status(),
        StatusCode::CREATED
    );

    let list: Value = app
        .get_with(
            &format!("/v1/t/acme/properties/{id}/blocked-dates"),
            &host.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    let ranges: Vec<(String, String)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|block| {
            (
                block["start"].as_str().unwrap().to_owned(),
                block["end"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(ranges, [(day(10), day(16)), (day(20), day(21))]);

    let availability: Value = app
        .get(&format!(
            "/v1/t/acme/properties/{id}/availability?from={}&to={}",
            day(9),
            day(17)
        ))
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = availability["nights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "available",
            "blocked",
            "blocked",
            "blocked",
            "blocked",
            "blocked",
            "blocked",
            "available"
        ]
    );
    assert_eq!(availability["nights"][0]["date"], day(9));

    let block_id = list["data"][1]["id"].as_str().unwrap();
    let response = app
        .client
        .delete(app.url(&format!(
            "/v1/t/acme/properties/{id}/blocked-dates/{block_id}"
        )))
        .bearer_auth(&host.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let list: Value = app
        .get_with(
            &format!("/v1/t/acme/properties/{id}/blocked-dates"),
            &host.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn calendar_input_is_checked_and_owned() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let other = app.register("acme", "other@example.com", true).await;
    let id = listed_property(&app, &host, "Villa").await;

    let body = assert_problem(
        block(&app, &host, &id, 5, 5).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "end");
    let body = assert_problem(
        block(&app, &host, &id, -3, 2).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "start");
    let response = app
        .properties(&host)
        .block(&id, &Block::new("soon", "later"))
        .await;
    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
    assert_problem(
        block(&app, &other, &id, 3, 4).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get_with(
            &format!("/v1/t/acme/properties/{id}/blocked-dates"),
            &other.access_token,
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    for query in [
        format!("from={}&to={}", day(1), day(400)),
        "from=x&to=y".to_owned(),
        format!("from={}", day(1)),
    ] {
        let response = app
            .get(&format!("/v1/t/acme/properties/{id}/availability?{query}"))
            .await;
        assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

#[tokio::test]
async fn the_date_filter_skips_blocked_properties_and_respects_stay_limits() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    listed_property(&app, &host, "Free").await;
    let busy = listed_property(&app, &host, "Busy").await;
    assert_eq!(
        block(&app, &host, &busy, 12, 13).await.status(),
        StatusCode::CREATED
    );

    let names = |page: Value| -> Vec<String> {
        let mut names: Vec<String> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let search = |check_in: i64, check_out: i64| {
        let app = &app;
        async move {
            app.get(&format!(
                "/v1/t/acme/properties?check_in={}&check_out={}",
                day(check_in),
                day(check_out)
            ))
            .await
            .json::<Value>()
            .await
            .unwrap()
        }
    };
    assert_eq!(
        names(search(10, 14).await),
        ["Free"],
        "the 12th is blocked at Busy"
    );
    assert_eq!(
        names(search(13, 16).await),
        ["Busy", "Free"],
        "check-out day is free to book"
    );
    assert_eq!(
        names(search(10, 12).await),
        ["Busy", "Free"],
        "the block starts on check-out day"
    );
    assert!(
        names(search(10, 11).await).is_empty(),
        "one night is under the 2-night minimum"
    );
    assert!(
        names(search(1, 20).await).is_empty(),
        "19 nights are over the 10-night maximum"
    );

    let response = app
        .get(&format!("/v1/t/acme/properties?check_in={}", day(3)))
        .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn the_ics_export_lists_blocked_nights_and_its_url_rotates() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let id = listed_property(&app, &host, "Villa, by the sea").await;
    assert_eq!(
        block(&app, &host, &id, 10, 12).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        block(&app, &host, &id, 20, 25).await.status(),
        StatusCode::CREATED
    );

    let path = format!("/v1/t/acme/properties/{id}");
    let public: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(
        public["ical_export_url"],
        Value::Null,
        "only the owner sees the feed URL"
    );
    let owned = app.properties(&host).fetched(&id).await;
    let url = owned["ical_export_url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("/v1/t/acme/ical/cal_") && url.ends_with(".ics"),
        "{url}"
    );

    let response = app.get(&url).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let body = response.text().await.unwrap();
    let calendar = ical::IcalParser::new(body.as_bytes())
        .next()
        .expect("one calendar")
        .expect("parses");
    let mut events: Vec<(String, String)> = calendar
        .events
        .iter()
        .map(|event| {
            let value = |name: &str| {
                event
                    .properties
                    .iter()
                    .find(|p| p.name == name)
                    .and_then(|p| p.value.clone())
                    .unwrap()
            };
            (value("DTSTART"), value("DTEND"))
        })
        .collect();
    events.sort();
    let compact = |offset: i64| day(offset).replace('-', "");
    assert_eq!(
        events,
        [(compact(10), compact(12)), (compact(20), compact(25))]
    );

    let rotated: Value = app
        .post_json(
            &format!("{path}/ical-export/rotate"),
            &json!({}),
            Some(&host.access_token),
        )
        .await
        .json()
        .await
        .unwrap();
    let new_url = rotated["ical_export_url"].as_str().unwrap();
    assert_ne!(new_url, url);
    assert_problem(app.get(&url).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.get(new_url).await.status(), StatusCode::OK);
}

/// Serves `body` as an .ics feed on a loopback port; returns the feed's URL.
pub(crate) async fn serve_feed(body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://127.0.0.1:{port}/calendar.ics")
}

pub(crate) fn ics_day(offset: i64) -> String {
    day(offset).replace('-', "")
}

#[tokio::test]
async fn an_imported_calendar_blocks_its_nights() {
    let app = crate::helpers::spawn_app_with(|config| {
        config.outbound_allow = "127.0.0.0/8".into();
        config.workers = 1;
        config.job_poll_interval_ms = 20;
    })
    .await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let id = listed_property(&app, &host, "Villa").await;
    let feed = serve_feed(format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other//EN\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nSUMMARY:Booked elsewhere\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        ics_day(5),
        ics_day(8)
    ))
    .await;

    let response = app
        .post_json(
            &format!("/v1/t/acme/properties/{id}/calendar-imports"),
            &json!({ "url": feed }),
            Some(&host.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let import: Value = response.json().await.unwrap();

    let statuses = || app.nights(&id, 4, 9);
    crate::helpers::eventually(|| async { statuses().await[1] == "blocked" }).await;
    assert_eq!(
        statuses().await,
        ["available", "blocked", "blocked", "blocked", "available"]
    );

    let list: Value = app
        .get_with(
            &format!("/v1/t/acme/properties/{id}/calendar-imports"),
            &host.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(list["data"][0]["last_synced_at"].is_string(), "{list}");
    assert_eq!(list["data"][0]["last_error"], Value::Null);
    // Imported nights are not the host's blocks, and are not exported back out.
    let blocks: Value = app
        .get_with(
            &format!("/v1/t/acme/properties/{id}/blocked-dates"),
            &host.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(blocks["data"].as_array().unwrap().is_empty());

    let response = app
        .client
        .delete(app.url(&format!(
            "/v1/t/acme/properties/{id}/calendar-imports/{}",
            import["id"].as_str().unwrap()
        )))
        .bearer_auth(&host.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(statuses().await.iter().all(|status| status == "available"));
}

#[tokio::test]
async fn imports_from_private_addresses_are_refused() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let id = listed_property(&app, &host, "Villa").await;
    for url in [
        "http://127.0.0.1:9/cal.ics",
        "http://169.254.169.254/latest/meta-data",
        // IPv6 forms whose embedded IPv4 address is loopback.
        "http://[64:ff9b::7f00:1]:9/cal.ics",
        "http://[::127.0.0.1]:9/cal.ics",
        "http://[2002:7f00:1::]:9/cal.ics",
        "ftp://example.com/cal.ics",
        "not a url",
    ] {
        let response = app
            .post_json(
                &format!("/v1/t/acme/properties/{id}/calendar-imports"),
                &json!({ "url": url }),
                Some(&host.access_token),
            )
            .await;
        let body = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "url", "{url}");
    }
}

/// Every date the API takes is of the years 0001 to 9999, which `YYYY-MM-DD` can write back:
/// a signed year parsed, and was answered as `"date": ""`.
#[tokio::test]
async fn dates_outside_the_years_0001_to_9999_are_refused_everywhere() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let host = app.register("acme", "host@example.com", true).await;
    let guest = app.register("acme", "guest@example.com", false).await;
    let id = listed_property(&app, &host, "Villa").await;
    async fn refused(response: reqwest::Response, field: &str) {
        let body = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], field, "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("0001 to 9999"), "{body}");
    }

    for (from, to) in [("-9999-01-01", "-9999-01-03"), ("0000-12-30", "0001-01-01")] {
        refused(
            app.get(&format!(
                "/v1/t/acme/properties/{id}/availability?from={from}&to={to}"
            ))
            .await,
            "from",
        )
        .await;
    }
    refused(
        app.properties(&host)
            .block(&id, &Block::new("-0001-01-01", day(3)))
            .await,
        "start",
    )
    .await;
    refused(
        app.quote(&id, &Stay::new("-0001-01-01", "-0001-01-03", 2))
            .await,
        "check_in",
    )
    .await;
    refused(
        app.bookings(&guest)
            .create(&Stay::new("0000-06-01", "0000-06-03", 2).at(&id))
            .await,
        "check_in",
    )
    .await;
    refused(app.bookings(&guest).list("from=-9999-01-01").await, "from").await;
}
