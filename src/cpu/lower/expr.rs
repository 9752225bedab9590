//! Expressions: variables, short circuits, inlined helper calls, checked
//! element addresses, loads and atomics.

use super::{clif_type, flags, Frame, Fx, SiteKind};
use crate::cpu::checks::access_key;
use crate::error::Result;
use crate::ir::{
    self, Access, AtomicOp, BinOp, Builtin, Expr, ExprKind, FuncId, ScalarType, Span, UnOp, Value,
};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::Value as CValue;
use cranelift_codegen::ir::{types, AtomicRmwOp, BlockArg, InstBuilder, MemFlagsData};
use std::collections::HashMap;

impl<'m> Fx<'_, '_, 'm> {
    pub(super) fn expr(&mut self, e: &Expr) -> Result<CValue> {
        Ok(match &e.kind {
            ExprKind::Const(v) => self.constant(*v),
            ExprKind::Var(id) => self.read_var(*id),
            ExprKind::Unary(op, a) => {
                let x = self.expr(a)?;
                match (op, a.ty) {
                    (UnOp::Neg, t) if t.is_float() => self.b.ins().fneg(x),
                    (UnOp::Neg, _) => self.b.ins().ineg(x),
                    (UnOp::Not, ScalarType::Bool) => self.b.ins().bxor_imm_s(x, 1),
                    (UnOp::Not, _) => self.b.ins().bnot(x),
                }
            }
            ExprKind::Binary(BinOp::And, a, b) => self.short_circuit(a, b, true)?,
            ExprKind::Binary(BinOp::Or, a, b) => self.short_circuit(a, b, false)?,
            ExprKind::Binary(op, a, b) => {
                let x = self.expr(a)?;
                let y = self.expr(b)?;
                self.binary(*op, a.ty, x, y, e.span)?
            }
            ExprKind::Cast(a) => {
                let x = self.expr(a)?;
                self.cast(x, a.ty, e.ty)
            }
            ExprKind::Builtin(f @ (Builtin::Sin | Builtin::Cos), args) if args[0].ty.is_float() => {
                match self.fused_trig(*f, &args[0])? {
                    Some(v) => v,
                    None => {
                        let x = self.expr(&args[0])?;
                        self.builtin(*f, args[0].ty, &[x])?
                    }
                }
            }
            ExprKind::Builtin(f, args) => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.expr(a)?);
                }
                let ty = args
                    .get(1)
                    .filter(|_| *f == Builtin::Select)
                    .map_or(args[0].ty, |a| a.ty);
                self.builtin(*f, ty, &vals)?
            }
            ExprKind::Call(fid, args) => self.inline_call(*fid, args)?,
            ExprKind::If(c, a, b) => {
                let cv = self.expr(c)?;
                let (tb, eb, join) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                self.b.append_block_param(join, clif_type(e.ty));
                self.b.ins().brif(cv, tb, &[], eb, &[]);
                self.b.switch_to_block(tb);
                let x = self.expr(a)?;
                self.b.ins().jump(join, &[BlockArg::from(x)]);
                self.b.switch_to_block(eb);
                let y = self.expr(b)?;
                self.b.ins().jump(join, &[BlockArg::from(y)]);
                self.b.switch_to_block(join);
                self.b.block_params(join)[0]
            }
            ExprKind::Load(acc) => {
                let addr = self.address(acc, e.span)?;
                let ty = clif_type(self.sh.kernel.array(acc.array).elem);
                self.b.ins().load(ty, flags(), addr, 0)
            }
            ExprKind::Len(a) => self.arrays[a.index()].len,
            ExprKind::Shape(a, d) => self.arrays[a.index()].shape[(*d as usize).min(2)],
            ExprKind::Atomic { op, access, value } => {
                // Arguments left to right: the element (checked), the value.
                let addr = self.address(access, e.span)?;
                let v = self.expr(value)?;
                self.atomic(*op, e.ty, addr, v)
            }
        })
    }

    pub(super) fn short_circuit(&mut self, a: &Expr, b: &Expr, is_and: bool) -> Result<CValue> {
        let x = self.expr(a)?;
        if speculatable(b) {
            // Evaluating `b` when `a` decides changes nothing observable, and
            // without the branch a loop condition such as mandelbrot's
            // `n < max_iter && zr * zr + zi * zi <= 4.0` stays one block:
            // Cranelift would otherwise sink the body's values into the
            // right-hand block and compute them twice.
            let y = self.expr(b)?;
            return Ok(if is_and {
                self.b.ins().band(x, y)
            } else {
                self.b.ins().bor(x, y)
            });
        }
        let (rhs, join) = (self.b.create_block(), self.b.create_block());
        self.b.append_block_param(join, types::I8);
        if is_and {
            self.b.ins().brif(x, rhs, &[], join, &[BlockArg::from(x)]);
        } else {
            self.b.ins().brif(x, join, &[BlockArg::from(x)], rhs, &[]);
        }
        self.b.switch_to_block(rhs);
        let y = self.expr(b)?;
        self.b.ins().jump(join, &[BlockArg::from(y)]);
        self.b.switch_to_block(join);
        Ok(self.b.block_params(join)[0])
    }

    pub(super) fn inline_call(&mut self, fid: FuncId, args: &[Expr]) -> Result<CValue> {
        let callee = self.sh.module.function(fid);
        if self.frames.len() > 64 {
            return Err(self
                .sh
                .unsupported(callee.span, "helper calls nested too deeply"));
        }
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(self.expr(a)?);
        }
        let ret_ty = callee.ret.unwrap_or(ScalarType::I32);
        let join = self.b.create_block();
        self.b.append_block_param(join, clif_type(ret_ty));
        self.frames.push(Frame {
            func: callee,
            vars: HashMap::new(),
            pinned: HashMap::new(),
            ret: Some(join),
        });
        let outer_loops = std::mem::take(&mut self.loops);
        for (p, v) in callee.params.iter().zip(vals) {
            if let ir::Param::Scalar(id) = p {
                let var = self.var(*id);
                self.b.def_var(var, v);
            }
        }
        let body = self.block(&callee.body);
        self.loops = outer_loops;
        body?;
        // Every path of a helper returns; this jump is unreachable.
        let zero = self.constant(Value::zero(ret_ty));
        self.b.ins().jump(join, &[BlockArg::from(zero)]);
        self.frames.pop();
        self.b.switch_to_block(join);
        Ok(self.b.block_params(join)[0])
    }

    /// Address of an element, bounds-checked in every dimension that needs
    /// it (one branch per access).
    pub(super) fn address(&mut self, acc: &Access, span: Span) -> Result<CValue> {
        let off = self.offset(acc, span)?;
        let ptr = self.arrays[acc.array.index()].ptr;
        Ok(self.b.ins().iadd(ptr, off))
    }

    /// Byte offset of an element from its array's start, bounds-checked
    /// like `address`.
    pub(super) fn offset(&mut self, acc: &Access, span: Span) -> Result<CValue> {
        let arr = self.arrays[acc.array.index()];
        let mut idx = Vec::with_capacity(acc.index.len());
        for i in &acc.index {
            idx.push(self.expr(i)?);
        }
        let key = access_key(acc);
        let mut bad: Option<CValue> = None;
        for (d, &i) in idx.iter().enumerate() {
            if !acc.needs_check.get(d).copied().unwrap_or(true) || self.proven.contains(&(key, d)) {
                continue;
            }
            let out = self
                .b
                .ins()
                .icmp(IntCC::UnsignedGreaterThanOrEqual, i, arr.shape[d]);
            bad = Some(match bad {
                Some(b) => self.b.ins().bor(b, out),
                None => out,
            });
        }
        if let Some(bad) = bad {
            let site = self.site(
                span,
                SiteKind::Index {
                    array: acc.array,
                    rank: idx.len() as u8,
                },
            );
            self.fault_if(bad, site, &idx)?;
        }
        let mut flat = idx[0];
        for d in 1..idx.len() {
            let m = self.b.ins().imul(flat, arr.shape[d]);
            flat = self.b.ins().iadd(m, idx[d]);
        }
        let size = self.sh.kernel.array(acc.array).elem.size_bytes();
        Ok(self.b.ins().ishl_imm_s(flat, size.trailing_zeros() as i64))
    }

    pub(super) fn atomic(
        &mut self,
        op: AtomicOp,
        ty: ScalarType,
        addr: CValue,
        v: CValue,
    ) -> CValue {
        let f = flags();
        if ty.is_int() {
            let signed = ty.is_signed();
            let rmw = match (op, signed) {
                (AtomicOp::Add, _) => AtomicRmwOp::Add,
                (AtomicOp::Min, true) => AtomicRmwOp::Smin,
                (AtomicOp::Min, false) => AtomicRmwOp::Umin,
                (AtomicOp::Max, true) => AtomicRmwOp::Smax,
                (AtomicOp::Max, false) => AtomicRmwOp::Umax,
            };
            return self.b.ins().atomic_rmw(clif_type(ty), f, rmw, addr, v);
        }
        // Floats: compare-and-swap loop on the bits.
        let fty = clif_type(ty);
        let ity = if ty == ScalarType::F32 {
            types::I32
        } else {
            types::I64
        };
        let init = self.b.ins().atomic_load(ity, f, addr);
        let (retry, done) = (self.b.create_block(), self.b.create_block());
        self.b.append_block_param(retry, ity);
        self.b.append_block_param(done, ity);
        self.b.ins().jump(retry, &[BlockArg::from(init)]);
        self.b.switch_to_block(retry);
        let cur = self.b.block_params(retry)[0];
        let old = self.b.ins().bitcast(fty, MemFlagsData::new(), cur);
        let new = match op {
            AtomicOp::Add => self.b.ins().fadd(old, v),
            AtomicOp::Min => self.float_minmax(old, v, true),
            AtomicOp::Max => self.float_minmax(old, v, false),
        };
        let new_bits = self.b.ins().bitcast(ity, MemFlagsData::new(), new);
        let seen = self.b.ins().atomic_cas(f, addr, cur, new_bits);
        let same = self.b.ins().icmp(IntCC::Equal, seen, cur);
        self.b.ins().brif(
            same,
            done,
            &[BlockArg::from(cur)],
            retry,
            &[BlockArg::from(seen)],
        );
        self.b.switch_to_block(done);
        let bits = self.b.block_params(done)[0];
        self.b.ins().bitcast(fty, MemFlagsData::new(), bits)
    }
}

