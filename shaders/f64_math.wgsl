// kiln f64 math polyfills (owner: helper `math`; see docs/gpu-math.md).
//
// Why: naga lowers WGSL f64 sin/exp/log/pow/... to GLSL.std.450 instructions
// that Vulkan defines only for 16/32-bit floats, so drivers return wrong
// values. These functions use only +,-,*,/, sqrt, floor/trunc/abs
// (exact in IEEE arithmetic for f64) and integer bit manipulation.
//
// Requires SHADER_F64 and SHADER_INT64: naga cannot bitcast f64 to
// vec2<u32>, so bits go through u64.
//
// NaN/Inf: the compiler may assume they do not occur, so every classification
// is a bit test and every NaN/Inf result is produced by bitcast, never by
// 0.0/0.0 or a comparison with NaN. Semantics (special values, signs of zero)
// follow Rust's f64 methods. The algorithms are the classic fdlibm ones
// (argument reduction + minimax polynomial, published coefficients); pow and
// the large-argument reduction of sin/cos/tan use double-double arithmetic.
// Accuracy, measured on lavapipe against Rust std: docs/gpu-math.md.
//
// Public: kiln_<name>_f64. Internal helpers: kmath_* (do not use).

// ---- bits ----------------------------------------------------------------

fn kmath_hi_f64(x: f64) -> u32 {
    return u32(bitcast<u64>(x) >> 32u);
}

fn kmath_lo_f64(x: f64) -> u32 {
    return u32(bitcast<u64>(x) & 0xfffffffflu);
}

fn kmath_words_f64(hi: u32, lo: u32) -> f64 {
    return bitcast<f64>((u64(hi) << 32u) | u64(lo));
}

// x with its low 32 bits cleared (exact products in splitting tricks).
fn kmath_clear_lo_f64(x: f64) -> f64 {
    return bitcast<f64>(bitcast<u64>(x) & 0xffffffff00000000lu);
}

fn kiln_is_nan_f64(x: f64) -> bool {
    return (bitcast<u64>(x) & 0x7ffffffffffffffflu) > 0x7ff0000000000000lu;
}

fn kiln_is_inf_f64(x: f64) -> bool {
    return (bitcast<u64>(x) & 0x7ffffffffffffffflu) == 0x7ff0000000000000lu;
}

// |x| is finite (not NaN, not Inf).
fn kmath_finite_f64(x: f64) -> bool {
    return (bitcast<u64>(x) & 0x7ffffffffffffffflu) < 0x7ff0000000000000lu;
}

fn kmath_nan_f64() -> f64 {
    return bitcast<f64>(0x7ff8000000000000lu);
}

fn kmath_inf_f64() -> f64 {
    return bitcast<f64>(0x7ff0000000000000lu);
}

fn kmath_sign_bit_f64(x: f64) -> bool {
    return (bitcast<u64>(x) >> 63u) != 0lu;
}

// |x| with the sign of s.
fn kmath_copysign_f64(x: f64, s: f64) -> f64 {
    let b = (bitcast<u64>(x) & 0x7ffffffffffffffflu) | (bitcast<u64>(s) & 0x8000000000000000lu);
    return bitcast<f64>(b);
}

// 2^k for -1022 <= k <= 1023.
fn kmath_pow2_f64(k: i32) -> f64 {
    return bitcast<f64>(u64(u32(k + 1023)) << 52u);
}

// y * 2^k for any k, rounding once (scaling through 2^-969 keeps the
// intermediate normal so subnormal results are not rounded twice).
fn kmath_scalbn_f64(y: f64, k: i32) -> f64 {
    var x = y;
    var n = k;
    if (n > 1023) {
        x = x * kmath_pow2_f64(1023);
        n = n - 1023;
        if (n > 1023) {
            x = x * kmath_pow2_f64(1023);
            n = min(n - 1023, 1023);
        }
    } else if (n < -1022) {
        x = x * kmath_pow2_f64(-969);
        n = n + 969;
        if (n < -1022) {
            x = x * kmath_pow2_f64(-969);
            n = max(n + 969, -1022);
        }
    }
    return x * kmath_pow2_f64(n);
}

// Rust's f64::round: half away from zero (WGSL round() is half to even).
fn kiln_round_f64(x: f64) -> f64 {
    let t = trunc(x);
    if (abs(x - t) >= 0.5) {
        return t + kmath_copysign_f64(1.0, x);
    }
    return t;
}

// ---- double-double helpers (value = .x + .y, |.y| <= ulp(.x)/2) ----------
//
// Mesa (lavapipe, and any driver where the SPIR-V carries no NoContraction)
// applies real-number identities such as (a + b) - a -> b, which turn every
// error-free transformation into 0; and fma() may be computed unfused
// (Vulkan allows it, lavapipe does). So: no fma, products split by bit masks
// (Dekker), and every intermediate whose rounding error we need passes
// through kmath_opaque_f64, an identity the optimizer cannot see through.

// Returns x unchanged (bit for bit, NaN stays NaN): ORs in a bit that is
// only set for one particular NaN payload.
fn kmath_opaque_f64(x: f64) -> f64 {
    let b = bitcast<u64>(x);
    return bitcast<f64>(b | select(0lu, 1lu, b == 0x7ff4d4d4d4d4d4d4lu));
}

fn kmath_two_sum(a: f64, b: f64) -> vec2<f64> {
    let s = kmath_opaque_f64(a + b);
    let bb = kmath_opaque_f64(s - a);
    let e = (a - (s - bb)) + (b - bb);
    return vec2<f64>(s, e);
}

// Requires |a| >= |b| (or a == 0).
fn kmath_fast_two_sum(a: f64, b: f64) -> vec2<f64> {
    let s = kmath_opaque_f64(a + b);
    return vec2<f64>(s, b - (s - a));
}

// x = hi + lo, hi = the top 26 significand bits (by masking, which the
// optimizer cannot undo), lo = the remaining 27 bits.
fn kmath_split(x: f64) -> vec2<f64> {
    let hi = bitcast<f64>(bitcast<u64>(x) & 0xfffffffff8000000lu);
    return vec2<f64>(hi, x - hi);
}

// Like kmath_split but hi is rounded to 26 bits, so |lo| fits in 26 bits
// (signed). Needs |x| < 2^1023 * (2 - 2^-26) (else hi rounds up to Inf).
fn kmath_split_round(x: f64) -> vec2<f64> {
    let hi = bitcast<f64>((bitcast<u64>(x) + 0x0000000004000000lu) & 0xfffffffff8000000lu);
    return vec2<f64>(hi, x - hi);
}

