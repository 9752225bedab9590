//! The element types of expressions: every scalar of the language
//! (`bool` only for conditions), with what reductions need per type.

use crate::ir::{ScalarType, Value};
use crate::runtime::HostElement;

mod sealed {
    pub trait Sealed {}
}

/// An expression's element type: `bool i32 u32 i64 f32 f64`.
pub trait ExprElement: Copy + Send + Sync + 'static + sealed::Sealed {
    /// The language's type.
    const SCALAR: ScalarType;
    /// As a kernel argument.
    fn value(self) -> Value;
    /// From a kernel's result.
    fn from_value(v: Value) -> Option<Self>;
}

/// Numeric element types (those an `Array` holds): arithmetic, reductions.
pub trait Numeric: ExprElement + HostElement {
    /// The identity of `min` (the largest value, `+inf` for floats).
    const MIN_IDENTITY: Self;
    /// The identity of `max`.
    const MAX_IDENTITY: Self;
    /// The neutral elements of `+` and `*`.
    const ZERO: Self;
    /// See [`Numeric::ZERO`].
    const ONE: Self;
    /// `self / n`, the mean of `n` elements summing to `self`; integers
    /// divide (truncating) and `None` when `n` is zero.
    fn mean_of(self, n: usize) -> Option<Self>;
}

/// Signed element types: unary `-` (the language rejects it on `u32`).
pub trait Signed: Numeric {}

/// Float element types: the math builtins.
pub trait Float: Signed {}

macro_rules! element {
    ($t:ty, $st:ident, $v:ident) => {
        impl sealed::Sealed for $t {}
        impl ExprElement for $t {
            const SCALAR: ScalarType = ScalarType::$st;
            fn value(self) -> Value {
                Value::$v(self)
            }
            fn from_value(v: Value) -> Option<Self> {
                match v {
                    Value::$v(x) => Some(x),
                    _ => None,
                }
            }
        }
    };
}
element!(bool, Bool, Bool);
element!(i32, I32, I32);
element!(u32, U32, U32);
element!(i64, I64, I64);
element!(f32, F32, F32);
element!(f64, F64, F64);

macro_rules! int {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            const MIN_IDENTITY: Self = <$t>::MAX;
            const MAX_IDENTITY: Self = <$t>::MIN;
            const ZERO: Self = 0;
            const ONE: Self = 1;
            fn mean_of(self, n: usize) -> Option<Self> {
                // Wrapping like the language (`i32::MIN / -1` cannot occur:
                // n is positive).
                (n > 0).then(|| self.wrapping_div(n as $t))
            }
        }
    )*};
}
int!(i32, u32, i64);
impl Signed for i32 {}
impl Signed for i64 {}

macro_rules! float {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            const MIN_IDENTITY: Self = <$t>::INFINITY;
            const MAX_IDENTITY: Self = <$t>::NEG_INFINITY;
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn mean_of(self, n: usize) -> Option<Self> {
                // NumPy's answer for no elements: NaN (0 / 0).
                Some(self / n as $t)
            }
        }
        impl Signed for $t {}
        impl Float for $t {}
    )*};
}
float!(f32, f64);
