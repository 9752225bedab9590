//! 128-bit vector lowering of straight-line loop bodies.
//!
//! A unit-stride loop (a `prange` chunk, a row segment of a 2-D/3-D chunk,
//! or a serial `for` with step 1) whose body is only `let`s and stores of one
//! float type, built from `+ - * /`, negation, `sqrt`, `abs`, `min`, `max`,
//! constants, invariant scalars and accesses whose last index is the loop
//! variable plus an invariant offset (`a[i]`, `a[r, j - 1]`; the other
//! indices invariant) and whose checks are dropped or hoisted, runs
//! `UNROLL` vectors (`STORE_UNROLL` without reductions) of 4 (`f32`) or 2
//! (`f64`) iterations per step with Cranelift vector instructions; the remainder runs the scalar loop. Each
//! lane does exactly the scalar IEEE operations, so results are
//! bit-identical.
//!
//! Iterations must not depend on each other: every access to an array the
//! body stores to uses the very same index (so an iteration reads only what
//! it writes itself), and a writable array is never passed twice (checked at
//! launch). Doing a few iterations' loads before their stores then changes
//! nothing, in a `prange` and in a serial loop alike. A serial loop may
//! update outer variables only by float `min`/`max` (exact in any order:
//! `serial_updates`), or by float `+` taken lane by lane in element order;
//! a `prange` chunk may update its float `+`, `min` and
//! `max` reductions. Both accumulate per lane in `UNROLL` accumulators
//! combined in a fixed order after the loop (deterministic whatever the
//! thread count).
//!
//! A `prange` body that runs a serial loop goes to `lanes` instead, which
//! puts the `prange`'s iterations in the lanes.

use super::Fx;
use crate::cpu::checks::{access_key, same_pure};
use crate::error::Result;
use crate::ir::ReduceOp;
use crate::ir::{self, Access, BinOp, Builtin, Expr, ExprKind, ScalarType, StmtKind, UnOp, VarId};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::Value as CValue;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type};
use cranelift_frontend::Variable;
use std::collections::HashMap;

/// Where a vector's lanes are: the loop variable, the loop's position in
/// bytes (`(start + k) * size`), and the unrolled copy's first lane past it.
#[derive(Clone, Copy)]
pub(super) struct Lanes {
    pub var: VarId,
    pub scaled: CValue,
    pub lane0: i64,
    /// The loop variable's value at lane 0 of the first copy.
    pub pos: CValue,
}

/// The iterations a vector loop left to the scalar loop.
pub(super) struct Rest {
    pub start: CValue,
    pub count: CValue,
    /// Left by `lanes`: the iterations past the last whole step (heavy
    /// chunks are multiples of 8) or a step whose inner checks failed, so
    /// few that their scalar copy is built with every check in place and
    /// no inner copies (a third of nbody's compile).
    pub lanes: bool,
}

/// Vectors per step of the vector loop: independent accumulators hide the
/// latency of a reduction's adds, and the loop's own overhead is shared.
const UNROLL: i64 = 4;

/// Vectors per step of a vector loop without reductions.
const STORE_UNROLL: i64 = 2;

/// The element type of a vectorizable body, or `None`.
///
/// `reductions` are the enclosing `prange`'s float `Add`, `Min` and `Max`
/// reductions (none for a serial loop): an update `s = s + e` / `s = s - e`
/// / `m = min(m, e)` / `m = max(m, e)` of one of them is allowed too.
pub(crate) fn plan(
    body: &crate::ir::Block,
    var: VarId,
    kernel: &crate::ir::Function,
    unchecked: &dyn Fn(&Access) -> bool,
    reductions: &[(VarId, ReduceOp)],
) -> Option<ScalarType> {
    let mut ty = None;
    let mut stored: Vec<&Access> = Vec::new();
    for s in &body.stmts {
        let (e, t) = match &s.kind {
            StmtKind::Let { var: v, init } => {
                if kernel.var(*v).ty != init.ty {
                    return None;
                }
                (init, init.ty)
            }
            StmtKind::Assign { var: r, value } => {
                let &(_, op) = reductions.iter().find(|(v, _)| v == r)?;
                (update(*r, op, value)?, value.ty)
            }
            StmtKind::Store { access, value } => {
                if !access_ok(access, value.ty, var, kernel, unchecked) {
                    return None;
                }
                stored.push(access);
                (value, value.ty)
            }
            _ => return None,
        };
        if *ty.get_or_insert(t) != t || !expr_ok(e, t, var, kernel, unchecked) {
            return None;
        }
    }
    // Every access to a stored array is at the stored index.
    let mut independent = true;
    crate::ir::visit::walk_block_exprs(body, &mut |e: &Expr| {
        if let ExprKind::Load(a) = &e.kind {
            for st in &stored {
                if st.array == a.array && !same_index(st, a) {
                    independent = false;
                }
            }
        }
    });
    for (k, a) in stored.iter().enumerate() {
        if stored[..k]
            .iter()
            .any(|b| b.array == a.array && !same_index(a, b))
        {
            independent = false;
        }
    }
    ty.filter(|t| t.is_float() && independent)
}