// a*b = p + e exactly (Dekker): a 26+27-bit split of the larger operand and
// a 26+26-bit split of the smaller make every partial product exact.
fn kmath_two_prod(a: f64, b: f64) -> vec2<f64> {
    let p = kmath_opaque_f64(a * b);
    var u = a;
    var v = b;
    if (abs(a) > abs(b)) {
        u = b;
        v = a;
    }
    let su = kmath_split_round(u);
    let sv = kmath_split(v);
    let e = (((sv.x * su.x - p) + sv.x * su.y) + sv.y * su.x) + sv.y * su.y;
    return vec2<f64>(p, e);
}

fn kmath_dd_add(a: vec2<f64>, b: vec2<f64>) -> vec2<f64> {
    let s = kmath_two_sum(a.x, b.x);
    return kmath_fast_two_sum(s.x, s.y + a.y + b.y);
}

fn kmath_dd_mul(a: vec2<f64>, b: vec2<f64>) -> vec2<f64> {
    let p = kmath_two_prod(a.x, b.x);
    return kmath_fast_two_sum(p.x, p.y + (a.x * b.y + a.y * b.x));
}

// ---- exp family ------------------------------------------------------------

const KMATH_LN2_HI: f64 = 6.93147180369123816490e-01; // 32 significant bits
const KMATH_LN2_LO: f64 = 1.90821492927058770002e-10;
const KMATH_INV_LN2: f64 = 1.44269504088896338700e+00;

// 2^k * exp(hi - lo) for |hi - lo| <= ~0.35: a minimax rational form of exp
// on the reduced argument (fdlibm's P1..P5), keeping `lo` separate so the
// reduction error does not round away.
fn kmath_exp_core(hi: f64, lo: f64, k: i32) -> f64 {
    let r = hi - lo;
    let t = r * r;
    let c = r - t * (1.66666666666666019037e-01 + t * (-2.77777777770155933842e-03
        + t * (6.61375632143793436117e-05 + t * (-1.65339022054652515390e-06
        + t * 4.13813679705723846039e-08))));
    let y = 1.0 + (r * c / (2.0 - c) - lo + hi);
    return kmath_scalbn_f64(y, k);
}

fn kiln_exp_f64(x: f64) -> f64 {
    if (kiln_is_nan_f64(x)) {
        return x;
    }
    if (x > 709.782712893383973096) {
        return kmath_inf_f64();
    }
    if (x < -745.13321910194110842) {
        return 0.0;
    }
    if (abs(x) < 3.725290298461914e-09) { // 2^-28: exp(x) rounds to 1 + x
        return 1.0 + x;
    }
    if (abs(x) <= 0.34657359027997264) { // ln2 / 2: no reduction
        return kmath_exp_core(x, 0.0, 0);
    }
    let k = floor(x * KMATH_INV_LN2 + 0.5);
    // k * LN2_HI is exact (|k| < 2^11) and so is the subtraction.
    return kmath_exp_core(x - k * KMATH_LN2_HI, k * KMATH_LN2_LO, i32(k));
}

// exp2(x) = 2^k * exp(f * ln2) with x = k + f split exactly; the only
// rounding of the reduced argument is that of f * ln2 (|f| <= 1/2).
fn kiln_exp2_f64(x: f64) -> f64 {
    if (kiln_is_nan_f64(x)) {
        return x;
    }
    if (x >= 1024.0) {
        return kmath_inf_f64();
    }
    if (x < -1075.0) {
        return 0.0;
    }
    let k = floor(x + 0.5);
    let f = x - k;
    let p = kmath_two_prod(f, 6.93147180559945286227e-01);
    let lo = -(p.y + f * 2.319046813846299558e-17);
    return kmath_exp_core(p.x, lo, i32(k));
}

// expm1 for |x| <= ln2/2 by its Taylor series (terms to x^16, truncation
// below 2^-60 relative).
fn kmath_expm1_small(x: f64) -> f64 {
    let p = 1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * (1.0 / 720.0
        + x * (1.0 / 5040.0 + x * (1.0 / 40320.0 + x * (1.0 / 362880.0
        + x * (1.0 / 3628800.0 + x * (1.0 / 39916800.0 + x * (1.0 / 479001600.0
        + x * (1.0 / 6227020800.0 + x * (1.0 / 87178291200.0
        + x * (1.0 / 1307674368000.0 + x * (1.0 / 20922789888000.0)))))))))))));
    let x2 = x * x;
    return x + (0.5 * x2 + x2 * x * p);
}

// e^x - 1 without cancellation (for sinh/tanh). x finite.
fn kmath_expm1(x: f64) -> f64 {
    if (abs(x) <= 0.34657359027997264) {
        return kmath_expm1_small(x);
    }
    if (x > 709.0) {
        return kiln_exp_f64(x);
    }
    if (x < -40.0) {
        return -1.0;
    }
    let k = floor(x * KMATH_INV_LN2 + 0.5);
    let hi = x - k * KMATH_LN2_HI;
    let lo = k * KMATH_LN2_LO;
    let r = kmath_opaque_f64(hi - lo);
    let e = kmath_expm1_small(r) + ((hi - r) - lo); // e^(hi-lo) - 1
    let ik = i32(k);
    // e^x - 1 = 2^k (1 + e) - 1, arranged so the exact part is added last.
    if (ik > 56) {
        return kmath_scalbn_f64(1.0 + e, ik);
    }
    let t = kmath_pow2_f64(ik);
    if (ik < 0) {
        return t * e + (t - 1.0);
    }
    return t * (e + (1.0 - kmath_pow2_f64(-ik)));
}

// ---- logarithms --------------------------------------------------------------

// x = 2^k (1 + f) with sqrt(2)/2 < 1 + f < sqrt(2), for positive finite x.
struct KmathLogSplit {
    k: f64,
    f: f64,
}

fn kmath_log_split(x0: f64) -> KmathLogSplit {
    var x = x0;
    var k: i32 = 0;
    if (x < 2.2250738585072014e-308) { // subnormal: scale into normal range
        x = x * 18014398509481984.0; // 2^54
        k = -54;
    }
    var hx = kmath_hi_f64(x);
    hx = hx + (0x3ff00000u - 0x3fe6a09eu);
    k = k + i32(hx >> 20u) - 0x3ff;
    hx = (hx & 0x000fffffu) + 0x3fe6a09eu;
    let m = kmath_words_f64(hx, kmath_lo_f64(x));
    return KmathLogSplit(f64(k), m - 1.0);
}

// log(1 + f) - f + f*f/2, the polynomial tail (fdlibm's Lg1..Lg7 in s = f/(2+f)).
struct KmathLogTail {
    hfsq: f64,
    s: f64,
    r: f64,
}

