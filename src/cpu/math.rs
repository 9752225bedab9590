//! Math builtins as host symbols the JIT links against.
//!
//! Cranelift has no transcendental instructions, so every such builtin is a
//! call to a small `extern "C"` wrapper around Rust's `std` or `ir::cmath`
//! (`erf`): the same functions the interpreter uses, so results agree bit
//! for bit. The f32
//! builtins call the f32 versions. Every symbol is registered with
//! `JITBuilder::symbol`, including the libcalls Cranelift itself may emit for
//! `floor`/`ceil`/`trunc`/`nearest`/`fma` on hosts without SSE4.1/FMA, so the
//! JIT never falls back to looking symbols up with dlsym.

/// Defines the `extern "C"` host functions and `host_fns()`, the list of
/// them with their addresses (each function is named once).
macro_rules! host_fns {
    (
        unary { $($u:ident: $ut:ty => |$x:ident| $ub:expr;)* }
        binary { $($b:ident: $bt:ty => |$y:ident, $z:ident| $bb:expr;)* }
        ternary { $($f:ident: $ft:ty => |$p:ident, $q:ident, $r:ident| $fb:expr;)* }
    ) => {
        $(extern "C" fn $u($x: $ut) -> $ut { $ub })*
        $(extern "C" fn $b($y: $bt, $z: $bt) -> $bt { $bb })*
        $(extern "C" fn $f($p: $ft, $q: $ft, $r: $ft) -> $ft { $fb })*

        fn host_fns() -> Vec<(&'static str, *const u8)> {
            vec![
                $((stringify!($u), $u as *const u8),)*
                $((stringify!($b), $b as *const u8),)*
                $((stringify!($f), $f as *const u8),)*
            ]
        }
    };
}

