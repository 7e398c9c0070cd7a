//! The pure logic of `review-guard`, tested natively with `cargo test`.

use minijson::Value;

#[derive(Debug, PartialEq)]
pub struct Config {
    /// Lowercased, trimmed, empty ones dropped.
    pub blocked_words: Vec<String>,
    pub min_length: usize,
}

#[derive(Debug, PartialEq)]
pub enum Verdict {
    Accept,
    Reject(String),
    Hold(String),
}

pub fn parse_config(text: &str) -> Result<Config, String> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let v = minijson::parse(text).map_err(|e| format!("invalid config: {e}"))?;
    if !v.is_object() {
        return Err("invalid config: expected a JSON object".into());
    }
    let mut blocked_words = Vec::new();
    match v.get("blocked_words") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for w in items {
                let w = w
                    .as_str()
                    .ok_or("invalid config: blocked_words must be strings")?;
                let w = w.trim().to_lowercase();
                if !w.is_empty() {
                    blocked_words.push(w);
                }
            }
        }
        Some(_) => return Err("invalid config: blocked_words must be an array".into()),
    }
    let min_length = match v.get("min_length") {
        None | Some(Value::Null) => 0,
        Some(v) => match v.as_i64() {
            Some(n) if (0..=100_000).contains(&n) => n as usize,
            _ => {
                return Err(
                    "invalid config: min_length must be an integer from 0 to 100000".into(),
                );
            }
        },
    };
    Ok(Config {
        blocked_words,
        min_length,
    })
}

/// Whether `word` (lowercased) occurs in `text` (lowercased) as a whole word: the characters
/// just before and just after the occurrence, if any, are not alphanumeric.
pub fn contains_word(text: &str, word: &str) -> bool {
    let mut start = 0;
    while let Some(pos) = text[start..].find(word) {
        let at = start + pos;
        let end = at + word.len();
        let before_ok = !text[..at]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric);
        let after_ok = !text[end..]
            .chars()
            .next()
            .is_some_and(char::is_alphanumeric);
        if before_ok && after_ok {
            return true;
        }
        // Move on by one character.
        start = at + text[at..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Decides on a comment: the first blocked word of the configuration's list found in it
/// (case-insensitive, whole word) rejects; otherwise a comment shorter than `min_length`
/// characters (Unicode scalar values, after trimming whitespace at both ends) is held;
/// otherwise it is accepted.
pub fn decide(config: &str, comment: &str) -> Result<Verdict, String> {
    let config = parse_config(config)?;
    let lower = comment.to_lowercase();
    if let Some(w) = config
        .blocked_words
        .iter()
        .find(|w| contains_word(&lower, w))
    {
        return Ok(Verdict::Reject(format!(
            "the comment contains the blocked word \"{w}\""
        )));
    }
    let length = comment.trim().chars().count();
    if length < config.min_length {
        return Ok(Verdict::Hold(format!(
            "the comment is shorter than {} characters ({length})",
            config.min_length
        )));
    }
    Ok(Verdict::Accept)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = include_str!("../config.json");

    fn reject(w: &str) -> Verdict {
        Verdict::Reject(format!("the comment contains the blocked word \"{w}\""))
    }

    /// The worked examples of README.md.
    #[test]
    fn readme_examples() {
        let sample = minijson::parse(include_str!("../../sample-review.json")).unwrap();
        let comment = sample.get("comment").unwrap().as_str().unwrap();
        let config = sample.get("config").unwrap().as_str().unwrap();
        assert_eq!(minijson::parse(config), minijson::parse(CONFIG));
        assert_eq!(decide(CONFIG, comment).unwrap(), Verdict::Accept);
        assert_eq!(
            decide(CONFIG, "Total SCAM, the photos were fake!").unwrap(),
            reject("scam")
        );
        assert_eq!(
            decide(CONFIG, "A rip off: avoid").unwrap(),
            reject("rip off")
        );
        assert_eq!(
            decide(CONFIG, "  Lovely flat.  ").unwrap(),
            Verdict::Hold("the comment is shorter than 20 characters (12)".into())
        );
        assert_eq!(
            decide(CONFIG, "Scampi by the harbour, great stay").unwrap(),
            Verdict::Accept
        );
    }

    #[test]
    fn whole_words_only() {
        assert!(contains_word("a scam.", "scam"));
        assert!(contains_word("scam", "scam"));
        assert!(contains_word("(scam)", "scam"));
        assert!(!contains_word("scams", "scam"));
        assert!(!contains_word("a-scamp", "scam"));
        assert!(!contains_word("éscam", "scam"));
        assert!(contains_word("scamx scam", "scam"));
        assert!(contains_word("it's a rip off!", "rip off"));
        assert!(!contains_word("grip off", "rip off"));
    }

    #[test]
    fn length_counts_characters_after_trimming() {
        let config = r#"{"min_length":5}"#;
        assert_eq!(decide(config, "ééééé").unwrap(), Verdict::Accept);
        assert!(matches!(
            decide(config, "  abcd\n").unwrap(),
            Verdict::Hold(_)
        ));
        assert_eq!(decide("", "").unwrap(), Verdict::Accept);
        assert_eq!(
            decide(r#"{"blocked_words":["", "  "]}"#, "anything").unwrap(),
            Verdict::Accept
        );
    }

    #[test]
    fn blocked_words_are_case_insensitive_and_first_in_config_order_wins() {
        let config = r#"{"blocked_words":["FRAUD","scam"]}"#;
        assert_eq!(decide(config, "scam and Fraud").unwrap(), reject("fraud"));
        // Blocked word beats min_length.
        assert_eq!(decide(CONFIG, "fraud").unwrap(), reject("fraud"));
    }

    #[test]
    fn bad_configs_are_errors() {
        for bad in [
            "[]",
            r#"{"blocked_words":"scam"}"#,
            r#"{"blocked_words":[1]}"#,
            r#"{"min_length":-1}"#,
            "{",
        ] {
            assert!(
                decide(bad, "x")
                    .unwrap_err()
                    .starts_with("invalid config: "),
                "{bad}"
            );
        }
    }
}
