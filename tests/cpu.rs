//! The CPU (Cranelift + rayon) backend against the reference interpreter:
//! every construct, every scalar type, every run-time fault, determinism of
//! float reductions for any thread count, and the CLIF dump.

mod common;

use common::inputs::{as_args, Data, Input};
use kiln::cpu::{emit_clif, set_num_threads, CpuEngine};
use kiln::runtime::Engine;
use kiln::{ir, Error, Fault, Value};
use std::sync::{Arc, Mutex};

/// Tests that change the thread count must not overlap.
static THREADS: Mutex<()> = Mutex::new(());

fn module(src: &str) -> Arc<ir::Module> {
    match kiln::lang::compile("t.kn", src) {
        Ok(m) => Arc::new(m),
        Err(d) => panic!("{d}"),
    }
}

fn arr(name: &str, data: Data, shape: &[usize], mutable: bool) -> Input {
    Input::Array {
        name: name.into(),
        data,
        shape: shape.to_vec(),
        mutable,
    }
}

/// A read-only `f64` array holding `0, 1, 2, …` in row-major order.
fn ramp(name: &str, shape: &[usize]) -> Input {
    let n = shape.iter().product::<usize>();
    arr(
        name,
        Data::F64((0..n).map(|v| v as f64).collect()),
        shape,
        false,
    )
}

/// A writable `f64` array of zeros.
fn zeros(name: &str, shape: &[usize]) -> Input {
    let n = shape.iter().product::<usize>();
    arr(name, Data::F64(vec![0.0; n]), shape, true)
}

fn sc(name: &str, value: Value) -> Input {
    Input::Scalar {
        name: name.into(),
        value,
    }
}

type Outcome = (Result<Option<Value>, String>, Vec<Input>);

fn run_cpu(m: &Arc<ir::Module>, kernel: &str, inputs: &[Input]) -> Outcome {
    let mut inputs = inputs.to_vec();
    let id = ir::FuncId(
        m.functions
            .iter()
            .position(|f| f.name == kernel)
            .expect("kernel") as u32,
    );
    let compiled = CpuEngine::new().unwrap().compile(m, id).unwrap();
    let r = compiled
        .launch(&mut as_args(&mut inputs))
        .map_err(|e| format!("{e:?}"));
    (r, inputs)
}

fn run_interp(m: &Arc<ir::Module>, kernel: &str, inputs: &[Input]) -> Outcome {
    let mut inputs = inputs.to_vec();
    let k = m.kernel(kernel).expect("kernel");
    let r = kiln::interp::run(m, k, &mut as_args(&mut inputs))
        .map_err(|e| format!("{:?}", Error::Runtime(e)));
    (r, inputs)
}

/// Runs on both and requires bit-identical outputs, results and errors.
fn same(src: &str, kernel: &str, inputs: &[Input]) -> Outcome {
    let m = module(src);
    let cpu = run_cpu(&m, kernel, inputs);
    let int = run_interp(&m, kernel, inputs);
    assert_eq!(
        format!("{:?}", cpu.0),
        format!("{:?}", int.0),
        "result of `{kernel}`"
    );
    assert_eq!(
        format!("{:?}", cpu.1),
        format!("{:?}", int.1),
        "outputs of `{kernel}`"
    );
    cpu
}

fn fault_of(src: &str, kernel: &str, inputs: &[Input]) -> kiln::RuntimeError {
    let m = module(src);
    let id = ir::FuncId(m.functions.iter().position(|f| f.name == kernel).unwrap() as u32);
    let mut a = inputs.to_vec();
    let e = CpuEngine::new()
        .unwrap()
        .compile(&m, id)
        .unwrap()
        .launch(&mut as_args(&mut a))
        .unwrap_err();
    let mut b = inputs.to_vec();
    let expected =
        kiln::interp::run(&m, m.kernel(kernel).unwrap(), &mut as_args(&mut b)).unwrap_err();
    match e {
        Error::Runtime(r) => {
            assert_eq!(r, expected);
            assert_eq!(
                format!("{:?}", a),
                format!("{:?}", b),
                "writes before the fault"
            );
            r
        }
        other => panic!("expected a run-time error, got {other}"),
    }
}

const SCALARS: &str = r#"
kernel scalars(o64: mut i64[:], of64: mut f64[:], of32: mut f32[:], a: i32, b: i32, u: u32, l: i64, x: f64, y: f32, t: bool) {
    o64[0] = (a + b) as i64;
    o64[1] = (a * b) as i64;
    o64[2] = (a / b) as i64 + (a % b) as i64 * 1000;
    o64[3] = (a << b) as i64 + (a >> b) as i64;
    o64[4] = (u >> 3u32) as i64 + (u << 7u32) as i64 + (u / 7u32) as i64 + (u % 7u32) as i64;
    o64[5] = (l * l) + (l >> 70) + (l / -3) + (l % -3);
    o64[6] = (a & b | a ^ b) as i64 + (!a) as i64 + (!u) as i64;
    o64[7] = (t as i64) + ((t & (a < b)) as i64) * 2 + ((t | (u > 3u32)) as i64) * 4 + ((t ^ true) as i64) * 8;
    o64[8] = x as i64 + (y as i32) as i64 + (x as u32) as i64 + (-x) as i64;
    o64[9] = (a == b) as i64 + (a != b) as i64 * 2 + (u <= 5u32) as i64 * 4 + (l >= 0) as i64 * 8 + (!t) as i64 * 16;
    o64[10] = abs(a) as i64 + abs(l) + min(a, b) as i64 + max(u, 9u32) as i64 + clamp(l, -5, 5);
    o64[11] = select(t, a, b) as i64 + (if a > b { l } else { -l });
    of64[0] = x + 1.5 - x * 0.25 / 3.0;
    of64[1] = x % 0.7 + round(x) + floor(x) + ceil(x) + trunc(x);
    of64[2] = min(x, 0.0 / 0.0) + max(0.0 / 0.0, x) + clamp(x, -1.0, 1.0) + abs(-x);
    of64[3] = sqrt(abs(x)) + cbrt(x) + exp(x / 100.0) + exp2(x / 50.0) + log(abs(x) + 1.0) + log2(abs(x) + 2.0) + log10(abs(x) + 3.0);
    of64[4] = sin(x) + cos(x) + tan(x) + asin(0.25) + acos(0.5) + atan(x) + atan2(x, 2.0);
    of64[5] = sinh(x / 10.0) + cosh(x / 10.0) + tanh(x) + pow(abs(x), 1.5) + fma(x, 2.0, 1.0) + erf(x / 4.0) + hypot(x, 3.0);
    of64[6] = (is_nan(x) as i32 + is_inf(1.0 / (x - x)) as i32 * 2) as f64 + (u as f64) + (l as f64) + (a as f64) + (t as f64);
    of64[7] = round(-2.5) + round(2.5) * 10.0 + round(0.49999999999999994) * 100.0 + round(-0.5) * 1000.0;
    of32[0] = y * 3.0 - y / 7.0 + y % 1.5;
    of32[1] = sqrt(abs(y)) + sin(y) + cos(y) + exp(y / 8.0) + log(abs(y) + 1.0) + pow(abs(y), 0.5) + erf(y) + round(y) + hypot(y, 1.0);
    of32[2] = min(y, 0.0 / 0.0) + max(y, 2.0) + (a as f32) + (u as f32) + (x as f32) + (l as f32);
    of32[3] = tanh(y) + atan2(y, 1.0) + cbrt(y) + exp2(y) + log2(abs(y) + 1.0) + log10(abs(y) + 1.0) + fma(y, y, y) + sinh(y) + cosh(y) + asin(0.5) + acos(0.1) + atan(y) + tan(y);
}
"#;

fn scalar_inputs(a: i32, b: i32, u: u32, l: i64, x: f64, y: f32, t: bool) -> Vec<Input> {
    vec![
        arr("o64", Data::I64(vec![0; 12]), &[12], true),
        arr("of64", Data::F64(vec![0.0; 8]), &[8], true),
        arr("of32", Data::F32(vec![0.0; 4]), &[4], true),
        sc("a", Value::I32(a)),
        sc("b", Value::I32(b)),
        sc("u", Value::U32(u)),
        sc("l", Value::I64(l)),
        sc("x", Value::F64(x)),
        sc("y", Value::F32(y)),
        sc("t", Value::Bool(t)),
    ]
}

#[test]
fn scalar_semantics_of_every_type_match_the_interpreter() {
    let cases = [
        (7, 3, 10u32, 12345i64, 2.75f64, 1.25f32, true),
        (i32::MIN, -1, u32::MAX, i64::MIN, -3.5, -0.5, false),
        (i32::MAX, 33, 0, i64::MAX, 1e300, f32::MAX, true),
        (-17, 5, 3, -9, f64::NAN, f32::NAN, false),
        (100, -37, 12, 1 << 40, -1e-310, -7.5, true),
    ];
    for (a, b, u, l, x, y, t) in cases {
        let _ = same(SCALARS, "scalars", &scalar_inputs(a, b, u, l, x, y, t));
    }
}

