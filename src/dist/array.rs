//! Arrays distributed in blocks of their first axis.

use super::comm::Comm;
use super::layout::{owned, Layout, Rows};
use crate::error::{Error, Result};
use crate::inputs::{HostArray, HostData};
use crate::ir::ScalarType;
use crate::runtime::args::{Arg, Element};

/// A raw view of a distributed array's full-size buffer on this rank.
#[doc(hidden)]
pub struct RawArray {
    pub(crate) ptr: *mut u8,
    pub(crate) elem: ScalarType,
    pub(crate) shape: Vec<usize>,
}

/// Something a distributed launch can take as an array: [`DistArray`], or
/// the command line's host arrays. Sealed.
pub trait DistBuffer: sealed::Sealed {
    #[doc(hidden)]
    fn raw(&mut self) -> RawArray;
    #[doc(hidden)]
    fn valid_mut(&mut self) -> &mut Vec<Rows>;
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// An array whose rows (first axis) are split in blocks over the ranks of a
/// [`Comm`]: rank `p` of `N` owns rows `[p*R/N, (p+1)*R/N)`. Each rank keeps
/// a buffer of the global size of which only its rows (and halos or gathered
/// copies) are filled; untouched pages cost no memory.
#[derive(Debug)]
pub struct DistArray<T: Element> {
    data: Vec<T>,
    shape: Vec<usize>,
    valid: Vec<Rows>,
}

fn row_elems(shape: &[usize]) -> usize {
    shape.iter().skip(1).product()
}

impl<T: Element + Default> DistArray<T> {
    /// Scatters rank 0's array: `root` is read on rank 0 only (`None`
    /// elsewhere); every rank returns its part. Collective.
    pub fn scatter(comm: &Comm, root: Option<(&[T], &[usize])>) -> Result<DistArray<T>> {
        // The shape travels from rank 0 (rank, then dims; u64::MAX: no array).
        let mut head = [u64::MAX; 4];
        if let Some((data, shape)) = root {
            if comm.is_root() {
                if shape.is_empty()
                    || shape.len() > 3
                    || shape.iter().product::<usize>() != data.len()
                {
                    head[0] = u64::MAX - 1;
                } else {
                    head[0] = shape.len() as u64;
                    for (k, &d) in shape.iter().enumerate() {
                        head[k + 1] = d as u64;
                    }
                }
            }
        }
        let head: Vec<u64> = head.iter().map(|&w| comm.broadcast_u64(w)).collect();
        if head[0] >= u64::MAX - 1 {
            return Err(Error::argument(
                "dist",
                "DistArray::scatter: rank 0 passed no array or a shape that does not match its data"
                    .to_string(),
            ));
        }
        let shape: Vec<usize> = head[1..=head[0] as usize]
            .iter()
            .map(|&d| d as usize)
            .collect();
        let n: usize = shape.iter().product();
        let data = match root {
            Some((d, _)) if comm.is_root() => d.to_vec(),
            _ => zeroed::<T>(n),
        };
        let mut a = DistArray {
            data,
            valid: Layout::on_root(shape[0], comm.size()),
            shape,
        };
        let mut l = a.layout();
        l.scatter(comm, false);
        a.valid = l.valid;
        Ok(a)
    }

    /// Builds the array from each rank's own block of rows (`local` holds
    /// rows `local_rows(shape)` of the global `shape`, the same on every rank).
    pub fn from_local(comm: &Comm, shape: &[usize], local: &[T]) -> Result<DistArray<T>> {
        if shape.is_empty() || shape.len() > 3 {
            return Err(Error::argument(
                "dist",
                format!("unsupported shape {shape:?}"),
            ));
        }
        let (lo, hi) = owned(shape[0], comm.size(), comm.rank());
        let re = row_elems(shape);
        if local.len() != (hi - lo) * re {
            return Err(Error::argument(
                "dist",
                format!(
                    "DistArray::from_local: rank {} owns rows {lo}..{hi} of {shape:?} ({} elements), got {}",
                    comm.rank(),
                    (hi - lo) * re,
                    local.len()
                ),
            ));
        }
        let mut data = zeroed::<T>(shape.iter().product());
        data[lo * re..hi * re].copy_from_slice(local);
        Ok(DistArray {
            data,
            shape: shape.to_vec(),
            valid: Layout::blocks(shape[0], comm.size()),
        })
    }

