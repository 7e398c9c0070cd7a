//! The rules of signing up, signing in and managing sessions.

use time::Duration;
use uuid::Uuid;

use super::{
    AccessClaims, Principal, TENANT_AUDIENCE, UserPrincipal, account_disabled,
    jobs::SendPasswordReset,
    keys::ACCESS_TOKEN_LIFETIME,
    password,
    principals::SignedIn,
    secrets,
    store::{self as auth_store, NewRefreshToken, Spent, TokenPurpose},
};
use crate::{
    api_keys,
    app::AppState,
    authz::{AuthAction, ProfileAction, Role, Roles},
    db::{Timestamp, Tx},
    error::{ApiError, ErrorCode, FieldError},
    ids::{TenantId, UserId},
    jobs::{self, EnqueueOptions},
    mail::{self, Branding, OutgoingEmail, Template},
    tenants::Tenant,
    users::{
        User,
        model::{Email, parse_name, parse_phone},
        service::{self as users, Change, Inserted, NewUser},
    },
};

const REFRESH_TOKEN_LIFETIME: Duration = Duration::days(30);
const VERIFY_EMAIL_LIFETIME_HOURS: u32 = 48;
const PASSWORD_RESET_LIFETIME_MINUTES: u32 = 60;

/// What a successful sign-in hands back.
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub user: User,
}

pub struct Registration {
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub phone_number: Option<String>,
    pub host: bool,
}

fn collect<T>(
    result: Result<T, &'static str>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    result
        .map_err(|message| errors.push(FieldError::new(field, message)))
        .ok()
}

/// Creates an account and emails a link to verify its address. When the address already has an
/// account, nothing is created and its owner is emailed instead; the caller gets the same answer
/// either way (no session: the new user signs in with `login`), so registration does not reveal
/// which addresses have accounts. Both paths hash the password and queue one email.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn register(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    input: Registration,
) -> Result<(), ApiError> {
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, AuthAction::Register)
        .await?;
    let mut errors = Vec::new();
    let email = collect(Email::parse(&input.email), "email", &mut errors);
    let first_name = collect(parse_name(&input.first_name), "first_name", &mut errors);
    let last_name = collect(parse_name(&input.last_name), "last_name", &mut errors);
    let phone = match &input.phone_number {
        Some(phone) => collect(parse_phone(phone), "phone_number", &mut errors).map(Some),
        None => Some(None),
    };
    if let Err(error) = password::check_policy("password", &input.password, &input.email) {
        errors.push(error);
    }
    let (Some(email), Some(first_name), Some(last_name), Some(phone), true) =
        (email, first_name, last_name, phone, errors.is_empty())
    else {
        return Err(ApiError::Validation(errors));
    };

    let mut roles = vec![Role::Guest];
    if input.host && tenant.settings.self_service_hosts {
        roles.push(Role::Host);
    }
    let roles = Roles::new(roles);
    let hash = password::hash(input.password).await?;
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let inserted = users::insert(
        &mut tx,
        &permit,
        NewUser {
            id: UserId(Uuid::now_v7()),
            email: &email.display,
            email_normalized: &email.normalized,
            first_name: &first_name,
            last_name: &last_name,
            phone_number: phone.as_deref(),
            password_hash: &hash,
            roles: &roles,
            must_change_password: false,
            now,
        },
    )
    .await?;
    match inserted {
        Inserted::Created(user) => {
            send_verification(state, &mut tx, tenant, &user, now).await?;
            tx.commit().await?;
            tracing::info!(user_id = %user.id, "user registered");
        }
        Inserted::EmailTaken => {
            // The failed insert ends the transaction on PostgreSQL: tell the owner in a new one.
            drop(tx);
            warn_owner_of_registration(state, tenant, &email.normalized).await?;
        }
    }
    Ok(())
}

/// The account with this normalized address, unless there is none or it is disabled.
async fn active_account(
    state: &AppState,
    tenant: &Tenant,
    email_normalized: &str,
) -> Result<Option<User>, ApiError> {
    let found = users::find_by_email(&state.db, tenant.id, email_normalized).await?;
    Ok(found.map(|(user, _)| user).filter(|user| !user.disabled))
}

