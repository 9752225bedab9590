//! The kernel's array arguments as the interpreter sees them: element
//! storage (read-only or writable), shape, and checked element addressing.

use crate::args::{ArrayData, ArrayDataMut, HostArg as Arg};
use crate::error::Fault;
use crate::ir::{self, ScalarType, Value};

/// The most dimensions an array has (SPEC section 4).
pub const MAX_RANK: usize = 3;

enum Storage<'r> {
    ReadOnly(ArrayData<'r>),
    Writable(ArrayDataMut<'r>),
}

/// One bound array parameter.
pub struct BoundArray<'r> {
    name: String,
    storage: Storage<'r>,
    /// Extents, padded with 1 beyond `rank`.
    shape: [usize; MAX_RANK],
    rank: usize,
}

/// Binds the kernel's parameters to `args`: scalars go into `frame`, arrays
/// into the returned table (indexed by `ArrayId`).
pub fn bind<'r>(
    kernel: &ir::Function,
    args: &'r mut [Arg<'_>],
    frame: &mut [Value],
) -> Vec<BoundArray<'r>> {
    let mut bound: Vec<BoundArray<'r>> = kernel
        .arrays
        .iter()
        .map(|a| BoundArray {
            name: a.name.clone(),
            storage: Storage::ReadOnly(empty_of(a.elem)),
            shape: [0, 1, 1],
            rank: 1,
        })
        .collect();
    for (param, arg) in kernel.params.iter().zip(args.iter_mut()) {
        match (*param, arg) {
            (ir::Param::Scalar(var), Arg::Scalar(v)) => {
                if let Some(slot) = frame.get_mut(var.index()) {
                    *slot = *v;
                }
            }
            (ir::Param::Array(id), Arg::Array { data, shape }) => {
                if let Some(slot) = bound.get_mut(id.index()) {
                    slot.storage = Storage::ReadOnly(reborrow(data));
                    slot.set_shape(shape);
                }
            }
            (ir::Param::Array(id), Arg::ArrayMut { data, shape }) => {
                if let Some(slot) = bound.get_mut(id.index()) {
                    slot.storage = Storage::Writable(reborrow_mut(data));
                    slot.set_shape(shape);
                }
            }
            _ => {}
        }
    }
    bound
}

fn empty_of(elem: ScalarType) -> ArrayData<'static> {
    match elem {
        ScalarType::I32 => ArrayData::I32(&[]),
        ScalarType::U32 => ArrayData::U32(&[]),
        ScalarType::I64 => ArrayData::I64(&[]),
        ScalarType::F64 => ArrayData::F64(&[]),
        ScalarType::F32 | ScalarType::Bool => ArrayData::F32(&[]),
    }
}

fn reborrow<'r>(data: &'r ArrayData<'_>) -> ArrayData<'r> {
    match data {
        ArrayData::I32(s) => ArrayData::I32(s),
        ArrayData::U32(s) => ArrayData::U32(s),
        ArrayData::I64(s) => ArrayData::I64(s),
        ArrayData::F32(s) => ArrayData::F32(s),
        ArrayData::F64(s) => ArrayData::F64(s),
    }
}

fn reborrow_mut<'r>(data: &'r mut ArrayDataMut<'_>) -> ArrayDataMut<'r> {
    match data {
        ArrayDataMut::I32(s) => ArrayDataMut::I32(s),
        ArrayDataMut::U32(s) => ArrayDataMut::U32(s),
        ArrayDataMut::I64(s) => ArrayDataMut::I64(s),
        ArrayDataMut::F32(s) => ArrayDataMut::F32(s),
        ArrayDataMut::F64(s) => ArrayDataMut::F64(s),
    }
}

fn storage_len(storage: &Storage<'_>) -> usize {
    match storage {
        Storage::ReadOnly(d) => d.len(),
        Storage::Writable(d) => d.len(),
    }
}

