//! Photo rules: the property's owner (or a tenant admin) uploads, orders and removes them;
//! anyone who may see the property sees its ready renditions.

use std::collections::HashMap;

use bytes::Bytes;
use uuid::Uuid;

use super::{
    jobs::MakeRenditions,
    model::{ImageStatus, MAX_IMAGE_BYTES, MAX_IMAGES, PropertyImage, Rendition},
    store,
};
use crate::{
    app::AppState,
    auth::Principal,
    db::Timestamp,
    error::{ApiError, ErrorCode},
    ids::{PropertyId, TenantId},
    images,
    jobs::{self, EnqueueOptions},
    properties::service::{self as properties, CHANGE},
    tenants::{Tenant, service as tenants},
};

/// The photos of properties the caller has already been allowed to see, in display order.
#[tracing::instrument(skip(state, ids), fields(properties = ids.len()))]
pub async fn of_properties(
    state: &AppState,
    tenant: TenantId,
    ids: &[PropertyId],
) -> Result<HashMap<PropertyId, Vec<PropertyImage>>, ApiError> {
    store::of_properties(&state.db, tenant, ids).await
}

/// Stores an upload and queues its renditions.
#[tracing::instrument(skip(state, tenant, principal, bytes), fields(tenant = %tenant.slug, bytes = bytes.len()))]
pub async fn upload(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    bytes: Vec<u8>,
) -> Result<PropertyImage, ApiError> {
    let (_, permit) = properties::for_change(state, tenant, principal, property, CHANGE).await?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_IMAGE_BYTES,
        });
    }
    // The header alone: an image too large to decode safely is refused before it is stored.
    let format = images::inspect(&bytes)
        .map_err(|err| err.for_field("file"))?
        .format;
    let id = Uuid::now_v7();
    let original = format!(
        "tenants/{}/properties/{property}/originals/{id}.{}",
        tenant.id,
        format.extension()
    );
    state.storage.put(&original, Bytes::from(bytes)).await?;

    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let existing = store::of_property_in(&mut tx, tenant.id, property).await?;
    if existing.len() >= MAX_IMAGES {
        drop(tx);
        state.storage.delete(&original).await?;
        return Err(ApiError::Conflict {
            code: ErrorCode::TooManyImages,
            detail: format!("A property has at most {MAX_IMAGES} images."),
        });
    }
    let image = PropertyImage {
        id,
        property_id: property.0,
        position: existing
            .iter()
            .map(|image| image.position + 1)
            .max()
            .unwrap_or(0),
        status: ImageStatus::Processing.as_str().to_owned(),
        original_key: Some(original),
        thumbnail_key: None,
        large_key: None,
    };
    store::insert(&mut tx, &permit, &image, now).await?;
    jobs::enqueue(
        &mut tx,
        &MakeRenditions {
            tenant: tenant.id.0,
            image: id,
        },
        EnqueueOptions {
            tenant: Some(tenant.id),
            ..EnqueueOptions::default()
        },
    )
    .await?;
    tenants::commit_listings_change(state, tx, tenant.id).await?;
    Ok(image)
}

/// Removes an image and its files.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn delete(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    image: Uuid,
) -> Result<(), ApiError> {
    let (_, permit) = properties::for_change(state, tenant, principal, property, CHANGE).await?;
    let mut tx = state.db.begin().await?;
    let found = store::of_property_in(&mut tx, tenant.id, property)
        .await?
        .into_iter()
        .find(|candidate| candidate.id == image);
    let Some(found) = found else {
        return Err(ApiError::NotFound("image"));
    };
    store::delete(&mut tx, &permit, image).await?;
    tenants::commit_listings_change(state, tx, tenant.id).await?;
    for key in [found.original_key, found.thumbnail_key, found.large_key]
        .into_iter()
        .flatten()
    {
        state.storage.delete(&key).await?;
    }
    Ok(())
}

/// Puts the images in the given order; `ids` must name each image of the property once.
#[tracing::instrument(skip(state, tenant, principal, ids), fields(tenant = %tenant.slug))]
pub async fn reorder(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    ids: &[Uuid],
) -> Result<Vec<PropertyImage>, ApiError> {
    let (_, permit) = properties::for_change(state, tenant, principal, property, CHANGE).await?;
    let mut tx = state.db.begin().await?;
    let current = store::of_property_in(&mut tx, tenant.id, property).await?;
    let mut expected: Vec<Uuid> = current.iter().map(|image| image.id).collect();
    let mut given = ids.to_vec();
    expected.sort();
    given.sort();
    if expected != given {
        return Err(ApiError::validation(
            "image_ids",
            "must list every image of the property exactly once",
        ));
    }
    for (position, id) in ids.iter().enumerate() {
        store::set_position(&mut tx, &permit, *id, position).await?;
    }
    let ordered = store::of_property_in(&mut tx, tenant.id, property).await?;
    tenants::commit_listings_change(state, tx, tenant.id).await?;
    Ok(ordered)
}

/// A ready rendition's bytes, for anyone who may see the property.
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn rendition(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    image: Uuid,
    which: Rendition,
) -> Result<Bytes, ApiError> {
    properties::get(state, tenant, principal, property).await?;
    let images = store::of_properties(&state.db, tenant.id, &[property]).await?;
    let found = images
        .get(&property)
        .and_then(|images| images.iter().find(|candidate| candidate.id == image))
        .ok_or(ApiError::NotFound("image"))?;
    let key = match which {
        Rendition::Thumbnail => found.thumbnail_key.as_ref(),
        Rendition::Large => found.large_key.as_ref(),
    }
    .ok_or(ApiError::NotFound("image rendition"))?;
    state
        .storage
        .get(key)
        .await?
        .ok_or(ApiError::NotFound("image rendition"))
}
