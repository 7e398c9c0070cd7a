//! `/v1/t/{tenant}/properties/{id}/images`: a listing's photos and their renditions.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Multipart, Object, OpenApi, param::Path, payload::Json,
    types::multipart::Upload,
};
use uuid::Uuid;

use super::{
    model::{ImageStatus, PropertyImage, Rendition},
    service,
};
use crate::{
    app::AppState,
    error::ApiError,
    error_statuses,
    http::{ApiResult, BodyExample, Caller, JsonBody, MultipartBody, Public, tenancy},
    ids::PropertyId,
    tenants::Tenant,
};

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "ImageStatus")]
pub enum ImageStatusDto {
    /// The renditions are being made.
    Processing,
    Ready,
    /// The file could not be decoded as an image.
    Failed,
}

#[derive(Debug, Object)]
#[oai(rename = "PropertyImage")]
pub struct ImageView {
    id: Uuid,
    position: i64,
    status: ImageStatusDto,
    /// At most 400 pixels on its longest side; set once ready.
    #[oai(nullable)]
    thumbnail_url: Option<String>,
    /// At most 1600 pixels on its longest side; set once ready.
    #[oai(nullable)]
    large_url: Option<String>,
}

impl ImageView {
    pub fn new(tenant: &Tenant, image: &PropertyImage) -> Self {
        let ready = image.status() == ImageStatus::Ready;
        let url = |size: &str| {
            ready.then(|| {
                format!(
                    "/v1/t/{}/properties/{}/images/{}/{size}",
                    tenant.slug, image.property_id, image.id
                )
            })
        };
        Self {
            id: image.id,
            position: image.position,
            status: match image.status() {
                ImageStatus::Processing => ImageStatusDto::Processing,
                ImageStatus::Ready => ImageStatusDto::Ready,
                ImageStatus::Failed => ImageStatusDto::Failed,
            },
            thumbnail_url: url("thumbnail"),
            large_url: url("large"),
        }
    }
}

#[derive(Debug, Multipart)]
pub struct ImageUpload {
    /// A JPEG, PNG or WebP photo of at most 10 MiB (recognised by content) whose pixels
    /// decode to at most 64 MiB.
    file: Upload,
}

impl BodyExample for ImageUpload {
    fn example() -> serde_json::Value {
        serde_json::json!({ "file": "living-room.jpg" })
    }
}

#[derive(Debug, Object)]
pub struct ImageOrder {
    /// Every image of the property, in the new order.
    image_ids: Vec<Uuid>,
}

impl BodyExample for ImageOrder {
    fn example() -> serde_json::Value {
        serde_json::json!({ "image_ids": ["0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b", "0192f3c4-6e7f-7081-8b2c-3d4e5f6a7b8c"] })
    }
}

#[derive(Debug, Object)]
pub struct ImageList {
    data: Vec<ImageView>,
    /// Always `null`: every image is in `data`.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "ImageSize")]
pub enum SizeDto {
    Thumbnail,
    Large,
}

#[derive(ApiResponse)]
pub enum ImageAccepted {
    /// Stored; the renditions follow shortly (`status` becomes `ready`).
    #[oai(status = 202)]
    Accepted(Json<ImageView>),
}

/// A JPEG rendition.
pub struct Jpeg(bytes::Bytes);

impl poem::IntoResponse for Jpeg {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type("image/jpeg")
            .header("cache-control", "public, max-age=86400, immutable")
            .body(self.0)
    }
}

impl ApiResponse for Jpeg {
    fn meta() -> poem_openapi::registry::MetaResponses {
        use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses};
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The rendition",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "image/jpeg",
                    schema: <poem_openapi::payload::Binary<Vec<u8>> as poem_openapi::payload::Payload>::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut poem_openapi::registry::Registry) {}
}

#[derive(ApiResponse)]
pub enum Deleted {
    #[oai(status = 204)]
    NoContent,
}

error_statuses!(ReadErrors => [401, 403, 404, 422, 429]);
error_statuses!(WriteErrors => [400, 401, 403, 404, 413, 415, 422, 429]);
error_statuses!(WriteConflictErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);

pub struct PhotosApi;

#[OpenApi(tag = "crate::http::Tag::Properties")]
impl PhotosApi {
    /// Add a photo (multipart field `file`; the property's owner, or tenant admins).
    ///
    /// JPEG, PNG or WebP by content (415 otherwise), at most 10 MiB and 20 photos per property.
    /// An image whose pixels would take more than 64 MiB to decode (or more than 16384 pixels a
    /// side) is 422 naming `file`, judged by its header before anything is decoded.
    /// Thumbnail and large renditions, stripped of metadata, follow shortly.
    #[oai(
        path = "/t/:tenant/properties/:id/images",
        method = "post",
        operation_id = "upload_property_image"
    )]
    async fn upload_image(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        upload: MultipartBody<ImageUpload>,
    ) -> ApiResult<ImageAccepted, WriteConflictErrors> {
        let bytes = upload.0.file.into_vec().await.map_err(|err| {
            ApiError::MalformedRequest(format!("The upload could not be read: {err}."))
        })?;
        let image = service::upload(&state, &tenant.0, &caller.0, PropertyId(id.0), bytes).await?;
        Ok(ImageAccepted::Accepted(Json(ImageView::new(
            &tenant.0, &image,
        ))))
    }

    /// Reorder a property's photos (its owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/images/order",
        method = "put",
        operation_id = "order_property_images"
    )]
    async fn order_images(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<ImageOrder>,
    ) -> ApiResult<Json<ImageList>, WriteErrors> {
        let ordered = service::reorder(
            &state,
            &tenant.0,
            &caller.0,
            PropertyId(id.0),
            &body.image_ids,
        )
        .await?;
        Ok(Json(ImageList {
            data: ordered
                .iter()
                .map(|image| ImageView::new(&tenant.0, image))
                .collect(),
            next_cursor: None,
        }))
    }

    /// Remove a photo (the property's owner, or tenant admins).
    #[oai(
        path = "/t/:tenant/properties/:id/images/:image_id",
        method = "delete",
        operation_id = "delete_property_image"
    )]
    async fn delete_image(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        image_id: Path<Uuid>,
    ) -> ApiResult<Deleted, ReadErrors> {
        service::delete(&state, &tenant.0, &caller.0, PropertyId(id.0), image_id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// A photo rendition (anyone who may see the property).
    #[oai(
        path = "/t/:tenant/properties/:id/images/:image_id/:size",
        method = "get",
        operation_id = "get_property_image"
    )]
    async fn get_image(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        id: Path<Uuid>,
        image_id: Path<Uuid>,
        size: Path<SizeDto>,
    ) -> ApiResult<Jpeg, ReadErrors> {
        let which = match size.0 {
            SizeDto::Thumbnail => Rendition::Thumbnail,
            SizeDto::Large => Rendition::Large,
        };
        let bytes = service::rendition(
            &state,
            &tenant.0,
            &caller.0,
            PropertyId(id.0),
            image_id.0,
            which,
        )
        .await?;
        Ok(Jpeg(bytes))
    }
}
