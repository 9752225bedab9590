//! The reference interpreter (in `kiln-core`) on kiln's launch arguments.

use crate::engine::args::{host_args, Arg};
use crate::error::RuntimeError;
use crate::ir::{Function, Module, Value};

/// Runs `kernel` of `module` on arguments already checked against its
/// parameters, like `kiln_core::interp::run` on host views of `args`.
pub fn run(
    module: &Module,
    kernel: &Function,
    args: &mut [Arg],
) -> Result<Option<Value>, RuntimeError> {
    kiln_core::interp::run(module, kernel, &mut host_args(args))
}
