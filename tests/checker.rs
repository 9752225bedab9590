//! Checker tests: golden IR, literal inference, one test per compile-time
//! error class (message, hint and line:col), and multi-error reporting.

use kiln::ir::print::print_module;
use kiln::ir::{Module, ScalarType};
use kiln::lang::{compile, Diagnostic};

fn module(src: &str) -> Module {
    match compile("t.kn", src) {
        Ok(m) => m,
        Err(d) => panic!("unexpected errors:\n{d}"),
    }
}

fn golden(src: &str, expected: &str) {
    let actual = print_module(&module(src));
    if actual != expected {
        panic!("IR differs.\n--- actual ---\n{actual}\n--- expected ---\n{expected}");
    }
}

fn errors(src: &str) -> Vec<Diagnostic> {
    match compile("t.kn", src) {
        Ok(m) => panic!("expected errors, got:\n{}", print_module(&m)),
        Err(d) => d.items,
    }
}

/// Asserts the file has exactly one error, at `line:col`, whose message
/// contains `msg` and whose hint (if `hint` is given) contains `hint`.
fn one_error(src: &str, line: u32, col: u32, msg: &str, hint: Option<&str>) {
    let errs = errors(src);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    let d = &errs[0];
    assert!(
        d.message.contains(msg),
        "message {:?} lacks {msg:?}",
        d.message
    );
    assert_eq!(
        (d.span.line, d.span.col),
        (line, col),
        "position of {:?}",
        d.message
    );
    if let Some(h) = hint {
        let got = d.hint.as_deref().unwrap_or("");
        assert!(got.contains(h), "hint {got:?} lacks {h:?}");
    }
}

fn var_type(m: &Module, func: &str, var: &str) -> ScalarType {
    let f = m
        .functions
        .iter()
        .find(|f| f.name == func)
        .expect("function");
    f.vars
        .iter()
        .find(|v| v.name == var)
        .unwrap_or_else(|| panic!("no var {var}"))
        .ty
}

const SPEC_EXAMPLES: &str = r#"
// y = a*x + y
kernel saxpy(a: f32, x: f32[:], y: mut f32[:]) {
    for i in prange(0..y.len()) {
        y[i] = a * x[i] + y[i];
    }
}

kernel sum_sq(x: f64[:]) -> f64 {
    let mut total = 0.0;
    for i in prange(0..x.len()) {
        total += x[i] * x[i];
    }
    return total;
}

fn cnd(d: f64) -> f64 {
    return 0.5 * (1.0 + erf(d / sqrt(2.0)));
}

kernel mandelbrot(out: mut i32[:, :], max_iter: i32) {
    let h = out.shape(0);
    let w = out.shape(1);
    for (py, px) in prange(0..h, 0..w) {
        let cr = -2.0 + 3.0 * (px as f64) / (w as f64);
        let ci = -1.5 + 3.0 * (py as f64) / (h as f64);
        let mut zr = 0.0;
        let mut zi = 0.0;
        let mut n = 0;
        while n < max_iter && zr * zr + zi * zi <= 4.0 {
            let t = zr * zr - zi * zi + cr;
            zi = 2.0 * zr * zi + ci;
            zr = t;
            n += 1;
        }
        out[py, px] = n;
    }
}
"#;

// ---- golden IR --------------------------------------------------------------

#[test]
fn golden_spec_examples() {
    golden(
        SPEC_EXAMPLES,
        r#"kernel saxpy(v0:a: f32, x: f32[:], y: mut f32[:]) {
    parfor (v1:i) in (0i64..len(y)) {
        y[v1:i!] = (v0:a * x[v1:i]) + y[v1:i!]
    }
}

kernel sum_sq(x: f64[:]) -> f64 {
    let v0:total: f64 = 0.0f64
    parfor (v1:i) in (0i64..len(x)) reduce(add v0:total) {
        v0:total = v0:total + (x[v1:i!] * x[v1:i!])
    }
    return v0:total
}

fn cnd(v0:d: f64) -> f64 {
    return 0.5f64 * (1.0f64 + erf(v0:d / sqrt(2.0f64)))
}

kernel mandelbrot(out: mut i32[:, :], v0:max_iter: i32) {
    let v1:h: i64 = shape(out, 0)
    let v2:w: i64 = shape(out, 1)
    parfor (v3:py, v4:px) in (0i64..v1:h, 0i64..v2:w) {
        let v5:cr: f64 = -2.0f64 + ((3.0f64 * (v4:px as f64)) / (v2:w as f64))
        let v6:ci: f64 = -1.5f64 + ((3.0f64 * (v3:py as f64)) / (v1:h as f64))
        let v7:zr: f64 = 0.0f64
        let v8:zi: f64 = 0.0f64
        let v9:n: i32 = 0i32
        while (v9:n < v0:max_iter) && (((v7:zr * v7:zr) + (v8:zi * v8:zi)) <= 4.0f64) {
            let v10:t: f64 = ((v7:zr * v7:zr) - (v8:zi * v8:zi)) + v5:cr
            v8:zi = ((2.0f64 * v7:zr) * v8:zi) + v6:ci
            v7:zr = v10:t
            v9:n = v9:n + 1i32
        }
        out[v3:py!, v4:px!] = v9:n
    }
}
"#,
    );
}

