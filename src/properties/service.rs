//! Listings: who may create, see, change and remove them, and how they are searched.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    model::{Listing, Property, PropertyStatus, is_amenity},
    store::{self, SearchQuery},
};
use crate::{
    app::AppState,
    auth::Principal,
    authz::{Permit, PropertyAction, own_or_any},
    db::{Bind, Timestamp},
    error::{ApiError, ErrorCode, FieldError},
    events,
    ids::{PropertyId, TenantId, UserId},
    tenants::Tenant,
};

/// The currencies a request gave its prices in, by field, checked against the tenant's.
pub type PriceCurrencies = Vec<(&'static str, String)>;

fn check_currencies(tenant: &Tenant, currencies: &PriceCurrencies, errors: &mut Vec<FieldError>) {
    for (field, currency) in currencies {
        if *currency != tenant.settings.currency {
            errors.push(FieldError::new(
                format!("{field}.currency"),
                format!(
                    "must be {}, the marketplace's currency",
                    tenant.settings.currency
                ),
            ));
        }
    }
}

fn validated(
    tenant: &Tenant,
    listing: Listing,
    currencies: &PriceCurrencies,
) -> Result<Listing, ApiError> {
    let mut errors = Vec::new();
    check_currencies(tenant, currencies, &mut errors);
    match listing.validated() {
        Ok(listing) if errors.is_empty() => Ok(listing),
        Ok(_) => Err(ApiError::Validation(errors)),
        Err(mut more) => {
            errors.append(&mut more);
            Err(ApiError::Validation(errors))
        }
    }
}

fn summary(property: &Property) -> serde_json::Value {
    serde_json::json!({
        "id": property.id,
        "owner_id": property.owner_id,
        "status": property.listing.status.as_str(),
        "nightly_price": { "amount": property.listing.nightly_price, "currency": property.currency },
    })
}

pub async fn create(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    listing: Listing,
    currencies: PriceCurrencies,
) -> Result<Property, ApiError> {
    let caller = principal.user()?;
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, PropertyAction::Create)
        .await?;
    let listing = validated(tenant, listing, &currencies)?;
    let now = Timestamp::now();
    let property = Property {
        tenant_id: tenant.id,
        id: PropertyId(Uuid::now_v7()),
        owner_id: caller.user_id,
        currency: tenant.settings.currency.clone(),
        listing,
        rating_sum: 0,
        review_count: 0,
        ical_token: Some(super::ical::new_token()),
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin().await?;
    // The currency as of this transaction: a concurrent settings change either waits for this
    // listing (and then finds it) or has already committed (and is seen here).
    let currency = crate::tenants::store::currency_for_share(&mut tx, tenant.id).await?;
    if currency != property.currency {
        return Err(ApiError::validation(
            "nightly_price.currency",
            format!("must be {currency}, the marketplace's currency"),
        ));
    }
    store::insert(&mut tx, &permit, &property).await?;
    events::record(
        &mut tx,
        tenant.id,
        "property.created",
        property.id.0,
        &summary(&property),
        now,
    )
    .await?;
    crate::tenants::store::bump_listings(&mut tx, tenant.id).await?;
    tx.commit().await?;
    Ok(property)
}

/// Whether the caller manages the property (its owner or a tenant admin) and so sees its
/// private parts, such as the calendar export URL.
pub fn manages(principal: &Principal, property: &Property) -> bool {
    is_owner(principal, property)
        || matches!(principal, Principal::User(user) if user.roles.contains(crate::authz::Role::TenantAdmin))
}

fn is_owner(principal: &Principal, property: &Property) -> bool {
    matches!(principal, Principal::User(user) if user.user_id == property.owner_id)
}

/// The property if the caller may see it; others' drafts and unlisted ones are not found.
pub async fn get(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: PropertyId,
) -> Result<Property, ApiError> {
    let property = store::get(&state.db, tenant.id, id)
        .await?
        .ok_or(ApiError::NotFound("property"))?;
    if property.listing.status == PropertyStatus::Listed {
        state
            .authorizer
            .check(&state.db, tenant, principal, PropertyAction::Read)
            .await?;
        return Ok(property);
    }
    let action = own_or_any(
        is_owner(principal, &property),
        (PropertyAction::ReadOwn, PropertyAction::ReadAny),
    );
    match state
        .authorizer
        .check(&state.db, tenant, principal, action)
        .await
    {
        Ok(_) => Ok(property),
        Err(ApiError::Forbidden(_) | ApiError::AuthenticationRequired) => {
            Err(ApiError::NotFound("property"))
        }
        Err(other) => Err(other),
    }
}

/// The property and the permit to act on it with the first of `scoped` (its owner) or the
/// second (anyone else).
pub async fn for_change(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: PropertyId,
    scoped: (PropertyAction, PropertyAction),
) -> Result<(Property, Permit<PropertyAction>), ApiError> {
    let property = get(state, tenant, principal, id).await?;
    let action = own_or_any(is_owner(principal, &property), scoped);
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, action)
        .await?;
    Ok((property, permit))
}

