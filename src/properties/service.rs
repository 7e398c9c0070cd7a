//! Listings: who may create, see, change and remove them, and how they are searched. Public
//! answers (what anonymous callers see) are cached here, keyed by the tenant's listings version.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use super::{
    model::{
        AMENITIES, Cursor, Listing, Page, Property, PropertyDetail, PropertyStatus, RatingChange,
        Search, Sort, is_amenity, new_calendar_token, rating_x100,
    },
    store,
};
use crate::{
    app::AppState,
    auth::Principal,
    authz::{Permit, PropertyAction, ReviewAction, Role, own_or_any},
    availability::{self, RuleSearch},
    cache::{ReadCache, Rendering, Seen},
    db::{Db, Timestamp, Tx},
    error::{ApiError, ErrorCode, FieldError},
    events,
    ids::{PropertyId, TenantId, UserId},
    photos::{model::PropertyImage, service as photos},
    tenants::{Tenant, service as tenants, settings::TenantSettings},
};

/// The permissions to change a listing: its owner's, or the tenant-wide one.
pub const CHANGE: (PropertyAction, PropertyAction) =
    (PropertyAction::UpdateOwn, PropertyAction::UpdateAny);

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

/// The amenity catalogue: the codes listings and searches use.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn amenities(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
) -> Result<&'static [(&'static str, &'static str)], ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, PropertyAction::Read)
        .await?;
    Ok(AMENITIES)
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
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
        ical_token: Some(new_calendar_token()),
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin().await?;
    // The currency as of this transaction: a concurrent settings change either waits for this
    // listing (and then finds it) or has already committed (and is seen here).
    let currency = tenants::currency_in(&mut tx, tenant.id).await?;
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
    tenants::commit_listings_change(state, tx, tenant.id).await?;
    Ok(property)
}

/// Inserts a listing an operator's tool made (the demo seed), as it is: no caller, no checks
/// beyond the store's, no event.
#[tracing::instrument(skip_all, fields(tenant = %permit.tenant(), property = %property.id))]
pub async fn insert_as_operator(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    property: &Property,
) -> Result<(), ApiError> {
    store::insert(tx, permit, property).await
}

/// Whether the caller manages the property (its owner or a tenant admin) and so sees its
/// private parts, such as the calendar export URL.
fn manages(principal: &Principal, property: &Property) -> bool {
    manages_owned_by(principal, Some(property.owner_id))
}

/// Whether the caller manages a property of `owner`: its owner, or a tenant admin.
fn manages_owned_by(principal: &Principal, owner: Option<UserId>) -> bool {
    matches!(principal, Principal::User(user)
        if Some(user.user_id) == owner || user.roles.contains(Role::TenantAdmin))
}

fn is_owner(principal: &Principal, property: &Property) -> bool {
    matches!(principal, Principal::User(user) if user.user_id == property.owner_id)
}

/// The property if the caller may see it; others' drafts and unlisted ones are not found.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn get(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: PropertyId,
) -> Result<Property, ApiError> {
    let property = store::get(&state.db, tenant.id, id)
        .await?
        .ok_or(ApiError::NotFound("property"))?;
    check_visible(state, tenant, principal, &property).await?;
    Ok(property)
}

/// Refuses (as not found) a property the caller may not see.
async fn check_visible(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: &Property,
) -> Result<(), ApiError> {
    if property.listing.status == PropertyStatus::Listed {
        state
            .authorizer
            .check(&state.db, tenant, principal, PropertyAction::Read)
            .await?;
        return Ok(());
    }
    let action = own_or_any(
        is_owner(principal, property),
        (PropertyAction::ReadOwn, PropertyAction::ReadAny),
    );
    match state
        .authorizer
        .check(&state.db, tenant, principal, action)
        .await
    {
        Ok(_) => Ok(()),
        Err(ApiError::Forbidden(_) | ApiError::AuthenticationRequired) => {
            Err(ApiError::NotFound("property"))
        }
        Err(other) => Err(other),
    }
}

