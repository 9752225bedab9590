//! Device-resident arrays (the contract in `engine::device`):
//! the wgpu engine's `DeviceBuffer`s (a launch binds them in place:
//! `launch.rs`).

use super::backend_error;
use super::buffers;
use super::context::Gpu;
use crate::engine::args::{ArrayData, ArrayDataMut};
use crate::engine::{Backend, DeviceBuffer, DeviceId};
use crate::error::Result;
use crate::ir::ScalarType;

/// This engine's device (kiln uses one wgpu device per process).
pub const DEVICE: DeviceId = DeviceId::new(Backend::Wgpu, 0);

/// The memory inside a wgpu `DeviceBuffer`: a storage buffer of at least
/// the array's bytes. Dropping it returns the buffer to the pool.
pub struct WgpuMemory {
    buffer: Option<wgpu::Buffer>,
}

impl WgpuMemory {
    pub fn buffer(&self) -> Option<&wgpu::Buffer> {
        self.buffer.as_ref()
    }
}

impl Drop for WgpuMemory {
    fn drop(&mut self) {
        buffers::recycle(self.buffer.take());
    }
}

/// The wgpu buffer of a `DeviceBuffer`, checking it was made here.
pub(super) fn memory(buffer: &DeviceBuffer) -> Result<&wgpu::Buffer> {
    if buffer.device() != DEVICE {
        return Err(backend_error(format!(
            "a buffer on {} passed to the wgpu engine",
            buffer.device()
        )));
    }
    buffer
        .memory::<WgpuMemory>()
        .and_then(WgpuMemory::buffer)
        .ok_or_else(|| backend_error("a device buffer not made by the wgpu engine"))
}

fn label(elem: ScalarType, len: usize) -> String {
    format!("a device array of {len} {elem}")
}

/// Zeroed memory for `len` elements (a fresh buffer: wgpu zero-fills new
/// buffers, pooled ones hold old data).
pub fn alloc(gpu: &Gpu, elem: ScalarType, len: usize) -> Result<DeviceBuffer> {
    let bytes = (len * elem.size_bytes()) as u64;
    buffers::check_binding_size(gpu, &label(elem, len), bytes).map_err(backend_error)?;
    let size = bytes.max(16).div_ceil(16) * 16;
    let buffer = super::pipelines::scoped(gpu, "allocating a device array", || {
        gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kiln array"),
            size,
            usage: buffers::STORAGE,
            mapped_at_creation: false,
        })
    })
    .map_err(backend_error)?;
    Ok(DeviceBuffer::new(
        DEVICE,
        elem,
        len,
        WgpuMemory {
            buffer: Some(buffer),
        },
    ))
}

pub fn upload(gpu: &Gpu, data: &ArrayData<'_>) -> Result<DeviceBuffer> {
    let bytes = data.as_bytes();
    let buffer = buffers::storage(gpu, &label(data.elem(), data.len()), bytes.len() as u64)
        .map_err(backend_error)?;
    buffers::upload(gpu, &buffer, bytes);
    Ok(DeviceBuffer::new(
        DEVICE,
        data.elem(),
        data.len(),
        WgpuMemory {
            buffer: Some(buffer),
        },
    ))
}

pub fn upload_into(gpu: &Gpu, dst: &mut DeviceBuffer, data: &ArrayData<'_>) -> Result<()> {
    if dst.elem() != data.elem() || dst.len() != data.len() {
        return Err(backend_error(format!(
            "upload of {} into {dst:?}",
            label(data.elem(), data.len())
        )));
    }
    buffers::upload(gpu, memory(dst)?, data.as_bytes());
    Ok(())
}

/// Copies `src` to the host; waits for every launch submitted before.
pub fn download(gpu: &Gpu, src: &DeviceBuffer, dst: &mut ArrayDataMut<'_>) -> Result<()> {
    if src.elem() != dst.elem() || src.len() != dst.len() {
        return Err(backend_error(format!(
            "download of {src:?} into {}",
            label(dst.elem(), dst.len())
        )));
    }
    let out = dst.as_bytes_mut();
    let data =
        buffers::read_back(gpu, &[(memory(src)?, 0, out.len() as u64)]).map_err(backend_error)?;
    let bytes = data.first().map(Vec::as_slice).unwrap_or_default();
    if bytes.len() != out.len() {
        return Err(backend_error("short readback"));
    }
    out.copy_from_slice(bytes);
    Ok(())
}
