//! Math builtins as host symbols the JIT links against.
//!
//! Cranelift has no transcendental instructions, so every such builtin is a
//! call to a small `extern "C"` wrapper around Rust's `std`/`libm` (the same
//! functions the interpreter uses, so results agree bit for bit). The f32
//! builtins call the f32 versions. Every symbol is registered with
//! `JITBuilder::symbol`, including the libcalls Cranelift itself may emit for
//! `floor`/`ceil`/`trunc`/`nearest`/`fma` on hosts without SSE4.1/FMA, so the
//! JIT never falls back to looking symbols up with dlsym.

use crate::ir::{Builtin, ScalarType};

macro_rules! unary_fns {
    ($($name:ident: $t:ty => |$x:ident| $body:expr;)*) => {
        $(extern "C" fn $name($x: $t) -> $t { $body })*
    };
}

macro_rules! binary_fns {
    ($($name:ident: $t:ty => |$x:ident, $y:ident| $body:expr;)*) => {
        $(extern "C" fn $name($x: $t, $y: $t) -> $t { $body })*
    };
}

unary_fns! {
    kiln_cbrt_f64: f64 => |x| x.cbrt();
    kiln_cbrt_f32: f32 => |x| x.cbrt();
    kiln_exp_f64: f64 => |x| x.exp();
    kiln_exp_f32: f32 => |x| x.exp();
    kiln_exp2_f64: f64 => |x| x.exp2();
    kiln_exp2_f32: f32 => |x| x.exp2();
    kiln_ln_f64: f64 => |x| x.ln();
    kiln_ln_f32: f32 => |x| x.ln();
    kiln_log2_f64: f64 => |x| x.log2();
    kiln_log2_f32: f32 => |x| x.log2();
    kiln_log10_f64: f64 => |x| x.log10();
    kiln_log10_f32: f32 => |x| x.log10();
    kiln_sin_f64: f64 => |x| x.sin();
    kiln_sin_f32: f32 => |x| x.sin();
    kiln_cos_f64: f64 => |x| x.cos();
    kiln_cos_f32: f32 => |x| x.cos();
    kiln_tan_f64: f64 => |x| x.tan();
    kiln_tan_f32: f32 => |x| x.tan();
    kiln_asin_f64: f64 => |x| x.asin();
    kiln_asin_f32: f32 => |x| x.asin();
    kiln_acos_f64: f64 => |x| x.acos();
    kiln_acos_f32: f32 => |x| x.acos();
    kiln_atan_f64: f64 => |x| x.atan();
    kiln_atan_f32: f32 => |x| x.atan();
    kiln_sinh_f64: f64 => |x| x.sinh();
    kiln_sinh_f32: f32 => |x| x.sinh();
    kiln_cosh_f64: f64 => |x| x.cosh();
    kiln_cosh_f32: f32 => |x| x.cosh();
    kiln_tanh_f64: f64 => |x| x.tanh();
    kiln_tanh_f32: f32 => |x| x.tanh();
    kiln_erf_f64: f64 => |x| libm::erf(x);
    kiln_erf_f32: f32 => |x| libm::erff(x);
    // Targets of Cranelift's own libcalls (see the module comment).
    kiln_floor_f64: f64 => |x| x.floor();
    kiln_floor_f32: f32 => |x| x.floor();
    kiln_ceil_f64: f64 => |x| x.ceil();
    kiln_ceil_f32: f32 => |x| x.ceil();
    kiln_trunc_f64: f64 => |x| x.trunc();
    kiln_trunc_f32: f32 => |x| x.trunc();
    kiln_nearest_f64: f64 => |x| x.round_ties_even();
    kiln_nearest_f32: f32 => |x| x.round_ties_even();
}

binary_fns! {
    kiln_atan2_f64: f64 => |y, x| y.atan2(x);
    kiln_atan2_f32: f32 => |y, x| y.atan2(x);
    kiln_pow_f64: f64 => |x, y| x.powf(y);
    kiln_pow_f32: f32 => |x, y| x.powf(y);
    kiln_hypot_f64: f64 => |x, y| x.hypot(y);
    kiln_hypot_f32: f32 => |x, y| x.hypot(y);
    // Float `%` (Rust's: the sign of the dividend).
    kiln_fmod_f64: f64 => |x, y| x % y;
    kiln_fmod_f32: f32 => |x, y| x % y;
}

extern "C" fn kiln_fma_f64(a: f64, b: f64, c: f64) -> f64 {
    a.mul_add(b, c)
}

extern "C" fn kiln_fma_f32(a: f32, b: f32, c: f32) -> f32 {
    a.mul_add(b, c)
}

