//! Tokens → AST, with error recovery so one file reports many errors.
//!
//! A hand-written recursive-descent parser (precedence climbing for binary
//! operators). Parse functions return `PResult`: `Err(Reported)` means a
//! diagnostic has already been recorded and the caller should give up on the
//! current construct. Statements recover by skipping to the next `;` or to
//! the `}` of the enclosing block; items recover by skipping to the next
//! top-level `kernel`/`fn`/`const`. Recursion is bounded by `MAX_NESTING` and
//! so is the height of every expression tree, so no input can overflow the
//! stack here or in the passes that walk the tree afterwards.

mod expr;
mod stmt;
#[cfg(test)]
mod tests;

use super::ast::{ConstItem, FnItem, Item, Param, ParamType, ScalarType, SourceFile, Span};
use super::diag::Diagnostic;
use super::lexer::{lex, Keyword, Punct, Tok, Token};

/// How deeply blocks and expressions may nest (and how tall an expression
/// tree may grow, e.g. `a + a + … + a`).
pub const MAX_NESTING: u32 = 256;

/// Parses a whole file. Never panics, whatever the input; on errors the tree
/// holds what could be parsed.
pub fn parse(source: &str) -> (SourceFile, Vec<Diagnostic>) {
    let (tokens, lex_errors) = lex(source);
    let lex_error_offsets = lex_errors.iter().map(|d| d.span.lo).collect();
    let mut p = Parser {
        src: source,
        toks: tokens,
        pos: 0,
        depth: 0,
        errors: lex_errors,
        lex_error_offsets,
    };
    let file = p.parse_file();
    (file, p.errors)
}

/// The error was reported; the caller abandons what it was parsing.
#[derive(Debug)]
pub(crate) struct Reported;

pub(crate) type PResult<T> = Result<T, Reported>;

static EOF_TOKEN: Token = Token {
    tok: Tok::Eof,
    span: Span {
        lo: 0,
        hi: 0,
        line: 1,
        col: 1,
    },
};

const TYPE_LIST: &str = "the scalar types are `bool`, `i32`, `u32`, `i64`, `f32` and `f64`";

pub(crate) struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    /// Current recursion depth (blocks, nested expressions).
    depth: u32,
    errors: Vec<Diagnostic>,
    /// Where the lexer reported errors (ascending): a parse error right
    /// after one is its echo and is not reported.
    lex_error_offsets: Vec<u32>,
}

impl<'a> Parser<'a> {
    // ---- token access -------------------------------------------------

    fn tok(&self) -> &Token {
        self.nth(0)
    }

    fn nth(&self, ahead: usize) -> &Token {
        self.toks
            .get(self.pos + ahead)
            .or(self.toks.last())
            .unwrap_or(&EOF_TOKEN)
    }

    fn at_eof(&self) -> bool {
        self.tok().tok == Tok::Eof
    }

    fn is(&self, p: Punct) -> bool {
        self.tok().tok == Tok::Punct(p)
    }

    fn is_kw(&self, k: Keyword) -> bool {
        self.tok().tok == Tok::Keyword(k)
    }

    /// Consumes the current token (never moves past the end).
    fn bump(&mut self) -> Token {
        let t = self.tok().clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, p: Punct) -> Option<Span> {
        if self.is(p) {
            Some(self.bump().span)
        } else {
            None
        }
    }

    fn eat_kw(&mut self, k: Keyword) -> Option<Span> {
        if self.is_kw(k) {
            Some(self.bump().span)
        } else {
            None
        }
    }

    /// The previously consumed token, if any.
    fn prev(&self) -> Option<&Token> {
        self.pos.checked_sub(1).and_then(|i| self.toks.get(i))
    }

    /// An empty span just after the previous token: where a missing `;` goes.
    fn after_prev(&self) -> Span {
        match self.prev() {
            Some(t) => {
                let chars = self
                    .src
                    .get(t.span.lo as usize..t.span.hi as usize)
                    .map_or(0, |s| s.chars().count());
                Span {
                    lo: t.span.hi,
                    hi: t.span.hi,
                    line: t.span.line,
                    col: t.span.col.saturating_add(chars as u32),
                }
            }
            None => self.tok().span,
        }
    }

    /// From `start` to the end of the previous token.
    fn span_from(&self, start: Span) -> Span {
        match self.prev() {
            Some(t) if t.span.hi >= start.lo => start.to(t.span),
            _ => start,
        }
    }

    /// How a token reads in a message: "`}`", "end of file".
    fn describe(&self, t: &Token) -> String {
        if t.tok == Tok::Eof {
            return "end of file".to_string();
        }
        let text = self
            .src
            .get(t.span.lo as usize..t.span.hi as usize)
            .unwrap_or("?");
        let short: String = text.chars().take(24).collect();
        if short.len() < text.len() {
            format!("`{short}…`")
        } else {
            format!("`{short}`")
        }
    }

