//! AST → IR: name resolution, type inference over whole functions, the
//! compile-time rules of SPEC sections 3-7 and 10.

use super::ast::SourceFile;
use super::diag::Diagnostic;
use crate::ir;

/// Checks a parsed file. On failure returns every independent error found.
pub fn check(file: &str, ast: &SourceFile) -> Result<ir::Module, Vec<Diagnostic>> {
    let _ = (file, ast);
    unimplemented!("checker")
}
