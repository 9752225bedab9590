//! The builtin functions, each declared once.
//!
//! Every fact about a builtin lives in the `builtins!` table below: its name
//! in the language, arity, typing rule, cost for the runtime's cost model,
//! whether every backend computes it bit for bit alike, and how it is
//! computed: either a [`Generic`] builtin (defined for several types: every
//! consumer spells it in an exhaustive `match` on [`Generic`]) or a
//! [`FloatFn`] (one function per float width) with its exact semantics (Rust
//! functions; the interpreter and constant folding call them), its Cranelift
//! lowering, its CUDA C spelling and its WGSL spelling.
//!
//! Consumers ask the table (`b.lowering()`, `b.sig()`, `b.cost()` …) instead
//! of matching on [`Builtin`] with wildcard arms, so a builtin added here is
//! either handled everywhere by construction or fails `cargo build` (a new
//! [`Generic`], [`CpuInst`]) or a per-backend unit test (a symbol not
//! registered with the JIT, a WGSL polyfill missing from the shaders, a CUDA
//! spelling NVRTC rejects).

use super::ScalarType;

/// The typing rule of a builtin (its arity is [`Builtin::arity`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinSig {
    /// All arguments of one numeric type; the result has it (`abs min max clamp`).
    Numeric,
    /// All arguments of one float type; the result has it.
    Float,
    /// One float argument; the result is `bool` (`is_nan is_inf`).
    FloatPredicate,
    /// `select(c: bool, a: T, b: T) -> T`.
    Select,
}

/// The builtins whose meaning depends on the argument type beyond the float
/// width (integers, bools, predicates). Every consumer (interpreter, each
/// backend) spells these in an exhaustive `match`, so adding one is a
/// compile error until every backend handles it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generic {
    Abs,
    Min,
    Max,
    Clamp,
    IsNan,
    IsInf,
    Select,
}

/// The exact semantics of a float function, per width. The interpreter and
/// constant folding call these; the CPU JIT calls host wrappers that a unit
/// test checks against them.
#[derive(Clone, Copy)]
pub enum FloatEval {
    Unary(fn(f32) -> f32, fn(f64) -> f64),
    Binary(fn(f32, f32) -> f32, fn(f64, f64) -> f64),
    Ternary(fn(f32, f32, f32) -> f32, fn(f64, f64, f64) -> f64),
}

impl FloatEval {
    pub fn arity(self) -> usize {
        match self {
            FloatEval::Unary(..) => 1,
            FloatEval::Binary(..) => 2,
            FloatEval::Ternary(..) => 3,
        }
    }
}

impl std::fmt::Debug for FloatEval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FloatEval/{}", self.arity())
    }
}

/// One name per float width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerWidth {
    pub f32: &'static str,
    pub f64: &'static str,
}

impl PerWidth {
    /// The name for `ty` (`F64` gives the f64 name, anything else the f32 one).
    pub fn get(self, ty: ScalarType) -> &'static str {
        if ty == ScalarType::F64 {
            self.f64
        } else {
            self.f32
        }
    }
}

/// Cranelift instructions that compute a float builtin exactly
/// (`src/cpu/lower.rs` matches on this exhaustively).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuInst {
    Sqrt,
    Floor,
    Ceil,
    Trunc,
    /// Half away from zero.
    RoundAway,
}

/// How the Cranelift JIT computes a float builtin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuLowering {
    /// A call of a host symbol registered with the JIT (`src/cpu/math.rs`).
    Call(PerWidth),
    /// Inline instructions.
    Inst(CpuInst),
}

/// How WGSL spells a float builtin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WgslFn {
    /// A WGSL builtin function that is exact on every driver.
    Native(&'static str),
    /// A function of the project's WGSL libraries (`shaders/*.wgsl`).
    Polyfill(PerWidth),
}

impl WgslFn {
    pub fn name(self, ty: ScalarType) -> &'static str {
        match self {
            WgslFn::Native(n) => n,
            WgslFn::Polyfill(p) => p.get(ty),
        }
    }
}

