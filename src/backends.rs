//! The engines built into this version of kiln: one match arm per row of
//! the backend table (`engine::backend`), and the reference interpreter's
//! engine. The runtime, the CLI, the bench and the tests reach engines only
//! through [`engine`] and iterate the table (`Backend::engines()`).

use crate::engine::args::Arg;
use crate::engine::{Backend, CompiledKernel, Engine};
use crate::error::{Error, Result};
use crate::ir::{self, Value};
use std::sync::{Arc, OnceLock};

/// The engine for a forced backend. `Auto` is resolved per kernel by
/// `Module` (CPU when it can compile the kernel, else the interpreter); here
/// it means the CPU engine when built in, else the interpreter.
pub fn engine(backend: Backend) -> Result<Arc<dyn Engine>> {
    match backend {
        Backend::Interp => Ok(interp_engine()),
        Backend::Cpu => cpu_engine(),
        Backend::Cuda => cuda_engine(),
        Backend::Wgpu => wgpu_engine(),
        Backend::Auto => cpu_engine().or_else(|_| Ok(interp_engine())),
    }
}

/// Whether `backend` can run here, and if not, why.
pub fn availability(backend: Backend) -> Result<(), String> {
    match engine(backend) {
        Ok(_) => Ok(()),
        Err(Error::BackendUnavailable { reason, .. }) => Err(reason),
        Err(other) => Err(other.to_string()),
    }
}

/// Whether a backend's device still works in this process: false once it
/// failed for good (a CUDA context lost to a sticky error), so `auto` stops
/// choosing it. Cheap (an atomic load): asked on every `auto` choice.
pub fn healthy(backend: Backend) -> bool {
    match backend {
        #[cfg(feature = "cuda")]
        Backend::Cuda => crate::cuda::device::context_lost().is_none(),
        _ => true,
    }
}

/// The error of forcing a backend this build left out.
#[cfg(not(all(feature = "cpu", feature = "wgpu", feature = "cuda")))]
fn not_built(backend: Backend) -> Error {
    Error::BackendUnavailable {
        backend: backend.name().into(),
        reason: format!(
            "built without feature `{}`",
            backend.feature().unwrap_or(backend.name())
        ),
    }
}

/// The wgpu engine on the process's one device (created on first use);
/// `BackendUnavailable` with the reason when there is no adapter.
#[cfg(not(feature = "wgpu"))]
fn wgpu_engine() -> Result<Arc<dyn Engine>> {
    Err(not_built(Backend::Wgpu))
}

#[cfg(feature = "wgpu")]
fn wgpu_engine() -> Result<Arc<dyn Engine>> {
    static ENGINE: OnceLock<Arc<dyn Engine>> = OnceLock::new();
    if let Some(engine) = ENGINE.get() {
        return Ok(engine.clone());
    }
    let engine: Arc<dyn Engine> = Arc::new(crate::wgpu::WgpuEngine::new()?);
    Ok(ENGINE.get_or_init(|| engine).clone())
}

fn interp_engine() -> Arc<dyn Engine> {
    static ENGINE: OnceLock<Arc<dyn Engine>> = OnceLock::new();
    ENGINE.get_or_init(|| Arc::new(InterpEngine)).clone()
}

#[cfg(not(feature = "cpu"))]
fn cpu_engine() -> Result<Arc<dyn Engine>> {
    Err(not_built(Backend::Cpu))
}

/// The CPU JIT, created once per process (it owns the rayon pool).
#[cfg(feature = "cpu")]
fn cpu_engine() -> Result<Arc<dyn Engine>> {
    static ENGINE: OnceLock<std::result::Result<Arc<dyn Engine>, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            crate::cpu::CpuEngine::new()
                .map(|e| Arc::new(e) as Arc<dyn Engine>)
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|reason| Error::BackendUnavailable {
            backend: "cpu".into(),
            reason,
        })
}

#[cfg(not(feature = "cuda"))]
fn cuda_engine() -> Result<Arc<dyn Engine>> {
    Err(not_built(Backend::Cuda))
}

/// The CUDA engine, created once per process: the driver, device and NVRTC
/// are probed on first use and an absent one is remembered as the reason.
#[cfg(feature = "cuda")]
fn cuda_engine() -> Result<Arc<dyn Engine>> {
    static ENGINE: OnceLock<std::result::Result<Arc<dyn Engine>, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| match crate::cuda::CudaEngine::new() {
            Ok(e) => Ok(Arc::new(e) as Arc<dyn Engine>),
            Err(Error::BackendUnavailable { reason, .. }) => Err(reason),
            Err(other) => Err(other.to_string()),
        })
        .clone()
        .map_err(|reason| Error::BackendUnavailable {
            backend: "cuda".into(),
            reason,
        })
}

/// The reference interpreter as an engine: "compiling" remembers the
/// kernel; launching walks its IR.
pub struct InterpEngine;

struct InterpKernel {
    module: Arc<ir::Module>,
    id: ir::FuncId,
}

impl Engine for InterpEngine {
    fn backend(&self) -> Backend {
        Backend::Interp
    }

    fn compile(
        &self,
        module: &Arc<ir::Module>,
        kernel: ir::FuncId,
    ) -> Result<Arc<dyn CompiledKernel>> {
        Ok(Arc::new(InterpKernel {
            module: module.clone(),
            id: kernel,
        }))
    }
}

impl CompiledKernel for InterpKernel {
    fn launch(&self, args: &mut [Arg]) -> Result<Option<Value>> {
        crate::engine::args::refuse_device_args("interp", args)?;
        Ok(crate::interp::run(
            &self.module,
            self.module.function(self.id),
            args,
        )?)
    }
}
