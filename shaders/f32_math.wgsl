// kiln f32 math polyfills (owner: helper `math`; see docs/gpu-math.md).
//
// Why: Vulkan only requires loose precision from GLSL.std.450 f32 builtins
// (e.g. sin/cos: absolute 2^-11 on [-pi, pi]), and Mesa's lavapipe lowers
// sinh/cosh/tanh/asin/acos/atan/pow through formulas that lose many ulps;
// WGSL has no erf/cbrt/hypot/log10 at all. These functions stay in f32 (no
// f64 or i64 needed) and use only +,-,*,/, sqrt, floor/trunc/abs and
// u32 bit manipulation.
//
// NaN/Inf: the compiler may assume they do not occur, so classification is a
// bit test and NaN/Inf results come from bitcast. Semantics follow Rust's f32
// methods. Algorithms: fdlibm-style reduction + polynomial; coefficients are
// Taylor series (exact rationals, enough terms for f32) unless noted.
//
// Public: kiln_<name>_f32. Internal helpers: kmath_*_f32 (do not use).

// ---- bits ----------------------------------------------------------------

fn kiln_is_nan_f32(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn kiln_is_inf_f32(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}

fn kmath_finite_f32(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) < 0x7f800000u;
}

fn kmath_nan_f32() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}

fn kmath_inf_f32() -> f32 {
    return bitcast<f32>(0x7f800000u);
}

fn kmath_sign_bit_f32(x: f32) -> bool {
    return (bitcast<u32>(x) >> 31u) != 0u;
}

fn kmath_copysign_f32(x: f32, s: f32) -> f32 {
    return bitcast<f32>((bitcast<u32>(x) & 0x7fffffffu) | (bitcast<u32>(s) & 0x80000000u));
}

// x with its low 12 mantissa bits cleared (12-bit head for exact products).
fn kmath_head_f32(x: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) & 0xfffff000u);
}

// 2^k for -126 <= k <= 127.
fn kmath_pow2_f32(k: i32) -> f32 {
    return bitcast<f32>(u32(k + 127) << 23u);
}

// y * 2^k, rounding once.
fn kmath_scalbn_f32(y: f32, k: i32) -> f32 {
    var x = y;
    var n = k;
    if (n > 127) {
        x = x * kmath_pow2_f32(127);
        n = min(n - 127, 127);
    } else if (n < -126) {
        x = x * kmath_pow2_f32(-102); // 2^-126 * 2^24
        n = max(n + 102, -126);
    }
    return x * kmath_pow2_f32(n);
}

// Rust's f32::round: half away from zero (WGSL round() is half to even).
fn kiln_round_f32(x: f32) -> f32 {
    let t = trunc(x);
    if (abs(x - t) >= 0.5) {
        return t + kmath_copysign_f32(1.0, x);
    }
    return t;
}

// ---- float-float helpers ----------------------------------------------------
//
// Mesa (lavapipe) rewrites (a + b) - a to b and computes fma() unfused, so
// error-free transformations use bit-mask splitting (Dekker) and pass the
// intermediates whose rounding error matters through kmath_opaque_f32, an
// identity the optimizer cannot see through. See f64_math.wgsl.

// Returns x unchanged (bit for bit): ORs in a bit set only for one NaN payload.
fn kmath_opaque_f32(x: f32) -> f32 {
    let b = bitcast<u32>(x);
    return bitcast<f32>(b | select(0u, 1u, b == 0x7fa5a5a5u));
}

fn kmath_two_sum_f32(a: f32, b: f32) -> vec2<f32> {
    let s = kmath_opaque_f32(a + b);
    let bb = kmath_opaque_f32(s - a);
    return vec2<f32>(s, (a - (s - bb)) + (b - bb));
}

// Requires |a| >= |b| (or a == 0).
fn kmath_fast_two_sum_f32(a: f32, b: f32) -> vec2<f32> {
    let s = kmath_opaque_f32(a + b);
    return vec2<f32>(s, b - (s - a));
}

// a*b = p + e exactly: 12-bit halves by masking, all partial products exact.
fn kmath_two_prod_f32(a: f32, b: f32) -> vec2<f32> {
    let p = kmath_opaque_f32(a * b);
    let ah = kmath_head_f32(a);
    let al = a - ah;
    let bh = kmath_head_f32(b);
    let bl = b - bh;
    let e = (((ah * bh - p) + ah * bl) + al * bh) + al * bl;
    return vec2<f32>(p, e);
}

fn kmath_ff_add_f32(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let s = kmath_two_sum_f32(a.x, b.x);
    return kmath_fast_two_sum_f32(s.x, s.y + a.y + b.y);
}

fn kmath_ff_mul_f32(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let p = kmath_two_prod_f32(a.x, b.x);
    return kmath_fast_two_sum_f32(p.x, p.y + (a.x * b.y + a.y * b.x));
}

// ---- exp family ----------------------------------------------------------------

