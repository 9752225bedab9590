//! Typed kernel launches: the argument traits of the functions that
//! [`kernels!`](crate::kernels) generates, and what those functions call
//! (docs/typed.md).
//!
//! A read-only array parameter `T[…]` of rank `RANK` takes any
//! [`In<T, RANK>`], a `mut` one any [`Out<T, RANK>`]:
//!
//! | Rust argument | `In` | `Out` | rank |
//! |---|---|---|---|
//! | `&Vec<T>`, `&[T]`, `&[T; N]` | yes | | checked at launch (1-D data) |
//! | `&mut Vec<T>`, `&mut [T]`, `&mut [T; N]` | yes | yes | checked at launch (1-D data) |
//! | `&kiln::Array<T>` | yes | | checked at launch |
//! | `&mut kiln::Array<T>` | yes | yes | checked at launch |
//! | `&ndarray::Array<T, D>`, `ArrayView<T, D>`, any `&ArrayBase` | yes | | `D` fixes it: `Ix1`…`Ix3` at compile time, `IxDyn` at launch |
//! | `&mut ndarray::Array<T, D>`, `ArrayViewMut<T, D>` | yes | yes | as above |
//!
//! The element type is always fixed at compile time: passing `&Vec<f64>`
//! for an `f32[:]` parameter is a rustc error, as is an `Array2` for a 1-D
//! parameter. A non-contiguous ndarray view is an [`Error::NotContiguous`]
//! at launch.

// `kiln::Error` is as large as a located run-time fault; every launch API
// returns it unboxed (a result's size is no cost next to a launch), so the
// typed layer does too.
#![allow(clippy::result_large_err)]

use crate::error::{Error, Result};
use crate::ir::Value;
use crate::runtime::args::Arg;
use crate::runtime::{Array, AsyncArg, Backend, HostElement, Kernel, LaunchFuture, Module};
use ndarray::{ArrayBase, ArrayView, ArrayViewMut, Data, DataMut, Ix1, Ix2, Ix3, IxDyn};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

/// An argument for a read-only array parameter with elements `T` and `RANK`
/// dimensions (see the [module documentation](self) for the types that
/// implement it).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be passed for a kernel array parameter `{T}[…]` with {RANK} dimension(s)",
    label = "expected `&Vec<{T}>`, `&[{T}]`, `&kiln::Array<{T}>` or an ndarray array or view of `{T}`",
    note = "a kernel's read-only array parameters take `kiln::typed::In<T, RANK>`: the element type must match exactly (convert with `as` in the kernel or copy the data)"
)]
pub trait In<T: HostElement, const RANK: usize> {
    /// The launch argument, borrowing `self`.
    fn arg(&self) -> Result<Arg<'_>>;
}

/// An argument for a `mut` array parameter with elements `T` and `RANK`
/// dimensions: a mutable borrow of the data (see the
/// [module documentation](self)).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be passed for a kernel parameter `mut {T}[…]` with {RANK} dimension(s)",
    label = "expected `&mut Vec<{T}>`, `&mut [{T}]`, `&mut kiln::Array<{T}>` or a mutable ndarray array or view of `{T}`",
    note = "a kernel writes its `mut` array parameters: pass a mutable borrow (`&mut v`) of data of exactly the element type"
)]
pub trait Out<T: HostElement, const RANK: usize> {
    /// The writable launch argument, borrowing `self` mutably.
    fn arg_mut(&mut self) -> Result<Arg<'_>>;
}

/// ndarray dimension types that fit a kernel array of `RANK` dimensions:
/// `Ix1`, `Ix2`, `Ix3` the rank they name, `IxDyn` any (checked at launch).
#[diagnostic::on_unimplemented(
    message = "an ndarray of dimension `{Self}` cannot be passed for a kernel array with {RANK} dimension(s)",
    label = "this array's number of dimensions differs from the kernel parameter's",
    note = "pass an array with {RANK} dimension(s), or an `IxDyn` array (its rank is checked at launch)"
)]
pub trait Rank<const RANK: usize>: ndarray::Dimension {}

impl Rank<1> for Ix1 {}
impl Rank<2> for Ix2 {}
impl Rank<3> for Ix3 {}
impl<const RANK: usize> Rank<RANK> for IxDyn {}

// Contiguous host data: one dimension, so any other rank is a launch error
// naming the parameter (SPEC section 8).

impl<T: HostElement, const R: usize> In<T, R> for &Vec<T> {
    fn arg(&self) -> Result<Arg<'_>> {
        Ok(Arg::slice(self.as_slice()))
    }
}

impl<T: HostElement, const R: usize> In<T, R> for &mut Vec<T> {
    fn arg(&self) -> Result<Arg<'_>> {
        Ok(Arg::slice(self.as_slice()))
    }
}

impl<T: HostElement, const R: usize> Out<T, R> for &mut Vec<T> {
    fn arg_mut(&mut self) -> Result<Arg<'_>> {
        Ok(Arg::slice_mut(self.as_mut_slice()))
    }
}