/// A float function: one per width, same type in and out.
#[derive(Clone, Copy, Debug)]
pub struct FloatFn {
    pub eval: FloatEval,
    pub cpu: CpuLowering,
    /// The CUDA math library function (`expf` / `exp`).
    pub cuda: PerWidth,
    pub wgsl: WgslFn,
}

/// How a builtin is computed.
#[derive(Clone, Copy, Debug)]
pub enum Lowering {
    Generic(Generic),
    Float(FloatFn),
}

// Constructors the table uses, so each row reads as a line of data.
const fn pw(f32: &'static str, f64: &'static str) -> PerWidth {
    PerWidth { f32, f64 }
}
const fn call(f32: &'static str, f64: &'static str) -> CpuLowering {
    CpuLowering::Call(pw(f32, f64))
}
const fn polyfill(f32: &'static str, f64: &'static str) -> WgslFn {
    WgslFn::Polyfill(pw(f32, f64))
}

macro_rules! builtins {
    (
        $(
            $(#[$doc:meta])*
            $v:ident: $name:literal, arity $arity:literal, $sig:ident, cost $cost:literal,
            exact $exact:literal, $how:tt
        );* $(;)?
    ) => {
        /// Builtin functions. Float-only unless noted. Semantics follow
        /// Rust's methods of the same name (see `value::builtin`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Builtin {
            $($(#[$doc])* $v,)*
        }

        impl Builtin {
            pub const ALL: [Builtin; [$(stringify!($v)),*].len()] = [$(Builtin::$v),*];

            /// The name in the language (also the method name: `x.sqrt()`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Builtin::$v => $name,)*
                }
            }

            /// Number of arguments.
            pub fn arity(self) -> usize {
                match self {
                    $(Builtin::$v => $arity,)*
                }
            }

            /// The typing rule.
            pub fn sig(self) -> BuiltinSig {
                match self {
                    $(Builtin::$v => BuiltinSig::$sig,)*
                }
            }

            /// Relative cost of one call, in simple arithmetic operations
            /// (the runtime's cost model).
            pub fn cost(self) -> u32 {
                match self {
                    $(Builtin::$v => $cost,)*
                }
            }

            /// Whether every backend gives the same bits for the same
            /// arguments (exact or correctly rounded everywhere), so random
            /// tests may compare them exactly.
            pub fn exact(self) -> bool {
                match self {
                    $(Builtin::$v => $exact,)*
                }
            }

            /// How the builtin is computed (semantics and backend spellings).
            pub fn lowering(self) -> Lowering {
                match self {
                    $(Builtin::$v => builtins!(@how $how),)*
                }
            }
        }
    };
    (@how { generic $g:ident }) => {
        Lowering::Generic(Generic::$g)
    };
    (@how { unary($e32:expr, $e64:expr), cpu $cpu:expr, cuda($c32:literal, $c64:literal), wgsl $w:expr $(,)? }) => {
        Lowering::Float(FloatFn {
            eval: FloatEval::Unary($e32, $e64),
            cpu: $cpu,
            cuda: pw($c32, $c64),
            wgsl: $w,
        })
    };
    (@how { binary($e32:expr, $e64:expr), cpu $cpu:expr, cuda($c32:literal, $c64:literal), wgsl $w:expr $(,)? }) => {
        Lowering::Float(FloatFn {
            eval: FloatEval::Binary($e32, $e64),
            cpu: $cpu,
            cuda: pw($c32, $c64),
            wgsl: $w,
        })
    };
    (@how { ternary($e32:expr, $e64:expr), cpu $cpu:expr, cuda($c32:literal, $c64:literal), wgsl $w:expr $(,)? }) => {
        Lowering::Float(FloatFn {
            eval: FloatEval::Ternary($e32, $e64),
            cpu: $cpu,
            cuda: pw($c32, $c64),
            wgsl: $w,
        })
    };
}

use CpuInst as I;
use WgslFn::Native;

