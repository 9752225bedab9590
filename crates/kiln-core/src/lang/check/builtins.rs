//! Atomic call signatures (builtins' typing rules are in the builtin table,
//! `crate::ir::builtins`).

use crate::ir::AtomicOp;

pub const ATOMICS: [&str; 3] = ["atomic_add", "atomic_min", "atomic_max"];

pub fn atomic(name: &str) -> Option<AtomicOp> {
    match name {
        "atomic_add" => Some(AtomicOp::Add),
        "atomic_min" => Some(AtomicOp::Min),
        "atomic_max" => Some(AtomicOp::Max),
        _ => None,
    }
}
