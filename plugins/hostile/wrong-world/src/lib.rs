//! Hostile: a component of the wrong world (its own `wit/world.wit`): it exports
//! `price: func(x: u32) -> u32` and imports no `staybase:plugin/host`. The host must refuse it.

wit_bindgen::generate!({ path: "wit", world: "wrong" });

struct WrongWorld;

impl Guest for WrongWorld {
    fn price(x: u32) -> u32 {
        std::hint::black_box(x).wrapping_mul(2)
    }
}

export!(WrongWorld);
