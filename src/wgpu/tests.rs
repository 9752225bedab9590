//! The runtime pieces on hand-written WGSL: they must work (or skip with a
//! printed reason when no adapter exists) independently of code generation.

use super::buffers;
use super::pipelines::{BindingKind, Pipelines};
use super::Gpu;

/// The device, or `None` (printing why) when there is no adapter and
/// `KILN_REQUIRE` does not name wgpu.
pub(crate) fn device_or_skip() -> Option<&'static Gpu> {
    match super::context::gpu() {
        Ok(gpu) => Some(gpu),
        Err(reason) => {
            let required = std::env::var("KILN_REQUIRE")
                .map(|l| l.split(',').any(|n| n.trim() == "wgpu"))
                .unwrap_or(false);
            assert!(!required, "wgpu is required by KILN_REQUIRE: {reason}");
            eprintln!("skipping a wgpu test: {reason}");
            None
        }
    }
}

const ADD_ONE: &str = "
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn add_one(@builtin(global_invocation_id) gid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
    let stride = nwg.x * 64u;
    for (var i = gid.x; i < arrayLength(&y); i += stride) {
        y[i] = x[i] + 1.0;
    }
}
";

fn bytes_of(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|f| f.to_le_bytes()).collect()
}

fn run_add_one(gpu: &Gpu, n: usize, groups: u32) -> Vec<f32> {
    let p = Pipelines::new(
        gpu,
        "add_one",
        ADD_ONE,
        &[(0, BindingKind::ReadOnlyStorage), (1, BindingKind::Storage)],
        0,
        &["add_one"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let bytes = (n * 4) as u64;
    let bx = buffers::storage(gpu, "x", bytes).unwrap();
    let by = buffers::storage(gpu, "y", bytes).unwrap();
    buffers::upload(gpu, &bx, &bytes_of(&x));
    // Bind exactly n elements: arrayLength must see the array's length,
    // not the (rounded, pooled) buffer's.
    let bind = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &p.layout,
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &bx,
                    offset: 0,
                    size: wgpu::BufferSize::new(bytes),
                }),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &by,
                    offset: 0,
                    size: wgpu::BufferSize::new(bytes),
                }),
            },
        ],
    });
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(p.get("add_one").unwrap());
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(groups, 1, 1);
    }
    gpu.queue.submit([encoder.finish()]);
    let out = buffers::read_back(gpu, &[(&by, 0, bytes)]).unwrap();
    buffers::recycle([bx, by]);
    out[0]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn hand_written_wgsl_runs_and_reads_back() {
    let Some(gpu) = device_or_skip() else { return };
    // Fewer invocations than elements: the grid-stride loop covers the rest.
    for (n, groups) in [(1, 1), (1000, 3), (100_000, 7)] {
        let y = run_add_one(gpu, n, groups);
        assert_eq!(y.len(), n);
        for (i, v) in y.iter().enumerate() {
            assert_eq!(*v, i as f32 + 1.0, "element {i} of {n}");
        }
    }
}

#[test]
fn invalid_wgsl_is_an_error_not_a_panic() {
    let Some(gpu) = device_or_skip() else { return };
    let bad = "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }";
    let err = Pipelines::new(gpu, "bad", bad, &[], 0, &["main"])
        .err()
        .expect("invalid WGSL must fail");
    assert!(err.contains("does not validate"), "{err}");
    // A missing entry point is a pipeline error, also caught.
    let err = Pipelines::new(
        gpu,
        "bad",
        ADD_ONE,
        &[(0, BindingKind::ReadOnlyStorage), (1, BindingKind::Storage)],
        0,
        &["nope"],
    )
    .err()
    .expect("a missing entry point must fail");
    assert!(err.contains("nope"), "{err}");
    // The device still works afterwards.
    assert_eq!(run_add_one(gpu, 4, 1), [1.0, 2.0, 3.0, 4.0]);
    assert!(gpu.take_uncaptured().is_empty());
}

#[test]
fn oversized_binding_names_the_limit() {
    let Some(gpu) = device_or_skip() else { return };
    let limit = gpu.limits.max_storage_buffer_binding_size;
    let err = buffers::check_binding_size(gpu, "array `x`", limit + 4).unwrap_err();
    assert!(err.contains("max_storage_buffer_binding_size"), "{err}");
    assert!(err.contains("array `x`"), "{err}");
    assert!(buffers::check_binding_size(gpu, "array `x`", 1024).is_ok());
}

