//! The IR pretty-printer behind `kiln emit --target ir` and the checker's
//! golden tests. The text is stable (no addresses, no hash-map order):
//!
//! ```text
//! kernel saxpy(v0:a: f32, x: f32[:], y: mut f32[:]) {
//!     parfor (v1:i) in (0i64..len(y)) {
//!         y[v1:i!] = (v0:a * x[v1:i!]) + y[v1:i!]
//!     }
//! }
//! ```
//!
//! - variables print as `v<id>:<name>` (checker temporaries have `$` names);
//!   arrays by name (array parameters have unique names);
//! - constants carry their type suffix (`1.5f32`, `0i64`, `true`);
//! - an index followed by `!` is proven in bounds (`needs_check` false);
//!   indices without it are bounds-checked;
//! - binary operators are parenthesised except at the top of a statement;
//! - `let` shows the variable's type; a `parfor` lists its reductions.

use super::{
    Access, Block, Expr, ExprKind, ForLoop, Function, FunctionKind, Module, ParLoop, Param,
    StmtKind, UnOp, Value,
};
use std::fmt::Write;

pub fn print_module(m: &Module) -> String {
    let mut out = String::new();
    for (k, f) in m.functions.iter().enumerate() {
        if k > 0 {
            out.push('\n');
        }
        out.push_str(&print_function(m, f));
    }
    out
}

pub fn print_function(m: &Module, f: &Function) -> String {
    let p = Printer { m, f };
    let mut out = String::new();
    let kw = match f.kind {
        FunctionKind::Kernel => "kernel",
        FunctionKind::Helper => "fn",
    };
    let params: Vec<String> = f
        .params
        .iter()
        .map(|param| match *param {
            Param::Scalar(v) => format!("{}: {}", p.var(v), p.var_ty(v)),
            Param::Array(a) => match f.arrays.get(a.index()) {
                Some(ap) => {
                    let dims = vec![":"; ap.rank as usize].join(", ");
                    format!(
                        "{}: {}{}[{dims}]",
                        ap.name,
                        if ap.mutable { "mut " } else { "" },
                        ap.elem
                    )
                }
                None => format!("?a{}", a.0),
            },
        })
        .collect();
    let _ = write!(out, "{kw} {}({})", f.name, params.join(", "));
    if let Some(t) = f.ret {
        let _ = write!(out, " -> {t}");
    }
    out.push_str(" {\n");
    p.block(&f.body, 1, &mut out);
    out.push_str("}\n");
    out
}

struct Printer<'a> {
    m: &'a Module,
    f: &'a Function,
}

