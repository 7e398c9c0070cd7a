//! Secrets at rest: values we must read back (JWT signing keys, payment provider credentials)
//! are sealed with XChaCha20-Poly1305 under `STAYBASE_SECRET_KEY`. The stored form is
//! `v1:` + base64(nonce || ciphertext) with a random 24-byte nonce; the associated data names
//! the row a value belongs to, so a sealed value copied into another row does not open.
//! `STAYBASE_SECRET_KEY_PREVIOUS` still opens values while they are sealed again under the new
//! key (see README, "Secret key rotation"). A leaf module: it imports only config and errors.

use std::{fmt, sync::Arc};

use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use rand::RngCore;

use crate::{
    config::Secret,
    error::{ApiError, ErrorCode},
};

/// Bytes of `STAYBASE_SECRET_KEY` once base64-decoded.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
/// The stored form's version prefix: a later format (another cipher, a key id) gets `v2:`.
const V1: &str = "v1:";

/// The row a sealed value belongs to: its kind (`signing_key`, `payment_provider`) and the id
/// of its owner (a key id, a tenant id). Both go into the associated data.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub purpose: &'static str,
    pub owner: &'a str,
}

impl Binding<'_> {
    fn associated_data(&self) -> String {
        format!("staybase:{}:{}", self.purpose, self.owner)
    }
}

/// The configured keys. Cheap to clone.
#[derive(Clone, Default)]
pub struct SecretBox {
    current: Option<Arc<XChaCha20Poly1305>>,
    previous: Option<Arc<XChaCha20Poly1305>>,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretBox")
            .field("configured", &self.current.is_some())
            .field("previous", &self.previous.is_some())
            .finish()
    }
}

/// A value read back from its sealed form.
pub struct Opened {
    pub plaintext: SecretBytes,
    /// Sealed under the previous key (or not sealed at all): store it sealed again.
    pub needs_reseal: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the value is sealed but STAYBASE_SECRET_KEY is not set")]
    KeyMissing,
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value does not open with the configured keys (wrong key or moved row)")]
    WrongKey,
}

impl From<OpenError> for ApiError {
    fn from(err: OpenError) -> Self {
        ApiError::internal(err)
    }
}

impl SecretBox {
    /// The keys from configuration (`Config::validate` has checked them with `parse_key`).
    pub fn new(current: Option<&Secret>, previous: Option<&Secret>) -> Result<Self, String> {
        let cipher = |secret: Option<&Secret>| -> Result<_, String> {
            secret
                .map(|secret| {
                    let key = parse_key(secret.expose())?;
                    XChaCha20Poly1305::new_from_slice(&key)
                        .map(Arc::new)
                        .map_err(|_| "the key must be 32 bytes".to_owned())
                })
                .transpose()
        };
        let current = cipher(current)?;
        let previous = cipher(previous)?;
        if current.is_none() && previous.is_some() {
            return Err("STAYBASE_SECRET_KEY_PREVIOUS needs STAYBASE_SECRET_KEY".into());
        }
        Ok(Self { current, previous })
    }

    pub fn is_configured(&self) -> bool {
        self.current.is_some()
    }

    /// Seals `plaintext` for `binding`; without a key: 409 `secret_key_missing`.
    pub fn seal(&self, binding: Binding<'_>, plaintext: &[u8]) -> Result<String, ApiError> {
        let cipher = self.current.as_ref().ok_or_else(secret_key_missing)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = binding.associated_data();
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| ApiError::internal("sealing a secret failed"))?;
        let mut stored = Vec::with_capacity(NONCE_LEN + sealed.len());
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&sealed);
        Ok(format!("{V1}{}", STANDARD.encode(stored)))
    }

    /// Opens a value sealed for `binding`, trying the current key, then the previous one.
    pub fn open(&self, binding: Binding<'_>, stored: &str) -> Result<Opened, OpenError> {
        let raw = stored
            .strip_prefix(V1)
            .ok_or(OpenError::Malformed)
            .and_then(|body| STANDARD.decode(body).map_err(|_| OpenError::Malformed))?;
        if raw.len() < NONCE_LEN {
            return Err(OpenError::Malformed);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| OpenError::Malformed)?;
        let aad = binding.associated_data();
        let current = self.current.as_ref().ok_or(OpenError::KeyMissing)?;
        let attempt = |cipher: &XChaCha20Poly1305| {
            cipher
                .decrypt(
                    &nonce,
                    Payload {
                        msg: sealed,
                        aad: aad.as_bytes(),
                    },
                )
                .ok()
        };
        if let Some(plaintext) = attempt(current) {
            return Ok(Opened {
                plaintext: SecretBytes(plaintext),
                needs_reseal: false,
            });
        }
        self.previous
            .as_deref()
            .and_then(attempt)
            .map(|plaintext| Opened {
                plaintext: SecretBytes(plaintext),
                needs_reseal: true,
            })
            .ok_or(OpenError::WrongKey)
    }

    /// Whether a stored value is in a sealed form (rows written before the key was set are not).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(V1)
    }
}

