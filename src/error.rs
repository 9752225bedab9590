//! Errors every part of kiln returns. No kernel and no argument can make kiln
//! panic or abort: each fault becomes one of these values.

use crate::ir::value::ValueTypeError;
use crate::ir::Span;
use crate::lang::Diagnostics;

pub use kiln_core::error::{Fault, RuntimeError};

/// The error type of the public API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source did not parse or check.
    #[error(transparent)]
    Compile(#[from] Diagnostics),
    /// A launch argument does not match its parameter (SPEC section 8).
    #[error("kernel `{kernel}`: {message}")]
    Argument { kernel: String, message: String },
    /// The kernel faulted while running (SPEC section 9).
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A kernel name that the module does not define.
    #[error("no kernel named `{name}` in {file}{}", available_list(.available))]
    NoSuchKernel {
        name: String,
        file: String,
        available: Vec<String>,
    },
    /// A forced backend that is absent here (no driver, no adapter, not built).
    #[error("backend `{backend}` is not available: {reason}")]
    BackendUnavailable { backend: String, reason: String },
    /// A backend that cannot compile a construct of this kernel.
    #[error("{file}:{}:{}: the {backend} backend cannot compile kernel `{kernel}`: {message}", .span.line, .span.col)]
    Unsupported {
        backend: String,
        kernel: String,
        file: String,
        span: Span,
        message: String,
    },
    /// A failure inside a backend or driver that is not the kernel's fault.
    #[error("{backend} backend: {message}")]
    Backend { backend: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A host array (an `ndarray` view) that is not contiguous in row-major
    /// order, so it cannot be passed without a copy.
    #[error("an array of shape {shape:?} with strides {strides:?} is not contiguous in row-major order; pass a standard-layout copy (e.g. `a.as_standard_layout()`)")]
    NotContiguous {
        shape: Vec<usize>,
        strides: Vec<isize>,
    },
    /// A kernel result or a `Value` converted to a Rust scalar of another
    /// type (`f32::try_from(value)` on an `f64`).
    #[error(transparent)]
    ValueType(#[from] ValueTypeError),
}

fn available_list(names: &[String]) -> String {
    if names.is_empty() {
        " (it defines no kernels)".to_string()
    } else {
        format!(" (kernels: {})", names.join(", "))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
