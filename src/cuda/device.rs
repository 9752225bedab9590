//! The CUDA device through cudarc: driver detection, the context, module
//! loading (PTX, or CUBIN when the driver is older than NVRTC), and one
//! launch's buffers as a [`GpuDevice`] for the shared host driver.
//!
//! cudarc panics when `libcuda` cannot be loaded, so [`driver`] checks with
//! `is_culib_present()` first; every later call goes through `Result`s.

use super::nvrtc::Arch;
use crate::error::{Error, Result};
use crate::gpu::host::{ArrayBinding, GpuDevice, LaunchLayout};
use crate::gpu::{BindingKind, GpuProgram, ERROR_WORDS};
use cudarc::driver::sys::{self, CUdevice_attribute as Attr};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, DriverError,
    LaunchConfig,
};
use std::sync::{Arc, OnceLock};

/// The environment variable choosing the device ordinal (default 0).
pub const DEVICE_ENV: &str = "KILN_CUDA_DEVICE";

/// Blocks resident per SM at 256 threads per block when the driver cannot
/// say (2048 threads per SM on every architecture since Maxwell, except
/// 1536 on sm_86/89). Each entry's own figure comes from
/// `cuOccupancyMaxActiveBlocksPerMultiprocessor`, which accounts for its
/// registers (38-40 registers per thread fit 6 blocks of 256 on an H100,
/// not 8: a grid of 8 per SM would run in 1.33 waves).
const BLOCKS_PER_SM: u32 = 8;

/// The most blocks one dispatch of an entry gets: one full wave, `sms`
/// times the blocks that fit on an SM (`occupancy`, from the driver; the
/// default when it could not say or said 0).
pub fn groups_per_wave(sms: u32, occupancy: Option<u32>) -> u32 {
    let per_sm = occupancy.filter(|&b| b > 0).unwrap_or(BLOCKS_PER_SM);
    sms.max(1).saturating_mul(per_sm).max(1)
}

/// What `kiln devices` shows about one CUDA device.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceInfo {
    pub ordinal: usize,
    pub name: String,
    pub sms: u32,
    pub arch: Arch,
    pub memory_bytes: usize,
}

impl std::fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cuda:{} {} ({} SMs, compute capability {}.{}, {:.1} GiB)",
            self.ordinal,
            self.name,
            self.sms,
            self.arch.major,
            self.arch.minor,
            self.memory_bytes as f64 / (1u64 << 30) as f64
        )
    }
}

/// The initialised driver: its version (`13000` for CUDA 13.0).
fn driver() -> std::result::Result<i32, String> {
    static DRIVER: OnceLock<std::result::Result<i32, String>> = OnceLock::new();
    DRIVER
        .get_or_init(|| {
            // SAFETY: only probes whether the library can be opened.
            if !unsafe { sys::is_culib_present() } {
                return Err("no CUDA driver (libcuda.so) was found".to_string());
            }
            // cudarc panics on a missing symbol: contain it once, here.
            std::panic::catch_unwind(|| {
                cudarc::driver::result::init().map_err(|e| match e.0 {
                    sys::CUresult::CUDA_ERROR_NO_DEVICE => {
                        "the CUDA driver is installed but found no device".to_string()
                    }
                    _ => format!("the CUDA driver failed to initialise: {e}"),
                })?;
                let mut version = 0;
                // SAFETY: the driver is initialised; valid out-pointer.
                unsafe { sys::cuDriverGetVersion(&mut version) }
                    .result()
                    .map_err(|e| format!("cuDriverGetVersion failed: {e}"))?;
                Ok(version)
            })
            .unwrap_or_else(|_| Err("the CUDA driver library lacks a required symbol".into()))
        })
        .clone()
}

