//! Pass 1 over a function (or a const's expression): name resolution and
//! type inference.
//!
//! Every expression gets a type variable; constraints are unified over the
//! whole function (so `let mut n = 0; … n < max_iter` makes `n` an `i32`),
//! then the table is solved and literal ranges are checked. The results —
//! what each name and call refers to, the variables created, and the final
//! type of every expression — are recorded in `Facts`, keyed by AST node
//! address, for the lowering pass. Only type and name errors are reported
//! here; the structural rules (mutability, `prange`, `break`, …) belong to
//! the lowering pass.

mod calls;

use super::items::{ItemRef, Items, ParamSig};
use super::suggest::similar;
use super::types::{Class, Shape, Ty, TypeTable};
use super::{addr, strip_parens};
use crate::ir::{
    self, ArrayId, AtomicOp, BinOp, Builtin, FuncId, FunctionKind, ScalarType, Span, UnOp, Value,
    VarId,
};
use crate::lang::ast::{Block, Expr, ExprKind, ForIter, Ident, Place, Stmt, StmtKind};
use crate::lang::diag::Diagnostic;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarKind {
    Param,
    Let,
    Loop,
}

#[derive(Clone, Debug)]
pub struct VarInfo {
    pub name: String,
    pub ty: ScalarType,
    pub mutable: bool,
    pub span: Span,
    pub kind: VarKind,
}

/// What a name (an `Ident` in an expression or a place) refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRes {
    Var(VarId),
    Array(ArrayId),
    Const(usize),
    /// Already reported, or refers to a rejected parameter.
    Error,
}

/// What a call or method call refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callee {
    Builtin(Builtin),
    Helper(FuncId),
    Atomic(AtomicOp),
    Len(ArrayId),
    Shape(ArrayId, u8),
    Error,
}

/// Where pass 1 is: a function body or a const's initialiser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Kernel,
    Helper,
    Const,
}

/// Everything pass 1 learned, for the lowering pass.
#[derive(Default)]
pub struct Facts {
    pub vars: Vec<VarInfo>,
    pub arrays: Vec<ir::ArrayParam>,
    pub params: Vec<ir::Param>,
    /// Keyed by the address of an `Ident`.
    pub names: HashMap<usize, NameRes>,
    /// Keyed by the address of a `Call`/`MethodCall` expression.
    pub callees: HashMap<usize, Callee>,
    /// Keyed by the address of a `Let`/`For` statement: the variables it binds.
    pub bindings: HashMap<usize, Vec<VarId>>,
    /// Keyed by the address of an expression; absent where a type error made
    /// the type unknowable (the function then has errors and is discarded).
    pub expr_types: HashMap<usize, ScalarType>,
    /// Helper calls made, for the recursion check.
    pub calls: Vec<(FuncId, Span)>,
}

impl Facts {
    pub fn ty(&self, e: &Expr) -> ScalarType {
        // A missing type only happens after a reported error; any type will
        // do then, since a module with errors is never returned.
        self.expr_types
            .get(&addr(e))
            .copied()
            .unwrap_or(ScalarType::I64)
    }

    pub fn name(&self, id: &Ident) -> NameRes {
        self.names.get(&addr(id)).copied().unwrap_or(NameRes::Error)
    }

    pub fn callee(&self, e: &Expr) -> Callee {
        self.callees.get(&addr(e)).copied().unwrap_or(Callee::Error)
    }

    pub fn bound(&self, s: &Stmt) -> &[VarId] {
        self.bindings
            .get(&addr(s))
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }
}

/// A literal whose range can only be checked once its type is solved.
enum LitCheck {
    Int {
        ty: Ty,
        value: u64,
        negated: bool,
        span: Span,
    },
    Float {
        ty: Ty,
        text: String,
        span: Span,
    },
}

pub struct Infer<'a, 'e> {
    items: &'a Items<'a>,
    consts: &'a [Option<Value>],
    errors: &'e mut Vec<Diagnostic>,
    mode: Mode,
    ret: Option<ScalarType>,
    tt: TypeTable,
    scopes: Vec<HashMap<String, NameRes>>,
    var_tys: Vec<Ty>,
    facts: Facts,
    expr_ty: HashMap<usize, Ty>,
    lits: Vec<LitCheck>,
    negs: Vec<(Ty, Span)>,
}

