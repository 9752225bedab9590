//! The inline form: kiln source text rebuilt from the macro's tokens.
//!
//! Rust's tokenizer reads kiln's language as well (docs/typed.md, "The
//! inline form"): `0.0f32`, `1e-3`, `0..n`, `>>=`, `a.shape(0)` all come
//! through as the same literals and punctuation. Each token is written back
//! at its own line and column (from its span), so the rebuilt text has the
//! user's layout and kiln's diagnostics name the real `file:line:col`; a
//! table from byte ranges of the text to token spans turns a diagnostic's
//! range back into the tokens it underlines. Comments do not reach a macro;
//! doc comments do (as `#[doc = "…"]` attributes) and are written back as
//! comments, where `crate::docs` finds them.

use proc_macro2::{Delimiter, Spacing, Span, TokenStream, TokenTree};

/// Rebuilt source text and where each of its tokens came from.
pub struct Rebuilt {
    pub text: String,
    /// `(lo, hi, span)` per token, in text order: bytes `lo..hi` of `text`.
    pub map: Vec<(usize, usize, Span)>,
    /// Whether tokens sit at their real lines and columns (spans carry
    /// locations on every toolchain kiln supports from Rust 1.88 on).
    pub located: bool,
}

impl Rebuilt {
    /// The first and last token spans covering bytes `lo..hi` of the text
    /// (an empty range, e.g. "expected `}`" at the end, takes the token at
    /// or before it).
    pub fn spans(&self, lo: usize, hi: usize) -> (Span, Span) {
        let Some(last_token) = self.map.last() else {
            return (Span::call_site(), Span::call_site());
        };
        let hi = hi.max(lo + 1);
        let first = self
            .map
            .iter()
            .find(|&&(_, t_hi, _)| t_hi > lo)
            .unwrap_or(last_token);
        let last = self
            .map
            .iter()
            .rev()
            .find(|&&(t_lo, _, _)| t_lo < hi)
            .unwrap_or(first);
        if last.0 < first.0 {
            (first.2, first.2)
        } else {
            (first.2, last.2)
        }
    }
}

struct Writer {
    text: String,
    map: Vec<(usize, usize, Span)>,
    /// 1-based line and 0-based column (characters) of the end of `text`.
    line: usize,
    col: usize,
    located: bool,
    /// The previous token was punctuation joined to the next (`.` of `..`).
    joint: bool,
}

impl Writer {
    fn push(&mut self, s: &str) {
        for c in s.chars() {
            if c == '\n' {
                self.line += 1;
                self.col = 0;
            } else {
                self.col += 1;
            }
        }
        self.text.push_str(s);
    }

    /// Moves to where `span` starts: down to its line, across to its column.
    /// A token that cannot be placed there (spans out of order, e.g. from
    /// another macro's expansion) follows after one space, as do all tokens
    /// when spans carry no location.
    fn place(&mut self, span: Span) {
        let start = span.start();
        let ahead = start.line > self.line || (start.line == self.line && start.column >= self.col);
        if self.located && start.line > 0 && ahead {
            while self.line < start.line {
                self.push("\n");
            }
            while self.col < start.column {
                self.push(" ");
            }
        } else if !self.text.is_empty() && !self.joint {
            self.push(" ");
        }
    }

    fn token(&mut self, text: &str, span: Span, joint: bool) {
        self.place(span);
        let lo = self.text.len();
        self.push(text);
        self.map.push((lo, self.text.len(), span));
        self.joint = joint && !self.located;
        // Without locations, lay statements out one per line so that a
        // diagnostic's excerpt stays short.
        if !self.located && matches!(text, ";" | "{" | "}") {
            self.push("\n");
        }
    }

    fn stream(&mut self, tokens: TokenStream) {
        let mut tokens = tokens.into_iter().peekable();
        while let Some(tt) = tokens.next() {
            match tt {
                TokenTree::Punct(p) if p.as_char() == '#' => {
                    // `/// text` reaches the macro as `# [doc = " text"]`,
                    // `//! text` as `# ! [doc = …]`: written back as comments.
                    let inner =
                        matches!(tokens.peek(), Some(TokenTree::Punct(b)) if b.as_char() == '!');
                    let mut look = tokens.clone();
                    if inner {
                        look.next();
                    }
                    if let Some(TokenTree::Group(g)) = look.next() {
                        if let Some(doc) = doc_text(&g) {
                            tokens = look;
                            self.doc(&doc, p.span(), inner);
                            continue;
                        }
                    }
                    self.token("#", p.span(), p.spacing() == Spacing::Joint);
                }
                TokenTree::Punct(p) => {
                    let mut buf = [0u8; 4];
                    let s = p.as_char().encode_utf8(&mut buf);
                    self.token(s, p.span(), p.spacing() == Spacing::Joint);
                }
                TokenTree::Ident(i) => self.token(&i.to_string(), i.span(), false),
                TokenTree::Literal(l) => self.token(&l.to_string(), l.span(), false),
                TokenTree::Group(g) => {
                    let (open, close) = match g.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Brace => ("{", "}"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::None => ("", ""),
                    };
                    if !open.is_empty() {
                        self.token(open, g.span_open(), false);
                    }
                    self.stream(g.stream());
                    if !close.is_empty() {
                        self.token(close, g.span_close(), false);
                    }
                }
            }
        }
    }

    /// A doc comment, written back where it was: `///text` (or `//!text`),
    /// or a block comment when the text spans lines.
    fn doc(&mut self, text: &str, span: Span, inner: bool) {
        self.place(span);
        let lo = self.text.len();
        let mark = if inner { "!" } else { "/" };
        if text.contains('\n') {
            let body = text.replace("*/", "* /");
            let star = if inner { "!" } else { "*" };
            self.push(&format!("/*{star}{body}*/"));
        } else {
            self.push(&format!("//{mark}{text}"));
            self.push("\n");
        }
        self.map.push((lo, self.text.len(), span));
        self.joint = false;
    }
}

/// The text of `[doc = "…"]`, or `None` for any other bracket group.
fn doc_text(g: &proc_macro2::Group) -> Option<String> {
    if g.delimiter() != Delimiter::Bracket {
        return None;
    }
    let mut it = g.stream().into_iter();
    match (it.next(), it.next(), it.next(), it.next()) {
        (
            Some(TokenTree::Ident(i)),
            Some(TokenTree::Punct(eq)),
            Some(TokenTree::Literal(l)),
            None,
        ) if i == "doc" && eq.as_char() == '=' => {
            let lit: syn::LitStr = syn::parse2(TokenTree::Literal(l).into()).ok()?;
            Some(lit.value())
        }
        _ => None,
    }
}

/// Rebuilds the source of an inline `kernels! { … }`.
pub fn rebuild(tokens: TokenStream) -> Rebuilt {
    let located = tokens
        .clone()
        .into_iter()
        .next()
        .is_some_and(|t| t.span().start().line > 0);
    let mut w = Writer {
        text: String::new(),
        map: Vec::new(),
        line: 1,
        col: 0,
        located,
        joint: false,
    };
    w.stream(tokens);
    if !w.text.ends_with('\n') {
        w.text.push('\n');
    }
    Rebuilt {
        text: w.text,
        map: w.map,
        located,
    }
}