const LOOPS: &str = r#"
fn tri(n: i64) -> i64 {
    let mut s = 0;
    for i in 0..=n { s += i; }
    return s;
}
fn collatz(x: i64) -> i32 {
    let mut v = x;
    let mut steps = 0;
    while v != 1 {
        if v % 2 == 0 { v = v / 2; } else { v = 3 * v + 1; }
        steps += 1;
        if steps > 1000 { break; }
    }
    return steps;
}
const K: i64 = 3 * SCALE;
const SCALE: i64 = 2;
kernel loops(out: mut i64[:], n: i64, k: i64) -> i64 {
    let mut acc = 0;
    for i in 0..n { acc += i; }
    out[0] = acc;
    acc = 0;
    for i in (0..n).step_by(k) { acc = acc * 3 + i; }
    out[1] = acc;
    acc = 0;
    for i in (0..n).rev() { acc = acc * 2 + i; }
    out[2] = acc;
    acc = 0;
    for i in (0..n).rev().step_by(k) { acc = acc * 5 + i; }
    out[3] = acc;
    acc = 0;
    for i in (0..n).step_by(k).rev() { acc = acc * 7 + i; }
    out[4] = acc;
    acc = 0;
    for i in 1..=n {
        if i % 3 == 0 { continue; }
        if i > 20 { break; }
        acc += i * K;
    }
    out[5] = acc;
    out[6] = tri(n) + collatz(n + 7) as i64;
    let mut w = 0;
    let mut it = 0;
    while true {
        it += 1;
        if it > 50 { break; }
        if it % 2 == 1 { continue; }
        w += it;
    }
    out[7] = w;
    for r in 0..3 {
        for i in prange(0..n) {
            out[8 + i] = out[8 + i] + i * (r + 1) + tri(i);
        }
    }
    if n < 0 { return -1; }
    return acc + w;
}
"#;

#[test]
fn loops_helpers_consts_and_prange_in_serial_loops_match() {
    for (n, k) in [(0i64, 1i64), (10, 3), (17, 4), (25, 1)] {
        let _ = same(
            LOOPS,
            "loops",
            &[
                arr("out", Data::I64(vec![0; 40]), &[40], true),
                sc("n", Value::I64(n)),
                sc("k", Value::I64(k)),
            ],
        );
    }
}

const PAR: &str = r#"
kernel par3(a: f64[:, :, :], out: mut f64[:, :, :], scale: f64) -> i64 {
    let mut count = 0;
    let mut lo = 1.0e300;
    let mut hi = -1.0e300;
    let mut bits = 0;
    let mut all = -1;
    let mut prod = 1;
    let mut neg = 0.0;
    for (i, j, k) in prange(0..a.shape(0), 0..a.shape(1), 0..a.shape(2)) {
        let v = a[i, j, k] * scale;
        if v < 0.0 { continue; }
        out[i, j, k] = v + (i * 100 + j * 10 + k) as f64;
        count += 1;
        lo = min(lo, v);
        hi = hi.max(v);
        bits ^= i * 7 + j * 3 + k;
        all &= -1 - (k % 2);
        prod *= 1 + (i % 2);
        neg -= v;
    }
    out[0, 0, 0] = lo + hi * 2.0 + neg;
    return count * 1000000 + bits * 1000 + all * 10 + prod % 7;
}
"#;

#[test]
fn multi_dimensional_prange_with_every_reduction_matches() {
    for (d0, d1, d2) in [(2usize, 3usize, 4usize), (5, 70, 130), (1, 1, 1), (0, 4, 4)] {
        let n = d0 * d1 * d2;
        let a: Vec<f64> = (0..n).map(|i| ((i * 37 % 101) as f64) - 30.0).collect();
        let (cpu, _) = same(
            PAR,
            "par3",
            &[
                arr("a", Data::F64(a), &[d0, d1, d2], false),
                arr("out", Data::F64(vec![0.0; n]), &[d0, d1, d2], true),
                sc("scale", Value::F64(0.5)),
            ],
        );
        // An empty array makes the final `out[0, 0, 0]` fault (on both).
        assert_eq!(cpu.is_ok(), n > 0);
    }
}

const ATOMICS: &str = r#"
kernel atomics(idx: i32[:], hi: mut i32[:], hu: mut u32[:], hl: mut i64[:], hf: mut f32[:], hd: mut f64[:], mn: mut i64[:], mx: mut f64[:]) {
    for i in prange(0..idx.len()) {
        let b = idx[i];
        atomic_add(hi[b], 1);
        atomic_add(hu[b], 2u32);
        atomic_add(hl[b], i);
        atomic_add(hf[b], 0.5f32);
        atomic_add(hd[b], 0.25);
        atomic_min(mn[b], i);
        atomic_max(mx[b], i as f64);
    }
    let prev = atomic_add(hl[0], 1000);
    hl[1] = prev;
}
"#;

#[test]
fn atomics_on_every_type_match() {
    let n = 100_000;
    let idx: Vec<i32> = (0..n).map(|i| ((i * 7919) % 16) as i32).collect();
    let _ = same(
        ATOMICS,
        "atomics",
        &[
            arr("idx", Data::I32(idx), &[n], false),
            arr("hi", Data::I32(vec![0; 16]), &[16], true),
            arr("hu", Data::U32(vec![0; 16]), &[16], true),
            arr("hl", Data::I64(vec![0; 16]), &[16], true),
            arr("hf", Data::F32(vec![0.0; 16]), &[16], true),
            arr("hd", Data::F64(vec![0.0; 16]), &[16], true),
            arr("mn", Data::I64(vec![i64::MAX; 16]), &[16], true),
            arr("mx", Data::F64(vec![-1.0; 16]), &[16], true),
        ],
    );
}

const FAULTS: &str = r#"
kernel index_serial(y: mut f32[:], i: i64) { y[i] = 1.0; }
kernel index_2d(y: mut i32[:, :], i: i64, j: i64) { y[i, j] = y[j, i] + 1; }
kernel div(a: i32, b: i32) -> i32 { return a / b; }
kernel rem(a: i64, b: i64) -> i64 { return a % b; }
kernel divu(a: u32, b: u32) -> u32 { return a / b + a % b; }
kernel step(y: mut i64[:], k: i64) {
    for i in (0..10).step_by(k) { y[0] = y[0] + i; }
}
kernel par_index(x: f64[:], y: mut f64[:], off: i64) {
    for i in prange(0..y.len()) { y[i] = x[i + off]; }
}
kernel par_div(x: mut i64[:], d: i64) {
    for i in prange(0..x.len()) { x[i] = 100 / (x[i] - d); }
}
kernel hoisted(x: f64[:], y: mut f64[:], n: i64) {
    for i in 0..n {
        y[i] = x[i] * 2.0;
    }
}
"#;

#[test]
fn every_fault_matches_the_interpreter() {
    let ys = || arr("y", Data::F32(vec![0.0; 8]), &[8], true);
    let r = fault_of(
        FAULTS,
        "index_serial",
        &[ys(), sc("i", Value::I64(1 << 40))],
    );
    assert!(
        matches!(r.fault, Fault::IndexOutOfBounds { ref index, .. } if index == &vec![1i64 << 40])
    );
    fault_of(FAULTS, "index_serial", &[ys(), sc("i", Value::I64(-1))]);
    let y2 = || arr("y", Data::I32(vec![0; 12]), &[3, 4], true);
    let r = fault_of(
        FAULTS,
        "index_2d",
        &[y2(), sc("i", Value::I64(1)), sc("j", Value::I64(3))],
    );
    assert!(
        matches!(r.fault, Fault::IndexOutOfBounds { dim: 0, .. }),
        "{r}"
    );
    fault_of(
        FAULTS,
        "index_2d",
        &[y2(), sc("i", Value::I64(2)), sc("j", Value::I64(-2))],
    );
    assert_eq!(
        fault_of(
            FAULTS,
            "div",
            &[sc("a", Value::I32(5)), sc("b", Value::I32(0))]
        )
        .fault,
        Fault::DivisionByZero
    );
    assert_eq!(
        fault_of(
            FAULTS,
            "rem",
            &[sc("a", Value::I64(5)), sc("b", Value::I64(0))]
        )
        .fault,
        Fault::RemainderByZero
    );
    assert_eq!(
        fault_of(
            FAULTS,
            "divu",
            &[sc("a", Value::U32(5)), sc("b", Value::U32(0))]
        )
        .fault,
        Fault::DivisionByZero
    );
    let step = |k| {
        vec![
            arr("y", Data::I64(vec![0; 1]), &[1], true),
            sc("k", Value::I64(k)),
        ]
    };
    assert_eq!(
        fault_of(FAULTS, "step", &step(0)).fault,
        Fault::StepNotPositive { step: 0 }
    );
    assert_eq!(
        fault_of(FAULTS, "step", &step(-4)).fault,
        Fault::StepNotPositive { step: -4 }
    );
    let n = 100_000;
    let par = |off| {
        vec![
            arr("x", Data::F64(vec![1.0; n]), &[n], false),
            arr("y", Data::F64(vec![0.0; n - 10]), &[n - 10], true),
            sc("off", Value::I64(off)),
        ]
    };
    let m = module(FAULTS);
    // In a prange the failing iteration is unique here, so the error is too
    // (other chunks' writes may differ: compare the error only).
    for off in [-1i64, 11] {
        let (r, _) = run_cpu(&m, "par_index", &par(off));
        let (e, _) = run_interp(&m, "par_index", &par(off));
        assert_eq!(r, e);
    }
    let mut x: Vec<i64> = (0..n as i64).collect();
    x[n / 2] = 7;
    let (r, _) = run_cpu(
        &m,
        "par_div",
        &[
            arr("x", Data::I64(x.clone()), &[n], true),
            sc("d", Value::I64(7)),
        ],
    );
    let (e, _) = run_interp(
        &m,
        "par_div",
        &[arr("x", Data::I64(x), &[n], true), sc("d", Value::I64(7))],
    );
    assert!(r.is_err());
    assert_eq!(r, e);
}

#[test]
fn wrapping_division_does_not_fault() {
    let _ = same(
        FAULTS,
        "div",
        &[sc("a", Value::I32(i32::MIN)), sc("b", Value::I32(-1))],
    );
    let _ = same(
        FAULTS,
        "rem",
        &[sc("a", Value::I64(i64::MIN)), sc("b", Value::I64(-1))],
    );
}

