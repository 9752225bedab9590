//! Device memory: the contract between the runtime and the engines that own
//! memory apart from the host's (wgpu, cuda).
//!
//! - An engine with device memory overrides [`Engine::has_device_memory`],
//!   [`Engine::device`], [`Engine::alloc`], [`Engine::upload`],
//!   [`Engine::upload_into`] and [`Engine::download`]; its compiled kernels
//!   accept its buffers as launch arguments (`Arg::Device`,
//!   `Arg::DeviceMut`) beside host arrays.
//! - A [`DeviceBuffer`] is an opaque handle: the engine that made it puts its
//!   own buffer type inside ([`DeviceBuffer::new`]) and gets it back with
//!   [`DeviceBuffer::memory`]. Dropping the handle frees the memory (the
//!   engine's type frees itself on drop).
//! - The runtime (`Array`, device choice) decides when to move data and calls
//!   `upload`/`download` itself, counting every transfer ([`transfer_totals`]);
//!   engines never move a device buffer's data behind its back.
//! - Host engines (cpu, interp) keep the defaults: no device memory, and
//!   they refuse device buffers as arguments.
//!
//! [`Engine::has_device_memory`]: super::Engine::has_device_memory
//! [`Engine::device`]: super::Engine::device
//! [`Engine::alloc`]: super::Engine::alloc
//! [`Engine::upload`]: super::Engine::upload
//! [`Engine::upload_into`]: super::Engine::upload_into
//! [`Engine::download`]: super::Engine::download

use super::Backend;
use crate::error::Error;
use crate::ir::ScalarType;
use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// One device of one backend: `cuda:0`, `wgpu:0`. Host engines use ordinal 0
/// of their own backend (`cpu:0`, `interp:0`): the host's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceId {
    /// The backend.
    pub backend: Backend,
    /// The device's index among that backend's devices.
    pub ordinal: u32,
}

impl DeviceId {
    /// Device `ordinal` of `backend`.
    pub const fn new(backend: Backend, ordinal: u32) -> DeviceId {
        DeviceId { backend, ordinal }
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.backend, self.ordinal)
    }
}

/// Memory on one device holding `len` elements of `elem` (never `bool`:
/// arrays hold numbers only). `Send + Sync`: an engine's buffer type must be
/// usable from any thread; one that is not wraps itself in a mutex.
pub struct DeviceBuffer {
    device: DeviceId,
    elem: ScalarType,
    len: usize,
    mem: Box<dyn Any + Send + Sync>,
}

impl DeviceBuffer {
    /// Wraps an engine's own buffer (`cudarc::driver::CudaSlice<u8>`,
    /// `wgpu::Buffer`, ...). `len` counts elements of `elem`.
    pub fn new<M: Any + Send + Sync>(
        device: DeviceId,
        elem: ScalarType,
        len: usize,
        mem: M,
    ) -> DeviceBuffer {
        DeviceBuffer {
            device,
            elem,
            len,
            mem: Box::new(mem),
        }
    }

    /// The engine's buffer, when it is of type `M`.
    pub fn memory<M: Any>(&self) -> Option<&M> {
        self.mem.downcast_ref()
    }

    /// The engine's buffer for writing, when it is of type `M`.
    pub fn memory_mut<M: Any>(&mut self) -> Option<&mut M> {
        self.mem.downcast_mut()
    }

    /// The device holding the buffer.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// The element type.
    pub fn elem(&self) -> ScalarType {
        self.elem
    }

    /// Elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of element data (the engine may have allocated more).
    pub fn bytes(&self) -> usize {
        self.len * self.elem.size_bytes()
    }
}

impl fmt::Debug for DeviceBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DeviceBuffer({} x {} on {})",
            self.len, self.elem, self.device
        )
    }
}

/// The error of a device-memory call on an engine that has none.
pub fn no_device_memory(backend: Backend) -> Error {
    Error::BackendUnavailable {
        backend: backend.name().to_string(),
        reason: format!("the {backend} engine runs on host memory and has no device buffers"),
    }
}

/// Data moved between the host and devices, counted by the runtime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transfers {
    /// Copies from the host to a device.
    pub uploads: u64,
    /// Copies from a device to the host.
    pub downloads: u64,
    /// Bytes copied to devices.
    pub bytes_up: u64,
    /// Bytes copied back.
    pub bytes_down: u64,
}

impl Transfers {
    /// Copies in both directions.
    pub fn total(&self) -> u64 {
        self.uploads + self.downloads
    }
}

static UPLOADS: AtomicU64 = AtomicU64::new(0);
static DOWNLOADS: AtomicU64 = AtomicU64::new(0);
static BYTES_UP: AtomicU64 = AtomicU64::new(0);
static BYTES_DOWN: AtomicU64 = AtomicU64::new(0);

/// Every transfer the runtime made in this process (tests that run in
/// parallel should prefer a per-array count, `Array::transfers`).
pub fn transfer_totals() -> Transfers {
    Transfers {
        uploads: UPLOADS.load(Ordering::Relaxed),
        downloads: DOWNLOADS.load(Ordering::Relaxed),
        bytes_up: BYTES_UP.load(Ordering::Relaxed),
        bytes_down: BYTES_DOWN.load(Ordering::Relaxed),
    }
}

/// Called by the runtime after each host -> device copy.
pub(crate) fn count_upload(bytes: usize) {
    UPLOADS.fetch_add(1, Ordering::Relaxed);
    BYTES_UP.fetch_add(bytes as u64, Ordering::Relaxed);
}

/// Called by the runtime after each device -> host copy.
pub(crate) fn count_download(bytes: usize) {
    DOWNLOADS.fetch_add(1, Ordering::Relaxed);
    BYTES_DOWN.fetch_add(bytes as u64, Ordering::Relaxed);
}