fn device_info(ordinal: usize) -> std::result::Result<DeviceInfo, DriverError> {
    use cudarc::driver::result::device;
    let dev = device::get(ordinal as i32)?;
    // SAFETY: `dev` comes from cuDeviceGet.
    let attr = |a: Attr| unsafe { device::get_attribute(dev, a) };
    Ok(DeviceInfo {
        ordinal,
        name: device::get_name(dev)?,
        sms: attr(Attr::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?.max(1) as u32,
        arch: Arch {
            major: attr(Attr::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?.max(0) as u32,
            minor: attr(Attr::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?.max(0) as u32,
        },
        // SAFETY: as above.
        memory_bytes: unsafe { device::total_mem(dev) }?,
    })
}

/// Every CUDA device, or why there are none.
pub fn devices() -> std::result::Result<Vec<DeviceInfo>, String> {
    driver()?;
    let count = cudarc::driver::result::device::get_count()
        .map_err(|e| format!("cannot count CUDA devices: {e}"))?;
    if count <= 0 {
        return Err("the CUDA driver found no device".into());
    }
    (0..count as usize)
        .map(|i| device_info(i).map_err(|e| format!("cannot query CUDA device {i}: {e}")))
        .collect()
}

/// The device kiln launches on, with its context.
pub struct Gpu {
    pub ctx: Arc<CudaContext>,
    pub info: DeviceInfo,
    /// `cuDriverGetVersion`: 13000 for CUDA 13.0.
    pub driver_version: i32,
}

/// The chosen device (`KILN_CUDA_DEVICE`, default 0), created once.
pub fn gpu() -> std::result::Result<&'static Gpu, String> {
    static GPU: OnceLock<std::result::Result<Gpu, String>> = OnceLock::new();
    GPU.get_or_init(open).as_ref().map_err(|e| e.clone())
}

fn open() -> std::result::Result<Gpu, String> {
    let driver_version = driver()?;
    let all = devices()?;
    let ordinal = match std::env::var(DEVICE_ENV) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<usize>()
            .map_err(|_| format!("{DEVICE_ENV}={v:?} is not a device number"))?,
        _ => 0,
    };
    let info = all.get(ordinal).cloned().ok_or_else(|| {
        format!(
            "{DEVICE_ENV}={ordinal} but there {} only {} CUDA device(s)",
            if all.len() == 1 { "is" } else { "are" },
            all.len()
        )
    })?;
    let ctx = CudaContext::new(ordinal)
        .map_err(|e| format!("cannot create a context on CUDA device {ordinal}: {e}"))?;
    // Each buffer is only ever used on the stream of the one kernel that
    // owns it, so cudarc's cross-stream events would only add overhead.
    // SAFETY: no buffer is shared between streams (see `Buffers`).
    unsafe { ctx.disable_event_tracking() };
    let pool = keep_freed_memory(&ctx);
    crate::logging::init();
    tracing::info!(
        target: "kiln::cuda",
        "CUDA driver {} ({driver_version}), device {info}; memory pool: {pool}",
        version_text(driver_version),
    );
    Ok(Gpu {
        ctx,
        info,
        driver_version,
    })
}

/// `13000` as `13.0`.
pub fn version_text(version: i32) -> String {
    format!("{}.{}", version / 1000, version % 1000 / 10)
}

/// Sets the device's default memory pool (behind cudarc's `cuMemAllocAsync`)
/// to keep freed memory instead of returning it to the OS at every
/// synchronisation (the release threshold defaults to 0), so buffers freed
/// and allocated again cost no driver round trip. Returns what it did.
fn keep_freed_memory(ctx: &Arc<CudaContext>) -> String {
    let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
    let mut threshold: u64 = u64::MAX;
    // SAFETY: valid out-pointer and attribute value (a cuuint64_t, as the
    // attribute requires); the device handle comes from the context.
    let outcome = unsafe {
        sys::cuDeviceGetDefaultMemPool(&mut pool, ctx.cu_device())
            .result()
            .and_then(|()| {
                sys::cuMemPoolSetAttribute(
                    pool,
                    sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                    &mut threshold as *mut u64 as *mut std::ffi::c_void,
                )
                .result()
            })
    };
    match outcome {
        Ok(()) => "freed memory kept (release threshold unlimited)".into(),
        Err(e) => format!("release threshold left at the default ({e})"),
    }
}

impl Gpu {
    /// The most blocks one dispatch gets when the entry's own occupancy is
    /// unknown: a full wave of the device at the default occupancy.
    pub fn max_groups(&self) -> u32 {
        groups_per_wave(self.info.sms, None)
    }
}

/// CUDA errors after which the context is unusable for the rest of the
/// process ("sticky" errors: every later call fails with them). A kernel
/// that faults on the device (an access outside any allocation, a trap)
/// causes one; kiln's bounds checks are meant to make this impossible, so
/// it means a kiln bug or a broken device.
pub fn is_sticky(code: sys::CUresult) -> bool {
    use sys::CUresult as R;
    matches!(
        code,
        R::CUDA_ERROR_ILLEGAL_ADDRESS
            | R::CUDA_ERROR_MISALIGNED_ADDRESS
            | R::CUDA_ERROR_INVALID_ADDRESS_SPACE
            | R::CUDA_ERROR_INVALID_PC
            | R::CUDA_ERROR_ILLEGAL_INSTRUCTION
            | R::CUDA_ERROR_HARDWARE_STACK_ERROR
            | R::CUDA_ERROR_LAUNCH_FAILED
            | R::CUDA_ERROR_LAUNCH_TIMEOUT
            | R::CUDA_ERROR_ASSERT
            | R::CUDA_ERROR_ECC_UNCORRECTABLE
            | R::CUDA_ERROR_CONTEXT_IS_DESTROYED
    )
}

/// The message of a failed driver call (`e`, with `text`: the driver's
/// description of it), and whether the error is sticky: then it says that
/// a kernel failed on the device (whichever call noticed it: a copy, a
/// synchronisation) and that the context is lost.
pub fn describe_driver_error(context: &str, e: &DriverError, text: &str) -> (String, bool) {
    if is_sticky(e.0) {
        (
            format!(
                "a kernel failed on the device ({text}; reported by the next driver call: {context}); \
                 the CUDA context is unusable for the rest of this process, so the cuda \
                 backend is unavailable from now on (restart the process)"
            ),
            true,
        )
    } else {
        (format!("{context}: {text}"), false)
    }
}

static CONTEXT_LOST: OnceLock<String> = OnceLock::new();

/// Why the process's CUDA context is lost (the first sticky error), if it
/// is: the engine then refuses launches and `auto` stops choosing CUDA.
pub fn context_lost() -> Option<&'static str> {
    CONTEXT_LOST.get().map(String::as_str)
}

