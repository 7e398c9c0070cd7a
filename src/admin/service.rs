use uuid::Uuid;

use super::store::{self, PlatformAdmin};
use crate::{
    app::AppState,
    auth::{
        AccessClaims, PLATFORM_AUDIENCE, account_disabled, keys::ACCESS_TOKEN_LIFETIME, password,
    },
    db::{Db, Timestamp},
    error::{ApiError, ErrorCode},
    users::model::Email,
};

pub const PLATFORM_ADMIN_ROLE: &str = "platform_admin";

/// Where a new administrator's password comes from.
pub enum InitialPassword {
    Given(String),
    /// Printed once; the administrator must replace it before signing in.
    OneTime,
}

/// Creates an administrator; returns the one-time password when one was generated.
#[tracing::instrument(skip_all)]
pub async fn create(
    db: &Db,
    email: &str,
    initial: InitialPassword,
) -> Result<Option<String>, ApiError> {
    let email = Email::parse(email).map_err(|message| ApiError::validation("email", message))?;
    let (password, one_time) = match initial {
        InitialPassword::Given(password) => {
            password::check_policy("password", &password, &email.display)
                .map_err(|e| ApiError::Validation(vec![e]))?;
            (password, false)
        }
        InitialPassword::OneTime => (password::one_time(), true),
    };
    let hash = password::hash(password.clone()).await?;
    let mut tx = db.begin().await?;
    let inserted = store::insert(
        &mut tx,
        Uuid::now_v7(),
        &email.display,
        &email.normalized,
        &hash,
        one_time,
        Timestamp::now(),
    )
    .await?;
    if !inserted {
        return Err(ApiError::Conflict {
            code: ErrorCode::EmailTaken,
            detail: format!(
                "A platform administrator with the email {} exists.",
                email.display
            ),
        });
    }
    tx.commit().await?;
    Ok(one_time.then_some(password))
}

pub struct AdminSession {
    pub access_token: String,
    pub expires_in: u64,
    pub admin: PlatformAdmin,
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthenticated {
        code: ErrorCode::InvalidCredentials,
        detail: "The email or password is incorrect.".into(),
    }
}

async fn check_credentials(
    state: &AppState,
    email: &str,
    password: String,
) -> Result<PlatformAdmin, ApiError> {
    let admin = match Email::parse(email) {
        Ok(email) => store::find_by_email(&state.db, &email.normalized).await?,
        Err(_) => None,
    };
    let hash = admin.as_ref().map(|admin| admin.password_hash.clone());
    if !password::verify(password, hash).await? {
        return Err(invalid_credentials());
    }
    let admin = admin.ok_or_else(invalid_credentials)?;
    if admin.disabled {
        return Err(account_disabled());
    }
    Ok(admin)
}

async fn sign_in(state: &AppState, admin: PlatformAdmin) -> Result<AdminSession, ApiError> {
    let now = Timestamp::now().get().unix_timestamp();
    let claims = AccessClaims {
        sub: admin.id,
        tid: None,
        aud: PLATFORM_AUDIENCE.to_owned(),
        roles: vec![PLATFORM_ADMIN_ROLE.to_owned()],
        sid: None,
        iat: now,
        exp: now + ACCESS_TOKEN_LIFETIME.as_secs() as i64,
        jti: Uuid::now_v7(),
    };
    Ok(AdminSession {
        access_token: state.keys.sign(&claims).await?,
        expires_in: ACCESS_TOKEN_LIFETIME.as_secs(),
        admin,
    })
}

#[tracing::instrument(skip_all)]
pub async fn login(
    state: &AppState,
    email: &str,
    password: String,
) -> Result<AdminSession, ApiError> {
    let admin = check_credentials(state, email, password).await?;
    if admin.must_change_password {
        return Err(ApiError::Refused {
            code: ErrorCode::PasswordChangeRequired,
            detail: "This account has a one-time password: replace it at /v1/admin/auth/password."
                .into(),
        });
    }
    sign_in(state, admin).await
}

/// Replaces the password (a one-time one or not) after checking the current one, and signs in.
#[tracing::instrument(skip_all)]
pub async fn change_password(
    state: &AppState,
    email: &str,
    current: String,
    new: String,
) -> Result<AdminSession, ApiError> {
    let admin = check_credentials(state, email, current).await?;
    password::check_policy("new_password", &new, &admin.email)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let hash = password::hash(new).await?;
    let mut tx = state.db.begin().await?;
    store::set_password(&mut tx, admin.id, &hash, Timestamp::now()).await?;
    tx.commit().await?;
    sign_in(
        state,
        PlatformAdmin {
            must_change_password: false,
            password_hash: hash,
            ..admin
        },
    )
    .await
}

/// The administrator an access token stands for.
#[tracing::instrument(skip_all)]
pub async fn authenticate(state: &AppState, token: &str) -> Result<PlatformAdmin, ApiError> {
    let claims: AccessClaims = state
        .keys
        .verify(token, PLATFORM_AUDIENCE)
        .await
        .map_err(|_| ApiError::invalid_token())?;
    let admin = store::get(&state.db, claims.sub)
        .await?
        .ok_or_else(ApiError::invalid_token)?;
    if admin.disabled {
        return Err(account_disabled());
    }
    Ok(admin)
}