#[test]
fn golden_serial_loops() {
    golden(
        r#"
kernel loops(x: mut f64[:], n: i32, k: i64) {
    for i in 0..x.len() { x[i] = 1.0; }
    for i in 1..=n { x[i] = 2.0; }
    for i in (0..x.len()).step_by(2) { x[i] = 0.0; }
    for i in (0..10).rev() { x[i] = 3.0; }
    for i in (n..2 * n).step_by(k).rev() { x[i] = 4.0; }
    for i in (0..x.len()).rev().step_by(3) { x[i] = 5.0; }
}
"#,
        r#"kernel loops(x: mut f64[:], v0:n: i32, v1:k: i64) {
    for v2:i start 0i64 count max(len(x), 0i64) stride 1i64 {
        x[v2:i!] = 1.0f64
    }
    let v8:$end: i64 = (v0:n as i64)
    for v3:i start 1i64 count max((v8:$end - 1i64) + 1i64, 0i64) stride 1i64 {
        x[v3:i] = 2.0f64
    }
    check_step 2i64
    let v9:$count: i64 = max(len(x), 0i64)
    for v4:i start 0i64 count (if v9:$count > 0i64 then ((v9:$count - 1i64) / 2i64) + 1i64 else 0i64) stride 2i64 {
        x[v4:i] = 0.0f64
    }
    for v5:i start 9i64 count 10i64 stride -1i64 {
        x[v5:i] = 3.0f64
    }
    let v10:$start: i64 = (v0:n as i64)
    let v11:$end: i64 = ((2i32 * v0:n) as i64)
    check_step v1:k
    let v12:$last: i64 = (v11:$end - 1i64) - v10:$start
    let v13:$last: i64 = (if v12:$last >= 0i64 then v12:$last / v1:k else ((((v12:$last >> 1i64) & 9223372036854775807i64) / v1:k) * 2i64) + ((((v12:$last - (((((v12:$last >> 1i64) & 9223372036854775807i64) / v1:k) * 2i64) * v1:k)) < 0i64) || ((v12:$last - (((((v12:$last >> 1i64) & 9223372036854775807i64) / v1:k) * 2i64) * v1:k)) >= v1:k)) as i64))
    for v6:i start (v10:$start + (v13:$last * v1:k)) count (if v11:$end > v10:$start then (if (v13:$last < 0i64) || (v13:$last == 9223372036854775807i64) then 9223372036854775807i64 else v13:$last + 1i64) else 0i64) stride -v1:k {
        x[v6:i] = 4.0f64
    }
    check_step 3i64
    let v14:$count: i64 = max(len(x), 0i64)
    for v7:i start (v14:$count - 1i64) count (if v14:$count > 0i64 then ((v14:$count - 1i64) / 3i64) + 1i64 else 0i64) stride -3i64 {
        x[v7:i] = 5.0f64
    }
}
"#,
    );
}

#[test]
fn golden_reductions_and_atomics() {
    golden(
        r#"
kernel stats(x: f32[:], hist: mut u32[:]) -> f32 {
    let mut lo = 1.0e30;
    let mut hi = -1.0e30;
    let mut s = 0.0;
    let mut bits = 0u32;
    for i in prange(0..x.len()) {
        lo = min(lo, x[i]);
        hi = hi.max(x[i]);
        s -= x[i];
        bits |= 1u32 << (i % 32);
        let b = (x[i] * 10.0) as i64;
        atomic_add(hist[b], 1);
        let old = atomic_max(hist[0], 7u32);
    }
    return lo + hi + s + (bits as f32);
}
"#,
        r#"kernel stats(x: f32[:], hist: mut u32[:]) -> f32 {
    let v0:lo: f32 = 1e30f32
    let v1:hi: f32 = -1e30f32
    let v2:s: f32 = 0.0f32
    let v3:bits: u32 = 0u32
    parfor (v4:i) in (0i64..len(x)) reduce(min v0:lo, max v1:hi, add v2:s, or v3:bits) {
        v0:lo = min(v0:lo, x[v4:i!])
        v1:hi = max(v1:hi, x[v4:i!])
        v2:s = v2:s - x[v4:i!]
        v3:bits = v3:bits | (1u32 << ((v4:i % 32i64) as u32))
        let v5:b: i64 = ((x[v4:i!] * 10.0f32) as i64)
        eval atomic_add(hist[v5:b], 1u32)
        let v6:old: u32 = atomic_max(hist[0i64], 7u32)
    }
    return ((v0:lo + v1:hi) + v2:s) + (v3:bits as f32)
}
"#,
    );
}

