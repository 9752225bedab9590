//! Inputs to kernels, as the command line, the benchmark suite and the tests
//! make them: `--arg` values ([`values`]), `.npy` files ([`npy`]),
//! generators ([`gen`]), kernel-file directives ([`cases`]), the owned host
//! arrays they produce ([`host`]) and the parameter types they are checked
//! against ([`params`]).
//!
//! It sits below the runtime: it uses the engine's argument views and the
//! IR, never `crate::runtime`, so the runtime (which re-exports these modules
//! under their old paths, `kiln::runtime::npy` and so on) and the command
//! line both build on it without a cycle.

pub mod cases;
pub mod gen;
pub mod host;
pub mod npy;
pub mod params;
pub mod values;

pub use host::{HostArray, HostData, HostElement};
pub use params::{ParamInfo, ParamType};
pub use values::HostValue;
