//! Dates as the API takes them (`YYYY-MM-DD`), ranges of nights, and a stay: parsed once at
//! the edge, then carried typed.

use serde::{Deserialize, Serialize};
use time::{Date, format_description::well_known::Iso8601, macros::format_description};

use crate::error::{ApiError, FieldError};

/// The longest range one request may cover (a year and a day).
pub const MAX_NIGHTS: i64 = 366;

/// The years a date may fall in: what `YYYY-MM-DD` writes (and ISO 8601 without expansion).
pub const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// Parses a `YYYY-MM-DD` date of the years 0001 to 9999; `field` names it in the 422.
pub fn parse_date(field: &str, value: &str) -> Result<Date, FieldError> {
    let format = format_description!("[year]-[month]-[day]");
    Date::parse(value.trim(), &format)
        .ok()
        // The parser also takes signed years (`-9999-01-01`), which no response could write.
        .filter(|date| YEARS.contains(&date.year()))
        .ok_or_else(|| {
            FieldError::new(
                field,
                "must be a date like 2027-07-14, in the years 0001 to 9999",
            )
        })
}

pub fn format_date(date: Date) -> String {
    date.format(&Iso8601::DATE).unwrap_or_default()
}

/// Checks `[start, end)` is a forward range of at most `MAX_NIGHTS` nights.
pub fn parse_range(
    start_field: &str,
    start: &str,
    end_field: &str,
    end: &str,
) -> Result<(Date, Date), ApiError> {
    let start = parse_date(start_field, start);
    let end = parse_date(end_field, end);
    let (start, end) = match (start, end) {
        (Ok(start), Ok(end)) => (start, end),
        (start, end) => {
            return Err(ApiError::Validation(
                start.err().into_iter().chain(end.err()).collect(),
            ));
        }
    };
    if end <= start {
        return Err(ApiError::validation(
            end_field,
            format!("must be after {start_field}"),
        ));
    }
    if (end - start).whole_days() > MAX_NIGHTS {
        return Err(ApiError::validation(
            end_field,
            format!("must be at most {MAX_NIGHTS} nights after {start_field}"),
        ));
    }
    Ok((start, end))
}

/// The nights of a stay: from `check_in` up to the day before `check_out`, at least one and at
/// most `MAX_NIGHTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stay {
    pub check_in: Date,
    pub check_out: Date,
}

impl Stay {
    /// Parses the `check_in` and `check_out` fields of a request.
    pub fn parse(check_in: &str, check_out: &str) -> Result<Self, ApiError> {
        let (check_in, check_out) = parse_range("check_in", check_in, "check_out", check_out)?;
        Ok(Self {
            check_in,
            check_out,
        })
    }

    pub fn nights(self) -> i64 {
        (self.check_out - self.check_in).whole_days()
    }

    /// As a range of nights, `[check_in, check_out)`.
    pub fn range(self) -> (Date, Date) {
        (self.check_in, self.check_out)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn ranges_are_forward_and_bounded() {
        assert_eq!(
            parse_range("from", "2027-07-01", "to", "2027-07-03").unwrap(),
            (date!(2027 - 07 - 01), date!(2027 - 07 - 03))
        );
        assert!(parse_range("from", "2027-07-03", "to", "2027-07-03").is_err());
        assert!(parse_range("from", "2027-07-01", "to", "2028-07-03").is_err());
        let Err(ApiError::Validation(errors)) = parse_range("from", "July", "to", "2027-02-30")
        else {
            panic!("expected field errors");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["from", "to"]);
    }

    #[test]
    fn dates_are_of_the_years_1_to_9999() {
        assert_eq!(
            parse_date("from", "0001-01-01").unwrap(),
            date!(0001 - 01 - 01)
        );
        assert_eq!(
            parse_date("from", "9999-12-31").unwrap(),
            date!(9999 - 12 - 31)
        );
        for outside in ["-9999-01-01", "-0001-12-31", "0000-12-31", "10000-01-01"] {
            let error = parse_date("from", outside).unwrap_err();
            assert_eq!(error.field, "from", "{outside}");
        }
    }

    #[test]
    fn a_stay_names_its_own_fields() {
        let stay = Stay::parse("2027-07-01", "2027-07-04").unwrap();
        assert_eq!(stay.nights(), 3);
        let Err(ApiError::Validation(errors)) = Stay::parse("2027-07-04", "2027-07-01") else {
            panic!("expected field errors");
        };
        assert_eq!(errors[0].field, "check_out");
    }
}
