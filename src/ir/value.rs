//! Scalar values and the exact semantics of every scalar operation.
//!
//! This module *defines* the arithmetic of the language (wrapping integers,
//! masked shifts, Rust `as` casts, NaN-ignoring `min`/`max`, half-away-from-zero
//! `round`, …). The checker uses it to fold `const` items and the reference
//! interpreter uses it for every operation, so both agree by construction.

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

/// An integer division or remainder by zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithError {
    DivisionByZero,
    RemainderByZero,
}

// The operations below are the contract; their bodies are written with the
// interpreter.

/// `op v`. Panics only on a type the checker never produces.
pub fn unary(op: UnOp, v: Value) -> Value {
    let _ = (op, v);
    unimplemented!("value::unary")
}

/// `a op b` for operands of one type (shift amounts already cast to the left
/// type). Comparisons yield `Bool`; `And`/`Or` here are the eager forms.
pub fn binary(op: BinOp, a: Value, b: Value) -> Result<Value, ArithError> {
    let _ = (op, a, b);
    unimplemented!("value::binary")
}

/// `v as to`, with Rust semantics (float→int saturates, NaN→0).
pub fn cast(v: Value, to: ScalarType) -> Value {
    let _ = (v, to);
    unimplemented!("value::cast")
}

/// A builtin on already-evaluated arguments of the checked types.
pub fn builtin(f: Builtin, args: &[Value]) -> Value {
    let _ = (f, args);
    unimplemented!("value::builtin")
}
