//! The front end: source text → AST → checked IR.

pub mod ast;
pub mod check;
pub mod diag;
pub mod lexer;
pub mod parser;

pub use diag::{Diagnostic, Diagnostics};

use crate::ir;

/// Parses and checks one source file. On failure every error found is
/// returned (parse errors first stop checking: a broken tree would only add
/// noise).
pub fn compile(file: &str, source: &str) -> Result<ir::Module, Diagnostics> {
    let (ast, errors) = parser::parse(source);
    if !errors.is_empty() {
        return Err(Diagnostics::new(file, source, errors));
    }
    check::check(file, &ast).map_err(|errors| Diagnostics::new(file, source, errors))
}
