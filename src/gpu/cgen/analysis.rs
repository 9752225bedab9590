//! Read-only walks over the IR that the emitter needs up front: the frame
//! and array layouts, the helper call order and which functions can fault.

use super::*;
use crate::ir::visit::{any_stmt, walk_block_exprs};

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
    walk_block_exprs(&kernel.body, &mut |e| {
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
        walk_block_exprs(&f.body, &mut |e| {
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
    walk_block_exprs(&f.body, &mut |e| match &e.kind {
        ExprKind::Binary(BinOp::Div | BinOp::Rem, a, _)
            if a.ty.is_int() || a.ty == ScalarType::Bool =>
        {
            fault = true
        }
        ExprKind::Call(id, _) if known.get(id).copied().unwrap_or(true) => fault = true,
        _ => {}
    });
    fault || any_stmt(&f.body, &mut |s| matches!(s.kind, StmtKind::CheckStep(_)))
}
