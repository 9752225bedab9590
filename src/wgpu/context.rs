//! The process's one wgpu device: instance, adapter choice, the features
//! and limits requested from it, and the error handlers that keep wgpu's
//! default (panicking) behaviour away from users.
//!
//! Adapter choice: `WGPU_BACKEND` restricts the backends (wgpu reads it);
//! `WGPU_ADAPTER_NAME` picks the first adapter whose name contains it
//! (case-insensitive); otherwise wgpu's high-performance choice
//! (`WGPU_POWER_PREF` overrides the preference).

use std::sync::{Arc, Mutex, OnceLock};

/// The optional features kernels may need, requested whenever the adapter
/// has them (a device gets exactly the features it asks for).
pub const WANTED_FEATURES: wgpu::Features = wgpu::Features::SHADER_F64
    .union(wgpu::Features::SHADER_INT64)
    .union(wgpu::Features::SHADER_INT64_ATOMIC_MIN_MAX)
    .union(wgpu::Features::SHADER_INT64_ATOMIC_ALL_OPS)
    .union(wgpu::Features::SHADER_FLOAT32_ATOMIC)
    .union(wgpu::Features::SUBGROUP)
    .union(wgpu::Features::IMMEDIATES)
    .union(wgpu::Features::PASSTHROUGH_SHADERS);

/// What a kernel may need from the device, as kiln names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// `f64` arithmetic (SHADER_F64).
    pub f64: bool,
    /// `i64`/`u64` arithmetic (SHADER_INT64); kiln's indices need it.
    pub i64: bool,
    /// 64-bit integer atomic add/exchange/compare-exchange
    /// (SHADER_INT64_ATOMIC_ALL_OPS).
    pub atomic64: bool,
    /// 64-bit integer atomic min/max (SHADER_INT64_ATOMIC_MIN_MAX).
    pub atomic64_min_max: bool,
    /// Native f32 atomic add (SHADER_FLOAT32_ATOMIC); kiln uses CAS loops
    /// when it is absent.
    pub float32_atomic: bool,
    /// Loop iterations one invocation may run in total before the driver
    /// silently ends every loop (Mesa llvmpipe's gallivm limiter: 65535);
    /// `None` when no limit was observed. Measured by [`loop_budget`].
    pub loop_budget: Option<u32>,
}

impl Capabilities {
    pub fn from_features(f: wgpu::Features) -> Capabilities {
        Capabilities {
            f64: f.contains(wgpu::Features::SHADER_F64),
            i64: f.contains(wgpu::Features::SHADER_INT64),
            atomic64: f.contains(wgpu::Features::SHADER_INT64_ATOMIC_ALL_OPS),
            atomic64_min_max: f.contains(wgpu::Features::SHADER_INT64_ATOMIC_MIN_MAX),
            float32_atomic: f.contains(wgpu::Features::SHADER_FLOAT32_ATOMIC),
            loop_budget: None,
        }
    }
}

/// The wgpu device kiln launches on, created once per process.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub caps: Capabilities,
    pub limits: wgpu::Limits,
    /// What kiln's own SPIR-V is written for ([`super::exact`]).
    pub spirv: super::exact::SpirvTarget,
    /// Why the device was lost, once it is (checked before every launch).
    lost: Arc<Mutex<Option<String>>>,
    /// Errors no error scope caught (they would panic by default); the next
    /// launch on this thread reports them.
    uncaptured: Arc<Mutex<Vec<String>>>,
}

impl Gpu {
    /// Whether shaders go to the driver as SPIR-V kiln translated and
    /// marked exact itself ([`super::exact`]): on Vulkan devices that take
    /// passthrough shaders.
    /// `KILN_WGPU_EXACT=0` turns it off (wgpu then translates the WGSL).
    pub fn exact_spirv(&self) -> bool {
        std::env::var("KILN_WGPU_EXACT").map_or(true, |v| v != "0")
            && self.info.backend == wgpu::Backend::Vulkan
            && self
                .device
                .features()
                .contains(wgpu::Features::PASSTHROUGH_SHADERS)
    }

    /// `Err(reason)` once the device has been lost.
    pub fn check_alive(&self) -> Result<(), String> {
        match lock(&self.lost).as_ref() {
            Some(reason) => Err(format!("the wgpu device was lost: {reason}")),
            None => Ok(()),
        }
    }

    /// Removes and returns the errors no scope caught so far.
    pub fn take_uncaptured(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.uncaptured))
    }

    /// A one-line description: `llvmpipe (Vulkan, Cpu)`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded data (an error string list) stays valid if a holder
    // panicked; a poisoned lock must not turn into a second panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process's device, created on first use. `Err` holds why there is