/// Emails the owner of an existing account that someone tried to register with its address.
async fn warn_owner_of_registration(
    state: &AppState,
    tenant: &Tenant,
    email_normalized: &str,
) -> Result<(), ApiError> {
    let Some(user) = active_account(state, tenant, email_normalized).await? else {
        return Ok(());
    };
    let template = Template::RegistrationAttempt {
        first_name: user.first_name.clone(),
        sign_in_link: format!(
            "{}/sign-in?tenant={}",
            tenant.site_url(&state.config.public_app_url),
            tenant.slug
        ),
    };
    let mut tx = state.db.begin().await?;
    send(&mut tx, tenant, &user, &template).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "registration attempted with an existing address");
    Ok(())
}

async fn send_verification(
    state: &AppState,
    tx: &mut Tx,
    tenant: &Tenant,
    user: &User,
    now: Timestamp,
) -> Result<(), ApiError> {
    let lifetime = Duration::hours(i64::from(VERIFY_EMAIL_LIFETIME_HOURS));
    let link = emailed_token(
        state,
        tx,
        tenant,
        user,
        TokenPurpose::VerifyEmail,
        lifetime,
        now,
    )
    .await?;
    let template = Template::VerifyEmail {
        first_name: user.first_name.clone(),
        link,
        expires_hours: VERIFY_EMAIL_LIFETIME_HOURS,
    };
    send(tx, tenant, user, &template).await
}

/// Stores a new single-use token for the user and returns the link to the tenant's site that
/// carries it.
async fn emailed_token(
    state: &AppState,
    tx: &mut Tx,
    tenant: &Tenant,
    user: &User,
    purpose: TokenPurpose,
    lifetime: Duration,
    now: Timestamp,
) -> Result<String, ApiError> {
    let (prefix, page) = match purpose {
        TokenPurpose::VerifyEmail => ("ve_", "verify-email"),
        TokenPurpose::PasswordReset => ("pr_", "reset-password"),
    };
    let token = secrets::generate(prefix);
    auth_store::insert_user_token(
        tx,
        tenant.id,
        user.id,
        purpose,
        &secrets::digest(&token),
        now + lifetime,
        now,
    )
    .await?;
    Ok(format!(
        "{}/{page}?tenant={}&token={token}",
        tenant.site_url(&state.config.public_app_url),
        tenant.slug
    ))
}

/// Queues `template` for the user, in the tenant's branding.
async fn send(
    tx: &mut Tx,
    tenant: &Tenant,
    user: &User,
    template: &Template,
) -> Result<(), ApiError> {
    let email =
        OutgoingEmail::compose(user.email.clone(), template, &Branding::for_tenant(tenant))?;
    mail::enqueue(tx, Some(tenant.id), email, None).await?;
    Ok(())
}

/// A session whose refresh token is written in the open transaction; its access token is
/// signed once that commits (signing may read the keys, which must not wait on the write lock
/// the transaction holds).
struct PendingSession {
    claims: AccessClaims,
    refresh_token: String,
    user: User,
}

impl PendingSession {
    async fn sign(self, state: &AppState) -> Result<Session, ApiError> {
        Ok(Session {
            access_token: state.keys.sign(&self.claims).await?,
            refresh_token: self.refresh_token,
            expires_in: ACCESS_TOKEN_LIFETIME.as_secs(),
            user: self.user,
        })
    }
}

/// Opens a session: a new refresh-token family and an access token bound to it.
async fn start_session(
    tx: &mut Tx,
    tenant: &Tenant,
    user: User,
    now: Timestamp,
) -> Result<PendingSession, ApiError> {
    issue(tx, tenant, user, Uuid::now_v7(), now).await
}

async fn issue(
    tx: &mut Tx,
    tenant: &Tenant,
    user: User,
    family: Uuid,
    now: Timestamp,
) -> Result<PendingSession, ApiError> {
    let refresh_token = secrets::generate("rt_");
    auth_store::insert_refresh_token(
        tx,
        tenant.id,
        NewRefreshToken {
            id: Uuid::now_v7(),
            family_id: family,
            user_id: user.id,
            token_hash: &secrets::digest(&refresh_token),
            expires_at: now + REFRESH_TOKEN_LIFETIME,
            now,
        },
    )
    .await?;
    let issued_at = now.get().unix_timestamp();
    let claims = AccessClaims {
        sub: user.id.0,
        tid: Some(tenant.id.0),
        aud: TENANT_AUDIENCE.to_owned(),
        roles: user.roles.names(),
        sid: Some(family),
        iat: issued_at,
        exp: issued_at + ACCESS_TOKEN_LIFETIME.as_secs() as i64,
        jti: Uuid::now_v7(),
    };
    Ok(PendingSession {
        claims,
        refresh_token,
        user,
    })
}

