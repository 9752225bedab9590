//! The VALUE grammar of `kiln run --arg NAME=VALUE` and of `//! args:`
//! directives: a scalar parsed by the parameter's declared type, or an array
//! from `@path.npy`, `zeros:SHAPE`, `range:SHAPE` or `rand:SHAPE`.

use super::gen::{self, Generator};
use super::host::HostArray;
use super::npy;
use super::params::{ParamInfo, ParamType};
use crate::engine::args::Arg;
use crate::error::{Error, Result};
use crate::ir::{ScalarType, Value};
use std::num::IntErrorKind;

/// An owned launch argument.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum HostValue {
    /// A scalar.
    Scalar(Value),
    /// An array.
    Array(HostArray),
}

impl HostValue {
    /// The launch argument for a parameter of type `ty`: arrays of `mut`
    /// parameters are passed writable, all others read-only.
    pub fn as_arg_for(&mut self, ty: ParamType) -> Arg<'_> {
        match self {
            HostValue::Scalar(v) => Arg::Scalar(*v),
            HostValue::Array(a) => {
                if ty.is_mut_array() {
                    a.as_arg_mut()
                } else {
                    a.as_arg()
                }
            }
        }
    }

    /// The array, when it is one.
    pub fn as_array(&self) -> Option<&HostArray> {
        match self {
            HostValue::Array(a) => Some(a),
            HostValue::Scalar(_) => None,
        }
    }

    /// Restores `self` to `original` reusing the allocation (see
    /// `HostArray::clone_from`).
    pub fn restore_from(&mut self, original: &HostValue) {
        match (self, original) {
            (HostValue::Array(a), HostValue::Array(b)) => a.clone_from(b),
            (this, original) => *this = original.clone(),
        }
    }
}

/// Launch arguments for `values` bound to `params` (same order).
pub fn args_for<'a>(params: &[ParamInfo], values: &'a mut [HostValue]) -> Vec<Arg<'a>> {
    values
        .iter_mut()
        .zip(params)
        .map(|(v, p)| v.as_arg_for(p.ty))
        .collect()
}

/// The shortest text [`parse_scalar`] reads back as exactly `v` (of `v`'s
/// type): integers and bools as Rust prints them, finite floats with a `.0`
/// or an exponent (`0.1` for an f32 0.1, `1e20`), and `nan`, `inf`, `-inf`.
pub fn scalar_text(v: Value) -> String {
    let float = |x: f64, shortest: String| {
        if x.is_nan() {
            "nan".to_string()
        } else if x.is_infinite() {
            if x > 0.0 { "inf" } else { "-inf" }.to_string()
        } else {
            shortest
        }
    };
    match v {
        Value::F32(x) => float(x as f64, format!("{x:?}")),
        Value::F64(x) => float(x, format!("{x:?}")),
        other => other.to_string(),
    }
}

/// Parses a scalar of type `ty`. Integers are parsed exactly (never through
/// a float) and must be in range; floats accept every spelling Rust and
/// Python print (`2`, `1e-05`, `inf`, `-inf`, `nan`, `Infinity`, any case);
/// bools are `true`/`false`.
pub fn parse_scalar(text: &str, ty: ScalarType) -> Result<Value, String> {
    let t = text.trim();
    // Rust reports a negative number for an unsigned type as an invalid
    // digit; for the user it is out of range like any other.
    let negative_integer = t
        .strip_prefix('-')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    let int_error = |e: std::num::ParseIntError, range: String| match e.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
            format!("`{t}` is out of range for {ty} ({range})")
        }
        _ if negative_integer => format!("`{t}` is out of range for {ty} ({range})"),
        _ => format!("`{t}` is not a valid {ty} (expected an integer such as `42`)"),
    };
    match ty {
        ScalarType::Bool => match t.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!(
                "`{t}` is not a valid bool (expected `true` or `false`)"
            )),
        },
        ScalarType::I32 => t
            .parse()
            .map(Value::I32)
            .map_err(|e| int_error(e, format!("{}..={}", i32::MIN, i32::MAX))),
        ScalarType::U32 => t
            .parse()
            .map(Value::U32)
            .map_err(|e| int_error(e, format!("0..={}", u32::MAX))),
        ScalarType::I64 => t
            .parse()
            .map(Value::I64)
            .map_err(|e| int_error(e, format!("{}..={}", i64::MIN, i64::MAX))),
        ScalarType::F32 => parse_float::<f32>(t)
            .map(Value::F32)
            .ok_or_else(|| float_error(t, ty)),
        ScalarType::F64 => parse_float::<f64>(t)
            .map(Value::F64)
            .ok_or_else(|| float_error(t, ty)),
    }
}

