//! Money as the API shows and takes it.

use poem_openapi::Object;

use crate::money::Money;

/// An amount of money: `amount` in minor units (cents), never a float.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Money")]
pub struct MoneyDto {
    /// Minor units of the currency, e.g. 12500 for EUR 125.00.
    pub amount: i64,
    /// ISO 4217 code; must be the marketplace's currency.
    #[oai(validator(min_length = 3, max_length = 3))]
    pub currency: String,
}

impl MoneyDto {
    pub fn new(amount: i64, currency: &str) -> Self {
        Self {
            amount,
            currency: currency.to_owned(),
        }
    }
}

impl From<&Money> for MoneyDto {
    fn from(money: &Money) -> Self {
        Self::new(money.amount, &money.currency)
    }
}
