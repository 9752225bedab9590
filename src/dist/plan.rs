//! What each `prange` of a kernel does with each array, read off the IR
//! before a distributed launch: owner writes (the first index is the loop's
//! first variable), reads at constant offsets of it along the first axis
//! (halos), reads the analysis cannot bound (the array is gathered), and
//! `atomic_*` scatter updates (combined across ranks). A write that is not
//! an owner write is refused here, before anything runs, with the array and
//! the line.

use crate::error::{Error, Result};
use crate::ir::visit::{stmt_exprs, walk_expr, walk_stmts, walk_stmts_where};
use crate::ir::{
    self, ArrayId, AtomicOp, BinOp, Expr, ExprKind, ParLoop, ReduceOp, Span, StmtKind, Value, VarId,
};
use std::collections::{HashMap, HashSet};

/// Scatter `atomic_*` updates into arrays above this many bytes make the
/// loop run redundantly on every rank (combining needs every rank's copy).
pub(crate) const COMBINE_MAX_BYTES: usize = 8 << 20;

/// How the updates of one array by non-owner `atomic_*`s combine across ranks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Combine {
    /// Only `atomic_add`s whose result is unused: ranks other than 0 start
    /// from zero, the copies are summed in rank order.
    Add,
    /// Only `atomic_min` / `atomic_max`: every rank starts from the same
    /// values; the copies are combined with the operator.
    MinMax(ReduceOp),
}

/// One `prange`'s use of the arrays.
#[derive(Clone, Debug, Default)]
pub(crate) struct LoopPlan {
    /// Arrays written at constant offsets of the first loop variable along
    /// their first axis (owner writes have offset 0; rows written away from
    /// their owner go to it after the loop): the smallest and largest offset.
    pub writes: Vec<(ArrayId, i64, i64)>,
    /// Arrays read at constant offsets of the first loop variable along
    /// their first axis: the smallest and largest offset.
    pub halos: Vec<(ArrayId, i64, i64)>,
    /// Arrays read at rows the analysis cannot bound: gathered first.
    pub gathers: Vec<ArrayId>,
    /// Arrays updated by `atomic_*` at rows other than the loop's own.
    pub combines: Vec<(ArrayId, Combine)>,
    /// The loop has scalar reductions (ranks run whole global chunks).
    pub reductions: bool,
    /// Run the whole loop on every rank on gathered arrays (a construct the
    /// plan cannot split; correct and slow, logged): why.
    pub redundant: Option<String>,
    /// Arrays the loop touches in any way.
    pub touched: Vec<ArrayId>,
    /// The array whose row blocks decide which rank runs which iterations.
    pub partition: Option<ArrayId>,
}

/// The plan of a kernel: one entry per `prange` (by its first variable) and
/// which arrays serial code reads.
#[derive(Clone, Debug, Default)]
pub(crate) struct Plan {
    pub loops: HashMap<VarId, LoopPlan>,
    /// Arrays that serial code reads (or updates atomically): kept whole on
    /// every rank.
    pub serial_reads: Vec<bool>,
}

fn refuse(module: &ir::Module, f: &ir::Function, span: Span, message: String) -> Error {
    Error::Unsupported {
        backend: "distributed".into(),
        kernel: f.name.clone(),
        file: module.file.clone(),
        span,
        message,
    }
}

/// Analyses `f`; refuses writes that are not owner writes.
pub(crate) fn plan(module: &ir::Module, f: &ir::Function) -> Result<Plan> {
    let mut out = Plan {
        loops: HashMap::new(),
        serial_reads: vec![false; f.arrays.len()],
    };
    let mut loops: Vec<(&ParLoop, Span)> = Vec::new();
    walk_stmts_where(&f.body, &mut |s| {
        stmt_exprs(s, |e| {
            walk_expr(e, &mut |x| {
                if let ExprKind::Load(a) | ExprKind::Atomic { access: a, .. } = &x.kind {
                    out.serial_reads[a.array.index()] = true;
                }
            })
        });
        if let StmtKind::ParFor(p) = &s.kind {
            loops.push((p, s.span));
            return false;
        }
        true
    });
    for (p, _) in loops {
        let lp = plan_loop(module, f, p)?;
        out.loops.insert(p.vars[0], lp);
    }
    Ok(out)
}

/// Index expressions resolved through the body's single-assignment `let`s.
struct Resolver<'a> {
    dim0: VarId,
    lets: HashMap<VarId, &'a Expr>,
}

