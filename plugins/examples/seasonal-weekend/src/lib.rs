//! `seasonal-weekend`: a pricing plugin that adds seasonal and weekend surcharges computed from
//! the per-night prices. See README.md for the exact rules; the logic is in `logic.rs`.

wit_bindgen::generate!({ path: "../../wit", world: "pricing" });

mod logic;

use staybase::plugin::host;

struct SeasonalWeekend;

impl Guest for SeasonalWeekend {
    fn price(quote: Quote) -> Result<Priced, String> {
        let added = logic::surcharges(&quote.config, &quote.nights)?;
        let total: i64 = added.iter().map(|l| l.amount).sum();
        host::log(&format!(
            "seasonal-weekend: {} surcharge line(s), {} in total",
            added.len(),
            total
        ));
        let mut lines = quote.lines;
        lines.extend(added);
        Ok(Priced {
            currency: quote.currency,
            lines,
        })
    }
}

export!(SeasonalWeekend);
