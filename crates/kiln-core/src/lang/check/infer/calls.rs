//! Pass 1 for calls: helpers, builtins (and their method-call sugar),
//! `len`/`shape`, and atomics.

use super::{cast_hint, cast_to_hint, Callee, Infer, Mode, NameRes};
use crate::ir::{AtomicOp, Builtin, BuiltinSig, FunctionKind, ScalarType, Span, Value};
use crate::lang::ast::{Expr, ExprKind, Ident};
use crate::lang::check::builtins;
use crate::lang::check::items::{ItemRef, ParamSig};
use crate::lang::check::suggest::similar;
use crate::lang::check::types::{Class, Shape, Ty};
use crate::lang::check::{addr, strip_parens};
use crate::lang::diag::Diagnostic;

impl Infer<'_, '_> {
    pub(super) fn call(&mut self, e: &Expr, name: &Ident, args: &[Expr]) -> Ty {
        let n = name.name.as_str();
        let callee_err = |this: &mut Self, d: Diagnostic| {
            for a in args {
                this.expr(a);
            }
            this.facts.callees.insert(addr(e), Callee::Error);
            this.err(d)
        };
        if let Some(op) = builtins::atomic(n) {
            return self.atomic(e, op, args);
        }
        // A kernel or const named like a builtin (`kernel round(…)`) does not
        // hide it: kernels and consts are never called.
        let item = match self.items.lookup(n) {
            Some(ItemRef::Func(fid))
                if self.items.function(fid).kind == FunctionKind::Kernel
                    && Builtin::from_name(n).is_some() =>
            {
                None
            }
            Some(ItemRef::Const(_)) if Builtin::from_name(n).is_some() => None,
            other => other,
        };
        match item {
            Some(ItemRef::Func(fid)) => {
                let sig = self.items.function(fid);
                if sig.kind == FunctionKind::Kernel {
                    return callee_err(
                        self,
                        Diagnostic::new(
                            name.span,
                            format!("`{n}` is a kernel; kernels cannot be called"),
                        )
                        .with_hint("move the shared code into a `fn` helper and call that"),
                    );
                }
                if self.mode == Mode::Const {
                    return callee_err(self, const_only(name.span));
                }
                self.facts.calls.push((fid, name.span));
                let params = sig.params.clone();
                let ret = sig.ret;
                if params.len() != args.len() {
                    return callee_err(self, arity(name, params.len(), args.len()));
                }
                for (k, (a, p)) in args.iter().zip(&params).enumerate() {
                    let ta = self.expr(a);
                    if let ParamSig::Scalar(pt) = *p {
                        let want = self.tt.known(pt);
                        if let Err((_, found)) = self.tt.unify(want, ta) {
                            let d = Diagnostic::new(
                                a.span,
                                format!(
                                    "mismatched types: argument {} of `{n}` is `{pt}`, but this value is {}",
                                    k + 1,
                                    found.describe()
                                ),
                            );
                            self.errors
                                .push(d.with_hint(cast_to_hint(Shape::Known(pt), found)));
                        }
                    }
                }
                self.facts.callees.insert(addr(e), Callee::Helper(fid));
                match ret {
                    Some(t) => self.tt.known(t),
                    None => self.tt.error(),
                }
            }
            Some(ItemRef::Const(_)) => callee_err(
                self,
                Diagnostic::new(name.span, format!("`{n}` is a const, not a function")),
            ),
            None => match Builtin::from_name(n) {
                Some(b) => {
                    let arg_refs: Vec<&Expr> = args.iter().collect();
                    self.builtin(e, b, &arg_refs, name)
                }
                None => {
                    let mut d = if self.local(n).is_some() {
                        Diagnostic::new(name.span, format!("`{n}` is a variable, not a function"))
                    } else {
                        Diagnostic::new(name.span, format!("cannot find function `{n}`"))
                    };
                    let helpers = self
                        .items
                        .functions
                        .iter()
                        .map(|f| f.ast.name.name.as_str());
                    let candidates = helpers
                        .chain(Builtin::ALL.iter().map(|b| b.name()))
                        .chain(builtins::ATOMICS);
                    if let Some(s) = similar(n, candidates) {
                        d = d.with_hint(format!("a similar function exists: `{s}`"));
                    }
                    callee_err(self, d)
                }
            },
        }
    }

