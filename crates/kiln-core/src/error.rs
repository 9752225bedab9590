//! Run-time faults of a kernel (SPEC section 9), located in the source.
//! Every backend reports its faults as these values.

use crate::ir::Span;
use std::fmt;

/// What went wrong while a kernel ran (SPEC section 9).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
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
