//! `sin` and `cos` of `f64` inline, one algorithm for scalars and vector
//! lanes, as `exp` (see `exp`): in a loop the vector plan accepts, the C
//! library's `sin`/`cos` calls would keep it scalar, so there both are
//! computed here, in the vector body and in every scalar copy of that loop,
//! and an element's bits never depend on where a chunk starts.
//!
//! Method (Cody and Waite): `k = round(x * 2/pi)` by adding and subtracting
//! 1.5 * 2^52, which also leaves `k mod 4` (the quadrant) in the sum's low
//! bits; `r = x - k pi/2` with pi/2 split in three, the first two parts of
//! 33 bits so that `k * part` is exact for `|k| < 2^20`, the rounding error
//! of each step kept (`two_sum`) as a tail `r_lo`. On `|r| <= pi/4`:
//! `sin r = r + r z S(z)`, `cos r = 1 - z/2 + z^2 C(z)` (`z = r^2`, `S`, `C`
//! the Taylor series to `r^17` and `r^18`, truncation below 0.001 ulp) with
//! the tail added to first order and `1 - z/2` compensated; the quadrant
//! swaps them and sets signs. `|x| < 2^-27` gives `sin x = x` (keeping the
//! sign of zero). Lanes with `|x| > 2^20`, infinities and NaN take the C
//! library's `sincos` (bit-identical to its `sin` and `cos`), through a
//! branch taken only when such a lane occurs. Accuracy against the C
//! library: tests/cpu.rs `inline_sin_cos_*`.

use super::Fx;
use crate::error::Result;
use crate::ir::ScalarType;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::Value as CValue;
use cranelift_codegen::ir::{types, BlockArg, InstBuilder, MemFlagsData, Type};

/// Beyond this `|x|` the C library reduces the argument.
const LIMIT: f64 = 1048576.0;
/// Below this `|x|`, `sin x` rounds to `x` (and `cos x` to 1).
const TINY: f64 = 7.450580596923828e-9;
/// 1.5 * 2^52: adding it rounds to an integer; its bits end in 0s.
const ROUNDER: f64 = 6755399441055744.0;
const TWO_OVER_PI: f64 = 0.6366197723675814;
/// pi/2 = P1 + P2 + P3 to 119 bits; P1 and P2 have 33 significant bits.
const P1: f64 = 1.5707963267341256;
const P2: f64 = 6.077100506303966e-11;
const P3: f64 = 2.0222662487959506e-21;

/// Eight terms `±1/n!` for `n = first, first+2, …`, the first negative
/// for odd `first`: `sin r = r + r z S(z)` with `S = series(3)`, `cos r =
/// 1 - z/2 + z^2 C(z)` with `C = series(4)`.
const fn series(first: u32) -> [f64; 8] {
    let mut fact = 1.0;
    let mut n = 2;
    while n <= first {
        fact *= n as f64;
        n += 1;
    }
    let mut sign = if first % 2 == 1 { -1.0 } else { 1.0 };
    let mut out = [0.0; 8];
    let (mut i, mut n) = (0, first);
    while i < 8 {
        if i > 0 {
            fact *= (n - 1) as f64 * n as f64;
        }
        out[i] = sign / fact;
        sign = -sign;
        i += 1;
        n += 2;
    }
    out
}

/// Where each constant sits in `TABLE`.
#[derive(Clone, Copy)]
enum Slot {
    Limit,
    Tiny,
    TwoOverPi,
    Rounder,
    P1,
    P2,
    P3,
    Half,
    One,
    IntOne,
    IntTwo,
    /// Then the 8 terms of `S`, then the 8 of `C`.
    Sin,
}
const COS: usize = Slot::Sin as usize + 8;
const SLOTS: usize = COS + 8;

/// The constants, each twice (the lanes of an `f64x2`), 16-byte aligned,
/// loaded where they are used (`konst`).
#[repr(C, align(16))]
struct Table([[u64; 2]; SLOTS]);

static TABLE: Table = Table(table());
/// Where `TABLE` is, read by the code (`table_base`).
static TABLE_ADDR: &Table = &TABLE;

const fn table() -> [[u64; 2]; SLOTS] {
    let scalars = [LIMIT, TINY, TWO_OVER_PI, ROUNDER, P1, P2, P3, 0.5, 1.0];
    let mut t = [[0u64; 2]; SLOTS];
    let mut i = 0;
    while i < scalars.len() {
        t[i] = [scalars[i].to_bits(); 2];
        i += 1;
    }
    t[Slot::IntOne as usize] = [1; 2];
    t[Slot::IntTwo as usize] = [2; 2];
    let (s, c) = (series(3), series(4));
    let mut k = 0;
    while k < 8 {
        t[Slot::Sin as usize + k] = [s[k].to_bits(); 2];
        t[COS + k] = [c[k].to_bits(); 2];
        k += 1;
    }
    t
}

