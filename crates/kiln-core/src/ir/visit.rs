//! Read-only walks over the IR: the one place that knows which expressions
//! and blocks each node holds.
//!
//! Every walk goes in evaluation order (the interpreter's): operands left to
//! right, an access's indices before an atomic's value, a store's value
//! before its indices, a statement's own expressions before its nested
//! blocks (an `if`'s `then` before its `els`). Passes that need another
//! shape (a rewrite, a fold with context) match on the nodes themselves and
//! use [`each_child`] / [`stmt_exprs`] / [`stmt_blocks`] for the recursion.

use super::{Block, Expr, ExprKind, Stmt, StmtKind};

/// Calls `f` on each direct operand of `e`, in evaluation order.
pub fn each_child<'a>(e: &'a Expr, mut f: impl FnMut(&'a Expr)) {
    match &e.kind {
        ExprKind::Const(_) | ExprKind::Var(_) | ExprKind::Len(_) | ExprKind::Shape(..) => {}
        ExprKind::Unary(_, a) | ExprKind::Cast(a) => f(a),
        ExprKind::Binary(_, a, b) => {
            f(a);
            f(b);
        }
        ExprKind::Builtin(_, args) | ExprKind::Call(_, args) => args.iter().for_each(f),
        ExprKind::If(c, a, b) => {
            f(c);
            f(a);
            f(b);
        }
        ExprKind::Load(access) => access.index.iter().for_each(f),
        ExprKind::Atomic { access, value, .. } => {
            access.index.iter().for_each(&mut f);
            f(value);
        }
    }
}

/// Calls `f` on `e` and on every expression inside it, pre-order.
pub fn walk_expr<'a>(e: &'a Expr, f: &mut impl FnMut(&'a Expr)) {
    f(e);
    each_child(e, |c| walk_expr(c, f));
}

/// Whether `pred` holds for `e` or any expression inside it (stops at the
/// first, pre-order).
pub fn any_expr<'a>(e: &'a Expr, pred: &mut impl FnMut(&'a Expr) -> bool) -> bool {
    if pred(e) {
        return true;
    }
    let mut found = false;
    each_child(e, |c| found = found || any_expr(c, pred));
    found
}

/// Calls `f` on each expression held directly by `s` (not by its nested
/// statements): a `let`'s or assignment's value, a store's value then its
/// indices, a condition, a loop's start, count and stride or its `(lo, hi)`
/// bounds, a returned value, a step.
pub fn stmt_exprs<'a>(s: &'a Stmt, mut f: impl FnMut(&'a Expr)) {
    match &s.kind {
        StmtKind::Let { init: e, .. }
        | StmtKind::Assign { value: e, .. }
        | StmtKind::Eval(e)
        | StmtKind::CheckStep(e)
        | StmtKind::Return(Some(e)) => f(e),
        StmtKind::Store { access, value } => {
            f(value);
            access.index.iter().for_each(f);
        }
        StmtKind::If { cond, .. } | StmtKind::While { cond, .. } => f(cond),
        StmtKind::For(lp) => {
            f(&lp.start);
            f(&lp.count);
            f(&lp.stride);
        }
        StmtKind::ParFor(lp) => {
            for (lo, hi) in &lp.ranges {
                f(lo);
                f(hi);
            }
        }
        StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
    }
}

/// Calls `f` on each block nested directly in `s`: an `if`'s `then` and
/// `els`, a loop's body.
pub fn stmt_blocks<'a>(s: &'a Stmt, mut f: impl FnMut(&'a Block)) {
    match &s.kind {
        StmtKind::If { then, els, .. } => {
            f(then);
            f(els);
        }
        StmtKind::While { body, .. } => f(body),
        StmtKind::For(lp) => f(&lp.body),
        StmtKind::ParFor(lp) => f(&lp.body),
        _ => {}
    }
}

/// Calls `f` on every statement of `b`, pre-order; where `f` returns
/// `false` the statement's nested blocks are skipped.
pub fn walk_stmts_where<'a>(b: &'a Block, f: &mut impl FnMut(&'a Stmt) -> bool) {
    for s in &b.stmts {
        walk_stmt_where(s, f);
    }
}

/// Calls `f` on `s` and, where `f` returns `true`, on the statements nested
/// in it, pre-order.
pub fn walk_stmt_where<'a>(s: &'a Stmt, f: &mut impl FnMut(&'a Stmt) -> bool) {
    if f(s) {
        stmt_blocks(s, |inner| walk_stmts_where(inner, f));
    }
}

