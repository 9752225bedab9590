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

/// Blocks resident per SM at 256 threads per block (2048 threads per SM on
/// every architecture since Maxwell, except 1536 on sm_86/89; a smaller
/// real limit only means a second wave of blocks, never wrong results).
const BLOCKS_PER_SM: u32 = 8;

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
    Ok(Gpu {
        ctx,
        info,
        driver_version,
    })
}

impl Gpu {
    /// Whether PTX from NVRTC `version` can be JIT-compiled by this driver:
    /// a driver older than NVRTC rejects its PTX ISA version.
    pub fn accepts_ptx_of(&self, nvrtc_version: (i32, i32)) -> bool {
        self.driver_version >= nvrtc_version.0 * 1000 + nvrtc_version.1 * 10
    }

    /// The most blocks one dispatch gets: a full wave of the device.
    pub fn max_groups(&self) -> u32 {
        self.info.sms.saturating_mul(BLOCKS_PER_SM).max(1)
    }
}

pub fn driver_error(context: &str, e: DriverError) -> Error {
    Error::Backend {
        backend: "cuda".into(),
        message: format!("{context}: {e}"),
    }
}

/// Whether loading failed because the driver is older than the PTX.
pub fn is_ptx_too_new(e: &DriverError) -> bool {
    matches!(
        e.0,
        sys::CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION
            | sys::CUresult::CUDA_ERROR_INVALID_PTX
            | sys::CUresult::CUDA_ERROR_JIT_COMPILER_NOT_FOUND
    )
}

/// A compiled module loaded into the context, with its entry points.
pub struct LoadedModule {
    pub module: Arc<CudaModule>,
    /// Indexed like `GpuProgram::entries`.
    pub functions: Vec<CudaFunction>,
    pub block_sizes: Vec<u32>,
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
        for entry in &program.entries {
            functions.push(module.load_function(&entry.name)?);
            block_sizes.push(entry.workgroup_size.max(1));
        }
        Ok(LoadedModule {
            module,
            functions,
            block_sizes,
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
        let mut pointers = Vec::with_capacity(self.program.bindings.len());
        for binding in &self.program.bindings {
            pointers.push(match binding.kind {
                BindingKind::Frame => ptr(&b.frame, "frame")?,
                BindingKind::Error => ptr(&b.error, "error")?,
                BindingKind::Partials => ptr(&b.partials, "partials")?,
                BindingKind::Array(a) => match self.resident.get(a.index()).copied().flatten() {
                    Some(pointer) => pointer,
                    None => ptr(b.arrays.get(a.index()).unwrap_or(&None), "array")?,
                },
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
    fn max_groups(&self) -> u32 {
        self.gpu.max_groups()
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
            // A caller-owned buffer is bound in place: no own copy.
            if let ArrayBinding::Temporary { bytes } = binding {
                ensure(&stream, slot, *bytes)?;
            }
        }
        for (buffer, what) in [
            (&mut b.frame, "frame"),
            (&mut b.error, "error"),
            (&mut b.partials, "partials"),
        ] {
            let buffer = buffer.as_mut().ok_or_else(|| Error::Backend {
                backend: "cuda".into(),
                message: format!("no {what} buffer"),
            })?;
            stream
                .memset_zeros(buffer)
                .map_err(|e| driver_error(&format!("cannot clear the {what} buffer"), e))?;
        }
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
            grid_dim: (groups.clamp(1, self.max_groups().max(1)), 1, 1),
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
