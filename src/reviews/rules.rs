//! The one decision point for review rules: every review written or edited, of a property or
//! of a guest, passes here before it is stored. The tenant's active review-rules plugin runs
//! here and nowhere else; without one, every review is accepted.

use super::model::Draft;
use crate::{
    app::AppState,
    bookings::model::Booking,
    error::ApiError,
    plugins::service::{self as plugins, ReviewInput},
    tenants::Tenant,
};

/// What the rules decide about a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Stored and published as the tenant's publication setting says.
    Accept,
    /// Stored as `rejected` with the reason; never public.
    Reject(String),
    /// Stored as `held` with the reason until a tenant admin unhides it.
    Hold(String),
}

/// What is reviewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A guest reviews the property of their stay.
    Property,
    /// A host reviews the guest of their stay.
    Guest,
}

/// What the rules may consider besides the review itself.
pub struct Context<'a> {
    pub tenant: &'a Tenant,
    pub subject: Subject,
    /// The stay reviewed.
    pub booking: &'a Booking,
    /// Whether the author is editing a review they wrote before.
    pub edit: bool,
}

/// Decides about a review: the tenant's review-rules plugin does, if one is active (a failed
/// call holds or accepts the review, as the plugin's failure policy says); else it is
/// accepted.
pub async fn decide(
    state: &AppState,
    review: &Draft,
    context: &Context<'_>,
) -> Result<Decision, ApiError> {
    let booking = context.booking;
    let (subject, author) = match context.subject {
        Subject::Property => ("property", booking.guest_id),
        Subject::Guest => ("guest", booking.host_id),
    };
    let input = ReviewInput {
        subject,
        rating: review.rating.get(),
        comment: &review.comment,
        edit: context.edit,
        author: author.0,
        property: booking.property_id.0,
        booking: booking.id.0,
        nights: u32::try_from(booking.nights()).unwrap_or(u32::MAX),
    };
    Ok(plugins::decide_review(state, context.tenant, input)
        .await?
        .unwrap_or(Decision::Accept))
}
