//! Hostile: a review-rules guest that panics with a message (printed to stderr, then the guest
//! aborts: a trap), to exercise the review hook's failure policy.

wit_bindgen::generate!({ path: "../../wit", world: "review-rules" });

use std::hint::black_box;

struct Panic;

impl Guest for Panic {
    fn decide(review: Review) -> Decision {
        if black_box(true) {
            panic!(
                "hostile review rules panic on purpose ({} characters)",
                review.comment.len()
            );
        }
        Decision::Accept
    }
}

export!(Panic);