fn kmath_log_tail(f: f64) -> KmathLogTail {
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
        + w * 1.531383769920937332e-01));
    let t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01
        + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    return KmathLogTail(0.5 * f * f, s, t1 + t2);
}

// The special cases shared by log, log2, log10: returns true (and the result
// in *out) when x is NaN, negative, zero or +Inf.
fn kmath_log_special(x: f64, out: ptr<function, f64>) -> bool {
    if (kiln_is_nan_f64(x)) {
        *out = x;
        return true;
    }
    if (x == 0.0) {
        *out = -kmath_inf_f64();
        return true;
    }
    if (kmath_sign_bit_f64(x)) {
        *out = kmath_nan_f64();
        return true;
    }
    if (kiln_is_inf_f64(x)) {
        *out = x;
        return true;
    }
    return false;
}

fn kiln_log_f64(x: f64) -> f64 {
    var special: f64;
    if (kmath_log_special(x, &special)) {
        return special;
    }
    let sp = kmath_log_split(x);
    let t = kmath_log_tail(sp.f);
    return t.s * (t.hfsq + t.r) + sp.k * KMATH_LN2_LO - t.hfsq + sp.f + sp.k * KMATH_LN2_HI;
}

// log(1+f) as hi + lo with hi holding 32 bits, so hi * (32-bit constant) is
// exact; used to scale by 1/ln2 and 1/ln10 without losing the low bits.
fn kmath_log1p_hilo(f: f64) -> vec2<f64> {
    let t = kmath_log_tail(f);
    let hi = kmath_clear_lo_f64(f - t.hfsq);
    let lo = (f - hi) - t.hfsq + t.s * (t.hfsq + t.r);
    return vec2<f64>(hi, lo);
}

fn kiln_log2_f64(x: f64) -> f64 {
    var special: f64;
    if (kmath_log_special(x, &special)) {
        return special;
    }
    let sp = kmath_log_split(x);
    let l = kmath_log1p_hilo(sp.f);
    let ivln2hi: f64 = 1.44269504072144627571e+00;
    let ivln2lo: f64 = 1.67517131648865118353e-10;
    var val_hi = l.x * ivln2hi;
    var val_lo = (l.y + l.x) * ivln2lo + l.y * ivln2hi;
    let w = kmath_opaque_f64(sp.k + val_hi);
    val_lo = val_lo + ((sp.k - w) + val_hi);
    val_hi = w;
    return val_lo + val_hi;
}

fn kiln_log10_f64(x: f64) -> f64 {
    var special: f64;
    if (kmath_log_special(x, &special)) {
        return special;
    }
    let sp = kmath_log_split(x);
    let l = kmath_log1p_hilo(sp.f);
    let ivln10hi: f64 = 4.34294481878168880939e-01;
    let ivln10lo: f64 = 2.50829467116452752298e-11;
    let log10_2hi: f64 = 3.01029995663611771306e-01;
    let log10_2lo: f64 = 3.69423907715893078616e-13;
    var val_hi = l.x * ivln10hi;
    let y = sp.k * log10_2hi;
    var val_lo = sp.k * log10_2lo + (l.y + l.x) * ivln10lo + l.y * ivln10hi;
    let w = kmath_opaque_f64(y + val_hi);
    val_lo = val_lo + ((y - w) + val_hi);
    val_hi = w;
    return val_lo + val_hi;
}

// ---- pow -------------------------------------------------------------------

// log(x) as a double-double with relative error ~2^-100 (x positive finite):
// log(m) = 2 atanh(s), s = (m-1)/(m+1), the s and s^3/3 terms in
// double-double, the rest (below 2^-12 of the total) in double.
fn kmath_log_dd(x: f64) -> vec2<f64> {
    let sp = kmath_log_split(x);
    let m = sp.f + 1.0; // exact
    let den = kmath_two_sum(m, 1.0);
    let sh = sp.f / den.x;
    let q = kmath_two_prod(sh, den.x);
    let sl = (((sp.f - q.x) - q.y) - sh * den.y) / den.x; // sp.f - q.x is exact
    let s = vec2<f64>(sh, sl);
    let s2 = kmath_dd_mul(s, s);
    let s3 = kmath_dd_mul(s, s2);
    let z = s2.x;
    let tail = z * (1.0 / 5.0 + z * (1.0 / 7.0 + z * (1.0 / 9.0 + z * (1.0 / 11.0
        + z * (1.0 / 13.0 + z * (1.0 / 15.0 + z * (1.0 / 17.0 + z * (1.0 / 19.0
        + z * (1.0 / 21.0 + z * (1.0 / 23.0 + z * (1.0 / 25.0)))))))))));
    let third = vec2<f64>(3.33333333333333314830e-01, 1.85037170770859413132e-17);
    var acc = kmath_dd_mul(s3, third);
    acc = kmath_dd_add(acc, vec2<f64>(s3.x * tail, 0.0));
    acc = kmath_dd_add(s, acc);
    acc = vec2<f64>(2.0 * acc.x, 2.0 * acc.y);
    // + k * ln2, ln2 = L1 + L2 (L1 the double nearest ln 2)
    let kl = kmath_two_prod(sp.k, 6.93147180559945286227e-01);
    let klo = vec2<f64>(kl.x, kl.y + sp.k * 2.319046813846299558e-17);
    return kmath_dd_add(klo, acc);
}

// exp(z.x + z.y) for a double-double exponent, overflow/underflow included.
fn kmath_exp_dd(z: vec2<f64>) -> f64 {
    if (z.x > 709.8) {
        return kmath_inf_f64();
    }
    if (z.x < -745.2) {
        return 0.0;
    }
    let k = floor(z.x * KMATH_INV_LN2 + 0.5);
    let hi = z.x - k * KMATH_LN2_HI;
    let lo = k * KMATH_LN2_LO - z.y;
    return kmath_exp_core(hi, lo, i32(k));
}

// 0: not an integer, 1: odd integer, 2: even integer (finite y).
fn kmath_int_kind(y: f64) -> i32 {
    if (floor(y) != y) {
        return 0;
    }
    if (abs(y) >= 9007199254740992.0) {
        return 2;
    }
    let h = 0.5 * y;
    if (floor(h) != h) {
        return 1;
    }
    return 2;
}

