//! Runtime-managed arrays: a shape plus data valid on the host, on one
//! device, or both.
//!
//! A launch copies an [`Array`] only when the chosen device lacks a valid
//! copy, and afterwards marks what the kernel wrote as valid only where it
//! ran. Reading on the host ([`Array::to_vec`], [`Array::as_slice`], ...)
//! copies back first when the host copy is stale. Every copy is counted
//! ([`Array::transfers`]).
//!
//! [`AnyArray`] is the untyped form (the command line builds it from `.npy`
//! files and generators); [`Array<T>`] is a typed handle around one.

use super::args::{Arg, ArrayData, ArrayDataMut, Element, ManagedArray};
use super::device::{self, DeviceBuffer, DeviceId, Transfers};
use super::Engine;
use crate::error::{Error, Result};
use crate::inputs::host::{each, HostArray, HostData, HostElement, ShapeMismatch};
use crate::ir::ScalarType;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Where an array's data is valid right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Residency {
    /// Whether the host copy is valid.
    pub host: bool,
    /// The device holding a copy, and whether that copy is valid.
    pub device: Option<(DeviceId, bool)>,
}

impl Residency {
    /// Whether `device` holds a valid copy (the host counts as the device of
    /// every host engine).
    pub fn valid_on(&self, device: Option<DeviceId>) -> bool {
        match device {
            None => self.host,
            Some(d) => self.device == Some((d, true)),
        }
    }
}

/// The copy on a device, with the engine that owns its memory.
pub(crate) struct DeviceCopy {
    pub engine: Arc<dyn Engine>,
    pub buffer: DeviceBuffer,
    pub valid: bool,
}

/// Everything behind an array's lock. Invariant: `host_valid` or the device
/// copy is valid (data is never lost).
pub(crate) struct State {
    pub shape: Vec<usize>,
    /// Always allocated, so syncing back never allocates.
    pub host: HostData,
    pub host_valid: bool,
    /// Every element is zero and nothing has written the array since it
    /// was made so: a device copy is zeroed memory, not an upload.
    pub zeros: bool,
    pub device: Option<DeviceCopy>,
    pub transfers: Transfers,
    /// `launch_async` launches that use this array, numbered in launch
    /// order: `issued` so far, `done` ended. A launch with ticket `t` runs
    /// when `done == t`; host access and synchronous launches wait for
    /// `done == issued`.
    pub issued: u64,
    pub done: u64,
}

impl State {
    pub fn residency(&self) -> Residency {
        Residency {
            host: self.host_valid,
            device: self.device.as_ref().map(|d| (d.buffer.device(), d.valid)),
        }
    }

    /// Makes the host copy valid, downloading it when only a device has it.
    pub fn sync_host(&mut self) -> Result<()> {
        if self.host_valid {
            return Ok(());
        }
        let Some(dev) = self.device.as_ref().filter(|d| d.valid) else {
            // Unreachable by the invariant; an error rather than stale data.
            return Err(Error::Backend {
                backend: "runtime".into(),
                message: "an array has no valid copy anywhere".into(),
            });
        };
        let bytes = dev.buffer.bytes();
        let mut dst = host_data_mut(&mut self.host);
        dev.engine.download(&dev.buffer, &mut dst)?;
        self.host_valid = true;
        self.transfers.downloads += 1;
        self.transfers.bytes_down += bytes as u64;
        device::count_download(bytes);
        Ok(())
    }

    /// Makes a valid copy exist on `engine`'s device, uploading from the
    /// host (after syncing it from another device) when needed.
    pub fn sync_device(&mut self, engine: &Arc<dyn Engine>) -> Result<()> {
        let target = engine.device();
        if matches!(&self.device, Some(d) if d.valid && d.buffer.device() == target) {
            return Ok(());
        }
        if self.zeros && engine.has_device_memory() {
            let len = self.host.len();
            let buffer = engine.alloc(self.host.elem(), len)?;
            self.device = Some(DeviceCopy {
                engine: engine.clone(),
                buffer,
                valid: true,
            });
            return Ok(());
        }
        self.sync_host()?;
        let data = host_data(&self.host);
        let bytes = data.len() * data.elem().size_bytes();
        match &mut self.device {
            // Same device and size: reuse the memory.
            Some(d) if d.buffer.device() == target && d.buffer.len() == data.len() => {
                engine.upload_into(&mut d.buffer, &data)?;
                d.valid = true;
            }
            slot => {
                let buffer = engine.upload(&data)?;
                *slot = Some(DeviceCopy {
                    engine: engine.clone(),
                    buffer,
                    valid: true,
                });
            }
        }
        self.transfers.uploads += 1;
        self.transfers.bytes_up += bytes as u64;
        device::count_upload(bytes);
        Ok(())
    }