/// Pass 1 over function `id`.
pub fn infer_function(
    items: &Items<'_>,
    consts: &[Option<Value>],
    id: FuncId,
    errors: &mut Vec<Diagnostic>,
) -> Facts {
    let sig = items.function(id);
    let mode = if sig.kind == FunctionKind::Kernel {
        Mode::Kernel
    } else {
        Mode::Helper
    };
    let mut cx = Infer::new(items, consts, errors, mode, sig.ret);
    for (p, ps) in sig.ast.params.iter().zip(&sig.params) {
        let res = match *ps {
            ParamSig::Scalar(t) => {
                let ty = cx.tt.known(t);
                let v = cx.new_var(&p.name, ty, false, VarKind::Param);
                cx.facts.params.push(ir::Param::Scalar(v));
                NameRes::Var(v)
            }
            ParamSig::Array {
                elem,
                rank,
                mutable,
            } => {
                let a = ArrayId(cx.facts.arrays.len() as u32);
                cx.facts.arrays.push(ir::ArrayParam {
                    name: p.name.name.clone(),
                    elem,
                    rank,
                    mutable,
                    span: p.name.span,
                });
                cx.facts.params.push(ir::Param::Array(a));
                NameRes::Array(a)
            }
            ParamSig::Invalid => NameRes::Error,
        };
        cx.scopes[0].insert(p.name.name.clone(), res);
    }
    cx.block(&sig.ast.body);
    cx.finish()
}

/// Pass 1 over a const's initialiser, which must have the declared type.
pub fn infer_const(
    items: &Items<'_>,
    consts: &[Option<Value>],
    value: &Expr,
    declared: ScalarType,
    errors: &mut Vec<Diagnostic>,
) -> Facts {
    let mut cx = Infer::new(items, consts, errors, Mode::Const, None);
    let t = cx.expr(value);
    let want = cx.tt.known(declared);
    if let Err((_, found)) = cx.tt.unify(want, t) {
        let d = Diagnostic::new(
            value.span,
            format!(
                "mismatched types: the const is declared `{declared}`, but its value is {}",
                found.describe()
            ),
        );
        cx.errors
            .push(d.with_hint(cast_to_hint(Shape::Known(declared), found)));
    }
    cx.finish()
}

impl<'a, 'e> Infer<'a, 'e> {
    fn new(
        items: &'a Items<'a>,
        consts: &'a [Option<Value>],
        errors: &'e mut Vec<Diagnostic>,
        mode: Mode,
        ret: Option<ScalarType>,
    ) -> Self {
        Infer {
            items,
            consts,
            errors,
            mode,
            ret,
            tt: TypeTable::default(),
            scopes: vec![HashMap::new()],
            var_tys: Vec::new(),
            facts: Facts::default(),
            expr_ty: HashMap::new(),
            lits: Vec::new(),
            negs: Vec::new(),
        }
    }

    fn err(&mut self, d: Diagnostic) -> Ty {
        self.errors.push(d);
        self.tt.error()
    }

    fn new_var(&mut self, name: &Ident, ty: Ty, mutable: bool, kind: VarKind) -> VarId {
        let v = VarId(self.facts.vars.len() as u32);
        self.facts.vars.push(VarInfo {
            name: name.name.clone(),
            ty: ScalarType::I64,
            mutable,
            span: name.span,
            kind,
        });
        self.var_tys.push(ty);
        v
    }

