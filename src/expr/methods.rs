//! Methods shared by `Array<T>` and `Expr<T>` (inherent on both, so
//! `use kiln::Array;` is all a program imports): the language's math
//! builtins, elementwise `maximum`/`minimum`, comparisons, casts.
//!
//! Every builtin of the language's table (`ir::builtins`) has a method;
//! [`METHODS`] lists the correspondence and a unit test checks that it
//! covers the table, so a builtin added there is noticed here.

use super::node::{BinOp, Node};
use super::ops::bin;
use super::{Expr, ExprElement, Float, IntoExpr, Numeric};
use crate::runtime::{Array, Backend};

/// (builtin of the language, method of `Expr`/`Array`). `min`/`max` are
/// `minimum`/`maximum` because `.min()`/`.max()` are reductions (as in
/// NumPy); `pow` is `powf` (Rust's name); `select` is [`super::select`].
pub const METHODS: &[(&str, &str)] = &[
    ("abs", "abs"),
    ("min", "minimum"),
    ("max", "maximum"),
    ("clamp", "clamp"),
    ("sqrt", "sqrt"),
    ("cbrt", "cbrt"),
    ("exp", "exp"),
    ("exp2", "exp2"),
    ("expm1", "expm1"),
    ("log", "log"),
    ("log1p", "log1p"),
    ("log2", "log2"),
    ("log10", "log10"),
    ("sin", "sin"),
    ("cos", "cos"),
    ("tan", "tan"),
    ("asin", "asin"),
    ("acos", "acos"),
    ("atan", "atan"),
    ("atan2", "atan2"),
    ("sinh", "sinh"),
    ("cosh", "cosh"),
    ("tanh", "tanh"),
    ("pow", "powf"),
    ("floor", "floor"),
    ("ceil", "ceil"),
    ("round", "round"),
    ("trunc", "trunc"),
    ("fma", "fma"),
    ("erf", "erf"),
    ("hypot", "hypot"),
    ("is_nan", "is_nan"),
    ("is_inf", "is_inf"),
    ("select", "kiln::select"),
];

fn call<T: ExprElement, U: ExprElement>(name: &'static str, args: Vec<Expr<T>>) -> Expr<U> {
    let backend = args.iter().find_map(|a| a.backend);
    Expr::new(
        Node::Call(name, args.into_iter().map(|a| a.node).collect()),
        backend,
    )
}

