//! `ApiDate`: a calendar date as the API carries it, `YYYY-MM-DD`.

use std::borrow::Cow;

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type},
};
use serde_json::Value;
use time::Date;

use crate::dates::format_date;

/// A `YYYY-MM-DD` date: `format: date` in the spec, so SDKs give it a date type. The text is
/// checked where it is used (`dates::parse_date`), so a bad date is a 422 naming its field
/// rather than a generic body error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiDate(pub String);

impl std::ops::Deref for ApiDate {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<Date> for ApiDate {
    fn from(date: Date) -> Self {
        Self(format_date(date))
    }
}

impl Type for ApiDate {
    const IS_REQUIRED: bool = true;

    type RawValueType = Self;

    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for ApiDate {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(text) => Ok(Self(text)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ParseFromParameter for ApiDate {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(value.to_owned()))
    }
}

impl ToJSON for ApiDate {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}