impl BoundArray<'_> {
    fn set_shape(&mut self, shape: &[usize]) {
        let data_len = storage_len(&self.storage);
        let product = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if (1..=MAX_RANK).contains(&shape.len()) && product == Some(data_len) {
            self.rank = shape.len();
            self.shape = [1; MAX_RANK];
            self.shape[..self.rank].copy_from_slice(shape);
        } else {
            // A shape that disagrees with the data (never passed by the
            // runtime) is replaced by the flat length, so that addressing
            // stays inside the data.
            self.rank = 1;
            self.shape = [data_len, 1, 1];
        }
    }

    /// Total element count.
    #[inline]
    pub fn len(&self) -> usize {
        self.shape[..self.rank].iter().product()
    }

    /// Extent of dimension `d` (1 beyond the rank).
    pub fn extent(&self, d: usize) -> usize {
        self.shape.get(d).copied().unwrap_or(1)
    }

    /// The row-major offset of `index[..count]`, or the out-of-bounds fault
    /// naming the first dimension out of range. Missing trailing indices
    /// (never produced by the checker) count as 0.
    #[inline]
    pub fn offset(&self, index: &[i64; MAX_RANK], count: usize) -> Result<usize, Fault> {
        let mut offset = 0usize;
        for d in 0..self.rank {
            let i = if d < count { index[d] } else { 0 };
            // Negative or too large: `usize::try_from` rejects the first, the
            // comparison the second, without wrapping either into range.
            match usize::try_from(i) {
                Ok(i) if i < self.shape[d] => offset = offset * self.shape[d] + i,
                _ => return Err(self.out_of_bounds(index, count, d)),
            }
        }
        Ok(offset)
    }

    fn out_of_bounds(&self, index: &[i64; MAX_RANK], count: usize, dim: usize) -> Fault {
        Fault::IndexOutOfBounds {
            array: self.name.clone(),
            index: index[..count.min(MAX_RANK)].to_vec(),
            shape: self.shape[..self.rank].to_vec(),
            dim,
        }
    }

    /// The element at a checked `offset`.
    #[inline]
    pub fn get(&self, offset: usize) -> Option<Value> {
        Some(match &self.storage {
            Storage::ReadOnly(ArrayData::I32(s)) => Value::I32(*s.get(offset)?),
            Storage::ReadOnly(ArrayData::U32(s)) => Value::U32(*s.get(offset)?),
            Storage::ReadOnly(ArrayData::I64(s)) => Value::I64(*s.get(offset)?),
            Storage::ReadOnly(ArrayData::F32(s)) => Value::F32(*s.get(offset)?),
            Storage::ReadOnly(ArrayData::F64(s)) => Value::F64(*s.get(offset)?),
            Storage::Writable(ArrayDataMut::I32(s)) => Value::I32(*s.get(offset)?),
            Storage::Writable(ArrayDataMut::U32(s)) => Value::U32(*s.get(offset)?),
            Storage::Writable(ArrayDataMut::I64(s)) => Value::I64(*s.get(offset)?),
            Storage::Writable(ArrayDataMut::F32(s)) => Value::F32(*s.get(offset)?),
            Storage::Writable(ArrayDataMut::F64(s)) => Value::F64(*s.get(offset)?),
        })
    }

    /// Writes `v` (converted to the element type with `as` if it differs,
    /// which the checker never produces) at a checked `offset`. A write to a
    /// read-only array (rejected by the checker) is ignored.
    #[inline]
    pub fn set(&mut self, offset: usize, v: Value) {
        use crate::ir::value::cast;
        let Storage::Writable(data) = &mut self.storage else {
            return;
        };
        match data {
            ArrayDataMut::I32(s) => {
                if let (Some(slot), Value::I32(x)) = (s.get_mut(offset), cast(v, ScalarType::I32)) {
                    *slot = x;
                }
            }
            ArrayDataMut::U32(s) => {
                if let (Some(slot), Value::U32(x)) = (s.get_mut(offset), cast(v, ScalarType::U32)) {
                    *slot = x;
                }
            }
            ArrayDataMut::I64(s) => {
                if let (Some(slot), Value::I64(x)) = (s.get_mut(offset), cast(v, ScalarType::I64)) {
                    *slot = x;
                }
            }
            ArrayDataMut::F32(s) => {
                if let (Some(slot), Value::F32(x)) = (s.get_mut(offset), cast(v, ScalarType::F32)) {
                    *slot = x;
                }
            }
            ArrayDataMut::F64(s) => {
                if let (Some(slot), Value::F64(x)) = (s.get_mut(offset), cast(v, ScalarType::F64)) {
                    *slot = x;
                }
            }
        }
    }
}
