//! Passwords: argon2id at OWASP's parameters, hashed and verified on the blocking pool so a
//! burst of logins never stalls the async runtime.
//!
//! Each run needs 19 MiB of working memory. Allocating it per run leaves the allocator holding
//! every arena it ever touched (about 157 MiB after 100 sign-ins), so a fixed number of runs
//! happen at once, each borrowing a workspace that is allocated once and reused.

use std::sync::{LazyLock, Mutex, OnceLock};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::{Output, ParamsString, SaltString, rand_core::OsRng},
};
use tracing::Instrument;

use crate::error::{ApiError, FieldError};

const MIN_LENGTH: usize = 10;
const MAX_LENGTH: usize = 256;

/// OWASP's argon2id parameters: m = 19 MiB, t = 2, p = 1, a 32-byte hash.
fn owasp_params() -> Params {
    Params::new(19 * 1024, 2, 1, Some(Params::DEFAULT_OUTPUT_LEN)).unwrap_or_default()
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

/// How many hashes run at once (`STAYBASE_HASHING_WORKERS`, set once at start). By default one
/// core fewer than the machine has (at least one), so a burst of sign-ins queues here instead
/// of taking every core from the request handlers. It also bounds how many workspaces exist.
static HASHING: OnceLock<tokio::sync::Semaphore> = OnceLock::new();

fn hashing() -> &'static tokio::sync::Semaphore {
    HASHING.get_or_init(|| tokio::sync::Semaphore::new(default_hashing_workers()))
}

fn default_hashing_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    cores.saturating_sub(1).max(1)
}

/// Fixes how many hashes run at once for the life of the process; the first server started
/// in a process decides.
pub fn set_hashing_workers(workers: Option<usize>) {
    let workers = workers.unwrap_or_else(default_hashing_workers).max(1);
    let _ = HASHING.set(tokio::sync::Semaphore::new(workers));
}

/// Argon2 working memory no run is using; at most one per `HASHING` permit is ever made.
static WORKSPACES: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Runs `work` with a workspace on the blocking pool, inside the caller's span and within the
/// hashing allowance, then returns the workspace for the next run.
async fn with_workspace<T: Send + 'static>(
    work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = hashing().acquire().await.map_err(ApiError::internal)?;
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut workspace = take_workspace();
        let outcome = work(&mut workspace);
        give_back(workspace);
        outcome
    })
    .in_current_span()
    .await
    .map_err(ApiError::internal)
}

fn take_workspace() -> Vec<Block> {
    WORKSPACES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .pop()
        .unwrap_or_default()
}

fn give_back(workspace: Vec<Block>) {
    WORKSPACES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(workspace);
}

/// The first `params.block_count()` blocks of `workspace`, growing it the first time.
fn blocks_for<'w>(workspace: &'w mut Vec<Block>, params: &Params) -> &'w mut [Block] {
    let needed = params.block_count();
    if workspace.len() < needed {
        workspace.resize(needed, Block::default());
    }
    &mut workspace[..needed]
}

/// The PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`) of `password` under a fresh
/// salt, the same format `argon2`'s own hasher writes.
fn hash_in(workspace: &mut Vec<Block>, password: &[u8]) -> Result<String, ApiError> {
    let failed = |err: &dyn std::fmt::Display| ApiError::internal(err.to_string());
    let params = owasp_params();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_buffer)
        .map_err(|err| failed(&err))?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password,
            salt_bytes,
            &mut output,
            blocks_for(workspace, &params),
        )
        .map_err(|err| failed(&err))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|err| failed(&err))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output).map_err(|err| failed(&err))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `stored`, under the parameters `stored` names.
fn matches_in(workspace: &mut Vec<Block>, password: &[u8], stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let Ok(version) = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let mut salt_buffer = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buffer) else {
        return false;
    };
    let mut output = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(
            password,
            salt_bytes,
            &mut output,
            blocks_for(workspace, &params),
        )
        .is_ok()
        // `Output`'s equality is constant-time.
        && Output::new(&output).is_ok_and(|computed| computed == expected)
}

pub async fn hash(password: String) -> Result<String, ApiError> {
    with_workspace(move |workspace| hash_in(workspace, password.as_bytes())).await?
}

/// A real hash of a random password: verifying against it when the account does not exist
/// costs the same as a real check, so timing does not reveal which emails are registered.
static DUMMY_HASH: OnceLock<String> = OnceLock::new();

/// Verifies `password` against `stored`, or against a dummy hash when there is no account.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    with_workspace(move |workspace| match stored {
        Some(stored) => matches_in(workspace, password.as_bytes(), &stored),
        None => {
            let dummy = DUMMY_HASH.get_or_init(|| {
                hash_in(workspace, &rand::random::<[u8; 32]>()).unwrap_or_default()
            });
            let _ = matches_in(workspace, password.as_bytes(), dummy);
            false
        }
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

    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crate_both_ways() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, owasp_params());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = reference
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(
            verify("correct horse battery".into(), Some(theirs.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("correct horse batteries".into(), Some(theirs))
                .await
                .unwrap()
        );

        let ours = hash("correct horse battery".into()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            reference
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        // A hash under other parameters is checked under those parameters.
        let lighter = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery", &salt)
        .unwrap()
        .to_string();
        assert!(
            verify("correct horse battery".into(), Some(lighter))
                .await
                .unwrap()
        );
        assert!(
            !verify("anything".into(), Some("not a hash".into()))
                .await
                .unwrap()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_runs_share_a_bounded_set_of_workspaces() {
        let runs: Vec<_> = (0..8)
            .map(|_| tokio::spawn(verify("correct horse battery".into(), None)))
            .collect();
        for run in runs {
            assert!(!run.await.unwrap().unwrap());
        }
        let workspaces = WORKSPACES.lock().unwrap();
        let permits = hashing().available_permits();
        assert!(
            (1..=permits).contains(&workspaces.len()),
            "{} workspaces for {permits} permits",
            workspaces.len()
        );
        assert!(
            workspaces
                .iter()
                .all(|workspace| workspace.len() == owasp_params().block_count())
        );
    }

    #[test]
    fn one_time_passwords_are_long_and_unambiguous() {
        let password = one_time();
        assert_eq!(password.len(), 20);
        assert!(!password.contains(['0', 'O', '1', 'l', 'I']));
        assert!(check_policy("password", &password, "").is_ok());
    }
}
