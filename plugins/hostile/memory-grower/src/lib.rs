//! Hostile: a pricing guest that keeps allocating 1 MiB blocks until an allocation fails (the
//! host's memory limit), which aborts: a trap.

wit_bindgen::generate!({ path: "../../wit", world: "pricing" });

use std::hint::black_box;

struct MemoryGrower;

impl Guest for MemoryGrower {
    fn price(quote: Quote) -> Result<Priced, String> {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        loop {
            // Reserved, not zeroed, and touched once: the memory grows a MiB at a time without
            // the time of faulting every page in, so the cap comes before the deadline.
            let mut block: Vec<u8> = Vec::with_capacity(1 << 20);
            block.push(black_box(quote.lines.len() as u8));
            blocks.push(black_box(block));
            if black_box(blocks.len()) == usize::MAX {
                break;
            }
        }
        Err(format!("unreachable {}", blocks.len()))
    }
}

export!(MemoryGrower);