// Columns: variant: name, arity, typing rule, cost, exact on every backend,
// then either `generic G` or the float function's semantics (f32, f64), its
// Cranelift lowering, CUDA spelling (f32, f64) and WGSL spelling.
builtins! {
    /// All numeric types; integer `abs` wraps, unsigned is the identity.
    Abs: "abs", arity 1, Numeric, cost 1, exact true, { generic Abs };
    /// All numeric types; for floats a NaN operand yields the other operand.
    Min: "min", arity 2, Numeric, cost 1, exact true, { generic Min };
    Max: "max", arity 2, Numeric, cost 1, exact true, { generic Max };
    /// `clamp(x, lo, hi)` = `min(max(x, lo), hi)`; all numeric types.
    Clamp: "clamp", arity 3, Numeric, cost 1, exact true, { generic Clamp };
    Sqrt: "sqrt", arity 1, Float, cost 4, exact true, {
        unary(f32::sqrt, f64::sqrt), cpu CpuLowering::Inst(I::Sqrt),
        cuda("sqrtf", "sqrt"), wgsl Native("sqrt"),
    };
    Cbrt: "cbrt", arity 1, Float, cost 20, exact false, {
        unary(f32::cbrt, f64::cbrt), cpu call("kiln_cbrt_f32", "kiln_cbrt_f64"),
        cuda("cbrtf", "cbrt"), wgsl polyfill("kiln_cbrt_f32", "kiln_cbrt_f64"),
    };
    Exp: "exp", arity 1, Float, cost 20, exact false, {
        unary(f32::exp, f64::exp), cpu call("kiln_exp_f32", "kiln_exp_f64"),
        cuda("expf", "exp"), wgsl polyfill("kiln_exp_f32", "kiln_exp_f64"),
    };
    Exp2: "exp2", arity 1, Float, cost 20, exact false, {
        unary(f32::exp2, f64::exp2), cpu call("kiln_exp2_f32", "kiln_exp2_f64"),
        cuda("exp2f", "exp2"), wgsl polyfill("kiln_exp2_f32", "kiln_exp2_f64"),
    };
    /// `exp(x) - 1`, accurate near zero (Rust `exp_m1`).
    Expm1: "expm1", arity 1, Float, cost 20, exact false, {
        unary(f32::exp_m1, f64::exp_m1), cpu call("kiln_expm1_f32", "kiln_expm1_f64"),
        cuda("expm1f", "expm1"), wgsl polyfill("kiln_expm1_f32", "kiln_expm1_f64"),
    };
    /// Natural logarithm (`log` in the language).
    Ln: "log", arity 1, Float, cost 20, exact false, {
        unary(f32::ln, f64::ln), cpu call("kiln_ln_f32", "kiln_ln_f64"),
        cuda("logf", "log"), wgsl polyfill("kiln_log_f32", "kiln_log_f64"),
    };
    /// `log(1 + x)`, accurate near zero (Rust `ln_1p`).
    Log1p: "log1p", arity 1, Float, cost 20, exact false, {
        unary(f32::ln_1p, f64::ln_1p), cpu call("kiln_log1p_f32", "kiln_log1p_f64"),
        cuda("log1pf", "log1p"), wgsl polyfill("kiln_log1p_f32", "kiln_log1p_f64"),
    };
    Log2: "log2", arity 1, Float, cost 20, exact false, {
        unary(f32::log2, f64::log2), cpu call("kiln_log2_f32", "kiln_log2_f64"),
        cuda("log2f", "log2"), wgsl polyfill("kiln_log2_f32", "kiln_log2_f64"),
    };
    Log10: "log10", arity 1, Float, cost 20, exact false, {
        unary(f32::log10, f64::log10), cpu call("kiln_log10_f32", "kiln_log10_f64"),
        cuda("log10f", "log10"), wgsl polyfill("kiln_log10_f32", "kiln_log10_f64"),
    };
    Sin: "sin", arity 1, Float, cost 20, exact false, {
        unary(f32::sin, f64::sin), cpu call("kiln_sin_f32", "kiln_sin_f64"),
        cuda("sinf", "sin"), wgsl polyfill("kiln_sin_f32", "kiln_sin_f64"),
    };
    Cos: "cos", arity 1, Float, cost 20, exact false, {
        unary(f32::cos, f64::cos), cpu call("kiln_cos_f32", "kiln_cos_f64"),
        cuda("cosf", "cos"), wgsl polyfill("kiln_cos_f32", "kiln_cos_f64"),
    };
    Tan: "tan", arity 1, Float, cost 20, exact false, {
        unary(f32::tan, f64::tan), cpu call("kiln_tan_f32", "kiln_tan_f64"),
        cuda("tanf", "tan"), wgsl polyfill("kiln_tan_f32", "kiln_tan_f64"),
    };
    Asin: "asin", arity 1, Float, cost 20, exact false, {
        unary(f32::asin, f64::asin), cpu call("kiln_asin_f32", "kiln_asin_f64"),
        cuda("asinf", "asin"), wgsl polyfill("kiln_asin_f32", "kiln_asin_f64"),
    };
    Acos: "acos", arity 1, Float, cost 20, exact false, {
        unary(f32::acos, f64::acos), cpu call("kiln_acos_f32", "kiln_acos_f64"),
        cuda("acosf", "acos"), wgsl polyfill("kiln_acos_f32", "kiln_acos_f64"),
    };
    Atan: "atan", arity 1, Float, cost 20, exact false, {
        unary(f32::atan, f64::atan), cpu call("kiln_atan_f32", "kiln_atan_f64"),
        cuda("atanf", "atan"), wgsl polyfill("kiln_atan_f32", "kiln_atan_f64"),
    };
    Atan2: "atan2", arity 2, Float, cost 20, exact false, {
        binary(f32::atan2, f64::atan2), cpu call("kiln_atan2_f32", "kiln_atan2_f64"),
        cuda("atan2f", "atan2"), wgsl polyfill("kiln_atan2_f32", "kiln_atan2_f64"),
    };
    Sinh: "sinh", arity 1, Float, cost 20, exact false, {
        unary(f32::sinh, f64::sinh), cpu call("kiln_sinh_f32", "kiln_sinh_f64"),
        cuda("sinhf", "sinh"), wgsl polyfill("kiln_sinh_f32", "kiln_sinh_f64"),
    };
    Cosh: "cosh", arity 1, Float, cost 20, exact false, {
        unary(f32::cosh, f64::cosh), cpu call("kiln_cosh_f32", "kiln_cosh_f64"),
        cuda("coshf", "cosh"), wgsl polyfill("kiln_cosh_f32", "kiln_cosh_f64"),
    };
    Tanh: "tanh", arity 1, Float, cost 20, exact false, {
        unary(f32::tanh, f64::tanh), cpu call("kiln_tanh_f32", "kiln_tanh_f64"),
        cuda("tanhf", "tanh"), wgsl polyfill("kiln_tanh_f32", "kiln_tanh_f64"),
    };
    /// `pow(x, y)`, both float (Rust `powf`).
    Pow: "pow", arity 2, Float, cost 20, exact false, {
        binary(f32::powf, f64::powf), cpu call("kiln_pow_f32", "kiln_pow_f64"),
        cuda("powf", "pow"), wgsl polyfill("kiln_pow_f32", "kiln_pow_f64"),
    };
    Floor: "floor", arity 1, Float, cost 20, exact true, {
        unary(f32::floor, f64::floor), cpu CpuLowering::Inst(I::Floor),
        cuda("floorf", "floor"), wgsl Native("floor"),
    };
    Ceil: "ceil", arity 1, Float, cost 20, exact true, {
        unary(f32::ceil, f64::ceil), cpu CpuLowering::Inst(I::Ceil),
        cuda("ceilf", "ceil"), wgsl Native("ceil"),
    };
    /// Half away from zero (C's `round`; WGSL's rounds half to even).
    Round: "round", arity 1, Float, cost 20, exact true, {
        unary(f32::round, f64::round), cpu CpuLowering::Inst(I::RoundAway),
        cuda("roundf", "round"), wgsl polyfill("kiln_round_away_f32", "kiln_round_away_f64"),
    };
    Trunc: "trunc", arity 1, Float, cost 20, exact true, {
        unary(f32::trunc, f64::trunc), cpu CpuLowering::Inst(I::Trunc),
        cuda("truncf", "trunc"), wgsl Native("trunc"),
    };
    /// `fma(a, b, c)` = `a*b + c` with one rounding. (Native WGSL `fma` is
    /// unfused on Mesa: the polyfill rounds once; see docs/gpu-math.md for
    /// its subnormal-product gap.)
    Fma: "fma", arity 3, Float, cost 20, exact true, {
        ternary(f32::mul_add, f64::mul_add), cpu call("kiln_fma_f32", "kiln_fma_f64"),
        cuda("fmaf", "fma"), wgsl polyfill("kiln_fma_f32", "kiln_fma_f64"),
    };
    Erf: "erf", arity 1, Float, cost 20, exact false, {
        unary(super::cmath::erff, super::cmath::erf), cpu call("kiln_erf_f32", "kiln_erf_f64"),
        cuda("erff", "erf"), wgsl polyfill("kiln_erf_f32", "kiln_erf_f64"),
    };
    Hypot: "hypot", arity 2, Float, cost 20, exact false, {
        binary(f32::hypot, f64::hypot), cpu call("kiln_hypot_f32", "kiln_hypot_f64"),
        cuda("hypotf", "hypot"), wgsl polyfill("kiln_hypot_f32", "kiln_hypot_f64"),
    };
    /// Float -> bool.
    IsNan: "is_nan", arity 1, FloatPredicate, cost 20, exact true, { generic IsNan };
    IsInf: "is_inf", arity 1, FloatPredicate, cost 20, exact true, { generic IsInf };
    /// `select(c, a, b)`: both `a` and `b` are evaluated; any type.
    Select: "select", arity 3, Select, cost 20, exact true, { generic Select };
}

