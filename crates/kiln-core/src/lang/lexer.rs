//! Source text → tokens.
//!
//! The lexer never stops at an error: unknown characters, bad literals and an
//! unterminated block comment are reported as diagnostics and lexing goes on,
//! so the parser still sees the rest of the file. Every token carries a span
//! whose line and column (characters, 1-based) are tracked while scanning.

use super::diag::Diagnostic;
use crate::ir::{ScalarType, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    Kernel,
    Fn,
    Const,
    Let,
    Mut,
    If,
    Else,
    While,
    For,
    In,
    Prange,
    Break,
    Continue,
    Return,
    True,
    False,
    As,
}

impl Keyword {
    const ALL: [(&'static str, Keyword); 17] = [
        ("kernel", Keyword::Kernel),
        ("fn", Keyword::Fn),
        ("const", Keyword::Const),
        ("let", Keyword::Let),
        ("mut", Keyword::Mut),
        ("if", Keyword::If),
        ("else", Keyword::Else),
        ("while", Keyword::While),
        ("for", Keyword::For),
        ("in", Keyword::In),
        ("prange", Keyword::Prange),
        ("break", Keyword::Break),
        ("continue", Keyword::Continue),
        ("return", Keyword::Return),
        ("true", Keyword::True),
        ("false", Keyword::False),
        ("as", Keyword::As),
    ];

    pub fn from_name(s: &str) -> Option<Keyword> {
        Keyword::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|&(_, k)| k)
    }

    pub fn name(self) -> &'static str {
        Keyword::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|&(name, _)| name)
            .unwrap_or("?")
    }
}

/// Operators and delimiters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Punct {
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Semi,
    Colon,
    Dot,
    DotDot,
    DotDotEq,
    Arrow,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Amp,
    Pipe,
    Caret,
    Bang,
    Shl,
    Shr,
    AndAnd,
    OrOr,
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    PlusEq,
    MinusEq,
    StarEq,
    SlashEq,
    PercentEq,
    AmpEq,
    PipeEq,
    CaretEq,
    ShlEq,
    ShrEq,
}

/// Longest spellings first so that `<<=` wins over `<<` and `<`.
const PUNCTS: [(&str, Punct); 43] = [
    ("..=", Punct::DotDotEq),
    ("<<=", Punct::ShlEq),
    (">>=", Punct::ShrEq),
    ("..", Punct::DotDot),
    ("->", Punct::Arrow),
    ("<<", Punct::Shl),
    (">>", Punct::Shr),
    ("&&", Punct::AndAnd),
    ("||", Punct::OrOr),
    ("==", Punct::EqEq),
    ("!=", Punct::Ne),
    ("<=", Punct::Le),
    (">=", Punct::Ge),
    ("+=", Punct::PlusEq),
    ("-=", Punct::MinusEq),
    ("*=", Punct::StarEq),
    ("/=", Punct::SlashEq),
    ("%=", Punct::PercentEq),
    ("&=", Punct::AmpEq),
    ("|=", Punct::PipeEq),
    ("^=", Punct::CaretEq),
    ("(", Punct::LParen),
    (")", Punct::RParen),
    ("{", Punct::LBrace),
    ("}", Punct::RBrace),
    ("[", Punct::LBracket),
    ("]", Punct::RBracket),
    (",", Punct::Comma),
    (";", Punct::Semi),
    (":", Punct::Colon),
    (".", Punct::Dot),
    ("+", Punct::Plus),
    ("-", Punct::Minus),
    ("*", Punct::Star),
    ("/", Punct::Slash),
    ("%", Punct::Percent),
    ("&", Punct::Amp),
    ("|", Punct::Pipe),
    ("^", Punct::Caret),
    ("!", Punct::Bang),
    ("<", Punct::Lt),
    (">", Punct::Gt),
    ("=", Punct::Eq),
];

