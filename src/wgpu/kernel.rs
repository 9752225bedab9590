//! The wgpu engine: compiles a kernel to WGSL (`crate::gpu` with the WGSL
//! dialect), checks the device has the features it needs, builds its
//! pipelines once, and launches it through the shared host driver.

use super::context::{Capabilities, Gpu};
use super::launch::Launch;
use super::pipelines::{BindingKind, Pipelines};
use super::resident;
use super::{backend_error, device};
use crate::engine::args::{Arg, ArrayData, ArrayDataMut};
use crate::engine::{Backend, CompiledKernel, DeviceBuffer, DeviceId, Engine};
use crate::error::{Error, Result};
use crate::gpu::{self, wgsl::Wgsl, GpuProgram};
use crate::ir::{self, Span, Value};
use std::sync::Arc;

pub struct WgpuEngine {
    gpu: &'static Gpu,
}

impl WgpuEngine {
    /// The engine on the process's device; `BackendUnavailable` when there
    /// is no adapter.
    pub fn new() -> Result<WgpuEngine> {
        Ok(WgpuEngine { gpu: device()? })
    }
}

/// A kernel compiled for the wgpu device: its program and its pipelines
/// (one shader module, one pipeline per entry point, created once).
pub struct WgpuKernel {
    pub(super) program: GpuProgram,
    pub(super) pipelines: Pipelines,
    gpu: &'static Gpu,
}

impl Engine for WgpuEngine {
    fn backend(&self) -> Backend {
        Backend::Wgpu
    }

    fn compile(
        &self,
        module: &Arc<ir::Module>,
        kernel: ir::FuncId,
    ) -> Result<Arc<dyn CompiledKernel>> {
        Ok(Arc::new(compile(self.gpu, module, kernel)?))
    }

    fn device(&self) -> DeviceId {
        resident::DEVICE
    }

    fn has_device_memory(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        let i = &self.gpu.info;
        format!("{} {} {}", self.gpu.describe(), i.driver, i.driver_info)
            .trim()
            .to_string()
    }

    fn adapter_name(&self) -> String {
        self.gpu.info.name.clone()
    }

    fn is_software(&self) -> bool {
        self.gpu.info.device_type == wgpu::DeviceType::Cpu
    }

    /// A software adapter (lavapipe) runs on the same cores as the CPU JIT
    /// and never beats it, and one with a loop budget can fail long kernels:
    /// `Auto` leaves it out; `--backend wgpu` still runs there.
    fn auto_candidate(&self) -> bool {
        self.gpu.info.device_type != wgpu::DeviceType::Cpu && self.gpu.caps.loop_budget.is_none()
    }

    fn alloc(&self, elem: ir::ScalarType, len: usize) -> Result<DeviceBuffer> {
        resident::alloc(self.gpu, elem, len)
    }

    fn upload(&self, data: &ArrayData<'_>) -> Result<DeviceBuffer> {
        resident::upload(self.gpu, data)
    }

    fn upload_into(&self, dst: &mut DeviceBuffer, data: &ArrayData<'_>) -> Result<()> {
        resident::upload_into(self.gpu, dst, data)
    }

    fn download(&self, src: &DeviceBuffer, dst: &mut ArrayDataMut<'_>) -> Result<()> {
        resident::download(self.gpu, src, dst)
    }
}

pub fn compile(gpu: &'static Gpu, module: &ir::Module, kernel: ir::FuncId) -> Result<WgpuKernel> {
    let program = gpu::generate(module, kernel, &Wgsl)?;
    let span = module.function(kernel).span;
    check_features(&gpu.caps, &gpu.describe(), &program, span)?;
    check_bindings(gpu, &program, span)?;
    let bindings: Vec<(u32, BindingKind)> = program
        .bindings
        .iter()
        .map(|b| {
            let kind = if b.read_only {
                BindingKind::ReadOnlyStorage
            } else {
                BindingKind::Storage
            };
            (b.binding, kind)
        })
        .collect();
    let entries: Vec<&str> = program.entries.iter().map(|e| e.name.as_str()).collect();
    let pipelines = Pipelines::new(
        gpu,
        &program.kernel,
        &program.source,
        &bindings,
        0,
        &entries,
    )
    .map_err(|e| backend_error(format!("kernel `{}`: {e}", program.kernel)))?;
    Ok(WgpuKernel {
        program,
        pipelines,
        gpu,
    })
}

fn unsupported(
    adapter: &str,
    program: &GpuProgram,
    span: Span,
    what: &str,
    feature: &str,
) -> Error {
    Error::Unsupported {
        backend: "wgpu".to_string(),
        kernel: program.kernel.clone(),
        file: program.file.clone(),
        span,
        message: format!(
            "{what} needs the {feature} feature, which adapter `{adapter}` does not provide (run on another adapter with WGPU_ADAPTER_NAME, or on another backend)"
        ),
    }
}

/// A kernel needing a feature the device lacks fails here, at compile
/// time, naming the feature and the first construct that needs it.
/// `adapter` names the device in the message.
pub fn check_features(
    caps: &Capabilities,
    adapter: &str,
    program: &GpuProgram,
    kernel_span: Span,
) -> Result<()> {
    let missing = |span, what, feature| Err(unsupported(adapter, program, span, what, feature));
    if program.features.i64 && !caps.i64 {
        return missing(
            kernel_span,
            "every kernel (64-bit indices and frame slots)",
            "SHADER_INT64",
        );
    }
    if let (Some(span), false) = (program.features.f64, caps.f64) {
        return missing(span, "f64 arithmetic", "SHADER_F64");
    }
    if let Some(span) = program.features.atomic64 {
        if !caps.atomic64 {
            return missing(
                span,
                "an atomic on a 64-bit array",
                "SHADER_INT64_ATOMIC_ALL_OPS",
            );
        }
        if !caps.atomic64_min_max {
            return missing(
                span,
                "an atomic on a 64-bit array",
                "SHADER_INT64_ATOMIC_MIN_MAX",
            );
        }
    }
    Ok(())
}

/// Too many array parameters for one shader stage is a compile-time error
/// naming the limit.
fn check_bindings(gpu: &Gpu, program: &GpuProgram, span: Span) -> Result<()> {
    let limit = gpu.limits.max_storage_buffers_per_shader_stage as usize;
    if program.bindings.len() > limit {
        return Err(Error::Unsupported {
            backend: "wgpu".to_string(),
            kernel: program.kernel.clone(),
            file: program.file.clone(),
            span,
            message: format!(
                "the kernel needs {} storage bindings ({} arrays plus frame, error record and partials), more than adapter `{}` allows per shader stage (max_storage_buffers_per_shader_stage = {limit})",
                program.bindings.len(),
                program.arrays.len(),
                gpu.describe()
            ),
        });
    }
    Ok(())
}

impl CompiledKernel for WgpuKernel {
    fn launch(&self, args: &mut [Arg]) -> Result<Option<Value>> {
        self.gpu.check_alive().map_err(backend_error)?;
        let mut launch = Launch::new(self.gpu, self);
        let result = gpu::host::run(&self.program, &mut launch, args);
        // A device-level failure (lost device, uncaught validation error)
        // outranks whatever the host driver concluded from the data.
        launch.finish()?;
        result
    }
}

impl WgpuKernel {
    /// The generated WGSL.
    pub fn source(&self) -> &str {
        &self.program.source
    }
}