// Rust f64::powf (C99 pow special cases).
fn kiln_pow_f64(x: f64, y: f64) -> f64 {
    if (y == 0.0 || x == 1.0) {
        return 1.0;
    }
    if (kiln_is_nan_f64(x) || kiln_is_nan_f64(y)) {
        return kmath_nan_f64();
    }
    let ax = abs(x);
    if (kiln_is_inf_f64(y)) {
        if (ax == 1.0) {
            return 1.0;
        }
        if ((ax > 1.0) == (y > 0.0)) {
            return kmath_inf_f64();
        }
        return 0.0;
    }
    let kind = kmath_int_kind(y);
    let neg = kmath_sign_bit_f64(x) && kind == 1;
    if (x == 0.0 || kiln_is_inf_f64(x)) {
        // |x|^y is 0 or Inf; the sign survives only for odd integer y.
        var r: f64 = 0.0;
        if ((x == 0.0) == (y < 0.0)) {
            r = kmath_inf_f64();
        }
        if (neg) {
            r = -r;
        }
        return r;
    }
    if (x < 0.0 && kind == 0) {
        return kmath_nan_f64();
    }
    let l = kmath_log_dd(ax);
    let p = y * l.x;
    var r: f64;
    if (p > 709.8) {
        r = kmath_inf_f64();
    } else if (p < -745.2) {
        r = 0.0;
    } else {
        let yl = kmath_two_prod(y, l.x);
        r = kmath_exp_dd(kmath_fast_two_sum(yl.x, yl.y + y * l.y));
    }
    if (neg) {
        r = -r;
    }
    return r;
}

// ---- trigonometric -----------------------------------------------------------

// x = n * pi/2 + (hi + lo), |hi + lo| <= ~pi/4.
struct KmathRem {
    n: i32,
    hi: f64,
    lo: f64,
}

// pi/2 = P1 + P2 + P3 (+ 5.6e-50), each the double nearest the remainder.
const KMATH_PIO2_1: f64 = 1.5707963267948966;
const KMATH_PIO2_2: f64 = 6.123233995736766e-17;
const KMATH_PIO2_3: f64 = -1.4973849048591698e-33;

// Reduction for |x| < 2^30: n = nearest(x * 2/pi), then x - n*pi/2 in
// double-double. n*P1 and n*P2 are exact via fma, x - n*P1 is exact
// (Sterbenz), so the error is ~n * 2^-160, far below the smallest |x mod
// pi/2| of any double.
fn kmath_rem_pio2_medium(x: f64) -> KmathRem {
    let n = floor(x * 6.36619772367581382433e-01 + 0.5);
    let p1 = kmath_two_prod(n, KMATH_PIO2_1);
    let t = x - p1.x;
    let p2 = kmath_two_prod(n, KMATH_PIO2_2);
    var a = kmath_two_sum(t, -p1.y);
    a = kmath_dd_add(a, vec2<f64>(-p2.x, -p2.y));
    a = kmath_dd_add(a, vec2<f64>(-n * KMATH_PIO2_3, 0.0));
    return KmathRem(i32(n), a.x, a.y);
}

// 1280 bits of 2/pi after the binary point, preceded by one zero word so
// that windows starting before the point read zeros.
var<private> kmath_two_over_pi: array<u64, 21> = array<u64, 21>(
    0x0000000000000000lu,
    0xa2f9836e4e441529lu,
    0xfc2757d1f534ddc0lu,
    0xdb6295993c439041lu,
    0xfe5163abdebbc561lu,
    0xb7246e3a424dd2e0lu,
    0x06492eea09d1921clu,
    0xfe1deb1cb129a73elu,
    0xe88235f52ebb4484lu,
    0xe99c7026b45f7e41lu,
    0x3991d639835339f4lu,
    0x9c845f8bbdf9283blu,
    0x1ff897ffde05980flu,
    0xef2f118b5a0a6d1flu,
    0x6d367ecf27cb09b7lu,
    0x4f463f669e5fea2dlu,
    0x7527bac7ebe5f17blu,
    0x3d0739f78a5292ealu,
    0x6bfb5fb11f8d5d08lu,
    0x56033046fc7b6bablu,
    0xf0cfbc209af4361dlu
);

// 64 bits of 2/pi starting at bit offset `z` of the table (z >= 0).
fn kmath_2opi_window(z: u32) -> u64 {
    let w = z / 64u;
    let sh = z % 64u;
    if (sh == 0u) {
        return kmath_two_over_pi[w];
    }
    return (kmath_two_over_pi[w] << sh) | (kmath_two_over_pi[w + 1u] >> (64u - sh));
}

// Full 128-bit product of two u64: (low, high).
fn kmath_mul64(a: u64, b: u64) -> vec2<u64> {
    let m = 0xfffffffflu;
    let a0 = a & m;
    let a1 = a >> 32u;
    let b0 = b & m;
    let b1 = b >> 32u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 32u) + (p01 & m) + (p10 & m);
    return vec2<u64>((mid << 32u) | (p00 & m), p11 + (p01 >> 32u) + (p10 >> 32u) + (mid >> 32u));
}

// Payne-Hanek reduction for huge |x| (|x| >= 2^30, finite): the 53-bit
// mantissa times a 192-bit window of 2/pi chosen by the exponent gives
// x * 2/pi mod 4 with >= 120 fraction bits, exactly, in integers.
fn kmath_rem_pio2_large(x: f64) -> KmathRem {
    let b = bitcast<u64>(x);
    let mant = (b & 0x000ffffffffffffflu) | 0x0010000000000000lu;
    let e = i32((b >> 52u) & 0x7fflu) - 1075; // |x| = mant * 2^e, e >= -22
    // Window starts at bit index e - 1 of 2/pi (1-based); the table's first
    // word is zero padding, hence + 64 - 1.
    let z = u32(e - 1 + 63);
    let w2 = kmath_2opi_window(z);
    let w1 = kmath_2opi_window(z + 64u);
    let w0 = kmath_2opi_window(z + 128u);
    let q0 = kmath_mul64(mant, w0);
    let q1 = kmath_mul64(mant, w1);
    let q2 = kmath_mul64(mant, w2);
    // Sum into r2:r1:r0 (bits 190, 191 = quadrant; below = fraction).
    let r0 = q0.x;
    let r1 = q0.y + q1.x;
    let c1 = select(0lu, 1lu, r1 < q0.y);
    let r2 = q1.y + q2.x + c1;
    var quad = i32(u32(r2 >> 62u));
    // Fraction bits: 62 from r2, 64 from r1, the top 2 of r0 ignored.
    let f_a = f64(u32((r2 >> 31u) & 0x7ffffffflu)) * 4.656612873077393e-10;   // 2^-31
    let f_b = f64(u32(r2 & 0x7ffffffflu)) * 2.168404344971009e-19;          // 2^-62
    let f_c = f64(u32(r1 >> 32u)) * 5.048709793414476e-29;                  // 2^-94
    let f_d = f64(u32(r1 & 0xfffffffflu)) * 1.1754943508222875e-38;         // 2^-126
    var hi = f_a;
    if (hi >= 0.5) {
        hi = hi - 1.0;
        quad = quad + 1;
    }
    var f = kmath_two_sum(hi, f_b);
    f = kmath_dd_add(f, kmath_two_sum(f_c, f_d));
    // times pi/2
    let p = kmath_two_prod(f.x, KMATH_PIO2_1);
    let r = kmath_fast_two_sum(p.x, p.y + f.x * KMATH_PIO2_2 + f.y * KMATH_PIO2_1);
    return KmathRem(quad & 3, r.x, r.y);
}

