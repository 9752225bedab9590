//! The front end must never panic, whatever it is fed: random bytes, random
//! text over the language's alphabet, random token sequences, and mutations
//! of a valid program. Also: every kernel in `kernels/` parses cleanly.

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

const TOKENS: &[&str] = &[
    "kernel",
    "fn",
    "const",
    "let",
    "mut",
    "if",
    "else",
    "while",
    "for",
    "in",
    "prange",
    "break",
    "continue",
    "return",
    "true",
    "false",
    "as",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ";",
    ":",
    ".",
    "..",
    "..=",
    "->",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "!",
    "<<",
    ">>",
    "&&",
    "||",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "+=",
    "-=",
    "*=",
    "/=",
    "%=",
    "&=",
    "|=",
    "^=",
    "<<=",
    ">>=",
    "0",
    "1",
    "42",
    "0x2A",
    "1_000",
    "7u32",
    "3i64",
    "1.0",
    "1.",
    "1e-3",
    "2.5e10f32",
    "1f64",
    "99999999999999999999",
    "1u8",
    "x",
    "y",
    "a",
    "i",
    "n",
    "len",
    "shape",
    "sqrt",
    "max",
    "step_by",
    "rev",
    "atomic_add",
    "select",
    "f32",
    "f64",
    "i32",
    "u32",
    "i64",
    "bool",
    "/*",
    "*/",
    "//",
    "\n",
    "@",
    "é",
];

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

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
fn seed_program_parses() {
    let (file, errors) = parse(SEED);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(file.items.len(), 3);
}

#[test]
fn library_kernels_parse_without_errors() {
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
    }
}
