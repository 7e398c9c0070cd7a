//! Tenants' plugins: uploads checked and compiled once, versions, activation (one active per
//! kind), dry runs, and the two hooks that run the active ones: pricing in quotes and
//! bookings, review rules in review creation.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    model::{self, FailurePolicy, Plugin, PluginKind, PluginStatus, RecordedFailure},
    runtime::{
        self, Call, Failure, FailureReason, Limits, PluginDecision, PluginLine, PluginNight,
        PluginProperty, PluginQuote, PluginReview, PluginSettings, Prepared, Priced, Runtime,
    },
    store,
};
use crate::{
    app::AppState,
    auth::Principal,
    authz::PluginAction,
    dates::{Stay, format_date},
    db::Timestamp,
    error::{ApiError, ErrorCode},
    ids::TenantId,
    money::Money,
    pricing::engine::{LineCode, LineItem, LineSource, NightRates},
    properties::model::{Listing, Property},
    reviews::rules::Decision,
    tenants::{Tenant, service as tenants},
};

/// The longest label a plugin may give a line, in characters.
const MAX_LABEL: usize = 200;
/// The most lines a plugin may return.
const MAX_LINES: usize = 50;

/// A plugin ready to call: its version's facts and its prepared component, or why this
/// engine could not prepare it (which fails every call, under the plugin's policy).
pub struct ActivePlugin {
    pub plugin: Plugin,
    prepared: Result<Arc<Prepared>, Failure>,
}

/// What the process keeps of plugins: prepared components by content, and each tenant's
/// active plugins by the tenant's plugins version (so a change on any replica is seen with
/// the tenant itself).
pub struct PluginHost {
    prepared: moka::sync::Cache<(String, PluginKind), Arc<Prepared>>,
    active: moka::sync::Cache<(TenantId, i64, PluginKind), Option<Arc<ActivePlugin>>>,
    fuel_by_plan: BTreeMap<String, u64>,
    default_fuel: u64,
}

impl PluginHost {
    pub fn new(default_fuel: u64, fuel_by_plan: BTreeMap<String, u64>) -> Self {
        Self {
            prepared: moka::sync::Cache::builder().max_capacity(1_000).build(),
            active: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            fuel_by_plan,
            default_fuel,
        }
    }

    /// The limits of one call for the tenant: fuel by its plan.
    pub fn limits(&self, tenant: &Tenant) -> Limits {
        Limits {
            fuel: self
                .fuel_by_plan
                .get(tenant.plan())
                .copied()
                .unwrap_or(self.default_fuel),
            ..Limits::default()
        }
    }
}

fn runtime() -> Result<Arc<Runtime>, ApiError> {
    Runtime::shared().map_err(|err| {
        tracing::error!(error = %err, "the plugin runtime could not start");
        ApiError::Unavailable("plugin runtime")
    })
}

/// An upload as the API received it.
pub struct Upload {
    pub kind: String,
    pub name: String,
    pub config: Option<String>,
    pub module: Vec<u8>,
}

