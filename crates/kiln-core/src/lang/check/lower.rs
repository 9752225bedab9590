//! Pass 2: AST → IR, using the names and types pass 1 recorded, and
//! enforcing the structural rules: mutability, stores only on `mut` arrays,
//! expression statements, `break`/`continue`/`return` placement, `prange`
//! rules and reductions, and every-path-returns. Also decides which array
//! accesses need no bounds check.

use super::infer::{Callee, Facts, NameRes, VarKind};
use super::items::Items;
use super::parallel::{self, ParState, UpdateForm};
use super::returns::always_returns;
use super::strip_parens;
use crate::ir::{
    self, Access, ArrayId, BinOp, FuncId, FunctionKind, ScalarType, Span, StmtKind as S, UnOp,
    Value, VarId,
};
use crate::lang::ast::{self, Block, Expr, ExprKind, ForIter, Ident, Place, Stmt, StmtKind};
use crate::lang::diag::Diagnostic;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LoopKind {
    Serial,
    Parallel,
}

pub struct Lower<'a, 'e> {
    pub(super) consts: &'a [Option<Value>],
    pub(super) facts: &'a Facts,
    pub(super) errors: &'e mut Vec<Diagnostic>,
    kind: FunctionKind,
    pub(super) vars: Vec<ir::Var>,
    loops: Vec<LoopKind>,
    par: Option<ParState>,
    /// Loop variables proven to lie in `0..shape(d)` of an array.
    pub(super) proofs: HashMap<VarId, (ArrayId, u8)>,
    /// Immutable variables bound directly to `x.len()` (1-D) / `x.shape(d)`.
    aliases: HashMap<VarId, (ArrayId, u8)>,
}

/// Pass 2 over function `id`.
pub fn lower_function(
    items: &Items<'_>,
    consts: &[Option<Value>],
    facts: &Facts,
    id: FuncId,
    errors: &mut Vec<Diagnostic>,
) -> ir::Function {
    let sig = items.function(id);
    let mut cx = Lower::new(consts, facts, errors, sig.kind);
    let body = cx.block(&sig.ast.body);
    if let Some(rt) = sig.ret {
        // Every path must end in `return`. A `while true` loop with no
        // `break` of its own never falls through, so it counts as returning;
        // any other loop may run zero times, so it does not.
        if !always_returns(&body) {
            cx.errors.push(
                Diagnostic::new(
                    sig.ast.name.span,
                    format!(
                        "`{}` may reach the end of its body without returning a `{rt}`",
                        sig.ast.name.name
                    ),
                )
                .with_hint("add `return …;` on every path, e.g. at the end of the body"),
            );
        }
    }
    ir::Function {
        name: sig.ast.name.name.clone(),
        kind: sig.kind,
        span: sig.ast.span,
        params: facts.params.clone(),
        ret: sig.ret,
        vars: cx.vars,
        arrays: facts.arrays.clone(),
        body,
    }
}

/// Pass 2 over a const's initialiser.
pub fn lower_const(
    consts: &[Option<Value>],
    facts: &Facts,
    e: &Expr,
    errors: &mut Vec<Diagnostic>,
) -> ir::Expr {
    Lower::new(consts, facts, errors, FunctionKind::Helper).expr(e)
}

impl<'a, 'e> Lower<'a, 'e> {
    fn new(
        consts: &'a [Option<Value>],
        facts: &'a Facts,
        errors: &'e mut Vec<Diagnostic>,
        kind: FunctionKind,
    ) -> Self {
        let vars = facts
            .vars
            .iter()
            .map(|v| ir::Var {
                name: v.name.clone(),
                ty: v.ty,
                mutable: v.mutable,
                span: v.span,
            })
            .collect();
        Lower {
            consts,
            facts,
            errors,
            kind,
            vars,
            loops: Vec::new(),
            par: None,
            proofs: HashMap::new(),
            aliases: HashMap::new(),
        }
    }

