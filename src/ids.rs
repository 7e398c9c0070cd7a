//! The identifiers of tenant data: UUIDv7 newtypes, so that a property id cannot be passed
//! where a booking id is expected. A leaf module: it imports nothing of the crate.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// The tenant every piece of tenant data belongs to; the first argument of every store
    /// function that touches tenant data.
    TenantId
);
id_type!(UserId);
id_type!(PropertyId);
id_type!(BookingId);
id_type!(PaymentId);
id_type!(RefundId);
id_type!(PayoutId);
id_type!(ReviewId);
id_type!(GuestReviewId);
