//! The expression tree. Leaves are arrays (shared handles, no copy) and
//! scalars (their values become kernel parameters, so they are not part of
//! the compiled kernel); inner nodes are the language's operators and
//! builtins. Types are checked by Rust's type system while building
//! (`Expr<T>`), so the tree carries only what code generation needs.

// The language's own operators; `&`/`|` (BitAnd/BitOr) combine conditions
// without the branch that `&&`/`||` would take.
pub use crate::ir::BinOp;
use crate::ir::{ScalarType, Value};
use crate::runtime::AnyArray;
use std::fmt;
use std::sync::Arc;

/// One node of an expression.
pub enum Node {
    /// An input array (deduplicated by identity when generating code).
    Array(Arc<AnyArray>),
    /// A scalar operand: a kernel parameter.
    Scalar(Value),
    /// `-e`.
    Neg(Arc<Node>),
    /// `!e` (bools).
    Not(Arc<Node>),
    /// `a op b`.
    Bin(BinOp, Arc<Node>, Arc<Node>),
    /// A builtin of the language (`sqrt`, `max`, `fma`, ...).
    Call(&'static str, Vec<Arc<Node>>),
    /// `e as T`.
    Cast(ScalarType, Arc<Node>),
    /// `select(c, a, b)`.
    Select(Arc<Node>, Arc<Node>, Arc<Node>),
}

impl fmt::Display for Node {
    /// The tree in the language's syntax, with values and array shapes
    /// (for messages; code generation is `codegen`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Array(a) => write!(f, "{}{:?}", a.elem(), a.shape()),
            Node::Scalar(v) => write!(f, "{v}"),
            Node::Neg(e) => write!(f, "(-{e})"),
            Node::Not(e) => write!(f, "(!{e})"),
            Node::Bin(op, a, b) => write!(f, "({a} {} {b})", op.symbol()),
            Node::Call(name, args) => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{a}")?;
                }
                write!(f, ")")
            }
            Node::Cast(t, e) => write!(f, "({e} as {t})"),
            Node::Select(c, a, b) => write!(f, "select({c}, {a}, {b})"),
        }
    }
}
