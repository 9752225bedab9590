//! kiln: numerical kernels written once, run on the CPU (Cranelift JIT +
//! rayon), on NVIDIA GPUs (CUDA C via NVRTC) and on any GPU via WGSL (wgpu).
//!
//! ```
//! use kiln::{Arg, Backend, Module};
//!
//! let module = Module::from_source("saxpy.kn", r#"
//!     kernel saxpy(a: f32, x: f32[:], y: mut f32[:]) {
//!         for i in prange(0..y.len()) {
//!             y[i] = a * x[i] + y[i];
//!         }
//!     }
//! "#).unwrap();
//! let x = vec![1.0f32, 2.0, 3.0];
//! let mut y = vec![10.0f32; 3];
//! module
//!     .kernel("saxpy").unwrap()
//!     .launch_on(Backend::Interp, &mut [Arg::from(2.0f32), Arg::from(&x), Arg::from(&mut y)])
//!     .unwrap();
//! assert_eq!(y, [12.0, 14.0, 16.0]);
//! ```

#![warn(missing_docs)]

// Internal modules: public for the `kiln` binary, the benchmarks and the
// tests, outside the documented surface (docs/typed.md, section "API").
#[doc(hidden)]
#[cfg(feature = "cli")]
pub mod bench;
#[doc(hidden)]
#[cfg(feature = "cpu")]
pub mod cpu;
#[doc(hidden)]
#[cfg(feature = "cuda")]
pub mod cuda;
#[doc(hidden)]
pub mod gpu;
#[doc(hidden)]
pub mod inputs;
#[doc(hidden)]
pub mod interp;
pub mod logging;
#[doc(hidden)]
pub mod selftest;
#[doc(hidden)]
pub mod util;
#[doc(hidden)]
#[cfg(feature = "wgpu")]
pub mod wgpu;

pub mod backends;
/// SPMD execution of kernels over MPI ranks (feature `mpi`;
/// docs/distributed.md).
#[cfg(feature = "mpi")]
pub mod dist;
pub mod engine;
pub mod error;
pub mod expr;
pub mod runtime;
pub mod typed;

/// Typed Rust functions for kernels, checked while the crate builds
/// (docs/typed.md).
pub use kiln_macros::kernels;
/// The `ndarray` kiln is built with: arrays and views of it are kernel
/// arguments (`kiln::typed::In`, `kiln::typed::Out`).
pub use ndarray;

pub use error::{Error, Fault, Result, RuntimeError};
/// Lazy array expressions fused into one kernel (docs/expr.md).
pub use expr::{select, Expr};
/// The front end, IR and reference interpreter live in the `kiln-core`
/// crate; their paths under `kiln` are kept (internal, like the backends).
#[doc(hidden)]
pub use kiln_core::{ir, lang};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
pub use ir::value::ValueTypeError;
pub use ir::{ScalarType, Value};
pub use runtime::args::{Arg, ArrayData, ArrayDataMut, Element};
pub use runtime::{AnyArray, Array, Placement};
pub use runtime::{Backend, Kernel, Module};

/// The names a program that launches kernels uses:
/// `use kiln::prelude::*;`.
pub mod prelude {
    pub use crate::kernels;
    pub use crate::typed::{In, Out};
    pub use crate::{select, Expr};
    pub use crate::{Arg, Array, Backend, Error, Kernel, Module, Result, ScalarType, Value};
}