#[test]
fn a_failed_hoisted_check_reports_the_exact_iteration() {
    // n = 9 > len(y) = 8: the range check before the loop fails, the checked
    // copy runs and faults at i = 8 after writing y[0..8].
    for n in [0i64, 5, 8, 9, 1 << 40] {
        let inputs = [ramp("x", &[8]), zeros("y", &[8]), sc("n", Value::I64(n))];
        let _ = same(FAULTS, "hoisted", &inputs);
    }
}

const SUMS: &str = r#"
kernel sum64(x: f64[:]) -> f64 {
    let mut s = 0.0;
    for i in prange(0..x.len()) { s += x[i] * x[i]; }
    return s;
}
kernel sum32(x: f32[:]) -> f32 {
    let mut s = 0.0f32;
    for i in prange(0..x.len()) { s += x[i]; }
    return s;
}
"#;

#[test]
fn float_sums_have_the_same_bits_for_1_2_3_threads() {
    let _guard = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let m = module(SUMS);
    let n = 1_000_003;
    let x64: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.001).sin() * 1e3).collect();
    let x32: Vec<f32> = x64.iter().map(|v| *v as f32).collect();
    let mut seen = Vec::new();
    for threads in [1, 2, 3] {
        set_num_threads(threads);
        let a = run_cpu(
            &m,
            "sum64",
            &[arr("x", Data::F64(x64.clone()), &[n], false)],
        )
        .0
        .unwrap();
        let b = run_cpu(
            &m,
            "sum32",
            &[arr("x", Data::F32(x32.clone()), &[n], false)],
        )
        .0
        .unwrap();
        seen.push((a, b));
    }
    set_num_threads(0);
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0], seen[2]);
    let exact: f64 = x64.iter().map(|v| v * v).sum();
    let Some(Value::F64(got)) = seen[0].0 else {
        panic!("{:?}", seen[0])
    };
    assert!((got - exact).abs() <= 1e-9 * exact);
}

#[test]
fn emit_clif_prints_main_and_chunk_functions() {
    let m = module(PAR);
    let text = emit_clif(&m, "par3").unwrap();
    assert!(text.contains("main of kernel `par3`"), "{text}");
    assert!(text.contains("prange 0 of kernel `par3`"));
    assert!(text.contains("call"));
    assert!(matches!(
        emit_clif(&m, "nope"),
        Err(Error::NoSuchKernel { .. })
    ));
}

#[test]
fn inner_loop_checks_are_hoisted_in_matmul_nbody_and_stencils() {
    for stem in ["matmul", "nbody", "jacobi2d"] {
        let src =
            std::fs::read_to_string(common::root().join(format!("kernels/{stem}.kn"))).unwrap();
        let m = module(&src);
        let text = emit_clif(&m, stem).unwrap();
        // The hoisted range check computes `E + C*v` with overflow flags
        // (no wide arithmetic); the checked fallback copy keeps its
        // per-access checks.
        assert!(text.contains("sadd_overflow"), "{stem}: {text}");
        assert!(!text.contains("i128"), "{stem}: {text}");
    }
}

const WIDE: &str = r#"
kernel wide(x: f64[:], y: mut f64[:], n: i64, c: i64, k: i64) {
    for i in 0..n {
        y[i] = x[i * c + k] + x[k - i] + x[3 * i + k];
    }
}
"#;

#[test]
fn hoisted_checks_whose_endpoints_overflow_i64_run_the_checked_copy() {
    // Coefficients and offsets near the ends of i64: the exact endpoints do
    // not fit, the check fails, and the checked copy gives the
    // interpreter's result or fault (index arithmetic wraps, so even `i`
    // with `c = i64::MIN` reads `x[k]`).
    let cs = [1i64, 3, -1, 1 << 62, i64::MIN];
    let ks = [0i64, 5, i64::MAX - 2, i64::MIN + 1];
    for (c, k, n) in cs
        .iter()
        .flat_map(|&c| ks.iter().map(move |&k| (c, k)))
        .flat_map(|(c, k)| [0i64, 1, 3, 4].map(|n| (c, k, n)))
    {
        let inputs = [
            ramp("x", &[16]),
            zeros("y", &[8]),
            sc("n", Value::I64(n)),
            sc("c", Value::I64(c)),
            sc("k", Value::I64(k)),
        ];
        let _ = same(WIDE, "wide", &inputs);
    }
}

#[test]
fn kernels_compiled_on_many_threads_at_once_match() {
    // A compile hands its functions to the process's one compile helper
    // thread as they are built (`cpu::lower::codegen`), so concurrent
    // compiles interleave there; each must still get its own code.
    std::thread::scope(|s| {
        for t in 0..4i64 {
            s.spawn(move || {
                for r in 0..5i64 {
                    let inputs = [
                        ramp("x", &[16]),
                        zeros("y", &[8]),
                        sc("n", Value::I64((t + r) % 9)),
                        sc("c", Value::I64(1 + r % 2)),
                        sc("k", Value::I64(t % 3)),
                    ];
                    let _ = same(WIDE, "wide", &inputs);
                    let inputs = [
                        ramp("x", &[6, 10]),
                        zeros("y", &[6, 10]),
                        sc("dj", Value::I64(r % 3 - 1)),
                    ];
                    let _ = same(SHIFTED, "shifted", &inputs);
                }
            });
        }
    });
}

const SHIFTED: &str = r#"
kernel shifted(x: f64[:, :], y: mut f64[:, :], dj: i64) {
    for (i, j) in prange(0..y.shape(0), 0..y.shape(1)) {
        y[i, j] = x[i, j + dj] + 1.0;
    }
}
"#;

#[test]
fn a_failed_hoisted_check_in_a_2d_prange_reports_the_exact_element() {
    for dj in [0i64, 1, -1] {
        let inputs = [
            ramp("x", &[6, 10]),
            zeros("y", &[6, 10]),
            sc("dj", Value::I64(dj)),
        ];
        let _ = same(SHIFTED, "shifted", &inputs);
    }
}

const STRAIGHT: &str = r#"
kernel straight64(x: f64[:], y: mut f64[:], z: mut f64[:], a: f64) {
    for i in prange(0..y.len()) {
        let t = x[i] * a - y[i] / 3.0;
        let u = sqrt(abs(t)) + -x[i];
        y[i] = t * u + 0.5;
        z[i] = u / (t + 1.0e-3);
    }
}
kernel straight32(x: f32[:], y: mut f32[:], a: f32) {
    for i in prange(0..x.len()) {
        y[i] = sqrt(abs(x[i] * a - y[i])) / (x[i] + 2.0);
    }
}
"#;

#[test]
fn vectorized_straight_line_bodies_match_bit_for_bit() {
    for n in [0usize, 1, 3, 5, 1001, 40_003] {
        let x: Vec<f64> = (0..n).map(|i| ((i * 31 % 97) as f64) - 40.5).collect();
        let inputs = [
            arr("x", Data::F64(x.clone()), &[n], false),
            arr(
                "y",
                Data::F64((0..n).map(|i| i as f64 * 0.25).collect()),
                &[n],
                true,
            ),
            arr("z", Data::F64(vec![0.0; n]), &[n], true),
            sc("a", Value::F64(1.75)),
        ];
        let _ = same(STRAIGHT, "straight64", &inputs);
        let x32: Vec<f32> = x.iter().map(|v| *v as f32).collect();
        let inputs = [
            arr("x", Data::F32(x32), &[n], false),
            arr(
                "y",
                Data::F32((0..n).map(|i| i as f32 * 0.5).collect()),
                &[n],
                true,
            ),
            sc("a", Value::F32(-2.5)),
        ];
        let _ = same(STRAIGHT, "straight32", &inputs);
    }
    let text = emit_clif(&module(STRAIGHT), "straight32").unwrap();
    assert!(text.contains("f32x4"), "{text}");
}

const VSUMS: &str = r#"
kernel vsums(x: f64[:], y: mut f64[:]) -> f64 {
    let mut s = 1.0;
    let mut d = 0.0;
    for i in prange(0..x.len()) {
        let t = x[i] * 2.0;
        s += t * x[i];
        d -= sqrt(abs(t));
        y[i] = t;
    }
    return s + d * 1000.0;
}
"#;

#[test]
fn vectorized_sums_match_within_rounding_and_keep_their_writes() {
    let m = module(VSUMS);
    assert!(emit_clif(&m, "vsums").unwrap().contains("f64x2"));
    for n in [0usize, 1, 2, 3, 7, 4097, 100_001] {
        let x: Vec<f64> = (0..n).map(|i| ((i * 13 % 29) as f64) * 0.1 - 1.0).collect();
        let inputs = [
            arr("x", Data::F64(x), &[n], false),
            arr("y", Data::F64(vec![0.0; n]), &[n], true),
        ];
        let (r1, out1) = run_cpu(&m, "vsums", &inputs);
        let (r2, out2) = run_interp(&m, "vsums", &inputs);
        assert_eq!(format!("{out1:?}"), format!("{out2:?}"));
        let (Ok(Some(Value::F64(a))), Ok(Some(Value::F64(b)))) = (r1.clone(), r2.clone()) else {
            panic!("{r1:?} {r2:?}")
        };
        assert!(
            (a - b).abs() <= 1e-9 * b.abs().max(1.0),
            "n={n}: {a} vs {b}"
        );
    }
}

const GATHER: &str = r#"
kernel gather(x: f64[:], idx: i64[:], y: mut f64[:]) {
    for i in prange(0..y.len()) { y[i] = x[idx[i]]; }
}
"#;