/// Calls `f` on `s` and on every statement nested in it, pre-order.
pub fn walk_stmt<'a>(s: &'a Stmt, f: &mut impl FnMut(&'a Stmt)) {
    f(s);
    stmt_blocks(s, |inner| walk_stmts(inner, f));
}

/// Calls `f` on every statement of `b`, nested ones included, pre-order.
pub fn walk_stmts<'a>(b: &'a Block, f: &mut impl FnMut(&'a Stmt)) {
    for s in &b.stmts {
        walk_stmt(s, f);
    }
}

/// Whether `pred` holds for a statement of `b`, nested ones included.
pub fn any_stmt<'a>(b: &'a Block, pred: &mut impl FnMut(&'a Stmt) -> bool) -> bool {
    b.stmts.iter().any(|s| stmt_any(s, pred))
}

/// Whether `pred` holds for `s` or a statement nested in it.
pub fn stmt_any<'a>(s: &'a Stmt, pred: &mut impl FnMut(&'a Stmt) -> bool) -> bool {
    if pred(s) {
        return true;
    }
    let mut found = false;
    stmt_blocks(s, |inner| found = found || any_stmt(inner, pred));
    found
}

/// Whether `pred` holds for an expression in `b` (nested statements
/// included; stops at the first).
pub fn any_block_expr<'a>(b: &'a Block, pred: &mut impl FnMut(&'a Expr) -> bool) -> bool {
    let mut found = false;
    walk_stmts_where(b, &mut |s| {
        stmt_exprs(s, |e| found = found || any_expr(e, pred));
        !found
    });
    found
}

/// Calls `f` on every expression in `s`, its nested statements included,
/// each pre-order: `s`'s own expressions, then its nested blocks.
pub fn walk_stmt_exprs<'a>(s: &'a Stmt, f: &mut impl FnMut(&'a Expr)) {
    stmt_exprs(s, |e| walk_expr(e, f));
    stmt_blocks(s, |inner| walk_block_exprs(inner, f));
}

/// Calls `f` on every expression in `b` (statements in order, nested ones
/// included), each pre-order.
pub fn walk_block_exprs<'a>(b: &'a Block, f: &mut impl FnMut(&'a Expr)) {
    for s in &b.stmts {
        walk_stmt_exprs(s, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Module, VarId};

    fn module(src: &str) -> Module {
        crate::lang::compile("t.kn", src).unwrap_or_else(|d| panic!("{d}"))
    }

    const SRC: &str = "fn h(x: f64) -> f64 { return x * 2.0; }
        kernel k(a: mut f64[:], n: i64) -> f64 {
            let mut s = 0.0;
            for i in prange(0..a.len()) { s += h(a[i]); }
            for j in 0..n {
                if j > 2 { a[0] = s; } else { atomic_add(a[1], 1.0); }
            }
            return s;
        }";

    #[test]
    fn walks_reach_every_node_in_order() {
        let m = module(SRC);
        let k = m.kernel("k").unwrap();
        let mut kinds = Vec::new();
        walk_block_exprs(&k.body, &mut |e| {
            kinds.push(match &e.kind {
                ExprKind::Load(_) => "load",
                ExprKind::Atomic { .. } => "atomic",
                ExprKind::Call(..) => "call",
                ExprKind::Len(_) => "len",
                _ => return,
            })
        });
        assert_eq!(kinds, ["len", "call", "load", "atomic"]);
        let mut stmts = 0;
        walk_stmts(&k.body, &mut |_| stmts += 1);
        let mut top = 0;
        walk_stmts_where(&k.body, &mut |_| {
            top += 1;
            false
        });
        assert_eq!(top, k.body.stmts.len());
        assert!(stmts > top);
        assert!(any_stmt(&k.body, &mut |s| matches!(
            s.kind,
            StmtKind::Store { .. }
        )));
        assert!(!any_stmt(&k.body, &mut |s| matches!(
            s.kind,
            StmtKind::While { .. }
        )));
    }

    #[test]
    fn children_in_evaluation_order() {
        let m = module("kernel k(a: mut i32[:, :], x: i32) { let _o = atomic_add(a[1, 2], x); }");
        let k = m.kernel("k").unwrap();
        let StmtKind::Let { init, .. } = &k.body.stmts[0].kind else {
            panic!()
        };
        let mut seen = Vec::new();
        each_child(init, |c| seen.push(c.clone()));
        assert_eq!(seen.len(), 3);
        assert!(matches!(seen[2].kind, ExprKind::Var(_)));
        let x = VarId(k.vars.iter().position(|v| v.name == "x").unwrap() as u32);
        assert!(any_expr(
            init,
            &mut |e| matches!(e.kind, ExprKind::Var(v) if v == x)
        ));
    }
}