const KMATH_F32_LN2_HI: f32 = 6.93145751953125e-01; // 16 significant bits
const KMATH_F32_LN2_LO: f32 = 1.428606765330187e-06;
const KMATH_F32_INV_LN2: f32 = 1.4426950408889634;

// 2^k * exp(hi - lo), |hi - lo| <= ~0.35: r - r^2 R(r^2) form with the
// Taylor coefficients of r (e^r + 1)/(e^r - 1).
fn kmath_exp_core_f32(hi: f32, lo: f32, k: i32) -> f32 {
    let r = hi - lo;
    let t = r * r;
    let c = r - t * (1.0 / 6.0 + t * (-1.0 / 360.0 + t * (1.0 / 15120.0)));
    let y = 1.0 + (r * c / (2.0 - c) - lo + hi);
    return kmath_scalbn_f32(y, k);
}

fn kiln_exp_f32(x: f32) -> f32 {
    if (kiln_is_nan_f32(x)) {
        return x;
    }
    if (x > 88.72283935546875) {
        return kmath_inf_f32();
    }
    if (x < -103.97283172607422) {
        return 0.0;
    }
    if (abs(x) < 9.313225746154785e-10) { // 2^-30
        return 1.0 + x;
    }
    if (abs(x) <= 0.3465735912322998) {
        return kmath_exp_core_f32(x, 0.0, 0);
    }
    let k = floor(x * KMATH_F32_INV_LN2 + 0.5);
    return kmath_exp_core_f32(x - k * KMATH_F32_LN2_HI, k * KMATH_F32_LN2_LO, i32(k));
}

fn kiln_exp2_f32(x: f32) -> f32 {
    if (kiln_is_nan_f32(x)) {
        return x;
    }
    if (x >= 128.0) {
        return kmath_inf_f32();
    }
    if (x < -150.0) {
        return 0.0;
    }
    let k = floor(x + 0.5);
    let f = x - k;
    let p = kmath_two_prod_f32(f, 6.931471824645996e-01);
    let lo = -(p.y + f * -1.904654290582768e-09);
    return kmath_exp_core_f32(p.x, lo, i32(k));
}

fn kmath_expm1_small_f32(x: f32) -> f32 {
    let p = 1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * (1.0 / 720.0
        + x * (1.0 / 5040.0 + x * (1.0 / 40320.0)))));
    let x2 = x * x;
    return x + (0.5 * x2 + x2 * x * p);
}

fn kmath_expm1_f32(x: f32) -> f32 {
    if (abs(x) <= 0.3465735912322998) {
        return kmath_expm1_small_f32(x);
    }
    if (x > 88.0) {
        return kiln_exp_f32(x);
    }
    if (x < -18.0) {
        return -1.0;
    }
    let k = floor(x * KMATH_F32_INV_LN2 + 0.5);
    let hi = x - k * KMATH_F32_LN2_HI;
    let lo = k * KMATH_F32_LN2_LO;
    let r = kmath_opaque_f32(hi - lo);
    let e = kmath_expm1_small_f32(r) + ((hi - r) - lo);
    let ik = i32(k);
    if (ik > 25) {
        return kmath_scalbn_f32(1.0 + e, ik);
    }
    let t = kmath_pow2_f32(ik);
    if (ik < 0) {
        return t * e + (t - 1.0);
    }
    return t * (e + (1.0 - kmath_pow2_f32(-ik)));
}

// ---- logarithms -----------------------------------------------------------------

struct KmathLogSplitF32 {
    k: f32,
    f: f32,
}

// x = 2^k (1 + f), sqrt(2)/2 < 1 + f < sqrt(2), x positive finite.
fn kmath_log_split_f32(x0: f32) -> KmathLogSplitF32 {
    var x = x0;
    var k: i32 = 0;
    if (x < 1.1754943508222875e-38) {
        x = x * 33554432.0; // 2^25
        k = -25;
    }
    var ix = bitcast<u32>(x);
    ix = ix + (0x3f800000u - 0x3f3504f3u);
    k = k + i32(ix >> 23u) - 127;
    ix = (ix & 0x007fffffu) + 0x3f3504f3u;
    return KmathLogSplitF32(f32(k), bitcast<f32>(ix) - 1.0);
}

// log(1+f) = f - hfsq + s (hfsq + r): s = f/(2+f), r = 2 atanh(s)/s - 2 - ...
struct KmathLogTailF32 {
    hfsq: f32,
    s: f32,
    r: f32,
}

fn kmath_log_tail_f32(f: f32) -> KmathLogTailF32 {
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * (2.0 / 3.0 + z * (2.0 / 5.0 + z * (2.0 / 7.0 + z * (2.0 / 9.0 + z * (2.0 / 11.0)))));
    return KmathLogTailF32(0.5 * f * f, s, r);
}