/// The per-account limit on wrong passwords, entered before any password is checked: a locked
/// account answers 429 at once (no argon2 work), whether or not it exists.
struct PasswordGuard<'a> {
    state: &'a AppState,
    account: String,
}

impl<'a> PasswordGuard<'a> {
    /// `email` as given: accounts are told apart by tenant and normalized address.
    async fn enter(state: &'a AppState, tenant: TenantId, email: &str) -> Result<Self, ApiError> {
        let normalized = Email::parse(email)
            .map_or_else(|_| email.trim().to_lowercase(), |email| email.normalized);
        let account = secrets::digest(&format!("{tenant}:{normalized}"));
        if let Some(retry_after_secs) = state.sign_in_failures.locked_for(&account).await {
            tracing::info!("sign-in refused: too many failed attempts for this account");
            return Err(ApiError::RateLimited { retry_after_secs });
        }
        Ok(Self { state, account })
    }

    /// Verifies `password` against `stored` (a dummy hash when `None`), counting a failure.
    async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        let matches = password::verify(password, stored).await?;
        if matches {
            self.state.sign_in_failures.clear(&self.account).await;
        } else {
            self.state
                .sign_in_failures
                .record_failure(&self.account)
                .await;
        }
        Ok(matches)
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthenticated {
        code: ErrorCode::InvalidCredentials,
        detail: "The email or password is incorrect.".into(),
    }
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn login(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    email: &str,
    password: String,
) -> Result<Session, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, AuthAction::Login)
        .await?;
    let guard = PasswordGuard::enter(state, tenant.id, email).await?;
    let user = match Email::parse(email) {
        Ok(email) => users::find_by_email(&state.db, tenant.id, &email.normalized).await?,
        Err(_) => None,
    };
    // The same argon2 work whether or not the account exists.
    let (user, hash) = user.unzip();
    if !guard.verify(password, hash).await? {
        return Err(invalid_credentials());
    }
    let user = user.ok_or_else(invalid_credentials)?;
    if user.disabled {
        return Err(account_disabled());
    }
    if user.must_change_password {
        return Err(ApiError::Refused {
            code: ErrorCode::PasswordChangeRequired,
            detail: "This account has a one-time password: set your own with \
                     auth/password-change, which also signs you in."
                .into(),
        });
    }
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let session = start_session(&mut tx, tenant, user, now).await?;
    tx.commit().await?;
    let session = session.sign(state).await?;
    Ok(session)
}

/// Trades a refresh token for a new pair. A token presented twice revokes its whole family:
/// either its owner or a thief holds a copy, and neither can be told apart.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn refresh(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    refresh_token: &str,
) -> Result<Session, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, AuthAction::Refresh)
        .await?;
    let now = Timestamp::now();
    let hash = secrets::digest(refresh_token);
    let mut tx = state.db.begin().await?;
    let row = match auth_store::spend_refresh_token(&mut tx, tenant.id, &hash, now).await? {
        Spent::Fresh(row) => row,
        Spent::Replayed(row) => {
            auth_store::revoke_family(&mut tx, tenant.id, row.family_id, now).await?;
            tx.commit().await?;
            state.principals.forget_user(UserId(row.user_id));
            tracing::warn!(family = %row.family_id, "refresh token reused; session revoked");
            return Err(ApiError::Unauthenticated {
                code: ErrorCode::RefreshTokenReused,
                detail: "This refresh token was already used; the session has been ended. Sign in again.".into(),
            });
        }
        Spent::Unknown => return Err(invalid_refresh_token()),
    };
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(invalid_refresh_token());
    }
    let user = users::get_in(&mut tx, tenant.id, UserId(row.user_id))
        .await?
        .ok_or_else(invalid_refresh_token)?;
    if user.disabled {
        return Err(account_disabled());
    }
    let session = issue(&mut tx, tenant, user, row.family_id, now).await?;
    tx.commit().await?;
    let session = session.sign(state).await?;
    Ok(session)
}

fn invalid_refresh_token() -> ApiError {
    ApiError::Unauthenticated {
        code: ErrorCode::InvalidRefreshToken,
        detail: "The refresh token is unknown, expired or revoked. Sign in again.".into(),
    }
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn logout(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    refresh_token: &str,
) -> Result<(), ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, AuthAction::Logout)
        .await?;
    let mut tx = state.db.begin().await?;
    let ended = auth_store::revoke_family_of(
        &mut tx,
        tenant.id,
        &secrets::digest(refresh_token),
        Timestamp::now(),
    )
    .await?;
    tx.commit().await?;
    if let Some(user) = ended {
        state.principals.forget_user(user);
    }
    Ok(())
}

