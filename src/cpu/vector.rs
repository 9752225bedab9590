//! 128-bit vector lowering of straight-line `prange` bodies.
//!
//! A 1-D chunk loop whose body is only `let`s and stores of one float type,
//! built from `+ - * /`, negation, `sqrt`, `abs`, constants, invariant
//! scalars and unit-stride accesses `a[i]` whose checks are dropped or
//! hoisted, runs 4 (`f32`) or 2 (`f64`) iterations per step with Cranelift
//! vector instructions; the remainder runs the scalar loop. Each lane does
//! exactly the scalar IEEE operations, so results are bit-identical. Arrays
//! written and read in one iteration are at the same index, and a writable
//! array is never passed twice (checked at launch), so doing a few
//! iterations' loads before their stores changes nothing.

use crate::ir::{
    Access, BinOp, Builtin, Expr, ExprKind, ReduceOp, ScalarType, StmtKind, UnOp, VarId,
};
use std::collections::HashSet;

/// The element type of a vectorizable body, or `None`.
///
/// `reductions` are the enclosing `prange`'s float `Add`, `Min` and `Max`
/// reductions: an update `s = s + e` / `s = s - e` / `m = min(m, e)` /
/// `m = max(m, e)` of one of them is allowed too; it accumulates per lane and
/// the lanes are combined into the variable in lane order after the vector
/// loop (a fixed order: the result is deterministic).
pub(crate) fn plan(
    body: &crate::ir::Block,
    var: VarId,
    kernel: &crate::ir::Function,
    unchecked: &dyn Fn(&Access) -> bool,
    reductions: &[(VarId, ReduceOp)],
) -> Option<ScalarType> {
    let mut ty = None;
    let mut lets = HashSet::new();
    for s in &body.stmts {
        match &s.kind {
            StmtKind::Let { var: v, init } => {
                let t = *ty.get_or_insert(init.ty);
                if kernel.var(*v).ty != t || !expr_ok(init, t, var, kernel, unchecked) {
                    return None;
                }
                lets.insert(*v);
            }
            StmtKind::Assign { var: r, value } => {
                let &(_, op) = reductions.iter().find(|(v, _)| v == r)?;
                let t = *ty.get_or_insert(value.ty);
                let e = update(*r, op, value)?;
                if !expr_ok(e, t, var, kernel, unchecked) {
                    return None;
                }
            }
            StmtKind::Store { access, value } => {
                let t = *ty.get_or_insert(value.ty);
                if !access_ok(access, t, var, kernel, unchecked)
                    || !expr_ok(value, t, var, kernel, unchecked)
                {
                    return None;
                }
            }
            _ => return None,
        }
    }
    ty.filter(|t| t.is_float())
}

fn access_ok(
    a: &Access,
    ty: ScalarType,
    var: VarId,
    kernel: &crate::ir::Function,
    unchecked: &dyn Fn(&Access) -> bool,
) -> bool {
    kernel.array(a.array).elem == ty
        && a.index.len() == 1
        && matches!(a.index[0].kind, ExprKind::Var(v) if v == var)
        && unchecked(a)
}

fn expr_ok(
    e: &Expr,
    ty: ScalarType,
    var: VarId,
    kernel: &crate::ir::Function,
    unchecked: &dyn Fn(&Access) -> bool,
) -> bool {
    if e.ty != ty {
        return false;
    }
    let ok = |x: &Expr| expr_ok(x, ty, var, kernel, unchecked);
    match &e.kind {
        ExprKind::Const(_) | ExprKind::Var(_) => true,
        ExprKind::Unary(UnOp::Neg, a) => ok(a),
        ExprKind::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div, a, b) => ok(a) && ok(b),
        ExprKind::Builtin(Builtin::Sqrt | Builtin::Abs, args) => args.len() == 1 && ok(&args[0]),
        ExprKind::Load(a) => access_ok(a, ty, var, kernel, unchecked),
        _ => false,
    }
}

/// The contribution `e` of a reduction update of `r` with `op`: `r = r + e`
/// or `r = r - e` (`Add`), `r = min(r, e)` or `min(e, r)` (`Min`), likewise
/// `Max`.
pub(crate) fn update(r: VarId, op: ReduceOp, value: &Expr) -> Option<&Expr> {
    let is_r = |x: &Expr| matches!(x.kind, ExprKind::Var(v) if v == r);
    match (&value.kind, op) {
        (ExprKind::Binary(BinOp::Add | BinOp::Sub, a, e), ReduceOp::Add) if is_r(a) => Some(e),
        (ExprKind::Builtin(Builtin::Min, args), ReduceOp::Min)
        | (ExprKind::Builtin(Builtin::Max, args), ReduceOp::Max)
            if args.len() == 2 =>
        {
            match (is_r(&args[0]), is_r(&args[1])) {
                (true, false) => Some(&args[1]),
                (false, true) => Some(&args[0]),
                _ => None,
            }
        }
        _ => None,
    }
}