impl<T: HostElement, const R: usize> In<T, R> for &[T] {
    fn arg(&self) -> Result<Arg<'_>> {
        Ok(Arg::slice(self))
    }
}

impl<T: HostElement, const R: usize> In<T, R> for &mut [T] {
    fn arg(&self) -> Result<Arg<'_>> {
        Ok(Arg::slice(self))
    }
}

impl<T: HostElement, const R: usize> Out<T, R> for &mut [T] {
    fn arg_mut(&mut self) -> Result<Arg<'_>> {
        Ok(Arg::slice_mut(self))
    }
}

impl<T: HostElement, const N: usize, const R: usize> In<T, R> for &[T; N] {
    fn arg(&self) -> Result<Arg<'_>> {
        Ok(Arg::slice(self.as_slice()))
    }
}

impl<T: HostElement, const N: usize, const R: usize> In<T, R> for &mut [T; N] {
    fn arg(&self) -> Result<Arg<'_>> {
        Ok(Arg::slice(self.as_slice()))
    }
}

impl<T: HostElement, const N: usize, const R: usize> Out<T, R> for &mut [T; N] {
    fn arg_mut(&mut self) -> Result<Arg<'_>> {
        Ok(Arg::slice_mut(self.as_mut_slice()))
    }
}

// kiln's managed arrays: any shape, checked at launch.

impl<T: HostElement, const R: usize> In<T, R> for &Array<T> {
    fn arg(&self) -> Result<Arg<'_>> {
        Ok(Array::arg(self))
    }
}

impl<T: HostElement, const R: usize> In<T, R> for &mut Array<T> {
    fn arg(&self) -> Result<Arg<'_>> {
        Ok(Array::arg(self))
    }
}

impl<T: HostElement, const R: usize> Out<T, R> for &mut Array<T> {
    fn arg_mut(&mut self) -> Result<Arg<'_>> {
        Ok(Array::arg_mut(self))
    }
}

// ndarray: the dimension type fixes the rank where it can (`Rank`).

impl<T: HostElement, S: Data<Elem = T>, D: Rank<R>, const R: usize> In<T, R> for &ArrayBase<S, D> {
    fn arg(&self) -> Result<Arg<'_>> {
        Arg::from_ndarray(self.view())
    }
}

impl<T: HostElement, S: Data<Elem = T>, D: Rank<R>, const R: usize> In<T, R>
    for &mut ArrayBase<S, D>
{
    fn arg(&self) -> Result<Arg<'_>> {
        Arg::from_ndarray(self.view())
    }
}

impl<T: HostElement, S: DataMut<Elem = T>, D: Rank<R>, const R: usize> Out<T, R>
    for &mut ArrayBase<S, D>
{
    fn arg_mut(&mut self) -> Result<Arg<'_>> {
        Arg::from_ndarray_mut(self.view_mut())
    }
}

impl<T: HostElement, D: Rank<R>, const R: usize> In<T, R> for ArrayView<'_, T, D> {
    fn arg(&self) -> Result<Arg<'_>> {
        Arg::from_ndarray(self.view())
    }
}

impl<T: HostElement, D: Rank<R>, const R: usize> In<T, R> for ArrayViewMut<'_, T, D> {
    fn arg(&self) -> Result<Arg<'_>> {
        Arg::from_ndarray(self.view())
    }
}

impl<T: HostElement, D: Rank<R>, const R: usize> Out<T, R> for ArrayViewMut<'_, T, D> {
    fn arg_mut(&mut self) -> Result<Arg<'_>> {
        Arg::from_ndarray_mut(self.view_mut())
    }
}

/// What a typed launch returns: `()` for a kernel without a result, else
/// the result's Rust scalar type.
pub trait KernelResult: Sized {
    /// The typed result of a launch that returned `value`.
    fn from_launch(kernel: &Kernel, value: Option<Value>) -> Result<Self>;
}

impl KernelResult for () {
    #[inline]
    fn from_launch(_: &Kernel, _: Option<Value>) -> Result<()> {
        Ok(())
    }
}

macro_rules! scalar_result {
    ($($t:ty),*) => {$(
        impl KernelResult for $t {
            #[inline]
            fn from_launch(kernel: &Kernel, value: Option<Value>) -> Result<$t> {
                match value {
                    Some(v) => Ok(<$t>::try_from(v)?),
                    None => Err(Error::Backend {
                        backend: "runtime".into(),
                        message: format!("kernel `{}` returned no value", kernel.name()),
                    }),
                }
            }
        }
    )*};
}
scalar_result!(bool, i32, u32, i64, f32, f64);

/// A module embedded by `kernels!`: its file name and source, checked into
/// IR on first use, once per process.
#[doc(hidden)]
pub struct ModuleCell {
    file: &'static str,
    source: &'static str,
    module: OnceLock<Module>,
}

