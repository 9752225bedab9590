// kiln GPU prelude (WGSL): the exact scalar semantics of the language
// (src/ir/value.rs) for the types every kernel may use. Included in every
// generated module, after the binding declarations (kiln_err, kiln_frame).
// Needs SHADER_INT64: indices, extents and frame slots are 64-bit.
// The f64 half lives in gpu_prelude_f64.wgsl.

// Records a fault unless another invocation did first (the flag counts
// raisers; only the first, which saw 0, writes the site and operands).
fn kiln_raise(site: u32, a: i64, b: i64, c: i64) {
    if (atomicAdd(&kiln_err.flag, 1u) == 0u) {
        kiln_err.site = site;
        let ua = bitcast<u64>(a);
        let ub = bitcast<u64>(b);
        let uc = bitcast<u64>(c);
        kiln_err.ops[0] = u32(ua & 4294967295lu);
        kiln_err.ops[1] = u32(ua >> 32u);
        kiln_err.ops[2] = u32(ub & 4294967295lu);
        kiln_err.ops[3] = u32(ub >> 32u);
        kiln_err.ops[4] = u32(uc & 4294967295lu);
        kiln_err.ops[5] = u32(uc >> 32u);
    }
}

// Frame and partials slots hold the zero-extended bits of a value.
fn kiln_bits_bool(x: bool) -> u64 { return select(0lu, 1lu, x); }
fn kiln_from_bits_bool(b: u64) -> bool { return (b & 255lu) != 0lu; }
fn kiln_bits_i32(x: i32) -> u64 { return u64(bitcast<u32>(x)); }
fn kiln_from_bits_i32(b: u64) -> i32 { return bitcast<i32>(u32(b & 4294967295lu)); }
fn kiln_bits_u32(x: u32) -> u64 { return u64(x); }
fn kiln_from_bits_u32(b: u64) -> u32 { return u32(b & 4294967295lu); }
fn kiln_bits_i64(x: i64) -> u64 { return bitcast<u64>(x); }
fn kiln_from_bits_i64(b: u64) -> i64 { return bitcast<i64>(b); }
fn kiln_bits_f32(x: f32) -> u64 { return u64(bitcast<u32>(x)); }
fn kiln_from_bits_f32(b: u64) -> f32 { return bitcast<f32>(u32(b & 4294967295lu)); }

// Division with the divisor already checked non-zero: MIN / -1 wraps to
// MIN and MIN % -1 is 0 (WGSL leaves neither to chance this way).
fn kiln_div_i32(a: i32, b: i32) -> i32 {
    if (b == -1i) { return 0i - a; }
    return a / b;
}
fn kiln_rem_i32(a: i32, b: i32) -> i32 {
    if (b == -1i) { return 0i; }
    return a % b;
}
fn kiln_div_u32(a: u32, b: u32) -> u32 { return a / b; }
fn kiln_rem_u32(a: u32, b: u32) -> u32 { return a % b; }
// i64 shifts by n in 0..63, done on 32-bit halves: lavapipe shifted an i64
// by a folded amount of 32 (from -32 masked to 63) by 0 (found by kiln fuzz).
fn kiln_shl_i64(a: i64, n: u32) -> i64 {
    let x = bitcast<u64>(a);
    let lo = u32(x & 4294967295lu);
    let hi = u32(x >> 32u);
    let m = n & 31u;
    var h: u32;
    var l: u32;
    if (n >= 32u) {
        h = lo << m;
        l = 0u;
    } else if (m == 0u) {
        h = hi;
        l = lo;
    } else {
        h = (hi << m) | (lo >> (32u - m));
        l = lo << m;
    }
    return bitcast<i64>((u64(h) << 32u) | u64(l));
}
fn kiln_shr_i64(a: i64, n: u32) -> i64 {
    let x = bitcast<u64>(a);
    let lo = u32(x & 4294967295lu);
    let hi = bitcast<i32>(u32(x >> 32u));
    let m = n & 31u;
    var h: i32;
    var l: u32;
    if (n >= 32u) {
        h = hi >> 31u;
        l = bitcast<u32>(hi >> m);
    } else if (m == 0u) {
        h = hi;
        l = lo;
    } else {
        h = hi >> m;
        l = (lo >> m) | (bitcast<u32>(hi) << (32u - m));
    }
    return bitcast<i64>((u64(bitcast<u32>(h)) << 32u) | u64(l));
}
fn kiln_div_i64(a: i64, b: i64) -> i64 {
    if (b == -1li) { return 0li - a; }
    return a / b;
}
fn kiln_rem_i64(a: i64, b: i64) -> i64 {
    if (b == -1li) { return 0li; }
    return a % b;
}

// Integer abs wraps: abs(MIN) is MIN.
fn kiln_abs_i32(x: i32) -> i32 { return select(x, 0i - x, x < 0i); }
fn kiln_abs_i64(x: i64) -> i64 { return select(x, 0li - x, x < 0li); }

