//! The pricing engine: a pure function from a listing, its per-date prices and seasons, a stay
//! and the tenant's fees to ordered line items. Every amount is `Money` in the listing's
//! currency, with checked arithmetic; each computed line is rounded half to even, and the total
//! is the sum of the lines. The stay's lines come first (`stay_lines`); a tenant's pricing
//! plugin may adjust them; then the service fee and taxes are added over their sum
//! (`with_fees`), so that a plugin never decides the marketplace's fee or the taxes.
//!
//! Precedence, night by night: the night's own price (`date_price_nights`), else the season
//! covering it (`season_nights`), else the weekend price on Friday and Saturday nights
//! (`weekend_nights`), else the nightly price (`nights`). One line per source and price. The
//! weekly (7+ nights) or monthly (28+) discount applies to the sum of those lines; then come
//! the extra-guest fee (per night, per guest above the included ones) and the cleaning fee,
//! which with the discounted nights make the subtotal that the service fee and taxes are
//! basis points of.

use std::collections::BTreeMap;

use time::{Date, Weekday};
use uuid::Uuid;

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
    SeasonNights,
    DatePriceNights,
    WeeklyDiscount,
    MonthlyDiscount,
    ExtraGuestFee,
    CleaningFee,
    PlatformFee,
    Taxes,
    /// A pricing plugin's reduction.
    Discount,
    /// A pricing plugin's addition to the price of the stay.
    Surcharge,
    /// A pricing plugin's fee.
    Fee,
}

impl LineCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nights => "nights",
            Self::WeekendNights => "weekend_nights",
            Self::SeasonNights => "season_nights",
            Self::DatePriceNights => "date_price_nights",
            Self::ExtraGuestFee => "extra_guest_fee",
            Self::WeeklyDiscount => "weekly_discount",
            Self::MonthlyDiscount => "monthly_discount",
            Self::CleaningFee => "cleaning_fee",
            Self::PlatformFee => "platform_fee",
            Self::Taxes => "taxes",
            Self::Discount => "discount",
            Self::Surcharge => "surcharge",
            Self::Fee => "fee",
        }
    }

    /// The codes of a stay's lines: all but the service fee and taxes, which follow them.
    pub const STAY: [Self; 11] = [
        Self::Nights,
        Self::WeekendNights,
        Self::SeasonNights,
        Self::DatePriceNights,
        Self::WeeklyDiscount,
        Self::MonthlyDiscount,
        Self::ExtraGuestFee,
        Self::CleaningFee,
        Self::Discount,
        Self::Surcharge,
        Self::Fee,
    ];

    /// The stay line with this code, if any.
    pub fn parse_stay(value: &str) -> Option<Self> {
        Self::STAY.into_iter().find(|code| code.as_str() == value)
    }
}

/// Who set a line: the engine, or the tenant's pricing plugin (which changed or added it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineSource {
    #[default]
    Base,
    Plugin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub code: LineCode,
    pub label: String,
    /// Discounts are negative.
    pub amount: Money,
    pub source: LineSource,
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

/// A nightly price (and an optional minimum stay) for the nights `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Season {
    pub id: Uuid,
    pub start: Date,
    pub end: Date,
    pub nightly_price: i64,
    pub min_nights: Option<u32>,
}

impl Season {
    pub fn covers(&self, night: Date) -> bool {
        self.start <= night && night < self.end
    }
}

/// The prices of particular nights of a stay: per-date prices, and seasons (which never
/// overlap one another).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NightRates {
    pub dates: BTreeMap<Date, i64>,
    pub seasons: Vec<Season>,
}

impl NightRates {
    /// The price of `night` and where it comes from, by the precedence above.
    pub fn price_of(&self, listing: &Listing, night: Date) -> (LineCode, i64) {
        if let Some(price) = self.dates.get(&night) {
            return (LineCode::DatePriceNights, *price);
        }
        if let Some(season) = self.seasons.iter().find(|season| season.covers(night)) {
            return (LineCode::SeasonNights, season.nightly_price);
        }
        match listing.weekend_price {
            Some(weekend) if weekend != listing.nightly_price && is_weekend_night(night) => {
                (LineCode::WeekendNights, weekend)
            }
            _ => (LineCode::Nights, listing.nightly_price),
        }
    }
}