    fn found(&self) -> String {
        let t = self.tok().clone();
        self.describe(&t)
    }

    // ---- errors -------------------------------------------------------

    fn error(&mut self, span: Span, message: impl Into<String>) -> Reported {
        self.report(Diagnostic::new(span, message))
    }

    fn error_hint(
        &mut self,
        span: Span,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Reported {
        self.report(Diagnostic::new(span, message).with_hint(hint))
    }

    /// Records `d` unless a lexer error lies between the previous token and
    /// the error: then the lexer's message already explains it (e.g. the
    /// stray `@` in `x = a @ b;` need not also be "expected `;`").
    fn report(&mut self, d: Diagnostic) -> Reported {
        let lo = self.prev().map_or(0, |t| t.span.lo);
        let hi = self.tok().span.hi.max(d.span.hi);
        let first_at_or_after_lo = self.lex_error_offsets.partition_point(|&o| o < lo);
        let echo = self
            .lex_error_offsets
            .get(first_at_or_after_lo)
            .is_some_and(|&o| o <= hi);
        if !echo {
            self.errors.push(d);
        }
        Reported
    }

    /// "expected WHAT, found TOKEN" at the current token.
    fn expected(&mut self, what: &str) -> Reported {
        let msg = format!("expected {what}, found {}", self.found());
        let span = self.tok().span;
        self.error(span, msg)
    }

    fn expect(&mut self, p: Punct, context: &str) -> PResult<Span> {
        match self.eat(p) {
            Some(s) => Ok(s),
            None => Err(self.expected(&format!("`{}` {context}", p.text()))),
        }
    }

    fn expect_ident(&mut self, context: &str) -> PResult<super::ast::Ident> {
        match &self.tok().tok {
            Tok::Ident(name) => {
                let name = name.clone();
                let span = self.bump().span;
                Ok(super::ast::Ident { name, span })
            }
            Tok::Keyword(k) => {
                let msg = format!("expected {context}, found the keyword `{}`", k.name());
                let span = self.tok().span;
                Err(self.error_hint(span, msg, "keywords cannot be used as names"))
            }
            _ => Err(self.expected(context)),
        }
    }

    /// Runs `f` one nesting level deeper; refuses past `MAX_NESTING`.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_NESTING {
            let span = self.tok().span;
            return Err(self.error_hint(
                span,
                format!("the code is nested too deeply (the limit is {MAX_NESTING} levels)"),
                "split it into helper variables or functions",
            ));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    // ---- recovery -----------------------------------------------------

    fn at_item_start(&self) -> bool {
        matches!(
            self.tok().tok,
            Tok::Keyword(Keyword::Kernel | Keyword::Fn | Keyword::Const)
        )
    }

    /// Skips the rest of a broken item: up to the next `kernel`, `fn` or
    /// `const` (always moving at least one token).
    fn skip_to_item(&mut self) {
        self.bump();
        while !self.at_eof() && !self.at_item_start() {
            self.bump();
        }
    }

    // ---- items --------------------------------------------------------

    fn parse_file(&mut self) -> SourceFile {
        let mut items = Vec::new();
        while !self.at_eof() {
            let start = self.pos;
            match self.parse_item() {
                Ok(item) => items.push(item),
                Err(Reported) => {
                    if self.pos == start || !self.at_item_start() {
                        self.skip_to_item();
                    }
                }
            }
        }
        SourceFile { items }
    }

    fn parse_item(&mut self) -> PResult<Item> {
        match self.tok().tok {
            Tok::Keyword(Keyword::Kernel) => Ok(Item::Kernel(self.parse_fn(true)?)),
            Tok::Keyword(Keyword::Fn) => Ok(Item::Fn(self.parse_fn(false)?)),
            Tok::Keyword(Keyword::Const) => Ok(Item::Const(self.parse_const()?)),
            Tok::Ident(_)
            | Tok::Punct(Punct::RBrace)
            | Tok::Keyword(
                Keyword::Let | Keyword::If | Keyword::While | Keyword::For | Keyword::Return,
            ) => {
                let msg = format!(
                    "expected an item (`kernel`, `fn` or `const`), found {}",
                    self.found()
                );
                let span = self.tok().span;
                Err(self.error_hint(
                    span,
                    msg,
                    "statements belong inside a function body; is there an extra `}` above?",
                ))
            }
            _ => Err(self.expected("an item (`kernel`, `fn` or `const`)")),
        }
    }

    fn parse_fn(&mut self, is_kernel: bool) -> PResult<FnItem> {
        let kw = self.bump().span;
        let what = if is_kernel { "kernel" } else { "function" };
        let name = self.expect_ident(&format!(
            "the {what} name after `{}`",
            if is_kernel { "kernel" } else { "fn" }
        ))?;
        self.expect(
            Punct::LParen,
            &format!("after the {what} name `{}`", name.name),
        )?;
        let params = self.parse_params()?;
        let ret = if self.eat(Punct::Arrow).is_some() {
            Some(self.parse_scalar_type()?)
        } else {
            None
        };
        if !is_kernel && ret.is_none() {
            // Reported, but the body is still parsed for more errors.
            let span = self.after_prev();
            self.error_hint(
                span,
                format!(
                    "helper function `{}` must declare its result type",
                    name.name
                ),
                "write it after the parameters, e.g. `fn f(x: f64) -> f64 { … }`",
            );
        }
        if !self.is(Punct::LBrace) {
            let msg = if ret.is_none() {
                "`{` or `->` after the parameters"
            } else {
                "`{` after the result type"
            };
            return Err(self.expected(msg));
        }
        let body = self.parse_block()?;
        Ok(FnItem {
            name,
            params,
            ret,
            span: kw.to(body.span),
            body,
        })
    }

    /// Parameters after `(`, through the closing `)`.
    fn parse_params(&mut self) -> PResult<Vec<Param>> {
        let mut params = Vec::new();
        loop {
            if self.eat(Punct::RParen).is_some() {
                return Ok(params);
            }
            let name = self.expect_ident("a parameter name or `)`")?;
            self.expect(
                Punct::Colon,
                &format!("after the parameter name `{}`", name.name),
            )?;
            let (ty, ty_span) = self.parse_param_type()?;
            params.push(Param { name, ty, ty_span });
            if self.eat(Punct::Comma).is_none() && !self.is(Punct::RParen) {
                return Err(self.expected("`,` or `)` after a parameter"));
            }
        }
    }

    /// `T`, `[mut] T[:]`, `T[:, :]`, … (any rank; the checker limits it).
    fn parse_param_type(&mut self) -> PResult<(ParamType, Span)> {
        let start = self.tok().span;
        let mutable = self.eat_kw(Keyword::Mut);
        let (elem, _) = self.parse_scalar_type()?;
        if self.eat(Punct::LBracket).is_none() {
            let span = self.span_from(start);
            if let Some(mut_span) = mutable {
                self.error_hint(
                    mut_span,
                    "only array parameters can be `mut`",
                    "a scalar parameter is a copy; use `let mut x = x;` in the body to change it",
                );
            }
            return Ok((ParamType::Scalar(elem), span));
        }
        let mut rank: u8 = 0;
        loop {
            self.expect(Punct::Colon, "in an array type such as `f32[:, :]`")?;
            rank = rank.saturating_add(1);
            if self.eat(Punct::Comma).is_some() && !self.is(Punct::RBracket) {
                continue;
            }
            self.expect(Punct::RBracket, "to close the array type")?;
            break;
        }
        Ok((
            ParamType::Array {
                elem,
                rank,
                mutable: mutable.is_some(),
            },
            self.span_from(start),
        ))
    }

    /// A scalar type name. An unknown name is reported but parsing goes on
    /// (with `f64` in its place) so the rest of the item is still checked.
    fn parse_scalar_type(&mut self) -> PResult<(ScalarType, Span)> {
        match &self.tok().tok {
            Tok::Ident(name) => {
                let ty = ScalarType::from_name(name);
                let name = name.clone();
                let span = self.bump().span;
                match ty {
                    Some(t) => Ok((t, span)),
                    None => {
                        self.error_hint(span, format!("unknown type `{name}`"), TYPE_LIST);
                        Ok((ScalarType::F64, span))
                    }
                }
            }
            _ => Err(self.expected("a type")),
        }
    }

    fn parse_const(&mut self) -> PResult<ConstItem> {
        let kw = self.bump().span;
        let name = self.expect_ident("the constant's name after `const`")?;
        if !self.is(Punct::Colon) {
            let msg = format!(
                "expected `:` and a type after `const {}`, found {}",
                name.name,
                self.found()
            );
            let span = self.tok().span;
            return Err(self.error_hint(
                span,
                msg,
                "constants need a type, e.g. `const N: i32 = 64;`",
            ));
        }
        self.bump();
        let (ty, ty_span) = self.parse_scalar_type()?;
        self.expect(Punct::Eq, "and a value after the constant's type")?;
        let value = self.parse_expr()?;
        if !self.is(Punct::Semi) {
            let msg = format!(
                "expected `;` after the constant's value, found {}",
                self.found()
            );
            let span = self.after_prev();
            return Err(self.error(span, msg));
        }
        self.bump();
        Ok(ConstItem {
            name,
            ty,
            ty_span,
            value,
            span: self.span_from(kw),
        })
    }
}
