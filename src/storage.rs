//! Uploaded files through `object_store`: the local filesystem by default (under
//! `<data_dir>/objects`), S3 or a compatible service by configuration.

use std::sync::Arc;

use bytes::Bytes;
use object_store::{
    ObjectStore, PutPayload, aws::AmazonS3Builder, local::LocalFileSystem, path::Path,
};

use crate::{config::Config, error::ApiError};

#[derive(Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
}

/// Image formats accepted for uploads, recognised by their content, never by a file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
}

impl ImageFormat {
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0xFF, 0xD8, 0xFF, ..] => Some(Self::Jpeg),
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(Self::Png),
            [
                b'R',
                b'I',
                b'F',
                b'F',
                _,
                _,
                _,
                _,
                b'W',
                b'E',
                b'B',
                b'P',
                ..,
            ] => Some(Self::Webp),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }
}

impl ObjectStorage {
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let store: Arc<dyn ObjectStore> = match &config.object_store_url {
            Some(url) => Arc::new(
                AmazonS3Builder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|err| format!("STAYBASE_OBJECT_STORE_URL: {err}"))?,
            ),
            None => {
                let root = config.data_dir.join("objects");
                std::fs::create_dir_all(&root)
                    .map_err(|err| format!("cannot create {}: {err}", root.display()))?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(&root)
                        .map_err(|err| format!("{}: {err}", root.display()))?,
                )
            }
        };
        Ok(Self { store })
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), ApiError> {
        self.store
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .map(drop)
            .map_err(unavailable)
    }

    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, ApiError> {
        match self.store.get(&Path::from(key)).await {
            Ok(result) => result.bytes().await.map(Some).map_err(unavailable),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(unavailable(err)),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), ApiError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }
}

fn unavailable(err: object_store::Error) -> ApiError {
    tracing::error!(error = %err, "object storage failed");
    ApiError::Unavailable("file storage")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_by_content() {
        assert_eq!(
            ImageFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            ImageFormat::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            ImageFormat::sniff(b"RIFF\x10\0\0\0WEBPVP8 "),
            Some(ImageFormat::Webp)
        );
        assert_eq!(ImageFormat::sniff(b"GIF89a"), None);
        assert_eq!(ImageFormat::sniff(b"just some text named photo.jpg"), None);
        assert_eq!(ImageFormat::sniff(b""), None);
    }
}