#[test]
fn golden_helpers_consts_and_compound_stores() {
    golden(
        r#"
const N: i64 = 2 * HALF;
const HALF: i64 = 8;
const SCALE: f32 = 1.5 * (N as f32);
fn sq(v: f32) -> f32 { return v * v; }
fn norm(a: f32, b: f32) -> f32 { return sqrt(sq(a) + sq(b)); }
kernel k(x: mut f32[:, :]) {
    for (i, j) in prange(0..x.shape(0), 0..x.shape(1)) {
        x[i, j] = norm(x[i, j], SCALE) + (N as f32);
    }
    x[0, 1] *= 2.0;
    let r = 3;
    x[r + 1, 0] += 1.0;
    for i in 0..x.shape(1) { x[0, i] -= 1.0; x[i, 0] = 0.0; }
}
"#,
        r#"fn sq(v0:v: f32) -> f32 {
    return v0:v * v0:v
}

fn norm(v0:a: f32, v1:b: f32) -> f32 {
    return sqrt(sq(v0:a) + sq(v1:b))
}

kernel k(x: mut f32[:, :]) {
    parfor (v0:i, v1:j) in (0i64..shape(x, 0), 0i64..shape(x, 1)) {
        x[v0:i!, v1:j!] = norm(x[v0:i!, v1:j!], 24.0f32) + (16i64 as f32)
    }
    x[0i64, 1i64] = x[0i64, 1i64] * 2.0f32
    let v2:r: i64 = 3i64
    let v4:$idx: i64 = v2:r + 1i64
    x[v4:$idx, 0i64] = x[v4:$idx, 0i64] + 1.0f32
    for v3:i start 0i64 count max(shape(x, 1), 0i64) stride 1i64 {
        x[0i64, v3:i!] = x[0i64, v3:i!] - 1.0f32
        x[v3:i, 0i64] = 0.0f32
    }
}
"#,
    );
}

// ---- literal inference --------------------------------------------------------

#[test]
fn inference_from_a_later_use() {
    let m = module(SPEC_EXAMPLES);
    assert_eq!(var_type(&m, "mandelbrot", "n"), ScalarType::I32);
    assert_eq!(var_type(&m, "mandelbrot", "zr"), ScalarType::F64);
    assert_eq!(var_type(&m, "sum_sq", "total"), ScalarType::F64);
}

#[test]
fn inference_defaults_and_float_contexts() {
    let m = module(
        r#"
kernel k(x: mut f32[:], u: u32) -> f32 {
    let a = 1.0;
    let y: f32 = a * 2.0;
    let c = 2.0;
    let d = 5;
    let e = d as f64 + c;
    let p = 3;
    let w: u32 = p + u;
    let m = 0;
    x[m] = y;
    let big = -2147483648i32;
    let small: i32 = -2147483648;
    let sh = 1i32 << 40u32;
    return a + 0.5;
}
"#,
    );
    assert_eq!(var_type(&m, "k", "a"), ScalarType::F32);
    assert_eq!(var_type(&m, "k", "c"), ScalarType::F64);
    assert_eq!(var_type(&m, "k", "d"), ScalarType::I64);
    assert_eq!(var_type(&m, "k", "e"), ScalarType::F64);
    assert_eq!(var_type(&m, "k", "p"), ScalarType::U32);
    assert_eq!(var_type(&m, "k", "m"), ScalarType::I64);
    assert_eq!(var_type(&m, "k", "big"), ScalarType::I32);
    assert_eq!(var_type(&m, "k", "small"), ScalarType::I32);
    assert_eq!(var_type(&m, "k", "sh"), ScalarType::I32);
}

#[test]
fn float_literals_are_parsed_at_their_width() {
    let m = module("kernel k(x: mut f32[:]) { x[0] = 0.1; }");
    let text = print_module(&m);
    assert!(text.contains("0.1f32"), "{text}");
}

// ---- one test per error class ------------------------------------------------

#[test]
fn err_mixed_float_widths() {
    one_error(
        "kernel k(a: f32, b: f64) -> f32 {\n    return a + b;\n}\n",
        2,
        12,
        "mismatched types: `f32` and `f64`",
        Some("as f64"),
    );
}

#[test]
fn err_float_literal_in_integer_context() {
    one_error(
        "kernel k(n: i32) {\n    let m = n + 1.5;\n}\n",
        2,
        13,
        "mismatched types: `i32` and `{float}`",
        None,
    );
}

#[test]
fn err_unknown_name_with_hint() {
    one_error(
        "kernel k(x: mut f32[:]) {\n    let total = 1.0;\n    x[0] = totl;\n}\n",
        3,
        12,
        "cannot find `totl` in this scope",
        Some("`total`"),
    );
}

#[test]
fn err_unknown_function_with_hint() {
    one_error(
        "kernel k(x: mut f32[:]) {\n    x[0] = sqrtt(2.0);\n}\n",
        2,
        12,
        "cannot find function `sqrtt`",
        Some("`sqrt`"),
    );
}

