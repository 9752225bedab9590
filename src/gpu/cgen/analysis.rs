//! Read-only walks over the IR that the emitter needs up front: the frame
//! and array layouts, expression visitors, the helper call order and which
//! functions can fault.

use super::*;

pub(super) fn frame_layout(kernel: &Function) -> FrameLayout {
    let var_slots = kernel.vars.len();
    let mut next = var_slots;
    let mut shape_slots = Vec::new();
    let mut len_slots = Vec::new();
    for _ in &kernel.arrays {
        shape_slots.push([next, next + 1, next + 2]);
        len_slots.push(next + 3);
        next += 4;
    }
    let control = next;
    let result = next + 1;
    let groups = next + 2;
    let scratch = next + 3;
    FrameLayout {
        var_slots,
        shape_slots,
        len_slots,
        control,
        result,
        groups,
        scratch,
        slots: scratch + 6,
    }
}

pub(super) fn array_infos(kernel: &Function) -> Vec<ArrayInfo> {
    let mut atomic = vec![false; kernel.arrays.len()];
    visit_exprs(&kernel.body, &mut |e| {
        if let ExprKind::Atomic { access, .. } = &e.kind {
            if let Some(slot) = atomic.get_mut(access.array.index()) {
                *slot = true;
            }
        }
    });
    kernel
        .arrays
        .iter()
        .zip(atomic)
        .map(|(a, atomic)| ArrayInfo {
            name: a.name.clone(),
            elem: a.elem,
            rank: a.rank,
            mutable: a.mutable,
            atomic,
        })
        .collect()
}

/// Calls every expression of the block (pre-order), statements in order.
pub(super) fn visit_exprs(block: &Block, f: &mut dyn FnMut(&Expr)) {
    for s in &block.stmts {
        visit_stmt_exprs(s, f);
    }
}

pub(super) fn visit_stmt_exprs(s: &Stmt, f: &mut dyn FnMut(&Expr)) {
    match &s.kind {
        StmtKind::Let { init: e, .. }
        | StmtKind::Assign { value: e, .. }
        | StmtKind::Eval(e)
        | StmtKind::CheckStep(e)
        | StmtKind::Return(Some(e)) => visit_expr(e, f),
        StmtKind::Store { access, value } => {
            visit_expr(value, f);
            access.index.iter().for_each(|e| visit_expr(e, f));
        }
        StmtKind::If { cond, then, els } => {
            visit_expr(cond, f);
            visit_exprs(then, f);
            visit_exprs(els, f);
        }
        StmtKind::While { cond, body } => {
            visit_expr(cond, f);
            visit_exprs(body, f);
        }
        StmtKind::For(lp) => {
            visit_expr(&lp.start, f);
            visit_expr(&lp.count, f);
            visit_expr(&lp.stride, f);
            visit_exprs(&lp.body, f);
        }
        StmtKind::ParFor(lp) => {
            for (lo, hi) in &lp.ranges {
                visit_expr(lo, f);
                visit_expr(hi, f);
            }
            visit_exprs(&lp.body, f);
        }
        StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
    }
}

pub(super) fn visit_expr(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Const(_) | ExprKind::Var(_) | ExprKind::Len(_) | ExprKind::Shape(..) => {}
        ExprKind::Unary(_, a) | ExprKind::Cast(a) => visit_expr(a, f),
        ExprKind::Binary(_, a, b) => {
            visit_expr(a, f);
            visit_expr(b, f);
        }
        ExprKind::Builtin(_, args) | ExprKind::Call(_, args) => {
            args.iter().for_each(|a| visit_expr(a, f))
        }
        ExprKind::If(c, a, b) => {
            visit_expr(c, f);
            visit_expr(a, f);
            visit_expr(b, f);
        }
        ExprKind::Load(access) => access.index.iter().for_each(|i| visit_expr(i, f)),
        ExprKind::Atomic { access, value, .. } => {
            access.index.iter().for_each(|i| visit_expr(i, f));
            visit_expr(value, f);
        }
    }
}