/// Checks, compiles and stores a new version of a plugin (inactive).
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn upload(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    upload: Upload,
) -> Result<Plugin, ApiError> {
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, PluginAction::Create)
        .await?;
    let kind = PluginKind::parse(upload.kind.trim());
    let name = model::parse_name(&upload.name);
    let config = model::parse_config(upload.config.as_deref());
    let (kind, name, config) = match (kind, name, config) {
        (Some(kind), Ok(name), Ok(config)) => (kind, name, config),
        (kind, name, config) => {
            let mut errors = Vec::new();
            if kind.is_none() {
                errors.push(crate::error::FieldError::new(
                    "kind",
                    "must be pricing or review_rules",
                ));
            }
            for err in [name.err(), config.err()].into_iter().flatten() {
                errors.extend(err.field_errors().iter().cloned());
            }
            return Err(ApiError::Validation(errors));
        }
    };
    if upload.module.len() > runtime::MAX_MODULE_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: runtime::MAX_MODULE_BYTES,
        });
    }
    if upload.module.is_empty() {
        return Err(ApiError::validation(
            "module",
            "must be a WebAssembly component",
        ));
    }
    let sha256 = format!("{:x}", Sha256::digest(&upload.module));
    let runtime = runtime()?;
    let module = upload.module;
    let size = module.len();
    let (compiled, module) = {
        let runtime = Arc::clone(&runtime);
        tokio::task::spawn_blocking(move || {
            let compiled = runtime
                .compile(kind.world(), &module)
                .and_then(|component| {
                    let code = component.serialize().map_err(|err| {
                        runtime::Invalid(format!("the component cannot be kept: {err}"))
                    })?;
                    let prepared = runtime.prepare(kind.world(), &component).map_err(|err| {
                        runtime::Invalid(format!("the component cannot be prepared: {err}"))
                    })?;
                    Ok((code, prepared))
                });
            (compiled, module)
        })
        .await
        .map_err(ApiError::internal)?
    };
    let (code, prepared) = compiled.map_err(|invalid| ApiError::Unprocessable {
        code: ErrorCode::PluginInvalid,
        detail: format!(
            "The module cannot be a {} plugin: {invalid}.",
            kind.as_str()
        ),
    })?;
    let mut plugin = Plugin {
        tenant_id: tenant.id,
        id: Uuid::now_v7(),
        kind,
        name,
        version: 0,
        sha256,
        size: i64::try_from(size).map_err(ApiError::internal)?,
        config,
        status: PluginStatus::Inactive,
        failure_policy: None,
        created_at: Timestamp::now(),
        activated_at: None,
    };
    let mut tx = state.db.begin().await?;
    store::insert_module(&mut tx, &permit, &plugin.sha256, &module).await?;
    store::insert(&mut tx, &permit, &mut plugin).await?;
    tx.commit().await?;
    store::insert_code(
        &state.db,
        tenant.id,
        &plugin.sha256,
        &runtime.engine_tag(),
        &code,
    )
    .await?;
    state
        .plugins
        .prepared
        .insert((plugin.sha256.clone(), kind), Arc::new(prepared));
    tracing::info!(plugin = %plugin.id, name = %plugin.name, version = plugin.version, "plugin uploaded");
    Ok(plugin)
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn list(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
) -> Result<Vec<Plugin>, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, PluginAction::Read)
        .await?;
    store::list(&state.db, tenant.id).await
}

/// A plugin version and its latest failed calls.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, plugin = %id))]
pub async fn get(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: Uuid,
) -> Result<(Plugin, Vec<RecordedFailure>), ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, PluginAction::Read)
        .await?;
    let plugin = found(state, tenant, id).await?;
    let failures = store::failures(&state.db, tenant.id, id).await?;
    Ok((plugin, failures))
}

async fn found(state: &AppState, tenant: &Tenant, id: Uuid) -> Result<Plugin, ApiError> {
    store::find(&state.db, tenant.id, id)
        .await?
        .ok_or(ApiError::NotFound("plugin"))
}

/// Makes the version its kind's active plugin (the previous one becomes inactive, so a
/// rollback is activating the old version).
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, plugin = %id))]
pub async fn activate(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: Uuid,
    policy: Option<&str>,
) -> Result<Plugin, ApiError> {
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, PluginAction::Activate)
        .await?;
    let plugin = found(state, tenant, id).await?;
    let policy = match policy {
        None => plugin.kind.default_policy(),
        Some(value) => FailurePolicy::parse(value)
            .filter(|policy| policy.fits(plugin.kind))
            .ok_or_else(|| {
                ApiError::validation(
                    "failure_policy",
                    match plugin.kind {
                        PluginKind::Pricing => {
                            "must be fail_closed or fallback for a pricing plugin"
                        }
                        PluginKind::ReviewRules => {
                            "must be hold or accept for a review-rules plugin"
                        }
                    },
                )
            })?,
    };
    let mut tx = state.db.begin().await?;
    store::activate(&mut tx, &permit, &plugin, policy, Timestamp::now()).await?;
    tenants::commit_plugins_change(state, tx, tenant.id).await?;
    tracing::info!(name = %plugin.name, version = plugin.version, policy = policy.as_str(), "plugin activated");
    found(state, tenant, id).await
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, plugin = %id))]
pub async fn deactivate(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: Uuid,
) -> Result<Plugin, ApiError> {
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, PluginAction::Activate)
        .await?;
    found(state, tenant, id).await?;
    let mut tx = state.db.begin().await?;
    store::deactivate(&mut tx, &permit, id).await?;
    tenants::commit_plugins_change(state, tx, tenant.id).await?;
    found(state, tenant, id).await
}

