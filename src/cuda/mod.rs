//! The CUDA backend: a kernel becomes CUDA C through the shared GPU walk
//! (`gpu::cgen` with the [`cuda_c::CudaC`] dialect), NVRTC compiles it
//! (cached in memory and on disk, [`cache`]), cudarc loads and launches it
//! ([`device`]), and the shared host driver (`gpu::host::run`) runs the
//! kernel's launch schedule.
//!
//! - `cuda_c` — the dialect (spelling) and `shaders/cuda_prelude.cu`;
//! - `nvrtc` — finding libnvrtc and compiling to PTX or CUBIN;
//! - `cache` — compiled images by (source, NVRTC version, options, arch);
//! - `device` — driver, context, module loading, buffers, `GpuDevice`.

pub mod cache;
pub mod cuda_c;
pub mod device;
pub mod nvrtc;
pub mod resident;

#[cfg(test)]
mod prelude_tests;

use crate::engine::args::{Arg, ArrayData, ArrayDataMut};
use crate::engine::{Backend, CompiledKernel, DeviceBuffer, DeviceId, Engine};
use crate::error::{Error, Result};
use crate::gpu::GpuProgram;
use crate::ir::{self, Value};
use cache::{Key, ModuleCache, Origin};
use device::{Buffers, Gpu, LoadedModule};
use nvrtc::{Arch, ImageKind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Whether `KILN_REQUIRE` (comma-separated) names `what`.
pub fn required(what: &str) -> bool {
    std::env::var("KILN_REQUIRE")
        .map(|list| list.split(',').any(|name| name.trim() == what))
        .unwrap_or(false)
}

/// For tests that need NVRTC: prints why they are skipped, or panics when
/// `KILN_REQUIRE` names `nvrtc` (CI installs it, so absence is a failure).
#[cfg(test)]
pub(crate) fn skip_or_fail_without_nvrtc(reason: &str) {
    assert!(
        !required("nvrtc"),
        "NVRTC is required by KILN_REQUIRE but unavailable: {reason}"
    );
    eprintln!("skipping: NVRTC is unavailable: {reason}");
}

fn unavailable(reason: String) -> Error {
    Error::BackendUnavailable {
        backend: "cuda".into(),
        reason,
    }
}

/// The CUDA C of `kernel` (for `kiln emit --target cuda`): needs neither a
/// GPU nor NVRTC.
pub fn generate(module: &ir::Module, kernel: ir::FuncId) -> Result<GpuProgram> {
    crate::gpu::generate(module, kernel, &cuda_c::CudaC)
}

/// The source name NVRTC prints in its messages.
fn source_name(program: &GpuProgram) -> String {
    let file = program.file.rsplit('/').next().unwrap_or(&program.file);
    format!("{file}:{}.cu", program.kernel)
}

/// Compiles a program's CUDA C for `arch` through the module cache; needs
/// NVRTC but no device (the no-GPU tests compile for sm_90 with it).
/// Returns the image and where it came from.
pub fn compile_for(
    program: &GpuProgram,
    arch: Arch,
    kind: ImageKind,
) -> Result<(Arc<nvrtc::Image>, Origin)> {
    let lib = nvrtc::library().map_err(unavailable)?;
    let target = lib.target(arch, kind).ok_or_else(|| {
        unavailable(format!(
            "NVRTC {} cannot generate code for sm_{} (it supports {})",
            lib.version_string(),
            arch.number(),
            lib.archs
                .iter()
                .map(|a| format!("sm_{}", a.number()))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let key = Key {
        source: program.source.clone(),
        nvrtc_version: lib.version,
        options: nvrtc::options(target, kind),
        kind,
    };
    ModuleCache::global()
        .get_or_compile(&key, &source_name(program))
        .map_err(|e| Error::Backend {
            backend: "cuda".into(),
            message: format!("kernel `{}` of {}: {e}", program.kernel, program.file),
        })
}

/// Set once a PTX load failed for being newer than the driver: later
/// kernels go straight to CUBIN.
static PREFER_CUBIN: AtomicBool = AtomicBool::new(false);

/// Compiles for the device and loads the module: PTX unless the driver is
/// older than NVRTC, with a CUBIN retry when the driver rejects the PTX.
fn build(gpu: &Gpu, program: &GpuProgram) -> Result<(LoadedModule, CompileStats)> {
    let lib = nvrtc::library().map_err(unavailable)?;
    let start = Instant::now();
    let mut kind = if PREFER_CUBIN.load(Ordering::Relaxed) || !gpu.accepts_ptx_of(lib.version) {
        ImageKind::Cubin
    } else {
        ImageKind::Ptx
    };
    loop {
        let (image, origin) = compile_for(program, gpu.info.arch, kind)?;
        let compile_seconds = start.elapsed().as_secs_f64();
        match LoadedModule::load(gpu, &image.bytes, program) {
            Ok(loaded) => {
                return Ok((
                    loaded,
                    CompileStats {
                        kind,
                        origin,
                        compile_seconds,
                        total_seconds: start.elapsed().as_secs_f64(),
                    },
                ))
            }
            Err(e) if kind == ImageKind::Ptx && device::is_ptx_too_new(&e) => {
                PREFER_CUBIN.store(true, Ordering::Relaxed);
                kind = ImageKind::Cubin;
            }
            Err(e) => {
                return Err(device::driver_error(
                    &format!(
                        "cannot load the {} of kernel `{}`",
                        kind.extension(),
                        program.kernel
                    ),
                    e,
                ))
            }
        }
    }
}

/// How a kernel's module was obtained (for logs and compile-latency
/// figures).
#[derive(Clone, Copy, Debug)]
pub struct CompileStats {
    pub kind: ImageKind,
    pub origin: Origin,
    /// Until the image was available (NVRTC or a cache hit).
    pub compile_seconds: f64,
    /// Including loading the module into the context.
    pub total_seconds: f64,
}

/// The CUDA engine. Creating it checks the driver, the device and NVRTC,
/// so an absent piece is `Error::BackendUnavailable` saying which.
pub struct CudaEngine {
    gpu: &'static Gpu,
    /// The stream of the runtime's copies to and from device buffers.
    transfers: Arc<cudarc::driver::CudaStream>,
}

impl CudaEngine {
    pub fn new() -> Result<CudaEngine> {
        let gpu = device::gpu().map_err(unavailable)?;
        nvrtc::library().map_err(unavailable)?;
        let transfers = gpu
            .ctx
            .new_stream()
            .map_err(|e| device::driver_error("cannot create a stream", e))?;
        Ok(CudaEngine { gpu, transfers })
    }

    pub fn gpu(&self) -> &'static Gpu {
        self.gpu
    }
}

impl Engine for CudaEngine {
    fn backend(&self) -> Backend {
        Backend::Cuda
    }

    fn describe(&self) -> String {
        format!("{} driver {}", self.gpu.info.name, self.gpu.driver_version)
    }

    fn compile(
        &self,
        module: &Arc<ir::Module>,
        kernel: ir::FuncId,
    ) -> Result<Arc<dyn CompiledKernel>> {
        let program = generate(module, kernel)?;
        let (loaded, stats) = build(self.gpu, &program)?;
        crate::logging::init();
        tracing::info!(
            target: "kiln::cuda",
            "kernel `{}`: {} from {:?} in {} (loaded in {})",
            program.kernel,
            stats.kind.extension(),
            stats.origin,
            crate::util::duration(stats.compile_seconds),
            crate::util::duration(stats.total_seconds - stats.compile_seconds)
        );
        let buffers = Buffers::new(self.gpu)?;
        Ok(Arc::new(CudaKernel {
            gpu: self.gpu,
            program,
            loaded,
            buffers: Mutex::new(buffers),
            stats,
        }))
    }

    fn device(&self) -> DeviceId {
        resident::device_id(self.gpu)
    }

    fn has_device_memory(&self) -> bool {
        true
    }

    fn alloc(&self, elem: ir::ScalarType, len: usize) -> Result<DeviceBuffer> {
        resident::alloc(self.gpu, &self.transfers, elem, len)
    }

    fn upload(&self, data: &ArrayData<'_>) -> Result<DeviceBuffer> {
        resident::upload(self.gpu, &self.transfers, data)
    }

    fn upload_into(&self, dst: &mut DeviceBuffer, data: &ArrayData<'_>) -> Result<()> {
        resident::upload_into(&self.transfers, dst, data)
    }

    fn download(&self, src: &DeviceBuffer, dst: &mut ArrayDataMut<'_>) -> Result<()> {
        resident::download(&self.transfers, src, dst)
    }
}

/// A kernel loaded on the device with its reusable buffers. Launches of one
/// kernel are serialised (they share the buffers); different kernels run
/// on their own streams.
pub struct CudaKernel {
    gpu: &'static Gpu,
    program: GpuProgram,
    loaded: LoadedModule,
    buffers: Mutex<Buffers>,
    stats: CompileStats,
}

impl CudaKernel {
    pub fn program(&self) -> &GpuProgram {
        &self.program
    }

    pub fn stats(&self) -> CompileStats {
        self.stats
    }
}

impl CompiledKernel for CudaKernel {
    fn launch(&self, args: &mut [Arg]) -> Result<Option<Value>> {
        // A panic while holding the lock leaves buffers that are only
        // reallocated or overwritten by the next launch: still usable.
        let mut buffers = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        let mut launch = device::Launch {
            gpu: self.gpu,
            program: &self.program,
            module: &self.loaded,
            buffers: &mut buffers,
            resident: Vec::new(),
        };
        crate::gpu::host::run(&self.program, &mut launch, args)
    }
}
