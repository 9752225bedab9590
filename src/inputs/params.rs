//! Kernel parameters as the API and the command line describe them.

use crate::ir::{self, ScalarType};
use std::fmt;

/// A parameter's declared type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParamType {
    /// A scalar.
    Scalar(ScalarType),
    /// An array.
    Array {
        /// Its element type.
        elem: ScalarType,
        /// Its number of dimensions (1 to 3).
        rank: u8,
        /// Whether the kernel writes it (`mut`).
        mutable: bool,
    },
}

impl ParamType {
    /// Whether it is an array.
    pub fn is_array(self) -> bool {
        matches!(self, ParamType::Array { .. })
    }

    /// Whether it is a `mut` array.
    pub fn is_mut_array(self) -> bool {
        matches!(self, ParamType::Array { mutable: true, .. })
    }

    /// The scalar type, or the array's element type.
    pub fn elem(self) -> ScalarType {
        match self {
            ParamType::Scalar(t) | ParamType::Array { elem: t, .. } => t,
        }
    }
}

/// Prints as written in the source: `f32`, `f64[:, :]`, `mut i32[:]`.
impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ParamType::Scalar(t) => write!(f, "{t}"),
            ParamType::Array {
                elem,
                rank,
                mutable,
            } => {
                let dims = vec![":"; rank as usize].join(", ");
                write!(f, "{}{elem}[{dims}]", if mutable { "mut " } else { "" })
            }
        }
    }
}

/// One positional parameter of a kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// The name.
    pub name: String,
    /// The type.
    pub ty: ParamType,
}

/// The parameters of a kernel in declaration order.
pub fn params_of(function: &ir::Function) -> Vec<ParamInfo> {
    function
        .params
        .iter()
        .map(|p| match *p {
            ir::Param::Scalar(v) => {
                let var = function.var(v);
                ParamInfo {
                    name: var.name.clone(),
                    ty: ParamType::Scalar(var.ty),
                }
            }
            ir::Param::Array(a) => {
                let arr = function.array(a);
                ParamInfo {
                    name: arr.name.clone(),
                    ty: ParamType::Array {
                        elem: arr.elem,
                        rank: arr.rank,
                        mutable: arr.mutable,
                    },
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_source() {
        assert_eq!(ParamType::Scalar(ScalarType::F32).to_string(), "f32");
        let a = ParamType::Array {
            elem: ScalarType::F64,
            rank: 2,
            mutable: false,
        };
        assert_eq!(a.to_string(), "f64[:, :]");
        let m = ParamType::Array {
            elem: ScalarType::I32,
            rank: 1,
            mutable: true,
        };
        assert_eq!(m.to_string(), "mut i32[:]");
    }
}