#[test]
fn err_assign_immutable() {
    one_error(
        "kernel k(x: mut f32[:]) {\n    let s = 1.0;\n    s = 2.0;\n    x[0] = s;\n}\n",
        3,
        5,
        "cannot assign to `s`, which is not mutable",
        Some("let mut s"),
    );
}

#[test]
fn err_assign_parameter_and_loop_variable() {
    let errs = errors("kernel k(n: i32) {\n    n = 1;\n    for i in 0..3 { i = 2; }\n}\n");
    assert_eq!(errs.len(), 2);
    assert!(errs[0]
        .message
        .contains("cannot assign to the parameter `n`"));
    assert!(errs[1]
        .message
        .contains("cannot assign to the loop variable `i`"));
    assert_eq!((errs[1].span.line, errs[1].span.col), (3, 21));
}

#[test]
fn err_store_to_read_only_array() {
    one_error(
        "kernel k(x: f32[:]) {\n    x[0] = 1.0;\n}\n",
        2,
        5,
        "cannot write to `x`: the array is not `mut`",
        Some("x: mut f32[:]"),
    );
}

#[test]
fn err_atomic_on_read_only_array() {
    one_error(
        "kernel k(x: i32[:]) {\n    atomic_add(x[0], 1);\n}\n",
        2,
        16,
        "the array is not `mut`",
        Some("mut"),
    );
}

#[test]
fn err_atomic_needs_an_element() {
    one_error(
        "kernel k(x: mut i32[:], v: i32) {\n    atomic_add(v, 1);\n}\n",
        2,
        16,
        "must be an array element",
        None,
    );
}

#[test]
fn err_expression_without_effect() {
    one_error(
        "kernel k(x: mut f32[:]) {\n    x[0] + 1.0;\n}\n",
        2,
        5,
        "this expression has no effect",
        None,
    );
}

#[test]
fn err_condition_not_bool() {
    one_error(
        "kernel k(n: i32) {\n    if n { }\n}\n",
        2,
        8,
        "the condition of `if` must be `bool`, but it is `i32`",
        Some("!= 0"),
    );
}

#[test]
fn err_if_branches_differ() {
    one_error(
        "kernel k(c: bool) {\n    let v = if c { 1.0f32 } else { 2.0f64 };\n}\n",
        2,
        13,
        "`if` and `else` have different types: `f32` and `f64`",
        Some("as f64"),
    );
}

#[test]
fn err_literal_out_of_range() {
    one_error(
        "kernel k() {\n    let v: i32 = 3000000000;\n}\n",
        2,
        18,
        "the literal `3000000000` is out of range for `i32`",
        None,
    );
    one_error(
        "kernel k() {\n    let v: i32 = -2147483649;\n}\n",
        2,
        18,
        "the literal `-2147483649` is out of range for `i32`",
        None,
    );
    one_error(
        "kernel k(n: u32) {\n    let v = n + 4294967296;\n}\n",
        2,
        17,
        "out of range for `u32`",
        None,
    );
}

#[test]
fn err_negating_unsigned() {
    one_error(
        "kernel k(x: u32) {\n    let v = -x;\n}\n",
        2,
        13,
        "cannot apply unary `-` to a value of type `u32`",
        None,
    );
}

#[test]
fn err_cast_to_bool() {
    one_error(
        "kernel k(x: i32) {\n    let b = x as bool;\n}\n",
        2,
        13,
        "cannot cast `i32` to `bool`",
        Some("!= 0"),
    );
}

#[test]
fn err_builtin_types_and_arity() {
    one_error(
        "kernel k() {\n    let v = sqrt(2);\n}\n",
        2,
        18,
        "the argument of `sqrt` must be a float type",
        Some("2.0"),
    );
    one_error(
        "kernel k() {\n    let v = min(1.0);\n}\n",
        2,
        13,
        "`min` takes 2 arguments, but 1 was given",
        None,
    );
    one_error(
        "kernel k(a: f32) {\n    let v = a.max(1.0f64);\n}\n",
        2,
        13,
        "mismatched types in the arguments of `max`",
        None,
    );
}

#[test]
fn err_shape_dimension() {
    one_error(
        "kernel k(x: f32[:, :]) {\n    let v = x.shape(2);\n}\n",
        2,
        21,
        "dimension 2 is out of range",
        None,
    );
    one_error(
        "kernel k(x: f32[:], d: i64) {\n    let v = x.shape(d);\n}\n",
        2,
        21,
        "must be a constant integer",
        None,
    );
}

#[test]
fn err_index_count() {
    one_error(
        "kernel k(x: f32[:, :]) -> f32 {\n    return x[0];\n}\n",
        2,
        12,
        "`x` has 2 dimensions, but 1 index was given",
        None,
    );
}

#[test]
fn err_return_value_in_kernel_without_result() {
    one_error(
        "kernel k() {\n    return 1;\n}\n",
        2,
        5,
        "`return` with a value in a kernel that has no result type",
        None,
    );
}

