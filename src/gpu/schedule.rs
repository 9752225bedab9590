//! The launch schedule (DESIGN section 4): a kernel as a host-driven
//! sequence of dispatches.
//!
//! Statements that contain no `prange` are grouped into *serial segments*,
//! each one dispatch of one lane. A `prange` is one *parallel* dispatch (plus
//! a *combine* dispatch when it has reductions). Control flow that contains a
//! `prange` (`for`, `while`, `if` around it) runs on the host: a *header*
//! dispatch evaluates its bounds or condition into frame scratch slots, which
//! the host reads back (or, when the host can evaluate them itself from
//! parameters, extents, constants and its own loop variables, the header is
//! skipped).

use crate::ir::eval::{self, Env};
use crate::ir::visit::{any_expr, stmt_any, walk_stmt_where};
use crate::ir::{self, ArrayId, Block, Expr, ExprKind, Function, Stmt, StmtKind, Value, VarId};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// One host step.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// A one-lane dispatch of a serial segment. `exits`: the segment may
    /// leave a `break`/`continue`/`return` in the control word.
    Serial { entry: usize, exits: bool },
    /// A parallel loop: its dispatch and, with reductions, the combine
    /// dispatch. `bounds` are the loop's `(lo, hi)` for sizing the grid when
    /// the host can evaluate them (the device reads its own copy).
    Parallel {
        /// Evaluates the bounds into scratch slots `2d`, `2d + 1` first
        /// (bounds with loads or calls); the entry then reads them there.
        header: Option<usize>,
        entry: usize,
        combine: Option<usize>,
        bounds: Vec<(Expr, Expr)>,
        span: ir::Span,
    },
    /// A counted loop around parallel loops: `header` writes start, count and
    /// stride into scratch slots 0..3; the host sets `var` each iteration.
    For {
        var: VarId,
        header: usize,
        start: Expr,
        count: Expr,
        stride: Expr,
        body: Vec<Step>,
    },
    /// `header` writes the condition into scratch slot 0 (once per test).
    While {
        header: usize,
        cond: Expr,
        body: Vec<Step>,
    },
    If {
        header: usize,
        cond: Expr,
        then: Vec<Step>,
        els: Vec<Step>,
    },
}

