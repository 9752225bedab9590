//! CPU backend benchmarks: compile latency of every library kernel, launch
//! overhead of a tiny saxpy, and saxpy / sum_sq throughput at 1e7 elements
//! against hand-written Rust (serial iterators and rayon) in the same run.
//!
//! `cargo bench --bench cpu` (set `KILN_NUM_THREADS` to pin the pool size).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kiln::cpu::CpuEngine;
use kiln::runtime::{CompiledKernel, Engine};
use kiln::{ir, Arg};
use rayon::prelude::*;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(stem: &str) -> Arc<ir::Module> {
    let path = root().join("kernels").join(format!("{stem}.kn"));
    let src = std::fs::read_to_string(&path).expect("kernel file");
    Arc::new(kiln::lang::compile(&format!("{stem}.kn"), &src).expect("kernel compiles"))
}

fn kernel_id(m: &ir::Module, name: &str) -> ir::FuncId {
    ir::FuncId(
        m.functions
            .iter()
            .position(|f| f.name == name)
            .expect("kernel") as u32,
    )
}

fn compiled(stem: &str) -> Arc<dyn CompiledKernel> {
    let m = load(stem);
    CpuEngine::new()
        .unwrap()
        .compile(&m, kernel_id(&m, stem))
        .unwrap()
}

fn compile_latency(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile");
    g.sample_size(10).measurement_time(Duration::from_secs(2));
    let mut stems: Vec<String> = std::fs::read_dir(root().join("kernels"))
        .unwrap()
        .filter_map(|e| e.ok()?.path().file_stem()?.to_str().map(String::from))
        .collect();
    stems.sort();
    let engine = CpuEngine::new().unwrap();
    for stem in stems {
        let m = load(&stem);
        let id = kernel_id(&m, &stem);
        g.bench_function(BenchmarkId::from_parameter(&stem), |b| {
            b.iter(|| engine.compile(&m, id).unwrap())
        });
    }
    g.finish();
}

fn launch_overhead(c: &mut Criterion) {
    let k = compiled("saxpy");
    let x = vec![1.0f32; 1000];
    let mut y = vec![2.0f32; 1000];
    c.bench_function("launch/saxpy_1000", |b| {
        b.iter(|| {
            k.launch(&mut [
                Arg::from(black_box(2.0f32)),
                Arg::from(&x),
                Arg::from(&mut y),
            ])
            .unwrap()
        })
    });
}

fn throughput(c: &mut Criterion) {
    const N: usize = 10_000_000;
    let x: Vec<f32> = (0..N).map(|i| (i % 1000) as f32 * 1e-3).collect();
    let mut y: Vec<f32> = vec![1.0; N];
    let xd: Vec<f64> = x.iter().map(|v| *v as f64).collect();
    let saxpy = compiled("saxpy");
    let sum_sq = compiled("sum_sq");

    let mut g = c.benchmark_group("saxpy_1e7");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(12 * N as u64));
    g.bench_function("kiln_cpu", |b| {
        b.iter(|| {
            saxpy
                .launch(&mut [Arg::from(2.0f32), Arg::from(&x), Arg::from(&mut y)])
                .unwrap()
        })
    });
    // `a` goes through `black_box` once per launch (not per element, which
    // would stop LLVM from vectorizing the loop).
    g.bench_function("rust_serial", |b| {
        b.iter(|| {
            let a = black_box(2.0f32);
            y.iter_mut().zip(&x).for_each(|(y, x)| *y = a * x + *y)
        })
    });
    g.bench_function("rust_rayon", |b| {
        b.iter(|| {
            let a = black_box(2.0f32);
            y.par_iter_mut().zip(&x).for_each(|(y, x)| *y = a * x + *y)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sum_sq_1e7");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(8 * N as u64));
    g.bench_function("kiln_cpu", |b| {
        b.iter(|| sum_sq.launch(&mut [Arg::from(&xd)]).unwrap())
    });
    g.bench_function("rust_serial", |b| {
        b.iter(|| black_box(xd.iter().map(|v| v * v).sum::<f64>()))
    });
    g.bench_function("rust_rayon", |b| {
        b.iter(|| black_box(xd.par_iter().map(|v| v * v).sum::<f64>()))
    });
    g.finish();
}

criterion_group!(benches, compile_latency, launch_overhead, throughput);
criterion_main!(benches);