/// A partial edit, applied over the current listing and then checked as a whole.
pub async fn update(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: PropertyId,
    edit: impl FnOnce(Listing) -> Listing,
    currencies: PriceCurrencies,
) -> Result<Property, ApiError> {
    let (_, permit) = for_change(
        state,
        tenant,
        principal,
        id,
        (PropertyAction::UpdateOwn, PropertyAction::UpdateAny),
    )
    .await?;
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    // The edit applies to the listing as it is now, locked until the change commits, so two
    // concurrent edits of different fields both survive.
    let property = store::get_in(&mut tx, tenant.id, id)
        .await?
        .ok_or(ApiError::NotFound("property"))?;
    let listing = validated(tenant, edit(property.listing.clone()), &currencies)?;
    if !store::update(&mut tx, &permit, id, &listing, now).await? {
        return Err(ApiError::NotFound("property"));
    }
    let updated = Property {
        listing,
        updated_at: now,
        ..property
    };
    events::record(
        &mut tx,
        tenant.id,
        "property.updated",
        id.0,
        &summary(&updated),
        now,
    )
    .await?;
    crate::tenants::store::bump_listings(&mut tx, tenant.id).await?;
    tx.commit().await?;
    Ok(updated)
}

pub async fn delete(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: PropertyId,
) -> Result<(), ApiError> {
    let (property, permit) = for_change(
        state,
        tenant,
        principal,
        id,
        (PropertyAction::DeleteOwn, PropertyAction::DeleteAny),
    )
    .await?;
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    if store::get_in(&mut tx, tenant.id, id).await?.is_none() {
        return Err(ApiError::NotFound("property"));
    }
    // The last date both backends store as plain `YYYY-MM-DD`.
    let last_date = time::macros::date!(9999 - 12 - 31);
    let upcoming = (tenant.settings.today(), last_date);
    if crate::bookings::store::any_held_in(&mut tx, tenant.id, id, upcoming).await? {
        return Err(ApiError::Conflict {
            code: ErrorCode::PropertyHasBookings,
            detail: "The property has upcoming bookings; cancel them or unlist it instead.".into(),
        });
    }
    if !store::soft_delete(&mut tx, &permit, id, now).await? {
        return Err(ApiError::NotFound("property"));
    }
    events::record(
        &mut tx,
        tenant.id,
        "property.deleted",
        id.0,
        &summary(&property),
        now,
    )
    .await?;
    crate::tenants::store::bump_listings(&mut tx, tenant.id).await?;
    tx.commit().await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    Newest,
    PriceAsc,
    PriceDesc,
    Rating,
}

