//! AST → IR: name resolution, type inference over whole functions, the
//! compile-time rules of SPEC sections 3-7 and 10.
//!
//! - `items`: the file's symbol table and signature rules;
//! - `consts`: const ordering, cycles and folding;
//! - `infer` (pass 1): names and types, with `infer::calls` (helpers,
//!   builtins, methods, atomics), `types` (union-find) and `builtins`
//!   (call signatures);
//! - `lower` (pass 2): IR construction and the structural rules, with
//!   `ranges` (serial loop normalisation), `parallel` (`prange` and
//!   reductions) and `returns` (every path returns);
//! - `recursion`: no recursion among helpers, and the inlining budgets
//!   (nesting depth, inlined size) that every backend relies on.
//!
//! Every error is collected; checking continues past each one, and types
//! that could not be determined are an error sentinel that absorbs further
//! constraints, so one mistake yields one message.

mod builtins;
mod consts;
mod infer;
mod items;
mod lower;
mod parallel;
mod ranges;
mod recursion;
mod returns;
mod suggest;
mod types;

use super::ast::{Expr, ExprKind, SourceFile};
use super::diag::Diagnostic;
use crate::ir::{self, FuncId};

/// Checks a parsed file. On failure returns every independent error found.
pub fn check(file: &str, ast: &SourceFile) -> Result<ir::Module, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let items = items::collect(ast, &mut errors);
    let consts = consts::fold_all(&items, &mut errors);
    let mut functions = Vec::with_capacity(items.functions.len());
    let mut call_graph = Vec::with_capacity(items.functions.len());
    for k in 0..items.functions.len() {
        let id = FuncId(k as u32);
        let facts = infer::infer_function(&items, &consts, id, &mut errors);
        functions.push(lower::lower_function(
            &items,
            &consts,
            &facts,
            id,
            &mut errors,
        ));
        call_graph.push(facts.calls);
    }
    let before = errors.len();
    recursion::check_recursion(&items, &call_graph, &mut errors);
    if errors.len() == before {
        recursion::check_inlining(&items, &call_graph, &mut errors);
    }
    if errors.is_empty() {
        Ok(ir::Module {
            file: file.to_string(),
            functions,
        })
    } else {
        Err(errors)
    }
}

/// The identity of an AST node, for the side tables pass 1 fills (the tree
/// is borrowed immutably for the whole check, so addresses are stable).
fn addr<T>(node: &T) -> usize {
    node as *const T as usize
}

/// `e` without surrounding parentheses.
fn strip_parens(mut e: &Expr) -> &Expr {
    while let ExprKind::Paren(inner) = &e.kind {
        e = inner;
    }
    e
}
