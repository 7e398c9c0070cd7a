//! `review-guard`: a review-rules plugin that rejects comments with blocked words and holds
//! short ones. See README.md for the exact rules; the logic is in `logic.rs`.

wit_bindgen::generate!({ path: "../../wit", world: "review-rules" });

mod logic;

use staybase::plugin::host;

struct ReviewGuard;

impl Guest for ReviewGuard {
    fn decide(review: Review) -> Decision {
        let (decision, why) = match logic::decide(&review.config, &review.comment) {
            Ok(logic::Verdict::Accept) => (Decision::Accept, "accept".to_string()),
            Ok(logic::Verdict::Reject(r)) => (Decision::Reject(r.clone()), format!("reject: {r}")),
            Ok(logic::Verdict::Hold(r)) => (Decision::Hold(r.clone()), format!("hold: {r}")),
            // A broken configuration holds every review for a human rather than losing it.
            Err(e) => (Decision::Hold(e.clone()), format!("hold: {e}")),
        };
        host::log(&format!("review-guard: {why}"));
        decision
    }
}

export!(ReviewGuard);
