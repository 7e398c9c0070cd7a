//! The pure logic of `stay-discounts`, tested natively with `cargo test`.

use crate::staybase::plugin::pricing_types::LineItem;
use minijson::Value;

#[derive(Debug, PartialEq)]
pub struct Rule {
    /// `min_nights` for the long stay, `days` for the last minute.
    pub threshold: i64,
    pub percent: i64,
}

#[derive(Debug, PartialEq)]
pub struct Config {
    pub long_stay: Option<Rule>,
    pub last_minute: Option<Rule>,
}

fn rule(v: Option<&Value>, name: &str, threshold_key: &str) -> Result<Option<Rule>, String> {
    let v = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(v) if v.is_object() => v,
        Some(_) => return Err(format!("invalid config: {name} must be an object")),
    };
    let threshold = match v.get(threshold_key).and_then(Value::as_i64) {
        Some(t) if (0..=100_000).contains(&t) => t,
        _ => {
            return Err(format!(
                "invalid config: {name}.{threshold_key} must be an integer from 0 to 100000"
            ));
        }
    };
    let percent = match v.get("percent").and_then(Value::as_i64) {
        Some(p) if (0..=100).contains(&p) => p,
        _ => {
            return Err(format!(
                "invalid config: {name}.percent must be an integer from 0 to 100"
            ));
        }
    };
    Ok(Some(Rule { threshold, percent }))
}

