//! On PostgreSQL with 100 000 properties in one tenant (and 10 000 in each of ten others),
//! with their blocks, bookings and seasons, every kind of search is answered from indexes: no sequential
//! scan of the big tables. And a crowded radius, searched by walking the sort order, answers
//! what a sparse one would (on both backends).

use serde_json::Value;
use staybase::{
    dates::Stay,
    db::Db,
    ids::{TenantId, UserId},
    properties::{
        model::{Search, Sort},
        service::explain_search,
    },
};
use time::{Duration, OffsetDateTime};

use crate::helpers::spawn_app;

async fn fill(db: &Db, tenant: TenantId, count: i64) -> UserId {
    let Db::Postgres(pool) = db else {
        unreachable!()
    };
    let owner = UserId(uuid::Uuid::now_v7());
    sqlx::query(
        "INSERT INTO users (tenant_id, id, email, email_normalized, first_name, last_name, \
         password_hash, roles, created_at, updated_at) \
         VALUES ($1, $2, 'host@example.com', 'host@example.com', 'H', 'X', 'x', 'host', now(), now())",
    )
    .bind(tenant.0)
    .bind(owner.0)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO properties (tenant_id, id, owner_id, name, description, address, city, \
         city_key, country, lat, lng, currency, nightly_price, max_guests, amenities, status, \
         rating_x100, created_at, updated_at) \
         SELECT $1, gen_random_uuid(), $2, 'Home ' || g, 'd', 'a', 'City ' || (g % 500), \
           'city ' || (g % 500), (ARRAY['FR','DE','ES','IT','PT'])[1 + g % 5], \
           35 + (g % 1500) / 100.0, -5 + (g % 2500) / 100.0, 'EUR', 5000 + (g * 37) % 50000, \
           1 + g % 10, 'wifi', CASE WHEN g % 10 = 0 THEN 'draft' ELSE 'listed' END, \
           (g * 7) % 500, now(), now() \
         FROM generate_series(1, $3) AS g",
    )
    .bind(tenant.0)
    .bind(owner.0)
    .bind(count)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO property_amenities (tenant_id, property_id, amenity) \
         SELECT tenant_id, id, a FROM properties, unnest(ARRAY['wifi', 'pool']) AS a \
         WHERE tenant_id = $1 AND (a = 'wifi' OR nightly_price % 10 = 0)",
    )
    .bind(tenant.0)
    .execute(pool)
    .await
    .unwrap();
    // A block of a few nights on every fifth property, spread over the coming year.
    sqlx::query(
        "INSERT INTO blocked_ranges (tenant_id, id, property_id, start_date, end_date, created_at) \
         SELECT tenant_id, gen_random_uuid(), id, current_date + CAST(nightly_price % 365 AS INTEGER), \
           current_date + CAST(nightly_price % 365 AS INTEGER) + 3, now() \
         FROM properties WHERE tenant_id = $1 AND nightly_price % 5 = 0",
    )
    .bind(tenant.0)
    .execute(pool)
    .await
    .unwrap();
    // A confirmed stay on every third property, elsewhere in the year.
    sqlx::query(
        "INSERT INTO bookings (tenant_id, id, property_id, guest_id, check_in, check_out, guests, \
         status, currency, total, line_items, cancellation_policy, history, created_at, updated_at) \
         SELECT tenant_id, gen_random_uuid(), id, owner_id, \
           current_date + CAST((nightly_price + 100) % 365 AS INTEGER), \
           current_date + CAST((nightly_price + 100) % 365 AS INTEGER) + 4, 2, 'confirmed', 'EUR', \
           4 * nightly_price, '[]', 'moderate', '[]', now(), now() \
         FROM properties WHERE tenant_id = $1 AND nightly_price % 3 = 0",
    )
    .bind(tenant.0)
    .execute(pool)
    .await
    .unwrap();
    // A season of a month with a minimum stay on every seventh property.
    sqlx::query(
        "INSERT INTO property_seasons (tenant_id, id, property_id, start_date, end_date, \
         nightly_price, min_nights, created_at) \
         SELECT tenant_id, gen_random_uuid(), id, current_date + CAST(nightly_price % 300 AS INTEGER), \
           current_date + CAST(nightly_price % 300 AS INTEGER) + 30, nightly_price + 1000, 3, now() \
         FROM properties WHERE tenant_id = $1 AND nightly_price % 7 = 0",
    )
    .bind(tenant.0)
    .execute(pool)
    .await
    .unwrap();
    owner
}