/// The error of a failed driver call; a sticky one marks the context lost.
pub fn driver_error(context: &str, e: DriverError) -> Error {
    // Display asks the driver for the error's text (cuGetErrorString).
    let (message, sticky) = describe_driver_error(context, &e, &e.to_string());
    if sticky {
        let _ = CONTEXT_LOST.set(message.clone());
        crate::logging::init();
        tracing::warn!(target: "kiln::cuda", "{message}");
    }
    Error::Backend {
        backend: "cuda".into(),
        message,
    }
}

/// Whether loading failed because the driver cannot JIT-compile this
/// PTX at all (its ISA version is newer than the driver's, or the driver
/// has no PTX compiler), so a CUBIN is the way to go. A PTX the driver
/// finds invalid is a real error, reported with the JIT log.
pub fn is_ptx_too_new(e: &DriverError) -> bool {
    matches!(
        e.0,
        sys::CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION
            | sys::CUresult::CUDA_ERROR_JIT_COMPILER_NOT_FOUND
    )
}

/// The driver's log of loading `image` (`cuModuleLoadDataEx` with error and
/// info log buffers): asked for again after `cuModuleLoadData` failed,
/// which gives no log.
pub fn load_log(gpu: &Gpu, image: &[u8]) -> String {
    use sys::CUjit_option as O;
    const LOG: usize = 16 * 1024;
    let mut error_log = vec![0u8; LOG];
    let mut info_log = vec![0u8; LOG];
    let mut options = [
        O::CU_JIT_ERROR_LOG_BUFFER,
        O::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
        O::CU_JIT_INFO_LOG_BUFFER,
        O::CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
    ];
    let mut values: [*mut std::ffi::c_void; 4] = [
        error_log.as_mut_ptr().cast(),
        LOG as *mut std::ffi::c_void,
        info_log.as_mut_ptr().cast(),
        LOG as *mut std::ffi::c_void,
    ];
    if gpu.ctx.bind_to_thread().is_err() {
        return String::new();
    }
    let mut module: sys::CUmodule = std::ptr::null_mut();
    // SAFETY: `image` is a complete PTX (NUL-terminated) or CUBIN image; the
    // option values are the buffers and their sizes, which outlive the call.
    let status = unsafe {
        sys::cuModuleLoadDataEx(
            &mut module,
            image.as_ptr().cast(),
            options.len() as u32,
            options.as_mut_ptr(),
            values.as_mut_ptr(),
        )
    };
    if status == sys::CUresult::CUDA_SUCCESS && !module.is_null() {
        // SAFETY: loaded just above, used by nothing else.
        unsafe {
            let _ = sys::cuModuleUnload(module);
        }
    }
    let text = |bytes: &[u8]| {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        String::from_utf8_lossy(&bytes[..end]).trim().to_string()
    };
    [text(&error_log), text(&info_log)]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Makes a context current on the calling thread before something of it
/// is freed: cudarc frees device memory (`CudaSlice::drop`) without
/// binding its context, which fails on a thread where none is current.
pub trait MakeCurrent {
    fn make_current(&self);
}

impl MakeCurrent for CudaContext {
    fn make_current(&self) {
        // SAFETY: the context is alive (borrowed); errors are ignored, as in
        // any destructor (cudarc records the free's own outcome).
        unsafe {
            let _ = cudarc::driver::result::ctx::set_current(self.cu_ctx());
        }
    }
}

/// A value (device memory) whose context is made current before it drops:
/// `Drop` of the wrapper runs before its fields are dropped.
pub struct ContextFirst<T, C: MakeCurrent = CudaContext> {
    ctx: Arc<C>,
    value: T,
}

impl<T, C: MakeCurrent> ContextFirst<T, C> {
    pub fn new(ctx: Arc<C>, value: T) -> Self {
        ContextFirst { ctx, value }
    }
}

impl<T, C: MakeCurrent> std::ops::Deref for ContextFirst<T, C> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T, C: MakeCurrent> std::ops::DerefMut for ContextFirst<T, C> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T, C: MakeCurrent> Drop for ContextFirst<T, C> {
    fn drop(&mut self) {
        self.ctx.make_current();
    }
}

/// A compiled module loaded into the context, with its entry points.
pub struct LoadedModule {
    pub module: Arc<CudaModule>,
    /// Indexed like `GpuProgram::entries`.
    pub functions: Vec<CudaFunction>,
    pub block_sizes: Vec<u32>,
    /// Per entry: one full wave of blocks, from the entry's occupancy.
    pub max_groups: Vec<u32>,
    /// Per entry: registers per thread (`None`: the driver did not say).
    pub registers: Vec<Option<i32>>,
}

impl LoadedModule {
    /// Loads `image` (PTX with its NUL, or CUBIN) and finds every entry.
    pub fn load(
        gpu: &Gpu,
        image: &[u8],
        program: &GpuProgram,
    ) -> std::result::Result<LoadedModule, DriverError> {
        let module = gpu
            .ctx
            .load_module(cudarc::nvrtc::Ptx::from_binary(image.to_vec()))?;
        let mut functions = Vec::new();
        let mut block_sizes = Vec::new();
        let mut max_groups = Vec::new();
        let mut registers = Vec::new();
        for entry in &program.entries {
            let function = module.load_function(&entry.name)?;
            let block = entry.workgroup_size.max(1);
            let occupancy = function
                .occupancy_max_active_blocks_per_multiprocessor(block, 0, None)
                .ok();
            max_groups.push(groups_per_wave(gpu.info.sms, occupancy));
            registers.push(function.num_regs().ok());
            functions.push(function);
            block_sizes.push(block);
        }
        Ok(LoadedModule {
            module,
            functions,
            block_sizes,
            max_groups,
            registers,
        })
    }
}

/// A kernel's device buffers, reused across launches (grown when an
/// argument is larger than before, never shrunk).
pub struct Buffers {
    stream: Arc<CudaStream>,
    frame: Option<CudaSlice<u8>>,
    error: Option<CudaSlice<u8>>,
    partials: Option<CudaSlice<u8>>,
    arrays: Vec<Option<CudaSlice<u8>>>,
    /// The pointers last written to the module's `kiln_b` constant.
    bound: Vec<u64>,
}

impl Buffers {
    pub fn new(gpu: &Gpu) -> Result<Buffers> {
        let stream = gpu
            .ctx
            .new_stream()
            .map_err(|e| driver_error("cannot create a stream", e))?;
        Ok(Buffers {
            stream,
            frame: None,
            error: None,
            partials: None,
            arrays: Vec::new(),
            bound: Vec::new(),
        })
    }

    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }
}

