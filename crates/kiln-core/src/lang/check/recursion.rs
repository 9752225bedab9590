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
