//! Listing photos: uploads recognised by content, renditions made by a job (re-encoded, so no
//! EXIF or GPS data leaves), ordering and removal.

use std::{collections::HashMap, io::Cursor, time::Duration};

use bytes::Bytes;
use image::{ImageFormat as Codec, imageops::FilterType};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::service as properties;
use crate::{
    app::AppState,
    auth::Principal,
    authz::PropertyAction,
    db::{Db, Timestamp, Tx},
    error::{ApiError, ErrorCode},
    ids::{PropertyId, TenantId},
    jobs::{self, EnqueueOptions, Job, JobContext, JobError, JobRegistry},
    on_db, on_tx,
    storage::ImageFormat,
    tenants::Tenant,
};

/// Photos per listing.
pub const MAX_IMAGES: usize = 20;
/// Largest photo upload.
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;
/// Longest side of each rendition, in pixels.
const THUMBNAIL_SIDE: u32 = 400;
const LARGE_SIDE: u32 = 1600;
/// Refused before decoding: larger images could exhaust memory.
const MAX_PIXELS: u64 = 50_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageStatus {
    Processing,
    Ready,
    Failed,
}

impl ImageStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PropertyImage {
    pub id: Uuid,
    pub property_id: Uuid,
    pub position: i64,
    status: String,
    original_key: Option<String>,
    thumbnail_key: Option<String>,
    large_key: Option<String>,
}

impl PropertyImage {
    pub fn status(&self) -> ImageStatus {
        match self.status.as_str() {
            "ready" => ImageStatus::Ready,
            "failed" => ImageStatus::Failed,
            _ => ImageStatus::Processing,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendition {
    Thumbnail,
    Large,
}

const COLUMNS: &str = "id, property_id, CAST(position AS BIGINT) AS position, status, original_key, thumbnail_key, large_key";

/// The images of several properties at once, in order: one query for a whole page of listings.
pub async fn of_properties(
    db: &Db,
    tenant: TenantId,
    ids: &[PropertyId],
) -> Result<HashMap<Uuid, Vec<PropertyImage>>, ApiError> {
    let mut by_property: HashMap<Uuid, Vec<PropertyImage>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_property);
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|n| format!("${}", n + 2)).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM property_images WHERE tenant_id = $1 AND property_id IN ({}) \
         ORDER BY property_id, position, id",
        placeholders.join(", ")
    );
    let rows: Vec<PropertyImage> = on_db!(db, |pool| {
        let mut query = sqlx::query_as(&sql).bind(tenant.0);
        for id in ids {
            query = query.bind(id.0);
        }
        query.fetch_all(pool).await
    })?;
    for row in rows {
        by_property.entry(row.property_id).or_default().push(row);
    }
    Ok(by_property)
}

async fn images_in(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
) -> Result<Vec<PropertyImage>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM property_images WHERE tenant_id = $1 AND property_id = $2 ORDER BY position, id"
    );
    Ok(on_tx!(tx, |conn| sqlx::query_as(&sql)
        .bind(tenant.0)
        .bind(property.0)
        .fetch_all(conn)
        .await)?)
}

/// Stores an upload and queues its renditions.
pub async fn upload(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    bytes: Vec<u8>,
) -> Result<PropertyImage, ApiError> {
    properties::for_change(
        state,
        tenant,
        principal,
        property,
        (PropertyAction::UpdateOwn, PropertyAction::UpdateAny),
    )
    .await?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_IMAGE_BYTES,
        });
    }
    let format = ImageFormat::sniff(&bytes).ok_or_else(|| {
        ApiError::UnsupportedMediaType("The file is not a JPEG, PNG or WebP image.".into())
    })?;
    let id = Uuid::now_v7();
    let original = format!(
        "tenants/{}/properties/{property}/originals/{id}.{}",
        tenant.id,
        format.extension()
    );
    state.storage.put(&original, Bytes::from(bytes)).await?;

    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let existing = images_in(&mut tx, tenant.id, property).await?;
    if existing.len() >= MAX_IMAGES {
        drop(tx);
        state.storage.delete(&original).await?;
        return Err(ApiError::Conflict {
            code: ErrorCode::TooManyImages,
            detail: format!("A property has at most {MAX_IMAGES} images."),
        });
    }
    let position = existing
        .iter()
        .map(|image| image.position + 1)
        .max()
        .unwrap_or(0);
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO property_images (tenant_id, id, property_id, position, status, original_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'processing', $5, $6, $6)",
        )
        .bind(tenant.id.0)
        .bind(id)
        .bind(property.0)
        .bind(position as i32)
        .bind(&original)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
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
    crate::tenants::store::bump_listings(&mut tx, tenant.id).await?;
    tx.commit().await?;
    Ok(PropertyImage {
        id,
        property_id: property.0,
        position,
        status: ImageStatus::Processing.as_str().to_owned(),
        original_key: Some(original),
        thumbnail_key: None,
        large_key: None,
    })
}