impl Drop for Buffers {
    /// The buffers are freed after this (fields drop after `drop`), with
    /// the context current: a kernel may be dropped on any thread.
    fn drop(&mut self) {
        self.stream.context().make_current();
    }
}

/// Reuses `slot` when it holds at least `bytes`, else allocates anew
/// (at least 8 bytes: a zero-size allocation has no valid pointer).
fn ensure(stream: &Arc<CudaStream>, slot: &mut Option<CudaSlice<u8>>, bytes: usize) -> Result<()> {
    let bytes = bytes.max(8);
    if slot.as_ref().is_some_and(|s| s.len() >= bytes) {
        return Ok(());
    }
    // Free first, so a grown buffer does not need room for both.
    *slot = None;
    // SAFETY: `u8` has no invalid bit patterns; contents are written before
    // they are read (or zeroed in `begin`).
    let fresh = unsafe { stream.alloc::<u8>(bytes) }
        .map_err(|e| driver_error(&format!("cannot allocate {bytes} bytes"), e))?;
    *slot = Some(fresh);
    Ok(())
}

/// What one field of the module's `kiln_b` constant points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindSource {
    Frame,
    Error,
    Partials,
    /// The kernel's own (pooled) buffer for array `usize`: a host array.
    Own(usize),
    /// A caller-owned device buffer (a managed `kiln::Array` or an
    /// `Arg::Device`): its pointer, bound in place.
    Caller(u64),
}