impl ModuleCell {
    /// A module not yet checked.
    pub const fn new(file: &'static str, source: &'static str) -> ModuleCell {
        ModuleCell {
            file,
            source,
            module: OnceLock::new(),
        }
    }

    /// The module, checked on the first call. The macro checked the same
    /// source while the crate built, so this fails only if the two kiln
    /// front ends differ; a failure is returned, not remembered.
    pub fn get(&self) -> Result<&Module> {
        if let Some(m) = self.module.get() {
            return Ok(m);
        }
        let m = Module::from_source(self.file, self.source)?;
        Ok(self.module.get_or_init(|| m))
    }
}

/// One kernel of a [`ModuleCell`]: its handle, found by name once per
/// process; every launch after the first starts from the handle.
#[doc(hidden)]
pub struct KernelCell {
    module: &'static ModuleCell,
    name: &'static str,
    kernel: OnceLock<Kernel>,
}

impl KernelCell {
    /// A kernel not yet looked up.
    pub const fn new(module: &'static ModuleCell, name: &'static str) -> KernelCell {
        KernelCell {
            module,
            name,
            kernel: OnceLock::new(),
        }
    }

    /// The kernel's handle (an owned [`Kernel`]; clone it to keep it).
    #[inline]
    pub fn get(&self) -> Result<&Kernel> {
        match self.kernel.get() {
            Some(k) => Ok(k),
            None => self.init(),
        }
    }

    #[cold]
    fn init(&self) -> Result<&Kernel> {
        let k = self.module.get()?.kernel(self.name)?;
        Ok(self.kernel.get_or_init(|| k))
    }

    /// Launches on `backend` and converts the result.
    #[inline]
    pub fn launch<R: KernelResult>(&self, backend: Backend, args: &mut [Arg<'_>]) -> Result<R> {
        let kernel = self.get()?;
        let value = kernel.launch_on(backend, args)?;
        R::from_launch(kernel, value)
    }
}

impl KernelCell {
    /// Starts a launch in the background (see `Kernel::launch_async`).
    pub fn launch_async<R: KernelResult>(
        &self,
        backend: Backend,
        args: Vec<AsyncArg>,
    ) -> Result<Pending<R>> {
        let kernel = self.get()?;
        Ok(Pending {
            future: kernel.launch_async(backend, args)?,
            kernel: kernel.clone(),
            result: PhantomData,
        })
    }
}

/// A typed launch running in the background (`k_async(…)` of
/// [`kernels!`](crate::kernels)): a future of the kernel's result.
pub struct Pending<R> {
    future: LaunchFuture,
    kernel: Kernel,
    result: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for Pending<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("kernel", &self.kernel.name())
            .field("done", &self.future.is_done())
            .finish()
    }
}

impl<R: KernelResult> Future for Pending<R> {
    type Output = Result<R>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R>> {
        match Pin::new(&mut self.future).poll(cx) {
            Poll::Ready(r) => Poll::Ready(r.and_then(|v| R::from_launch(&self.kernel, v))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<R: KernelResult> Pending<R> {
    /// Whether the launch has ended.
    pub fn is_done(&self) -> bool {
        self.future.is_done()
    }

    /// Blocks the calling thread until the launch ends (no async runtime
    /// needed; `.await` it instead inside one).
    pub fn wait(mut self) -> Result<R> {
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(r) = Pin::new(&mut self).poll(&mut cx) {
                return r;
            }
            std::thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn handles_are_owned_and_shareable() {
        assert_send_sync::<Kernel>();
        assert_send_sync::<Module>();
        assert_send_sync::<KernelCell>();
    }

    static M: ModuleCell = ModuleCell::new(
        "cells.kn",
        "kernel first(x: i32[:]) -> i32 { return x[0]; }\nkernel nothing() {}\n",
    );
    static FIRST: KernelCell = KernelCell::new(&M, "first");
    static MISSING: KernelCell = KernelCell::new(&M, "missing");

    #[test]
    fn a_cell_resolves_its_kernel_once() {
        let a = FIRST.get().unwrap() as *const Kernel;
        let b = FIRST.get().unwrap() as *const Kernel;
        assert_eq!(a, b);
        let x = vec![7, 8];
        let r: i32 = FIRST
            .launch(Backend::Interp, &mut [In::<i32, 1>::arg(&&x).unwrap()])
            .unwrap();
        assert_eq!(r, 7);
        // A name the module lacks is an error, every time.
        assert!(matches!(MISSING.get(), Err(Error::NoSuchKernel { .. })));
        assert!(MISSING.get().is_err());
    }

    #[test]
    fn a_result_of_the_wrong_type_is_an_error() {
        let k = FIRST.get().unwrap();
        assert_eq!(i32::from_launch(k, Some(Value::I32(3))).unwrap(), 3);
        let e = f32::from_launch(k, Some(Value::I32(3))).unwrap_err();
        assert!(matches!(e, Error::ValueType(_)), "{e:?}");
        assert!(f64::from_launch(k, None).is_err());
        assert!(<()>::from_launch(k, None).is_ok());
    }
}