fn invalid_email_token() -> ApiError {
    ApiError::validation("token", "is invalid, expired or already used")
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn verify_email(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    token: &str,
) -> Result<(), ApiError> {
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, AuthAction::VerifyEmail)
        .await?;
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let user = auth_store::consume_user_token(
        &mut tx,
        tenant.id,
        TokenPurpose::VerifyEmail,
        &secrets::digest(token),
        now,
    )
    .await?
    .ok_or_else(invalid_email_token)?;
    users::update_account(&mut tx, &permit, user, Change::EmailVerified, now).await?;
    tx.commit().await
}

/// Queues a reset link for the address; answers the same either way. Whether an account has
/// the address is decided by the job, so the request does the same work (one queued job) for
/// known and unknown addresses, and takes the same time.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn request_password_reset(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    email: &str,
) -> Result<(), ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, AuthAction::PasswordReset)
        .await?;
    let Ok(email) = Email::parse(email) else {
        return Err(ApiError::validation(
            "email",
            "must be an email address like name@example.com",
        ));
    };
    let mut tx = state.db.begin().await?;
    jobs::enqueue(
        &mut tx,
        &SendPasswordReset {
            email: email.normalized,
        },
        EnqueueOptions {
            tenant: Some(tenant.id),
            ..EnqueueOptions::default()
        },
    )
    .await?;
    tx.commit().await
}

/// Emails a reset link to the account with this (normalized) address, if there is one and it
/// is not disabled; the job behind `request_password_reset`.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn send_password_reset(
    state: &AppState,
    tenant: &Tenant,
    email_normalized: &str,
) -> Result<(), ApiError> {
    let Some(user) = active_account(state, tenant, email_normalized).await? else {
        return Ok(());
    };
    let now = Timestamp::now();
    let lifetime = Duration::minutes(i64::from(PASSWORD_RESET_LIFETIME_MINUTES));
    let mut tx = state.db.begin().await?;
    auth_store::spend_user_tokens(
        &mut tx,
        tenant.id,
        user.id,
        TokenPurpose::PasswordReset,
        now,
    )
    .await?;
    let link = emailed_token(
        state,
        &mut tx,
        tenant,
        &user,
        TokenPurpose::PasswordReset,
        lifetime,
        now,
    )
    .await?;
    let template = Template::PasswordReset {
        first_name: user.first_name.clone(),
        link,
        expires_minutes: PASSWORD_RESET_LIFETIME_MINUTES,
    };
    send(&mut tx, tenant, &user, &template).await?;
    tx.commit().await
}

/// Sets a new password with a reset token and ends every session of the account.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn confirm_password_reset(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    token: &str,
    new_password: String,
) -> Result<(), ApiError> {
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, AuthAction::PasswordReset)
        .await?;
    let token_hash = secrets::digest(token);
    let now = Timestamp::now();
    // Check and hash before taking the write lock; the token is spent in the transaction.
    let user_id = auth_store::valid_user_token(
        &state.db,
        tenant.id,
        TokenPurpose::PasswordReset,
        &token_hash,
        now,
    )
    .await?
    .ok_or_else(invalid_email_token)?;
    let user = users::find(&state.db, tenant.id, user_id)
        .await?
        .ok_or_else(invalid_email_token)?;
    password::check_policy("new_password", &new_password, &user.email)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let hash = password::hash(new_password).await?;
    let mut tx = state.db.begin().await?;
    auth_store::consume_user_token(
        &mut tx,
        tenant.id,
        TokenPurpose::PasswordReset,
        &token_hash,
        now,
    )
    .await?
    .filter(|consumed| *consumed == user_id)
    .ok_or_else(invalid_email_token)?;
    auth_store::spend_user_tokens(
        &mut tx,
        tenant.id,
        user_id,
        TokenPurpose::PasswordReset,
        now,
    )
    .await?;
    users::update_account(
        &mut tx,
        &permit,
        user_id,
        Change::Password { hash: &hash },
        now,
    )
    .await?;
    auth_store::revoke_user_sessions(&mut tx, tenant.id, user_id, None, now).await?;
    tx.commit().await?;
    state.principals.forget_user(user_id);
    Ok(())
}