fn access_ok(
    a: &Access,
    ty: ScalarType,
    var: VarId,
    kernel: &crate::ir::Function,
    unchecked: &dyn Fn(&Access) -> bool,
) -> bool {
    let Some((last, outer)) = a.index.split_last() else {
        return false;
    };
    kernel.array(a.array).elem == ty
        && unit_stride(last, var)
        && outer.iter().all(|e| invariant(e, var))
        && unchecked(a)
}

/// `var`, `var + k`, `k + var` or `var - k` with `k` invariant.
pub(super) fn unit_stride(e: &Expr, var: VarId) -> bool {
    let is_var = |x: &Expr| matches!(x.kind, ExprKind::Var(v) if v == var);
    match &e.kind {
        ExprKind::Var(v) => *v == var,
        ExprKind::Binary(BinOp::Add, a, b) => {
            (is_var(a) && invariant(b, var)) || (invariant(a, var) && is_var(b))
        }
        ExprKind::Binary(BinOp::Sub, a, b) => is_var(a) && invariant(b, var),
        _ => false,
    }
}

/// An integer expression that cannot fault and does not depend on `var`
/// (the body's `let`s are floats, so any other variable is outer and
/// unchanged in the loop).
pub(super) fn invariant(e: &Expr, var: VarId) -> bool {
    let ok = |x: &Expr| invariant(x, var);
    e.ty.is_int()
        && match &e.kind {
            ExprKind::Const(_) | ExprKind::Len(_) | ExprKind::Shape(..) => true,
            ExprKind::Var(v) => *v != var,
            ExprKind::Unary(UnOp::Neg, a) | ExprKind::Cast(a) => ok(a),
            ExprKind::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul, a, b) => ok(a) && ok(b),
            ExprKind::Builtin(Builtin::Min | Builtin::Max, args) => args.iter().all(ok),
            _ => false,
        }
}

/// Whether two accesses name the same element (structurally, spans aside).
fn same_index(a: &Access, b: &Access) -> bool {
    a.index.len() == b.index.len() && a.index.iter().zip(&b.index).all(|(x, y)| same_expr(x, y))
}

pub(super) fn same_expr(x: &Expr, y: &Expr) -> bool {
    x.ty == y.ty
        && match (&x.kind, &y.kind) {
            (ExprKind::Const(a), ExprKind::Const(b)) => a == b,
            (ExprKind::Var(a), ExprKind::Var(b)) => a == b,
            (ExprKind::Len(a), ExprKind::Len(b)) => a == b,
            (ExprKind::Shape(a, i), ExprKind::Shape(b, j)) => a == b && i == j,
            (ExprKind::Unary(o, a), ExprKind::Unary(p, b)) => o == p && same_expr(a, b),
            (ExprKind::Cast(a), ExprKind::Cast(b)) => same_expr(a, b),
            (ExprKind::Binary(o, a, b), ExprKind::Binary(p, c, d)) => {
                o == p && same_expr(a, c) && same_expr(b, d)
            }
            _ => false,
        }
}

fn expr_ok(
    e: &Expr,
    ty: ScalarType,
    var: VarId,
    kernel: &crate::ir::Function,
    unchecked: &dyn Fn(&Access) -> bool,
) -> bool {
    expr_ok_with(
        e,
        ty,
        &|a: &Access| access_ok(a, ty, var, kernel, unchecked),
        false,
    )
}