// NaN and infinity by bit tests: the compiler may assume floats are finite.
fn kiln_nan_f32(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn kiln_inf_f32(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }

// min/max as IEEE minimumNumber/maximumNumber with -0 < +0 (ir::value).
fn kiln_fmin_f32(x: f32, y: f32) -> f32 {
    if (kiln_nan_f32(x)) { return y; }
    if (kiln_nan_f32(y)) { return x; }
    if (x < y) { return x; }
    if (y < x) { return y; }
    return bitcast<f32>(bitcast<u32>(x) | bitcast<u32>(y));
}
fn kiln_fmax_f32(x: f32, y: f32) -> f32 {
    if (kiln_nan_f32(x)) { return y; }
    if (kiln_nan_f32(y)) { return x; }
    if (x > y) { return x; }
    if (y > x) { return y; }
    return bitcast<f32>(bitcast<u32>(x) & bitcast<u32>(y));
}

// Half away from zero (WGSL's round is half to even). x - trunc(x) is exact.
fn kiln_round_away_f32(x: f32) -> f32 {
    let t = trunc(x);
    if (abs(x - t) >= 0.5f) { return t + select(-1.0f, 1.0f, x > 0.0f); }
    return t;
}

// Rust `as` from f32: saturating, NaN -> 0.
fn kiln_f32_to_i32(x: f32) -> i32 {
    if (kiln_nan_f32(x)) { return 0i; }
    if (x >= 2147483648.0f) { return 2147483647i; }
    if (x <= -2147483648.0f) { return -2147483647i - 1i; }
    return i32(x);
}
fn kiln_f32_to_u32(x: f32) -> u32 {
    if (kiln_nan_f32(x) || x <= 0.0f) { return 0u; }
    if (x >= 4294967296.0f) { return 4294967295u; }
    return u32(x);
}
// Sign extension with the high word or-ed in: `i64(x)` of a negative i32
// compares as non-negative after lavapipe's optimiser, and the shift pair
// `(u64 << 32) >> 32` of a constant -32 shifted by 0, not 32 (kiln fuzz).
fn kiln_i32_to_i64(x: i32) -> i64 {
    let low = u64(bitcast<u32>(x));
    return bitcast<i64>(select(low, low | 0xffffffff00000000lu, x < 0i));
}
// A function, not an inline f32(x): naga's constant evaluator cannot
// convert a constant i64 to a float (`(!32i64) as f32` would not compile).
fn kiln_i64_to_f32(x: i64) -> f32 { return f32(x); }
fn kiln_f32_to_i64(x: f32) -> i64 {
    if (kiln_nan_f32(x)) { return 0li; }
    if (x >= 9223372036854775808.0f) { return 9223372036854775807li; }
    if (x <= -9223372036854775808.0f) { return -9223372036854775807li - 1li; }
    return i64(x);
}

// Rust's `%` on floats (fmod, exact, the sign of the dividend): subtract
// the largest power-of-two multiple of |y| that fits, halving down to |y|;
// each subtraction is exact (Sterbenz).
fn kiln_fmod_f32(x: f32, y: f32) -> f32 {
    if (kiln_nan_f32(x) || kiln_nan_f32(y) || kiln_inf_f32(x) || y == 0.0f) {
        return bitcast<f32>(0x7fc00000u);
    }
    let ax = abs(x);
    let ay = abs(y);
    if (kiln_inf_f32(y) || ax < ay) { return x; }
    var r = ax;
    var d = ay;
    for (var k = 0; k < 300 && d <= r * 0.5f; k++) { d = d * 2.0f; }
    for (var k = 0; k < 300; k++) {
        if (r >= d) { r = r - d; }
        if (d <= ay) { break; }
        d = d * 0.5f;
    }
    return select(r, -r, x < 0.0f);
}

// Comparisons with IEEE NaN semantics whatever the optimiser assumes.
fn kiln_eq_f32(a: f32, b: f32) -> bool { return !kiln_nan_f32(a) && !kiln_nan_f32(b) && a == b; }
fn kiln_lt_f32(a: f32, b: f32) -> bool { return !kiln_nan_f32(a) && !kiln_nan_f32(b) && a < b; }
fn kiln_le_f32(a: f32, b: f32) -> bool { return !kiln_nan_f32(a) && !kiln_nan_f32(b) && a <= b; }
fn kiln_gt_f32(a: f32, b: f32) -> bool { return !kiln_nan_f32(a) && !kiln_nan_f32(b) && a > b; }
fn kiln_ge_f32(a: f32, b: f32) -> bool { return !kiln_nan_f32(a) && !kiln_nan_f32(b) && a >= b; }
fn kiln_ne_f32(a: f32, b: f32) -> bool { return kiln_nan_f32(a) || kiln_nan_f32(b) || !(a == b); }
