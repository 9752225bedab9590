//! Array expressions (docs/expr.md) against the alternatives, in one run:
//!
//! - `six_ops_1e7_f32`: `y = max((a * 1.5 + b) * c - 0.5, 0) / 2` over 1e7
//!   f32 elements: the fused expression (`y.assign(...)`), the same
//!   computation written as one kiln kernel, the six operations evaluated
//!   one by one (one kernel and one temporary each, CuPy's default),
//!   ndarray hand-fused (`Zip::par_for_each`) and ndarray one operation at
//!   a time (each pass parallel with rayon).
//! - `norm_1e7_f64`: `((a - b) * (a - b)).sum().sqrt()` against the
//!   library's hand-written `dot` kernel (kernels/dot.kn): both read two
//!   arrays once and reduce.
//! - `overhead_16_f32`: a tiny cached expression against launching the
//!   equivalent hand-written kernel: what evaluation adds.
//!
//! Every kiln variant runs on `Backend::Cpu` (the JIT on the rayon pool),
//! so the ratios compare code generation, not device choices.
//!
//! `cargo bench --bench expr -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, Criterion};
use kiln::{Array, Backend, Module};
use ndarray::{Array1, Zip};
use std::hint::black_box;
use std::time::Duration;

const N: usize = 10_000_000;

const SIX_OPS: &str = "kernel six(a: f32[:], b: f32[:], c: f32[:], y: mut f32[:]) {
    for i in prange(0..y.len()) {
        y[i] = max((a[i] * 1.5 + b[i]) * c[i] - 0.5, 0.0) / 2.0;
    }
}
kernel axpb(x: f32[:], s: f32, t: f32, y: mut f32[:]) {
    for i in prange(0..y.len()) {
        y[i] = x[i] * s + t;
    }
}
";

fn six_ops(c: &mut Criterion) {
    let cpu = Backend::Cpu;
    let data = |k: usize| {
        (0..N)
            .map(|i| ((i * k) % 1000) as f32 * 1e-3)
            .collect::<Vec<f32>>()
    };
    let (va, vb, vc) = (data(7), data(13), data(17));
    let (a, b, cc) = (
        Array::from(va.clone()),
        Array::from(vb.clone()),
        Array::from(vc.clone()),
    );
    let mut y = Array::from(vec![0.0f32; N]);
    let module = Module::from_source("six.kn", SIX_OPS).unwrap();
    let kernel = module.kernel("six").unwrap();

    let mut g = c.benchmark_group("six_ops_1e7_f32");
    g.sample_size(10);
    g.bench_function("kiln fused expression", |bch| {
        bch.iter(|| {
            y.assign((((&a * 1.5f32 + &b) * &cc - 0.5f32).maximum(0.0f32) / 2.0f32).on(cpu))
                .unwrap()
        })
    });
    g.bench_function("kiln hand-written kernel", |bch| {
        bch.iter(|| {
            kernel
                .launch_on(cpu, &mut [a.arg(), b.arg(), cc.arg(), y.arg_mut()])
                .unwrap()
        })
    });
    g.bench_function("kiln six ops one by one", |bch| {
        bch.iter(|| {
            let t1 = (&a * 1.5f32).on(cpu).eval().unwrap();
            let t2 = (&t1 + &b).on(cpu).eval().unwrap();
            let t3 = (&t2 * &cc).on(cpu).eval().unwrap();
            let t4 = (&t3 - 0.5f32).on(cpu).eval().unwrap();
            let t5 = t4.maximum(0.0f32).on(cpu).eval().unwrap();
            black_box((&t5 / 2.0f32).on(cpu).eval().unwrap())
        })
    });
    let (na, nb, nc) = (Array1::from(va), Array1::from(vb), Array1::from(vc));
    let mut ny = Array1::<f32>::zeros(N);
    g.bench_function("ndarray Zip::par_for_each fused", |bch| {
        bch.iter(|| {
            Zip::from(&mut ny)
                .and(&na)
                .and(&nb)
                .and(&nc)
                .par_for_each(|y, &a, &b, &c| {
                    *y = ((a * 1.5 + b) * c - 0.5).max(0.0) / 2.0;
                })
        })
    });
    g.bench_function("ndarray six ops one by one (rayon)", |bch| {
        bch.iter(|| {
            // One temporary and one parallel pass per operation.
            let mut t = na.clone();
            t.par_mapv_inplace(|x| x * 1.5);
            Zip::from(&mut t).and(&nb).par_for_each(|t, &b| *t += b);
            Zip::from(&mut t).and(&nc).par_for_each(|t, &c| *t *= c);
            t.par_mapv_inplace(|x| x - 0.5);
            t.par_mapv_inplace(|x| x.max(0.0));
            t.par_mapv_inplace(|x| x / 2.0);
            black_box(t)
        })
    });
    g.finish();
}

fn norm(c: &mut Criterion) {
    let cpu = Backend::Cpu;
    let a = Array::from((0..N).map(|i| (i % 1000) as f64 * 1e-3).collect::<Vec<_>>());
    let b = Array::from((0..N).map(|i| (i % 777) as f64 * 1e-3).collect::<Vec<_>>());
    let dot = Module::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/kernels/dot.kn"))
        .unwrap()
        .kernel("dot")
        .unwrap();
    let mut g = c.benchmark_group("norm_1e7_f64");
    g.sample_size(10);
    g.bench_function("kiln fused ((a - b) * (a - b)).sum().sqrt()", |bch| {
        bch.iter(|| black_box(((&a - &b) * (&a - &b)).on(cpu).sum().unwrap().sqrt()))
    });
    g.bench_function("kiln dot kernel (kernels/dot.kn)", |bch| {
        bch.iter(|| black_box(dot.launch_on(cpu, &mut [a.arg(), b.arg()]).unwrap()))
    });
    g.finish();
}

fn overhead(c: &mut Criterion) {
    let x = Array::from(vec![1.0f32; 16]);
    let mut y = Array::from(vec![0.0f32; 16]);
    let module = Module::from_source("axpb.kn", SIX_OPS).unwrap();
    let kernel = module.kernel("axpb").unwrap();
    for backend in [Backend::Cpu, Backend::Auto] {
        let mut g = c.benchmark_group(format!("overhead_16_f32_{backend}"));
        g.bench_function("kiln cached expression y.assign(x * s + t)", |bch| {
            bch.iter(|| {
                y.assign((&x * black_box(2.0f32) + 1.0f32).on(backend))
                    .unwrap()
            })
        });
        g.bench_function("kiln hand-written kernel launch", |bch| {
            bch.iter(|| {
                kernel
                    .launch_on(
                        backend,
                        &mut [
                            x.arg(),
                            black_box(2.0f32).into(),
                            1.0f32.into(),
                            y.arg_mut(),
                        ],
                    )
                    .unwrap()
            })
        });
        g.bench_function("kiln cached expression eval (allocates)", |bch| {
            bch.iter(|| {
                black_box(
                    (&x * black_box(2.0f32) + 1.0f32)
                        .on(backend)
                        .eval()
                        .unwrap(),
                )
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = six_ops, norm, overhead
}
criterion_main!(benches);