/// `expr_ok` with `load_ok` deciding which accesses may be loaded; with
/// `calls`, any other float library function too, called lane by lane.
pub(super) fn expr_ok_with(
    e: &Expr,
    ty: ScalarType,
    load_ok: &dyn Fn(&Access) -> bool,
    calls: bool,
) -> bool {
    if e.ty != ty {
        return false;
    }
    let ok = |x: &Expr| expr_ok_with(x, ty, load_ok, calls);
    match &e.kind {
        ExprKind::Const(_) | ExprKind::Var(_) => true,
        ExprKind::Unary(UnOp::Neg, a) => ok(a),
        ExprKind::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div, a, b) => ok(a) && ok(b),
        ExprKind::Builtin(Builtin::Sqrt | Builtin::Abs | Builtin::Exp, args) => {
            args.len() == 1 && ok(&args[0])
        }
        // Inline for f64 only (`sincos`); f32 lanes would call the C library.
        ExprKind::Builtin(Builtin::Sin | Builtin::Cos, args) => {
            ty == ScalarType::F64 && args.len() == 1 && ok(&args[0])
        }
        ExprKind::Builtin(Builtin::Min | Builtin::Max, args) => {
            args.len() == 2 && ok(&args[0]) && ok(&args[1])
        }
        ExprKind::Load(a) => load_ok(a),
        ExprKind::Builtin(f, args) if calls => {
            matches!(f.lowering(), ir::builtins::Lowering::Float(_)) && args.iter().all(ok)
        }
        _ => false,
    }
}

