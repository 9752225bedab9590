//! One launch of a compiled kernel on the wgpu device: the shared host
//! driver (`gpu::host::run`) calls this `GpuDevice` in order.
//!
//! Dispatches are recorded and submitted together, in one compute pass,
//! when the host next needs the device's data (a read) or writes to it:
//! `queue.write_buffer` takes effect before the *next* submission, so
//! pending dispatches are submitted first to keep program order.

use super::backend_error;
use super::buffers;
use super::context::Gpu;
use super::kernel::WgpuKernel;
use super::resident;
use crate::error::Result;
use crate::gpu::{ArrayBinding, BindingKind, GpuDevice, LaunchLayout, ERROR_WORDS};

pub struct Launch<'k> {
    gpu: &'static Gpu,
    kernel: &'k WgpuKernel,
    /// One buffer per binding of `kernel.program.bindings`, in that order.
    buffers: Vec<wgpu::Buffer>,
    bind_group: Option<wgpu::BindGroup>,
    /// (entry, workgroups) recorded since the last submission.
    pending: Vec<(usize, u32)>,
    frame: usize,
    error: usize,
    arrays: Vec<Option<usize>>,
    /// Per array (by `ArrayId`): a device buffer the caller owns, bound in
    /// place (`ArrayBinding::Buffer`), instead of a pooled one filled by
    /// `upload_array`. Set by `begin`.
    resident: Vec<Option<wgpu::Buffer>>,
    /// Per binding: whether the buffer came from the pool (and goes back).
    pooled: Vec<bool>,
    /// Per binding: the bytes the launch uses (a pooled buffer may be larger).
    sizes: Vec<u64>,
    /// Per binding: its whole contents as last read back, valid until the
    /// next dispatch or write. One mapping fetches several bindings (the
    /// error record and frame together; every writable array at the end),
    /// since each mapping waits for the device.
    cache: Vec<Option<Vec<u8>>>,
}