/// Decides what each binding points at: caller-owned buffers (`resident`,
/// by `ArrayId`: `Some(pointer)`) in place of the kernel's own buffer,
/// whatever an earlier launch of the kernel bound there.
pub fn plan_bindings(bindings: &[BindingKind], resident: &[Option<u64>]) -> Vec<BindSource> {
    bindings
        .iter()
        .map(|binding| match binding {
            BindingKind::Frame => BindSource::Frame,
            BindingKind::Error => BindSource::Error,
            BindingKind::Partials => BindSource::Partials,
            BindingKind::Array(a) => match resident.get(a.index()).copied().flatten() {
                Some(pointer) => BindSource::Caller(pointer),
                None => BindSource::Own(a.index()),
            },
        })
        .collect()
}

/// The device pointer of each caller-owned buffer of `layout` (by
/// `ArrayId`), checking that it lives on this kernel's device.
fn resident_pointers(
    gpu: &Gpu,
    program: &GpuProgram,
    layout: &LaunchLayout,
    stream: &Arc<CudaStream>,
) -> Result<Vec<Option<u64>>> {
    let here = super::resident::device_id(gpu);
    let mut pointers = Vec::with_capacity(layout.arrays.len());
    for (a, binding) in layout.arrays.iter().enumerate() {
        pointers.push(match binding {
            ArrayBinding::Temporary { .. } => None,
            ArrayBinding::Buffer(buffer) if buffer.device() != here => {
                return Err(Error::Backend {
                    backend: "cuda".into(),
                    message: format!(
                        "array `{}` is on {}, not on this kernel's {here}",
                        program.arrays.get(a).map_or("?", |x| x.name.as_str()),
                        buffer.device(),
                    ),
                })
            }
            ArrayBinding::Buffer(buffer) => Some(super::resident::pointer(buffer, stream)?),
        });
    }
    Ok(pointers)
}

/// One launch: a loaded module and its buffers, driven by
/// `gpu::host::run`.
pub struct Launch<'a> {
    pub gpu: &'a Gpu,
    pub program: &'a GpuProgram,
    pub module: &'a LoadedModule,
    pub buffers: &'a mut Buffers,
    /// Per array (`ArrayId` order): the device pointer of a caller-owned
    /// buffer (`ArrayBinding::Buffer`), bound instead of the kernel's own
    /// buffer; `None` for host arrays. Set by `begin`.
    pub resident: Vec<Option<u64>>,
}

