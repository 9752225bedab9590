//! Iterations of a loop in vector lanes around an inner serial loop.
//!
//! A `prange` row whose body runs a serial loop — an n-body force sum, a
//! matrix product's `k` loop, all pairwise distances — is a chain of
//! dependent float operations per iteration, bound by their latency, and
//! no lane-wise rewrite of the inner loop keeps its order. So the lanes go
//! across iterations of the outer loop instead: lane `l` of a vector runs
//! iteration `i + l` and the inner loop steps all of them together, each
//! lane doing exactly its scalar operations in its own order (bit-identical
//! to the interpreter, whatever the chunking). With 8 iterations at once
//! (2 vectors of `f32`, 4 of `f64`; one vector for a long inner body) the
//! chains overlap.
//!
//! The body: `let`s of one float type, one serial `for` whose bounds do not
//! depend on the iteration and whose body only has `let`s, unit-stride
//! stores and updates of the outer `let`s, then `let`s and stores. Accesses are vector
//! loads and stores when unit-stride in the iteration variable, one load
//! broadcast when they do not depend on it, and lane by lane when they step
//! by more (a row of a matrix per iteration). Outside the inner loop a
//! float library function other than those `vector` inlines (`tanh`, `log`)
//! is called lane by lane. Iterations must be independent: every access to
//! a stored array stays in the iteration's own slice. Indices outside the inner loop are covered by the loop's
//! hoisted checks; those inside are checked before each step for the first
//! and the last lane (affine in the iteration variable, so that covers the
//! lanes between) over the whole inner range, and a step that fails leaves
//! the rest to the loop's checked scalar copy, which reports the fault the
//! interpreter reports.

use super::vector::{expr_ok_with, invariant, same_expr, unit_stride, Lanes, Rest};
use super::Fx;
use crate::cpu::checks::{self, access_key};
use crate::error::Result;
use crate::ir::{self, Access, Expr, ExprKind, ForLoop, ScalarType, StmtKind, VarId};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::Value as CValue;
use cranelift_codegen::ir::{types, BlockArg, InstBuilder, MemFlagsData};
use cranelift_frontend::Variable;
use std::collections::HashMap;

/// Iterations per step: independent chains enough to cover a float add's
/// latency several times over. Heavy `prange` chunks are at least this
/// long (`launch::chunk_len`).
pub(crate) const ITERATIONS: i64 = 8;

/// Inner bodies of more statements than this run one vector per step.
const LONG_BODY: usize = 4;

/// A body `lane_loop` can run, and what it needs about it.
pub(super) struct LanePlan<'m> {
    ty: ScalarType,
    inner: &'m ForLoop,
    /// The outer `let`s the inner loop updates.
    carried: Vec<VarId>,
}

