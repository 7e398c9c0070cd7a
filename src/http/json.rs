//! `JsonBody<T>`: the request-body extractor for every JSON operation.
//!
//! poem-openapi's `Json<T>` folds syntax and schema errors into one message without field names
//! and coerces `5` into `"5"`. This extractor answers 415 for another media type, 400 for JSON
//! that does not parse, and 422 naming every field that is missing, has the wrong JSON type or
//! is not a field of the request at all (a typo such as `primary_colour` is not silently
//! dropped), checked against the schema the type registers, so the spec and the checks cannot
//! disagree. Each field is named once.

use std::ops::Deref;

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    payload::{ParsePayload, Payload},
    registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry},
    types::{ParseFromJSON, Type},
};
use serde_json::Value;

use crate::error::{ApiError, FieldError};

const CONTENT_TYPE: &str = "application/json";

#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// A request body's example for the spec. Written as JSON, not through the type, so that
/// write-only fields (passwords) are shown; `tests/api/openapi.rs` checks each one against
/// its schema.
pub trait BodyExample {
    fn example() -> Value;
}

impl<T> Deref for JsonBody<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        is_json_media_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = <Vec<u8> as FromRequest>::from_request(request, body).await?;
        Ok(Self(parse_json_body::<T>(&bytes)?))
    }
}

impl<'a, T: ParseFromJSON + BodyExample> ApiExtractor<'a> for JsonBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        register_with_example::<T>(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        json_request::<T>()
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(content_type) if is_json_media_type(content_type) => {
                <Self as ParsePayload>::from_request(request, body).await
            }
            Some(content_type) => Err(ApiError::UnsupportedMediaType(format!(
                "Expected {CONTENT_TYPE}, got {content_type}."
            ))
            .into()),
            None => Err(ApiError::UnsupportedMediaType(format!(
                "Expected a {CONTENT_TYPE} body with a Content-Type header."
            ))
            .into()),
        }
    }
}

/// Registers `T`'s schema with its example.
fn register_with_example<T: Type + BodyExample>(registry: &mut Registry) {
    T::register(registry);
    if let MetaSchemaRef::Reference(name) = T::schema_ref()
        && let Some(schema) = registry.schemas.get_mut(&name)
    {
        schema.example = Some(T::example());
    }
}

/// A required JSON request body of `T`'s schema.
fn json_request<T: Type>() -> Option<MetaRequest> {
    Some(MetaRequest {
        description: None,
        content: vec![MetaMediaType {
            content_type: CONTENT_TYPE,
            schema: T::schema_ref(),
        }],
        required: true,
    })
}

/// A JSON body kept as the bytes received, for a signature over them (provider webhooks);
/// documented as `T` with its example. 415 for another media type.
#[derive(Debug)]
pub struct RawJsonBody<T>(pub Vec<u8>, std::marker::PhantomData<T>);

impl<'a, T: Type + BodyExample> ApiExtractor<'a> for RawJsonBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        register_with_example::<T>(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        json_request::<T>()
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(content_type) if is_json_media_type(content_type) => {
                let bytes = <Vec<u8> as FromRequest>::from_request(request, body).await?;
                Ok(Self(bytes, std::marker::PhantomData))
            }
            _ => Err(ApiError::UnsupportedMediaType(format!(
                "Expected a {CONTENT_TYPE} body with a Content-Type header."
            ))
            .into()),
        }
    }
}

fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a body: 400 for bad syntax, 422 with field errors for schema mismatches.
pub fn parse_json_body<T: ParseFromJSON>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::MalformedJson("The request body is empty.".into()));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|err| {
        ApiError::MalformedJson(format!(
            "The body is not valid JSON (line {}, column {}).",
            err.line(),
            err.column()
        ))
    })?;

    let mut registry = Registry::new();
    T::register(&mut registry);
    let mut errors = Vec::new();
    check_value(&registry, &T::schema_ref(), &value, "", &mut errors);
    // Each field is named once, with its most specific problem: several schema parts (an
    // `allOf` wrapper) or several bounds can find the same field wrong.
    let mut seen = std::collections::HashSet::new();
    errors.retain(|error| seen.insert(error.field.clone()));
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    T::parse_from_json(Some(value)).map_err(|err| ApiError::validation("body", err.into_message()))
}

