//! The pricing engine: a pure function from a listing, a stay and the tenant's fees to ordered
//! line items. Every amount is `Money` in the listing's currency, with checked arithmetic; each
//! computed line is rounded half to even, and the total is the sum of the lines. A tenant's pricing plugin will take these lines and
//! return adjusted ones before the total is summed (see `Quote::from_lines`).

use time::{Date, Weekday};

use crate::{
    money::{Money, MoneyError},
    properties::model::Listing,
};

/// What a line item charges or discounts: a stable machine code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineCode {
    Nights,
    WeekendNights,
    WeeklyDiscount,
    MonthlyDiscount,
    CleaningFee,
    PlatformFee,
    Taxes,
}

impl LineCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nights => "nights",
            Self::WeekendNights => "weekend_nights",
            Self::WeeklyDiscount => "weekly_discount",
            Self::MonthlyDiscount => "monthly_discount",
            Self::CleaningFee => "cleaning_fee",
            Self::PlatformFee => "platform_fee",
            Self::Taxes => "taxes",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub code: LineCode,
    pub label: String,
    /// Discounts are negative.
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub nights: u32,
    pub line_items: Vec<LineItem>,
    pub total: Money,
}

/// The tenant's share and the taxes, in basis points of the stay subtotal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    pub platform_fee_bps: u32,
    pub tax_bps: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PricingError {
    #[error("the stay has no nights")]
    NoNights,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

fn is_weekend_night(night: Date) -> bool {
    matches!(night.weekday(), Weekday::Friday | Weekday::Saturday)
}

impl Quote {
    /// Totals the lines (after any adjustment of them), all in `currency`.
    pub fn from_lines(
        nights: u32,
        currency: &str,
        line_items: Vec<LineItem>,
    ) -> Result<Self, PricingError> {
        let total = Money::sum(currency, line_items.iter().map(|line| &line.amount))?;
        Ok(Self {
            nights,
            line_items,
            total,
        })
    }
}

/// Prices the nights of `[check_in, check_out)` at `listing`, whose prices are in `currency`.
pub fn quote(
    listing: &Listing,
    currency: &str,
    check_in: Date,
    check_out: Date,
    fees: Fees,
) -> Result<Quote, PricingError> {
    let nights =
        u32::try_from((check_out - check_in).whole_days()).map_err(|_| PricingError::NoNights)?;
    if nights == 0 {
        return Err(PricingError::NoNights);
    }
    let price = |amount: i64| Money::new(amount, currency);
    let weekend_price = listing
        .weekend_price
        .filter(|price| *price != listing.nightly_price);
    let mut weeknights: i64 = 0;
    let mut weekend_nights: i64 = 0;
    let mut night = check_in;
    while night < check_out {
        if weekend_price.is_some() && is_weekend_night(night) {
            weekend_nights += 1;
        } else {
            weeknights += 1;
        }
        night = night.next_day().ok_or(MoneyError::Overflow)?;
    }
    let mut lines = Vec::new();
    let mut push = |code, label: String, amount: Money| {
        lines.push(LineItem {
            code,
            label,
            amount,
        })
    };
    let nightly_total = price(listing.nightly_price).checked_mul(weeknights)?;
    if weeknights > 0 {
        let noun = if weekend_nights > 0 {
            "weeknight"
        } else {
            "night"
        };
        push(
            LineCode::Nights,
            format!(
                "{weeknights} {noun}{} × {}",
                plural(weeknights),
                listing.nightly_price
            ),
            nightly_total.clone(),
        );
    }
    let weekend_total = match weekend_price {
        Some(weekend) if weekend_nights > 0 => {
            let total = price(weekend).checked_mul(weekend_nights)?;
            push(
                LineCode::WeekendNights,
                format!(
                    "{weekend_nights} weekend night{} × {weekend}",
                    plural(weekend_nights)
                ),
                total.clone(),
            );
            total
        }
        _ => Money::zero(currency),
    };
    let stay = nightly_total.checked_add(&weekend_total)?;
    let discount = if nights >= 28 && listing.monthly_discount_bps > 0 {
        Some((
            LineCode::MonthlyDiscount,
            "Monthly stay discount",
            listing.monthly_discount_bps,
        ))
    } else if nights >= 7 && listing.weekly_discount_bps > 0 {
        Some((
            LineCode::WeeklyDiscount,
            "Weekly stay discount",
            listing.weekly_discount_bps,
        ))
    } else {
        None
    };
    let mut subtotal = stay.clone();
    if let Some((code, label, bps)) = discount {
        let amount = stay.share(bps)?;
        push(code, label.to_owned(), amount.checked_neg()?);
        subtotal = subtotal.checked_sub(&amount)?;
    }
    if listing.cleaning_fee > 0 {
        let fee = price(listing.cleaning_fee);
        subtotal = subtotal.checked_add(&fee)?;
        push(LineCode::CleaningFee, "Cleaning fee".to_owned(), fee);
    }
    if fees.platform_fee_bps > 0 {
        push(
            LineCode::PlatformFee,
            "Service fee".to_owned(),
            subtotal.share(fees.platform_fee_bps)?,
        );
    }
    if fees.tax_bps > 0 {
        push(
            LineCode::Taxes,
            "Taxes".to_owned(),
            subtotal.share(fees.tax_bps)?,
        );
    }
    Quote::from_lines(nights, currency, lines)
}

fn plural(count: i64) -> &'static str {
    if count == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::properties::model::{Location, PropertyStatus};

    fn listing() -> Listing {
        Listing {
            name: "Loft".into(),
            description: "d".into(),
            location: Location {
                address: "a".into(),
                city: "Paris".into(),
                country: "FR".into(),
                lat: 0.0,
                lng: 0.0,
            },
            nightly_price: 10_000,
            cleaning_fee: 2_500,
            weekend_price: None,
            weekly_discount_bps: 1_000,
            monthly_discount_bps: 2_500,
            max_guests: 4,
            bedrooms: None,
            bathrooms: None,
            min_nights: 1,
            max_nights: 60,
            amenities: vec![],
            status: PropertyStatus::Listed,
        }
    }

    const NO_FEES: Fees = Fees {
        platform_fee_bps: 0,
        tax_bps: 0,
    };

    fn codes(quote: &Quote) -> Vec<(&'static str, i64)> {
        quote
            .line_items
            .iter()
            .map(|line| (line.code.as_str(), line.amount.amount))
            .collect()
    }

    fn quote(
        listing: &Listing,
        check_in: Date,
        check_out: Date,
        fees: Fees,
    ) -> Result<Quote, PricingError> {
        super::quote(listing, "EUR", check_in, check_out, fees)
    }

    #[test]
    fn a_short_stay_is_nights_and_cleaning() {
        // Monday to Wednesday: two weeknights.
        let quote = quote(
            &listing(),
            date!(2027 - 07 - 05),
            date!(2027 - 07 - 07),
            NO_FEES,
        )
        .unwrap();
        assert_eq!(quote.nights, 2);
        assert_eq!(codes(&quote), [("nights", 20_000), ("cleaning_fee", 2_500)]);
        assert_eq!(quote.total, Money::new(22_500, "EUR"));
        assert_eq!(quote.line_items[0].label, "2 nights × 10000");
    }

    #[test]
    fn friday_and_saturday_nights_take_the_weekend_price() {
        let mut listing = listing();
        listing.weekend_price = Some(15_000);
        // Thursday to Sunday: Thursday, Friday, Saturday nights.
        let quote = quote(
            &listing,
            date!(2027 - 07 - 08),
            date!(2027 - 07 - 11),
            NO_FEES,
        )
        .unwrap();
        assert_eq!(
            codes(&quote),
            [
                ("nights", 10_000),
                ("weekend_nights", 30_000),
                ("cleaning_fee", 2_500)
            ]
        );
        assert_eq!(quote.total, Money::new(42_500, "EUR"));
    }

    #[test]
    fn seven_nights_get_the_weekly_discount_and_28_the_monthly_one() {
        let weekly = quote(
            &listing(),
            date!(2027 - 07 - 05),
            date!(2027 - 07 - 12),
            NO_FEES,
        )
        .unwrap();
        assert_eq!(
            codes(&weekly),
            [
                ("nights", 70_000),
                ("weekly_discount", -7_000),
                ("cleaning_fee", 2_500)
            ]
        );
        let monthly = quote(
            &listing(),
            date!(2027 - 07 - 01),
            date!(2027 - 07 - 29),
            NO_FEES,
        )
        .unwrap();
        assert_eq!(
            codes(&monthly),
            [
                ("nights", 280_000),
                ("monthly_discount", -70_000),
                ("cleaning_fee", 2_500)
            ]
        );
        let six = quote(
            &listing(),
            date!(2027 - 07 - 05),
            date!(2027 - 07 - 11),
            NO_FEES,
        )
        .unwrap();
        assert!(
            six.line_items
                .iter()
                .all(|line| !line.code.as_str().ends_with("discount"))
        );
    }

    #[test]
    fn fees_and_taxes_apply_to_the_stay_subtotal_and_the_total_is_the_sum_of_lines() {
        let mut listing = listing();
        listing.nightly_price = 3_333;
        listing.cleaning_fee = 1_001;
        let fees = Fees {
            platform_fee_bps: 1_250,
            tax_bps: 550,
        };
        let quote = quote(&listing, date!(2027 - 07 - 05), date!(2027 - 07 - 08), fees).unwrap();
        // Subtotal 3 × 3333 + 1001 = 11000; 12.5 % = 1375; 5.5 % = 605.
        assert_eq!(
            codes(&quote),
            [
                ("nights", 9_999),
                ("cleaning_fee", 1_001),
                ("platform_fee", 1_375),
                ("taxes", 605)
            ]
        );
        assert_eq!(
            quote.total.amount,
            quote
                .line_items
                .iter()
                .map(|line| line.amount.amount)
                .sum::<i64>()
        );
    }

    #[test]
    fn impossible_stays_are_errors_not_panics() {
        assert_eq!(
            quote(
                &listing(),
                date!(2027 - 07 - 05),
                date!(2027 - 07 - 05),
                NO_FEES
            ),
            Err(PricingError::NoNights)
        );
        assert_eq!(
            quote(
                &listing(),
                date!(2027 - 07 - 05),
                date!(2027 - 07 - 01),
                NO_FEES
            ),
            Err(PricingError::NoNights)
        );
        let mut huge = listing();
        huge.nightly_price = i64::MAX / 2;
        assert_eq!(
            quote(&huge, date!(2027 - 07 - 05), date!(2027 - 07 - 08), NO_FEES),
            Err(PricingError::Money(MoneyError::Overflow))
        );
    }
}
