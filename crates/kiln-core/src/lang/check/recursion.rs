//! The no-recursion rule for helpers (they are inlined).

use super::items::Items;
use crate::ir::{FuncId, Span};
use crate::lang::diag::Diagnostic;

/// `graph[f]` lists the calls function `f` makes. Reports each cycle once,
/// at the call that closes it, naming every function on it.
pub fn check_recursion(
    items: &Items<'_>,
    graph: &[Vec<(FuncId, Span)>],
    errors: &mut Vec<Diagnostic>,
) {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Active,
        Done,
    }
    let mut state = vec![State::New; graph.len()];
    for root in 0..graph.len() {
        if state[root] != State::New {
            continue;
        }
        // Iterative DFS: (function, next call index), plus the active path.
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = State::Active;
        while let Some(&mut (f, ref mut next)) = stack.last_mut() {
            let Some(&(callee, span)) = graph[f].get(*next) else {
                state[f] = State::Done;
                stack.pop();
                continue;
            };
            *next += 1;
            let c = callee.index();
            if c >= graph.len() {
                continue;
            }
            match state[c] {
                State::New => {
                    state[c] = State::Active;
                    stack.push((c, 0));
                }
                State::Active => {
                    let pos = stack.iter().position(|&(g, _)| g == c).unwrap_or(0);
                    let mut names: Vec<String> = stack[pos..]
                        .iter()
                        .map(|&(g, _)| format!("`{}`", name(items, g)))
                        .collect();
                    names.push(format!("`{}`", name(items, c)));
                    let msg = if names.len() == 2 {
                        format!(
                            "the helper `{}` calls itself; recursion is not allowed",
                            name(items, c)
                        )
                    } else {
                        format!("recursion is not allowed: {}", names.join(" calls "))
                    };
                    errors.push(
                        Diagnostic::new(span, msg)
                            .with_hint("helpers are inlined, so they cannot call themselves directly or indirectly"),
                    );
                }
                State::Done => {}
            }
        }
    }
}

fn name<'a>(items: &'a Items<'_>, f: usize) -> &'a str {
    &items.functions[f].ast.name.name
}

/// How deep helper calls may nest, counted from the kernel (every backend
/// inlines helpers; docs/limits.md).
pub const MAX_HELPER_DEPTH: u32 = 64;

/// The most source bytes a kernel may amount to once every helper call is
/// replaced by the helper's body (helpers calling a helper twice double at
/// each level: 17 levels of `h(a) + h(a)` is 2^17 copies; docs/limits.md).
pub const MAX_INLINED_BYTES: u64 = 4 << 20;

/// Refuses kernels whose helper calls nest deeper than [`MAX_HELPER_DEPTH`]
/// or whose inlined size exceeds [`MAX_INLINED_BYTES`], so that no backend
/// can blow up compiling them. Run only on an acyclic `graph`. Iterative:
/// a chain of 70,000 helpers must not overflow the checker's stack.
pub fn check_inlining(
    items: &Items<'_>,
    graph: &[Vec<(FuncId, Span)>],
    errors: &mut Vec<Diagnostic>,
) {
    let n = graph.len();
    // (inlined bytes, nesting depth) per function, filled in post-order.
    let mut cost: Vec<Option<(u64, u32)>> = vec![None; n];
    for root in 0..n {
        let mut stack = vec![root];
        while let Some(&f) = stack.last() {
            if cost[f].is_some() {
                stack.pop();
                continue;
            }
            let pending: Vec<usize> = graph[f]
                .iter()
                .map(|&(c, _)| c.index())
                .filter(|&c| c < n && cost[c].is_none() && c != f)
                .collect();
            if !pending.is_empty() {
                stack.extend(pending);
                continue;
            }
            let span = items.functions[f].ast.span;
            let own = u64::from(span.hi.saturating_sub(span.lo));
            let (mut bytes, mut depth) = (own, 0u32);
            for &(c, _) in &graph[f] {
                if let Some(Some((b, d))) = cost.get(c.index()) {
                    bytes = bytes.saturating_add(*b);
                    depth = depth.max(d.saturating_add(1));
                }
            }
            cost[f] = Some((bytes, depth));
            stack.pop();
        }
    }
    for (f, sig) in items.functions.iter().enumerate() {
        if sig.kind != crate::ir::FunctionKind::Kernel {
            continue;
        }
        let Some((bytes, depth)) = cost[f] else {
            continue;
        };
        let at = sig.ast.name.span;
        if depth > MAX_HELPER_DEPTH {
            errors.push(
                Diagnostic::new(
                    at,
                    format!(
                        "helper calls in kernel `{}` nest {depth} deep; the limit is {MAX_HELPER_DEPTH}",
                        name(items, f)
                    ),
                )
                .with_hint("helpers are inlined at every call; flatten the chain (docs/limits.md)"),
            );
        } else if bytes > MAX_INLINED_BYTES {
            errors.push(
                Diagnostic::new(
                    at,
                    format!(
                        "kernel `{}` is {bytes} bytes of source once its helpers are inlined; the limit is {MAX_INLINED_BYTES}",
                        name(items, f)
                    ),
                )
                .with_hint(
                    "helpers are inlined at every call, so a helper that calls another twice doubles \
                     it; call it once and reuse the value with `let` (docs/limits.md)",
                ),
            );
        }
    }
}