    fn builtin(&mut self, e: &Expr, b: Builtin, args: &[&Expr], name: &Ident) -> Ty {
        let tys: Vec<Ty> = args.iter().map(|a| self.expr(a)).collect();
        if args.len() != b.arity() {
            self.facts.callees.insert(addr(e), Callee::Error);
            return self.err(arity(name, b.arity(), args.len()));
        }
        self.facts.callees.insert(addr(e), Callee::Builtin(b));
        let n = b.name();
        let what = format!("the argument of `{n}`");
        let sig = b.sig();
        // Arguments that must share one type.
        let same: &[usize] = match sig {
            BuiltinSig::Select => &[1, 2],
            _ => &[0, 1, 2],
        };
        let first = same[0];
        for &k in &same[1..] {
            if k < tys.len() {
                if let Err((x, y)) = self.tt.unify(tys[first], tys[k]) {
                    let d = Diagnostic::new(
                        e.span,
                        format!(
                            "mismatched types in the arguments of `{n}`: {} and {}",
                            x.describe(),
                            y.describe()
                        ),
                    );
                    return self.err(d.with_hint(cast_hint(x, y)));
                }
            }
        }
        match sig {
            BuiltinSig::Numeric => {
                self.require(tys[0], Class::Numeric, args[0].span, &what);
                tys[0]
            }
            BuiltinSig::Float => {
                self.require(tys[0], Class::Float, args[0].span, &what);
                tys[0]
            }
            BuiltinSig::FloatPredicate => {
                self.require(tys[0], Class::Float, args[0].span, &what);
                self.tt.known(ScalarType::Bool)
            }
            BuiltinSig::Select => {
                self.require(
                    tys[0],
                    Class::Bool,
                    args[0].span,
                    "the first argument of `select`",
                );
                tys[1]
            }
        }
    }

    pub(super) fn method_call(
        &mut self,
        e: &Expr,
        receiver: &Expr,
        method: &Ident,
        args: &[Expr],
    ) -> Ty {
        let m = method.name.as_str();
        if m == "len" || m == "shape" {
            return self.array_query(e, receiver, method, args);
        }
        if let Some(b) = Builtin::from_name(m) {
            let mut all: Vec<&Expr> = vec![receiver];
            all.extend(args.iter());
            return self.builtin(e, b, &all, method);
        }
        // An unknown method on an array is one mistake, not two.
        let on_array = matches!(&strip_parens(receiver).kind,
            ExprKind::Name(id) if matches!(self.local(&id.name), Some(NameRes::Array(_))));
        if !on_array {
            self.expr(receiver);
        }
        for a in args {
            self.expr(a);
        }
        self.facts.callees.insert(addr(e), Callee::Error);
        let mut d = Diagnostic::new(method.span, format!("no method named `{m}`"));
        let candidates = Builtin::ALL
            .iter()
            .map(|b| b.name())
            .chain(["len", "shape"]);
        if let Some(s) = similar(m, candidates) {
            d = d.with_hint(format!("a similar method exists: `{s}`"));
        }
        self.err(d)
    }

