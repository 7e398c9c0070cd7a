//! Paging: opaque keyset cursors over UUIDv7 ids (newest-first lists: the last id of a page,
//! base64url) and the page size.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use crate::error::ApiError;

pub fn encode(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

/// Decodes the `cursor` query parameter; 422 naming it when it is not one of ours.
pub fn decode(cursor: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    cursor
        .map(|cursor| {
            URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|bytes| Uuid::from_slice(&bytes).ok())
                .ok_or_else(|| {
                    ApiError::validation("cursor", "is not a cursor from a previous page")
                })
        })
        .transpose()
}

/// A page size from the `limit` query parameter: 1 to 100, 20 when absent.
pub fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(20),
        Some(limit @ 1..=100) => Ok(limit),
        Some(_) => Err(ApiError::validation("limit", "must be between 1 and 100")),
    }
}
