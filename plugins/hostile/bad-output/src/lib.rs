//! Hostile: a pricing guest whose output breaks the contract in the way its configuration
//! names (`"currency"`, `"code"`, `"fee"`, `"negative"`, `"label"`, `"sign"`), to exercise the host's
//! checks of plugin output; any other configuration returns the base lines unchanged.

wit_bindgen::generate!({ path: "../../wit", world: "pricing" });

use staybase::plugin::pricing_types::LineItem;

struct BadOutput;

impl Guest for BadOutput {
    fn price(quote: Quote) -> Result<Priced, String> {
        let mut priced = Priced {
            currency: quote.currency,
            lines: quote.lines,
        };
        let line = |code: &str, label: &str, amount: i64| LineItem {
            code: code.into(),
            label: label.into(),
            amount,
        };
        match quote.config.trim_matches(|c| c == '"' || c == ' ') {
            "currency" => priced.currency = "XXX".into(),
            "code" => priced.lines.push(line("bonus", "Bonus", 100)),
            "fee" => priced.lines.push(line("platform_fee", "Our fee", 100)),
            "negative" => priced.lines.push(line("discount", "Everything free", -1_000_000_000)),
            "label" => priced.lines.push(line("surcharge", "", 100)),
            "sign" => priced.lines.push(line("surcharge", "A surcharge that pays back", -100)),
            _ => {}
        }
        Ok(priced)
    }
}

export!(BadOutput);
