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
    assert_eq!((d.span.line, d.span.col), (line, col), "position of {:?}", d.message);
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
        ("fn h(c: bool) -> i32 { return 1; }\nkernel k(x: u32) -> i32 { return h(x); }", 2, 36),
    ];
    for (src, line, col) in cases {
        let d = one_error(src, line, col);
        assert!(d.message.contains("mismatched types"), "{src}: {}", d.message);
        let hint = d.hint.as_deref().unwrap_or("");
        assert!(hint.contains("!= 0"), "{src}: hint {hint:?}");
        assert!(!hint.contains(" as "), "{src}: hint {hint:?} suggests a cast");
    }
    // The other direction keeps its cast hint, naming the required type.
    let d = one_error("kernel k(x: bool) -> f32 { return x; }", 1, 35);
    assert!(d.hint.as_deref().unwrap_or("").contains("as f32"), "{:?}", d.hint);
}

/// `atomic_add(x, v)` with a whole array `x` is one mistake: one error at
/// `x` (not a second one for the same place).
#[test]
fn atomic_on_a_whole_array_reports_one_error() {
    let d = one_error("kernel k(x: mut f32[:]) { atomic_add(x, 1.0); }", 1, 38);
    assert!(d.message.contains("array"), "{}", d.message);
    // Not an array element and not an array: still reported once.
    let d = one_error("kernel k(x: mut f32[:]) { let y = 1.0; atomic_add(y, 1.0); }", 1, 51);
    assert!(d.message.contains("must be an array element"), "{}", d.message);
}
