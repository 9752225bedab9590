//! The procedural macro behind `kiln::kernels!` (use it through `kiln`,
//! which re-exports it; the generated code names `::kiln`).
//!
//! The macro runs kiln's front end (`kiln_core::lang`) while the calling
//! crate builds: a kernel error is a build error carrying kiln's own
//! diagnostic, and every kernel becomes two typed Rust functions. The design
//! is in docs/typed.md.

mod docs;
mod expand;
mod source;

use proc_macro::TokenStream;

/// Typed Rust functions for kiln kernels, checked while the crate builds.
///
/// ```ignore
/// kiln::kernels!("kernels/ops.kn");   // a file, relative to CARGO_MANIFEST_DIR
/// kiln::kernels! {                    // or kernels written inline
///     /// Sum of the elements.
///     kernel total(x: f32[:]) -> f32 {
///         let mut s = 0.0f32;
///         for i in prange(0..x.len()) { s += x[i]; }
///         return s;
///     }
/// }
/// let s: f32 = total(&vec![1.0, 2.0])?;                      // Backend::Auto
/// let s: f32 = total_on(kiln::Backend::Interp, &vec![1.0])?; // a forced backend
/// ```
///
/// For each `kernel k(…) [-> R]` it generates `pub fn k(params…) ->
/// kiln::Result<R>` (launched on `Backend::Auto`) and `pub fn
/// k_on(backend: kiln::Backend, params…) -> kiln::Result<R>`, documented
/// with the kernel's signature and its `///` comments. A scalar parameter
/// is the Rust scalar; a read-only array is `impl kiln::typed::In<T, RANK>`
/// (`&Vec<T>`, `&[T]`, `&kiln::Array<T>`, ndarray arrays and views); a
/// `mut` array is `impl kiln::typed::Out<T, RANK>` (the `&mut` forms and
/// mutable views). `R` is `()` for a kernel without a result.
///
/// A file path is looked up relative to the calling crate's
/// `CARGO_MANIFEST_DIR`, then relative to the directory of the invoking
/// source file; the file is embedded with `include_str!`, so editing it
/// rebuilds the crate and the binary needs no file at run time.
///
/// A kernel that does not parse or check fails the build: one compiler error
/// per diagnostic (message, `file:line:col`, the source line with a caret,
/// hint), spanned at the path (file form) or at the offending tokens
/// (inline form).
#[proc_macro]
pub fn kernels(input: TokenStream) -> TokenStream {
    expand::kernels(input.into()).into()
}