impl Punct {
    pub fn text(self) -> &'static str {
        PUNCTS
            .iter()
            .find(|(_, p)| *p == self)
            .map(|&(s, _)| s)
            .unwrap_or("?")
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Ident(String),
    Keyword(Keyword),
    /// Magnitude and optional integer suffix (`0xFFu32`).
    Int {
        value: u64,
        suffix: Option<ScalarType>,
    },
    /// Text without underscores or suffix; an integer spelling with a float
    /// suffix (`1f32`) is a float.
    Float {
        text: String,
        suffix: Option<ScalarType>,
    },
    Punct(Punct),
    Eof,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

const SUFFIX_LIST: &str = "`i32`, `u32`, `i64`, `f32` or `f64`";

/// Splits `source` into tokens, ending with one `Tok::Eof`.
pub fn lex(source: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lexer = Lexer {
        src: source,
        bytes: source.as_bytes(),
        pos: 0,
        line: 1,
        col: 1,
        tokens: Vec::new(),
        errors: Vec::new(),
    };
    lexer.run();
    (lexer.tokens, lexer.errors)
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: u32,
    col: u32,
    tokens: Vec<Token>,
    errors: Vec<Diagnostic>,
}

/// Where a token starts: byte offset and line/column.
#[derive(Clone, Copy)]
struct Mark {
    pos: usize,
    line: u32,
    col: u32,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Lexer<'a> {
    fn peek(&self, ahead: usize) -> u8 {
        self.bytes.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// Moves over one byte; a column is counted at the first byte of each
    /// character, so multi-byte characters count once.
    fn bump(&mut self) {
        if let Some(&b) = self.bytes.get(self.pos) {
            if b == b'\n' {
                self.line += 1;
                self.col = 1;
            } else if b & 0xC0 != 0x80 {
                self.col += 1;
            }
            self.pos += 1;
        }
    }

    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    fn bump_while(&mut self, pred: impl Fn(u8) -> bool) {
        while !self.at_end() && pred(self.peek(0)) {
            self.bump();
        }
    }

    fn mark(&self) -> Mark {
        Mark {
            pos: self.pos,
            line: self.line,
            col: self.col,
        }
    }

    fn span_from(&self, m: Mark) -> Span {
        Span {
            lo: m.pos as u32,
            hi: self.pos as u32,
            line: m.line,
            col: m.col,
        }
    }

    fn text_from(&self, m: Mark) -> &'a str {
        self.src.get(m.pos..self.pos).unwrap_or("")
    }

    fn push(&mut self, tok: Tok, m: Mark) {
        let span = self.span_from(m);
        self.tokens.push(Token { tok, span });
    }

    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.errors.push(Diagnostic::new(span, message));
    }

    fn run(&mut self) {
        // A byte-order mark, as some editors write, is not a character of
        // the program (it still counts as a column, like every character).
        if self.src.starts_with('\u{feff}') {
            self.bump_n('\u{feff}'.len_utf8());
        }
        while !self.at_end() {
            let b = self.peek(0);
            let m = self.mark();
            if b.is_ascii_whitespace() {
                self.bump();
            } else if b == b'/' && self.peek(1) == b'/' {
                self.bump_while(|c| c != b'\n');
            } else if b == b'/' && self.peek(1) == b'*' {
                self.block_comment(m);
            } else if is_ident_start(b) {
                self.bump_while(is_ident_continue);
                let text = self.text_from(m);
                let tok = match Keyword::from_name(text) {
                    Some(k) => Tok::Keyword(k),
                    None => Tok::Ident(text.to_string()),
                };
                self.push(tok, m);
            } else if b.is_ascii_digit() {
                self.number(m);
            } else if let Some(&(text, p)) = PUNCTS
                .iter()
                .find(|(s, _)| self.bytes[self.pos..].starts_with(s.as_bytes()))
            {
                self.bump_n(text.len());
                self.push(Tok::Punct(p), m);
            } else {
                // A run of unknown characters (pasted symbols, binary
                // junk) is one error, not one per character.
                let mut run = String::new();
                while !self.at_end() && self.unknown_here() {
                    let c = self
                        .src
                        .get(self.pos..)
                        .and_then(|s| s.chars().next())
                        .unwrap_or('\u{fffd}');
                    self.bump_n(c.len_utf8());
                    if run.chars().count() < 16 {
                        run.extend(c.escape_debug());
                    }
                }
                let span = self.span_from(m);
                let chars = self.text_from(m).chars().count();
                let msg = if chars == 1 {
                    format!("unknown character `{run}`")
                } else {
                    format!(
                        "unknown characters `{run}{}`",
                        if chars > 16 { "…" } else { "" }
                    )
                };
                self.error(span, msg);
            }
        }
        let m = self.mark();
        self.push(Tok::Eof, m);
    }

