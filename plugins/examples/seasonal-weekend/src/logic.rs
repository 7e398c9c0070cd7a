//! The pure logic of `seasonal-weekend`, tested natively with `cargo test`.

use crate::staybase::plugin::pricing_types::{LineItem, Night};
use minijson::Value;

/// One season of the configuration: nights whose `MM-DD` is in `[from, to)`.
#[derive(Debug, PartialEq)]
pub struct Season {
    pub name: String,
    pub from: (u8, u8),
    pub to: (u8, u8),
    pub percent: i64,
}

#[derive(Debug, PartialEq)]
pub struct Config {
    pub seasons: Vec<Season>,
    pub weekend_percent: i64,
}

fn percent(v: Option<&Value>, what: &str) -> Result<i64, String> {
    match v {
        None | Some(Value::Null) => Ok(0),
        Some(v) => match v.as_i64() {
            Some(p) if (0..=1000).contains(&p) => Ok(p),
            _ => Err(format!(
                "invalid config: {what} must be an integer from 0 to 1000"
            )),
        },
    }
}

/// Parses `MM-DD` (month 01-12, day 01-31).
fn month_day(s: &str) -> Option<(u8, u8)> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b'-' || !b[..2].iter().chain(&b[3..]).all(u8::is_ascii_digit) {
        return None;
    }
    let m = (b[0] - b'0') * 10 + (b[1] - b'0');
    let d = (b[3] - b'0') * 10 + (b[4] - b'0');
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some((m, d))
}

pub fn parse_config(text: &str) -> Result<Config, String> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let v = minijson::parse(text).map_err(|e| format!("invalid config: {e}"))?;
    if !v.is_object() {
        return Err("invalid config: expected a JSON object".into());
    }
    let mut seasons = Vec::new();
    match v.get("seasons") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, s) in items.iter().enumerate() {
                let name = s.get("name").and_then(Value::as_str).unwrap_or("Season");
                let from = s.get("from").and_then(Value::as_str).and_then(month_day);
                let to = s.get("to").and_then(Value::as_str).and_then(month_day);
                let (Some(from), Some(to)) = (from, to) else {
                    return Err(format!(
                        "invalid config: seasons[{i}] needs \"from\" and \"to\" as \"MM-DD\""
                    ));
                };
                let percent = percent(s.get("percent"), &format!("seasons[{i}].percent"))?;
                seasons.push(Season {
                    name: name.chars().take(100).collect(),
                    from,
                    to,
                    percent,
                });
            }
        }
        Some(_) => return Err("invalid config: seasons must be an array".into()),
    }
    let weekend_percent = percent(v.get("weekend_percent"), "weekend_percent")?;
    Ok(Config {
        seasons,
        weekend_percent,
    })
}

impl Season {
    /// Whether the night starting on `date` (`YYYY-MM-DD`) is in this season.
    pub fn covers(&self, date: &str) -> bool {
        let Some(md) = date.get(5..10).and_then(month_day) else {
            return false;
        };
        if self.from < self.to {
            self.from <= md && md < self.to
        } else if self.from > self.to {
            // Wraps the new year, e.g. 12-20 to 01-05.
            md >= self.from || md < self.to
        } else {
            true // from == to: the whole year
        }
    }
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

fn nights_word(n: usize) -> &'static str {
    if n == 1 { "night" } else { "nights" }
}

