//! JWT signing keys: Ed25519 (EdDSA), kept in the database so every replica signs and verifies
//! with the same set. The first start creates one; `staybase keys rotate` adds a new signer and
//! retires the old one, which keeps verifying until the tokens it signed have expired.
//! With `STAYBASE_SECRET_KEY` set, private keys are stored sealed (`secret_box`), and the first
//! load seals rows written in the clear before the key was set (or sealed under the previous
//! key); without it they are stored in the clear as before, and the server warns at start.

use std::{collections::HashMap, sync::Arc, time::Duration};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use tokio::sync::RwLock;

use super::{
    AccessClaims,
    store::{self, NewSigningKey},
};
use crate::{
    db::{Db, Timestamp},
    error::ApiError,
    secret_box::{Binding, SecretBox},
};

/// Access tokens live this long; a retired key verifies for this long (plus leeway) after.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
const LEEWAY_SECONDS: u64 = 30;
/// An unknown `kid` triggers a reload (another replica rotated), at most this often.
const RELOAD_INTERVAL: Duration = Duration::from_secs(10);
/// How many verified access tokens are remembered (about 1 KiB each).
const VERIFIED_TOKENS: u64 = 20_000;

struct KeySet {
    signer: Option<(String, EncodingKey)>,
    verifiers: HashMap<String, DecodingKey>,
    jwks: Vec<serde_json::Value>,
    loaded_at: tokio::time::Instant,
}

/// The key set, loaded on first use (the server starts while the database is still down).
#[derive(Clone)]
pub struct SigningKeys {
    db: Db,
    secrets: SecretBox,
    set: Arc<RwLock<Option<KeySet>>>,
    /// Access tokens already verified, by the whole token: a client sends the same token with
    /// every request for its lifetime, and an Ed25519 verification costs more than the rest of
    /// a signed-in read's own work. An entry counts only while its token is unexpired and its
    /// key is still in the set, so a retired or removed key stops it as it would a verification.
    verified: moka::sync::Cache<Arc<str>, Arc<Verified>>,
}

struct Verified {
    kid: String,
    claims: AccessClaims,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed, expired or not signed by us")]
    Invalid,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
}

impl SigningKeys {
    pub fn new(db: &Db, secrets: &SecretBox) -> Self {
        Self {
            db: db.clone(),
            secrets: secrets.clone(),
            set: Arc::new(RwLock::new(None)),
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_TOKENS)
                .time_to_live(ACCESS_TOKEN_LIFETIME)
                .build(),
        }
    }

    /// Loads the keys if that has not happened yet, creating the first one when there is none.
    /// Call it before opening a transaction that signs: creating a key writes, and on SQLite a
    /// second writer would wait for the open transaction.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn ensure_loaded(&self) -> Result<(), ApiError> {
        if self.set.read().await.is_some() {
            return Ok(());
        }
        let mut set = self.set.write().await;
        if set.is_none() {
            seal_stored_keys(&self.db, &self.secrets).await?;
            let mut loaded = load(&self.db, &self.secrets).await?;
            if loaded.signer.is_none() {
                insert_new_key(&self.db, &self.secrets).await?;
                loaded = load(&self.db, &self.secrets).await?;
            }
            *set = Some(loaded);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn sign<C: Serialize>(&self, claims: &C) -> Result<String, ApiError> {
        self.ensure_loaded().await?;
        // Picks up a rotation done elsewhere (CLI or another replica) within the interval.
        self.reload_if_stale().await;
        let set = self.set.read().await;
        let (kid, key) = set
            .as_ref()
            .and_then(|set| set.signer.as_ref())
            .ok_or_else(|| ApiError::internal("no active signing key"))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, claims, key).map_err(ApiError::internal)
    }

    /// Checks signature, algorithm, expiry and audience; only EdDSA tokens from our keys pass.
    #[tracing::instrument(level = "debug", skip_all, fields(audience = audience))]
    pub async fn verify(&self, token: &str, audience: &str) -> Result<AccessClaims, TokenError> {
        if let Some(verified) = self.verified.get(token)
            && verified.claims.aud == audience
        {
            let live = verified.claims.exp + LEEWAY_SECONDS as i64
                > Timestamp::now().get().unix_timestamp();
            let key_kept = self
                .set
                .read()
                .await
                .as_ref()
                .is_some_and(|set| set.verifiers.contains_key(&verified.kid));
            return if live && key_kept {
                Ok(verified.claims.clone())
            } else {
                Err(TokenError::Invalid)
            };
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        self.ensure_loaded()
            .await
            .map_err(|_| TokenError::Invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "aud"]);

        let claims = match self.verify_with(&kid, token, &validation).await {
            Some(claims) => claims,
            None => {
                self.reload_if_stale().await;
                self.verify_with(&kid, token, &validation)
                    .await
                    .unwrap_or(Err(TokenError::UnknownKey))
            }
        }?;
        self.verified.insert(
            Arc::from(token),
            Arc::new(Verified {
                kid,
                claims: claims.clone(),
            }),
        );
        Ok(claims)
    }

    async fn verify_with(
        &self,
        kid: &str,
        token: &str,
        validation: &Validation,
    ) -> Option<Result<AccessClaims, TokenError>> {
        let set = self.set.read().await;
        let key = set.as_ref()?.verifiers.get(kid)?;
        Some(
            jsonwebtoken::decode::<AccessClaims>(token, key, validation)
                .map(|data| data.claims)
                .map_err(|_| TokenError::Invalid),
        )
    }

    async fn reload_if_stale(&self) {
        let stale = self
            .set
            .read()
            .await
            .as_ref()
            .is_none_or(|set| set.loaded_at.elapsed() >= RELOAD_INTERVAL);
        if stale {
            match load(&self.db, &self.secrets).await {
                Ok(set) => *self.set.write().await = Some(set),
                Err(err) => tracing::warn!(error = %err, "reloading signing keys failed"),
            }
        }
    }

    /// The public keys as a JWK set, for `/.well-known/jwks.json`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn jwks(&self) -> Result<serde_json::Value, ApiError> {
        self.ensure_loaded().await?;
        let set = self.set.read().await;
        let keys = set.as_ref().map(|set| set.jwks.clone()).unwrap_or_default();
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// Adds a new signing key and retires the others; returns the new key id.
    #[tracing::instrument(skip_all)]
    pub async fn rotate(&self) -> Result<String, ApiError> {
        insert_new_key(&self.db, &self.secrets).await
    }
}