#[test]
fn a_prange_with_many_faults_reports_the_first_for_any_thread_count() {
    let _guard = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let m = module(GATHER);
    let n = 400_000;
    let mut idx: Vec<i64> = (0..n as i64).map(|i| i % 1000).collect();
    for (k, bad) in [
        (123_457usize, 5000i64),
        (200_001, -3),
        (399_999, 1 << 40),
        (300_000, 7777),
    ] {
        idx[k] = bad;
    }
    let inputs = [
        arr("x", Data::F64(vec![1.0; 1000]), &[1000], false),
        arr("idx", Data::I64(idx), &[n], false),
        arr("y", Data::F64(vec![0.0; n]), &[n], true),
    ];
    let (expected, _) = run_interp(&m, "gather", &inputs);
    assert!(format!("{expected:?}").contains("5000"), "{expected:?}");
    for threads in [1, 2, 3] {
        set_num_threads(threads);
        for _ in 0..3 {
            assert_eq!(
                run_cpu(&m, "gather", &inputs).0,
                expected,
                "{threads} threads"
            );
        }
    }
    set_num_threads(0);
}

#[test]
#[ignore = "prints the CLIF of a library kernel: KILN_DUMP=saxpy cargo test --test cpu dump -- --ignored --nocapture"]
fn dump() {
    let stem = std::env::var("KILN_DUMP").unwrap_or_else(|_| "saxpy".into());
    let src = std::fs::read_to_string(common::root().join(format!("kernels/{stem}.kn"))).unwrap();
    println!("{}", emit_clif(&module(&src), &stem).unwrap());
}

const VMINMAX: &str = r#"
kernel vminmax64(x: f64[:], out: mut f64[:]) -> f64 {
    let mut lo = 1.0 / 0.0;
    let mut hi = -1.0 / 0.0;
    for i in prange(0..x.len()) {
        lo = min(lo, x[i]);
        hi = x[i].max(hi);
    }
    out[0] = lo;
    out[1] = hi;
    return 1.0 / lo + 1.0 / hi;
}
kernel vminmax32(x: f32[:], out: mut f32[:]) -> f32 {
    let mut lo = 0.0f32;
    let mut hi = -0.0f32;
    for i in prange(0..x.len()) {
        let v = x[i] * 2.0;
        lo = lo.min(v);
        hi = max(hi, v);
    }
    out[0] = lo;
    out[1] = hi;
    return 1.0 / lo + 1.0 / hi;
}
"#;

/// Float min/max reductions take the vector path (per-lane accumulators,
/// lanes combined in order) and must keep the scalar semantics bit for bit:
/// NaNs are ignored, -0 < +0 (the results' reciprocals expose the zero's
/// sign), every remainder length, any thread count.
#[test]
fn vectorized_min_max_reductions_match_bit_for_bit() {
    let _guard = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let pattern = |i: usize| -> f64 {
        match i % 7 {
            0 => f64::NAN,
            1 => -0.0,
            2 => 0.0,
            3 => ((i * 37 % 101) as f64) - 50.0,
            4 => -0.0,
            5 => f64::NAN,
            _ => 0.0,
        }
    };
    for threads in [1, 3] {
        set_num_threads(threads);
        for n in [0usize, 1, 2, 3, 5, 6, 7, 9, 1001, 40_003, 70_001] {
            // Only zeros and NaNs (the sign of the result's zero matters), and
            // the full pattern.
            for zeros_only in [true, false] {
                let x: Vec<f64> = (0..n)
                    .map(|i| {
                        let v = pattern(i);
                        if zeros_only && v != 0.0 && !v.is_nan() {
                            -0.0
                        } else {
                            v
                        }
                    })
                    .collect();
                let inputs = [
                    arr("x", Data::F64(x.clone()), &[n], false),
                    arr("out", Data::F64(vec![7.0; 2]), &[2], true),
                ];
                let _ = same(VMINMAX, "vminmax64", &inputs);
                let inputs = [
                    arr(
                        "x",
                        Data::F32(x.iter().map(|&v| v as f32).collect()),
                        &[n],
                        false,
                    ),
                    arr("out", Data::F32(vec![7.0; 2]), &[2], true),
                ];
                let _ = same(VMINMAX, "vminmax32", &inputs);
            }
        }
    }
    set_num_threads(0);
    let text = emit_clif(&module(VMINMAX), "vminmax32").unwrap();
    assert!(
        text.contains("f32x4"),
        "the min/max reduction is not vectorized:\n{text}"
    );
}

const STEPPED: &str = r#"
kernel stepped(lo: i64, hi: i64, k: i64, out: mut i64[:]) {
    let mut p = 0;
    for i in (lo..hi).step_by(2) { out[p] = i; p += 1; }
    for i in (lo..hi).step_by(k) { out[p] = i; p += 1; }
    for i in (lo..=hi).step_by(k).rev() { out[p] = i; p += 1; }
    for i in (lo..=hi).rev().step_by(k) { out[p] = i; p += 1; }
    for i in (lo..hi).rev().step_by(2) { out[p] = i; p += 1; }
    for j in lo..hi {
        for i in (j..=hi).step_by(3) { out[p] = i * 100 + j; p += 1; }
    }
    out[p] = -1;
}
"#;

/// Stepped ranges with bounds known only at run time (the checker's exact
/// trip-count arithmetic, with its `||` and `as i64`) compile and count like
/// the interpreter.
#[test]
fn stepped_ranges_with_runtime_bounds_match() {
    for (lo, hi, k) in [
        (1i64, 10i64, 2i64),
        (-7, 9, 3),
        (5, 5, 1),
        (9, 1, 4),
        (-3, 4, 7),
    ] {
        let inputs = [
            sc("lo", Value::I64(lo)),
            sc("hi", Value::I64(hi)),
            sc("k", Value::I64(k)),
            arr("out", Data::I64(vec![0; 400]), &[400], true),
        ];
        let _ = same(STEPPED, "stepped", &inputs);
    }
}

const HISTS: &str = r#"
kernel hist_i32(x: i64[:], bins: mut i32[:], inc: i32) {
    for i in prange(0..x.len()) {
        atomic_add(bins[x[i]], inc);
    }
}
kernel hist_u32(x: i64[:], bins: mut u32[:], inc: u32) {
    for i in prange(0..x.len()) {
        let b = x[i];
        if b % 2 == 0 {
            atomic_add(bins[b], inc);
        } else {
            for k in 0..2 {
                atomic_add(bins[b], inc + k as u32);
            }
        }
    }
}
kernel hist_i64(x: i64[:], bins: mut i64[:, :], inc: i64) {
    let w = bins.shape(1);
    for i in prange(0..x.len()) {
        atomic_add(bins[x[i] / w, x[i] % w], inc * (i % 3 + 1));
    }
}
kernel hist_used(x: i64[:], bins: mut i32[:]) -> i64 {
    let mut s = 0;
    for i in prange(0..x.len()) {
        let old = atomic_add(bins[x[i]], 1);
        s += (old >= 0) as i64;
    }
    return s;
}
kernel hist_read(x: i64[:], bins: mut i32[:], out: mut i32[:]) {
    for i in prange(0..x.len()) {
        atomic_add(bins[x[i]], 1);
        out[i] = bins.len() as i32 - bins[0] * 0;
    }
}
"#;

fn hist_inputs(n: usize, nbins: usize, seed: i64, fill: Data, inc: Value) -> Vec<Input> {
    let x: Vec<i64> = (0..n as i64)
        .map(|i| (i * 7919 + seed) % nbins as i64)
        .collect();
    vec![
        arr("x", Data::I64(x), &[n], false),
        arr("bins", fill, &[nbins], true),
        sc("inc", inc),
    ]
}

/// `atomic_add` into small integer arrays whose result is unused is counted
/// per chunk and merged: the same bits as the interpreter for any thread
/// count, on both sides of the size bound, wrapping included.
#[test]
fn privatized_histograms_match_for_1_and_3_threads() {
    let _guard = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    for threads in [1, 3] {
        set_num_threads(threads);
        for nbins in [1usize, 64, 1023, 1024, 1025, 5000] {
            for n in [0usize, 100, 50_000] {
                let seed = nbins as i64 + 3;
                let _ = same(
                    HISTS,
                    "hist_i32",
                    &hist_inputs(
                        n,
                        nbins,
                        seed,
                        Data::I32((0..nbins as i32).map(|b| i32::MAX - 5 * b).collect()),
                        Value::I32(1 << 20),
                    ),
                );
                let _ = same(
                    HISTS,
                    "hist_i32",
                    &hist_inputs(n, nbins, seed, Data::I32(vec![-7; nbins]), Value::I32(-3)),
                );
                let _ = same(
                    HISTS,
                    "hist_u32",
                    &hist_inputs(
                        n,
                        nbins,
                        seed,
                        Data::U32((0..nbins as u32).map(|b| u32::MAX - b).collect()),
                        Value::U32(0x8000_0001),
                    ),
                );
                let mut inputs =
                    hist_inputs(n, nbins, seed, Data::I32(vec![]), Value::I64(1 << 61));
                let shape = if nbins % 5 == 0 {
                    [nbins / 5, 5]
                } else {
                    [nbins, 1]
                };
                let fill = Data::I64((0..nbins as i64).map(|b| i64::MAX - b).collect());
                inputs[1] = arr("bins", fill, &shape, true);
                let _ = same(HISTS, "hist_i64", &inputs);
                let (r, _) = same(
                    HISTS,
                    "hist_used",
                    &hist_inputs(n, nbins, seed, Data::I32(vec![5; nbins]), Value::I32(0))[..2],
                );
                assert_eq!(r, Ok(Some(Value::I64(n as i64))));
                let mut inputs =
                    hist_inputs(n, nbins, seed, Data::I32(vec![1; nbins]), Value::I32(0));
                inputs[2] = arr("out", Data::I32(vec![0; n]), &[n], true);
                let _ = same(HISTS, "hist_read", &inputs);
            }
        }
    }
    set_num_threads(0);
}

