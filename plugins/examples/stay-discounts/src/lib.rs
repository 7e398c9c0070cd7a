//! `stay-discounts`: a pricing plugin that adds a long-stay and a last-minute discount. See
//! README.md for the exact rules; the logic is in `logic.rs`.

wit_bindgen::generate!({ path: "../../wit", world: "pricing" });

mod logic;

use staybase::plugin::host;

struct StayDiscounts;

impl Guest for StayDiscounts {
    fn price(quote: Quote) -> Result<Priced, String> {
        let added = logic::discounts(
            &quote.config,
            &quote.today,
            &quote.check_in,
            quote.nights.len(),
            &quote.lines,
        )?;
        let total: i64 = added.iter().map(|l| l.amount).sum();
        host::log(&format!(
            "stay-discounts: {} discount line(s), {} in total",
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

export!(StayDiscounts);
