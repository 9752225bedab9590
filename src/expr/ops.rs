//! The arithmetic operators: `+ - * /` between expressions, arrays and
//! scalars of one element type (either side), unary `-`, and `& | !` on
//! conditions. They only build the tree: no `Result`, no work; type errors
//! are Rust compile errors, shape errors come from evaluation.

use super::node::{BinOp, Node};
use super::{Expr, ExprElement, IntoExpr, Numeric, Signed};
use crate::runtime::Array;
use std::ops::{Add, BitAnd, BitOr, Div, Mul, Neg, Not, Sub};

/// `a op b` as an expression (the first explicit backend wins).
pub(crate) fn bin<T: ExprElement, U: ExprElement>(op: BinOp, a: Expr<T>, b: Expr<T>) -> Expr<U> {
    Expr::new(Node::Bin(op, a.node, b.node), a.backend.or(b.backend))
}

macro_rules! binary_ops {
    ($($trait:ident $method:ident $op:ident),*) => {$(
        impl<T: Numeric, R: IntoExpr<T>> $trait<R> for Expr<T> {
            type Output = Expr<T>;
            fn $method(self, rhs: R) -> Expr<T> {
                bin(BinOp::$op, self, rhs.into_expr())
            }
        }
        impl<T: Numeric, R: IntoExpr<T>> $trait<R> for &Expr<T> {
            type Output = Expr<T>;
            fn $method(self, rhs: R) -> Expr<T> {
                bin(BinOp::$op, self.clone(), rhs.into_expr())
            }
        }
        impl<T: Numeric, R: IntoExpr<T>> $trait<R> for &Array<T> {
            type Output = Expr<T>;
            fn $method(self, rhs: R) -> Expr<T> {
                bin(BinOp::$op, self.into_expr(), rhs.into_expr())
            }
        }
        scalar_lhs!($trait $method $op: i32, u32, i64, f32, f64);
    )*};
}

/// `2.0f32 * &x`: a scalar on the left (one impl per type: Rust's orphan
/// rules allow no blanket impl on foreign types).
macro_rules! scalar_lhs {
    ($trait:ident $method:ident $op:ident: $($t:ty),*) => {$(
        impl $trait<Expr<$t>> for $t {
            type Output = Expr<$t>;
            fn $method(self, rhs: Expr<$t>) -> Expr<$t> {
                bin(BinOp::$op, self.into_expr(), rhs)
            }
        }
        impl $trait<&Expr<$t>> for $t {
            type Output = Expr<$t>;
            fn $method(self, rhs: &Expr<$t>) -> Expr<$t> {
                bin(BinOp::$op, self.into_expr(), rhs.clone())
            }
        }
        impl $trait<&Array<$t>> for $t {
            type Output = Expr<$t>;
            fn $method(self, rhs: &Array<$t>) -> Expr<$t> {
                bin(BinOp::$op, self.into_expr(), rhs.into_expr())
            }
        }
    )*};
}

binary_ops!(Add add Add, Sub sub Sub, Mul mul Mul, Div div Div);

impl<T: Signed> Neg for Expr<T> {
    type Output = Expr<T>;
    fn neg(self) -> Expr<T> {
        Expr::new(Node::Neg(self.node), self.backend)
    }
}

impl<T: Signed> Neg for &Expr<T> {
    type Output = Expr<T>;
    fn neg(self) -> Expr<T> {
        -self.clone()
    }
}

impl<T: Signed> Neg for &Array<T> {
    type Output = Expr<T>;
    fn neg(self) -> Expr<T> {
        -self.into_expr()
    }
}

macro_rules! bool_ops {
    ($($trait:ident $method:ident $op:ident),*) => {$(
        impl<R: IntoExpr<bool>> $trait<R> for Expr<bool> {
            type Output = Expr<bool>;
            fn $method(self, rhs: R) -> Expr<bool> {
                bin(BinOp::$op, self, rhs.into_expr())
            }
        }
        impl<R: IntoExpr<bool>> $trait<R> for &Expr<bool> {
            type Output = Expr<bool>;
            fn $method(self, rhs: R) -> Expr<bool> {
                bin(BinOp::$op, self.clone(), rhs.into_expr())
            }
        }
    )*};
}

bool_ops!(BitAnd bitand And, BitOr bitor Or);

impl Not for Expr<bool> {
    type Output = Expr<bool>;
    fn not(self) -> Expr<bool> {
        Expr::new(Node::Not(self.node), self.backend)
    }
}

impl Not for &Expr<bool> {
    type Output = Expr<bool>;
    fn not(self) -> Expr<bool> {
        !self.clone()
    }
}
