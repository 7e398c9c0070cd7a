//! `/v1/t/{tenant}/users`: the caller's own profile, public profiles, and the tenant admin's
//! user directory.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Multipart, Object, OpenApi,
    param::{Path, Query},
    payload::{Binary, Json},
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::multipart::Upload,
};
use uuid::Uuid;

use super::{
    User,
    model::UserFilter,
    service::{self, AccountChange, ProfileEdit},
};
use crate::{
    app::AppState,
    auth::service as auth_service,
    authz::{
        Role,
        api::{RoleDto, requested_roles, role_views},
    },
    db::Timestamp,
    error::ApiError,
    error_statuses,
    http::{ApiResult, BodyExample, Caller, JsonBody, MultipartBody, Public, cursor, tenancy},
    ids::UserId,
    storage::ImageFormat,
    tenants::Tenant,
};

fn picture_url(tenant: &Tenant, user: &User) -> Option<String> {
    user.picture_key
        .as_ref()
        .map(|_| format!("/v1/t/{}/users/{}/picture", tenant.slug, user.id))
}

fn timestamp(value: Timestamp) -> time::OffsetDateTime {
    value.get()
}

/// The signed-in user's own account.
#[derive(Debug, Object)]
#[oai(rename = "Me")]
pub struct MeView {
    id: Uuid,
    email: String,
    email_verified: bool,
    first_name: String,
    last_name: String,
    #[oai(nullable)]
    phone_number: Option<String>,
    roles: Vec<RoleDto>,
    #[oai(nullable)]
    picture_url: Option<String>,
    created_at: time::OffsetDateTime,
    updated_at: time::OffsetDateTime,
}

impl MeView {
    fn new(tenant: &Tenant, user: &User) -> Self {
        Self {
            id: user.id.0,
            email: user.email.clone(),
            email_verified: user.email_verified,
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            phone_number: user.phone_number.clone(),
            roles: role_views(&user.roles),
            picture_url: picture_url(tenant, user),
            created_at: timestamp(user.created_at),
            updated_at: timestamp(user.updated_at),
        }
    }
}

/// What anyone may see of a member: no email or phone number.
#[derive(Debug, Object)]
pub struct PublicProfile {
    id: Uuid,
    first_name: String,
    /// Only the initial, for privacy.
    last_initial: String,
    is_host: bool,
    #[oai(nullable)]
    picture_url: Option<String>,
    member_since: time::OffsetDateTime,
}

/// A user as a tenant administrator sees them.
#[derive(Debug, Object)]
pub struct UserAccount {
    id: Uuid,
    email: String,
    email_verified: bool,
    first_name: String,
    last_name: String,
    #[oai(nullable)]
    phone_number: Option<String>,
    roles: Vec<RoleDto>,
    disabled: bool,
    created_at: time::OffsetDateTime,
    updated_at: time::OffsetDateTime,
}

impl From<&User> for UserAccount {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.0,
            email: user.email.clone(),
            email_verified: user.email_verified,
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            phone_number: user.phone_number.clone(),
            roles: role_views(&user.roles),
            disabled: user.disabled,
            created_at: timestamp(user.created_at),
            updated_at: timestamp(user.updated_at),
        }
    }
}

#[derive(Debug, Object)]
pub struct UserPage {
    data: Vec<UserAccount>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(Debug, Object)]
pub struct ProfileUpdate {
    #[oai(validator(max_length = 100))]
    first_name: Option<String>,
    #[oai(validator(max_length = 100))]
    last_name: Option<String>,
    /// E.164, e.g. `+33612345678`; an empty string removes the number.
    phone_number: Option<String>,
}

impl BodyExample for ProfileUpdate {
    fn example() -> serde_json::Value {
        serde_json::json!({ "first_name": "Ana", "phone_number": "+351912345678" })
    }
}

#[derive(Debug, Object)]
pub struct PasswordChange {
    #[oai(write_only)]
    current_password: String,
    /// At least 10 characters, not the email address.
    #[oai(write_only)]
    new_password: String,
}

impl BodyExample for PasswordChange {
    fn example() -> serde_json::Value {
        serde_json::json!({ "current_password": "correct horse battery", "new_password": "a brand new passphrase" })
    }
}

#[derive(Debug, Object)]
pub struct RolesUpdate {
    /// The complete new set (at least one).
    roles: Vec<RoleDto>,
}

impl BodyExample for RolesUpdate {
    fn example() -> serde_json::Value {
        serde_json::json!({ "roles": ["guest", "host"] })
    }
}

