//! Payments, refunds and payouts: their states, the forward-only moves between them, and the
//! split of what was captured among the platform, the tax authority and the host.

use serde::{Deserialize, Serialize};

use crate::{
    db::Timestamp,
    ids::{BookingId, PaymentId, PayoutId, PropertyId, RefundId, TenantId, UserId},
    money::{Money, MoneyError},
};

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$variant_doc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$variant_doc])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            pub fn parse(value: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|known| known.as_str() == value)
            }
        }
    };
}

text_enum!(
    /// Where a payment stands at the provider, as the provider last told us.
    PaymentStatus {
        /// The guest must complete a step (3-D Secure); then `POST payments/{id}/confirm`.
        RequiresAction => "requires_action",
        /// Authorized (funds held) until the host's answer captures or voids it.
        RequiresCapture => "requires_capture",
        /// Sent; the outcome arrives later by webhook.
        Processing => "processing",
        Succeeded => "succeeded",
        Failed => "failed",
        /// Voided before capture.
        Canceled => "canceled",
        Refunded => "refunded",
        PartiallyRefunded => "partially_refunded",
    }
);

impl PaymentStatus {
    /// How far along a payment is: a status never moves to one of a lower rank, so a late or
    /// repeated webhook cannot undo a later state.
    fn rank(self) -> u8 {
        match self {
            Self::Processing => 0,
            Self::RequiresAction => 1,
            Self::RequiresCapture => 2,
            Self::Succeeded | Self::Failed | Self::Canceled => 3,
            Self::PartiallyRefunded => 4,
            Self::Refunded => 5,
        }
    }

    /// Whether the provider's news may move a payment from `self` to `to`. Final outcomes
    /// (succeeded, failed, canceled) exclude one another; refunds follow success only.
    pub fn may_become(self, to: Self) -> bool {
        use PaymentStatus::*;
        match (self, to) {
            (from, to) if from == to => false,
            (Failed | Canceled, _) => false,
            (Succeeded | PartiallyRefunded | Refunded, Failed | Canceled) => false,
            (from, to) => to.rank() > from.rank(),
        }
    }

    /// Money was taken: a refund may apply.
    pub fn is_captured(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::PartiallyRefunded | Self::Refunded
        )
    }

    /// Under way at the provider without money taken yet: a void may apply.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::RequiresAction | Self::RequiresCapture | Self::Processing
        )
    }
}

text_enum!(
    /// When the provider takes the money: at once, or at a later capture (authorize first).
    Capture {
        Automatic => "automatic",
        Manual => "manual",
    }
);

text_enum!(
    RefundStatus {
        /// Recorded; the provider has not confirmed it yet.
        Pending => "pending",
        Succeeded => "succeeded",
        Failed => "failed",
    }
);

text_enum!(
    /// A host's payout: `pending` until 24 h after check-in, then `payable`, then `paid` by a
    /// tenant admin; `canceled` when everything was refunded.
    PayoutStatus {
        Pending => "pending",
        Payable => "payable",
        Paid => "paid",
        Canceled => "canceled",
    }
);

/// Who gets what of the money kept: all three add up to captured - refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Split {
    pub platform_fee: i64,
    pub taxes: i64,
    pub host_payout: i64,
}

impl Split {
    /// The split of `captured` for a booking whose price carries these fee and tax lines: the
    /// host gets the rest.
    pub fn of(captured: i64, platform_fee: i64, taxes: i64) -> Result<Self, MoneyError> {
        let platform_fee = platform_fee.min(captured).max(0);
        let taxes = taxes.min(captured - platform_fee).max(0);
        Ok(Self {
            platform_fee,
            taxes,
            host_payout: captured
                .checked_sub(platform_fee + taxes)
                .ok_or(MoneyError::Overflow)?,
        })
    }

    pub fn total(&self) -> i64 {
        self.platform_fee + self.taxes + self.host_payout
    }

    /// The part of each share that a refund of `amount` (at most the total) takes back: in
    /// proportion to the current split, each part rounded half to even, the remainder taken
    /// from the host's payout; no share goes below zero.
    pub fn refund_parts(&self, amount: i64) -> Split {
        let total = self.total();
        if total <= 0 || amount <= 0 {
            return Split::default();
        }
        let amount = amount.min(total);
        let proportion = |share: i64| {
            let scaled = i128::from(amount) * i128::from(share);
            let (quotient, remainder) = (scaled / i128::from(total), scaled % i128::from(total));
            let rounded = match (2 * remainder).cmp(&i128::from(total)) {
                std::cmp::Ordering::Greater => quotient + 1,
                std::cmp::Ordering::Equal => quotient + (quotient & 1),
                std::cmp::Ordering::Less => quotient,
            };
            i64::try_from(rounded).unwrap_or(share).min(share)
        };
        let mut parts = Split {
            platform_fee: proportion(self.platform_fee),
            taxes: proportion(self.taxes),
            host_payout: 0,
        };
        parts.host_payout = amount - parts.platform_fee - parts.taxes;
        // Rounding can ask the host for more than they have, or for less than nothing: move the
        // difference to the other shares, within what each holds.
        if parts.host_payout > self.host_payout {
            let mut excess = parts.host_payout - self.host_payout;
            parts.host_payout = self.host_payout;
            for (part, held) in [
                (&mut parts.platform_fee, self.platform_fee),
                (&mut parts.taxes, self.taxes),
            ] {
                let moved = excess.min(held - *part);
                *part += moved;
                excess -= moved;
            }
        } else if parts.host_payout < 0 {
            let mut shortfall = -parts.host_payout;
            parts.host_payout = 0;
            for part in [&mut parts.taxes, &mut parts.platform_fee] {
                let moved = shortfall.min(*part);
                *part -= moved;
                shortfall -= moved;
            }
        }
        parts
    }

