//! Hostile: a pricing guest that recurses without end (not a tail call, with a 256-byte frame
//! on the shadow stack), so the stack overflows: a trap.

wit_bindgen::generate!({ path: "../../wit", world: "pricing" });

use std::hint::black_box;

#[inline(never)]
fn descend(depth: u64) -> u64 {
    let frame = black_box([depth as u8; 256]);
    if black_box(depth) == u64::MAX {
        return frame[0] as u64;
    }
    let below = descend(black_box(depth + 1));
    black_box(below.wrapping_add(frame[black_box(7)] as u64))
}

struct DeepRecursion;

impl Guest for DeepRecursion {
    fn price(quote: Quote) -> Result<Priced, String> {
        let n = descend(black_box(quote.nights.len() as u64));
        Err(format!("unreachable {n}"))
    }
}

export!(DeepRecursion);
