//! `exp` inline, one algorithm for scalars and vector lanes.
//!
//! A loop that calls the C library's `exp` cannot be vectorized. In a loop
//! the vector plan accepts, `exp` is therefore computed inline: in the
//! vector body and in every scalar copy of that loop (its remainder and its
//! checked fallback), so that an element's bits never depend on where a
//! chunk starts. Everywhere else `exp` stays a call, bit-identical to the
//! interpreter. Each lane does exactly the scalar IEEE operations, in the
//! argument's own width.
//!
//! Method (Cody and Waite): `k = round(x / ln 2)` by adding and subtracting
//! 1.5 * 2^(mantissa bits), which also leaves `k` in the sum's low bits;
//! `r = x - k ln 2` in two steps (`ln 2` split so that `k * LN2_HI` is
//! exact), `|r| <= ln 2 / 2`; `exp(r) = 1 + (r + r^2 q(r))` with `q` the
//! Taylor series evaluated by Estrin's scheme (short dependency chains);
//! then `2^k` built from exponent bits as two factors, so that a subnormal
//! result is rounded once. `x` is first clamped to where the result is
//! already 0 or infinite, which keeps `k` inside the exponent range; NaN
//! passes every step. Accuracy against the C library (tests/cpu.rs
//! `inline_exp_*`): within 1 ulp in both widths.

use super::Fx;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64, Imm64};
use cranelift_codegen::ir::Value as CValue;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type};

/// The constants of one float width.
struct Width {
    /// 1.5 * 2^(mantissa bits): adding it rounds to an integer.
    rounder: f64,
    /// Its bits in this width (`k` is the sum's bits minus these).
    rounder_bits: i64,
    ln2_hi: f64,
    ln2_lo: f64,
    /// Beyond these `exp` is infinite or 0 in this width.
    high: f64,
    low: f64,
    /// The highest power of `r` of the series.
    last_power: u32,
    bias: i64,
    mantissa_bits: i64,
}

const F32: Width = Width {
    rounder: 12582912.0,
    rounder_bits: 0x4b40_0000,
    // 0x3f317200: its 16 significant bits times any |k| <= 150 are exact.
    ln2_hi: 0.693145751953125,
    ln2_lo: 1.428606765330187e-6,
    high: 89.0,
    low: -104.0,
    // Truncation below 6e-9 relative at |r| = ln 2 / 2, a tenth of an ulp.
    last_power: 7,
    bias: 127,
    mantissa_bits: 23,
};

const F64: Width = Width {
    rounder: 6755399441055744.0,
    rounder_bits: 0x4338_0000_0000_0000,
    ln2_hi: 6.93147180369123816490e-01,
    ln2_lo: 1.90821492927058770002e-10,
    high: 710.0,
    low: -746.0,
    // Truncation below 5e-18 relative, 0.04 ulp.
    last_power: 13,
    bias: 1023,
    mantissa_bits: 52,
};

#[test]
fn rounder_bits_are_the_rounders() {
    assert_eq!(F32.rounder_bits, (F32.rounder as f32).to_bits() as i64);
    assert_eq!(F64.rounder_bits, F64.rounder.to_bits() as i64);
}

