//! Lazy array expressions, fused into one kernel (docs/expr.md).
//!
//! Operators and math methods on `&Array<T>` and on [`Expr`] build a tree;
//! nothing runs and nothing is allocated on a device until `.eval()`,
//! `.assign()` or a reduction. Then the whole tree becomes ONE kernel of
//! kiln's language (elementwise part plus an optional trailing reduction),
//! compiled once per expression shape and types and cached, and launched
//! like any other kernel (`Backend::Auto` unless `.on(backend)` says).
//!
//! Why source text rather than IR built by hand: the generated kernel goes
//! through the same front end, checker, verifier and every backend as a
//! user's kernel, so fusion inherits the language's semantics (wrapping,
//! no implicit casts, deterministic reductions) and every backend for free,
//! and what `KILN_LOG=fusion` prints is readable kiln source.
//!
//! Files: [`types`] (element types), [`node`] (the tree), [`ops`] (the
//! operators), [`methods`] (math, comparisons, casts), [`shape`]
//! (broadcasting), [`codegen`] (tree → kernel source and cache key),
//! [`cache`] (compiled kernels per key), [`run`] (eval, assign,
//! reductions).

pub mod cache;
pub mod codegen;
pub mod methods;
pub mod node;
pub mod ops;
pub mod run;
pub mod shape;
pub mod types;

use crate::runtime::{Array, Backend};
use node::Node;
use std::marker::PhantomData;
use std::sync::Arc;
pub use types::{ExprElement, Float, Numeric, Signed};

/// A lazy array expression whose elements are `T` (`bool` for
/// comparisons). Cloning is cheap (a shared tree).
pub struct Expr<T> {
    pub(crate) node: Arc<Node>,
    /// `None`: `KILN_BACKEND`, else `Auto`.
    pub(crate) backend: Option<Backend>,
    _elem: PhantomData<fn() -> T>,
}

impl<T> Clone for Expr<T> {
    fn clone(&self) -> Self {
        Expr {
            node: self.node.clone(),
            backend: self.backend,
            _elem: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Expr<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({})", self.node)
    }
}

impl<T: ExprElement> Expr<T> {
    pub(crate) fn new(node: Node, backend: Option<Backend>) -> Expr<T> {
        Expr {
            node: Arc::new(node),
            backend,
            _elem: PhantomData,
        }
    }

    /// The same expression, evaluated on `backend` (`Backend::Auto` lets the
    /// runtime choose per launch).
    pub fn on(&self, backend: Backend) -> Expr<T> {
        Expr {
            backend: Some(backend),
            ..self.clone()
        }
    }
}

/// Anything an operator or method accepts as an operand: an expression, an
/// array or a scalar of the same element type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an operand of an array expression of `{T}` elements",
    label = "expected a `{T}`, a `&kiln::Array<{T}>` or a `kiln::Expr<{T}>`",
    note = "expressions never mix element types (as the kernel language): convert one side with `.cast::<{T}>()`"
)]
pub trait IntoExpr<T> {
    /// The operand as an expression.
    fn into_expr(self) -> Expr<T>;
}

impl<T: ExprElement> IntoExpr<T> for Expr<T> {
    fn into_expr(self) -> Expr<T> {
        self
    }
}

impl<T: ExprElement> IntoExpr<T> for &Expr<T> {
    fn into_expr(self) -> Expr<T> {
        self.clone()
    }
}

impl<T: Numeric> IntoExpr<T> for &Array<T> {
    fn into_expr(self) -> Expr<T> {
        Expr::new(Node::Array(self.shared().clone()), None)
    }
}

impl<T: Numeric> IntoExpr<T> for &mut Array<T> {
    fn into_expr(self) -> Expr<T> {
        (&*self).into_expr()
    }
}

macro_rules! scalar_into_expr {
    ($($t:ty),*) => {$(
        impl IntoExpr<$t> for $t {
            fn into_expr(self) -> Expr<$t> {
                Expr::new(Node::Scalar(<$t as ExprElement>::value(self)), None)
            }
        }
    )*};
}
scalar_into_expr!(bool, i32, u32, i64, f32, f64);

impl<T: Numeric> From<&Array<T>> for Expr<T> {
    fn from(a: &Array<T>) -> Expr<T> {
        a.into_expr()
    }
}

impl<T: Numeric> Array<T> {
    /// The array as an expression (what every operator on `&Array` starts
    /// from).
    pub fn expr(&self) -> Expr<T> {
        self.into_expr()
    }
}

/// `select(c, a, b)`: `a` where `c` holds, else `b`, elementwise (both are
/// evaluated, as the language's `select`).
pub fn select<T: ExprElement>(
    cond: impl IntoExpr<bool>,
    a: impl IntoExpr<T>,
    b: impl IntoExpr<T>,
) -> Expr<T> {
    let (c, a, b) = (cond.into_expr(), a.into_expr(), b.into_expr());
    let backend = c.backend.or(a.backend).or(b.backend);
    Expr::new(Node::Select(c.node, a.node, b.node), backend)
}
