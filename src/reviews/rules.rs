//! The one decision point for review rules: every review written or edited, of a property or
//! of a guest, passes here before it is stored. The tenant's review-rules plugin (WASM, to
//! come) plugs in here and nowhere else; without one, every review is accepted.

use super::model::Draft;
use crate::{bookings::model::Booking, tenants::Tenant};

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

/// Decides about a review. Accepts everything until the tenant has a rules plugin.
pub fn decide(_review: &Draft, _context: &Context<'_>) -> Decision {
    Decision::Accept
}