#[test]
fn read_back_of_several_buffers_in_one_mapping() {
    let Some(gpu) = device_or_skip() else { return };
    let a = buffers::storage(gpu, "a", 12).unwrap();
    let b = buffers::storage(gpu, "b", 4).unwrap();
    buffers::upload(gpu, &a, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    buffers::upload(gpu, &b, &[42, 0, 0, 7]);
    let out = buffers::read_back(gpu, &[(&a, 0, 12), (&b, 0, 4), (&a, 4, 0), (&a, 8, 4)]).unwrap();
    assert_eq!(out[0], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert_eq!(out[1], [42, 0, 0, 7]);
    assert!(out[2].is_empty());
    assert_eq!(out[3], [9, 10, 11, 12]);
    buffers::recycle([a, b]);
}

// ---------------------------------------------------------------------------
// Kernels through the engine.

use crate::engine::args::{Arg, ArrayData, ArrayDataMut};
use crate::engine::{Backend, Engine};
use crate::Module;

fn engine() -> Option<super::WgpuEngine> {
    device_or_skip()?;
    Some(super::WgpuEngine::new().unwrap_or_else(|e| panic!("{e}")))
}

const REDUCE: &str = "kernel total(x: f32[:]) -> f32 {
    let mut s = 0.0f32;
    for i in prange(0..x.len()) {
        s += x[i] * 1.000001;
    }
    return s;
}
kernel total64(x: f64[:]) -> f64 {
    let mut s = 0.0;
    for i in prange(0..x.len()) {
        s += x[i] / 3.0;
    }
    return s;
}
kernel saxpy(a: f32, x: f32[:], y: mut f32[:]) {
    for i in prange(0..y.len()) {
        y[i] = a * x[i] + y[i];
    }
}
";

/// Same bits on every launch: the per-workgroup partials are combined in
/// a fixed order, whatever order the workgroups ran in.
#[test]
fn reductions_are_deterministic() {
    if device_or_skip().is_none() {
        return;
    }
    let module = Module::from_source("reduce.kn", REDUCE).unwrap();
    // Enough elements for many workgroups, with values whose sum depends
    // on the order of additions.
    let n: usize = 1 << 20;
    let x: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 * 0.001 + 1e-3 / (1 + i % 17) as f32)
        .collect();
    let xd: Vec<f64> = x.iter().map(|&v| v as f64 * 1.1).collect();
    let total = module.kernel("total").unwrap();
    let total64 = module.kernel("total64").unwrap();
    let mut seen32 = Vec::new();
    let mut seen64 = Vec::new();
    for _ in 0..5 {
        let r = total
            .launch_on(Backend::Wgpu, &mut [Arg::from(&x)])
            .unwrap()
            .unwrap();
        seen32.push(r.to_bits());
        let r = total64
            .launch_on(Backend::Wgpu, &mut [Arg::from(&xd)])
            .unwrap()
            .unwrap();
        seen64.push(r.to_bits());
    }
    assert!(seen32.iter().all(|&b| b == seen32[0]), "{seen32:x?}");
    assert!(seen64.iter().all(|&b| b == seen64[0]), "{seen64:x?}");
    // And close to the interpreter's sum (a different order).
    let expected = total
        .launch_on(Backend::Interp, &mut [Arg::from(&x)])
        .unwrap()
        .unwrap();
    let (crate::ir::Value::F32(e), got) = (expected, f32::from_bits(seen32[0] as u32)) else {
        panic!("f32 result expected");
    };
    assert!(((e - got) / e).abs() < 1e-4, "{e} vs {got}");
}

/// Arrays stay on the device across launches: two saxpy launches on
/// resident buffers, one download.
#[test]
fn resident_arrays_stay_on_the_device() {
    let Some(engine) = engine() else { return };
    let module = Module::from_source("reduce.kn", REDUCE).unwrap();
    let id = module.kernel("saxpy").unwrap().id();
    let kernel = engine.compile(module.ir(), id).unwrap();
    let n = 1000;
    let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let y: Vec<f32> = vec![1.0; n];
    let bx = engine.upload(&ArrayData::F32(&x)).unwrap();
    let mut by = engine.upload(&ArrayData::F32(&y)).unwrap();
    assert!(engine.has_device_memory());
    assert_eq!(by.device(), engine.device());
    for _ in 0..2 {
        let mut args = [
            Arg::Scalar(crate::ir::Value::F32(2.0)),
            Arg::Device {
                buffer: &bx,
                shape: vec![n],
            },
            Arg::DeviceMut {
                buffer: &mut by,
                shape: vec![n],
            },
        ];
        kernel.launch(&mut args).unwrap();
    }
    let mut out = vec![0.0f32; n];
    engine
        .download(&by, &mut ArrayDataMut::F32(&mut out))
        .unwrap();
    for (i, v) in out.iter().enumerate() {
        assert_eq!(*v, 1.0 + 4.0 * i as f32, "element {i}");
    }
    // upload_into reuses the buffer; alloc gives zeros.
    engine
        .upload_into(&mut by, &ArrayData::F32(&vec![5.0; n]))
        .unwrap();
    engine
        .download(&by, &mut ArrayDataMut::F32(&mut out))
        .unwrap();
    assert!(out.iter().all(|&v| v == 5.0));
    let z = engine.alloc(crate::ir::ScalarType::F32, n).unwrap();
    engine
        .download(&z, &mut ArrayDataMut::F32(&mut out))
        .unwrap();
    assert!(out.iter().all(|&v| v == 0.0));
    // A mismatched download is an error, not a panic.
    let mut short = vec![0.0f32; 3];
    assert!(engine
        .download(&z, &mut ArrayDataMut::F32(&mut short))
        .is_err());
}

