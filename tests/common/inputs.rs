//! Launch inputs, owned by the test so that the same case can be launched
//! on several backends from identical copies (`kiln::selftest::inputs`,
//! shared with `kiln selftest`), and accessors for the tests.

#[allow(unused_imports)]
pub use kiln::selftest::inputs::{as_args, from_host, Data, Input};
use kiln::Value;

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