impl<'k> Launch<'k> {
    pub fn new(gpu: &'static Gpu, kernel: &'k WgpuKernel) -> Launch<'k> {
        let program = &kernel.program;
        let mut arrays = vec![None; program.arrays.len()];
        let (mut frame, mut error) = (0, 0);
        for (i, b) in program.bindings.iter().enumerate() {
            match b.kind {
                BindingKind::Frame => frame = i,
                BindingKind::Error => error = i,
                BindingKind::Partials => {}
                BindingKind::Array(a) => {
                    if let Some(slot) = arrays.get_mut(a.index()) {
                        *slot = Some(i);
                    }
                }
            }
        }
        Launch {
            gpu,
            kernel,
            buffers: Vec::new(),
            bind_group: None,
            pending: Vec::new(),
            frame,
            error,
            arrays,
            resident: Vec::new(),
            pooled: Vec::new(),
            sizes: Vec::new(),
            cache: Vec::new(),
        }
    }

    /// Returns the pooled buffers; caller-owned ones stay with the caller.
    fn release(&mut self) {
        let buffers = std::mem::take(&mut self.buffers);
        let pooled = std::mem::take(&mut self.pooled);
        buffers::recycle(
            buffers
                .into_iter()
                .zip(pooled)
                .filter(|(_, p)| *p)
                .map(|(b, _)| b),
        );
    }

    /// Submits the recorded dispatches (validation errors become `Err`).
    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let Some(bind_group) = &self.bind_group else {
            return Err(backend_error("dispatch before begin"));
        };
        let pending = std::mem::take(&mut self.pending);
        let gpu = self.gpu;
        let pipelines = &self.kernel.pipelines;
        let entries = &self.kernel.program.entries;
        let mut missing = None;
        super::pipelines::scoped(gpu, "submitting dispatches", || {
            let mut encoder = gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("kiln launch"),
                });
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("kiln"),
                    timestamp_writes: None,
                });
                pass.set_bind_group(0, bind_group, &[]);
                for &(entry, groups) in &pending {
                    let pipeline = entries.get(entry).and_then(|e| pipelines.get(&e.name));
                    match pipeline {
                        Some(p) => {
                            pass.set_pipeline(p);
                            pass.dispatch_workgroups(groups, 1, 1);
                        }
                        None => {
                            missing = Some(entry);
                            break;
                        }
                    }
                }
            }
            gpu.queue.submit([encoder.finish()]);
        })
        .map_err(backend_error)?;
        match missing {
            Some(entry) => Err(backend_error(format!("no pipeline for entry #{entry}"))),
            None => Ok(()),
        }
    }

    fn read(&mut self, binding: usize, offset: u64, len: u64) -> Result<Vec<u8>> {
        let (from, to) = (offset as usize, (offset + len) as usize);
        if let Some(Some(data)) = self.cache.get(binding) {
            if data.len() >= to {
                return Ok(data[from..to].to_vec());
            }
        }
        self.flush()?;
        // What the host reads next: after an array, the other writable
        // arrays (downloads come together at the end of a launch); after a
        // frame slot or the error record, the other of the two.
        let mut wanted = vec![binding, self.error, self.frame];
        let is_array = self.arrays.contains(&Some(binding));
        if is_array {
            for (a, info) in self.kernel.program.arrays.iter().enumerate() {
                if let (true, Some(Some(b))) = (info.mutable, self.arrays.get(a)) {
                    if self.resident.get(a).is_none_or(Option::is_none) {
                        wanted.push(*b);
                    }
                }
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        let mut sources = Vec::with_capacity(wanted.len());
        for &b in &wanted {
            let buffer = self
                .buffers
                .get(b)
                .ok_or_else(|| backend_error("read before begin"))?;
            let size = self.sizes.get(b).copied().unwrap_or(0).max(offset + len);
            sources.push((buffer, 0, size.min(buffer.size())));
        }
        let data = buffers::read_back(self.gpu, &sources).map_err(backend_error)?;
        for (b, bytes) in wanted.into_iter().zip(data) {
            if let Some(slot) = self.cache.get_mut(b) {
                *slot = Some(bytes);
            }
        }
        match self.cache.get(binding) {
            Some(Some(data)) if data.len() >= to => Ok(data[from..to].to_vec()),
            _ => Err(backend_error("short readback")),
        }
    }

    fn invalidate(&mut self) {
        self.cache.iter_mut().for_each(|c| *c = None);
    }

    fn write(&mut self, binding: usize, offset: u64, bytes: &[u8]) -> Result<()> {
        self.invalidate();
        self.flush()?;
        let buffer = self
            .buffers
            .get(binding)
            .ok_or_else(|| backend_error("write before begin"))?;
        if !bytes.is_empty() {
            self.gpu.queue.write_buffer(buffer, offset, bytes);
        }
        Ok(())
    }

    /// Reports errors no scope caught during this launch (they would
    /// otherwise be lost: wgpu's default handler panics, ours records).
    pub fn finish(mut self) -> Result<()> {
        let flushed = self.flush();
        self.release();
        flushed?;
        let stray = self.gpu.take_uncaptured();
        if !stray.is_empty() {
            return Err(backend_error(stray.join("; ")));
        }
        self.gpu.check_alive().map_err(backend_error)
    }
}

impl Drop for Launch<'_> {
    fn drop(&mut self) {
        // A launch that ended in an error still returns its buffers.
        self.release();
    }
}

