//! The front end must never panic, whatever it is fed: random bytes, random
//! text over the language's alphabet, random token sequences, and mutations
//! of a valid program, and well-formed random programs that reach deep into
//! the checker. Also: every kernel in `kernels/` parses cleanly.

use kiln::ir::{Builtin, BuiltinSig};
use kiln::lang::compile;
use kiln::lang::parser::parse;
use proptest::prelude::*;

/// A valid program exercising most of the grammar; mutated below.
const SEED: &str = r#"
const N: i32 = 4 * (2 + 0x10);
fn cnd(d: f64) -> f64 {
    return 0.5 * (1.0 + erf(d / sqrt(2.0)));
}
kernel mandelbrot(out: mut i32[:, :], max_iter: i32, x: f32[:]) -> f64 {
    let h = out.shape(0);
    let mut acc = 0.0;
    for (py, px) in prange(0..h, 0..out.shape(1)) {
        let cr = -2.0 + 3.0 * (px as f64) / (h as f64);
        let mut n = 0;
        while n < max_iter && cr * cr <= 4.0 { n += 1; if n > 3 { continue; } else if n == 2 { n <<= 1u32; } }
        out[py, px] = if n < 0 { -n } else { n.max(1i32) };
        acc += cr;
    }
    for i in (0..=x.len()).rev().step_by(2) { atomic_add(out[0, 0], i as i32); }
    for j in (h + 1)..h * 2 { break; }
    /* nested /* comment */ */
    return acc; // done
}
"#;

/// 512 cases per property by default; set `FUZZ_CASES` for a longer run.
fn config() -> ProptestConfig {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    ProptestConfig::with_cases(cases)
}

use kiln::selftest::fuzz::TOKENS;

fn token_program() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..200).prop_map(|t| t.join(" "))
}

/// The seed with random byte ranges replaced by random tokens.
fn mutated_seed() -> impl Strategy<Value = String> {
    let edit = (0..SEED.len(), 0usize..12, prop::sample::select(TOKENS));
    prop::collection::vec(edit, 1..6).prop_map(|edits| {
        let mut s = SEED.as_bytes().to_vec();
        for (at, del, tok) in edits {
            let at = at.min(s.len());
            let end = (at + del).min(s.len());
            s.splice(at..end, tok.bytes());
        }
        String::from_utf8_lossy(&s).into_owned()
    })
}

/// Leaves of generated expressions: literals of every flavour and the
/// parameters of `GEN_KERNEL`, so types both agree and clash.
const LEAVES: &[&str] = &[
    "0",
    "1",
    "-1",
    "7u32",
    "3i64",
    "2i32",
    "0x7FFFFFFF",
    "4294967295",
    "9223372036854775807",
    "18446744073709551615",
    "1.5",
    "0.0",
    "1e300",
    "2.5f32",
    "1f64",
    "true",
    "false",
    "a",
    "b",
    "c",
    "u",
    "f",
    "x[0]",
    "x[i]",
    "m[0, 1]",
    "x.len()",
    "m.shape(1)",
    "N",
    "M",
    "i",
];

const UNARY: &[&str] = &["-", "!"];
const BINARY: &[&str] = &[
    "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "&&", "||", "==", "!=", "<", "<=", ">",
    ">=",
];
const CASTS: &[&str] = &["i32", "u32", "i64", "f32", "f64", "bool"];
/// Every builtin of the table, plus callees that are not builtins.
fn calls() -> Vec<&'static str> {
    Builtin::ALL
        .into_iter()
        .map(Builtin::name)
        .chain(["h", "atomic_add", "nope"])
        .collect()
}

/// The table's builtins taking `arity` floats to a float.
fn float_builtins(arity: usize) -> Vec<&'static str> {
    Builtin::ALL
        .into_iter()
        .filter(|b| b.arity() == arity)
        .filter(|b| matches!(b.sig(), BuiltinSig::Float | BuiltinSig::Numeric))
        .map(Builtin::name)
        .collect()
}

/// Random expressions built by the grammar (always parse; rarely type-check).
fn gen_expr() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(LEAVES).prop_map(str::to_string);
    leaf.prop_recursive(5, 48, 3, |inner| {
        prop_oneof![
            (prop::sample::select(UNARY), inner.clone()).prop_map(|(o, e)| format!("{o}({e})")),
            (inner.clone(), prop::sample::select(BINARY), inner.clone())
                .prop_map(|(a, o, b)| format!("({a} {o} {b})")),
            (inner.clone(), prop::sample::select(CASTS)).prop_map(|(e, t)| format!("({e} as {t})")),
            (
                prop::sample::select(calls()),
                prop::collection::vec(inner.clone(), 0..4)
            )
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            (
                inner.clone(),
                prop::sample::select(calls()),
                prop::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|(r, f, args)| format!("({r}).{f}({})", args.join(", "))),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("(if {c} {{ {a} }} else {{ {b} }})")),
        ]
    })
}

