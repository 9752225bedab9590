//! The typed, structured IR every backend consumes.
//!
//! It is produced by the checker (`crate::lang::check`) from the AST and is a
//! plain data structure: loops and ifs rather than a control-flow graph, so it
//! maps directly onto CUDA C, WGSL and Cranelift's `FunctionBuilder`.
//! Variables, arrays and functions are dense ids. Every statement and
//! expression carries the source span it came from, so any backend can point at
//! the line of a fault.
//!
//! Invariants the checker guarantees (backends may rely on them):
//! - Every `Expr` has a concrete scalar type; no implicit conversions exist:
//!   both operands of a binary op have the same type (for shifts the checker
//!   casts the amount to the left operand's type), comparisons yield `Bool`.
//! - `&&`/`||` are `BinOp::And`/`BinOp::Or` and short-circuit.
//! - A `Var` is defined by exactly one `Let` (shadowing creates a new id) or
//!   is a scalar parameter / loop variable, before any use.
//! - Inside a `ParFor` body, outer variables are only read (captured at loop
//!   entry), except the loop's reduction variables, which are only updated by
//!   `Assign { var: v, value: v OP e }` (or `min(v, e)`/`max(v, e)`) with `v`
//!   not in `e`. Backends treat a reduction variable inside the body as a
//!   private partial initialised to `ReduceOp::identity`, then combine
//!   `v = v OP partial₁ OP partial₂ …` after the loop.
//! - No `ParFor` is nested inside another; `Return`/`Break` never appear
//!   directly in a `ParFor` body (outside inner serial loops); `Continue` there
//!   ends the iteration.

pub mod builtins;
pub mod cmath;
pub mod eval;
pub mod print;
pub mod value;
pub mod verify;
pub mod visit;

pub use builtins::{Builtin, BuiltinSig};
pub use value::Value;

use std::fmt;

/// A source location: byte range plus the 1-based line and column of `lo`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub lo: u32,
    pub hi: u32,
    pub line: u32,
    pub col: u32,
}

impl Span {
    /// The smallest span covering both (line/col taken from the earlier one).
    pub fn to(self, other: Span) -> Span {
        let (first, _) = if self.lo <= other.lo {
            (self, other)
        } else {
            (other, self)
        };
        Span {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
            line: first.line,
            col: first.col,
        }
    }
}

/// The scalar types of the language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScalarType {
    Bool,
    I32,
    U32,
    I64,
    F32,
    F64,
}

impl ScalarType {
    pub const ALL: [ScalarType; 6] = [
        ScalarType::Bool,
        ScalarType::I32,
        ScalarType::U32,
        ScalarType::I64,
        ScalarType::F32,
        ScalarType::F64,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ScalarType::Bool => "bool",
            ScalarType::I32 => "i32",
            ScalarType::U32 => "u32",
            ScalarType::I64 => "i64",
            ScalarType::F32 => "f32",
            ScalarType::F64 => "f64",
        }
    }

    pub fn from_name(s: &str) -> Option<ScalarType> {
        ScalarType::ALL.into_iter().find(|t| t.name() == s)
    }

    pub fn is_int(self) -> bool {
        matches!(self, ScalarType::I32 | ScalarType::U32 | ScalarType::I64)
    }

    pub fn is_float(self) -> bool {
        matches!(self, ScalarType::F32 | ScalarType::F64)
    }

    pub fn is_numeric(self) -> bool {
        self != ScalarType::Bool
    }

    pub fn is_signed(self) -> bool {
        matches!(
            self,
            ScalarType::I32 | ScalarType::I64 | ScalarType::F32 | ScalarType::F64
        )
    }

    /// Width in bits (bool counts as 8: it is stored as a byte on the host).
    pub fn bits(self) -> u32 {
        match self {
            ScalarType::Bool => 8,
            ScalarType::I32 | ScalarType::U32 | ScalarType::F32 => 32,
            ScalarType::I64 | ScalarType::F64 => 64,
        }
    }

    pub fn size_bytes(self) -> usize {
        (self.bits() / 8) as usize
    }
}

impl fmt::Display for ScalarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArrayId(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FuncId(pub u32);

impl VarId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
impl ArrayId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
impl FuncId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A checked source file: its kernels and helper functions.
#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    /// The file name diagnostics and run-time errors print.
    pub file: String,
    /// Kernels and helpers; `Call(FuncId)` indexes this vector.
    pub functions: Vec<Function>,
}

impl Module {
    pub fn function(&self, id: FuncId) -> &Function {
        &self.functions[id.index()]
    }

    pub fn kernels(&self) -> impl Iterator<Item = &Function> {
        self.functions
            .iter()
            .filter(|f| f.kind == FunctionKind::Kernel)
    }