#[test]
fn err_missing_return() {
    one_error(
        "kernel k(n: i32) -> i32 {\n    if n > 0 { return 1; }\n}\n",
        1,
        8,
        "`k` may reach the end of its body without returning a `i32`",
        None,
    );
    // Every path returns: no error (an infinite loop never falls through).
    module("fn f(n: i32) -> i32 { if n > 0 { return 1; } else { return 2; } }");
    module("fn f(n: i32) -> i32 { while true { if n > 0 { return 1; } } }");
    one_error(
        "fn f(n: i32) -> i32 { while true { break; } }",
        1,
        4,
        "may reach the end",
        None,
    );
}

#[test]
fn err_break_and_continue_outside_loops() {
    let errs = errors("kernel k() {\n    break;\n    continue;\n}\n");
    assert_eq!(errs.len(), 2);
    assert!(errs[0].message.contains("`break` outside of a loop"));
    assert_eq!((errs[1].span.line, errs[1].span.col), (3, 5));
}

#[test]
fn err_nested_prange() {
    one_error(
        "kernel k(x: mut f32[:, :]) {\n    for i in prange(0..x.shape(0)) {\n        for j in prange(0..x.shape(1)) {\n            x[i, j] = 0.0;\n        }\n    }\n}\n",
        3,
        18,
        "cannot be nested inside another `prange`",
        Some("prange(a..b, c..d)"),
    );
}

#[test]
fn err_prange_in_helper() {
    one_error(
        "fn f(n: i64) -> i64 {\n    for i in prange(0..n) { }\n    return n;\n}\n",
        2,
        14,
        "`prange` cannot be used in a helper",
        None,
    );
}

#[test]
fn err_break_and_return_in_prange() {
    let errs = errors(
        "kernel k(x: f32[:]) -> f32 {\n    for i in prange(0..x.len()) {\n        if x[i] > 0.0 { break; }\n        while true { break; }\n        if x[i] < 0.0 { return 1.0; }\n    }\n    return 0.0;\n}\n",
    );
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs[0]
        .message
        .contains("`break` cannot leave a `prange` body"));
    assert_eq!((errs[0].span.line, errs[0].span.col), (3, 25));
    assert!(errs[1].message.contains("`return` inside a `prange` body"));
    assert_eq!((errs[1].span.line, errs[1].span.col), (5, 25));
}

#[test]
fn err_prange_inclusive_range() {
    one_error(
        "kernel k(n: i64) {\n    for i in prange(0..=n) { }\n}\n",
        2,
        21,
        "exclusive ranges",
        None,
    );
}

#[test]
fn err_reduction_variable_read_in_body() {
    one_error(
        "kernel k(x: mut f64[:]) {\n    let mut s = 0.0;\n    for i in prange(0..x.len()) {\n        s += x[i];\n        x[i] = s;\n    }\n}\n",
        5,
        16,
        "`s` is a reduction variable of this `prange`, so reading it inside the loop is a race",
        None,
    );
}

#[test]
fn err_outer_variable_assigned_in_prange() {
    one_error(
        "kernel k(x: f64[:]) -> f64 {\n    let mut last = 0.0;\n    for i in prange(0..x.len()) {\n        last = x[i];\n    }\n    return last;\n}\n",
        4,
        9,
        "`last` is declared outside this `prange` and assigned inside it, which is a race",
        Some("last += e"),
    );
}

#[test]
fn err_reduction_with_two_operators() {
    one_error(
        "kernel k(x: f64[:]) -> f64 {\n    let mut s = 0.0;\n    for i in prange(0..x.len()) {\n        s += x[i];\n        s *= 2.0;\n    }\n    return s;\n}\n",
        5,
        9,
        "`s` is updated with both `+=` and `*=`",
        None,
    );
}

#[test]
fn err_reduction_variable_in_its_own_update() {
    one_error(
        "kernel k(x: f64[:]) -> f64 {\n    let mut s = 0.0;\n    for i in prange(0..x.len()) {\n        s += s * x[i];\n    }\n    return s;\n}\n",
        4,
        14,
        "reading it inside the loop is a race",
        None,
    );
}

#[test]
fn reductions_in_inner_serial_loops_and_captures_are_fine() {
    let m = module(
        "kernel k(x: f64[:, :]) -> f64 {\n    let mut s = 0.0;\n    let mut scale = 2.0;\n    scale = scale * 2.0;\n    for i in prange(0..x.shape(0)) {\n        for j in 0..x.shape(1) {\n            if j == 3 { break; }\n            s = max(x[i, j] * scale, s);\n        }\n    }\n    return s;\n}\n",
    );
    let text = print_module(&m);
    assert!(text.contains("reduce(max v0:s)"), "{text}");
    assert!(text.contains("x[v2:i!, v3:j!]"), "{text}");
}