/// Random statements using generated expressions.
fn gen_stmt() -> impl Strategy<Value = String> {
    let simple = prop_oneof![
        gen_expr().prop_map(|e| format!("let v = {e};")),
        gen_expr().prop_map(|e| format!("let mut w: f64 = {e};")),
        gen_expr().prop_map(|e| format!("x[i] = {e};")),
        gen_expr().prop_map(|e| format!("s += {e};")),
        gen_expr().prop_map(|e| format!("s = max(s, {e});")),
        gen_expr().prop_map(|e| format!("atomic_add(x[0], {e});")),
        gen_expr().prop_map(|e| format!("return {e};")),
        Just("break;".to_string()),
        Just("continue;".to_string()),
        Just("return;".to_string()),
    ];
    simple.prop_recursive(3, 12, 3, |inner| {
        let body = prop::collection::vec(inner, 0..3).prop_map(|b| b.join(" "));
        prop_oneof![
            (gen_expr(), body.clone()).prop_map(|(c, b)| format!("if {c} {{ {b} }}")),
            (gen_expr(), body.clone()).prop_map(|(c, b)| format!("while {c} {{ {b} }}")),
            (gen_expr(), gen_expr(), body.clone())
                .prop_map(|(a, z, b)| format!("for i in {a}..{z} {{ {b} }}")),
            (gen_expr(), gen_expr(), body.clone())
                .prop_map(|(k, z, b)| format!("for i in (0..={z}).rev().step_by({k}) {{ {b} }}")),
            (gen_expr(), body.clone())
                .prop_map(|(z, b)| format!("for i in prange(0..{z}) {{ {b} }}")),
            body.prop_map(|b| format!("for (i, j) in prange(0..2, 0..3) {{ {b} }}")),
        ]
    })
}

/// A file with consts, a helper and a kernel built from generated parts.
fn gen_program() -> impl Strategy<Value = String> {
    (gen_expr(), gen_expr(), gen_expr(), prop::collection::vec(gen_stmt(), 0..5), any::<bool>()).prop_map(
        |(c1, c2, h, stmts, ret)| {
            format!(
                "const N: i32 = {c1};\nconst M: i64 = {c2};\n\
                 fn h(a: f64) -> f64 {{ return {h}; }}\n\
                 kernel k(a: f64, b: i32, c: bool, u: u32, f: f32, x: mut f64[:], m: i64[:, :]){} {{\n\
                 let i = 0; let mut s = 0.0; {} return{}; }}\n",
                if ret { " -> f64" } else { "" },
                stmts.join("\n"),
                if ret { " s" } else { "" }
            )
        },
    )
}

/// Well-typed expressions of type `f64`, `i32` or `bool` over the
/// parameters of `typed_program`: these pass the checker, so they exercise
/// inference, const folding and lowering on valid code.
fn typed_expr(ty: &'static str, depth: u32) -> BoxedStrategy<String> {
    let leaves: &'static [&'static str] = match ty {
        "f64" => &["a", "x[i]", "1.5", "0.0", "-2.0", "1e300", "(N as f64)"],
        "i32" => &["b", "N", "2", "-1", "0x7FFFFFFF", "0", "(i as i32)"],
        _ => &["c", "true", "false"],
    };
    let leaf = prop::sample::select(leaves).prop_map(str::to_string);
    if depth == 0 {
        return leaf.boxed();
    }
    let sub = move |t| typed_expr(t, depth - 1);
    let ops: &'static [&'static str] = match ty {
        "f64" => &["+", "-", "*", "/", "%"],
        "i32" => &["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"],
        _ => &["&&", "||", "&", "^"],
    };
    let binary = (sub(ty), prop::sample::select(ops), sub(ty))
        .prop_map(|(l, o, r)| format!("({l} {o} {r})"));
    let cond = (sub("bool"), sub(ty), sub(ty))
        .prop_map(|(c, l, r)| format!("(if {c} {{ {l} }} else {{ {r} }})"));
    match ty {
        "f64" => prop_oneof![
            leaf,
            binary,
            cond,
            sub("f64").prop_map(|e| format!("-{e}")),
            sub("i32").prop_map(|e| format!("({e} as f64)")),
            (prop::sample::select(float_builtins(1)), sub("f64"))
                .prop_map(|(f, e)| format!("{f}({e})")),
            (
                sub("f64"),
                prop::sample::select(float_builtins(2)),
                sub("f64")
            )
                .prop_map(|(r, f, e)| format!("{r}.{f}({e})")),
        ]
        .boxed(),
        "i32" => prop_oneof![
            leaf,
            binary,
            cond,
            sub("i32").prop_map(|e| format!("-{e}")),
            sub("f64").prop_map(|e| format!("({e} as i32)")),
            (sub("i32"), sub("i32"), sub("i32"))
                .prop_map(|(x, l, h)| format!("clamp({x}, {l}, {h})")),
        ]
        .boxed(),
        _ => prop_oneof![
            leaf,
            binary,
            cond,
            sub("bool").prop_map(|e| format!("!{e}")),
            (
                sub("f64"),
                prop::sample::select(&["<", "<=", "==", "!="][..]),
                sub("f64")
            )
                .prop_map(|(l, o, r)| format!("({l} {o} {r})")),
            (
                sub("i32"),
                prop::sample::select(&[">", ">=", "!="][..]),
                sub("i32")
            )
                .prop_map(|(l, o, r)| format!("({l} {o} {r})")),
            sub("f64").prop_map(|e| format!("{e}.is_nan()")),
        ]
        .boxed(),
    }
}

