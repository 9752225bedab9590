// kiln GPU prelude, f64 half (WGSL): included only in modules that use
// f64 (needs SHADER_F64). Same semantics as the f32 half.

fn kiln_bits_f64(x: f64) -> u64 { return bitcast<u64>(x); }
fn kiln_from_bits_f64(b: u64) -> f64 { return bitcast<f64>(b); }

fn kiln_nan_f64(x: f64) -> bool {
    return (bitcast<u64>(x) & 0x7ffffffffffffffflu) > 0x7ff0000000000000lu;
}
fn kiln_inf_f64(x: f64) -> bool {
    return (bitcast<u64>(x) & 0x7ffffffffffffffflu) == 0x7ff0000000000000lu;
}

fn kiln_fmin_f64(x: f64, y: f64) -> f64 {
    if (kiln_nan_f64(x)) { return y; }
    if (kiln_nan_f64(y)) { return x; }
    if (x < y) { return x; }
    if (y < x) { return y; }
    return bitcast<f64>(bitcast<u64>(x) | bitcast<u64>(y));
}
fn kiln_fmax_f64(x: f64, y: f64) -> f64 {
    if (kiln_nan_f64(x)) { return y; }
    if (kiln_nan_f64(y)) { return x; }
    if (x > y) { return x; }
    if (y > x) { return y; }
    return bitcast<f64>(bitcast<u64>(x) & bitcast<u64>(y));
}

fn kiln_round_away_f64(x: f64) -> f64 {
    let t = trunc(x);
    if (abs(x - t) >= 0.5lf) { return t + select(-1.0lf, 1.0lf, x > 0.0lf); }
    return t;
}

fn kiln_f64_to_i32(x: f64) -> i32 {
    if (kiln_nan_f64(x)) { return 0i; }
    if (x >= 2147483647.0lf) { return 2147483647i; }
    if (x <= -2147483648.0lf) { return -2147483647i - 1i; }
    return i32(x);
}
fn kiln_f64_to_u32(x: f64) -> u32 {
    if (kiln_nan_f64(x) || x <= 0.0lf) { return 0u; }
    if (x >= 4294967295.0lf) { return 4294967295u; }
    return u32(x);
}
// See kiln_i64_to_f32 (naga cannot fold these conversions of constants).
fn kiln_i64_to_f64(x: i64) -> f64 { return f64(x); }
fn kiln_f64_to_f32(x: f64) -> f32 { return f32(x); }
fn kiln_f64_to_i64(x: f64) -> i64 {
    if (kiln_nan_f64(x)) { return 0li; }
    if (x >= 9223372036854775808.0lf) { return 9223372036854775807li; }
    if (x <= -9223372036854775808.0lf) { return -9223372036854775807li - 1li; }
    return i64(x);
}

fn kiln_fmod_f64(x: f64, y: f64) -> f64 {
    if (kiln_nan_f64(x) || kiln_nan_f64(y) || kiln_inf_f64(x) || y == 0.0lf) {
        return bitcast<f64>(0x7ff8000000000000lu);
    }
    let ax = abs(x);
    let ay = abs(y);
    if (kiln_inf_f64(y) || ax < ay) { return x; }
    var r = ax;
    var d = ay;
    for (var k = 0; k < 2100 && d <= r * 0.5lf; k++) { d = d * 2.0lf; }
    for (var k = 0; k < 2100; k++) {
        if (r >= d) { r = r - d; }
        if (d <= ay) { break; }
        d = d * 0.5lf;
    }
    return select(r, -r, x < 0.0lf);
}

// Comparisons with IEEE NaN semantics whatever the optimiser assumes.
fn kiln_eq_f64(a: f64, b: f64) -> bool { return !kiln_nan_f64(a) && !kiln_nan_f64(b) && a == b; }
fn kiln_lt_f64(a: f64, b: f64) -> bool { return !kiln_nan_f64(a) && !kiln_nan_f64(b) && a < b; }
fn kiln_le_f64(a: f64, b: f64) -> bool { return !kiln_nan_f64(a) && !kiln_nan_f64(b) && a <= b; }
fn kiln_gt_f64(a: f64, b: f64) -> bool { return !kiln_nan_f64(a) && !kiln_nan_f64(b) && a > b; }
fn kiln_ge_f64(a: f64, b: f64) -> bool { return !kiln_nan_f64(a) && !kiln_nan_f64(b) && a >= b; }
fn kiln_ne_f64(a: f64, b: f64) -> bool { return kiln_nan_f64(a) || kiln_nan_f64(b) || !(a == b); }
