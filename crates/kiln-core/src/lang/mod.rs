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
    let module =
        check::check(file, &ast).map_err(|errors| Diagnostics::new(file, source, errors))?;
    // Backends rely on the IR's type rules; a violation is a checker bug,
    // reported as such rather than handed to a backend.
    ir::verify::verify(&module).map_err(|e| {
        let message = format!(
            "internal error: the checker produced ill-typed IR in `{}`: {} (this is a bug in kiln; please report it)",
            e.function, e.message
        );
        Diagnostics::new(file, source, vec![Diagnostic::new(e.span, message)])
    })?;
    Ok(module)
}
