//! `/v1/t/{tenant}/auth/*`: sign-up, sign-in, sessions, email verification, password reset.

use poem_openapi::{ApiResponse, Enum, Object, OpenApi, payload::Json};

use super::service;
use crate::authz::api::{RoleDto, role_views};
use crate::{
    app::AppState,
    error_statuses,
    http::{ApiResult, BodyExample, Caller, JsonBody, NoStore, Public, tenancy},
    users::User,
};

#[derive(Debug, Object)]
pub struct RegisterRequest {
    #[oai(validator(max_length = 254))]
    email: String,
    /// At least 10 characters, not the email address, not a common or leaked password.
    #[oai(write_only, validator(max_length = 256))]
    password: String,
    #[oai(validator(max_length = 100))]
    first_name: String,
    #[oai(validator(max_length = 100))]
    last_name: String,
    /// E.164, e.g. `+33612345678`.
    phone_number: Option<String>,
    /// Ask for the `host` role as well as `guest` (granted where the tenant allows
    /// self-service hosts).
    host: Option<bool>,
}

impl BodyExample for RegisterRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({ "email": "ana@example.com", "password": "correct horse battery", "first_name": "Ana", "last_name": "Lima", "host": false })
    }
}

#[derive(Debug, Object)]
pub struct LoginRequest {
    email: String,
    #[oai(write_only)]
    password: String,
}

impl BodyExample for LoginRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({ "email": "ana@example.com", "password": "correct horse battery" })
    }
}

#[derive(Debug, Object)]
pub struct PasswordReplacement {
    email: String,
    /// The password to replace (the one-time password, at first).
    #[oai(write_only)]
    current_password: String,
    /// At least 10 characters, not the email address, not a common or leaked password.
    #[oai(write_only)]
    new_password: String,
}

impl BodyExample for PasswordReplacement {
    fn example() -> serde_json::Value {
        serde_json::json!({ "email": "ana@example.com", "current_password": "Tk7fQ2mWp9LxZ4vRb8Nc", "new_password": "a brand new passphrase" })
    }
}

#[derive(Debug, Object)]
pub struct RefreshRequest {
    /// The refresh token of the last token response; it can be used once.
    refresh_token: String,
}

impl BodyExample for RefreshRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({ "refresh_token": "rt_3q2Xb8vYk1pLw6Zs0NfA9cTgHe4Jm7Ru" })
    }
}

#[derive(Debug, Object)]
pub struct EmailTokenRequest {
    /// The token from the emailed link.
    token: String,
}

impl BodyExample for EmailTokenRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({ "token": "ev_Jm7Ru3q2Xb8vYk1pLw6Zs0NfA9cTgHe4" })
    }
}

#[derive(Debug, Object)]
pub struct PasswordResetRequest {
    email: String,
}

impl BodyExample for PasswordResetRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({ "email": "ana@example.com" })
    }
}

#[derive(Debug, Object)]
pub struct PasswordResetConfirmation {
    token: String,
    #[oai(write_only)]
    new_password: String,
}

impl BodyExample for PasswordResetConfirmation {
    fn example() -> serde_json::Value {
        serde_json::json!({ "token": "pr_9cTgHe4Jm7Ru3q2Xb8vYk1pLw6Zs0NfA", "new_password": "a brand new passphrase" })
    }
}

/// The signed-in user, as the token response carries it.
#[derive(Debug, Object)]
pub struct SessionUser {
    id: uuid::Uuid,
    email: String,
    first_name: String,
    last_name: String,
    roles: Vec<RoleDto>,
}

impl From<&User> for SessionUser {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.0,
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            roles: role_views(&user.roles),
        }
    }
}

/// How to send the access token: always `Bearer`.
#[derive(Debug, Clone, Copy, Enum)]
pub enum TokenType {
    Bearer,
}

#[derive(Debug, Object)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <access_token>`; valid for `expires_in` seconds and only
    /// in this tenant.
    access_token: String,
    /// Opaque; trade it at `auth/refresh` for a new pair. Each one works once.
    refresh_token: String,
    token_type: TokenType,
    expires_in: u64,
    user: SessionUser,
}

impl From<service::Session> for TokenResponse {
    fn from(session: service::Session) -> Self {
        Self {
            access_token: session.access_token,
            refresh_token: session.refresh_token,
            token_type: TokenType::Bearer,
            expires_in: session.expires_in,
            user: SessionUser::from(&session.user),
        }
    }
}