/// none (no adapter, device request refused); the reason is computed once.
pub fn gpu() -> Result<&'static Gpu, String> {
    static GPU: OnceLock<Result<Gpu, String>> = OnceLock::new();
    GPU.get_or_init(create).as_ref().map_err(Clone::clone)
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

/// The adapter named by `WGPU_ADAPTER_NAME`, else the preferred one.
fn choose_adapter(instance: &wgpu::Instance) -> Result<wgpu::Adapter, String> {
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    if let Some(wanted) = std::env::var("WGPU_ADAPTER_NAME")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        let needle = wanted.to_lowercase();
        let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
        return adapters
            .into_iter()
            .find(|a| a.get_info().name.to_lowercase().contains(&needle))
            .ok_or_else(|| {
                format!(
                    "WGPU_ADAPTER_NAME={wanted:?} matches no adapter (found: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )
            });
    }
    let options = wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::from_env()
            .unwrap_or(wgpu::PowerPreference::HighPerformance),
        force_fallback_adapter: false,
        compatible_surface: None,
        apply_limit_buckets: false,
    };
    match pollster::block_on(instance.request_adapter(&options)) {
        Ok(adapter) => Ok(adapter),
        // wgpu's preference may skip what enumeration finds (e.g. a CPU
        // adapter); any adapter is better than none.
        Err(e) => adapters.into_iter().next().ok_or_else(|| {
            format!("no wgpu adapter found ({e}); install a Vulkan driver (e.g. Mesa's lavapipe: mesa-vulkan-drivers) or set WGPU_BACKEND")
        }),
    }
}

/// SPIR-V 1.3 (what Vulkan 1.1, the oldest version wgpu runs on, reads),
/// with workgroup memory zeroed by the driver where wgpu enables that.
fn spirv_target(adapter: &wgpu::Adapter) -> super::exact::SpirvTarget {
    let mut native_workgroup_zeroing = false;
    let mut preserve_specials: &'static [u32] = &[];
    #[cfg(not(any(target_arch = "wasm32", target_vendor = "apple")))]
    {
        use ash::vk;
        // SAFETY: reads the adapter's properties, queried when it was
        // enumerated; nothing is created or destroyed through the handle.
        if let Some(hal) = unsafe { adapter.as_hal::<wgpu::hal::api::Vulkan>() } {
            let caps = hal.physical_device_capabilities();
            let version = caps.properties().api_version;
            native_workgroup_zeroing = version >= vk::API_VERSION_1_3
                || caps.supports_extension(c"VK_KHR_zero_initialize_workgroup_memory");
            // Float controls are core from Vulkan 1.2, where
            // vkGetPhysicalDeviceProperties2 may be called on the device.
            if version >= vk::API_VERSION_1_2 {
                let mut controls = vk::PhysicalDeviceFloatControlsProperties::default();
                let mut properties =
                    vk::PhysicalDeviceProperties2::default().push_next(&mut controls);
                // SAFETY: a query into structures owned here, on the
                // instance and physical device wgpu enumerated.
                unsafe {
                    hal.shared_instance()
                        .raw_instance()
                        .get_physical_device_properties2(hal.raw_physical_device(), &mut properties)
                };
                preserve_specials = match (
                    controls.shader_signed_zero_inf_nan_preserve_float32 == vk::TRUE,
                    controls.shader_signed_zero_inf_nan_preserve_float64 == vk::TRUE,
                ) {
                    (true, true) => &[32, 64],
                    (true, false) => &[32],
                    (false, true) => &[64],
                    (false, false) => &[],
                };
            }
        }
    }
    super::exact::SpirvTarget {
        spirv_version: (1, 3),
        native_workgroup_zeroing,
        preserve_specials,
    }
}

fn create() -> Result<Gpu, String> {
    let instance = instance();
    let adapter = choose_adapter(&instance)?;
    let info = adapter.get_info();
    let features = adapter.features() & WANTED_FEATURES;
    // The adapter's real limits (wgpu's defaults cap storage bindings at
    // 128 MiB and are far below what most GPUs allow).
    let limits = adapter.limits();
    let desc = wgpu::DeviceDescriptor {
        label: Some("kiln"),
        required_features: features,
        required_limits: limits.clone(),
        ..Default::default()
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&desc))
        .map_err(|e| format!("adapter `{}` refused a device: {e}", info.name))?;
    let lost = Arc::new(Mutex::new(None));
    let uncaptured = Arc::new(Mutex::new(Vec::new()));
    {
        let lost = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            *lock(&lost) = Some(format!("{reason:?}: {message}"));
        });
    }
    {
        let uncaptured = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            lock(&uncaptured).push(error.to_string());
        }));
    }
    let mut gpu = Gpu {
        caps: Capabilities::from_features(device.features()),
        spirv: spirv_target(&adapter),
        limits: device.limits(),
        device,
        queue,
        info,
        lost,
        uncaptured,
    };
    gpu.caps.loop_budget = loop_budget(&gpu);
    crate::logging::init();
    tracing::info!(
        target: "kiln::wgpu",
        "adapter {} ({:?}, driver {} {}); shaders: {}",
        gpu.info.name,
        gpu.info.backend,
        gpu.info.driver,
        gpu.info.driver_info,
        if gpu.exact_spirv() {
            format!(
                "SPIR-V translated by kiln with float operations marked exact (signed zeros, inf and NaN preserved for f{:?}; workgroup memory zeroed by the {})",
                gpu.spirv.preserve_specials,
                if gpu.spirv.native_workgroup_zeroing { "driver" } else { "shader" }
            )
        } else {
            "WGSL translated by wgpu".to_string()
        }
    );
    Ok(gpu)
}