pub fn parse_config(text: &str) -> Result<Config, String> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let v = minijson::parse(text).map_err(|e| format!("invalid config: {e}"))?;
    if !v.is_object() {
        return Err("invalid config: expected a JSON object".into());
    }
    Ok(Config {
        long_stay: rule(v.get("long_stay"), "long_stay", "min_nights")?,
        last_minute: rule(v.get("last_minute"), "last_minute", "days")?,
    })
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (proleptic Gregorian calendar).
pub fn day_number(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + (c - b'0') as i64)
        })
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_len = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > month_len[m as usize - 1] {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// `amount * percent / 100`, rounded half to even to the minor unit.
pub fn percent_of(amount: i64, percent: i64) -> i64 {
    let n = amount as i128 * percent as i128;
    let (q, r) = (n.div_euclid(100), n.rem_euclid(100));
    let q = if r > 50 || (r == 50 && q % 2 != 0) {
        q + 1
    } else {
        q
    };
    q.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Whether a base line charges nights: code `nights` or a code ending in `_nights`.
pub fn is_nights_line(code: &str) -> bool {
    code == "nights" || code.ends_with("_nights")
}

/// The discount lines to append after the base lines: long stay first, then last minute. Each
/// is computed on the sum of the nights lines and then capped so that the total of all lines
/// stays >= 0; lines of amount 0 are left out.
pub fn discounts(
    config: &str,
    today: &str,
    check_in: &str,
    nights: usize,
    lines: &[LineItem],
) -> Result<Vec<LineItem>, String> {
    let config = parse_config(config)?;
    let nights_sum: i64 = lines
        .iter()
        .filter(|l| is_nights_line(&l.code))
        .map(|l| l.amount)
        .fold(0, i64::saturating_add);
    let mut remaining: i64 = lines.iter().map(|l| l.amount).fold(0, i64::saturating_add);
    let mut out = Vec::new();
    let mut add = |label: String, percent: i64, out: &mut Vec<LineItem>| {
        let wanted = percent_of(nights_sum, percent).max(0);
        let amount = wanted.min(remaining.max(0));
        remaining -= amount;
        if amount > 0 {
            out.push(LineItem {
                code: "discount".into(),
                label,
                amount: -amount,
            });
        }
    };
    if let Some(r) = config
        .long_stay
        .as_ref()
        .filter(|r| nights as i64 >= r.threshold)
    {
        let label = format!(
            "Long stay discount ({}%, {}+ nights)",
            r.percent, r.threshold
        );
        add(label, r.percent, &mut out);
    }
    if let Some(r) = &config.last_minute {
        let (Some(t), Some(c)) = (day_number(today), day_number(check_in)) else {
            return Err(format!(
                "invalid dates: today {today:?}, check-in {check_in:?}"
            ));
        };
        let ahead = c - t;
        if (0..=r.threshold).contains(&ahead) {
            add(
                format!("Last-minute discount ({}%)", r.percent),
                r.percent,
                &mut out,
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = include_str!("../config.json");

    fn line(code: &str, amount: i64) -> LineItem {
        LineItem {
            code: code.into(),
            label: code.into(),
            amount,
        }
    }

    fn summary(lines: &[LineItem]) -> Vec<(String, i64)> {
        lines.iter().map(|l| (l.label.clone(), l.amount)).collect()
    }

    #[test]
    fn day_numbers() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2000-03-01"), Some(11_017));
        assert_eq!(day_number("2026-12-01"), Some(20_788));
        assert_eq!(
            day_number("2027-01-01").unwrap() - day_number("2026-12-31").unwrap(),
            1
        );
        assert_eq!(
            day_number("2028-03-01").unwrap() - day_number("2028-02-28").unwrap(),
            2
        );
        assert_eq!(day_number("2026-02-29"), None);
        assert_eq!(day_number("2026-1-01"), None);
    }

    /// The worked example of README.md: `examples/sample-quote.json` with this configuration.
    #[test]
    fn readme_example() {
        let q = minijson::parse(include_str!("../../sample-quote.json")).unwrap();
        let s = |v: &Value, k: &str| v.get(k).unwrap().as_str().unwrap().to_string();
        let base: Vec<LineItem> = q
            .get("lines")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|l| LineItem {
                code: s(l, "code"),
                label: s(l, "label"),
                amount: l.get("amount").unwrap().as_i64().unwrap(),
            })
            .collect();
        let nights = q.get("nights").unwrap().as_array().unwrap().len();
        let lines = discounts(CONFIG, &s(&q, "today"), &s(&q, "check_in"), nights, &base).unwrap();
        assert_eq!(
            summary(&lines),
            [
                ("Long stay discount (10%, 7+ nights)".to_string(), -10_846),
                ("Last-minute discount (5%)".to_string(), -5_423)
            ]
        );
        assert!(lines.iter().all(|l| l.code == "discount"));
    }

    #[test]
    fn other_example() {
        let base = [
            line("nights", 87_500),
            line("weekend_nights", 40_125),
            line("cleaning_fee", 6_000),
        ];
        let lines = discounts(CONFIG, "2026-07-01", "2026-07-03", 7, &base).unwrap();
        assert_eq!(
            summary(&lines),
            [
                ("Long stay discount (10%, 7+ nights)".to_string(), -12_762),
                ("Last-minute discount (5%)".to_string(), -6_381)
            ]
        );
    }

    #[test]
    fn thresholds() {
        let base = [line("nights", 10_000)];
        // 6 nights, check-in 4 days ahead: nothing.
        assert!(
            discounts(CONFIG, "2026-07-01", "2026-07-05", 6, &base)
                .unwrap()
                .is_empty()
        );
        // Check-in today and in exactly `days` days count; the day before today does not.
        for check_in in ["2026-07-01", "2026-07-04"] {
            let l = discounts(CONFIG, "2026-07-01", check_in, 1, &base).unwrap();
            assert_eq!(
                summary(&l),
                [("Last-minute discount (5%)".to_string(), -500)]
            );
        }
        assert!(
            discounts(CONFIG, "2026-07-01", "2026-06-30", 1, &base)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn never_negative() {
        let config = r#"{"long_stay":{"min_nights":1,"percent":100},"last_minute":{"days":3,"percent":100}}"#;
        let base = [
            line("nights", 10_000),
            line("cleaning_fee", 2_000),
            line("discount", -11_000),
        ];
        let l = discounts(config, "2026-07-01", "2026-07-01", 1, &base).unwrap();
        assert_eq!(
            summary(&l),
            [("Long stay discount (100%, 1+ nights)".to_string(), -1_000)]
        );
        let total: i64 = base.iter().chain(&l).map(|l| l.amount).sum();
        assert_eq!(total, 0);
    }

    #[test]
    fn rounding_half_even_per_line() {
        let config = r#"{"long_stay":{"min_nights":1,"percent":10}}"#;
        let l = discounts(
            config,
            "2026-07-01",
            "2026-08-01",
            1,
            &[line("nights", 125)],
        )
        .unwrap();
        assert_eq!(l[0].amount, -12); // 12.5 -> 12
        let l = discounts(
            config,
            "2026-07-01",
            "2026-08-01",
            1,
            &[line("nights", 135)],
        )
        .unwrap();
        assert_eq!(l[0].amount, -14); // 13.5 -> 14
        assert!(
            discounts("", "2026-07-01", "2026-07-01", 30, &[line("nights", 135)])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn bad_configs_are_errors() {
        for bad in [
            "[1]",
            r#"{"long_stay":7}"#,
            r#"{"long_stay":{"min_nights":7}}"#,
            r#"{"long_stay":{"min_nights":7,"percent":101}}"#,
            r#"{"last_minute":{"days":-1,"percent":5}}"#,
        ] {
            let e = discounts(bad, "2026-07-01", "2026-07-01", 1, &[]).unwrap_err();
            assert!(e.starts_with("invalid config: "), "{bad}: {e}");
        }
        assert!(discounts(CONFIG, "2026-07-01", "July", 1, &[]).is_err());
    }
}
