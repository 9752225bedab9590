//! The IR's type rules, checked on every module the checker produces: a
//! checker bug then surfaces as a located internal error instead of code that
//! one backend rejects and another silently miscompiles. It checks what
//! backends rely on (the invariants at the top of `ir/mod.rs`); it does not
//! re-check the language's rules.

use super::*;

/// An ill-typed node: where, and what is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifyError {
    pub function: String,
    pub span: Span,
    pub message: String,
}

/// Checks every function of `m`.
pub fn verify(m: &Module) -> Result<(), VerifyError> {
    for f in &m.functions {
        let v = Verifier { m, f };
        v.block(&f.body)?;
    }
    Ok(())
}

struct Verifier<'a> {
    m: &'a Module,
    f: &'a Function,
}

type R = Result<(), VerifyError>;

impl Verifier<'_> {
    fn fail(&self, span: Span, message: String) -> R {
        Err(VerifyError {
            function: self.f.name.clone(),
            span,
            message,
        })
    }

    fn want(&self, e: &Expr, ty: ScalarType, what: &str) -> R {
        if e.ty != ty {
            return self.fail(e.span, format!("{what} has type {}, expected {ty}", e.ty));
        }
        Ok(())
    }

    fn var_ty(&self, v: VarId, span: Span) -> Result<ScalarType, VerifyError> {
        match self.f.vars.get(v.index()) {
            Some(var) => Ok(var.ty),
            None => Err(VerifyError {
                function: self.f.name.clone(),
                span,
                message: format!("unknown variable v{}", v.0),
            }),
        }
    }

    fn access(&self, a: &Access, span: Span) -> Result<ScalarType, VerifyError> {
        let Some(arr) = self.f.arrays.get(a.array.index()) else {
            return self
                .fail(span, format!("unknown array {}", a.array.0))
                .map(|_| ScalarType::Bool);
        };
        if a.index.len() != arr.rank as usize || a.needs_check.len() != arr.rank as usize {
            return self
                .fail(
                    span,
                    format!("access to `{}` has the wrong number of indices", arr.name),
                )
                .map(|_| arr.elem);
        }
        for i in &a.index {
            self.expr(i)?;
            self.want(i, ScalarType::I64, "an index")?;
        }
        Ok(arr.elem)
    }

    fn block(&self, b: &Block) -> R {
        b.stmts.iter().try_for_each(|s| self.stmt(s))
    }

    fn stmt(&self, s: &Stmt) -> R {
        use ScalarType as T;
        match &s.kind {
            StmtKind::Let { var, init } | StmtKind::Assign { var, value: init } => {
                self.expr(init)?;
                self.want(init, self.var_ty(*var, s.span)?, "the assigned value")
            }
            StmtKind::Store { access, value } => {
                let elem = self.access(access, s.span)?;
                self.expr(value)?;
                self.want(value, elem, "the stored value")
            }
            StmtKind::Eval(e) => self.expr(e),
            StmtKind::If { cond, then, els } => {
                self.expr(cond)?;
                self.want(cond, T::Bool, "a condition")?;
                self.block(then)?;
                self.block(els)
            }
            StmtKind::While { cond, body } => {
                self.expr(cond)?;
                self.want(cond, T::Bool, "a condition")?;
                self.block(body)
            }
            StmtKind::For(l) => {
                for e in [&l.start, &l.count, &l.stride] {
                    self.expr(e)?;
                    self.want(e, T::I64, "a loop bound")?;
                }
                if self.var_ty(l.var, s.span)? != T::I64 {
                    return self.fail(s.span, "a loop variable is not i64".into());
                }
                self.block(&l.body)
            }
            StmtKind::ParFor(p) => {
                if p.vars.len() != p.ranges.len() || p.vars.is_empty() || p.vars.len() > 3 {
                    return self.fail(
                        s.span,
                        "a prange needs 1 to 3 variables, one per range".into(),
                    );
                }
                for (lo, hi) in &p.ranges {
                    for e in [lo, hi] {
                        self.expr(e)?;
                        self.want(e, T::I64, "a prange bound")?;
                    }
                }
                for v in &p.vars {
                    if self.var_ty(*v, s.span)? != T::I64 {
                        return self.fail(s.span, "a prange variable is not i64".into());
                    }
                }
                for r in &p.reductions {
                    self.var_ty(r.var, s.span)?;
                }
                self.block(&p.body)
            }
            StmtKind::Break | StmtKind::Continue => Ok(()),
            StmtKind::Return(v) => match (v, self.f.ret) {
                (Some(e), Some(t)) => {
                    self.expr(e)?;
                    self.want(e, t, "the returned value")
                }
                (None, None) => Ok(()),
                _ => self.fail(
                    s.span,
                    "a return does not match the function's result type".into(),
                ),
            },
            StmtKind::CheckStep(e) => {
                self.expr(e)?;
                self.want(e, T::I64, "a step")
            }
        }
    }

    fn expr(&self, e: &Expr) -> R {
        use ScalarType as T;
        match &e.kind {
            ExprKind::Const(v) => {
                if v.ty() != e.ty {
                    return self.fail(
                        e.span,
                        format!("a constant of type {} is typed {}", v.ty(), e.ty),
                    );
                }
            }
            ExprKind::Var(v) => {
                let t = self.var_ty(*v, e.span)?;
                self.want(e, t, "a variable read")?;
            }
            ExprKind::Unary(op, a) => {
                self.expr(a)?;
                self.want(a, e.ty, "the operand")?;
                if *op == UnOp::Neg && e.ty == T::Bool {
                    return self.fail(e.span, "negation of a bool".into());
                }
            }
            ExprKind::Binary(op, a, b) => {
                self.expr(a)?;
                self.expr(b)?;
                self.want(b, a.ty, "the right operand")?;
                let result = match op {
                    BinOp::And | BinOp::Or => {
                        self.want(a, T::Bool, "an operand of && or ||")?;
                        T::Bool
                    }
                    op if op.is_comparison() => T::Bool,
                    _ => a.ty,
                };
                self.want(e, result, &format!("the result of `{}`", op.symbol()))?;
            }
            ExprKind::Cast(a) => {
                self.expr(a)?;
                if e.ty == T::Bool && a.ty != T::Bool {
                    return self.fail(e.span, "a cast of a number to bool".into());
                }
            }
            ExprKind::Builtin(f, args) => {
                if args.len() != f.arity() {
                    return self.fail(
                        e.span,
                        format!("`{}` takes {} arguments", f.name(), f.arity()),
                    );
                }
                args.iter().try_for_each(|a| self.expr(a))?;
                match f.sig() {
                    BuiltinSig::Select => {
                        self.want(&args[0], T::Bool, "the condition of select")?;
                        self.want(&args[1], e.ty, "an operand of select")?;
                        self.want(&args[2], e.ty, "an operand of select")?;
                    }
                    BuiltinSig::FloatPredicate => {
                        self.want(e, T::Bool, "the result of a float test")?;
                        if !args[0].ty.is_float() {
                            return self.fail(e.span, format!("`{}` of a non-float", f.name()));
                        }
                    }
                    BuiltinSig::Numeric | BuiltinSig::Float => args
                        .iter()
                        .try_for_each(|a| self.want(a, e.ty, "an argument"))?,
                }
            }
            ExprKind::Call(id, args) => {
                let Some(callee) = self.m.functions.get(id.index()) else {
                    return self.fail(e.span, format!("unknown function {}", id.0));
                };
                if callee.kind != FunctionKind::Helper || callee.params.len() != args.len() {
                    return self.fail(e.span, format!("a bad call of `{}`", callee.name));
                }
                for (p, a) in callee.params.iter().zip(args) {
                    self.expr(a)?;
                    if let Param::Scalar(v) = p {
                        self.want(a, callee.var(*v).ty, "an argument")?;
                    }
                }
                if callee.ret != Some(e.ty) {
                    return self.fail(
                        e.span,
                        format!("the call of `{}` is typed {}", callee.name, e.ty),
                    );
                }
            }
            ExprKind::If(c, a, b) => {
                self.expr(c)?;
                self.want(c, T::Bool, "a condition")?;
                self.expr(a)?;
                self.expr(b)?;
                self.want(a, e.ty, "a branch")?;
                self.want(b, e.ty, "a branch")?;
            }
            ExprKind::Load(a) => {
                let elem = self.access(a, e.span)?;
                self.want(e, elem, "a load")?;
            }
            ExprKind::Len(a) | ExprKind::Shape(a, _) => {
                let Some(arr) = self.f.arrays.get(a.index()) else {
                    return self.fail(e.span, format!("unknown array {}", a.0));
                };
                if let ExprKind::Shape(_, d) = e.kind {
                    if d >= arr.rank {
                        return self.fail(e.span, format!("shape({d}) of a {}-D array", arr.rank));
                    }
                }
                self.want(e, T::I64, "an extent")?;
            }
            ExprKind::Atomic { access, value, .. } => {
                let elem = self.access(access, e.span)?;
                self.expr(value)?;
                self.want(value, elem, "the atomic's operand")?;
                self.want(e, elem, "an atomic's result")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(src: &str) -> Module {
        crate::lang::compile("t.kn", src).unwrap_or_else(|d| panic!("{d}"))
    }

    #[test]
    fn checked_modules_verify() {
        let m = module(
            "fn h(x: f64) -> f64 { return x * 2.0; }
             kernel k(a: f64[:], b: mut i32[:, :], n: i32) -> f64 {
                 let mut s = 0.0;
                 for i in prange(0..a.len()) { s += h(a[i]); }
                 for i in (0..n).step_by(2).rev() { b[0, 0] += (i as i32) % 3; }
                 let c = atomic_add(b[0, 1], 1);
                 return if c > 0 || s.is_nan() { s } else { select(true, 1.0, 2.0) };
             }",
        );
        assert_eq!(verify(&m), Ok(()));
    }

    #[test]
    fn an_ill_typed_node_is_reported_with_its_place() {
        let mut m = module("kernel k(a: i64) -> bool { return a < 1 || a > 5; }");
        // The bug the verifier was written for: `||` typed like its operands.
        let StmtKind::Return(Some(e)) = &mut m.functions[0].body.stmts[0].kind else {
            panic!()
        };
        e.ty = ScalarType::I64;
        let err = verify(&m).unwrap_err();
        assert_eq!(err.function, "k");
        assert!(err.message.contains("`||`"), "{}", err.message);
    }
}
