//! Statements: control flow, stores, returns and step checks.

use super::{clif_type, flags, Fx, Mode, SiteKind, PTR};
use crate::error::Result;
use crate::ir::{self, AtomicOp, Expr, ExprKind, StmtKind};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, BlockArg, InstBuilder};

impl<'m> Fx<'_, '_, 'm> {
    pub(super) fn block(&mut self, blk: &'m ir::Block) -> Result<()> {
        for s in &blk.stmts {
            self.stmt(s)?;
        }
        Ok(())
    }

    pub(super) fn stmt(&mut self, s: &'m ir::Stmt) -> Result<()> {
        let outer = self.enter_trig_stmt(s);
        let done = self.stmt_here(s);
        self.trig_stmt = outer;
        self.trig_memo.clear();
        done
    }

    fn stmt_here(&mut self, s: &'m ir::Stmt) -> Result<()> {
        match &s.kind {
            StmtKind::Let { var, init: value } | StmtKind::Assign { var, value } => {
                let v = self.expr(value)?;
                let var = self.var(*var);
                self.b.def_var(var, v);
            }
            StmtKind::Store { access, value } => {
                let v = self.expr(value)?;
                let addr = self.address(access, s.span)?;
                self.b.ins().store(flags(), v, addr, 0);
            }
            StmtKind::Eval(e) => match &e.kind {
                ExprKind::Atomic {
                    op: AtomicOp::Add,
                    access,
                    value,
                } if self.frames.len() == 1 && self.privs.contains_key(&access.array) => {
                    // A privatized `atomic_add`: a plain wrapping add into
                    // the chunk's buffer, checked against the real shape.
                    let slot = self.privs[&access.array];
                    let off = self.offset(access, e.span)?;
                    let v = self.expr(value)?;
                    let base = self.b.ins().stack_addr(PTR, slot, 0);
                    let addr = self.b.ins().iadd(base, off);
                    let old = self.b.ins().load(clif_type(e.ty), flags(), addr, 0);
                    let new = self.b.ins().iadd(old, v);
                    self.b.ins().store(flags(), new, addr, 0);
                }
                _ => {
                    self.expr(e)?;
                }
            },
            StmtKind::If { cond, then, els } => {
                let c = self.expr(cond)?;
                let (tb, eb, join) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                self.b.ins().brif(c, tb, &[], eb, &[]);
                self.b.switch_to_block(tb);
                self.block(then)?;
                self.b.ins().jump(join, &[]);
                self.b.switch_to_block(eb);
                self.block(els)?;
                self.b.ins().jump(join, &[]);
                self.b.switch_to_block(join);
            }
            StmtKind::While { cond, body } => self.while_loop(cond, body)?,
            StmtKind::For(f) => self.for_loop(f)?,
            StmtKind::ParFor(p) => {
                if self.mode != Mode::Main || self.frames.len() != 1 {
                    return Err(self
                        .sh
                        .unsupported(s.span, "a `prange` inside another `prange`"));
                }
                self.par_call(p)?;
            }
            StmtKind::Break | StmtKind::Continue => {
                let Some(&(cont, brk)) = self.loops.last() else {
                    return Err(self
                        .sh
                        .unsupported(s.span, "`break`/`continue` outside a loop"));
                };
                let target = if matches!(s.kind, StmtKind::Break) {
                    brk
                } else {
                    cont
                };
                self.b.ins().jump(target, &[]);
                self.unreachable_block();
            }
            StmtKind::Return(value) => {
                let v = match value {
                    Some(e) => Some(self.expr(e)?),
                    None => None,
                };
                if let Some(ret) = self.frame().ret {
                    let v = v.ok_or_else(|| {
                        self.sh
                            .unsupported(s.span, "a helper `return` without a value")
                    })?;
                    self.b.ins().jump(ret, &[BlockArg::from(v)]);
                } else {
                    if self.mode != Mode::Main {
                        return Err(self.sh.unsupported(s.span, "`return` inside a `prange`"));
                    }
                    if let (Some(v), Some(ptr)) = (v, self.ret_ptr) {
                        self.b.ins().store(flags(), v, ptr, 0);
                    }
                    let zero = self.b.ins().iconst(types::I32, 0);
                    self.b.ins().return_(&[zero]);
                }
                self.unreachable_block();
            }
            StmtKind::CheckStep(e) => {
                let v = self.expr(e)?;
                let bad = self.b.ins().icmp_imm_s(IntCC::SignedLessThanOrEqual, v, 0);
                let site = self.site(e.span, SiteKind::Step);
                self.fault_if(bad, site, &[v])?;
            }
        }
        Ok(())
    }

    /// A `while` loop, rotated when its condition is small: the condition
    /// is tested before the loop and again at its end, so the body is the
    /// loop's header. Cranelift hoists loop-invariant values (`cr` of
    /// mandelbrot, computed before the loop) out of a loop of this shape,
    /// not out of one whose header only tests.
    fn while_loop(&mut self, cond: &'m Expr, body: &'m ir::Block) -> Result<()> {
        let (body_blk, exit) = (self.b.create_block(), self.b.create_block());
        let small = {
            let (mut nodes, mut calls) = (0, false);
            crate::ir::visit::walk_expr(cond, &mut |e: &Expr| {
                nodes += 1;
                calls |= matches!(e.kind, ExprKind::Call(..));
            });
            nodes <= ROTATE_MAX_NODES && !calls
        };
        let latch = self.b.create_block();
        let pinned = self.pin_invariants(body, Some(cond), &[]);
        if small {
            let c = self.expr(cond)?;
            self.b.ins().brif(c, body_blk, &[], exit, &[]);
        } else {
            self.b.ins().jump(latch, &[]);
        }
        self.b.switch_to_block(body_blk);
        self.loops.push((latch, exit));
        self.block(body)?;
        self.loops.pop();
        self.b.ins().jump(latch, &[]);
        self.b.switch_to_block(latch);
        let c = self.expr(cond)?;
        self.b.ins().brif(c, body_blk, &[], exit, &[]);
        self.b.switch_to_block(exit);
        self.unpin(pinned);
        Ok(())
    }
}

/// Largest `while` condition (in expression nodes) lowered twice to rotate
/// its loop; a larger one, or one calling a helper, is lowered once.
const ROTATE_MAX_NODES: usize = 48;