/// Every scan node of the plan, as "Node Type on Relation".
fn scans(plan: &Value, found: &mut Vec<String>) {
    if let Some(node) = plan.get("Node Type").and_then(Value::as_str)
        && let Some(relation) = plan.get("Relation Name").and_then(Value::as_str)
    {
        found.push(format!("{node} on {relation}"));
    }
    for child in plan
        .get("Plans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        scans(child, found);
    }
}

#[tokio::test]
async fn searches_use_indexes_at_100k_properties() {
    let app = spawn_app().await;
    if !matches!(app.state.db, Db::Postgres(_)) {
        // Query plans are PostgreSQL's; the SQLite run checks the same searches' results.
        return;
    }
    let big = app.create_tenant("big").await;
    let owner = fill(&app.state.db, big.id, 100_000).await;
    for n in 0..10 {
        let other = app.create_tenant(&format!("other{n}")).await;
        fill(&app.state.db, other.id, 10_000).await;
    }
    let Db::Postgres(pool) = &app.state.db else {
        unreachable!()
    };
    sqlx::query("ANALYZE").execute(pool).await.unwrap();

    let today = OffsetDateTime::now_utc().date();
    let searches = [
        ("newest", Search::default()),
        (
            "city",
            Search {
                city: Some("City 42".into()),
                ..Search::default()
            },
        ),
        (
            "country and guests",
            Search {
                country: Some("FR".into()),
                guests: Some(4),
                ..Search::default()
            },
        ),
        (
            "price range by price",
            Search {
                min_price: Some(10_000),
                max_price: Some(12_000),
                sort: Some(Sort::PriceAsc),
                ..Search::default()
            },
        ),
        (
            "cheapest",
            Search {
                sort: Some(Sort::PriceAsc),
                ..Search::default()
            },
        ),
        (
            "dearest",
            Search {
                sort: Some(Sort::PriceDesc),
                ..Search::default()
            },
        ),
        (
            "best rated",
            Search {
                sort: Some(Sort::Rating),
                ..Search::default()
            },
        ),
        (
            "amenities",
            Search {
                amenities: vec!["wifi".into(), "pool".into()],
                ..Search::default()
            },
        ),
        (
            "radius",
            Search {
                near: Some((40.0, 5.0, 20.0)),
                ..Search::default()
            },
        ),
        (
            "crowded radius",
            Search {
                near: Some((42.5, 7.5, 150.0)),
                ..Search::default()
            },
        ),
        (
            "dates",
            Search {
                stay: Some(Stay {
                    check_in: today + Duration::days(10),
                    check_out: today + Duration::days(13),
                }),
                ..Search::default()
            },
        ),
        (
            "city, dates and price",
            Search {
                city: Some("City 7".into()),
                stay: Some(Stay {
                    check_in: today + Duration::days(10),
                    check_out: today + Duration::days(13),
                }),
                max_price: Some(30_000),
                sort: Some(Sort::PriceAsc),
                ..Search::default()
            },
        ),
    ];
    let mut sequential = Vec::new();
    for (name, mut search) in searches {
        search.limit = 20;
        let plan = explain_search(&app.state.db, big.id, None, &search)
            .await
            .unwrap()
            .unwrap();
        let mut found = Vec::new();
        scans(&plan[0]["Plan"], &mut found);
        if found.iter().any(|scan| scan.starts_with("Seq Scan")) {
            sequential.push(format!("{name}: {found:?}"));
            if std::env::var_os("SHOW_PLANS").is_some() {
                eprintln!("{name}: {}", serde_json::to_string_pretty(&plan).unwrap());
            }
        }
    }
    let mine = Search {
        limit: 20,
        ..Search::default()
    };
    let plan = explain_search(&app.state.db, big.id, Some(owner), &mine)
        .await
        .unwrap()
        .unwrap();
    let mut found = Vec::new();
    scans(&plan[0]["Plan"], &mut found);
    if found.iter().any(|scan| scan.starts_with("Seq Scan")) {
        sequential.push(format!("owner: {found:?}"));
    }
    assert!(
        sequential.is_empty(),
        "sequential scans:\n{}",
        sequential.join("\n")
    );
}

