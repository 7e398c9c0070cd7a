use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Multipart, Object, OpenApi, param::Path, payload::Json,
    types::multipart::Upload,
};
use uuid::Uuid;

use super::{
    model::{FailurePolicy, Plugin, PluginKind, PluginStatus, RecordedFailure},
    service::{self, DryRun},
};
use crate::{
    app::AppState,
    error::ApiError,
    error_statuses,
    http::{ApiResult, BodyExample, Caller, JsonBody, MultipartBody, NoStore, tenancy},
};

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "PluginKind")]
pub enum PluginKindDto {
    Pricing,
    ReviewRules,
}

impl From<PluginKind> for PluginKindDto {
    fn from(kind: PluginKind) -> Self {
        match kind {
            PluginKind::Pricing => Self::Pricing,
            PluginKind::ReviewRules => Self::ReviewRules,
        }
    }
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "PluginStatus")]
pub enum PluginStatusDto {
    Active,
    Inactive,
}

/// What a failed call of the plugin leads to: pricing `fail_closed` (the quote or booking is
/// refused with 422 `plugin_failed`) or `fallback` (the base price stands); review rules
/// `hold` (the review waits for a moderator) or `accept`.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "PluginFailurePolicy")]
pub enum FailurePolicyDto {
    FailClosed,
    Fallback,
    Hold,
    Accept,
}

impl From<FailurePolicy> for FailurePolicyDto {
    fn from(policy: FailurePolicy) -> Self {
        match policy {
            FailurePolicy::FailClosed => Self::FailClosed,
            FailurePolicy::Fallback => Self::Fallback,
            FailurePolicy::Hold => Self::Hold,
            FailurePolicy::Accept => Self::Accept,
        }
    }
}

impl FailurePolicyDto {
    fn as_str(self) -> &'static str {
        match self {
            Self::FailClosed => "fail_closed",
            Self::Fallback => "fallback",
            Self::Hold => "hold",
            Self::Accept => "accept",
        }
    }
}

/// A failed call of the plugin.
#[derive(Debug, Object)]
#[oai(rename = "PluginFailure")]
pub struct FailureView {
    /// How it failed: `fuel_exhausted`, `timeout`, `memory_limit`, `stack_overflow`, `trap`,
    /// `input_too_large`, `output_too_large`, `invalid_output`, `plugin_error` or `prepare_failed`.
    reason: String,
    message: String,
    at: time::OffsetDateTime,
}

impl From<&RecordedFailure> for FailureView {
    fn from(failure: &RecordedFailure) -> Self {
        Self {
            reason: failure.reason.clone(),
            message: failure.message.clone(),
            at: failure.at.get(),
        }
    }
}

/// One version of a tenant's plugin. The `kind`, `status` and `failure_policy` enums are
/// documented on their schemas; `failure_policy` is present while the version is active.
#[derive(Debug, Object)]
#[oai(rename = "Plugin")]
pub struct PluginView {
    id: Uuid,
    kind: PluginKindDto,
    name: String,
    /// 1 for a name's first upload, then one more per upload of the same kind and name.
    version: i64,
    /// Hex SHA-256 of the module.
    sha256: String,
    /// The module's size in bytes.
    size: i64,
    /// The world the module implements: `pricing` or `review-rules` of
    /// `staybase:plugin@0.1.0`.
    world: String,
    /// The configuration passed to every call, as JSON text.
    config: String,
    status: PluginStatusDto,
    #[oai(skip_serializing_if_is_none)]
    failure_policy: Option<FailurePolicyDto>,
    created_at: time::OffsetDateTime,
    #[oai(nullable)]
    activated_at: Option<time::OffsetDateTime>,
    /// The latest failed calls, newest first (in `GET plugins/{id}` only; empty in lists).
    recent_failures: Vec<FailureView>,
}

