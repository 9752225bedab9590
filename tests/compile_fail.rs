//! Compile-fail tests of `kiln::kernels!` (docs/typed.md): kernels with
//! errors (inline and file form) fail the build with kiln's diagnostics, and
//! wrongly typed calls (element type, ndarray rank, a read-only borrow for a
//! `mut` array, a scalar's type) are rustc errors. The expected compiler
//! output is in tests/ui/*.stderr (`TRYBUILD=overwrite` rewrites it).
//!
//! All cases run in one `TestCases`, so trybuild checks kiln's dependencies
//! once (`cargo check` into target/tests/trybuild), and only in the full
//! build (`required-features` in Cargo.toml): the CPU-only CI pass would
//! check them a second time for the same result.

#[test]
fn typed_kernels_compile_fail() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
