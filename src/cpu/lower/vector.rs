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

use super::Fx;
use crate::cpu::checks::access_key;
use crate::error::Result;
use crate::ir::ReduceOp;
use crate::ir::{self, Access, BinOp, Builtin, Expr, ExprKind, ScalarType, StmtKind, UnOp, VarId};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::Value as CValue;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type};
use cranelift_frontend::Variable;
use std::collections::{HashMap, HashSet};

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

impl<'m> Fx<'_, '_, 'm> {
    /// Runs the largest multiple of the vector width of `count` iterations
    /// with vector instructions when `plan` allows it; returns the
    /// `(start, count)` left for the scalar loop.
    pub(super) fn vector_loop(
        &mut self,
        var: VarId,
        start: CValue,
        count: CValue,
        body: &'m ir::Block,
    ) -> Result<(CValue, CValue)> {
        let kernel = self.sh.kernel;
        let proven = &self.proven;
        let unchecked = |a: &Access| {
            let key = access_key(a);
            a.needs_check
                .iter()
                .enumerate()
                .all(|(d, &c)| !c || proven.contains(&(key, d)))
        };
        let Some(ty) = plan(body, var, kernel, &unchecked, &self.chunk_reductions) else {
            return Ok((start, count));
        };
        let (vty, lanes) = if ty == ScalarType::F32 {
            (types::F32X4, 4i64)
        } else {
            (types::F64X2, 2i64)
        };
        let nvec = self.b.ins().band_imm_s(count, !(lanes - 1));
        // One vector accumulator per updated reduction, starting at its
        // identity in every lane.
        let mut accs: HashMap<VarId, (Variable, ir::ReduceOp)> = HashMap::new();
        for st in &body.stmts {
            if let StmtKind::Assign { var: r, .. } = &st.kind {
                if !accs.contains_key(r) {
                    let op = self
                        .chunk_reductions
                        .iter()
                        .find(|(v, _)| v == r)
                        .map_or(ir::ReduceOp::Add, |x| x.1);
                    let acc = self.b.declare_var(vty);
                    let id = self.constant(op.identity(ty));
                    let init = self.b.ins().splat(vty, id);
                    self.b.def_var(acc, init);
                    accs.insert(*r, (acc, op));
                }
            }
        }
        let k = self.b.declare_var(types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(k, zero);
        let (header, body_blk, exit) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let kv = self.b.use_var(k);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, kv, nvec);
        self.b.ins().brif(more, body_blk, &[], exit, &[]);
        self.b.switch_to_block(body_blk);
        let i = self.b.ins().iadd(start, kv);
        let mut lets: HashMap<VarId, CValue> = HashMap::new();
        for s in &body.stmts {
            match &s.kind {
                StmtKind::Let { var: v, init } => {
                    let x = self.vexpr(init, vty, i, &lets)?;
                    lets.insert(*v, x);
                }
                StmtKind::Store { access, value } => {
                    let x = self.vexpr(value, vty, i, &lets)?;
                    let addr = self.unit_address(access, i);
                    self.b
                        .ins()
                        .store(MemFlagsData::new().with_notrap(), x, addr, 0);
                }
                StmtKind::Assign { var: r, value } => {
                    let Some((&(acc, op), e)) =
                        accs.get(r).and_then(|a| Some((a, update(*r, a.1, value)?)))
                    else {
                        return Err(self
                            .sh
                            .unsupported(s.span, "an update the vector plan excludes"));
                    };
                    let x = self.vexpr(e, vty, i, &lets)?;
                    let a = self.b.use_var(acc);
                    let next = match (&value.kind, op) {
                        (_, ir::ReduceOp::Min) => self.float_minmax(a, x, true),
                        (_, ir::ReduceOp::Max) => self.float_minmax(a, x, false),
                        (ExprKind::Binary(BinOp::Sub, ..), _) => self.b.ins().fsub(a, x),
                        _ => self.b.ins().fadd(a, x),
                    };
                    self.b.def_var(acc, next);
                }
                _ => {
                    return Err(self
                        .sh
                        .unsupported(s.span, "a statement the vector plan excludes"))
                }
            }
        }
        let k1 = self.b.ins().iadd_imm_s(kv, lanes);
        self.b.def_var(k, k1);
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(exit);
        let mut sums: Vec<_> = accs.into_iter().collect();
        sums.sort_by_key(|(r, _)| *r);
        for (r, (acc, op)) in sums {
            let var = self.var(r);
            let mut total = self.b.use_var(var);
            let lanes_v = self.b.use_var(acc);
            for lane in 0..lanes as u8 {
                let x = self.b.ins().extractlane(lanes_v, lane);
                total = match op {
                    ir::ReduceOp::Min => self.float_minmax(total, x, true),
                    ir::ReduceOp::Max => self.float_minmax(total, x, false),
                    _ => self.b.ins().fadd(total, x),
                };
            }
            self.b.def_var(var, total);
        }
        let rest_start = self.b.ins().iadd(start, nvec);
        let rest = self.b.ins().isub(count, nvec);
        Ok((rest_start, rest))
    }

    pub(super) fn unit_address(&mut self, acc: &Access, i: CValue) -> CValue {
        let base = self.arrays[acc.array.index()].ptr;
        let size = self.sh.kernel.array(acc.array).elem.size_bytes();
        let off = self.b.ins().ishl_imm_s(i, size.trailing_zeros() as i64);
        self.b.ins().iadd(base, off)
    }

    pub(super) fn vexpr(
        &mut self,
        e: &Expr,
        vty: Type,
        i: CValue,
        lets: &HashMap<VarId, CValue>,
    ) -> Result<CValue> {
        Ok(match &e.kind {
            ExprKind::Const(v) => {
                let x = self.constant(*v);
                self.b.ins().splat(vty, x)
            }
            ExprKind::Var(v) => match lets.get(v) {
                Some(x) => *x,
                None => {
                    let var = self.var(*v);
                    let x = self.b.use_var(var);
                    self.b.ins().splat(vty, x)
                }
            },
            ExprKind::Unary(UnOp::Neg, a) => {
                let x = self.vexpr(a, vty, i, lets)?;
                self.b.ins().fneg(x)
            }
            ExprKind::Binary(op, a, b) => {
                let x = self.vexpr(a, vty, i, lets)?;
                let y = self.vexpr(b, vty, i, lets)?;
                match op {
                    BinOp::Add => self.b.ins().fadd(x, y),
                    BinOp::Sub => self.b.ins().fsub(x, y),
                    BinOp::Mul => self.b.ins().fmul(x, y),
                    _ => self.b.ins().fdiv(x, y),
                }
            }
            ExprKind::Builtin(f, args) => {
                let x = self.vexpr(&args[0], vty, i, lets)?;
                if *f == Builtin::Sqrt {
                    self.b.ins().sqrt(x)
                } else {
                    self.b.ins().fabs(x)
                }
            }
            ExprKind::Load(acc) => {
                let addr = self.unit_address(acc, i);
                self.b
                    .ins()
                    .load(vty, MemFlagsData::new().with_notrap(), addr, 0)
            }
            _ => {
                return Err(self
                    .sh
                    .unsupported(e.span, "an expression the vector plan excludes"))
            }
        })
    }
}
