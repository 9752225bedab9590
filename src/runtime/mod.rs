//! The public API: modules, kernels, launches, backend selection.
//!
//! A [`Module`] is a checked source file; [`Module::kernel`] finds a
//! [`Kernel`] by name; [`Kernel::launch_on`] checks the arguments against the
//! kernel's parameters (SPEC section 8), compiles the kernel for the backend
//! (once: compiled kernels are cached inside the module) and runs it.

pub mod array;
pub mod calibrate;
pub mod check;
pub mod choose;
pub mod cost;
pub mod exec;
pub mod future;

// Input parsing lives in `crate::inputs`, below the runtime; its old paths
// under `runtime` stay valid.
pub use crate::inputs::{cases, gen, host, npy, params, values};

// The engine contract and the backend table live below the runtime; their
// old paths under `runtime` stay valid.
pub use crate::backends as engines;
pub use crate::backends::engine;
pub use crate::engine::{args, backend, device};
pub use crate::engine::{
    Backend, BackendKind, CompiledKernel, DeviceBuffer, DeviceId, Engine, ParseBackendError,
    Transfers,
};
pub use array::{AnyArray, Array, Residency};
pub use choose::{Choice, Prediction};
pub use exec::Placement;
pub use future::{AsyncArg, LaunchFuture};
pub use host::{HostArray, HostData, HostElement};
pub use params::{ParamInfo, ParamType};
pub use values::HostValue;

use crate::error::{Error, Result};
use crate::ir::{self, Value};
use args::Arg;
use std::collections::HashMap;
use std::fmt;
use std::io::Read as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One compile's outcome, kept so that a kernel is compiled at most once
/// per device and a backend that cannot compile it is not retried.
type CacheSlot = Arc<Mutex<Option<std::result::Result<Arc<dyn CompiledKernel>, Arc<Error>>>>>;

/// A checked source file. Cloning it is cheap (a shared handle): clones,
/// and the [`Kernel`]s found in it, share its compiled-kernel cache.
#[derive(Clone)]
pub struct Module {
    inner: Arc<ModuleData>,
}

struct ModuleData {
    ir: Arc<ir::Module>,
    source: String,
    /// Parameters of every function, indexed by `FuncId`, computed once so
    /// that checking a launch's arguments allocates nothing.
    params: Vec<Vec<ParamInfo>>,
    /// A hash of the IR per function (the module's IR and the function's
    /// index): the kernel-cache key and the key of measured corrections.
    hashes: Vec<u64>,
    /// Compiled kernels per (IR hash, device). The map's lock is held only
    /// to find a slot; compiling locks the slot, so different kernels compile
    /// in parallel and one kernel compiles once.
    cache: Mutex<HashMap<(u64, DeviceId), CacheSlot>>,
    /// `Auto`'s candidates and their figures per kernel, found once.
    plans: Vec<std::sync::OnceLock<Arc<choose::Plan>>>,
    /// `Auto`'s last fast-path choice per kernel (no lock, no allocation).
    fast: Vec<choose::FastCache>,
}

/// A kernel of a module, found by name: an owned handle (it keeps its
/// module alive), cheap to clone, usable from several threads at once.
#[derive(Clone)]
pub struct Kernel {
    module: Module,
    id: ir::FuncId,
}

impl fmt::Debug for Module {
    /// The file and the kernels' names, not the source.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("file", &self.file())
            .field("kernels", &self.kernel_names())
            .finish()
    }
}

impl fmt::Debug for Kernel {
    /// The signature and the file: `Kernel(saxpy(a: f32, …) in ops.kn)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kernel({} in {})", self.signature(), self.module.file())
    }
}

