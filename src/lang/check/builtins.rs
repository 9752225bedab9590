//! Builtin and atomic call signatures.

use crate::ir::{AtomicOp, Builtin};

/// The typing rule of a builtin (arity is `Builtin::arity`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinSig {
    /// All arguments of one numeric type; the result has it (`abs min max clamp`).
    Numeric,
    /// All arguments of one float type; the result has it.
    Float,
    /// One float argument; the result is `bool` (`is_nan is_inf`).
    FloatPredicate,
    /// `select(c: bool, a: T, b: T) -> T`.
    Select,
}

pub fn signature(b: Builtin) -> BuiltinSig {
    match b {
        Builtin::Abs | Builtin::Min | Builtin::Max | Builtin::Clamp => BuiltinSig::Numeric,
        Builtin::IsNan | Builtin::IsInf => BuiltinSig::FloatPredicate,
        Builtin::Select => BuiltinSig::Select,
        _ => BuiltinSig::Float,
    }
}

pub const ATOMICS: [&str; 3] = ["atomic_add", "atomic_min", "atomic_max"];

pub fn atomic(name: &str) -> Option<AtomicOp> {
    match name {
        "atomic_add" => Some(AtomicOp::Add),
        "atomic_min" => Some(AtomicOp::Min),
        "atomic_max" => Some(AtomicOp::Max),
        _ => None,
    }
}
