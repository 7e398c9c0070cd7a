//! Hostile: a pricing guest that panics with a message (printed to stderr, then the guest
//! aborts: a trap).

wit_bindgen::generate!({ path: "../../wit", world: "pricing" });

use std::hint::black_box;

struct Panic;

impl Guest for Panic {
    fn price(quote: Quote) -> Result<Priced, String> {
        if black_box(true) {
            panic!(
                "hostile plugin panics on purpose ({} nights)",
                quote.nights.len()
            );
        }
        Ok(Priced {
            currency: quote.currency,
            lines: quote.lines,
        })
    }
}

export!(Panic);