/// Iterations a probe loop of 100000 completes in one invocation: fewer
/// means the driver caps loop iterations per invocation (llvmpipe before
/// the limiter's removal stops at 65535, silently). Only CPU adapters are
/// probed; a failed probe counts as no limit observed.
fn loop_budget(gpu: &Gpu) -> Option<u32> {
    if gpu.info.device_type != wgpu::DeviceType::Cpu {
        return None;
    }
    const PROBE: &str = "
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1)
fn main() {
    var n = 0u;
    for (var i = 0u; i < 100000u + out[1]; i++) { n += 1u; }
    out[0] = n;
}
";
    use super::pipelines::{BindingKind, Pipelines};
    let p = Pipelines::new(
        gpu,
        "loop probe",
        PROBE,
        &[(0, BindingKind::Storage)],
        0,
        &["main"],
    )
    .ok()?;
    let buffer = super::buffers::storage(gpu, "loop probe", 16).ok()?;
    super::buffers::upload(gpu, &buffer, &[0u8; 16]);
    let bind = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &p.layout,
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: buffer.as_entire_binding(),
        }],
    });
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(p.get("main")?);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }
    gpu.queue.submit([encoder.finish()]);
    let out = super::buffers::read_back(gpu, &[(&buffer, 0, 4)]).ok()?;
    super::buffers::recycle([buffer]);
    let n = u32::from_le_bytes(out.first()?.as_slice().try_into().ok()?);
    (n < 100_000).then_some(n)
}

/// One adapter as `kiln devices` lists it.
pub struct AdapterSummary {
    pub info: wgpu::AdapterInfo,
    pub caps: Capabilities,
    pub limits: wgpu::Limits,
}

/// Every adapter the instance sees (honouring `WGPU_BACKEND`), without
/// creating devices.
/// The adapter kiln uses also carries what its device measured (the loop
/// budget).
pub fn adapters() -> Vec<AdapterSummary> {
    let instance = instance();
    let used = gpu().ok();
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .into_iter()
        .map(|a| {
            let info = a.get_info();
            let mut caps = Capabilities::from_features(a.features());
            if let Some(g) =
                used.filter(|g| g.info.name == info.name && g.info.backend == info.backend)
            {
                caps.loop_budget = g.caps.loop_budget;
            }
            AdapterSummary {
                info,
                caps,
                limits: a.limits(),
            }
        })
        .collect()
}

impl AdapterSummary {
    /// Lines for `kiln devices`: name, backend, type, driver, features and
    /// the limits that shape launches.
    pub fn lines(&self) -> Vec<String> {
        let i = &self.info;
        let c = &self.caps;
        let yes = |b: bool| if b { "yes" } else { "no" };
        let driver = if i.driver_info.is_empty() {
            i.driver.clone()
        } else {
            format!("{} ({})", i.driver, i.driver_info)
        };
        let mut lines = vec![
            format!("{} [{:?}, {:?}]", i.name, i.backend, i.device_type),
            format!("  driver: {driver}"),
            format!(
                "  features: f64 {}, i64 {}, atomic64 {}, atomic64 min/max {}, f32 atomics {}",
                yes(c.f64),
                yes(c.i64),
                yes(c.atomic64),
                yes(c.atomic64_min_max),
                yes(c.float32_atomic)
            ),
            format!(
                "  limits: storage binding {} MiB, buffer {} MiB, {} storage buffers/stage, {} workgroups/dim, {} invocations/workgroup, {} B workgroup memory",
                self.limits.max_storage_buffer_binding_size >> 20,
                self.limits.max_buffer_size >> 20,
                self.limits.max_storage_buffers_per_shader_stage,
                self.limits.max_compute_workgroups_per_dimension,
                self.limits.max_compute_invocations_per_workgroup,
                self.limits.max_compute_workgroup_storage_size
            ),
        ];
        if let Some(n) = self.caps.loop_budget {
            lines.push(format!("  warning: this driver ends every loop of an invocation after {n} iterations in total (silently)"));
        }
        lines
    }
}