/// Changes the password of the signed-in user after checking the current one; every other
/// session of the account ends.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn change_password(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    current_password: String,
    new_password: String,
) -> Result<(), ApiError> {
    let caller = principal.user()?;
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, ProfileAction::UpdateOwn)
        .await?;
    let user = users::find(&state.db, tenant.id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    password::check_policy("new_password", &new_password, &user.email)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let guard = PasswordGuard::enter(state, tenant.id, &user.email).await?;
    let stored = users::find_by_email(&state.db, tenant.id, &user.email.to_lowercase())
        .await?
        .map(|(_, hash)| hash);
    if !guard.verify(current_password, stored).await? {
        return Err(ApiError::validation("current_password", "is incorrect"));
    }
    let hash = password::hash(new_password).await?;
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    auth_store::spend_user_tokens(
        &mut tx,
        tenant.id,
        user.id,
        TokenPurpose::PasswordReset,
        now,
    )
    .await?;
    users::update_account(
        &mut tx,
        &permit,
        user.id,
        Change::Password { hash: &hash },
        now,
    )
    .await?;
    auth_store::revoke_user_sessions(&mut tx, tenant.id, user.id, caller.session, now).await?;
    tx.commit().await?;
    state.principals.forget_user(user.id);
    Ok(())
}

/// Replaces a password, typically the one-time password an operator created the account with,
/// after checking the current one; then signs in. Every earlier session of the account ends.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn replace_password(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    email: &str,
    current_password: String,
    new_password: String,
) -> Result<Session, ApiError> {
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, AuthAction::Login)
        .await?;
    let guard = PasswordGuard::enter(state, tenant.id, email).await?;
    let found = match Email::parse(email) {
        Ok(email) => users::find_by_email(&state.db, tenant.id, &email.normalized).await?,
        Err(_) => None,
    };
    let (user, hash) = found.unzip();
    if !guard.verify(current_password, hash).await? {
        return Err(invalid_credentials());
    }
    let user = user.ok_or_else(invalid_credentials)?;
    if user.disabled {
        return Err(account_disabled());
    }
    password::check_policy("new_password", &new_password, &user.email)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let hash = password::hash(new_password).await?;
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let user = users::update_account(
        &mut tx,
        &permit,
        user.id,
        Change::Password { hash: &hash },
        now,
    )
    .await?
    .ok_or_else(invalid_credentials)?;
    auth_store::revoke_user_sessions(&mut tx, tenant.id, user.id, None, now).await?;
    let user_id = user.id;
    let session = start_session(&mut tx, tenant, user, now).await?;
    tx.commit().await?;
    state.principals.forget_user(user_id);
    let session = session.sign(state).await?;
    Ok(session)
}

/// Ends every session of the user (a disabled account signs out everywhere).
#[tracing::instrument(skip_all, fields(tenant = %tenant, user = %user))]
pub async fn end_sessions(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    now: Timestamp,
) -> Result<(), ApiError> {
    auth_store::revoke_user_sessions(tx, tenant, user, None, now).await
}

/// Who presents `token` (an access token or an API key) to `tenant`; no token is anonymous.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn authenticate(
    state: &AppState,
    tenant: &Tenant,
    token: Option<&str>,
) -> Result<Principal, ApiError> {
    let Some(token) = token else {
        return Ok(Principal::Anonymous);
    };
    if token.starts_with(api_keys::SECRET_PREFIX) {
        return api_keys::service::authenticate(&state.db, tenant, token).await;
    }
    let claims: AccessClaims = state
        .keys
        .verify(token, TENANT_AUDIENCE)
        .await
        .map_err(|_| ApiError::invalid_token())?;
    if claims.tid != Some(tenant.id.0) {
        return Err(ApiError::invalid_token());
    }
    let user_id = UserId(claims.sub);
    let signed_in = match state.principals.get(tenant.id, user_id, claims.sid) {
        Some(signed_in) => signed_in,
        None => {
            let read = state.principals.begin_read();
            let (user, session_ended) =
                users::find_signed_in(&state.db, tenant.id, user_id, claims.sid)
                    .await?
                    .ok_or_else(ApiError::invalid_token)?;
            let signed_in = SignedIn {
                roles: user.roles,
                disabled: user.disabled,
                session_ended,
            };
            state
                .principals
                .remember(read, tenant.id, user_id, claims.sid, signed_in.clone());
            signed_in
        }
    };
    if signed_in.disabled {
        return Err(account_disabled());
    }
    // An access token dies with its session (logout, password change, a reused refresh token).
    if signed_in.session_ended {
        return Err(ApiError::invalid_token());
    }
    Ok(Principal::User(UserPrincipal {
        user_id,
        // Current roles, not the token's: a role change or removal holds at once.
        roles: signed_in.roles,
        session: claims.sid,
        api_key: None,
    }))
}