    /// A kernel wrote the host copy: the device copy is stale.
    pub fn wrote_host(&mut self) {
        self.zeros = false;
        self.host_valid = true;
        if let Some(d) = &mut self.device {
            d.valid = false;
        }
    }

    /// A kernel wrote the device copy: the host copy is stale.
    pub fn wrote_device(&mut self) {
        self.zeros = false;
        if let Some(d) = &mut self.device {
            d.valid = true;
            self.host_valid = false;
        }
    }

    pub fn host_arg(&self) -> Arg<'_> {
        Arg::Array {
            data: host_data(&self.host),
            shape: self.shape.clone(),
        }
    }

    pub fn host_arg_mut(&mut self) -> Arg<'_> {
        self.zeros = false;
        Arg::ArrayMut {
            data: host_data_mut(&mut self.host),
            shape: self.shape.clone(),
        }
    }
}

pub(crate) fn host_data(d: &HostData) -> ArrayData<'_> {
    each!(d, v => Element::data(v.as_slice()))
}

pub(crate) fn host_data_mut(d: &mut HostData) -> ArrayDataMut<'_> {
    each!(d, v => Element::data_mut(v.as_mut_slice()))
}

/// An untyped runtime-managed array (see the module documentation).
pub struct AnyArray {
    state: Mutex<State>,
    /// Signalled when `pending` drops to zero.
    idle: Condvar,
    elem: ScalarType,
}

impl fmt::Debug for AnyArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        write!(
            f,
            "AnyArray({} {:?}, {:?})",
            self.elem,
            s.shape,
            s.residency()
        )
    }
}

impl crate::engine::args::sealed::Sealed for AnyArray {}

