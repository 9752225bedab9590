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

use crate::ir::visit::{
    any_block_expr, any_expr, any_stmt, walk_block_exprs, walk_expr, walk_stmts, walk_stmts_where,
};
use crate::ir::{Access, BinOp, Block, Expr, ExprKind, ScalarType, Stmt, StmtKind, UnOp, VarId};
use std::collections::{HashMap, HashSet};

/// One hoistable index: the access (by address), the dimension, and the
/// index expression with loop-local temporaries substituted.
pub(crate) struct Hoisted {
    pub access: usize,
    pub array: crate::ir::ArrayId,
    pub dim: usize,
    pub expr: Expr,
    /// `C` when it is a constant (wrapping `i64`): then the check needs `E`
    /// only, and none at all beyond `E` itself when `C` is 0.
    pub coef: Option<i64>,
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
                let coef = (expr.ty == ScalarType::I64)
                    .then(|| coefficient(&expr, var))
                    .flatten();
                out.push(Hoisted {
                    access: access_key(acc),
                    array: acc.array,
                    dim: d,
                    expr,
                    coef,
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
        walk_stmts(b, &mut |s| match &s.kind {
            StmtKind::Let { var, init } => {
                self.lets.insert(*var, init);
            }
            StmtKind::Assign { var, .. } => {
                self.written.insert(*var);
            }
            StmtKind::For(f) => {
                self.written.insert(f.var);
            }
            StmtKind::ParFor(p) => self.written.extend(p.vars.iter().copied()),
            _ => {}
        });
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

/// The constant `C` of an affine `E + C*var` (as `affine` returns it), in
/// wrapping `i64` like the index itself; `None` when `C` is not a constant
/// (a stride read from a shape, say).
fn coefficient(e: &Expr, var: VarId) -> Option<i64> {
    match &e.kind {
        ExprKind::Var(v) if *v == var => Some(1),
        ExprKind::Const(_) | ExprKind::Var(_) | ExprKind::Len(_) | ExprKind::Shape(..) => Some(0),
        ExprKind::Binary(BinOp::Add, a, b) => {
            Some(coefficient(a, var)?.wrapping_add(coefficient(b, var)?))
        }
        ExprKind::Binary(BinOp::Sub, a, b) => {
            Some(coefficient(a, var)?.wrapping_sub(coefficient(b, var)?))
        }
        ExprKind::Binary(BinOp::Mul, a, b) => {
            let (ca, cb) = (coefficient(a, var)?, coefficient(b, var)?);
            match (ca, cb) {
                (0, 0) => Some(0),
                (0, c) => Some(const_i64(a)?.wrapping_mul(c)),
                (c, 0) => Some(c.wrapping_mul(const_i64(b)?)),
                _ => None,
            }
        }
        ExprKind::Unary(UnOp::Neg, a) => Some(coefficient(a, var)?.wrapping_neg()),
        ExprKind::Cast(a) if !mentions(a, var) => Some(0),
        ExprKind::Cast(a) => coefficient(a, var),
        _ => None,
    }
}

fn const_i64(e: &Expr) -> Option<i64> {
    match e.kind {
        ExprKind::Const(crate::ir::Value::I64(k)) => Some(k),
        _ => None,
    }
}

/// Whether `a` and `b` are the same side-effect-free expression (spans
/// aside): constants, variables, sizes, loads, arithmetic and casts. Two
/// equal affine indices need one range check; two equal `sin`/`cos`
/// arguments one `sincos` (`lower::trig`).
pub(crate) fn same_pure(a: &Expr, b: &Expr) -> bool {
    a.ty == b.ty
        && match (&a.kind, &b.kind) {
            (ExprKind::Const(x), ExprKind::Const(y)) => x.to_bits() == y.to_bits(),
            (ExprKind::Var(x), ExprKind::Var(y)) => x == y,
            (ExprKind::Len(x), ExprKind::Len(y)) => x == y,
            (ExprKind::Shape(x, i), ExprKind::Shape(y, j)) => x == y && i == j,
            (ExprKind::Load(x), ExprKind::Load(y)) => {
                x.array == y.array
                    && x.index.len() == y.index.len()
                    && x.index.iter().zip(&y.index).all(|(p, q)| same_pure(p, q))
            }
            (ExprKind::Binary(o, a1, a2), ExprKind::Binary(p, b1, b2)) => {
                o == p && same_pure(a1, b1) && same_pure(a2, b2)
            }
            (ExprKind::Unary(o, x), ExprKind::Unary(p, y)) => o == p && same_pure(x, y),
            (ExprKind::Cast(x), ExprKind::Cast(y)) => same_pure(x, y),
            _ => false,
        }
}

fn mentions(e: &Expr, var: VarId) -> bool {
    any_expr(e, &mut |x| matches!(x.kind, ExprKind::Var(v) if v == var))
}

/// Accesses evaluated directly in `b` (through `if`s, not nested loops), a
/// store's place before its value (the order of the hoisted checks).
fn collect_accesses<'a>(b: &'a Block, out: &mut Vec<&'a Access>) {
    walk_stmts_where(b, &mut |s| {
        match &s.kind {
            StmtKind::Let { init: e, .. }
            | StmtKind::Assign { value: e, .. }
            | StmtKind::Eval(e)
            | StmtKind::If { cond: e, .. } => expr_accesses(e, out),
            StmtKind::Store { access, value } => {
                out.push(access);
                access.index.iter().for_each(|i| expr_accesses(i, out));
                expr_accesses(value, out);
            }
            _ => {}
        }
        matches!(s.kind, StmtKind::If { .. })
    });
}

fn expr_accesses<'a>(e: &'a Expr, out: &mut Vec<&'a Access>) {
    walk_expr(e, &mut |x| {
        if let ExprKind::Load(a) | ExprKind::Atomic { access: a, .. } = &x.kind {
            out.push(a);
        }
    });
}

/// Variables that `body` (and a `while` condition) read and that nothing in
/// `body` changes (`let`, assignment, loop variable; `exclude` holds the
/// loop's own variable): invariant in a loop over `body`. In order of first
/// read, so the code built from them is the same every time.
pub(crate) fn loop_invariants(body: &Block, cond: Option<&Expr>, exclude: &[VarId]) -> Vec<VarId> {
    let mut changed: HashSet<VarId> = exclude.iter().copied().collect();
    walk_stmts(body, &mut |s| match &s.kind {
        StmtKind::Let { var, .. } | StmtKind::Assign { var, .. } => {
            changed.insert(*var);
        }
        StmtKind::For(f) => {
            changed.insert(f.var);
        }
        StmtKind::ParFor(p) => changed.extend(p.vars.iter().copied()),
        _ => {}
    });
    let mut reads = Vec::new();
    let mut read = |e: &Expr| {
        if let ExprKind::Var(v) = e.kind {
            if !changed.contains(&v) && !reads.contains(&v) {
                reads.push(v);
            }
        }
    };
    walk_block_exprs(body, &mut read);
    if let Some(c) = cond {
        walk_expr(c, &mut read);
    }
    reads
}

/// Variables a `prange` body reads from the enclosing scope, in id order.
pub(crate) fn captures(body: &Block, exclude: &[VarId]) -> Vec<VarId> {
    let mut reads = HashSet::new();
    walk_block_exprs(body, &mut |e| {
        if let ExprKind::Var(v) = e.kind {
            reads.insert(v);
        }
    });
    let mut defined: HashSet<VarId> = exclude.iter().copied().collect();
    walk_stmts(body, &mut |s| match &s.kind {
        StmtKind::Let { var, .. } => {
            defined.insert(*var);
        }
        StmtKind::For(f) => {
            defined.insert(f.var);
        }
        StmtKind::ParFor(p) => defined.extend(p.vars.iter().copied()),
        _ => {}
    });
    let mut v: Vec<VarId> = reads.difference(&defined).copied().collect();
    v.sort();
    v
}

/// Whether a block contains a loop, looking through helper calls.
pub(crate) fn has_loop(b: &Block, module: &crate::ir::Module, depth: u32) -> bool {
    if depth > 64 {
        return true;
    }
    let mut is_loop = |s: &Stmt| {
        matches!(
            s.kind,
            StmtKind::While { .. } | StmtKind::For(_) | StmtKind::ParFor(_)
        )
    };
    let mut calls_loop = |e: &Expr| match e.kind {
        ExprKind::Call(f, _) => has_loop(&module.function(f).body, module, depth + 1),
        _ => false,
    };
    any_stmt(b, &mut is_loop) || any_block_expr(b, &mut calls_loop)
}
