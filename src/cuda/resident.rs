//! Device-resident arrays for the runtime (the contract in `engine::device`): the CUDA
//! engine's `DeviceBuffer`s and the copies in and out of them.
//!
//! Every copy here runs on the engine's own transfer stream and waits for
//! completion before returning, and every kernel launch finishes (the host
//! driver reads the error record) before it returns, so a buffer is never
//! used by two streams at once: no cross-stream events are needed.

use super::device::{driver_error, ContextFirst, Gpu};
use crate::engine::args::{ArrayData, ArrayDataMut};
use crate::engine::{Backend, DeviceBuffer, DeviceId};
use crate::error::{Error, Result};
use crate::ir::ScalarType;
use cudarc::driver::{CudaSlice, CudaStream};
use std::sync::Arc;

/// The memory inside a CUDA `DeviceBuffer`: at least 8 bytes (a zero-size
/// allocation has no valid pointer), of which `DeviceBuffer::bytes()` are
/// the array's. Freed with its context made current first (the runtime
/// may drop a managed array on any thread).
pub struct CudaMemory {
    pub slice: ContextFirst<CudaSlice<u8>>,
}

/// The runtime's id of the chosen device.
pub fn device_id(gpu: &Gpu) -> DeviceId {
    DeviceId::new(Backend::Cuda, gpu.info.ordinal as u32)
}

fn backend_error(message: String) -> Error {
    Error::Backend {
        backend: "cuda".into(),
        message,
    }
}

fn wait(stream: &Arc<CudaStream>) -> Result<()> {
    stream
        .synchronize()
        .map_err(|e| driver_error("a copy failed on the device", e))
}

/// Zeroed memory for `len` elements of `elem`.
pub fn alloc(
    gpu: &Gpu,
    stream: &Arc<CudaStream>,
    elem: ScalarType,
    len: usize,
) -> Result<DeviceBuffer> {
    let mut buffer = alloc_uninit(gpu, stream, elem, len)?;
    if let Some(memory) = buffer.memory_mut::<CudaMemory>() {
        stream
            .memset_zeros(&mut *memory.slice)
            .map_err(|e| driver_error("cannot clear new device memory", e))?;
    }
    wait(stream)?;
    Ok(buffer)
}

/// Memory for `len` elements of `elem`, not initialised: for a buffer the
/// next copy on `stream` overwrites whole (no zeros written first).
fn alloc_uninit(
    gpu: &Gpu,
    stream: &Arc<CudaStream>,
    elem: ScalarType,
    len: usize,
) -> Result<DeviceBuffer> {
    let bytes = len
        .checked_mul(elem.size_bytes())
        .ok_or_else(|| backend_error(format!("{len} elements of {elem} overflow a size")))?;
    // SAFETY: `u8` has no invalid bit patterns; the caller overwrites the
    // array's bytes before any kernel reads them.
    let slice = unsafe { stream.alloc::<u8>(bytes.max(8)) }
        .map_err(|e| driver_error(&format!("cannot allocate {bytes} bytes"), e))?;
    Ok(DeviceBuffer::new(
        device_id(gpu),
        elem,
        len,
        CudaMemory {
            slice: ContextFirst::new(stream.context().clone(), slice),
        },
    ))
}

/// A new buffer holding a copy of `data` (allocated without zeros: the
/// copy, on the same stream, overwrites it whole).
pub fn upload(gpu: &Gpu, stream: &Arc<CudaStream>, data: &ArrayData<'_>) -> Result<DeviceBuffer> {
    let mut buffer = alloc_uninit(gpu, stream, data.elem(), data.len())?;
    upload_into(stream, &mut buffer, data)?;
    Ok(buffer)
}

/// Overwrites `dst` (same element type and length) with `data`.
pub fn upload_into(
    stream: &Arc<CudaStream>,
    dst: &mut DeviceBuffer,
    data: &ArrayData<'_>,
) -> Result<()> {
    if dst.elem() != data.elem() || dst.len() != data.len() {
        return Err(backend_error(format!(
            "cannot copy {} x {} into a device buffer of {} x {}",
            data.len(),
            data.elem(),
            dst.len(),
            dst.elem()
        )));
    }
    let bytes = data.as_bytes();
    if bytes.is_empty() {
        return Ok(());
    }
    let memory = dst
        .memory_mut::<CudaMemory>()
        .ok_or_else(|| backend_error("the buffer was not made by the cuda engine".into()))?;
    if memory.slice.len() < bytes.len() {
        return Err(backend_error(
            "the device buffer is smaller than its array".into(),
        ));
    }
    let mut view = memory.slice.slice_mut(0..bytes.len());
    stream
        .memcpy_htod(bytes, &mut view)
        .map_err(|e| driver_error("cannot copy an array to the device", e))?;
    wait(stream)
}

/// Copies `src` into `dst` (same element type and length).
pub fn download(
    stream: &Arc<CudaStream>,
    src: &DeviceBuffer,
    dst: &mut ArrayDataMut<'_>,
) -> Result<()> {
    if src.elem() != dst.elem() || src.len() != dst.len() {
        return Err(backend_error(format!(
            "cannot copy a device buffer of {} x {} into {} x {}",
            src.len(),
            src.elem(),
            dst.len(),
            dst.elem()
        )));
    }
    let out = dst.as_bytes_mut();
    if out.is_empty() {
        return Ok(());
    }
    let memory = src
        .memory::<CudaMemory>()
        .ok_or_else(|| backend_error("the buffer was not made by the cuda engine".into()))?;
    if memory.slice.len() < out.len() {
        return Err(backend_error(
            "the device buffer is smaller than its array".into(),
        ));
    }
    let view = memory.slice.slice(0..out.len());
    stream
        .memcpy_dtoh(&view, out)
        .map_err(|e| driver_error("cannot copy an array from the device", e))?;
    wait(stream)
}

/// The device pointer of a CUDA `DeviceBuffer`, for binding it to a launch.
pub fn pointer(buffer: &DeviceBuffer, stream: &Arc<CudaStream>) -> Result<u64> {
    use cudarc::driver::DevicePtr;
    let memory = buffer
        .memory::<CudaMemory>()
        .ok_or_else(|| backend_error("the buffer was not made by the cuda engine".into()))?;
    Ok(memory.slice.device_ptr(stream).0)
}
