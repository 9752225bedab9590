//! Scalar values and the exact semantics of every scalar operation.
//!
//! This module *defines* the arithmetic of the language (wrapping integers,
//! masked shifts, Rust `as` casts, NaN-ignoring `min`/`max`, half-away-from-zero
//! `round`, …). The checker uses it to fold `const` items and the reference
//! interpreter uses it for every operation, so both agree by construction.

use super::builtins::{FloatEval, Generic, Lowering};
use super::{BinOp, Builtin, ScalarType, UnOp};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    I32(i32),
    U32(u32),
    I64(i64),
    F32(f32),
    F64(f64),
}

impl Value {
    pub fn ty(self) -> ScalarType {
        match self {
            Value::Bool(_) => ScalarType::Bool,
            Value::I32(_) => ScalarType::I32,
            Value::U32(_) => ScalarType::U32,
            Value::I64(_) => ScalarType::I64,
            Value::F32(_) => ScalarType::F32,
            Value::F64(_) => ScalarType::F64,
        }
    }

    pub fn zero(ty: ScalarType) -> Value {
        match ty {
            ScalarType::Bool => Value::Bool(false),
            ScalarType::I32 => Value::I32(0),
            ScalarType::U32 => Value::U32(0),
            ScalarType::I64 => Value::I64(0),
            ScalarType::F32 => Value::F32(0.0),
            ScalarType::F64 => Value::F64(0.0),
        }
    }

    pub fn one(ty: ScalarType) -> Value {
        match ty {
            ScalarType::Bool => Value::Bool(true),
            ScalarType::I32 => Value::I32(1),
            ScalarType::U32 => Value::U32(1),
            ScalarType::I64 => Value::I64(1),
            ScalarType::F32 => Value::F32(1.0),
            ScalarType::F64 => Value::F64(1.0),
        }
    }

    /// The value of type `ty` whose `to_bits` are `bits` (higher bits are
    /// ignored; a bool is its low byte being non-zero).
    pub fn from_bits(ty: ScalarType, bits: u64) -> Value {
        match ty {
            ScalarType::Bool => Value::Bool(bits & 0xff != 0),
            ScalarType::I32 => Value::I32(bits as u32 as i32),
            ScalarType::U32 => Value::U32(bits as u32),
            ScalarType::I64 => Value::I64(bits as i64),
            ScalarType::F32 => Value::F32(f32::from_bits(bits as u32)),
            ScalarType::F64 => Value::F64(f64::from_bits(bits)),
        }
    }

    /// The raw bits, zero-extended to 64 (for hashing and bit-exact compares).
    pub fn to_bits(self) -> u64 {
        match self {
            Value::Bool(b) => b as u64,
            Value::I32(v) => v as u32 as u64,
            Value::U32(v) => v as u64,
            Value::I64(v) => v as u64,
            Value::F32(v) => v.to_bits() as u64,
            Value::F64(v) => v.to_bits(),
        }
    }
}

/// Prints the value as a literal of its type would be written (`1.5f32`
/// prints `1.5`; the IR printer adds suffixes where it wants them).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(v) => write!(f, "{v}"),
            Value::I32(v) => write!(f, "{v}"),
            Value::U32(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F32(v) => write!(f, "{v:?}"),
            Value::F64(v) => write!(f, "{v:?}"),
        }
    }
}

/// A [`Value`] converted to a Rust scalar of another type
/// (`f32::try_from(Value::I32(1))`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValueTypeError {
    /// The type asked for.
    pub expected: ScalarType,
    /// The value given.
    pub found: Value,
}

impl fmt::Display for ValueTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected a `{}` value, got `{}` of type `{}`",
            self.expected,
            self.found,
            self.found.ty()
        )
    }
}

impl std::error::Error for ValueTypeError {}

// `T::try_from(value)` for each scalar type: exact, no conversion between
// types (as kernels have none, SPEC section 4).
macro_rules! try_from_value {
    ($($t:ty => $v:ident),*) => {$(
        impl TryFrom<Value> for $t {
            type Error = ValueTypeError;
            fn try_from(value: Value) -> Result<$t, ValueTypeError> {
                match value {
                    Value::$v(x) => Ok(x),
                    found => Err(ValueTypeError {
                        expected: ScalarType::$v,
                        found,
                    }),
                }
            }
        }

        impl From<$t> for Value {
            fn from(x: $t) -> Value {
                Value::$v(x)
            }
        }
    )*};
}
try_from_value!(bool => Bool, i32 => I32, u32 => U32, i64 => I64, f32 => F32, f64 => F64);

