//! Hostile: a pricing guest that reads /etc/passwd with `std::fs`, so the component imports
//! `wasi:filesystem/*`. The host must refuse it at upload.

wit_bindgen::generate!({ path: "../../wit", world: "pricing" });

use staybase::plugin::pricing_types::LineItem;
use std::hint::black_box;

struct WasiFilesystem;

impl Guest for WasiFilesystem {
    fn price(quote: Quote) -> Result<Priced, String> {
        let text = std::fs::read_to_string(black_box("/etc/passwd")).map_err(|e| e.to_string())?;
        let mut lines = quote.lines;
        lines.push(LineItem {
            code: "fee".into(),
            label: text.chars().take(200).collect(),
            amount: 1,
        });
        Ok(Priced {
            currency: quote.currency,
            lines,
        })
    }
}

export!(WasiFilesystem);