#[test]
fn err_recursion() {
    one_error(
        "fn f(n: i32) -> i32 {\n    return f(n - 1);\n}\n",
        2,
        12,
        "the helper `f` calls itself",
        None,
    );
    one_error(
        "fn f(n: i32) -> i32 { return g(n); }\nfn g(n: i32) -> i32 { return f(n); }\n",
        2,
        30,
        "recursion is not allowed: `f` calls `g` calls `f`",
        None,
    );
}

#[test]
fn err_calling_a_kernel() {
    one_error(
        "kernel a() { }\nkernel b() {\n    a();\n}\n",
        3,
        5,
        "`a` is a kernel; kernels cannot be called",
        None,
    );
}

#[test]
fn err_duplicate_names() {
    one_error(
        "kernel a() { }\nfn a(x: i32) -> i32 { return x; }\n",
        2,
        4,
        "the name `a` is defined more than once",
        None,
    );
    one_error(
        "kernel k(x: i32, x: f32) { }\n",
        1,
        18,
        "the parameter `x` is declared more than once",
        None,
    );
}

#[test]
fn err_helper_signatures() {
    one_error(
        "fn f(x: f32[:]) -> f32 { return 1.0; }\n",
        1,
        9,
        "the helper parameter `x` is an array",
        None,
    );
}

#[test]
fn err_array_element_types_and_ranks() {
    one_error(
        "kernel k(x: bool[:]) { }\n",
        1,
        13,
        "element type `bool`",
        None,
    );
    one_error(
        "kernel k(x: f32[:, :, :, :]) { }\n",
        1,
        13,
        "has 4 dimensions; at most 3",
        None,
    );
}

#[test]
fn err_const_cycle_and_non_constant() {
    one_error(
        "const A: i32 = B + 1;\nconst B: i32 = A;\nkernel k() { }\n",
        1,
        7,
        "the const `A` depends on itself",
        None,
    );
    one_error(
        "fn f(x: i32) -> i32 { return x; }\nconst A: i32 = f(1);\n",
        2,
        16,
        "a const can only use literals, other consts",
        None,
    );
}

#[test]
fn consts_fold_in_any_order() {
    let text = print_module(&module(
        "const B: f64 = sqrt(A) * 2.0;\nconst A: f64 = 16.0;\nconst C: i32 = -(7 / 2);\nkernel k() -> f64 { return B + (C as f64); }\n",
    ));
    assert!(text.contains("return 8.0f64 + (-3i32 as f64)"), "{text}");
}

#[test]
fn many_errors_are_all_reported() {
    let errs = errors(
        r#"kernel a(x: f32[:], n: i32) {
    x[0] = 1.0;
    let s = 1;
    s = 2;
    let v: f32 = 1.0f64;
}
kernel b(y: mut f64[:]) {
    y[0] = undefined_name + 1.0;
    for i in prange(0..y.len()) {
        for j in prange(0..3) { }
    }
    y[1] = y[0] + 1.0f32;
}
"#,
    );
    let where_: Vec<(u32, u32)> = errs.iter().map(|d| (d.span.line, d.span.col)).collect();
    assert_eq!(
        where_,
        vec![(2, 5), (4, 5), (5, 18), (8, 12), (10, 18), (12, 12)],
        "{errs:#?}"
    );
}

#[test]
fn printer_marks_checked_and_proven_indices() {
    let text = print_module(&module(
        "kernel k(x: mut f32[:], y: f32[:]) {\n    let n = x.len();\n    for i in prange(0..n) { x[i] = y[i]; }\n    for i in 1..x.len() { x[i] = 0.0; }\n}\n",
    ));
    assert!(text.contains("x[v1:i!] = y[v1:i]"), "{text}");
    assert!(text.contains("x[v2:i] = 0.0f32"), "{text}");
}

#[test]
fn err_float_literal_never_becomes_an_integer() {
    one_error(
        "kernel k() {\n    let x = 1.0;\n    let y: i32 = x;\n}\n",
        3,
        18,
        "`y` is declared `i32`, but its value is `{float}`",
        None,
    );
    one_error(
        "kernel k() {\n    let v: f32 = 1e39;\n}\n",
        2,
        18,
        "the literal `1e39` is out of range for `f32`",
        None,
    );
}

#[test]
fn err_names_of_the_wrong_kind() {
    one_error(
        "kernel k(x: f32[:]) -> f32 {\n    return x;\n}\n",
        2,
        12,
        "`x` is an array, not a scalar",
        Some("x[i]"),
    );
    one_error(
        "const C: i32 = 1;\nkernel k() {\n    C = 2;\n}\n",
        3,
        5,
        "cannot assign to `C`, which is a const",
        None,
    );
    one_error(
        "kernel k(x: mut f32[:]) {\n    x = 1.0;\n}\n",
        2,
        5,
        "cannot assign to the array `x` itself",
        Some("x[i]"),
    );
    one_error(
        "kernel k(n: i64) -> i64 {\n    return n.len();\n}\n",
        2,
        12,
        "`len()` needs an array parameter",
        None,
    );
    one_error(
        "kernel k(a: f64) -> f64 {\n    return a.sqrtt();\n}\n",
        2,
        14,
        "no method named `sqrtt`",
        Some("`sqrt`"),
    );
    one_error(
        "kernel k(n: i64) -> i64 {\n    return n[0];\n}\n",
        2,
        12,
        "`n` is not an array",
        None,
    );
}