    fn bind(&mut self, name: &Ident, res: NameRes) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.name.clone(), res);
        }
    }

    fn local(&self, name: &str) -> Option<NameRes> {
        self.scopes.iter().rev().find_map(|s| s.get(name).copied())
    }

    /// Solves the table, checks literals and negations, records final types.
    fn finish(mut self) -> Facts {
        for lit in std::mem::take(&mut self.lits) {
            self.check_literal(lit);
        }
        for (t, span) in std::mem::take(&mut self.negs) {
            if self.tt.resolve(t) == Some(ScalarType::U32) {
                self.errors.push(
                    Diagnostic::new(span, "cannot apply unary `-` to a value of type `u32`")
                        .with_hint("unsigned values have no negation; use `0 - x` for wrapping or a signed type"),
                );
            }
        }
        let mut types = HashMap::with_capacity(self.expr_ty.len());
        for (&k, &t) in &self.expr_ty {
            if let Some(s) = self.tt.resolve(t) {
                types.insert(k, s);
            }
        }
        self.facts.expr_types = types;
        for (v, &t) in self.var_tys.iter().enumerate() {
            self.facts.vars[v].ty = self.tt.resolve(t).unwrap_or(ScalarType::I64);
        }
        self.facts
    }

    fn check_literal(&mut self, lit: LitCheck) {
        match lit {
            LitCheck::Int {
                ty,
                value,
                negated,
                span,
            } => {
                let Some(t) = self.tt.resolve(ty) else { return };
                let v = if negated {
                    -(value as i128)
                } else {
                    value as i128
                };
                let (lo, hi): (i128, i128) = match t {
                    ScalarType::I32 => (i32::MIN.into(), i32::MAX.into()),
                    // `-5` as u32 is reported as a negation of an unsigned value.
                    ScalarType::U32 if negated => return,
                    ScalarType::U32 => (0, u32::MAX.into()),
                    ScalarType::I64 => (i64::MIN.into(), i64::MAX.into()),
                    _ => return,
                };
                if v < lo || v > hi {
                    let shown = if negated {
                        format!("-{value}")
                    } else {
                        value.to_string()
                    };
                    self.errors.push(
                        Diagnostic::new(
                            span,
                            format!("the literal `{shown}` is out of range for `{t}`"),
                        )
                        .with_hint(format!(
                            "`{t}` holds {lo} to {hi}; use a wider type, e.g. `{shown}i64`"
                        )),
                    );
                }
            }
            LitCheck::Float { ty, text, span } => {
                let Some(t) = self.tt.resolve(ty) else { return };
                let finite = match t {
                    ScalarType::F32 => text.parse::<f32>().map(|x| x.is_finite()),
                    _ => text.parse::<f64>().map(|x| x.is_finite()),
                };
                match finite {
                    Ok(true) => {}
                    Ok(false) => self.errors.push(Diagnostic::new(
                        span,
                        format!("the literal `{text}` is out of range for `{t}`"),
                    )),
                    Err(_) => self.errors.push(Diagnostic::new(
                        span,
                        format!("invalid float literal `{text}`"),
                    )),
                }
            }
        }
    }

    // ---- statements -------------------------------------------------------

    fn block(&mut self, b: &Block) {
        self.scopes.push(HashMap::new());
        for s in &b.stmts {
            self.stmt(s);
        }
        self.scopes.pop();
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Let {
                mutable,
                name,
                ty,
                init,
            } => {
                let t = self.expr(init);
                let vt = match ty {
                    Some((decl, _)) => {
                        let k = self.tt.known(*decl);
                        if let Err((_, found)) = self.tt.unify(k, t) {
                            let d = Diagnostic::new(
                                init.span,
                                format!(
                                    "mismatched types: `{}` is declared `{decl}`, but its value is {}",
                                    name.name,
                                    found.describe()
                                ),
                            );
                            self.errors
                                .push(d.with_hint(cast_to_hint(Shape::Known(*decl), found)));
                        }
                        k
                    }
                    None => t,
                };
                let v = self.new_var(name, vt, *mutable, VarKind::Let);
                self.facts.bindings.insert(addr(s), vec![v]);
                self.bind(name, NameRes::Var(v));
            }
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value),
            StmtKind::If { cond, then, els } => {
                self.condition(cond, "the condition of `if`");
                self.block(then);
                if let Some(b) = els {
                    self.block(b);
                }
            }
            StmtKind::While { cond, body } => {
                self.condition(cond, "the condition of `while`");
                self.block(body);
            }
            StmtKind::For { vars, iter, body } => {
                match iter {
                    ForIter::Range { range, adapters } => {
                        self.bound(&range.start, "a range bound");
                        self.bound(&range.end, "a range bound");
                        for a in adapters {
                            if let crate::lang::ast::RangeAdapter::StepBy(k, _) = a {
                                self.bound(k, "the argument of `step_by`");
                            }
                        }
                    }
                    ForIter::Prange { ranges, .. } => {
                        for r in ranges {
                            self.bound(&r.start, "a `prange` bound");
                            self.bound(&r.end, "a `prange` bound");
                        }
                    }
                }
                self.scopes.push(HashMap::new());
                let mut bound = Vec::new();
                for v in vars {
                    let t = self.tt.known(ScalarType::I64);
                    let id = self.new_var(v, t, false, VarKind::Loop);
                    self.bind(v, NameRes::Var(id));
                    bound.push(id);
                }
                self.facts.bindings.insert(addr(s), bound);
                self.block(body);
                self.scopes.pop();
            }
            StmtKind::Break | StmtKind::Continue => {}
            StmtKind::Return(value) => self.ret_stmt(s.span, value.as_ref()),
            StmtKind::Expr(e) => {
                self.expr(e);
            }
        }
    }

    fn ret_stmt(&mut self, span: Span, value: Option<&Expr>) {
        match (value, self.ret) {
            (Some(e), Some(rt)) => {
                let t = self.expr(e);
                let want = self.tt.known(rt);
                if let Err((_, found)) = self.tt.unify(want, t) {
                    let d = Diagnostic::new(
                        e.span,
                        format!(
                            "mismatched types: the result type is `{rt}`, but this value is {}",
                            found.describe()
                        ),
                    );
                    self.errors
                        .push(d.with_hint(cast_to_hint(Shape::Known(rt), found)));
                }
            }
            (Some(e), None) => {
                self.expr(e);
                self.errors.push(
                    Diagnostic::new(
                        span,
                        "`return` with a value in a kernel that has no result type",
                    )
                    .with_hint(
                        "declare the result type, e.g. `kernel k(…) -> f64`, or write `return;`",
                    ),
                );
            }
            (None, Some(rt)) => {
                self.errors.push(
                    Diagnostic::new(
                        span,
                        format!("`return;` without a value in a function returning `{rt}`"),
                    )
                    .with_hint("return a value: `return e;`"),
                );
            }
            (None, None) => {}
        }
    }

    fn condition(&mut self, cond: &Expr, what: &str) {
        let t = self.expr(cond);
        self.require(t, Class::Bool, cond.span, what);
    }

    fn bound(&mut self, e: &Expr, what: &str) {
        let t = self.expr(e);
        self.require(t, Class::Int, e.span, what);
    }

    fn assign(&mut self, target: &Place, op: Option<BinOp>, value: &Expr) {
        let tp = self.place(target);
        let tv = self.expr(value);
        let span = value.span;
        match op {
            None => {
                if let Err((want, found)) = self.tt.unify(tp, tv) {
                    let d = Diagnostic::new(
                        span,
                        format!(
                            "mismatched types: assigning {} to a place of type {}",
                            found.describe(),
                            want.describe()
                        ),
                    );
                    self.errors.push(d.with_hint(cast_to_hint(want, found)));
                }
            }
            Some(op) => {
                self.binary_types(
                    op,
                    tp,
                    tv,
                    place_span(target),
                    span,
                    place_span(target).to(span),
                );
            }
        }
    }

    fn place(&mut self, target: &Place) -> Ty {
        match target {
            Place::Var(id) => match self.resolve_value_name(id) {
                Some(NameRes::Var(v)) => {
                    self.facts.names.insert(addr(id), NameRes::Var(v));
                    self.var_tys[v.index()]
                }
                Some(NameRes::Const(c)) => {
                    self.facts.names.insert(addr(id), NameRes::Const(c));
                    self.tt.known(self.items.consts[c].ty)
                }
                Some(res) => {
                    // Arrays are reported by the lowering pass (it says how
                    // to assign an element instead).
                    self.facts.names.insert(addr(id), res);
                    self.tt.error()
                }
                None => self.tt.error(),
            },
            Place::Index { array, index, span } => self.element(array, index, *span),
        }
    }

    // ---- expressions ------------------------------------------------------

    pub fn expr(&mut self, e: &Expr) -> Ty {
        let t = self.expr_kind(e);
        self.expr_ty.insert(addr(e), t);
        t
    }

    fn expr_kind(&mut self, e: &Expr) -> Ty {
        match &e.kind {
            ExprKind::Int { value, suffix } => self.int_literal(*value, *suffix, false, e.span),
            ExprKind::Float { text, suffix } => self.float_literal(text, *suffix, e.span),
            ExprKind::Bool(_) => self.tt.known(ScalarType::Bool),
            ExprKind::Name(id) => self.name_value(id),
            ExprKind::Unary(op, inner) => self.unary(*op, inner, e.span),
            ExprKind::Binary(op, a, b) => {
                let ta = self.expr(a);
                let tb = self.expr(b);
                self.binary_types(*op, ta, tb, a.span, b.span, e.span)
            }
            ExprKind::Cast(inner, to) => {
                let t = self.expr(inner);
                let from = self.tt.shape(t);
                if *to == ScalarType::Bool
                    && !matches!(from, Shape::Known(ScalarType::Bool) | Shape::Error)
                {
                    self.errors.push(
                        Diagnostic::new(
                            e.span,
                            format!("cannot cast {} to `bool`", from.describe()),
                        )
                        .with_hint("compare instead, e.g. `x != 0`"),
                    );
                }
                self.tt.known(*to)
            }
            ExprKind::Call { name, args } => self.call(e, name, args),
            ExprKind::MethodCall {
                receiver,
                method,
                args,
            } => self.method_call(e, receiver, method, args),
            ExprKind::Index { base, index } => match &strip_parens(base).kind {
                ExprKind::Name(id) => self.element(id, index, e.span),
                _ => {
                    self.expr(base);
                    for i in index {
                        self.expr(i);
                    }
                    self.err(Diagnostic::new(
                        base.span,
                        "only array parameters can be indexed",
                    ))
                }
            },
            ExprKind::If { cond, then, els } => {
                self.condition(cond, "the condition of `if`");
                let tt = self.expr(then);
                let te = self.expr(els);
                if let Err((a, b)) = self.tt.unify(tt, te) {
                    let d = Diagnostic::new(
                        e.span,
                        format!(
                            "`if` and `else` have different types: {} and {}",
                            a.describe(),
                            b.describe()
                        ),
                    );
                    return self.err(d.with_hint(cast_hint(a, b)));
                }
                tt
            }
            ExprKind::Paren(inner) => self.expr(inner),
        }
    }

    fn int_literal(
        &mut self,
        value: u64,
        suffix: Option<ScalarType>,
        negated: bool,
        span: Span,
    ) -> Ty {
        let ty = match suffix {
            None => self.tt.int_lit(),
            Some(ScalarType::Bool) => {
                return self.err(Diagnostic::new(
                    span,
                    "invalid suffix `bool` on a number literal",
                ));
            }
            // `1f32` is a float literal written without a point.
            Some(t) if t.is_float() => return self.tt.known(t),
            Some(t) => self.tt.known(t),
        };
        self.lits.push(LitCheck::Int {
            ty,
            value,
            negated,
            span,
        });
        ty
    }

    fn float_literal(&mut self, text: &str, suffix: Option<ScalarType>, span: Span) -> Ty {
        let ty = match suffix {
            None => self.tt.float_lit(),
            Some(t) if t.is_float() => self.tt.known(t),
            Some(t) => {
                return self.err(
                    Diagnostic::new(
                        span,
                        format!("a float literal cannot have the suffix `{t}`"),
                    )
                    .with_hint("drop the fractional part for an integer, or use `f32`/`f64`"),
                );
            }
        };
        self.lits.push(LitCheck::Float {
            ty,
            text: text.to_string(),
            span,
        });
        ty
    }

    fn unary(&mut self, op: UnOp, inner: &Expr, span: Span) -> Ty {
        let t = match (&inner.kind, op) {
            // `-128` is one literal for the range check.
            (ExprKind::Int { value, suffix }, UnOp::Neg) => {
                let t = self.int_literal(*value, *suffix, true, span);
                self.expr_ty.insert(addr(inner), t);
                t
            }
            _ => self.expr(inner),
        };
        match op {
            UnOp::Neg => {
                if self.require(t, Class::Numeric, inner.span, "the operand of unary `-`") {
                    self.negs.push((t, span));
                }
            }
            UnOp::Not => {
                self.require(t, Class::BoolOrInt, inner.span, "the operand of `!`");
            }
        }
        t
    }

    /// Types `a op b` (also used for `x op= e`).
    fn binary_types(&mut self, op: BinOp, ta: Ty, tb: Ty, sa: Span, sb: Span, span: Span) -> Ty {
        use BinOp::*;
        let sym = op.symbol();
        match op {
            Shl | Shr => {
                self.require(ta, Class::Int, sa, &format!("the left operand of `{sym}`"));
                self.require(tb, Class::Int, sb, "a shift amount");
                ta
            }
            And | Or => {
                self.require(ta, Class::Bool, sa, &format!("an operand of `{sym}`"));
                self.require(tb, Class::Bool, sb, &format!("an operand of `{sym}`"));
                self.tt.known(ScalarType::Bool)
            }
            _ => {
                if let Err((a, b)) = self.tt.unify(ta, tb) {
                    let d = Diagnostic::new(
                        span,
                        format!("mismatched types: {} and {}", a.describe(), b.describe()),
                    );
                    return self.err(d.with_hint(cast_hint(a, b)));
                }
                if op.is_comparison() {
                    return self.tt.known(ScalarType::Bool);
                }
                let class = if matches!(op, BitAnd | BitOr | BitXor) {
                    Class::BoolOrInt
                } else {
                    Class::Numeric
                };
                if !self.require(ta, class, span, &format!("the operands of `{sym}`")) {
                    return self.tt.error();
                }
                ta
            }
        }
    }

    /// Reports (and returns false) when `t` is not in `class`.
    fn require(&mut self, t: Ty, class: Class, span: Span, what: &str) -> bool {
        match self.tt.require(t, class) {
            Ok(()) => true,
            Err(found) => {
                let mut d = Diagnostic::new(
                    span,
                    format!(
                        "{what} must be {}, but it is {}",
                        class.describe(),
                        found.describe()
                    ),
                );
                if class == Class::Float && found == Shape::IntLit {
                    d = d.with_hint("write the literal with a decimal point, e.g. `2.0`");
                } else if class == Class::Bool {
                    d = d.with_hint("compare instead, e.g. `x != 0`");
                } else if let Shape::Known(from) = found {
                    if class == Class::Int && from.is_float() {
                        d = d.with_hint("convert with `as`, e.g. `(…) as i64`");
                    } else if class == Class::Float && from.is_int() {
                        d = d.with_hint("convert with `as`, e.g. `(…) as f64`");
                    }
                }
                self.errors.push(d);
                false
            }
        }
    }

    /// Looks up a name used as a value (or assignment target); reports
    /// unknown names. `None` means reported.
    fn resolve_value_name(&mut self, id: &Ident) -> Option<NameRes> {
        if let Some(res) = self.local(&id.name) {
            return Some(res);
        }
        match self.items.lookup(&id.name) {
            Some(ItemRef::Const(c)) => Some(NameRes::Const(c)),
            Some(ItemRef::Func(_)) => {
                self.errors.push(
                    Diagnostic::new(id.span, format!("`{}` is a function, not a value", id.name))
                        .with_hint(format!("call it: `{}(…)`", id.name)),
                );
                None
            }
            None => {
                let mut d =
                    Diagnostic::new(id.span, format!("cannot find `{}` in this scope", id.name));
                let locals: Vec<String> =
                    self.scopes.iter().flat_map(|s| s.keys().cloned()).collect();
                let consts = self.items.consts.iter().map(|c| c.name.name.as_str());
                if let Some(s) = similar(&id.name, locals.iter().map(|s| s.as_str()).chain(consts))
                {
                    d = d.with_hint(format!("a similar name exists: `{s}`"));
                }
                self.errors.push(d);
                None
            }
        }
    }

    fn name_value(&mut self, id: &Ident) -> Ty {
        let res = self.resolve_value_name(id);
        let (res, ty) = match res {
            Some(NameRes::Var(v)) => (NameRes::Var(v), self.var_tys[v.index()]),
            Some(NameRes::Const(c)) => (NameRes::Const(c), self.tt.known(self.items.consts[c].ty)),
            Some(NameRes::Array(_)) => {
                let t = self.err(
                    Diagnostic::new(id.span, format!("`{}` is an array, not a scalar", id.name))
                        .with_hint(format!("read one element, e.g. `{}[i]`", id.name)),
                );
                (NameRes::Error, t)
            }
            Some(NameRes::Error) | None => (NameRes::Error, self.tt.error()),
        };
        self.facts.names.insert(addr(id), res);
        ty
    }

    /// `a[i, j]`: the element type of array `a`.
    fn element(&mut self, array: &Ident, index: &[Expr], span: Span) -> Ty {
        for i in index {
            let t = self.expr(i);
            self.require(t, Class::Int, i.span, "an array index");
        }
        let res = self.local(&array.name);
        let res = match res {
            Some(r) => Some(r),
            None => {
                // Report unknown names the usual way.
                self.resolve_value_name(array).map(|_| NameRes::Error)
            }
        };
        match res {
            Some(NameRes::Array(a)) => {
                self.facts.names.insert(addr(array), NameRes::Array(a));
                let p = &self.facts.arrays[a.index()];
                let (elem, rank) = (p.elem, p.rank);
                if index.len() != rank as usize {
                    let d = Diagnostic::new(
                        span,
                        format!(
                            "`{}` has {rank} dimension{}, but {} ind{} given",
                            array.name,
                            if rank == 1 { "" } else { "s" },
                            index.len(),
                            if index.len() == 1 {
                                "ex was"
                            } else {
                                "ices were"
                            }
                        ),
                    );
                    return self.err(d);
                }
                self.tt.known(elem)
            }
            Some(NameRes::Error) | None => {
                self.facts.names.insert(addr(array), NameRes::Error);
                self.tt.error()
            }
            Some(_) => {
                self.facts.names.insert(addr(array), NameRes::Error);
                self.err(Diagnostic::new(
                    array.span,
                    format!("`{}` is not an array, so it cannot be indexed", array.name),
                ))
            }
        }
    }
}