    /// Whether the text here starts no token, comment or whitespace.
    fn unknown_here(&self) -> bool {
        let b = self.peek(0);
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        !(b.is_ascii_whitespace()
            || is_ident_start(b)
            || b.is_ascii_digit()
            || PUNCTS.iter().any(|(s, _)| rest.starts_with(s.as_bytes())))
    }

    /// `/* … */`, nestable. An unterminated comment is reported at its opening.
    fn block_comment(&mut self, start: Mark) {
        let mut depth = 0usize;
        while !self.at_end() {
            if self.peek(0) == b'/' && self.peek(1) == b'*' {
                depth += 1;
                self.bump_n(2);
            } else if self.peek(0) == b'*' && self.peek(1) == b'/' {
                depth -= 1;
                self.bump_n(2);
                if depth == 0 {
                    return;
                }
            } else {
                self.bump();
            }
        }
        let span = Span {
            lo: start.pos as u32,
            hi: (start.pos + 2) as u32,
            line: start.line,
            col: start.col,
        };
        self.errors.push(
            Diagnostic::new(span, "unterminated block comment: missing `*/`")
                .with_hint("block comments nest: every `/*` needs its own `*/`"),
        );
    }

    /// Integer and float literals with an optional suffix.
    fn number(&mut self, m: Mark) {
        let radix = match (self.peek(0), self.peek(1)) {
            (b'0', b'x' | b'X') => 16,
            (b'0', b'o' | b'O') => 8,
            (b'0', b'b' | b'B') => 2,
            _ => 10,
        };
        if radix != 10 {
            self.radix_number(m, radix);
            return;
        }
        self.bump_while(|c| c.is_ascii_digit() || c == b'_');
        let mut is_float = false;
        // `1.5` and `1.` are floats; `0..n` is a range and `1.max(2)` a
        // method call, as in Rust.
        if self.peek(0) == b'.' && self.peek(1) != b'.' && !is_ident_start(self.peek(1)) {
            is_float = true;
            self.bump();
            self.bump_while(|c| c.is_ascii_digit() || c == b'_');
        }
        let e = self.peek(0);
        if e == b'e' || e == b'E' {
            let sign = matches!(self.peek(1), b'+' | b'-') as usize;
            // `1e_3` is not an exponent in Rust either; require a digit.
            if self.peek(1 + sign).is_ascii_digit() {
                is_float = true;
                self.bump_n(1 + sign);
                self.bump_while(|c| c.is_ascii_digit() || c == b'_');
            }
        }
        let digits_end = self.pos;
        self.bump_while(is_ident_continue);
        let body: String = self
            .src
            .get(m.pos..digits_end)
            .unwrap_or("")
            .chars()
            .filter(|&c| c != '_')
            .collect();
        let suffix_text = self.src.get(digits_end..self.pos).unwrap_or("");
        let suffix = self.suffix(m, suffix_text);
        let tok = match suffix {
            Some(t) if t.is_float() => Tok::Float {
                text: body,
                suffix: Some(t),
            },
            Some(t) if is_float => {
                let span = self.span_from(m);
                self.error(
                    span,
                    format!("a float literal cannot have the integer suffix `{t}`"),
                );
                Tok::Float {
                    text: body,
                    suffix: None,
                }
            }
            _ if is_float => Tok::Float {
                text: body,
                suffix: None,
            },
            _ => Tok::Int {
                value: self.magnitude(m, &body, 10),
                suffix,
            },
        };
        self.push(tok, m);
    }