host_fns! {
    unary {
        kiln_cbrt_f64: f64 => |x| x.cbrt();
        kiln_cbrt_f32: f32 => |x| x.cbrt();
        kiln_exp_f64: f64 => |x| x.exp();
        kiln_exp_f32: f32 => |x| x.exp();
        kiln_exp2_f64: f64 => |x| x.exp2();
        kiln_exp2_f32: f32 => |x| x.exp2();
        kiln_expm1_f64: f64 => |x| x.exp_m1();
        kiln_expm1_f32: f32 => |x| x.exp_m1();
        kiln_ln_f64: f64 => |x| x.ln();
        kiln_ln_f32: f32 => |x| x.ln();
        kiln_log1p_f64: f64 => |x| x.ln_1p();
        kiln_log1p_f32: f32 => |x| x.ln_1p();
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
        kiln_erf_f64: f64 => |x| crate::ir::cmath::erf(x);
        kiln_erf_f32: f32 => |x| crate::ir::cmath::erff(x);
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
    binary {
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
    ternary {
        kiln_fma_f64: f64 => |a, b, c| a.mul_add(b, c);
        kiln_fma_f32: f32 => |a, b, c| a.mul_add(b, c);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn sincos(x: f64, sin: *mut f64, cos: *mut f64);
    fn sincosf(x: f32, sin: *mut f32, cos: *mut f32);
}

/// `sin(x)` into `out[0]` and `cos(x)` into `out[1]` (a fused pair, see
/// `lower::trig`). With glibc its `sincos`, one argument reduction for both
/// and the bits of its `sin` and `cos` (the test below checks); elsewhere
/// the two calls.
extern "C" fn kiln_sincos_f64(x: f64, out: *mut f64) {
    // SAFETY: the generated code passes a two-element stack slot.
    unsafe {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        sincos(x, out, out.add(1));
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        {
            *out = x.sin();
            *out.add(1) = x.cos();
        }
    }
}

/// The `f32` version of [`kiln_sincos_f64`].
extern "C" fn kiln_sincos_f32(x: f32, out: *mut f32) {
    // SAFETY: the generated code passes a two-element stack slot.
    unsafe {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        sincosf(x, out, out.add(1));
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        {
            *out = x.sin();
            *out.add(1) = x.cos();
        }
    }
}

/// Every host symbol the generated code may reference, with its address.
pub(crate) fn symbols() -> Vec<(&'static str, *const u8)> {
    let mut v = host_fns();
    v.extend([
        ("kiln_sincos_f64", kiln_sincos_f64 as *const u8),
        ("kiln_sincos_f32", kiln_sincos_f32 as *const u8),
    ]);
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
    use crate::ir::builtins::{CpuLowering, FloatEval, Lowering};
    use crate::ir::{Builtin, ScalarType};

    const SAMPLES: [f64; 14] = [
        0.0,
        -0.0,
        1e-10,
        -1e-10,
        0.3,
        -0.7,
        1.5,
        -1.0,
        10.0,
        -30.0,
        700.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];

    /// A fused `sincos` gives exactly the table's `sin` and `cos` (what the
    /// interpreter computes), for both widths: specials, small, large and
    /// huge arguments (the slow argument reduction) and random bit patterns.
    #[test]
    fn fused_sincos_has_the_bits_of_sin_and_cos() {
        let eval = |f: Builtin| match f.lowering() {
            Lowering::Float(func) => match func.eval {
                FloatEval::Unary(e32, e64) => (e32, e64),
                _ => unreachable!("sin and cos are unary"),
            },
            _ => unreachable!("sin and cos are float builtins"),
        };
        let ((sin32, sin64), (cos32, cos64)) = (eval(Builtin::Sin), eval(Builtin::Cos));
        let same32 = |a: f32, b: f32| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan();
        let same64 = |a: f64, b: f64| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut inputs: Vec<f64> = SAMPLES.to_vec();
        inputs.extend([f64::MAX, f64::MIN_POSITIVE, 1e22, -1e300, 6.283185307179586]);
        for k in 0..200_000u64 {
            let r = next();
            let u = (r >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            inputs.push(match k % 4 {
                0 => u * 20.0,
                1 => u * 2e6,
                2 => u * 1e300,
                _ => f64::from_bits(r),
            });
        }
        for x in inputs {
            let mut out64 = [0.0f64; 2];
            kiln_sincos_f64(x, out64.as_mut_ptr());
            assert!(
                same64(out64[0], sin64(x)) && same64(out64[1], cos64(x)),
                "f64 at {x:e}"
            );
            let x32 = x as f32;
            let mut out32 = [0.0f32; 2];
            kiln_sincos_f32(x32, out32.as_mut_ptr());
            assert!(
                same32(out32[0], sin32(x32)) && same32(out32[1], cos32(x32)),
                "f32 at {x32:e}"
            );
        }
    }

    /// Every builtin the table lowers to a call has a registered host
    /// function for both widths, and that function computes exactly the
    /// table's semantics (what the interpreter computes).
    #[test]
    fn every_called_builtin_is_registered_and_agrees_with_the_table() {
        let table = symbols();
        let addr = |name: &str| {
            table
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("{name} is not registered with the JIT"))
                .1
        };
        let same32 = |a: f32, b: f32| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan();
        let same64 = |a: f64, b: f64| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan();
        let mut called = 0;
        for f in Builtin::ALL {
            let Lowering::Float(func) = f.lowering() else {
                continue;
            };
            let CpuLowering::Call(names) = func.cpu else {
                continue;
            };
            called += 1;
            let (p32, p64) = (addr(names.f32), addr(names.f64));
            // SAFETY: the registered functions have exactly these
            // signatures (`host_fns!`), checked by the arity of the table's
            // semantics and the `_f32`/`_f64` suffix.
            for &x in &SAMPLES {
                let (y, z) = (0.25 - x, x * 0.5);
                let (x32, y32, z32) = (x as f32, y as f32, z as f32);
                let ok = unsafe {
                    match func.eval {
                        FloatEval::Unary(e32, e64) => {
                            let h32: extern "C" fn(f32) -> f32 = std::mem::transmute(p32);
                            let h64: extern "C" fn(f64) -> f64 = std::mem::transmute(p64);
                            same32(h32(x32), e32(x32)) && same64(h64(x), e64(x))
                        }
                        FloatEval::Binary(e32, e64) => {
                            let h32: extern "C" fn(f32, f32) -> f32 = std::mem::transmute(p32);
                            let h64: extern "C" fn(f64, f64) -> f64 = std::mem::transmute(p64);
                            same32(h32(x32, y32), e32(x32, y32)) && same64(h64(x, y), e64(x, y))
                        }
                        FloatEval::Ternary(e32, e64) => {
                            let h32: extern "C" fn(f32, f32, f32) -> f32 = std::mem::transmute(p32);
                            let h64: extern "C" fn(f64, f64, f64) -> f64 = std::mem::transmute(p64);
                            same32(h32(x32, y32, z32), e32(x32, y32, z32))
                                && same64(h64(x, y, z), e64(x, y, z))
                        }
                    }
                };
                assert!(ok, "{} disagrees with the table at {x}", f.name());
            }
        }
        assert!(called > 20);
    }

    #[test]
    fn f32_builtins_use_f32_functions() {
        let symbol = |f: Builtin, ty| match f.cpu_lowering() {
            Some(CpuLowering::Call(names)) => Some(names.get(ty)),
            _ => None,
        };
        assert_eq!(symbol(Builtin::Sin, ScalarType::F32), Some("kiln_sin_f32"));
        assert_eq!(
            symbol(Builtin::Log1p, ScalarType::F64),
            Some("kiln_log1p_f64")
        );
        assert_eq!(symbol(Builtin::Sqrt, ScalarType::F64), None);
        assert_eq!(kiln_erf_f32(0.5), crate::ir::cmath::erff(0.5));
    }
}