#[derive(Debug, Default)]
pub struct Search {
    pub city: Option<String>,
    pub country: Option<String>,
    /// Centre and radius in kilometres.
    pub near: Option<(f64, f64, f64)>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub guests: Option<u32>,
    pub amenities: Vec<String>,
    /// Only properties free every night of `[check_in, check_out)` whose stay limits fit.
    pub stay: Option<(time::Date, time::Date)>,
    /// Only the caller's own listings, in any status.
    pub mine: bool,
    pub sort: Option<Sort>,
    pub cursor: Option<String>,
    pub limit: u32,
}

/// Where the previous page ended, as the sort saw it.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    sort: Sort,
    key: i64,
    id: Uuid,
}

fn sort_key(sort: Sort, property: &Property) -> i64 {
    match sort {
        Sort::Newest => 0,
        Sort::PriceAsc | Sort::PriceDesc => property.listing.nightly_price,
        Sort::Rating => property
            .average_rating()
            .map_or(0, |rating| (rating * 100.0).round() as i64),
    }
}

pub struct Page {
    pub properties: Vec<Property>,
    pub next_cursor: Option<String>,
}

const KM_PER_DEGREE: f64 = 111.195;

pub async fn search(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    search: Search,
) -> Result<Page, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, PropertyAction::Read)
        .await?;
    let owner = if search.mine {
        Some(principal.user()?.user_id)
    } else {
        None
    };
    let (query, sort) = search_query(tenant.id, owner, &search)?;
    let mut properties = store::search(&state.db, &query).await?;
    let next_cursor = (properties.len() > search.limit as usize).then(|| {
        properties.truncate(search.limit as usize);
        let last = properties.last().expect("a full page has a last row");
        let cursor = Cursor {
            sort,
            key: sort_key(sort, last),
            id: last.id.0,
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
    });
    Ok(Page {
        properties,
        next_cursor,
    })
}

