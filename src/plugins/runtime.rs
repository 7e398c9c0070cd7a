//! The sandbox tenants' plugins run in: WebAssembly components on one process-wide wasmtime
//! engine, with the pooling allocator. A component is compiled once (the caller caches the
//! compiled code by content hash and engine) and checked against its world; every call gets a
//! fresh instance in a fresh store, so nothing is shared between calls or tenants, under
//! fuel, a memory cap and a wall-clock deadline by epoch interruption. Calls run on the
//! caller's async task, on a fiber that yields to the executor every `YIELD_FUEL` units of
//! fuel: no worker is held for long, and short calls pay no hand-off to another thread.
//!
//! Plugins get no capability: besides the `staybase:plugin/host` log, only a WASI subset that
//! language runtimes need to start (an empty environment, closed stdin, stdout and stderr into
//! the call's log, a wall clock frozen at the epoch, deterministic random bytes). Files,
//! sockets, HTTP and the monotonic clock (whose timers would block a host thread) are not
//! linked, so a component importing them fails its check at upload.

use std::{
    collections::BTreeSet,
    sync::{Arc, LazyLock},
    time::{Duration, Instant},
};

use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
    Trap,
    component::{Component, HasData, Linker, ResourceTable},
};
use wasmtime_wasi::{
    HostWallClock, WasiCtx, WasiCtxView, WasiView,
    cli::WasiCli,
    clocks::WasiClocks,
    p2::{
        bindings::{cli, clocks, random},
        pipe::MemoryOutputPipe,
    },
    random::WasiRandom,
};

/// The bindings of the `pricing` world.
pub mod pricing_world {
    wasmtime::component::bindgen!({
        path: "plugins/wit",
        world: "pricing",
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize],
    });
}

/// The bindings of the `review-rules` world, sharing the host interface of the other.
pub mod review_world {
    wasmtime::component::bindgen!({
        path: "plugins/wit",
        world: "review-rules",
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize],
        with: {
            "staybase:plugin/host": super::pricing_world::staybase::plugin::host,
        },
    });
}

pub use pricing_world::staybase::plugin::pricing_types::{
    LineItem as PluginLine, Night as PluginNight, Priced, Property as PluginProperty,
    Quote as PluginQuote, Settings as PluginSettings,
};
pub use review_world::staybase::plugin::review_types::{
    Decision as PluginDecision, Review as PluginReview,
};

/// The two kinds of plugin, by the world they implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
    Pricing,
    ReviewRules,
}

impl World {
    pub fn wit_name(self) -> &'static str {
        match self {
            Self::Pricing => "pricing",
            Self::ReviewRules => "review-rules",
        }
    }

    /// The one function the world exports.
    fn export(self) -> &'static str {
        match self {
            Self::Pricing => "price",
            Self::ReviewRules => "decide",
        }
    }
}

/// Limits of one call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub fuel: u64,
    pub memory_bytes: usize,
    pub deadline: Duration,
    pub input_bytes: usize,
    pub output_bytes: usize,
}

/// The largest module a tenant may upload.
pub const MAX_MODULE_BYTES: usize = 4 * 1024 * 1024;
/// Fuel per call unless the tenant's plan says otherwise.
pub const DEFAULT_FUEL: u64 = 10_000_000;
/// Linear memory per call.
pub const MEMORY_BYTES: usize = 32 * 1024 * 1024;
/// Wall-clock time per call.
pub const DEADLINE: Duration = Duration::from_millis(20);
pub const MAX_INPUT_BYTES: usize = 128 * 1024;
pub const MAX_OUTPUT_BYTES: usize = 20 * 1024;
/// Log lines a call keeps, and the bytes of each.
pub const MAX_LOG_LINES: usize = 50;
pub const MAX_LOG_LINE_BYTES: usize = 1000;
/// How often the epoch advances: the deadline's granularity.
const EPOCH_TICK: Duration = Duration::from_millis(1);
/// Calls that may run at once in this process; each holds a pooled instance slot.
pub const MAX_CONCURRENT_CALLS: u32 = 64;
/// Calls of one tenant that may run at once: one tenant's plugins cannot take every core.
fn calls_per_tenant() -> usize {
    std::thread::available_parallelism().map_or(2, |cores| cores.get().max(2))
}
/// Bytes a call's result (and each log line) may copy from the plugin's memory into the
/// host's, checked by wasmtime while it lifts them, before anything is allocated past it.
const HOSTCALL_BYTES: usize = 4 * MAX_OUTPUT_BYTES;
/// Bytes of each linear memory cleared in place rather than unmapped between calls: all of a
/// small guest's (the examples, built with a 64 KiB stack, use about 200 kB).
const KEEP_RESIDENT: usize = 512 * 1024;
/// Fuel between two yields of a call to the async executor: a few tens of microseconds.
const YIELD_FUEL: u64 = 200_000;
/// Resources (streams, pollables) a call may hold in the host.
const MAX_RESOURCES: usize = 256;

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: DEFAULT_FUEL,
            memory_bytes: MEMORY_BYTES,
            deadline: DEADLINE,
            input_bytes: MAX_INPUT_BYTES,
            output_bytes: MAX_OUTPUT_BYTES,
        }
    }
}