    /// `0x…`, `0o…`, `0b…`: digits of the radix, then an integer suffix.
    fn radix_number(&mut self, m: Mark, radix: u32) {
        self.bump_n(2);
        let digits_start = self.pos;
        self.bump_while(|c| (c as char).is_digit(radix) || c == b'_');
        let digits_end = self.pos;
        self.bump_while(is_ident_continue);
        let digits: String = self
            .src
            .get(digits_start..digits_end)
            .unwrap_or("")
            .chars()
            .filter(|&c| c != '_')
            .collect();
        let rest = self.src.get(digits_end..self.pos).unwrap_or("");
        let name = match radix {
            16 => "hexadecimal",
            8 => "octal",
            _ => "binary",
        };
        let span = self.span_from(m);
        if rest.starts_with(|c: char| c.is_ascii_digit()) {
            let bad = rest.chars().next().unwrap_or('0');
            self.error(span, format!("invalid digit `{bad}` in a {name} literal"));
            self.push(
                Tok::Int {
                    value: 0,
                    suffix: None,
                },
                m,
            );
            return;
        }
        if digits.is_empty() {
            self.error(span, format!("{name} literal has no digits"));
            self.push(
                Tok::Int {
                    value: 0,
                    suffix: None,
                },
                m,
            );
            return;
        }
        let mut suffix = self.suffix(m, rest);
        if let Some(t) = suffix.filter(|t| t.is_float()) {
            self.error(
                span,
                format!("a {name} literal cannot have the float suffix `{t}`"),
            );
            suffix = None;
        }
        let value = self.magnitude(m, &digits, radix);
        self.push(Tok::Int { value, suffix }, m);
    }

    /// Parses a literal's suffix; reports anything but the five allowed.
    fn suffix(&mut self, m: Mark, text: &str) -> Option<ScalarType> {
        if text.is_empty() {
            return None;
        }
        match ScalarType::from_name(text) {
            Some(t) if t != ScalarType::Bool => Some(t),
            _ => {
                let span = self.span_from(m);
                self.errors.push(
                    Diagnostic::new(span, format!("invalid suffix `{text}` on a number literal"))
                        .with_hint(format!("the allowed suffixes are {SUFFIX_LIST}")),
                );
                None
            }
        }
    }

