//! `const` items: ordered by their dependencies (any source order; cycles
//! are errors), type-checked, and folded to values at compile time with the
//! language's own scalar semantics (`ir::value`).

use super::infer::infer_const;
use super::items::{ItemRef, Items};
use super::lower::lower_const;
use crate::ir::eval::{self, Stop};
use crate::ir::value::ArithError;
use crate::ir::{Expr, Value};
use crate::lang::ast;
use crate::lang::diag::Diagnostic;

/// The value of every const (`None` where it could not be computed; the
/// reason has been reported).
pub fn fold_all(items: &Items<'_>, errors: &mut Vec<Diagnostic>) -> Vec<Option<Value>> {
    let n = items.consts.len();
    let deps: Vec<Vec<usize>> = items
        .consts
        .iter()
        .map(|c| const_deps(items, &c.value))
        .collect();
    let mut values: Vec<Option<Value>> = vec![None; n];
    let mut failed = vec![false; n];
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Active,
        Done,
    }
    let mut state = vec![State::New; n];
    for root in 0..n {
        if state[root] != State::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = State::Active;
        while let Some(&mut (c, ref mut next)) = stack.last_mut() {
            if let Some(&d) = deps[c].get(*next) {
                *next += 1;
                match state[d] {
                    State::New => {
                        state[d] = State::Active;
                        stack.push((d, 0));
                    }
                    State::Active => {
                        let pos = stack.iter().position(|&(g, _)| g == d).unwrap_or(0);
                        let mut names: Vec<String> = stack[pos..]
                            .iter()
                            .map(|&(g, _)| format!("`{}`", items.consts[g].name.name))
                            .collect();
                        names.push(format!("`{}`", items.consts[d].name.name));
                        for &(g, _) in &stack[pos..] {
                            failed[g] = true;
                        }
                        let first = items.consts[d];
                        errors.push(
                            Diagnostic::new(
                                first.name.span,
                                format!(
                                    "the const `{}` depends on itself: {}",
                                    first.name.name,
                                    names.join(" uses ")
                                ),
                            )
                            .with_hint("give one of these consts a value that does not refer back"),
                        );
                    }
                    State::Done => {}
                }
                continue;
            }
            state[c] = State::Done;
            stack.pop();
            if failed[c] || deps[c].iter().any(|&d| values[d].is_none()) {
                // A dependency's error is already reported.
                failed[c] = true;
                continue;
            }
            values[c] = fold_one(items, &values, items.consts[c], errors);
            failed[c] = values[c].is_none();
        }
    }
    values
}

fn fold_one(
    items: &Items<'_>,
    values: &[Option<Value>],
    c: &ast::ConstItem,
    errors: &mut Vec<Diagnostic>,
) -> Option<Value> {
    let before = errors.len();
    let facts = infer_const(items, values, &c.value, c.ty, errors);
    let ir = lower_const(values, &facts, &c.value, errors);
    if errors.len() > before {
        return None;
    }
    match eval(&ir) {
        Ok(v) => Some(v),
        Err(msg) => {
            errors.push(Diagnostic::new(
                c.value.span,
                format!("cannot evaluate the const `{}`: {msg}", c.name.name),
            ));
            None
        }
    }
}

/// The consts an initialiser refers to (by name).
fn const_deps(items: &Items<'_>, e: &ast::Expr) -> Vec<usize> {
    let mut out = Vec::new();
    walk(e, &mut |x| {
        if let ast::ExprKind::Name(id) = &x.kind {
            if let Some(ItemRef::Const(c)) = items.lookup(&id.name) {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
    });
    out
}

fn walk(e: &ast::Expr, f: &mut impl FnMut(&ast::Expr)) {
    use ast::ExprKind as K;
    f(e);
    match &e.kind {
        K::Int { .. } | K::Float { .. } | K::Bool(_) | K::Name(_) => {}
        K::Unary(_, a) | K::Cast(a, _) | K::Paren(a) => walk(a, f),
        K::Binary(_, a, b) => {
            walk(a, f);
            walk(b, f);
        }
        K::Call { args, .. } => args.iter().for_each(|a| walk(a, f)),
        K::MethodCall { receiver, args, .. } => {
            walk(receiver, f);
            args.iter().for_each(|a| walk(a, f));
        }
        K::Index { base, index } => {
            walk(base, f);
            index.iter().for_each(|a| walk(a, f));
        }
        K::If { cond, then, els } => {
            walk(cond, f);
            walk(then, f);
            walk(els, f);
        }
    }
}

/// Evaluates a checked const expression (only literals, operators, casts,
/// builtins and `if` can appear: pass 1 rejected everything else).
pub fn eval(e: &Expr) -> Result<Value, String> {
    eval::try_eval(e, &eval::Nothing).map_err(|stop| {
        match stop {
            Stop::Fault(ArithError::DivisionByZero) => "division by zero",
            Stop::Fault(ArithError::RemainderByZero) => "remainder by zero",
            Stop::Unknown => "it is not a constant expression",
        }
        .to_string()
    })
}