/// Deletes a version; an active one stops running at once.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, plugin = %id))]
pub async fn delete(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: Uuid,
) -> Result<(), ApiError> {
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, PluginAction::Delete)
        .await?;
    let plugin = found(state, tenant, id).await?;
    let mut tx = state.db.begin().await?;
    store::delete(&mut tx, &permit, &plugin).await?;
    tenants::commit_plugins_change(state, tx, tenant.id).await?;
    Ok(())
}

/// What a dry run did.
pub struct DryRun {
    pub output: Option<serde_json::Value>,
    pub error: Option<Failure>,
    pub fuel_used: u64,
    pub duration: Duration,
    pub logs: Vec<String>,
}

/// The sample inputs dry runs use when given none, also those of `staybase plugin check`.
pub const SAMPLE_QUOTE: &str = include_str!("../../plugins/examples/sample-quote.json");
pub const SAMPLE_REVIEW: &str = include_str!("../../plugins/examples/sample-review.json");

/// Runs a version (active or not) on `input`, or on the sample input of its kind, with its
/// own configuration unless the given input carries one.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, plugin = %id))]
pub async fn dry_run(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: Uuid,
    input: Option<serde_json::Value>,
) -> Result<DryRun, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, PluginAction::DryRun)
        .await?;
    let plugin = found(state, tenant, id).await?;
    let prepared = match prepared(state, &plugin).await? {
        Ok(prepared) => prepared,
        Err(failure) => {
            return Ok(DryRun {
                output: None,
                error: Some(failure),
                fuel_used: 0,
                duration: Duration::ZERO,
                logs: Vec::new(),
            });
        }
    };
    let limits = state.plugins.limits(tenant);
    run_input(
        (tenant.id.0, prepared),
        plugin.kind,
        (input, Some(&plugin.config)),
        limits,
    )
    .await
}

/// Runs a prepared plugin of `owner` (the tenant whose call slots it takes) on a JSON input
/// of its world (the sample when `None`); for dry runs and `staybase plugin check`.
pub async fn run_input(
    (owner, prepared): (Uuid, Arc<Prepared>),
    kind: PluginKind,
    (input, config): (Option<serde_json::Value>, Option<&str>),
    limits: Limits,
) -> Result<DryRun, ApiError> {
    let sample = match kind {
        PluginKind::Pricing => SAMPLE_QUOTE,
        PluginKind::ReviewRules => SAMPLE_REVIEW,
    };
    let (mut input, given) = match input {
        Some(input) => (input, true),
        None => (
            serde_json::from_str(sample).map_err(ApiError::internal)?,
            false,
        ),
    };
    // The plugin's own configuration, unless the caller's input brings one.
    if let (Some(object), Some(config)) = (input.as_object_mut(), config)
        && !(given && object.contains_key("config"))
    {
        object.insert(
            "config".into(),
            serde_json::Value::String(config.to_owned()),
        );
    }
    let invalid = |err: serde_json::Error| {
        ApiError::validation(
            "input",
            format!(
                "does not fit the {} world's input: {err}",
                kind.world().wit_name()
            ),
        )
    };
    let runtime = runtime()?;
    Ok(match kind {
        PluginKind::Pricing => {
            let quote: PluginQuote = serde_json::from_value(input).map_err(invalid)?;
            let currency = quote.currency.clone();
            let call = runtime.price((owner, prepared), quote, limits).await;
            dry_run_of(call, |priced| {
                check_priced(&currency, priced)?;
                serde_json::to_value(priced)
                    .map_err(|err| Failure::new(FailureReason::InvalidOutput, err.to_string()))
            })
        }
        PluginKind::ReviewRules => {
            let review: PluginReview = serde_json::from_value(input).map_err(invalid)?;
            let call = runtime.decide((owner, prepared), review, limits).await;
            dry_run_of(call, |decision| Ok(decision_json(decision)))
        }
    })
}