/// The property with its photos, as the caller may see it. Everyone who does not manage a
/// listed property (anonymous and signed-in guests alike) gets the same answer, which is
/// cached and handed over as `rendering` renders it; its owner and the tenant's admins always
/// read it afresh, with its private fields.
#[tracing::instrument(skip(state, tenant, principal, rendering), fields(tenant = %tenant.slug))]
pub async fn detail(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: PropertyId,
    rendering: &Rendering<PropertyDetail>,
) -> Result<Seen<PropertyDetail>, ApiError> {
    let key = ReadCache::key(tenant, &format!("property/{id}"));
    if let Some(body) = state.cache.rendered(&key, tenant, rendering, |answer| {
        !manages_owned_by(principal, answer.manager)
    }) {
        state
            .authorizer
            .check(&state.db, tenant, principal, PropertyAction::Read)
            .await?;
        return Ok(Seen::Rendered(body));
    }
    let detail = match state.cache.get_json::<PropertyDetail>(&key).await {
        Some(detail) if !manages(principal, &detail.property) => {
            state
                .authorizer
                .check(&state.db, tenant, principal, PropertyAction::Read)
                .await?;
            detail
        }
        _ => {
            // The property and its photos in one query.
            let (property, photos) = store::get_with_images(&state.db, tenant.id, id)
                .await?
                .ok_or(ApiError::NotFound("property"))?;
            check_visible(state, tenant, principal, &property).await?;
            let detail = as_seen_by(principal, property, photos);
            if detail.private || detail.property.listing.status != PropertyStatus::Listed {
                return Ok(Seen::Value(detail));
            }
            state.cache.put_json(key.clone(), &detail).await;
            detail
        }
    };
    let owner = detail.property.owner_id;
    Ok(Seen::Rendered(state.cache.keep_rendered(
        &key,
        tenant,
        rendering,
        Some(owner),
        detail,
    )))
}

/// Each property with its photos (one query for all of them), as the caller sees it.
async fn with_photos(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    properties: Vec<Property>,
) -> Result<Vec<PropertyDetail>, ApiError> {
    let ids: Vec<PropertyId> = properties.iter().map(|property| property.id).collect();
    let mut photos = photos::of_properties(state, tenant.id, &ids).await?;
    Ok(properties
        .into_iter()
        .map(|property| {
            let photos = photos.remove(&property.id).unwrap_or_default();
            as_seen_by(principal, property, photos)
        })
        .collect())
}

/// The property with its photos, and whether the caller manages it; the calendar secret is
/// kept only for those who do.
fn as_seen_by(
    principal: &Principal,
    mut property: Property,
    photos: Vec<PropertyImage>,
) -> PropertyDetail {
    let private = manages(principal, &property);
    if !private {
        property.ical_token = None;
    }
    PropertyDetail {
        photos,
        property,
        private,
    }
}

/// The property and the permit to act on it with the first of `scoped` (its owner) or the
/// second (anyone else).
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, property = %id))]
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

/// The stay rules of a property, for Staybase's own work (completing stays at the check-out
/// time); a deleted property's stays follow the default rules in the tenant's time zone.
pub async fn stay_rules(
    db: &Db,
    tenant: TenantId,
    id: PropertyId,
) -> Result<availability::StayRules, ApiError> {
    Ok(store::get(db, tenant, id)
        .await?
        .map(|property| property.listing.rules)
        .unwrap_or_default())
}

/// The stay rules of a property, read in `tx` without locking it (for a payout's time, in a
/// payment's transaction that already holds the booking).
pub async fn stay_rules_in(
    tx: &mut Tx,
    tenant: TenantId,
    id: PropertyId,
) -> Result<availability::StayRules, ApiError> {
    Ok(store::stay_rules_in(tx, tenant, id)
        .await?
        .unwrap_or_default())
}

/// A listed property, read in `tx` and locked until it ends (on PostgreSQL; SQLite's writer
/// lock serializes anyway): what a booking is made against.
#[tracing::instrument(skip(tx))]
pub async fn listed_for_booking(
    tx: &mut Tx,
    tenant: TenantId,
    id: PropertyId,
) -> Result<Property, ApiError> {
    store::get_in(tx, tenant, id)
        .await?
        .filter(|property| property.listing.status == PropertyStatus::Listed)
        .ok_or(ApiError::NotFound("property"))
}

