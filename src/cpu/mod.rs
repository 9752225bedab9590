//! The CPU backend: IR → Cranelift → native code; prange chunks on rayon.
//!
//! - `lower`: IR → Cranelift IR (one serial `main` + one chunk function per
//!   `prange`, helpers inlined, faults as branches to cold exits).
//! - `checks`: which bounds checks one range check before a loop can cover.
//! - `math`: the host symbols for math builtins.
//! - `vector`: which straight-line `prange` bodies run 128-bit vectors.
//! - `launch`: the context, the rayon pool and the parallel-loop driver.

mod checks;
#[cfg(test)]
mod ir_tests;
mod launch;
mod lower;
mod math;
mod pool;

pub use launch::{num_threads, set_num_threads, MAX_THREADS};

use crate::engine::args::Arg;
use crate::engine::fault::{self, FaultContext};
use crate::engine::{Backend, CompiledKernel, Engine};
use crate::error::{Error, Result};
use crate::ir::{self, Value};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};
use launch::{ArrayDesc, ChunkFn, Ctx, LaunchState};
use lower::{backend_err, Site};
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, OnceLock};

/// The Cranelift + rayon engine.
pub struct CpuEngine {
    _private: (),
}

impl CpuEngine {
    /// Fails only when Cranelift does not support the host.
    pub fn new() -> Result<CpuEngine> {
        isa(true)?;
        lower::start_helper();
        Ok(CpuEngine { _private: () })
    }
}

impl Engine for CpuEngine {
    fn backend(&self) -> Backend {
        Backend::Cpu
    }

    fn compile(
        &self,
        module: &Arc<ir::Module>,
        kernel: ir::FuncId,
    ) -> Result<Arc<dyn CompiledKernel>> {
        Ok(Arc::new(CpuKernel::compile(module, kernel)?))
    }
}

type Isa = Arc<dyn cranelift_codegen::isa::TargetIsa>;

/// The host ISA with Cranelift's optimizer (`optimize`) or without it, built
/// once per process.
fn isa(optimize: bool) -> Result<Isa> {
    static ISAS: [OnceLock<std::result::Result<Isa, String>>; 2] =
        [OnceLock::new(), OnceLock::new()];
    ISAS[optimize as usize]
        .get_or_init(|| build_isa(optimize))
        .clone()
        .map_err(backend_err)
}

fn build_isa(optimize: bool) -> std::result::Result<Isa, String> {
    let mut flags = settings::builder();
    // The verifier re-checks every function Cranelift is given: a quarter of
    // a stencil kernel's compile time. Debug builds (the tests) keep it.
    let verify = if cfg!(debug_assertions) {
        "true"
    } else {
        "false"
    };
    let opt = if optimize { "speed" } else { "none" };
    // (regalloc2's single-pass allocator was tried for huge functions: it
    // grows quadratically on them, 108 s for 40,000 statements.)
    for (k, v) in [
        ("opt_level", opt),
        ("enable_verifier", verify),
        ("use_colocated_libcalls", "false"),
        ("is_pic", "false"),
    ] {
        flags.set(k, v).map_err(|e| e.to_string())?;
    }
    let builder = cranelift_native::builder().map_err(|e| format!("unsupported host: {e}"))?;
    builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| e.to_string())
}

fn new_jit() -> Result<JITModule> {
    let mut builder = JITBuilder::with_isa(isa(true)?, cranelift_module::default_libcall_names());
    for (name, ptr) in math::symbols() {
        builder.symbol(name, ptr);
    }
    builder.symbol("kiln_cpu_par", launch::kiln_cpu_par as *const u8);
    builder.symbol("kiln_cpu_fault", launch::kiln_cpu_fault as *const u8);
    Ok(JITModule::new(builder))
}

/// The printed Cranelift IR of every function generated for `kernel`.
pub fn emit_clif(module: &ir::Module, kernel: &str) -> Result<String> {
    emit(module, kernel, lower::Listing::Clif)
}

/// The machine code generated for `kernel` on this host, as Cranelift lists
/// it after optimization and register allocation (`kiln emit --target
/// asm`): what to read when a loop did not vectorize or spills.
pub fn emit_asm(module: &ir::Module, kernel: &str) -> Result<String> {
    emit(module, kernel, lower::Listing::Machine)
}

fn emit(module: &ir::Module, kernel: &str, listing: lower::Listing) -> Result<String> {
    let kid = kernel_id(module, kernel)?;
    let mut jit = new_jit()?;
    let lowered = lower::lower_kernel(&mut jit, module, kid, Some(listing));
    // SAFETY: nothing was finalized or handed out from this module.
    unsafe { jit.free_memory() };
    Ok(lowered?.text.join("\n"))
}

