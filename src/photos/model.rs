//! A listing's photos and their renditions.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Photos per listing.
pub const MAX_IMAGES: usize = 20;
/// Largest photo upload.
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageStatus {
    Processing,
    Ready,
    Failed,
}

impl ImageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct PropertyImage {
    pub id: Uuid,
    pub property_id: Uuid,
    pub position: i64,
    pub(super) status: String,
    pub(super) original_key: Option<String>,
    pub(super) thumbnail_key: Option<String>,
    pub(super) large_key: Option<String>,
}

impl PropertyImage {
    /// An image read along with its property, in the columns of `property_images`.
    pub fn from_columns(
        id: Uuid,
        property_id: Uuid,
        position: i64,
        status: String,
        original_key: Option<String>,
        thumbnail_key: Option<String>,
        large_key: Option<String>,
    ) -> Self {
        Self {
            id,
            property_id,
            position,
            status,
            original_key,
            thumbnail_key,
            large_key,
        }
    }

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
