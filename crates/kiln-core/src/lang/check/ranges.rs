//! Serial range normalisation: every `for` range form becomes
//! `ForLoop { start, count, stride }` (see `ir::ForLoop`).
//!
//! Adapters apply left to right with Rust's iterator semantics:
//! `.step_by(k)` multiplies the stride by `k` and makes the count
//! `ceil(count / k)`; `.rev()` starts at the last element and negates the
//! stride. The bounds and step arguments are evaluated once, in source order
//! (bound to `$` temporaries where they are not trivially re-readable), and
//! each step is checked (`CheckStep`) right after it is evaluated.
//!
//! All arithmetic is wrapping `i64`, arranged so that it is exact for every
//! pair of bounds:
//! - when the start is a constant `>= 0` (`>= 1` for `..=`), `b - a` cannot
//!   overflow and `count = max(b - a, 0)` (plus one for `..=`);
//! - otherwise the range is kept as "first element, stride, index of the
//!   last element" with that index (first `b - 1 - a`, or `b - a`) read as
//!   an unsigned 64-bit number, so `i64::MIN..i64::MAX` has its true length:
//!   `.step_by(k)` divides the index (unsigned), `.rev()` starts exactly at
//!   the last element. Only the final count, when it does not fit in `i64`
//!   (more than `i64::MAX` iterations), saturates at `i64::MAX`.

use super::lower::Lower;
use crate::ir::{self, BinOp, Builtin, ExprKind, ScalarType, Span, StmtKind, UnOp, Value};
use crate::lang::ast::{RangeAdapter, RangeExpr};

/// A range as "first element, stride, index of the last element": the
/// elements are `first + j * stride` for `j` in `0..=last` (when
/// `nonempty`), with `last` an unsigned 64-bit number stored in an `i64`, so
/// even ranges longer than `i64::MAX` are described exactly.
struct Offsets {
    first: ir::Expr,
    stride: ir::Expr,
    last: ir::Expr,
    nonempty: ir::Expr,
}

enum Shape {
    Offsets(Offsets),
    Counted {
        start: ir::Expr,
        count: ir::Expr,
        stride: ir::Expr,
    },
}

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
        let b_range = value_range(&b);
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
        let mut shape = match as_const(&a) {
            Some(c) if length_cannot_wrap(c, b_range, range.inclusive) => {
                let len = sub(b, a.clone(), span);
                let len = if range.inclusive {
                    add(len, c64(1, span), span)
                } else {
                    len
                };
                Shape::Counted {
                    start: a,
                    count: max0(len, span),
                    stride: c64(1, span),
                }
            }
            _ => {
                let (last, cmp) = if range.inclusive {
                    (sub(b.clone(), a.clone(), span), BinOp::Ge)
                } else {
                    (
                        sub(sub(b.clone(), c64(1, span), span), a.clone(), span),
                        BinOp::Gt,
                    )
                };
                let last = self.once("last", last, out);
                let nonempty = bin(cmp, b, a.clone(), span);
                Shape::Offsets(Offsets {
                    first: a,
                    stride: c64(1, span),
                    last,
                    nonempty,
                })
            }
        };
        for adapter in adapters {
            shape = match (shape, adapter) {
                (Shape::Offsets(o), RangeAdapter::StepBy(_, aspan)) => {
                    let Some(k) = steps.next() else {
                        return finish(Shape::Offsets(o), span);
                    };
                    // Indices 0, k, 2k, … up to `last`: the last is `last / k`.
                    let last = self.unsigned_div(o.last, k.clone(), *aspan, out);
                    let last = self.once("last", last, out);
                    Shape::Offsets(Offsets {
                        stride: mul(o.stride, k, *aspan),
                        last,
                        ..o
                    })
                }
                (Shape::Offsets(o), RangeAdapter::Rev(aspan)) => {
                    let first = add(
                        o.first,
                        mul(o.last.clone(), o.stride.clone(), *aspan),
                        *aspan,
                    );
                    Shape::Offsets(Offsets {
                        first,
                        stride: neg(o.stride, *aspan),
                        ..o
                    })
                }
                (
                    Shape::Counted {
                        start,
                        count,
                        stride,
                    },
                    RangeAdapter::StepBy(_, aspan),
                ) => {
                    let Some(k) = steps.next() else {
                        return (start, count, stride);
                    };
                    let count = self.once("count", count, out);
                    Shape::Counted {
                        start,
                        count: ceil_div(count, k.clone(), *aspan),
                        stride: mul(stride, k, *aspan),
                    }
                }
                (
                    Shape::Counted {
                        start,
                        count,
                        stride,
                    },
                    RangeAdapter::Rev(aspan),
                ) => {
                    let count = self.once("count", count, out);
                    let last = mul(
                        sub(count.clone(), c64(1, *aspan), *aspan),
                        stride.clone(),
                        *aspan,
                    );
                    Shape::Counted {
                        start: add(start, last, *aspan),
                        count,
                        stride: neg(stride, *aspan),
                    }
                }
            };
        }
        finish(shape, span)
    }

    /// `n / k` with `n` read as an unsigned 64-bit number and `k > 0`
    /// (checked before). For `n >= 2^63`: halve, divide, double, and add
    /// one when the remainder is still `>= k` (it is below `2k`).
    fn unsigned_div(
        &mut self,
        n: ir::Expr,
        k: ir::Expr,
        span: Span,
        out: &mut Vec<ir::Stmt>,
    ) -> ir::Expr {
        if let (Some(x), Some(y)) = (as_const(&n), as_const(&k)) {
            if y > 0 {
                return c64(((x as u64) / (y as u64)) as i64, span);
            }
        }
        if as_const(&k) == Some(1) {
            return n;
        }
        let n = self.once("n", n, out);
        let half = bin(
            BinOp::BitAnd,
            bin(BinOp::Shr, n.clone(), c64(1, span), span),
            c64(i64::MAX, span),
            span,
        );
        let q2 = bin(
            BinOp::Mul,
            bin(BinOp::Div, half, k.clone(), span),
            c64(2, span),
            span,
        );
        let r = bin(
            BinOp::Sub,
            n.clone(),
            bin(BinOp::Mul, q2.clone(), k.clone(), span),
            span,
        );
        let big = bin(
            BinOp::Or,
            bin(BinOp::Lt, r.clone(), c64(0, span), span),
            bin(BinOp::Ge, r, k.clone(), span),
            span,
        );
        let big_q = bin(BinOp::Add, q2, cast_i64(big), span);
        let small_q = bin(BinOp::Div, n.clone(), k, span);
        if_(bin(BinOp::Ge, n, c64(0, span), span), small_q, big_q, span)
    }
}

