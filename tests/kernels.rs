//! The kernel library (kernels/*.kn) on the reference interpreter at size T,
//! each against a hand-written Rust reference. Inputs come from each file's
//! directive header; comparisons follow `common::compare` (exact integers,
//! relative tolerance for floats).

mod common;

use common::compare::{compare_data, compare_result};
use common::inputs::{as_args, i64s, Input};
use common::Case;
use kiln::bench::baseline::{self, Flavour};
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

/// Runs `dir/name.kn` on the interpreter at size T.
fn run_interp(dir: &str, name: &str) -> Run {
    let case = Case::load(dir, name);
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

/// A library kernel on the interpreter against its hand-written Rust
/// version (`kiln::bench::baseline`, serial: the same Rust the benchmark
/// suite times and validates with) on the same inputs: every array and the
/// result must agree (exact integers, relative tolerance for floats).
fn check_against_baseline(name: &str) {
    let r = run_interp("kernels", name);
    let reference = baseline::find(name).unwrap_or_else(|| panic!("no Rust baseline for `{name}`"));
    let mut expected = r.before.clone();
    let expected_result = reference(Flavour::Serial, &mut as_args(&mut expected))
        .unwrap_or_else(|e| panic!("{name}: the Rust baseline failed: {e}"));
    compare_result("result", expected_result, r.result).unwrap_or_else(|e| panic!("{name}: {e}"));
    for (want, got) in expected.iter().zip(&r.after) {
        if let (
            Input::Array {
                name: arg, data: w, ..
            },
            Input::Array { data: g, .. },
        ) = (want, got)
        {
            compare_data(&format!("{name}: array `{arg}`"), w, g).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    // The baseline is not vacuous: some output differs from its input, or
    // the kernel returns a value.
    assert!(
        r.result.is_some() || r.before != r.after,
        "{name}: the kernel changed nothing at size T"
    );
}

macro_rules! library_tests {
    ($($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                check_against_baseline(stringify!($name));
            }
        )*
    };
}

library_tests!(
    blackscholes,
    dot,
    histogram,
    jacobi2d,
    mandelbrot,
    matmul,
    minmax,
    nbody,
    saxpy,
    scale_inplace,
    softmax_rows,
    sum_of_squares_range,
    sum_sq,
    triad
);

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

/// Two of the language-coverage kernels (tests/conformance/) whose every
/// output is spelled out here in Rust, so the interpreter itself is held to
/// Rust's semantics for loops and integer edge cases (the conformance suite
/// then holds every backend to the interpreter).
mod language {
    use super::*;

    fn run_conformance(name: &str) -> Run {
        run_interp("tests/conformance", name)
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
