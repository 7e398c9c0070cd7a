//! Hostile: a pricing guest that keeps allocating 1 MiB blocks and touching every page of them
//! until an allocation fails (the host's memory limit), which aborts: a trap.

wit_bindgen::generate!({ path: "../../wit", world: "pricing" });

use std::hint::black_box;

struct MemoryGrower;

impl Guest for MemoryGrower {
    fn price(quote: Quote) -> Result<Priced, String> {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        loop {
            // Reserved, not zeroed: one write a page touches it, so the limit comes fast.
            let mut block: Vec<u8> = Vec::with_capacity(1 << 20);
            for byte in block.spare_capacity_mut().iter_mut().step_by(4096) {
                byte.write(black_box(quote.lines.len() as u8).wrapping_add(1));
            }
            blocks.push(black_box(block));
            if black_box(blocks.len()) == usize::MAX {
                break;
            }
        }
        Err(format!("unreachable {}", blocks.len()))
    }
}

export!(MemoryGrower);
