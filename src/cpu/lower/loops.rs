//! Serial counted loops: the plain loop, and the hoisted-bounds-check
//! strategy (one range check before the loop, an unchecked copy when it
//! passes, a fully checked copy otherwise). Chunk loops use the same code
//! and add the vector prefix (`vector`).

use super::{Fx, MAX_HOIST_DEPTH};
use crate::cpu::checks;
use crate::error::Result;
use crate::ir::{self, ForLoop, VarId};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::Value as CValue;
use cranelift_codegen::ir::{types, InstBuilder, InstructionData, Opcode};

impl<'m> Fx<'_, '_, 'm> {
    pub(super) fn for_loop(&mut self, f: &'m ForLoop) -> Result<()> {
        let start = self.expr(&f.start)?;
        let count = self.expr(&f.count)?;
        let stride = self.expr(&f.stride)?;
        self.counted_loop(f.var, start, count, stride, &f.body, false)
    }

    /// `var` takes `start + k*stride` for `k` in `0..count`. Indices affine in
    /// `var` are range-checked once before the loop; when that check passes
    /// the loop runs without them, otherwise a fully checked copy runs (so a
    /// fault is reported at the exact access and iteration).
    pub(super) fn counted_loop(
        &mut self,
        var: VarId,
        start: CValue,
        count: CValue,
        stride: CValue,
        body: &'m ir::Block,
        chunk: bool,
    ) -> Result<()> {
        let hoisted: Vec<_> = checks::hoistable(body, var)
            .into_iter()
            .filter(|h| !self.proven.contains(&(h.access, h.dim)))
            .collect();
        if hoisted.is_empty() || self.hoist_depth >= MAX_HOIST_DEPTH {
            return self.plain_loop(var, start, count, stride, body, chunk, true);
        }
        let ok = self.hoisted_check(var, start, count, stride, &hoisted)?;
        let (fast, slow, join) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        let (slow_start, slow_count) = (
            self.b.append_block_param(slow, types::I64),
            self.b.append_block_param(slow, types::I64),
        );
        self.b
            .ins()
            .brif(ok, fast, &[], slow, &[start.into(), count.into()]);
        self.b.switch_to_block(fast);
        self.hoist_depth += 1;
        for h in &hoisted {
            self.proven.insert((h.access, h.dim));
        }
        // When the loop vectorizes, its few leftover iterations run in the
        // checked copy below instead of a third, unchecked scalar copy: a
        // stencil's chunk function is a third smaller, which is a third
        // less for the register allocator (most of the compile time).
        let fast_loop = if chunk || self.is_const_one(stride) {
            self.vector_loop(var, start, count, body, chunk)
        } else {
            Ok(None)
        }
        .and_then(|vectorized| match vectorized {
            Some(rest) => {
                self.b
                    .ins()
                    .jump(slow, &[rest.start.into(), rest.count.into()]);
                Ok(Some(rest.lanes))
            }
            None => {
                self.plain_loop(var, start, count, stride, body, chunk, false)?;
                self.b.ins().jump(join, &[]);
                Ok(None)
            }
        });
        for h in &hoisted {
            self.proven.remove(&(h.access, h.dim));
        }
        let outer = self.inline_math_here;
        let depth = self.hoist_depth;
        let slow_loop = fast_loop.and_then(|vectorized| {
            self.b.switch_to_block(slow);
            self.inline_math_here |= vectorized.is_some();
            if vectorized == Some(true) {
                self.hoist_depth = MAX_HOIST_DEPTH;
            }
            self.plain_loop(var, slow_start, slow_count, stride, body, chunk, false)
        });
        self.inline_math_here = outer;
        self.hoist_depth = depth - 1;
        slow_loop?;
        self.b.ins().jump(join, &[]);
        self.b.switch_to_block(join);
        Ok(())
    }

    /// Whether every hoisted index is in range for the first and the last
    /// value of `var` (see `checks`).
    ///
    /// `E + C*v` is computed in `i64` with overflow flags: an endpoint whose
    /// exact value does not fit fails the check, which only sends the loop
    /// to its checked copy (per-access checks, the same results). Indices
    /// checked already (the same expression on the same array and
    /// dimension) are skipped, and a constant `C` is folded here: most of a
    /// stencil's indices have `C` 0 or 1, and this block is register
    /// pressure at the head of a chunk function.
    pub(super) fn hoisted_check(
        &mut self,
        var: VarId,
        start: CValue,
        count: CValue,
        stride: CValue,
        hoisted: &[checks::Hoisted],
    ) -> Result<CValue> {
        let cm1 = self.b.ins().iadd_imm_s(count, -1);
        let span = self.b.ins().imul(cm1, stride);
        let last = self.b.ins().iadd(start, span);
        let mut ok: Option<CValue> = None;
        let loop_var = self.var(var);
        for (n, h) in hoisted.iter().enumerate() {
            let seen = hoisted[..n].iter().any(|g| {
                g.array == h.array && g.dim == h.dim && checks::same_pure(&g.expr, &h.expr)
            });
            if seen {
                continue;
            }
            let shape = self.arrays[h.array.index()].shape[h.dim];
            let zero = self.b.ins().iconst(types::I64, 0);
            self.b.def_var(loop_var, zero);
            let e = self.expr(&h.expr)?;
            let ends = [Some(start), Some(last)];
            // Shapes are never negative: one unsigned compare tests
            // `0 <= val < shape`, and `C = 0` needs no endpoint.
            let (c, ends) = match h.coef {
                Some(0) => (None, [None, None]),
                Some(1) => (None, ends),
                Some(c) => (Some(self.b.ins().iconst(types::I64, c)), ends),
                None => {
                    let one = self.b.ins().iconst(types::I64, 1);
                    self.b.def_var(loop_var, one);
                    let e1 = self.expr(&h.expr)?;
                    (Some(self.b.ins().isub(e1, e)), ends)
                }
            };
            self.index_in_range(e, c, ends, shape, &mut ok);
        }
        Ok(ok.unwrap_or_else(|| self.b.ins().iconst(types::I8, 1)))
    }