/// The plan for `body` of a loop over `var`, or `None`.
pub(super) fn lane_plan<'m>(
    body: &'m ir::Block,
    var: VarId,
    kernel: &ir::Function,
    unchecked: &dyn Fn(&Access) -> bool,
) -> Option<LanePlan<'m>> {
    let mut ty: Option<ScalarType> = None;
    let mut inner: Option<&ForLoop> = None;
    let mut lets: Vec<VarId> = Vec::new();
    let mut carried: Vec<VarId> = Vec::new();
    let mut stored: Vec<&Access> = Vec::new();
    fn same_ty(ty: &mut Option<ScalarType>, t: ScalarType) -> bool {
        *ty.get_or_insert(t) == t
    }
    // Outside the inner loop: loads at any affine index the hoisted checks
    // cover.
    let outer_load = |a: &Access| unchecked(a) && affine_in(a, var);
    for s in &body.stmts {
        match &s.kind {
            StmtKind::Let { var: v, init } => {
                if kernel.var(*v).ty != init.ty
                    || !same_ty(&mut ty, init.ty)
                    || !expr_ok_with(init, init.ty, &outer_load, true)
                {
                    return None;
                }
                lets.push(*v);
            }
            StmtKind::Store { access, value } => {
                if kernel.array(access.array).elem != value.ty
                    || !same_ty(&mut ty, value.ty)
                    || !outer_load(access)
                    || !expr_ok_with(value, value.ty, &outer_load, true)
                {
                    return None;
                }
                stored.push(access);
            }
            StmtKind::For(f) if inner.is_none() => {
                let bounds = [&f.start, &f.count, &f.stride];
                if !bounds.iter().all(|e| invariant(e, var)) {
                    return None;
                }
                let covered: Vec<(usize, usize)> = checks::hoistable(&f.body, f.var)
                    .iter()
                    .map(|h| (h.access, h.dim))
                    .collect();
                let inner_load = |a: &Access| {
                    affine_in(a, var)
                        && a.needs_check
                            .iter()
                            .enumerate()
                            .all(|(d, &c)| !c || covered.contains(&(access_key(a), d)))
                };
                for t in &f.body.stmts {
                    let (v, e) = match &t.kind {
                        StmtKind::Let { var: v, init } => (*v, init),
                        // Unit-stride only: a running sum stored lane by
                        // lane into 8 rows (cumsum_rows) ran 1.5x slower
                        // than scalar at 40 MB, 16 streams per thread.
                        StmtKind::Store { access, value } => {
                            let (last, outer) = access.index.split_last().expect("an index");
                            if kernel.array(access.array).elem != value.ty
                                || !same_ty(&mut ty, value.ty)
                                || !unit_stride(last, var)
                                || !outer.iter().all(|e| invariant(e, var))
                                || !inner_load(access)
                                || !expr_ok_with(value, value.ty, &inner_load, false)
                            {
                                return None;
                            }
                            stored.push(access);
                            continue;
                        }
                        StmtKind::Assign { var: v, value } if lets.contains(v) => {
                            if !carried.contains(v) {
                                carried.push(*v);
                            }
                            (*v, value)
                        }
                        _ => return None,
                    };
                    if kernel.var(v).ty != e.ty
                        || !same_ty(&mut ty, e.ty)
                        || !expr_ok_with(e, e.ty, &inner_load, false)
                    {
                        return None;
                    }
                }
                inner = Some(f);
            }
            _ => return None,
        }
    }
    let ty = ty.filter(|t| t.is_float())?;
    // Independent iterations: every access to a stored array has, in one
    // dimension, the very index `var + k` of its first store, so iteration
    // `i` touches only its own slice (`acc[i, 0]` and `acc[i, 1]` both).
    let mut independent = true;
    let mut accesses: Vec<&Access> = Vec::new();
    crate::ir::visit::walk_block_exprs(body, &mut |e: &Expr| {
        if let ExprKind::Load(a) = &e.kind {
            accesses.push(a);
        }
    });
    accesses.extend(stored.iter().copied());
    for st in &stored {
        let own = |d: usize| {
            unit_stride(&st.index[d], var)
                && accesses
                    .iter()
                    .filter(|a| a.array == st.array)
                    .all(|a| same_expr(&a.index[d], &st.index[d]))
        };
        independent &= (0..st.index.len()).any(own);
    }
    (independent && !carried.is_empty()).then_some(LanePlan {
        ty,
        inner: inner?,
        carried,
    })
}

/// Every index of `a` is affine in `var` with an invariant coefficient.
fn affine_in(a: &Access, var: VarId) -> bool {
    fn affine(e: &Expr, var: VarId) -> bool {
        use crate::ir::BinOp;
        match &e.kind {
            ExprKind::Var(v) if *v == var => true,
            ExprKind::Binary(BinOp::Add | BinOp::Sub, a, b) => affine(a, var) && affine(b, var),
            ExprKind::Binary(BinOp::Mul, a, b) => {
                (affine(a, var) && invariant(b, var)) || (invariant(a, var) && affine(b, var))
            }
            _ => invariant(e, var),
        }
    }
    a.index
        .iter()
        .all(|e| e.ty == ScalarType::I64 && affine(e, var))
}

/// The values of one vector (one copy of the body) at this point.
type Values = HashMap<VarId, CValue>;