/// An integer division or remainder by zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithError {
    DivisionByZero,
    RemainderByZero,
}

// The operations below are total: a combination of operation and operand
// types that the checker never produces still returns a defined value (never
// a panic), as documented on each function. Bool arithmetic, where defined,
// is 1-bit unsigned wrapping arithmetic (`+`/`-` are xor, `*` is and).

/// `op v`.
///
/// `Neg` wraps for integers (`-i32::MIN` is `i32::MIN`; `u32` — rejected by
/// the checker — wraps too) and is IEEE negation for floats. `Not` is logical
/// on `bool` and bitwise on integers. Combinations the checker never produces
/// (`-bool`, `!float`) return the operand unchanged.
pub fn unary(op: UnOp, v: Value) -> Value {
    use Value as V;
    match (op, v) {
        (UnOp::Neg, V::I32(x)) => V::I32(x.wrapping_neg()),
        (UnOp::Neg, V::U32(x)) => V::U32(x.wrapping_neg()),
        (UnOp::Neg, V::I64(x)) => V::I64(x.wrapping_neg()),
        (UnOp::Neg, V::F32(x)) => V::F32(-x),
        (UnOp::Neg, V::F64(x)) => V::F64(-x),
        (UnOp::Not, V::Bool(x)) => V::Bool(!x),
        (UnOp::Not, V::I32(x)) => V::I32(!x),
        (UnOp::Not, V::U32(x)) => V::U32(!x),
        (UnOp::Not, V::I64(x)) => V::I64(!x),
        (UnOp::Neg, V::Bool(_)) | (UnOp::Not, V::F32(_) | V::F64(_)) => v,
    }
}

/// Integer arithmetic shared by the three integer types: wrapping, shifts
/// masked by the bit width (`wrapping_shl` masks; `b as u32` keeps the low
/// bits, which is all the mask looks at), division by zero an error.
macro_rules! int_binary {
    ($op:expr, $a:expr, $b:expr, $variant:ident) => {{
        let (a, b) = ($a, $b);
        Ok(match $op {
            BinOp::Add => Value::$variant(a.wrapping_add(b)),
            BinOp::Sub => Value::$variant(a.wrapping_sub(b)),
            BinOp::Mul => Value::$variant(a.wrapping_mul(b)),
            BinOp::Div => {
                if b == 0 {
                    return Err(ArithError::DivisionByZero);
                }
                Value::$variant(a.wrapping_div(b))
            }
            BinOp::Rem => {
                if b == 0 {
                    return Err(ArithError::RemainderByZero);
                }
                Value::$variant(a.wrapping_rem(b))
            }
            BinOp::BitAnd | BinOp::And => Value::$variant(a & b),
            BinOp::BitOr | BinOp::Or => Value::$variant(a | b),
            BinOp::BitXor => Value::$variant(a ^ b),
            BinOp::Shl => Value::$variant(a.wrapping_shl(b as u32)),
            BinOp::Shr => Value::$variant(a.wrapping_shr(b as u32)),
            BinOp::Eq => Value::Bool(a == b),
            BinOp::Ne => Value::Bool(a != b),
            BinOp::Lt => Value::Bool(a < b),
            BinOp::Le => Value::Bool(a <= b),
            BinOp::Gt => Value::Bool(a > b),
            BinOp::Ge => Value::Bool(a >= b),
        })
    }};
}

