//! The reference interpreter: walks the IR on host data. Slow and obviously
//! right; it defines the semantics every other backend is tested against.
//!
//! Every scalar operation goes through `ir::value`, so the interpreter and
//! the checker's constant folding agree by construction. Every array access
//! is bounds-checked, including those the checker marked as proven
//! (`needs_check == false`): the oracle must not trust the analysis it is
//! used to test.
//!
//! Orders the language leaves to backends, fixed here:
//! - `a[i] = e` evaluates `e`, then the indices, then checks them (Rust's
//!   order for assignments); an atomic evaluates and checks its element
//!   first, then the value (arguments left to right).
//! - A `prange` runs its iterations sequentially in row-major order, so the
//!   first faulting iteration in that order is the one reported; each
//!   reduction variable is one private partial for the whole loop.

mod arrays;
mod exec;

use crate::args::HostArg as Arg;
use crate::error::RuntimeError;
use crate::ir::{self, Value};

/// Stack for launches of modules with helpers. The interpreter recurses on
/// the IR; within one function the parser bounds nesting (256 levels), but a
/// chain of helpers, each calling the next from deep inside an expression,
/// multiplies that depth (400 helpers of 100 levels overflow an 8 MiB main
/// stack). The reservation is virtual: only the pages used are committed.
const DEEP_STACK_BYTES: usize = 256 << 20;

/// Runs `kernel` of `module` on arguments already checked against its
/// parameters (count, kinds, element types, ranks, writability).
///
/// Arguments that do not match (never passed by the runtime) do not panic: a
/// missing scalar reads as zero, a missing array has shape `[0]`, so every
/// access to it is an out-of-bounds fault.
pub fn run(
    module: &ir::Module,
    kernel: &ir::Function,
    args: &mut [Arg],
) -> Result<Option<Value>, RuntimeError> {
    if !module
        .functions
        .iter()
        .any(|f| f.kind == ir::FunctionKind::Helper)
    {
        return run_here(module, kernel, args);
    }
    // The arguments are handed over through a slot so that, should no
    // thread be had, they are still here to run on this one (deep enough for
    // all but pathological helper chains).
    let slot = std::sync::Mutex::new(Some(args));
    let take = || slot.lock().ok().and_then(|mut s| s.take());
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("kiln-interp".into())
            .stack_size(DEEP_STACK_BYTES)
            .spawn_scoped(scope, || take().map(|args| run_here(module, kernel, args)));
        let outcome = match worker {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => None,
        };
        match (outcome, take()) {
            (Some(result), _) => result,
            (None, Some(args)) => run_here(module, kernel, args),
            // Unreachable: the worker either ran with the arguments or left them.
            (None, None) => Ok(kernel.ret.map(Value::zero)),
        }
    })
}

fn run_here(
    module: &ir::Module,
    kernel: &ir::Function,
    args: &mut [Arg],
) -> Result<Option<Value>, RuntimeError> {
    let mut frame = exec::new_frame(kernel);
    let mut bound = arrays::bind(kernel, args, &mut frame);
    let mut interp = exec::Interp::new(module, kernel, &mut bound);
    interp.run_kernel(&mut frame)
}