/// Adds `change` (to the sum and the count of published ratings) to the property's rating,
/// in the transaction of the review change that causes it. The property row stays locked
/// until `tx` ends (on PostgreSQL; SQLite's writer lock serializes anyway), so concurrent
/// changes add up; the caller commits with `commit_rating_change`.
#[tracing::instrument(skip(tx, permit), fields(tenant = %permit.tenant()))]
pub async fn adjust_rating(
    tx: &mut Tx,
    permit: &Permit<ReviewAction>,
    id: PropertyId,
    change: RatingChange,
) -> Result<(), ApiError> {
    let (sum, count) = store::rating_in(tx, permit.tenant(), id)
        .await?
        .ok_or(ApiError::NotFound("property"))?;
    let (sum, count) = (sum + change.sum, count + change.count);
    if sum < 0 || count < 0 {
        return Err(ApiError::internal(format!(
            "the rating of property {id} would become {sum} over {count} reviews"
        )));
    }
    store::set_rating(tx, permit, id, (sum, count, rating_x100(sum, count))).await
}

/// Commits a transaction that changed ratings: the tenant's cached property answers (details
/// and searches, which show and sort by ratings) are stale from then on.
pub async fn commit_rating_change(
    state: &AppState,
    tx: Tx,
    tenant: TenantId,
) -> Result<(), ApiError> {
    tenants::commit_listings_change(state, tx, tenant).await
}

/// A partial edit, applied over the current listing and then checked as a whole.
#[tracing::instrument(skip(state, tenant, principal, edit, currencies), fields(tenant = %tenant.slug))]
pub async fn update(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: PropertyId,
    edit: impl FnOnce(Listing) -> Listing,
    currencies: PriceCurrencies,
) -> Result<PropertyDetail, ApiError> {
    let (_, permit) = for_change(state, tenant, principal, id, CHANGE).await?;
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
    tenants::commit_listings_change(state, tx, tenant.id).await?;
    let photos = photos::of_properties(state, tenant.id, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(PropertyDetail {
        property: updated,
        photos,
        private: true,
    })
}

#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
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
    let upcoming = (tenant.today(), last_date);
    if availability::booked_in(&mut tx, tenant.id, id, upcoming).await? {
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
    tenants::commit_listings_change(state, tx, tenant.id).await
}

/// Replaces the property's calendar export secret (its owner, or tenant admins); the old feed
/// URL stops working. Returns the new secret.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn rotate_calendar_token(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: PropertyId,
) -> Result<String, ApiError> {
    let (_, permit) = for_change(state, tenant, principal, id, CHANGE).await?;
    let token = new_calendar_token();
    let mut tx = state.db.begin().await?;
    if !store::set_ical_token(&mut tx, &permit, id, &token).await? {
        return Err(ApiError::NotFound("property"));
    }
    tx.commit().await?;
    Ok(token)
}

/// The property whose calendar export secret is `token`, with its name and preparation
/// nights: the secret is the credential, so anyone who may browse the marketplace may present
/// it.
#[tracing::instrument(skip(state, tenant, principal, token), fields(tenant = %tenant.slug))]
pub async fn by_calendar_token(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    token: &str,
) -> Result<Option<(PropertyId, String, u32)>, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, PropertyAction::Read)
        .await?;
    store::find_by_calendar_token(&state.db, tenant.id, token).await
}

/// Whether the tenant has ever had a property (deleted ones count: their bookings keep prices),
/// read in `tx`.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn tenant_has_properties(tx: &mut Tx, tenant: TenantId) -> Result<bool, ApiError> {
    store::tenant_has_properties(tx, tenant).await
}

/// Checks a search's filters and decodes its cursor.
fn checked(search: &Search) -> Result<(Sort, Option<Cursor>), ApiError> {
    let sort = search.sort.unwrap_or(Sort::Newest);
    let mut errors = Vec::new();
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
        }
    }
    let cursor = search
        .cursor
        .as_ref()
        .map(|cursor| {
            URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .filter(|cursor: &Cursor| cursor.sort == sort)
                .ok_or_else(|| ApiError::validation("cursor", "is not a cursor of this search"))
        })
        .transpose()?;
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok((sort, cursor))
}