impl Launch<'_> {
    fn slot<'b>(slot: &'b Option<CudaSlice<u8>>, what: &str) -> Result<&'b CudaSlice<u8>> {
        slot.as_ref().ok_or_else(|| Error::Backend {
            backend: "cuda".into(),
            message: format!("the {what} buffer is used before `begin`"),
        })
    }

    fn array(&mut self, array: usize) -> Result<&mut CudaSlice<u8>> {
        if self.resident.get(array).copied().flatten().is_some() {
            return Err(Error::Backend {
                backend: "cuda".into(),
                message: format!("array binding {array} is resident: the runtime copies it"),
            });
        }
        self.buffers
            .arrays
            .get_mut(array)
            .and_then(Option::as_mut)
            .ok_or_else(|| Error::Backend {
                backend: "cuda".into(),
                message: format!("array binding {array} is used before `begin`"),
            })
    }

    /// Writes the buffer pointers into the module's `kiln_b` constant
    /// (field order = binding order) when they changed since last time.
    fn bind(&mut self) -> Result<()> {
        let b = &*self.buffers;
        let stream = &b.stream;
        let ptr = |s: &Option<CudaSlice<u8>>, what: &str| -> Result<u64> {
            Ok(Self::slot(s, what)?.device_ptr(stream).0)
        };
        let kinds: Vec<BindingKind> = self.program.bindings.iter().map(|b| b.kind).collect();
        let mut pointers = Vec::with_capacity(kinds.len());
        for source in plan_bindings(&kinds, &self.resident) {
            pointers.push(match source {
                BindSource::Frame => ptr(&b.frame, "frame")?,
                BindSource::Error => ptr(&b.error, "error")?,
                BindSource::Partials => ptr(&b.partials, "partials")?,
                BindSource::Caller(pointer) => pointer,
                BindSource::Own(a) => ptr(b.arrays.get(a).unwrap_or(&None), "array")?,
            });
        }
        if pointers == b.bound {
            return Ok(());
        }
        let bytes: Vec<u8> = pointers.iter().flat_map(|p| p.to_le_bytes()).collect();
        let mut symbol = self
            .module
            .module
            .get_global(super::cuda_c::BINDINGS_SYMBOL, stream)
            .map_err(|e| driver_error("cannot find the bindings constant", e))?;
        if symbol.len() < bytes.len() {
            return Err(Error::Backend {
                backend: "cuda".into(),
                message: format!(
                    "the bindings constant has {} bytes, {} needed",
                    symbol.len(),
                    bytes.len()
                ),
            });
        }
        stream
            .memcpy_htod(&bytes[..], &mut symbol)
            .map_err(|e| driver_error("cannot write the bindings constant", e))?;
        self.buffers.bound = pointers;
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        self.buffers
            .stream
            .synchronize()
            .map_err(|e| driver_error("the kernel failed on the device", e))
    }
}