// x finite, |x| > pi/4.
fn kmath_rem_pio2(x: f64) -> KmathRem {
    if (abs(x) < 1073741824.0) {
        return kmath_rem_pio2_medium(x);
    }
    var r = kmath_rem_pio2_large(abs(x));
    if (x < 0.0) {
        r = KmathRem(-r.n, -r.hi, -r.lo);
    }
    return r;
}

// sin(x + y) on |x + y| <= pi/4, y tiny (fdlibm's __kernel_sin polynomial).
fn kmath_ksin(x: f64, y: f64) -> f64 {
    let z = x * x;
    let w = z * z;
    let r = 8.33333333332248946124e-03 + z * (-1.98412698298579493134e-04
        + z * 2.75573137070700676789e-06) + z * w * (-2.50507602534068634195e-08
        + z * 1.58969099521155010221e-10);
    let v = z * x;
    return x - ((z * (0.5 * y - v * r) - y) - v * -1.66666666666666324348e-01);
}

// cos(x + y) on |x + y| <= pi/4 (fdlibm's __kernel_cos).
fn kmath_kcos(x: f64, y: f64) -> f64 {
    let z = x * x;
    let w = z * z;
    let r = z * (4.16666666666666019037e-02 + z * (-1.38888888888741095749e-03
        + z * 2.48015872894767294178e-05)) + w * w * (-2.75573143513906633035e-07
        + z * (2.08757232129817482790e-09 + z * -1.13596475577881948265e-11));
    let hz = 0.5 * z;
    let u = kmath_opaque_f64(1.0 - hz);
    return u + (((1.0 - u) - hz) + (z * r - x * y));
}

// tan(x + y) (odd == false) or -1/tan(x + y) (odd == true) on |x+y| <= pi/4
// (fdlibm's __kernel_tan).
fn kmath_ktan(x0: f64, y0: f64, odd: bool) -> f64 {
    var x = x0;
    var y = y0;
    let neg = x < 0.0;
    let big = abs(x) >= 0.6744;
    if (big) {
        if (neg) {
            x = -x;
            y = -y;
        }
        x = (7.85398163397448278999e-01 - x) + (3.06161699786838301793e-17 - y);
        y = 0.0;
    }
    let z = x * x;
    let w = z * z;
    let r0 = 1.33333333333201242699e-01 + w * (2.18694882948595424599e-02
        + w * (3.59207910759131235356e-03 + w * (5.88041240820264096874e-04
        + w * (7.81794442939557092300e-05 + w * -1.85586374855275456654e-05))));
    let v0 = z * (5.39682539762260521377e-02 + w * (8.86323982359930005737e-03
        + w * (1.45620945432529025516e-03 + w * (2.46463134818469906812e-04
        + w * (7.14072491382608190305e-05 + w * 2.59073051863633712884e-05)))));
    let s = z * x;
    let r = y + z * (s * (r0 + v0) + y) + s * 3.33333333333334091986e-01;
    let u = x + r;
    if (big) {
        let sg = select(f64(1.0), f64(-1.0), odd);
        let v = sg - 2.0 * (x + (r - u * u / (u + sg)));
        return select(v, -v, neg);
    }
    if (!odd) {
        return u;
    }
    // -1/(x + r) accurately: split u and -1/u into 32-bit heads.
    let u0 = kmath_clear_lo_f64(u);
    let v = r - (u0 - x);
    let a = -1.0 / u;
    let a0 = kmath_clear_lo_f64(a);
    return a0 + a * (1.0 + a0 * u0 + a0 * v);
}

fn kiln_sin_f64(x: f64) -> f64 {
    if (!kmath_finite_f64(x)) {
        return kmath_nan_f64();
    }
    if (abs(x) <= 7.85398163397448278999e-01) {
        if (abs(x) < 1.4901161193847656e-08) { // 2^-26
            return x;
        }
        return kmath_ksin(x, 0.0);
    }
    let r = kmath_rem_pio2(x);
    switch (r.n & 3) {
        case 0: {
            return kmath_ksin(r.hi, r.lo);
        }
        case 1: {
            return kmath_kcos(r.hi, r.lo);
        }
        case 2: {
            return -kmath_ksin(r.hi, r.lo);
        }
        default: {
            return -kmath_kcos(r.hi, r.lo);
        }
    }
}

fn kiln_cos_f64(x: f64) -> f64 {
    if (!kmath_finite_f64(x)) {
        return kmath_nan_f64();
    }
    if (abs(x) <= 7.85398163397448278999e-01) {
        if (abs(x) < 1.4901161193847656e-08) {
            return 1.0;
        }
        return kmath_kcos(x, 0.0);
    }
    let r = kmath_rem_pio2(x);
    switch (r.n & 3) {
        case 0: {
            return kmath_kcos(r.hi, r.lo);
        }
        case 1: {
            return -kmath_ksin(r.hi, r.lo);
        }
        case 2: {
            return -kmath_kcos(r.hi, r.lo);
        }
        default: {
            return kmath_ksin(r.hi, r.lo);
        }
    }
}

fn kiln_tan_f64(x: f64) -> f64 {
    if (!kmath_finite_f64(x)) {
        return kmath_nan_f64();
    }
    if (abs(x) <= 7.85398163397448278999e-01) {
        if (abs(x) < 7.450580596923828e-09) { // 2^-27
            return x;
        }
        return kmath_ktan(x, 0.0, false);
    }
    let r = kmath_rem_pio2(x);
    return kmath_ktan(r.hi, r.lo, (r.n & 1) == 1);
}

// ---- inverse trigonometric ----------------------------------------------------

// asin(sqrt z)/sqrt z - 1 as a rational function of z = x^2 (fdlibm pS/qS).
fn kmath_asin_r(z: f64) -> f64 {
    let p = z * (1.66666666666666657415e-01 + z * (-3.25565818622400915405e-01
        + z * (2.01212532134862925881e-01 + z * (-4.00555345006794114027e-02
        + z * (7.91534994289814532176e-04 + z * 3.47933107596021167570e-05)))));
    let q = 1.0 + z * (-2.40339491173441421878e+00 + z * (2.02094576023350569471e+00
        + z * (-6.88283971605453293030e-01 + z * 7.70381505559019352791e-02)));
    return p / q;
}

