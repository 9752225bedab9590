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

/// Set once the driver refused to JIT-compile a PTX (its ISA version is
/// newer than the driver's, or the driver has no PTX compiler): a property
/// of this driver and NVRTC, so later kernels go straight to CUBIN. A PTX
/// the driver finds invalid does not set it: that is an error of its own.
static PREFER_CUBIN: AtomicBool = AtomicBool::new(false);

/// The module format for a driver of version `driver` (`13000` for 13.0)
/// and NVRTC `nvrtc` (`(13, 0)`): PTX when the driver is at least as new as
/// NVRTC (and has not refused NVRTC's PTX before: `ptx_refused`); else a
/// CUBIN, which loads on any driver of NVRTC's major version or newer (CUDA
/// minor-version compatibility). A driver of an older major version can
/// load neither: an error saying what to change.
pub fn image_kind(driver: i32, nvrtc: (i32, i32), ptx_refused: bool) -> Result<ImageKind> {
    let nvrtc_number = nvrtc.0 * 1000 + nvrtc.1 * 10;
    if driver >= nvrtc_number && !ptx_refused {
        return Ok(ImageKind::Ptx);
    }
    if driver / 1000 >= nvrtc.0 {
        return Ok(ImageKind::Cubin);
    }
    Err(unavailable(format!(
        "NVRTC {}.{} is newer than the CUDA driver ({}): the driver can load neither its \
         PTX nor its CUBIN; update the driver, or set KILN_NVRTC_LIB to an NVRTC of CUDA {}",
        nvrtc.0,
        nvrtc.1,
        device::version_text(driver),
        driver / 1000
    )))
}

/// Compiles for the device and loads the module: PTX unless the driver is
/// older than NVRTC, with a CUBIN retry when the driver refuses the PTX's
/// version. A failed load carries the driver's JIT log.
fn build(gpu: &Gpu, program: &GpuProgram) -> Result<(LoadedModule, CompileStats)> {
    let lib = nvrtc::library().map_err(unavailable)?;
    let start = Instant::now();
    let mut kind = image_kind(
        gpu.driver_version,
        lib.version,
        PREFER_CUBIN.load(Ordering::Relaxed),
    )?;
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
                let retry = image_kind(gpu.driver_version, lib.version, true)?;
                crate::logging::init();
                tracing::info!(
                    target: "kiln::cuda",
                    "the driver ({}) refused NVRTC {}'s PTX ({e}): CUBIN from now on",
                    device::version_text(gpu.driver_version),
                    lib.version_string()
                );
                PREFER_CUBIN.store(true, Ordering::Relaxed);
                kind = retry;
            }
            Err(e) => {
                let log = device::load_log(gpu, &image.bytes);
                let mut error = device::driver_error(
                    &format!(
                        "cannot load the {} of kernel `{}`",
                        kind.extension(),
                        program.kernel
                    ),
                    e,
                );
                if let Error::Backend { message, .. } = &mut error {
                    if !log.is_empty() {
                        message.push_str("\ndriver JIT log:\n");
                        message.push_str(&log);
                    }
                }
                return Err(error);
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

    fn auto_candidate(&self) -> bool {
        device::context_lost().is_none()
    }

    fn adapter_name(&self) -> String {
        self.gpu.info.name.clone()
    }

    fn compile(
        &self,
        module: &Arc<ir::Module>,
        kernel: ir::FuncId,
    ) -> Result<Arc<dyn CompiledKernel>> {
        refuse_if_lost()?;
        let program = generate(module, kernel)?;
        let (loaded, stats) = build(self.gpu, &program)?;
        crate::logging::init();
        tracing::info!(
            target: "kiln::cuda",
            "kernel `{}`: {} for sm_{} from {:?} in {} (loaded in {}); registers per entry {:?}, blocks per wave {:?}",
            program.kernel,
            stats.kind.extension(),
            self.gpu.info.arch.number(),
            stats.origin,
            crate::util::duration(stats.compile_seconds),
            crate::util::duration(stats.total_seconds - stats.compile_seconds),
            loaded.registers.iter().map(|r| r.unwrap_or(-1)).collect::<Vec<_>>(),
            loaded.max_groups
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

/// After a sticky error the context fails every call: say why up front.
fn refuse_if_lost() -> Result<()> {
    match device::context_lost() {
        Some(why) => Err(unavailable(why.to_string())),
        None => Ok(()),
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
        refuse_if_lost()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ptx_only_on_a_driver_as_new_as_nvrtc() {
        assert_eq!(image_kind(13000, (13, 0), false).unwrap(), ImageKind::Ptx);
        assert_eq!(image_kind(13020, (13, 0), false).unwrap(), ImageKind::Ptx);
        // 13.0 driver, NVRTC 13.5: same major, so a CUBIN loads.
        assert_eq!(image_kind(13000, (13, 5), false).unwrap(), ImageKind::Cubin);
        // The driver refused the PTX once: CUBIN, same major only.
        assert_eq!(image_kind(13050, (13, 5), true).unwrap(), ImageKind::Cubin);
    }

    #[test]
    fn a_cubin_of_a_newer_major_is_refused_with_the_way_out() {
        let e = image_kind(12040, (13, 0), false).unwrap_err().to_string();
        assert!(
            e.contains("NVRTC 13.0 is newer than the CUDA driver (12.4)"),
            "{e}"
        );
        assert!(e.contains("KILN_NVRTC_LIB"), "{e}");
        assert!(image_kind(12080, (13, 0), true).is_err());
    }

    #[test]
    fn invalid_ptx_does_not_switch_to_cubin() {
        use cudarc::driver::sys::CUresult as R;
        use cudarc::driver::DriverError;
        assert!(device::is_ptx_too_new(&DriverError(
            R::CUDA_ERROR_UNSUPPORTED_PTX_VERSION
        )));
        assert!(!device::is_ptx_too_new(&DriverError(
            R::CUDA_ERROR_INVALID_PTX
        )));
    }
}
