//! Bookings: their states, the moves between them, and the refund a cancellation earns.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::{
    db::Timestamp,
    error::ApiError,
    ids::{BookingId, PropertyId, TenantId, UserId},
    money::Money,
    pricing::engine::{LineCode, LineItem, LineSource},
    tenants::settings::{BookingMode, CancellationPolicy, PaymentCollection},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Waiting for the host's answer (request mode).
    Requested,
    /// Holding its nights until the guest pays, or the hold lapses.
    PendingPayment,
    Confirmed,
    /// The stay is over.
    Completed,
    Cancelled,
    Declined,
    /// Unanswered or unpaid in time.
    Expired,
}

impl BookingStatus {
    pub const ALL: [BookingStatus; 7] = [
        Self::Requested,
        Self::PendingPayment,
        Self::Confirmed,
        Self::Completed,
        Self::Cancelled,
        Self::Declined,
        Self::Expired,
    ];

    /// The statuses whose bookings hold their nights.
    pub const HOLDING: [BookingStatus; 3] =
        [Self::Requested, Self::PendingPayment, Self::Confirmed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::PendingPayment => "pending_payment",
            Self::Confirmed => "confirmed",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Declined => "declined",
            Self::Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    pub fn holds_nights(self) -> bool {
        Self::HOLDING.contains(&self)
    }

    /// The statuses that hold nights without payment: requests and unpaid holds.
    pub const UNPAID: [BookingStatus; 2] = [Self::Requested, Self::PendingPayment];

    /// Whether a booking in this status holds its nights without having been paid for.
    pub fn is_paid_for(self) -> bool {
        !Self::UNPAID.contains(&self)
    }

    /// The status a new booking starts in under the tenant's settings.
    pub fn initial(mode: BookingMode, collection: PaymentCollection) -> Self {
        match mode {
            BookingMode::Request => Self::Requested,
            BookingMode::Instant => Self::after_acceptance(collection),
        }
    }

    fn after_acceptance(collection: PaymentCollection) -> Self {
        match collection {
            PaymentCollection::Online => Self::PendingPayment,
            PaymentCollection::AtProperty => Self::Confirmed,
        }
    }

    /// Where `action` takes a booking in this status; 409 `invalid_transition` naming the
    /// current status when it cannot.
    pub fn apply(self, action: Action, collection: PaymentCollection) -> Result<Self, ApiError> {
        let next = match (self, action) {
            (Self::Requested, Action::Accept) => Some(Self::after_acceptance(collection)),
            (Self::Requested, Action::Decline) => Some(Self::Declined),
            (Self::Requested | Self::PendingPayment, Action::Expire) => Some(Self::Expired),
            (Self::Requested | Self::PendingPayment | Self::Confirmed, Action::Cancel) => {
                Some(Self::Cancelled)
            }
            (Self::Confirmed, Action::Complete) => Some(Self::Completed),
            (Self::PendingPayment, Action::Pay) => Some(Self::Confirmed),
            _ => None,
        };
        next.ok_or(ApiError::InvalidTransition {
            current: self.as_str(),
            attempted: action.as_str(),
        })
    }
}

/// A move of a booking's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Accept,
    Decline,
    Cancel,
    Expire,
    Complete,
    /// Its payment went through (the payments service).
    Pay,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Decline => "decline",
            Self::Cancel => "cancel",
            Self::Expire => "expire",
            Self::Complete => "complete",
            Self::Pay => "pay",
        }
    }
}

/// Who moved a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    Guest,
    Host,
    /// A tenant admin.
    Admin,
    /// Staybase itself: expiry and completion.
    System,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Guest => "guest",
            Self::Host => "host",
            Self::Admin => "admin",
            Self::System => "system",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Guest, Self::Host, Self::Admin, Self::System]
            .into_iter()
            .find(|actor| actor.as_str() == value)
    }
}

/// One status a booking has had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub status: BookingStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub by: Actor,
    pub user_id: Option<Uuid>,
}