/// Helpers reachable from `kernel`, callees before callers (no recursion:
/// the checker rejects it).
pub(super) fn helper_order(module: &ir::Module, kernel: &Function) -> Vec<FuncId> {
    fn visit(
        module: &ir::Module,
        f: &Function,
        seen: &mut BTreeSet<FuncId>,
        out: &mut Vec<FuncId>,
    ) {
        let mut callees = Vec::new();
        visit_exprs(&f.body, &mut |e| {
            if let ExprKind::Call(id, _) = &e.kind {
                callees.push(*id);
            }
        });
        for id in callees {
            if module.functions.get(id.index()).is_some() && seen.insert(id) {
                visit(module, module.function(id), seen, out);
                out.push(id);
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    visit(module, kernel, &mut seen, &mut out);
    out
}

/// Whether a helper can raise a fault (so callers check the flag after the
/// call). Callees are classified first (`known`).
pub(super) fn function_can_fault(
    _module: &ir::Module,
    f: &Function,
    known: &HashMap<FuncId, bool>,
) -> bool {
    let mut fault = false;
    visit_exprs(&f.body, &mut |e| match &e.kind {
        ExprKind::Binary(BinOp::Div | BinOp::Rem, a, _)
            if a.ty.is_int() || a.ty == ScalarType::Bool =>
        {
            fault = true
        }
        ExprKind::Call(id, _) if known.get(id).copied().unwrap_or(true) => fault = true,
        _ => {}
    });
    fn has_step(b: &Block) -> bool {
        b.stmts.iter().any(|s| match &s.kind {
            StmtKind::CheckStep(_) => true,
            StmtKind::If { then, els, .. } => has_step(then) || has_step(els),
            StmtKind::While { body, .. } => has_step(body),
            StmtKind::For(lp) => has_step(&lp.body),
            _ => false,
        })
    }
    fault || has_step(&f.body)
}

/// Visits the expressions directly in `s` (not in nested statements).
pub(super) fn visit_stmt_exprs_shallow(s: &Stmt, f: &mut dyn FnMut(&Expr)) {
    match &s.kind {
        StmtKind::Let { init: e, .. }
        | StmtKind::Assign { value: e, .. }
        | StmtKind::Eval(e)
        | StmtKind::CheckStep(e)
        | StmtKind::Return(Some(e)) => f(e),
        StmtKind::Store { access, value } => {
            f(value);
            access.index.iter().for_each(&mut *f);
        }
        StmtKind::If { cond, .. } | StmtKind::While { cond, .. } => f(cond),
        StmtKind::For(lp) => {
            f(&lp.start);
            f(&lp.count);
            f(&lp.stride);
        }
        StmtKind::ParFor(lp) => {
            for (lo, hi) in &lp.ranges {
                f(lo);
                f(hi);
            }
        }
        StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
    }
}

/// Calls `f` with the array of every store in `s`, nested ones included.
pub(super) fn collect_store_arrays(s: &Stmt, f: &mut dyn FnMut(ir::ArrayId)) {
    match &s.kind {
        StmtKind::Store { access, .. } => f(access.array),
        StmtKind::If { then, els, .. } => {
            then.stmts.iter().for_each(|s| collect_store_arrays(s, f));
            els.stmts.iter().for_each(|s| collect_store_arrays(s, f));
        }
        StmtKind::While { body, .. } => body.stmts.iter().for_each(|s| collect_store_arrays(s, f)),
        StmtKind::For(lp) => lp
            .body
            .stmts
            .iter()
            .for_each(|s| collect_store_arrays(s, f)),
        StmtKind::ParFor(lp) => lp
            .body
            .stmts
            .iter()
            .for_each(|s| collect_store_arrays(s, f)),
        _ => {}
    }
}