/// IEEE arithmetic; `%` is Rust's (fmod: the sign of the dividend).
/// Bitwise operators and shifts (never produced on floats) return `a`.
macro_rules! float_binary {
    ($op:expr, $a:expr, $b:expr, $variant:ident) => {{
        let (a, b) = ($a, $b);
        Ok(match $op {
            BinOp::Add => Value::$variant(a + b),
            BinOp::Sub => Value::$variant(a - b),
            BinOp::Mul => Value::$variant(a * b),
            BinOp::Div => Value::$variant(a / b),
            BinOp::Rem => Value::$variant(a % b),
            BinOp::Eq => Value::Bool(a == b),
            BinOp::Ne => Value::Bool(a != b),
            BinOp::Lt => Value::Bool(a < b),
            BinOp::Le => Value::Bool(a <= b),
            BinOp::Gt => Value::Bool(a > b),
            BinOp::Ge => Value::Bool(a >= b),
            BinOp::BitAnd
            | BinOp::BitOr
            | BinOp::BitXor
            | BinOp::Shl
            | BinOp::Shr
            | BinOp::And
            | BinOp::Or => Value::$variant(a),
        })
    }};
}

/// `a op b` for operands of one type (shift amounts already cast to the left
/// type). Comparisons yield `Bool`; `And`/`Or` here are the eager forms.
///
/// Integers wrap; shifts take the amount modulo the bit width; `/` and `%`
/// by zero are errors; `MIN / -1` is `MIN` and `MIN % -1` is 0. Floats are
/// IEEE. Bools compare with `false < true`. Operands of different types
/// (never produced by the checker) yield `a`.
pub fn binary(op: BinOp, a: Value, b: Value) -> Result<Value, ArithError> {
    use Value as V;
    match (a, b) {
        (V::I32(x), V::I32(y)) => int_binary!(op, x, y, I32),
        (V::U32(x), V::U32(y)) => int_binary!(op, x, y, U32),
        (V::I64(x), V::I64(y)) => int_binary!(op, x, y, I64),
        (V::F32(x), V::F32(y)) => float_binary!(op, x, y, F32),
        (V::F64(x), V::F64(y)) => float_binary!(op, x, y, F64),
        (V::Bool(x), V::Bool(y)) => bool_binary(op, x, y),
        _ => Ok(a),
    }
}

/// Bool operators: logical/bitwise ones and comparisons are what the checker
/// produces; the arithmetic ones are defined as 1-bit unsigned wrapping
/// arithmetic so that nothing panics.
fn bool_binary(op: BinOp, a: bool, b: bool) -> Result<Value, ArithError> {
    Ok(Value::Bool(match op {
        BinOp::And | BinOp::BitAnd | BinOp::Mul => a & b,
        BinOp::Or | BinOp::BitOr => a | b,
        BinOp::BitXor | BinOp::Add | BinOp::Sub | BinOp::Ne => a ^ b,
        BinOp::Eq => a == b,
        BinOp::Lt => !a & b,
        BinOp::Le => a <= b,
        BinOp::Gt => a & !b,
        BinOp::Ge => a >= b,
        // Shift amounts are taken modulo the width, 1: always 0.
        BinOp::Shl | BinOp::Shr => a,
        BinOp::Div => {
            if !b {
                return Err(ArithError::DivisionByZero);
            }
            a
        }
        BinOp::Rem => {
            if !b {
                return Err(ArithError::RemainderByZero);
            }
            false
        }
    }))
}

/// Converts a primitive number to `to` with Rust `as`; a number converted to
/// `bool` (never produced by the checker) is `x != 0` (NaN is `true`).
macro_rules! cast_number {
    ($x:expr, $to:expr, $zero:expr) => {{
        let x = $x;
        match $to {
            ScalarType::Bool => Value::Bool(x != $zero),
            ScalarType::I32 => Value::I32(x as i32),
            ScalarType::U32 => Value::U32(x as u32),
            ScalarType::I64 => Value::I64(x as i64),
            ScalarType::F32 => Value::F32(x as f32),
            ScalarType::F64 => Value::F64(x as f64),
        }
    }};
}

/// `v as to`, with Rust semantics: float→int saturates (NaN→0), int→float
/// rounds to nearest, int→int truncates or sign-extends, `bool` is 0/1.
pub fn cast(v: Value, to: ScalarType) -> Value {
    match v {
        Value::Bool(b) => cast_number!(b as u8, to, 0),
        Value::I32(x) => cast_number!(x, to, 0),
        Value::U32(x) => cast_number!(x, to, 0),
        Value::I64(x) => cast_number!(x, to, 0),
        Value::F32(x) => cast_number!(x, to, 0.0),
        Value::F64(x) => cast_number!(x, to, 0.0),
    }
}

