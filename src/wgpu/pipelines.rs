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

/// The module as SPIR-V with every float operation marked exact
/// ([`super::exact`]), where the device takes SPIR-V directly; `None` (wgpu
/// then translates the WGSL itself) elsewhere or when that fails, which is
/// logged under `KILN_LOG=wgpu`.
fn exact_module(
    gpu: &Gpu,
    label: &str,
    source: &str,
    entries: &[&str],
) -> Option<wgpu::ShaderModule> {
    if !gpu.exact_spirv() {
        return None;
    }
    let words = match super::exact::exact_spirv(source, gpu.spirv, entries) {
        Ok(words) => words,
        Err(e) => {
            crate::logging::init();
            tracing::warn!(target: "kiln::wgpu", "{label}: no exact SPIR-V, wgpu translates the WGSL: {e}");
            return None;
        }
    };
    let entry_points: Vec<wgpu::PassthroughShaderEntryPoint> = entries
        .iter()
        .map(|&name| wgpu::PassthroughShaderEntryPoint {
            name: Cow::Owned(name.to_string()),
            // Unused for SPIR-V: the module declares its workgroup size.
            workgroup_size: (0, 0, 0),
        })
        .collect();
    let made = scoped(gpu, "exact SPIR-V", || {
        // SAFETY: the words are naga's own translation of WGSL that naga
        // validated, with the bounds checks and loop bounding wgpu itself
        // applies; `mark_exact` adds only NoContraction decorations, which
        // restrict the driver's optimizer and change no memory access.
        unsafe {
            gpu.device
                .create_shader_module_passthrough(wgpu::ShaderModuleDescriptorPassthrough {
                    label: Some(label),
                    entry_points: Cow::Owned(entry_points),
                    spirv: Some(Cow::Owned(words)),
                    ..Default::default()
                })
        }
    });
    match made {
        Ok(module) => Some(module),
        Err(e) => {
            crate::logging::init();
            tracing::warn!(target: "kiln::wgpu", "{label}: {e}; wgpu translates the WGSL");
            None
        }
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
        let module = match exact_module(gpu, label, source, entries) {
            Some(module) => module,
            None => scoped(gpu, "the generated WGSL does not validate", || {
                gpu.device
                    .create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(label),
                        source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(source)),
                    })
            })?,
        };
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
