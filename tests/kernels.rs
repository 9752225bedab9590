//! The kernel library (kernels/*.kn) on the reference interpreter at size T,
//! each against a hand-written Rust reference. Inputs come from each file's
//! directive header; comparisons follow `common::compare` (exact integers,
//! relative tolerance for floats).

mod common;

use common::compare::{compare_data, compare_result};
use common::inputs::{array, f32s, f64s, i32s, i64s, scalar, Data, Input};
use common::Case;
use kiln::{Backend, Value};

/// Every file of kernels/ has a test below; this list keeps it honest.
const LIBRARY: [&str; 14] = [
    "blackscholes",
    "dot",
    "histogram",
    "jacobi2d",
    "mandelbrot",
    "matmul",
    "minmax",
    "nbody",
    "saxpy",
    "scale_inplace",
    "softmax_rows",
    "sum_of_squares_range",
    "sum_sq",
    "triad",
];

/// Kernels that stream memory: their L size must touch at least 1e8 bytes.
const STREAMING: [&str; 7] = [
    "saxpy",
    "triad",
    "scale_inplace",
    "sum_sq",
    "dot",
    "minmax",
    "histogram",
];

/// A kernel's inputs at size T, then its outputs and result on the interpreter.
struct Run {
    before: Vec<Input>,
    after: Vec<Input>,
    result: Option<Value>,
}

fn run(name: &str) -> Run {
    let case = Case::load("kernels", name);
    let before = case.inputs("T");
    let mut after = before.clone();
    let result = case
        .launch(Backend::Interp, &mut after)
        .unwrap_or_else(|e| panic!("{name} failed: {e}"));
    Run {
        before,
        after,
        result,
    }
}