/// Why a call produced no usable output: the `reason` of `plugin_failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// The call used all its fuel.
    FuelExhausted,
    /// The call ran past its wall-clock deadline.
    Timeout,
    /// The call asked for more memory than it may have.
    MemoryLimit,
    /// The call's stack overflowed (unbounded recursion).
    StackOverflow,
    /// The call trapped: a panic, `unreachable`, an out-of-bounds access.
    Trap,
    /// The input was larger than a call may receive.
    InputTooLarge,
    /// The output was larger than a call may return.
    OutputTooLarge,
    /// The output broke the contract (currency, codes, amounts).
    InvalidOutput,
    /// The plugin returned an error of its own.
    PluginError,
    /// The stored plugin could not be compiled or loaded by this engine.
    PrepareFailed,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FuelExhausted => "fuel_exhausted",
            Self::Timeout => "timeout",
            Self::MemoryLimit => "memory_limit",
            Self::StackOverflow => "stack_overflow",
            Self::Trap => "trap",
            Self::InputTooLarge => "input_too_large",
            Self::OutputTooLarge => "output_too_large",
            Self::InvalidOutput => "invalid_output",
            Self::PluginError => "plugin_error",
            Self::PrepareFailed => "prepare_failed",
        }
    }
}

/// A failed call: why, and what to tell the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: FailureReason,
    pub message: String,
}