    /// What remains once `parts` are taken back.
    pub fn minus(&self, parts: &Split) -> Split {
        Split {
            platform_fee: self.platform_fee - parts.platform_fee,
            taxes: self.taxes - parts.taxes,
            host_payout: self.host_payout - parts.host_payout,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payment {
    pub tenant_id: TenantId,
    pub id: PaymentId,
    pub booking_id: BookingId,
    pub guest_id: UserId,
    pub host_id: UserId,
    pub property_id: PropertyId,
    pub provider: String,
    pub provider_reference: Option<String>,
    pub payment_method: String,
    pub capture: Capture,
    pub status: PaymentStatus,
    pub failure_code: Option<String>,
    pub amount: Money,
    pub captured: i64,
    pub refunded: i64,
    pub split: Split,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Payment {
    pub fn money(&self, amount: i64) -> Money {
        self.amount.with_amount(amount)
    }

    /// What may still be refunded.
    pub fn refundable(&self) -> i64 {
        self.captured - self.refunded
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refund {
    pub tenant_id: TenantId,
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub amount: Money,
    /// What it took back of each share of the split.
    pub parts: Split,
    pub reason: String,
    pub status: RefundStatus,
    pub provider_reference: Option<String>,
    pub requested_by: Option<UserId>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payout {
    pub tenant_id: TenantId,
    pub id: PayoutId,
    pub booking_id: BookingId,
    pub payment_id: PaymentId,
    pub host_id: UserId,
    pub amount: Money,
    /// What refunds took from the host's share after the payout was paid: the host owes it
    /// back to the marketplace, and `amount - owed_back` is what the host keeps.
    pub owed_back: i64,
    pub status: PayoutStatus,
    pub payable_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub paid_by: Option<UserId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_only_move_forward() {
        use PaymentStatus::*;
        assert!(Processing.may_become(Succeeded));
        assert!(RequiresAction.may_become(Succeeded));
        assert!(RequiresCapture.may_become(Succeeded));
        assert!(RequiresCapture.may_become(Canceled));
        assert!(Succeeded.may_become(PartiallyRefunded));
        assert!(PartiallyRefunded.may_become(Refunded));
        assert!(!Succeeded.may_become(Processing));
        assert!(!Succeeded.may_become(Failed));
        assert!(!Failed.may_become(Succeeded));
        assert!(!Refunded.may_become(PartiallyRefunded));
        assert!(!Canceled.may_become(Succeeded));
        for status in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(status.as_str()), Some(*status));
            assert!(!status.may_become(*status));
        }
    }

    #[test]
    fn the_host_gets_what_fees_and_taxes_leave() {
        let split = Split::of(33_000, 3_000, 1_500).unwrap();
        assert_eq!(split.host_payout, 28_500);
        assert_eq!(split.total(), 33_000);
    }

    #[test]
    fn refunds_divide_in_proportion_and_never_overdraw_a_share() {
        let split = Split::of(10_001, 1_000, 500).unwrap();
        // Half of 10 001 is 5 000.5: the parts 500, 250 and the rest to the host.
        let parts = split.refund_parts(5_000);
        assert_eq!(parts.platform_fee, 500);
        assert_eq!(parts.taxes, 250);
        assert_eq!(parts.total(), 5_000);
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |bound: i64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound as u64) as i64
        };
        for _ in 0..10_000 {
            let captured = 1 + next(50_000);
            let fee = next(captured + 1);
            let taxes = next(captured - fee + 1);
            let mut split = Split::of(captured, fee, taxes).unwrap();
            while split.total() > 0 {
                let amount = 1 + next(split.total());
                let parts = split.refund_parts(amount);
                assert_eq!(parts.total(), amount, "{split:?} {amount}");
                let rest = split.minus(&parts);
                assert!(
                    rest.platform_fee >= 0 && rest.taxes >= 0 && rest.host_payout >= 0,
                    "{split:?} - {amount} = {rest:?}"
                );
                split = rest;
            }
        }
    }
}
