//! Ratings kept exact: after a random sequence of creations, edits, deletions, hides and
//! unhides, every property's average, count and per-star counts equal a recount; search's
//! `sort=rating` orders by the real averages, unrated properties last.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng, rngs::StdRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use staybase::on_db;

use super::{Market, call, expect, id, ids, market};
use crate::{
    bookings::listed_property,
    helpers::{Account, TestApp},
};

/// A review as the test expects it: its id, stars, and whether it is hidden.
#[derive(Debug, Clone)]
struct Expected {
    id: String,
    rating: i64,
    hidden: bool,
}

/// The summary the published reviews among `expected` make, as the API spells it.
fn summary_of<'a>(expected: impl Iterator<Item = &'a Expected>) -> Value {
    let mut stars = [0i64; 5];
    for review in expected.filter(|review| !review.hidden) {
        stars[(review.rating - 1) as usize] += 1;
    }
    let count: i64 = stars.iter().sum();
    let sum: i64 = stars.iter().zip(1..).map(|(n, s)| n * s).sum();
    let average = (count > 0).then(|| half_even_hundredths(sum, count) as f64 / 100.0);
    json!({
        "average": average,
        "count": count,
        "stars": { "1": stars[0], "2": stars[1], "3": stars[2], "4": stars[3], "5": stars[4] },
    })
}

/// `sum / count` in hundredths, rounded half to even, computed independently of the code.
fn half_even_hundredths(sum: i64, count: i64) -> i64 {
    let exact = sum as f64 * 100.0 / count as f64;
    let floor = exact.floor();
    let diff = exact - floor;
    let floor = floor as i64;
    if (diff - 0.5).abs() < 1e-9 {
        if floor % 2 == 0 { floor } else { floor + 1 }
    } else if diff > 0.5 {
        floor + 1
    } else {
        floor
    }
}

/// Every published review of the property, read page by page in `sort` order.
async fn all_pages(market: &Market, property: &str, sort: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(cursor) => format!("?sort={sort}&limit=2&cursor={cursor}"),
            None => format!("?sort={sort}&limit=2"),
        };
        let page = market.reviews_as(None, property, &query).await;
        found.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return found,
        }
    }
}

/// The database's own recount of published reviews against the stored aggregates of every
/// property: (id, recounted sum, recounted count, stored sum, stored count, stored x100).
async fn recount(app: &TestApp) -> Vec<(uuid::Uuid, i64, i64, i64, i64, i64)> {
    on_db!(&app.state.db, |pool| {
        sqlx::query_as(
            "SELECT p.id, \
             CAST(COALESCE((SELECT SUM(r.rating) FROM reviews r WHERE r.tenant_id = p.tenant_id \
               AND r.property_id = p.id AND r.status = 'published'), 0) AS BIGINT), \
             (SELECT COUNT(*) FROM reviews r WHERE r.tenant_id = p.tenant_id \
               AND r.property_id = p.id AND r.status = 'published'), \
             p.rating_sum, p.review_count, CAST(p.rating_x100 AS BIGINT) \
             FROM properties p ORDER BY p.id",
        )
        .fetch_all(pool)
        .await
    })
    .unwrap()
}

/// The database's per-star counts of a property against a recount of its published reviews.
async fn stars_recount(app: &TestApp, property: &str) -> (Vec<(i64, i64)>, Vec<(i64, i64)>) {
    let property = uuid::Uuid::parse_str(property).unwrap();
    on_db!(&app.state.db, |pool| {
        let stored: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT CAST(stars AS BIGINT), CAST(reviews AS BIGINT) FROM review_stars \
             WHERE property_id = $1 AND reviews > 0 ORDER BY stars",
        )
        .bind(property)
        .fetch_all(pool)
        .await
        .unwrap();
        let counted: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT CAST(rating AS BIGINT), COUNT(*) FROM reviews \
             WHERE property_id = $1 AND status = 'published' GROUP BY rating ORDER BY rating",
        )
        .bind(property)
        .fetch_all(pool)
        .await
        .unwrap();
        (stored, counted)
    })
}

/// Checks what anyone sees of `property` against `expected`, and the database against its own
/// recount.
async fn check(market: &Market, property: &str, expected: &BTreeMap<usize, Expected>, step: &str) {
    let want = summary_of(expected.values());
    let page = market.reviews(property).await;
    assert_eq!(page["summary"], want, "{step}");
    let shown = market.property(property).await;
    assert_eq!(shown["average_rating"], want["average"], "{step}");
    assert_eq!(shown["review_count"], want["count"], "{step}");
    let (stored, counted) = stars_recount(&market.app, property).await;
    assert_eq!(stored, counted, "{step}");
}