fn kmath_log_special_f32(x: f32, out: ptr<function, f32>) -> bool {
    if (kiln_is_nan_f32(x)) {
        *out = x;
        return true;
    }
    if (x == 0.0) {
        *out = -kmath_inf_f32();
        return true;
    }
    if (kmath_sign_bit_f32(x)) {
        *out = kmath_nan_f32();
        return true;
    }
    if (kiln_is_inf_f32(x)) {
        *out = x;
        return true;
    }
    return false;
}

fn kiln_log_f32(x: f32) -> f32 {
    var special: f32;
    if (kmath_log_special_f32(x, &special)) {
        return special;
    }
    let sp = kmath_log_split_f32(x);
    let t = kmath_log_tail_f32(sp.f);
    return t.s * (t.hfsq + t.r) + sp.k * KMATH_F32_LN2_LO - t.hfsq + sp.f + sp.k * KMATH_F32_LN2_HI;
}

// log(1+f) as hi (12-bit head) + lo.
fn kmath_log1p_hilo_f32(f: f32) -> vec2<f32> {
    let t = kmath_log_tail_f32(f);
    let hi = kmath_head_f32(f - t.hfsq);
    let lo = (f - hi) - t.hfsq + t.s * (t.hfsq + t.r);
    return vec2<f32>(hi, lo);
}

fn kiln_log2_f32(x: f32) -> f32 {
    var special: f32;
    if (kmath_log_special_f32(x, &special)) {
        return special;
    }
    let sp = kmath_log_split_f32(x);
    let l = kmath_log1p_hilo_f32(sp.f);
    let ivln2hi: f32 = 1.4428710938; // 12-bit head of 1/ln2
    let ivln2lo: f32 = -1.7605285393e-04;
    return (l.y + l.x) * ivln2lo + l.y * ivln2hi + l.x * ivln2hi + sp.k;
}

fn kiln_log10_f32(x: f32) -> f32 {
    var special: f32;
    if (kmath_log_special_f32(x, &special)) {
        return special;
    }
    let sp = kmath_log_split_f32(x);
    let l = kmath_log1p_hilo_f32(sp.f);
    let ivln10hi: f32 = 4.3432617188e-01; // 12-bit head of 1/ln10
    let ivln10lo: f32 = -3.1689971365e-05;
    let log10_2hi: f32 = 3.0102920532e-01; // 12-bit head of log10(2)
    let log10_2lo: f32 = 7.9034151668e-07;
    return sp.k * log10_2lo + (l.y + l.x) * ivln10lo + l.y * ivln10hi + l.x * ivln10hi + sp.k * log10_2hi;
}

// ---- pow (float-float log and exp) ------------------------------------------------

fn kmath_log_ff_f32(x: f32) -> vec2<f32> {
    let sp = kmath_log_split_f32(x);
    let m = sp.f + 1.0;
    let den = kmath_two_sum_f32(m, 1.0);
    let sh = sp.f / den.x;
    let q = kmath_two_prod_f32(sh, den.x);
    let sl = (((sp.f - q.x) - q.y) - sh * den.y) / den.x;
    let s = vec2<f32>(sh, sl);
    let s2 = kmath_ff_mul_f32(s, s);
    let s3 = kmath_ff_mul_f32(s, s2);
    let z = s2.x;
    let tail = z * (1.0 / 5.0 + z * (1.0 / 7.0 + z * (1.0 / 9.0 + z * (1.0 / 11.0 + z * (1.0 / 13.0)))));
    let third = vec2<f32>(3.333333432674408e-01, -9.934107481068821e-09);
    var acc = kmath_ff_mul_f32(s3, third);
    acc = kmath_ff_add_f32(acc, vec2<f32>(s3.x * tail, 0.0));
    acc = kmath_ff_add_f32(s, acc);
    acc = vec2<f32>(2.0 * acc.x, 2.0 * acc.y);
    let kl = kmath_two_prod_f32(sp.k, 6.931471824645996e-01);
    let klo = vec2<f32>(kl.x, kl.y + sp.k * -1.904654290582768e-09);
    return kmath_ff_add_f32(klo, acc);
}

fn kmath_int_kind_f32(y: f32) -> i32 {
    if (floor(y) != y) {
        return 0;
    }
    if (abs(y) >= 16777216.0) {
        return 2;
    }
    let h = 0.5 * y;
    if (floor(h) != h) {
        return 1;
    }
    return 2;
}

