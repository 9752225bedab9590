//! Errors every part of kiln returns. No kernel and no argument can make kiln
//! panic or abort: each fault becomes one of these values.

use crate::ir::value::ValueTypeError;
use crate::ir::Span;
use crate::lang::Diagnostics;

pub use kiln_core::error::{Fault, RuntimeError};

/// The error type of the public API. Variants that wrap another error are
/// transparent (their message is the wrapped one, printed once in an
/// `anyhow`/`eyre` chain); later versions may add variants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The source did not parse or check.
    #[error(transparent)]
    Compile(#[from] Diagnostics),
    /// A launch argument does not match its parameter (SPEC section 8), or
    /// a value given for one (`kiln run --arg`, a `//! args:` directive)
    /// does not parse. The message says it all; the other fields say it
    /// for a program.
    #[error("kernel `{kernel}`: {message}")]
    Argument {
        /// The kernel launched.
        kernel: String,
        /// The 0-based position of the argument at fault, when the error is
        /// about one argument (not the count).
        index: Option<usize>,
        /// That argument's parameter name.
        param: Option<String>,
        /// The parameter's type as written (`mut f32[:]`), when the error
        /// is a mismatch of types.
        expected: Option<String>,
        /// The argument's type, spelled the same way (`f64[:]`).
        given: Option<String>,
        /// The whole message, naming the parameter, expected and given.
        message: String,
    },
    /// The kernel faulted while running (SPEC section 9).
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A kernel name that the module does not define.
    #[error("no kernel named `{name}` in {file}{}", available_list(.available))]
    NoSuchKernel {
        /// The name asked for.
        name: String,
        /// The module's file.
        file: String,
        /// The kernels it does define, in source order.
        available: Vec<String>,
    },
    /// A forced backend that is absent here (no driver, no adapter, not built).
    #[error("backend `{backend}` is not available: {reason}")]
    BackendUnavailable {
        /// The backend's name.
        backend: String,
        /// Why it is absent.
        reason: String,
    },
    /// A backend that cannot compile a construct of this kernel.
    #[error("{file}:{}:{}: the {backend} backend cannot compile kernel `{kernel}`: {message}", .span.line, .span.col)]
    Unsupported {
        /// The backend.
        backend: String,
        /// The kernel.
        kernel: String,
        /// Its file.
        file: String,
        /// The first construct the backend cannot compile.
        span: Span,
        /// What the backend lacks.
        message: String,
    },
    /// A failure inside a backend or driver that is not the kernel's fault.
    #[error("{backend} backend: {message}")]
    Backend {
        /// The backend's name (`runtime` for the runtime itself).
        backend: String,
        /// What failed.
        message: String,
    },
    /// A file that cannot be read or written. The I/O error is part of
    /// the message (not a separate `source`, which would print it twice).
    #[error("{path}: {error}")]
    Io {
        /// The path as given.
        path: String,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// A command-line usage error that concerns no kernel (`kiln bench`'s
    /// options): the `kiln` binary exits with status 2 on it, as on
    /// clap's own usage errors.
    #[error("{message}")]
    Usage {
        /// What is wrong, and how to write it instead.
        message: String,
    },
    /// A host array (an `ndarray` view) that is not contiguous in row-major
    /// order, so it cannot be passed without a copy.
    #[error("an array of shape {shape:?} with strides {strides:?} is not contiguous in row-major order; pass a standard-layout copy (e.g. `a.as_standard_layout()`)")]
    NotContiguous {
        /// The array's shape.
        shape: Vec<usize>,
        /// Its strides, in elements.
        strides: Vec<isize>,
    },
    /// A kernel result or a `Value` converted to a Rust scalar of another
    /// type (`f32::try_from(value)` on an `f64`).
    #[error(transparent)]
    ValueType(#[from] ValueTypeError),
    /// An array expression that cannot be evaluated: shapes that do not
    /// broadcast (both named), a reduction of nothing, a bad axis.
    #[error("array expression: {message}")]
    Expr {
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// An [`Error::Argument`] with only its kernel and message (no single
    /// parameter at fault, or none known).
    pub fn argument(kernel: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Argument {
            kernel: kernel.into(),
            index: None,
            param: None,
            expected: None,
            given: None,
            message: message.into(),
        }
    }
}

fn available_list(names: &[String]) -> String {
    if names.is_empty() {
        " (it defines no kernels)".to_string()
    } else {
        format!(" (kernels: {})", names.join(", "))
    }
}

/// The result type of the public API.
pub type Result<T, E = Error> = std::result::Result<T, E>;
