//! Small helpers that every room uses and none owns: timing statistics and
//! their display ([`stats`]). Nothing here imports another kiln module, so
//! the backends, the runtime and the command line can all use it.

pub mod stats;

pub use stats::{duration, median};