impl PluginView {
    fn new(plugin: &Plugin, failures: &[RecordedFailure]) -> Self {
        Self {
            id: plugin.id,
            kind: plugin.kind.into(),
            name: plugin.name.clone(),
            version: plugin.version,
            sha256: plugin.sha256.clone(),
            size: plugin.size,
            world: plugin.kind.world().wit_name().to_owned(),
            config: plugin.config.clone(),
            status: match plugin.status {
                PluginStatus::Active => PluginStatusDto::Active,
                PluginStatus::Inactive => PluginStatusDto::Inactive,
            },
            failure_policy: plugin.failure_policy.map(Into::into),
            created_at: plugin.created_at.get(),
            activated_at: plugin.activated_at.map(|at| at.get()),
            recent_failures: failures.iter().map(FailureView::from).collect(),
        }
    }
}

#[derive(Debug, Multipart)]
pub struct PluginUpload {
    /// `pricing` or `review_rules`.
    kind: String,
    /// Uploading a name again (of the same kind) makes its next version.
    name: String,
    /// The plugin's configuration: a JSON object as text (`{}` when left out).
    config: Option<String>,
    /// The WebAssembly component (`.wasm`), at most 4 MiB.
    module: Upload,
}

impl BodyExample for PluginUpload {
    fn example() -> serde_json::Value {
        serde_json::json!({
            "kind": "pricing",
            "name": "seasonal-weekend",
            "config": "{\"weekend_percent\": 15}",
            "module": "seasonal_weekend.wasm"
        })
    }
}

/// `failure_policy` defaults to `fail_closed` for pricing and `hold` for review rules.
#[derive(Debug, Object)]
pub struct ActivationRequest {
    failure_policy: Option<FailurePolicyDto>,
}

impl BodyExample for ActivationRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({ "failure_policy": "fail_closed" })
    }
}

#[derive(Debug, Object)]
pub struct DryRunRequest {
    /// The input of the plugin's world, as JSON (snake_case fields of the WIT records): a
    /// `quote` for pricing, a `review` for review rules. Left out: a sample input. Its
    /// `config` defaults to the plugin's own.
    input: Option<serde_json::Value>,
}

impl BodyExample for DryRunRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({})
    }
}

/// Why a dry run produced no output.
#[derive(Debug, Object)]
#[oai(rename = "PluginCallError")]
pub struct CallErrorView {
    /// As in `PluginFailure`.
    reason: String,
    message: String,
}

/// What a dry run did: the output (pricing: `{ currency, lines }` as checked for live
/// quotes; review rules: `{ decision, reason? }`), or `null` and the `error` (present only
/// when the call failed).
#[derive(Debug, Object)]
#[oai(rename = "PluginDryRun")]
pub struct DryRunView {
    #[oai(nullable)]
    output: Option<std::collections::BTreeMap<String, serde_json::Value>>,
    #[oai(skip_serializing_if_is_none)]
    error: Option<CallErrorView>,
    fuel_used: u64,
    duration_us: u64,
    /// What the plugin logged and printed, at most 50 lines.
    logs: Vec<String>,
}

impl From<DryRun> for DryRunView {
    fn from(run: DryRun) -> Self {
        Self {
            output: match run.output {
                Some(serde_json::Value::Object(fields)) => Some(fields.into_iter().collect()),
                _ => None,
            },
            error: run.error.map(|failure| CallErrorView {
                reason: failure.reason.as_str().to_owned(),
                message: failure.message,
            }),
            fuel_used: run.fuel_used,
            duration_us: u64::try_from(run.duration.as_micros()).unwrap_or(u64::MAX),
            logs: run.logs,
        }
    }
}

#[derive(Debug, Object)]
pub struct PluginList {
    data: Vec<PluginView>,
    /// Always `null`: every version is in `data`.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum Uploaded {
    #[oai(status = 201)]
    Created(Json<PluginView>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    #[oai(status = 204)]
    NoContent,
}

error_statuses!(UploadErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429, 503]);
error_statuses!(ReadErrors => [401, 403, 404, 429]);
error_statuses!(WriteErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);
error_statuses!(DryRunErrors => [400, 401, 403, 404, 413, 415, 422, 429, 503]);

pub struct PluginsApi;