/// A bulk load (the demo seed) leaves the planner's statistics fresh, so the next lookup of a
/// property by id is planned on the primary key, not as a scan of the tenant's listings through
/// another index (10 ms instead of 0.05 ms until autovacuum came by).
#[tokio::test]
async fn a_property_is_looked_up_by_its_key_right_after_a_bulk_load() {
    let app = spawn_app().await;
    let Db::Postgres(pool) = &app.state.db else {
        // Query plans and statistics are PostgreSQL's.
        return;
    };
    let seeded = staybase::demo::seed(&app.state.db, "bulk", 3_000, crate::helpers::PASSWORD)
        .await
        .unwrap();
    let counted: f32 =
        sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE relname = 'properties'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(counted >= 3_000.0, "statistics count {counted} properties");
    let id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM properties WHERE tenant_id = $1 LIMIT 1")
            .bind(seeded.tenant.id.0)
            .fetch_one(pool)
            .await
            .unwrap();
    let plan = staybase::properties::service::explain_lookup(
        &app.state.db,
        seeded.tenant.id,
        staybase::ids::PropertyId(id),
    )
    .await
    .unwrap()
    .expect("a PostgreSQL plan");
    let root = &plan[0]["Plan"];
    let mut found = Vec::new();
    scans(root, &mut found);
    assert_eq!(found, ["Index Scan on properties"], "{plan:#}");
    assert_eq!(root["Index Name"], "properties_pkey", "{plan:#}");
}

/// Listings in a radius the way the search computes it (an equirectangular projection at the
/// centre's latitude), in km.
fn distance_km((lat, lng): (f64, f64), (centre_lat, centre_lng): (f64, f64)) -> f64 {
    let shrink = centre_lat.to_radians().cos();
    let (dlat, dlng) = (lat - centre_lat, (lng - centre_lng) * shrink);
    (dlat * dlat + dlng * dlng).sqrt() * 111.195
}

/// Every page of a search, in order.
async fn every_page(app: &crate::helpers::TestApp, query: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let mut cursor = String::new();
    loop {
        let response = app
            .get(&format!("/v1/t/crowd/properties?limit=100&{query}{cursor}"))
            .await;
        assert_eq!(response.status(), 200, "{query}");
        let page: Value = response.json().await.unwrap();
        found.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return found,
        }
    }
}

/// A radius holding more than a thousand listings is searched by walking the sort order (not
/// by reading the whole area): it finds exactly the listings in the radius, in that order, on
/// every page.
#[tokio::test]
async fn a_crowded_radius_finds_every_listing_in_it_in_order() {
    let app = spawn_app().await;
    staybase::demo::seed(&app.state.db, "crowd", 4_000, crate::helpers::PASSWORD)
        .await
        .unwrap();
    let (centre, radius) = ((47.5, 6.0), 500.0);
    let everything = every_page(&app, "").await;
    let location = |listing: &Value| {
        let at = &listing["location"];
        (at["lat"].as_f64().unwrap(), at["lng"].as_f64().unwrap())
    };
    // Listings within 1 % of the edge are left out of the comparison: float rounding may
    // place them either side.
    let near_edge =
        |listing: &Value| (distance_km(location(listing), centre) - radius).abs() < radius / 100.0;
    let id = |listing: &Value| listing["id"].as_str().unwrap().to_owned();
    let expected: Vec<String> = everything
        .iter()
        .filter(|listing| distance_km(location(listing), centre) <= radius && !near_edge(listing))
        .map(id)
        .collect();
    // The radius's bounding box holds more than the thousand listings that make it crowded.
    let degrees = radius / 111.195;
    let in_box = everything
        .iter()
        .filter(|listing| {
            let (lat, lng) = location(listing);
            (lat - centre.0).abs() <= degrees
                && (lng - centre.1).abs() <= degrees / centre.0.to_radians().cos()
        })
        .count();
    assert!(in_box > 1_000, "{in_box} in the bounding box");
    assert!(expected.len() > 100, "{} in the radius", expected.len());
    assert!(
        expected.len() < in_box,
        "the radius leaves some of the box out"
    );

    for (sort, ordered_by) in [("newest", "id"), ("price_asc", "price")] {
        let found = every_page(&app, &format!("near=47.5,6.0&radius_km=500&sort={sort}")).await;
        let comparable: Vec<String> = found.iter().filter(|l| !near_edge(l)).map(id).collect();
        if sort == "newest" {
            assert_eq!(comparable, expected, "sorted by {ordered_by}");
        } else {
            let mut sorted = comparable.clone();
            sorted.sort();
            let mut wanted = expected.clone();
            wanted.sort();
            assert_eq!(sorted, wanted, "the same listings sorted by {ordered_by}");
            let prices: Vec<i64> = found
                .iter()
                .map(|l| l["nightly_price"]["amount"].as_i64().unwrap())
                .collect();
            assert!(prices.is_sorted(), "sorted by {ordered_by}");
        }
    }
}