/// Constant expressions (literals and builtin math only).
fn const_expr() -> impl Strategy<Value = String> {
    let leaf =
        prop::sample::select(&["1", "0", "-3", "0x7FFFFFFF", "2147483647", "-2147483648"][..])
            .prop_map(str::to_string);
    leaf.prop_recursive(3, 16, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(&["+", "-", "*", "/", "%", "<<", ">>", "&"][..]),
                inner.clone()
            )
                .prop_map(|(l, o, r)| format!("({l} {o} {r})")),
            inner.clone().prop_map(|e| format!("-{e}")),
            (inner.clone(), inner).prop_map(|(l, r)| format!("max({l}, {r})")),
        ]
    })
}

/// A kernel whose statements are well typed.
fn typed_program() -> impl Strategy<Value = String> {
    let stmt = prop_oneof![
        typed_expr("f64", 3).prop_map(|e| format!("let v = {e};")),
        typed_expr("f64", 3).prop_map(|e| format!("x[i] = {e};")),
        typed_expr("f64", 3).prop_map(|e| format!("s += {e};")),
        (typed_expr("bool", 2), typed_expr("f64", 2))
            .prop_map(|(c, e)| format!("if {c} {{ s += {e}; }}")),
        typed_expr("i32", 2).prop_map(|e| format!("for j in 0..{e} {{ x[i] += 1.0; }}")),
        (typed_expr("i32", 2), typed_expr("i32", 1)).prop_map(|(e, k)| format!(
            "for j in (0..{e}).rev().step_by({k} as i64) {{ t -= 1; }}"
        )),
        (typed_expr("bool", 2), typed_expr("i32", 2))
            .prop_map(|(c, e)| format!("let mut w = 0; while {c} {{ w = {e}; break; }}")),
    ];
    (
        const_expr(),
        prop::collection::vec(stmt, 1..4),
        typed_expr("f64", 2),
    )
        .prop_map(|(n, stmts, r)| {
            format!(
                "const N: i32 = {n};\n\
             kernel k(a: f64, b: i32, c: bool, x: mut f64[:]) -> f64 {{\n\
             let mut s = 0.0;\n\
             let mut t = b;\n\
             for i in prange(0..x.len()) {{ {} }}\n\
             let i = 0;\n\
             return s + {r} + (t as f64);\n}}\n",
                stmts.join(" ")
            )
        })
}