impl Failure {
    pub fn new(reason: FailureReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// What one call did, whatever its result.
#[derive(Debug)]
pub struct Call<T> {
    pub result: Result<T, Failure>,
    pub fuel_used: u64,
    pub duration: Duration,
    pub logs: Vec<String>,
}

/// Why a component cannot be a plugin of its kind: the `plugin_invalid` message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// The engine, its linkers and its epoch ticker, once per process: the pooling allocator
/// reserves its slots once, and compiled code is valid for every tenant.
pub struct Runtime {
    engine: Engine,
    pricing: Linker<CallState>,
    review_rules: Linker<CallState>,
    /// Bounds the calls running at once to the pool's slots.
    slots: Arc<tokio::sync::Semaphore>,
    /// Bounds each tenant's calls running at once.
    tenant_slots: moka::sync::Cache<uuid::Uuid, Arc<tokio::sync::Semaphore>>,
    /// One compilation at a time: Cranelift would take every core for a large module.
    compiling: std::sync::Mutex<()>,
}

static RUNTIME: LazyLock<Result<Arc<Runtime>, String>> = LazyLock::new(|| {
    Runtime::new()
        .map(Arc::new)
        .map_err(|err| format!("{err:#}"))
});

impl Runtime {
    /// The process's runtime, created on first use.
    pub fn shared() -> Result<Arc<Self>, String> {
        RUNTIME.clone()
    }

    fn new() -> wasmtime::Result<Self> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(MAX_CONCURRENT_CALLS)
            .total_core_instances(MAX_CONCURRENT_CALLS * 32)
            .total_memories(MAX_CONCURRENT_CALLS * 4)
            .total_tables(MAX_CONCURRENT_CALLS * 8)
            .max_core_instances_per_component(32)
            // JavaScript runtimes bring a few memories of their own.
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            .max_memory_size(MEMORY_BYTES)
            .max_component_instance_size(1 << 20)
            .max_core_instance_size(1 << 20)
            .max_unused_warm_slots(MAX_CONCURRENT_CALLS / 4)
            // A fiber stack per call in flight.
            .total_stacks(MAX_CONCURRENT_CALLS)
            // Small memories and tables are cleared in place between calls: unmapping them
            // costs page faults on the next call and TLB shootdowns on every core.
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(64 * 1024);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .max_wasm_stack(512 * 1024)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        let mut pricing = Linker::new(&engine);
        link_capability_free_wasi(&mut pricing)?;
        pricing_world::Pricing::add_to_linker::<_, HasSelf>(&mut pricing, |state| state)?;
        let mut review_rules = Linker::new(&engine);
        link_capability_free_wasi(&mut review_rules)?;
        review_world::ReviewRules::add_to_linker::<_, HasSelf>(&mut review_rules, |state| state)?;
        Ok(Self {
            engine,
            pricing,
            review_rules,
            slots: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_CALLS as usize)),
            tenant_slots: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            compiling: std::sync::Mutex::new(()),
        })
    }

    /// Identifies this engine's compiled code: code compiled by another build or
    /// configuration is recompiled rather than loaded.
    pub fn engine_tag(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        format!(
            "wasmtime-{}-{:016x}",
            env!("CARGO_PKG_VERSION"),
            hasher.finish()
        )
    }

    /// Compiles and checks a module: a component implementing `world` and importing nothing
    /// else. Slow (milliseconds to seconds): run it off the async workers.
    pub fn compile(&self, world: World, bytes: &[u8]) -> Result<Component, Invalid> {
        if bytes.len() > MAX_MODULE_BYTES {
            return Err(Invalid(format!(
                "the module is {} bytes; the most is {MAX_MODULE_BYTES}",
                bytes.len()
            )));
        }
        if !is_component(bytes) {
            return Err(Invalid(
                "the module is not a WebAssembly component: build it for wasm32-wasip2 \
                 (or run `wasm-tools component new` on a core module)"
                    .into(),
            ));
        }
        let component = {
            let _one_at_a_time = self
                .compiling
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Component::new(&self.engine, bytes)
                .map_err(|err| Invalid(format!("the component does not compile: {err}")))?
        };
        self.check(world, &component)?;
        Ok(component)
    }

    /// Loads code this engine compiled before.
    ///
    /// # Safety
    /// `code` must come from `Component::serialize` of this engine's build, as stored by
    /// Staybase itself (never from a tenant).
    pub unsafe fn load(&self, code: &[u8]) -> wasmtime::Result<Component> {
        // SAFETY: the caller vouches that the bytes are this engine's own serialized code.
        unsafe { Component::deserialize(&self.engine, code) }
    }

    /// Refuses a component whose imports are not all linked or whose export is not the
    /// world's.
    fn check(&self, world: World, component: &Component) -> Result<(), Invalid> {
        let linker = self.linker(world);
        let kind = component.component_type();
        let exports: BTreeSet<String> = kind
            .exports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        if !exports.contains(world.export()) {
            return Err(Invalid(format!(
                "the component does not implement the `{}` world of staybase:plugin@0.1.0: \
                 it exports no `{}` function (it exports: {})",
                world.wit_name(),
                world.export(),
                listed(&exports)
            )));
        }
        let refused: Vec<String> = kind
            .imports(&self.engine)
            .filter(|(name, _)| !allowed_import(name))
            .map(|(name, _)| name.to_owned())
            .collect();
        if !refused.is_empty() {
            return Err(Invalid(format!(
                "the component imports {}, which plugins may not use: they get no files, \
                 network, HTTP or clock beyond their input",
                refused.join(", ")
            )));
        }
        let pre = linker.instantiate_pre(component).map_err(|err| {
            Invalid(format!(
                "the component does not fit the `{}` world: {err}",
                world.wit_name()
            ))
        })?;
        let typed = match world {
            World::Pricing => pricing_world::PricingPre::new(pre).map(|_| ()),
            World::ReviewRules => review_world::ReviewRulesPre::new(pre).map(|_| ()),
        };
        typed.map_err(|err| {
            Invalid(format!(
                "the component's exports do not match the `{}` world: {err}",
                world.wit_name()
            ))
        })
    }

    fn linker(&self, world: World) -> &Linker<CallState> {
        match world {
            World::Pricing => &self.pricing,
            World::ReviewRules => &self.review_rules,
        }
    }

    /// Prepares a checked component for calls.
    pub fn prepare(&self, world: World, component: &Component) -> wasmtime::Result<Prepared> {
        let pre = self.linker(world).instantiate_pre(component)?;
        Ok(match world {
            World::Pricing => Prepared::Pricing(pricing_world::PricingPre::new(pre)?),
            World::ReviewRules => Prepared::ReviewRules(review_world::ReviewRulesPre::new(pre)?),
        })
    }

    /// Runs a pricing plugin on the caller's task: the call yields to the executor every
    /// `YIELD_FUEL` units, so it never holds an async worker for long.
    pub async fn price(
        &self,
        (tenant, prepared): (uuid::Uuid, Arc<Prepared>),
        quote: PluginQuote,
        limits: Limits,
    ) -> Call<Priced> {
        let Prepared::Pricing(pre) = prepared.as_ref() else {
            return wrong_world();
        };
        let call = self
            .call(tenant, limits, &quote, async |store| {
                let bindings = pre.instantiate_async(&mut *store).await?;
                bindings.call_price(&mut *store, &quote).await
            })
            .await;
        call.and_then_output(|result| match result {
            Ok(priced) => Ok(priced),
            Err(message) => Err(Failure::new(FailureReason::PluginError, bounded(message))),
        })
        .checked_size(limits.output_bytes, |priced| {
            priced.currency.len()
                + priced
                    .lines
                    .iter()
                    .map(|line| line.code.len() + line.label.len() + 8)
                    .sum::<usize>()
        })
    }

    /// Runs a review-rules plugin on the caller's task, as `price` does.
    pub async fn decide(
        &self,
        (tenant, prepared): (uuid::Uuid, Arc<Prepared>),
        review: PluginReview,
        limits: Limits,
    ) -> Call<PluginDecision> {
        let Prepared::ReviewRules(pre) = prepared.as_ref() else {
            return wrong_world();
        };
        let call = self
            .call(tenant, limits, &review, async |store| {
                let bindings = pre.instantiate_async(&mut *store).await?;
                bindings.call_decide(&mut *store, &review).await
            })
            .await;
        call.and_then_output(Ok)
            .checked_size(limits.output_bytes, |decision| match decision {
                PluginDecision::Accept => 0,
                PluginDecision::Reject(reason) | PluginDecision::Hold(reason) => reason.len(),
            })
    }

    fn store(&self, limits: Limits) -> Store<CallState> {
        let mut store = Store::new(&self.engine, CallState::new(limits.memory_bytes));
        store.limiter(|state| &mut state.limiter);
        store.set_hostcall_fuel(HOSTCALL_BYTES);
        store
            .set_fuel(limits.fuel)
            .expect("fuel is enabled in the engine's configuration");
        store
            .fuel_async_yield_interval(Some(YIELD_FUEL))
            .expect("fuel is enabled and the interval is not zero");
        let ticks = limits.deadline.as_millis().div_ceil(EPOCH_TICK.as_millis()) as u64;
        store.set_epoch_deadline(ticks.max(1));
        store.epoch_deadline_trap();
        store
    }

    /// Runs `body` in a fresh store under `limits`, after checking the input's size, once a
    /// call slot of the process and one of `tenant` are free (waiting counts against the
    /// deadline: a saturated host answers `timeout` rather than queueing without bound).
    async fn call<I: serde::Serialize, T>(
        &self,
        tenant: uuid::Uuid,
        limits: Limits,
        input: &I,
        body: impl AsyncFnOnce(&mut Store<CallState>) -> wasmtime::Result<T>,
    ) -> Call<T> {
        let started = Instant::now();
        let refused = |reason, message: String| Call {
            result: Err(Failure::new(reason, message)),
            fuel_used: 0,
            duration: started.elapsed(),
            logs: Vec::new(),
        };
        let input_bytes = serde_json::to_vec(input).map_or(usize::MAX, |json| json.len());
        if input_bytes > limits.input_bytes {
            return refused(
                FailureReason::InputTooLarge,
                format!(
                    "the input is {input_bytes} bytes of JSON; a call takes at most {}",
                    limits.input_bytes
                ),
            );
        }
        let tenant_slots = self.tenant_slots.get_with(tenant, || {
            Arc::new(tokio::sync::Semaphore::new(calls_per_tenant()))
        });
        let slots = async {
            let own = tenant_slots.acquire().await?;
            let shared = self.slots.acquire().await?;
            Ok::<_, tokio::sync::AcquireError>((own, shared))
        };
        let Ok(Ok(_permits)) = tokio::time::timeout(limits.deadline, slots).await else {
            return refused(
                FailureReason::Timeout,
                "every plugin slot was busy until the deadline".into(),
            );
        };
        let mut store = self.store(limits);
        let outcome = body(&mut store).await;
        let fuel_used = limits.fuel - store.get_fuel().unwrap_or(0);
        let duration = started.elapsed();
        let state = store.into_data();
        let result = outcome.map_err(|err| state.failure(&err, limits));
        Call {
            result,
            fuel_used,
            duration,
            logs: state.into_logs(),
        }
    }
}

