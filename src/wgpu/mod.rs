//! The wgpu runtime of the WGSL backend: the device (adapter choice,
//! features, limits, error handlers), buffers, pipelines and the
//! `GpuDevice` the shared GPU host driver launches through.
//!
//! Code generation (IR -> WGSL) and the launch schedule live in
//! `crate::gpu`; this module only runs what they produce.

pub mod buffers;
pub mod context;
pub mod exact;
pub mod kernel;
mod launch;
pub mod pipelines;
pub mod resident;

pub use context::{adapters, gpu, AdapterSummary, Capabilities, Gpu};
pub use kernel::{WgpuEngine, WgpuKernel};

use crate::error::Error;

/// The error for a wgpu failure that is not the kernel's fault.
pub(crate) fn backend_error(message: impl Into<String>) -> Error {
    Error::Backend {
        backend: "wgpu".to_string(),
        message: message.into(),
    }
}

/// The device, or `BackendUnavailable` saying why there is none.
pub fn device() -> Result<&'static Gpu, Error> {
    let gpu = context::gpu().map_err(|reason| Error::BackendUnavailable {
        backend: "wgpu".to_string(),
        reason,
    })?;
    gpu.check_alive()
        .map_err(|reason| Error::BackendUnavailable {
            backend: "wgpu".to_string(),
            reason,
        })?;
    Ok(gpu)
}

#[cfg(test)]
mod tests;