#[OpenApi(tag = "crate::http::Tag::Plugins")]
impl PluginsApi {
    /// Upload a plugin version (tenant admins).
    ///
    /// Multipart fields `kind`, `name`, `config`, `module`. The module must be a WebAssembly
    /// component of at most 4 MiB (413 beyond) implementing its kind's world of
    /// `staybase:plugin@0.1.0` and importing nothing plugins may not use (422
    /// `plugin_invalid` says why). It is compiled once here, and stays inactive until
    /// activated.
    #[oai(
        path = "/t/:tenant/plugins",
        method = "post",
        operation_id = "upload_plugin"
    )]
    async fn upload(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        upload: MultipartBody<PluginUpload>,
    ) -> ApiResult<NoStore<Uploaded>, UploadErrors> {
        let form = upload.0;
        let module = form.module.into_vec().await.map_err(|err| {
            ApiError::MalformedRequest(format!("The upload could not be read: {err}."))
        })?;
        let plugin = service::upload(
            &state,
            &tenant.0,
            &caller.0,
            service::Upload {
                kind: form.kind,
                name: form.name,
                config: form.config,
                module,
            },
        )
        .await?;
        Ok(NoStore(Uploaded::Created(Json(PluginView::new(
            &plugin,
            &[],
        )))))
    }

    /// List every version of the tenant's plugins, newest first (tenant admins).
    #[oai(
        path = "/t/:tenant/plugins",
        method = "get",
        operation_id = "list_plugins"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
    ) -> ApiResult<NoStore<Json<PluginList>>, ReadErrors> {
        let plugins = service::list(&state, &tenant.0, &caller.0).await?;
        Ok(NoStore(Json(PluginList {
            data: plugins
                .iter()
                .map(|plugin| PluginView::new(plugin, &[]))
                .collect(),
            next_cursor: None,
        })))
    }

    /// Get a plugin version with its latest failed calls (tenant admins).
    #[oai(
        path = "/t/:tenant/plugins/:id",
        method = "get",
        operation_id = "get_plugin"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<NoStore<Json<PluginView>>, ReadErrors> {
        let (plugin, failures) = service::get(&state, &tenant.0, &caller.0, id.0).await?;
        Ok(NoStore(Json(PluginView::new(&plugin, &failures))))
    }

    /// Delete a plugin version (tenant admins); an active one stops running at once.
    #[oai(
        path = "/t/:tenant/plugins/:id",
        method = "delete",
        operation_id = "delete_plugin"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<Deleted, ReadErrors> {
        service::delete(&state, &tenant.0, &caller.0, id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// Activate a plugin version (tenant admins).
    ///
    /// It replaces its kind's active version at once (which becomes inactive): rolling back
    /// is activating the old version.
    #[oai(
        path = "/t/:tenant/plugins/:id/activate",
        method = "post",
        operation_id = "activate_plugin"
    )]
    async fn activate(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<ActivationRequest>,
    ) -> ApiResult<NoStore<Json<PluginView>>, WriteErrors> {
        let policy = body.0.failure_policy.map(FailurePolicyDto::as_str);
        let plugin = service::activate(&state, &tenant.0, &caller.0, id.0, policy).await?;
        Ok(NoStore(Json(PluginView::new(&plugin, &[]))))
    }

    /// Deactivate a plugin version (tenant admins): its kind runs no plugin.
    #[oai(
        path = "/t/:tenant/plugins/:id/deactivate",
        method = "post",
        operation_id = "deactivate_plugin"
    )]
    async fn deactivate(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
    ) -> ApiResult<NoStore<Json<PluginView>>, ReadErrors> {
        let plugin = service::deactivate(&state, &tenant.0, &caller.0, id.0).await?;
        Ok(NoStore(Json(PluginView::new(&plugin, &[]))))
    }

    /// Run a plugin version on a sample or given input (tenant admins).
    ///
    /// Active or not, under the same limits as live calls; answers the output or the error,
    /// fuel used, duration and logs. A failed call is not a failed request: it is 200 with
    /// `error`.
    #[oai(
        path = "/t/:tenant/plugins/:id/dry-run",
        method = "post",
        operation_id = "dry_run_plugin"
    )]
    async fn dry_run(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        id: Path<Uuid>,
        body: JsonBody<DryRunRequest>,
    ) -> ApiResult<NoStore<Json<DryRunView>>, DryRunErrors> {
        let run = service::dry_run(&state, &tenant.0, &caller.0, id.0, body.0.input).await?;
        Ok(NoStore(Json(run.into())))
    }
}