/// The surcharge lines to append after the base lines: one per season that covers at least one
/// night (each night counts for the first season that covers it), then one for the weekend
/// nights (friday and saturday). Lines whose amount rounds to 0 are left out.
pub fn surcharges(config: &str, nights: &[Night]) -> Result<Vec<LineItem>, String> {
    let config = parse_config(config)?;
    let mut lines = Vec::new();
    let mut season_sums = vec![(0i64, 0usize); config.seasons.len()];
    let (mut weekend_sum, mut weekend_count) = (0i64, 0usize);
    for night in nights {
        if let Some(i) = config.seasons.iter().position(|s| s.covers(&night.date)) {
            season_sums[i].0 = season_sums[i].0.saturating_add(night.price);
            season_sums[i].1 += 1;
        }
        if night.weekday == "friday" || night.weekday == "saturday" {
            weekend_sum = weekend_sum.saturating_add(night.price);
            weekend_count += 1;
        }
    }
    for (season, (sum, count)) in config.seasons.iter().zip(season_sums) {
        let amount = percent_of(sum, season.percent);
        if count > 0 && amount != 0 {
            lines.push(LineItem {
                code: "surcharge".into(),
                label: format!(
                    "{} surcharge ({}%, {} {})",
                    season.name,
                    season.percent,
                    count,
                    nights_word(count)
                ),
                amount,
            });
        }
    }
    let amount = percent_of(weekend_sum, config.weekend_percent);
    if weekend_count > 0 && amount != 0 {
        lines.push(LineItem {
            code: "surcharge".into(),
            label: format!(
                "Weekend surcharge ({}%, {} {})",
                config.weekend_percent,
                weekend_count,
                nights_word(weekend_count)
            ),
            amount,
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn night(date: &str, weekday: &str, price: i64) -> Night {
        Night {
            date: date.into(),
            weekday: weekday.into(),
            price,
            source: "nights".into(),
        }
    }

    fn summary(lines: &[LineItem]) -> Vec<(String, i64)> {
        lines.iter().map(|l| (l.label.clone(), l.amount)).collect()
    }

    const CONFIG: &str = include_str!("../config.json");

    #[test]
    fn rounds_half_to_even() {
        assert_eq!(percent_of(250, 1), 2); // 2.50 -> 2
        assert_eq!(percent_of(350, 1), 4); // 3.50 -> 4
        assert_eq!(percent_of(351, 1), 4);
        assert_eq!(percent_of(349, 1), 3);
        assert_eq!(percent_of(-250, 1), -2);
        assert_eq!(percent_of(-350, 1), -4);
        assert_eq!(percent_of(-351, 1), -4);
        assert_eq!(percent_of(12345, 15), 1852); // 1851.75
        assert_eq!(percent_of(i64::MAX, 1000), i64::MAX);
    }

    /// The nights of `examples/sample-quote.json`, the worked example of README.md.
    fn sample_nights() -> Vec<Night> {
        let q = minijson::parse(include_str!("../../sample-quote.json")).unwrap();
        let s = |v: &Value, k: &str| v.get(k).unwrap().as_str().unwrap().to_string();
        q.get("nights")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|n| Night {
                date: s(n, "date"),
                weekday: s(n, "weekday"),
                price: n.get("price").unwrap().as_i64().unwrap(),
                source: s(n, "source"),
            })
            .collect()
    }

    /// The worked example of README.md.
    #[test]
    fn readme_example() {
        let lines = surcharges(CONFIG, &sample_nights()).unwrap();
        assert_eq!(
            summary(&lines),
            [
                ("Summer surcharge (20%, 5 nights)".to_string(), 16222),
                ("Weekend surcharge (15%, 2 nights)".to_string(), 5416)
            ]
        );
        assert!(lines.iter().all(|l| l.code == "surcharge"));
        // The sample quote carries this same configuration.
        let q = minijson::parse(include_str!("../../sample-quote.json")).unwrap();
        assert_eq!(
            minijson::parse(q.get("config").unwrap().as_str().unwrap()),
            minijson::parse(CONFIG)
        );
    }

    #[test]
    fn seasons_wrap_and_first_match_wins() {
        let config = r#"{"seasons":[{"name":"Holidays","from":"12-20","to":"01-05","percent":30},
            {"name":"Winter","from":"12-01","to":"03-01","percent":10}]}"#;
        let nights = [
            night("2026-12-19", "saturday", 100), // Winter
            night("2026-12-20", "sunday", 100),   // Holidays
            night("2027-01-04", "monday", 100),   // Holidays
            night("2027-01-05", "tuesday", 100),  // Winter
            night("2027-03-01", "monday", 100),   // none
        ];
        let lines = surcharges(config, &nights).unwrap();
        assert_eq!(
            summary(&lines),
            [
                ("Holidays surcharge (30%, 2 nights)".to_string(), 60),
                ("Winter surcharge (10%, 2 nights)".to_string(), 20)
            ]
        );
    }

    #[test]
    fn zero_lines_are_left_out() {
        let lines = surcharges(
            r#"{"weekend_percent":1}"#,
            &[night("2026-01-02", "friday", 49)],
        )
        .unwrap();
        assert!(lines.is_empty()); // 0.49 rounds to 0
        let lines = surcharges(
            r#"{"weekend_percent":1}"#,
            &[night("2026-01-02", "friday", 150)],
        )
        .unwrap();
        assert_eq!(
            summary(&lines),
            [("Weekend surcharge (1%, 1 night)".to_string(), 2)]
        );
        assert!(
            surcharges("", &[night("2026-01-02", "friday", 150)])
                .unwrap()
                .is_empty()
        );
        assert!(surcharges(CONFIG, &[]).unwrap().is_empty());
    }

    #[test]
    fn bad_configs_are_errors() {
        for bad in [
            "[]",
            "{",
            r#"{"weekend_percent":-1}"#,
            r#"{"weekend_percent":1.5}"#,
            r#"{"weekend_percent":1001}"#,
            r#"{"seasons":{}}"#,
            r#"{"seasons":[{"from":"13-01","to":"01-01","percent":1}]}"#,
            r#"{"seasons":[{"from":"6-15","to":"09-01","percent":1}]}"#,
            r#"{"seasons":[{"from":"06-15","percent":1}]}"#,
        ] {
            let e = surcharges(bad, &[]).unwrap_err();
            assert!(e.starts_with("invalid config: "), "{bad}: {e}");
        }
    }
}
