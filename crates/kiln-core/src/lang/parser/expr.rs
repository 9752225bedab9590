//! Expressions: precedence climbing over Rust's binary precedence levels,
//! then `as`, unary operators, postfix index/method calls and primaries.

use super::{PResult, Parser, MAX_NESTING};
use crate::lang::ast::{BinOp, Expr, ExprKind, Ident, Span, UnOp};
use crate::lang::lexer::{Keyword, Punct, Tok};

/// An expression with the height of its tree, kept so that no tree grows
/// taller than `MAX_NESTING` (later passes walk it recursively).
pub(super) struct Node {
    pub e: Expr,
    pub h: u32,
}

/// `as` binds tighter than every binary operator.
const AS_PREC: u8 = 10;

/// Binary operators and their precedence, loosest = 1.
fn binop(t: &Tok) -> Option<(BinOp, u8)> {
    let Tok::Punct(p) = t else { return None };
    Some(match p {
        Punct::OrOr => (BinOp::Or, 1),
        Punct::AndAnd => (BinOp::And, 2),
        Punct::EqEq => (BinOp::Eq, 3),
        Punct::Ne => (BinOp::Ne, 3),
        Punct::Lt => (BinOp::Lt, 3),
        Punct::Le => (BinOp::Le, 3),
        Punct::Gt => (BinOp::Gt, 3),
        Punct::Ge => (BinOp::Ge, 3),
        Punct::Pipe => (BinOp::BitOr, 4),
        Punct::Caret => (BinOp::BitXor, 5),
        Punct::Amp => (BinOp::BitAnd, 6),
        Punct::Shl => (BinOp::Shl, 7),
        Punct::Shr => (BinOp::Shr, 7),
        Punct::Plus => (BinOp::Add, 8),
        Punct::Minus => (BinOp::Sub, 8),
        Punct::Star => (BinOp::Mul, 9),
        Punct::Slash => (BinOp::Div, 9),
        Punct::Percent => (BinOp::Rem, 9),
        _ => return None,
    })
}

