//! The work of one launch, estimated from the IR and the actual arguments:
//! operations outside and inside `prange`s, bytes of array traffic, and how
//! many parallel loops run. Loop trip counts are evaluated from parameters,
//! constants and array shapes when possible, else guessed.

use super::args::Arg;
use crate::ir::eval::{self, Known};
use crate::ir::visit::{any_stmt, walk_expr};
use crate::ir::{self, Expr, ExprKind, StmtKind, Value};

/// Estimated work of one launch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Work {
    /// Operations on the serial path (one lane on a GPU).
    pub serial_ops: f64,
    /// Operations inside `prange` bodies, summed over all iterations.
    pub par_ops: f64,
    /// Bytes loaded and stored by array accesses (both paths).
    pub bytes: f64,
    /// Parallel loops executed (a GPU dispatches each).
    pub par_loops: f64,
    /// The largest parallel loop's iteration count.
    pub max_par_iters: f64,
    /// A `prange` body contains a loop (the CPU splits it finely).
    pub heavy: bool,
}

impl Work {
    /// Serial and parallel operations together.
    pub fn total_ops(&self) -> f64 {
        self.serial_ops + self.par_ops
    }
}

#[cfg(test)]
thread_local! {
    /// Estimates made on this thread (tests check the dispatch cache).
    pub(crate) static ESTIMATES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Trip count assumed for a loop whose count cannot be evaluated.
const UNKNOWN_TRIPS: f64 = 16.0;

struct Est<'m> {
    module: &'m ir::Module,
    f: &'m ir::Function,
    /// Known values of scalar variables (parameters, `let`s of evaluable
    /// expressions outside loops).
    known: Vec<Option<Value>>,
    shapes: Vec<Vec<usize>>,
    work: Work,
}

/// The work of launching `kernel` of `module` on `args` (already checked).
pub fn estimate(module: &ir::Module, kernel: ir::FuncId, args: &[Arg]) -> Work {
    #[cfg(test)]
    ESTIMATES.with(|n| n.set(n.get() + 1));
    let f = module.function(kernel);
    let mut known = vec![None; f.vars.len()];
    let mut shapes = vec![Vec::new(); f.arrays.len()];
    for (p, a) in f.params.iter().zip(args) {
        match (p, a) {
            (ir::Param::Scalar(v), Arg::Scalar(x)) => known[v.index()] = Some(*x),
            (ir::Param::Array(id), Arg::Array { shape, .. })
            | (ir::Param::Array(id), Arg::ArrayMut { shape, .. }) => {
                shapes[id.index()] = shape.clone()
            }
            (ir::Param::Array(id), Arg::Resident { array, .. }) => {
                shapes[id.index()] = array.shape()
            }
            _ => {}
        }
    }
    let mut est = Est {
        module,
        f,
        known,
        shapes,
        work: Work::default(),
    };
    let (ops, bytes) = est.block(&f.body, 1.0, false);
    est.work.serial_ops += ops;
    est.work.bytes += bytes;
    est.work
}

