//! Parallel loops: the serial side of a `prange` (`par_call`: bounds,
//! captures and reductions into stack buffers, then the runtime call) and
//! the chunk function that runs a slice of its flattened index space (1-D
//! counted loop or 2-D/3-D row walk, private `atomic_add` buffers). After
//! a fault the driver starts no chunk past the faulting one; chunks already
//! running finish (at most 1/1024 of the loop each, see `launch`), so the
//! loops do not poll: a poll in every chunk loop cost 5-10% of a small
//! kernel's compile time.

use super::{clif_type, flags, ChunkJob, Fx, PRIVATE_MAX_LEN, PTR};
use crate::cpu::checks;
use crate::cpu::launch::{ParInfo, BOUNDS_WORDS};
use crate::error::Result;
use crate::ir::visit::{each_child, stmt_exprs, walk_expr, walk_stmts};
use crate::ir::{self, ArrayId, AtomicOp, Expr, ExprKind, ParLoop, StmtKind, VarId};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::Value as CValue;
use cranelift_codegen::ir::{
    types, AtomicRmwOp, BlockArg, InstBuilder, StackSlot, StackSlotData, StackSlotKind,
};
use cranelift_frontend::Variable;
use std::collections::HashSet;

impl<'m> Fx<'_, '_, 'm> {
    pub(super) fn build_chunk(&mut self, job: &ChunkJob<'m>) -> Result<()> {
        let params = self.entry();
        let (caps, start, end, partials) = (params[1], params[2], params[3], params[4]);
        self.chunk_reductions = job
            .par
            .reductions
            .iter()
            .filter(|r| {
                matches!(
                    r.op,
                    ir::ReduceOp::Add | ir::ReduceOp::Min | ir::ReduceOp::Max
                ) && self.sh.kernel.var(r.var).ty.is_float()
            })
            .map(|r| (r.var, r.op))
            .collect();
        let kernel = self.sh.kernel;
        let rank = job.par.vars.len();
        let mut lo = Vec::new();
        let mut n = Vec::new();
        for d in 0..rank {
            lo.push(self.b.ins().load(types::I64, flags(), caps, 16 * d as i32));
            n.push(
                self.b
                    .ins()
                    .load(types::I64, flags(), caps, 16 * d as i32 + 8),
            );
        }
        for (k, v) in job.captures.iter().enumerate() {
            let ty = clif_type(kernel.var(*v).ty);
            let val = self
                .b
                .ins()
                .load(ty, flags(), caps, 8 * (BOUNDS_WORDS + k) as i32);
            let var = self.var(*v);
            self.b.def_var(var, val);
        }
        for r in &job.par.reductions {
            let ty = kernel.var(r.var).ty;
            let id = self.constant(r.op.identity(ty));
            let var = self.var(r.var);
            self.b.def_var(var, id);
        }
        let privs = privatizable(kernel, &job.par.body);
        if privs.is_empty() {
            self.chunk_loop(job, &lo, &n, start, end)?;
        } else {
            // Two copies of the loop: with private buffers when every such
            // array is small enough, with per-element atomics otherwise.
            let mut small: Option<CValue> = None;
            for a in &privs {
                let len = self.arrays[a.index()].len;
                let ok =
                    self.b
                        .ins()
                        .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, len, PRIVATE_MAX_LEN);
                small = Some(match small {
                    Some(s) => self.b.ins().band(s, ok),
                    None => ok,
                });
            }
            let (pblk, ablk, join) = (
                self.b.create_block(),
                self.b.create_block(),
                self.b.create_block(),
            );
            self.b
                .ins()
                .brif(small.expect("a candidate"), pblk, &[], ablk, &[]);
            self.b.switch_to_block(pblk);
            for &a in &privs {
                let elem = kernel.array(a).elem;
                let slot = self.b.create_sized_stack_slot(StackSlotData::new(
                    StackSlotKind::ExplicitSlot,
                    PRIVATE_MAX_LEN as u32 * elem.size_bytes() as u32,
                    3,
                ));
                self.private_pass(a, slot, false);
                self.privs.insert(a, slot);
            }
            let looped = self.chunk_loop(job, &lo, &n, start, end);
            let slots = std::mem::take(&mut self.privs);
            looped?;
            for &a in &privs {
                self.private_pass(a, slots[&a], true);
            }
            self.b.ins().jump(join, &[]);
            self.b.switch_to_block(ablk);
            self.chunk_loop(job, &lo, &n, start, end)?;
            self.b.ins().jump(join, &[]);
            self.b.switch_to_block(join);
        }
        for (r, red) in job.par.reductions.iter().enumerate() {
            let var = self.var(red.var);
            let v = self.b.use_var(var);
            self.b.ins().store(flags(), v, partials, 8 * r as i32);
        }
        let zero = self.b.ins().iconst(types::I32, 0);
        self.b.ins().return_(&[zero]);
        self.b.seal_all_blocks();
        Ok(())
    }

    /// The loop over `start..end` of a chunk.
    pub(super) fn chunk_loop(
        &mut self,
        job: &ChunkJob<'m>,
        lo: &[CValue],
        n: &[CValue],
        start: CValue,
        end: CValue,
    ) -> Result<()> {
        let body = &job.par.body;
        if job.par.vars.len() == 1 {
            let first = self.b.ins().iadd(lo[0], start);
            let count = self.b.ins().isub(end, start);
            let one = self.b.ins().iconst(types::I64, 1);
            self.counted_loop(job.par.vars[0], first, count, one, body, true)
        } else {
            self.flat_loop(&job.par.vars, lo, n, start, end, body)
        }
    }

    /// On an early exit of a privatized chunk: merges what it counted so
    /// far, so that its updates before a fault stay visible as with atomics.
    pub(super) fn merge_privates(&mut self) {
        let mut privs: Vec<(ArrayId, StackSlot)> =
            self.privs.iter().map(|(a, s)| (*a, *s)).collect();
        privs.sort_by_key(|p| p.0);
        for (a, slot) in privs {
            self.private_pass(a, slot, true);
        }
    }

    /// A loop over the `len()` elements of array `a`'s private buffer
    /// `slot`: zeroes them, or (`merge`) atomically adds each nonzero one
    /// into `a`.
    pub(super) fn private_pass(&mut self, a: ArrayId, slot: StackSlot, merge: bool) {
        let arr = self.arrays[a.index()];
        let elem = self.sh.kernel.array(a).elem;
        let ty = clif_type(elem);
        let shift = elem.size_bytes().trailing_zeros() as i64;
        let base = self.b.ins().stack_addr(PTR, slot, 0);
        let (header, body, exit) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.append_block_param(header, types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.ins().jump(header, &[BlockArg::from(zero)]);
        self.b.switch_to_block(header);
        let k = self.b.block_params(header)[0];
        let more = self.b.ins().icmp(IntCC::SignedLessThan, k, arr.len);
        self.b.ins().brif(more, body, &[], exit, &[]);
        self.b.switch_to_block(body);
        let off = self.b.ins().ishl_imm_s(k, shift);
        let paddr = self.b.ins().iadd(base, off);
        let next = self.b.ins().iadd_imm_s(k, 1);
        if merge {
            let v = self.b.ins().load(ty, flags(), paddr, 0);
            let (add, skip) = (self.b.create_block(), self.b.create_block());
            self.b.ins().brif(v, add, &[], skip, &[]);
            self.b.switch_to_block(add);
            let addr = self.b.ins().iadd(arr.ptr, off);
            self.b
                .ins()
                .atomic_rmw(ty, flags(), AtomicRmwOp::Add, addr, v);
            self.b.ins().jump(skip, &[]);
            self.b.switch_to_block(skip);
        } else {
            let z = self.b.ins().iconst(ty, 0);
            self.b.ins().store(flags(), z, paddr, 0);
        }
        self.b.ins().jump(header, &[BlockArg::from(next)]);
        self.b.switch_to_block(exit);
    }

    /// A 2-D/3-D chunk: walks `start..end` of the flattened space row by
    /// row. Each row segment is a counted loop over the innermost variable,
    /// so stencil-like indices get their checks hoisted like a serial loop's
    /// (the outer variables are invariant inside it).
    pub(super) fn flat_loop(
        &mut self,
        vars: &[VarId],
        lo: &[CValue],
        n: &[CValue],
        start: CValue,
        end: CValue,
        body: &'m ir::Block,
    ) -> Result<()> {
        let rank = vars.len();
        let last = rank - 1;
        let mut idx = vec![start; rank];
        let mut rest = start;
        for d in (1..rank).rev() {
            let q = self.b.ins().udiv(rest, n[d]);
            let qn = self.b.ins().imul(q, n[d]);
            idx[d] = self.b.ins().isub(rest, qn);
            rest = q;
        }
        idx[0] = rest;
        let counters: Vec<Variable> = (0..rank).map(|_| self.b.declare_var(types::I64)).collect();
        for d in 0..rank {
            self.b.def_var(counters[d], idx[d]);
        }
        let flat = self.b.declare_var(types::I64);
        self.b.def_var(flat, start);
        let header = self.b.create_block();
        let row = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let f = self.b.use_var(flat);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, f, end);
        self.b.ins().brif(more, row, &[], exit, &[]);
        self.b.switch_to_block(row);
        for d in 0..last {
            let c = self.b.use_var(counters[d]);
            let v = self.b.ins().iadd(lo[d], c);
            let var = self.var(vars[d]);
            self.b.def_var(var, v);
        }
        let cj = self.b.use_var(counters[last]);
        let row_left = self.b.ins().isub(n[last], cj);
        let chunk_left = self.b.ins().isub(end, f);
        let seg = self.b.ins().smin(row_left, chunk_left);
        let first = self.b.ins().iadd(lo[last], cj);
        let one = self.b.ins().iconst(types::I64, 1);
        self.counted_loop(vars[last], first, seg, one, body, true)?;
        let f = self.b.use_var(flat);
        let f1 = self.b.ins().iadd(f, seg);
        self.b.def_var(flat, f1);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(counters[last], zero);
        // Next row: increment the next-inner counter and carry outwards.
        let mut carry = self.b.ins().iconst(types::I8, 1);
        for d in (0..last).rev() {
            let c = self.b.use_var(counters[d]);
            let cx = self.b.ins().uextend(types::I64, carry);
            let c1 = self.b.ins().iadd(c, cx);
            if d > 0 {
                let wrap = self.b.ins().icmp(IntCC::Equal, c1, n[d]);
                let c2 = self.b.ins().select(wrap, zero, c1);
                self.b.def_var(counters[d], c2);
                carry = wrap;
            } else {
                self.b.def_var(counters[d], c1);
            }
        }
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(exit);
        Ok(())
    }

    /// A `prange` in serial code: store bounds, captures and the reduction
    /// variables in stack buffers, run the chunks, read the reductions back.
    pub(super) fn par_call(&mut self, p: &'m ParLoop) -> Result<()> {
        let kernel = self.sh.kernel;
        let mut exclude: Vec<VarId> = p.vars.clone();
        exclude.extend(p.reductions.iter().map(|r| r.var));
        let captures = checks::captures(&p.body, &exclude);
        let words = BOUNDS_WORDS + captures.len();
        let caps = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            8 * words as u32,
            3,
        ));
        let caps_ptr = self.b.ins().stack_addr(PTR, caps, 0);
        for (d, (lo, hi)) in p.ranges.iter().enumerate() {
            let lo = self.expr(lo)?;
            let hi = self.expr(hi)?;
            let diff = self.b.ins().isub(hi, lo);
            let nonempty = self.b.ins().icmp(IntCC::SignedGreaterThan, hi, lo);
            let zero = self.b.ins().iconst(types::I64, 0);
            let n = self.b.ins().select(nonempty, diff, zero);
            self.b.ins().store(flags(), lo, caps_ptr, 16 * d as i32);
            self.b.ins().store(flags(), n, caps_ptr, 16 * d as i32 + 8);
        }
        for (k, v) in captures.iter().enumerate() {
            let var = self.var(*v);
            let val = self.b.use_var(var);
            self.b
                .ins()
                .store(flags(), val, caps_ptr, 8 * (BOUNDS_WORDS + k) as i32);
        }
        let nred = p.reductions.len().max(1);
        let reds = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            8 * nred as u32,
            3,
        ));
        let reds_ptr = self.b.ins().stack_addr(PTR, reds, 0);
        let zero = self.b.ins().iconst(types::I64, 0);
        for r in 0..nred {
            self.b.ins().store(flags(), zero, reds_ptr, 8 * r as i32);
        }
        for (r, red) in p.reductions.iter().enumerate() {
            let var = self.var(red.var);
            let val = self.b.use_var(var);
            self.b.ins().store(flags(), val, reds_ptr, 8 * r as i32);
        }
        let id = self.sh.pars.len();
        self.sh.pars.push(ParInfo {
            rank: p.vars.len(),
            reductions: p
                .reductions
                .iter()
                .map(|r| (r.op, kernel.var(r.var).ty))
                .collect(),
            heavy: checks::has_loop(&p.body, self.sh.module, 0),
            first_var: p.vars[0],
        });
        self.sh.jobs.push(ChunkJob {
            id,
            par: p,
            captures,
        });
        let f = self.import(
            "kiln_cpu_par",
            &[PTR, types::I64, PTR, PTR],
            Some(types::I32),
        )?;
        let id_v = self.b.ins().iconst(types::I64, id as i64);
        let call = self.b.ins().call(f, &[self.ctx, id_v, caps_ptr, reds_ptr]);
        let status = self.b.inst_results(call)[0];
        let (fail, ok) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(status, fail, &[], ok, &[]);
        self.b.switch_to_block(fail);
        self.b.set_cold_block(fail);
        let one = self.b.ins().iconst(types::I32, 1);
        self.b.ins().return_(&[one]);
        self.b.switch_to_block(ok);
        for (r, red) in p.reductions.iter().enumerate() {
            let ty = clif_type(kernel.var(red.var).ty);
            let v = self.b.ins().load(ty, flags(), reds_ptr, 8 * r as i32);
            let var = self.var(red.var);
            self.b.def_var(var, v);
        }
        Ok(())
    }
}