fn dry_run_of<T>(
    call: Call<T>,
    output: impl FnOnce(&T) -> Result<serde_json::Value, Failure>,
) -> DryRun {
    let result = call.result.and_then(|value| output(&value));
    DryRun {
        output: result.as_ref().ok().cloned(),
        error: result.err(),
        fuel_used: call.fuel_used,
        duration: call.duration,
        logs: call.logs,
    }
}

fn decision_json(decision: &PluginDecision) -> serde_json::Value {
    match decision {
        PluginDecision::Accept => serde_json::json!({ "decision": "accept" }),
        PluginDecision::Reject(reason) => {
            serde_json::json!({ "decision": "reject", "reason": reason })
        }
        PluginDecision::Hold(reason) => serde_json::json!({ "decision": "hold", "reason": reason }),
    }
}

/// The prepared component of a version: from this process's cache, else from the code an
/// engine like this one compiled before, else compiled from the module again (and that code
/// kept, in the background: the caller may hold a transaction). A module this engine cannot
/// compile or load is a `prepare_failed` failure, not an error of the request.
async fn prepared(
    state: &AppState,
    plugin: &Plugin,
) -> Result<Result<Arc<Prepared>, Failure>, ApiError> {
    let key = (plugin.sha256.clone(), plugin.kind);
    if let Some(prepared) = state.plugins.prepared.get(&key) {
        return Ok(Ok(prepared));
    }
    let runtime = runtime()?;
    let engine = runtime.engine_tag();
    let tenant = plugin.tenant_id;
    let world = plugin.kind.world();
    let unprepared = |message: String| {
        tracing::error!(plugin = %plugin.id, error = %message, "a plugin could not be prepared");
        Failure::new(
            FailureReason::PrepareFailed,
            format!("the plugin could not be prepared on this server: {message}"),
        )
    };
    let prepared = match store::code(&state.db, tenant, &plugin.sha256, &engine).await? {
        Some(code) => {
            let runtime = Arc::clone(&runtime);
            tokio::task::spawn_blocking(move || {
                // SAFETY: `plugin_code` holds only what this engine build serialized itself
                // (rows are keyed by its tag), never bytes a tenant sent.
                let component = unsafe { runtime.load(&code) }?;
                runtime.prepare(world, &component)
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(|err| unprepared(format!("{err:#}")))
        }
        None => {
            let module = store::module(&state.db, tenant, &plugin.sha256)
                .await?
                .ok_or_else(|| ApiError::internal("a plugin's module is missing"))?;
            let runtime = Arc::clone(&runtime);
            let compiled = tokio::task::spawn_blocking(move || {
                let component = runtime
                    .compile(world, &module)
                    .map_err(|invalid| invalid.0)?;
                let code = component.serialize().map_err(|err| format!("{err:#}"))?;
                let prepared = runtime
                    .prepare(world, &component)
                    .map_err(|err| format!("{err:#}"))?;
                Ok::<_, String>((prepared, code))
            })
            .await
            .map_err(ApiError::internal)?;
            compiled.map_err(unprepared).map(|(prepared, code)| {
                keep_code(state, (tenant, &plugin.sha256), engine, code);
                prepared
            })
        }
    };
    Ok(prepared.map(|prepared| {
        let prepared = Arc::new(prepared);
        state.plugins.prepared.insert(key, Arc::clone(&prepared));
        prepared
    }))
}

/// Stores what this engine compiled, so that other replicas and restarts load it.
fn keep_code(state: &AppState, (tenant, sha256): (TenantId, &str), engine: String, code: Vec<u8>) {
    let (db, sha256) = (state.db.clone(), sha256.to_owned());
    tokio::spawn(async move {
        if let Err(err) = store::insert_code(&db, tenant, &sha256, &engine, &code).await {
            tracing::warn!(error = %err, "keeping a plugin's compiled code failed");
        }
    });
}

/// The tenant's active plugin of `kind`, if any: no query at all for a tenant that never
/// activated one, and one per tenant and plugins version otherwise.
async fn active(
    state: &AppState,
    tenant: &Tenant,
    kind: PluginKind,
) -> Result<Option<Arc<ActivePlugin>>, ApiError> {
    if tenant.plugins_version == 0 {
        return Ok(None);
    }
    let key = (tenant.id, tenant.plugins_version, kind);
    if let Some(active) = state.plugins.active.get(&key) {
        return Ok(active);
    }
    let active = match store::active(&state.db, tenant.id, kind).await? {
        Some(plugin) => {
            let prepared = prepared(state, &plugin).await?;
            Some(Arc::new(ActivePlugin { plugin, prepared }))
        }
        None => None,
    };
    state.plugins.active.insert(key, active.clone());
    Ok(active)
}

/// Looks up and prepares the tenant's active plugin of `kind` ahead of a transaction that
/// will call it, so that no compilation or lookup happens while the transaction holds locks.
pub async fn warm(state: &AppState, tenant: &Tenant, kind: PluginKind) -> Result<(), ApiError> {
    active(state, tenant, kind).await.map(drop)
}

/// Counts a live call of `plugin` in the metrics, and records its failure where the tenant
/// sees it; answers its result.
fn observed<T>(
    state: &AppState,
    tenant: &Tenant,
    plugin: &Plugin,
    (fuel_used, duration): (u64, Duration),
    result: Result<T, Failure>,
) -> Result<T, Failure> {
    state.metrics.record_plugin_call(
        tenant.slug.as_str(),
        &plugin.name,
        result.as_ref().err().map(|failure| failure.reason.as_str()),
        (fuel_used, duration),
    );
    if let Err(failure) = &result {
        record_failure(state, tenant, plugin, failure);
    }
    result
}

/// Records a failed call where the tenant sees it, without holding up the request.
fn record_failure(state: &AppState, tenant: &Tenant, plugin: &Plugin, failure: &Failure) {
    tracing::warn!(
        plugin = %plugin.id,
        name = %plugin.name,
        reason = failure.reason.as_str(),
        message = %failure.message,
        "plugin call failed"
    );
    let (state, tenant, id, failure) = (state.clone(), tenant.id, plugin.id, failure.clone());
    tokio::spawn(async move {
        let recorded = store::record_failure(
            &state.db,
            tenant,
            id,
            (failure.reason.as_str(), &failure.message),
            Timestamp::now(),
        )
        .await;
        if let Err(err) = recorded {
            tracing::warn!(error = %err, plugin = %id, "recording a plugin failure failed");
        }
    });
}

/// The call a plugin that could not be prepared makes: its failure.
fn unprepared_call<T>(failure: &Failure) -> Call<T> {
    Call {
        result: Err(failure.clone()),
        fuel_used: 0,
        duration: Duration::ZERO,
        logs: Vec::new(),
    }
}

/// What the pricing hook knows of a stay.
pub struct PricingInput<'a> {
    pub property: &'a Property,
    pub stay: Stay,
    pub guests: u32,
    pub rates: &'a NightRates,
    pub nights: u32,
    pub lines: Vec<LineItem>,
}

/// The stay's lines as the tenant's active pricing plugin adjusts them; the base lines when
/// there is none, or when it failed under the `fallback` policy.
pub async fn adjust_price(
    state: &AppState,
    tenant: &Tenant,
    input: PricingInput<'_>,
) -> Result<Vec<LineItem>, ApiError> {
    let Some(active) = active(state, tenant, PluginKind::Pricing).await? else {
        return Ok(input.lines);
    };
    let plugin = &active.plugin;
    let currency = input.property.currency.clone();
    let call = match &active.prepared {
        Ok(prepared) => {
            let quote = plugin_quote(tenant, &input, &plugin.config);
            runtime()?
                .price(
                    (tenant.id.0, Arc::clone(prepared)),
                    quote,
                    state.plugins.limits(tenant),
                )
                .await
        }
        Err(failure) => unprepared_call(failure),
    };
    let result = call
        .result
        .and_then(|priced| check_priced(&currency, &priced).map(|()| priced));
    match observed(
        state,
        tenant,
        plugin,
        (call.fuel_used, call.duration),
        result,
    ) {
        Ok(priced) => Ok(adjusted_lines(&currency, &input.lines, priced)),
        Err(failure) => match plugin.failure_policy {
            Some(FailurePolicy::Fallback) => Ok(input.lines),
            _ => Err(ApiError::PluginFailed {
                reason: failure.reason.as_str(),
                detail: format!(
                    "The marketplace's pricing plugin failed, so no price can be given: {}",
                    failure.message
                ),
            }),
        },
    }
}

fn plugin_quote(tenant: &Tenant, input: &PricingInput<'_>, config: &str) -> PluginQuote {
    let listing: &Listing = &input.property.listing;
    let rules = listing.rules.in_force(&tenant.settings, tenant.now());
    let mut nights = Vec::with_capacity(input.nights as usize);
    let mut night = input.stay.check_in;
    while night < input.stay.check_out {
        let (code, price) = input.rates.price_of(listing, night);
        nights.push(PluginNight {
            date: format_date(night),
            weekday: night.weekday().to_string().to_lowercase(),
            price,
            source: code.as_str().to_owned(),
        });
        match night.next_day() {
            Some(next) => night = next,
            None => break,
        }
    }
    PluginQuote {
        tenant: tenant.slug.as_str().to_owned(),
        currency: input.property.currency.clone(),
        today: format_date(rules.today()),
        property: PluginProperty {
            id: input.property.id.0.to_string(),
            name: listing.name.clone(),
            city: listing.location.city.clone(),
            country: listing.location.country.clone(),
            max_guests: listing.max_guests,
            bedrooms: listing.bedrooms,
            amenities: listing.amenities.clone(),
            nightly_price: listing.nightly_price,
            weekend_price: listing.weekend_price,
            cleaning_fee: listing.cleaning_fee,
            timezone: listing
                .rules
                .timezone
                .clone()
                .unwrap_or_else(|| tenant.settings.timezone.clone()),
        },
        check_in: format_date(input.stay.check_in),
        check_out: format_date(input.stay.check_out),
        guests: input.guests,
        nights,
        lines: input
            .lines
            .iter()
            .map(|line| PluginLine {
                code: line.code.as_str().to_owned(),
                label: line.label.clone(),
                amount: line.amount.amount,
            })
            .collect(),
        settings: PluginSettings {
            platform_fee_bps: tenant.settings.platform_fee_bps,
            tax_bps: tenant.settings.tax_bps,
        },
        config: config.to_owned(),
    }
}

/// Checks a plugin's lines against the contract: the quote's currency, stay codes only, at
/// most 50 lines with labels of 1 to 200 characters, sums that fit, and no negative total.
fn check_priced(currency: &str, priced: &Priced) -> Result<(), Failure> {
    let invalid = |message: String| Err(Failure::new(FailureReason::InvalidOutput, message));
    if priced.currency != currency {
        return invalid(format!(
            "the output's currency is {:?}, not the quote's {currency}",
            priced.currency
        ));
    }
    if priced.lines.is_empty() || priced.lines.len() > MAX_LINES {
        return invalid(format!("the output must have 1 to {MAX_LINES} lines"));
    }
    let mut total: i64 = 0;
    for (index, line) in priced.lines.iter().enumerate() {
        if LineCode::parse_stay(&line.code).is_none() {
            return invalid(format!(
                "line {index} has the code {:?}, which is not a stay line's (the service fee \
                 and taxes are added after the plugin)",
                line.code
            ));
        }
        let label = line.label.trim();
        if label.is_empty()
            || label.chars().count() > MAX_LABEL
            || label.chars().any(char::is_control)
        {
            return invalid(format!(
                "line {index} needs a label of 1 to {MAX_LABEL} characters without control characters"
            ));
        }
        if line.amount.unsigned_abs() > Listing::MAX_AMOUNT as u64 * 1_000 {
            return invalid(format!("line {index}'s amount is out of range"));
        }
        // Discounts take off, every other line adds.
        let discount = line.code.ends_with("discount");
        if (discount && line.amount > 0) || (!discount && line.amount < 0) {
            return invalid(format!(
                "line {index} ({}) must be {}",
                line.code,
                if discount {
                    "negative or zero"
                } else {
                    "positive or zero"
                }
            ));
        }
        total = match total.checked_add(line.amount) {
            Some(total) => total,
            None => return invalid("the lines' sum overflows".into()),
        };
    }
    if total <= 0 {
        return invalid(format!(
            "the lines sum to {total}: a stay's price must be positive, never free or negative"
        ));
    }
    Ok(())
}

/// The plugin's lines as line items: a line equal to a base line keeps it (and its source);
/// any other is the plugin's.
fn adjusted_lines(currency: &str, base: &[LineItem], priced: Priced) -> Vec<LineItem> {
    let mut unused: Vec<&LineItem> = base.iter().collect();
    priced
        .lines
        .into_iter()
        .filter_map(|line| {
            let code = LineCode::parse_stay(&line.code)?;
            let label = line.label.trim().to_owned();
            let same = unused.iter().position(|base| {
                base.code == code && base.label == label && base.amount.amount == line.amount
            });
            let source = match same {
                Some(index) => {
                    unused.remove(index);
                    LineSource::Base
                }
                None => LineSource::Plugin,
            };
            Some(LineItem {
                code,
                label,
                amount: Money::new(line.amount, currency),
                source,
            })
        })
        .collect()
}

/// What the review hook knows of a review.
pub struct ReviewInput<'a> {
    pub subject: &'static str,
    pub rating: u8,
    pub comment: &'a str,
    pub edit: bool,
    pub author: Uuid,
    pub property: Uuid,
    pub booking: Uuid,
    pub nights: u32,
}