    /// The value of `digits` (no underscores) in `radix`; must fit in u64.
    fn magnitude(&mut self, m: Mark, digits: &str, radix: u32) -> u64 {
        let mut value: u64 = 0;
        for c in digits.chars() {
            let d = c.to_digit(radix).unwrap_or(0) as u64;
            match value
                .checked_mul(radix as u64)
                .and_then(|v| v.checked_add(d))
            {
                Some(v) => value = v,
                None => {
                    let span = self.span_from(m);
                    self.error(
                        span,
                        "integer literal is too large: it does not fit in 64 bits",
                    );
                    return 0;
                }
            }
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        let (t, e) = lex(src);
        assert!(e.is_empty(), "unexpected errors for {src:?}: {e:?}");
        t.into_iter()
            .map(|t| t.tok)
            .filter(|t| *t != Tok::Eof)
            .collect()
    }

    fn errors(src: &str) -> Vec<String> {
        lex(src).1.into_iter().map(|d| d.message).collect()
    }

    fn int(value: u64, suffix: Option<ScalarType>) -> Tok {
        Tok::Int { value, suffix }
    }

    fn float(text: &str, suffix: Option<ScalarType>) -> Tok {
        Tok::Float {
            text: text.to_string(),
            suffix,
        }
    }

    #[test]
    fn integer_literals() {
        assert_eq!(
            toks("42 0x2A 1_000 0b101 0o17"),
            vec![
                int(42, None),
                int(42, None),
                int(1000, None),
                int(5, None),
                int(15, None)
            ]
        );
        assert_eq!(
            toks("7u32 3i64 0xFFu32 1_i32"),
            vec![
                int(7, Some(ScalarType::U32)),
                int(3, Some(ScalarType::I64)),
                int(255, Some(ScalarType::U32)),
                int(1, Some(ScalarType::I32)),
            ]
        );
        assert_eq!(toks("18446744073709551615"), vec![int(u64::MAX, None)]);
    }

    #[test]
    fn float_literals() {
        assert_eq!(
            toks("1.0 1e-3 2.5e10 1. 1_0.5_0 3E+2"),
            vec![
                float("1.0", None),
                float("1e-3", None),
                float("2.5e10", None),
                float("1.", None),
                float("10.50", None),
                float("3E+2", None),
            ]
        );
        assert_eq!(
            toks("1f32 1.0f64 2.5e3f32"),
            vec![
                float("1", Some(ScalarType::F32)),
                float("1.0", Some(ScalarType::F64)),
                float("2.5e3", Some(ScalarType::F32)),
            ]
        );
    }

    #[test]
    fn ranges_and_method_calls_on_literals() {
        assert_eq!(
            toks("0..n"),
            vec![
                int(0, None),
                Tok::Punct(Punct::DotDot),
                Tok::Ident("n".into())
            ]
        );
        assert_eq!(
            toks("0..=9"),
            vec![int(0, None), Tok::Punct(Punct::DotDotEq), int(9, None)]
        );
        assert_eq!(
            toks("1.max(2)"),
            vec![
                int(1, None),
                Tok::Punct(Punct::Dot),
                Tok::Ident("max".into()),
                Tok::Punct(Punct::LParen),
                int(2, None),
                Tok::Punct(Punct::RParen),
            ]
        );
    }

    #[test]
    fn bad_literals() {
        assert_eq!(errors("1u8").len(), 1);
        assert!(errors("1u8")[0].contains("invalid suffix `u8`"));
        assert!(errors("18446744073709551616")[0].contains("too large"));
        assert!(errors("0xFFFFFFFFFFFFFFFFF")[0].contains("too large"));
        assert!(errors("1.0i32")[0].contains("integer suffix"));
        assert!(errors("0x")[0].contains("no digits"));
        assert!(errors("0b102")[0].contains("invalid digit `2`"));
        assert!(errors("1bool")[0].contains("invalid suffix"));
    }

    #[test]
    fn operators_longest_match() {
        let p = |x| Tok::Punct(x);
        assert_eq!(
            toks("<<= >>= << <= < -> - -= .. ..= . && & ||"),
            vec![
                p(Punct::ShlEq),
                p(Punct::ShrEq),
                p(Punct::Shl),
                p(Punct::Le),
                p(Punct::Lt),
                p(Punct::Arrow),
                p(Punct::Minus),
                p(Punct::MinusEq),
                p(Punct::DotDot),
                p(Punct::DotDotEq),
                p(Punct::Dot),
                p(Punct::AndAnd),
                p(Punct::Amp),
                p(Punct::OrOr),
            ]
        );
    }

    #[test]
    fn keywords_and_identifiers() {
        assert_eq!(
            toks("kernel prange as x_1 _y"),
            vec![
                Tok::Keyword(Keyword::Kernel),
                Tok::Keyword(Keyword::Prange),
                Tok::Keyword(Keyword::As),
                Tok::Ident("x_1".into()),
                Tok::Ident("_y".into()),
            ]
        );
    }

    #[test]
    fn nested_comments() {
        assert_eq!(
            toks("a /* x /* y */ z */ b // c\nd"),
            vec![
                Tok::Ident("a".into()),
                Tok::Ident("b".into()),
                Tok::Ident("d".into()),
            ]
        );
        let e = lex("a /* x /* y */ b");
        assert_eq!(e.1.len(), 1);
        assert!(e.1[0].message.contains("unterminated block comment"));
        assert_eq!((e.1[0].span.line, e.1[0].span.col), (1, 3));
    }

    #[test]
    fn unknown_characters_do_not_stop_lexing() {
        let (t, e) = lex("a @ b é # c");
        assert_eq!(e.len(), 3);
        assert_eq!(t.len(), 4); // a b c Eof
        assert_eq!((e[1].span.line, e[1].span.col), (1, 7));
        assert_eq!(e[1].message, "unknown character `é`");
        let (t, e) = lex("x = \u{3b1}\u{3b2}@#$ y");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].message, "unknown characters `\u{3b1}\u{3b2}@#$`");
        assert_eq!(e[0].span.hi - e[0].span.lo, 7);
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        assert_eq!(toks("\u{feff}x"), vec![Tok::Ident("x".into())]);
        assert_eq!(errors("x \u{feff}").len(), 1);
    }

    #[test]
    fn spans_count_lines_and_characters() {
        let (t, _) = lex("ab\n  é/*x*/ cd\n\tx");
        let cd = &t[1];
        assert_eq!(cd.tok, Tok::Ident("cd".into()));
        assert_eq!(
            (cd.span.line, cd.span.col, cd.span.lo, cd.span.hi),
            (2, 10, 13, 15)
        );
        assert_eq!((t[2].span.line, t[2].span.col), (3, 2));
        assert_eq!(t[3].tok, Tok::Eof);
    }
}
