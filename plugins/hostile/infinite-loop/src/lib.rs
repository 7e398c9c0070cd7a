//! Hostile: a pricing guest that spins forever. The host must stop it (fuel / epoch deadline).

wit_bindgen::generate!({ path: "../../wit", world: "pricing" });

use std::hint::black_box;

struct InfiniteLoop;

impl Guest for InfiniteLoop {
    fn price(quote: Quote) -> Result<Priced, String> {
        let mut n: u64 = black_box(quote.nights.len() as u64);
        loop {
            n = black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
            if black_box(false) {
                break;
            }
        }
        Err(format!("unreachable {n}"))
    }
}

export!(InfiniteLoop);
