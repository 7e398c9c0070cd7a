//! `MultipartBody<T>`: a multipart request body documented with an example.

use poem::{Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaRequest, MetaSchemaRef, Registry},
};

use super::BodyExample;

/// A multipart form (a `#[derive(Multipart)]` type) whose inline schema carries `T`'s example,
/// which poem-openapi's derive cannot declare.
pub struct MultipartBody<T>(pub T);

impl<'a, T: ApiExtractor<'a> + BodyExample> ApiExtractor<'a> for MultipartBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = T::ParamType;
    type ParamRawType = T::ParamRawType;

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        let mut meta = T::request_meta()?;
        for media in &mut meta.content {
            if let MetaSchemaRef::Inline(schema) = &mut media.schema {
                schema.example = Some(T::example());
            }
        }
        Some(meta)
    }

    fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> impl Future<Output = poem::Result<Self>> + Send {
        let form = T::from_request(request, body, param_opts);
        async move { form.await.map(Self) }
    }
}