/// A copy of a cached compile error (errors are not `Clone`: `Io` holds an
/// `io::Error`).
fn copy_error(e: &Error) -> Error {
    match e {
        Error::BackendUnavailable { backend, reason } => Error::BackendUnavailable {
            backend: backend.clone(),
            reason: reason.clone(),
        },
        Error::Unsupported {
            backend,
            kernel,
            file,
            span,
            message,
        } => Error::Unsupported {
            backend: backend.clone(),
            kernel: kernel.clone(),
            file: file.clone(),
            span: *span,
            message: message.clone(),
        },
        Error::Backend { backend, message } => Error::Backend {
            backend: backend.clone(),
            message: message.clone(),
        },
        other => Error::Backend {
            backend: "runtime".into(),
            message: other.to_string(),
        },
    }
}

/// The largest kernel file `Module::from_file` reads (docs/limits.md): a
/// kernel is at most 4 MiB once its helpers are inlined, so this leaves room
/// for many kernels in one file.
pub const MAX_SOURCE_BYTES: u64 = 64 << 20;

impl Module {
    /// Parses and checks `source`; `file` is the name diagnostics print.
    pub fn from_source(file: &str, source: &str) -> Result<Module> {
        let ir = crate::lang::compile(file, source)?;
        let params = ir.functions.iter().map(params::params_of).collect();
        let hashes = ir_hashes(source, ir.functions.len());
        let plans = ir.functions.iter().map(|_| Default::default()).collect();
        let fast = ir.functions.iter().map(|_| Default::default()).collect();
        Ok(Module {
            inner: Arc::new(ModuleData {
                plans,
                fast,
                ir: Arc::new(ir),
                source: source.to_string(),
                params,
                hashes,
                cache: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Reads, parses and checks a `.kn` file; an unreadable file is an
    /// `Error::Io` naming the path.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let io = |error| Error::Io {
            path: name.clone(),
            error,
        };
        // Read at most one byte past the limit: `kiln run /dev/zero` ends at
        // once instead of reading until memory runs out.
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| std::io::Read::take(f, MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(io)?;
        if bytes.len() as u64 > MAX_SOURCE_BYTES {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "larger than {} MiB, the most a kernel file may hold",
                    MAX_SOURCE_BYTES >> 20
                ),
            )));
        }
        let source = String::from_utf8(bytes).map_err(|e| {
            // Say where: the line and column of the first bad byte.
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let start = good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let col = String::from_utf8_lossy(&good[start..]).chars().count() + 1;
            io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{line}:{col}: not valid UTF-8 (kernel files are UTF-8 text)"),
            ))
        })?;
        Module::from_source(&name, &source)
    }

    /// The checked IR.
    pub fn ir(&self) -> &Arc<ir::Module> {
        &self.inner.ir
    }

    /// The source text the module was compiled from.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// The file name diagnostics and run-time errors print.
    pub fn file(&self) -> &str {
        &self.inner.ir.file
    }

    /// Names of the module's kernels, in source order.
    pub fn kernel_names(&self) -> Vec<String> {
        self.inner.ir.kernels().map(|k| k.name.clone()).collect()
    }

    /// The kernel `name`, an owned handle (see [`Kernel`]).
    pub fn kernel(&self, name: &str) -> Result<Kernel> {
        let id = self
            .inner
            .ir
            .functions
            .iter()
            .position(|f| f.kind == ir::FunctionKind::Kernel && f.name == name)
            .ok_or_else(|| Error::NoSuchKernel {
                name: name.to_string(),
                file: self.inner.ir.file.clone(),
                available: self.kernel_names(),
            })?;
        Ok(Kernel {
            module: self.clone(),
            id: ir::FuncId(id as u32),
        })
    }

    /// Kernel `id` compiled by `engine` (cached per IR hash and device).
    fn compiled_by(
        &self,
        id: ir::FuncId,
        engine: &Arc<dyn Engine>,
    ) -> Result<Arc<dyn CompiledKernel>> {
        let key = (self.inner.hashes[id.index()], engine.device());
        let slot = {
            // A poisoned lock only means another thread panicked; the map
            // is still consistent (slots are inserted whole).
            let mut cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.entry(key).or_default().clone()
        };
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(engine.compile(&self.inner.ir, id).map_err(Arc::new));
        }
        match slot.as_ref() {
            Some(Ok(k)) => Ok(k.clone()),
            Some(Err(e)) => Err(copy_error(e)),
            None => Err(copy_error(&Error::Backend {
                backend: engine.backend().name().into(),
                message: "compile produced nothing".into(),
            })),
        }
    }

    /// A forced placement's target; an absent backend or one that cannot
    /// compile the kernel is an error saying why.
    fn target(&self, id: ir::FuncId, place: Placement) -> Result<exec::Target> {
        let engine = engine(place.backend())?;
        let compiled = self.compiled_by(id, &engine)?;
        Ok(exec::Target {
            place,
            engine,
            compiled,
        })
    }

    /// `Auto`'s plan for kernel `id`: the CPU's candidates compiled on
    /// first use; GPUs are started later, only when a launch could use one.
    fn plan(&self, id: ir::FuncId) -> Result<Arc<choose::Plan>> {
        let cell = &self.inner.plans[id.index()];
        if let Some(p) = cell.get() {
            return Ok(p.clone());
        }
        let weak = Arc::downgrade(&self.inner);
        let starter: choose::Starter = Arc::new(move |b: Backend| {
            let inner = weak.upgrade().ok_or_else(|| Error::Backend {
                backend: b.name().into(),
                message: "the module was dropped".into(),
            })?;
            Module { inner }.target(id, Placement::Gpu(b))
        });
        let plan = Arc::new(choose::Plan::new(self.cpu_targets(id)?, starter));
        Ok(cell.get_or_init(|| plan).clone())
    }

    /// The CPU candidates `Auto` chooses among: the CPU JIT serial and
    /// pooled (or the interpreter when the JIT cannot compile the kernel).
    /// GPUs join a plan when started (`choose::Plan`).
    fn cpu_targets(&self, id: ir::FuncId) -> Result<Vec<exec::Target>> {
        let mut targets = Vec::new();
        match self.target(id, Placement::CpuSerial) {
            Ok(t) => {
                targets.push(t.clone());
                targets.push(exec::Target {
                    place: Placement::CpuPool,
                    ..t
                });
            }
            Err(Error::BackendUnavailable { .. } | Error::Unsupported { .. }) => {
                targets.push(self.target(id, Placement::Interp)?)
            }
            Err(other) => return Err(other),
        }
        Ok(targets)
    }
}

