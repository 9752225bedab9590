//! The reference interpreter: walks the IR on host data. Slow and obviously
//! right; it defines the semantics every other backend is tested against.
//!
//! Every scalar operation goes through `ir::value`, so the interpreter and
//! the checker's constant folding agree by construction. Every array access
//! is bounds-checked, including those the checker marked as proven
//! (`needs_check == false`): the oracle must not trust the analysis it is
//! used to test.

mod arrays;
mod exec;

use crate::error::RuntimeError;
use crate::ir::{self, Value};
use crate::runtime::args::Arg;

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
    let mut frame = exec::new_frame(kernel);
    let mut bound = arrays::bind(kernel, args, &mut frame);
    let mut interp = exec::Interp::new(module, kernel, &mut bound);
    interp.run_kernel(&mut frame)
}
