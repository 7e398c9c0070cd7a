//! Reviews as the domain sees them: a guest's review of a property, a host's review of a
//! guest, their statuses, the checks of what people write, and a property's rating summary.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::{
    db::Timestamp,
    error::{ApiError, FieldError},
    ids::{BookingId, GuestReviewId, PropertyId, ReviewId, TenantId, UserId},
    properties::model::rating_x100,
};

/// The longest comment, in characters.
pub const MAX_COMMENT: usize = 2000;
/// The longest host reply, in characters.
pub const MAX_REPLY: usize = 2000;
/// The longest moderation reason, in characters.
pub const MAX_REASON: usize = 500;

/// Where a review stands. Only `published` reviews are public and count in ratings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    Published,
    /// Waiting for the other side of the stay (double-blind publication).
    Pending,
    /// Held for moderation by the review rules.
    Held,
    /// Refused by the review rules.
    Rejected,
    /// Hidden by a tenant admin.
    Hidden,
}

impl ReviewStatus {
    pub const ALL: [Self; 5] = [
        Self::Published,
        Self::Pending,
        Self::Held,
        Self::Rejected,
        Self::Hidden,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Pending => "pending",
            Self::Held => "held",
            Self::Rejected => "rejected",
            Self::Hidden => "hidden",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

/// A number of stars, 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Rating(u8);

impl Rating {
    pub fn parse(value: i64) -> Result<Self, FieldError> {
        u8::try_from(value)
            .ok()
            .filter(|stars| (1..=5).contains(stars))
            .map(Self)
            .ok_or_else(|| FieldError::new("rating", "must be a whole number from 1 to 5"))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// Text people write (comments, replies, reasons) as it is stored: plain text without control
/// characters other than line breaks (`\r\n` becomes `\n`), trimmed, at most `max` characters
/// (and at least one unless `may_be_empty`). Clients escape it when they display it.
pub fn clean_text(
    field: &str,
    value: &str,
    max: usize,
    may_be_empty: bool,
) -> Result<String, FieldError> {
    let cleaned: String = value
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect();
    let cleaned = cleaned.trim().to_owned();
    let length = cleaned.chars().count();
    if length > max || (length == 0 && !may_be_empty) {
        let least = if may_be_empty { 0 } else { 1 };
        return Err(FieldError::new(
            field,
            format!("must be {least} to {max} characters long"),
        ));
    }
    Ok(cleaned)
}

/// What an author writes: a rating and a comment, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub rating: Rating,
    pub comment: String,
}

impl Draft {
    /// Checks both fields, naming each invalid one.
    pub fn parse(rating: i64, comment: &str) -> Result<Self, ApiError> {
        let rating = Rating::parse(rating);
        let comment = clean_text("comment", comment, MAX_COMMENT, true);
        match (rating, comment) {
            (Ok(rating), Ok(comment)) => Ok(Self { rating, comment }),
            (rating, comment) => Err(ApiError::Validation(
                [rating.err(), comment.err()]
                    .into_iter()
                    .flatten()
                    .collect(),
            )),
        }
    }
}

/// The host's answer to a review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    pub at: Timestamp,
}

/// A guest's review of a property, about their latest completed stay there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Review {
    pub tenant_id: TenantId,
    pub id: ReviewId,
    pub property_id: PropertyId,
    pub booking_id: BookingId,
    pub author_id: UserId,
    pub author_first_name: String,
    pub rating: Rating,
    pub comment: String,
    pub status: ReviewStatus,
    /// Why it is held, rejected or hidden.
    pub status_reason: Option<String>,
    pub reply: Option<Reply>,
    /// The first day on which the stay's review window is closed.
    pub window_closes_on: Date,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Review {
    /// The stars this review counts for in its property's rating: published ones only.
    pub fn counted(&self) -> Option<Rating> {
        (self.status == ReviewStatus::Published).then_some(self.rating)
    }
}

/// A host's review of the guest of one of their stays.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GuestReview {
    pub tenant_id: TenantId,
    pub id: GuestReviewId,
    pub booking_id: BookingId,
    pub guest_id: UserId,
    pub author_id: UserId,
    pub author_first_name: String,
    pub rating: Rating,
    pub comment: String,
    pub status: ReviewStatus,
    pub status_reason: Option<String>,
    pub window_closes_on: Date,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A property's published reviews: how many gave each number of stars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Index 0 counts one-star reviews, index 4 five-star ones.
    pub stars: [i64; 5],
}

impl Summary {
    pub fn count(&self) -> i64 {
        self.stars.iter().sum()
    }

    pub fn sum(&self) -> i64 {
        self.stars
            .iter()
            .zip(1..)
            .map(|(count, stars)| count * stars)
            .sum()
    }

    /// The average, half-even to two decimals (as the property shows it); `None` without
    /// reviews.
    pub fn average(&self) -> Option<f64> {
        let count = self.count();
        (count > 0).then(|| rating_x100(self.sum(), count) as f64 / 100.0)
    }
}

/// The orders of a property's review list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewSort {
    #[default]
    Newest,
    RatingDesc,
    RatingAsc,
}

/// Where the previous page of a review list ended, as its sort saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewCursor {
    pub sort: ReviewSort,
    pub rating: u8,
    pub id: ReviewId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_are_whole_stars_from_one_to_five() {
        for stars in 1..=5 {
            assert_eq!(Rating::parse(stars).unwrap().get(), stars as u8);
        }
        for wrong in [0, 6, -1, 256] {
            assert_eq!(Rating::parse(wrong).unwrap_err().field, "rating");
        }
    }

    #[test]
    fn text_loses_control_characters_but_keeps_line_breaks() {
        let cleaned = clean_text("comment", " Lovely\u{7}\r\nstay\u{1b}[31m \t", 20, true).unwrap();
        assert_eq!(cleaned, "Lovely\nstay[31m");
        assert!(clean_text("comment", &"a".repeat(21), 20, true).is_err());
        assert_eq!(clean_text("comment", "\u{0}", 20, true).unwrap(), "");
        assert!(clean_text("text", " \u{0} ", 20, false).is_err());
    }

    #[test]
    fn a_summary_counts_sums_and_averages_its_stars() {
        let summary = Summary {
            stars: [0, 0, 1, 0, 2],
        };
        assert_eq!(summary.count(), 3);
        assert_eq!(summary.sum(), 13);
        assert_eq!(summary.average(), Some(4.33));
        assert_eq!(Summary::default().average(), None);
    }
}