fn kiln_pow_f32(x: f32, y: f32) -> f32 {
    if (y == 0.0 || x == 1.0) {
        return 1.0;
    }
    if (kiln_is_nan_f32(x) || kiln_is_nan_f32(y)) {
        return kmath_nan_f32();
    }
    let ax = abs(x);
    if (kiln_is_inf_f32(y)) {
        if (ax == 1.0) {
            return 1.0;
        }
        if ((ax > 1.0) == (y > 0.0)) {
            return kmath_inf_f32();
        }
        return 0.0;
    }
    let kind = kmath_int_kind_f32(y);
    let neg = kmath_sign_bit_f32(x) && kind == 1;
    if (x == 0.0 || kiln_is_inf_f32(x)) {
        var r: f32 = 0.0;
        if ((x == 0.0) == (y < 0.0)) {
            r = kmath_inf_f32();
        }
        return select(r, -r, neg);
    }
    if (x < 0.0 && kind == 0) {
        return kmath_nan_f32();
    }
    let l = kmath_log_ff_f32(ax);
    let p = y * l.x;
    var r: f32;
    if (p > 88.8) {
        r = kmath_inf_f32();
    } else if (p < -104.0) {
        r = 0.0;
    } else {
        let yl = kmath_two_prod_f32(y, l.x);
        let z = kmath_fast_two_sum_f32(yl.x, yl.y + y * l.y);
        let k = floor(z.x * KMATH_F32_INV_LN2 + 0.5);
        // z.x - k*ln2 in float-float: k*LN2 exactly by fma.
        let kl = kmath_two_prod_f32(k, 6.931471824645996e-01);
        let hi = z.x - kl.x; // exact (Sterbenz) or k == 0
        let lo = kl.y + k * -1.904654290582768e-09 - z.y;
        r = kmath_exp_core_f32(hi, lo, i32(k));
    }
    return select(r, -r, neg);
}

// ---- trigonometric -------------------------------------------------------------------

struct KmathRemF32 {
    n: i32,
    hi: f32,
    lo: f32,
}

// pi/2 = P1 + P2 + P3 + P4 (each the float nearest the remainder).
const KMATH_F32_PIO2_1: f32 = 1.5707963705062866;
const KMATH_F32_PIO2_2: f32 = -4.371138828673793e-08;
const KMATH_F32_PIO2_3: f32 = -1.7151245100058819e-15;
const KMATH_F32_PIO2_4: f32 = 1.056299898220315e-23;

// |x| < 2^19: n*P1, n*P2 exact by fma, x - n*P1 exact (Sterbenz).
fn kmath_rem_pio2_medium_f32(x: f32) -> KmathRemF32 {
    let n = floor(x * 6.366197723675814e-01 + 0.5);
    let p1 = kmath_two_prod_f32(n, KMATH_F32_PIO2_1);
    let t = x - p1.x;
    let p2 = kmath_two_prod_f32(n, KMATH_F32_PIO2_2);
    let p3 = kmath_two_prod_f32(n, KMATH_F32_PIO2_3);
    var a = kmath_two_sum_f32(t, -p1.y);
    a = kmath_ff_add_f32(a, vec2<f32>(-p2.x, -p2.y));
    a = kmath_ff_add_f32(a, vec2<f32>(-p3.x, -p3.y - n * KMATH_F32_PIO2_4));
    return KmathRemF32(i32(n), a.x, a.y);
}

// 320 bits of 2/pi after the point, preceded by a zero word.
var<private> kmath_two_over_pi_f32: array<u32, 11> = array<u32, 11>(
    0x00000000u, 0xa2f9836eu, 0x4e441529u, 0xfc2757d1u, 0xf534ddc0u, 0xdb629599u,
    0x3c439041u, 0xfe5163abu, 0xdebbc561u, 0xb7246e3au, 0x424dd2e0u
);

fn kmath_2opi_window_f32(z: u32) -> u32 {
    let w = z / 32u;
    let sh = z % 32u;
    if (sh == 0u) {
        return kmath_two_over_pi_f32[w];
    }
    return (kmath_two_over_pi_f32[w] << sh) | (kmath_two_over_pi_f32[w + 1u] >> (32u - sh));
}

