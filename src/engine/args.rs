//! Launch arguments as the backends see them: scalars, host arrays (the
//! element views come from `kiln_core::args`) and runtime-managed arrays.

pub use kiln_core::args::{ArrayData, ArrayDataMut, Element, HostArg};

use std::any::Any;
use std::fmt;

use super::DeviceBuffer;
use crate::ir::{ScalarType, Value};

/// An array whose placement a runtime manages (`kiln::AnyArray` is the one
/// implementation). The engine contract names it through this trait so that
/// it sits below the runtime: engines never receive one, the runtime resolves
/// it before a launch and recovers its own type with [`ManagedArray::as_any`].
/// Sealed: only the crate implements it, so the downcast cannot fail.
pub trait ManagedArray: Any + Send + Sync + fmt::Debug + sealed::Sealed {
    /// The element type.
    fn elem(&self) -> ScalarType;
    /// The shape (row-major).
    fn shape(&self) -> Vec<usize>;
    /// The array as `Any`, for the runtime's downcast.
    fn as_any(&self) -> &dyn Any;
}

pub(crate) mod sealed {
    /// Implemented inside kiln only.
    pub trait Sealed {}
}

/// One positional launch argument. Arrays are row-major and contiguous;
/// `shape.iter().product()` equals the slice length.
#[derive(Debug)]
#[non_exhaustive]
pub enum Arg<'a> {
    /// A scalar.
    Scalar(Value),
    /// A read-only host array.
    Array {
        /// Its elements.
        data: ArrayData<'a>,
        /// Its shape (row-major).
        shape: Vec<usize>,
    },
    /// A writable host array.
    ArrayMut {
        /// Its elements.
        data: ArrayDataMut<'a>,
        /// Its shape (row-major).
        shape: Vec<usize>,
    },
    /// An array already in the device memory of the kernel's engine, bound
    /// in place and never written (engines with device memory only; host
    /// engines refuse it). `shape.iter().product() == buffer.len()`.
    Device {
        /// The buffer, made by the kernel's engine.
        buffer: &'a DeviceBuffer,
        /// Its row-major shape.
        shape: Vec<usize>,
    },
    /// A writable array in the kernel's device memory: after the launch the
    /// device copy is the only valid one.
    DeviceMut {
        /// The buffer, made by the kernel's engine.
        buffer: &'a mut DeviceBuffer,
        /// Its row-major shape.
        shape: Vec<usize>,
    },
    /// A runtime-managed array (`kiln::Array`, `kiln::AnyArray`): copied to
    /// the chosen device only when it lacks a valid copy. Engines never see
    /// this variant: the runtime resolves it before a launch.
    Resident {
        /// The array.
        array: &'a dyn ManagedArray,
        /// Whether the kernel may write it (a `mut` parameter).
        writable: bool,
    },
}

impl<'a> Arg<'a> {
    /// A read-only 1-D array.
    pub fn slice<T: Element>(s: &'a [T]) -> Arg<'a> {
        Arg::Array {
            shape: vec![s.len()],
            data: T::data(s),
        }
    }

    /// A writable 1-D array.
    pub fn slice_mut<T: Element>(s: &'a mut [T]) -> Arg<'a> {
        Arg::ArrayMut {
            shape: vec![s.len()],
            data: T::data_mut(s),
        }
    }

    /// How the argument prints in error messages: `f32`, `mut f64[:, :]`.
    pub fn type_name(&self) -> String {
        fn dims(n: usize) -> String {
            vec![":"; n].join(", ")
        }
        match self {
            Arg::Scalar(v) => v.ty().name().to_string(),
            Arg::Array { data, shape } => format!("{}[{}]", data.elem(), dims(shape.len())),
            Arg::ArrayMut { data, shape } => format!("mut {}[{}]", data.elem(), dims(shape.len())),
            Arg::Device { buffer, shape } => {
                format!(
                    "{}[{}] on {}",
                    buffer.elem(),
                    dims(shape.len()),
                    buffer.device()
                )
            }
            Arg::DeviceMut { buffer, shape } => format!(
                "mut {}[{}] on {}",
                buffer.elem(),
                dims(shape.len()),
                buffer.device()
            ),
            Arg::Resident { array, writable } => format!(
                "{}{}[{}]",
                if *writable { "mut " } else { "" },
                array.elem(),
                dims(array.shape().len())
            ),
        }
    }
}

impl From<Value> for Arg<'_> {
    fn from(v: Value) -> Self {
        Arg::Scalar(v)
    }
}

macro_rules! scalar_arg {
    ($t:ty, $v:ident) => {
        impl From<$t> for Arg<'_> {
            fn from(x: $t) -> Self {
                Arg::Scalar(Value::$v(x))
            }
        }
    };
}
scalar_arg!(bool, Bool);
scalar_arg!(i32, I32);
scalar_arg!(u32, U32);
scalar_arg!(i64, I64);
scalar_arg!(f32, F32);
scalar_arg!(f64, F64);

impl<'a, T: Element> From<&'a [T]> for Arg<'a> {
    fn from(s: &'a [T]) -> Self {
        Arg::slice(s)
    }
}

impl<'a, T: Element> From<&'a mut [T]> for Arg<'a> {
    fn from(s: &'a mut [T]) -> Self {
        Arg::slice_mut(s)
    }
}

