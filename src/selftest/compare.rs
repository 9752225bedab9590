//! Comparing a backend's outputs with the reference's.
//!
//! Integers and bools must be equal. Floats must satisfy
//! `|a - b| <= rtol * max(|a|, |b|, M / 100)` where `M` is the largest
//! magnitude in the expected array (for a returned scalar, `max(|a|, |b|)`),
//! with `rtol = 1e-4` for `f32` and `1e-10` for `f64`. The relative part
//! absorbs a different summation order in reductions (the language leaves
//! it unspecified) and the 4-ulp latitude of the math builtins; the `M /
//! 100` floor keeps values produced by cancellation (a near-zero sum of
//! large terms) from failing on rounding noise at the array's scale. NaN
//! matches NaN, infinities match when equal, `-0.0` matches `0.0`.

use super::inputs::{Data, Input};
use crate::ir::Value;

pub const RTOL_F32: f64 = 1e-4;
pub const RTOL_F64: f64 = 1e-10;

/// Whether `a` and `b` agree within `rtol` at an array scale of `scale`.
pub fn close(a: f64, b: f64, rtol: f64, scale: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= rtol * a.abs().max(b.abs()).max(scale / 100.0)
}

fn max_abs(v: impl Iterator<Item = f64>) -> f64 {
    v.filter(|x| x.is_finite()).fold(0.0, |m, x| m.max(x.abs()))
}

fn compare_floats(label: &str, expected: &[f64], actual: &[f64], rtol: f64) -> Result<(), String> {
    let scale = max_abs(expected.iter().copied());
    let bad: Vec<usize> = (0..expected.len())
        .filter(|&i| !close(expected[i], actual[i], rtol, scale))
        .collect();
    match bad.first() {
        None => Ok(()),
        Some(&i) => Err(format!(
            "{label}: {} of {} elements differ beyond rtol {rtol:e}; first at flat index {i}: expected {:e}, got {:e}",
            bad.len(),
            expected.len(),
            expected[i],
            actual[i]
        )),
    }
}

fn compare_exact<T: PartialEq + std::fmt::Debug>(
    label: &str,
    expected: &[T],
    actual: &[T],
) -> Result<(), String> {
    let bad: Vec<usize> = (0..expected.len())
        .filter(|&i| expected[i] != actual[i])
        .collect();
    match bad.first() {
        None => Ok(()),
        Some(&i) => Err(format!(
            "{label}: {} of {} elements differ; first at flat index {i}: expected {:?}, got {:?}",
            bad.len(),
            expected.len(),
            expected[i],
            actual[i]
        )),
    }
}

/// Compares two arrays of the same element type and length.
pub fn compare_data(label: &str, expected: &Data, actual: &Data) -> Result<(), String> {
    let widen32 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    match (expected, actual) {
        (Data::I32(e), Data::I32(a)) if e.len() == a.len() => compare_exact(label, e, a),
        (Data::U32(e), Data::U32(a)) if e.len() == a.len() => compare_exact(label, e, a),
        (Data::I64(e), Data::I64(a)) if e.len() == a.len() => compare_exact(label, e, a),
        (Data::F32(e), Data::F32(a)) if e.len() == a.len() => {
            compare_floats(label, &widen32(e), &widen32(a), RTOL_F32)
        }
        (Data::F64(e), Data::F64(a)) if e.len() == a.len() => compare_floats(label, e, a, RTOL_F64),
        _ => Err(format!("{label}: element type or length differs")),
    }
}

/// Compares every array of two launches of the same case.
pub fn compare_inputs(label: &str, expected: &[Input], actual: &[Input]) -> Result<(), String> {
    for (e, a) in expected.iter().zip(actual) {
        if let (Input::Array { data: de, name, .. }, Input::Array { data: da, .. }) = (e, a) {
            compare_data(&format!("{label}: array `{name}`"), de, da)?;
        }
    }
    Ok(())
}

/// Compares two returned scalars.
pub fn compare_result(
    label: &str,
    expected: Option<Value>,
    actual: Option<Value>,
) -> Result<(), String> {
    let ok = match (expected, actual) {
        (None, None) => true,
        (Some(Value::F32(e)), Some(Value::F32(a))) => close(e as f64, a as f64, RTOL_F32, 0.0),
        (Some(Value::F64(e)), Some(Value::F64(a))) => close(e, a, RTOL_F64, 0.0),
        (Some(e), Some(a)) => e == a,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{label}: result differs: expected {expected:?}, got {actual:?}"
        ))
    }
}