impl Resolver<'_> {
    /// `Some(c)` when `e` is the loop's first variable plus the constant `c`.
    fn offset(&self, e: &Expr, depth: u32) -> Option<i64> {
        if depth > 16 {
            return None;
        }
        match &e.kind {
            ExprKind::Var(v) if *v == self.dim0 => Some(0),
            ExprKind::Var(v) => self.offset(self.lets.get(v)?, depth + 1),
            ExprKind::Cast(a) if a.ty == e.ty => self.offset(a, depth + 1),
            ExprKind::Binary(BinOp::Add, a, b) => match self.offset(a, depth + 1) {
                Some(o) => o.checked_add(self.constant(b, depth + 1)?),
                None => self
                    .constant(a, depth + 1)?
                    .checked_add(self.offset(b, depth + 1)?),
            },
            ExprKind::Binary(BinOp::Sub, a, b) => self
                .offset(a, depth + 1)?
                .checked_sub(self.constant(b, depth + 1)?),
            _ => None,
        }
    }

    fn constant(&self, e: &Expr, depth: u32) -> Option<i64> {
        if depth > 16 {
            return None;
        }
        match &e.kind {
            ExprKind::Const(Value::I64(c)) => Some(*c),
            ExprKind::Const(Value::I32(c)) => Some(*c as i64),
            ExprKind::Const(Value::U32(c)) => Some(*c as i64),
            ExprKind::Var(v) => self.constant(self.lets.get(v)?, depth + 1),
            _ => None,
        }
    }
}