const KMATH_PIO2_HI: f64 = 1.57079632679489655800e+00;
const KMATH_PIO2_LO: f64 = 6.12323399573676603587e-17;

fn kiln_asin_f64(x: f64) -> f64 {
    let ax = abs(x);
    if (!(ax < 1.0)) { // also true for NaN
        if (ax == 1.0) {
            return x * KMATH_PIO2_HI;
        }
        return kmath_nan_f64();
    }
    if (ax < 0.5) {
        if (ax < 1.4901161193847656e-08) {
            return x;
        }
        return x + x * kmath_asin_r(x * x);
    }
    // asin(x) = pi/2 - 2 asin(sqrt((1 - |x|)/2))
    let z = (1.0 - ax) * 0.5;
    let s = sqrt(z);
    let r = kmath_asin_r(z);
    var y: f64;
    if (ax >= 0.975) {
        y = KMATH_PIO2_HI - (2.0 * (s + s * r) - KMATH_PIO2_LO);
    } else {
        let f = kmath_clear_lo_f64(s);
        let c = (z - f * f) / (s + f);
        y = 0.5 * KMATH_PIO2_HI - (2.0 * s * r - (KMATH_PIO2_LO - 2.0 * c) - (0.5 * KMATH_PIO2_HI - 2.0 * f));
    }
    return select(y, -y, x < 0.0);
}

fn kiln_acos_f64(x: f64) -> f64 {
    let ax = abs(x);
    if (!(ax < 1.0)) {
        if (x == 1.0) {
            return 0.0;
        }
        if (x == -1.0) {
            return 2.0 * KMATH_PIO2_HI;
        }
        return kmath_nan_f64();
    }
    if (ax < 0.5) {
        if (ax <= 6.938893903907228e-18) { // 2^-57
            return KMATH_PIO2_HI;
        }
        return KMATH_PIO2_HI - (x - (KMATH_PIO2_LO - x * kmath_asin_r(x * x)));
    }
    if (x < 0.0) {
        let z = (1.0 + x) * 0.5;
        let s = sqrt(z);
        let w = kmath_asin_r(z) * s - KMATH_PIO2_LO;
        return 2.0 * (KMATH_PIO2_HI - (s + w));
    }
    let z = (1.0 - x) * 0.5;
    let s = sqrt(z);
    let df = kmath_clear_lo_f64(s);
    let c = (z - df * df) / (s + df);
    let w = kmath_asin_r(z) * s + c;
    return 2.0 * (df + w);
}

// atan(|x|) for finite or infinite |x| (fdlibm: four breakpoints, then an
// odd polynomial on |t| <= 7/16).
fn kmath_atan_abs(ax: f64) -> f64 {
    if (ax >= 7.378697629483821e19) { // 2^66 (and Inf)
        return KMATH_PIO2_HI + KMATH_PIO2_LO;
    }
    var id: i32 = -1;
    var t = ax;
    if (ax < 0.4375) {
        if (ax < 7.450580596923828e-09) {
            return ax;
        }
    } else if (ax < 0.6875) {
        id = 0;
        t = (2.0 * ax - 1.0) / (2.0 + ax);
    } else if (ax < 1.1875) {
        id = 1;
        t = (ax - 1.0) / (ax + 1.0);
    } else if (ax < 2.4375) {
        id = 2;
        t = (ax - 1.5) / (1.0 + 1.5 * ax);
    } else {
        id = 3;
        t = -1.0 / ax;
    }
    let z = t * t;
    let w = z * z;
    let s1 = z * (3.33333333333329318027e-01 + w * (1.42857142725034663711e-01
        + w * (9.09088713343650656196e-02 + w * (6.66107313738753120669e-02
        + w * (4.97687799461593236017e-02 + w * 1.62858201153657823623e-02)))));
    let s2 = w * (-1.99999999998764832476e-01 + w * (-1.11111104054623557880e-01
        + w * (-7.69187620504482999495e-02 + w * (-5.83357013379057348645e-02
        + w * -3.65315727442169155270e-02))));
    if (id < 0) {
        return t - t * (s1 + s2);
    }
    var hi: f64;
    var lo: f64;
    switch (id) {
        case 0: {
            hi = 4.63647609000806093515e-01;
            lo = 2.26987774529616870924e-17;
        }
        case 1: {
            hi = 7.85398163397448278999e-01;
            lo = 3.06161699786838301793e-17;
        }
        case 2: {
            hi = 9.82793723247329054082e-01;
            lo = 1.39033110312309984516e-17;
        }
        default: {
            hi = KMATH_PIO2_HI;
            lo = KMATH_PIO2_LO;
        }
    }
    return hi - ((t * (s1 + s2) - lo) - t);
}

fn kiln_atan_f64(x: f64) -> f64 {
    if (kiln_is_nan_f64(x)) {
        return x;
    }
    let r = kmath_atan_abs(abs(x));
    return select(r, -r, kmath_sign_bit_f64(x));
}

fn kiln_atan2_f64(y: f64, x: f64) -> f64 {
    if (kiln_is_nan_f64(x) || kiln_is_nan_f64(y)) {
        return kmath_nan_f64();
    }
    let pi: f64 = 3.1415926535897931160e+00;
    let pi_lo: f64 = 1.2246467991473531772e-16;
    let yneg = kmath_sign_bit_f64(y);
    let xneg = kmath_sign_bit_f64(x);
    var r: f64;
    if (y == 0.0) {
        // atan2(+-0, +x or +0) = +-0, atan2(+-0, -x or -0) = +-pi
        r = select(f64(0.0), f64(pi), xneg);
    } else if (x == 0.0) {
        r = KMATH_PIO2_HI;
    } else if (kiln_is_inf_f64(x)) {
        if (kiln_is_inf_f64(y)) {
            r = select(0.25 * pi, 0.75 * pi, xneg);
        } else {
            r = select(f64(0.0), f64(pi), xneg);
        }
    } else if (kiln_is_inf_f64(y)) {
        r = KMATH_PIO2_HI;
    } else {
        let ay = abs(y);
        let ax = abs(x);
        // Exponent difference decides whether y/x under/overflows.
        let ey = i32(kmath_hi_f64(ay) >> 20u);
        let ex = i32(kmath_hi_f64(ax) >> 20u);
        var a: f64;
        if (ey - ex > 60) {
            a = KMATH_PIO2_HI + 0.5 * KMATH_PIO2_LO;
        } else if (xneg && ex - ey > 60) {
            a = 0.0;
        } else {
            a = kmath_atan_abs(ay / ax);
        }
        if (xneg) {
            r = pi - (a - pi_lo);
        } else {
            r = a;
        }
    }
    return select(r, -r, yneg);
}