    /// `a.len()` and `a.shape(d)`.
    fn array_query(&mut self, e: &Expr, receiver: &Expr, method: &Ident, args: &[Expr]) -> Ty {
        let m = method.name.as_str();
        self.facts.callees.insert(addr(e), Callee::Error);
        let array = match &strip_parens(receiver).kind {
            ExprKind::Name(id) => match self.local(&id.name) {
                Some(NameRes::Array(a)) => {
                    self.facts.names.insert(addr(id), NameRes::Array(a));
                    Some(a)
                }
                Some(NameRes::Error) => return self.tt.error(),
                _ => None,
            },
            _ => None,
        };
        let Some(a) = array else {
            let t = self.expr(receiver);
            if !self.tt.shape(t).is_error() {
                self.errors.push(Diagnostic::new(
                    receiver.span,
                    format!("`{m}()` needs an array parameter as its receiver"),
                ));
            }
            return self.tt.error();
        };
        let rank = self.facts.arrays[a.index()].rank;
        let callee = if m == "len" {
            if !args.is_empty() {
                return self.err(arity(method, 0, args.len()));
            }
            Callee::Len(a)
        } else {
            if args.len() != 1 {
                return self.err(arity(method, 1, args.len()));
            }
            let Some(d) = self.constant_index(&args[0]) else {
                return self.err(
                    Diagnostic::new(
                        args[0].span,
                        "the dimension given to `shape` must be a constant integer",
                    )
                    .with_hint("write it as a literal, e.g. `a.shape(0)`"),
                );
            };
            if d >= rank as u64 {
                return self.err(Diagnostic::new(
                    args[0].span,
                    format!(
                        "dimension {d} is out of range: `{}` has {rank} dimension{}",
                        self.facts.arrays[a.index()].name,
                        if rank == 1 { "" } else { "s" }
                    ),
                ));
            }
            Callee::Shape(a, d as u8)
        };
        self.facts.callees.insert(addr(e), callee);
        self.tt.known(ScalarType::I64)
    }

    /// A non-negative integer literal or integer const (for `shape(d)`).
    fn constant_index(&mut self, e: &Expr) -> Option<u64> {
        self.expr(e);
        match &strip_parens(e).kind {
            ExprKind::Int { value, .. } => Some(*value),
            ExprKind::Name(id) => match self.facts.names.get(&addr(id)) {
                Some(NameRes::Const(c)) => match self.consts.get(*c).copied().flatten()? {
                    Value::I32(v) => u64::try_from(v).ok(),
                    Value::U32(v) => Some(v as u64),
                    Value::I64(v) => u64::try_from(v).ok(),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }

    fn atomic(&mut self, e: &Expr, op: AtomicOp, args: &[Expr]) -> Ty {
        let n = op.name();
        self.facts.callees.insert(addr(e), Callee::Error);
        if self.mode == Mode::Const {
            for a in args {
                self.expr(a);
            }
            return self.err(const_only(e.span));
        }
        if args.len() != 2 {
            for a in args {
                self.expr(a);
            }
            return self.err(
                Diagnostic::new(
                    e.span,
                    format!("`{n}` takes 2 arguments, but {} were given", args.len()),
                )
                .with_hint(format!("write `{n}(a[i], value)`")),
            );
        }
        let is_element = matches!(&strip_parens(&args[0]).kind, ExprKind::Index { .. });
        let te = self.expr(&args[0]);
        let tv = self.expr(&args[1]);
        if !is_element {
            if self.tt.shape(te).is_error() {
                // Already reported (e.g. a whole array `a`): one error each.
                return self.tt.error();
            }
            return self.err(
                Diagnostic::new(
                    args[0].span,
                    format!("the first argument of `{n}` must be an array element"),
                )
                .with_hint(format!("write `{n}(a[i], value)`")),
            );
        }
        if let Shape::Known(ScalarType::Bool) = self.tt.shape(te) {
            return self.err(Diagnostic::new(
                args[0].span,
                format!("`{n}` does not work on `bool` elements"),
            ));
        }
        if let Err((want, found)) = self.tt.unify(te, tv) {
            let d = Diagnostic::new(
                args[1].span,
                format!(
                    "mismatched types: the element is {}, but the value is {}",
                    want.describe(),
                    found.describe()
                ),
            );
            return self.err(d.with_hint(cast_to_hint(want, found)));
        }
        self.facts.callees.insert(addr(e), Callee::Atomic(op));
        te
    }
}

fn arity(name: &Ident, want: usize, given: usize) -> Diagnostic {
    Diagnostic::new(
        name.span,
        format!(
            "`{}` takes {want} argument{}, but {given} {} given",
            name.name,
            if want == 1 { "" } else { "s" },
            if given == 1 { "was" } else { "were" }
        ),
    )
}

fn const_only(span: Span) -> Diagnostic {
    Diagnostic::new(
        span,
        "a const can only use literals, other consts, operators, casts and builtin math",
    )
}