/// One hash per function: of kiln's version, the module's source and the
/// function's index. The IR is a deterministic function of the source for a
/// given kiln, so this identifies it as well as hashing the IR would, at a
/// fraction of the cost (formatting the IR took ~10% of a whole `kiln run`).
fn ir_hashes(source: &str, functions: usize) -> Vec<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (env!("CARGO_PKG_VERSION"), source).hash(&mut h);
    let base = h.finish();
    (0..functions)
        .map(|i| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (base, i).hash(&mut h);
            h.finish()
        })
        .collect()
}

/// The placement a forced backend runs.
fn forced_place(backend: Backend) -> Placement {
    match backend.kind() {
        BackendKind::Reference => Placement::Interp,
        BackendKind::Device => Placement::Gpu(backend),
        BackendKind::Host | BackendKind::Chooser => Placement::Cpu,
    }
}

impl Kernel {
    /// The module the kernel belongs to.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The kernel's name.
    pub fn name(&self) -> &str {
        &self.function().name
    }

    /// The kernel's IR.
    pub fn function(&self) -> &ir::Function {
        self.module.inner.ir.function(self.id)
    }

    /// The positional parameters with their declared types.
    pub fn params(&self) -> Vec<ParamInfo> {
        self.param_slice().to_vec()
    }

    /// The parameters without a copy (computed once per module).
    pub fn param_slice(&self) -> &[ParamInfo] {
        &self.module.inner.params[self.id.index()]
    }

    /// The kernel's id in `module().ir()`.
    pub fn id(&self) -> ir::FuncId {
        self.id
    }

    /// The hash of the kernel's IR (its compile-cache key).
    pub fn ir_hash(&self) -> u64 {
        self.module.inner.hashes[self.id.index()]
    }

    /// The result type, `None` for a kernel that returns nothing.
    pub fn result_type(&self) -> Option<ir::ScalarType> {
        self.function().ret
    }

