//! Money: an amount in minor units of a currency (cents for EUR), never a float. Arithmetic is
//! checked: it refuses to mix currencies and to overflow, and rounds half to even where a share
//! is taken.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// Minor units, e.g. 12500 for EUR 125.00.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(String, String),
    #[error("the amount overflows")]
    Overflow,
}

/// Basis points in a whole.
const BPS: i128 = 10_000;

/// `amount × bps / 10 000`, rounded half to even (banker's rounding), for amount ≥ 0.
pub fn basis_points(amount: i64, bps: u32) -> Result<i64, MoneyError> {
    let product = i128::from(amount) * i128::from(bps);
    let (quotient, remainder) = (product / BPS, product % BPS);
    let rounded = match (2 * remainder).cmp(&BPS) {
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal => quotient + (quotient & 1),
        std::cmp::Ordering::Less => quotient,
    };
    i64::try_from(rounded).map_err(|_| MoneyError::Overflow)
}

impl Money {
    pub fn new(amount: i64, currency: impl Into<String>) -> Self {
        Self {
            amount,
            currency: currency.into(),
        }
    }

    pub fn zero(currency: impl Into<String>) -> Self {
        Self::new(0, currency)
    }

    /// Another amount in the same currency.
    pub fn with_amount(&self, amount: i64) -> Self {
        Self::new(amount, self.currency.clone())
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(
                self.currency.clone(),
                other.currency.clone(),
            ))
        }
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(self.with_amount(amount))
    }

    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(self.with_amount(amount))
    }

    pub fn checked_mul(&self, times: i64) -> Result<Money, MoneyError> {
        let amount = self.amount.checked_mul(times).ok_or(MoneyError::Overflow)?;
        Ok(self.with_amount(amount))
    }

    pub fn checked_neg(&self) -> Result<Money, MoneyError> {
        let amount = self.amount.checked_neg().ok_or(MoneyError::Overflow)?;
        Ok(self.with_amount(amount))
    }

    /// `bps` basis points of a non-negative amount, rounded half to even.
    pub fn share(&self, bps: u32) -> Result<Money, MoneyError> {
        Ok(self.with_amount(basis_points(self.amount, bps)?))
    }

    /// The sum of `amounts`, all in `currency`.
    pub fn sum<'a>(
        currency: &str,
        amounts: impl IntoIterator<Item = &'a Money>,
    ) -> Result<Money, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Money::zero(currency), |sum, amount| sum.checked_add(amount))
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
    fn half_even_rounding() {
        assert_eq!(basis_points(5, 1_000).unwrap(), 0, "0.5 rounds to even 0");
        assert_eq!(basis_points(15, 1_000).unwrap(), 2, "1.5 rounds to even 2");
        assert_eq!(basis_points(25, 1_000).unwrap(), 2, "2.5 rounds to even 2");
        assert_eq!(basis_points(26, 1_000).unwrap(), 3);
        assert_eq!(basis_points(24, 1_000).unwrap(), 2);
        assert_eq!(basis_points(12_345, 0).unwrap(), 0);
        assert_eq!(basis_points(i64::MAX, 10_000).unwrap(), i64::MAX);
    }

    #[test]
    fn arithmetic_refuses_other_currencies_and_overflow() {
        let eur = |amount| Money::new(amount, "EUR");
        assert_eq!(eur(150).checked_add(&eur(50)), Ok(eur(200)));
        assert_eq!(eur(150).checked_sub(&eur(200)), Ok(eur(-50)));
        assert_eq!(eur(150).checked_mul(3), Ok(eur(450)));
        assert_eq!(eur(150).checked_neg(), Ok(eur(-150)));
        assert_eq!(eur(2_500).share(1_000), Ok(eur(250)));
        assert_eq!(
            eur(1).checked_add(&Money::new(1, "USD")),
            Err(MoneyError::CurrencyMismatch("EUR".into(), "USD".into()))
        );
        assert_eq!(
            eur(i64::MAX).checked_add(&eur(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            eur(i64::MIN).checked_sub(&eur(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(eur(i64::MAX).checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(eur(i64::MIN).checked_neg(), Err(MoneyError::Overflow));
        assert_eq!(Money::sum("EUR", &[eur(1), eur(2), eur(3)]), Ok(eur(6)));
        assert_eq!(Money::sum("EUR", &[]), Ok(eur(0)));
        assert!(Money::sum("EUR", &[eur(1), Money::new(2, "JPY")]).is_err());
    }

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