/// Decodes a configured key: standard base64 of exactly 32 bytes.
pub fn parse_key(encoded: &str) -> Result<[u8; KEY_LEN], String> {
    STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| <[u8; KEY_LEN]>::try_from(bytes).ok())
        .ok_or_else(|| {
            "must be 32 random bytes in base64 (e.g. the output of `openssl rand -base64 32`)"
                .to_owned()
        })
}

/// 409 `secret_key_missing`: the deployment cannot store secrets.
pub fn secret_key_missing() -> ApiError {
    ApiError::Conflict {
        code: ErrorCode::SecretKeyMissing,
        detail: "This deployment has no STAYBASE_SECRET_KEY, so it cannot store secrets.".into(),
    }
}

/// Opened secret bytes; `Debug` never shows them.
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(***)")
    }
}

/// An opened secret string (an API key, a webhook secret); `Debug` and `Display` redact it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four characters, which the API shows so that a person can tell keys apart.
    pub fn last4(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Secret {
        Secret::new(STANDARD.encode([byte; KEY_LEN]))
    }

    const ROW: Binding<'static> = Binding {
        purpose: "signing_key",
        owner: "kid-1",
    };

    #[test]
    fn seals_and_opens_with_a_fresh_nonce_each_time() {
        let sealed_box = SecretBox::new(Some(&key(1)), None).unwrap();
        let a = sealed_box.seal(ROW, b"private key").unwrap();
        let b = sealed_box.seal(ROW, b"private key").unwrap();
        assert!(a.starts_with("v1:") && SecretBox::is_sealed(&a));
        assert_ne!(a, b, "random nonces");
        assert!(!a.contains("private"));
        let opened = sealed_box.open(ROW, &a).unwrap();
        assert_eq!(opened.plaintext.expose(), b"private key");
        assert!(!opened.needs_reseal);
    }

    #[test]
    fn a_value_moved_to_another_row_or_tampered_with_does_not_open() {
        let sealed_box = SecretBox::new(Some(&key(1)), None).unwrap();
        let sealed = sealed_box.seal(ROW, b"secret").unwrap();
        let other = Binding {
            purpose: "signing_key",
            owner: "kid-2",
        };
        assert!(matches!(
            sealed_box.open(other, &sealed),
            Err(OpenError::WrongKey)
        ));
        let mut raw = STANDARD.decode(&sealed[3..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = format!("v1:{}", STANDARD.encode(raw));
        assert!(matches!(
            sealed_box.open(ROW, &tampered),
            Err(OpenError::WrongKey)
        ));
        assert!(matches!(
            sealed_box.open(ROW, "v1:!!"),
            Err(OpenError::Malformed)
        ));
        assert!(matches!(
            sealed_box.open(ROW, "plain"),
            Err(OpenError::Malformed)
        ));
    }

    #[test]
    fn the_previous_key_opens_and_asks_for_a_reseal() {
        let old = SecretBox::new(Some(&key(1)), None).unwrap();
        let sealed = old.seal(ROW, b"secret").unwrap();
        let rotated = SecretBox::new(Some(&key(2)), Some(&key(1))).unwrap();
        let opened = rotated.open(ROW, &sealed).unwrap();
        assert_eq!(opened.plaintext.expose(), b"secret");
        assert!(opened.needs_reseal);
        let without_previous = SecretBox::new(Some(&key(2)), None).unwrap();
        assert!(matches!(
            without_previous.open(ROW, &sealed),
            Err(OpenError::WrongKey)
        ));
    }

    #[test]
    fn without_a_key_sealing_is_a_409_and_opening_fails() {
        let none = SecretBox::new(None, None).unwrap();
        assert!(!none.is_configured());
        let err = none.seal(ROW, b"x").unwrap_err();
        assert_eq!(err.code(), ErrorCode::SecretKeyMissing);
        assert_eq!(err.status(), http::StatusCode::CONFLICT);
        let sealed = SecretBox::new(Some(&key(1)), None)
            .unwrap()
            .seal(ROW, b"x")
            .unwrap();
        assert!(matches!(
            none.open(ROW, &sealed),
            Err(OpenError::KeyMissing)
        ));
        assert!(SecretBox::new(None, Some(&key(1))).is_err());
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(parse_key(&STANDARD.encode([7u8; 32])).is_ok());
        assert!(parse_key(&STANDARD.encode([7u8; 16])).is_err());
        assert!(parse_key("not base64!").is_err());
    }

    #[test]
    fn secrets_are_redacted() {
        let secret = SecretString::new("sk_test_abcdef1234");
        assert_eq!(format!("{secret:?} {secret}"), "SecretString(***) ***");
        assert_eq!(secret.last4(), "1234");
        assert_eq!(SecretString::new("ab").last4(), "ab");
        let bytes = SecretBytes(b"hunter2".to_vec());
        assert!(!format!("{bytes:?}").contains("hunter2"));
        let sealed_box = SecretBox::new(Some(&key(9)), None).unwrap();
        assert!(!format!("{sealed_box:?}").contains("AAAA"));
    }
}