/// Removes an image and its files.
pub async fn delete(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    image: Uuid,
) -> Result<(), ApiError> {
    properties::for_change(
        state,
        tenant,
        principal,
        property,
        (PropertyAction::UpdateOwn, PropertyAction::UpdateAny),
    )
    .await?;
    let mut tx = state.db.begin().await?;
    let found = images_in(&mut tx, tenant.id, property)
        .await?
        .into_iter()
        .find(|candidate| candidate.id == image);
    let Some(found) = found else {
        return Err(ApiError::NotFound("image"));
    };
    on_tx!(&mut tx, |conn| {
        sqlx::query("DELETE FROM property_images WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.id.0)
            .bind(image)
            .execute(conn)
            .await
            .map(drop)
    })?;
    crate::tenants::store::bump_listings(&mut tx, tenant.id).await?;
    tx.commit().await?;
    for key in [found.original_key, found.thumbnail_key, found.large_key]
        .into_iter()
        .flatten()
    {
        state.storage.delete(&key).await?;
    }
    Ok(())
}

/// Puts the images in the given order; `ids` must name each image of the property once.
pub async fn reorder(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    ids: &[Uuid],
) -> Result<Vec<PropertyImage>, ApiError> {
    properties::for_change(
        state,
        tenant,
        principal,
        property,
        (PropertyAction::UpdateOwn, PropertyAction::UpdateAny),
    )
    .await?;
    let mut tx = state.db.begin().await?;
    let current = images_in(&mut tx, tenant.id, property).await?;
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
        on_tx!(&mut tx, |conn| {
            sqlx::query("UPDATE property_images SET position = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.id.0)
                .bind(*id)
                .bind(position as i32)
                .execute(conn)
                .await
                .map(drop)
        })?;
    }
    let ordered = images_in(&mut tx, tenant.id, property).await?;
    crate::tenants::store::bump_listings(&mut tx, tenant.id).await?;
    tx.commit().await?;
    Ok(ordered)
}

/// A ready rendition's bytes, for anyone who may see the property.
pub async fn rendition(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    image: Uuid,
    which: Rendition,
) -> Result<Bytes, ApiError> {
    properties::get(state, tenant, principal, property).await?;
    let images = of_properties(&state.db, tenant.id, &[property]).await?;
    let found = images
        .get(&property.0)
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

#[derive(Debug, Serialize, Deserialize)]
pub struct MakeRenditions {
    pub tenant: Uuid,
    pub image: Uuid,
}

impl Job for MakeRenditions {
    const KIND: &'static str = "property_image.renditions";
    const MAX_ATTEMPTS: u32 = 4;
    const TIMEOUT: Duration = Duration::from_secs(120);
}

pub fn register_jobs(registry: &mut JobRegistry) {
    registry.register(make_renditions);
}

/// Decodes the upload and writes the thumbnail and large JPEG renditions; idempotent.
async fn make_renditions(context: JobContext, job: MakeRenditions) -> Result<(), JobError> {
    let state = &context.state;
    let tenant = TenantId(job.tenant);
    let row: Option<PropertyImage> = on_db!(&state.db, |pool| {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM property_images WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.0)
        .bind(job.image)
        .fetch_optional(pool)
        .await
    })
    .map_err(ApiError::from)?;
    let Some(image) = row else {
        return Ok(()); // Deleted since the upload.
    };
    let Some(original) = image.original_key.clone() else {
        return Ok(()); // Already done.
    };
    let Some(bytes) = state.storage.get(&original).await? else {
        return Err(JobError::Permanent(format!(
            "the upload {original} is gone"
        )));
    };
    let rendered = tokio::task::spawn_blocking(move || render(&bytes))
        .await
        .map_err(|err| JobError::Retry(err.to_string()))?;
    let (thumbnail, large) = match rendered {
        Ok(renditions) => renditions,
        Err(reason) => {
            set_status(&state.db, tenant, job.image, ImageStatus::Failed, None).await?;
            return Err(JobError::Permanent(reason));
        }
    };
    let base = format!(
        "tenants/{tenant}/properties/{}/images/{}",
        image.property_id, image.id
    );
    let (thumbnail_key, large_key) = (format!("{base}-thumbnail.jpg"), format!("{base}-large.jpg"));
    state
        .storage
        .put(&thumbnail_key, Bytes::from(thumbnail))
        .await?;
    state.storage.put(&large_key, Bytes::from(large)).await?;
    set_status(
        &state.db,
        tenant,
        job.image,
        ImageStatus::Ready,
        Some((&thumbnail_key, &large_key)),
    )
    .await?;
    state.storage.delete(&original).await?;
    Ok(())
}

async fn set_status(
    db: &Db,
    tenant: TenantId,
    image: Uuid,
    status: ImageStatus,
    keys: Option<(&str, &str)>,
) -> Result<(), ApiError> {
    let (thumbnail, large) = keys.unzip();
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE property_images SET status = $3, thumbnail_key = COALESCE($4, thumbnail_key), \
             large_key = COALESCE($5, large_key), \
             original_key = CASE WHEN $3 = 'ready' THEN NULL ELSE original_key END, updated_at = $6 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(image)
        .bind(status.as_str())
        .bind(thumbnail)
        .bind(large)
        .bind(Timestamp::now())
        .execute(conn)
        .await
        .map(drop)
    })?;
    crate::tenants::store::bump_listings(&mut tx, tenant).await?;
    tx.commit().await
}