/// Listed properties matching `search`, or the caller's own in any status (`mine`), a page at a
/// time. Anonymous answers are the same for everyone, and cached: those are handed over as
/// `rendering` renders them.
#[tracing::instrument(skip(state, tenant, principal, search, rendering), fields(tenant = %tenant.slug))]
pub async fn search(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    search: Search,
    rendering: &Rendering<Page>,
) -> Result<Seen<Page>, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, PropertyAction::Read)
        .await?;
    // A search for dates depends on every booking and block, which do not touch the tenant
    // row (so that one tenant's bookings do not queue on it): it is not cached.
    let cacheable = principal.is_anonymous() && search.stay.is_none();
    let key = ReadCache::key(
        tenant,
        &format!(
            "search?{}",
            serde_json::to_string(&search).map_err(ApiError::internal)?
        ),
    );
    if cacheable {
        if let Some(body) = state.cache.rendered(&key, tenant, rendering, |_| true) {
            return Ok(Seen::Rendered(body));
        }
        if let Some(page) = state.cache.get_json(&key).await {
            let body = state
                .cache
                .keep_rendered(&key, tenant, rendering, None, page);
            return Ok(Seen::Rendered(body));
        }
    }
    let owner = if search.mine {
        Some(principal.user()?.user_id)
    } else {
        None
    };
    let (sort, cursor) = checked(&search)?;
    let now = tenant.now();
    let rules = search.stay.map(|stay| RuleSearch {
        stay,
        now,
        tenant_today: tenant.today(),
        tenant_window_days: tenant.settings.booking_window_days,
    });
    let query = store::search_query(
        &state.db,
        tenant.id,
        (owner, rules.as_ref()),
        &search,
        (sort, cursor.as_ref()),
    )
    .await?;
    let mut properties = store::search(&state.db, &query).await?;
    let next_cursor = (properties.len() > search.limit as usize).then(|| {
        properties.truncate(search.limit as usize);
        let last = properties.last().expect("a full page has a last row");
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&Cursor::after(sort, last)).unwrap_or_default())
    });
    // The SQL bounds the time rules for any time zone; each property's own zone decides here
    // (after the cursor is taken, so a page may hold fewer rows than the limit).
    if let Some(stay) = search.stay {
        properties.retain(|property| {
            property
                .listing
                .rules
                .in_force(&tenant.settings, now)
                .check(stay)
                .is_ok()
        });
    }
    let page = Page {
        properties: with_photos(state, tenant, principal, properties).await?,
        next_cursor,
    };
    if !cacheable {
        return Ok(Seen::Value(page));
    }
    state.cache.put_json(key.clone(), &page).await;
    Ok(Seen::Rendered(
        state
            .cache
            .keep_rendered(&key, tenant, rendering, None, page),
    ))
}

/// PostgreSQL's plan for reading a property by id (`None` on SQLite), for the test that keeps
/// it on the primary key after a bulk load.
pub async fn explain_lookup(
    db: &Db,
    tenant: TenantId,
    id: PropertyId,
) -> Result<Option<serde_json::Value>, ApiError> {
    store::explain_get(db, tenant, id).await
}

/// PostgreSQL's plan for `search` (`None` on SQLite), for the tests that keep searches on
/// their indexes.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn explain_search(
    db: &Db,
    tenant: TenantId,
    owner: Option<UserId>,
    search: &Search,
) -> Result<Option<serde_json::Value>, ApiError> {
    let (sort, cursor) = checked(search)?;
    let now = Timestamp::now();
    let rules = search.stay.map(|stay| RuleSearch {
        stay,
        now,
        tenant_today: now.get().date(),
        tenant_window_days: TenantSettings::defaults("").booking_window_days,
    });
    let query = store::search_query(
        db,
        tenant,
        (owner, rules.as_ref()),
        search,
        (sort, cursor.as_ref()),
    )
    .await?;
    store::explain_search(db, &query).await
}
