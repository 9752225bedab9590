//! Launch inputs, owned by the test so that the same case can be launched
//! on several backends from identical copies.

use kiln::inputs::{HostData, HostValue};
use kiln::ir::{self, Param, Value};
use kiln::Arg;

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
                        Data::I32(v) => kiln::ArrayDataMut::I32(v),
                        Data::U32(v) => kiln::ArrayDataMut::U32(v),
                        Data::I64(v) => kiln::ArrayDataMut::I64(v),
                        Data::F32(v) => kiln::ArrayDataMut::F32(v),
                        Data::F64(v) => kiln::ArrayDataMut::F64(v),
                    };
                    Arg::ArrayMut { data, shape }
                } else {
                    let data = match data {
                        Data::I32(v) => kiln::ArrayData::I32(v),
                        Data::U32(v) => kiln::ArrayData::U32(v),
                        Data::I64(v) => kiln::ArrayData::I64(v),
                        Data::F32(v) => kiln::ArrayData::F32(v),
                        Data::F64(v) => kiln::ArrayData::F64(v),
                    };
                    Arg::Array { data, shape }
                }
            }
        })
        .collect()
}

/// The input named `name`; panics when there is none (a test bug).
pub fn get<'a>(inputs: &'a [Input], name: &str) -> &'a Input {
    inputs
        .iter()
        .find(|i| i.name() == name)
        .unwrap_or_else(|| panic!("no input named `{name}`"))
}

/// A scalar input's value.
pub fn scalar(inputs: &[Input], name: &str) -> Value {
    match get(inputs, name) {
        Input::Scalar { value, .. } => *value,
        other => panic!("`{name}` is not a scalar: {other:?}"),
    }
}

/// An array input's data and shape.
pub fn array<'a>(inputs: &'a [Input], name: &str) -> (&'a Data, &'a [usize]) {
    match get(inputs, name) {
        Input::Array { data, shape, .. } => (data, shape),
        other => panic!("`{name}` is not an array: {other:?}"),
    }
}

macro_rules! typed_view {
    ($fn_name:ident, $variant:ident, $t:ty) => {
        /// The elements of an array input of this element type.
        pub fn $fn_name<'a>(inputs: &'a [Input], name: &str) -> &'a [$t] {
            match array(inputs, name).0 {
                Data::$variant(v) => v,
                other => panic!("`{name}` has another element type: {other:?}"),
            }
        }
    };
}
typed_view!(i32s, I32, i32);
typed_view!(i64s, I64, i64);
typed_view!(u32s, U32, u32);
typed_view!(f32s, F32, f32);
typed_view!(f64s, F64, f64);