fn kernel_id(module: &ir::Module, name: &str) -> Result<ir::FuncId> {
    module
        .functions
        .iter()
        .position(|f| f.kind == ir::FunctionKind::Kernel && f.name == name)
        .map(|i| ir::FuncId(i as u32))
        .ok_or_else(|| Error::NoSuchKernel {
            name: name.to_string(),
            file: module.file.clone(),
            available: module.kernels().map(|k| k.name.clone()).collect(),
        })
}

type MainFn = unsafe extern "C" fn(*const Ctx, *const u64, *mut u64) -> i32;

/// The JIT module owning the code; freed when the kernel is dropped.
struct Code(Mutex<Option<JITModule>>);

impl Drop for Code {
    fn drop(&mut self) {
        if let Ok(mut m) = self.0.lock() {
            if let Some(jit) = m.take() {
                // SAFETY: the function pointers into it die with the kernel.
                unsafe { jit.free_memory() };
            }
        }
    }
}

/// A kernel compiled to native code.
struct CpuKernel {
    module: Arc<ir::Module>,
    kernel: ir::FuncId,
    main: MainFn,
    chunks: Vec<ChunkFn>,
    pars: Vec<launch::ParInfo>,
    sites: Vec<Site>,
    _code: Code,
}

// SAFETY: the code is immutable after finalization; the function pointers
// are plain addresses into it, valid while `_code` lives.
unsafe impl Send for CpuKernel {}
unsafe impl Sync for CpuKernel {}

impl CpuKernel {
    fn compile(module: &Arc<ir::Module>, kernel: ir::FuncId) -> Result<CpuKernel> {
        if module.functions.get(kernel.index()).map(|f| f.kind) != Some(ir::FunctionKind::Kernel) {
            return Err(backend_err(format!(
                "function {} is not a kernel",
                kernel.0
            )));
        }
        // Workers still spinning after the last launch would take a core
        // from the compile helper for up to 2 ms.
        launch::nap_pool();
        let mut jit = new_jit()?;
        let lowered = match lower::lower_kernel(&mut jit, module, kernel, None) {
            Ok(l) => l,
            Err(e) => {
                // SAFETY: nothing from this module was handed out.
                unsafe { jit.free_memory() };
                return Err(e);
            }
        };
        jit.finalize_definitions().map_err(backend_err)?;
        // SAFETY: the signatures match those declared in `lower`.
        let main: MainFn = unsafe { std::mem::transmute(jit.get_finalized_function(lowered.main)) };
        let chunks = lowered
            .chunks
            .iter()
            .map(|id| unsafe {
                std::mem::transmute::<*const u8, ChunkFn>(jit.get_finalized_function(*id))
            })
            .collect();
        Ok(CpuKernel {
            module: module.clone(),
            kernel,
            main,
            chunks,
            pars: lowered.pars,
            sites: lowered.sites,
            _code: Code(Mutex::new(Some(jit))),
        })
    }

    fn function(&self) -> &ir::Function {
        self.module.function(self.kernel)
    }

    fn arg_error(&self, message: String) -> Error {
        Error::argument(self.function().name.clone(), message)
    }

    /// Scalar slots (by parameter position) and array descriptors (by array
    /// id) for the generated code.
    fn marshal(&self, args: &mut [Arg]) -> Result<(Vec<u64>, Vec<ArrayDesc>, Vec<Vec<usize>>)> {
        let f = self.function();
        if args.len() != f.params.len() {
            return Err(self.arg_error(format!(
                "expected {} arguments, got {}",
                f.params.len(),
                args.len()
            )));
        }
        let mut scalars = vec![0u64; f.params.len().max(1)];
        let mut arrays = vec![ArrayDesc::default(); f.arrays.len().max(1)];
        let mut shapes = vec![Vec::new(); f.arrays.len()];
        for (k, (p, a)) in f.params.iter().zip(args.iter_mut()).enumerate() {
            match (p, a) {
                (ir::Param::Scalar(v), Arg::Scalar(val)) if val.ty() == f.var(*v).ty => {
                    scalars[k] = val.to_bits()
                }
                (ir::Param::Array(id), Arg::Array { data, shape }) => {
                    arrays[id.index()] =
                        self.desc(*id, data.as_ptr() as usize, data.len(), shape)?;
                    shapes[id.index()] = shape.clone();
                }
                (ir::Param::Array(id), Arg::ArrayMut { data, shape }) => {
                    arrays[id.index()] =
                        self.desc(*id, data.as_mut_ptr() as usize, data.len(), shape)?;
                    shapes[id.index()] = shape.clone();
                }
                (_, a) => {
                    return Err(self.arg_error(format!(
                        "argument {k} has the wrong kind ({})",
                        a.type_name()
                    )))
                }
            }
        }
        Ok((scalars, arrays, shapes))
    }