impl ManagedArray for AnyArray {
    fn elem(&self) -> ScalarType {
        self.elem
    }
    fn shape(&self) -> Vec<usize> {
        AnyArray::shape(self)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The runtime's own array behind an `Arg::Resident`.
pub(crate) fn managed(array: &dyn ManagedArray) -> &AnyArray {
    array
        .as_any()
        .downcast_ref()
        .expect("ManagedArray is sealed: AnyArray is its only implementation")
}

impl AnyArray {
    /// Declares the contents all zeros (the caller just made them so): the
    /// first copy to a device allocates zeroed memory instead of uploading.
    pub(crate) fn known_zeros(&self) {
        self.lock().zeros = true;
    }

    /// An array valid on the host only.
    pub fn from_host(a: HostArray) -> AnyArray {
        let shape = a.shape().to_vec();
        let elem = a.elem();
        AnyArray {
            state: Mutex::new(State {
                shape,
                host: a.into_data(),
                host_valid: true,
                zeros: false,
                device: None,
                transfers: Transfers::default(),
                issued: 0,
                done: 0,
            }),
            idle: Condvar::new(),
            elem,
        }
    }

    /// The element type.
    pub fn elem(&self) -> ScalarType {
        self.elem
    }

    /// The shape (row-major).
    pub fn shape(&self) -> Vec<usize> {
        self.lock().shape.clone()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.lock().host.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies this array made (uploads and downloads).
    pub fn transfers(&self) -> Transfers {
        self.lock_idle().transfers
    }

    /// Where the data is valid, once pending asynchronous launches ended.
    pub fn residency(&self) -> Residency {
        self.lock_idle().residency()
    }

    /// A host copy (syncing back from the device first when needed).
    pub fn to_host(&self) -> Result<HostArray> {
        let mut s = self.lock_idle();
        s.sync_host()?;
        HostArray::new(s.host.clone(), s.shape.clone()).map_err(shape_error)
    }

    /// The data on the host, consuming the array.
    pub fn into_host(self) -> Result<HostArray> {
        self.to_host()
    }

    /// Makes the host copy valid now (a no-op when it is).
    pub fn sync_to_host(&self) -> Result<()> {
        self.lock_idle().sync_host()
    }

    /// Drops the device copy (after syncing it back), freeing its memory.
    pub fn evict(&self) -> Result<()> {
        let mut s = self.lock_idle();
        s.sync_host()?;
        s.device = None;
        Ok(())
    }

    /// The lock, ignoring poisoning: a panic elsewhere leaves the state as
    /// consistent as the last completed transition.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lock once no asynchronous launch is pending on this array.
    pub(crate) fn lock_idle(&self) -> MutexGuard<'_, State> {
        let mut s = self.lock();
        while s.done < s.issued {
            s = self.idle.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s
    }

    /// The lock once every asynchronous launch before `ticket` ended.
    pub(crate) fn lock_turn(&self, ticket: u64) -> MutexGuard<'_, State> {
        let mut s = self.lock();
        while s.done < ticket {
            s = self.idle.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s
    }

    /// Registers an asynchronous launch that will use this array; returns
    /// its ticket.
    pub(crate) fn issue_ticket(&self) -> u64 {
        let mut s = self.lock();
        s.issued += 1;
        s.issued - 1
    }

    /// Ends the asynchronous launch holding the current turn.
    pub(crate) fn end_turn(&self) {
        let mut s = self.lock();
        s.done += 1;
        self.idle.notify_all();
    }

    /// A read-only launch argument.
    pub fn arg(&self) -> Arg<'_> {
        Arg::Resident {
            array: self,
            writable: false,
        }
    }

    /// A writable launch argument.
    pub fn arg_mut(&mut self) -> Arg<'_> {
        Arg::Resident {
            array: self,
            writable: true,
        }
    }
}

fn shape_error(e: ShapeMismatch) -> Error {
    Error::Backend {
        backend: "runtime".into(),
        message: e.to_string(),
    }
}

impl From<HostArray> for AnyArray {
    fn from(a: HostArray) -> AnyArray {
        AnyArray::from_host(a)
    }
}

/// A typed runtime-managed array of `T` (see the module documentation).
///
/// ```
/// use kiln::runtime::Array;
/// let mut a = Array::from(vec![1.0f32, 2.0, 3.0]);
/// a.as_mut_slice().unwrap()[0] = 5.0;
/// assert_eq!(a.to_vec().unwrap(), [5.0, 2.0, 3.0]);
/// assert_eq!(a.shape(), [3]);
/// ```
pub struct Array<T: HostElement> {
    // An `Arc` so that `launch_async` can keep the array alive while it runs.
    inner: Arc<AnyArray>,
    _elem: PhantomData<T>,
}

impl<T: HostElement> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<T: HostElement> Array<T> {
    /// An array of `data` with `shape` (row-major); the shape must hold
    /// exactly the data.
    pub fn from_shape_vec(shape: Vec<usize>, data: Vec<T>) -> Result<Array<T>, ShapeMismatch> {
        Ok(Array::wrap(HostArray::from_vec(data, shape)?))
    }

    /// A 1-D array.
    pub fn from_vec(data: Vec<T>) -> Array<T> {
        Array::wrap(HostArray::from_vec_1d(data))
    }

    /// A copy of an `ndarray` array of any layout (taken in logical,
    /// row-major order).
    pub fn from_ndarray<D: ndarray::Dimension>(a: ndarray::ArrayView<'_, T, D>) -> Array<T> {
        let shape = a.shape().to_vec();
        let data: Vec<T> = a.iter().copied().collect();
        // The iterator yields exactly `shape.product()` elements.
        Array::from_shape_vec(shape, data).unwrap_or_else(|_| Array::from_vec(Vec::new()))
    }

    fn wrap(h: HostArray) -> Array<T> {
        Array {
            inner: Arc::new(AnyArray::from_host(h)),
            _elem: PhantomData,
        }
    }