fn cast_i64(e: ir::Expr) -> ir::Expr {
    let span = e.span;
    ir::Expr {
        kind: ExprKind::Cast(Box::new(e)),
        ty: ScalarType::I64,
        span,
    }
}

/// The values an `i64` bound can take, from its form: a constant, an array
/// extent, or a widened 32-bit integer (anything else: all of `i64`).
fn value_range(b: &ir::Expr) -> (i128, i128) {
    match &b.kind {
        ExprKind::Const(Value::I64(v)) => (*v as i128, *v as i128),
        ExprKind::Len(_) | ExprKind::Shape(..) => (0, i64::MAX as i128),
        ExprKind::Cast(inner) if inner.ty == ScalarType::I32 => {
            (i32::MIN as i128, i32::MAX as i128)
        }
        ExprKind::Cast(inner) if inner.ty == ScalarType::U32 => (0, u32::MAX as i128),
        _ => (i64::MIN as i128, i64::MAX as i128),
    }
}

/// Whether `b - c` (plus one for `..=`) computed in wrapping `i64` is exact
/// for every `b` in `(lo, hi)`.
fn length_cannot_wrap(c: i64, (lo, hi): (i128, i128), inclusive: bool) -> bool {
    let extra = i128::from(inclusive);
    let fits = |v: i128| (i64::MIN as i128..=i64::MAX as i128).contains(&v);
    fits(lo - c as i128)
        && fits(hi - c as i128)
        && fits(hi - c as i128 + extra)
        && fits(lo - c as i128 + extra)
}

/// The loop header of a finished range.
fn finish(shape: Shape, span: Span) -> (ir::Expr, ir::Expr, ir::Expr) {
    match shape {
        Shape::Counted {
            start,
            count,
            stride,
        } => (start, count, stride),
        Shape::Offsets(o) => {
            let count = if_(o.nonempty, saturating_inc(o.last, span), c64(0, span), span);
            (o.first, count, o.stride)
        }
    }
}

/// `x + 1` for an unsigned offset `x`, saturated at `i64::MAX`.
fn saturating_inc(x: ir::Expr, span: Span) -> ir::Expr {
    if let Some(v) = as_const(&x) {
        return c64(
            if v < 0 || v == i64::MAX {
                i64::MAX
            } else {
                v + 1
            },
            span,
        );
    }
    let too_big = bin(
        BinOp::Or,
        bin(BinOp::Lt, x.clone(), c64(0, span), span),
        bin(BinOp::Eq, x.clone(), c64(i64::MAX, span), span),
        span,
    );
    if_(
        too_big,
        c64(i64::MAX, span),
        add(x, c64(1, span), span),
        span,
    )
}

/// `if c then a else b`, folded when `c` is a constant.
fn if_(c: ir::Expr, a: ir::Expr, b: ir::Expr, span: Span) -> ir::Expr {
    match c.kind {
        ExprKind::Const(Value::Bool(true)) => a,
        ExprKind::Const(Value::Bool(false)) => b,
        _ => {
            let ty = a.ty;
            ir::Expr {
                kind: ExprKind::If(Box::new(c), Box::new(a), Box::new(b)),
                ty,
                span,
            }
        }
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
    if let (Some(x), Some(y)) = (as_const(&a), as_const(&b)) {
        let folded = match op {
            BinOp::Gt => Some(x > y),
            BinOp::Ge => Some(x >= y),
            BinOp::Lt => Some(x < y),
            BinOp::Eq => Some(x == y),
            _ => None,
        };
        if let Some(v) = folded {
            return ir::Expr {
                kind: ExprKind::Const(Value::Bool(v)),
                ty: ScalarType::Bool,
                span,
            };
        }
    }
    let ty = if op.is_comparison() || matches!(op, BinOp::And | BinOp::Or) {
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
        (_, Some(-1)) => neg(a, span),
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
