//! The contract every backend implements, below all of them: [`Engine`]
//! (compiles IR kernels, owns device memory), [`CompiledKernel`] (launches),
//! [`DeviceBuffer`], the launch argument types and the backend names.
//! Backends import this module and the IR, never the runtime; the runtime
//! reaches the backends only through the table in `crate::backends`.

pub mod args;
pub mod backend;
pub mod device;
pub mod fault;

pub use backend::{Backend, BackendKind, ParseBackendError};
pub use device::{DeviceBuffer, DeviceId, Transfers};

use crate::error::Result;
use crate::ir::{self, Value};
use args::Arg;
use std::path::PathBuf;
use std::sync::Arc;

/// The one cache-directory rule of kiln (calibration figures, compiled GPU
/// modules under it): `$KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else
/// `~/.cache/kiln`; `None` when none of them is set.
pub fn cache_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("KILN_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(xdg) = non_empty("XDG_CACHE_HOME") {
        return Some(PathBuf::from(xdg).join("kiln"));
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".cache").join("kiln"))
}

/// A compiled kernel on one backend, ready to launch many times.
pub trait CompiledKernel: Send + Sync {
    /// Runs on arguments already checked against the kernel's parameters.
    /// Arrays may be host arrays (`Arg::Array`, `Arg::ArrayMut`) or, for an
    /// engine with device memory, buffers of that engine (`Arg::Device`,
    /// `Arg::DeviceMut`), mixed freely: host arrays become pooled temporaries
    /// on the device and the writable ones are copied back, device buffers
    /// are bound in place and writes stay on the device. A host engine
    /// refuses device buffers with an error.
    fn launch(&self, args: &mut [Arg]) -> Result<Option<Value>>;

    /// Runs like `launch` but entirely on the calling thread: a scheduling
    /// hint, same arguments and results. Engines with a thread pool override
    /// it; the runtime uses it for work too small to pay for waking the pool.
    fn launch_serial(&self, args: &mut [Arg]) -> Result<Option<Value>> {
        self.launch(args)
    }
}

/// One execution backend: compiles IR kernels. The device-memory methods
/// have host defaults (no device memory); GPU engines override them all.
pub trait Engine: Send + Sync {
    /// The backend this engine implements.
    fn backend(&self) -> Backend;
    /// Compiles kernel `kernel` of `module` for this engine's device.
    fn compile(
        &self,
        module: &Arc<ir::Module>,
        kernel: ir::FuncId,
    ) -> Result<Arc<dyn CompiledKernel>>;

    /// The device this engine runs on (part of the kernel-cache key).
    fn device(&self) -> DeviceId {
        DeviceId::new(self.backend(), 0)
    }

    /// What the device is, for keys of figures measured on it: the adapter
    /// or card and its driver (`llvmpipe (Vulkan, Cpu) Mesa 24.0`). Host
    /// engines: the backend's name (the runtime adds the CPU model).
    fn describe(&self) -> String {
        self.backend().name().to_string()
    }

    /// The device's own name, verbatim as its driver reports it (the wgpu
    /// adapter name, the CUDA device name); host engines: the backend's
    /// name (the runtime adds the CPU model, `runtime::device_name`).
    fn adapter_name(&self) -> String {
        self.backend().name().to_string()
    }

    /// Whether the device is a software renderer on the CPU (Mesa's
    /// llvmpipe/lavapipe, SwiftShader, WARP): its timings are not a GPU's.
    fn is_software(&self) -> bool {
        false
    }

    /// Whether arrays must be copied to run here (`upload`/`download` work).
    fn has_device_memory(&self) -> bool {
        false
    }

    /// Whether `Auto` may choose this engine. A GPU engine on a software
    /// adapter (lavapipe, an emulator) returns false: it still runs when
    /// forced, but never wins against the CPU JIT on the same cores.
    fn auto_candidate(&self) -> bool {
        true
    }

    /// Zeroed memory for `len` elements of `elem`.
    fn alloc(&self, elem: ir::ScalarType, len: usize) -> Result<DeviceBuffer> {
        let _ = (elem, len);
        Err(device::no_device_memory(self.backend()))
    }

    /// A new device buffer holding a copy of `data`.
    fn upload(&self, data: &args::ArrayData<'_>) -> Result<DeviceBuffer> {
        let _ = data;
        Err(device::no_device_memory(self.backend()))
    }

    /// Overwrites `dst` (same element type and length, made by this engine)
    /// with `data`, reusing its memory. The default allocates anew.
    fn upload_into(&self, dst: &mut DeviceBuffer, data: &args::ArrayData<'_>) -> Result<()> {
        *dst = self.upload(data)?;
        Ok(())
    }

    /// Copies `src` (made by this engine) into `dst` (same element type and
    /// length), waiting for every launch that writes `src` to finish.
    fn download(&self, src: &DeviceBuffer, dst: &mut args::ArrayDataMut<'_>) -> Result<()> {
        let _ = (src, dst);
        Err(device::no_device_memory(self.backend()))
    }
}
