//! The rules of `prange` bodies (SPEC §7): which outer variables may be
//! changed (reductions only), and the race errors for everything else.

use super::infer::{Callee, Facts, NameRes};
use super::strip_parens;
use crate::ir::{self, BinOp, Builtin, ReduceOp, Reduction, Span, VarId};
use crate::lang::ast::{Expr, ExprKind};
use crate::lang::diag::Diagnostic;

/// What one `prange` body did to the variables declared outside it.
pub struct ParState {
    /// Variables with an id below this were declared before the loop.
    first_inner: u32,
    updates: Vec<Update>,
    reads: Vec<(VarId, Span)>,
}

struct Update {
    var: VarId,
    op: ReduceOp,
    /// How the user wrote it (`+=`, `min`), for messages.
    label: &'static str,
    span: Span,
}

/// A recognised reduction update `v op= e` / `v = min(v, e)`.
pub enum UpdateForm<'a> {
    /// `v = v OP e`
    Compound(BinOp, &'a Expr),
    /// `v = min(v, e)` / `v = max(v, e)`
    MinMax(Builtin, &'a Expr),
}

impl ParState {
    pub fn new(first_inner: u32) -> ParState {
        ParState {
            first_inner,
            updates: Vec::new(),
            reads: Vec::new(),
        }
    }

    pub fn is_outer(&self, v: VarId) -> bool {
        v.0 < self.first_inner
    }

    /// An outer variable was read somewhere in the body (outside the `v` of
    /// its own update).
    pub fn note_read(&mut self, v: VarId, span: Span) {
        if self.is_outer(v) {
            self.reads.push((v, span));
        }
    }

    pub fn note_update(&mut self, var: VarId, op: ReduceOp, label: &'static str, span: Span) {
        self.updates.push(Update {
            var,
            op,
            label,
            span,
        });
    }

    /// The loop's reductions, after checking that each variable uses one
    /// operator and is not otherwise read in the body.
    pub fn finish(self, vars: &[ir::Var], errors: &mut Vec<Diagnostic>) -> Vec<Reduction> {
        let mut reductions: Vec<(Reduction, &'static str)> = Vec::new();
        for u in &self.updates {
            match reductions.iter().find(|(r, _)| r.var == u.var) {
                None => reductions.push((
                    Reduction {
                        var: u.var,
                        op: u.op,
                    },
                    u.label,
                )),
                Some((r, label)) if r.op != u.op => {
                    let name = &vars[u.var.index()].name;
                    errors.push(
                        Diagnostic::new(
                            u.span,
                            format!(
                                "`{name}` is updated with both `{label}` and `{}` in this `prange`; a reduction uses one operator",
                                u.label
                            ),
                        )
                        .with_hint("iterations run in parallel and their contributions are combined with a single operator"),
                    );
                }
                Some(_) => {}
            }
        }
        for &(v, span) in &self.reads {
            if reductions.iter().any(|(r, _)| r.var == v) {
                let name = &vars[v.index()].name;
                errors.push(
                    Diagnostic::new(
                        span,
                        format!(
                            "`{name}` is a reduction variable of this `prange`, so reading it inside the loop is a race: iterations run in parallel and its value is only combined after the loop"
                        ),
                    )
                    .with_hint(format!("read `{name}` after the loop, or use a separate variable declared inside the body")),
                );
            }
        }
        reductions.into_iter().map(|(r, _)| r).collect()
    }
}

/// Recognises a reduction update of `v`: `v op= e` for `+ - * | & ^`, or
/// `v = min(v, e)` / `max` in call or method form, either argument order.
pub fn classify<'a>(
    op: Option<BinOp>,
    value: &'a Expr,
    v: VarId,
    facts: &Facts,
) -> Option<(ReduceOp, &'static str, UpdateForm<'a>)> {
    if let Some(op) = op {
        let (rop, label) = match op {
            BinOp::Add => (ReduceOp::Add, "+="),
            BinOp::Sub => (ReduceOp::Add, "-="),
            BinOp::Mul => (ReduceOp::Mul, "*="),
            BinOp::BitOr => (ReduceOp::BitOr, "|="),
            BinOp::BitAnd => (ReduceOp::BitAnd, "&="),
            BinOp::BitXor => (ReduceOp::BitXor, "^="),
            _ => return None,
        };
        return Some((rop, label, UpdateForm::Compound(op, value)));
    }
    let value = strip_parens(value);
    let (x, y) = match &value.kind {
        ExprKind::Call { args, .. } if args.len() == 2 => (&args[0], &args[1]),
        ExprKind::MethodCall { receiver, args, .. } if args.len() == 1 => (&**receiver, &args[0]),
        _ => return None,
    };
    let b = match facts.callee(value) {
        Callee::Builtin(b @ (Builtin::Min | Builtin::Max)) => b,
        _ => return None,
    };
    let is_v = |e: &Expr| matches!(&strip_parens(e).kind, ExprKind::Name(id) if facts.name(id) == NameRes::Var(v));
    let e = if is_v(x) {
        y
    } else if is_v(y) {
        x
    } else {
        return None;
    };
    let (rop, label) = if b == Builtin::Min {
        (ReduceOp::Min, "min")
    } else {
        (ReduceOp::Max, "max")
    };
    Some((rop, label, UpdateForm::MinMax(b, e)))
}

pub fn race_on_assign(name: &str, span: Span) -> Diagnostic {
    Diagnostic::new(
        span,
        format!(
            "`{name}` is declared outside this `prange` and assigned inside it, which is a race: iterations run in parallel"
        ),
    )
    .with_hint(format!(
        "only reduction updates are allowed: `{name} += e`, `-=`, `*=`, `|=`, `&=`, `^=`, `{name} = min({name}, e)` or `max`; or declare the variable inside the loop"
    ))
}
