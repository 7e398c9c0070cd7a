//! {{name}}: a Staybase review-rules plugin.
//!
//! Staybase calls `decide` for every review written or edited in your marketplace, with the
//! rating, the comment and your configuration. You return one of:
//!
//! - `Decision::Accept`: stored and published as your marketplace's publication setting says;
//! - `Decision::Reject(reason)`: stored as `rejected` with the reason, never public;
//! - `Decision::Hold(reason)`: stored as `held` until a marketplace admin decides.
//!
//! This starting point accepts every review except those with an empty comment, which it holds
//! (or rejects) as its configuration (the JSON text you upload with the plugin) says:
//!
//! ```json
//! {"empty_comment": "hold"}
//! ```
//!
//! Change `decide_comment` to write your own rules, test them with `cargo test`, and check the
//! built component with `staybase plugin check` (see README.md).

// Generates the types (`Review`, `Decision`) and the `Guest` trait from wit/plugin.wit, world
// `review-rules`.
wit_bindgen::generate!({ path: "wit", world: "review-rules" });

use staybase::plugin::host;

struct Plugin;

impl Guest for Plugin {
    fn decide(review: Review) -> Decision {
        let decision = match Config::parse(&review.config) {
            Ok(config) => decide_comment(&config, &review.comment),
            // A broken configuration holds the review for an admin rather than losing it.
            Err(e) => Decision::Hold(e),
        };
        // Log lines are returned by `staybase plugin check` and by dry runs.
        host::log(&format!("{} stars: {decision:?}", review.rating));
        decision
    }
}

export!(Plugin);

/// What to do with a review whose comment is empty.
#[derive(Debug, PartialEq)]
pub enum EmptyComment {
    Hold,
    Reject,
}

/// The plugin's configuration.
#[derive(Debug, PartialEq)]
pub struct Config {
    pub empty_comment: EmptyComment,
}

impl Config {
    /// Parses the configuration uploaded with the plugin (empty text: the defaults).
    pub fn parse(text: &str) -> Result<Config, String> {
        if text.trim().is_empty() {
            return Ok(Config {
                empty_comment: EmptyComment::Hold,
            });
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid config: {e}"))?;
        let empty_comment = match value.get("empty_comment").and_then(|v| v.as_str()) {
            None | Some("hold") => EmptyComment::Hold,
            Some("reject") => EmptyComment::Reject,
            Some(other) => {
                return Err(format!(
                    "invalid config: empty_comment must be \"hold\" or \"reject\", not {other:?}"
                ));
            }
        };
        Ok(Config { empty_comment })
    }
}

/// The rule itself: accept unless the comment is empty (or only whitespace).
pub fn decide_comment(config: &Config, comment: &str) -> Decision {
    if !comment.trim().is_empty() {
        return Decision::Accept;
    }
    let reason = "the review has no comment".to_string();
    match config.empty_comment {
        EmptyComment::Hold => Decision::Hold(reason),
        EmptyComment::Reject => Decision::Reject(reason),
    }
}

// `cargo test` runs these on your machine (not in WebAssembly).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_comments() {
        let config = Config::parse("").unwrap();
        assert!(matches!(
            decide_comment(&config, "Great stay!"),
            Decision::Accept
        ));
    }

    #[test]
    fn holds_or_rejects_empty_comments() {
        let hold = Config::parse(r#"{"empty_comment": "hold"}"#).unwrap();
        assert!(matches!(decide_comment(&hold, "  \n"), Decision::Hold(_)));
        let reject = Config::parse(r#"{"empty_comment": "reject"}"#).unwrap();
        assert!(matches!(decide_comment(&reject, ""), Decision::Reject(_)));
        assert!(Config::parse(r#"{"empty_comment": "drop"}"#).is_err());
    }
}