/// The tenant's review-rules plugin's decision; `None` when there is none to ask.
pub async fn decide_review(
    state: &AppState,
    tenant: &Tenant,
    input: ReviewInput<'_>,
) -> Result<Option<Decision>, ApiError> {
    let Some(active) = active(state, tenant, PluginKind::ReviewRules).await? else {
        return Ok(None);
    };
    let plugin = &active.plugin;
    let review = PluginReview {
        tenant: tenant.slug.as_str().to_owned(),
        subject: input.subject.to_owned(),
        rating: input.rating,
        comment: input.comment.to_owned(),
        edit: input.edit,
        author_id: input.author.to_string(),
        property_id: input.property.to_string(),
        booking_id: input.booking.to_string(),
        nights: input.nights,
        today: format_date(tenant.today()),
        config: plugin.config.clone(),
    };
    let call = match &active.prepared {
        Ok(prepared) => {
            runtime()?
                .decide(
                    (tenant.id.0, Arc::clone(prepared)),
                    review,
                    state.plugins.limits(tenant),
                )
                .await
        }
        Err(failure) => unprepared_call(failure),
    };
    let result = call.result.and_then(checked_decision);
    Ok(Some(
        match observed(
            state,
            tenant,
            plugin,
            (call.fuel_used, call.duration),
            result,
        ) {
            Ok(decision) => decision,
            Err(failure) => match plugin.failure_policy {
                Some(FailurePolicy::Accept) => Decision::Accept,
                _ => Decision::Hold(format!(
                    "The review rules could not decide ({}); a moderator will.",
                    failure.reason.as_str()
                )),
            },
        },
    ))
}

/// A decision with a usable reason: 1 to 500 characters.
fn checked_decision(decision: PluginDecision) -> Result<Decision, Failure> {
    let reason = |reason: String| {
        let reason = reason.trim().to_owned();
        if reason.is_empty() || reason.chars().count() > crate::reviews::model::MAX_REASON {
            Err(Failure::new(
                FailureReason::InvalidOutput,
                "a rejection or hold needs a reason of 1 to 500 characters",
            ))
        } else {
            Ok(reason)
        }
    };
    Ok(match decision {
        PluginDecision::Accept => Decision::Accept,
        PluginDecision::Reject(text) => Decision::Reject(reason(text)?),
        PluginDecision::Hold(text) => Decision::Hold(reason(text)?),
    })
}

/// The prepared component of a module checked outside any tenant, for `plugin check`.
pub fn prepare_local(kind: PluginKind, module: &[u8]) -> Result<Arc<Prepared>, String> {
    let runtime = Runtime::shared()?;
    let component = runtime
        .compile(kind.world(), module)
        .map_err(|invalid| invalid.0)?;
    runtime
        .prepare(kind.world(), &component)
        .map(Arc::new)
        .map_err(|err| format!("{err:#}"))
}
