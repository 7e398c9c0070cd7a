//! Who sees which payments: the guest their own, the host their properties', admins all;
//! anyone else, and any other tenant, gets 404.

use reqwest::StatusCode;

use super::{Market, fetched, get, market, paid};
use crate::helpers::assert_problem;

#[tokio::test]
async fn payments_are_seen_by_their_guest_host_and_admins_only() {
    let market = market().await;
    let Market {
        app,
        guest,
        host,
        admin,
        ..
    } = &market;
    let booking = market.booking(guest, (10, 12), "pending_payment").await;
    let payment = paid(app, guest, &booking, "pm_sim_success").await;
    let path = format!("/payments/{}", payment["id"].as_str().unwrap());
    for who in [guest, host, admin] {
        assert_eq!(fetched(app, who, &path).await["id"], payment["id"]);
    }
    let stranger = app.register("acme", "stranger@example.com", false).await;
    assert_problem(
        get(app, &stranger, &path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let ids = |page: serde_json::Value| -> Vec<serde_json::Value> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].clone())
            .collect()
    };
    assert_eq!(
        ids(fetched(app, guest, "/payments").await),
        [payment["id"].clone()]
    );
    assert_eq!(
        ids(fetched(app, host, "/payments?role=host").await),
        [payment["id"].clone()]
    );
    assert_eq!(
        ids(fetched(app, admin, "/payments?role=admin").await),
        [payment["id"].clone()]
    );
    assert!(ids(fetched(app, &stranger, "/payments").await).is_empty());
    assert!(ids(fetched(app, host, "/payments").await).is_empty());
    assert_problem(
        get(app, guest, "/payments?role=admin").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Another tenant's admin, on their own tenant, finds nothing of acme's.
    app.create_tenant("other").await;
    let other_admin = app.tenant_admin("other").await;
    let response = app
        .client
        .get(app.url(&format!("/v1/t/other{path}")))
        .bearer_auth(&other_admin.access_token)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
}