fn expect_array(run: &Run, name: &str, expected: Data) {
    compare_data(
        &format!("array `{name}`"),
        &expected,
        array(&run.after, name).0,
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

fn expect_result(run: &Run, expected: Option<Value>) {
    compare_result("result", expected, run.result).unwrap_or_else(|e| panic!("{e}"));
}

fn f32_arg(inputs: &[Input], name: &str) -> f32 {
    match scalar(inputs, name) {
        Value::F32(v) => v,
        other => panic!("`{name}` is {other:?}, expected f32"),
    }
}

fn f64_arg(inputs: &[Input], name: &str) -> f64 {
    match scalar(inputs, name) {
        Value::F64(v) => v,
        other => panic!("`{name}` is {other:?}, expected f64"),
    }
}

#[test]
fn every_library_file_is_tested_and_has_a_complete_header() {
    assert_eq!(
        common::kernel_stems("kernels"),
        LIBRARY,
        "kernels/ and the LIBRARY list differ"
    );
    for name in LIBRARY {
        let case = Case::load("kernels", name);
        for label in ["T", "S", "M", "L"] {
            assert!(
                case.directives.size(label).is_some(),
                "{name}: no size {label}"
            );
        }
        let l = case.directives.size("L").unwrap();
        if STREAMING.contains(&name) {
            let bytes = case
                .directives
                .bytes_at(l)
                .unwrap_or_else(|| panic!("{name}: no bytes directive"));
            assert!(
                bytes >= 1e8,
                "{name}: size L touches {bytes} bytes, under 1e8"
            );
        }
        // The test size must build valid inputs (shapes match the ranks).
        assert_eq!(case.inputs("T").len(), case.kernel_ir().params.len());
    }
}

#[test]
fn saxpy() {
    let r = run("saxpy");
    let a = f32_arg(&r.before, "a");
    let (x, y) = (f32s(&r.before, "x"), f32s(&r.before, "y"));
    expect_array(
        &r,
        "y",
        Data::F32(x.iter().zip(y).map(|(x, y)| a * x + y).collect()),
    );
    expect_result(&r, None);
}

#[test]
fn triad() {
    let r = run("triad");
    let s = f64_arg(&r.before, "s");
    let (b, c) = (f64s(&r.before, "b"), f64s(&r.before, "c"));
    expect_array(
        &r,
        "a",
        Data::F64(b.iter().zip(c).map(|(b, c)| b + s * c).collect()),
    );
}

#[test]
fn scale_inplace() {
    let r = run("scale_inplace");
    let s = f64_arg(&r.before, "s");
    expect_array(
        &r,
        "x",
        Data::F64(f64s(&r.before, "x").iter().map(|x| x * s).collect()),
    );
}

#[test]
fn sum_sq() {
    let r = run("sum_sq");
    let total: f64 = f64s(&r.before, "x").iter().map(|x| x * x).sum();
    expect_result(&r, Some(Value::F64(total)));
}

#[test]
fn dot() {
    let r = run("dot");
    let total: f64 = f64s(&r.before, "x")
        .iter()
        .zip(f64s(&r.before, "y"))
        .map(|(x, y)| x * y)
        .sum();
    expect_result(&r, Some(Value::F64(total)));
}

#[test]
fn minmax() {
    let r = run("minmax");
    let x = f32s(&r.before, "x");
    let lo = x.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    // min and max are exact: the output must match bit for bit.
    assert_eq!(f32s(&r.after, "out"), [lo, hi]);
    assert_eq!(r.result, Some(Value::F32(hi - lo)));
}

#[test]
fn sum_of_squares_range() {
    let r = run("sum_of_squares_range");
    let iters = match scalar(&r.before, "iters") {
        Value::I64(v) => v,
        other => panic!("iters is {other:?}"),
    };
    let n = i64s(&r.before, "out").len() as i64;
    let expected: Vec<i64> = (0..n)
        .map(|k| (0..(k * 7919) % iters).fold(0i64, |s, i| s.wrapping_add(i.wrapping_mul(i))))
        .collect();
    expect_array(&r, "out", Data::I64(expected));
}

#[test]
fn mandelbrot() {
    let r = run("mandelbrot");
    let max_iter = match scalar(&r.before, "max_iter") {
        Value::I32(v) => v,
        other => panic!("max_iter is {other:?}"),
    };
    let shape = array(&r.before, "out").1;
    let (h, w) = (shape[0], shape[1]);
    let mut expected = vec![0i32; h * w];
    for py in 0..h {
        for px in 0..w {
            let cr = -2.0 + 3.0 * (px as f64) / (w as f64);
            let ci = -1.5 + 3.0 * (py as f64) / (h as f64);
            let (mut zr, mut zi, mut n) = (0.0f64, 0.0f64, 0i32);
            while n < max_iter && zr * zr + zi * zi <= 4.0 {
                let t = zr * zr - zi * zi + cr;
                zi = 2.0 * zr * zi + ci;
                zr = t;
                n += 1;
            }
            expected[py * w + px] = n;
        }
    }
    // Both interior (max_iter) and escaping points must be present, or the
    // test would not exercise the loop's two exits.
    assert!(expected.contains(&max_iter) && expected.iter().any(|&n| n < 5));
    expect_array(&r, "out", Data::I32(expected));
}

fn cnd(d: f64) -> f64 {
    0.5 * (1.0 + libm::erf(d / 2f64.sqrt()))
}

#[test]
fn blackscholes() {
    let r = run("blackscholes");
    let (rate, vol) = (f64_arg(&r.before, "rate"), f64_arg(&r.before, "vol"));
    let (spot, strike, years) = (
        f64s(&r.before, "spot"),
        f64s(&r.before, "strike"),
        f64s(&r.before, "years"),
    );
    let mut call = Vec::new();
    let mut put = Vec::new();
    for i in 0..spot.len() {
        let s = 10.0 + 90.0 * spot[i];
        let k = 10.0 + 90.0 * strike[i];
        let t = 0.1 + 1.9 * years[i];
        let vol_sqrt_t = vol * t.sqrt();
        let d1 = ((s / k).ln() + (rate + 0.5 * vol * vol) * t) / vol_sqrt_t;
        let d2 = d1 - vol_sqrt_t;
        let disc = k * (-rate * t).exp();
        call.push(s * cnd(d1) - disc * cnd(d2));
        put.push(disc * cnd(-d2) - s * cnd(-d1));
    }
    // Put-call parity holds for the reference itself: C - P = S - K e^{-rt}.
    expect_array(&r, "call", Data::F64(call));
    expect_array(&r, "put", Data::F64(put));
}

#[test]
fn nbody() {
    let r = run("nbody");
    let softening = f32_arg(&r.before, "softening");
    let (pos, mass) = (f32s(&r.before, "pos"), f32s(&r.before, "mass"));
    let n = mass.len();
    let eps2 = softening * softening;
    let mut acc = vec![0f32; n * 3];
    for i in 0..n {
        let (xi, yi, zi) = (pos[3 * i], pos[3 * i + 1], pos[3 * i + 2]);
        let (mut ax, mut ay, mut az) = (0f32, 0f32, 0f32);
        for j in 0..n {
            let (dx, dy, dz) = (pos[3 * j] - xi, pos[3 * j + 1] - yi, pos[3 * j + 2] - zi);
            let r2 = dx * dx + dy * dy + dz * dz + eps2;
            let inv_r = 1.0 / r2.sqrt();
            let s = mass[j] * inv_r * inv_r * inv_r;
            ax += s * dx;
            ay += s * dy;
            az += s * dz;
        }
        acc[3 * i..3 * i + 3].copy_from_slice(&[ax, ay, az]);
    }
    expect_array(&r, "acc", Data::F32(acc));
}

#[test]
fn matmul() {
    let r = run("matmul");
    let (a, ashape) = (f32s(&r.before, "a"), array(&r.before, "a").1);
    let (b, bshape) = (f32s(&r.before, "b"), array(&r.before, "b").1);
    let (m, p, q) = (ashape[0], ashape[1], bshape[1]);
    let mut c = vec![0f32; m * q];
    for i in 0..m {
        for j in 0..q {
            c[i * q + j] = (0..p).fold(0f32, |acc, k| acc + a[i * p + k] * b[k * q + j]);
        }
    }
    expect_array(&r, "c", Data::F32(c));
}

#[test]
fn jacobi2d() {
    let r = run("jacobi2d");
    let iters = match scalar(&r.before, "iters") {
        Value::I32(v) => v,
        other => panic!("iters is {other:?}"),
    };
    let (a0, shape) = (f64s(&r.before, "a"), array(&r.before, "a").1);
    let (h, w) = (shape[0], shape[1]);
    let mut a = a0.to_vec();
    let mut b = a0.to_vec();
    let sweep = |src: &[f64], dst: &mut [f64]| {
        for i in 1..h - 1 {
            for j in 1..w - 1 {
                dst[i * w + j] = 0.25
                    * (src[(i - 1) * w + j]
                        + src[(i + 1) * w + j]
                        + src[i * w + j - 1]
                        + src[i * w + j + 1]);
            }
        }
    };
    for _ in 0..iters {
        sweep(&a, &mut b);
        sweep(&b, &mut a);
    }
    expect_array(&r, "a", Data::F64(a));
    expect_array(&r, "b", Data::F64(b));
}

#[test]
fn histogram() {
    let r = run("histogram");
    let x = f32s(&r.before, "x");
    let nbins = i32s(&r.before, "bins").len();
    let mut bins = vec![0i32; nbins];
    for &v in x {
        let b = ((v * nbins as f32) as i64).clamp(0, nbins as i64 - 1);
        bins[b as usize] += 1;
    }
    assert_eq!(bins.iter().sum::<i32>() as usize, x.len());
    expect_array(&r, "bins", Data::I32(bins));
}

#[test]
fn softmax_rows() {
    let r = run("softmax_rows");
    let (x, shape) = (f32s(&r.before, "x"), array(&r.before, "x").1);
    let cols = shape[1];
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks(cols) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = row.iter().map(|v| (v - m).exp()).collect();
        let inv = 1.0 / e.iter().sum::<f32>();
        out.extend(e.iter().map(|v| v * inv));
    }
    expect_array(&r, "out", Data::F32(out));
}

/// Two of the language-coverage kernels (tests/conformance/) whose every
/// output is spelled out here in Rust, so the interpreter itself is held to
/// Rust's semantics for loops and integer edge cases (the conformance suite
/// then holds every backend to the interpreter).
mod language {
    use super::*;

    fn run_conformance(name: &str) -> Run {
        let case = Case::load("tests/conformance", name);
        let before = case.inputs("T");
        let mut after = before.clone();
        let result = case
            .launch(Backend::Interp, &mut after)
            .unwrap_or_else(|e| panic!("{name} failed: {e}"));
        Run {
            before,
            after,
            result,
        }
    }

    #[test]
    // Mutating `lim` inside its own loop mirrors the kernel's check that
    // bounds are evaluated once.
    #[allow(clippy::mut_range_bound)]
    fn loops_follow_rust_iterators() {
        let r = run_conformance("loops");
        let mut v: Vec<i64> = Vec::new();
        v.extend(0..5);
        v.extend(2..=6);
        v.extend((0..10).step_by(3));
        v.extend((0..10).rev());
        v.extend((0..11i32).step_by(3).rev().map(i64::from)); // i32: Rust's rev needs an exact size
        v.extend((0..11).rev().step_by(3));
        v.extend((-5..=5).step_by(4));
        v.extend((0..=10).rev().step_by(4));
        v.extend((1..10i32).step_by(4).rev().map(i64::from)); // 1..=9 (RangeInclusive has no exact size)
        v.extend((0..10).step_by(2).step_by(2));
        v.extend((0..4).rev().rev());
        v.extend((0..20i32).step_by(3).rev().step_by(2).map(i64::from));
        v.extend((0..10).step_by(1_000_000_000_000));
        v.extend(-3..4); // n = 4
        v.extend(2..=4); // m - 1 ..= n with m = 3
        v.extend((i64::MAX - 2..=i64::MAX).map(|i| i - 9223372036854775800));
        v.extend((i64::MIN..i64::MIN + 3).rev().map(|i| i + i64::MAX));
        let mut lim = 3;
        for i in 0..lim {
            lim += 10;
            v.push(i * 100);
        }
        v.push(lim);
        let mut j = 0;
        loop {
            j += 1;
            if j % 3 == 0 {
                continue;
            }
            if j > 10 {
                break;
            }
            v.push(-j);
        }
        for a in 0..5 {
            for b in 0..5 {
                if b > a {
                    break;
                }
                if (a + b) % 2 == 1 {
                    continue;
                }
                v.push(a * 10 + b);
            }
            if a == 3 {
                break;
            }
        }
        let mut w = 10;
        while w > 0 {
            w -= 3;
            v.push(w);
        }
        assert_eq!(r.result, Some(Value::I64(v.len() as i64)));
        let out = i64s(&r.after, "out");
        assert_eq!(&out[..v.len()], &v[..]);
        assert!(out[v.len()..].iter().all(|&x| x == 0));
    }

    #[test]
    // `clamp(lmin, 3, 2)` with lo > hi is a deliberate edge case of the kernel.
    #[allow(clippy::min_max)]
    fn integer_edges_follow_rust() {
        let r = run_conformance("int_edges");
        let (imin, imax, lmin, neg1, umax) = (i32::MIN, i32::MAX, i64::MIN, -1i32, u32::MAX);
        let (big, nan, sh) = (1e20f64, f64::NAN, 35i32);
        let expected: Vec<i64> = vec![
            imax.wrapping_add(1) as i64,
            imin.wrapping_sub(1) as i64,
            imin.wrapping_div(neg1) as i64,
            imin.wrapping_rem(neg1) as i64,
            lmin.wrapping_div(-1),
            lmin.wrapping_rem(-1),
            imax.wrapping_mul(imax) as i64,
            umax.wrapping_add(1) as i64,
            umax.wrapping_mul(umax) as i64,
            0u32.wrapping_sub(umax) as i64,
            1i32.wrapping_shl(sh as u32) as i64,
            1i64.wrapping_shl(sh as u32),
            umax.wrapping_shr(sh as u32) as i64,
            imin.wrapping_shr(sh as u32) as i64,
            neg1.wrapping_shl(31) as i64,
            1i32.wrapping_shl((sh + 30) as u32) as i64,
            1i64.wrapping_shl((sh + 30) as u32),
            imin as u32 as i64,
            neg1 as u32 as i64,
            umax as i32 as i64,
            lmin as i32 as i64,
            lmin.wrapping_add(5_000_000_000) as i32 as i64,
            umax as i64,
            big as i64,
            (-big) as i64,
            big as i32 as i64,
            (-big) as u32 as i64,
            nan as i64,
            nan as i32 as i64,
            nan as u32 as i64,
            (2.9f64 as i64) + (-2.9f64 as i64) * 10,
            (imax as f32) as i64,
            (lmin as f64) as i64,
            (umax as f32) as i64,
            (123456789i64 as f32) as i64,
            imin.wrapping_abs() as i64,
            lmin.wrapping_abs(),
            umax as i64,
            imin.min(imax) as i64 + umax.max(7) as i64,
            (neg1 * 100).clamp(-5, 5) as i64 + lmin.max(3).min(2),
            (-7i64 / 2) * 100 + (-7i64 % 2) * 10 + (7i64 % -2),
            (umax / 3 + umax % 10) as i64,
            -(imin as i64),
            (!imax) as i64 + (!umax) as i64 + !0i64,
            1 + 2 + 4,
            1 + 10,
            100,
            ((sh as u32) >> 1) as i64,
            imin.wrapping_shr(sh as u32) as i64,
            1u32.wrapping_shl(sh as u32) as i64,
        ];
        let out = i64s(&r.after, "out");
        for (k, (got, want)) in out.iter().zip(&expected).enumerate() {
            assert_eq!(got, want, "out[{k}] of int_edges");
        }
        assert!(out[expected.len()..].iter().all(|&x| x == 0));
    }
}
