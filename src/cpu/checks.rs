//! Bounds-check hoisting: which array indices of a loop body are affine in
//! the loop variable, so that one range check before the loop covers every
//! iteration.
//!
//! An index `E + C*v` (with `E`, `C` loop-invariant and `v` the loop variable)
//! built only from `+ - *`, negation, constants, invariant variables, `len`,
//! `shape` and integer casts of invariant parts is, in wrapping `i64`
//! arithmetic, congruent to `E + C*v` modulo 2^64. The lowering evaluates the
//! index at `v = 0` and `v = 1` to get `E` and `C`, then checks `E + C*first`
//! and `E + C*last` exactly (in `i128`): if both lie in `0..shape` every
//! value in between does, and the wrapped value equals the exact one. Such
//! expressions cannot fault, so evaluating them early is safe.

use crate::ir::{Access, BinOp, Block, Expr, ExprKind, ScalarType, StmtKind, UnOp, VarId};
use std::collections::{HashMap, HashSet};

/// One hoistable index: the access (by address), the dimension, and the
/// index expression with loop-local temporaries substituted.
pub(crate) struct Hoisted {
    pub access: usize,
    pub array: crate::ir::ArrayId,
    pub dim: usize,
    pub expr: Expr,
}

pub(crate) fn access_key(a: &Access) -> usize {
    a as *const Access as usize
}

/// The indices in `body` (outside nested loops) that one check before a loop
/// over `var` can cover.
pub(crate) fn hoistable(body: &Block, var: VarId) -> Vec<Hoisted> {
    let mut scan = Scan::default();
    scan.definitions(body);
    let mut out = Vec::new();
    let mut accesses = Vec::new();
    collect_accesses(body, &mut accesses);
    for acc in accesses {
        for (d, idx) in acc.index.iter().enumerate() {
            if !acc.needs_check[d] {
                continue;
            }
            if let Some(expr) = scan.affine(idx, var, 0) {
                out.push(Hoisted {
                    access: access_key(acc),
                    array: acc.array,
                    dim: d,
                    expr,
                });
            }
        }
    }
    out
}

#[derive(Default)]
struct Scan<'a> {
    /// Variables written in the body (assigned, or defined by nested loops).
    written: HashSet<VarId>,
    /// `let` temporaries of the body that are never reassigned.
    lets: HashMap<VarId, &'a Expr>,
}

impl<'a> Scan<'a> {
    fn definitions(&mut self, b: &'a Block) {
        for s in &b.stmts {
            match &s.kind {
                StmtKind::Let { var, init } => {
                    self.lets.insert(*var, init);
                }
                StmtKind::Assign { var, .. } => {
                    self.written.insert(*var);
                }
                StmtKind::If { then, els, .. } => {
                    self.definitions(then);
                    self.definitions(els);
                }
                StmtKind::While { body, .. } => self.definitions(body),
                StmtKind::For(f) => {
                    self.written.insert(f.var);
                    self.definitions(&f.body);
                }
                StmtKind::ParFor(p) => {
                    self.written.extend(p.vars.iter().copied());
                    self.definitions(&p.body);
                }
                _ => {}
            }
        }
    }

