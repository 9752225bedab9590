//! Blocks, statements and `for` iterators.

use super::{PResult, Parser, Reported};
use crate::lang::ast::{
    BinOp, Block, Expr, ExprKind, ForIter, Ident, Place, RangeAdapter, RangeExpr, Stmt, StmtKind,
};
use crate::lang::lexer::{Keyword, Punct, Tok};

/// The compound-assignment operator a token spells, if any.
fn assign_op(t: &Tok) -> Option<Option<BinOp>> {
    let Tok::Punct(p) = t else { return None };
    Some(Some(match p {
        Punct::Eq => return Some(None),
        Punct::PlusEq => BinOp::Add,
        Punct::MinusEq => BinOp::Sub,
        Punct::StarEq => BinOp::Mul,
        Punct::SlashEq => BinOp::Div,
        Punct::PercentEq => BinOp::Rem,
        Punct::AmpEq => BinOp::BitAnd,
        Punct::PipeEq => BinOp::BitOr,
        Punct::CaretEq => BinOp::BitXor,
        Punct::ShlEq => BinOp::Shl,
        Punct::ShrEq => BinOp::Shr,
        _ => return None,
    }))
}

impl Parser<'_> {
    /// `{ stmt* }`. A missing `}` is reported and the block ends at the end
    /// of the file or at the next `kernel`/`fn` (so the following items are
    /// still parsed).
    pub(super) fn parse_block(&mut self) -> PResult<Block> {
        let open = self.expect(Punct::LBrace, "to start a block")?;
        self.nested(|p| {
            let mut stmts = Vec::new();
            loop {
                if let Some(close) = p.eat(Punct::RBrace) {
                    return Ok(Block {
                        stmts,
                        span: open.to(close),
                    });
                }
                if p.at_eof() || p.is_kw(Keyword::Kernel) || p.is_kw(Keyword::Fn) {
                    let msg = format!(
                        "expected `}}` to close the block opened at line {}, column {}, found {}",
                        open.line,
                        open.col,
                        p.found()
                    );
                    let span = p.tok().span;
                    // Enclosing blocks end at the same token: say it once.
                    if p.errors.last().map(|d| d.span) != Some(span) {
                        p.error(span, msg);
                    }
                    return Ok(Block {
                        stmts,
                        span: p.span_from(open),
                    });
                }
                if p.eat(Punct::Semi).is_some() {
                    continue; // an empty statement, as in Rust
                }
                let start = p.pos;
                match p.parse_stmt() {
                    Ok(s) => stmts.push(s),
                    Err(Reported) => p.recover_stmt(start),
                }
                if p.pos == start && !p.is(Punct::RBrace) {
                    p.bump();
                }
            }
        })
    }

    /// Skips the rest of a broken statement that began at token `start`:
    /// through the next `;` at its level, through the `}` closing a block the
    /// statement opened (and an `else` after it), or up to the `}` closing
    /// the enclosing block. Braces the statement already opened before the
    /// error count, so `if c { 1 + } else { 2 }` is skipped whole.
    fn recover_stmt(&mut self, start: usize) {
        let mut depth = 0u32;
        for t in self.toks.get(start..self.pos).unwrap_or(&[]) {
            match t.tok {
                Tok::Punct(Punct::LBrace) => depth += 1,
                Tok::Punct(Punct::RBrace) => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        loop {
            match self.tok().tok {
                Tok::Eof | Tok::Keyword(Keyword::Kernel | Keyword::Fn) => return,
                Tok::Punct(Punct::LBrace) => depth += 1,
                Tok::Punct(Punct::RBrace) => {
                    if depth == 0 {
                        return;
                    }
                    depth -= 1;
                    if depth == 0 {
                        self.bump();
                        if !self.is_kw(Keyword::Else) {
                            return;
                        }
                        continue;
                    }
                }
                Tok::Punct(Punct::Semi) if depth == 0 => {
                    self.bump();
                    return;
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// `;` ending a statement. When it is missing but the statement plainly
    /// ended (the next token is on a new line, closes the block or starts a
    /// statement), the error is reported without skipping anything.
    fn expect_semi(&mut self) -> PResult<()> {
        if self.eat(Punct::Semi).is_some() {
            return Ok(());
        }
        let msg = format!("expected `;` after the statement, found {}", self.found());
        let span = self.after_prev();
        self.error(span, msg);
        let new_line = self
            .prev()
            .is_some_and(|t| t.span.line < self.tok().span.line);
        let starts_stmt = matches!(
            self.tok().tok,
            Tok::Punct(Punct::RBrace)
                | Tok::Keyword(
                    Keyword::Let
                        | Keyword::If
                        | Keyword::While
                        | Keyword::For
                        | Keyword::Return
                        | Keyword::Break
                        | Keyword::Continue
                )
        );
        if new_line || starts_stmt {
            Ok(())
        } else {
            Err(Reported)
        }
    }

    fn parse_stmt(&mut self) -> PResult<Stmt> {
        let start = self.tok().span;
        let kind = match self.tok().tok {
            Tok::Keyword(Keyword::Let) => self.parse_let()?,
            Tok::Keyword(Keyword::If) => return self.parse_if_stmt(),
            Tok::Keyword(Keyword::While) => {
                self.bump();
                let cond = self.parse_cond("while")?;
                let body = self.parse_block()?;
                StmtKind::While { cond, body }
            }
            Tok::Keyword(Keyword::For) => self.parse_for()?,
            Tok::Keyword(Keyword::Break) => {
                self.bump();
                self.expect_semi()?;
                StmtKind::Break
            }
            Tok::Keyword(Keyword::Continue) => {
                self.bump();
                self.expect_semi()?;
                StmtKind::Continue
            }
            Tok::Keyword(Keyword::Return) => {
                self.bump();
                let value = if self.is(Punct::Semi) || self.is(Punct::RBrace) {
                    None
                } else {
                    Some(self.parse_expr()?)
                };
                self.expect_semi()?;
                StmtKind::Return(value)
            }
            Tok::Keyword(Keyword::Const) => {
                return Err(self.error_hint(
                    start,
                    "`const` items must be declared at the top level of the file",
                    "move it out of the function, or use `let`",
                ))
            }
            Tok::Keyword(Keyword::Else) => {
                return Err(self.error(start, "`else` without a matching `if`"));
            }
            _ => self.parse_expr_or_assign()?,
        };
        Ok(Stmt {
            kind,
            span: self.span_from(start),
        })
    }

    /// `let [mut] x [: T] = e;`
    fn parse_let(&mut self) -> PResult<StmtKind> {
        self.bump();
        let mutable = self.eat_kw(Keyword::Mut).is_some();
        let name = self.expect_ident("a variable name after `let`")?;
        let ty = if self.eat(Punct::Colon).is_some() {
            Some(self.parse_scalar_type()?)
        } else {
            None
        };
        if !self.is(Punct::Eq) {
            let msg = format!(
                "expected `=` after `let {}`, found {}",
                name.name,
                self.found()
            );
            let span = self.tok().span;
            if !self.is(Punct::Semi) {
                return Err(self.error(span, msg));
            }
            return Err(self.error_hint(
                span,
                msg,
                "every `let` needs an initial value, e.g. `let x = 0.0;`",
            ));
        }
        self.bump();
        let init = self.parse_expr()?;
        self.expect_semi()?;
        Ok(StmtKind::Let {
            mutable,
            name,
            ty,
            init,
        })
    }

    /// `e;`, `place = e;` or `place op= e;`.
    fn parse_expr_or_assign(&mut self) -> PResult<StmtKind> {
        let target = self.parse_expr()?;
        let Some(op) = assign_op(&self.tok().tok) else {
            if self.is(Punct::RBrace) {
                // Likely a Rust-style tail expression, which this language
                // does not have; the statement itself is fine.
                let span = self.after_prev();
                self.error_hint(
                    span,
                    "expected `;` after the statement, found `}`",
                    "a block's last expression is not its value here: write `return …;`",
                );
                return Ok(StmtKind::Expr(target));
            }
            self.expect_semi()?;
            return Ok(StmtKind::Expr(target));
        };
        let target = self.place_of(target)?;
        self.bump();
        let value = self.parse_expr()?;
        self.expect_semi()?;
        Ok(StmtKind::Assign { target, op, value })
    }

    /// The left side of an assignment: a name or `name[i, …]`.
    fn place_of(&mut self, e: Expr) -> PResult<Place> {
        match e.kind {
            ExprKind::Name(id) => Ok(Place::Var(id)),
            ExprKind::Index { base, index } => match base.kind {
                ExprKind::Name(array) => Ok(Place::Index {
                    array,
                    index,
                    span: e.span,
                }),
                ExprKind::Index { .. } => Err(self.error_hint(
                    e.span,
                    "cannot assign to this expression",
                    "index a multi-dimensional array with one pair of brackets: `a[i, j]`",
                )),
                _ => Err(self.error_hint(
                    e.span,
                    "cannot assign to this expression",
                    "only variables and array elements `a[i]` can be assigned",
                )),
            },
            _ => Err(self.error_hint(
                e.span,
                "cannot assign to this expression",
                "only variables and array elements `a[i]` can be assigned",
            )),
        }
    }

    /// A condition of `if`/`while`, which must be followed by `{`.
    pub(super) fn parse_cond(&mut self, keyword: &str) -> PResult<Expr> {
        if self.is(Punct::LBrace) {
            return Err(self.expected(&format!("a condition after `{keyword}`")));
        }
        let cond = self.parse_expr()?;
        if self.is(Punct::LBrace) {
            return Ok(cond);
        }
        let msg = format!(
            "expected `{{` after the `{keyword}` condition, found {}",
            self.found()
        );
        let span = self.tok().span;
        Err(if self.is(Punct::Eq) {
            self.error_hint(span, msg, "use `==` to compare values")
        } else {
            self.error(span, msg)
        })
    }

    /// `if c { … } [else if … | else { … }]`; an `else if` becomes an `else`
    /// block holding one `If` statement.
    fn parse_if_stmt(&mut self) -> PResult<Stmt> {
        self.nested(|p| {
            let start = p.bump().span;
            let cond = p.parse_cond("if")?;
            let then = p.parse_block()?;
            let els = if p.eat_kw(Keyword::Else).is_some() {
                if p.is_kw(Keyword::If) {
                    let inner = p.parse_if_stmt()?;
                    Some(Block {
                        span: inner.span,
                        stmts: vec![inner],
                    })
                } else if p.is(Punct::LBrace) {
                    Some(p.parse_block()?)
                } else {
                    return Err(p.expected("`{` or `if` after `else`"));
                }
            } else {
                None
            };
            Ok(Stmt {
                kind: StmtKind::If { cond, then, els },
                span: p.span_from(start),
            })
        })
    }

    /// `for PATTERN in ITER { … }`
    fn parse_for(&mut self) -> PResult<StmtKind> {
        self.bump();
        let vars = self.parse_for_pattern()?;
        if self.eat_kw(Keyword::In).is_none() {
            return Err(self.expected("`in` after the loop variable"));
        }
        let iter = if self.is_kw(Keyword::Prange) {
            self.parse_prange()?
        } else {
            self.parse_range_iter()?
        };
        if !self.is(Punct::LBrace) {
            return Err(self.expected("`{` after the loop range"));
        }
        let body = self.parse_block()?;
        Ok(StmtKind::For { vars, iter, body })
    }

    /// `i` or `(i, j, …)`.
    fn parse_for_pattern(&mut self) -> PResult<Vec<Ident>> {
        if self.eat(Punct::LParen).is_none() {
            return Ok(vec![self.expect_ident("a loop variable after `for`")?]);
        }
        let mut vars = Vec::new();
        loop {
            vars.push(self.expect_ident("a loop variable")?);
            if self.eat(Punct::Comma).is_some() && !self.is(Punct::RParen) {
                continue;
            }
            self.expect(Punct::RParen, "after the loop variables")?;
            return Ok(vars);
        }
    }

    /// `prange(a..b, c..d, …)`
    fn parse_prange(&mut self) -> PResult<ForIter> {
        let start = self.bump().span;
        self.expect(Punct::LParen, "after `prange`")?;
        if self.is(Punct::RParen) {
            let span = self.tok().span;
            return Err(self.error_hint(
                span,
                "`prange` needs at least one range",
                "write `prange(0..n)`, or `prange(0..n, 0..m)` for two dimensions",
            ));
        }
        let mut ranges = Vec::new();
        loop {
            if self.is(Punct::RParen) && !ranges.is_empty() {
                break;
            }
            ranges.push(self.parse_range()?);
            if self.eat(Punct::Comma).is_none() {
                break;
            }
        }
        self.expect(Punct::RParen, "after the ranges of `prange`")?;
        Ok(ForIter::Prange {
            ranges,
            span: self.span_from(start),
        })
    }

    /// `a..b` or `a..=b`.
    fn parse_range(&mut self) -> PResult<RangeExpr> {
        let start = self.parse_range_bound()?;
        self.finish_range(start)
    }

    fn parse_range_bound(&mut self) -> PResult<Expr> {
        Ok(self.parse_bin(1, None)?.e)
    }

    /// The `..`/`..=` and end of a range whose start is parsed.
    fn finish_range(&mut self, start: Expr) -> PResult<RangeExpr> {
        let inclusive = match self.tok().tok {
            Tok::Punct(Punct::DotDot) => false,
            Tok::Punct(Punct::DotDotEq) => true,
            _ => {
                let msg = format!(
                    "expected a range `a..b` or `a..=b`, found {} after the start",
                    self.found()
                );
                let span = self.tok().span;
                return Err(self.error(span, msg));
            }
        };
        self.bump();
        let end = self.parse_range_bound()?;
        let span = start.span.to(end.span);
        Ok(RangeExpr {
            start,
            end,
            inclusive,
            span,
        })
    }

    /// A serial loop's iterator: `a..b`, `a..=b`, or `(a..b)` followed by
    /// `.step_by(k)` / `.rev()` adapters. A leading `(` may also just
    /// parenthesize the start: `(j + 1)..n`.
    fn parse_range_iter(&mut self) -> PResult<ForIter> {
        if !self.is(Punct::LParen) {
            return Ok(ForIter::Range {
                range: self.parse_range()?,
                adapters: Vec::new(),
            });
        }
        let open = self.bump().span;
        let first = self.nested(|p| p.parse_bin(1, None))?;
        if !matches!(self.tok().tok, Tok::Punct(Punct::DotDot | Punct::DotDotEq)) {
            // `(expr)` is the start of the range: continue the expression.
            let close = self.expect(Punct::RParen, "to close the parenthesis")?;
            let paren = self.make(
                ExprKind::Paren(Box::new(first.e)),
                open.to(close),
                first.h + 1,
            )?;
            let start = self.parse_bin(1, Some(paren))?.e;
            return Ok(ForIter::Range {
                range: self.finish_range(start)?,
                adapters: Vec::new(),
            });
        }
        let range = self.finish_range(first.e)?;
        self.expect(Punct::RParen, "to close the parenthesized range")?;
        let mut adapters = Vec::new();
        while self.eat(Punct::Dot).is_some() {
            adapters.push(self.parse_adapter()?);
        }
        Ok(ForIter::Range { range, adapters })
    }

    /// `step_by(k)` or `rev()` after a parenthesized range.
    fn parse_adapter(&mut self) -> PResult<RangeAdapter> {
        let name = self.expect_ident("`step_by` or `rev` after the range")?;
        match name.name.as_str() {
            "step_by" => {
                self.expect(Punct::LParen, "after `step_by`")?;
                let step = self.parse_expr()?;
                self.expect(Punct::RParen, "after the step")?;
                Ok(RangeAdapter::StepBy(step, self.span_from(name.span)))
            }
            "rev" => {
                self.expect(Punct::LParen, "after `rev`")?;
                self.expect(Punct::RParen, "after `rev(`")?;
                Ok(RangeAdapter::Rev(self.span_from(name.span)))
            }
            other => Err(self.error_hint(
                name.span,
                format!("unknown range adapter `{other}`"),
                "a loop range supports `.step_by(k)` and `.rev()`",
            )),
        }
    }
}