/// What a signing key's sealed private key is bound to: its key id.
fn binding(kid: &str) -> Binding<'_> {
    Binding {
        purpose: "signing_key",
        owner: kid,
    }
}

/// The PKCS#8 DER of a stored private key, sealed or (written without a secret key) base64.
fn private_key_der(secrets: &SecretBox, kid: &str, stored: &str) -> Result<Vec<u8>, ApiError> {
    if SecretBox::is_sealed(stored) {
        return Ok(secrets
            .open(binding(kid), stored)?
            .plaintext
            .expose()
            .to_vec());
    }
    STANDARD
        .decode(stored)
        .map_err(|_| ApiError::internal(format!("signing key {kid} is corrupt")))
}

/// Seals the private keys stored in the clear, and those sealed under the previous secret key,
/// under the current one. Every replica may run it at once: each update checks the old value.
async fn seal_stored_keys(db: &Db, secrets: &SecretBox) -> Result<(), ApiError> {
    if !secrets.is_configured() {
        return Ok(());
    }
    for row in store::signing_key_private_keys(db).await? {
        let stale = !SecretBox::is_sealed(&row.private_key)
            || secrets
                .open(binding(&row.id), &row.private_key)?
                .needs_reseal;
        if stale {
            let der = private_key_der(secrets, &row.id, &row.private_key)?;
            let sealed = secrets.seal(binding(&row.id), &der)?;
            store::replace_signing_private_key(db, &row.id, &row.private_key, &sealed).await?;
            tracing::info!(kid = %row.id, "signing key sealed under STAYBASE_SECRET_KEY");
        }
    }
    Ok(())
}

async fn load(db: &Db, secrets: &SecretBox) -> Result<KeySet, ApiError> {
    let oldest_useful = Timestamp::now()
        - time::Duration::try_from(ACCESS_TOKEN_LIFETIME).unwrap_or(time::Duration::HOUR)
        - time::Duration::seconds(LEEWAY_SECONDS as i64);
    let rows = store::signing_keys_retired_after(db, oldest_useful).await?;
    let mut set = KeySet {
        signer: None,
        verifiers: HashMap::new(),
        jwks: Vec::new(),
        loaded_at: tokio::time::Instant::now(),
    };
    for row in rows {
        let public = URL_SAFE_NO_PAD
            .decode(&row.public_key)
            .map_err(|_| ApiError::internal(format!("signing key {} is corrupt", row.id)))?;
        set.verifiers
            .insert(row.id.clone(), DecodingKey::from_ed_der(&public));
        set.jwks.push(serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "use": "sig",
            "alg": "EdDSA",
            "kid": row.id,
            "x": row.public_key,
        }));
        if set.signer.is_none() && row.retired_at.is_none() {
            let der = private_key_der(secrets, &row.id, &row.private_key)?;
            set.signer = Some((row.id.clone(), EncodingKey::from_ed_der(&der)));
        }
    }
    Ok(set)
}

async fn insert_new_key(db: &Db, secrets: &SecretBox) -> Result<String, ApiError> {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let der = key
        .to_pkcs8_der()
        .map_err(|err| ApiError::internal(err.to_string()))?;
    let id = uuid::Uuid::now_v7().simple().to_string();
    let private_key = if secrets.is_configured() {
        secrets.seal(binding(&id), der.as_bytes())?
    } else {
        STANDARD.encode(der.as_bytes())
    };
    let now = Timestamp::now();
    let mut tx = db.begin().await?;
    store::insert_signing_key(
        &mut tx,
        NewSigningKey {
            id: &id,
            private_key: &private_key,
            public_key: &URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
            now,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(kid = %id, "new signing key");
    Ok(id)
}