fn resolve<'r>(registry: &'r Registry, schema: &'r MetaSchemaRef) -> Option<&'r MetaSchema> {
    match schema {
        MetaSchemaRef::Inline(schema) => Some(schema),
        MetaSchemaRef::Reference(name) => registry.schemas.get(name),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn field_name(path: &str) -> &str {
    if path.is_empty() { "body" } else { path }
}

fn check_value(
    registry: &Registry,
    schema: &MetaSchemaRef,
    value: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let Some(schema) = resolve(registry, schema) else {
        return;
    };
    if value.is_null() {
        if !schema.nullable {
            errors.push(FieldError::new(field_name(path), "must not be null"));
        }
        return;
    }
    // Flattened and wrapped schemas: every part must hold.
    for part in &schema.all_of {
        check_value(registry, part, value, path, errors);
    }
    if let Value::Object(map) = value
        && schema.all_of.is_empty()
        && schema.additional_properties.is_none()
        && !schema.properties.is_empty()
    {
        for name in map.keys() {
            if !schema.properties.iter().any(|(known, _)| known == name) {
                errors.push(FieldError::new(
                    join(path, name),
                    "is not a field of this request",
                ));
            }
        }
    }
    let type_matches = match schema.ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    };
    if !type_matches {
        let article = if schema.ty == "object" || schema.ty == "integer" || schema.ty == "array" {
            "an"
        } else {
            "a"
        };
        errors.push(FieldError::new(
            field_name(path),
            format!("must be {article} {}", schema.ty),
        ));
        return;
    }
    if !schema.enum_items.is_empty() && !schema.enum_items.contains(value) {
        let allowed = schema
            .enum_items
            .iter()
            .map(|item| {
                item.as_str()
                    .map_or_else(|| item.to_string(), str::to_owned)
            })
            .collect::<Vec<_>>()
            .join(", ");
        errors.push(FieldError::new(
            field_name(path),
            format!("must be one of: {allowed}"),
        ));
    }
    check_bounds(schema, value, path, errors);
    match value {
        Value::Object(map) => {
            for required in &schema.required {
                if map.get(*required).is_none_or(Value::is_null) {
                    errors.push(FieldError::new(join(path, required), "is required"));
                }
            }
            for (name, property) in &schema.properties {
                // A null was reported above when required, and is allowed when optional.
                if let Some(item) = map.get(*name)
                    && !item.is_null()
                {
                    check_value(registry, property, item, &join(path, name), errors);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &schema.items {
                for (index, item) in items.iter().enumerate() {
                    check_value(
                        registry,
                        item_schema,
                        item,
                        &format!("{}[{index}]", field_name(path)),
                        errors,
                    );
                }
            }
        }
        _ => {}
    }
}

/// The range an integer format can hold; poem-openapi documents unsigned types by format only.
fn integer_range(format: Option<&str>) -> Option<(i128, i128)> {
    Some(match format? {
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "int64" => (i64::MIN.into(), i64::MAX.into()),
        "uint8" => (0, u8::MAX.into()),
        "uint16" => (0, u16::MAX.into()),
        "uint32" => (0, u32::MAX.into()),
        "uint64" => (0, u64::MAX.into()),
        _ => return None,
    })
}

fn check_bounds(schema: &MetaSchema, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let field = field_name(path);
    let integer = value
        .as_i64()
        .map(i128::from)
        .or_else(|| value.as_u64().map(i128::from));
    if let Some(number) = value.as_f64() {
        if let Some(minimum) = schema.minimum {
            let exclusive = schema.exclusive_minimum.unwrap_or(false);
            if number < minimum || (exclusive && number == minimum) {
                let relation = if exclusive {
                    "greater than"
                } else {
                    "at least"
                };
                errors.push(FieldError::new(
                    field,
                    format!("must be {relation} {minimum}"),
                ));
            }
        }
        if let Some(maximum) = schema.maximum {
            let exclusive = schema.exclusive_maximum.unwrap_or(false);
            if number > maximum || (exclusive && number == maximum) {
                let relation = if exclusive { "less than" } else { "at most" };
                errors.push(FieldError::new(
                    field,
                    format!("must be {relation} {maximum}"),
                ));
            }
        }
    }
    if let (Some(integer), Some((min, max))) = (integer, integer_range(schema.format))
        && (integer < min || integer > max)
    {
        errors.push(FieldError::new(
            field,
            format!("must be between {min} and {max}"),
        ));
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count();
        if let Some(min) = schema.min_length
            && length < min
        {
            errors.push(FieldError::new(
                field,
                format!("must be at least {min} characters"),
            ));
        }
        if let Some(max) = schema.max_length
            && length > max
        {
            errors.push(FieldError::new(
                field,
                format!("must be at most {max} characters"),
            ));
        }
    }
    if let Some(items) = value.as_array() {
        if let Some(max) = schema.max_items
            && items.len() > max
        {
            errors.push(FieldError::new(
                field,
                format!("must have at most {max} items"),
            ));
        }
        if let Some(min) = schema.min_items
            && items.len() < min
        {
            errors.push(FieldError::new(
                field,
                format!("must have at least {min} items"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::{Enum, Object};

    use super::*;

    #[derive(Debug, Object)]
    struct Location {
        city: String,
        #[oai(validator(minimum(value = "-90"), maximum(value = "90")))]
        lat: f64,
    }

    #[derive(Debug, Enum, PartialEq)]
    #[oai(rename_all = "snake_case")]
    enum Mode {
        Instant,
        Request,
    }

    #[derive(Debug, Object)]
    struct Sample {
        #[oai(validator(min_length = 1, max_length = 10))]
        name: String,
        guests: u32,
        mode: Option<Mode>,
        location: Location,
        tags: Option<Vec<String>>,
    }

    fn fields(result: Result<Sample, ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_well_formed_body() {
        let body = br#"{"name":"Loft","guests":2,"mode":"request","location":{"city":"Lyon","lat":45.7},"tags":["a"]}"#;
        let sample = parse_json_body::<Sample>(body).unwrap();
        assert_eq!(sample.guests, 2);
        assert_eq!(sample.mode, Some(Mode::Request));
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        assert!(matches!(
            parse_json_body::<Sample>(b"{\"name\": "),
            Err(ApiError::MalformedJson(_))
        ));
        assert!(matches!(
            parse_json_body::<Sample>(b"  "),
            Err(ApiError::MalformedJson(_))
        ));
    }

    #[test]
    fn names_every_missing_and_mistyped_field() {
        let body = br#"{"guests":"2","location":{"lat":true},"tags":["a",3],"mode":"later"}"#;
        let mut names = fields(parse_json_body::<Sample>(body));
        names.sort();
        assert_eq!(
            names,
            [
                "guests",
                "location.city",
                "location.lat",
                "mode",
                "name",
                "tags[1]"
            ]
        );
    }

    #[test]
    fn numbers_are_never_coerced_into_strings() {
        let body = br#"{"name":5,"guests":2,"location":{"city":"Lyon","lat":1.0}}"#;
        assert_eq!(fields(parse_json_body::<Sample>(body)), ["name"]);
    }

    #[test]
    fn enforces_documented_bounds() {
        let body = br#"{"name":"","guests":-1,"location":{"city":"Lyon","lat":91}}"#;
        let mut names = fields(parse_json_body::<Sample>(body));
        names.sort();
        assert_eq!(names, ["guests", "location.lat", "name"]);
    }

    #[test]
    fn a_non_object_body_is_reported_as_body() {
        assert_eq!(fields(parse_json_body::<Sample>(b"[1,2]")), ["body"]);
    }

    #[test]
    fn recognises_json_media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("application/json; charset=utf-8"));
        assert!(is_json_media_type("application/merge-patch+json"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("application/x-www-form-urlencoded"));
    }
}
