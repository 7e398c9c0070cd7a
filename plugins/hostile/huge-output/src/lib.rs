//! Hostile: a pricing guest that returns about 200 kB of output: the base lines plus 1,000
//! `fee` lines of 1 cent with 200-character labels. The host must refuse it (output > 20 kB).

wit_bindgen::generate!({ path: "../../wit", world: "pricing" });

use staybase::plugin::pricing_types::LineItem;
use std::hint::black_box;

struct HugeOutput;

impl Guest for HugeOutput {
    fn price(quote: Quote) -> Result<Priced, String> {
        let mut lines = quote.lines;
        let count = black_box(1_000usize);
        let padding = "x".repeat(190);
        for i in 0..count {
            let mut label = String::with_capacity(200);
            label.push_str("Fee ");
            label.push_str(&i.to_string());
            label.push_str(&padding);
            lines.push(LineItem {
                code: "fee".into(),
                label: black_box(label),
                amount: 1,
            });
        }
        Ok(Priced {
            currency: quote.currency,
            lines,
        })
    }
}

export!(HugeOutput);
