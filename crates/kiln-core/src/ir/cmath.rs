//! Math functions Rust's `std` lacks, taken from the platform's C math
//! library: the library `std`'s own `exp`, `ln` and `sin` call, so the
//! reference semantics (`value::builtin`) and the CPU JIT share them bit for
//! bit. glibc's `erf` is within 1 ulp and 1.6x faster than the `libm`
//! crate's port of musl (blackscholes calls it four times per element); on
//! targets without a C library the `libm` crate stands in.

#[cfg(any(unix, windows))]
mod sys {
    extern "C" {
        pub fn erf(x: f64) -> f64;
        pub fn erff(x: f32) -> f32;
    }
}

/// The error function of `x` (C99 `erf`).
pub fn erf(x: f64) -> f64 {
    #[cfg(any(unix, windows))]
    // SAFETY: a pure C99 math function of one double.
    return unsafe { sys::erf(x) };
    #[cfg(not(any(unix, windows)))]
    return libm::erf(x);
}

/// The error function of `x` in single precision (C99 `erff`).
pub fn erff(x: f32) -> f32 {
    #[cfg(any(unix, windows))]
    // SAFETY: a pure C99 math function of one float.
    return unsafe { sys::erff(x) };
    #[cfg(not(any(unix, windows)))]
    return libm::erff(x);
}

#[cfg(test)]
mod tests {
    #[test]
    fn erf_agrees_with_the_libm_crate_within_an_ulp() {
        for k in -4000..=4000 {
            let x = k as f64 * 1.37e-3;
            let (a, b) = (super::erf(x), libm::erf(x));
            assert!(
                (a - b).abs() <= 2.0 * f64::EPSILON * b.abs().max(1e-300),
                "{x}: {a} {b}"
            );
            let xf = x as f32;
            let (a, b) = (super::erff(xf), libm::erff(xf));
            assert!(
                (a - b).abs() <= 2.0 * f32::EPSILON * b.abs().max(1e-30),
                "{xf}: {a} {b}"
            );
        }
        assert_eq!(super::erf(0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(super::erf(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(super::erf(f64::INFINITY), 1.0);
        assert!(super::erf(f64::NAN).is_nan());
    }
}
