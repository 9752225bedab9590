//! The every-path-returns rule for functions with a result type.
//!
//! A block returns when one of its statements does. A statement returns
//! when it is `return`, an `if` whose both branches return, or a
//! `while true` loop with no `break` of its own (it can only be left by
//! `return`). `for` loops and other `while` loops may run zero times, so they
//! never count, whatever their body does.

use crate::ir::{Block, ExprKind, StmtKind, Value};

pub fn always_returns(b: &Block) -> bool {
    b.stmts.iter().any(|s| match &s.kind {
        StmtKind::Return(_) => true,
        StmtKind::If { then, els, .. } => always_returns(then) && always_returns(els),
        StmtKind::While { cond, body } => {
            matches!(cond.kind, ExprKind::Const(Value::Bool(true))) && !breaks(body)
        }
        _ => false,
    })
}

/// Whether the block contains a `break` that leaves the enclosing loop
/// (breaks inside nested loops leave those instead).
fn breaks(b: &Block) -> bool {
    b.stmts.iter().any(|s| match &s.kind {
        StmtKind::Break => true,
        StmtKind::If { then, els, .. } => breaks(then) || breaks(els),
        _ => false,
    })
}