fn plan_loop(module: &ir::Module, f: &ir::Function, p: &ParLoop) -> Result<LoopPlan> {
    // Single-assignment lets of the body (the checker binds non-trivial
    // indices to such temporaries).
    let mut lets: HashMap<VarId, &Expr> = HashMap::new();
    let mut assigned: HashSet<VarId> = HashSet::new();
    walk_stmts(&p.body, &mut |s| match &s.kind {
        StmtKind::Let { var, init } => {
            lets.insert(*var, init);
        }
        StmtKind::Assign { var, .. } => {
            assigned.insert(*var);
        }
        StmtKind::For(lp) => {
            assigned.insert(lp.var);
        }
        _ => {}
    });
    lets.retain(|v, _| !assigned.contains(v));
    let r = Resolver {
        dim0: p.vars[0],
        lets,
    };
    let mut writes: HashMap<ArrayId, (i64, i64)> = HashMap::new();
    let add_write = |writes: &mut HashMap<ArrayId, (i64, i64)>, a: ArrayId, c: i64| {
        let w = writes.entry(a).or_insert((c, c));
        w.0 = w.0.min(c);
        w.1 = w.1.max(c);
    };
    let mut halos: HashMap<ArrayId, (i64, i64)> = HashMap::new();
    let mut gathers: HashSet<ArrayId> = HashSet::new();
    // Non-owner atomics per array: the ops and whether a result is used.
    let mut scatter: HashMap<ArrayId, (HashSet<AtomicOp>, bool)> = HashMap::new();
    let mut owner_atomics: Vec<(ArrayId, AtomicOp, bool)> = Vec::new();
    let mut touched: HashSet<ArrayId> = HashSet::new();
    let mut error: Option<Error> = None;
    walk_stmts(&p.body, &mut |s| {
        // An atomic that is the whole statement: its result is unused.
        let eval_atomic = match &s.kind {
            StmtKind::Eval(e) => Some(e as *const Expr),
            _ => None,
        };
        if let StmtKind::Store { access, .. } = &s.kind {
            touched.insert(access.array);
            match r.offset(&access.index[0], 0) {
                Some(c) => add_write(&mut writes, access.array, c),
                None if error.is_none() => {
                    let a = &f.array(access.array).name;
                    let i = &f.var(p.vars[0]).name;
                    error = Some(refuse(
                        module,
                        f,
                        s.span,
                        format!(
                            "array `{a}` is written at a row the analysis cannot bound: a \
                             distributed loop may only write `{a}[{i}, …]` or `{a}[{i} ± constant, \
                             …]` (its first index must be the loop's first variable `{i}`, \
                             so that each row has one known writer); use `atomic_*` for \
                             scatter updates"
                        ),
                    ));
                }
                _ => {}
            }
        }
        stmt_exprs(s, |e| {
            walk_expr(e, &mut |x| match &x.kind {
                ExprKind::Load(a) => {
                    touched.insert(a.array);
                    match r.offset(&a.index[0], 0) {
                        Some(c) => {
                            let h = halos.entry(a.array).or_insert((c, c));
                            h.0 = h.0.min(c);
                            h.1 = h.1.max(c);
                        }
                        None => {
                            gathers.insert(a.array);
                        }
                    }
                }
                ExprKind::Atomic { op, access, .. } => {
                    touched.insert(access.array);
                    let used = eval_atomic != Some(x as *const Expr);
                    if r.offset(&access.index[0], 0) == Some(0) {
                        owner_atomics.push((access.array, *op, used));
                    } else {
                        let entry = scatter.entry(access.array).or_default();
                        entry.0.insert(*op);
                        entry.1 |= used;
                    }
                }
                _ => {}
            })
        });
    });
    if let Some(e) = error {
        return Err(e);
    }
    let mut lp = LoopPlan {
        reductions: !p.reductions.is_empty(),
        ..LoopPlan::default()
    };
    for (a, op, used) in owner_atomics {
        match scatter.get_mut(&a) {
            Some(entry) => {
                entry.0.insert(op);
                entry.1 |= used;
            }
            None => add_write(&mut writes, a, 0),
        }
    }
    let mut scatter: Vec<_> = scatter.into_iter().collect();
    scatter.sort_by_key(|(a, _)| *a);
    for (a, (ops, used)) in scatter {
        let name = &f.array(a).name;
        let combine = if ops.len() > 1 {
            Err(format!("`{name}` takes atomics of several kinds"))
        } else if used {
            Err(format!("the result of an atomic on `{name}` is used"))
        } else if writes.contains_key(&a) || halos.contains_key(&a) || gathers.contains(&a) {
            Err(format!(
                "`{name}` is updated atomically and accessed otherwise"
            ))
        } else {
            match ops.into_iter().next() {
                Some(AtomicOp::Add) => Ok(Combine::Add),
                Some(AtomicOp::Min) => Ok(Combine::MinMax(ReduceOp::Min)),
                Some(AtomicOp::Max) => Ok(Combine::MinMax(ReduceOp::Max)),
                None => Err(format!("`{name}` has no atomic")),
            }
        };
        match combine {
            Ok(c) => lp.combines.push((a, c)),
            Err(why) => {
                if lp.redundant.is_none() {
                    lp.redundant = Some(why);
                }
            }
        }
    }
    let mut writes: Vec<(ArrayId, i64, i64)> = writes
        .into_iter()
        .map(|(a, (lo, hi))| (a, lo, hi))
        .collect();
    writes.sort_by_key(|w| w.0);
    let mut halos: Vec<_> = halos
        .into_iter()
        .filter(|(a, _)| !gathers.contains(a))
        .map(|(a, (lo, hi))| (a, lo, hi))
        .collect();
    halos.sort_by_key(|h| h.0);
    let mut gathers: Vec<_> = gathers.into_iter().collect();
    gathers.sort();
    let mut touched: Vec<_> = touched.into_iter().collect();
    touched.sort();
    lp.partition = writes
        .iter()
        .find(|w| w.1 == 0 && w.2 == 0)
        .or(writes.first())
        .map(|w| w.0)
        .or_else(|| halos.first().map(|h| h.0));
    lp.writes = writes;
    lp.halos = halos;
    lp.gathers = gathers;
    lp.touched = touched;
    Ok(lp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(src: &str, kernel: &str) -> Result<Plan> {
        let m = crate::Module::from_source("t.kn", src).unwrap();
        let ir = m.ir().clone();
        let f = ir.kernel(kernel).unwrap();
        plan(&ir, f)
    }

    #[test]
    fn stencil_reads_are_halos_and_writes_owned() {
        let p = plan_of(
            "kernel k(a: f64[:, :], b: mut f64[:, :]) {
                for (i, j) in prange(1..a.shape(0) - 1, 0..a.shape(1)) {
                    b[i, j] = a[i - 1, j] + a[i + 1, j] + a[i, j];
                }
            }",
            "k",
        )
        .unwrap();
        let lp = p.loops.values().next().unwrap();
        assert_eq!(lp.writes.len(), 1);
        assert_eq!(lp.halos[0].1, -1);
        assert_eq!(lp.halos[0].2, 1);
        assert!(lp.gathers.is_empty());
    }

    #[test]
    fn transposed_reads_gather_and_shifted_writes_are_refused() {
        let p = plan_of(
            "kernel k(a: f64[:, :], b: mut f64[:, :]) {
                for (i, j) in prange(0..a.shape(0), 0..a.shape(1)) {
                    b[i, j] = a[j, i];
                }
            }",
            "k",
        )
        .unwrap();
        assert_eq!(p.loops.values().next().unwrap().gathers.len(), 1);
        let e = plan_of(
            "kernel k(b: mut f64[:], idx: i64[:]) {
                for i in prange(0..b.len() - 1) {
                    b[idx[i]] = 1.0;
                }
            }",
            "k",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("t.kn:3:") && e.contains("`b`"), "{e}");
    }
}
