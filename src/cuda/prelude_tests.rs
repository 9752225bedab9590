//! The prelude's scalar helpers checked against `ir::value` (the language's
//! definition) without a GPU: `shaders/cuda_prelude.cu` is compiled as host
//! C++ by the system's `g++`, with the few CUDA intrinsics it uses replaced
//! by exact host equivalents, and run on edge-case inputs. This checks the
//! logic of the explicit clamps, guards and bit tricks (the intrinsics
//! themselves are exercised only on a GPU). Skipped when `g++` is absent.

use crate::ir::value;
use crate::ir::{BinOp, Builtin, ScalarType, UnOp, Value};
use std::fmt::Write;
use std::process::Command;

/// Host stand-ins: the `_rz` conversions are only reached with in-range
/// operands (the prelude clamps first), where C casts truncate the same way.
const SHIMS: &str = r#"
#include <cstdio>
#include <cstring>
#define __device__
#define __forceinline__ inline
#define __global__
static int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
static float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
static long long __double_as_longlong(double d) { long long i; std::memcpy(&i, &d, 8); return i; }
static double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, 8); return d; }
static int __double2int_rz(double x) { return (int)x; }
static unsigned __double2uint_rz(double x) { return (unsigned)x; }
static long long __double2ll_rz(double x) { return (long long)x; }
template <typename T> static T atomicAdd(T* p, T v) { T o = *p; *p = o + v; return o; }
template <typename T> static T atomicMin(T* p, T v) { T o = *p; *p = v < o ? v : o; return o; }
template <typename T> static T atomicMax(T* p, T v) { T o = *p; *p = v > o ? v : o; return o; }
template <typename T> static T atomicCAS(T* p, T c, T v) { T o = *p; if (o == c) *p = v; return o; }
template <typename T> static T __shfl_down_sync(unsigned, T v, unsigned) { return v; }
"#;

fn f32s() -> Vec<f32> {
    vec![
        0.0,
        -0.0,
        1.5,
        -1.5,
        2.5,
        -2.9,
        0.999,
        -0.999,
        1e10,
        -1e10,
        3e9,
        4294967295.0,
        4294967296.0,
        2147483520.0,
        2147483648.0,
        -2147483648.0,
        -2147483904.0,
        9.2e18,
        -9.3e18,
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MIN_POSITIVE,
        1e-45,
    ]
}

fn f64s() -> Vec<f64> {
    let mut v: Vec<f64> = f32s().into_iter().map(|x| x as f64).collect();
    v.extend([
        2147483647.0,
        2147483647.9,
        -2147483648.9,
        -2147483649.0,
        4294967295.5,
        9223372036854775807.0,
        -9223372036854775808.0,
        -9223372036854777856.0,
        f64::MAX,
        f64::MIN,
    ]);
    v
}

fn ints() -> Vec<i64> {
    vec![
        0,
        1,
        -1,
        7,
        -7,
        31,
        32,
        33,
        63,
        64,
        65,
        i32::MAX as i64,
        i32::MIN as i64,
        u32::MAX as i64,
        i64::MAX,
        i64::MIN,
    ]
}

/// A C expression over one value and the value `ir::value` gives.
struct Case {
    expr: String,
    ty: ScalarType,
    expected: Value,
}