    /// `e` with temporaries substituted when it is affine in `var` and made
    /// of non-faulting operations on invariants; `None` otherwise.
    fn affine(&self, e: &Expr, var: VarId, depth: u32) -> Option<Expr> {
        if depth > 32 {
            return None;
        }
        let rebuild = |kind: ExprKind| {
            Some(Expr {
                kind,
                ty: e.ty,
                span: e.span,
            })
        };
        match &e.kind {
            ExprKind::Const(_) | ExprKind::Len(_) | ExprKind::Shape(..) => Some(e.clone()),
            ExprKind::Var(v) if *v == var => Some(e.clone()),
            ExprKind::Var(v) => {
                if self.written.contains(v) {
                    None
                } else if let Some(init) = self.lets.get(v) {
                    self.affine(init, var, depth + 1)
                } else {
                    Some(e.clone())
                }
            }
            ExprKind::Binary(op @ (BinOp::Add | BinOp::Sub | BinOp::Mul), a, b)
                if e.ty.is_int() =>
            {
                let a = self.affine(a, var, depth + 1)?;
                let b = self.affine(b, var, depth + 1)?;
                if *op == BinOp::Mul && mentions(&a, var) && mentions(&b, var) {
                    return None;
                }
                rebuild(ExprKind::Binary(*op, Box::new(a), Box::new(b)))
            }
            ExprKind::Unary(UnOp::Neg, a) if e.ty.is_int() => {
                let a = self.affine(a, var, depth + 1)?;
                rebuild(ExprKind::Unary(UnOp::Neg, Box::new(a)))
            }
            // A cast breaks the congruence unless its operand is invariant.
            ExprKind::Cast(a) if e.ty.is_int() && a.ty.is_int() => {
                let a = self.affine(a, var, depth + 1)?;
                if mentions(&a, var) && !(a.ty == ScalarType::I64 && e.ty == ScalarType::I64) {
                    return None;
                }
                rebuild(ExprKind::Cast(Box::new(a)))
            }
            _ => None,
        }
    }
}

fn mentions(e: &Expr, var: VarId) -> bool {
    match &e.kind {
        ExprKind::Var(v) => *v == var,
        ExprKind::Unary(_, a) | ExprKind::Cast(a) => mentions(a, var),
        ExprKind::Binary(_, a, b) => mentions(a, var) || mentions(b, var),
        _ => false,
    }
}

/// Accesses evaluated directly in `b` (through `if`s, not nested loops).
fn collect_accesses<'a>(b: &'a Block, out: &mut Vec<&'a Access>) {
    for s in &b.stmts {
        match &s.kind {
            StmtKind::Let { init: e, .. }
            | StmtKind::Assign { value: e, .. }
            | StmtKind::Eval(e) => expr_accesses(e, out),
            StmtKind::Store { access, value } => {
                out.push(access);
                access.index.iter().for_each(|i| expr_accesses(i, out));
                expr_accesses(value, out);
            }
            StmtKind::If { cond, then, els } => {
                expr_accesses(cond, out);
                collect_accesses(then, out);
                collect_accesses(els, out);
            }
            _ => {}
        }
    }
}

fn expr_accesses<'a>(e: &'a Expr, out: &mut Vec<&'a Access>) {
    match &e.kind {
        ExprKind::Load(a) => {
            out.push(a);
            a.index.iter().for_each(|i| expr_accesses(i, out));
        }
        ExprKind::Atomic { access, value, .. } => {
            out.push(access);
            access.index.iter().for_each(|i| expr_accesses(i, out));
            expr_accesses(value, out);
        }
        ExprKind::Unary(_, a) | ExprKind::Cast(a) => expr_accesses(a, out),
        ExprKind::Binary(_, a, b) => {
            expr_accesses(a, out);
            expr_accesses(b, out);
        }
        ExprKind::If(c, a, b) => {
            expr_accesses(c, out);
            expr_accesses(a, out);
            expr_accesses(b, out);
        }
        ExprKind::Builtin(_, args) | ExprKind::Call(_, args) => {
            args.iter().for_each(|a| expr_accesses(a, out))
        }
        _ => {}
    }
}

/// Variables a `prange` body reads from the enclosing scope, in id order.
pub(crate) fn captures(body: &Block, exclude: &[VarId]) -> Vec<VarId> {
    let mut reads = HashSet::new();
    let mut defined: HashSet<VarId> = exclude.iter().copied().collect();
    block_vars(body, &mut reads, &mut defined);
    let mut v: Vec<VarId> = reads.difference(&defined).copied().collect();
    v.sort();
    v
}