/// Applies a float function in the operand's own precision (`f32` stays
/// `f32`). Non-float operands (never produced) are returned unchanged.
fn float1(v: Value, f32op: fn(f32) -> f32, f64op: fn(f64) -> f64) -> Value {
    match v {
        Value::F32(x) => Value::F32(f32op(x)),
        Value::F64(x) => Value::F64(f64op(x)),
        _ => v,
    }
}

/// Two-operand float function; mismatched or non-float operands yield `a`.
fn float2(a: Value, b: Value, f32op: fn(f32, f32) -> f32, f64op: fn(f64, f64) -> f64) -> Value {
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => Value::F32(f32op(x, y)),
        (Value::F64(x), Value::F64(y)) => Value::F64(f64op(x, y)),
        _ => a,
    }
}

/// Float `min`/`max` as IEEE 754-2019 `minimumNumber`/`maximumNumber`: a
/// NaN operand yields the other (as Rust's `f64::min`), and `-0.0` counts as
/// less than `+0.0` (where Rust leaves the sign unspecified), so every
/// backend gives the same bits. Equal operands otherwise have equal bits, so
/// or-ing (min) or and-ing (max) them only decides the sign of zero.
macro_rules! float_min_max {
    ($name:ident, $t:ty) => {
        fn $name(max: bool, x: $t, y: $t) -> $t {
            if x.is_nan() {
                y
            } else if y.is_nan() || (if max { x > y } else { x < y }) {
                x
            } else if x == y {
                <$t>::from_bits(if max {
                    x.to_bits() & y.to_bits()
                } else {
                    x.to_bits() | y.to_bits()
                })
            } else {
                y
            }
        }
    };
}
float_min_max!(min_max_f32, f32);
float_min_max!(min_max_f64, f64);

/// `min`/`max`: floats per `float_min_max!`, ordinary integer order, and
/// `false < true` for bools.
fn min_max(max: bool, a: Value, b: Value) -> Value {
    use Value as V;
    match (a, b) {
        (V::I32(x), V::I32(y)) => V::I32(if max { x.max(y) } else { x.min(y) }),
        (V::U32(x), V::U32(y)) => V::U32(if max { x.max(y) } else { x.min(y) }),
        (V::I64(x), V::I64(y)) => V::I64(if max { x.max(y) } else { x.min(y) }),
        (V::F32(x), V::F32(y)) => V::F32(min_max_f32(max, x, y)),
        (V::F64(x), V::F64(y)) => V::F64(min_max_f64(max, x, y)),
        (V::Bool(x), V::Bool(y)) => V::Bool(if max { x | y } else { x & y }),
        _ => a,
    }
}

fn is_true(v: Value) -> bool {
    match v {
        Value::Bool(b) => b,
        other => cast(other, ScalarType::Bool) == Value::Bool(true),
    }
}

