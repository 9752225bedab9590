//! The benchmark suite behind `kiln bench`: every kernel of kernels/ at sizes
//! S/M/L on the chosen backends, validated, then timed against hand-written
//! Rust (serial and rayon) and Numba, with the machine's memory bandwidth
//! measured in the same run.

pub mod baseline;
pub mod cli;
#[cfg(feature = "mpi")]
pub mod dist;
pub mod measure;
pub mod peers;
pub mod report;
pub mod run;
pub mod sweep;

pub use run::{run, Options};
