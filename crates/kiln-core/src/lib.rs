//! kiln's front end and reference semantics, with no heavy dependencies:
//! the lexer, parser and checker of the kernel language (`lang`), the typed
//! IR with its exact scalar semantics and the one declarative table of
//! builtins (`ir`, `ir::value`, `ir::builtins`), the shared IR visitor and
//! evaluator, and the reference interpreter every backend is tested
//! against (`interp`). The `kiln` crate builds its backends and runtime on
//! it; a proc-macro crate can use it to check kernels at build time.

pub mod args;
pub mod error;
pub mod interp;
pub mod ir;
pub mod lang;