/// The device code units, indexed like the entries they become (a parallel
/// loop with reductions owns two consecutive entries).
#[derive(Clone, Debug)]
pub enum Unit<'k> {
    Serial(Vec<&'k Stmt>),
    /// Evaluates the expressions into scratch slots 0, 1, ….
    Header(Vec<&'k Expr>),
    /// `true`: the bounds are read from scratch slots (a header wrote them).
    Parallel(&'k ir::ParLoop, bool),
    /// The combine dispatch of the parallel unit just before it.
    Combine(&'k ir::ParLoop),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schedule {
    pub steps: Vec<Step>,
    /// Immutable `let`s outside parallel loops, by variable: the host may
    /// evaluate them when all they read is known to it.
    pub host_lets: BTreeMap<VarId, Expr>,
}

/// Splits `kernel` into host steps and device units.
pub fn build(kernel: &Function) -> (Schedule, Vec<Unit<'_>>) {
    let mut b = Builder {
        units: Vec::new(),
        lets: BTreeMap::new(),
        kernel,
    };
    let steps = b.block(&kernel.body);
    (
        Schedule {
            steps,
            host_lets: b.lets,
        },
        b.units,
    )
}

struct Builder<'k> {
    units: Vec<Unit<'k>>,
    lets: BTreeMap<VarId, Expr>,
    kernel: &'k Function,
}

impl<'k> Builder<'k> {
    fn unit(&mut self, u: Unit<'k>) -> usize {
        self.units.push(u);
        self.units.len() - 1
    }

    fn block(&mut self, block: &'k Block) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut pending: Vec<&'k Stmt> = Vec::new();
        for stmt in &block.stmts {
            self.note_let(stmt);
            if !contains_par(stmt) {
                pending.push(stmt);
                continue;
            }
            self.flush(&mut pending, &mut steps);
            match &stmt.kind {
                StmtKind::ParFor(lp) => {
                    // Bounds that read memory or call helpers are evaluated
                    // once, by a header, not by every lane (whose loads would
                    // race with the loop's own stores).
                    let header = (!lp.ranges.iter().all(|(a, b)| pure(a) && pure(b))).then(|| {
                        let exprs = lp.ranges.iter().flat_map(|(a, b)| [a, b]).collect();
                        self.unit(Unit::Header(exprs))
                    });
                    let entry = self.unit(Unit::Parallel(lp, header.is_some()));
                    let combine = (!lp.reductions.is_empty()).then(|| self.unit(Unit::Combine(lp)));
                    steps.push(Step::Parallel {
                        header,
                        entry,
                        combine,
                        bounds: lp.ranges.clone(),
                        span: stmt.span,
                    });
                }
                StmtKind::For(lp) => {
                    let header = self.unit(Unit::Header(vec![&lp.start, &lp.count, &lp.stride]));
                    let body = self.block(&lp.body);
                    steps.push(Step::For {
                        var: lp.var,
                        header,
                        start: lp.start.clone(),
                        count: lp.count.clone(),
                        stride: lp.stride.clone(),
                        body,
                    });
                }
                StmtKind::While { cond, body } => {
                    let header = self.unit(Unit::Header(vec![cond]));
                    let body = self.block(body);
                    steps.push(Step::While {
                        header,
                        cond: cond.clone(),
                        body,
                    });
                }
                StmtKind::If { cond, then, els } => {
                    let header = self.unit(Unit::Header(vec![cond]));
                    let then = self.block(then);
                    let els = self.block(els);
                    steps.push(Step::If {
                        header,
                        cond: cond.clone(),
                        then,
                        els,
                    });
                }
                // No other statement contains a statement.
                _ => pending.push(stmt),
            }
        }
        self.flush(&mut pending, &mut steps);
        steps
    }

    fn flush(&mut self, pending: &mut Vec<&'k Stmt>, steps: &mut Vec<Step>) {
        if pending.is_empty() {
            return;
        }
        let stmts = std::mem::take(pending);
        let exits = stmts.iter().any(|s| escapes(s, 0));
        let entry = self.unit(Unit::Serial(stmts));
        steps.push(Step::Serial { entry, exits });
    }

    /// Records immutable `let`s (outside parallel loops) for the host's
    /// evaluator, descending into serial control flow.
    fn note_let(&mut self, stmt: &'k Stmt) {
        let (kernel, lets) = (self.kernel, &mut self.lets);
        walk_stmt_where(stmt, &mut |s| {
            if let StmtKind::Let { var, init } = &s.kind {
                if kernel.vars.get(var.index()).is_some_and(|v| !v.mutable) {
                    lets.insert(*var, init.clone());
                }
            }
            !matches!(s.kind, StmtKind::ParFor(_))
        });
    }
}

/// Whether the statement is or contains a parallel loop.
pub fn contains_par(stmt: &Stmt) -> bool {
    stmt_any(stmt, &mut |s| matches!(s.kind, StmtKind::ParFor(_)))
}

/// Whether a `break`/`continue` at loop depth `depth` (loops opened inside
/// the segment) or a `return` leaves the segment.
fn escapes(stmt: &Stmt, depth: usize) -> bool {
    match &stmt.kind {
        StmtKind::Break | StmtKind::Continue => depth == 0,
        StmtKind::Return(_) => true,
        StmtKind::If { then, els, .. } => {
            then.stmts.iter().any(|s| escapes(s, depth))
                || els.stmts.iter().any(|s| escapes(s, depth))
        }
        StmtKind::While { body, .. } => body.stmts.iter().any(|s| escapes(s, depth + 1)),
        StmtKind::For(lp) => lp.body.stmts.iter().any(|s| escapes(s, depth + 1)),
        _ => false,
    }
}

impl Schedule {
    /// A stable text form (for tests and `kiln emit`): one step per line.
    pub fn print(&self, kernel: &Function) -> String {
        let mut out = String::new();
        print_steps(&self.steps, kernel, 0, &mut out);
        out
    }
}

fn var_name(kernel: &Function, v: VarId) -> String {
    let name = kernel.vars.get(v.index()).map_or("?", |v| v.name.as_str());
    format!("v{}:{name}", v.0)
}

fn print_steps(steps: &[Step], kernel: &Function, depth: usize, out: &mut String) {
    let pad = "    ".repeat(depth);
    for step in steps {
        match step {
            Step::Serial { entry, exits } => {
                let _ = writeln!(
                    out,
                    "{pad}serial e{entry}{}",
                    if *exits { " (exits)" } else { "" }
                );
            }
            Step::Parallel {
                header,
                entry,
                combine,
                bounds,
                ..
            } => {
                if let Some(h) = header {
                    let _ = writeln!(out, "{pad}bounds header e{h}");
                }
                let _ = write!(out, "{pad}parallel e{entry} dims {}", bounds.len());
                if let Some(c) = combine {
                    let _ = write!(out, " combine e{c}");
                }
                out.push('\n');
            }
            Step::For {
                var, header, body, ..
            } => {
                let _ = writeln!(
                    out,
                    "{pad}for {} header e{header} {{",
                    var_name(kernel, *var)
                );
                print_steps(body, kernel, depth + 1, out);
                let _ = writeln!(out, "{pad}}}");
            }
            Step::While { header, body, .. } => {
                let _ = writeln!(out, "{pad}while header e{header} {{");
                print_steps(body, kernel, depth + 1, out);
                let _ = writeln!(out, "{pad}}}");
            }
            Step::If {
                header, then, els, ..
            } => {
                let _ = writeln!(out, "{pad}if header e{header} {{");
                print_steps(then, kernel, depth + 1, out);
                if !els.is_empty() {
                    let _ = writeln!(out, "{pad}}} else {{");
                    print_steps(els, kernel, depth + 1, out);
                }
                let _ = writeln!(out, "{pad}}}");
            }
        }
    }
}

/// Whether the host can evaluate `e` without the device: constants,
/// scalar parameters, extents, its own loop variables and immutable lets of
/// such expressions; no loads, atomics or calls.
pub fn host_evaluable(
    e: &Expr,
    lets: &BTreeMap<VarId, Expr>,
    known: &dyn Fn(VarId) -> bool,
) -> bool {
    !any_expr(e, &mut |x| match &x.kind {
        ExprKind::Var(v) => {
            !(known(*v) || lets.get(v).is_some_and(|l| host_evaluable(l, lets, known)))
        }
        kind => !pure_node(kind),
    })
}

/// What the host knows while it runs a schedule: its values (scalar
/// parameters and its own loop variables), the schedule's `host_lets` of
/// them, and the array shapes.
pub struct HostEnv<'a> {
    pub known: &'a HashMap<VarId, Value>,
    pub lets: &'a BTreeMap<VarId, Expr>,
    pub shapes: &'a [Vec<usize>],
}

impl HostEnv<'_> {
    /// The value of `e` when it is [`host_evaluable`] and does not fault
    /// (a fault is left to the device, which reports it).
    pub fn eval(&self, e: &Expr) -> Option<Value> {
        if !host_evaluable(e, self.lets, &|v| self.known.contains_key(&v)) {
            return None;
        }
        eval::eval(e, self)
    }
}

impl Env for HostEnv<'_> {
    fn var(&self, v: VarId) -> Option<Value> {
        match self.known.get(&v) {
            Some(x) => Some(*x),
            None => eval::eval(self.lets.get(&v)?, self),
        }
    }

    fn shape(&self, a: ArrayId) -> Option<&[usize]> {
        self.shapes.get(a.index()).map(Vec::as_slice)
    }
}

/// Whether evaluating `e` reads no memory and calls no helper.
fn pure(e: &Expr) -> bool {
    !any_expr(e, &mut |x| !pure_node(&x.kind))
}

/// Whether the node itself (not its operands) reads no memory and calls no
/// helper.
fn pure_node(kind: &ExprKind) -> bool {
    !matches!(
        kind,
        ExprKind::Call(..) | ExprKind::Load(_) | ExprKind::Atomic { .. }
    )
}
