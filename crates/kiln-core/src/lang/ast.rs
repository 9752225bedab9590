//! The syntax tree the parser builds and the checker consumes. It mirrors the
//! source closely (method calls are kept as such, literals keep their text);
//! all meaning is given by the checker.

pub use crate::ir::{BinOp, ScalarType, Span, UnOp};

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceFile {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Kernel(FnItem),
    Fn(FnItem),
    Const(ConstItem),
}

/// `kernel NAME(PARAMS) [-> T] { … }` or `fn NAME(PARAMS) -> T { … }`.
#[derive(Clone, Debug, PartialEq)]
pub struct FnItem {
    pub name: Ident,
    pub params: Vec<Param>,
    /// The declared result type and the span of its spelling.
    pub ret: Option<(ScalarType, Span)>,
    pub body: Block,
    /// From the keyword to the closing brace.
    pub span: Span,
}

/// `const NAME: T = EXPR;`
#[derive(Clone, Debug, PartialEq)]
pub struct ConstItem {
    pub name: Ident,
    pub ty: ScalarType,
    pub ty_span: Span,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: ParamType,
    /// Span of the type's spelling.
    pub ty_span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ParamType {
    Scalar(ScalarType),
    /// `[mut] T[:, …]`. The parser accepts any element type and rank >= 1;
    /// the checker rejects `bool` elements and rank > 3.
    Array {
        elem: ScalarType,
        rank: u8,
        mutable: bool,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    /// From `{` to `}`.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `let [mut] name [: T] = init;`
    Let {
        mutable: bool,
        name: Ident,
        ty: Option<(ScalarType, Span)>,
        init: Expr,
    },
    /// `target = value;` (`op` is `None`) or `target op= value;`.
    Assign {
        target: Place,
        op: Option<BinOp>,
        value: Expr,
    },
    /// `if cond { … } else …`; an `else if` is an `else` block holding one `If`.
    If {
        cond: Expr,
        then: Block,
        els: Option<Block>,
    },
    While {
        cond: Expr,
        body: Block,
    },
    /// `for v in ITER { … }` or `for (v1, v2) in prange(…) { … }`.
    For {
        vars: Vec<Ident>,
        iter: ForIter,
        body: Block,
    },
    Break,
    Continue,
    Return(Option<Expr>),
    /// An expression statement `e;` (the checker allows only effectful calls).
    Expr(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Place {
    Var(Ident),
    /// `array[i, j]`
    Index {
        array: Ident,
        index: Vec<Expr>,
        span: Span,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum ForIter {
    /// `a..b`, `a..=b`, `(a..b).step_by(k)`, `(a..b).rev()`, and chains of
    /// the two adapters, applied in order.
    Range {
        range: RangeExpr,
        adapters: Vec<RangeAdapter>,
    },
    /// `prange(a..b)`, `prange(a..b, c..d)`, … (the parser accepts any count;
    /// the checker allows 1 to 3 and exclusive ranges only).
    Prange { ranges: Vec<RangeExpr>, span: Span },
}

#[derive(Clone, Debug, PartialEq)]
pub struct RangeExpr {
    pub start: Expr,
    pub end: Expr,
    pub inclusive: bool,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RangeAdapter {
    StepBy(Expr, Span),
    Rev(Span),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal: its magnitude (underscores and radix removed) and
    /// optional type suffix. `-5` is `Unary(Neg, Int 5)`.
    Int {
        value: u64,
        suffix: Option<ScalarType>,
    },
    /// A float literal: its text without underscores or suffix (parsed by the
    /// checker at the inferred width, so `0.1f32` is rounded once).
    Float {
        text: String,
        suffix: Option<ScalarType>,
    },
    Bool(bool),
    /// A variable, parameter or const.
    Name(Ident),
    Unary(UnOp, Box<Expr>),
    /// Every binary operator, `&&` and `||` included.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `e as T`
    Cast(Box<Expr>, ScalarType),
    /// `name(args)`: a builtin, a helper, or an atomic.
    Call {
        name: Ident,
        args: Vec<Expr>,
    },
    /// `receiver.method(args)`: `x.sqrt()`, `a.max(b)`, `a.len()`, `a.shape(0)`.
    MethodCall {
        receiver: Box<Expr>,
        method: Ident,
        args: Vec<Expr>,
    },
    /// `base[i, j]` (the checker requires `base` to name an array).
    Index {
        base: Box<Expr>,
        index: Vec<Expr>,
    },
    /// `if c { a } else { b }` as an expression; `else if` nests in `els`.
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        els: Box<Expr>,
    },
    /// `(e)`: kept so diagnostics can underline what the user wrote.
    Paren(Box<Expr>),
}
