//! Serial range normalisation: every `for` range form becomes
//! `ForLoop { start, count, stride }` (see `ir::ForLoop`).
//!
//! `a..b` is `start = a, count = max(b - a, 0), stride = 1`; `a..=b` counts
//! one more. Adapters apply left to right with Rust's iterator semantics:
//! `.step_by(k)` multiplies the stride by `k` and makes the count
//! `ceil(count / k)`; `.rev()` starts at the last element and negates the
//! stride. The bounds and step arguments are evaluated once, in source order
//! (bound to `$` temporaries where they are not trivially re-readable), and
//! each step is checked (`CheckStep`) right after it is evaluated. All
//! arithmetic is wrapping `i64`; a range whose length does not fit in `i64`
//! (e.g. `i64::MIN..i64::MAX`) is outside what this normalisation handles.

use super::lower::Lower;
use crate::ir::{self, BinOp, Builtin, ExprKind, ScalarType, Span, StmtKind, UnOp, Value};
use crate::lang::ast::{RangeAdapter, RangeExpr};

impl Lower<'_, '_> {
    /// Emits the bound evaluations (and step checks) to `out`; returns
    /// `(start, count, stride)`.
    pub(super) fn normalise_range(
        &mut self,
        range: &RangeExpr,
        adapters: &[RangeAdapter],
        out: &mut Vec<ir::Stmt>,
    ) -> (ir::Expr, ir::Expr, ir::Expr) {
        let span = range.span;
        let a = self.index_expr(&range.start);
        let a = self.once("start", a, out);
        let b = self.index_expr(&range.end);
        let b = self.once("end", b, out);
        let mut steps = Vec::new();
        for adapter in adapters {
            if let RangeAdapter::StepBy(k, _) = adapter {
                let k_ir = self.index_expr(k);
                let k_ir = self.once("step", k_ir, out);
                out.push(ir::Stmt {
                    kind: StmtKind::CheckStep(k_ir.clone()),
                    span: k.span,
                });
                steps.push(k_ir);
            }
        }
        let mut steps = steps.into_iter();
        let len = sub(b, a.clone(), span);
        let len = if range.inclusive {
            add(len, c64(1, span), span)
        } else {
            len
        };
        let mut start = a;
        let mut count = max0(len, span);
        let mut stride = c64(1, span);
        for adapter in adapters {
            match adapter {
                RangeAdapter::StepBy(_, aspan) => {
                    let Some(k) = steps.next() else { continue };
                    count = self.once("count", count, out);
                    count = ceil_div(count, k.clone(), *aspan);
                    stride = mul(stride, k, *aspan);
                }
                RangeAdapter::Rev(aspan) => {
                    count = self.once("count", count, out);
                    let last = mul(
                        sub(count.clone(), c64(1, *aspan), *aspan),
                        stride.clone(),
                        *aspan,
                    );
                    start = add(start, last, *aspan);
                    stride = neg(stride, *aspan);
                }
            }
        }
        (start, count, stride)
    }
}

fn c64(v: i64, span: Span) -> ir::Expr {
    ir::Expr {
        kind: ExprKind::Const(Value::I64(v)),
        ty: ScalarType::I64,
        span,
    }
}

fn as_const(e: &ir::Expr) -> Option<i64> {
    match e.kind {
        ExprKind::Const(Value::I64(v)) => Some(v),
        _ => None,
    }
}

fn bin(op: BinOp, a: ir::Expr, b: ir::Expr, span: Span) -> ir::Expr {
    let ty = if op.is_comparison() {
        ScalarType::Bool
    } else {
        ScalarType::I64
    };
    ir::Expr {
        kind: ExprKind::Binary(op, Box::new(a), Box::new(b)),
        ty,
        span,
    }
}

// The helpers below fold constants (wrapping, as the IR computes) and drop
// identities, so that `0..n` prints as `count = max(n, 0)`.

fn add(a: ir::Expr, b: ir::Expr, span: Span) -> ir::Expr {
    match (as_const(&a), as_const(&b)) {
        (Some(x), Some(y)) => c64(x.wrapping_add(y), span),
        (_, Some(0)) => a,
        (Some(0), _) => b,
        _ => bin(BinOp::Add, a, b, span),
    }
}

fn sub(a: ir::Expr, b: ir::Expr, span: Span) -> ir::Expr {
    match (as_const(&a), as_const(&b)) {
        (Some(x), Some(y)) => c64(x.wrapping_sub(y), span),
        (_, Some(0)) => a,
        _ => bin(BinOp::Sub, a, b, span),
    }
}

fn mul(a: ir::Expr, b: ir::Expr, span: Span) -> ir::Expr {
    match (as_const(&a), as_const(&b)) {
        (Some(x), Some(y)) => c64(x.wrapping_mul(y), span),
        (_, Some(1)) => a,
        (Some(1), _) => b,
        _ => bin(BinOp::Mul, a, b, span),
    }
}

fn neg(a: ir::Expr, span: Span) -> ir::Expr {
    match as_const(&a) {
        Some(x) => c64(x.wrapping_neg(), span),
        None => ir::Expr {
            kind: ExprKind::Unary(UnOp::Neg, Box::new(a)),
            ty: ScalarType::I64,
            span,
        },
    }
}

fn max0(a: ir::Expr, span: Span) -> ir::Expr {
    match as_const(&a) {
        Some(x) => c64(x.max(0), span),
        None => ir::Expr {
            kind: ExprKind::Builtin(Builtin::Max, vec![a, c64(0, span)]),
            ty: ScalarType::I64,
            span,
        },
    }
}

/// `ceil(count / k)` for `count >= 0`, `k > 0` (checked before), written
/// without overflow: `if count > 0 { (count - 1) / k + 1 } else { 0 }`.
fn ceil_div(count: ir::Expr, k: ir::Expr, span: Span) -> ir::Expr {
    if let (Some(c), Some(k)) = (as_const(&count), as_const(&k)) {
        if k > 0 {
            return c64(if c > 0 { (c - 1) / k + 1 } else { 0 }, span);
        }
    }
    if as_const(&k) == Some(1) {
        return count;
    }
    let positive = bin(BinOp::Gt, count.clone(), c64(0, span), span);
    let q = add(
        bin(BinOp::Div, sub(count, c64(1, span), span), k, span),
        c64(1, span),
        span,
    );
    ir::Expr {
        kind: ExprKind::If(Box::new(positive), Box::new(q), Box::new(c64(0, span))),
        ty: ScalarType::I64,
        span,
    }
}