fn float_error(t: &str, ty: ScalarType) -> String {
    format!(
        "`{t}` is not a valid {ty} (expected a number such as `2`, `0.5`, `1e-05`, `inf` or `nan`)"
    )
}

/// Rust's float parser (correctly rounded, straight to the target type, so
/// an f32 is not double-rounded through f64), plus a signed `nan`, which
/// Rust rejects but C and NumPy may print.
fn parse_float<F: std::str::FromStr + std::ops::Neg<Output = F>>(t: &str) -> Option<F> {
    if let Ok(x) = t.parse::<F>() {
        return Some(x);
    }
    let (negative, rest) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if rest.eq_ignore_ascii_case("nan") {
        let nan: F = "nan".parse().ok()?;
        return Some(if negative { -nan } else { nan });
    }
    None
}

/// Parses VALUE for parameter `param` of kernel `kernel`. `stream` picks the
/// random stream for `rand:` (the parameter's position, see `gen`).
pub fn parse_value(
    kernel: &str,
    param: &ParamInfo,
    text: &str,
    seed: u64,
    stream: u64,
) -> Result<HostValue> {
    let fail = |message: String| Error::Argument {
        kernel: kernel.to_string(),
        index: None,
        param: Some(param.name.clone()),
        expected: None,
        given: None,
        message: format!("argument `{}` (`{}`): {message}", param.name, param.ty),
    };
    match param.ty {
        ParamType::Scalar(ty) => parse_scalar(text, ty).map(HostValue::Scalar).map_err(fail),
        ParamType::Array { elem, rank, .. } => {
            if let Some(path) = text.strip_prefix('@') {
                if path.trim().is_empty() {
                    return Err(fail("`@` names no file (expected `@file.npy`)".into()));
                }
                // Name the kernel and the parameter the file was for.
                return npy::read_for(path, param)
                    .map(HostValue::Array)
                    .map_err(|e| fail(e.to_string()));
            }
            let Some((name, shape_text)) = text.split_once(':') else {
                return Err(fail(format!(
                    "`{text}` is not an array value (expected `@file.npy`, `zeros:SHAPE`, `range:SHAPE` or `rand:SHAPE`)"
                )));
            };
            let generator: Generator = name.trim().parse().map_err(fail)?;
            let shape = gen::parse_shape(shape_text).map_err(fail)?;
            if shape.len() != rank as usize {
                return Err(fail(format!(
                    "shape `{}` has {} dimension{}, the parameter has {rank}",
                    shape_text.trim(),
                    shape.len(),
                    if shape.len() == 1 { "" } else { "s" }
                )));
            }
            gen::generate(generator, elem, &shape, seed, stream)
                .map(HostValue::Array)
                .map_err(fail)
        }
    }
}

/// Splits `NAME=VALUE` (the value may itself contain `=`).
pub fn split_assignment(text: &str) -> Result<(&str, &str), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim(), value.trim())),
        _ => Err(format!("`{text}` is not of the form NAME=VALUE")),
    }
}

