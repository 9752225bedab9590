//! Shader modules and compute pipelines, created inside error scopes so a
//! validation failure becomes an error value instead of wgpu's default
//! panic. A compiled kernel owns one [`Pipelines`]: its module, its bind
//! group layout and one pipeline per entry point, all created at compile
//! time, so a kernel the device cannot take fails before its first launch.

use super::context::Gpu;
use std::borrow::Cow;
use std::collections::HashMap;

/// How one `@group(0) @binding(n)` of the generated WGSL is declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingKind {
    /// `var<storage, read>`
    ReadOnlyStorage,
    /// `var<storage, read_write>`
    Storage,
    /// `var<uniform>`
    Uniform,
}

/// Runs `f` inside validation, out-of-memory and internal error scopes and
/// turns whatever they caught into `Err(message)`.
pub fn scoped<T>(gpu: &Gpu, what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    let internal = gpu.device.push_error_scope(wgpu::ErrorFilter::Internal);
    let memory = gpu.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let value = f();
    // Scopes pop in reverse order of their pushes.
    let errors = [
        pollster::block_on(validation.pop()),
        pollster::block_on(memory.pop()),
        pollster::block_on(internal.pop()),
    ];
    let messages: Vec<String> = errors
        .into_iter()
        .flatten()
        .map(|e| match e {
            wgpu::Error::OutOfMemory { .. } => "out of device memory".to_string(),
            other => other.to_string(),
        })
        .collect();
    if messages.is_empty() {
        Ok(value)
    } else {
        Err(format!("{what}: {}", messages.join("; ")))
    }
}

/// A shader module with its layout and one pipeline per entry point.
pub struct Pipelines {
    pub layout: wgpu::BindGroupLayout,
    pipelines: HashMap<String, wgpu::ComputePipeline>,
}

impl Pipelines {
    /// Compiles `source` and creates a pipeline for every name in
    /// `entries`, all sharing one bind group layout built from `bindings`
    /// (binding number and kind) and `immediate_size` bytes of immediates.
    pub fn new(
        gpu: &Gpu,
        label: &str,
        source: &str,
        bindings: &[(u32, BindingKind)],
        immediate_size: u32,
        entries: &[&str],
    ) -> Result<Pipelines, String> {
        let module = scoped(gpu, "the generated WGSL does not validate", || {
            gpu.device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(label),
                    source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(source)),
                })
        })?;
        let layout_entries: Vec<wgpu::BindGroupLayoutEntry> = bindings
            .iter()
            .map(|&(binding, kind)| wgpu::BindGroupLayoutEntry {
                binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match kind {
                        BindingKind::ReadOnlyStorage => {
                            wgpu::BufferBindingType::Storage { read_only: true }
                        }
                        BindingKind::Storage => {
                            wgpu::BufferBindingType::Storage { read_only: false }
                        }
                        BindingKind::Uniform => wgpu::BufferBindingType::Uniform,
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let (layout, pipeline_layout) = scoped(gpu, "bind group layout", || {
            let layout = gpu
                .device
                .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(label),
                    entries: &layout_entries,
                });
            let pipeline_layout =
                gpu.device
                    .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some(label),
                        bind_group_layouts: &[Some(&layout)],
                        immediate_size,
                    });
            (layout, pipeline_layout)
        })?;
        let mut pipelines = HashMap::new();
        for &entry in entries {
            let pipeline = scoped(gpu, &format!("pipeline for entry `{entry}`"), || {
                gpu.device
                    .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(entry),
                        layout: Some(&pipeline_layout),
                        module: &module,
                        entry_point: Some(entry),
                        compilation_options: Default::default(),
                        cache: None,
                    })
            })?;
            pipelines.insert(entry.to_string(), pipeline);
        }
        Ok(Pipelines { layout, pipelines })
    }

    pub fn get(&self, entry: &str) -> Option<&wgpu::ComputePipeline> {
        self.pipelines.get(entry)
    }
}