#[tokio::test]
async fn ratings_equal_a_recount_after_a_random_sequence() {
    let market = market("immediate").await;
    let app = &market.app;
    let properties = [
        market.property.clone(),
        listed_property(app, &market.host, "Barn").await,
    ];
    let mut guests: Vec<Account> = Vec::new();
    for n in 0..5 {
        let guest = app
            .register("acme", &format!("guest{n}@example.com"), false)
            .await;
        for property in &properties {
            market.stay(&guest, property, (1 + n, 2 + n)).await;
        }
        guests.push(guest);
    }
    market.advance_days(8).await;

    let seed: u64 = rand::random();
    println!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    // (property index) -> (guest index) -> the review expected.
    let mut expected: Vec<BTreeMap<usize, Expected>> = vec![BTreeMap::new(), BTreeMap::new()];
    for step in 0..60 {
        let p = rng.gen_range(0..properties.len());
        let g = rng.gen_range(0..guests.len());
        let property = properties[p].as_str();
        let guest = &guests[g];
        let rating = rng.gen_range(1..=5);
        let described = match expected[p].get(&g).cloned() {
            None => {
                let review = market.reviewed(guest, property, rating).await;
                expected[p].insert(
                    g,
                    Expected {
                        id: id(&review).to_owned(),
                        rating,
                        hidden: false,
                    },
                );
                format!("create {rating}")
            }
            Some(current) => match rng.gen_range(0..4) {
                0 if !current.hidden => {
                    expect(
                        market
                            .patch(guest, &current.id, json!({ "rating": rating }))
                            .await,
                        StatusCode::OK,
                    )
                    .await;
                    expected[p].get_mut(&g).unwrap().rating = rating;
                    format!("edit {} -> {rating}", current.rating)
                }
                1 => {
                    expect(
                        market.delete(guest, &current.id).await,
                        StatusCode::NO_CONTENT,
                    )
                    .await;
                    expected[p].remove(&g);
                    format!("delete {}", current.rating)
                }
                _ if current.hidden => {
                    expect(
                        market.unhide(&market.admin, &current.id).await,
                        StatusCode::OK,
                    )
                    .await;
                    expected[p].get_mut(&g).unwrap().hidden = false;
                    format!("unhide {}", current.rating)
                }
                _ => {
                    expect(
                        market.hide(&market.admin, &current.id, "moderated").await,
                        StatusCode::OK,
                    )
                    .await;
                    expected[p].get_mut(&g).unwrap().hidden = true;
                    format!("hide {}", current.rating)
                }
            },
        };
        let step = format!("step {step} (seed {seed}): {described} of property {p} by guest {g}");
        check(&market, property, &expected[p], &step).await;
    }

    for (p, property) in properties.iter().enumerate() {
        let published: Vec<&Expected> = expected[p]
            .values()
            .filter(|review| !review.hidden)
            .collect();
        for sort in ["newest", "rating_desc", "rating_asc"] {
            let listed = all_pages(&market, property, sort).await;
            assert_eq!(listed.len(), published.len(), "{sort} (seed {seed})");
            let ratings: Vec<i64> = listed
                .iter()
                .map(|review| review["rating"].as_i64().unwrap())
                .collect();
            let mut ordered = ratings.clone();
            match sort {
                "rating_desc" => ordered.sort_by(|a, b| b.cmp(a)),
                "rating_asc" => ordered.sort(),
                _ => {}
            }
            assert_eq!(ratings, ordered, "{sort} (seed {seed})");
            let mut listed_ids: Vec<&str> = listed.iter().map(id).collect();
            let mut expected_ids: Vec<&str> =
                published.iter().map(|review| review.id.as_str()).collect();
            listed_ids.sort_unstable();
            expected_ids.sort_unstable();
            assert_eq!(listed_ids, expected_ids, "{sort} (seed {seed})");
        }
    }
    for (property, sum, count, stored_sum, stored_count, x100) in recount(app).await {
        assert_eq!(
            (sum, count),
            (stored_sum, stored_count),
            "property {property}"
        );
        let want = if count == 0 {
            0
        } else {
            half_even_hundredths(sum, count)
        };
        assert_eq!(x100, want, "property {property}");
    }
}

#[tokio::test]
async fn sort_by_rating_orders_by_the_real_averages() {
    let market = market("immediate").await;
    let app = &market.app;
    let names = ["Four and a half", "Five", "Eleven thirds", "Unrated"];
    let mut properties = Vec::new();
    for name in names {
        properties.push(listed_property(app, &market.host, name).await);
    }
    let properties: Vec<&str> = properties.iter().map(String::as_str).collect();
    let search = |query: &'static str| async move {
        expect(
            call(app, (Method::GET, query), None, None).await,
            StatusCode::OK,
        )
        .await
    };
    // Cached while nothing is rated; every review must make it stale.
    search("/properties?sort=rating").await;
    let detail_before = market.property(properties[1]).await;
    assert_eq!(detail_before["average_rating"], json!(null));

    let ratings: [&[i64]; 3] = [&[5, 4], &[5], &[4, 4, 3]];
    let mut guests = Vec::new();
    for n in 0..3 {
        guests.push(
            app.register("acme", &format!("guest{n}@example.com"), false)
                .await,
        );
    }
    for (p, stars) in ratings.iter().enumerate() {
        for (g, _) in stars.iter().enumerate() {
            market
                .stay(&guests[g], properties[p], (1 + g as i64, 2 + g as i64))
                .await;
        }
    }
    market.advance_days(5).await;
    for (p, stars) in ratings.iter().enumerate() {
        for (g, rating) in stars.iter().enumerate() {
            market.reviewed(&guests[g], properties[p], *rating).await;
        }
    }

    let page = search("/properties?sort=rating").await;
    // Unrated properties last, newest first: the market's own listing is the oldest.
    let order = [
        properties[1],
        properties[0],
        properties[2],
        properties[3],
        market.property.as_str(),
    ];
    assert_eq!(ids(&page), order);
    let averages: Vec<Value> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|property| property["average_rating"].clone())
        .collect();
    assert_eq!(
        averages,
        [
            json!(5.0),
            json!(4.5),
            json!(3.67),
            json!(null),
            json!(null)
        ]
    );
    assert_eq!(market.property(properties[1]).await["average_rating"], 5.0);

    // Page by page, the cursor keeps the order.
    let mut walked = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(cursor) => format!("/properties?sort=rating&limit=1&cursor={cursor}"),
            None => "/properties?sort=rating&limit=1".to_owned(),
        };
        let page = expect(
            call(app, (Method::GET, &path), None, None).await,
            StatusCode::OK,
        )
        .await;
        walked.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => break,
        }
    }
    assert_eq!(walked, order);
}