impl<'m> Fx<'_, '_, 'm> {
    /// `exp(x)` for `x` of type `f32`, `f64`, `f32x4` or `f64x2`.
    pub(super) fn inline_exp(&mut self, x: CValue) -> CValue {
        let ty = self.b.func.dfg.value_type(x);
        let w = if ty.lane_type() == types::F32 {
            F32
        } else {
            F64
        };
        let c = |fx: &mut Self, v: f64| fx.lanes_float(ty, v);
        // Clamp with compares, not `fmin`/`fmax` (a branchy sequence on
        // x64): a NaN compares false and stays.
        let (hi, lo) = (c(self, w.high), c(self, w.low));
        let above = self.b.ins().fcmp(FloatCC::GreaterThan, x, hi);
        let x = self.pick(above, hi, x);
        let below = self.b.ins().fcmp(FloatCC::LessThan, x, lo);
        let x = self.pick(below, lo, x);

        let (log2e, rounder) = (c(self, std::f64::consts::LOG2_E), c(self, w.rounder));
        let t = self.b.ins().fmul(x, log2e);
        let shifted = self.b.ins().fadd(t, rounder);
        let k = self.b.ins().fsub(shifted, rounder);
        let (ln2_hi, ln2_lo) = (c(self, w.ln2_hi), c(self, w.ln2_lo));
        let a = self.b.ins().fmul(k, ln2_hi);
        let r = self.b.ins().fsub(x, a);
        let b = self.b.ins().fmul(k, ln2_lo);
        let r = self.b.ins().fsub(r, b);

        let r2 = self.b.ins().fmul(r, r);
        let mut fact = 1.0f64;
        let series: Vec<f64> = (2..=w.last_power)
            .map(|n| {
                fact *= n as f64;
                1.0 / fact
            })
            .collect();
        let q = self.estrin(
            series.len(),
            &mut |fx, i| fx.lanes_float(ty, series[i]),
            r,
            r2,
            false,
        );
        let rq = self.b.ins().fmul(r2, q);
        let s = self.b.ins().fadd(r, rq);
        let one = c(self, 1.0);
        let p = self.b.ins().fadd(one, s);

        let ity = ty.as_int();
        let flags = MemFlagsData::new();
        let kbits = self.b.ins().bitcast(ity, flags, shifted);
        let rbits = self.lanes_int(ity, w.rounder_bits);
        let k = self.b.ins().isub(kbits, rbits);
        let k1 = self.b.ins().sshr_imm_u(k, 1);
        let k2 = self.b.ins().isub(k, k1);
        let mut y = p;
        for part in [k1, k2] {
            let bias = self.lanes_int(ity, w.bias);
            let e = self.b.ins().iadd(part, bias);
            let e = self.b.ins().ishl_imm_u(e, w.mantissa_bits);
            let scale = self.b.ins().bitcast(ty, flags, e);
            y = self.b.ins().fmul(y, scale);
        }
        y
    }

    /// `cond ? a : b` for scalars and vectors alike.
    pub(super) fn pick(&mut self, cond: CValue, a: CValue, b: CValue) -> CValue {
        let ty = self.b.func.dfg.value_type(a);
        if ty.is_vector() {
            let mask = self.b.ins().bitcast(ty, MemFlagsData::new(), cond);
            self.b.ins().bitselect(mask, a, b)
        } else {
            self.b.ins().select(cond, a, b)
        }
    }

    /// `c(0) + c(1) r + c(2) r^2 + …` (`n` terms) by Estrin's scheme: pairs
    /// joined with `r`, then `r^2`, `r^4`, … (a chain of log2(n) steps, not
    /// n). `c(i)` makes the constant where the first step uses it. `fused`:
    /// each `a + b p` is one `fma` (correctly rounded everywhere: a CPU
    /// without FMA gets the same bits from the C library's `fma`).
    pub(super) fn estrin(
        &mut self,
        n: usize,
        c: &mut dyn FnMut(&mut Self, usize) -> CValue,
        r: CValue,
        r2: CValue,
        fused: bool,
    ) -> CValue {
        let join = |fx: &mut Self, a: CValue, b: CValue, p: CValue| {
            if fused {
                fx.b.ins().fma(b, p, a)
            } else {
                let bp = fx.b.ins().fmul(b, p);
                fx.b.ins().fadd(a, bp)
            }
        };
        let mut terms = Vec::with_capacity(n.div_ceil(2));
        for i in (0..n).step_by(2) {
            terms.push(if i + 1 < n {
                let b = c(self, i + 1);
                let a = c(self, i);
                join(self, a, b, r)
            } else {
                c(self, i)
            });
        }
        let mut power = r2;
        while terms.len() > 1 {
            let mut joined = Vec::with_capacity(terms.len().div_ceil(2));
            for pair in terms.chunks(2) {
                joined.push(match *pair {
                    [a, b] => join(self, a, b, power),
                    [a] => a,
                    _ => unreachable!("chunks of 2"),
                });
            }
            terms = joined;
            if terms.len() > 1 {
                power = self.b.ins().fmul(power, power);
            }
        }
        terms[0]
    }

    /// `v` (rounded to the lane width) as a scalar or in every lane.
    fn lanes_float(&mut self, ty: Type, v: f64) -> CValue {
        let s = if ty.lane_type() == types::F32 {
            self.b.ins().f32const(Ieee32::with_float(v as f32))
        } else {
            self.b.ins().f64const(Ieee64::with_float(v))
        };
        self.splat_if_vector(ty, s)
    }

    fn lanes_int(&mut self, ty: Type, v: i64) -> CValue {
        let s = self.b.ins().iconst(ty.lane_type(), Imm64::new(v));
        self.splat_if_vector(ty, s)
    }

    fn splat_if_vector(&mut self, ty: Type, s: CValue) -> CValue {
        if ty.is_vector() {
            self.b.ins().splat(ty, s)
        } else {
            s
        }
    }
}
