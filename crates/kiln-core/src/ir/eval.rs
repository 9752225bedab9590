//! Evaluation of IR expressions from values known before (or outside) a
//! run: scalar parameters, loop variables a host drives, array shapes.
//!
//! The semantics are the interpreter's, operation by operation through
//! [`value`]: `&&`/`||` and `if` evaluate only what they must (a condition
//! is true when it is `true`), builtins evaluate every argument left to
//! right, `len` is the product of the shape and `shape(d)` beyond the rank
//! is 1. An expression that reads an array element, calls a helper, does an
//! atomic, reads a variable or shape the environment does not know, or
//! would fault has no value here.

use super::value::{self, ArithError};
use super::{ArrayId, BinOp, Expr, ExprKind, Value, VarId};

/// What an evaluation may read.
pub trait Env {
    /// The value of scalar variable `v`, when known.
    fn var(&self, v: VarId) -> Option<Value>;
    /// The shape of array `a`, when known.
    fn shape(&self, a: ArrayId) -> Option<&[usize]>;
}

/// Why an expression has no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// It needs something the environment does not know (an element, a
    /// call, an atomic, an unknown variable or shape).
    Unknown,
    /// Evaluating it faults (the first fault, left to right).
    Fault(ArithError),
}

/// An environment of a variable lookup and array shapes by `ArrayId`.
pub struct Known<'a, F> {
    pub vars: F,
    pub shapes: &'a [Vec<usize>],
}

impl<F: Fn(VarId) -> Option<Value>> Env for Known<'_, F> {
    fn var(&self, v: VarId) -> Option<Value> {
        (self.vars)(v)
    }

    fn shape(&self, a: ArrayId) -> Option<&[usize]> {
        self.shapes.get(a.index()).map(Vec::as_slice)
    }
}

/// Knows nothing: only constant expressions have a value.
pub struct Nothing;

impl Env for Nothing {
    fn var(&self, _: VarId) -> Option<Value> {
        None
    }

    fn shape(&self, _: ArrayId) -> Option<&[usize]> {
        None
    }
}

/// The value of `e` in `env`, or `None` (see [`try_eval`]).
pub fn eval(e: &Expr, env: &(impl Env + ?Sized)) -> Option<Value> {
    try_eval(e, env).ok()
}

/// The value of `e` in `env`, or why it has none.
pub fn try_eval(e: &Expr, env: &(impl Env + ?Sized)) -> Result<Value, Stop> {
    let known = |v: Option<Value>| v.ok_or(Stop::Unknown);
    Ok(match &e.kind {
        ExprKind::Const(v) => *v,
        ExprKind::Var(v) => known(env.var(*v))?,
        ExprKind::Len(a) => {
            let shape = env.shape(*a).ok_or(Stop::Unknown)?;
            Value::I64(shape.iter().product::<usize>() as i64)
        }
        ExprKind::Shape(a, d) => {
            let shape = env.shape(*a).ok_or(Stop::Unknown)?;
            Value::I64(shape.get(*d as usize).copied().unwrap_or(1) as i64)
        }
        ExprKind::Unary(op, a) => value::unary(*op, try_eval(a, env)?),
        ExprKind::Binary(BinOp::And, a, b) => {
            if truth(try_eval(a, env)?) {
                try_eval(b, env)?
            } else {
                Value::Bool(false)
            }
        }
        ExprKind::Binary(BinOp::Or, a, b) => {
            if truth(try_eval(a, env)?) {
                Value::Bool(true)
            } else {
                try_eval(b, env)?
            }
        }
        ExprKind::Binary(op, a, b) => {
            let x = try_eval(a, env)?;
            let y = try_eval(b, env)?;
            value::binary(*op, x, y).map_err(Stop::Fault)?
        }
        ExprKind::Cast(a) => value::cast(try_eval(a, env)?, e.ty),
        ExprKind::Builtin(f, args) => {
            let vals = args
                .iter()
                .map(|a| try_eval(a, env))
                .collect::<Result<Vec<_>, _>>()?;
            value::builtin(*f, &vals)
        }
        ExprKind::If(c, a, b) => {
            if truth(try_eval(c, env)?) {
                try_eval(a, env)?
            } else {
                try_eval(b, env)?
            }
        }
        ExprKind::Call(..) | ExprKind::Load(_) | ExprKind::Atomic { .. } => {
            return Err(Stop::Unknown)
        }
    })
}

fn truth(v: Value) -> bool {
    v == Value::Bool(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Module, StmtKind};

    fn module(src: &str) -> Module {
        crate::lang::compile("t.kn", src).unwrap_or_else(|d| panic!("{d}"))
    }

    /// The expression returned by kernel `k` of `src`.
    fn returned(m: &Module) -> &Expr {
        let k = m.kernel("k").unwrap();
        match &k.body.stmts.last().unwrap().kind {
            StmtKind::Return(Some(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn evaluates_from_known_values_and_shapes() {
        let m = module(
            "kernel k(a: f64[:, :], n: i64) -> i64 {
                 return if n > 2 && a.shape(1) == 3 { a.len() * n } else { 0 - n };
             }",
        );
        let e = returned(&m);
        let shapes = vec![vec![2, 3]];
        let env = |n: i64| Known {
            vars: move |_| Some(Value::I64(n)),
            shapes: &[],
        };
        assert_eq!(eval(e, &env(1)), Some(Value::I64(-1)));
        assert_eq!(try_eval(e, &env(5)), Err(Stop::Unknown));
        let env = Known {
            vars: |_| Some(Value::I64(5)),
            shapes: &shapes,
        };
        assert_eq!(eval(e, &env), Some(Value::I64(30)));
        assert_eq!(eval(e, &Nothing), None);
    }

    #[test]
    fn short_circuits_and_faults() {
        let m = module("kernel k(a: i32[:], n: i32) -> bool { return n == 0 || a[0] / n > 1; }");
        let e = returned(&m);
        let env = |n: i32| Known {
            vars: move |_| Some(Value::I32(n)),
            shapes: &[],
        };
        assert_eq!(eval(e, &env(0)), Some(Value::Bool(true)));
        assert_eq!(try_eval(e, &env(1)), Err(Stop::Unknown));
        let m = module("kernel k(n: i32) -> i32 { return 7 % (n - n); }");
        assert_eq!(
            try_eval(returned(&m), &env(3)),
            Err(Stop::Fault(ArithError::RemainderByZero))
        );
    }
}
