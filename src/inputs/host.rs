//! Owned, type-erased host arrays: what the command line and the benchmark
//! suite build from generators and `.npy` files and pass to kernels.

use crate::engine::args::{Arg, Element};
use crate::ir::{ScalarType, Value};
use crate::util::huge;
use std::fmt;

/// A shape that does not hold exactly the data given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// The shape given.
    pub shape: Vec<usize>,
    /// The number of elements given.
    pub len: usize,
}

impl fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shape {:?} does not hold the {} elements given",
            self.shape, self.len
        )
    }
}

impl std::error::Error for ShapeMismatch {}

/// The elements of an owned array, row-major.
#[derive(Debug, PartialEq)]
pub enum HostData {
    /// `i32` elements.
    I32(Vec<i32>),
    /// `u32` elements.
    U32(Vec<u32>),
    /// `i64` elements.
    I64(Vec<i64>),
    /// `f32` elements.
    F32(Vec<f32>),
    /// `f64` elements.
    F64(Vec<f64>),
}

/// Applies `$body` to the vector inside any `HostData` variant.
macro_rules! each {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            HostData::I32($v) => $body,
            HostData::U32($v) => $body,
            HostData::I64($v) => $body,
            HostData::F32($v) => $body,
            HostData::F64($v) => $body,
        }
    };
}
pub(crate) use each;

impl Clone for HostData {
    fn clone(&self) -> Self {
        match self {
            HostData::I32(v) => HostData::I32(huge::copy(v)),
            HostData::U32(v) => HostData::U32(huge::copy(v)),
            HostData::I64(v) => HostData::I64(huge::copy(v)),
            HostData::F32(v) => HostData::F32(huge::copy(v)),
            HostData::F64(v) => HostData::F64(huge::copy(v)),
        }
    }

    /// Reuses the allocation when the element types match: restoring a
    /// kernel's inputs between repeats then costs a memcpy, not an allocation.
    fn clone_from(&mut self, source: &Self) {
        match (self, source) {
            (HostData::I32(a), HostData::I32(b)) => a.clone_from(b),
            (HostData::U32(a), HostData::U32(b)) => a.clone_from(b),
            (HostData::I64(a), HostData::I64(b)) => a.clone_from(b),
            (HostData::F32(a), HostData::F32(b)) => a.clone_from(b),
            (HostData::F64(a), HostData::F64(b)) => a.clone_from(b),
            (this, source) => *this = source.clone(),
        }
    }
}