    /// The shape (row-major).
    pub fn shape(&self) -> Vec<usize> {
        self.inner.shape()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The untyped array.
    pub fn as_any(&self) -> &AnyArray {
        &self.inner
    }

    pub(crate) fn shared(&self) -> &Arc<AnyArray> {
        &self.inner
    }

    /// The copies between host and devices so far.
    pub fn transfers(&self) -> Transfers {
        self.inner.transfers()
    }

    /// Where the data is valid now.
    pub fn residency(&self) -> Residency {
        self.inner.residency()
    }

    /// The elements, synced back to the host first when needed.
    pub fn to_vec(&self) -> Result<Vec<T>> {
        let mut s = self.inner.lock_idle();
        s.sync_host()?;
        Ok(T::slice(&s.host).map(|v| v.to_vec()).unwrap_or_default())
    }

    /// The elements as an `ndarray` array of the array's shape.
    pub fn to_ndarray(&self) -> Result<ndarray::ArrayD<T>> {
        let shape = self.shape();
        ndarray::ArrayD::from_shape_vec(shape, self.to_vec()?).map_err(|e| Error::Backend {
            backend: "runtime".into(),
            message: e.to_string(),
        })
    }

    /// The host copy, synced first when needed (the device copy stays
    /// valid).
    pub fn as_slice(&mut self) -> Result<&[T]> {
        let s = self.state_mut()?;
        s.sync_host()?;
        Ok(T::slice(&s.host).unwrap_or(&[]))
    }

    /// The host copy for writing: synced first, and afterwards the only
    /// valid copy.
    pub fn as_mut_slice(&mut self) -> Result<&mut [T]> {
        let s = self.state_mut()?;
        s.sync_host()?;
        s.wrote_host();
        Ok(T::slice_mut(&mut s.host).unwrap_or(&mut []))
    }

    /// The state without locking: `&mut self` and no pending asynchronous
    /// launch (waited for) mean nobody else can hold it.
    fn state_mut(&mut self) -> Result<&mut State> {
        drop(self.inner.lock_idle());
        // An asynchronous launch drops its reference right after ending its
        // turn (waited for above): at most a few yields.
        for _ in 0..1_000_000 {
            if Arc::get_mut(&mut self.inner).is_some() {
                break;
            }
            std::thread::yield_now();
        }
        match Arc::get_mut(&mut self.inner) {
            Some(any) => Ok(any.state.get_mut().unwrap_or_else(|e| e.into_inner())),
            None => Err(Error::Backend {
                backend: "runtime".into(),
                message: "the array is still shared with an asynchronous launch".into(),
            }),
        }
    }

    /// A read-only launch argument (same as `Arg::from(&array)`).
    pub fn arg(&self) -> Arg<'_> {
        self.inner.arg()
    }

    /// A writable launch argument (same as `Arg::from(&mut array)`).
    pub fn arg_mut(&mut self) -> Arg<'_> {
        Arg::Resident {
            array: &*self.inner,
            writable: true,
        }
    }
}

impl<T: HostElement> From<Vec<T>> for Array<T> {
    fn from(v: Vec<T>) -> Array<T> {
        Array::from_vec(v)
    }
}

impl<T: HostElement> From<&[T]> for Array<T> {
    fn from(v: &[T]) -> Array<T> {
        Array::from_vec(v.to_vec())
    }
}

impl<T: HostElement, D: ndarray::Dimension> From<ndarray::Array<T, D>> for Array<T> {
    fn from(a: ndarray::Array<T, D>) -> Array<T> {
        Array::from_ndarray(a.view())
    }
}

impl<'a, T: HostElement> From<&'a Array<T>> for Arg<'a> {
    fn from(a: &'a Array<T>) -> Arg<'a> {
        a.arg()
    }
}

impl<'a, T: HostElement> From<&'a mut Array<T>> for Arg<'a> {
    fn from(a: &'a mut Array<T>) -> Arg<'a> {
        a.arg_mut()
    }
}

impl<'a> From<&'a AnyArray> for Arg<'a> {
    fn from(a: &'a AnyArray) -> Arg<'a> {
        a.arg()
    }
}

impl<'a> From<&'a mut AnyArray> for Arg<'a> {
    fn from(a: &'a mut AnyArray) -> Arg<'a> {
        a.arg_mut()
    }
}