#[test]
fn the_table_holds_the_taylor_coefficients() {
    let f = |slot: usize| f64::from_bits(TABLE.0[slot][1]);
    assert_eq!(f(Slot::Sin as usize), -1.0 / 6.0);
    assert_eq!(f(Slot::Sin as usize + 1), 1.0 / 120.0);
    assert_eq!(f(Slot::Sin as usize + 7), 1.0 / 355687428096000.0);
    assert_eq!(f(COS), 1.0 / 24.0);
    assert_eq!(f(COS + 1), -1.0 / 720.0);
    assert_eq!(f(COS + 7), -1.0 / 6402373705728000.0);
    assert_eq!(f(Slot::One as usize), 1.0);
    assert_eq!(f(Slot::P3 as usize), P3);
    assert_eq!(TABLE.0[Slot::IntTwo as usize], [2, 2]);
    assert_eq!(ROUNDER.to_bits() & 3, 0);
    assert_eq!(P1.to_bits() & ((1 << 20) - 1), 0, "P1 * k exact");
    assert_eq!(P2.to_bits() & ((1 << 20) - 1), 0, "P2 * k exact");
}

impl<'m> Fx<'_, '_, 'm> {
    /// `(sin x, cos x)` for `x` of type `f64` or `f64x2`.
    pub(super) fn inline_sincos(&mut self, x: CValue) -> Result<(CValue, CValue)> {
        let ty = self.b.func.dfg.value_type(x);
        let ity = ty.as_int();
        let base = self.table_base();
        let c = |fx: &mut Self, slot: usize| fx.konst(base, ty, slot);
        let ax = self.b.ins().fabs(x);
        let limit = c(self, Slot::Limit as usize);
        // False for NaN too: those lanes go to the C library.
        let ok = self.b.ins().fcmp(FloatCC::LessThanOrEqual, ax, limit);

        let two_over_pi = c(self, Slot::TwoOverPi as usize);
        let t = self.b.ins().fmul(x, two_over_pi);
        let rounder = c(self, Slot::Rounder as usize);
        let shifted = self.b.ins().fadd(t, rounder);
        let rounder = c(self, Slot::Rounder as usize);
        let k = self.b.ins().fsub(shifted, rounder);
        let p1 = c(self, Slot::P1 as usize);
        let a1 = self.b.ins().fmul(k, p1);
        let r1 = self.b.ins().fsub(x, a1);
        let p2 = c(self, Slot::P2 as usize);
        let a2 = self.b.ins().fmul(k, p2);
        let a2 = self.b.ins().fneg(a2);
        let (r2, e2) = self.two_sum(r1, a2);
        let p3 = c(self, Slot::P3 as usize);
        let a3 = self.b.ins().fmul(k, p3);
        let a3 = self.b.ins().fneg(a3);
        let (r, e3) = self.two_sum(r2, a3);
        let r_lo = self.b.ins().fadd(e2, e3);

        let z = self.b.ins().fmul(r, r);
        let z2 = self.b.ins().fmul(z, z);
        let half = c(self, Slot::Half as usize);
        let hz = self.b.ins().fmul(half, z);
        let one = c(self, Slot::One as usize);
        let w = self.b.ins().fsub(one, hz);
        // sin r + r_lo cos r, cos r taken as 1 - z/2.
        let sp = self.estrin(
            8,
            &mut |fx, i| fx.konst(base, ty, Slot::Sin as usize + i),
            z,
            z2,
            true,
        );
        let rz = self.b.ins().fmul(r, z);
        let u = self.b.ins().fmul(rz, sp);
        let v = self.b.ins().fmul(r_lo, w);
        let uv = self.b.ins().fadd(u, v);
        let sin_r = self.b.ins().fadd(r, uv);
        // cos r - r_lo sin r, with the rounding error of 1 - z/2 added back.
        let cp = self.estrin(8, &mut |fx, i| fx.konst(base, ty, COS + i), z, z2, true);
        let tail = self.b.ins().fmul(z2, cp);
        let rr = self.b.ins().fmul(r, r_lo);
        let tail = self.b.ins().fsub(tail, rr);
        let one = c(self, Slot::One as usize);
        let lost = self.b.ins().fsub(one, w);
        let lost = self.b.ins().fsub(lost, hz);
        let tail = self.b.ins().fadd(lost, tail);
        let cos_r = self.b.ins().fadd(w, tail);

        // Quadrant q = k mod 4: odd swaps, q in {2, 3} negates sin, q in
        // {1, 2} negates cos (sign bits flipped by xor).
        let flags = MemFlagsData::new();
        let q = self.b.ins().bitcast(ity, flags, shifted);
        let one_i = self.konst(base, ity, Slot::IntOne as usize);
        let odd = self.b.ins().band(q, one_i);
        let swap = self.b.ins().icmp(IntCC::Equal, odd, one_i);
        let s = self.pick(swap, cos_r, sin_r);
        let co = self.pick(swap, sin_r, cos_r);
        let two_i = self.konst(base, ity, Slot::IntTwo as usize);
        let s_sign = self.b.ins().band(q, two_i);
        let s_sign = self.b.ins().ishl_imm_u(s_sign, 62);
        let q1 = self.b.ins().iadd(q, one_i);
        let two_i = self.konst(base, ity, Slot::IntTwo as usize);
        let c_sign = self.b.ins().band(q1, two_i);
        let c_sign = self.b.ins().ishl_imm_u(c_sign, 62);
        let s_bits = self.b.ins().bitcast(ity, flags, s);
        let s_bits = self.b.ins().bxor(s_bits, s_sign);
        let s = self.b.ins().bitcast(ty, flags, s_bits);
        let c_bits = self.b.ins().bitcast(ity, flags, co);
        let c_bits = self.b.ins().bxor(c_bits, c_sign);
        let co = self.b.ins().bitcast(ty, flags, c_bits);
        let tiny = c(self, Slot::Tiny as usize);
        let is_tiny = self.b.ins().fcmp(FloatCC::LessThan, ax, tiny);
        let s = self.pick(is_tiny, x, s);

        // Lanes the reduction does not cover: the C library.
        let (slow, join) = (self.b.create_block(), self.b.create_block());
        self.b.append_block_param(join, ty);
        self.b.append_block_param(join, ty);
        let all_ok = if ty.is_vector() {
            self.b.ins().vall_true(ok)
        } else {
            ok
        };
        let args = [BlockArg::from(s), BlockArg::from(co)];
        self.b.ins().brif(all_ok, join, &args, slow, &[]);
        self.b.switch_to_block(slow);
        let (ls, lc) = if ty.is_vector() {
            let (mut vs, mut vc) = (s, co);
            for lane in 0..ty.lane_count() as u8 {
                let xi = self.b.ins().extractlane(x, lane);
                let (si, ci) = self.sincos(xi, ScalarType::F64)?;
                vs = self.b.ins().insertlane(vs, si, lane);
                vc = self.b.ins().insertlane(vc, ci, lane);
            }
            (self.pick(ok, s, vs), self.pick(ok, co, vc))
        } else {
            self.sincos(x, ScalarType::F64)?
        };
        self.b
            .ins()
            .jump(join, &[BlockArg::from(ls), BlockArg::from(lc)]);
        self.b.switch_to_block(join);
        let p = self.b.block_params(join);
        Ok((p[0], p[1]))
    }

