//! Passwords: argon2id at OWASP's parameters, hashed and verified on the blocking pool so a
//! burst of logins never stalls the async runtime.

use std::sync::LazyLock;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};
use tracing::Instrument;

use crate::error::{ApiError, FieldError};

const MIN_LENGTH: usize = 10;
const MAX_LENGTH: usize = 256;

fn argon2() -> Argon2<'static> {
    // OWASP: m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The 30,000 most common passwords of leaked-password corpora, lower-cased and sorted (one a
/// line, 240 KB). Source: the `PASSWORDS` frequency list of the `zxcvbn` crate 3.1.1 on
/// crates.io (`src/frequency_lists.rs`), MIT licence, copyright (c) 2016 Joshua Holmer, itself
/// from Dropbox's zxcvbn (MIT). Only entries of at least `MIN_LENGTH` characters can match today;
/// the whole list is kept so a shorter minimum would still be covered.
static COMMON_PASSWORDS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| include_str!("common_passwords.txt").lines().collect());

/// Whether `password` (in any case) is on the list of common passwords.
fn is_common(password: &str) -> bool {
    COMMON_PASSWORDS
        .binary_search(&password.to_lowercase().as_str())
        .is_ok()
}

/// Checks the password rules; `field` names the body field in the 422.
pub fn check_policy(field: &str, password: &str, email: &str) -> Result<(), FieldError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(FieldError::new(
            field,
            format!("must be at least {MIN_LENGTH} characters"),
        ));
    }
    if length > MAX_LENGTH {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_LENGTH} characters"),
        ));
    }
    let lowered = password.to_lowercase();
    let email = email.trim().to_lowercase();
    if !email.is_empty()
        && (lowered == email
            || email
                .split('@')
                .next()
                .is_some_and(|local| lowered == local))
    {
        return Err(FieldError::new(field, "must not be your email address"));
    }
    if password
        .chars()
        .all(|c| c == password.chars().next().unwrap_or(c))
    {
        return Err(FieldError::new(field, "must not repeat a single character"));
    }
    if is_common(password) {
        return Err(FieldError::new(
            field,
            "is too common: it appears in lists of leaked passwords",
        ));
    }
    Ok(())
}

/// How many hashes run at once: one core fewer than the machine has (at least one), so a burst
/// of sign-ins queues here instead of taking every core from the request handlers.
static HASHING: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1))
});

/// Runs `work` on the blocking pool inside the caller's span, within the hashing allowance.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = HASHING.acquire().await.map_err(ApiError::internal)?;
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .in_current_span()
        .await
        .map_err(ApiError::internal)
}

pub async fn hash(password: String) -> Result<String, ApiError> {
    blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| ApiError::internal(err.to_string()))
    })
    .await?
}

/// A real hash of a random password: verifying against it when the account does not exist
/// costs the same as a real check, so timing does not reveal which emails are registered.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(&rand::random::<[u8; 32]>(), &salt)
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

/// Verifies `password` against `stored`, or against a dummy hash when there is no account.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    blocking(move || {
        let exists = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let matches = argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        exists && matches
    })
    .await
}

/// A password for an account created without one: printed once, changed at first login.
pub fn one_time() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_the_field_and_the_rule() {
        assert!(check_policy("password", "correct horse battery", "ana@example.com").is_ok());
        let short = check_policy("password", "short", "ana@example.com").unwrap_err();
        assert_eq!(short.field, "password");
        assert!(check_policy("new_password", "Ana@Example.com", "ana@example.com").is_err());
        assert!(check_policy("password", "anaexample", "anaexample@example.com").is_err());
        assert!(check_policy("password", "aaaaaaaaaaaa", "x@example.com").is_err());
        assert!(check_policy("password", &"x".repeat(257), "").is_err());
        for common in ["password123", "qwertyuiop", "Password123", "1234567890"] {
            let error = check_policy("password", common, "ana@example.com").unwrap_err();
            assert!(error.message.contains("too common"), "{common}: {error:?}");
        }
    }

    #[test]
    fn the_common_list_is_sorted_for_binary_search() {
        assert!(COMMON_PASSWORDS.len() >= 30_000 - 10);
        assert!(COMMON_PASSWORDS.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(is_common("Qwertyuiop") && !is_common("correct horse battery"));
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hash = hash("correct horse battery".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            verify("correct horse battery".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse battery".into(), Some(hash))
                .await
                .unwrap()
        );
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }

    #[test]
    fn one_time_passwords_are_long_and_unambiguous() {
        let password = one_time();
        assert_eq!(password.len(), 20);
        assert!(!password.contains(['0', 'O', '1', 'l', 'I']));
        assert!(check_policy("password", &password, "").is_ok());
    }
}