/// One launch method: host arrays and device buffers mix in one launch, and
/// a device launch after a host launch of the same kernel binds the device
/// buffer, not the host launch's pooled copy.
#[test]
fn host_and_device_arrays_mix_in_one_launch() {
    let Some(engine) = engine() else { return };
    let module = Module::from_source("reduce.kn", REDUCE).unwrap();
    let kernel = engine
        .compile(module.ir(), module.kernel("saxpy").unwrap().id())
        .unwrap();
    let x: Vec<f32> = (0..64).map(|i| i as f32).collect();
    let mut y = vec![1.0f32; 64];
    kernel
        .launch(&mut [
            Arg::Scalar(crate::ir::Value::F32(1.0)),
            Arg::slice(&x),
            Arg::slice_mut(&mut y),
        ])
        .unwrap();
    assert_eq!(y[10], 11.0);
    // x on the device, y a host array: y comes back, x stays put.
    let bx = engine.upload(&ArrayData::F32(&vec![100.0f32; 64])).unwrap();
    kernel
        .launch(&mut [
            Arg::Scalar(crate::ir::Value::F32(2.0)),
            Arg::Device {
                buffer: &bx,
                shape: vec![64],
            },
            Arg::slice_mut(&mut y),
        ])
        .unwrap();
    assert_eq!(
        y[10], 211.0,
        "the launch read the device buffer, not a stale copy"
    );
    // Both on the device; the host array is untouched by device writes.
    let mut by = engine.upload(&ArrayData::F32(&y)).unwrap();
    kernel
        .launch(&mut [
            Arg::Scalar(crate::ir::Value::F32(1.0)),
            Arg::Device {
                buffer: &bx,
                shape: vec![64],
            },
            Arg::DeviceMut {
                buffer: &mut by,
                shape: vec![64],
            },
        ])
        .unwrap();
    let mut out = vec![0.0f32; 64];
    engine
        .download(&by, &mut ArrayDataMut::F32(&mut out))
        .unwrap();
    assert_eq!((out[10], y[10]), (311.0, 211.0));
}

/// Host engines refuse device buffers with an error naming the argument.
#[test]
fn host_engines_refuse_device_buffers() {
    let Some(engine) = engine() else { return };
    let module = Module::from_source("reduce.kn", REDUCE).unwrap();
    let bx = engine.upload(&ArrayData::F32(&[1.0f32; 4])).unwrap();
    let mut y = vec![0.0f32; 4];
    for backend in [Backend::Cpu, Backend::Interp] {
        // A build without the `cpu` feature has only the interpreter.
        let Ok(host) = crate::backends::engine(backend) else {
            continue;
        };
        let kernel = host
            .compile(module.ir(), module.kernel("saxpy").unwrap().id())
            .unwrap();
        let err = kernel
            .launch(&mut [
                Arg::Scalar(crate::ir::Value::F32(1.0)),
                Arg::Device {
                    buffer: &bx,
                    shape: vec![4],
                },
                Arg::slice_mut(&mut y),
            ])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("argument 2 is a device buffer"),
            "{backend}: {err}"
        );
    }
}

/// A fault in a resident launch is the same located error as any launch.
#[test]
fn resident_launch_reports_faults() {
    let Some(engine) = engine() else { return };
    let src = "kernel poke(x: mut i32[:], k: i64) { x[k] = 1; }";
    let module = Module::from_source("poke.kn", src).unwrap();
    let kernel = engine
        .compile(module.ir(), module.kernel("poke").unwrap().id())
        .unwrap();
    let mut bx = engine.alloc(crate::ir::ScalarType::I32, 4).unwrap();
    let err = kernel
        .launch(&mut [
            Arg::DeviceMut {
                buffer: &mut bx,
                shape: vec![4],
            },
            Arg::Scalar(crate::ir::Value::I64(9)),
        ])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("index 9 is out of bounds for array `x` with shape [4]"),
        "{err}"
    );
}

