//! The per-call cost of a typed launch (`kiln::kernels!`, docs/typed.md)
//! against `Kernel::launch_on` with hand-built `Arg`s, for a 1,000-element
//! saxpy and for a kernel that does nothing (where the launch path is all
//! there is to measure). Both sides launch the same kernel source on the
//! same backend, with the same arrays.
//!
//! `cargo bench --bench typed`

use criterion::{criterion_group, criterion_main, Criterion};
use kiln::{Arg, Backend, Module};
use std::hint::black_box;
use std::time::Duration;

const SAXPY: &str = "kernel saxpy(a: f32, x: f32[:], y: mut f32[:]) {
    for i in prange(0..y.len()) { y[i] = a * x[i] + y[i]; }
}
kernel nothing(x: f32[:], y: mut f32[:]) {}
";

kiln::kernels! {
    kernel saxpy(a: f32, x: f32[:], y: mut f32[:]) {
        for i in prange(0..y.len()) { y[i] = a * x[i] + y[i]; }
    }
    kernel nothing(x: f32[:], y: mut f32[:]) {}
}

fn launch_overhead(c: &mut Criterion) {
    let module = Module::from_source("saxpy.kn", SAXPY).unwrap();
    let untyped_saxpy = module.kernel("saxpy").unwrap();
    let untyped_nothing = module.kernel("nothing").unwrap();
    let x = vec![1.0f32; 1000];
    let mut y = vec![0.0f32; 1000];

    for backend in [Backend::Cpu, Backend::Auto] {
        let mut g = c.benchmark_group(format!("saxpy_1000_{backend}"));
        g.bench_function("Kernel::launch_on", |b| {
            b.iter(|| {
                untyped_saxpy
                    .launch_on(
                        backend,
                        &mut [
                            Arg::from(black_box(0.5f32)),
                            Arg::from(&x),
                            Arg::from(&mut y),
                        ],
                    )
                    .unwrap()
            })
        });
        g.bench_function("typed saxpy_on", |b| {
            b.iter(|| saxpy_on(backend, black_box(0.5f32), &x, &mut y).unwrap())
        });
        g.finish();

        let mut g = c.benchmark_group(format!("empty_kernel_{backend}"));
        g.bench_function("Kernel::launch_on", |b| {
            b.iter(|| {
                untyped_nothing
                    .launch_on(backend, &mut [Arg::from(&x), Arg::from(&mut y)])
                    .unwrap()
            })
        });
        g.bench_function("typed nothing_on", |b| {
            b.iter(|| nothing_on(backend, &x, &mut y).unwrap())
        });
        g.finish();
    }

    // `Kernel::launch` reads `KILN_BACKEND` on every call; the typed `k`
    // launches on `Auto` directly.
    let mut g = c.benchmark_group("saxpy_1000_default");
    g.bench_function("Kernel::launch", |b| {
        b.iter(|| {
            untyped_saxpy
                .launch(&mut [
                    Arg::from(black_box(0.5f32)),
                    Arg::from(&x),
                    Arg::from(&mut y),
                ])
                .unwrap()
        })
    });
    g.bench_function("typed saxpy", |b| {
        b.iter(|| saxpy(black_box(0.5f32), &x, &mut y).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = launch_overhead
}
criterion_main!(benches);