impl Builtin {
    pub fn from_name(s: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == s)
    }

    /// The float function, or `None` for a [`Generic`] builtin.
    pub fn float_fn(self) -> Option<FloatFn> {
        match self.lowering() {
            Lowering::Float(f) => Some(f),
            Lowering::Generic(_) => None,
        }
    }

    /// The CUDA math function computing this builtin on `ty` (`None` for a
    /// [`Generic`] builtin).
    pub fn cuda_name(self, ty: ScalarType) -> Option<&'static str> {
        self.float_fn().map(|f| f.cuda.get(ty))
    }

    /// The WGSL function computing this builtin on `ty` (`None` for a
    /// [`Generic`] builtin).
    pub fn wgsl_name(self, ty: ScalarType) -> Option<&'static str> {
        self.float_fn().map(|f| f.wgsl.name(ty))
    }

    /// The Cranelift lowering (`None` for a [`Generic`] builtin).
    pub fn cpu_lowering(self) -> Option<CpuLowering> {
        self.float_fn().map(|f| f.cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let mut names = std::collections::HashSet::new();
        for b in Builtin::ALL {
            assert!(names.insert(b.name()), "{} declared twice", b.name());
            assert_eq!(Builtin::from_name(b.name()), Some(b));
            match b.lowering() {
                Lowering::Float(f) => {
                    assert_eq!(b.sig(), BuiltinSig::Float, "{}", b.name());
                    assert_eq!(f.eval.arity(), b.arity(), "{}", b.name());
                    // C's convention: the float version has an `f` suffix.
                    assert_eq!(f.cuda.f32, format!("{}f", f.cuda.f64));
                    if let WgslFn::Polyfill(p) = f.wgsl {
                        assert!(p.f32.ends_with("_f32") && p.f64.ends_with("_f64"));
                    }
                    if let CpuLowering::Call(p) = f.cpu {
                        assert!(p.f32.ends_with("_f32") && p.f64.ends_with("_f64"));
                    }
                }
                Lowering::Generic(g) => {
                    let (arity, sig) = match g {
                        Generic::Abs => (1, BuiltinSig::Numeric),
                        Generic::Min | Generic::Max => (2, BuiltinSig::Numeric),
                        Generic::Clamp => (3, BuiltinSig::Numeric),
                        Generic::IsNan | Generic::IsInf => (1, BuiltinSig::FloatPredicate),
                        Generic::Select => (3, BuiltinSig::Select),
                    };
                    assert_eq!((b.arity(), b.sig()), (arity, sig), "{}", b.name());
                }
            }
        }
    }
}