    /// The address of `TABLE`, loaded from a static at this point. Why a
    /// load: the constant loads (`konst`) off it are pure, so Cranelift
    /// places each right before its use, where it becomes the memory
    /// operand of that instruction; from an address it could see as
    /// constant it would hoist them out of the loop and keep 30 vectors
    /// live in 16 registers (x64), reloading each from the stack per use.
    fn table_base(&mut self) -> CValue {
        let cell = self
            .b
            .ins()
            .iconst(types::I64, &TABLE_ADDR as *const _ as i64);
        let flags = MemFlagsData::new().with_notrap().with_aligned();
        self.b.ins().load(types::I64, flags, cell, 0)
    }

    /// Constant `slot` of `TABLE` as a `ty` (`f64`, `i64` or their `x2`).
    fn konst(&mut self, base: CValue, ty: Type, slot: usize) -> CValue {
        let flags = MemFlagsData::new()
            .with_notrap()
            .with_aligned()
            .with_readonly()
            .with_can_move();
        self.b.ins().load(ty, flags, base, (slot * 16) as i32)
    }

    /// `a + b` and its rounding error (Knuth's TwoSum: any magnitudes).
    fn two_sum(&mut self, a: CValue, b: CValue) -> (CValue, CValue) {
        let s = self.b.ins().fadd(a, b);
        let bb = self.b.ins().fsub(s, a);
        let ab = self.b.ins().fsub(s, bb);
        let ea = self.b.ins().fsub(a, ab);
        let eb = self.b.ins().fsub(b, bb);
        let e = self.b.ins().fadd(ea, eb);
        (s, e)
    }
}