/// An out-of-range bin faults exactly as before: the same error as the
/// interpreter, and (in one chunk) the same counts up to the fault.
#[test]
fn a_privatized_histogram_faults_like_the_interpreter() {
    let _guard = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let m = module(HISTS);
    for threads in [1, 3] {
        set_num_threads(threads);
        for (nbins, bad) in [(64usize, 64i64), (64, -1), (2000, 2000), (2000, 1 << 40)] {
            let mut inputs = hist_inputs(1000, nbins, 1, Data::I32(vec![9; nbins]), Value::I32(2));
            if let Input::Array {
                data: Data::I64(x), ..
            } = &mut inputs[0]
            {
                x[700] = bad;
            }
            let e = fault_of(HISTS, "hist_i32", &inputs);
            assert!(format!("{e:?}").contains(&bad.to_string()), "{e:?}");
            // Many chunks: the first faulting iteration is still the one
            // reported.
            let mut inputs =
                hist_inputs(200_000, nbins, 1, Data::I32(vec![9; nbins]), Value::I32(2));
            if let Input::Array {
                data: Data::I64(x), ..
            } = &mut inputs[0]
            {
                x[123_457] = bad;
                x[150_000] = nbins as i64 + 7;
            }
            let (expected, _) = run_interp(&m, "hist_i32", &inputs);
            assert!(expected.is_err());
            assert_eq!(run_cpu(&m, "hist_i32", &inputs).0, expected);
        }
    }
    set_num_threads(0);
}

#[test]
fn only_unused_integer_atomic_adds_are_privatized() {
    let m = module(HISTS);
    let chunk = |k: &str| {
        let text = emit_clif(&m, k).unwrap();
        let at = text.find("; prange 0").expect("a chunk function");
        text[at..].to_string()
    };
    for k in ["hist_i32", "hist_u32", "hist_i64"] {
        assert!(chunk(k).contains("explicit_slot"), "{k}");
    }
    for k in ["hist_used", "hist_read"] {
        assert!(!chunk(k).contains("explicit_slot"), "{k}");
    }
}

/// A `prange` of more than 2^63 iterations (`hi - lo` overflows i64) runs
/// and faults at its first out-of-bounds access like the interpreter,
/// instead of being skipped as empty (issue 17 item 8; 1-D and 2-D).
#[test]
fn pranges_longer_than_i64_max_run_and_fault() {
    let src = "kernel huge(x: mut f64[:], lo: i64) {
    for i in prange(lo..x.len()) {
        x[i] = 3.0;
    }
}
kernel huge_2d(a: mut f64[:, :], lo: i64) {
    for (i, j) in prange(lo..a.shape(0), 0..a.shape(1)) {
        a[i, j] = 3.0;
    }
}
";
    let lo = sc("lo", Value::I64(i64::MIN));
    let e = fault_of(
        src,
        "huge",
        &[arr("x", Data::F64(vec![0.0; 10]), &[10], true), lo.clone()],
    );
    assert!(matches!(e.fault, Fault::IndexOutOfBounds { .. }), "{e:?}");
    let e = fault_of(
        src,
        "huge_2d",
        &[arr("a", Data::F64(vec![0.0; 6]), &[2, 3], true), lo],
    );
    assert!(matches!(e.fault, Fault::IndexOutOfBounds { .. }), "{e:?}");
}

const STENCIL: &str = r#"
kernel stencil64(a: f64[:, :], b: mut f64[:, :], w: f64) {
    for (i, j) in prange(1..a.shape(0) - 1, 1..a.shape(1) - 1) {
        b[i, j] = w * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1]) - min(a[i, j], 0.5);
    }
}
kernel rows32(x: f32[:, :], out: mut f32[:, :], s: f32) {
    let cols = x.shape(1);
    for r in prange(0..x.shape(0)) {
        for c in 0..cols {
            out[r, c] = max(x[r, c] * s, out[r, c]) + 1.0;
        }
    }
}
"#;

/// 2-D row segments with offset reads, and serial loops with step 1, run
/// vector code (issue 13) and keep the interpreter's bits for every shape,
/// rows shorter than one unrolled step included.
#[test]
fn stencils_and_serial_row_loops_vectorize_bit_for_bit() {
    let m = module(STENCIL);
    assert!(emit_clif(&m, "stencil64").unwrap().contains("f64x2"));
    assert!(emit_clif(&m, "rows32").unwrap().contains("f32x4"));
    for (h, w) in [(3usize, 3usize), (4, 5), (9, 17), (33, 40), (7, 131)] {
        let n = h * w;
        let a: Vec<f64> = (0..n)
            .map(|k| ((k * 37 % 101) as f64) * 0.01 - 0.3)
            .collect();
        let inputs = [
            arr("a", Data::F64(a.clone()), &[h, w], false),
            arr("b", Data::F64(vec![0.0; n]), &[h, w], true),
            sc("w", Value::F64(0.25)),
        ];
        let _ = same(STENCIL, "stencil64", &inputs);
        let inputs = [
            arr(
                "x",
                Data::F32(a.iter().map(|v| *v as f32).collect()),
                &[h, w],
                false,
            ),
            arr("out", Data::F32(vec![0.125; n]), &[h, w], true),
            sc("s", Value::F32(-1.5)),
        ];
        let _ = same(STENCIL, "rows32", &inputs);
    }
}

const RECURRENCE: &str = r#"
kernel recur(a: mut f64[:], x: f64[:]) {
    for c in 1..a.len() {
        a[c] = a[c - 1] * 0.5 + x[c];
    }
}
"#;

/// A serial loop whose iterations depend on each other (it reads what the
/// previous one stored) is never vectorized.
#[test]
fn serial_recurrences_stay_scalar() {
    let m = module(RECURRENCE);
    assert!(!emit_clif(&m, "recur").unwrap().contains("f64x2"));
    for n in [1usize, 2, 9, 100] {
        let inputs = [
            arr(
                "a",
                Data::F64((0..n).map(|k| k as f64).collect()),
                &[n],
                true,
            ),
            arr("x", Data::F64(vec![1.0; n]), &[n], false),
        ];
        let _ = same(RECURRENCE, "recur", &inputs);
    }
}

/// A kernel too long for Cranelift's optimizer (over 20,000 instructions in
/// one function) is compiled without it and still matches the interpreter
/// (issue 17 item 6: compile time grows about linearly, docs/limits.md).
#[test]
fn very_long_kernels_compile_unoptimized_and_match() {
    let mut src = String::from("kernel long(x: mut f64[:], y: f64[:]) {\n");
    for k in 0..3000 {
        src.push_str(&format!(
            "    x[{a}] = x[{a}] * 0.5 + y[{b}] - {k}.0;\n",
            a = k % 7,
            b = (k * 3) % 5
        ));
    }
    src.push_str("}\n");
    let m = module(&src);
    let text = emit_clif(&m, "long").unwrap();
    assert!(
        text.lines().count() > 20_000,
        "{} lines",
        text.lines().count()
    );
    let inputs = [
        arr("x", Data::F64(vec![1.0; 7]), &[7], true),
        arr(
            "y",
            Data::F64((0..5).map(|v| v as f64).collect()),
            &[5],
            false,
        ),
    ];
    let _ = same(&src, "long", &inputs);
    // And a fault in it is still reported at its line.
    let short = [
        arr("x", Data::F64(vec![1.0; 7]), &[7], true),
        arr("y", Data::F64(vec![0.0; 2]), &[2], false),
    ];
    let _ = same(&src, "long", &short);
}

const SERIAL_MIN_MAX: &str = r#"
kernel rowmax64(x: f64[:, :], hi: mut f64[:], lo: mut f64[:]) {
    let cols = x.shape(1);
    for r in prange(0..x.shape(0)) {
        let mut m = x[r, 0];
        let mut n = 1.0 / 0.0;
        for c in 0..cols {
            m = max(x[r, c], m);
            n = n.min(x[r, c] * 2.0);
        }
        hi[r] = m;
        lo[r] = n;
    }
}
kernel rowmax32(x: f32[:, :], hi: mut f32[:], lo: mut f32[:]) {
    let cols = x.shape(1);
    for r in prange(0..x.shape(0)) {
        let mut m = -0.0f32;
        let mut n = 0.0f32;
        for c in 0..cols {
            n = min(n, x[r, c]);
            m = max(m, x[r, c] + 1.0);
        }
        hi[r] = 1.0 / m;
        lo[r] = 1.0 / n;
    }
}
kernel rowsum(x: f32[:, :], out: mut f32[:]) {
    let cols = x.shape(1);
    for r in prange(0..x.shape(0)) {
        let mut s = 0.0f32;
        for c in 0..cols {
            s += x[r, c];
        }
        out[r] = s;
    }
}
"#;