impl HistoryEntry {
    pub fn new(status: BookingStatus, by: Actor, user: Option<UserId>, now: Timestamp) -> Self {
        Self {
            status,
            at: now.get(),
            by,
            user_id: user.map(|user| user.0),
        }
    }
}

/// A line of the price fixed at booking time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    pub code: LineCode,
    pub label: String,
    pub amount: Money,
    #[serde(default)]
    pub source: LineSource,
}

impl From<&LineItem> for PricedLine {
    fn from(line: &LineItem) -> Self {
        Self {
            code: line.code,
            label: line.label.clone(),
            amount: line.amount.clone(),
            source: line.source,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Booking {
    pub tenant_id: TenantId,
    pub id: BookingId,
    pub property_id: PropertyId,
    /// The property's name and owner, read with the booking.
    pub property_name: String,
    pub host_id: UserId,
    pub guest_id: UserId,
    pub check_in: Date,
    pub check_out: Date,
    pub guests: u32,
    pub status: BookingStatus,
    /// The price fixed when the booking was made: the sum of its lines.
    pub total: Money,
    pub line_items: Vec<PricedLine>,
    pub cancellation_policy: CancellationPolicy,
    /// How the tenant collected payment when the booking was made: at the property, nothing is
    /// paid online, so nothing is refunded online.
    pub payment_collection: PaymentCollection,
    /// The tenant's commission on the host's share when the booking was made, in basis points
    /// of the stay subtotal: the guest's price does not show it, the payment's split does.
    pub host_fee_bps: u32,
    pub expires_at: Option<Timestamp>,
    pub cancelled_by: Option<Actor>,
    /// What a cancellation gave back, once cancelled.
    pub refund: Option<Money>,
    pub history: Vec<HistoryEntry>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Booking {
    pub fn nights(&self) -> i64 {
        (self.check_out - self.check_in).whole_days()
    }
}

/// What a cancellation gives back, in the booking's currency. Nothing was charged
/// before confirmation, so an unconfirmed booking refunds 0, and nothing online for a stay paid
/// at the property. A host's or an admin's
/// cancellation refunds everything; a guest's follows the policy snapshot, counting whole days
/// from the marketplace's `today` to check-in:
/// - flexible: everything until 1 day before check-in, nothing after;
/// - moderate: everything until 5 days before, half until 1 day before, nothing after;
/// - strict: half until 7 days before, nothing after.
///
/// Halves round half to even.
pub fn refund(
    (policy, collection): (CancellationPolicy, PaymentCollection),
    status: BookingStatus,
    by: Actor,
    total: &Money,
    (today, check_in): (Date, Date),
) -> Money {
    if status != BookingStatus::Confirmed || collection == PaymentCollection::AtProperty {
        return total.with_amount(0);
    }
    if by != Actor::Guest {
        return total.clone();
    }
    let days = (check_in - today).whole_days();
    let share_bps = match policy {
        CancellationPolicy::Flexible if days >= 1 => 10_000,
        CancellationPolicy::Moderate if days >= 5 => 10_000,
        CancellationPolicy::Moderate if days >= 1 => 5_000,
        CancellationPolicy::Strict if days >= 7 => 5_000,
        _ => 0,
    };
    // A share of at most the whole of a non-negative total cannot overflow.
    total.share(share_bps).unwrap_or_else(|_| total.clone())
}

#[cfg(test)]
mod tests {
    use time::{Duration, macros::date};

    use super::*;

    const ONLINE: PaymentCollection = PaymentCollection::Online;

    #[test]
    fn new_bookings_start_where_the_settings_say() {
        use BookingMode::*;
        use PaymentCollection::*;
        assert_eq!(
            BookingStatus::initial(Instant, Online),
            BookingStatus::PendingPayment
        );
        assert_eq!(
            BookingStatus::initial(Instant, AtProperty),
            BookingStatus::Confirmed
        );
        assert_eq!(
            BookingStatus::initial(Request, Online),
            BookingStatus::Requested
        );
        assert_eq!(
            BookingStatus::initial(Request, AtProperty),
            BookingStatus::Requested
        );
    }

    #[test]
    fn every_legal_move_and_no_other() {
        use Action::*;
        use BookingStatus::*;
        let legal = [
            (Requested, Accept, PendingPayment),
            (Requested, Decline, Declined),
            (Requested, Expire, Expired),
            (Requested, Cancel, Cancelled),
            (PendingPayment, Expire, Expired),
            (PendingPayment, Cancel, Cancelled),
            (Confirmed, Cancel, Cancelled),
            (Confirmed, Complete, Completed),
            (PendingPayment, Pay, Confirmed),
        ];
        for from in BookingStatus::ALL {
            for action in [Accept, Decline, Cancel, Expire, Complete, Pay] {
                let expected = legal
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|(_, _, to)| *to);
                match (from.apply(action, ONLINE), expected) {
                    (Ok(to), Some(expected)) => assert_eq!(to, expected),
                    (Err(ApiError::InvalidTransition { current, attempted }), None) => {
                        assert_eq!(current, from.as_str());
                        assert_eq!(attempted, action.as_str());
                    }
                    (got, expected) => panic!("{from:?} {action:?}: {got:?} vs {expected:?}"),
                }
            }
        }
        assert_eq!(
            Requested
                .apply(Accept, PaymentCollection::AtProperty)
                .unwrap(),
            Confirmed
        );
    }

    #[test]
    fn only_requested_pending_and_confirmed_hold_nights() {
        let holding: Vec<&str> = BookingStatus::ALL
            .into_iter()
            .filter(|status| status.holds_nights())
            .map(BookingStatus::as_str)
            .collect();
        // As the PostgreSQL exclusion constraint's WHERE clause lists them.
        assert_eq!(holding, ["requested", "pending_payment", "confirmed"]);
        for status in BookingStatus::ALL {
            assert_eq!(BookingStatus::parse(status.as_str()), Some(status));
        }
    }

    #[test]
    fn refunds_follow_the_policy_snapshot() {
        use CancellationPolicy::*;
        let check_in = date!(2027 - 07 - 14);
        let total = Money::new(10_001, "EUR");
        let guest = |policy, days_before: i64| {
            refund(
                (policy, ONLINE),
                BookingStatus::Confirmed,
                Actor::Guest,
                &total,
                (check_in - Duration::days(days_before), check_in),
            )
            .amount
        };
        assert_eq!(guest(Flexible, 1), 10_001);
        assert_eq!(guest(Flexible, 0), 0);
        assert_eq!(guest(Moderate, 5), 10_001);
        // Half of 10 001 is 5 000.5, which rounds to the even 5 000.
        assert_eq!(guest(Moderate, 4), 5_000);
        assert_eq!(guest(Moderate, 1), 5_000);
        assert_eq!(guest(Moderate, 0), 0);
        assert_eq!(guest(Strict, 30), 5_000);
        assert_eq!(guest(Strict, 7), 5_000);
        assert_eq!(guest(Strict, 6), 0);
        // During the stay.
        assert_eq!(guest(Flexible, -2), 0);

        let today = check_in - Duration::days(1);
        for by in [Actor::Host, Actor::Admin] {
            assert_eq!(
                refund(
                    (Strict, ONLINE),
                    BookingStatus::Confirmed,
                    by,
                    &total,
                    (today, check_in)
                ),
                total
            );
        }
        for unpaid in [BookingStatus::Requested, BookingStatus::PendingPayment] {
            assert_eq!(
                refund(
                    (Flexible, ONLINE),
                    unpaid,
                    Actor::Guest,
                    &total,
                    (today, check_in)
                ),
                Money::new(0, "EUR")
            );
        }
        // Paid at the property: nothing was paid online, so nothing comes back online.
        assert_eq!(
            refund(
                (Flexible, PaymentCollection::AtProperty),
                BookingStatus::Confirmed,
                Actor::Host,
                &total,
                (today, check_in)
            ),
            Money::new(0, "EUR")
        );
    }
}
