//! Device buffers: allocation against the adapter's limits, a pool that
//! reuses buffers across launches, uploads, and batched readback through
//! one mapped staging buffer.

use super::context::Gpu;
use std::sync::{Mutex, OnceLock};

/// Usage of every buffer a kernel binds: storage, and copies both ways
/// (uploads with `write_buffer`, readback through a staging buffer).
pub const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);

/// The smallest buffer handed out: a binding of a runtime-sized array must
/// hold at least one element (8 bytes for f64/i64), and copies move
/// multiples of 4 bytes.
const MIN_BYTES: u64 = 16;

/// Free buffers kept for reuse are capped at this many bytes in total, so
/// one large launch does not pin its memory for the life of the process.
const POOL_CAP: u64 = 256 << 20;

fn round_up(bytes: u64) -> u64 {
    bytes.max(MIN_BYTES).div_ceil(16) * 16
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// Checks that `bytes` fits one storage binding and one buffer on this
/// device; `what` names the data in the error (e.g. "array `x`").
pub fn check_binding_size(gpu: &Gpu, what: &str, bytes: u64) -> Result<(), String> {
    let binding = gpu.limits.max_storage_buffer_binding_size;
    let buffer = gpu.limits.max_buffer_size;
    if bytes > binding {
        return Err(format!(
            "{what} needs {} on the device, more than this adapter's max_storage_buffer_binding_size ({}); split the data across launches or use another backend",
            mib(bytes),
            mib(binding)
        ));
    }
    if bytes > buffer {
        return Err(format!(
            "{what} needs {} on the device, more than this adapter's max_buffer_size ({})",
            mib(bytes),
            mib(buffer)
        ));
    }
    Ok(())
}

struct Pool {
    free: Vec<wgpu::Buffer>,
    bytes: u64,
}

fn pool() -> &'static Mutex<Pool> {
    static POOL: OnceLock<Mutex<Pool>> = OnceLock::new();
    POOL.get_or_init(|| {
        Mutex::new(Pool {
            free: Vec::new(),
            bytes: 0,
        })
    })
}

fn lock_pool() -> std::sync::MutexGuard<'static, Pool> {
    // The pool holds only whole buffers; a panic elsewhere leaves it valid.
    pool().lock().unwrap_or_else(|e| e.into_inner())
}

/// A storage buffer of at least `bytes` bytes (contents undefined): a
/// pooled one of a close size when there is one, else a new one.
pub fn storage(gpu: &Gpu, label: &str, bytes: u64) -> Result<wgpu::Buffer, String> {
    check_binding_size(gpu, label, bytes)?;
    let size = round_up(bytes);
    {
        let mut pool = lock_pool();
        // The smallest free buffer that fits and wastes at most half.
        let best = pool
            .free
            .iter()
            .enumerate()
            .filter(|(_, b)| b.size() >= size && b.size() <= size.saturating_mul(2))
            .min_by_key(|(_, b)| b.size())
            .map(|(i, _)| i);
        if let Some(i) = best {
            let buffer = pool.free.swap_remove(i);
            pool.bytes -= buffer.size();
            return Ok(buffer);
        }
    }
    super::pipelines::scoped(
        gpu,
        &format!("allocating {} for {label}", mib(size)),
        || {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: STORAGE,
                mapped_at_creation: false,
            })
        },
    )
}

/// Returns buffers from [`storage`] to the pool (or drops them when the
/// pool is full).
pub fn recycle(buffers: impl IntoIterator<Item = wgpu::Buffer>) {
    let mut pool = lock_pool();
    for buffer in buffers {
        if buffer.usage() == STORAGE && pool.bytes + buffer.size() <= POOL_CAP {
            pool.bytes += buffer.size();
            pool.free.push(buffer);
        }
    }
}

/// Writes `bytes` at the start of `buffer` (queued; ordered before any
/// later submission).
pub fn upload(gpu: &Gpu, buffer: &wgpu::Buffer, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    // `write_buffer` moves multiples of 4 bytes; every kiln element is.
    debug_assert!(bytes.len() % 4 == 0);
    gpu.queue.write_buffer(buffer, 0, bytes);
}

/// Copies `len` bytes at `offset` (a multiple of 4) of each buffer back to
/// the host, with one submission and one mapping for all of them. Waits for
/// every earlier submission (the copy is ordered after them).
pub fn read_back(gpu: &Gpu, sources: &[(&wgpu::Buffer, u64, u64)]) -> Result<Vec<Vec<u8>>, String> {
    let mut offsets = Vec::with_capacity(sources.len());
    let mut total = 0u64;
    for &(_, _, len) in sources {
        offsets.push(total);
        // Copy offsets must be multiples of 4; map offsets of 8.
        total += len.div_ceil(8) * 8;
    }
    if total == 0 {
        return Ok(sources.iter().map(|_| Vec::new()).collect());
    }
    let staging = scoped_staging(gpu, total)?;
    super::pipelines::scoped(gpu, "readback copy", || {
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("kiln readback"),
            });
        for (&(buffer, from, len), &offset) in sources.iter().zip(&offsets) {
            if len > 0 {
                let len = (len.div_ceil(4) * 4).min(buffer.size() - from);
                encoder.copy_buffer_to_buffer(buffer, from, &staging, offset, len);
            }
        }
        gpu.queue.submit([encoder.finish()]);
    })?;
    let slice = staging.slice(..total);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |result| {
        // The receiver outlives the poll below; a send can only fail if
        // this function already returned an error.
        let _ = tx.send(result);
    });
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| format!("waiting for the device: {e}"))?;
    match rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("mapping the readback buffer: {e}")),
        Err(_) => return Err("the readback mapping never completed".to_string()),
    }
    let out = {
        let view = slice
            .get_mapped_range()
            .map_err(|e| format!("reading the readback buffer: {e}"))?;
        sources
            .iter()
            .zip(&offsets)
            .map(|(&(_, _, len), &offset)| view[offset as usize..(offset + len) as usize].to_vec())
            .collect()
    };
    staging.unmap();
    return_staging(staging);
    Ok(out)
}

fn staging_pool() -> &'static Mutex<Vec<wgpu::Buffer>> {
    static POOL: OnceLock<Mutex<Vec<wgpu::Buffer>>> = OnceLock::new();
    POOL.get_or_init(|| Mutex::new(Vec::new()))
}

/// A mappable staging buffer of at least `bytes` bytes (pooled).
fn scoped_staging(gpu: &Gpu, bytes: u64) -> Result<wgpu::Buffer, String> {
    let size = round_up(bytes);
    {
        let mut free = staging_pool().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = free
            .iter()
            .position(|b| b.size() >= size && b.size() <= size.saturating_mul(4))
        {
            return Ok(free.swap_remove(i));
        }
    }
    super::pipelines::scoped(
        gpu,
        &format!("allocating a {} readback buffer", mib(size)),
        || {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("kiln staging"),
                size,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        },
    )
}

fn return_staging(buffer: wgpu::Buffer) {
    let mut free = staging_pool().lock().unwrap_or_else(|e| e.into_inner());
    // A few staging buffers cover the usual mix (small frame reads, large
    // array reads); more would only hold memory.
    if free.len() < 4 && buffer.size() <= POOL_CAP {
        free.push(buffer);
    }
}