/// The SQL of a search (one more row than a page, to tell whether another page follows):
/// listed properties, or `owner`'s in any status.
pub fn search_query(
    tenant: TenantId,
    owner: Option<UserId>,
    search: &Search,
) -> Result<(SearchQuery, Sort), ApiError> {
    let sort = search.sort.unwrap_or(Sort::Newest);
    let mut conditions = vec!["tenant_id = $1".to_owned(), "deleted_at IS NULL".to_owned()];
    let mut binds = vec![Bind::Uuid(tenant.0)];
    // Adds a condition on a new bind; the condition gets the bind's placeholder number.
    macro_rules! add {
        ($condition:expr, $value:expr $(,)?) => {{
            binds.push($value);
            let n = binds.len();
            conditions.push($condition(n));
        }};
    }
    if let Some(owner) = owner {
        add!(|n: usize| format!("owner_id = ${n}"), Bind::Uuid(owner.0));
    } else {
        add!(
            |n: usize| format!("status = ${n}"),
            Bind::Text(PropertyStatus::Listed.as_str().into()),
        );
    }
    let mut errors = Vec::new();
    if let Some(city) = &search.city {
        add!(
            |n: usize| format!("city_key = ${n}"),
            Bind::Text(city.trim().to_lowercase()),
        );
    }
    if let Some(country) = &search.country {
        add!(
            |n: usize| format!("country = ${n}"),
            Bind::Text(country.trim().to_uppercase()),
        );
    }
    if let Some(guests) = search.guests {
        add!(
            |n: usize| format!("max_guests >= ${n}"),
            Bind::Int(i64::from(guests)),
        );
    }
    if let Some(min) = search.min_price {
        add!(|n: usize| format!("nightly_price >= ${n}"), Bind::Int(min));
    }
    if let Some(max) = search.max_price {
        add!(|n: usize| format!("nightly_price <= ${n}"), Bind::Int(max));
    }
    if let (Some(min), Some(max)) = (search.min_price, search.max_price)
        && min > max
    {
        errors.push(FieldError::new("min_price", "must not exceed max_price"));
    }
    for (index, amenity) in search.amenities.iter().enumerate() {
        if !is_amenity(amenity) {
            errors.push(FieldError::new(
                format!("amenities[{index}]"),
                "is not an amenity code",
            ));
            continue;
        }
        add!(
            |n: usize| {
                format!(
                    "EXISTS (SELECT 1 FROM property_amenities a WHERE a.tenant_id = properties.tenant_id \
                     AND a.property_id = properties.id AND a.amenity = ${n})"
                )
            },
            Bind::Text(amenity.clone()),
        );
    }
    if let Some((lat, lng, radius_km)) = search.near {
        // A bounding box the indexes can use, then the distance on an equirectangular
        // projection (accurate to well under 1 % at city scale; needs no trigonometry in SQL).
        let degrees = radius_km / KM_PER_DEGREE;
        let shrink = lat.to_radians().cos().max(0.01);
        add!(
            |n: usize| format!("lat >= ${n}"),
            Bind::Float(lat - degrees)
        );
        add!(
            |n: usize| format!("lat <= ${n}"),
            Bind::Float(lat + degrees)
        );
        add!(
            |n: usize| format!("lng >= ${n}"),
            Bind::Float(lng - degrees / shrink),
        );
        add!(
            |n: usize| format!("lng <= ${n}"),
            Bind::Float(lng + degrees / shrink),
        );
        binds.push(Bind::Float(lat));
        binds.push(Bind::Float(lng));
        binds.push(Bind::Float(shrink));
        binds.push(Bind::Float(degrees * degrees));
        let n = binds.len();
        conditions.push(format!(
            "((lat - ${a}) * (lat - ${a}) + (lng - ${b}) * ${c} * (lng - ${b}) * ${c}) <= ${d}",
            a = n - 3,
            b = n - 2,
            c = n - 1,
            d = n
        ));
    }
    if let Some((check_in, check_out)) = search.stay {
        let nights = (check_out - check_in).whole_days();
        add!(|n: usize| format!("min_nights <= ${n}"), Bind::Int(nights));
        add!(|n: usize| format!("max_nights >= ${n}"), Bind::Int(nights));
        binds.push(Bind::Date(check_in));
        binds.push(Bind::Date(check_out));
        let n = binds.len();
        conditions.push(format!(
            "NOT EXISTS (SELECT 1 FROM blocked_ranges b WHERE b.tenant_id = properties.tenant_id \
             AND b.property_id = properties.id AND b.start_date < ${} AND b.end_date > ${})",
            n,
            n - 1
        ));
        conditions.push(crate::bookings::store::free_of_bookings(n - 1, n));
    }
    if let Some(cursor) = &search.cursor {
        let cursor: Cursor = URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .filter(|cursor: &Cursor| cursor.sort == sort)
            .ok_or_else(|| ApiError::validation("cursor", "is not a cursor of this search"))?;
        if sort != Sort::Newest {
            binds.push(Bind::Int(cursor.key));
        }
        binds.push(Bind::Uuid(cursor.id));
        let (k, i) = (binds.len() - 1, binds.len());
        conditions.push(match sort {
            Sort::Newest => format!("id < ${i}"),
            Sort::PriceAsc => {
                format!("(nightly_price > ${k} OR (nightly_price = ${k} AND id > ${i}))")
            }
            Sort::PriceDesc => {
                format!("(nightly_price < ${k} OR (nightly_price = ${k} AND id < ${i}))")
            }
            Sort::Rating => format!("(rating_x100 < ${k} OR (rating_x100 = ${k} AND id < ${i}))"),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let order_by = match sort {
        Sort::Newest => "id DESC",
        Sort::PriceAsc => "nightly_price ASC, id ASC",
        Sort::PriceDesc => "nightly_price DESC, id DESC",
        Sort::Rating => "rating_x100 DESC, id DESC",
    };
    Ok((
        SearchQuery {
            conditions,
            binds,
            order_by,
            limit: search.limit + 1,
        },
        sort,
    ))
}
