//! Errors every part of kiln returns. No kernel and no argument can make kiln
//! panic or abort: each fault becomes one of these values.

use crate::ir::Span;
use crate::lang::Diagnostics;
use std::fmt;

/// What went wrong while a kernel ran (SPEC section 9).
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// `index` is the full index tuple; `dim` the first dimension out of range.
    IndexOutOfBounds {
        array: String,
        index: Vec<i64>,
        shape: Vec<usize>,
        dim: usize,
    },
    DivisionByZero,
    RemainderByZero,
    /// `step_by` with a step that is zero (or negative: steps are positive,
    /// as Rust's `usize` argument is).
    StepNotPositive {
        step: i64,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::IndexOutOfBounds {
                array,
                index,
                shape,
                dim,
            } => {
                let idx = if index.len() == 1 {
                    index[0].to_string()
                } else {
                    format!(
                        "[{}]",
                        index
                            .iter()
                            .map(|i| i.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let shp = shape
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                write!(
                    f,
                    "index {idx} is out of bounds for array `{array}` with shape [{shp}]"
                )?;
                if index.len() > 1 {
                    write!(
                        f,
                        " (dimension {dim}: {} not in 0..{})",
                        index[*dim], shape[*dim]
                    )?;
                }
                Ok(())
            }
            Fault::DivisionByZero => f.write_str("integer division by zero"),
            Fault::RemainderByZero => f.write_str("integer remainder by zero"),
            Fault::StepNotPositive { step } => {
                write!(f, "`step_by` needs a positive step, got {step}")
            }
        }
    }
}

/// A fault located in the source: kernel, file, line and column.
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeError {
    pub kernel: String,
    pub file: String,
    pub span: Span,
    pub fault: Fault,
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: run-time error in kernel `{}`: {}",
            self.file, self.span.line, self.span.col, self.kernel, self.fault
        )
    }
}

impl std::error::Error for RuntimeError {}

/// The error type of the public API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source did not parse or check.
    #[error("{0}")]
    Compile(#[from] Diagnostics),
    /// A launch argument does not match its parameter (SPEC section 8).
    #[error("kernel `{kernel}`: {message}")]
    Argument { kernel: String, message: String },
    /// The kernel faulted while running (SPEC section 9).
    #[error("{0}")]
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
}

fn available_list(names: &[String]) -> String {
    if names.is_empty() {
        " (it defines no kernels)".to_string()
    } else {
        format!(" (kernels: {})", names.join(", "))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