    pub fn kernel(&self, name: &str) -> Option<&Function> {
        self.kernels().find(|f| f.name == name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FunctionKind {
    /// An entry point: may take arrays and contain `prange`.
    Kernel,
    /// A `fn` helper: scalar parameters, a scalar result, no arrays, no
    /// `prange`, never recursive. Backends inline it or emit it as a function.
    Helper,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub name: String,
    pub kind: FunctionKind,
    pub span: Span,
    /// Positional parameters in declaration order.
    pub params: Vec<Param>,
    /// Result type; always `Some` for helpers.
    pub ret: Option<ScalarType>,
    /// Every scalar variable of the function (params, lets, loop variables,
    /// checker temporaries), indexed by `VarId`.
    pub vars: Vec<Var>,
    /// Array parameters, indexed by `ArrayId` (empty for helpers).
    pub arrays: Vec<ArrayParam>,
    pub body: Block,
}

impl Function {
    pub fn var(&self, id: VarId) -> &Var {
        &self.vars[id.index()]
    }

    pub fn array(&self, id: ArrayId) -> &ArrayParam {
        &self.arrays[id.index()]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    Scalar(VarId),
    Array(ArrayId),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Var {
    /// Source name; checker temporaries start with `$`.
    pub name: String,
    pub ty: ScalarType,
    pub mutable: bool,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ArrayParam {
    pub name: String,
    pub elem: ScalarType,
    /// Number of dimensions, 1 to 3.
    pub rank: u8,
    pub mutable: bool,
    pub span: Span,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// Defines a fresh variable.
    Let {
        var: VarId,
        init: Expr,
    },
    /// Assigns a `mut` variable (or updates a reduction variable).
    Assign {
        var: VarId,
        value: Expr,
    },
    /// `a[i, j] = value` (compound stores are lowered to a load and a store;
    /// the checker binds non-trivial indices to temporaries first).
    Store {
        access: Access,
        value: Expr,
    },
    /// An expression evaluated for its effect (an atomic).
    Eval(Expr),
    If {
        cond: Expr,
        then: Block,
        els: Block,
    },
    While {
        cond: Expr,
        body: Block,
    },
    For(ForLoop),
    ParFor(ParLoop),
    Break,
    Continue,
    /// Only in kernels with a result type (always with a value there) and in
    /// helpers; never inside a `ParFor`.
    Return(Option<Expr>),
    /// Stops the launch with `Fault::StepNotPositive` when the `i64` value is
    /// `<= 0` (the argument of `step_by`).
    CheckStep(Expr),
}

/// A serial counted loop, normalised by the checker from every range form
/// (`a..b`, `a..=b`, `.step_by(k)`, `.rev()`): the variable takes
/// `start + k*stride` for `k` in `0..count`. `start`, `count`, `stride` are
/// `i64` expressions evaluated once, in that order, before the loop;
/// `count >= 0`.
#[derive(Clone, Debug, PartialEq)]
pub struct ForLoop {
    pub var: VarId,
    pub start: Expr,
    pub count: Expr,
    pub stride: Expr,
    pub body: Block,
}

/// `for (i, j, …) in prange(lo0..hi0, lo1..hi1, …)`: 1 to 3 dimensions, bounds
/// `i64`, evaluated once before the loop (`hi <= lo` means an empty dimension).
/// Iterations are independent; the flattened index space is row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct ParLoop {
    pub vars: Vec<VarId>,
    pub ranges: Vec<(Expr, Expr)>,
    pub reductions: Vec<Reduction>,
    pub body: Block,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reduction {
    pub var: VarId,
    pub op: ReduceOp,
}

/// How a reduction combines contributions. `v -= e` is an `Add` reduction
/// whose per-iteration update subtracts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Add,
    Mul,
    BitAnd,
    BitOr,
    BitXor,
    Min,
    Max,
}

impl ReduceOp {
    /// The neutral element: combining it changes nothing (float `Add` uses
    /// -0.0 so that an empty loop leaves -0.0 unchanged).
    pub fn identity(self, ty: ScalarType) -> Value {
        use ScalarType as T;
        match (self, ty) {
            (ReduceOp::Add | ReduceOp::BitOr | ReduceOp::BitXor, T::Bool) => Value::Bool(false),
            (ReduceOp::BitAnd | ReduceOp::Mul, T::Bool) => Value::Bool(true),
            (ReduceOp::Add, T::F32) => Value::F32(-0.0),
            (ReduceOp::Add, T::F64) => Value::F64(-0.0),
            (ReduceOp::Add | ReduceOp::BitOr | ReduceOp::BitXor, _) => Value::zero(ty),
            (ReduceOp::Mul, _) => Value::one(ty),
            (ReduceOp::BitAnd, T::I32) => Value::I32(-1),
            (ReduceOp::BitAnd, T::U32) => Value::U32(u32::MAX),
            (ReduceOp::BitAnd, _) => Value::I64(-1),
            (ReduceOp::Min, T::I32) => Value::I32(i32::MAX),
            (ReduceOp::Min, T::U32) => Value::U32(u32::MAX),
            (ReduceOp::Min, T::I64) => Value::I64(i64::MAX),
            (ReduceOp::Min, T::F32) => Value::F32(f32::INFINITY),
            (ReduceOp::Min, T::F64) => Value::F64(f64::INFINITY),
            (ReduceOp::Max, T::I32) => Value::I32(i32::MIN),
            (ReduceOp::Max, T::U32) => Value::U32(0),
            (ReduceOp::Max, T::I64) => Value::I64(i64::MIN),
            (ReduceOp::Max, T::F32) => Value::F32(f32::NEG_INFINITY),
            (ReduceOp::Max, T::F64) => Value::F64(f64::NEG_INFINITY),
            (ReduceOp::Min | ReduceOp::Max, T::Bool) => Value::Bool(self == ReduceOp::Min),
        }
    }

    /// `a OP b`: how two partial results combine (Add/Mul/bit ops wrap like
    /// the language's operators; Min/Max are the builtins, NaN-ignoring and
    /// with -0 < +0). Both operands have the reduction's type.
    pub fn combine(self, a: Value, b: Value) -> Value {
        let op = match self {
            ReduceOp::Add => BinOp::Add,
            ReduceOp::Mul => BinOp::Mul,
            ReduceOp::BitAnd => BinOp::BitAnd,
            ReduceOp::BitOr => BinOp::BitOr,
            ReduceOp::BitXor => BinOp::BitXor,
            ReduceOp::Min => return value::builtin(Builtin::Min, &[a, b]),
            ReduceOp::Max => return value::builtin(Builtin::Max, &[a, b]),
        };
        // None of these operators can fail (only `/` and `%` can).
        value::binary(op, a, b).unwrap_or(a)
    }

    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Add => "add",
            ReduceOp::Mul => "mul",
            ReduceOp::BitAnd => "and",
            ReduceOp::BitOr => "or",
            ReduceOp::BitXor => "xor",
            ReduceOp::Min => "min",
            ReduceOp::Max => "max",
        }
    }
}

/// One array element: `array[index…]`. `needs_check[d]` is false where the
/// checker proved `0 <= index[d] < shape(d)` (e.g. `x[i]` with `i` from
/// `prange(0..x.len())`); backends must bounds-check every other dimension.
/// Indices are `i64` (the checker casts narrower integer indices).
#[derive(Clone, Debug, PartialEq)]
pub struct Access {
    pub array: ArrayId,
    pub index: Vec<Expr>,
    pub needs_check: Vec<bool>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: ScalarType,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A literal or folded constant (its type equals `Expr::ty`).
    Const(Value),
    Var(VarId),
    Unary(UnOp, Box<Expr>),
    /// Integer `Div`/`Rem` by zero is `Fault::DivisionByZero` /
    /// `Fault::RemainderByZero`; `MIN / -1` wraps (`MIN % -1` is 0).
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// Conversion of the operand to `Expr::ty`, with Rust `as` semantics.
    Cast(Box<Expr>),
    /// A math builtin; arguments are evaluated, left to right.
    Builtin(Builtin, Vec<Expr>),
    /// A helper function call.
    Call(FuncId, Vec<Expr>),
    /// `if c { a } else { b }`: only the taken branch is evaluated.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Load(Access),
    /// Total element count of an array, `i64`.
    Len(ArrayId),
    /// Extent of one dimension, `i64`.
    Shape(ArrayId, u8),
    /// `atomic_add(a[i], v)` etc.: updates the element atomically and yields
    /// its previous value. The access is bounds-checked like a store.
    Atomic {
        op: AtomicOp,
        access: Access,
        value: Box<Expr>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// Arithmetic negation (wrapping for integers).
    Neg,
    /// Logical not for `bool`, bitwise not for integers.
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// Short-circuit `&&`.
    And,
    /// Short-circuit `||`.
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    Add,
    Min,
    Max,
}

impl AtomicOp {
    pub fn name(self) -> &'static str {
        match self {
            AtomicOp::Add => "atomic_add",
            AtomicOp::Min => "atomic_min",
            AtomicOp::Max => "atomic_max",
        }
    }
}
