//! Launch inputs, owned, so that the same case can be launched on several
//! backends from identical copies.

use crate::engine::args::{Arg, ArrayData, ArrayDataMut};
use crate::inputs::{HostData, HostValue};
use crate::ir::{self, Param, Value};

/// An owned array's elements.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    I32(Vec<i32>),
    U32(Vec<u32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// One positional argument, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    Scalar {
        name: String,
        value: Value,
    },
    Array {
        name: String,
        data: Data,
        shape: Vec<usize>,
        mutable: bool,
    },
}

impl Input {
    pub fn name(&self) -> &str {
        match self {
            Input::Scalar { name, .. } | Input::Array { name, .. } => name,
        }
    }
}

/// Converts the runtime's generated arguments (from a file's directives)
/// into owned inputs, naming each after its parameter.
pub fn from_host(kernel: &ir::Function, values: Vec<HostValue>) -> Vec<Input> {
    kernel
        .params
        .iter()
        .zip(values)
        .map(|(&p, value)| match (p, value) {
            (Param::Scalar(v), HostValue::Scalar(value)) => Input::Scalar {
                name: kernel.var(v).name.clone(),
                value,
            },
            (Param::Array(a), HostValue::Array(host)) => {
                let decl = kernel.array(a);
                let shape = host.shape().to_vec();
                let data = match host.into_data() {
                    HostData::I32(v) => Data::I32(v),
                    HostData::U32(v) => Data::U32(v),
                    HostData::I64(v) => Data::I64(v),
                    HostData::F32(v) => Data::F32(v),
                    HostData::F64(v) => Data::F64(v),
                };
                Input::Array {
                    name: decl.name.clone(),
                    data,
                    shape,
                    mutable: decl.mutable,
                }
            }
            (p, v) => panic!("argument {v:?} does not fit parameter {p:?}"),
        })
        .collect()
}

/// Borrows the inputs as launch arguments.
pub fn as_args(inputs: &mut [Input]) -> Vec<Arg<'_>> {
    inputs
        .iter_mut()
        .map(|input| match input {
            Input::Scalar { value, .. } => Arg::Scalar(*value),
            Input::Array {
                data,
                shape,
                mutable,
                ..
            } => {
                let shape = shape.clone();
                if *mutable {
                    let data = match data {
                        Data::I32(v) => ArrayDataMut::I32(v),
                        Data::U32(v) => ArrayDataMut::U32(v),
                        Data::I64(v) => ArrayDataMut::I64(v),
                        Data::F32(v) => ArrayDataMut::F32(v),
                        Data::F64(v) => ArrayDataMut::F64(v),
                    };
                    Arg::ArrayMut { data, shape }
                } else {
                    let data = match data {
                        Data::I32(v) => ArrayData::I32(v),
                        Data::U32(v) => ArrayData::U32(v),
                        Data::I64(v) => ArrayData::I64(v),
                        Data::F32(v) => ArrayData::F32(v),
                        Data::F64(v) => ArrayData::F64(v),
                    };
                    Arg::Array { data, shape }
                }
            }
        })
        .collect()
}