fn place_span(p: &Place) -> Span {
    match p {
        Place::Var(id) => id.span,
        Place::Index { span, .. } => *span,
    }
}

/// A hint for a value of type `found` where `want` is required (an
/// assignment, an argument, a return): cast the value to the required type.
pub fn cast_to_hint(want: Shape, found: Shape) -> String {
    match (want, found) {
        (Shape::Known(t), Shape::Known(f)) if f != ScalarType::Bool && !(t == ScalarType::Bool) => {
            format!(
                "there are no implicit conversions; convert the value with `as`, e.g. `(…) as {t}`"
            )
        }
        // A number cannot be cast to `bool`: suggest a comparison instead.
        (Shape::Known(ScalarType::Bool), Shape::Known(f)) if f != ScalarType::Bool => {
            "a number cannot be cast to `bool`; compare instead, e.g. `x != 0`".to_string()
        }
        (Shape::Known(ScalarType::Bool), Shape::IntLit | Shape::FloatLit) => {
            "a number cannot be cast to `bool`; write `true` or `false`, or compare, e.g. `x != 0`"
                .to_string()
        }
        _ => cast_hint(want, found),
    }
}

/// A hint for a type mismatch between two operands: which cast (or literal
/// spelling) fixes it.
pub fn cast_hint(a: Shape, b: Shape) -> String {
    use ScalarType as T;
    match (a, b) {
        (Shape::Known(x), Shape::Known(y)) => {
            // Suggest the type that loses nothing: the wider float, the
            // numeric side of a bool, else `i64` for two integer types.
            let target = if x.is_float() || y.is_float() {
                if x == T::F64 || y == T::F64 {
                    T::F64
                } else {
                    T::F32
                }
            } else if x == T::Bool {
                y
            } else if y == T::Bool {
                x
            } else {
                T::I64
            };
            format!("there are no implicit conversions; convert with `as`, e.g. `(…) as {target}`")
        }
        (Shape::IntLit, Shape::Known(t)) | (Shape::Known(t), Shape::IntLit) if t.is_float() => {
            format!("write the literal with a decimal point (e.g. `1.0`), or convert with `as {t}`")
        }
        // Numbers never cast to `bool` (docs/language.md): point at the
        // cast that exists, from the bool.
        (Shape::FloatLit, Shape::Known(T::Bool)) | (Shape::Known(T::Bool), Shape::FloatLit) => {
            "a bool is not a number; convert the bool with `as f64` (1.0 for true), or choose \
             with `select(cond, a, b)`"
                .to_string()
        }
        (Shape::FloatLit, Shape::Known(t)) | (Shape::Known(t), Shape::FloatLit) => {
            format!("a float literal cannot be `{t}`; convert with `as`, e.g. `(…) as {t}`")
        }
        (Shape::IntLit, Shape::FloatLit) | (Shape::FloatLit, Shape::IntLit) => {
            "write both as floats, e.g. `1.0`, or convert with `as`".to_string()
        }
        _ => "there are no implicit conversions; convert with `as`".to_string(),
    }
}