#[derive(Debug, Multipart)]
pub struct PictureUpload {
    /// A JPEG, PNG or WebP image of at most 5 MiB (recognised by content) whose pixels
    /// decode to at most 64 MiB.
    file: Upload,
}

impl BodyExample for PictureUpload {
    fn example() -> serde_json::Value {
        serde_json::json!({ "file": "picture.jpg" })
    }
}

#[derive(ApiResponse)]
pub enum Done {
    #[oai(status = 204)]
    NoContent,
}

/// An image with the type its content was recognised as.
pub struct Picture {
    bytes: bytes::Bytes,
    format: ImageFormat,
}

impl poem::IntoResponse for Picture {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type(self.format.content_type())
            .header("cache-control", "public, max-age=300")
            .body(self.bytes)
    }
}

impl ApiResponse for Picture {
    fn meta() -> MetaResponses {
        let formats = [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Webp];
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The picture",
                status: Some(200),
                status_range: None,
                content: formats
                    .iter()
                    .map(|format| MetaMediaType {
                        content_type: format.content_type(),
                        schema: <Binary<Vec<u8>> as poem_openapi::payload::Payload>::schema_ref(),
                    })
                    .collect(),
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

error_statuses!(OwnErrors => [401, 403, 404, 429]);
error_statuses!(OwnWriteErrors => [400, 401, 403, 404, 413, 415, 422, 429]);
error_statuses!(PublicErrors => [401, 403, 404, 429]);
error_statuses!(AdminReadErrors => [401, 403, 404, 422, 429]);
error_statuses!(AdminWriteErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);

/// Whether an account may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case", rename = "AccountStatus")]
pub enum AccountStatusDto {
    Active,
    Disabled,
}

pub struct UsersApi;

#[OpenApi(tag = "crate::http::Tag::Users")]
impl UsersApi {
    /// Get my account.
    #[oai(path = "/t/:tenant/users/me", method = "get", operation_id = "get_me")]
    async fn get_me(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
    ) -> ApiResult<Json<MeView>, OwnErrors> {
        let user = service::me(&state, &tenant.0, &caller.0).await?;
        Ok(Json(MeView::new(&tenant.0, &user)))
    }

    /// Update my name or phone number.
    #[oai(
        path = "/t/:tenant/users/me",
        method = "patch",
        operation_id = "update_me"
    )]
    async fn update_me(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        body: JsonBody<ProfileUpdate>,
    ) -> ApiResult<Json<MeView>, OwnWriteErrors> {
        let body = body.0;
        let edit = ProfileEdit {
            first_name: body.first_name,
            last_name: body.last_name,
            phone_number: body
                .phone_number
                .map(|phone| (!phone.is_empty()).then_some(phone)),
        };
        let user = service::update_me(&state, &tenant.0, &caller.0, edit).await?;
        Ok(Json(MeView::new(&tenant.0, &user)))
    }

