//! Fault sites: the places where generated code can fault, recorded by each
//! backend's code generator in emission order, and the one decoder that turns
//! a recorded site and its operands into the located [`RuntimeError`] the
//! interpreter gives for the same fault (docs/language.md, "Run-time
//! errors"). The CPU JIT and both GPU dialects record the same kinds with
//! the same operand layout, so they decode identically.

use crate::error::{Error, Fault, Result, RuntimeError};
use crate::ir::{ArrayId, Span};

/// What can go wrong at a site, and which operands the generated code
/// records with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteKind {
    /// An array access; operands: the index tuple (`rank` of them).
    Index {
        /// The array accessed.
        array: ArrayId,
        /// How many indices the record holds.
        rank: u8,
    },
    /// Integer division by zero; no operands.
    DivisionByZero,
    /// Integer remainder by zero; no operands.
    RemainderByZero,
    /// Operand 0: the step.
    Step,
}

/// One place in the kernel's source where a fault can happen.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSite {
    /// Where in the source.
    pub span: Span,
    /// What is checked there.
    pub kind: SiteKind,
}

/// What a decoder needs to know about the launch that faulted.
pub struct FaultContext<'a> {
    /// The kernel's name.
    pub kernel: &'a str,
    /// The file the kernel came from.
    pub file: &'a str,
    /// The backend, for the error when the record names no known site.
    pub backend: &'a str,
    /// Shapes of the launch's arrays, by `ArrayId`.
    pub shapes: &'a [Vec<usize>],
    /// The source name of an array, by `ArrayId`.
    pub array_name: &'a dyn Fn(ArrayId) -> Option<String>,
}

/// Decodes the fault recorded at `sites[site]` with `operands`.
pub fn decode(
    cx: &FaultContext<'_>,
    sites: &[FaultSite],
    site: u32,
    operands: &[i64],
) -> Result<RuntimeError> {
    let found = sites.get(site as usize).ok_or_else(|| Error::Backend {
        backend: cx.backend.to_string(),
        message: format!("a fault names unknown site {site}"),
    })?;
    let op = |k: usize| operands.get(k).copied().unwrap_or(0);
    let fault = match found.kind {
        SiteKind::DivisionByZero => Fault::DivisionByZero,
        SiteKind::RemainderByZero => Fault::RemainderByZero,
        SiteKind::Step => Fault::StepNotPositive { step: op(0) },
        SiteKind::Index { array, rank } => {
            let shape = cx.shapes.get(array.index()).cloned().unwrap_or_default();
            let index: Vec<i64> = (0..rank as usize).map(op).collect();
            // The first dimension out of range is the one the message names.
            let dim = index
                .iter()
                .zip(&shape)
                .position(|(&i, &n)| i < 0 || i as u64 >= n as u64)
                .unwrap_or(0);
            Fault::IndexOutOfBounds {
                array: (cx.array_name)(array).unwrap_or_else(|| format!("#{}", array.0)),
                index,
                shape,
                dim,
            }
        }
    };
    Ok(RuntimeError {
        kernel: cx.kernel.to_string(),
        file: cx.file.to_string(),
        span: found.span,
        fault,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(line: u32) -> Span {
        Span {
            line,
            col: 3,
            ..Span::default()
        }
    }

    fn context<'a>(
        shapes: &'a [Vec<usize>],
        name: &'a dyn Fn(ArrayId) -> Option<String>,
    ) -> FaultContext<'a> {
        FaultContext {
            kernel: "k",
            file: "k.kn",
            backend: "test",
            shapes,
            array_name: name,
        }
    }

    #[test]
    fn index_fault_names_array_shape_and_first_bad_dimension() {
        let sites = [
            FaultSite {
                span: span(1),
                kind: SiteKind::Step,
            },
            FaultSite {
                span: span(7),
                kind: SiteKind::Index {
                    array: ArrayId(0),
                    rank: 2,
                },
            },
        ];
        let shapes = [vec![4, 5]];
        let name = |a: ArrayId| (a.0 == 0).then(|| "grid".to_string());
        let err = decode(&context(&shapes, &name), &sites, 1, &[3, 9, 0]).unwrap();
        assert_eq!(err.span.line, 7);
        assert_eq!(
            err.fault,
            Fault::IndexOutOfBounds {
                array: "grid".into(),
                index: vec![3, 9],
                shape: vec![4, 5],
                dim: 1,
            }
        );
        let step = decode(&context(&shapes, &name), &sites, 0, &[-2]).unwrap();
        assert_eq!(step.fault, Fault::StepNotPositive { step: -2 });
    }

    #[test]
    fn unknown_site_is_a_backend_error() {
        let name = |_: ArrayId| None;
        let err = decode(&context(&[], &name), &[], 5, &[]).unwrap_err();
        assert!(err.to_string().contains("unknown site 5"), "{err}");
    }
}
