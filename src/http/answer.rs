//! `JsonAnswer<T>`: a JSON answer documented as `T`, sent from a value or as bytes rendered
//! earlier. A shared answer (the same for everyone who may see it) is rendered once and kept
//! (`cache::ReadCache::keep_rendered`), so that a cache hit is not decoded, rebuilt and encoded
//! again on every request.

use bytes::Bytes;
use poem::{IntoResponse, Response, http::header};
use poem_openapi::{
    ApiResponse,
    payload::{Json, Payload},
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry},
    types::{ToJSON, Type},
};

/// What poem sends with a JSON body.
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

pub enum JsonAnswer<T> {
    Value(T),
    /// `T`, already encoded by `JsonAnswer::encode`.
    Encoded(Bytes),
}

impl<T: ToJSON> JsonAnswer<T> {
    /// `value` as the bytes `JsonAnswer::Value(value)` would send.
    pub fn encode(value: &T) -> Bytes {
        serde_json::to_vec(&value.to_json())
            .map(Bytes::from)
            .unwrap_or_default()
    }
}

impl<T: Type> Payload for JsonAnswer<T> {
    const CONTENT_TYPE: &'static str = <Json<T> as Payload>::CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ToJSON> IntoResponse for JsonAnswer<T> {
    fn into_response(self) -> Response {
        match self {
            Self::Value(value) => Json(value).into_response(),
            Self::Encoded(body) => Response::builder()
                .header(header::CONTENT_TYPE, CONTENT_TYPE)
                .body(body),
        }
    }
}

impl<T: ToJSON> ApiResponse for JsonAnswer<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::Object;

    use super::*;

    #[derive(Object)]
    struct Sample {
        name: String,
        nights: Vec<u32>,
    }

    fn sample() -> Sample {
        Sample {
            name: "Harbour loft".into(),
            nights: vec![2, 3],
        }
    }

    #[tokio::test]
    async fn an_encoded_answer_is_sent_as_its_value_would_be() {
        let from_value = JsonAnswer::Value(sample()).into_response();
        let encoded = JsonAnswer::<Sample>::Encoded(JsonAnswer::encode(&sample())).into_response();
        assert_eq!(
            from_value.headers().get(header::CONTENT_TYPE),
            encoded.headers().get(header::CONTENT_TYPE)
        );
        let from_value = from_value.into_body().into_bytes().await.unwrap();
        let encoded = encoded.into_body().into_bytes().await.unwrap();
        assert_eq!(from_value, encoded);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&encoded).unwrap(),
            serde_json::json!({ "name": "Harbour loft", "nights": [2, 3] })
        );
    }
}
