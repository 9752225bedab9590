//! Random well-typed kernels for differential testing:
//! `kiln::selftest::random` (shared with `kiln selftest`).

#[allow(unused_imports)]
pub use kiln::selftest::random::*;