#[test]
fn err_return_without_value() {
    one_error(
        "kernel k() -> i32 {\n    return;\n}\n",
        2,
        5,
        "`return;` without a value in a function returning `i32`",
        None,
    );
}

#[test]
fn err_prange_shapes() {
    one_error(
        "kernel k(n: i64) {\n    for (i, j) in prange(0..n) { }\n}\n",
        2,
        5,
        "this `prange` has 1 range but the loop binds 2 variables",
        None,
    );
    one_error(
        "kernel k(n: i64) {\n    for (a, b, c, d) in prange(0..n, 0..n, 0..n, 0..n) { }\n}\n",
        2,
        25,
        "`prange` takes 1 to 3 ranges, but 4 were given",
        None,
    );
}

#[test]
fn err_bounds_and_indices_must_be_integers() {
    one_error(
        "kernel k(x: f32[:]) {\n    for i in 0..2.5 { }\n}\n",
        2,
        17,
        "a range bound must be an integer type",
        None,
    );
    one_error(
        "kernel k(x: f32[:], f: f32) -> f32 {\n    return x[f];\n}\n",
        2,
        14,
        "an array index must be an integer type",
        Some("as i64"),
    );
}

#[test]
fn mixed_integer_bound_types_are_fine() {
    let text = print_module(&module(
        "kernel k(x: mut f32[:], steps: i32, m: u32) {\n    for i in 0..steps { x[i] = 1.0; }\n    for i in m..steps { x[i] = 2.0; }\n    for i in prange(m..x.len()) { x[i] = 3.0; }\n    let j: u32 = 2;\n    x[j] = 0.0;\n}\n",
    ));
    assert!(
        text.contains("for v2:i start 0i64 count max(v6:$end, 0i64)"),
        "{text}"
    );
    assert!(text.contains("x[(v5:j as i64)] = 0.0f32"), "{text}");
}

#[test]
fn helpers_may_call_later_helpers_and_kernels_call_helpers() {
    let m = module(
        "kernel k(x: mut f64[:]) {\n    x[0] = f(x[0]);\n}\nfn f(a: f64) -> f64 { return g(a) + 1.0; }\nfn g(a: f64) -> f64 { return a.abs(); }\n",
    );
    assert_eq!(m.functions.len(), 3);
    assert_eq!(m.functions[1].kind, kiln::ir::FunctionKind::Helper);
    let text = print_module(&m);
    assert!(text.contains("x[0i64] = f(x[0i64])"), "{text}");
    assert!(text.contains("return g(v0:a) + 1.0f64"), "{text}");
}

#[test]
fn diagnostics_render_with_caret_and_hint() {
    let d = compile(
        "t.kn",
        "kernel k(a: f32, b: f64) -> f32 {\n    return a + b;\n}\n",
    )
    .unwrap_err();
    let text = d.to_string();
    assert!(text.contains("t.kn:2:12"), "{text}");
    assert!(text.contains("^^^^^"), "{text}");
    assert!(text.contains("hint:"), "{text}");
}

/// The exact sequence Rust's iterators give (computed in i128), first 8
/// elements and the length capped at `cap`.
fn range_oracle(
    a: i64,
    b: i64,
    inclusive: bool,
    adapters: &[(bool, i64)],
    cap: i128,
) -> (Vec<i64>, i64) {
    let (mut start, mut count, mut stride) = (
        a as i128,
        (b as i128 - a as i128 + i128::from(inclusive)).max(0),
        1i128,
    );
    for &(is_step, k) in adapters {
        if is_step {
            count = (count + k as i128 - 1) / k as i128;
            stride *= k as i128;
        } else {
            start += (count - 1) * stride;
            stride = -stride;
        }
    }
    let n = count.min(cap);
    let first = (0..n.min(8)).map(|j| (start + j * stride) as i64).collect();
    (first, n as i64)
}