impl Est<'_> {
    /// (ops, bytes) of `b` run `times` times on the serial path; work inside
    /// pranges goes straight into `self.work`. `in_loop`: values assigned
    /// here may change between iterations, so `let`s are not remembered.
    fn block(&mut self, b: &ir::Block, times: f64, in_loop: bool) -> (f64, f64) {
        let (mut ops, mut bytes) = (0.0, 0.0);
        for s in &b.stmts {
            let (o, by) = self.stmt(s, times, in_loop);
            ops += o;
            bytes += by;
        }
        (ops, bytes)
    }

    fn stmt(&mut self, s: &ir::Stmt, times: f64, in_loop: bool) -> (f64, f64) {
        match &s.kind {
            StmtKind::Let { var, init } => {
                if !in_loop {
                    self.known[var.index()] = self.eval(init);
                }
                self.expr(init, times)
            }
            StmtKind::Assign { var, value } => {
                self.known[var.index()] = None;
                self.expr(value, times)
            }
            StmtKind::Store { access, value } => {
                let (o, b) = self.expr(value, times);
                let (ao, ab) = self.access(access, times);
                (o + ao + times, b + ab)
            }
            StmtKind::Eval(e) | StmtKind::CheckStep(e) => self.expr(e, times),
            StmtKind::Return(e) => e.as_ref().map(|e| self.expr(e, times)).unwrap_or_default(),
            StmtKind::Break | StmtKind::Continue => (0.0, 0.0),
            StmtKind::If { cond, then, els } => {
                let (co, cb) = self.expr(cond, times);
                // Either branch may run: cost the average.
                let (to, tb) = self.block(then, times * 0.5, true);
                let (eo, eb) = self.block(els, times * 0.5, true);
                (co + to + eo, cb + tb + eb)
            }
            StmtKind::While { cond, body } => {
                let n = times * UNKNOWN_TRIPS;
                let (co, cb) = self.expr(cond, n);
                let (bo, bb) = self.block(body, n, true);
                (co + bo, cb + bb)
            }
            StmtKind::For(l) => {
                let count = self
                    .eval_f64(&l.count)
                    .map(|c| c.max(0.0))
                    .unwrap_or(UNKNOWN_TRIPS);
                let (so, sb) = self.expr(&l.start, times);
                let (no, nb) = self.expr(&l.count, times);
                let n = times * count;
                let (bo, bb) = self.block(&l.body, n, true);
                // Loop overhead: increment, compare, branch.
                (so + no + bo + 2.0 * n, sb + nb + bb)
            }
            StmtKind::ParFor(p) => {
                let mut iters = 1.0;
                for (lo, hi) in &p.ranges {
                    iters *= match (self.eval_f64(lo), self.eval_f64(hi)) {
                        (Some(lo), Some(hi)) => (hi - lo).max(0.0),
                        _ => self.guess_len(),
                    };
                }
                let n = times * iters;
                let heavy = has_loop(&p.body);
                let (bo, bb) = self.block(&p.body, n, true);
                self.work.par_ops += bo + n;
                self.work.bytes += bb;
                self.work.par_loops += times;
                self.work.max_par_iters = self.work.max_par_iters.max(iters);
                self.work.heavy |= heavy;
                (0.0, 0.0)
            }
        }
    }

    /// (ops, bytes) of evaluating `e` `times` times.
    fn expr(&self, e: &Expr, times: f64) -> (f64, f64) {
        let (mut ops, mut bytes) = (0.0, 0.0);
        walk_expr(e, &mut |x| {
            let (o, b) = self.node(x);
            ops += o;
            bytes += b;
        });
        (ops * times, bytes * times)
    }

    /// (ops, bytes) of one evaluation of the node `e` itself (its operands
    /// counted apart): an access adds one op per index and its element.
    fn node(&self, e: &Expr) -> (f64, f64) {
        let elem = |a: &ir::Access| self.f.array(a.array).elem.size_bytes() as f64;
        match &e.kind {
            ExprKind::Const(_) | ExprKind::Var(_) | ExprKind::Len(_) | ExprKind::Shape(..) => {
                (0.0, 0.0)
            }
            ExprKind::Unary(..) | ExprKind::Cast(_) | ExprKind::If(..) => (1.0, 0.0),
            ExprKind::Binary(op, ..) => match op {
                ir::BinOp::Div | ir::BinOp::Rem => (4.0, 0.0),
                _ => (1.0, 0.0),
            },
            ExprKind::Builtin(f, _) => (builtin_ops(*f), 0.0),
            // Helpers are small and never recursive: cost one body.
            ExprKind::Call(id, _) => helper_cost(self.module, &self.module.function(*id).body, 0),
            ExprKind::Load(a) => (1.0 + a.index.len() as f64, elem(a)),
            ExprKind::Atomic { access, .. } => (8.0 + access.index.len() as f64, elem(access)),
        }
    }

    /// Index arithmetic plus the element's bytes.
    fn access(&self, a: &ir::Access, times: f64) -> (f64, f64) {
        let mut o = 0.0;
        let mut b = 0.0;
        for i in &a.index {
            let (io, ib) = self.expr(i, times);
            o += io + times;
            b += ib;
        }
        let elem = self.f.array(a.array).elem.size_bytes() as f64;
        (o, b + elem * times)
    }

    fn eval_f64(&self, e: &Expr) -> Option<f64> {
        match self.eval(e)? {
            Value::I32(x) => Some(x as f64),
            Value::U32(x) => Some(x as f64),
            Value::I64(x) => Some(x as f64),
            Value::F32(x) => Some(x as f64),
            Value::F64(x) => Some(x),
            Value::Bool(_) => None,
        }
    }

    /// The value of `e` when it depends only on known variables, constants
    /// and shapes.
    fn eval(&self, e: &Expr) -> Option<Value> {
        let env = Known {
            vars: |v: ir::VarId| self.known.get(v.index()).copied().flatten(),
            shapes: &self.shapes,
        };
        eval::eval(e, &env)
    }

    /// A parallel extent that cannot be evaluated: the largest array's length.
    fn guess_len(&self) -> f64 {
        self.shapes
            .iter()
            .map(|s| s.iter().product::<usize>())
            .max()
            .unwrap_or(1000) as f64
    }
}