fn literal(v: Value) -> String {
    use crate::gpu::cgen::Dialect;
    super::cuda_c::CudaC.literal(v)
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut push = |expr: String, expected: Value| {
        out.push(Case {
            expr,
            ty: expected.ty(),
            expected,
        })
    };
    let floats: Vec<Value> = f32s()
        .into_iter()
        .map(Value::F32)
        .chain(f64s().into_iter().map(Value::F64))
        .collect();
    for &x in &floats {
        let t = x.ty();
        for to in [ScalarType::I32, ScalarType::U32, ScalarType::I64] {
            push(
                format!("kiln_{t}_to_{to}({})", literal(x)),
                value::cast(x, to),
            );
        }
        for &y in &floats {
            if y.ty() != t {
                continue;
            }
            for (f, name) in [(Builtin::Min, "min"), (Builtin::Max, "max")] {
                push(
                    format!("kiln_{name}_{t}({}, {})", literal(x), literal(y)),
                    value::builtin(f, &[x, y]),
                );
            }
        }
        push(
            format!("kiln_is_nan_{t}({})", literal(x)),
            value::builtin(Builtin::IsNan, &[x]),
        );
        push(
            format!("kiln_is_inf_{t}({})", literal(x)),
            value::builtin(Builtin::IsInf, &[x]),
        );
    }
    let ints: Vec<Value> = ints()
        .into_iter()
        .flat_map(|i| [Value::I32(i as i32), Value::U32(i as u32), Value::I64(i)])
        .collect();
    for &a in &ints {
        let t = a.ty();
        if t != ScalarType::U32 {
            push(
                format!("kiln_neg_{t}({})", literal(a)),
                value::unary(UnOp::Neg, a),
            );
            push(
                format!("kiln_abs_{t}({})", literal(a)),
                value::builtin(Builtin::Abs, &[a]),
            );
        }
        for &b in &ints {
            if b.ty() != t {
                continue;
            }
            let mut ops = vec![
                (BinOp::Shl, "shl"),
                (BinOp::Shr, "shr"),
                (BinOp::Div, "div"),
                (BinOp::Rem, "rem"),
            ];
            if t != ScalarType::U32 {
                ops.extend([
                    (BinOp::Add, "add"),
                    (BinOp::Sub, "sub"),
                    (BinOp::Mul, "mul"),
                ]);
            }
            for (op, name) in ops {
                if let Ok(expected) = value::binary(op, a, b) {
                    push(
                        format!("kiln_{name}_{t}({}, {})", literal(a), literal(b)),
                        expected,
                    );
                }
            }
        }
    }
    out
}

/// Prints the value's bits as the Rust side's `Value::to_bits`.
fn printer(t: ScalarType) -> &'static str {
    match t {
        ScalarType::Bool => "kiln_bits_bool",
        ScalarType::I32 => "kiln_bits_i32",
        ScalarType::U32 => "kiln_bits_u32",
        ScalarType::I64 => "kiln_bits_i64",
        ScalarType::F32 => "kiln_bits_f32",
        ScalarType::F64 => "kiln_bits_f64",
    }
}

#[test]
fn prelude_helpers_match_the_language_semantics() {
    if Command::new("g++").arg("--version").output().is_err() {
        eprintln!("skipping: g++ is not installed");
        return;
    }
    let cases = cases();
    let mut main = String::from("int main() {\n");
    for c in &cases {
        let _ = writeln!(
            main,
            "    std::printf(\"%llx\\n\", (unsigned long long){}({}));",
            printer(c.ty),
            c.expr
        );
    }
    main.push_str("    return 0;\n}\n");
    let prelude =
        super::cuda_c::PRELUDE.replace("__device__ __forceinline__ static", "static inline");
    let source = format!("{SHIMS}\n{prelude}\n{main}");
    let dir = std::env::temp_dir().join(format!("kiln-prelude-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, exe) = (dir.join("prelude.cpp"), dir.join("prelude"));
    std::fs::write(&src, source).unwrap();
    let build = Command::new("g++")
        .args(["-std=c++17", "-O1", "-ffp-contract=off", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "g++ failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success());
    let lines: Vec<String> = String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), cases.len());
    let mut failures = Vec::new();
    for (c, line) in cases.iter().zip(&lines) {
        let got = u64::from_str_radix(line.trim(), 16).unwrap_or(u64::MAX);
        if got != c.expected.to_bits() {
            failures.push(format!(
                "{} = {:?} (bits {got:#x}), expected {:?}",
                c.expr,
                Value::from_bits(c.ty, got),
                c.expected
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