/// The arrays a `prange` body uses only as the target of integer
/// `atomic_add`s whose result is unused (`StmtKind::Eval`): no other load,
/// store or atomic of them anywhere in the body. Their updates commute and
/// wrap, so counting them privately per chunk and merging gives the same
/// bits. (Helpers cannot access arrays.)
fn privatizable(kernel: &ir::Function, body: &ir::Block) -> Vec<ArrayId> {
    fn accessed(bad: &mut HashSet<ArrayId>, e: &Expr) {
        walk_expr(e, &mut |x| {
            if let ExprKind::Load(acc) | ExprKind::Atomic { access: acc, .. } = &x.kind {
                bad.insert(acc.array);
            }
        });
    }
    let mut good = HashSet::new();
    let mut bad = HashSet::new();
    walk_stmts(body, &mut |s| match &s.kind {
        StmtKind::Eval(
            e @ Expr {
                kind:
                    ExprKind::Atomic {
                        op: AtomicOp::Add,
                        access: acc,
                        ..
                    },
                ..
            },
        ) if e.ty.is_int() && kernel.array(acc.array).elem.is_int() => {
            good.insert(acc.array);
            each_child(e, |x| accessed(&mut bad, x));
        }
        kind => {
            if let StmtKind::Store { access: acc, .. } = kind {
                bad.insert(acc.array);
            }
            stmt_exprs(s, |e| accessed(&mut bad, e));
        }
    });
    let mut out: Vec<ArrayId> = good.difference(&bad).copied().collect();
    out.sort();
    out
}