    /// `ok &= 0 <= e + c*v < shape` exactly, for each `v` given (`c` 1 when
    /// `None`); with no `v`, `0 <= e < shape`.
    fn index_in_range(
        &mut self,
        e: CValue,
        c: Option<CValue>,
        vs: [Option<CValue>; 2],
        shape: CValue,
        ok: &mut Option<CValue>,
    ) {
        let mut and = |b: &mut cranelift_frontend::FunctionBuilder, x: CValue| {
            *ok = Some(match *ok {
                Some(o) => b.ins().band(o, x),
                None => x,
            });
        };
        if vs.iter().all(Option::is_none) {
            let inside = self.b.ins().icmp(IntCC::UnsignedLessThan, e, shape);
            and(&mut self.b, inside);
            return;
        }
        for v in vs.into_iter().flatten() {
            let (cv, mul_over) = match c {
                Some(c) => {
                    let (cv, o) = self.b.ins().smul_overflow(c, v);
                    (cv, Some(o))
                }
                None => (v, None),
            };
            let (val, add_over) = self.b.ins().sadd_overflow(e, cv);
            let inside = self.b.ins().icmp(IntCC::UnsignedLessThan, val, shape);
            let mut good = self.b.ins().band_not(inside, add_over);
            if let Some(o) = mul_over {
                good = self.b.ins().band_not(good, o);
            }
            and(&mut self.b, good);
        }
    }

    pub(super) fn plain_loop(
        &mut self,
        var: VarId,
        start: CValue,
        count: CValue,
        stride: CValue,
        body: &'m ir::Block,
        chunk: bool,
        vectorize: bool,
    ) -> Result<()> {
        // Chunk loops have unit stride; serial loops are vectorized when
        // their step is the constant 1.
        let vectorized = if vectorize && (chunk || self.is_const_one(stride)) {
            self.vector_loop(var, start, count, body, chunk)?
        } else {
            None
        };
        let outer = self.inline_math_here;
        let depth = self.hoist_depth;
        self.inline_math_here |= vectorized.is_some();
        let (start, count) = match vectorized {
            Some(rest) => {
                if rest.lanes {
                    self.hoist_depth = MAX_HOIST_DEPTH;
                }
                (rest.start, rest.count)
            }
            None => (start, count),
        };
        let done = self.scalar_loop(var, start, count, stride, body);
        self.inline_math_here = outer;
        self.hoist_depth = depth;
        done
    }

    /// The scalar loop of `plain_loop`.
    fn scalar_loop(
        &mut self,
        var: VarId,
        start: CValue,
        count: CValue,
        stride: CValue,
        body: &'m ir::Block,
    ) -> Result<()> {
        // Rotated: one test before the loop, then the body and the latch
        // (increment and test) end in one branch back. A header block
        // between the two would split every value live through the loop at
        // one more edge, where regalloc2 puts spills and reloads.
        let pinned = self.pin_invariants(body, None, &[var]);
        let unit = self.is_const_one(stride);
        let k = self.b.declare_var(types::I64);
        let cur = self.b.declare_var(types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(k, zero);
        self.b.def_var(cur, start);
        // With unit stride `cur` alone counts: `cur == start + count`
        // (wrapping, which is exact: `k -> start + k` is one-to-one) ends it.
        let end = unit.then(|| self.b.ins().iadd(start, count));
        let (body_blk, inc, exit) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        let any = self.b.ins().icmp(IntCC::SignedGreaterThan, count, zero);
        self.b.ins().brif(any, body_blk, &[], exit, &[]);
        self.b.switch_to_block(body_blk);
        let v = self.b.use_var(cur);
        let loop_var = self.var(var);
        self.b.def_var(loop_var, v);
        self.loops.push((inc, exit));
        self.block(body)?;
        self.loops.pop();
        self.b.ins().jump(inc, &[]);
        self.b.switch_to_block(inc);
        let c = self.b.use_var(cur);
        let c1 = self.b.ins().iadd(c, stride);
        self.b.def_var(cur, c1);
        let more = match end {
            Some(end) => self.b.ins().icmp(IntCC::NotEqual, c1, end),
            None => {
                let kv = self.b.use_var(k);
                let k1 = self.b.ins().iadd_imm_s(kv, 1);
                self.b.def_var(k, k1);
                self.b.ins().icmp(IntCC::SignedLessThan, k1, count)
            }
        };
        self.b.ins().brif(more, body_blk, &[], exit, &[]);
        self.b.switch_to_block(exit);
        self.unpin(pinned);
        Ok(())
    }

    /// Whether `v` is the integer constant 1.
    fn is_const_one(&self, v: CValue) -> bool {
        let dfg = &self.b.func.dfg;
        match dfg.value_def(v).inst().map(|i| &dfg.insts[i]) {
            Some(InstructionData::UnaryImm {
                opcode: Opcode::Iconst,
                imm,
            }) => imm.bits() == 1,
            _ => false,
        }
    }
}