    /// A fresh immutable checker temporary.
    pub(super) fn temp(&mut self, name: &str, ty: ScalarType, span: Span) -> VarId {
        let v = VarId(self.vars.len() as u32);
        self.vars.push(ir::Var {
            name: format!("${name}"),
            ty,
            mutable: false,
            span,
        });
        v
    }

    /// `e` itself when it is a constant, a variable or an array extent
    /// (cheap and pure to re-read), else a temporary bound to it by a `Let` pushed to `out`.
    pub(super) fn once(&mut self, name: &str, e: ir::Expr, out: &mut Vec<ir::Stmt>) -> ir::Expr {
        if matches!(
            e.kind,
            ir::ExprKind::Const(_)
                | ir::ExprKind::Var(_)
                | ir::ExprKind::Len(_)
                | ir::ExprKind::Shape(..)
        ) {
            return e;
        }
        let (ty, span) = (e.ty, e.span);
        let v = self.temp(name, ty, span);
        out.push(ir::Stmt {
            kind: S::Let { var: v, init: e },
            span,
        });
        ir::Expr {
            kind: ir::ExprKind::Var(v),
            ty,
            span,
        }
    }

    // ---- statements -------------------------------------------------------

    fn block(&mut self, b: &Block) -> ir::Block {
        let mut out = Vec::new();
        for s in &b.stmts {
            self.stmt(s, &mut out);
        }
        ir::Block { stmts: out }
    }

    fn stmt(&mut self, s: &Stmt, out: &mut Vec<ir::Stmt>) {
        let span = s.span;
        let push = |out: &mut Vec<ir::Stmt>, kind| out.push(ir::Stmt { kind, span });
        match &s.kind {
            StmtKind::Let { mutable, init, .. } => {
                let init_ir = self.expr(init);
                let Some(&v) = self.facts.bound(s).first() else {
                    return;
                };
                if !mutable {
                    if let Some(proof) = self.bound_proof(init) {
                        self.aliases.insert(v, proof);
                    }
                }
                push(
                    out,
                    S::Let {
                        var: v,
                        init: init_ir,
                    },
                );
            }
            StmtKind::Assign {
                target: Place::Var(id),
                op,
                value,
            } => self.assign_var(id, *op, value, span, out),
            StmtKind::Assign {
                target:
                    Place::Index {
                        array,
                        index,
                        span: place_span,
                    },
                op,
                value,
            } => self.store(array, index, *place_span, *op, value, span, out),
            StmtKind::If { cond, then, els } => {
                let cond = self.expr(cond);
                let then = self.block(then);
                let els = els.as_ref().map(|b| self.block(b)).unwrap_or_default();
                push(out, S::If { cond, then, els });
            }
            StmtKind::While { cond, body } => {
                let cond = self.expr(cond);
                self.loops.push(LoopKind::Serial);
                let body = self.block(body);
                self.loops.pop();
                push(out, S::While { cond, body });
            }
            StmtKind::For {
                vars,
                iter: ForIter::Range { range, adapters },
                body,
            } => self.serial_for(s, vars, range, adapters, body, out),
            StmtKind::For {
                vars,
                iter:
                    ForIter::Prange {
                        ranges,
                        span: pspan,
                    },
                body,
            } => self.parallel_for(s, vars, ranges, *pspan, body, out),
            StmtKind::Break => match self.loops.last() {
                None => self
                    .errors
                    .push(Diagnostic::new(span, "`break` outside of a loop")),
                Some(LoopKind::Parallel) => self.errors.push(
                    Diagnostic::new(
                        span,
                        "`break` cannot leave a `prange` body: its iterations run in parallel",
                    )
                    .with_hint("use `continue` to end this iteration"),
                ),
                Some(LoopKind::Serial) => push(out, S::Break),
            },
            StmtKind::Continue => match self.loops.last() {
                None => self
                    .errors
                    .push(Diagnostic::new(span, "`continue` outside of a loop")),
                Some(_) => push(out, S::Continue),
            },
            StmtKind::Return(value) => {
                let value = value.as_ref().map(|e| self.expr(e));
                if self.par.is_some() {
                    self.errors.push(
                        Diagnostic::new(span, "`return` inside a `prange` body: its iterations run in parallel")
                            .with_hint("accumulate the result in a reduction variable and return it after the loop"),
                    );
                }
                push(out, S::Return(value));
            }
            StmtKind::Expr(e) => {
                let lowered = self.expr(e);
                let is_atomic = matches!(strip_parens(e).kind, ExprKind::Call { .. })
                    && matches!(self.facts.callee(strip_parens(e)), Callee::Atomic(_));
                if is_atomic {
                    push(out, S::Eval(lowered));
                } else if self.facts.expr_types.contains_key(&super::addr(e)) {
                    self.errors.push(
                        Diagnostic::new(e.span, "this expression has no effect")
                            .with_hint("only atomic updates such as `atomic_add(a[i], v)` can stand alone as statements"),
                    );
                }
            }
        }
    }

