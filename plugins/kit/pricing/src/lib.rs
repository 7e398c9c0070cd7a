//! {{name}}: a Staybase pricing plugin.
//!
//! Staybase calls `price` for every quote and booking of your marketplace. It passes the stay
//! (property, dates, nights, the base price lines and your configuration) and uses the lines you
//! return instead of the base lines; the service fee and taxes are computed after you, from your
//! lines. All amounts are integers in minor units of the currency (cents for EUR).
//!
//! This starting point adds one configurable percentage line computed on the nights lines. Its
//! configuration (the JSON text you upload with the plugin) is, for example:
//!
//! ```json
//! {"percent": 10, "label": "Peak demand surcharge"}
//! ```
//!
//! A positive `percent` adds a `surcharge` line, a negative one a `discount` line. Change
//! `adjust` to write your own rules, test them with `cargo test`, and check the built component
//! with `staybase plugin check` (see README.md).

// Generates the types (`Quote`, `Priced`, `LineItem`, ...) and the `Guest` trait from
// wit/plugin.wit, world `pricing`.
wit_bindgen::generate!({ path: "wit", world: "pricing" });

use staybase::plugin::host;
use staybase::plugin::pricing_types::LineItem;

struct Plugin;

impl Guest for Plugin {
    /// Returns the adjusted lines, or an error: under the `fail_closed` failure policy an error
    /// refuses the quote (HTTP 422 `plugin_failed` with your message); under `fail_open`
    /// Staybase uses the base lines.
    fn price(quote: Quote) -> Result<Priced, String> {
        let config = Config::parse(&quote.config)?;
        let mut lines = quote.lines;
        if let Some(line) = adjust(&config, &lines) {
            // Log lines are returned by `staybase plugin check` and by dry runs.
            host::log(&format!(
                "{}: {} {}",
                line.code, line.amount, quote.currency
            ));
            lines.push(line);
        }
        Ok(Priced {
            currency: quote.currency,
            lines,
        })
    }
}

export!(Plugin);

/// The plugin's configuration.
#[derive(Debug, PartialEq)]
pub struct Config {
    /// -100 to 1000: the percentage of the nights lines to add (negative: to take off).
    pub percent: i64,
    /// Shown to guests.
    pub label: String,
}

impl Config {
    /// Parses the configuration uploaded with the plugin (empty text: the defaults).
    pub fn parse(text: &str) -> Result<Config, String> {
        if text.trim().is_empty() {
            return Ok(Config {
                percent: 0,
                label: "Surcharge".to_string(),
            });
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid config: {e}"))?;
        let percent = match value.get("percent") {
            None => 0,
            Some(p) => p
                .as_i64()
                .filter(|p| (-100..=1000).contains(p))
                .ok_or("invalid config: percent must be an integer from -100 to 1000")?,
        };
        let label = match value.get("label") {
            None => if percent < 0 { "Discount" } else { "Surcharge" }.to_string(),
            Some(l) => l
                .as_str()
                .ok_or("invalid config: label must be a string")?
                .to_string(),
        };
        Ok(Config { percent, label })
    }
}

/// The line to add, if any: `percent` of the sum of the nights lines (code `nights` or ending
/// in `_nights`), rounded half to even to the minor unit. `None` when it rounds to 0.
pub fn adjust(config: &Config, lines: &[LineItem]) -> Option<LineItem> {
    let nights: i64 = lines
        .iter()
        .filter(|l| l.code == "nights" || l.code.ends_with("_nights"))
        .map(|l| l.amount)
        .sum();
    let amount = percent_of(nights, config.percent);
    if amount == 0 {
        return None;
    }
    let code = if amount < 0 { "discount" } else { "surcharge" };
    Some(LineItem {
        code: code.to_string(),
        label: config.label.clone(),
        amount,
    })
}

/// `amount * percent / 100`, rounded half to even (exact integer arithmetic).
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

// `cargo test` runs these on your machine (not in WebAssembly).
#[cfg(test)]
mod tests {
    use super::*;

    fn line(code: &str, amount: i64) -> LineItem {
        LineItem {
            code: code.to_string(),
            label: code.to_string(),
            amount,
        }
    }

    #[test]
    fn adds_a_percentage_of_the_nights() {
        let config = Config::parse(r#"{"percent": 10, "label": "Peak demand surcharge"}"#).unwrap();
        let lines = [
            line("nights", 30000),
            line("weekend_nights", 12345),
            line("cleaning_fee", 5000),
        ];
        let added = adjust(&config, &lines).unwrap();
        assert_eq!(added.code, "surcharge");
        assert_eq!(added.label, "Peak demand surcharge");
        assert_eq!(added.amount, 4234); // 4234.5 rounds half to even
    }

    #[test]
    fn negative_percent_is_a_discount() {
        let config = Config::parse(r#"{"percent": -5}"#).unwrap();
        let added = adjust(&config, &[line("nights", 10000)]).unwrap();
        assert_eq!(
            (added.code.as_str(), added.label.as_str(), added.amount),
            ("discount", "Discount", -500)
        );
    }

    #[test]
    fn bad_config_is_an_error() {
        assert!(Config::parse(r#"{"percent": 2000}"#).is_err());
        assert!(Config::parse("not json").is_err());
        assert!(adjust(&Config::parse("").unwrap(), &[line("nights", 10000)]).is_none());
    }
}
