//! Regression tests from a review of the front end and the interpreter
//! against SPEC.md and docs/language.md: each test pins a bug that was found
//! and fixed.

use kiln::ir::print::print_module;
use kiln::lang::{compile, Diagnostic};

fn errors(src: &str) -> Vec<Diagnostic> {
    match compile("t.kn", src) {
        Ok(m) => panic!("expected errors, got:\n{}", print_module(&m)),
        Err(d) => d.items,
    }
}

/// The single error of `src`, checked for its position.
fn one_error(src: &str, line: u32, col: u32) -> Diagnostic {
    let mut errs = errors(src);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    let d = errs.remove(0);
    assert_eq!(
        (d.span.line, d.span.col),
        (line, col),
        "position of {:?}",
        d.message
    );
    d
}

/// A number where a `bool` is required: the hint must not suggest a cast
/// (a number cannot be cast to `bool`, and `(…) as i32` is the value's own
/// type); it suggests a comparison, as the `if` condition error does.
#[test]
fn number_where_bool_is_required_hints_a_comparison_not_a_cast() {
    let cases = [
        ("kernel k(x: i32) -> bool { return x; }", 1, 35),
        ("kernel k(x: f64) { let c: bool = x; }", 1, 34),
        ("kernel k(x: i32) { let mut b = true; b = x; }", 1, 42),
        (
            "fn h(c: bool) -> i32 { return 1; }\nkernel k(x: u32) -> i32 { return h(x); }",
            2,
            36,
        ),
    ];
    for (src, line, col) in cases {
        let d = one_error(src, line, col);
        assert!(
            d.message.contains("mismatched types"),
            "{src}: {}",
            d.message
        );
        let hint = d.hint.as_deref().unwrap_or("");
        assert!(hint.contains("!= 0"), "{src}: hint {hint:?}");
        assert!(
            !hint.contains(" as "),
            "{src}: hint {hint:?} suggests a cast"
        );
    }
    // The other direction keeps its cast hint, naming the required type.
    let d = one_error("kernel k(x: bool) -> f32 { return x; }", 1, 35);
    assert!(
        d.hint.as_deref().unwrap_or("").contains("as f32"),
        "{:?}",
        d.hint
    );
}

/// `atomic_add(x, v)` with a whole array `x` is one mistake: one error at
/// `x` (not a second one for the same place).
#[test]
fn atomic_on_a_whole_array_reports_one_error() {
    let d = one_error("kernel k(x: mut f32[:]) { atomic_add(x, 1.0); }", 1, 38);
    assert!(d.message.contains("array"), "{}", d.message);
    // Not an array element and not an array: still reported once.
    let d = one_error(
        "kernel k(x: mut f32[:]) { let y = 1.0; atomic_add(y, 1.0); }",
        1,
        51,
    );
    assert!(
        d.message.contains("must be an array element"),
        "{}",
        d.message
    );
}

/// A kernel named like a builtin (kernels are entry points, never called)
/// must not hide the builtin: `round(x[i])` inside `kernel round` is the
/// builtin, and so is `max(m, x[i])` (a reduction) inside `kernel max`.
#[test]
fn a_kernel_or_const_named_like_a_builtin_does_not_hide_it() {
    use kiln::{Arg, Backend, Module};
    let src = "
kernel round(x: f64[:], out: mut f64[:]) {
    for i in prange(0..x.len()) { out[i] = round(x[i]); }
}
kernel max(x: f64[:]) -> f64 {
    let mut m = -1.0;
    for i in prange(0..x.len()) { m = max(m, x[i]); }
    return m;
}
const abs: f64 = 0.25;
kernel k(x: f64) -> f64 { return abs(x) + abs; }
";
    let m = Module::from_source("t.kn", src).unwrap_or_else(|e| panic!("{e}"));
    let x = vec![-2.5f64, 0.5, 1.5, 7.0];
    let mut out = vec![0.0f64; 4];
    m.kernel("round")
        .unwrap()
        .launch_on(Backend::Interp, &mut [Arg::from(&x), Arg::from(&mut out)])
        .unwrap();
    assert_eq!(out, vec![-3.0, 1.0, 2.0, 7.0]);
    let r = m
        .kernel("max")
        .unwrap()
        .launch_on(Backend::Interp, &mut [Arg::from(&x)])
        .unwrap();
    assert_eq!(r, Some(kiln::Value::F64(7.0)));
    let r = m
        .kernel("k")
        .unwrap()
        .launch_on(Backend::Interp, &mut [Arg::from(-2.0f64)])
        .unwrap();
    assert_eq!(r, Some(kiln::Value::F64(2.25)));
}

/// A helper named like a builtin would make `sqrt(x)` and `x.sqrt()` mean
/// different functions (SPEC §6: method syntax is sugar for the call), and
/// one named like an atomic could never be called: both are errors at the
/// helper's name.
#[test]
fn a_helper_named_like_a_builtin_is_an_error() {
    let d = one_error("fn sqrt(x: f64) -> f64 { return x; }\nkernel k(x: f64) -> f64 { return sqrt(x) + x.sqrt(); }", 1, 4);
    assert!(d.message.contains("builtin"), "{}", d.message);
    assert!(
        d.hint.as_deref().unwrap_or("").contains("rename"),
        "{:?}",
        d.hint
    );
    let d = one_error("fn atomic_add(x: f64, y: f64) -> f64 { return x + y; }\nkernel k(x: f64) -> f64 { return x; }", 1, 4);
    assert!(d.message.contains("builtin"), "{}", d.message);
}