impl GpuDevice for Launch<'_> {
    fn max_groups(&self, entry: usize) -> u32 {
        self.module
            .max_groups
            .get(entry)
            .copied()
            .unwrap_or_else(|| self.gpu.max_groups())
    }

    fn begin(&mut self, layout: &LaunchLayout) -> Result<()> {
        self.resident = resident_pointers(self.gpu, self.program, layout, &self.buffers.stream)?;
        let b = &mut *self.buffers;
        let stream = b.stream.clone();
        ensure(&stream, &mut b.frame, layout.frame_slots * 8)?;
        ensure(&stream, &mut b.error, ERROR_WORDS * 4)?;
        ensure(&stream, &mut b.partials, layout.partial_slots.max(1) * 8)?;
        b.arrays.resize_with(layout.arrays.len(), || None);
        for (slot, binding) in b.arrays.iter_mut().zip(&layout.arrays) {
            match binding {
                ArrayBinding::Temporary { bytes } => ensure(&stream, slot, *bytes)?,
                // A caller-owned buffer is bound in place: the kernel's own
                // buffer for that array (an earlier host launch's) is freed,
                // so nothing can bind or copy it by mistake.
                ArrayBinding::Buffer(_) => *slot = None,
            }
        }
        // Only the error record needs zeros: the host writes every frame
        // slot before the first dispatch, and each parallel entry writes
        // the partials of all its blocks before its combine reads them.
        let error = b.error.as_mut().ok_or_else(|| Error::Backend {
            backend: "cuda".into(),
            message: "no error buffer".into(),
        })?;
        stream
            .memset_zeros(error)
            .map_err(|e| driver_error("cannot clear the error record", e))?;
        self.bind()
    }

    fn upload_array(&mut self, array: usize, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let stream = self.buffers.stream.clone();
        let buffer = self.array(array)?;
        if buffer.len() < bytes.len() {
            return Err(Error::Backend {
                backend: "cuda".into(),
                message: format!("array {array} has {} bytes on the device", bytes.len()),
            });
        }
        let mut view = buffer.slice_mut(0..bytes.len());
        stream
            .memcpy_htod(bytes, &mut view)
            .map_err(|e| driver_error("cannot copy an array to the device", e))
    }

    fn download_array(&mut self, array: usize, out: &mut [u8]) -> Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        let stream = self.buffers.stream.clone();
        let buffer = self.array(array)?;
        if buffer.len() < out.len() {
            return Err(Error::Backend {
                backend: "cuda".into(),
                message: format!("array {array} is smaller on the device than on the host"),
            });
        }
        let view = buffer.slice(0..out.len());
        stream
            .memcpy_dtoh(&view, out)
            .map_err(|e| driver_error("cannot copy an array from the device", e))?;
        self.sync()
    }

    fn write_frame(&mut self, first_slot: usize, slots: &[u64]) -> Result<()> {
        if slots.is_empty() {
            return Ok(());
        }
        let bytes: &[u8] = bytemuck::cast_slice(slots);
        let stream = self.buffers.stream.clone();
        let frame = self.buffers.frame.as_mut().ok_or_else(|| Error::Backend {
            backend: "cuda".into(),
            message: "the frame is written before `begin`".into(),
        })?;
        let (start, end) = (first_slot * 8, first_slot * 8 + bytes.len());
        if end > frame.len() {
            return Err(Error::Backend {
                backend: "cuda".into(),
                message: format!("frame slots {first_slot}.. are outside the frame"),
            });
        }
        let mut view = frame.slice_mut(start..end);
        stream
            .memcpy_htod(bytes, &mut view)
            .map_err(|e| driver_error("cannot write the frame", e))
    }

    fn read_frame(&mut self, first_slot: usize, out: &mut [u64]) -> Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        let stream = self.buffers.stream.clone();
        let frame = Self::slot(&self.buffers.frame, "frame")?;
        let (start, end) = (first_slot * 8, (first_slot + out.len()) * 8);
        if end > frame.len() {
            return Err(Error::Backend {
                backend: "cuda".into(),
                message: format!("frame slots {first_slot}.. are outside the frame"),
            });
        }
        let view = frame.slice(start..end);
        stream
            .memcpy_dtoh(&view, bytemuck::cast_slice_mut::<u64, u8>(out))
            .map_err(|e| driver_error("cannot read the frame", e))?;
        self.sync()
    }

    fn dispatch(&mut self, entry: usize, groups: u32) -> Result<()> {
        let (Some(function), Some(&block)) = (
            self.module.functions.get(entry),
            self.module.block_sizes.get(entry),
        ) else {
            return Err(Error::Backend {
                backend: "cuda".into(),
                message: format!("no entry point #{entry}"),
            });
        };
        let config = LaunchConfig {
            grid_dim: (groups.clamp(1, self.max_groups(entry).max(1)), 1, 1),
            block_dim: (block, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: entries take no parameters (buffers are reached through
        // the `kiln_b` constant, written in `begin`), and every buffer they
        // touch is at least as large as the layout the program was given.
        unsafe { self.buffers.stream.launch_builder(function).launch(config) }
            .map(|_| ())
            .map_err(|e| driver_error("cannot launch a kernel", e))
    }

    fn read_error(&mut self) -> Result<[u32; ERROR_WORDS]> {
        let stream = self.buffers.stream.clone();
        let error = Self::slot(&self.buffers.error, "error")?;
        let mut bytes = [0u8; ERROR_WORDS * 4];
        let view = error.slice(0..ERROR_WORDS * 4);
        stream
            .memcpy_dtoh(&view, &mut bytes[..])
            .map_err(|e| driver_error("cannot read the error record", e))?;
        self.sync()?;
        let mut words = [0u32; ERROR_WORDS];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        Ok(words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::ArrayId;
    use std::sync::Mutex;

    fn kinds() -> Vec<BindingKind> {
        vec![
            BindingKind::Frame,
            BindingKind::Error,
            BindingKind::Partials,
            BindingKind::Array(ArrayId(0)),
            BindingKind::Array(ArrayId(1)),
        ]
    }

    #[test]
    fn caller_buffers_are_bound_in_place_of_the_kernels_own() {
        // Array 0 is a managed array on the device, array 1 a host array.
        let plan = plan_bindings(&kinds(), &[Some(0xdead_0000), None]);
        assert_eq!(
            plan,
            [
                BindSource::Frame,
                BindSource::Error,
                BindSource::Partials,
                BindSource::Caller(0xdead_0000),
                BindSource::Own(1),
            ]
        );
    }

    #[test]
    fn a_host_launch_then_a_resident_launch_binds_the_callers_buffer() {
        // The first launch of the kernel passes host arrays (its own
        // buffers); the next passes array 0 resident: it must not bind the
        // first launch's buffer (stale reads, lost writes).
        let first = plan_bindings(&kinds(), &[None, None]);
        assert_eq!(first[3], BindSource::Own(0));
        let second = plan_bindings(&kinds(), &[Some(0x1000), Some(0x2000)]);
        assert_eq!(
            second[3..],
            [BindSource::Caller(0x1000), BindSource::Caller(0x2000)]
        );
        // And back to host arrays: the own buffers again.
        let third = plan_bindings(&kinds(), &[None, None]);
        assert_eq!(third, first);
    }

    #[test]
    fn a_wave_follows_the_entrys_occupancy() {
        // An H100 (132 SMs) at 6 blocks of 256 threads per SM (38-40
        // registers per thread): 792 blocks, not 1056.
        assert_eq!(groups_per_wave(132, Some(6)), 792);
        assert_eq!(groups_per_wave(132, None), 132 * BLOCKS_PER_SM);
        assert_eq!(groups_per_wave(132, Some(0)), 132 * BLOCKS_PER_SM);
        assert_eq!(groups_per_wave(0, Some(6)), 6);
    }

    #[test]
    fn sticky_errors_name_the_device_failure_not_the_copy() {
        use sys::CUresult as R;
        let (message, sticky) = describe_driver_error(
            "cannot copy an array from the device",
            &DriverError(R::CUDA_ERROR_ILLEGAL_ADDRESS),
            "CUDA_ERROR_ILLEGAL_ADDRESS",
        );
        assert!(sticky);
        assert!(
            message.starts_with("a kernel failed on the device"),
            "{message}"
        );
        assert!(
            message.contains("unusable for the rest of this process"),
            "{message}"
        );
        let (message, sticky) = describe_driver_error(
            "cannot allocate 8 bytes",
            &DriverError(R::CUDA_ERROR_OUT_OF_MEMORY),
            "CUDA_ERROR_OUT_OF_MEMORY",
        );
        assert!(!sticky);
        assert!(
            message.starts_with("cannot allocate 8 bytes: "),
            "{message}"
        );
        assert!(!is_sticky(R::CUDA_ERROR_INVALID_PTX));
        assert!(is_sticky(R::CUDA_ERROR_LAUNCH_FAILED));
    }

    #[test]
    fn the_context_is_made_current_before_memory_is_freed() {
        static EVENTS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
        struct Ctx;
        impl MakeCurrent for Ctx {
            fn make_current(&self) {
                EVENTS.lock().unwrap().push("make current");
            }
        }
        struct Memory;
        impl Drop for Memory {
            fn drop(&mut self) {
                EVENTS.lock().unwrap().push("free");
            }
        }
        let guarded = ContextFirst::new(Arc::new(Ctx), Memory);
        // Dropped on another thread, as the runtime may.
        std::thread::spawn(move || drop(guarded)).join().unwrap();
        assert_eq!(*EVENTS.lock().unwrap(), ["make current", "free"]);
    }
}