impl<'a, T: Element> From<&'a Vec<T>> for Arg<'a> {
    fn from(s: &'a Vec<T>) -> Self {
        Arg::slice(s.as_slice())
    }
}

impl<'a, T: Element> From<&'a mut Vec<T>> for Arg<'a> {
    fn from(s: &'a mut Vec<T>) -> Self {
        Arg::slice_mut(s.as_mut_slice())
    }
}

// ---------------------------------------------------------------------------
// ndarray conversions (added by the api helper; additive only).
//
// Kernels take row-major contiguous arrays, so only standard-layout views
// convert without a copy; any other layout (transposed, sliced with a step,
// negative strides) is `Error::NotContiguous`, never a panic.

use crate::error::Error;
use ndarray::{ArrayBase, ArrayView, ArrayViewMut, Dimension};

fn not_contiguous<S: ndarray::RawData, D: Dimension>(a: &ArrayBase<S, D>) -> Error {
    Error::NotContiguous {
        shape: a.shape().to_vec(),
        strides: a.strides().to_vec(),
    }
}

impl<'a> Arg<'a> {
    /// A read-only array argument from an `ndarray` view of any dimension.
    pub fn from_ndarray<T: Element, D: Dimension>(
        view: ArrayView<'a, T, D>,
    ) -> Result<Arg<'a>, Error> {
        let shape = view.shape().to_vec();
        match view.to_slice() {
            Some(s) => Ok(Arg::Array {
                data: T::data(s),
                shape,
            }),
            None => Err(not_contiguous(&view)),
        }
    }

    /// A writable array argument from a mutable `ndarray` view.
    pub fn from_ndarray_mut<T: Element, D: Dimension>(
        view: ArrayViewMut<'a, T, D>,
    ) -> Result<Arg<'a>, Error> {
        let shape = view.shape().to_vec();
        if !view.is_standard_layout() {
            return Err(not_contiguous(&view));
        }
        match view.into_slice() {
            Some(s) => Ok(Arg::ArrayMut {
                data: T::data_mut(s),
                shape,
            }),
            // Unreachable after the layout check; kept total rather than panicking.
            None => Err(Error::NotContiguous {
                shape,
                strides: Vec::new(),
            }),
        }
    }
}

impl<'a, T: Element, D: Dimension> TryFrom<ArrayView<'a, T, D>> for Arg<'a> {
    type Error = Error;
    fn try_from(view: ArrayView<'a, T, D>) -> Result<Arg<'a>, Error> {
        Arg::from_ndarray(view)
    }
}

impl<'a, T: Element, D: Dimension> TryFrom<ArrayViewMut<'a, T, D>> for Arg<'a> {
    type Error = Error;
    fn try_from(view: ArrayViewMut<'a, T, D>) -> Result<Arg<'a>, Error> {
        Arg::from_ndarray_mut(view)
    }
}

impl<'a, T: Element, D: Dimension> TryFrom<&'a ndarray::Array<T, D>> for Arg<'a> {
    type Error = Error;
    fn try_from(a: &'a ndarray::Array<T, D>) -> Result<Arg<'a>, Error> {
        Arg::from_ndarray(a.view())
    }
}

impl<'a, T: Element, D: Dimension> TryFrom<&'a mut ndarray::Array<T, D>> for Arg<'a> {
    type Error = Error;
    fn try_from(a: &'a mut ndarray::Array<T, D>) -> Result<Arg<'a>, Error> {
        Arg::from_ndarray_mut(a.view_mut())
    }
}

/// Host views of `args` for the interpreter. A runtime-managed array is
/// resolved to host data before any engine sees it, and the interpreter's
/// engine refuses device buffers ([`refuse_device_args`]); should either
/// reach here, it is left out, and the interpreter reports any access to it
/// as out of bounds (never a panic).
pub fn host_args<'x>(args: &'x mut [Arg<'_>]) -> Vec<HostArg<'x>> {
    args.iter_mut()
        .map(|a| match a {
            Arg::Scalar(v) => HostArg::Scalar(*v),
            Arg::Array { data, shape } => HostArg::Array {
                data: data.reborrow(),
                shape,
            },
            Arg::ArrayMut { data, shape } => HostArg::ArrayMut {
                data: data.reborrow_mut(),
                shape,
            },
            Arg::Resident { .. } | Arg::Device { .. } | Arg::DeviceMut { .. } => HostArg::Array {
                data: ArrayData::F32(&[]),
                shape: &[0],
            },
        })
        .collect()
}

/// The error of a host engine given an array in device memory: the runtime
/// never does that (device buffers go only to engines with device memory),
/// so only a caller of the engine contract can.
pub fn refuse_device_args(backend: &str, args: &[Arg<'_>]) -> Result<(), Error> {
    match args
        .iter()
        .position(|a| matches!(a, Arg::Device { .. } | Arg::DeviceMut { .. }))
    {
        None => Ok(()),
        Some(k) => Err(Error::Backend {
            backend: backend.to_string(),
            message: format!(
                "argument {} is a device buffer ({}); the {backend} engine runs on host memory",
                k + 1,
                args[k].type_name()
            ),
        }),
    }
}