fn block_vars(b: &Block, reads: &mut HashSet<VarId>, defined: &mut HashSet<VarId>) {
    for s in &b.stmts {
        match &s.kind {
            StmtKind::Let { var, init } => {
                defined.insert(*var);
                expr_vars(init, reads);
            }
            StmtKind::Assign { value, .. } => expr_vars(value, reads),
            StmtKind::Store { access, value } => {
                access.index.iter().for_each(|i| expr_vars(i, reads));
                expr_vars(value, reads);
            }
            StmtKind::Eval(e) | StmtKind::CheckStep(e) => expr_vars(e, reads),
            StmtKind::Return(e) => e.iter().for_each(|e| expr_vars(e, reads)),
            StmtKind::If { cond, then, els } => {
                expr_vars(cond, reads);
                block_vars(then, reads, defined);
                block_vars(els, reads, defined);
            }
            StmtKind::While { cond, body } => {
                expr_vars(cond, reads);
                block_vars(body, reads, defined);
            }
            StmtKind::For(f) => {
                defined.insert(f.var);
                for e in [&f.start, &f.count, &f.stride] {
                    expr_vars(e, reads);
                }
                block_vars(&f.body, reads, defined);
            }
            StmtKind::ParFor(p) => {
                defined.extend(p.vars.iter().copied());
                for (lo, hi) in &p.ranges {
                    expr_vars(lo, reads);
                    expr_vars(hi, reads);
                }
                block_vars(&p.body, reads, defined);
            }
            StmtKind::Break | StmtKind::Continue => {}
        }
    }
}

fn expr_vars(e: &Expr, reads: &mut HashSet<VarId>) {
    match &e.kind {
        ExprKind::Var(v) => {
            reads.insert(*v);
        }
        ExprKind::Unary(_, a) | ExprKind::Cast(a) => expr_vars(a, reads),
        ExprKind::Binary(_, a, b) => {
            expr_vars(a, reads);
            expr_vars(b, reads);
        }
        ExprKind::If(c, a, b) => {
            expr_vars(c, reads);
            expr_vars(a, reads);
            expr_vars(b, reads);
        }
        ExprKind::Builtin(_, args) | ExprKind::Call(_, args) => {
            args.iter().for_each(|a| expr_vars(a, reads))
        }
        ExprKind::Load(a) => a.index.iter().for_each(|i| expr_vars(i, reads)),
        ExprKind::Atomic { access, value, .. } => {
            access.index.iter().for_each(|i| expr_vars(i, reads));
            expr_vars(value, reads);
        }
        ExprKind::Const(_) | ExprKind::Len(_) | ExprKind::Shape(..) => {}
    }
}

/// Whether a block contains a loop, looking through helper calls.
pub(crate) fn has_loop(b: &Block, module: &crate::ir::Module, depth: u32) -> bool {
    if depth > 64 {
        return true;
    }
    let call_loops = |e: &Expr| expr_calls_loop(e, module, depth);
    b.stmts.iter().any(|s| match &s.kind {
        StmtKind::While { .. } | StmtKind::For(_) | StmtKind::ParFor(_) => true,
        StmtKind::If { cond, then, els } => {
            call_loops(cond)
                || has_loop(then, module, depth + 1)
                || has_loop(els, module, depth + 1)
        }
        StmtKind::Let { init: e, .. }
        | StmtKind::Assign { value: e, .. }
        | StmtKind::Eval(e)
        | StmtKind::CheckStep(e)
        | StmtKind::Store { value: e, .. } => call_loops(e),
        StmtKind::Return(Some(e)) => call_loops(e),
        _ => false,
    })
}

fn expr_calls_loop(e: &Expr, module: &crate::ir::Module, depth: u32) -> bool {
    let rec = |x: &Expr| expr_calls_loop(x, module, depth);
    match &e.kind {
        ExprKind::Call(f, args) => {
            has_loop(&module.function(*f).body, module, depth + 1) || args.iter().any(rec)
        }
        ExprKind::Unary(_, a) | ExprKind::Cast(a) => rec(a),
        ExprKind::Binary(_, a, b) => rec(a) || rec(b),
        ExprKind::If(c, a, b) => rec(c) || rec(a) || rec(b),
        ExprKind::Builtin(_, args) => args.iter().any(rec),
        ExprKind::Load(a) => a.index.iter().any(rec),
        ExprKind::Atomic { access, value, .. } => access.index.iter().any(rec) || rec(value),
        _ => false,
    }
}