/// Two JPEG renditions of an uploaded image. Re-encoding drops every metadata block.
fn render(bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|err| format!("unreadable image: {err}"))?;
    let (width, height) = reader
        .into_dimensions()
        .map_err(|err| format!("unreadable image: {err}"))?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(format!("{width}x{height} is more than {MAX_PIXELS} pixels"));
    }
    let decoded =
        image::load_from_memory(bytes).map_err(|err| format!("undecodable image: {err}"))?;
    let encode = |side: u32| -> Result<Vec<u8>, String> {
        let resized = if decoded.width().max(decoded.height()) > side {
            decoded.resize(side, side, FilterType::Lanczos3)
        } else {
            decoded.clone()
        };
        let mut out = Cursor::new(Vec::new());
        resized
            .to_rgb8()
            .write_to(&mut out, Codec::Jpeg)
            .map_err(|err| format!("encoding failed: {err}"))?;
        Ok(out.into_inner())
    };
    Ok((encode(THUMBNAIL_SIDE)?, encode(LARGE_SIDE)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, Codec::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn renditions_are_bounded_jpegs() {
        let (thumbnail, large) = render(&png(2000, 1000)).unwrap();
        let thumbnail = image::load_from_memory(&thumbnail).unwrap();
        assert_eq!((thumbnail.width(), thumbnail.height()), (400, 200));
        let large = image::load_from_memory(&large).unwrap();
        assert_eq!((large.width(), large.height()), (1600, 800));
        let (small, _) = render(&png(100, 50)).unwrap();
        assert_eq!(
            image::load_from_memory(&small).unwrap().width(),
            100,
            "never enlarged"
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert!(render(b"\x89PNG\r\n\x1a\nnot really").is_err());
    }
}
