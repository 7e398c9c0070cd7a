//! The renditions job: decodes an upload and writes its thumbnail and large JPEG renditions.

use std::time::Duration;

use bytes::Bytes;
use image::imageops::FilterType;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{model::ImageStatus, store};
use crate::{
    app::AppState,
    authz::{Permit, PropertyAction},
    db::Timestamp,
    error::ApiError,
    ids::TenantId,
    images,
    jobs::{Job, JobContext, JobError, JobRegistry},
    tenants::service as tenants,
};

/// Longest side of each rendition, in pixels.
const THUMBNAIL_SIDE: u32 = 400;
const LARGE_SIDE: u32 = 1600;

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
#[tracing::instrument(skip(context), fields(tenant = %job.tenant, image = %job.image))]
async fn make_renditions(context: JobContext, job: MakeRenditions) -> Result<(), JobError> {
    let state = &context.state;
    let tenant = TenantId(job.tenant);
    let Some(image) = store::get(&state.db, tenant, job.image).await? else {
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
    let rendered = images::bounded(move || render(&bytes))
        .await
        .map_err(|err| JobError::Retry(err.to_string()))?;
    let (thumbnail, large) = match rendered {
        Ok(renditions) => renditions,
        Err(reason) => {
            set_status(state, tenant, job.image, ImageStatus::Failed, None).await?;
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
        state,
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
    state: &AppState,
    tenant: TenantId,
    image: Uuid,
    status: ImageStatus,
    keys: Option<(&str, &str)>,
) -> Result<(), ApiError> {
    // The job acts for the property's owner, who asked for the renditions by uploading.
    let permit = Permit::for_system(tenant, PropertyAction::UpdateAny);
    let mut tx = state.db.begin().await?;
    store::set_status(&mut tx, &permit, image, status, keys, Timestamp::now()).await?;
    tenants::commit_listings_change(state, tx, tenant).await
}

/// Two JPEG renditions of an uploaded image, decoded under the limits of `images`.
/// Re-encoding drops every metadata block.
fn render(bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let (_, decoded) = images::decode(bytes).map_err(|err| err.to_string())?;
    // The large one by area averaging, which allocates only its output (Lanczos3 would first
    // allocate a float image taller than the rendition and as wide as the upload); the
    // thumbnail from it with Lanczos3, cheaply since it is small.
    let large = if decoded.width().max(decoded.height()) > LARGE_SIDE {
        decoded.thumbnail(LARGE_SIDE, LARGE_SIDE)
    } else {
        decoded
    };
    let thumbnail = if large.width().max(large.height()) > THUMBNAIL_SIDE {
        large.resize(THUMBNAIL_SIDE, THUMBNAIL_SIDE, FilterType::Lanczos3)
    } else {
        large.clone()
    };
    let encode = |image| images::encode_jpeg(image).map_err(|err| err.to_string());
    Ok((encode(&thumbnail)?, encode(&large)?))
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::ImageFormat as Codec;

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