impl<'m> Fx<'_, '_, 'm> {
    /// Runs the iterations `start .. start + count` of a loop over `var`
    /// per `plan` as far as whole steps go and every step's inner checks
    /// pass; returns what is left for the scalar loop.
    pub(super) fn lane_loop(
        &mut self,
        var: VarId,
        start: CValue,
        count: CValue,
        body: &'m ir::Block,
        plan: LanePlan<'m>,
    ) -> Result<Rest> {
        let (vty, lanes) = if plan.ty == ScalarType::F32 {
            (types::F32X4, 4i64)
        } else {
            (types::F64X2, 2i64)
        };
        // A long inner body has independent work enough within one step
        // for one vector: nbody's (9 statements) ran 8% slower with one
        // than with two, and compiled 21% faster; matmul's one statement
        // ran 1.6x slower.
        let copies = if plan.inner.body.stmts.len() > LONG_BODY {
            1
        } else {
            ITERATIONS / lanes
        };
        let size = plan.ty.size_bytes() as i64;
        let f = plan.inner;
        let istart = self.expr(&f.start)?;
        let icount = self.expr(&f.count)?;
        let istride = self.expr(&f.stride)?;
        let inner_checks: Vec<_> = checks::hoistable(&f.body, f.var)
            .into_iter()
            .filter(|h| !self.proven.contains(&(h.access, h.dim)))
            .collect();
        let step = lanes * copies;
        let whole = self.b.ins().band_imm_s(count, !(step - 1));
        let k = self.b.declare_var(types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(k, zero);
        let (head, step_blk, exit) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        let done = self.b.append_block_param(exit, types::I64);
        let any = self.b.ins().icmp(IntCC::SignedGreaterThan, whole, zero);
        self.b
            .ins()
            .brif(any, head, &[], exit, &[BlockArg::from(zero)]);

        // Each step: the inner loop's checks for its first and last lane.
        self.b.switch_to_block(head);
        let kv = self.b.use_var(k);
        let pos = self.b.ins().iadd(start, kv);
        let scalar_var = self.var(var);
        let mut ok: Option<CValue> = None;
        if !inner_checks.is_empty() {
            for lane in [0, step - 1] {
                let at = self.b.ins().iadd_imm_s(pos, lane);
                self.b.def_var(scalar_var, at);
                let c = self.hoisted_check(f.var, istart, icount, istride, &inner_checks)?;
                ok = Some(match ok {
                    Some(o) => self.b.ins().band(o, c),
                    None => c,
                });
            }
        }
        match ok {
            Some(ok) => {
                self.b
                    .ins()
                    .brif(ok, step_blk, &[], exit, &[BlockArg::from(kv)]);
            }
            None => {
                self.b.ins().jump(step_blk, &[]);
            }
        }
        self.b.switch_to_block(step_blk);
        for h in &inner_checks {
            self.proven.insert((h.access, h.dim));
        }
        let scaled = self.b.ins().imul_imm_s(pos, size);
        let at = |u: i64| Lanes {
            var,
            scaled,
            lane0: u * lanes,
            pos,
        };
        let mut values: Vec<Values> = (0..copies).map(|_| Values::new()).collect();
        let mut carried: Vec<HashMap<VarId, Variable>> =
            (0..copies).map(|_| HashMap::new()).collect();
        let result = (|| -> Result<()> {
            for s in &body.stmts {
                match &s.kind {
                    StmtKind::Let { var: v, init } => {
                        for u in 0..copies {
                            self.trig_memo.clear();
                            let x = self.vexpr(init, vty, at(u), &values[u as usize])?;
                            if plan.carried.contains(v) {
                                let cv = self.b.declare_var(vty);
                                self.b.def_var(cv, x);
                                carried[u as usize].insert(*v, cv);
                            }
                            values[u as usize].insert(*v, x);
                        }
                    }
                    StmtKind::Store { access, value } => {
                        for u in 0..copies {
                            self.trig_memo.clear();
                            let x = self.vexpr(value, vty, at(u), &values[u as usize])?;
                            self.lane_store(access, x, at(u), s.span)?;
                        }
                    }
                    StmtKind::For(f) => {
                        self.lanes_inner(
                            f,
                            (istart, icount, istride),
                            vty,
                            &at,
                            &mut values,
                            &carried,
                        )?;
                    }
                    _ => unreachable!("the plan has no other statements"),
                }
            }
            Ok(())
        })();
        for h in &inner_checks {
            self.proven.remove(&(h.access, h.dim));
        }
        result?;
        self.trig_memo.clear();
        let k1 = self.b.ins().iadd_imm_s(kv, step);
        self.b.def_var(k, k1);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, k1, whole);
        self.b
            .ins()
            .brif(more, head, &[], exit, &[BlockArg::from(k1)]);
        self.b.switch_to_block(exit);
        let rest_start = self.b.ins().iadd(start, done);
        let rest = self.b.ins().isub(count, done);
        Ok(Rest {
            start: rest_start,
            count: rest,
            lanes: true,
        })
    }