#[derive(ApiResponse)]
pub enum Done {
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
pub enum Accepted {
    /// Answered whether or not an account has this email; what happens next comes by email.
    #[oai(status = 202)]
    Accepted,
}

error_statuses!(RegisterErrors => [400, 401, 403, 404, 413, 415, 422, 429]);
error_statuses!(LoginErrors => [400, 401, 403, 404, 413, 415, 422, 429]);
error_statuses!(TokenErrors => [400, 401, 403, 404, 413, 415, 422, 429]);

pub struct AuthApi;

#[OpenApi(tag = "crate::http::Tag::Auth")]
impl AuthApi {
    /// Create an account.
    ///
    /// New accounts get the `guest` role, plus `host` when asked for, and an email with a link
    /// to verify the address; then sign in with `auth/login`. Answers 202 whether or not the
    /// address already has an account in this tenant (then nothing is created and its owner is
    /// emailed instead), so the answer does not reveal which addresses are registered.
    #[oai(
        path = "/t/:tenant/auth/register",
        method = "post",
        operation_id = "register"
    )]
    async fn register(
        &self,
        state: poem::web::Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        body: JsonBody<RegisterRequest>,
    ) -> ApiResult<Accepted, RegisterErrors> {
        let body = body.0;
        service::register(
            &state,
            &tenant.0,
            &caller.0,
            service::Registration {
                email: body.email,
                password: body.password,
                first_name: body.first_name,
                last_name: body.last_name,
                phone_number: body.phone_number,
                host: body.host.unwrap_or(false),
            },
        )
        .await?;
        Ok(Accepted::Accepted)
    }

    /// Sign in with email and password.
    ///
    /// 401 `invalid_credentials` for a wrong email or password (the answer and its timing do not
    /// tell which); 403 `account_disabled`; 403 `password_change_required` while the account
    /// has a one-time password (replace it at `auth/password-change`).
    #[oai(
        path = "/t/:tenant/auth/login",
        method = "post",
        operation_id = "login"
    )]
    async fn login(
        &self,
        state: poem::web::Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        body: JsonBody<LoginRequest>,
    ) -> ApiResult<NoStore<Json<TokenResponse>>, LoginErrors> {
        let body = body.0;
        let session =
            service::login(&state, &tenant.0, &caller.0, &body.email, body.password).await?;
        Ok(NoStore(Json(session.into())))
    }

    /// Replace a password and sign in.
    ///
    /// For accounts created with a one-time password (whose sign-in answers 403
    /// `password_change_required`), or anyone who knows their password. Ends every other
    /// session of the account.
    #[oai(
        path = "/t/:tenant/auth/password-change",
        method = "post",
        operation_id = "replace_password"
    )]
    async fn replace_password(
        &self,
        state: poem::web::Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        body: JsonBody<PasswordReplacement>,
    ) -> ApiResult<NoStore<Json<TokenResponse>>, LoginErrors> {
        let body = body.0;
        let session = service::replace_password(
            &state,
            &tenant.0,
            &caller.0,
            &body.email,
            body.current_password,
            body.new_password,
        )
        .await?;
        Ok(NoStore(Json(session.into())))
    }

    /// Trade a refresh token for a new token pair.
    ///
    /// Each refresh token works once. Presenting a spent one ends the whole session
    /// (401 `refresh_token_reused`).
    #[oai(
        path = "/t/:tenant/auth/refresh",
        method = "post",
        operation_id = "refresh_token"
    )]
    async fn refresh(
        &self,
        state: poem::web::Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        body: JsonBody<RefreshRequest>,
    ) -> ApiResult<NoStore<Json<TokenResponse>>, TokenErrors> {
        let session = service::refresh(&state, &tenant.0, &caller.0, &body.refresh_token).await?;
        Ok(NoStore(Json(session.into())))
    }

    /// End the session a refresh token belongs to.
    #[oai(
        path = "/t/:tenant/auth/logout",
        method = "post",
        operation_id = "logout"
    )]
    async fn logout(
        &self,
        state: poem::web::Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        body: JsonBody<RefreshRequest>,
    ) -> ApiResult<Done, TokenErrors> {
        service::logout(&state, &tenant.0, &caller.0, &body.refresh_token).await?;
        Ok(Done::NoContent)
    }

    /// Confirm an email address with the token from the verification email.
    #[oai(
        path = "/t/:tenant/auth/verify-email",
        method = "post",
        operation_id = "verify_email"
    )]
    async fn verify_email(
        &self,
        state: poem::web::Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        body: JsonBody<EmailTokenRequest>,
    ) -> ApiResult<Done, TokenErrors> {
        service::verify_email(&state, &tenant.0, &caller.0, &body.token).await?;
        Ok(Done::NoContent)
    }

    /// Email a password-reset link.
    ///
    /// Answers 202 whether or not the email has an account. The link works once, for an hour.
    #[oai(
        path = "/t/:tenant/auth/password-reset",
        method = "post",
        operation_id = "request_password_reset"
    )]
    async fn password_reset(
        &self,
        state: poem::web::Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        body: JsonBody<PasswordResetRequest>,
    ) -> ApiResult<Accepted, TokenErrors> {
        service::request_password_reset(&state, &tenant.0, &caller.0, &body.email).await?;
        Ok(Accepted::Accepted)
    }

    /// Set a new password with a reset token; every session of the account ends.
    #[oai(
        path = "/t/:tenant/auth/password-reset/confirm",
        method = "post",
        operation_id = "confirm_password_reset"
    )]
    async fn password_reset_confirm(
        &self,
        state: poem::web::Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        body: JsonBody<PasswordResetConfirmation>,
    ) -> ApiResult<Done, TokenErrors> {
        let body = body.0;
        service::confirm_password_reset(
            &state,
            &tenant.0,
            &caller.0,
            &body.token,
            body.new_password,
        )
        .await?;
        Ok(Done::NoContent)
    }
}