// ---- hyperbolic ---------------------------------------------------------------

fn kiln_sinh_f64(x: f64) -> f64 {
    if (!kmath_finite_f64(x)) {
        return x;
    }
    let ax = abs(x);
    let h = select(f64(0.5), f64(-0.5), kmath_sign_bit_f64(x));
    if (ax < 22.0) {
        if (ax < 3.725290298461914e-09) { // 2^-28
            return x;
        }
        let t = kmath_expm1(ax);
        if (ax < 1.0) {
            return h * (2.0 * t - t * t / (t + 1.0));
        }
        return h * (t + t / (t + 1.0));
    }
    if (ax < 709.782712893383973096) {
        return h * kiln_exp_f64(ax);
    }
    if (ax <= 710.4758600739439) {
        // exp(|x|) overflows but exp(|x|)/2 does not: square exp(|x|/2).
        let w = kiln_exp_f64(0.5 * ax);
        return (h * w) * w;
    }
    return x * 1.0e308 * 1.0e308; // +-Inf (x finite, so no NaN)
}

fn kiln_cosh_f64(x: f64) -> f64 {
    if (kiln_is_nan_f64(x)) {
        return x;
    }
    let ax = abs(x);
    if (ax < 0.34657359027997264) {
        if (ax < 3.725290298461914e-09) {
            return 1.0;
        }
        let t = kmath_expm1(ax);
        let w = 1.0 + t;
        return 1.0 + (t * t) / (w + w);
    }
    if (ax < 22.0) {
        let t = kiln_exp_f64(ax);
        return 0.5 * t + 0.5 / t;
    }
    if (ax < 709.782712893383973096) {
        return 0.5 * kiln_exp_f64(ax);
    }
    if (ax <= 710.4758600739439) {
        let w = kiln_exp_f64(0.5 * ax);
        return (0.5 * w) * w;
    }
    return kmath_inf_f64();
}

fn kiln_tanh_f64(x: f64) -> f64 {
    if (kiln_is_nan_f64(x)) {
        return x;
    }
    let ax = abs(x);
    var r: f64;
    if (ax < 22.0) {
        if (ax < 2.7755575615628914e-17) { // 2^-55
            return x;
        }
        if (ax >= 1.0) {
            let t = kmath_expm1(2.0 * ax);
            r = 1.0 - 2.0 / (t + 2.0);
        } else {
            let t = kmath_expm1(-2.0 * ax);
            r = -t / (t + 2.0);
        }
    } else {
        r = 1.0;
    }
    return select(r, -r, kmath_sign_bit_f64(x));
}

// ---- cbrt, hypot, erf ---------------------------------------------------------

fn kiln_cbrt_f64(x: f64) -> f64 {
    if (!kmath_finite_f64(x) || x == 0.0) {
        return x;
    }
    var ax = abs(x);
    var scale: f64 = 1.0;
    if (ax < 2.2250738585072014e-308) {
        ax = ax * 18014398509481984.0; // 2^54, cube root 2^18
        scale = 3.814697265625e-06;    // 2^-18
    } else if (ax > 1.0e300) { // keep t^3 finite during the iteration
        ax = ax * 8.673617379884035e-19; // 2^-60
        scale = 1048576.0;               // 2^20
    }
    // Initial guess: divide the biased exponent (with mantissa bits) by 3.
    let hi = kmath_hi_f64(ax);
    var t = kmath_words_f64(hi / 3u + 715094163u, 0u);
    // Newton steps t <- t - (t^3 - a)/(3 t^2); from a ~5% guess four steps
    // reach full precision, the last one is in the form with one rounding
    // of a small correction.
    for (var i: i32 = 0; i < 4; i = i + 1) {
        t = t - (t * t * t - ax) / (3.0 * t * t);
    }
    let t2 = kmath_two_prod(t, t);
    let t3 = kmath_dd_mul(vec2<f64>(t, 0.0), t2);
    let resid = (t3.x - ax) + t3.y;
    t = t - resid / (3.0 * t * t);
    return kmath_copysign_f64(t * scale, x);
}

fn kiln_hypot_f64(x: f64, y: f64) -> f64 {
    if (kiln_is_inf_f64(x) || kiln_is_inf_f64(y)) {
        return kmath_inf_f64();
    }
    if (kiln_is_nan_f64(x) || kiln_is_nan_f64(y)) {
        return kmath_nan_f64();
    }
    var a = max(abs(x), abs(y));
    var b = min(abs(x), abs(y));
    if (b == 0.0 || a > b * 9007199254740992.0 * 4.0) { // b/a < 2^-55
        return a + b;
    }
    // Scale so a*a and b*b neither overflow nor lose bits to underflow.
    var scale: f64 = 1.0;
    if (a > 3.273390607896142e150) { // 2^500
        a = a * 2.409919865102884e-181; // 2^-600
        b = b * 2.409919865102884e-181;
        scale = 4.149515568880993e+180;
    } else if (b < 3.054936363499605e-151) { // 2^-500
        a = a * 4.149515568880993e+180;
        b = b * 4.149515568880993e+180;
        scale = 2.409919865102884e-181;
    }
    // a^2 + b^2 in double-double, one sqrt, one correction step.
    let a2 = kmath_two_prod(a, a);
    let b2 = kmath_two_prod(b, b);
    let s = kmath_dd_add(a2, b2);
    let h = sqrt(s.x);
    // h + (s - h^2)/(2h)
    let hh = kmath_two_prod(h, h);
    let corr = ((s.x - hh.x) - hh.y + s.y) / (2.0 * h);
    return (h + corr) * scale;
}