/// The symbol a builtin calls for `ty` (`F32` or `F64`), or `None` when it is
/// lowered to instructions instead.
pub(crate) fn symbol(f: Builtin, ty: ScalarType) -> Option<&'static str> {
    let f64_ = ty == ScalarType::F64;
    let pick = |a: &'static str, b: &'static str| Some(if f64_ { a } else { b });
    match f {
        Builtin::Cbrt => pick("kiln_cbrt_f64", "kiln_cbrt_f32"),
        Builtin::Exp => pick("kiln_exp_f64", "kiln_exp_f32"),
        Builtin::Exp2 => pick("kiln_exp2_f64", "kiln_exp2_f32"),
        Builtin::Ln => pick("kiln_ln_f64", "kiln_ln_f32"),
        Builtin::Log2 => pick("kiln_log2_f64", "kiln_log2_f32"),
        Builtin::Log10 => pick("kiln_log10_f64", "kiln_log10_f32"),
        Builtin::Sin => pick("kiln_sin_f64", "kiln_sin_f32"),
        Builtin::Cos => pick("kiln_cos_f64", "kiln_cos_f32"),
        Builtin::Tan => pick("kiln_tan_f64", "kiln_tan_f32"),
        Builtin::Asin => pick("kiln_asin_f64", "kiln_asin_f32"),
        Builtin::Acos => pick("kiln_acos_f64", "kiln_acos_f32"),
        Builtin::Atan => pick("kiln_atan_f64", "kiln_atan_f32"),
        Builtin::Atan2 => pick("kiln_atan2_f64", "kiln_atan2_f32"),
        Builtin::Sinh => pick("kiln_sinh_f64", "kiln_sinh_f32"),
        Builtin::Cosh => pick("kiln_cosh_f64", "kiln_cosh_f32"),
        Builtin::Tanh => pick("kiln_tanh_f64", "kiln_tanh_f32"),
        Builtin::Pow => pick("kiln_pow_f64", "kiln_pow_f32"),
        Builtin::Erf => pick("kiln_erf_f64", "kiln_erf_f32"),
        Builtin::Hypot => pick("kiln_hypot_f64", "kiln_hypot_f32"),
        Builtin::Fma => pick("kiln_fma_f64", "kiln_fma_f32"),
        _ => None,
    }
}

/// Every host symbol the generated code may reference, with its address.
pub(crate) fn symbols() -> Vec<(&'static str, *const u8)> {
    macro_rules! table {
        ($($name:ident),* $(,)?) => { vec![$((stringify!($name), $name as *const u8)),*] };
    }
    let mut v = table![
        kiln_cbrt_f64,
        kiln_cbrt_f32,
        kiln_exp_f64,
        kiln_exp_f32,
        kiln_exp2_f64,
        kiln_exp2_f32,
        kiln_ln_f64,
        kiln_ln_f32,
        kiln_log2_f64,
        kiln_log2_f32,
        kiln_log10_f64,
        kiln_log10_f32,
        kiln_sin_f64,
        kiln_sin_f32,
        kiln_cos_f64,
        kiln_cos_f32,
        kiln_tan_f64,
        kiln_tan_f32,
        kiln_asin_f64,
        kiln_asin_f32,
        kiln_acos_f64,
        kiln_acos_f32,
        kiln_atan_f64,
        kiln_atan_f32,
        kiln_sinh_f64,
        kiln_sinh_f32,
        kiln_cosh_f64,
        kiln_cosh_f32,
        kiln_tanh_f64,
        kiln_tanh_f32,
        kiln_erf_f64,
        kiln_erf_f32,
        kiln_atan2_f64,
        kiln_atan2_f32,
        kiln_pow_f64,
        kiln_pow_f32,
        kiln_hypot_f64,
        kiln_hypot_f32,
        kiln_fma_f64,
        kiln_fma_f32,
        kiln_fmod_f64,
        kiln_fmod_f32,
    ];
    // Cranelift's libcall names (`cranelift_module::default_libcall_names`).
    v.extend([
        ("floor", kiln_floor_f64 as *const u8),
        ("floorf", kiln_floor_f32 as *const u8),
        ("ceil", kiln_ceil_f64 as *const u8),
        ("ceilf", kiln_ceil_f32 as *const u8),
        ("trunc", kiln_trunc_f64 as *const u8),
        ("truncf", kiln_trunc_f32 as *const u8),
        ("nearbyint", kiln_nearest_f64 as *const u8),
        ("nearbyintf", kiln_nearest_f32 as *const u8),
        ("fma", kiln_fma_f64 as *const u8),
        ("fmaf", kiln_fma_f32 as *const u8),
    ]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_called_builtin_has_a_registered_symbol() {
        let table = symbols();
        for f in Builtin::ALL {
            for ty in [ScalarType::F32, ScalarType::F64] {
                if let Some(name) = symbol(f, ty) {
                    assert!(table.iter().any(|(n, _)| *n == name), "{name} missing");
                }
            }
        }
    }

    #[test]
    fn f32_builtins_use_f32_functions() {
        assert_eq!(symbol(Builtin::Sin, ScalarType::F32), Some("kiln_sin_f32"));
        assert_eq!(kiln_erf_f32(0.5), libm::erff(0.5));
    }
}