fn wrong_world<T>() -> Call<T> {
    Call {
        result: Err(Failure::new(
            FailureReason::Trap,
            "the plugin implements another world",
        )),
        fuel_used: 0,
        duration: Duration::ZERO,
        logs: Vec::new(),
    }
}

impl<T> Call<T> {
    fn and_then_output<U>(self, check: impl FnOnce(T) -> Result<U, Failure>) -> Call<U> {
        Call {
            result: self.result.and_then(check),
            fuel_used: self.fuel_used,
            duration: self.duration,
            logs: self.logs,
        }
    }

    fn checked_size(mut self, most: usize, size: impl FnOnce(&T) -> usize) -> Self {
        if let Ok(output) = &self.result {
            let bytes = size(output);
            if bytes > most {
                self.result = Err(Failure::new(
                    FailureReason::OutputTooLarge,
                    format!("the output is about {bytes} bytes; a call returns at most {most}"),
                ));
            }
        }
        self
    }
}

/// A checked component, ready to instantiate once per call.
pub enum Prepared {
    Pricing(pricing_world::PricingPre<CallState>),
    ReviewRules(review_world::ReviewRulesPre<CallState>),
}

/// What a call's store holds: its capability-free WASI context, its limiter and its log.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: CallLimiter,
    logs: Vec<String>,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