fn kmath_erfc_tail(ax: f64) -> f64 {
    // erfc(ax) for 1.25 <= ax < 6: exp(-ax^2 - 0.5625 + R(1/ax^2)/S(1/ax^2))/ax
    let s = 1.0 / (ax * ax);
    var r: f64;
    var bs: f64;
    if (ax < 2.857142857142857) { // 1/0.35
        r = -9.86494403484714822705e-03 + s * (-6.93858572707181764372e-01
            + s * (-1.05586262253232909814e+01 + s * (-6.23753324503260060396e+01
            + s * (-1.62396669462573470355e+02 + s * (-1.84605092906711035994e+02
            + s * (-8.12874355063065934246e+01 + s * -9.81432934416914548592e+00))))));
        bs = 1.0 + s * (1.96512716674392571292e+01 + s * (1.37657754143519042600e+02
            + s * (4.34565877475229228821e+02 + s * (6.45387271733267880336e+02
            + s * (4.29008140027567833386e+02 + s * (1.08635005541779435134e+02
            + s * (6.57024977031928170135e+00 + s * -6.04244152148580987438e-02)))))));
    } else {
        r = -9.86494292470009928597e-03 + s * (-7.99283237680523006574e-01
            + s * (-1.77579549177547519889e+01 + s * (-1.60636384855821916062e+02
            + s * (-6.37566443368389627722e+02 + s * (-1.02509513161107724954e+03
            + s * -4.83519191608651397019e+02)))));
        bs = 1.0 + s * (3.03380607434824582924e+01 + s * (3.25792512996573918826e+02
            + s * (1.53672958608443695994e+03 + s * (3.19985821950859553908e+03
            + s * (2.55305040643316442583e+03 + s * (4.74528541206955367215e+02
            + s * -2.24409524465858183362e+01))))));
    }
    // -ax^2 split as -z^2 + (z - ax)(z + ax) with z holding 32 bits (exact z^2).
    let z = kmath_clear_lo_f64(ax);
    return kiln_exp_f64(-z * z - 0.5625) * kiln_exp_f64((z - ax) * (z + ax) + r / bs) / ax;
}

fn kiln_erf_f64(x: f64) -> f64 {
    if (kiln_is_nan_f64(x)) {
        return x;
    }
    let ax = abs(x);
    var y: f64;
    if (ax < 0.84375) {
        if (ax < 3.725290298461914e-09) {
            return 0.125 * (8.0 * x + 1.02703333676410069053e+00 * x);
        }
        let z = x * x;
        let r = 1.28379167095512558561e-01 + z * (-3.25042107247001499370e-01
            + z * (-2.84817495755985104766e-02 + z * (-5.77027029648944159157e-03
            + z * -2.37630166566501626084e-05)));
        let s = 1.0 + z * (3.97917223959155352819e-01 + z * (6.50222499887672944485e-02
            + z * (5.08130628187576562776e-03 + z * (1.32494738004321644526e-04
            + z * -3.96022827877536812320e-06))));
        return x + x * (r / s);
    }
    if (ax < 1.25) {
        let s = ax - 1.0;
        let p = -2.36211856075265944077e-03 + s * (4.14856118683748331666e-01
            + s * (-3.72207876035701323847e-01 + s * (3.18346619901161753674e-01
            + s * (-1.10894694282396677476e-01 + s * (3.54783043256182359371e-02
            + s * -2.16637559486879084300e-03)))));
        let q = 1.0 + s * (1.06420880400844228286e-01 + s * (5.40397917702171048937e-01
            + s * (7.18286544141962662868e-02 + s * (1.26171219808761642112e-01
            + s * (1.36370839120290507362e-02 + s * 1.19844998467991074170e-02)))));
        y = 8.45062911510467529297e-01 + p / q;
    } else if (ax < 6.0) {
        y = 1.0 - kmath_erfc_tail(ax);
    } else {
        y = 1.0;
    }
    return select(y, -y, kmath_sign_bit_f64(x));
}

// Rust's f64::mul_add. WGSL fma() is allowed to be unfused (lavapipe's is),
// so: exact product, exact sum, one final rounding of the small parts
// (within 1 ulp of the fused result).
fn kiln_fma_f64(a: f64, b: f64, c: f64) -> f64 {
    let p = kmath_opaque_f64(a * b);
    if (!kmath_finite_f64(a) || !kmath_finite_f64(b)) {
        return p + c; // IEEE rules for Inf/NaN operands
    }
    if (!kmath_finite_f64(c)) {
        return c; // a*b is finite: Inf/NaN c wins
    }
    if (!kmath_finite_f64(p)) {
        return p; // the product overflows; a finite c cannot undo that
    }
    if (p == 0.0) {
        if (c != 0.0) {
            return c;
        }
        if (a == 0.0 || b == 0.0) {
            return p + c; // exact zeros: IEEE sign rules
        }
        return p; // nonzero product below the smallest subnormal keeps its sign
    }
    let pp = kmath_two_prod(a, b);
    let s = kmath_two_sum(pp.x, c);
    if (!kmath_finite_f64(s.x)) {
        return s.x; // the sum overflows (its error term would be NaN)
    }
    return s.x + (s.y + pp.y);
}
// ==== on demand ================================================================
//
// The functions below go only into shaders that call them (src/gpu/wgsl.rs
// includes a section when the kernel uses the builtin the table maps to it).
// Each section starts at a line `// ---- on demand:` naming its function and
// runs to the next such line.

// ---- on demand: kiln_expm1_f64
// e^x - 1 (Rust exp_m1), without cancellation near 0.
fn kiln_expm1_f64(x: f64) -> f64 {
    if (kiln_is_nan_f64(x) || x == 0.0) { // keeps the sign of zero
        return x;
    }
    return kmath_expm1(x);
}

// ---- on demand: kiln_log1p_f64
// log(1 + x) (Rust ln_1p), accurate near 0 (fdlibm's log1p): near 0 the
// log tail of f = x itself; elsewhere u = 1 + x is split as 2^k (1 + f) and
// the rounding error of 1 + x enters as c = (1 + x - u) / u.
fn kiln_log1p_f64(x: f64) -> f64 {
    if (kiln_is_nan_f64(x)) {
        return x;
    }
    if (x <= -1.0) {
        if (x == -1.0) {
            return -kmath_inf_f64();
        }
        return kmath_nan_f64();
    }
    if (kiln_is_inf_f64(x)) {
        return x;
    }
    if (abs(x) < 1.1102230246251565e-16) { // 2^-53: rounds to x (keeps -0)
        return x;
    }
    var k: f64 = 0.0;
    var f = x;
    var c: f64 = 0.0;
    if (x < -0.2928932188134524 || x > 0.41421356237309503) { // 1 + x outside [sqrt(2)/2, sqrt(2)]
        let u = kmath_opaque_f64(1.0 + x);
        let sp = kmath_log_split(u);
        k = sp.k;
        f = sp.f;
        if (k > 0.0) {
            c = (1.0 - kmath_opaque_f64(u - x)) / u;
        } else {
            c = (x - kmath_opaque_f64(u - 1.0)) / u;
        }
    }
    let t = kmath_log_tail(f);
    return t.s * (t.hfsq + t.r) + (k * KMATH_LN2_LO + c) - t.hfsq + f + k * KMATH_LN2_HI;
}