    fn desc(&self, id: ir::ArrayId, ptr: usize, len: usize, shape: &[usize]) -> Result<ArrayDesc> {
        let rank = self.function().array(id).rank as usize;
        if shape.len() != rank
            || shape.iter().try_fold(1usize, |a, &s| a.checked_mul(s)) != Some(len)
        {
            return Err(self.arg_error(format!(
                "array `{}` has shape {shape:?} for {len} elements",
                self.function().array(id).name
            )));
        }
        let mut d = ArrayDesc {
            ptr,
            len: len as i64,
            shape: [0; 3],
        };
        for (k, s) in shape.iter().enumerate() {
            d.shape[k] = *s as i64;
        }
        Ok(d)
    }

    fn runtime_error(&self, rec: launch::FaultRecord, shapes: &[Vec<usize>]) -> Error {
        let f = self.function();
        let name = |a: ir::ArrayId| f.arrays.get(a.index()).map(|x| x.name.clone());
        let cx = FaultContext {
            kernel: &f.name,
            file: &self.module.file,
            backend: "cpu",
            shapes,
            array_name: &name,
        };
        match fault::decode(&cx, &self.sites, rec.site, &rec.operands) {
            Ok(located) => Error::Runtime(located),
            Err(e) => e,
        }
    }
}

impl CompiledKernel for CpuKernel {
    fn launch(&self, args: &mut [Arg]) -> Result<Option<Value>> {
        self.run(args, false, None)
    }

    fn launch_serial(&self, args: &mut [Arg]) -> Result<Option<Value>> {
        self.run(args, true, None)
    }
}

/// A kernel compiled for one process's part of a distributed launch
/// (`crate::dist`): the same code as a plain CPU launch, with the `prange`
/// driver deferring to a [`launch::ParHook`].
#[cfg(feature = "mpi")]
pub(crate) struct HookedKernel(CpuKernel);

#[cfg(feature = "mpi")]
pub(crate) use launch::{FaultRecord, ParHook};
#[cfg(feature = "mpi")]
pub(crate) use pool::set_core_share;

#[cfg(feature = "mpi")]
impl HookedKernel {
    pub(crate) fn compile(module: &Arc<ir::Module>, kernel: ir::FuncId) -> Result<HookedKernel> {
        Ok(HookedKernel(CpuKernel::compile(module, kernel)?))
    }

    /// The first loop variable of each `prange`, by the id the driver sees.
    pub(crate) fn par_vars(&self) -> Vec<ir::VarId> {
        self.0.pars.iter().map(|p| p.first_var).collect()
    }

    /// One launch whose `prange`s go through `hook`.
    pub(crate) fn launch(&self, args: &mut [Arg], hook: &dyn ParHook) -> Result<Option<Value>> {
        self.0.run(args, false, Some(hook))
    }
}

impl CpuKernel {
    /// One launch; `serial` keeps every `prange` on the calling thread.
    fn run(
        &self,
        args: &mut [Arg],
        serial: bool,
        hook: Option<&dyn launch::ParHook>,
    ) -> Result<Option<Value>> {
        crate::engine::args::refuse_device_args("cpu", args)?;
        let (scalars, arrays, shapes) = self.marshal(args)?;
        let state = LaunchState {
            chunks: &self.chunks,
            pars: &self.pars,
            fault: Mutex::new(None),
            stop_before: AtomicI64::new(i64::MAX),
            serial,
            hook,
        };
        let ctx = Ctx {
            arrays: arrays.as_ptr(),
            // The lifetime is erased in the raw pointer; `state` outlives
            // the call that uses it.
            state: (&state as *const LaunchState).cast(),
        };
        let mut ret = 0u64;
        // SAFETY: the context, argument slots and arrays outlive the call;
        // the code checks every access against the shapes passed here.
        let status = unsafe { (self.main)(&ctx, scalars.as_ptr(), &mut ret) };
        if status != 0 {
            let rec = state.fault.lock().ok().and_then(|g| *g).map(|(_, r)| r);
            return Err(match rec {
                Some(rec) => self.runtime_error(rec, &shapes),
                None => backend_err("a launch stopped without recording a fault"),
            });
        }
        Ok(self.function().ret.map(|t| Value::from_bits(t, ret)))
    }
}