/// Bytes of stdout and stderr a call keeps for its log.
const STDIO_BYTES: usize = 4096;

impl CallState {
    fn new(memory_bytes: usize) -> Self {
        let stdout = MemoryOutputPipe::new(STDIO_BYTES);
        let stderr = MemoryOutputPipe::new(STDIO_BYTES);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(FrozenClock)
            .secure_random(wasmtime_wasi::Deterministic::new(vec![7, 11, 13, 17]))
            .insecure_random(wasmtime_wasi::Deterministic::new(vec![19, 23, 29, 31]))
            .insecure_random_seed(0)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        Self {
            wasi,
            table,
            limiter: CallLimiter {
                memory_bytes,
                used_bytes: 0,
                refused: false,
            },
            logs: Vec::new(),
            stdout,
            stderr,
        }
    }

    fn push_log(&mut self, line: &str) {
        if self.logs.len() < MAX_LOG_LINES {
            self.logs.push(cut(line, MAX_LOG_LINE_BYTES).to_owned());
        }
    }

    /// The log, then what the plugin printed.
    fn into_logs(mut self) -> Vec<String> {
        for (stream, pipe) in [
            ("stdout", self.stdout.clone()),
            ("stderr", self.stderr.clone()),
        ] {
            let printed = pipe.contents();
            for line in String::from_utf8_lossy(&printed).lines() {
                if !line.trim().is_empty() {
                    self.push_log(&format!("{stream}: {line}"));
                }
            }
        }
        self.logs
    }