/// The label of `count` nights at `price` from `code`'s source.
fn nights_label(code: LineCode, count: i64, price: i64, mixed: bool) -> String {
    let noun = match code {
        LineCode::Nights if mixed => "weeknight",
        LineCode::WeekendNights => "weekend night",
        LineCode::SeasonNights => "season night",
        LineCode::DatePriceNights => "night at its own price",
        _ => "night",
    };
    let noun = if count == 1 {
        noun.to_owned()
    } else if let Some(rest) = noun.strip_prefix("night at") {
        format!("nights at{rest}")
    } else {
        format!("{noun}s")
    };
    format!("{count} {noun} × {price}")
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

/// Prices the nights of `[check_in, check_out)` for `guests` at `listing`, whose prices (and
/// `rates`) are in `currency`, with the fees.
pub fn quote(
    listing: &Listing,
    currency: &str,
    stay: (Date, Date, u32),
    rates: &NightRates,
    fees: Fees,
) -> Result<Quote, PricingError> {
    let (nights, lines) = stay_lines(listing, currency, stay, rates)?;
    with_fees(nights, currency, lines, fees)
}

/// Adds the service fee and taxes, basis points of the sum of the stay's lines, and totals.
pub fn with_fees(
    nights: u32,
    currency: &str,
    mut lines: Vec<LineItem>,
    fees: Fees,
) -> Result<Quote, PricingError> {
    let subtotal = Money::sum(currency, lines.iter().map(|line| &line.amount))?;
    for (code, label, bps) in [
        (LineCode::PlatformFee, "Service fee", fees.platform_fee_bps),
        (LineCode::Taxes, "Taxes", fees.tax_bps),
    ] {
        if bps > 0 {
            lines.push(LineItem {
                code,
                label: label.to_owned(),
                amount: subtotal.share(bps)?,
                source: LineSource::Base,
            });
        }
    }
    Quote::from_lines(nights, currency, lines)
}

/// The lines of the stay itself, before the service fee and taxes, and its nights.
pub fn stay_lines(
    listing: &Listing,
    currency: &str,
    (check_in, check_out, guests): (Date, Date, u32),
    rates: &NightRates,
) -> Result<(u32, Vec<LineItem>), PricingError> {
    let nights =
        u32::try_from((check_out - check_in).whole_days()).map_err(|_| PricingError::NoNights)?;
    if nights == 0 {
        return Err(PricingError::NoNights);
    }
    let price = |amount: i64| Money::new(amount, currency);
    // (source, unit price, nights), in order of first appearance.
    let mut groups: Vec<(LineCode, i64, i64)> = Vec::new();
    let mut night = check_in;
    while night < check_out {
        let (code, unit) = rates.price_of(listing, night);
        match groups
            .iter_mut()
            .find(|(known, price, _)| *known == code && *price == unit)
        {
            Some((_, _, count)) => *count += 1,
            None => groups.push((code, unit, 1)),
        }
        night = night.next_day().ok_or(MoneyError::Overflow)?;
    }
    // Nights first, then weekend, season and per-date nights (a stable sort keeps each
    // source's prices in order of appearance).
    groups.sort_by_key(|(code, _, _)| *code as u8);
    let mixed = groups.iter().any(|(code, _, _)| *code != LineCode::Nights);
    let mut lines = Vec::new();
    let mut push = |code, label: String, amount: Money| {
        lines.push(LineItem {
            code,
            label,
            amount,
            source: LineSource::Base,
        })
    };
    let mut stay = Money::zero(currency);
    for (code, unit, count) in groups {
        let total = price(unit).checked_mul(count)?;
        stay = stay.checked_add(&total)?;
        push(code, nights_label(code, count, unit, mixed), total);
    }
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
    if let Some((code, label, bps)) = discount {
        let amount = stay.share(bps)?;
        push(code, label.to_owned(), amount.checked_neg()?);
    }
    let extra_guests = i64::from(
        listing
            .included_guests
            .map_or(0, |included| guests.saturating_sub(included)),
    );
    if extra_guests > 0 && listing.extra_guest_fee > 0 {
        let fee = price(listing.extra_guest_fee)
            .checked_mul(extra_guests)?
            .checked_mul(i64::from(nights))?;
        push(
            LineCode::ExtraGuestFee,
            format!(
                "{extra_guests} extra guest{} × {nights} night{} × {}",
                plural(extra_guests),
                plural(i64::from(nights)),
                listing.extra_guest_fee
            ),
            fee,
        );
    }
    if listing.cleaning_fee > 0 {
        push(
            LineCode::CleaningFee,
            "Cleaning fee".to_owned(),
            price(listing.cleaning_fee),
        );
    }
    Ok((nights, lines))
}

fn plural(count: i64) -> &'static str {
    if count == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::{
        availability::StayRules,
        properties::model::{Location, PropertyStatus},
    };

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
            booking_mode: None,
            rules: StayRules::default(),
            included_guests: None,
            extra_guest_fee: 0,
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
        super::quote(
            listing,
            "EUR",
            (check_in, check_out, 2),
            &NightRates::default(),
            fees,
        )
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
    fn a_nights_own_price_beats_its_season_which_beats_the_weekend_price() {
        let mut listing = listing();
        listing.weekend_price = Some(15_000);
        listing.weekly_discount_bps = 1_000;
        // Monday 2027-07-05 to Monday 2027-07-12: seven nights, Friday and Saturday included.
        let rates = NightRates {
            dates: BTreeMap::from([(date!(2027 - 07 - 09), 20_001)]),
            seasons: vec![Season {
                id: Uuid::nil(),
                start: date!(2027 - 07 - 07),
                end: date!(2027 - 07 - 10),
                nightly_price: 12_345,
                min_nights: None,
            }],
        };
        let quote = super::quote(
            &listing,
            "EUR",
            (date!(2027 - 07 - 05), date!(2027 - 07 - 12), 2),
            &rates,
            NO_FEES,
        )
        .unwrap();
        // Mon, Tue: nightly; Wed, Thu: season; Fri: its own price (over the season and the
        // weekend); Sat: weekend; Sun: nightly. 2 × 10000 + 10000 + 15000 + 2 × 12345 +
        // 20001 = 89691; 10 % off = 8969.1, half to even 8969.
        assert_eq!(
            codes(&quote),
            [
                ("nights", 30_000),
                ("weekend_nights", 15_000),
                ("season_nights", 24_690),
                ("date_price_nights", 20_001),
                ("weekly_discount", -8_969),
                ("cleaning_fee", 2_500),
            ]
        );
        assert_eq!(quote.total, Money::new(83_222, "EUR"));
        assert_eq!(quote.line_items[0].label, "3 weeknights × 10000");
        assert_eq!(quote.line_items[2].label, "2 season nights × 12345");
        assert_eq!(
            quote.line_items[3].label,
            "1 night at its own price × 20001"
        );
    }

    #[test]
    fn guests_above_the_included_ones_pay_the_extra_guest_fee_every_night() {
        let mut listing = listing();
        listing.included_guests = Some(2);
        listing.extra_guest_fee = 1_250;
        let fees = Fees {
            platform_fee_bps: 1_000,
            tax_bps: 0,
        };
        let priced = |guests| {
            super::quote(
                &listing,
                "EUR",
                (date!(2027 - 07 - 05), date!(2027 - 07 - 08), guests),
                &NightRates::default(),
                fees,
            )
            .unwrap()
        };
        // 3 nights × 10000 + 2 extra guests × 3 nights × 1250 + 2500 cleaning = 40000.
        let quote = priced(4);
        assert_eq!(
            codes(&quote),
            [
                ("nights", 30_000),
                ("extra_guest_fee", 7_500),
                ("cleaning_fee", 2_500),
                ("platform_fee", 4_000),
            ]
        );
        assert_eq!(
            quote.line_items[1].label,
            "2 extra guests × 3 nights × 1250"
        );
        assert!(
            priced(2)
                .line_items
                .iter()
                .all(|line| line.code != LineCode::ExtraGuestFee)
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