/// Binds `NAME=VALUE` pairs to the kernel's parameters, in parameter order.
/// An unknown name, a name given twice and a parameter without a value are
/// errors naming it.
pub fn bind_args(
    kernel: &str,
    params: &[ParamInfo],
    pairs: &[(String, String)],
    seed: u64,
) -> Result<Vec<HostValue>> {
    let fail = |message: String| Error::argument(kernel, message);
    let mut texts: Vec<Option<&str>> = vec![None; params.len()];
    for (name, value) in pairs {
        let Some(k) = params.iter().position(|p| &p.name == name) else {
            let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            return Err(fail(format!(
                "no parameter named `{name}` (parameters: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        };
        if texts[k].is_some() {
            return Err(fail(format!("argument `{name}` is given twice")));
        }
        texts[k] = Some(value);
    }
    let missing: Vec<String> = params
        .iter()
        .zip(&texts)
        .filter(|(_, t)| t.is_none())
        .map(|(p, _)| format!("`{}: {}`", p.name, p.ty))
        .collect();
    if !missing.is_empty() {
        return Err(fail(format!(
            "missing {} for {}",
            if missing.len() == 1 {
                "a value"
            } else {
                "values"
            },
            missing.join(", ")
        )));
    }
    params
        .iter()
        .zip(texts)
        .enumerate()
        .map(|(k, (p, t))| parse_value(kernel, p, t.unwrap_or_default(), seed, k as u64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_text_reads_back_exactly() {
        let values = [
            Value::F32(0.1),
            Value::F32(-0.0),
            Value::F32(f32::NAN),
            Value::F64(1e20),
            Value::F64(5e-324),
            Value::F64(f64::NEG_INFINITY),
            Value::I64(i64::MIN),
            Value::U32(u32::MAX),
            Value::Bool(true),
        ];
        for v in values {
            let text = scalar_text(v);
            let back = parse_scalar(&text, v.ty()).unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{text}");
        }
        assert_eq!(scalar_text(Value::F64(2.0)), "2.0");
    }

    #[test]
    fn integers_are_exact_and_range_checked() {
        assert_eq!(
            parse_scalar("9007199254740993", ScalarType::I64),
            Ok(Value::I64(9007199254740993))
        );
        assert_eq!(
            parse_scalar("-2147483648", ScalarType::I32),
            Ok(Value::I32(i32::MIN))
        );
        assert_eq!(
            parse_scalar("4294967295", ScalarType::U32),
            Ok(Value::U32(u32::MAX))
        );
        let e = parse_scalar("2147483648", ScalarType::I32).unwrap_err();
        assert!(e.contains("out of range for i32"), "{e}");
        assert!(parse_scalar("-1", ScalarType::U32)
            .unwrap_err()
            .contains("out of range"));
        assert!(parse_scalar("1.5", ScalarType::I32)
            .unwrap_err()
            .contains("not a valid i32"));
        assert!(parse_scalar("1e3", ScalarType::I64).is_err());
    }

    #[test]
    fn floats_accept_python_and_rust_spellings() {
        assert_eq!(parse_scalar("2", ScalarType::F32), Ok(Value::F32(2.0)));
        assert_eq!(parse_scalar("1e-05", ScalarType::F64), Ok(Value::F64(1e-5)));
        assert_eq!(parse_scalar("0.1", ScalarType::F32), Ok(Value::F32(0.1f32)));
        for (s, v) in [
            ("inf", f64::INFINITY),
            ("-inf", f64::NEG_INFINITY),
            ("Infinity", f64::INFINITY),
            ("-INF", f64::NEG_INFINITY),
        ] {
            assert_eq!(parse_scalar(s, ScalarType::F64), Ok(Value::F64(v)), "{s}");
        }
        for s in ["nan", "NaN", "-nan", "NAN"] {
            match parse_scalar(s, ScalarType::F32) {
                Ok(Value::F32(x)) => assert!(x.is_nan(), "{s}"),
                other => panic!("{s}: {other:?}"),
            }
        }
        assert!(parse_scalar("one", ScalarType::F64)
            .unwrap_err()
            .contains("not a valid f64"));
    }

    #[test]
    fn bools() {
        assert_eq!(
            parse_scalar("true", ScalarType::Bool),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            parse_scalar("False", ScalarType::Bool),
            Ok(Value::Bool(false))
        );
        assert!(parse_scalar("1", ScalarType::Bool).is_err());
    }

    fn params() -> Vec<ParamInfo> {
        vec![
            ParamInfo {
                name: "a".into(),
                ty: ParamType::Scalar(ScalarType::F32),
            },
            ParamInfo {
                name: "x".into(),
                ty: ParamType::Array {
                    elem: ScalarType::F32,
                    rank: 1,
                    mutable: false,
                },
            },
            ParamInfo {
                name: "y".into(),
                ty: ParamType::Array {
                    elem: ScalarType::F32,
                    rank: 2,
                    mutable: true,
                },
            },
        ]
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn binding_names_unknown_and_missing_parameters() {
        let p = params();
        let e = bind_args("k", &p, &pairs(&[("a", "1"), ("z", "2")]), 0)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "kernel `k`: no parameter named `z` (parameters: a, x, y)"
        );
        let e = bind_args("k", &p, &pairs(&[("a", "1")]), 0)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "kernel `k`: missing values for `x: f32[:]`, `y: mut f32[:, :]`"
        );
        let e = bind_args("k", &p, &pairs(&[("a", "1"), ("a", "2")]), 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("given twice"), "{e}");
    }

    #[test]
    fn binding_builds_values() {
        let p = params();
        let v = bind_args(
            "k",
            &p,
            &pairs(&[("y", "zeros:2x3"), ("x", "range:4"), ("a", "2.5")]),
            0,
        )
        .unwrap();
        assert_eq!(v[0], HostValue::Scalar(Value::F32(2.5)));
        assert_eq!(
            v[1].as_array().unwrap().as_slice::<f32>().unwrap(),
            &[0.0, 1.0, 2.0, 3.0]
        );
        assert_eq!(v[2].as_array().unwrap().shape(), &[2, 3]);
    }

    #[test]
    fn array_value_errors() {
        let p = params();
        let e = parse_value("k", &p[2], "zeros:10", 0, 0)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "kernel `k`: argument `y` (`mut f32[:, :]`): shape `10` has 1 dimension, the parameter has 2"
        );
        let e = parse_value("k", &p[1], "2.5", 0, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not an array value"), "{e}");
        let e = parse_value("k", &p[1], "ones:10", 0, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown generator `ones`"), "{e}");
    }
}