impl Printer<'_> {
    fn var(&self, v: super::VarId) -> String {
        match self.f.vars.get(v.index()) {
            Some(var) => format!("v{}:{}", v.0, var.name),
            None => format!("v{}:?", v.0),
        }
    }

    fn var_ty(&self, v: super::VarId) -> String {
        self.f
            .vars
            .get(v.index())
            .map(|var| var.ty.name().to_string())
            .unwrap_or_else(|| "?".into())
    }

    fn array(&self, a: super::ArrayId) -> String {
        self.f
            .arrays
            .get(a.index())
            .map(|p| p.name.clone())
            .unwrap_or_else(|| format!("?a{}", a.0))
    }

    fn block(&self, b: &Block, depth: usize, out: &mut String) {
        for s in &b.stmts {
            self.stmt(&s.kind, depth, out);
        }
    }

    fn line(&self, depth: usize, text: &str, out: &mut String) {
        for _ in 0..depth {
            out.push_str("    ");
        }
        out.push_str(text);
        out.push('\n');
    }

    fn nested(&self, depth: usize, head: String, body: &Block, out: &mut String) {
        self.line(depth, &format!("{head} {{"), out);
        self.block(body, depth + 1, out);
    }

    fn stmt(&self, s: &StmtKind, depth: usize, out: &mut String) {
        match s {
            StmtKind::Let { var, init } => {
                let text = format!(
                    "let {}: {} = {}",
                    self.var(*var),
                    self.var_ty(*var),
                    self.top(init)
                );
                self.line(depth, &text, out);
            }
            StmtKind::Assign { var, value } => self.line(
                depth,
                &format!("{} = {}", self.var(*var), self.top(value)),
                out,
            ),
            StmtKind::Store { access, value } => self.line(
                depth,
                &format!("{} = {}", self.access(access), self.top(value)),
                out,
            ),
            StmtKind::Eval(e) => self.line(depth, &format!("eval {}", self.top(e)), out),
            StmtKind::If { cond, then, els } => {
                self.nested(depth, format!("if {}", self.top(cond)), then, out);
                if !els.stmts.is_empty() {
                    self.nested(depth, "} else".to_string(), els, out);
                }
                self.line(depth, "}", out);
            }
            StmtKind::While { cond, body } => {
                self.nested(depth, format!("while {}", self.top(cond)), body, out);
                self.line(depth, "}", out);
            }
            StmtKind::For(ForLoop {
                var,
                start,
                count,
                stride,
                body,
            }) => {
                let head = format!(
                    "for {} start {} count {} stride {}",
                    self.var(*var),
                    self.expr(start),
                    self.expr(count),
                    self.expr(stride)
                );
                self.nested(depth, head, body, out);
                self.line(depth, "}", out);
            }
            StmtKind::ParFor(ParLoop {
                vars,
                ranges,
                reductions,
                body,
            }) => {
                let vars: Vec<String> = vars.iter().map(|v| self.var(*v)).collect();
                let ranges: Vec<String> = ranges
                    .iter()
                    .map(|(lo, hi)| format!("{}..{}", self.expr(lo), self.expr(hi)))
                    .collect();
                let mut head = format!("parfor ({}) in ({})", vars.join(", "), ranges.join(", "));
                if !reductions.is_empty() {
                    let r: Vec<String> = reductions
                        .iter()
                        .map(|r| format!("{} {}", r.op.name(), self.var(r.var)))
                        .collect();
                    let _ = write!(head, " reduce({})", r.join(", "));
                }
                self.nested(depth, head, body, out);
                self.line(depth, "}", out);
            }
            StmtKind::Break => self.line(depth, "break", out),
            StmtKind::Continue => self.line(depth, "continue", out),
            StmtKind::Return(None) => self.line(depth, "return", out),
            StmtKind::Return(Some(e)) => self.line(depth, &format!("return {}", self.top(e)), out),
            StmtKind::CheckStep(e) => self.line(depth, &format!("check_step {}", self.top(e)), out),
        }
    }

    fn access(&self, a: &Access) -> String {
        let idx: Vec<String> = a
            .index
            .iter()
            .enumerate()
            .map(|(d, e)| {
                let proven = a.needs_check.get(d) == Some(&false);
                format!("{}{}", self.top(e), if proven { "!" } else { "" })
            })
            .collect();
        format!("{}[{}]", self.array(a.array), idx.join(", "))
    }

    /// An expression at the top of a statement (no outer parentheses).
    fn top(&self, e: &Expr) -> String {
        match &e.kind {
            ExprKind::Binary(op, a, b) => {
                format!("{} {} {}", self.expr(a), op.symbol(), self.expr(b))
            }
            _ => self.expr(e),
        }
    }

    fn expr(&self, e: &Expr) -> String {
        let list = |args: &[Expr]| {
            args.iter()
                .map(|a| self.top(a))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &e.kind {
            ExprKind::Const(v) => constant(*v),
            ExprKind::Var(v) => self.var(*v),
            ExprKind::Unary(UnOp::Neg, a) => format!("-{}", self.expr(a)),
            ExprKind::Unary(UnOp::Not, a) => format!("!{}", self.expr(a)),
            ExprKind::Binary(op, a, b) => {
                format!("({} {} {})", self.expr(a), op.symbol(), self.expr(b))
            }
            ExprKind::Cast(a) => format!("({} as {})", self.expr(a), e.ty),
            ExprKind::Builtin(b, args) => format!("{}({})", b.name(), list(args)),
            ExprKind::Call(fid, args) => {
                let name = self
                    .m
                    .functions
                    .get(fid.index())
                    .map(|f| f.name.as_str())
                    .unwrap_or("?");
                format!("{name}({})", list(args))
            }
            ExprKind::If(c, a, b) => {
                format!(
                    "(if {} then {} else {})",
                    self.top(c),
                    self.top(a),
                    self.top(b)
                )
            }
            ExprKind::Load(a) => self.access(a),
            ExprKind::Len(a) => format!("len({})", self.array(*a)),
            ExprKind::Shape(a, d) => format!("shape({}, {d})", self.array(*a)),
            ExprKind::Atomic { op, access, value } => {
                format!(
                    "{}({}, {})",
                    op.name(),
                    self.access(access),
                    self.top(value)
                )
            }
        }
    }
}

/// A constant with its type suffix (`true`/`false` for bool).
fn constant(v: Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        _ => format!("{v}{}", v.ty()),
    }
}