    /// Names why a call failed, from its trap and what the limiter saw.
    fn failure(&self, err: &wasmtime::Error, limits: Limits) -> Failure {
        if self.limiter.refused {
            return Failure::new(
                FailureReason::MemoryLimit,
                format!(
                    "the plugin asked for more than {} MiB of memory",
                    limits.memory_bytes / (1024 * 1024)
                ),
            );
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => Failure::new(
                FailureReason::FuelExhausted,
                format!("the plugin used all its fuel ({} units)", limits.fuel),
            ),
            Some(Trap::Interrupt) => Failure::new(
                FailureReason::Timeout,
                format!(
                    "the plugin ran past its deadline of {} ms",
                    limits.deadline.as_millis()
                ),
            ),
            Some(Trap::StackOverflow) => Failure::new(
                FailureReason::StackOverflow,
                "the plugin overflowed its stack",
            ),
            Some(trap) => Failure::new(FailureReason::Trap, format!("the plugin trapped: {trap}")),
            // wasmtime's own words when a result or a log line copies more than
            // `HOSTCALL_BYTES` out of the plugin; the tests hold it to them.
            None if err
                .chain()
                .any(|cause| cause.to_string().contains("fuel allocated for hostcalls")) =>
            {
                Failure::new(
                    FailureReason::OutputTooLarge,
                    format!(
                        "the plugin passed the host more than {HOSTCALL_BYTES} bytes in one \
                         result or log line"
                    ),
                )
            }
            None => Failure::new(
                FailureReason::Trap,
                bounded(format!("the plugin failed: {}", err.root_cause())),
            ),
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl pricing_world::staybase::plugin::host::Host for CallState {
    fn log(&mut self, message: String) {
        self.push_log(&message);
    }
}

// The types interfaces have no functions to provide.
impl pricing_world::staybase::plugin::pricing_types::Host for CallState {}
impl review_world::staybase::plugin::review_types::Host for CallState {}

/// Caps a call's linear memories, all of them together, and remembers refusing, to name the
/// failure.
struct CallLimiter {
    memory_bytes: usize,
    /// The bytes of every memory of the call so far (memories only grow).
    used_bytes: usize,
    refused: bool,
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let used = self
            .used_bytes
            .saturating_add(desired.saturating_sub(current));
        if used > self.memory_bytes {
            self.refused = true;
            return Ok(false);
        }
        self.used_bytes = used;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// A wall clock stopped at the epoch: plugins learn the date from their input.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// Store data that is its own host implementation.
struct HasSelf;

impl HasData for HasSelf {
    type Data<'a> = &'a mut CallState;
}

/// The `&mut ResourceTable` view the WASI I/O bindings take.
struct HasIo;

impl HasData for HasIo {
    type Data<'a> = &'a mut ResourceTable;
}

/// Links the WASI interfaces a language runtime needs to start, none of which reaches
/// outside the call.
fn link_capability_free_wasi(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<_, HasIo>(linker, |state| {
        &mut state.table
    })?;
    wasmtime_wasi_io::bindings::wasi::io::poll::add_to_linker::<_, HasIo>(linker, |state| {
        &mut state.table
    })?;
    wasmtime_wasi_io::bindings::wasi::io::streams::add_to_linker::<_, HasIo>(linker, |state| {
        &mut state.table
    })?;
    clocks::wall_clock::add_to_linker::<_, WasiClocks>(linker, |state| {
        wasmtime_wasi::clocks::WasiClocksView::clocks(state)
    })?;
    random::random::add_to_linker::<_, WasiRandom>(linker, |state| state.wasi.random())?;
    random::insecure::add_to_linker::<_, WasiRandom>(linker, |state| state.wasi.random())?;
    random::insecure_seed::add_to_linker::<_, WasiRandom>(linker, |state| state.wasi.random())?;
    cli::exit::add_to_linker::<_, WasiCli>(linker, cli_view)?;
    cli::environment::add_to_linker::<_, WasiCli>(linker, cli_view)?;
    cli::stdin::add_to_linker::<_, WasiCli>(linker, cli_view)?;
    cli::stdout::add_to_linker::<_, WasiCli>(linker, cli_view)?;
    cli::stderr::add_to_linker::<_, WasiCli>(linker, cli_view)?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(linker, cli_view)?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(linker, cli_view)?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(linker, cli_view)?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(linker, cli_view)?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(linker, cli_view)?;
    Ok(())
}

fn cli_view(state: &mut CallState) -> wasmtime_wasi::cli::WasiCliCtxView<'_> {
    wasmtime_wasi::cli::WasiCliView::cli(state)
}

/// The interfaces a plugin may import, by name without version.
fn allowed_import(name: &str) -> bool {
    let interface = name.split('@').next().unwrap_or(name);
    matches!(
        interface,
        "staybase:plugin/host"
            | "staybase:plugin/pricing-types"
            | "staybase:plugin/review-types"
            | "wasi:io/error"
            | "wasi:io/poll"
            | "wasi:io/streams"
            | "wasi:clocks/wall-clock"
            | "wasi:random/random"
            | "wasi:random/insecure"
            | "wasi:random/insecure-seed"
            | "wasi:cli/exit"
            | "wasi:cli/environment"
            | "wasi:cli/stdin"
            | "wasi:cli/stdout"
            | "wasi:cli/stderr"
            | "wasi:cli/terminal-input"
            | "wasi:cli/terminal-output"
            | "wasi:cli/terminal-stdin"
            | "wasi:cli/terminal-stdout"
            | "wasi:cli/terminal-stderr"
    )
}

/// Whether `bytes` start like a component (a core module has layer 0, a component layer 1).
fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

fn listed(names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        "nothing".into()
    } else {
        names.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// `text` cut to at most `most` bytes on a character boundary.
fn cut(text: &str, most: usize) -> &str {
    if text.len() <= most {
        return text;
    }
    let mut end = most;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A message from a plugin, bounded for storage and answers.
fn bounded(message: impl AsRef<str>) -> String {
    cut(message.as_ref(), 500).to_owned()
}