/// The contribution `e` of a reduction update of `r` with `op`: `r = r + e`
/// or `r = r - e` (`Add`), `r = min(r, e)` or `min(e, r)` (`Min`), likewise
/// `Max`.
pub(crate) fn update(r: VarId, op: ReduceOp, value: &Expr) -> Option<&Expr> {
    let is_r = |x: &Expr| matches!(x.kind, ExprKind::Var(v) if v == r);
    match (&value.kind, op) {
        (ExprKind::Binary(BinOp::Add | BinOp::Sub, a, e), ReduceOp::Add) if is_r(a) => Some(e),
        (ExprKind::Builtin(Builtin::Min, args), ReduceOp::Min)
        | (ExprKind::Builtin(Builtin::Max, args), ReduceOp::Max)
            if args.len() == 2 =>
        {
            match (is_r(&args[0]), is_r(&args[1])) {
                (true, false) => Some(&args[1]),
                (false, true) => Some(&args[0]),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The outer float variables a serial loop body updates only by
/// `m = min(m, e)` / `m = max(m, e)` (either operand order) or by
/// `s = s + e` / `s = s - e` (once per iteration), and reads nowhere else.
/// IEEE `minimumNumber`/`maximumNumber` (language.md §8) are associative and
/// commutative on values, so lanes started at `m` and combined after the
/// loop give the sequential result exactly. A `+` is not: a sum takes each
/// lane's term in element order, one scalar add after another (`ordered`),
/// so only the terms are computed as vectors.
fn serial_updates(body: &crate::ir::Block) -> Vec<(VarId, ReduceOp)> {
    let mut found: Vec<(VarId, ReduceOp)> = Vec::new();
    for s in &body.stmts {
        if let StmtKind::Assign { var, value } = &s.kind {
            let op = match &value.kind {
                ExprKind::Builtin(Builtin::Min, _) if value.ty.is_float() => ReduceOp::Min,
                ExprKind::Builtin(Builtin::Max, _) if value.ty.is_float() => ReduceOp::Max,
                ExprKind::Binary(BinOp::Add | BinOp::Sub, ..) if value.ty.is_float() => {
                    ReduceOp::Add
                }
                _ => return Vec::new(),
            };
            let again = |&(v, o): &(VarId, ReduceOp)| v == *var && (o != op || op == ReduceOp::Add);
            if update(*var, op, value).is_none() || found.iter().any(again) {
                return Vec::new();
            }
            found.push((*var, op));
        }
    }
    // Every read of such a variable is the operand of its own update.
    let mut reads: HashMap<VarId, usize> = HashMap::new();
    crate::ir::visit::walk_block_exprs(body, &mut |e: &Expr| {
        if let ExprKind::Var(v) = e.kind {
            *reads.entry(v).or_default() += 1;
        }
    });
    let updates = |v: VarId| found.iter().filter(|(r, _)| *r == v).count();
    if found
        .iter()
        .any(|&(v, _)| reads.get(&v).copied().unwrap_or(0) != updates(v))
    {
        return Vec::new();
    }
    found.dedup();
    // Terms that are bare loads gain nothing: the loop is its chain of adds.
    let plain = |e: &Expr| {
        matches!(
            e.kind,
            ExprKind::Load(_) | ExprKind::Var(_) | ExprKind::Const(_)
        )
    };
    let computes = body.stmts.iter().any(|s| match &s.kind {
        StmtKind::Let { init: e, .. } | StmtKind::Store { value: e, .. } => !plain(e),
        StmtKind::Assign { var, value } => {
            update(*var, ReduceOp::Add, value).is_some_and(|e| !plain(e))
        }
        _ => false,
    });
    if !computes && found.iter().any(|&(_, op)| op == ReduceOp::Add) {
        return Vec::new();
    }
    found
}

impl<'m> Fx<'_, '_, 'm> {
    /// Runs the largest multiple of `UNROLL` vectors of `count` iterations
    /// with vector instructions when `plan` allows it and returns the
    /// `(start, count)` left for a scalar loop; `None` (and no code) when it
    /// does not. `reduce`: the loop is a
    /// `prange` chunk whose float reductions may be updated.
    pub(super) fn vector_loop(
        &mut self,
        var: VarId,
        start: CValue,
        count: CValue,
        body: &'m ir::Block,
        reduce: bool,
    ) -> Result<Option<Rest>> {
        let kernel = self.sh.kernel;
        let proven = &self.proven;
        let unchecked = |a: &Access| {
            let key = access_key(a);
            a.needs_check
                .iter()
                .enumerate()
                .all(|(d, &c)| !c || proven.contains(&(key, d)))
        };
        let reductions = if reduce {
            self.chunk_reductions.clone()
        } else {
            serial_updates(body)
        };
        let Some(ty) = plan(body, var, kernel, &unchecked, &reductions) else {
            return match super::lanes::lane_plan(body, var, kernel, &unchecked) {
                Some(lanes) => self.lane_loop(var, start, count, body, lanes).map(Some),
                None => Ok(None),
            };
        };
        let (vty, lanes) = if ty == ScalarType::F32 {
            (types::F32X4, 4i64)
        } else {
            (types::F64X2, 2i64)
        };
        // Reductions keep `UNROLL` accumulators to hide their adds' latency;
        // a loop that only stores needs fewer copies of its body for the
        // same speed, and half the code compiles faster.
        let updates = body
            .stmts
            .iter()
            .any(|s| matches!(s.kind, StmtKind::Assign { .. }));
        let unroll = if updates { UNROLL } else { STORE_UNROLL };
        let step = lanes * unroll;
        let nvec = self.b.ins().band_imm_s(count, !(step - 1));
        // `UNROLL` vector accumulators per updated reduction, starting at its
        // identity in every lane.
        let mut accs: HashMap<VarId, (Vec<Variable>, ir::ReduceOp)> = HashMap::new();
        // Per accumulator of a chunk's `min`/`max`: lanes that met the zero
        // which wins a tie (`fast_minmax`).
        let mut zero_seen: HashMap<VarId, Vec<Variable>> = HashMap::new();
        let ity = vty.as_int();
        for st in &body.stmts {
            if let StmtKind::Assign { var: r, .. } = &st.kind {
                let op = reductions
                    .iter()
                    .find(|(v, _)| v == r)
                    .map_or(ir::ReduceOp::Add, |x| x.1);
                let ordered = !reduce && op == ir::ReduceOp::Add;
                if !ordered && !accs.contains_key(r) {
                    // A chunk's partial starts at the identity; a serial
                    // loop's `min`/`max` starts every lane at the variable's
                    // value, which gives the sequential result's bits even
                    // when everything is NaN (the first operand is kept).
                    let id = if reduce {
                        self.constant(op.identity(ty))
                    } else {
                        let v = self.var(*r);
                        self.b.use_var(v)
                    };
                    let init = self.b.ins().splat(vty, id);
                    let vars = (0..unroll)
                        .map(|_| {
                            let acc = self.b.declare_var(vty);
                            self.b.def_var(acc, init);
                            acc
                        })
                        .collect();
                    if reduce && matches!(op, ir::ReduceOp::Min | ir::ReduceOp::Max) {
                        let none = self.b.ins().iconst(ity.lane_type(), 0);
                        let none = self.b.ins().splat(ity, none);
                        let flags = (0..unroll)
                            .map(|_| {
                                let f = self.b.declare_var(ity);
                                self.b.def_var(f, none);
                                f
                            })
                            .collect();
                        zero_seen.insert(*r, flags);
                    }
                    accs.insert(*r, (vars, op));
                }
            }
        }
        let k = self.b.declare_var(types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(k, zero);
        // Rotated like the scalar loops (`plain_loop`), so that Cranelift
        // hoists the invariant row addresses out of it.
        let (body_blk, exit) = (self.b.create_block(), self.b.create_block());
        let any = self.b.ins().icmp(IntCC::SignedGreaterThan, nvec, zero);
        self.b.ins().brif(any, body_blk, &[], exit, &[]);
        self.b.switch_to_block(body_blk);
        let kv = self.b.use_var(k);
        let pos = self.b.ins().iadd(start, kv);
        let size = ty.size_bytes() as i64;
        let scaled = self.b.ins().imul_imm_s(pos, size);
        for u in 0..unroll {
            let at = Lanes {
                var,
                scaled,
                lane0: u * lanes,
                pos,
            };
            let mut lets: HashMap<VarId, CValue> = HashMap::new();
            for s in &body.stmts {
                // A memo entry is this statement's, in this copy's lanes.
                self.trig_memo.clear();
                match &s.kind {
                    StmtKind::Let { var: v, init } => {
                        let x = self.vexpr(init, vty, at, &lets)?;
                        lets.insert(*v, x);
                    }
                    StmtKind::Store { access, value } => {
                        let x = self.vexpr(value, vty, at, &lets)?;
                        let (addr, disp) = self.vector_address(access, var, scaled, u * lanes)?;
                        self.b
                            .ins()
                            .store(MemFlagsData::new().with_notrap(), x, addr, disp);
                    }
                    StmtKind::Assign { var: r, value } if !reduce && !accs.contains_key(r) => {
                        // An ordered sum: this copy's lanes are the next
                        // terms, added one by one in element order.
                        let e = update(*r, ir::ReduceOp::Add, value).ok_or_else(|| {
                            self.sh
                                .unsupported(s.span, "an update the vector plan excludes")
                        })?;
                        let x = self.vexpr(e, vty, at, &lets)?;
                        let v = self.var(*r);
                        let mut total = self.b.use_var(v);
                        for lane in 0..lanes as u8 {
                            let term = self.b.ins().extractlane(x, lane);
                            total = match value.kind {
                                ExprKind::Binary(BinOp::Sub, ..) => self.b.ins().fsub(total, term),
                                _ => self.b.ins().fadd(total, term),
                            };
                        }
                        self.b.def_var(v, total);
                    }
                    StmtKind::Assign { var: r, value } => {
                        let Some(((acc, op), e)) = accs
                            .get(r)
                            .and_then(|a| Some(((a.0[u as usize], a.1), update(*r, a.1, value)?)))
                        else {
                            return Err(self
                                .sh
                                .unsupported(s.span, "an update the vector plan excludes"));
                        };
                        let x = self.vexpr(e, vty, at, &lets)?;
                        let a = self.b.use_var(acc);
                        let seen = zero_seen.get(r).map(|f| f[u as usize]);
                        let next = match (&value.kind, op, seen) {
                            (_, ir::ReduceOp::Min | ir::ReduceOp::Max, Some(seen)) => {
                                self.fast_minmax(a, x, op == ir::ReduceOp::Min, seen)
                            }
                            (_, ir::ReduceOp::Min, _) => self.float_minmax(a, x, true),
                            (_, ir::ReduceOp::Max, _) => self.float_minmax(a, x, false),
                            (ExprKind::Binary(BinOp::Sub, ..), ..) => self.b.ins().fsub(a, x),
                            _ => self.b.ins().fadd(a, x),
                        };
                        self.b.def_var(acc, next);
                    }
                    _ => {
                        return Err(self
                            .sh
                            .unsupported(s.span, "a statement the vector plan excludes"))
                    }
                }
            }
        }
        let k1 = self.b.ins().iadd_imm_s(kv, step);
        self.b.def_var(k, k1);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, k1, nvec);
        self.b.ins().brif(more, body_blk, &[], exit, &[]);
        self.trig_memo.clear();
        self.b.switch_to_block(exit);
        // Accumulators combine in a fixed order: vector by vector, then lane
        // by lane into the variable.
        let mut sums: Vec<_> = accs.into_iter().collect();
        sums.sort_by_key(|(r, _)| *r);
        for (r, (accs, op)) in sums {
            let combine = |fx: &mut Self, a: CValue, b: CValue| match op {
                ir::ReduceOp::Min => fx.float_minmax(a, b, true),
                ir::ReduceOp::Max => fx.float_minmax(a, b, false),
                _ => fx.b.ins().fadd(a, b),
            };
            let seen = zero_seen.remove(&r);
            let mut lane_values = Vec::with_capacity(accs.len());
            for (u, acc) in accs.iter().enumerate() {
                let v = self.b.use_var(*acc);
                lane_values.push(match &seen {
                    Some(flags) => self.fix_zero_sign(v, flags[u], op == ir::ReduceOp::Min),
                    None => v,
                });
            }
            let mut lanes_v = lane_values[0];
            for next in lane_values[1..].iter().copied() {
                lanes_v = combine(self, lanes_v, next);
            }
            let var = self.var(r);
            let mut total = self.b.use_var(var);
            for lane in 0..lanes as u8 {
                let x = self.b.ins().extractlane(lanes_v, lane);
                total = combine(self, total, x);
            }
            self.b.def_var(var, total);
        }
        let rest_start = self.b.ins().iadd(start, nvec);
        let rest = self.b.ins().isub(count, nvec);
        Ok(Some(Rest {
            start: rest_start,
            count: rest,
            lanes: false,
        }))
    }

    /// One step of a chunk's vector `min`/`max` accumulator `acc` (never
    /// NaN: it starts at the identity) with `x`: `x < acc ? x : acc` (or
    /// `>`), one `minps`/`maxps`. That is `minimumNumber`/`maximumNumber`
    /// (a NaN `x` leaves `acc`) except between zeros, where it keeps the
    /// earlier one; so each lane also records in `seen` whether it met the
    /// zero that wins a tie (-0 for `min`, +0 for `max`), and
    /// `fix_zero_sign` corrects the lane's zero after the loop. Three cheap
    /// instructions instead of three compares and three blends.
    fn fast_minmax(&mut self, acc: CValue, x: CValue, min: bool, seen: Variable) -> CValue {
        let (lt, gt) = if min { (x, acc) } else { (acc, x) };
        let fl = MemFlagsData::new();
        let vty = self.b.func.dfg.value_type(acc);
        let ity = vty.as_int();
        let cmp = self.b.ins().fcmp(FloatCC::LessThan, lt, gt);
        let mask = self.b.ins().bitcast(vty, fl, cmp);
        // The shape Cranelift lowers to one `minps`/`maxps` (x64).
        let next = self.b.ins().bitselect(mask, x, acc);
        let winner = self.zero_bits(ity, min);
        let xi = self.b.ins().bitcast(ity, fl, x);
        let hit = self.b.ins().icmp(IntCC::Equal, xi, winner);
        let old = self.b.use_var(seen);
        let now = self.b.ins().bor(old, hit);
        self.b.def_var(seen, now);
        next
    }

    /// The splatted bits of the zero that wins a `min` (-0) or `max` (+0)
    /// tie, in the integer vector type `ity`.
    fn zero_bits(&mut self, ity: Type, min: bool) -> CValue {
        let lane = ity.lane_type();
        let bits = if min { 1i64 << (lane.bits() - 1) } else { 0 };
        let c = self.b.ins().iconst(lane, bits);
        self.b.ins().splat(ity, c)
    }

    /// Lanes of `acc` that hold a zero take the winning zero where `seen`
    /// says they met it.
    fn fix_zero_sign(&mut self, acc: CValue, seen: Variable, min: bool) -> CValue {
        let fl = MemFlagsData::new();
        let vty = self.b.func.dfg.value_type(acc);
        let ity = vty.as_int();
        let zero = self.constant(if vty.lane_type() == types::F32 {
            ir::Value::F32(0.0)
        } else {
            ir::Value::F64(0.0)
        });
        let zero = self.b.ins().splat(vty, zero);
        // A vector compare gives lane masks of the integer type `ity`.
        let is_zero = self.b.ins().fcmp(FloatCC::Equal, acc, zero);
        let seen = self.b.use_var(seen);
        let fix = self.b.ins().band(is_zero, seen);
        let winner = self.zero_bits(ity, min);
        let ai = self.b.ins().bitcast(ity, fl, acc);
        let fixed = self.b.ins().bitselect(fix, winner, ai);
        self.b.ins().bitcast(vty, fl, fixed)
    }

    /// Address of an access's first lane as `(address, byte offset)`: the
    /// invariant part (outer indices and the offset `k` of `var ± k`) is
    /// computed where Cranelift can hoist it out of the loop, `scaled` is the
    /// loop's position in bytes, and `lane0` (the unrolled copy's first
    /// iteration past it) becomes the load's immediate offset. The plan
    /// admits only indices that cannot fault and accesses whose checks are
    /// proven, so nothing is checked here.
    pub(super) fn vector_address(
        &mut self,
        acc: &Access,
        var: VarId,
        scaled: CValue,
        lane0: i64,
    ) -> Result<(CValue, i32)> {
        let arr = self.arrays[acc.array.index()];
        let size = self.sh.kernel.array(acc.array).elem.size_bytes() as i64;
        let (last, outer) = acc.index.split_last().expect("plan: an index");
        let mut row: Option<CValue> = None;
        for (d, e) in outer.iter().enumerate() {
            let i = self.expr(e)?;
            row = Some(match row {
                None => i,
                Some(r) => {
                    let m = self.b.ins().imul(r, arr.shape[d]);
                    self.b.ins().iadd(m, i)
                }
            });
        }
        let mut inv = row.map(|r| self.b.ins().imul(r, arr.shape[outer.len()]));
        let k = match &last.kind {
            ExprKind::Binary(BinOp::Add, a, b) => {
                let k = if matches!(a.kind, ExprKind::Var(v) if v == var) {
                    b
                } else {
                    a
                };
                Some(self.expr(k)?)
            }
            ExprKind::Binary(BinOp::Sub, _, b) => {
                let x = self.expr(b)?;
                Some(self.b.ins().ineg(x))
            }
            _ => None,
        };
        if let Some(k) = k {
            inv = Some(match inv {
                Some(r) => self.b.ins().iadd(r, k),
                None => k,
            });
        }
        let base = match inv {
            Some(off) => {
                let bytes = self.b.ins().imul_imm_s(off, size);
                self.b.ins().iadd(arr.ptr, bytes)
            }
            None => arr.ptr,
        };
        let addr = self.b.ins().iadd(base, scaled);
        let disp = i32::try_from(lane0 * size)
            .map_err(|_| self.sh.unsupported(last.span, "a vector offset over 2 GiB"))?;
        Ok((addr, disp))
    }

    pub(super) fn vexpr(
        &mut self,
        e: &Expr,
        vty: Type,
        at: Lanes,
        lets: &HashMap<VarId, CValue>,
    ) -> Result<CValue> {
        Ok(match &e.kind {
            ExprKind::Const(v) => {
                let x = self.constant(*v);
                self.b.ins().splat(vty, x)
            }
            ExprKind::Var(v) => match lets.get(v) {
                Some(x) => *x,
                None => {
                    let x = self.read_var(*v);
                    self.b.ins().splat(vty, x)
                }
            },
            ExprKind::Unary(UnOp::Neg, a) => {
                let x = self.vexpr(a, vty, at, lets)?;
                self.b.ins().fneg(x)
            }
            ExprKind::Binary(op, a, b) => {
                let x = self.vexpr(a, vty, at, lets)?;
                let y = self.vexpr(b, vty, at, lets)?;
                match op {
                    BinOp::Add => self.b.ins().fadd(x, y),
                    BinOp::Sub => self.b.ins().fsub(x, y),
                    BinOp::Mul => self.b.ins().fmul(x, y),
                    _ => self.b.ins().fdiv(x, y),
                }
            }
            ExprKind::Builtin(f @ (Builtin::Min | Builtin::Max), args) => {
                let x = self.vexpr(&args[0], vty, at, lets)?;
                let y = self.vexpr(&args[1], vty, at, lets)?;
                self.float_minmax(x, y, *f == Builtin::Min)
            }
            ExprKind::Builtin(f @ (Builtin::Sin | Builtin::Cos), args) => {
                // The partner of a pair waits in the memo (as `trig` does
                // for scalars): one reduction for `sin(x) * cos(x)`.
                let found = self
                    .trig_memo
                    .iter()
                    .position(|(a, g, _)| g == f && same_pure(a, &args[0]));
                if let Some(k) = found {
                    return Ok(self.trig_memo.swap_remove(k).2);
                }
                let x = self.vexpr(&args[0], vty, at, lets)?;
                let (sin, cos) = self.inline_sincos(x)?;
                let (mine, other, partner) = if *f == Builtin::Sin {
                    (sin, cos, Builtin::Cos)
                } else {
                    (cos, sin, Builtin::Sin)
                };
                self.trig_memo.push((args[0].clone(), partner, other));
                mine
            }
            ExprKind::Builtin(f @ (Builtin::Sqrt | Builtin::Exp | Builtin::Abs), args) => {
                let x = self.vexpr(&args[0], vty, at, lets)?;
                match f {
                    Builtin::Sqrt => self.b.ins().sqrt(x),
                    Builtin::Exp => self.inline_exp(x),
                    _ => self.b.ins().fabs(x),
                }
            }
            ExprKind::Builtin(f, args) => {
                // Lane by lane, the scalar lowering's call (`lanes`).
                let mut xs = Vec::with_capacity(args.len());
                for a in args {
                    xs.push(self.vexpr(a, vty, at, lets)?);
                }
                let mut v: Option<CValue> = None;
                for l in 0..vty.lane_count() as u8 {
                    let scalars: Vec<CValue> =
                        xs.iter().map(|x| self.b.ins().extractlane(*x, l)).collect();
                    let y = self.builtin(*f, e.ty, &scalars)?;
                    v = Some(match v {
                        None => self.b.ins().splat(vty, y),
                        Some(v) => self.b.ins().insertlane(v, y, l),
                    });
                }
                v.expect("lanes")
            }
            ExprKind::Load(acc) => {
                let (last, outer) = acc.index.split_last().expect("an index");
                if unit_stride(last, at.var) && outer.iter().all(|e| invariant(e, at.var)) {
                    let (addr, disp) = self.vector_address(acc, at.var, at.scaled, at.lane0)?;
                    self.b
                        .ins()
                        .load(vty, MemFlagsData::new().with_notrap(), addr, disp)
                } else if acc.index.iter().all(|e| invariant(e, at.var)) {
                    // The same element in every lane (`lanes`).
                    let x = self.expr(e)?;
                    self.b.ins().splat(vty, x)
                } else {
                    // Lane by lane (`lanes`).
                    let addrs = self.lane_addresses(acc, at, vty.lane_count(), e.span)?;
                    let mut v = None;
                    for (l, addr) in addrs.into_iter().enumerate() {
                        let x = self.b.ins().load(vty.lane_type(), super::flags(), addr, 0);
                        v = Some(match v {
                            None => self.b.ins().splat(vty, x),
                            Some(v) => self.b.ins().insertlane(v, x, l as u8),
                        });
                    }
                    v.expect("lanes")
                }
            }
            _ => {
                return Err(self
                    .sh
                    .unsupported(e.span, "an expression the vector plan excludes"))
            }
        })
    }
}