    /// The inner loop, every copy's lanes stepping together; afterwards
    /// `values` holds the carried variables' final vectors.
    fn lanes_inner(
        &mut self,
        f: &'m ForLoop,
        (istart, icount, istride): (CValue, CValue, CValue),
        vty: cranelift_codegen::ir::Type,
        at: &dyn Fn(i64) -> Lanes,
        values: &mut [Values],
        carried: &[HashMap<VarId, Variable>],
    ) -> Result<()> {
        let n = self.b.declare_var(types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(n, zero);
        let (body_blk, exit) = (self.b.create_block(), self.b.create_block());
        // Rotated, as the scalar loops are.
        let any = self.b.ins().icmp(IntCC::SignedGreaterThan, icount, zero);
        self.b.ins().brif(any, body_blk, &[], exit, &[]);
        self.b.switch_to_block(body_blk);
        let nv = self.b.use_var(n);
        let step = self.b.ins().imul(nv, istride);
        let j = self.b.ins().iadd(istart, step);
        let jvar = self.var(f.var);
        self.b.def_var(jvar, j);
        let refresh = |fx: &mut Self, values: &mut [Values]| {
            for (vals, vars) in values.iter_mut().zip(carried) {
                for (v, cv) in vars {
                    vals.insert(*v, fx.b.use_var(*cv));
                }
            }
        };
        refresh(self, values);
        for t in &f.body.stmts {
            for (u, vals) in values.iter_mut().enumerate() {
                self.trig_memo.clear();
                match &t.kind {
                    StmtKind::Let { var: v, init } => {
                        let x = self.vexpr(init, vty, at(u as i64), vals)?;
                        vals.insert(*v, x);
                    }
                    StmtKind::Assign { var: v, value } => {
                        let x = self.vexpr(value, vty, at(u as i64), vals)?;
                        self.b.def_var(carried[u][v], x);
                        vals.insert(*v, x);
                    }
                    StmtKind::Store { access, value } => {
                        let x = self.vexpr(value, vty, at(u as i64), vals)?;
                        self.lane_store(access, x, at(u as i64), t.span)?;
                    }
                    _ => unreachable!("the plan has no other statements"),
                }
            }
        }
        let n1 = self.b.ins().iadd_imm_s(nv, 1);
        self.b.def_var(n, n1);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, n1, icount);
        self.b.ins().brif(more, body_blk, &[], exit, &[]);
        self.b.switch_to_block(exit);
        refresh(self, values);
        Ok(())
    }

    /// Stores vector `x` at `access`: one vector store when unit-stride in
    /// the lanes' variable, else lane by lane.
    fn lane_store(&mut self, access: &Access, x: CValue, at: Lanes, span: ir::Span) -> Result<()> {
        let (last, outer) = access.index.split_last().expect("an index");
        if unit_stride(last, at.var) && outer.iter().all(|e| invariant(e, at.var)) {
            let (addr, disp) = self.vector_address(access, at.var, at.scaled, at.lane0)?;
            self.b
                .ins()
                .store(MemFlagsData::new().with_notrap(), x, addr, disp);
            return Ok(());
        }
        let vty = self.b.func.dfg.value_type(x);
        let addrs = self.lane_addresses(access, at, vty.lane_count(), span)?;
        for (l, addr) in addrs.into_iter().enumerate() {
            let v = self.b.ins().extractlane(x, l as u8);
            self.b.ins().store(super::flags(), v, addr, 0);
        }
        Ok(())
    }

    /// The addresses of `access` for the `lanes` lanes of the copy `at`,
    /// whose checks are done (hoisted, or `lane_loop`'s per step). The
    /// index is affine in the lanes' variable, so each lane's address is
    /// the first's plus a constant step: two computed, the rest added.
    pub(super) fn lane_addresses(
        &mut self,
        access: &Access,
        at: Lanes,
        lanes: u32,
        span: ir::Span,
    ) -> Result<Vec<CValue>> {
        let var = self.var(at.var);
        let mut addrs = Vec::with_capacity(lanes as usize);
        for l in 0..2 {
            let i = self.b.ins().iadd_imm_s(at.pos, at.lane0 + l);
            self.b.def_var(var, i);
            addrs.push(self.address(access, span)?);
        }
        let step = self.b.ins().isub(addrs[1], addrs[0]);
        for l in 2..lanes as i64 {
            let off = self.b.ins().imul_imm_s(step, l);
            addrs.push(self.b.ins().iadd(addrs[0], off));
        }
        Ok(addrs)
    }
}