impl GpuDevice for Launch<'_> {
    fn max_groups(&self, _entry: usize) -> u32 {
        self.gpu.limits.max_compute_workgroups_per_dimension.max(1)
    }

    fn begin(&mut self, layout: &LaunchLayout) -> Result<()> {
        let program = &self.kernel.program;
        self.resident = layout
            .arrays
            .iter()
            .map(|binding| match binding {
                ArrayBinding::Buffer(b) => resident::memory(b).map(|m| Some(m.clone())),
                ArrayBinding::Temporary { .. } => Ok(None),
            })
            .collect::<Result<_>>()?;
        let mut created = Vec::with_capacity(program.bindings.len());
        let mut pooled = Vec::with_capacity(program.bindings.len());
        for b in &program.bindings {
            if let BindingKind::Array(a) = b.kind {
                if let Some(Some(buffer)) = self.resident.get(a.index()) {
                    created.push((buffer.clone(), buffer.size(), b.kind));
                    pooled.push(false);
                    continue;
                }
            }
            let (bytes, what) = match b.kind {
                BindingKind::Frame => ((layout.frame_slots * 8) as u64, "the frame".to_string()),
                BindingKind::Error => ((ERROR_WORDS * 4) as u64, "the error record".to_string()),
                BindingKind::Partials => (
                    (layout.partial_slots * 8) as u64,
                    "the reduction partials".to_string(),
                ),
                BindingKind::Array(a) => (
                    layout.arrays.get(a.index()).map_or(0, ArrayBinding::bytes) as u64,
                    format!(
                        "array `{}`",
                        program
                            .arrays
                            .get(a.index())
                            .map_or("?", |info| info.name.as_str())
                    ),
                ),
            };
            let buffer = buffers::storage(self.gpu, &what, bytes).map_err(backend_error)?;
            created.push((buffer, bytes, b.kind));
            pooled.push(true);
        }
        // Frame, error record and partials start zeroed (pooled buffers
        // hold old data); arrays are uploaded by the host.
        for (buffer, bytes, kind) in &created {
            if !matches!(kind, BindingKind::Array(_)) {
                self.gpu.queue.write_buffer(
                    buffer,
                    0,
                    &vec![0u8; (*bytes as usize).div_ceil(4) * 4],
                );
            }
        }
        let entries: Vec<wgpu::BindGroupEntry> = program
            .bindings
            .iter()
            .zip(&created)
            .map(|(b, (buffer, _, _))| wgpu::BindGroupEntry {
                binding: b.binding,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        let gpu = self.gpu;
        let layout = &self.kernel.pipelines.layout;
        let bind_group = super::pipelines::scoped(gpu, "bind group", || {
            gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("kiln"),
                layout,
                entries: &entries,
            })
        })
        .map_err(backend_error)?;
        self.sizes = created.iter().map(|(_, bytes, _)| *bytes).collect();
        self.buffers = created.into_iter().map(|(b, _, _)| b).collect();
        self.cache = vec![None; self.sizes.len()];
        self.pooled = pooled;
        self.bind_group = Some(bind_group);
        Ok(())
    }

    fn upload_array(&mut self, array: usize, bytes: &[u8]) -> Result<()> {
        match self.arrays.get(array).copied().flatten() {
            Some(binding) => self.write(binding, 0, bytes),
            // An array no entry binds needs no device copy.
            None => Ok(()),
        }
    }

    fn download_array(&mut self, array: usize, out: &mut [u8]) -> Result<()> {
        let Some(binding) = self.arrays.get(array).copied().flatten() else {
            return Ok(());
        };
        let data = self.read(binding, 0, out.len() as u64)?;
        let n = data.len().min(out.len());
        out[..n].copy_from_slice(&data[..n]);
        Ok(())
    }

    fn write_frame(&mut self, first_slot: usize, slots: &[u64]) -> Result<()> {
        self.write(
            self.frame,
            (first_slot * 8) as u64,
            bytemuck::cast_slice(slots),
        )
    }

    fn read_frame(&mut self, first_slot: usize, out: &mut [u64]) -> Result<()> {
        let data = self.read(self.frame, (first_slot * 8) as u64, (out.len() * 8) as u64)?;
        for (o, chunk) in out.iter_mut().zip(data.chunks_exact(8)) {
            *o = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        }
        Ok(())
    }

    fn dispatch(&mut self, entry: usize, groups: u32) -> Result<()> {
        let max = self.max_groups(entry);
        if groups == 0 || groups > max {
            return Err(backend_error(format!(
                "dispatch of {groups} workgroups (this device allows 1..={max})"
            )));
        }
        self.invalidate();
        self.pending.push((entry, groups));
        Ok(())
    }

    fn read_error(&mut self) -> Result<[u32; ERROR_WORDS]> {
        let data = self.read(self.error, 0, (ERROR_WORDS * 4) as u64)?;
        let mut record = [0u32; ERROR_WORDS];
        for (r, chunk) in record.iter_mut().zip(data.chunks_exact(4)) {
            *r = u32::from_le_bytes(chunk.try_into().unwrap_or([0; 4]));
        }
        Ok(record)
    }
}