    fn assign_var(
        &mut self,
        id: &Ident,
        op: Option<BinOp>,
        value: &Expr,
        span: Span,
        out: &mut Vec<ir::Stmt>,
    ) {
        let v = match self.facts.name(id) {
            NameRes::Var(v) => v,
            NameRes::Const(_) => {
                self.expr(value);
                self.errors.push(
                    Diagnostic::new(
                        id.span,
                        format!("cannot assign to `{}`, which is a const", id.name),
                    )
                    .with_hint(format!(
                        "declare a variable instead: `let mut x = {};`",
                        id.name
                    )),
                );
                return;
            }
            NameRes::Array(_) => {
                self.expr(value);
                self.errors.push(
                    Diagnostic::new(
                        id.span,
                        format!("cannot assign to the array `{}` itself", id.name),
                    )
                    .with_hint(format!("assign to an element, e.g. `{}[i] = …`", id.name)),
                );
                return;
            }
            NameRes::Error => {
                self.expr(value);
                return;
            }
        };
        if !self.vars[v.index()].mutable {
            self.expr(value);
            let name = &id.name;
            let d = match self.facts.vars[v.index()].kind {
                VarKind::Param => {
                    Diagnostic::new(id.span, format!("cannot assign to the parameter `{name}`"))
                        .with_hint(format!(
                            "parameters are immutable; copy it first: `let mut {name} = {name};`"
                        ))
                }
                VarKind::Loop => Diagnostic::new(
                    id.span,
                    format!("cannot assign to the loop variable `{name}`"),
                ),
                VarKind::Let => Diagnostic::new(
                    id.span,
                    format!("cannot assign to `{name}`, which is not mutable"),
                )
                .with_hint(format!("declare it with `let mut {name}`")),
            };
            self.errors.push(d);
            return;
        }
        let ty = self.vars[v.index()].ty;
        let var_expr = ir::Expr {
            kind: ir::ExprKind::Var(v),
            ty,
            span: id.span,
        };
        let in_par_outer = self.par.as_ref().is_some_and(|p| p.is_outer(v));
        let value_ir = if in_par_outer {
            match parallel::classify(op, value, v, self.facts) {
                Some((rop, label, form)) => {
                    if let Some(p) = self.par.as_mut() {
                        p.note_update(v, rop, label, span);
                    }
                    match form {
                        UpdateForm::Compound(bop, e) => {
                            let rhs = self.expr(e);
                            binary(bop, var_expr, rhs, ty, value.span)
                        }
                        UpdateForm::MinMax(b, e) => {
                            let rhs = self.expr(e);
                            ir::Expr {
                                kind: ir::ExprKind::Builtin(b, vec![var_expr, rhs]),
                                ty,
                                span: value.span,
                            }
                        }
                    }
                }
                None => {
                    self.expr(value);
                    self.errors.push(parallel::race_on_assign(&id.name, span));
                    return;
                }
            }
        } else {
            let rhs = self.expr(value);
            match op {
                Some(bop) => binary(bop, var_expr, rhs, ty, id.span.to(value.span)),
                None => rhs,
            }
        };
        out.push(ir::Stmt {
            kind: S::Assign {
                var: v,
                value: value_ir,
            },
            span,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn store(
        &mut self,
        array: &Ident,
        index: &[Expr],
        place_span: Span,
        op: Option<BinOp>,
        value: &Expr,
        span: Span,
        out: &mut Vec<ir::Stmt>,
    ) {
        let NameRes::Array(a) = self.facts.name(array) else {
            for i in index {
                self.expr(i);
            }
            self.expr(value);
            return;
        };
        let param = &self.facts.arrays[a.index()];
        if !param.mutable {
            let elem = param.elem;
            let dims = vec![":"; param.rank as usize].join(", ");
            self.errors.push(
                Diagnostic::new(
                    place_span,
                    format!("cannot write to `{}`: the array is not `mut`", array.name),
                )
                .with_hint(format!(
                    "declare the parameter writable: `{}: mut {elem}[{dims}]`",
                    array.name
                )),
            );
        }
        let mut access = self.access(a, index);
        let value_ir = match op {
            None => self.expr(value),
            Some(bop) => {
                // `a[i] op= e` reads and writes one element: evaluate each
                // non-trivial index once.
                for ix in access.index.iter_mut() {
                    let e = std::mem::replace(
                        ix,
                        ir::Expr {
                            kind: ir::ExprKind::Const(Value::I64(0)),
                            ty: ScalarType::I64,
                            span,
                        },
                    );
                    *ix = self.once("idx", e, out);
                }
                let elem = self.facts.arrays[a.index()].elem;
                let load = ir::Expr {
                    kind: ir::ExprKind::Load(access.clone()),
                    ty: elem,
                    span: place_span,
                };
                let rhs = self.expr(value);
                binary(bop, load, rhs, elem, place_span.to(value.span))
            }
        };
        out.push(ir::Stmt {
            kind: S::Store {
                access,
                value: value_ir,
            },
            span,
        });
    }

    fn serial_for(
        &mut self,
        s: &Stmt,
        vars: &[Ident],
        range: &ast::RangeExpr,
        adapters: &[ast::RangeAdapter],
        body: &Block,
        out: &mut Vec<ir::Stmt>,
    ) {
        if vars.len() != 1 {
            self.errors.push(
                Diagnostic::new(s.span, "a serial `for` loop binds exactly one variable")
                    .with_hint("use `prange(a..b, c..d)` for a loop over several dimensions"),
            );
        }
        let header = self.normalise_range(range, adapters, out);
        let Some(&var) = self.facts.bound(s).first() else {
            return;
        };
        if adapters.is_empty() && !range.inclusive && is_zero(&range.start) {
            if let Some(proof) = self.bound_proof(&range.end) {
                self.proofs.insert(var, proof);
            }
        }
        self.loops.push(LoopKind::Serial);
        let body = self.block(body);
        self.loops.pop();
        let (start, count, stride) = header;
        out.push(ir::Stmt {
            kind: S::For(ir::ForLoop {
                var,
                start,
                count,
                stride,
                body,
            }),
            span: s.span,
        });
    }

    fn parallel_for(
        &mut self,
        s: &Stmt,
        vars: &[Ident],
        ranges: &[ast::RangeExpr],
        pspan: Span,
        body: &Block,
        out: &mut Vec<ir::Stmt>,
    ) {
        if self.kind == FunctionKind::Helper {
            self.errors.push(
                Diagnostic::new(pspan, "`prange` cannot be used in a helper function")
                    .with_hint("helpers are scalar code; put the parallel loop in the kernel"),
            );
        }
        let nested = self.par.is_some();
        if nested {
            self.errors.push(
                Diagnostic::new(pspan, "a `prange` cannot be nested inside another `prange`")
                    .with_hint(
                        "use one loop over several dimensions: `for (i, j) in prange(a..b, c..d)`",
                    ),
            );
        }
        if ranges.is_empty() || ranges.len() > 3 {
            self.errors.push(
                Diagnostic::new(
                    pspan,
                    format!(
                        "`prange` takes 1 to 3 ranges, but {} were given",
                        ranges.len()
                    ),
                )
                .with_hint("flatten extra dimensions into one range and compute the indices"),
            );
        } else if vars.len() != ranges.len() {
            self.errors.push(Diagnostic::new(
                s.span,
                format!(
                    "this `prange` has {} range{} but the loop binds {} variable{}",
                    ranges.len(),
                    if ranges.len() == 1 { "" } else { "s" },
                    vars.len(),
                    if vars.len() == 1 { "" } else { "s" }
                ),
            ));
        }
        let mut lowered = Vec::new();
        for r in ranges {
            if r.inclusive {
                self.errors.push(
                    Diagnostic::new(
                        r.span,
                        "`prange` takes exclusive ranges `a..b`, not `a..=b`",
                    )
                    .with_hint("write `a..b + 1`"),
                );
            }
            let lo = self.index_expr(&r.start);
            let hi = self.index_expr(&r.end);
            lowered.push((lo, hi));
        }
        let bound = self.facts.bound(s).to_vec();
        for (&v, r) in bound.iter().zip(ranges) {
            if !r.inclusive && is_zero(&r.start) {
                if let Some(proof) = self.bound_proof(&r.end) {
                    self.proofs.insert(v, proof);
                }
            }
        }
        let first_inner = bound.first().map(|v| v.0).unwrap_or(u32::MAX);
        let outer_state = if nested {
            None
        } else {
            Some(ParState::new(first_inner))
        };
        if let Some(st) = outer_state {
            self.par = Some(st);
        }
        self.loops.push(LoopKind::Parallel);
        let body_ir = self.block(body);
        self.loops.pop();
        let reductions = if nested {
            Vec::new()
        } else {
            match self.par.take() {
                Some(st) => st.finish(&self.vars, self.errors),
                None => Vec::new(),
            }
        };
        out.push(ir::Stmt {
            kind: S::ParFor(ir::ParLoop {
                vars: bound,
                ranges: lowered,
                reductions,
                body: body_ir,
            }),
            span: s.span,
        });
    }

    /// What `0..e` proves about a loop variable: `e` is `x.len()` of a 1-D
    /// array, `x.shape(d)`, or an immutable variable bound to one of those.
    fn bound_proof(&self, e: &Expr) -> Option<(ArrayId, u8)> {
        let e = strip_parens(e);
        match &e.kind {
            ExprKind::MethodCall { .. } => match self.facts.callee(e) {
                Callee::Len(a) if self.facts.arrays[a.index()].rank == 1 => Some((a, 0)),
                Callee::Shape(a, d) => Some((a, d)),
                _ => None,
            },
            ExprKind::Name(id) => match self.facts.name(id) {
                NameRes::Var(v) => self.aliases.get(&v).copied(),
                _ => None,
            },
            _ => None,
        }
    }

    // ---- expressions ------------------------------------------------------

    /// An integer expression converted to `i64` (indices, bounds).
    pub(super) fn index_expr(&mut self, e: &Expr) -> ir::Expr {
        let x = self.expr(e);
        cast_to(x, ScalarType::I64)
    }

    fn access(&mut self, a: ArrayId, index: &[Expr]) -> Access {
        let mut idx = Vec::with_capacity(index.len());
        let mut needs_check = Vec::with_capacity(index.len());
        for (d, i) in index.iter().enumerate() {
            let proven = match &strip_parens(i).kind {
                ExprKind::Name(id) => match self.facts.name(id) {
                    NameRes::Var(v) => self.proofs.get(&v) == Some(&(a, d as u8)),
                    _ => false,
                },
                _ => false,
            };
            needs_check.push(!proven);
            idx.push(self.index_expr(i));
        }
        Access {
            array: a,
            index: idx,
            needs_check,
        }
    }

    pub(super) fn expr(&mut self, e: &Expr) -> ir::Expr {
        let ty = self.facts.ty(e);
        let span = e.span;
        let mk = |kind| ir::Expr { kind, ty, span };
        let dummy = || ir::Expr {
            kind: ir::ExprKind::Const(Value::zero(ty)),
            ty,
            span,
        };
        match &e.kind {
            ExprKind::Int { value, .. } => mk(ir::ExprKind::Const(int_value(*value, false, ty))),
            ExprKind::Float { text, .. } => mk(ir::ExprKind::Const(float_value(text, false, ty))),
            ExprKind::Bool(b) => mk(ir::ExprKind::Const(Value::Bool(*b))),
            ExprKind::Name(id) => match self.facts.name(id) {
                NameRes::Var(v) => {
                    if let Some(p) = self.par.as_mut() {
                        if self.vars[v.index()].mutable {
                            p.note_read(v, id.span);
                        }
                    }
                    ir::Expr {
                        kind: ir::ExprKind::Var(v),
                        ty: self.vars[v.index()].ty,
                        span,
                    }
                }
                NameRes::Const(c) => {
                    let v = self
                        .consts
                        .get(c)
                        .copied()
                        .flatten()
                        .filter(|v| v.ty() == ty);
                    mk(ir::ExprKind::Const(v.unwrap_or(Value::zero(ty))))
                }
                _ => dummy(),
            },
            ExprKind::Unary(UnOp::Neg, inner) if matches!(inner.kind, ExprKind::Int { .. }) => {
                let ExprKind::Int { value, .. } = inner.kind else {
                    return dummy();
                };
                mk(ir::ExprKind::Const(int_value(value, true, ty)))
            }
            ExprKind::Unary(UnOp::Neg, inner) if matches!(inner.kind, ExprKind::Float { .. }) => {
                let ExprKind::Float { text, .. } = &inner.kind else {
                    return dummy();
                };
                mk(ir::ExprKind::Const(float_value(text, true, ty)))
            }
            ExprKind::Unary(op, inner) => {
                let x = self.expr(inner);
                mk(ir::ExprKind::Unary(*op, Box::new(x)))
            }
            ExprKind::Binary(op, a, b) => {
                let x = self.expr(a);
                let y = self.expr(b);
                binary(*op, x, y, ty, span)
            }
            ExprKind::Cast(inner, to) => {
                let x = self.expr(inner);
                let mut c = cast_to(x, *to);
                c.span = span;
                c
            }
            ExprKind::Call { args, .. } => match self.facts.callee(e) {
                Callee::Builtin(b) => {
                    let args = args.iter().map(|a| self.expr(a)).collect();
                    mk(ir::ExprKind::Builtin(b, args))
                }
                Callee::Helper(f) => {
                    let args = args.iter().map(|a| self.expr(a)).collect();
                    mk(ir::ExprKind::Call(f, args))
                }
                Callee::Atomic(op) => self.atomic(op, args, ty).unwrap_or_else(dummy),
                _ => {
                    for a in args {
                        self.expr(a);
                    }
                    dummy()
                }
            },
            ExprKind::MethodCall { receiver, args, .. } => match self.facts.callee(e) {
                Callee::Builtin(b) => {
                    let mut all = vec![self.expr(receiver)];
                    all.extend(args.iter().map(|a| self.expr(a)));
                    mk(ir::ExprKind::Builtin(b, all))
                }
                Callee::Len(a) => mk(ir::ExprKind::Len(a)),
                Callee::Shape(a, d) => mk(ir::ExprKind::Shape(a, d)),
                _ => dummy(),
            },
            ExprKind::Index { base, index } => match &strip_parens(base).kind {
                ExprKind::Name(id) => match self.facts.name(id) {
                    NameRes::Array(a) => {
                        let access = self.access(a, index);
                        mk(ir::ExprKind::Load(access))
                    }
                    _ => dummy(),
                },
                _ => dummy(),
            },
            ExprKind::If { cond, then, els } => {
                let c = self.expr(cond);
                let t = self.expr(then);
                let f = self.expr(els);
                mk(ir::ExprKind::If(Box::new(c), Box::new(t), Box::new(f)))
            }
            ExprKind::Paren(inner) => self.expr(inner),
        }
    }

    fn atomic(&mut self, op: ir::AtomicOp, args: &[Expr], ty: ScalarType) -> Option<ir::Expr> {
        let target = strip_parens(args.first()?);
        let ExprKind::Index { base, index } = &target.kind else {
            return None;
        };
        let ExprKind::Name(id) = &strip_parens(base).kind else {
            return None;
        };
        let NameRes::Array(a) = self.facts.name(id) else {
            return None;
        };
        if !self.facts.arrays[a.index()].mutable {
            self.errors.push(
                Diagnostic::new(
                    target.span,
                    format!("`{}` on `{}`: the array is not `mut`", op.name(), id.name),
                )
                .with_hint(format!(
                    "declare the parameter writable: `{}: mut …`",
                    id.name
                )),
            );
        }
        let access = self.access(a, index);
        let value = self.expr(args.get(1)?);
        Some(ir::Expr {
            kind: ir::ExprKind::Atomic {
                op,
                access,
                value: Box::new(value),
            },
            ty,
            // A fault of the element access is located at the array, like
            // the faults of loads and stores.
            span: target.span,
        })
    }
}

fn is_zero(e: &Expr) -> bool {
    matches!(strip_parens(e).kind, ExprKind::Int { value: 0, .. })
}

/// `a op b` typed `ty`; a shift amount is cast to the left operand's type.
fn binary(op: BinOp, a: ir::Expr, b: ir::Expr, ty: ScalarType, span: Span) -> ir::Expr {
    let b = if matches!(op, BinOp::Shl | BinOp::Shr) {
        cast_to(b, a.ty)
    } else {
        b
    };
    ir::Expr {
        kind: ir::ExprKind::Binary(op, Box::new(a), Box::new(b)),
        ty,
        span,
    }
}

/// `e as to`, or `e` itself when it already has that type.
pub(super) fn cast_to(e: ir::Expr, to: ScalarType) -> ir::Expr {
    if e.ty == to {
        return e;
    }
    let span = e.span;
    ir::Expr {
        kind: ir::ExprKind::Cast(Box::new(e)),
        ty: to,
        span,
    }
}

/// An integer literal (already range-checked) at its inferred type.
fn int_value(value: u64, negated: bool, ty: ScalarType) -> Value {
    let v: i128 = if negated {
        -(value as i128)
    } else {
        value as i128
    };
    match ty {
        ScalarType::I32 => Value::I32(v as i32),
        ScalarType::U32 => Value::U32(v as u32),
        ScalarType::I64 => Value::I64(v as i64),
        ScalarType::F32 => Value::F32(v as f32),
        ScalarType::F64 => Value::F64(v as f64),
        ScalarType::Bool => Value::Bool(false),
    }
}

/// A float literal parsed once at its inferred width (so `0.1f32` is the
/// nearest f32, not a rounded f64).
fn float_value(text: &str, negated: bool, ty: ScalarType) -> Value {
    let sign = if negated { -1.0 } else { 1.0 };
    match ty {
        ScalarType::F32 => Value::F32(sign as f32 * text.parse::<f32>().unwrap_or(0.0)),
        _ => Value::F64(sign * text.parse::<f64>().unwrap_or(0.0)),
    }
}