macro_rules! unary {
    ($($(#[$doc:meta])* $method:ident $builtin:literal;)*) => {$(
        $(#[$doc])*
        pub fn $method(&self) -> Expr<T> {
            call($builtin, vec![self.expr()])
        }
    )*};
}

macro_rules! binary {
    ($($(#[$doc:meta])* $method:ident $builtin:literal;)*) => {$(
        $(#[$doc])*
        pub fn $method(&self, other: impl IntoExpr<T>) -> Expr<T> {
            call($builtin, vec![self.expr(), other.into_expr()])
        }
    )*};
}

macro_rules! compare {
    ($($(#[$doc:meta])* $method:ident $op:ident;)*) => {$(
        $(#[$doc])*
        pub fn $method(&self, other: impl IntoExpr<T>) -> Expr<bool> {
            bin(BinOp::$op, self.expr(), other.into_expr())
        }
    )*};
}

/// The float methods, inherent on both `Expr<T>` and `Array<T>`.
macro_rules! float_methods {
    () => {
        unary! {
            /// Square root, elementwise.
            sqrt "sqrt";
            /// Cube root, elementwise.
            cbrt "cbrt";
            /// `e^x`, elementwise.
            exp "exp";
            /// `2^x`, elementwise.
            exp2 "exp2";
            /// `e^x - 1`, elementwise.
            expm1 "expm1";
            /// Natural logarithm, elementwise.
            log "log";
            /// `ln(1 + x)`, elementwise.
            log1p "log1p";
            /// Base-2 logarithm, elementwise.
            log2 "log2";
            /// Base-10 logarithm, elementwise.
            log10 "log10";
            /// Sine, elementwise.
            sin "sin";
            /// Cosine, elementwise.
            cos "cos";
            /// Tangent, elementwise.
            tan "tan";
            /// Arcsine, elementwise.
            asin "asin";
            /// Arccosine, elementwise.
            acos "acos";
            /// Arctangent, elementwise.
            atan "atan";
            /// Hyperbolic sine, elementwise.
            sinh "sinh";
            /// Hyperbolic cosine, elementwise.
            cosh "cosh";
            /// Hyperbolic tangent, elementwise.
            tanh "tanh";
            /// Round down, elementwise.
            floor "floor";
            /// Round up, elementwise.
            ceil "ceil";
            /// Round half away from zero, elementwise.
            round "round";
            /// Round toward zero, elementwise.
            trunc "trunc";
            /// The error function, elementwise.
            erf "erf";
        }
        binary! {
            /// `atan2(self, x)`, elementwise.
            atan2 "atan2";
            /// `self` to the power `e`, elementwise.
            powf "pow";
            /// `sqrt(self² + b²)` without overflow, elementwise.
            hypot "hypot";
        }
        /// `self * b + c` rounded once, elementwise.
        pub fn fma(&self, b: impl IntoExpr<T>, c: impl IntoExpr<T>) -> Expr<T> {
            call("fma", vec![self.expr(), b.into_expr(), c.into_expr()])
        }
        /// Whether each element is NaN.
        pub fn is_nan(&self) -> Expr<bool> {
            call("is_nan", vec![self.expr()])
        }
        /// Whether each element is infinite.
        pub fn is_inf(&self) -> Expr<bool> {
            call("is_inf", vec![self.expr()])
        }
    };
}

/// The numeric methods, inherent on both `Expr<T>` and `Array<T>`.
macro_rules! numeric_methods {
    () => {
        unary! {
            /// Absolute value, elementwise (integers wrap: `abs(MIN)` is `MIN`).
            abs "abs";
        }
        binary! {
            /// The larger of two operands, elementwise (NaN loses, as Rust's `max`).
            maximum "max";
            /// The smaller of two operands, elementwise (NaN loses, as Rust's `min`).
            minimum "min";
        }
        /// `minimum(maximum(self, lo), hi)`, elementwise.
        pub fn clamp(&self, lo: impl IntoExpr<T>, hi: impl IntoExpr<T>) -> Expr<T> {
            call("clamp", vec![self.expr(), lo.into_expr(), hi.into_expr()])
        }
        compare! {
            /// `self < other`, elementwise: a condition.
            lt Lt;
            /// `self <= other`, elementwise.
            le Le;
            /// `self > other`, elementwise.
            gt Gt;
            /// `self >= other`, elementwise.
            ge Ge;
            /// `self == other`, elementwise.
            eq_ Eq;
            /// `self != other`, elementwise.
            ne_ Ne;
        }
        /// Each element converted with the language's `as` (float → int
        /// saturates, int → float rounds to nearest).
        pub fn cast<U: Numeric>(&self) -> Expr<U> {
            let e = self.expr();
            Expr::new(Node::Cast(U::SCALAR, e.node), e.backend)
        }
    };
}

impl<T: Float> Expr<T> {
    float_methods!();
}

impl<T: Float> Array<T> {
    float_methods!();
}

impl<T: Numeric> Expr<T> {
    numeric_methods!();
}

impl<T: Numeric> Array<T> {
    numeric_methods!();

    /// The array as an expression evaluated on `backend`.
    pub fn on(&self, backend: Backend) -> Expr<T> {
        self.expr().on(backend)
    }
}

impl<T: ExprElement> Expr<T> {
    /// The expression itself (a cheap clone), as `Array::expr` gives one.
    pub fn expr(&self) -> Expr<T> {
        self.clone()
    }
}

impl Expr<bool> {
    /// Each condition as `0`/`1` of a numeric type (`bool as U`).
    pub fn cast<U: Numeric>(&self) -> Expr<U> {
        Expr::new(Node::Cast(U::SCALAR, self.node.clone()), self.backend)
    }

    /// Both conditions (`&` does the same).
    pub fn and(&self, other: impl IntoExpr<bool>) -> Expr<bool> {
        bin(BinOp::BitAnd, self.clone(), other.into_expr())
    }

    /// Either condition (`|` does the same).
    pub fn or(&self, other: impl IntoExpr<bool>) -> Expr<bool> {
        bin(BinOp::BitOr, self.clone(), other.into_expr())
    }
}

#[cfg(test)]
mod tests {
    use super::METHODS;
    use crate::ir::builtins::Builtin;

    #[test]
    fn every_builtin_has_a_method() {
        for b in Builtin::ALL {
            assert!(
                METHODS.iter().any(|(name, _)| *name == b.name()),
                "builtin `{}` has no expression method: add one to src/expr/methods.rs",
                b.name()
            );
        }
        assert_eq!(METHODS.len(), Builtin::ALL.len());
    }
}