/// A serial loop that updates outer variables only by float `min`/`max`
/// (softmax's row maximum) runs vector code with lanes started at the
/// variable's value, and keeps the sequential result's bits: NaNs skipped,
/// -0 < +0 (the reciprocals expose the zero's sign), all-NaN rows, every
/// remainder length. A serial `+=` of bare loads gains nothing from vectors
/// along the row (its adds stay in element order), so `rowsum` runs its
/// rows in lanes instead (`lanes`), each row's sum still in order.
#[test]
fn serial_min_max_loops_vectorize_bit_for_bit_and_serial_sums_run_rows_in_lanes() {
    let m = module(SERIAL_MIN_MAX);
    assert!(emit_clif(&m, "rowmax64").unwrap().contains("f64x2"));
    assert!(emit_clif(&m, "rowmax32").unwrap().contains("f32x4"));
    let rowsum = emit_clif(&m, "rowsum").unwrap();
    assert!(
        rowsum.contains("f32x4") && !rowsum.contains("load.f32x4"),
        "rows in lanes, each row's elements one by one: {rowsum}"
    );
    let pattern = |k: usize| -> f64 {
        match k % 9 {
            0 => f64::NAN,
            1 => -0.0,
            2 => 0.0,
            3 => ((k * 37 % 101) as f64) - 50.0,
            4 => -0.0,
            5 => f64::NAN,
            6 => -((k % 13) as f64),
            _ => 0.0,
        }
    };
    for (h, w) in [(3usize, 1usize), (4, 5), (9, 17), (6, 40), (5, 131)] {
        let n = h * w;
        let mut a: Vec<f64> = (0..n).map(pattern).collect();
        // An all-NaN row and an all-zero row of mixed signs.
        a[w..2 * w].iter_mut().for_each(|v| *v = f64::NAN);
        for (k, v) in a[2 * w..3 * w].iter_mut().enumerate() {
            *v = if k % 2 == 0 { -0.0 } else { 0.0 };
        }
        let out = |v: f64| Data::F64(vec![v; h]);
        let inputs = [
            arr("x", Data::F64(a.clone()), &[h, w], false),
            arr("hi", out(7.0), &[h], true),
            arr("lo", out(7.0), &[h], true),
        ];
        let _ = same(SERIAL_MIN_MAX, "rowmax64", &inputs);
        let a32: Vec<f32> = a.iter().map(|v| *v as f32).collect();
        let out32 = |v: f32| Data::F32(vec![v; h]);
        let inputs = [
            arr("x", Data::F32(a32.clone()), &[h, w], false),
            arr("hi", out32(7.0), &[h], true),
            arr("lo", out32(7.0), &[h], true),
        ];
        let _ = same(SERIAL_MIN_MAX, "rowmax32", &inputs);
        let inputs = [
            arr("x", Data::F32(a32), &[h, w], false),
            arr("out", out32(7.0), &[h], true),
        ];
        let _ = same(SERIAL_MIN_MAX, "rowsum", &inputs);
    }
}

const EXPS: &str = r#"
kernel vexp32(x: f32[:], y: mut f32[:]) {
    for i in prange(0..x.len()) {
        y[i] = exp(x[i]);
    }
}
kernel cexp32(x: f32[:], y: mut f32[:]) {
    for i in 0..x.len() {
        if x[i] < 1000.0 {
            y[i] = exp(x[i]);
        }
    }
}
kernel vexp64(x: f64[:], y: mut f64[:]) {
    for i in 0..x.len() {
        y[i] = exp(x[i]) * 1.0;
    }
}
kernel cexp64(x: f64[:], y: mut f64[:]) {
    for i in prange(0..x.len()) {
        if x[i] < 1000.0 {
            y[i] = exp(x[i]);
        }
    }
}
"#;

/// Distance in ulps between two floats of one width given as ordered bit
/// positions (`-0` and `+0` coincide); NaN only matches NaN.
fn ulps(a: f64, b: f64, pos: impl Fn(f64) -> i64) -> i64 {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => 0,
        (false, false) => (pos(a) - pos(b)).abs(),
        _ => i64::MAX,
    }
}

fn pos32(v: f64) -> i64 {
    let b = (v as f32).to_bits() as i32 as i64;
    if b < 0 {
        i32::MIN as i64 - b
    } else {
        b
    }
}

fn pos64(v: f64) -> i64 {
    let b = v.to_bits() as i64;
    if b < 0 {
        i64::MIN - b
    } else {
        b
    }
}

/// Inputs covering where `exp` is 1, subnormal, near overflow and beyond,
/// dense near 0, every special value.
fn exp_inputs(lo: f64, hi: f64) -> Vec<f64> {
    let mut x: Vec<f64> = (0..60_000)
        .map(|i| lo + (hi - lo) * (i as f64 / 59_999.0))
        .collect();
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..20_000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let m = (s >> 11) as f64 / (1u64 << 53) as f64;
        x.push((m - 0.5) * 2.0 * 10f64.powi((s % 5) as i32 - 2));
    }
    x.extend([
        0.0,
        -0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        -f64::MAX,
        1.0,
        -1.0,
        f64::MIN_POSITIVE,
        88.72283,
        88.72284,
        -87.33654,
        -103.97208,
        -103.97209,
        709.782712893384,
        709.7827128933841,
        -708.3964185322641,
        -745.1332191019411,
        -745.1332191019412,
    ]);
    x
}

/// `exp` in a loop that vectorizes is inline (src/cpu/lower/exp.rs): an
/// element's bits do not depend on whether it ran in a vector lane or a
/// scalar remainder (the input shifted by one element moves every element
/// between the two), within 1 ulp of the C library
/// (the interpreter's), the specials exact; in a loop that does not
/// vectorize it is the C library's, bit for bit.
#[test]
fn inline_exp_matches_in_lanes_and_scalars_within_bounds() {
    let m = module(EXPS);
    for (k, lanes) in [("vexp32", "f32x4"), ("vexp64", "f64x2")] {
        let text = emit_clif(&m, k).unwrap();
        assert!(
            text.contains(lanes) && !text.contains("sig0 = (f"),
            "{text}"
        );
    }
    for k in ["cexp32", "cexp64"] {
        let text = emit_clif(&m, k).unwrap();
        assert!(text.contains("sig0 = (f"), "{k} calls exp: {text}");
    }
    for (width, lo, hi, bound) in [(32, -110.0, 95.0, 1), (64, -760.0, 720.0, 1)] {
        let x = exp_inputs(lo, hi);
        let n = x.len();
        let run_on = |k: &str, x: &[f64], run: fn(&Arc<ir::Module>, &str, &[Input]) -> Outcome| {
            let n = x.len();
            let data = |v: &[f64]| match width {
                32 => Data::F32(v.iter().map(|a| *a as f32).collect()),
                _ => Data::F64(v.to_vec()),
            };
            let (r, ins) = run(
                &m,
                k,
                &[
                    arr("x", data(x), &[n], false),
                    arr("y", data(&vec![0.0; n]), &[n], true),
                ],
            );
            r.unwrap();
            match &ins[1] {
                Input::Array {
                    data: Data::F32(v), ..
                } => v.iter().map(|a| *a as f64).collect::<Vec<f64>>(),
                Input::Array {
                    data: Data::F64(v), ..
                } => v.clone(),
                _ => unreachable!(),
            }
        };
        let (vk, ck) = if width == 32 {
            ("vexp32", "cexp32")
        } else {
            ("vexp64", "cexp64")
        };
        let inline = run_on(vk, &x, run_cpu);
        let shifted = run_on(vk, &x[1..], run_cpu);
        let reference = run_on(vk, &x, run_interp);
        let called = run_on(ck, &x, run_cpu);
        let called_reference = run_on(ck, &x, run_interp);
        let pos = if width == 32 { pos32 } else { pos64 };
        let (mut worst, mut differ) = ((0, 0.0), 0);
        for i in 0..n {
            if i > 0 {
                assert_eq!(
                    inline[i].to_bits(),
                    shifted[i - 1].to_bits(),
                    "f{width} exp({:e}) depends on its lane",
                    x[i]
                );
            }
            assert_eq!(
                called[i].to_bits(),
                called_reference[i].to_bits(),
                "f{width} exp({:e}) called",
                x[i]
            );
            let d = ulps(inline[i], reference[i], pos);
            differ += (d != 0) as usize;
            if d > worst.0 {
                worst = (d, x[i]);
            }
        }
        eprintln!(
            "f{width} inline exp: {differ} of {n} inputs differ from the C library, at most {} ulp (at {:e})",
            worst.0, worst.1
        );
        assert!(
            worst.0 <= bound,
            "f{width} exp: {} ulp at {:e}",
            worst.0,
            worst.1
        );
        // Zeros, infinities, NaN and the largest magnitudes are exact.
        for i in n - 20..n - 13 {
            assert_eq!(
                ulps(inline[i], reference[i], pos),
                0,
                "f{width} exp({:e})",
                x[i]
            );
        }
    }
}

const LANES: &str = r#"
kernel forces(pos: f32[:, :], mass: f32[:], acc: mut f32[:, :], eps: f32) {
    let n = pos.shape(0);
    for i in prange(0..n) {
        let xi = pos[i, 0];
        let yi = pos[i, 1];
        let mut ax = 0.0;
        let mut ay = 0.0;
        for j in 0..n {
            let dx = pos[j, 0] - xi;
            let dy = pos[j, 1] - yi;
            let r2 = dx * dx + dy * dy + eps;
            let s = mass[j] / (r2 * sqrt(r2));
            ax += s * dx;
            ay -= s * dy;
        }
        acc[i, 0] = ax;
        acc[i, 1] = ay * 0.5;
    }
}
kernel pairs(x: f64[:], out: mut f64[:], k: i64) {
    for i in prange(0..out.len()) {
        let mut s = 0.0;
        let mut m = 1.0 / 0.0;
        for j in 0..k {
            let d = x[i] - x[j + 1];
            s += d * d / x[j];
            m = min(m, abs(d));
        }
        out[i] = s + m;
    }
}
kernel mm(a: f32[:, :], b: f32[:, :], c: mut f32[:, :]) {
    for (i, j) in prange(0..c.shape(0), 0..c.shape(1)) {
        let mut acc = 0.0f32;
        for k in 0..a.shape(1) {
            acc += a[i, k] * b[k, j];
        }
        c[i, j] = acc;
    }
}
kernel shifted(x: f64[:], out: mut f64[:], k: i64) {
    for i in prange(0..out.len()) {
        let mut s = 0.5;
        for j in 0..k {
            s = s * 0.75 + x[i + j];
        }
        out[i] = s;
    }
}
kernel norms(x: f32[:, :], w: f32[:], out: mut f32[:]) {
    for r in prange(0..x.shape(0)) {
        let mut s = 0.0;
        for c in 0..x.shape(1) {
            s += x[r, c] * w[c];
        }
        out[r] = tanh(s) + log(abs(s) + 1.0);
    }
}
kernel running(x: f64[:], y: mut f64[:], k: i64) {
    for i in prange(0..y.len()) {
        let mut s = 0.25;
        for j in 0..k {
            s = s * 0.5 + x[j] * x[i];
            y[i] = s;
        }
    }
}
kernel smear(x: f64[:], out: mut f64[:]) {
    for i in prange(0..out.len() - 1) {
        let mut s = 0.0;
        for j in 0..4 {
            s += x[j] + out[i + 1];
        }
        out[i] = s;
    }
}
"#;

