//! Host data as every engine and the interpreter see it: array elements
//! with their type erased into an enum, and [`HostArg`], one launch
//! argument of scalars and host arrays only.

use crate::ir::{ScalarType, Value};

/// A read-only host array's elements.
#[derive(Debug)]
pub enum ArrayData<'a> {
    I32(&'a [i32]),
    U32(&'a [u32]),
    I64(&'a [i64]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

/// A writable host array's elements.
#[derive(Debug)]
pub enum ArrayDataMut<'a> {
    I32(&'a mut [i32]),
    U32(&'a mut [u32]),
    I64(&'a mut [i64]),
    F32(&'a mut [f32]),
    F64(&'a mut [f64]),
}

/// Element types an array may hold (every scalar but `bool`).
pub trait Element: Copy + Send + Sync + 'static {
    const TYPE: ScalarType;
    fn data(s: &[Self]) -> ArrayData<'_>;
    fn data_mut(s: &mut [Self]) -> ArrayDataMut<'_>;
}

macro_rules! element {
    ($t:ty, $v:ident) => {
        impl Element for $t {
            const TYPE: ScalarType = ScalarType::$v;
            fn data(s: &[Self]) -> ArrayData<'_> {
                ArrayData::$v(s)
            }
            fn data_mut(s: &mut [Self]) -> ArrayDataMut<'_> {
                ArrayDataMut::$v(s)
            }
        }
    };
}
element!(i32, I32);
element!(u32, U32);
element!(i64, I64);
element!(f32, F32);
element!(f64, F64);

impl ArrayData<'_> {
    /// A shorter-lived view of the same elements.
    pub fn reborrow(&self) -> ArrayData<'_> {
        match self {
            ArrayData::I32(s) => ArrayData::I32(s),
            ArrayData::U32(s) => ArrayData::U32(s),
            ArrayData::I64(s) => ArrayData::I64(s),
            ArrayData::F32(s) => ArrayData::F32(s),
            ArrayData::F64(s) => ArrayData::F64(s),
        }
    }

    pub fn elem(&self) -> ScalarType {
        match self {
            ArrayData::I32(_) => ScalarType::I32,
            ArrayData::U32(_) => ScalarType::U32,
            ArrayData::I64(_) => ScalarType::I64,
            ArrayData::F32(_) => ScalarType::F32,
            ArrayData::F64(_) => ScalarType::F64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ArrayData::I32(s) => s.len(),
            ArrayData::U32(s) => s.len(),
            ArrayData::I64(s) => s.len(),
            ArrayData::F32(s) => s.len(),
            ArrayData::F64(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Start address, for aliasing checks and JIT backends.
    pub fn as_ptr(&self) -> *const u8 {
        match self {
            ArrayData::I32(s) => s.as_ptr() as *const u8,
            ArrayData::U32(s) => s.as_ptr() as *const u8,
            ArrayData::I64(s) => s.as_ptr() as *const u8,
            ArrayData::F32(s) => s.as_ptr() as *const u8,
            ArrayData::F64(s) => s.as_ptr() as *const u8,
        }
    }

    /// The elements as raw bytes (native byte order), for device uploads.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ArrayData::I32(s) => bytemuck::cast_slice(s),
            ArrayData::U32(s) => bytemuck::cast_slice(s),
            ArrayData::I64(s) => bytemuck::cast_slice(s),
            ArrayData::F32(s) => bytemuck::cast_slice(s),
            ArrayData::F64(s) => bytemuck::cast_slice(s),
        }
    }
}

impl ArrayDataMut<'_> {
    /// A shorter-lived writable view of the same elements.
    pub fn reborrow_mut(&mut self) -> ArrayDataMut<'_> {
        match self {
            ArrayDataMut::I32(s) => ArrayDataMut::I32(s),
            ArrayDataMut::U32(s) => ArrayDataMut::U32(s),
            ArrayDataMut::I64(s) => ArrayDataMut::I64(s),
            ArrayDataMut::F32(s) => ArrayDataMut::F32(s),
            ArrayDataMut::F64(s) => ArrayDataMut::F64(s),
        }
    }

    /// A read-only view of the same elements.
    pub fn view(&self) -> ArrayData<'_> {
        match self {
            ArrayDataMut::I32(s) => ArrayData::I32(s),
            ArrayDataMut::U32(s) => ArrayData::U32(s),
            ArrayDataMut::I64(s) => ArrayData::I64(s),
            ArrayDataMut::F32(s) => ArrayData::F32(s),
            ArrayDataMut::F64(s) => ArrayData::F64(s),
        }
    }

    pub fn elem(&self) -> ScalarType {
        match self {
            ArrayDataMut::I32(_) => ScalarType::I32,
            ArrayDataMut::U32(_) => ScalarType::U32,
            ArrayDataMut::I64(_) => ScalarType::I64,
            ArrayDataMut::F32(_) => ScalarType::F32,
            ArrayDataMut::F64(_) => ScalarType::F64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ArrayDataMut::I32(s) => s.len(),
            ArrayDataMut::U32(s) => s.len(),
            ArrayDataMut::I64(s) => s.len(),
            ArrayDataMut::F32(s) => s.len(),
            ArrayDataMut::F64(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        match self {
            ArrayDataMut::I32(s) => s.as_mut_ptr() as *mut u8,
            ArrayDataMut::U32(s) => s.as_mut_ptr() as *mut u8,
            ArrayDataMut::I64(s) => s.as_mut_ptr() as *mut u8,
            ArrayDataMut::F32(s) => s.as_mut_ptr() as *mut u8,
            ArrayDataMut::F64(s) => s.as_mut_ptr() as *mut u8,
        }
    }

    /// The elements as raw bytes (native byte order), for device uploads.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ArrayDataMut::I32(s) => bytemuck::cast_slice(s),
            ArrayDataMut::U32(s) => bytemuck::cast_slice(s),
            ArrayDataMut::I64(s) => bytemuck::cast_slice(s),
            ArrayDataMut::F32(s) => bytemuck::cast_slice(s),
            ArrayDataMut::F64(s) => bytemuck::cast_slice(s),
        }
    }

    /// The elements as writable raw bytes, for device downloads.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        match self {
            ArrayDataMut::I32(s) => bytemuck::cast_slice_mut(s),
            ArrayDataMut::U32(s) => bytemuck::cast_slice_mut(s),
            ArrayDataMut::I64(s) => bytemuck::cast_slice_mut(s),
            ArrayDataMut::F32(s) => bytemuck::cast_slice_mut(s),
            ArrayDataMut::F64(s) => bytemuck::cast_slice_mut(s),
        }
    }
}

/// One launch argument on the host: a scalar or a row-major contiguous
/// array (`shape.iter().product()` equals the slice length). What the
/// interpreter runs on; kiln's public `Arg` adds runtime-managed arrays.
#[derive(Debug)]
pub enum HostArg<'a> {
    Scalar(Value),
    Array {
        data: ArrayData<'a>,
        shape: &'a [usize],
    },
    ArrayMut {
        data: ArrayDataMut<'a>,
        shape: &'a [usize],
    },
}