/// Largest right-hand side of `&&`/`||` (in expression nodes) that is
/// evaluated unconditionally when it is [`speculatable`].
const SPECULATE_MAX_NODES: usize = 16;

/// Whether `e` is small and can neither fault nor have an effect, so that
/// evaluating it when its value is not needed is invisible: no loads (an
/// index may be out of bounds exactly when the left side guards it), calls,
/// atomics, integer division, remainders (float `%` is a call),
/// conditionals or transcendental builtins.
fn speculatable(e: &Expr) -> bool {
    let mut nodes = 0;
    let mut ok = true;
    crate::ir::visit::walk_expr(e, &mut |x: &Expr| {
        nodes += 1;
        ok &= match &x.kind {
            ExprKind::Const(_)
            | ExprKind::Var(_)
            | ExprKind::Len(_)
            | ExprKind::Shape(..)
            | ExprKind::Unary(..)
            | ExprKind::Cast(_) => true,
            ExprKind::Binary(BinOp::Div, a, _) => a.ty.is_float(),
            ExprKind::Binary(BinOp::Rem, ..) => false,
            ExprKind::Binary(..) => true,
            ExprKind::Builtin(Builtin::Min | Builtin::Max | Builtin::Abs | Builtin::Sqrt, _) => {
                true
            }
            _ => false,
        };
    });
    ok && nodes <= SPECULATE_MAX_NODES
}
