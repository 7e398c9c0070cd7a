//! Money: an amount in minor units of a currency (cents for EUR), never a float.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Money {
    /// Minor units, e.g. 12500 for EUR 125.00.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
}

impl Money {
    pub fn new(amount: i64, currency: impl Into<String>) -> Self {
        Self {
            amount,
            currency: currency.into(),
        }
    }
}