    /// The global shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The rows this rank owns.
    pub fn local_rows(&self, comm: &Comm) -> std::ops::Range<usize> {
        let (lo, hi) = owned(self.shape[0], comm.size(), comm.rank());
        lo..hi
    }

    /// This rank's own rows.
    pub fn local(&self, comm: &Comm) -> &[T] {
        let r = self.local_rows(comm);
        let re = row_elems(&self.shape);
        &self.data[r.start * re..r.end * re]
    }

    /// The whole array on rank 0 (`None` on the others). Collective.
    pub fn gather(&mut self, comm: &Comm) -> Option<Vec<T>> {
        let mut l = self.layout();
        l.gather_to_root(comm);
        self.valid = l.valid;
        comm.is_root().then(|| self.data.clone())
    }

    /// The whole array on every rank. Collective.
    pub fn all_gather(&mut self, comm: &Comm) -> &[T] {
        let mut l = self.layout();
        l.replicate(comm);
        self.valid = l.valid;
        &self.data
    }

    fn layout(&mut self) -> Layout {
        Layout {
            ptr: self.data.as_mut_ptr().cast(),
            elem: T::TYPE,
            shape: self.shape.clone(),
            row_elems: row_elems(&self.shape),
            valid: self.valid.clone(),
        }
    }
}

/// `n` zeros, allocated zeroed (pages untouched stay uncommitted).
fn zeroed<T: Element + Default>(n: usize) -> Vec<T> {
    // All element types are plain numbers whose zero is all-zero bits, for
    // which `vec!` allocates zeroed memory.
    vec![T::default(); n]
}

impl<T: Element> sealed::Sealed for DistArray<T> {}
impl<T: Element> DistBuffer for DistArray<T> {
    fn raw(&mut self) -> RawArray {
        RawArray {
            ptr: self.data.as_mut_ptr().cast(),
            elem: T::TYPE,
            shape: self.shape.clone(),
        }
    }
    fn valid_mut(&mut self) -> &mut Vec<Rows> {
        &mut self.valid
    }
}

/// A host array taking part in a distributed launch (the command line's
/// arguments): rank 0 holds the data read from the inputs, the others a
/// zeroed buffer of the same shape.
#[doc(hidden)]
pub struct HostDist<'a> {
    pub(crate) array: &'a mut HostArray,
    pub(crate) valid: Vec<Rows>,
}

impl<'a> HostDist<'a> {
    pub(crate) fn new(array: &'a mut HostArray, valid: Vec<Rows>) -> HostDist<'a> {
        HostDist { array, valid }
    }
}

impl sealed::Sealed for HostDist<'_> {}
impl DistBuffer for HostDist<'_> {
    fn raw(&mut self) -> RawArray {
        let shape = self.array.shape().to_vec();
        let elem = self.array.elem();
        let ptr = match self.array.as_arg_mut() {
            Arg::ArrayMut { data, .. } => data_ptr(data),
            _ => std::ptr::null_mut(),
        };
        RawArray { ptr, elem, shape }
    }
    fn valid_mut(&mut self) -> &mut Vec<Rows> {
        &mut self.valid
    }
}

fn data_ptr(d: crate::runtime::args::ArrayDataMut<'_>) -> *mut u8 {
    use crate::runtime::args::ArrayDataMut as D;
    match d {
        D::I32(s) => s.as_mut_ptr().cast(),
        D::U32(s) => s.as_mut_ptr().cast(),
        D::I64(s) => s.as_mut_ptr().cast(),
        D::F32(s) => s.as_mut_ptr().cast(),
        D::F64(s) => s.as_mut_ptr().cast(),
        #[allow(unreachable_patterns)]
        _ => std::ptr::null_mut(),
    }
}

/// A zeroed host array of `elem` and `shape` (the non-root ranks' buffers).
pub(crate) fn zeroed_host(elem: ScalarType, shape: &[usize]) -> Option<HostArray> {
    let n: usize = shape.iter().product();
    let data = match elem {
        ScalarType::I32 => HostData::I32(vec![0; n]),
        ScalarType::U32 => HostData::U32(vec![0; n]),
        ScalarType::I64 => HostData::I64(vec![0; n]),
        ScalarType::F32 => HostData::F32(vec![0.0; n]),
        ScalarType::F64 => HostData::F64(vec![0.0; n]),
        ScalarType::Bool => return None,
    };
    HostArray::new(data, shape.to_vec()).ok()
}