/// A builtin on already-evaluated arguments of the checked types.
///
/// Float functions compute in the argument's precision with the Rust
/// functions the builtin table names (`std` methods; `erf` from the C library, `cmath`). Integer `abs` wraps, unsigned `abs` is
/// the identity; `clamp(x, lo, hi)` is `min(max(x, lo), hi)`, defined even
/// when `lo > hi`. Argument types the checker never produces get a defined
/// result: a float-only function on an integer returns its first argument,
/// `is_nan`/`is_inf` of an integer are `false`, missing arguments stand in as
/// the previous one (no arguments at all: `false`).
pub fn builtin(f: Builtin, args: &[Value]) -> Value {
    use Value as V;
    let a = args.first().copied().unwrap_or(V::Bool(false));
    let b = args.get(1).copied().unwrap_or(a);
    let c = args.get(2).copied().unwrap_or(b);
    match f.lowering() {
        Lowering::Generic(g) => match g {
            Generic::Abs => match a {
                V::I32(x) => V::I32(x.wrapping_abs()),
                V::I64(x) => V::I64(x.wrapping_abs()),
                V::F32(x) => V::F32(x.abs()),
                V::F64(x) => V::F64(x.abs()),
                V::U32(_) | V::Bool(_) => a,
            },
            Generic::Min => min_max(false, a, b),
            Generic::Max => min_max(true, a, b),
            Generic::Clamp => min_max(false, min_max(true, a, b), c),
            Generic::IsNan => V::Bool(match a {
                V::F32(x) => x.is_nan(),
                V::F64(x) => x.is_nan(),
                _ => false,
            }),
            Generic::IsInf => V::Bool(match a {
                V::F32(x) => x.is_infinite(),
                V::F64(x) => x.is_infinite(),
                _ => false,
            }),
            Generic::Select => {
                if is_true(a) {
                    b
                } else {
                    c
                }
            }
        },
        Lowering::Float(func) => match func.eval {
            FloatEval::Unary(f32op, f64op) => float1(a, f32op, f64op),
            FloatEval::Binary(f32op, f64op) => float2(a, b, f32op, f64op),
            FloatEval::Ternary(f32op, f64op) => match (a, b, c) {
                (V::F32(x), V::F32(y), V::F32(z)) => V::F32(f32op(x, y, z)),
                (V::F64(x), V::F64(y), V::F64(z)) => V::F64(f64op(x, y, z)),
                _ => a,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_from_value_is_exact() {
        assert_eq!(f32::try_from(Value::F32(1.5)), Ok(1.5));
        assert_eq!(bool::try_from(Value::Bool(true)), Ok(true));
        assert_eq!(u32::try_from(Value::from(7u32)), Ok(7));
        let e = f64::try_from(Value::F32(1.5)).unwrap_err();
        assert_eq!(e.expected, ScalarType::F64);
        assert_eq!(
            e.to_string(),
            "expected a `f64` value, got `1.5` of type `f32`"
        );
        assert!(i64::try_from(Value::I32(1)).is_err());
    }
    use Value as V;

    fn bin(op: BinOp, a: Value, b: Value) -> Value {
        binary(op, a, b).unwrap()
    }

    #[test]
    fn integers_wrap() {
        assert_eq!(
            bin(BinOp::Add, V::I32(i32::MAX), V::I32(1)),
            V::I32(i32::MIN)
        );
        assert_eq!(bin(BinOp::Sub, V::U32(0), V::U32(1)), V::U32(u32::MAX));
        assert_eq!(bin(BinOp::Mul, V::I64(i64::MAX), V::I64(2)), V::I64(-2));
        assert_eq!(unary(UnOp::Neg, V::I32(i32::MIN)), V::I32(i32::MIN));
        assert_eq!(unary(UnOp::Not, V::I32(0)), V::I32(-1));
        assert_eq!(unary(UnOp::Not, V::Bool(true)), V::Bool(false));
    }

    #[test]
    fn division_semantics() {
        assert_eq!(
            bin(BinOp::Div, V::I32(i32::MIN), V::I32(-1)),
            V::I32(i32::MIN)
        );
        assert_eq!(bin(BinOp::Rem, V::I32(i32::MIN), V::I32(-1)), V::I32(0));
        assert_eq!(
            bin(BinOp::Div, V::I64(i64::MIN), V::I64(-1)),
            V::I64(i64::MIN)
        );
        assert_eq!(bin(BinOp::Div, V::I32(-7), V::I32(2)), V::I32(-3));
        assert_eq!(bin(BinOp::Rem, V::I32(-7), V::I32(2)), V::I32(-1));
        assert_eq!(
            binary(BinOp::Div, V::U32(1), V::U32(0)),
            Err(ArithError::DivisionByZero)
        );
        assert_eq!(
            binary(BinOp::Rem, V::I64(1), V::I64(0)),
            Err(ArithError::RemainderByZero)
        );
        // Float division by zero is IEEE, not an error.
        assert_eq!(
            bin(BinOp::Div, V::F64(1.0), V::F64(0.0)),
            V::F64(f64::INFINITY)
        );
        assert_eq!(bin(BinOp::Rem, V::F64(-7.5), V::F64(2.0)), V::F64(-1.5));
    }

    #[test]
    fn shifts_take_amount_modulo_width() {
        assert_eq!(bin(BinOp::Shl, V::I32(1), V::I32(33)), V::I32(2));
        assert_eq!(bin(BinOp::Shl, V::I64(1), V::I64(65)), V::I64(2));
        assert_eq!(bin(BinOp::Shr, V::U32(0x8000_0000), V::U32(63)), V::U32(1));
        // Arithmetic shift for signed, logical for unsigned.
        assert_eq!(bin(BinOp::Shr, V::I32(-8), V::I32(1)), V::I32(-4));
        assert_eq!(
            bin(BinOp::Shr, V::U32(0xFFFF_FFF8), V::U32(1)),
            V::U32(0x7FFF_FFFC)
        );
        // A negative amount is its value modulo the width: -1 → 31.
        assert_eq!(bin(BinOp::Shl, V::I32(1), V::I32(-1)), V::I32(i32::MIN));
        assert_eq!(bin(BinOp::Shl, V::I64(1), V::I64(-1)), V::I64(i64::MIN));
    }

    #[test]
    fn comparisons_and_bools() {
        assert_eq!(bin(BinOp::Lt, V::Bool(false), V::Bool(true)), V::Bool(true));
        assert_eq!(
            bin(BinOp::Ge, V::Bool(false), V::Bool(true)),
            V::Bool(false)
        );
        assert_eq!(
            bin(BinOp::Lt, V::F64(f64::NAN), V::F64(1.0)),
            V::Bool(false)
        );
        assert_eq!(
            bin(BinOp::Ne, V::F64(f64::NAN), V::F64(f64::NAN)),
            V::Bool(true)
        );
        assert_eq!(bin(BinOp::Lt, V::U32(u32::MAX), V::U32(0)), V::Bool(false));
        assert_eq!(
            bin(BinOp::BitXor, V::Bool(true), V::Bool(true)),
            V::Bool(false)
        );
        assert_eq!(
            bin(BinOp::BitOr, V::Bool(false), V::Bool(true)),
            V::Bool(true)
        );
        assert_eq!(
            bin(BinOp::And, V::Bool(true), V::Bool(false)),
            V::Bool(false)
        );
    }

    #[test]
    fn casts_follow_rust_as() {
        assert_eq!(cast(V::F64(1e20), ScalarType::I32), V::I32(i32::MAX));
        assert_eq!(cast(V::F64(-1e20), ScalarType::I64), V::I64(i64::MIN));
        assert_eq!(cast(V::F32(-3.0), ScalarType::U32), V::U32(0));
        assert_eq!(cast(V::F64(f64::NAN), ScalarType::I32), V::I32(0));
        assert_eq!(cast(V::F64(-2.9), ScalarType::I32), V::I32(-2));
        assert_eq!(cast(V::I64(0x1_0000_0005), ScalarType::I32), V::I32(5));
        assert_eq!(cast(V::I32(-1), ScalarType::U32), V::U32(u32::MAX));
        assert_eq!(cast(V::I32(-1), ScalarType::I64), V::I64(-1));
        assert_eq!(
            cast(V::U32(u32::MAX), ScalarType::I64),
            V::I64(u32::MAX as i64)
        );
        assert_eq!(
            cast(V::I64(16_777_217), ScalarType::F32),
            V::F32(16_777_216.0)
        );
        assert_eq!(cast(V::Bool(true), ScalarType::F64), V::F64(1.0));
        assert_eq!(cast(V::Bool(false), ScalarType::I32), V::I32(0));
        assert_eq!(cast(V::F64(0.1), ScalarType::F32), V::F32(0.1f32));
        // Never produced by the checker, but defined.
        assert_eq!(cast(V::I32(3), ScalarType::Bool), V::Bool(true));
    }

    #[test]
    fn min_max_ignore_nan() {
        let nan = V::F64(f64::NAN);
        assert_eq!(builtin(Builtin::Min, &[nan, V::F64(2.0)]), V::F64(2.0));
        assert_eq!(builtin(Builtin::Max, &[V::F64(2.0), nan]), V::F64(2.0));
        assert_eq!(
            builtin(Builtin::Min, &[V::F32(f32::NAN), V::F32(-1.0)]),
            V::F32(-1.0)
        );
        assert_eq!(builtin(Builtin::Max, &[V::I32(-3), V::I32(2)]), V::I32(2));
        // The sign of zero is defined: -0 < +0, in either operand order.
        for (a, b) in [(0.0f64, -0.0f64), (-0.0, 0.0)] {
            assert_eq!(
                builtin(Builtin::Min, &[V::F64(a), V::F64(b)]).to_bits(),
                (-0.0f64).to_bits()
            );
            assert_eq!(
                builtin(Builtin::Max, &[V::F64(a), V::F64(b)]).to_bits(),
                0.0f64.to_bits()
            );
            let (a, b) = (a as f32, b as f32);
            assert_eq!(
                builtin(Builtin::Min, &[V::F32(a), V::F32(b)]).to_bits(),
                (-0.0f32).to_bits() as u64
            );
            assert_eq!(builtin(Builtin::Max, &[V::F32(a), V::F32(b)]).to_bits(), 0);
        }
        assert_eq!(
            builtin(Builtin::Min, &[V::U32(u32::MAX), V::U32(2)]),
            V::U32(2)
        );
    }

    #[test]
    fn round_abs_clamp() {
        assert_eq!(builtin(Builtin::Round, &[V::F64(2.5)]), V::F64(3.0));
        assert_eq!(builtin(Builtin::Round, &[V::F64(-2.5)]), V::F64(-3.0));
        assert_eq!(builtin(Builtin::Round, &[V::F32(0.5)]), V::F32(1.0));
        assert_eq!(builtin(Builtin::Abs, &[V::I32(i32::MIN)]), V::I32(i32::MIN));
        assert_eq!(builtin(Builtin::Abs, &[V::I64(-5)]), V::I64(5));
        assert_eq!(builtin(Builtin::Abs, &[V::U32(7)]), V::U32(7));
        assert_eq!(builtin(Builtin::Abs, &[V::F64(-0.0)]), V::F64(0.0));
        assert_eq!(
            builtin(Builtin::Clamp, &[V::I32(5), V::I32(0), V::I32(3)]),
            V::I32(3)
        );
        // lo > hi: min(max(x, lo), hi) = hi, no panic.
        assert_eq!(
            builtin(Builtin::Clamp, &[V::I32(5), V::I32(10), V::I32(3)]),
            V::I32(3)
        );
        assert_eq!(
            builtin(Builtin::Clamp, &[V::F64(5.0), V::F64(10.0), V::F64(3.0)]),
            V::F64(3.0)
        );
        assert_eq!(
            builtin(
                Builtin::Clamp,
                &[V::F64(f64::NAN), V::F64(0.0), V::F64(1.0)]
            ),
            V::F64(0.0)
        );
    }

    #[test]
    fn f32_stays_f32() {
        let x = 0.3f32;
        assert_eq!(builtin(Builtin::Sin, &[V::F32(x)]), V::F32(x.sin()));
        assert_eq!(
            builtin(Builtin::Sqrt, &[V::F32(2.0)]),
            V::F32(2.0f32.sqrt())
        );
        assert_eq!(
            builtin(Builtin::Erf, &[V::F32(x)]),
            V::F32(crate::ir::cmath::erff(x))
        );
        assert_eq!(
            builtin(Builtin::Pow, &[V::F32(2.0), V::F32(0.5)]),
            V::F32(2.0f32.powf(0.5))
        );
        assert_eq!(
            bin(BinOp::Add, V::F32(0.1), V::F32(0.2)),
            V::F32(0.1f32 + 0.2f32)
        );
        assert_eq!(
            builtin(Builtin::Erf, &[V::F64(0.5)]),
            V::F64(crate::ir::cmath::erf(0.5))
        );
        assert_eq!(
            builtin(Builtin::Ln, &[V::F64(std::f64::consts::E)]),
            V::F64(1.0)
        );
    }

    #[test]
    fn fma_predicates_select() {
        // fma rounds once: (1+e)(1-e) - 1 = -e² exactly.
        let e = f64::EPSILON;
        assert_eq!(
            builtin(
                Builtin::Fma,
                &[V::F64(1.0 + e), V::F64(1.0 - e), V::F64(-1.0)]
            ),
            V::F64(-e * e)
        );
        assert_eq!(builtin(Builtin::IsNan, &[V::F32(f32::NAN)]), V::Bool(true));
        assert_eq!(
            builtin(Builtin::IsInf, &[V::F64(f64::NEG_INFINITY)]),
            V::Bool(true)
        );
        assert_eq!(builtin(Builtin::IsInf, &[V::F64(1.0)]), V::Bool(false));
        assert_eq!(
            builtin(Builtin::Select, &[V::Bool(true), V::I32(1), V::I32(2)]),
            V::I32(1)
        );
        assert_eq!(
            builtin(Builtin::Select, &[V::Bool(false), V::I32(1), V::I32(2)]),
            V::I32(2)
        );
    }

    #[test]
    fn unproduced_combinations_do_not_panic() {
        for f in Builtin::ALL {
            for ty in ScalarType::ALL {
                let v = Value::one(ty);
                builtin(f, &[]);
                builtin(f, &[v]);
                builtin(f, &[v, v, v, v]);
            }
        }
        for op in [BinOp::Add, BinOp::Div, BinOp::Rem, BinOp::Shl, BinOp::And] {
            for x in ScalarType::ALL {
                for y in ScalarType::ALL {
                    let _ = binary(op, Value::zero(x), Value::zero(y));
                }
                for to in ScalarType::ALL {
                    cast(Value::one(x), to);
                }
                unary(UnOp::Neg, Value::one(x));
                unary(UnOp::Not, Value::one(x));
            }
        }
        assert_eq!(binary(BinOp::Add, V::I32(1), V::F64(2.0)), Ok(V::I32(1)));
    }

    // 32-bit arithmetic checked against an independent oracle: the same
    // operation in 64 bits, truncated with `as`.
    proptest::proptest! {
        #[test]
        fn narrow_ops_are_wide_ops_truncated(a: i32, b: i32) {
            for op in [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::BitAnd, BinOp::BitOr, BinOp::BitXor] {
                let wide = binary(op, V::I64(a as i64), V::I64(b as i64)).unwrap();
                proptest::prop_assert_eq!(binary(op, V::I32(a), V::I32(b)).unwrap(), cast(wide, ScalarType::I32));
                let wide_u = binary(op, V::I64(a as u32 as i64), V::I64(b as u32 as i64)).unwrap();
                proptest::prop_assert_eq!(binary(op, V::U32(a as u32), V::U32(b as u32)).unwrap(), cast(wide_u, ScalarType::U32));
            }
            let s = (b & 31) as i64;
            let shl = binary(BinOp::Shl, V::I64(a as i64), V::I64(s)).unwrap();
            proptest::prop_assert_eq!(binary(BinOp::Shl, V::I32(a), V::I32(b)).unwrap(), cast(shl, ScalarType::I32));
            let shr = binary(BinOp::Shr, V::I64(a as i64), V::I64(s)).unwrap();
            proptest::prop_assert_eq!(binary(BinOp::Shr, V::I32(a), V::I32(b)).unwrap(), cast(shr, ScalarType::I32));
            let lt = binary(BinOp::Lt, V::I64(a as i64), V::I64(b as i64)).unwrap();
            proptest::prop_assert_eq!(binary(BinOp::Lt, V::I32(a), V::I32(b)).unwrap(), lt);
            if b != 0 && !(a == i32::MIN && b == -1) {
                let q = binary(BinOp::Div, V::I64(a as i64), V::I64(b as i64)).unwrap();
                proptest::prop_assert_eq!(binary(BinOp::Div, V::I32(a), V::I32(b)).unwrap(), cast(q, ScalarType::I32));
                let r = binary(BinOp::Rem, V::I64(a as i64), V::I64(b as i64)).unwrap();
                proptest::prop_assert_eq!(binary(BinOp::Rem, V::I32(a), V::I32(b)).unwrap(), cast(r, ScalarType::I32));
            }
        }

        #[test]
        fn float_to_int_casts_saturate(x: f64) {
            let clamped = x.clamp(i32::MIN as f64, i32::MAX as f64).trunc();
            let expected = if x.is_nan() { 0 } else { clamped as i64 as i32 };
            proptest::prop_assert_eq!(cast(V::F64(x), ScalarType::I32), V::I32(expected));
        }
    }
}
