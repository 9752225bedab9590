//! Comparing a backend's outputs with the reference's: `kiln::selftest::compare`
//! (shared with `kiln selftest`).

#[allow(unused_imports)]
pub use kiln::selftest::compare::*;