/// Many workgroups (more than one dispatch dimension holds when the loop
/// has no reduction) and concurrent launches of one kernel from threads.
#[test]
fn large_grids_and_concurrent_launches() {
    if device_or_skip().is_none() {
        return;
    }
    let module = Module::from_source("reduce.kn", REDUCE).unwrap();
    let saxpy = module.kernel("saxpy").unwrap();
    // 65535 workgroups of 256 lanes cover 16.7M elements; more than that
    // exercises the grid-stride loop.
    let n = 65_535 * 256 + 1000;
    let x = vec![1.0f32; n];
    let mut y = vec![0.5f32; n];
    saxpy
        .launch_on(
            Backend::Wgpu,
            &mut [Arg::from(3.0f32), Arg::from(&x), Arg::from(&mut y)],
        )
        .unwrap();
    assert!(y.iter().all(|&v| v == 3.5), "a lane was skipped");
    std::thread::scope(|s| {
        for t in 0..4 {
            let saxpy = &saxpy;
            s.spawn(move || {
                let x = vec![t as f32; 5000];
                let mut y = vec![1.0f32; 5000];
                saxpy
                    .launch_on(
                        Backend::Wgpu,
                        &mut [Arg::from(2.0f32), Arg::from(&x), Arg::from(&mut y)],
                    )
                    .unwrap();
                assert!(y.iter().all(|&v| v == 1.0 + 2.0 * t as f32));
            });
        }
    });
}

/// Missing features fail at compile time, naming the feature and the
/// line of the first construct needing it (checked without a device).
#[test]
fn missing_features_name_the_feature_and_the_line() {
    use super::kernel::check_features;
    use super::Capabilities;
    let src = "kernel k(x: mut f64[:], c: mut i64[:]) {
    for i in prange(0..x.len()) {
        x[i] = x[i] * 2.0;
        atomic_add(c[0], 1);
    }
}
kernel plain(y: mut i32[:]) {
    y[0] = 1;
}
";
    let module = Module::from_source("feat.kn", src).unwrap();
    let program = |name: &str| {
        let id = module.kernel(name).unwrap().id();
        crate::gpu::generate(module.ir(), id, &crate::gpu::wgsl::Wgsl).unwrap()
    };
    let (k, plain) = (program("k"), program("plain"));
    let all = Capabilities {
        f64: true,
        i64: true,
        atomic64: true,
        atomic64_min_max: true,
        float32_atomic: true,
        loop_budget: None,
    };
    let span = module.kernel("k").unwrap().function().span;
    assert!(check_features(&all, "test", &k, span).is_ok());
    let cases = [
        (Capabilities { f64: false, ..all }, "SHADER_F64"),
        (
            Capabilities {
                atomic64: false,
                ..all
            },
            "SHADER_INT64_ATOMIC_ALL_OPS",
        ),
        (Capabilities { i64: false, ..all }, "SHADER_INT64"),
    ];
    for (caps, feature) in cases {
        let err = check_features(&caps, "test adapter", &k, span).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, crate::Error::Unsupported { .. }), "{text}");
        assert!(
            text.contains(feature) && text.contains("test adapter"),
            "{text}"
        );
        assert!(text.starts_with("feat.kn:"), "{text}");
    }
    // A kernel without f64 or 64-bit atomics runs without those features.
    let bare = Capabilities {
        f64: false,
        atomic64: false,
        atomic64_min_max: false,
        ..all
    };
    let plain_span = module.kernel("plain").unwrap().function().span;
    assert!(check_features(&bare, "t", &plain, plain_span).is_ok());
}

/// Through the runtime's `Array`: data uploaded once stays on the device
/// across launches; reading on the host downloads once.
#[test]
fn runtime_arrays_move_only_when_needed() {
    if device_or_skip().is_none() {
        return;
    }
    use crate::Array;
    let module = Module::from_source("reduce.kn", REDUCE).unwrap();
    let saxpy = module.kernel("saxpy").unwrap();
    let n = 4096;
    let x = Array::from_vec((0..n).map(|i| i as f32).collect::<Vec<f32>>());
    let mut y = Array::from_vec(vec![1.0f32; n]);
    for _ in 0..3 {
        saxpy
            .launch_on(
                Backend::Wgpu,
                &mut [Arg::from(2.0f32), x.arg(), y.arg_mut()],
            )
            .unwrap();
    }
    assert_eq!(x.transfers().uploads, 1, "{:?}", x.transfers());
    assert_eq!(y.transfers().uploads, 1, "{:?}", y.transfers());
    assert_eq!(y.transfers().downloads, 0, "{:?}", y.transfers());
    let out = y.to_vec().unwrap();
    assert_eq!(y.transfers().downloads, 1, "{:?}", y.transfers());
    for (i, v) in out.iter().enumerate() {
        assert_eq!(*v, 1.0 + 6.0 * i as f32, "element {i}");
    }
}