    /// Change my password.
    ///
    /// Checks the current password (422 naming `current_password` when wrong) and ends every
    /// other session of the account.
    #[oai(
        path = "/t/:tenant/users/me/password",
        method = "post",
        operation_id = "change_password"
    )]
    async fn change_password(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        body: JsonBody<PasswordChange>,
    ) -> ApiResult<Done, OwnWriteErrors> {
        let body = body.0;
        auth_service::change_password(
            &state,
            &tenant.0,
            &caller.0,
            body.current_password,
            body.new_password,
        )
        .await?;
        Ok(Done::NoContent)
    }

    /// Upload my profile picture (multipart field `file`).
    ///
    /// JPEG, PNG or WebP by content, at most 5 MiB. A file that is not a decodable image is
    /// 415; an image whose pixels would take more than 64 MiB to decode (or more than 16384
    /// pixels a side) is 422 naming `file`. The picture is decoded and stored again (JPEG, or
    /// PNG when it has transparency), so no metadata of the upload is served.
    #[oai(
        path = "/t/:tenant/users/me/picture",
        method = "put",
        operation_id = "upload_my_picture"
    )]
    async fn upload_picture(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        upload: MultipartBody<PictureUpload>,
    ) -> ApiResult<Json<MeView>, OwnWriteErrors> {
        let bytes = upload.0.file.into_vec().await.map_err(|err| {
            ApiError::MalformedRequest(format!("The upload could not be read: {err}."))
        })?;
        let user = service::set_picture(&state, &tenant.0, &caller.0, bytes).await?;
        Ok(Json(MeView::new(&tenant.0, &user)))
    }

    /// Remove my profile picture.
    #[oai(
        path = "/t/:tenant/users/me/picture",
        method = "delete",
        operation_id = "delete_my_picture"
    )]
    async fn delete_picture(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
    ) -> ApiResult<Done, OwnErrors> {
        service::delete_picture(&state, &tenant.0, &caller.0).await?;
        Ok(Done::NoContent)
    }

    /// Get a member's public profile (no email or phone number).
    #[oai(
        path = "/t/:tenant/users/:id",
        method = "get",
        operation_id = "get_user_profile"
    )]
    async fn get_profile(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        id: Path<Uuid>,
    ) -> ApiResult<Json<PublicProfile>, PublicErrors> {
        let user = service::public_profile(&state, &tenant.0, &caller.0, UserId(id.0)).await?;
        Ok(Json(PublicProfile {
            id: user.id.0,
            last_initial: user
                .last_name
                .chars()
                .next()
                .map(String::from)
                .unwrap_or_default(),
            is_host: user.roles.contains(crate::authz::Role::Host),
            picture_url: picture_url(&tenant.0, &user),
            member_since: timestamp(user.created_at),
            first_name: user.first_name,
        }))
    }

    /// Get a member's profile picture.
    #[oai(
        path = "/t/:tenant/users/:id/picture",
        method = "get",
        operation_id = "get_user_picture"
    )]
    async fn get_picture(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
        id: Path<Uuid>,
    ) -> ApiResult<Picture, PublicErrors> {
        let (bytes, format) = service::picture(&state, &tenant.0, &caller.0, UserId(id.0)).await?;
        Ok(Picture { bytes, format })
    }

    /// List the tenant's users, newest first (tenant admins).
    ///
    /// Optionally only those of a role, a status or an email prefix.
    #[oai(path = "/t/:tenant/users", method = "get", operation_id = "list_users")]
    #[allow(clippy::too_many_arguments)]
    async fn list_users(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        /// Only accounts with this role.
        role: Query<Option<RoleDto>>,
        /// Only `active` or only `disabled` accounts.
        status: Query<Option<AccountStatusDto>>,
        /// Only accounts whose email starts with this (case-insensitive).
        email: Query<Option<String>>,
        /// Page size, 1 to 100 (default 20).
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<UserPage>, AdminReadErrors> {
        let filter = UserFilter {
            role: role.0.map(Role::from),
            disabled: status.0.map(|status| status == AccountStatusDto::Disabled),
            email_prefix: email.0.filter(|prefix| !prefix.is_empty()),
        };
        let limit = cursor::page_limit(limit.0)?;
        let after = cursor::decode(cursor.0.as_deref())?.map(UserId);
        let page = service::list(&state, &tenant.0, &caller.0, &filter, (after, limit)).await?;
        Ok(Json(UserPage {
            data: page.users.iter().map(UserAccount::from).collect(),
            next_cursor: page.next.map(|id| cursor::encode(id.0)),
        }))
    }

    /// Replace a user's roles (tenant admins).
    #[oai(
        path = "/t/:tenant/users/:id/roles",
        method = "put",
        operation_id = "set_user_roles"
    )]
    async fn set_roles(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<RolesUpdate>,
    ) -> ApiResult<Json<UserAccount>, AdminWriteErrors> {
        let roles = requested_roles("roles", body.0.roles)?;
        let user = service::administer(
            &state,
            &tenant.0,
            &caller.0,
            UserId(id.0),
            AccountChange::Roles(roles),
        )
        .await?;
        Ok(Json(UserAccount::from(&user)))
    }

    /// Disable a user: they cannot sign in and their sessions end (tenant admins).
    #[oai(
        path = "/t/:tenant/users/:id/disable",
        method = "post",
        operation_id = "disable_user"
    )]
    async fn disable(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<UserAccount>, AdminWriteErrors> {
        let user = service::administer(
            &state,
            &tenant.0,
            &caller.0,
            UserId(id.0),
            AccountChange::Disabled(true),
        )
        .await?;
        Ok(Json(UserAccount::from(&user)))
    }

    /// Enable a disabled user again (tenant admins).
    #[oai(
        path = "/t/:tenant/users/:id/enable",
        method = "post",
        operation_id = "enable_user"
    )]
    async fn enable(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Json<UserAccount>, AdminWriteErrors> {
        let user = service::administer(
            &state,
            &tenant.0,
            &caller.0,
            UserId(id.0),
            AccountChange::Disabled(false),
        )
        .await?;
        Ok(Json(UserAccount::from(&user)))
    }
}
