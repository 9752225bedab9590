//! The reference interpreter: walks the IR on host data. Slow and obviously
//! right; it defines the semantics every other backend is tested against.

use crate::error::RuntimeError;
use crate::ir::{self, Value};
use crate::runtime::args::Arg;

/// Runs `kernel` of `module` on arguments already checked against its
/// parameters (count, kinds, element types, ranks, writability).
pub fn run(module: &ir::Module, kernel: &ir::Function, args: &mut [Arg]) -> Result<Option<Value>, RuntimeError> {
    let _ = (module, kernel, args);
    unimplemented!("interpreter")
}