fn has_loop(b: &ir::Block) -> bool {
    any_stmt(b, &mut |s| {
        matches!(s.kind, StmtKind::For(_) | StmtKind::While { .. })
    })
}

/// Transcendentals cost more than arithmetic (the builtin table's cost).
fn builtin_ops(f: ir::Builtin) -> f64 {
    f64::from(f.cost())
}

/// (ops, bytes) of one call of a helper body, loops counted at the guessed
/// trip count (helpers have no arrays, so bytes stay 0).
fn helper_cost(module: &ir::Module, body: &ir::Block, depth: u32) -> (f64, f64) {
    if depth > 8 {
        return (1.0, 0.0);
    }
    /// One op per node, plus a builtin's or a callee's own cost.
    fn expr_ops(module: &ir::Module, e: &Expr, depth: u32) -> f64 {
        let mut ops = 0.0;
        walk_expr(e, &mut |x| {
            ops += 1.0
                + match &x.kind {
                    ExprKind::Builtin(f, _) => builtin_ops(*f),
                    ExprKind::Call(id, _) => {
                        helper_cost(module, &module.function(*id).body, depth + 1).0
                    }
                    _ => 0.0,
                }
        });
        ops
    }
    fn block_ops(module: &ir::Module, b: &ir::Block, depth: u32) -> f64 {
        b.stmts
            .iter()
            .map(|s| match &s.kind {
                StmtKind::Let { init: e, .. }
                | StmtKind::Assign { value: e, .. }
                | StmtKind::Eval(e)
                | StmtKind::CheckStep(e) => expr_ops(module, e, depth),
                StmtKind::Return(e) => e
                    .as_ref()
                    .map(|e| expr_ops(module, e, depth))
                    .unwrap_or(0.0),
                StmtKind::If { cond, then, els } => {
                    expr_ops(module, cond, depth)
                        + 0.5 * (block_ops(module, then, depth) + block_ops(module, els, depth))
                }
                StmtKind::While { cond, body } => {
                    UNKNOWN_TRIPS * (expr_ops(module, cond, depth) + block_ops(module, body, depth))
                }
                StmtKind::For(l) => UNKNOWN_TRIPS * (2.0 + block_ops(module, &l.body, depth)),
                _ => 0.0,
            })
            .sum()
    }
    (block_ops(module, body, depth), 0.0)
}