/// A `prange` whose body runs a serial loop takes 8 iterations at once in
/// vector lanes (src/cpu/lower/lanes.rs): with lane-by-lane loads and
/// stores at stride 3, broadcast loads, unit-stride and lane-by-lane (a row
/// each) loads inside the inner loop, a store there, library calls lane by
/// lane after it, several carried variables, and a 2-D `prange`. Each lane does its
/// iteration's operations in order, so every size — whole steps of 8,
/// remainders, chunk boundaries — gives the interpreter's bits.
#[test]
fn lanes_run_prange_iterations_around_an_inner_loop_with_the_interpreters_bits() {
    let m = module(LANES);
    for (k, lanes) in [
        ("forces", "f32x4"),
        ("pairs", "f64x2"),
        ("mm", "f32x4"),
        ("shifted", "f64x2"),
        ("norms", "f32x4"),
        ("running", "f64x2"),
    ] {
        let text = emit_clif(&m, k).unwrap();
        assert!(text.contains(lanes), "{k} runs in lanes: {text}");
    }
    // Reading another iteration's element of a stored array keeps it scalar.
    assert!(!emit_clif(&m, "smear").unwrap().contains("f64x2"));
    let wave = |n: usize, scale: f64| -> Vec<f64> {
        (0..n)
            .map(|k| ((k * 7919) % 1013) as f64 * scale - 0.3)
            .collect()
    };
    for n in [1usize, 8, 13, 64, 67, 203] {
        let p: Vec<f32> = wave(3 * n, 0.001).iter().map(|&v| v as f32).collect();
        let mass: Vec<f32> = wave(n, 0.002).iter().map(|&v| v as f32 + 1.0).collect();
        same(
            LANES,
            "forces",
            &[
                arr("pos", Data::F32(p), &[n, 3], false),
                arr("mass", Data::F32(mass), &[n], false),
                arr("acc", Data::F32(vec![0.0; 3 * n]), &[n, 3], true),
                sc("eps", Value::F32(0.01)),
            ],
        );
        let x: Vec<f64> = wave(n + 5, 0.01).iter().map(|v| v + 4.0).collect();
        for k in [0i64, 1, 2, 6] {
            same(
                LANES,
                "pairs",
                &[
                    arr("x", Data::F64(x.clone()), &[n + 5], false),
                    zeros("out", &[n]),
                    sc("k", Value::I64(k)),
                ],
            );
        }
        let cols = n % 7 + 3;
        same(
            LANES,
            "norms",
            &[
                arr(
                    "x",
                    Data::F32(wave(n * cols, 0.003).iter().map(|&v| v as f32).collect()),
                    &[n, cols],
                    false,
                ),
                arr(
                    "w",
                    Data::F32(wave(cols, 0.01).iter().map(|&v| v as f32).collect()),
                    &[cols],
                    false,
                ),
                arr("out", Data::F32(vec![0.0; n]), &[n], true),
            ],
        );
        same(
            LANES,
            "running",
            &[
                arr("x", Data::F64(wave(n + 2, 0.01)), &[n + 2], false),
                zeros("y", &[n]),
                sc("k", Value::I64(n as i64 % 5 + 1)),
            ],
        );
        let (r, c) = (n.min(9) + 1, n + 3);
        same(
            LANES,
            "mm",
            &[
                arr(
                    "a",
                    Data::F32(wave(r * 7, 0.01).iter().map(|&v| v as f32).collect()),
                    &[r, 7],
                    false,
                ),
                arr(
                    "b",
                    Data::F32(wave(7 * c, 0.02).iter().map(|&v| v as f32).collect()),
                    &[7, c],
                    false,
                ),
                arr("c", Data::F32(vec![0.0; r * c]), &[r, c], true),
            ],
        );
    }
}

/// An inner loop's index out of bounds in some lane sends that step to the
/// loop's checked scalar copy, which reports the interpreter's fault (the
/// first in iteration order) after the same writes.
#[test]
fn a_fault_inside_the_lanes_inner_loop_is_the_interpreters() {
    // 64 iterations in chunks of 8: the last step's last lanes read past
    // `x`; so do all of them with k = 70.
    for k in [3i64, 70] {
        let f = fault_of(
            LANES,
            "shifted",
            &[
                ramp("x", &[60]),
                zeros("out", &[64]),
                sc("k", Value::I64(k)),
            ],
        );
        assert!(format!("{f:?}").contains("60"), "{f:?}");
    }
    same(
        LANES,
        "shifted",
        &[
            ramp("x", &[70]),
            zeros("out", &[64]),
            sc("k", Value::I64(7)),
        ],
    );
    same(
        LANES,
        "shifted",
        &[
            ramp("x", &[70]),
            zeros("out", &[64]),
            sc("k", Value::I64(-2)),
        ],
    );
}

const SINCOS: &str = r#"
kernel vsin(x: f64[:], y: mut f64[:]) {
    for i in prange(0..x.len()) {
        y[i] = sin(x[i]);
    }
}
kernel vcos(x: f64[:], y: mut f64[:]) {
    for i in 0..x.len() {
        y[i] = cos(x[i]);
    }
}
kernel vprod(x: f64[:], y: mut f64[:]) {
    for i in prange(0..x.len()) {
        y[i] = sin(x[i]) * cos(x[i]);
    }
}
kernel csin(x: f64[:], y: mut f64[:]) {
    for i in prange(0..x.len()) {
        if x[i] < 1e300 {
            y[i] = sin(x[i]);
        }
    }
}
"#;

/// Inputs for `sin`/`cos`: dense on [-10, 10], random magnitudes from
/// 1e-12 to 1e8 (so that vectors mix lanes the inline reduction covers
/// with lanes beyond 2^20 that the C library takes), doubles next to
/// multiples of pi/2 up to k = 10^6 (the hardest reductions), specials.
fn trig_inputs() -> Vec<f64> {
    let mut x: Vec<f64> = (0..40_000)
        .map(|i| -10.0 + 20.0 * (i as f64 / 39_999.0))
        .collect();
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..40_000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let m = (s >> 11) as f64 / (1u64 << 53) as f64;
        x.push((m - 0.5) * 2.0 * 10f64.powi((s % 21) as i32 - 12));
    }
    for k in (1..1_000_000i64)
        .step_by(997)
        .chain([1, 2, 3, 4, 355, 710, 103_993])
    {
        let c = k as f64 * std::f64::consts::FRAC_PI_2;
        for d in -2i64..=2 {
            x.push(f64::from_bits((c.to_bits() as i64 + d) as u64));
        }
    }
    x.extend([
        1048576.0,
        1048576.0000000002,
        -1048576.0000000002,
        7.450580596923828e-9,
        7.45058059692383e-9,
        5e-324,
        -2.2250738585072014e-308,
        f64::MAX,
        0.0,
        -0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ]);
    x
}

/// `sin` and `cos` of f64 in a loop that vectorizes are inline
/// (src/cpu/lower/sincos.rs): an element's bits do not depend on its lane
/// (the input shifted by one element moves every element between vector
/// lanes and scalar remainders), a fused `sin(x) * cos(x)` has the bits of
/// the separate ones, results are within 1 ulp of the C library (the
/// interpreter's), and what the C library computes instead (beyond 2^20,
/// infinities, NaN) as well as zeros and tiny arguments are exact; in a
/// loop that does not vectorize `sin` is the C library's, bit for bit.
#[test]
fn inline_sin_cos_match_in_lanes_and_scalars_within_one_ulp() {
    let m = module(SINCOS);
    for k in ["vsin", "vcos", "vprod"] {
        let text = emit_clif(&m, k).unwrap();
        assert!(
            text.contains("f64x2") && text.contains("vall_true"),
            "{k}: {text}"
        );
    }
    assert_eq!(
        emit_clif(&m, "vprod").unwrap().matches("vall_true").count(),
        2,
        "one reduction per copy of the body for the pair"
    );
    let x = trig_inputs();
    let run_on = |k: &str, x: &[f64], run: fn(&Arc<ir::Module>, &str, &[Input]) -> Outcome| {
        let n = x.len();
        let (r, ins) = run(
            &m,
            k,
            &[
                arr("x", Data::F64(x.to_vec()), &[n], false),
                arr("y", Data::F64(vec![0.0; n]), &[n], true),
            ],
        );
        r.unwrap();
        match &ins[1] {
            Input::Array {
                data: Data::F64(v), ..
            } => v.clone(),
            _ => unreachable!(),
        }
    };
    let n = x.len();
    let sins = run_on("vsin", &x, run_cpu);
    let coss = run_on("vcos", &x, run_cpu);
    for (k, inline) in [("vsin", &sins), ("vcos", &coss)] {
        let shifted = run_on(k, &x[1..], run_cpu);
        let reference = run_on(k, &x, run_interp);
        let (mut worst, mut differ) = ((0, 0.0), 0);
        for i in 0..n {
            if i > 0 {
                assert_eq!(
                    inline[i].to_bits(),
                    shifted[i - 1].to_bits(),
                    "{k}({:e}) depends on its lane",
                    x[i]
                );
            }
            let d = ulps(inline[i], reference[i], pos64);
            differ += (d != 0) as usize;
            if d > worst.0 {
                worst = (d, x[i]);
            }
            if !(x[i].abs() <= 1048576.0) || x[i].abs() < 7.450580596923828e-9 {
                assert_eq!(
                    inline[i].to_bits(),
                    reference[i].to_bits(),
                    "{k}({:e}) exact",
                    x[i]
                );
            }
        }
        eprintln!(
            "inline {k}: {differ} of {n} inputs differ from the C library, at most {} ulp (at {:e})",
            worst.0, worst.1
        );
        assert!(worst.0 <= 1, "{k}: {} ulp at {:e}", worst.0, worst.1);
    }
    let prod = run_on("vprod", &x, run_cpu);
    for i in 0..n {
        assert_eq!(
            prod[i].to_bits(),
            (sins[i] * coss[i]).to_bits(),
            "sin({0:e}) * cos({0:e}) fused",
            x[i]
        );
    }
    let called = run_on("csin", &x, run_cpu);
    let called_reference = run_on("csin", &x, run_interp);
    for i in 0..n {
        assert_eq!(
            called[i].to_bits(),
            called_reference[i].to_bits(),
            "sin({:e}) called",
            x[i]
        );
    }
}

