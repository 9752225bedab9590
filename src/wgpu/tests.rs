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