impl HostData {
    /// The element type.
    pub fn elem(&self) -> ScalarType {
        match self {
            HostData::I32(_) => ScalarType::I32,
            HostData::U32(_) => ScalarType::U32,
            HostData::I64(_) => ScalarType::I64,
            HostData::F32(_) => ScalarType::F32,
            HostData::F64(_) => ScalarType::F64,
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        each!(self, v => v.len())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as a `Value`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<Value> {
        match self {
            HostData::I32(v) => v.get(i).map(|&x| Value::I32(x)),
            HostData::U32(v) => v.get(i).map(|&x| Value::U32(x)),
            HostData::I64(v) => v.get(i).map(|&x| Value::I64(x)),
            HostData::F32(v) => v.get(i).map(|&x| Value::F32(x)),
            HostData::F64(v) => v.get(i).map(|&x| Value::F64(x)),
        }
    }
}

/// Element types a `HostArray` can hold, with the conversions to and from
/// the type-erased `HostData`.
pub trait HostElement: Element {
    /// The elements, type-erased.
    fn wrap(v: Vec<Self>) -> HostData;
    /// The elements of `d`, when they are `Self`s.
    fn slice(d: &HostData) -> Option<&[Self]>;
    /// The elements of `d` for writing, when they are `Self`s.
    fn slice_mut(d: &mut HostData) -> Option<&mut [Self]>;
}

macro_rules! host_element {
    ($t:ty, $v:ident) => {
        impl HostElement for $t {
            fn wrap(v: Vec<Self>) -> HostData {
                HostData::$v(v)
            }
            fn slice(d: &HostData) -> Option<&[Self]> {
                match d {
                    HostData::$v(v) => Some(v),
                    _ => None,
                }
            }
            fn slice_mut(d: &mut HostData) -> Option<&mut [Self]> {
                match d {
                    HostData::$v(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
host_element!(i32, I32);
host_element!(u32, U32);
host_element!(i64, I64);
host_element!(f32, F32);
host_element!(f64, F64);

/// An owned row-major array: element type, data and shape, with
/// `shape.iter().product() == data.len()` always.
#[derive(Debug, PartialEq)]
pub struct HostArray {
    data: HostData,
    shape: Vec<usize>,
}

impl Clone for HostArray {
    fn clone(&self) -> Self {
        HostArray {
            data: self.data.clone(),
            shape: self.shape.clone(),
        }
    }

    fn clone_from(&mut self, source: &Self) {
        self.data.clone_from(&source.data);
        self.shape.clone_from(&source.shape);
    }
}

impl HostArray {
    /// A copy, or `None` when the memory for it cannot be had (where
    /// `clone` would abort the process).
    pub fn try_clone(&self) -> Option<HostArray> {
        let data = each!(&self.data, v => HostElement::wrap(huge::try_copy(v)?));
        Some(HostArray {
            data,
            shape: self.shape.clone(),
        })
    }

    /// An array of `data` with `shape`; the shape must hold exactly the data.
    pub fn new(data: HostData, shape: Vec<usize>) -> Result<HostArray, ShapeMismatch> {
        let product = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if product != Some(data.len()) {
            return Err(ShapeMismatch {
                shape,
                len: data.len(),
            });
        }
        Ok(HostArray { data, shape })
    }

    /// A typed vector with a shape.
    pub fn from_vec<T: HostElement>(
        v: Vec<T>,
        shape: Vec<usize>,
    ) -> Result<HostArray, ShapeMismatch> {
        HostArray::new(T::wrap(v), shape)
    }

    /// A 1-D array.
    pub fn from_vec_1d<T: HostElement>(v: Vec<T>) -> HostArray {
        let n = v.len();
        HostArray {
            data: T::wrap(v),
            shape: vec![n],
        }
    }

    /// The element type.
    pub fn elem(&self) -> ScalarType {
        self.data.elem()
    }

    /// The shape (row-major).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements.
    pub fn data(&self) -> &HostData {
        &self.data
    }

    /// The elements, without the shape.
    pub fn into_data(self) -> HostData {
        self.data
    }

    /// The elements as `&[T]`, or `None` when they are not `T`.
    pub fn as_slice<T: HostElement>(&self) -> Option<&[T]> {
        T::slice(&self.data)
    }

    /// Element `i` (row-major), or `None` past the end.
    pub fn get(&self, i: usize) -> Option<Value> {
        self.data.get(i)
    }

    /// A read-only launch argument.
    pub fn as_arg(&self) -> Arg<'_> {
        let shape = self.shape.clone();
        each!(&self.data, v => Arg::Array { data: Element::data(v.as_slice()), shape })
    }

    /// A writable launch argument.
    pub fn as_arg_mut(&mut self) -> Arg<'_> {
        let shape = self.shape.clone();
        each!(&mut self.data, v => Arg::ArrayMut { data: Element::data_mut(v.as_mut_slice()), shape })
    }

    /// `[1.5, 2, 3, …, 7]`: the first and last few elements, for humans.
    pub fn preview(&self, max: usize) -> String {
        let n = self.len();
        let show = |i: usize| self.get(i).map(|v| v.to_string()).unwrap_or_default();
        let items: Vec<String> = if n <= max {
            (0..n).map(show).collect()
        } else {
            let head = max.div_ceil(2);
            let tail = max - head;
            (0..head)
                .map(show)
                .chain(std::iter::once("…".to_string()))
                .chain((n - tail..n).map(show))
                .collect()
        };
        format!("[{}]", items.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_must_hold_the_data() {
        assert!(HostArray::from_vec(vec![1.0f32; 6], vec![2, 3]).is_ok());
        assert!(HostArray::from_vec(vec![1.0f32; 6], vec![4, 2]).is_err());
    }

    #[test]
    fn clone_from_restores_values() {
        let original = HostArray::from_vec(vec![1i32, 2, 3], vec![3]).unwrap();
        let mut work = original.clone();
        if let Arg::ArrayMut {
            data: crate::ArrayDataMut::I32(s),
            ..
        } = work.as_arg_mut()
        {
            s[0] = 99;
        }
        assert_eq!(work.as_slice::<i32>().unwrap(), &[99, 2, 3]);
        work.clone_from(&original);
        assert_eq!(work, original);
    }

    #[test]
    fn preview_elides_the_middle() {
        let a = HostArray::from_vec_1d((0..10).collect::<Vec<i64>>());
        assert_eq!(a.preview(4), "[0, 1, …, 8, 9]");
        assert_eq!(a.preview(20), "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]");
    }
}