const ORDERED: &str = r#"
kernel rows(x: f32[:, :], out: mut f32[:, :]) -> f32 {
    let mut total = 0.0;
    for r in prange(0..x.shape(0)) {
        let mut s = 0.5;
        let mut m = -1.0 / 0.0;
        for c in 0..x.shape(1) {
            let t = x[r, c] * 3.0 - 1.25;
            out[r, c] = t;
            s += t;
            m = max(m, t);
        }
        for c in 0..x.shape(1) {
            s -= out[r, c] / 7.0;
        }
        total += s + m;
    }
    return total;
}
"#;

/// A serial loop's float sum vectorizes with its terms taken lane by lane
/// in element order: the same bits as the interpreter's sequential sum.
#[test]
fn serial_float_sums_vectorize_in_element_order() {
    let text = emit_clif(&module(ORDERED), "rows").unwrap();
    assert!(text.contains("extractlane"), "{text}");
    for (rows, cols) in [(1, 1), (3, 7), (5, 33), (17, 101), (2, 1000)] {
        let x: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919 % 1013) as f32) * 0.37 - 150.0 + 1.0 / (1 + i % 13) as f32)
            .collect();
        let inputs = [
            arr("x", Data::F32(x), &[rows, cols], false),
            arr(
                "out",
                Data::F32(vec![0.0; rows * cols]),
                &[rows, cols],
                true,
            ),
        ];
        let _ = same(ORDERED, "rows", &inputs);
    }
}

#[test]
fn numba_style_kernels_match_the_interpreter() {
    // benches/numba_style/: the second benchmark set (`kiln bench --dir`),
    // row loops, transcendental bodies and a stencil, at size T against
    // the interpreter (within the documented ulp bounds: `exp` is inline
    // where the loop vectorizes).
    let stems = common::kernel_stems("benches/numba_style");
    assert!(stems.len() >= 7, "{stems:?}");
    for stem in stems {
        let case = common::Case::load("benches/numba_style", &stem);
        let before = case.inputs("T");
        let (mut cpu, mut int) = (before.clone(), before.clone());
        let rc = case.launch(kiln::Backend::Cpu, &mut cpu).unwrap();
        let ri = case.launch(kiln::Backend::Interp, &mut int).unwrap();
        common::compare::compare_result("result", ri, rc).unwrap_or_else(|e| panic!("{stem}: {e}"));
        for (want, got) in int.iter().zip(&cpu) {
            if let (Input::Array { name, data: w, .. }, Input::Array { data: g, .. }) = (want, got)
            {
                common::compare::compare_data(&format!("{stem}: `{name}`"), w, g)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        assert!(
            before != int,
            "{stem}: the kernel changed nothing at size T"
        );
    }
}

const TRIG: &str = r#"
kernel polar(r: f64[:], t: f64[:], x: mut f64[:], y: mut f64[:]) {
    for i in prange(0..r.len()) {
        // An integer statement keeps the loop scalar: f64 `sin`/`cos` in a
        // loop that runs as vectors are inline (`inline_sin_cos_*`).
        let k = i / 2;
        x[i] = r[i] * cos(t[i]);
        y[i] = sin(t[i] * 2.0) - cos(t[i] * 2.0) + sin(t[i] * 2.0);
    }
}
kernel polar32(t: f32[:], x: mut f32[:]) {
    for i in prange(0..t.len()) {
        let u = t[i];
        x[i] = cos(u) * sin(u);
    }
}
kernel branchy(t: f64[:], x: mut f64[:]) {
    for i in prange(0..t.len()) {
        x[i] = if t[i] > 0.0 { sin(t[i]) } else { cos(t[i]) };
    }
}
"#;

#[test]
fn sin_and_cos_of_one_argument_fuse_into_one_call_with_the_same_bits() {
    let m = module(TRIG);
    // Fused where one statement has both of the same argument; a `sin`
    // or `cos` alone, or in branches, stays a call of its own.
    // The printed IR names imports by number: a fused call is the one
    // taking two arguments (value, out pointer), `sin`/`cos` one.
    let calls = |text: &str, args: usize| {
        text.lines()
            .filter_map(|l| {
                l.split_once("call fn")?
                    .1
                    .split_once('(')?
                    .1
                    .split_once(')')
            })
            .filter(|(a, _)| a.split(',').count() == args)
            .count()
    };
    let polar = emit_clif(&m, "polar").unwrap();
    assert!(calls(&polar, 2) >= 1, "{polar}");
    // Only `r[i] * cos(t[i])` keeps a call of its own (in each loop copy).
    assert!((1..=2).contains(&calls(&polar, 1)), "{polar}");
    let polar32 = emit_clif(&m, "polar32").unwrap();
    assert!(
        calls(&polar32, 2) >= 1 && calls(&polar32, 1) == 0,
        "{polar32}"
    );
    let branchy = emit_clif(&m, "branchy").unwrap();
    assert!(
        calls(&branchy, 2) == 0 && calls(&branchy, 1) >= 2,
        "{branchy}"
    );
    let specials = [
        0.0,
        -0.0,
        1e-300,
        0.5,
        -2.5,
        3.141592653589793,
        1e6,
        -1e22,
        1e300,
        f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    let mut t: Vec<f64> = specials.to_vec();
    t.extend((0..3000).map(|k| ((k * 7919) % 6007) as f64 * 0.37 - 1111.0));
    let n = t.len();
    let ramp: Vec<f64> = (0..n).map(|k| 1.0 + k as f64 * 0.5).collect();
    let _ = same(
        TRIG,
        "polar",
        &[
            arr("r", Data::F64(ramp), &[n], false),
            arr("t", Data::F64(t.clone()), &[n], false),
            zeros("x", &[n]),
            zeros("y", &[n]),
        ],
    );
    let _ = same(
        TRIG,
        "polar32",
        &[
            arr(
                "t",
                Data::F32(t.iter().map(|&v| v as f32).collect()),
                &[n],
                false,
            ),
            arr("x", Data::F32(vec![0.0; n]), &[n], true),
        ],
    );
    let _ = same(
        TRIG,
        "branchy",
        &[arr("t", Data::F64(t), &[n], false), zeros("x", &[n])],
    );
}

const PINS: &str = r#"
fn helper(a: f64, n: i64) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        s += a * (i as f64);
    }
    return s;
}
kernel pins(x: f64[:, :], y: mut f64[:, :], k: i64) {
    let rows = x.shape(0);
    let cols = x.shape(1);
    let mut scale = 1.0;
    for r in 0..rows {
        let mut acc = 0.0;
        let mut c = 0;
        while c < cols {
            acc += x[r, c] * scale;
            if acc > 40.0 {
                break;
            }
            c += 1;
        }
        for j in 0..cols {
            if j == k {
                continue;
            }
            y[r, j] = acc + ((j + k) as f64) * scale + (c as f64);
        }
        scale = scale * 1.5;
    }
}
kernel pins_par(x: f64[:], y: mut f64[:], n: i64) {
    for i in prange(0..x.len()) {
        let a = x[i];
        let mut t = 0.0;
        for j in 0..n {
            t += helper(a + (j as f64), n);
        }
        y[i] = t;
    }
}
"#;

#[test]
fn loop_invariant_variables_read_their_values_from_before_the_loop() {
    // Variables a loop reads and never writes are bound to their value at
    // the loop's entry (so Cranelift can hoist what is computed from
    // them); ones written in an outer loop, a `while` condition's, a
    // helper's own variables (the same ids in another frame) and `break` /
    // `continue` paths must all still see the right values.
    for k in [-1i64, 0, 3] {
        let _ = same(
            PINS,
            "pins",
            &[
                ramp("x", &[6, 9]),
                zeros("y", &[6, 9]),
                sc("k", Value::I64(k)),
            ],
        );
    }
    for n in [0i64, 1, 4] {
        let _ = same(
            PINS,
            "pins_par",
            &[ramp("x", &[37]), zeros("y", &[37]), sc("n", Value::I64(n))],
        );
    }
}