/// Compiles `src`: it must not panic, its diagnostics must render, and none
/// may be an internal error (e.g. the IR verifier rejecting what the checker
/// produced).
fn no_internal_error(src: &str) -> Result<(), TestCaseError> {
    if let Err(diags) = compile("fuzz.kn", src) {
        let text = diags.to_string();
        prop_assert!(!text.contains("internal error"), "{text}\n{src}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn compile_never_panics_on_tokens(src in token_program()) {
        no_internal_error(&src)?;
    }

    #[test]
    fn compile_never_panics_on_mutations(src in mutated_seed()) {
        no_internal_error(&src)?;
    }

    #[test]
    fn compile_never_panics_on_typed_programs(src in typed_program()) {
        let (_, errors) = parse(&src);
        prop_assert!(errors.is_empty(), "generated program does not parse: {errors:?}\n{src}");
        no_internal_error(&src)?;
    }

    #[test]
    fn compile_never_panics_on_generated_programs(src in gen_program()) {
        let (_, errors) = parse(&src);
        prop_assert!(errors.is_empty(), "generated program does not parse: {errors:?}\n{src}");
        no_internal_error(&src)?;
    }

    #[test]
    fn parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn parse_never_panics_on_alphabet(src in "[a-z0-9_ (){}\\[\\],;:.+\\-*/%&|^!<>=\n\tx]{0,400}") {
        let _ = parse(&src);
    }

    #[test]
    fn parse_never_panics_on_tokens(src in token_program()) {
        let _ = parse(&src);
    }

    #[test]
    fn parse_never_panics_on_mutations(src in mutated_seed()) {
        let (_, errors) = parse(&src);
        // Every diagnostic points inside the text (or at its very end).
        for d in &errors {
            prop_assert!(d.span.lo <= d.span.hi && d.span.hi as usize <= src.len(), "{d:?}");
            prop_assert!(d.span.line >= 1 && d.span.col >= 1);
        }
    }
}

#[test]
fn seed_program_parses_and_compiles() {
    let (file, errors) = parse(SEED);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(file.items.len(), 3);
    if let Err(diags) = compile("seed.kn", SEED) {
        panic!("{diags}");
    }
}

#[test]
fn library_kernels_parse_and_check_without_errors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("kn") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let (file, errors) = parse(&source);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        assert!(!file.items.is_empty(), "{}: no items", path.display());
        if let Err(d) = compile(&path.display().to_string(), &source) {
            panic!("{d}");
        }
    }
}

/// The typed generator must mostly produce valid programs, or the fuzz test
/// above would only exercise error paths. (Consts may divide by zero.)
#[test]
fn typed_programs_mostly_compile() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut failures = Vec::new();
    for _ in 0..200 {
        let src = typed_program().new_tree(&mut runner).unwrap().current();
        if let Err(d) = compile("typed.kn", &src) {
            failures.push(d.to_string());
        }
    }
    assert!(
        failures.len() < 60,
        "{} of 200 failed, e.g.\n{}",
        failures.len(),
        failures[0]
    );
}

/// Code just inside the parser's nesting limit must not overflow the stack
/// in the checker either (test threads have small stacks).
#[test]
fn deep_but_legal_code_compiles() {
    let depth = (1..400).rev().find(|&d| {
        let src = format!(
            "kernel k() -> f64 {{ return {}1.0{}; }}",
            "(".repeat(d),
            ")".repeat(d)
        );
        parse(&src).1.is_empty()
    });
    let d = depth.unwrap_or(0);
    assert!(d >= 200, "only {d} parentheses parse");
    let cases = [
        format!(
            "kernel k() -> f64 {{ return {}1.0{}; }}",
            "(".repeat(d),
            ")".repeat(d)
        ),
        format!(
            "kernel k() -> f64 {{ return {}1.0{}; }}",
            "-(".repeat(d / 2),
            ")".repeat(d / 2)
        ),
        format!(
            "kernel k() -> f64 {{ return 1.0{}; }}",
            " + 1.0".repeat(200)
        ),
        format!(
            "kernel k() -> f64 {{ return 1.0{}; }}",
            ".abs()".repeat(200)
        ),
        format!(
            "kernel k(c: bool) -> f64 {{ let mut v = 0.0; {} v = 1.0; {} return v; }}",
            "if c { ".repeat(100),
            "}".repeat(100)
        ),
        format!(
            "kernel k(c: bool) -> f64 {{ return {}1.0{}; }}",
            "if c { 1.0 } else { ".repeat(100),
            " }".repeat(100)
        ),
        format!(
            "kernel k(x: mut f64[:]) {{ {} x[0] += 1.0; {} }}",
            "for i in 0..2 { while x[0] < 1.0 { ".repeat(50),
            "} }".repeat(50)
        ),
    ];
    for src in &cases {
        let (_, errors) = parse(src);
        assert!(errors.is_empty(), "{errors:?}");
        if let Err(d) = compile("deep.kn", src) {
            panic!("{d}");
        }
    }
}

/// A bounded slice of `kiln fuzz --target front-end`: mutants of the
/// carried and generated kernels through the checker and every code
/// generator of this build (the WGSL validated by naga), none panicking.
#[test]
fn mutants_never_panic_in_any_code_generator() {
    use kiln::selftest::fuzz::{campaign, Options, Target};
    let cases = std::env::var("KILN_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let options = Options {
        seed: 0x6d75_7461,
        backends: Vec::new(),
        targets: vec![Target::FrontEnd],
        cases: Some(cases),
        time: None,
        first: 0,
    };
    let report = campaign(&options, &mut |_, _| {});
    let failures: Vec<String> = report
        .findings
        .iter()
        .map(|f| f.describe(options.seed))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(report.front_end.cases, cases);
    // Some mutants still compile and reach the generators.
    assert!(report.front_end.agreed > 0, "{}", report.table());
}