// Full 64-bit product of two u32: (low, high).
fn kmath_mul32(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    return vec2<u32>((mid << 16u) | (p00 & 0xffffu), p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}

// Payne-Hanek for 2^19 <= x (finite, positive): 24-bit mantissa times a
// 96-bit window of 2/pi, in integers.
fn kmath_rem_pio2_large_f32(x: f32) -> KmathRemF32 {
    let b = bitcast<u32>(x);
    let mant = (b & 0x007fffffu) | 0x00800000u;
    let e = i32((b >> 23u) & 0xffu) - 150; // x = mant * 2^e, e >= -4
    let z = u32(e - 1 + 31);
    let w2 = kmath_2opi_window_f32(z);
    let w1 = kmath_2opi_window_f32(z + 32u);
    let w0 = kmath_2opi_window_f32(z + 64u);
    let q0 = kmath_mul32(mant, w0);
    let q1 = kmath_mul32(mant, w1);
    let q2 = kmath_mul32(mant, w2);
    let r0 = q0.x;
    let r1 = q0.y + q1.x;
    let c1 = select(0u, 1u, r1 < q0.y);
    let r2 = q1.y + q2.x + c1;
    var quad = i32(r2 >> 30u);
    var f_a = f32((r2 >> 8u) & 0x3fffffu) * 2.384185791015625e-07;  // 2^-22
    let f_b = f32(r2 & 0xffu) * 9.313225746154785e-10;               // 2^-30
    let f_c = f32(r1 >> 8u) * 5.551115123125783e-17;                 // 2^-54
    let f_d = f32(r1 & 0xffu) * 2.168404344971009e-19;               // 2^-62
    if (f_a >= 0.5) {
        f_a = f_a - 1.0;
        quad = quad + 1;
    }
    var f = kmath_two_sum_f32(f_a, f_b);
    f = kmath_ff_add_f32(f, kmath_two_sum_f32(f_c, f_d));
    let p = kmath_two_prod_f32(f.x, KMATH_F32_PIO2_1);
    let r = kmath_fast_two_sum_f32(p.x, p.y + f.x * KMATH_F32_PIO2_2 + f.y * KMATH_F32_PIO2_1);
    return KmathRemF32(quad & 3, r.x, r.y);
}

fn kmath_rem_pio2_f32(x: f32) -> KmathRemF32 {
    if (abs(x) < 524288.0) {
        return kmath_rem_pio2_medium_f32(x);
    }
    var r = kmath_rem_pio2_large_f32(abs(x));
    if (x < 0.0) {
        r = KmathRemF32(-r.n, -r.hi, -r.lo);
    }
    return r;
}

// sin(x + y), |x + y| <= pi/4, y tiny: Taylor to x^11.
fn kmath_ksin_f32(x: f32, y: f32) -> f32 {
    let z = x * x;
    let r = 1.0 / 120.0 + z * (-1.0 / 5040.0 + z * (1.0 / 362880.0 + z * (-1.0 / 39916800.0)));
    let v = z * x;
    return x - ((z * (0.5 * y - v * r) - y) - v * (-1.0 / 6.0));
}

// cos(x + y), |x + y| <= pi/4: Taylor to x^12.
fn kmath_kcos_f32(x: f32, y: f32) -> f32 {
    let z = x * x;
    let r = z * (1.0 / 24.0 + z * (-1.0 / 720.0 + z * (1.0 / 40320.0 + z * (-1.0 / 3628800.0
        + z * (1.0 / 479001600.0)))));
    let hz = 0.5 * z;
    let u = kmath_opaque_f32(1.0 - hz);
    return u + (((1.0 - u) - hz) + (z * r - x * y));
}

fn kiln_sin_f32(x: f32) -> f32 {
    if (!kmath_finite_f32(x)) {
        return kmath_nan_f32();
    }
    if (abs(x) <= 0.7853981852531433) {
        if (abs(x) < 2.44140625e-04) { // 2^-12
            return x;
        }
        return kmath_ksin_f32(x, 0.0);
    }
    let r = kmath_rem_pio2_f32(x);
    switch (r.n & 3) {
        case 0: {
            return kmath_ksin_f32(r.hi, r.lo);
        }
        case 1: {
            return kmath_kcos_f32(r.hi, r.lo);
        }
        case 2: {
            return -kmath_ksin_f32(r.hi, r.lo);
        }
        default: {
            return -kmath_kcos_f32(r.hi, r.lo);
        }
    }
}

fn kiln_cos_f32(x: f32) -> f32 {
    if (!kmath_finite_f32(x)) {
        return kmath_nan_f32();
    }
    if (abs(x) <= 0.7853981852531433) {
        if (abs(x) < 2.44140625e-04) {
            return 1.0 - 0.5 * x * x;
        }
        return kmath_kcos_f32(x, 0.0);
    }
    let r = kmath_rem_pio2_f32(x);
    switch (r.n & 3) {
        case 0: {
            return kmath_kcos_f32(r.hi, r.lo);
        }
        case 1: {
            return -kmath_ksin_f32(r.hi, r.lo);
        }
        case 2: {
            return -kmath_kcos_f32(r.hi, r.lo);
        }
        default: {
            return kmath_ksin_f32(r.hi, r.lo);
        }
    }
}

fn kiln_tan_f32(x: f32) -> f32 {
    if (!kmath_finite_f32(x)) {
        return kmath_nan_f32();
    }
    var r = KmathRemF32(0, x, 0.0);
    if (abs(x) > 0.7853981852531433) {
        r = kmath_rem_pio2_f32(x);
    } else if (abs(x) < 2.44140625e-04) {
        return x;
    }
    let s = kmath_ksin_f32(r.hi, r.lo);
    let c = kmath_kcos_f32(r.hi, r.lo);
    if ((r.n & 1) == 1) {
        return -c / s;
    }
    return s / c;
}

// ---- inverse trigonometric -------------------------------------------------------

// asin(s) = s + s*R(s^2) for |s| <= 1/2: Taylor coefficients to s^21.
fn kmath_asin_r_f32(z: f32) -> f32 {
    return z * (0.1666666716337204 + z * (0.07500000298023224 + z * (0.0446428582072258
        + z * (0.0303819440305233 + z * (0.022372158244252205 + z * (0.017352763563394547
        + z * (0.013964843936264515 + z * (0.01155180111527443 + z * (0.009761609137058258
        + z * 0.008390335366129875)))))))));
}

const KMATH_F32_PIO2_HI: f32 = 1.5707963705062866;
const KMATH_F32_PIO2_LO: f32 = -4.371138828673793e-08;

fn kiln_asin_f32(x: f32) -> f32 {
    let ax = abs(x);
    if (!(ax < 1.0)) {
        if (ax == 1.0) {
            return kmath_copysign_f32(KMATH_F32_PIO2_HI, x);
        }
        return kmath_nan_f32();
    }
    if (ax < 0.5) {
        if (ax < 2.44140625e-04) {
            return x;
        }
        return x + x * kmath_asin_r_f32(x * x);
    }
    // pi/2 - 2 asin(s), s = sqrt((1-|x|)/2) = f + c with a 12-bit head f.
    let z = (1.0 - ax) * 0.5;
    let s = sqrt(z);
    let r = kmath_asin_r_f32(z);
    let f = kmath_head_f32(s);
    let c = (z - f * f) / (s + f);
    let y = 0.5 * KMATH_F32_PIO2_HI - (2.0 * s * r - (KMATH_F32_PIO2_LO - 2.0 * c) - (0.5 * KMATH_F32_PIO2_HI - 2.0 * f));
    return select(y, -y, x < 0.0);
}

fn kiln_acos_f32(x: f32) -> f32 {
    let ax = abs(x);
    if (!(ax < 1.0)) {
        if (x == 1.0) {
            return 0.0;
        }
        if (x == -1.0) {
            return 2.0 * KMATH_F32_PIO2_HI;
        }
        return kmath_nan_f32();
    }
    if (ax < 0.5) {
        if (ax <= 1.4901161193847656e-08) {
            return KMATH_F32_PIO2_HI;
        }
        return KMATH_F32_PIO2_HI - (x - (KMATH_F32_PIO2_LO - x * kmath_asin_r_f32(x * x)));
    }
    if (x < 0.0) {
        let z = (1.0 + x) * 0.5;
        let s = sqrt(z);
        let w = kmath_asin_r_f32(z) * s - KMATH_F32_PIO2_LO;
        return 2.0 * (KMATH_F32_PIO2_HI - (s + w));
    }
    let z = (1.0 - x) * 0.5;
    let s = sqrt(z);
    let df = kmath_head_f32(s);
    let c = (z - df * df) / (s + df);
    let w = kmath_asin_r_f32(z) * s + c;
    return 2.0 * (df + w);
}

fn kmath_atan_abs_f32(ax: f32) -> f32 {
    if (ax >= 67108864.0) { // 2^26 (and Inf)
        return KMATH_F32_PIO2_HI;
    }
    var id: i32 = -1;
    var t = ax;
    if (ax < 0.4375) {
        if (ax < 2.44140625e-04) {
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
    // atan(t) = t - t*z*P(z), Taylor to t^23.
    let p = 1.0 / 3.0 + z * (-1.0 / 5.0 + z * (1.0 / 7.0 + z * (-1.0 / 9.0 + z * (1.0 / 11.0
        + z * (-1.0 / 13.0 + z * (1.0 / 15.0 + z * (-1.0 / 17.0 + z * (1.0 / 19.0
        + z * (-1.0 / 21.0 + z * (1.0 / 23.0))))))))));
    if (id < 0) {
        return t - t * z * p;
    }
    var hi: f32;
    var lo: f32;
    switch (id) {
        case 0: {
            hi = 4.636476039886475e-01; // atan(0.5)
            lo = 5.012158244627281e-09;
        }
        case 1: {
            hi = 7.853981852531433e-01; // atan(1)
            lo = -2.1855694143368964e-08;
        }
        case 2: {
            hi = 9.827936887741089e-01; // atan(1.5)
            lo = 3.4127171280417214e-08;
        }
        default: {
            hi = KMATH_F32_PIO2_HI;
            lo = KMATH_F32_PIO2_LO;
        }
    }
    return hi - ((t * z * p - lo) - t);
}

fn kiln_atan_f32(x: f32) -> f32 {
    if (kiln_is_nan_f32(x)) {
        return x;
    }
    let r = kmath_atan_abs_f32(abs(x));
    return select(r, -r, kmath_sign_bit_f32(x));
}

fn kiln_atan2_f32(y: f32, x: f32) -> f32 {
    if (kiln_is_nan_f32(x) || kiln_is_nan_f32(y)) {
        return kmath_nan_f32();
    }
    let pi: f32 = 3.1415927410125732;
    let pi_lo: f32 = -8.742277657347586e-08;
    let yneg = kmath_sign_bit_f32(y);
    let xneg = kmath_sign_bit_f32(x);
    var r: f32;
    if (y == 0.0) {
        r = select(0.0, pi, xneg);
    } else if (x == 0.0) {
        r = KMATH_F32_PIO2_HI;
    } else if (kiln_is_inf_f32(x)) {
        if (kiln_is_inf_f32(y)) {
            r = select(0.7853981852531433, 2.356194496154785, xneg);
        } else {
            r = select(0.0, pi, xneg);
        }
    } else if (kiln_is_inf_f32(y)) {
        r = KMATH_F32_PIO2_HI;
    } else {
        let ay = abs(y);
        let ax = abs(x);
        let ey = i32(bitcast<u32>(ay) >> 23u);
        let ex = i32(bitcast<u32>(ax) >> 23u);
        var a: f32;
        if (ey - ex > 26) {
            a = KMATH_F32_PIO2_HI;
        } else if (xneg && ex - ey > 26) {
            a = 0.0;
        } else {
            // y/x may be subnormal or lose bits: scale both when tiny.
            a = kmath_atan_abs_f32(ay / ax);
        }
        if (xneg) {
            r = pi - (a - pi_lo);
        } else {
            r = a;
        }
    }
    return select(r, -r, yneg);
}

// ---- hyperbolic -------------------------------------------------------------------

fn kiln_sinh_f32(x: f32) -> f32 {
    if (!kmath_finite_f32(x)) {
        return x;
    }
    let ax = abs(x);
    let h = select(0.5, -0.5, kmath_sign_bit_f32(x));
    if (ax < 9.0) {
        if (ax < 2.44140625e-04) {
            return x;
        }
        let t = kmath_expm1_f32(ax);
        if (ax < 1.0) {
            return h * (2.0 * t - t * t / (t + 1.0));
        }
        return h * (t + t / (t + 1.0));
    }
    if (ax < 88.72283935546875) {
        return h * kiln_exp_f32(ax);
    }
    if (ax <= 89.41598510742188) {
        let w = kiln_exp_f32(0.5 * ax);
        return (h * w) * w;
    }
    return kmath_copysign_f32(kmath_inf_f32(), x);
}

fn kiln_cosh_f32(x: f32) -> f32 {
    if (kiln_is_nan_f32(x)) {
        return x;
    }
    let ax = abs(x);
    if (ax < 0.3465735912322998) {
        if (ax < 2.44140625e-04) {
            return 1.0;
        }
        let t = kmath_expm1_f32(ax);
        let w = 1.0 + t;
        return 1.0 + (t * t) / (w + w);
    }
    if (ax < 9.0) {
        let t = kiln_exp_f32(ax);
        return 0.5 * t + 0.5 / t;
    }
    if (ax < 88.72283935546875) {
        return 0.5 * kiln_exp_f32(ax);
    }
    if (ax <= 89.41598510742188) {
        let w = kiln_exp_f32(0.5 * ax);
        return (0.5 * w) * w;
    }
    return kmath_inf_f32();
}

fn kiln_tanh_f32(x: f32) -> f32 {
    if (kiln_is_nan_f32(x)) {
        return x;
    }
    let ax = abs(x);
    var r: f32;
    if (ax < 9.0) {
        if (ax < 2.44140625e-04) {
            return x;
        }
        if (ax >= 1.0) {
            let t = kmath_expm1_f32(2.0 * ax);
            r = 1.0 - 2.0 / (t + 2.0);
        } else {
            let t = kmath_expm1_f32(-2.0 * ax);
            r = -t / (t + 2.0);
        }
    } else {
        r = 1.0;
    }
    return select(r, -r, kmath_sign_bit_f32(x));
}

// ---- cbrt, hypot, erf -------------------------------------------------------------

fn kiln_cbrt_f32(x: f32) -> f32 {
    if (!kmath_finite_f32(x) || x == 0.0) {
        return x;
    }
    var ax = abs(x);
    var scale: f32 = 1.0;
    if (ax < 1.1754943508222875e-38) {
        ax = ax * 16777216.0; // 2^24, cube root 2^8
        scale = 0.00390625;
    } else if (ax > 1.0e36) { // keep t^3 finite during the iteration
        ax = ax * 9.313225746154785e-10; // 2^-30
        scale = 1024.0;
    }
    var t = bitcast<f32>(bitcast<u32>(ax) / 3u + 709921077u);
    for (var i: i32 = 0; i < 3; i = i + 1) {
        t = t - (t * t * t - ax) / (3.0 * t * t);
    }
    // Last step with the residual t^3 - a in float-float.
    let t2 = kmath_two_prod_f32(t, t);
    let t3 = kmath_ff_mul_f32(vec2<f32>(t, 0.0), t2);
    let resid = (t3.x - ax) + t3.y;
    t = t - resid / (3.0 * t * t);
    return kmath_copysign_f32(t * scale, x);
}

fn kiln_hypot_f32(x: f32, y: f32) -> f32 {
    if (kiln_is_inf_f32(x) || kiln_is_inf_f32(y)) {
        return kmath_inf_f32();
    }
    if (kiln_is_nan_f32(x) || kiln_is_nan_f32(y)) {
        return kmath_nan_f32();
    }
    var a = max(abs(x), abs(y));
    var b = min(abs(x), abs(y));
    if (b == 0.0 || a > b * 67108864.0) { // b/a < 2^-26
        return a + b;
    }
    var scale: f32 = 1.0;
    if (a > 1.152921504606847e18) { // 2^60
        a = a * 8.077935669463161e-28; // 2^-90
        b = b * 8.077935669463161e-28;
        scale = 1.2379400392853803e27;
    } else if (b < 8.673617379884035e-19) { // 2^-60
        a = a * 1.2379400392853803e27;
        b = b * 1.2379400392853803e27;
        scale = 8.077935669463161e-28;
    }
    let a2 = kmath_two_prod_f32(a, a);
    let b2 = kmath_two_prod_f32(b, b);
    let s = kmath_ff_add_f32(a2, b2);
    let h = sqrt(s.x);
    let hh = kmath_two_prod_f32(h, h);
    let corr = ((s.x - hh.x) - hh.y + s.y) / (2.0 * h);
    return (h + corr) * scale;
}

// erf: fdlibm's piecewise rational approximations (its double coefficients,
// rounded to f32: more terms than f32 needs, so the fit error is negligible).
fn kmath_erfc_tail_f32(ax: f32) -> f32 {
    let s = 1.0 / (ax * ax);
    var r: f32;
    var bs: f32;
    if (ax < 2.857142857142857) {
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
    let z = kmath_head_f32(ax);
    return kiln_exp_f32(-z * z - 0.5625) * kiln_exp_f32((z - ax) * (z + ax) + r / bs) / ax;
}

fn kiln_erf_f32(x: f32) -> f32 {
    if (kiln_is_nan_f32(x)) {
        return x;
    }
    let ax = abs(x);
    var y: f32;
    if (ax < 0.84375) {
        if (ax < 2.44140625e-04) {
            return x + 1.28379167095512586316e-01 * x;
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
    } else if (ax < 4.0) {
        y = 1.0 - kmath_erfc_tail_f32(ax);
    } else {
        y = 1.0;
    }
    return select(y, -y, kmath_sign_bit_f32(x));
}

// Rust's f32::mul_add. WGSL fma() is allowed to be unfused (lavapipe's is),
// so: exact product, exact sum, one final rounding of the small parts
// (within 1 ulp of the fused result).
fn kiln_fma_f32(a: f32, b: f32, c: f32) -> f32 {
    let p = kmath_opaque_f32(a * b);
    if (!kmath_finite_f32(a) || !kmath_finite_f32(b)) {
        return p + c; // IEEE rules for Inf/NaN operands
    }
    if (!kmath_finite_f32(c)) {
        return c; // a*b is finite: Inf/NaN c wins
    }
    if (!kmath_finite_f32(p)) {
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
    let pp = kmath_two_prod_f32(a, b);
    let s = kmath_two_sum_f32(pp.x, c);
    if (!kmath_finite_f32(s.x)) {
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

// ---- on demand: kiln_expm1_f32
// e^x - 1 (Rust exp_m1), without cancellation near 0.
fn kiln_expm1_f32(x: f32) -> f32 {
    if (kiln_is_nan_f32(x) || x == 0.0) { // keeps the sign of zero
        return x;
    }
    return kmath_expm1_f32(x);
}

// ---- on demand: kiln_log1p_f32
// log(1 + x) (Rust ln_1p), accurate near 0 (fdlibm's log1p): near 0 the
// log tail of f = x itself; elsewhere u = 1 + x is split as 2^k (1 + f) and
// the rounding error of 1 + x enters as c = (1 + x - u) / u.
fn kiln_log1p_f32(x: f32) -> f32 {
    if (kiln_is_nan_f32(x)) {
        return x;
    }
    if (x <= -1.0) {
        if (x == -1.0) {
            return -kmath_inf_f32();
        }
        return kmath_nan_f32();
    }
    if (kiln_is_inf_f32(x)) {
        return x;
    }
    if (abs(x) < 5.9604644775390625e-08) { // 2^-24: rounds to x (keeps -0)
        return x;
    }
    var k: f32 = 0.0;
    var f = x;
    var c: f32 = 0.0;
    if (x < -0.29289323 || x > 0.41421357) { // 1 + x outside [sqrt(2)/2, sqrt(2)]
        let u = kmath_opaque_f32(1.0 + x);
        let sp = kmath_log_split_f32(u);
        k = sp.k;
        f = sp.f;
        if (k > 0.0) {
            c = (1.0 - kmath_opaque_f32(u - x)) / u;
        } else {
            c = (x - kmath_opaque_f32(u - 1.0)) / u;
        }
    }
    let t = kmath_log_tail_f32(f);
    return t.s * (t.hfsq + t.r) + (k * KMATH_F32_LN2_LO + c) - t.hfsq + f + k * KMATH_F32_LN2_HI;
}
