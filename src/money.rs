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

/// Currencies whose minor unit is not a hundredth (ISO 4217): none, or a thousandth.
const NO_DECIMALS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

impl Money {
    /// Digits after the decimal point in the currency's major unit.
    pub fn decimals(&self) -> u32 {
        if NO_DECIMALS.contains(&self.currency.as_str()) {
            0
        } else if THREE_DECIMALS.contains(&self.currency.as_str()) {
            3
        } else {
            2
        }
    }
}

/// For people: `EUR 1234.50`, `JPY 1200`, `EUR -5.00`.
impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let decimals = self.decimals();
        let sign = if self.amount < 0 { "-" } else { "" };
        let units = self.amount.unsigned_abs();
        if decimals == 0 {
            return write!(f, "{} {sign}{units}", self.currency);
        }
        let scale = 10u64.pow(decimals);
        write!(
            f,
            "{} {sign}{}.{:0width$}",
            self.currency,
            units / scale,
            units % scale,
            width = decimals as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_print_in_major_units_of_their_currency() {
        assert_eq!(Money::new(123_450, "EUR").to_string(), "EUR 1234.50");
        assert_eq!(Money::new(5, "USD").to_string(), "USD 0.05");
        assert_eq!(Money::new(-500, "EUR").to_string(), "EUR -5.00");
        assert_eq!(Money::new(1200, "JPY").to_string(), "JPY 1200");
        assert_eq!(Money::new(1_005, "KWD").to_string(), "KWD 1.005");
        assert_eq!(
            Money::new(i64::MIN, "EUR").to_string(),
            "EUR -92233720368547758.08"
        );
    }
}
