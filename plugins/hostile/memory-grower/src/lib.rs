//! Hostile: a pricing guest that keeps allocating 1 MiB blocks and touching every page of them
//! until an allocation fails (the host's memory limit), which aborts: a trap.

wit_bindgen::generate!({ path: "../../wit", world: "pricing" });

use std::hint::black_box;

struct MemoryGrower;

impl Guest for MemoryGrower {
    fn price(quote: Quote) -> Result<Priced, String> {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut block = vec![0u8; 1 << 20];
            for i in (0..block.len()).step_by(4096) {
                block[i] = black_box(quote.lines.len() as u8).wrapping_add(1);
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