    /// The signature as written: `saxpy(a: f32, x: f32[:], y: mut f32[:])`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params()
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect();
        let ret = self
            .result_type()
            .map(|t| format!(" -> {t}"))
            .unwrap_or_default();
        format!("{}({}){ret}", self.name(), params.join(", "))
    }

    /// Launches on the default backend: `KILN_BACKEND` if set, else `Auto`.
    pub fn launch(&self, args: &mut [Arg]) -> Result<Option<Value>> {
        self.launch_on(Backend::from_env()?, args)
    }

    /// Checks the arguments, compiles for `backend` (cached) and runs.
    pub fn launch_on(&self, backend: Backend, args: &mut [Arg]) -> Result<Option<Value>> {
        self.launch_on_reporting(backend, args)
            .map(|(_, result)| result)
    }

    /// Like [`Kernel::launch_on`], also returning the backend that ran the
    /// kernel (the one `Auto` chose).
    pub fn launch_on_reporting(
        &self,
        backend: Backend,
        args: &mut [Arg],
    ) -> Result<(Backend, Option<Value>)> {
        self.launch_placing(backend, args)
            .map(|(p, r)| (p.backend(), r))
    }

    /// Like [`Kernel::launch_on`], returning the placement that ran it
    /// (`cpu-serial` or `cpu-pool` when `Auto` chose the CPU).
    pub fn launch_placing(
        &self,
        backend: Backend,
        args: &mut [Arg],
    ) -> Result<(Placement, Option<Value>)> {
        check::check_args(self.name(), self.param_slice(), args)?;
        if backend != Backend::Auto {
            let target = self.module.target(self.id, forced_place(backend))?;
            return Ok((target.place, exec::run(&target, args, None)?));
        }
        // A repeated tiny launch: the fast path's last choice for the same
        // signature, without estimating (logging takes the full path).
        let cache = &self.module.inner.fast[self.id.index()];
        let sig = (!choose::log_dispatch()).then(|| choose::signature(args));
        if let Some(sig) = sig {
            if let Some(plan) = self.module.inner.plans[self.id.index()].get() {
                if let Some(target) = cache.get(sig).and_then(|i| plan.candidate(i)) {
                    return Ok((target.place, exec::run(target, args, None)?));
                }
            }
        }
        let (plan, choice) = self.choose_checked(args, true)?;
        if let Some(sig) = sig {
            cache.put(sig, &plan, &choice);
        }
        let target = plan.target(choice.place);
        if !choice.learn {
            return Ok((target.place, exec::run(target, args, None)?));
        }
        let start = Instant::now();
        let result = exec::run(target, args, None)?;
        choose::record(self.name(), &plan, &choice, start.elapsed().as_secs_f64());
        Ok((target.place, result))
    }

    /// Runs on one placement exactly (`cpu-serial`, `cpu-pool`, ...): what
    /// benchmarks compare `Auto` against. Absent is an error, as forcing is.
    pub fn launch_placed(&self, place: Placement, args: &mut [Arg]) -> Result<Option<Value>> {
        check::check_args(self.name(), self.param_slice(), args)?;
        let target = self.module.target(self.id, place)?;
        exec::run(&target, args, None)
    }

    /// Runs on `engine`, which need not be built in (a test's fake device,
    /// an engine made by the caller): compiled once per IR hash and device
    /// like any other; managed arrays move to and from its memory.
    pub fn launch_with_engine(
        &self,
        engine: &Arc<dyn Engine>,
        args: &mut [Arg],
    ) -> Result<Option<Value>> {
        check::check_args(self.name(), self.param_slice(), args)?;
        let compiled = self.module.compiled_by(self.id, engine)?;
        let place = match engine.backend() {
            Backend::Interp => Placement::Interp,
            Backend::Cpu | Backend::Auto => Placement::Cpu,
            b => Placement::Gpu(b),
        };
        let target = exec::Target {
            place,
            engine: engine.clone(),
            compiled,
        };
        exec::run(&target, args, None)
    }

    /// What `Auto` would choose for these arguments now, with the
    /// predictions behind it (figures the cache lacks are defaults while
    /// they are measured in the background). A query: it neither explores
    /// nor starts a GPU.
    pub fn choose(&self, args: &[Arg]) -> Result<Choice> {
        check::check_args(self.name(), self.param_slice(), args)?;
        self.choose_checked(args, false).map(|(_, c)| c)
    }

    /// The GPU backends `Auto` has started for this kernel so far (none
    /// until a launch was large enough for one to win).
    pub fn started_gpus(&self) -> Vec<Backend> {
        self.module.inner.plans[self.id.index()]
            .get()
            .map(|p| p.started_gpus())
            .unwrap_or_default()
    }

    fn choose_checked(&self, args: &[Arg], launching: bool) -> Result<(Arc<choose::Plan>, Choice)> {
        let plan = self.module.plan(self.id)?;
        let work = cost::estimate(&self.module.inner.ir, self.id, args);
        let choice = choose::choose(self.ir_hash(), &plan, &work, args, launching);
        if choose::log_dispatch() {
            choose::log(self.name(), &choice);
        }
        Ok((plan, choice))
    }

    /// Starts a launch in the background and returns a future of its
    /// result (`pollster::block_on(fut)` waits for it). Arrays are shared
    /// with the launch: reading them on the host, or launching on them
    /// again, waits for it; launches on the same arrays run in call order.
    pub fn launch_async(&self, backend: Backend, args: Vec<AsyncArg>) -> Result<LaunchFuture> {
        let mut borrowed: Vec<Arg> = args.iter().map(AsyncArg::as_arg).collect();
        check::check_args(self.name(), self.param_slice(), &borrowed)?;
        let (target, choice) = if backend == Backend::Auto {
            let (plan, choice) = self.choose_checked(&borrowed, true)?;
            (plan.target(choice.place).clone(), Some((plan, choice)))
        } else {
            (self.module.target(self.id, forced_place(backend))?, None)
        };
        borrowed.clear();
        drop(borrowed);
        Ok(future::spawn(target, args, choice, self.name().to_string()))
    }

    /// Compiles for `backend` ahead of the first launch (a no-op when already
    /// cached) and returns the backend that will run it (for `Auto`, the host
    /// backend; a GPU may still be chosen per launch).
    pub fn prepare(&self, backend: Backend) -> Result<Backend> {
        if backend == Backend::Auto {
            // The CPU's candidates, without calibrating or starting a GPU
            // (that waits for a launch that could use one).
            let targets = self.module.cpu_targets(self.id)?;
            return Ok(targets[0].place.backend());
        }
        self.module
            .target(self.id, forced_place(backend))
            .map(|t| t.place.backend())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "kernel saxpy(a: f32, x: f32[:], y: mut f32[:]) {
    for i in prange(0..y.len()) {
        y[i] = a * x[i] + y[i];
    }
}
";

    fn estimates() -> usize {
        cost::ESTIMATES.with(|n| n.get())
    }

    /// Launches on `Auto`: the placement and the estimates it made.
    fn auto(k: &Kernel, args: &mut [Arg]) -> (Placement, usize) {
        let before = estimates();
        let (place, _) = k.launch_placing(Backend::Auto, args).unwrap();
        (place, estimates() - before)
    }

    #[test]
    fn auto_reuses_a_fast_path_choice_for_the_same_signature() {
        if choose::log_dispatch() {
            return; // Logging takes the full path on every launch.
        }
        let m = Module::from_source("cache.kn", SRC).unwrap();
        let k = m.kernel("saxpy").unwrap();
        let x = vec![1.0f32; 8];
        let mut y = vec![1.0f32; 8];
        let choice = k
            .choose(&[2.0f32.into(), (&x).into(), (&mut y).into()])
            .unwrap();
        // Eight elements are a tiny launch anywhere: the fast path.
        assert!(!choice.learn, "{choice:?}");
        let first = auto(&k, &mut [2.0f32.into(), (&x).into(), (&mut y).into()]);
        assert_eq!(first, (choice.place, 1));
        // Same shapes and scalars: the cached choice, no estimate.
        let again = auto(&k, &mut [2.0f32.into(), (&x).into(), (&mut y).into()]);
        assert_eq!(again, (choice.place, 0));
        // A different length or scalar: estimated again, then cached.
        let x2 = vec![1.0f32; 16];
        let mut y2 = vec![1.0f32; 16];
        assert_eq!(
            auto(&k, &mut [2.0f32.into(), (&x2).into(), (&mut y2).into()]).1,
            1
        );
        assert_eq!(
            auto(&k, &mut [2.0f32.into(), (&x2).into(), (&mut y2).into()]).1,
            0
        );
        assert_eq!(
            auto(&k, &mut [3.0f32.into(), (&x2).into(), (&mut y2).into()]).1,
            1
        );
        // Managed arrays: keyed by their shape and residency too.
        let xa = Array::from(vec![1.0f32; 8]);
        let mut ya = Array::from(vec![1.0f32; 8]);
        assert_eq!(auto(&k, &mut [2.0f32.into(), xa.arg(), ya.arg_mut()]).1, 1);
        assert_eq!(auto(&k, &mut [2.0f32.into(), xa.arg(), ya.arg_mut()]).1, 0);
        assert_eq!(ya.to_vec().unwrap(), vec![5.0f32; 8]);
    }

    #[test]
    fn auto_does_not_cache_choices_that_learn() {
        if choose::log_dispatch() {
            return;
        }
        let m = Module::from_source("learn.kn", SRC).unwrap();
        let k = m.kernel("saxpy").unwrap();
        let n = 1 << 20;
        let x = vec![1.0f32; n];
        let mut y = vec![1.0f32; n];
        let choice = k
            .choose(&[2.0f32.into(), (&x).into(), (&mut y).into()])
            .unwrap();
        assert!(choice.learn, "{choice:?}");
        // Every launch estimates: measured corrections may change the choice.
        for _ in 0..3 {
            assert_eq!(
                auto(&k, &mut [2.0f32.into(), (&x).into(), (&mut y).into()]).1,
                1
            );
        }
    }

    #[test]
    fn signatures_differ_by_shape_scalar_and_kind() {
        let x = vec![1.0f32; 8];
        let mut y = vec![1.0f32; 8];
        let x9 = vec![1.0f32; 9];
        let s = |args: &[Arg]| choose::signature(args);
        let base = s(&[2.0f32.into(), (&x).into()]);
        assert_eq!(base, s(&[2.0f32.into(), (&x).into()]));
        assert_ne!(base, s(&[2.5f32.into(), (&x).into()]));
        assert_ne!(base, s(&[2.0f32.into(), (&x9).into()]));
        assert_ne!(base, s(&[2.0f32.into(), (&mut y).into()]));
        assert_ne!(base, s(&[2.0f64.into(), (&x).into()]));
    }
}

/// The device a backend runs on, for reports (`kiln selftest`, `kiln
/// bench`): the adapter's name verbatim, and whether it is software.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceName {
    /// Verbatim from the driver (GPUs), else the CPU model.
    pub name: String,
    /// A software rasteriser (llvmpipe/lavapipe): not a GPU's figures.
    pub software: bool,
}

impl std::fmt::Display for DeviceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)?;
        if self.software {
            write!(f, " (software)")?;
        }
        Ok(())
    }
}

/// What `backend` runs on here, or why it cannot run.
pub fn device_name(backend: Backend) -> std::result::Result<DeviceName, String> {
    let engine = match engines::engine(backend) {
        Ok(e) => e,
        Err(Error::BackendUnavailable { reason, .. }) => return Err(reason),
        Err(e) => return Err(e.to_string()),
    };
    let name = match backend.kind() {
        crate::engine::BackendKind::Device => engine.adapter_name(),
        _ => calibrate::cpu_model().to_string(),
    };
    Ok(DeviceName {
        name,
        software: engine.is_software(),
    })
}