#[test]
fn range_normalisation_is_exact_at_the_extremes() {
    use kiln::Arg;
    use kiln::Value;
    const MIN: i64 = i64::MIN;
    const MAX: i64 = i64::MAX;
    let bounds = [
        (0, 10),
        (-5, 5),
        (10, 0),
        (MIN, MAX),
        (MIN, MIN + 3),
        (MAX - 3, MAX),
        (MIN, 0),
        (-10, MAX),
        (MAX, MIN),
        (0, MAX),
        (5, MIN),
        (3, 3),
    ];
    let steps = [(1, 1), (3, 2), (1 << 62, 1), (MAX, 2)];
    let chains: [&[bool]; 8] = [
        &[],
        &[false],
        &[true],
        &[true, false],
        &[false, true],
        &[true, true],
        &[false, false],
        &[true, false, true],
    ];
    let mut runs = 0;
    for chain in chains {
        for inclusive in [false, true] {
            for zero_start in [false, true] {
                let lo = if zero_start { "0" } else { "a" };
                let op = if inclusive { "..=" } else { ".." };
                let mut range = if chain.is_empty() {
                    format!("{lo}{op}b")
                } else {
                    format!("({lo}{op}b)")
                };
                let mut nsteps = 0;
                for &is_step in chain {
                    if is_step {
                        range.push_str(if nsteps == 0 {
                            ".step_by(k)"
                        } else {
                            ".step_by(k2)"
                        });
                        nsteps += 1;
                    } else {
                        range.push_str(".rev()");
                    }
                }
                let src = format!(
                    "kernel r(out: mut i64[:], a: i64, b: i64, k: i64, k2: i64) -> i64 {{\n    let mut n = 0;\n    for i in {range} {{\n        if n < 8 {{ out[n] = i; }}\n        n += 1;\n        if n >= 1000 {{ break; }}\n    }}\n    return n;\n}}\n"
                );
                let m = module(&src);
                let kernel = &m.functions[0];
                for &(a, b) in &bounds {
                    let a = if zero_start { 0 } else { a };
                    for &(k, k2) in &steps {
                        let mut ks = [k, k2].into_iter();
                        let adapters: Vec<(bool, i64)> = chain
                            .iter()
                            .map(|&s| (s, if s { ks.next().unwrap_or(1) } else { 0 }))
                            .collect();
                        let (want_first, want_n) = range_oracle(a, b, inclusive, &adapters, 1000);
                        let mut out = vec![0i64; 8];
                        let mut args = [
                            Arg::slice_mut(&mut out),
                            Arg::Scalar(Value::I64(a)),
                            Arg::Scalar(Value::I64(b)),
                            Arg::Scalar(Value::I64(k)),
                            Arg::Scalar(Value::I64(k2)),
                        ];
                        let got = kiln::interp::run(&m, kernel, &mut args).expect("runs");
                        let ctx = format!("{range} with a={a} b={b} k={k} k2={k2}");
                        assert_eq!(got, Some(Value::I64(want_n)), "count of {ctx}");
                        assert_eq!(
                            &out[..want_first.len()],
                            &want_first[..],
                            "elements of {ctx}"
                        );
                        runs += 1;
                    }
                }
            }
        }
    }
    assert!(runs > 700);
}

#[test]
fn unknown_method_on_an_array_is_one_error() {
    one_error(
        "kernel k(x: f32[:]) -> i64 {\n    return x.size();\n}\n",
        2,
        14,
        "no method named `size`",
        None,
    );
}

/// The hint for a float literal meeting a bool names a cast that exists
/// (`bool as f64`), never `(…) as bool` (issue 17 item 10).
#[test]
fn float_and_bool_hint_names_a_valid_cast() {
    let src = "kernel k(x: mut f64[:]) { x[0] = 1.0 + true; }\n";
    let d = errors(src);
    let hint = d[0].hint.as_deref().unwrap_or("");
    assert!(
        hint.contains("as f64") && !hint.contains("as bool"),
        "{hint}"
    );
}

fn helper_chain(n: usize, body: impl Fn(usize) -> String) -> String {
    let mut src = String::from("kernel k(x: mut f64[:]) { x[0] = h0(1.0); }\n");
    for j in 0..n {
        src += &format!("fn h{j}(a: f64) -> f64 {{ return {}; }}\n", body(j));
    }
    src += &format!("fn h{n}(a: f64) -> f64 {{ return a; }}\n");
    src
}

/// Helpers that call the next one twice double at every level: refused by
/// the checker before any backend inlines 2^17 copies (issue 17 item 1).
#[test]
fn exponential_helper_inlining_is_refused() {
    let src = helper_chain(17, |j| format!("h{}(a) + h{}(a)", j + 1, j + 1));
    let d = errors(&src);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].message.contains("once its helpers are inlined"),
        "{}",
        d[0].message
    );
    assert_eq!((d[0].span.line, d[0].span.col), (1, 8));
}

/// Long helper chains are refused past the documented depth, everywhere
/// (issue 17 item 2: 70,000 of them overflowed the stack of GPU emitters).
#[test]
fn helper_chains_deeper_than_the_limit_are_refused() {
    let ok = helper_chain(63, |j| format!("h{}(a) + 1.0", j + 1));
    assert!(kiln::lang::compile("t.kn", &ok).is_ok());
    for n in [65, 70_000] {
        let src = helper_chain(n, |j| format!("h{}(a) + 1.0", j + 1));
        let d = errors(&src);
        assert_eq!(d.len(), 1, "{n}: {:?}", &d[..d.len().min(3)]);
        assert!(d[0].message.contains("the limit is 64"), "{}", d[0].message);
    }
}