impl Parser<'_> {
    /// A full expression; a range `a..b` here is an error (ranges only
    /// appear in `for` and `prange`, which parse them themselves).
    pub(super) fn parse_expr(&mut self) -> PResult<Expr> {
        Ok(self.parse_expr_node()?.e)
    }

    fn parse_expr_node(&mut self) -> PResult<Node> {
        let e = self.parse_bin(1, None)?;
        if matches!(self.tok().tok, Tok::Punct(Punct::DotDot | Punct::DotDotEq)) {
            let span = self.tok().span;
            return Err(self.error_hint(
                span,
                "a range is not allowed here",
                "ranges `a..b` may only appear in `for` loops and `prange(…)`",
            ));
        }
        Ok(e)
    }

    /// Builds a node of height `h`, refusing trees taller than the limit.
    pub(super) fn make(&mut self, kind: ExprKind, span: Span, h: u32) -> PResult<Node> {
        if h.saturating_add(self.depth) > MAX_NESTING {
            return Err(self.error_hint(
                span,
                format!("the expression is nested too deeply (the limit is {MAX_NESTING} levels)"),
                "split it into several `let` statements",
            ));
        }
        Ok(Node {
            e: Expr { kind, span },
            h,
        })
    }

    /// Binary operators of precedence `min_prec` or tighter, and `as`.
    /// `first`, when given, is an already parsed primary to start from.
    pub(super) fn parse_bin(&mut self, min_prec: u8, first: Option<Node>) -> PResult<Node> {
        let mut lhs = match first {
            Some(p) => self.parse_postfix(p)?,
            None => self.parse_unary()?,
        };
        let mut lhs_is_comparison = false;
        loop {
            if self.is_kw(Keyword::As) && AS_PREC >= min_prec {
                self.bump();
                let (ty, ty_span) = self.parse_scalar_type()?;
                let span = lhs.e.span.to(ty_span);
                lhs = self.make(ExprKind::Cast(Box::new(lhs.e), ty), span, lhs.h + 1)?;
                lhs_is_comparison = false;
                continue;
            }
            let Some((op, prec)) = binop(&self.tok().tok) else {
                break;
            };
            if prec < min_prec {
                break;
            }
            let op_span = self.bump().span;
            if op.is_comparison() && lhs_is_comparison {
                return Err(self.error_hint(
                    op_span,
                    "comparison operators cannot be chained",
                    "combine the comparisons with `&&`, e.g. `a < b && b < c`",
                ));
            }
            let rhs = self.parse_bin(prec + 1, None)?;
            let span = lhs.e.span.to(rhs.e.span);
            let h = lhs.h.max(rhs.h) + 1;
            lhs = self.make(
                ExprKind::Binary(op, Box::new(lhs.e), Box::new(rhs.e)),
                span,
                h,
            )?;
            lhs_is_comparison = op.is_comparison();
        }
        Ok(lhs)
    }

    /// `-e`, `!e`, or a postfix expression.
    fn parse_unary(&mut self) -> PResult<Node> {
        self.nested(|p| {
            let op = match p.tok().tok {
                Tok::Punct(Punct::Minus) => UnOp::Neg,
                Tok::Punct(Punct::Bang) => UnOp::Not,
                _ => {
                    let primary = p.parse_primary()?;
                    return p.parse_postfix(primary);
                }
            };
            let start = p.bump().span;
            let inner = p.parse_unary()?;
            let span = start.to(inner.e.span);
            p.make(ExprKind::Unary(op, Box::new(inner.e)), span, inner.h + 1)
        })
    }

    /// Index `e[i, j]` and method calls `e.f(args)`, left to right.
    fn parse_postfix(&mut self, mut e: Node) -> PResult<Node> {
        loop {
            if self.eat(Punct::LBracket).is_some() {
                if self.is(Punct::RBracket) {
                    return Err(self.expected("an index"));
                }
                let (index, h, close) = self.parse_list(Punct::RBracket, "the index")?;
                let span = e.e.span.to(close);
                let h = e.h.max(h) + 1;
                e = self.make(
                    ExprKind::Index {
                        base: Box::new(e.e),
                        index,
                    },
                    span,
                    h,
                )?;
            } else if self.eat(Punct::Dot).is_some() {
                let method = match self.tok().tok {
                    Tok::Int { .. } => {
                        let span = self.tok().span;
                        return Err(self.error(span, "tuple fields do not exist in this language"));
                    }
                    _ => self.expect_ident("a method name after `.`")?,
                };
                if !self.is(Punct::LParen) {
                    let msg = format!(
                        "expected `(` after the method name `{}`, found {}",
                        method.name,
                        self.found()
                    );
                    let span = self.tok().span;
                    return Err(self.error_hint(
                        span,
                        msg,
                        "there are no fields; methods are called with parentheses, e.g. `x.len()`",
                    ));
                }
                self.bump();
                let (args, h, close) = self.parse_list(Punct::RParen, "the arguments")?;
                let span = e.e.span.to(close);
                let h = e.h.max(h) + 1;
                e = self.make(
                    ExprKind::MethodCall {
                        receiver: Box::new(e.e),
                        method,
                        args,
                    },
                    span,
                    h,
                )?;
            } else {
                return Ok(e);
            }
        }
    }

    /// Comma-separated expressions (trailing comma allowed) after an opening
    /// delimiter, through `close`. Returns them, their greatest height and
    /// the closing token's span.
    fn parse_list(&mut self, close: Punct, what: &str) -> PResult<(Vec<Expr>, u32, Span)> {
        let mut items = Vec::new();
        let mut h = 0;
        loop {
            if let Some(end) = self.eat(close) {
                return Ok((items, h, end));
            }
            let item = self.parse_expr_node()?;
            h = h.max(item.h);
            items.push(item.e);
            if self.eat(Punct::Comma).is_none() && !self.is(close) {
                return Err(self.expected(&format!("`,` or `{}` in {what}", close.text())));
            }
        }
    }

    fn parse_primary(&mut self) -> PResult<Node> {
        let t = self.tok().clone();
        let kind = match t.tok {
            Tok::Int { value, suffix } => ExprKind::Int { value, suffix },
            Tok::Float { text, suffix } => ExprKind::Float { text, suffix },
            Tok::Keyword(Keyword::True) => ExprKind::Bool(true),
            Tok::Keyword(Keyword::False) => ExprKind::Bool(false),
            Tok::Ident(name) => {
                self.bump();
                let name = Ident { name, span: t.span };
                if self.eat(Punct::LParen).is_none() {
                    return self.make(ExprKind::Name(name), t.span, 1);
                }
                let (args, h, close) = self.parse_list(Punct::RParen, "the arguments")?;
                return self.make(ExprKind::Call { name, args }, t.span.to(close), h + 1);
            }
            Tok::Punct(Punct::LParen) => {
                self.bump();
                let inner = self.parse_expr_node()?;
                if self.is(Punct::Comma) {
                    let span = self.tok().span;
                    return Err(
                        self.error(span, "tuples are not supported: expected `)`, found `,`")
                    );
                }
                let close = self.expect(Punct::RParen, "to close the parenthesis")?;
                return self.make(
                    ExprKind::Paren(Box::new(inner.e)),
                    t.span.to(close),
                    inner.h + 1,
                );
            }
            Tok::Keyword(Keyword::If) => return self.parse_if_expr(),
            Tok::Keyword(Keyword::Prange) => {
                return Err(self.error_hint(
                    t.span,
                    "`prange` is only allowed as the range of a `for` loop",
                    "write `for i in prange(0..n) { … }`",
                ))
            }
            _ => return Err(self.expected("an expression")),
        };
        self.bump();
        self.make(kind, t.span, 1)
    }

    /// `if c { a } else { b }` with `else if` chains; `else` is required.
    fn parse_if_expr(&mut self) -> PResult<Node> {
        self.nested(|p| {
            let start = p.bump().span;
            let cond = p.parse_cond("if")?;
            let then = p.parse_branch()?;
            if p.eat_kw(Keyword::Else).is_none() {
                let msg = format!(
                    "expected `else` after the `if` expression's first branch, found {}",
                    p.found()
                );
                let span = p.tok().span;
                return Err(p.error_hint(
                    span,
                    msg,
                    "an `if` used as a value needs an `else` branch",
                ));
            }
            let els = if p.is_kw(Keyword::If) {
                p.parse_if_expr()?
            } else {
                p.parse_branch()?
            };
            let span = start.to(els.e.span);
            let h = then.h.max(els.h) + 1;
            p.make(
                ExprKind::If {
                    cond: Box::new(cond),
                    then: Box::new(then.e),
                    els: Box::new(els.e),
                },
                span,
                h,
            )
        })
    }

    /// `{ e }`: one branch of an `if` expression.
    fn parse_branch(&mut self) -> PResult<Node> {
        self.expect(Punct::LBrace, "to start the branch")?;
        let e = self.parse_expr_node()?;
        if self.eat(Punct::RBrace).is_some() {
            return Ok(e);
        }
        let msg = format!(
            "expected `}}` after the branch's value, found {}",
            self.found()
        );
        let span = self.tok().span;
        Err(self.error_hint(
            span,
            msg,
            "each branch of an `if` used as a value holds a single expression",
        ))
    }
}
