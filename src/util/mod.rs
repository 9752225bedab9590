//! Small helpers that every room uses and none owns: timing statistics and
//! their display ([`stats`]), files written all or nothing ([`atomic`]), and
//! host copies on huge pages ([`huge`]). Nothing here imports another kiln module (`WriteError` only
//! converts into the crate's error), so the backends, the runtime and the command line can all use it.

pub mod atomic;
pub mod huge;
pub mod stats;

pub use atomic::{write_atomic, write_atomic_with, Staged, WriteError};
pub use stats::{duration, median};
