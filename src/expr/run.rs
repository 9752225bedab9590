//! Evaluation: lower the tree, find or build its kernel, launch it once.
//! `eval` writes a new array, `assign` an existing one in place, reductions
//! return a scalar (or an array along an axis).

use super::codegen::{self, Kind, Lowered, Reduce};
use super::{cache, Expr, ExprElement, IntoExpr, Numeric};
use crate::error::{Error, Result};
use crate::ir::{ScalarType, Value};
use crate::runtime::{AnyArray, Array, Backend, Module};
use crate::Arg;
use std::sync::Arc;

/// The backend an expression runs on: its own, else `KILN_BACKEND`, else
/// `Auto` (as `Kernel::launch`).
fn backend<T>(e: &Expr<T>) -> Result<Backend> {
    match e.backend {
        Some(b) => Ok(b),
        None => Backend::from_env(),
    }
}

/// Lowers `e`, launches its kernel with `extra` scalars and `out`, and
/// returns the kernel's result.
fn launch<T: ExprElement>(
    e: &Expr<T>,
    lowered: &Lowered,
    extra: &[Value],
    out: Option<(&Arc<AnyArray>, bool)>,
) -> Result<Option<Value>> {
    let target = out.filter(|o| o.1).map(|o| o.0);
    let kernel = kernel_for(e, lowered, target.filter(|_| lowered.kind == Kind::Assign))?;
    let mut args: Vec<Arg> = Vec::with_capacity(lowered.arrays.len() + lowered.scalars.len() + 4);
    args.extend(lowered.arrays.iter().map(|(a, _)| Arg::Resident {
        array: &**a,
        writable: false,
    }));
    args.extend(lowered.scalars.iter().map(|v| Arg::Scalar(*v)));
    args.extend(extra.iter().map(|v| Arg::Scalar(*v)));
    args.extend(lowered.dims.iter().map(|v| Arg::Scalar(*v)));
    if let Some((array, _)) = out {
        args.push(Arg::Resident {
            array: &**array,
            writable: true,
        });
    }
    kernel.launch_on(backend(e)?, &mut args)
}

/// The compiled kernel for `lowered` (generated on a new key).
fn kernel_for<T>(
    e: &Expr<T>,
    lowered: &Lowered,
    target: Option<&Arc<AnyArray>>,
) -> Result<crate::runtime::Kernel> {
    cache::kernel(
        &lowered.key,
        || codegen::source(&e.node, lowered, target),
        &e.node,
    )
}

fn empty(what: &str, shape: &[usize]) -> Error {
    Error::Expr {
        message: format!("{what} of an empty expression (shape {shape:?}) has no value"),
    }
}

fn identity<T: Numeric>(r: Reduce) -> T {
    match r {
        Reduce::Sum | Reduce::Mean => T::ZERO,
        Reduce::Prod => T::ONE,
        Reduce::Min => T::MIN_IDENTITY,
        Reduce::Max => T::MAX_IDENTITY,
        // Conditions reduce as `Expr<bool>::any/all`.
        Reduce::Any | Reduce::All => T::ZERO,
    }
}

fn result<T: ExprElement>(v: Option<Value>) -> Result<T> {
    v.and_then(T::from_value).ok_or_else(|| Error::Backend {
        backend: "runtime".into(),
        message: "a fused reduction returned no value of its type".into(),
    })
}

impl<T: Numeric> Expr<T> {
    /// Evaluates the expression into a new array of its broadcast shape:
    /// one kernel launch.
    pub fn eval(&self) -> Result<Array<T>> {
        let lowered = codegen::lower(&self.node, T::SCALAR, Kind::Elementwise, None)?;
        let out = new_array::<T>(&lowered.out_shape)?;
        launch(self, &lowered, &[], Some((out.shared(), true)))?;
        Ok(out)
    }

    fn full(&self, r: Reduce) -> Result<T> {
        let lowered = codegen::lower(&self.node, T::SCALAR, Kind::Full(r), None)?;
        let n: usize = lowered.shape.iter().product();
        if n == 0 && matches!(r, Reduce::Min | Reduce::Max) {
            return Err(empty(
                if r == Reduce::Min { "min" } else { "max" },
                &lowered.shape,
            ));
        }
        let total: T = result(launch(self, &lowered, &[identity::<T>(r).value()], None)?)?;
        match r {
            Reduce::Mean => total
                .mean_of(n)
                .ok_or_else(|| empty("the integer mean", &lowered.shape)),
            _ => Ok(total),
        }
    }

    fn along(&self, r: Reduce, axis: usize) -> Result<Array<T>> {
        let lowered = codegen::lower(&self.node, T::SCALAR, Kind::Axis(r, axis), None)?;
        let n = lowered.shape[axis];
        if n == 0 && r != Reduce::Sum && r != Reduce::Prod {
            return Err(empty("a reduction along an axis", &lowered.shape));
        }
        let out = new_array::<T>(&lowered.out_shape)?;
        let extra = [identity::<T>(r).value(), Value::I64(n as i64)];
        launch(self, &lowered, &extra, Some((out.shared(), true)))?;
        Ok(out)
    }

    /// The sum of all elements (integers wrap; floats in the backend's
    /// deterministic order).
    pub fn sum(&self) -> Result<T> {
        self.full(Reduce::Sum)
    }
    /// The product of all elements.
    pub fn prod(&self) -> Result<T> {
        self.full(Reduce::Prod)
    }
    /// The smallest element (NaN loses, as the language's `min`, so only
    /// NaNs give `+inf`, the identity); an error for an empty expression.
    pub fn min(&self) -> Result<T> {
        self.full(Reduce::Min)
    }
    /// The largest element; an error for an empty expression.
    pub fn max(&self) -> Result<T> {
        self.full(Reduce::Max)
    }
    /// The sum divided by the number of elements (integers: truncated).
    pub fn mean(&self) -> Result<T> {
        self.full(Reduce::Mean)
    }
    /// `(self * other).sum()`: one kernel.
    pub fn dot(&self, other: impl IntoExpr<T>) -> Result<T> {
        (self.clone() * other.into_expr()).sum()
    }
    /// Sums along `axis`, which is removed from the shape (2-D and 3-D).
    pub fn sum_axis(&self, axis: usize) -> Result<Array<T>> {
        self.along(Reduce::Sum, axis)
    }
    /// Products along `axis`.
    pub fn prod_axis(&self, axis: usize) -> Result<Array<T>> {
        self.along(Reduce::Prod, axis)
    }
    /// Minima along `axis`.
    pub fn min_axis(&self, axis: usize) -> Result<Array<T>> {
        self.along(Reduce::Min, axis)
    }
    /// Maxima along `axis`.
    pub fn max_axis(&self, axis: usize) -> Result<Array<T>> {
        self.along(Reduce::Max, axis)
    }
    /// Means along `axis` (integers: truncated).
    pub fn mean_axis(&self, axis: usize) -> Result<Array<T>> {
        self.along(Reduce::Mean, axis)
    }
}

impl<T: ExprElement> Expr<T> {
    /// The source of the elementwise kernel this expression evaluates with
    /// (as `KILN_LOG=fusion` prints it).
    pub fn kernel_source(&self) -> Result<String> {
        let l = codegen::lower(&self.node, T::SCALAR, Kind::Elementwise, None)?;
        Ok(codegen::source(&self.node, &l, None))
    }

    /// The compiled module of that kernel (named `fused`), from the cache:
    /// `kiln::ir::print::print_module(m.ir())` prints its IR, and the
    /// backends' emitters take it (e.g. `kiln::cpu::emit_clif(m.ir(),
    /// "fused")`).
    pub fn kernel_module(&self) -> Result<Module> {
        let l = codegen::lower(&self.node, T::SCALAR, Kind::Elementwise, None)?;
        Ok(kernel_for(self, &l, None)?.module().clone())
    }

    /// The IR of that kernel, printed.
    pub fn kernel_ir(&self) -> Result<String> {
        Ok(crate::ir::print::print_module(self.kernel_module()?.ir()))
    }

    /// That kernel in Cranelift IR, as the `cpu` backend compiles it
    /// (`kiln emit --target clif`).
    #[cfg(feature = "cpu")]
    pub fn kernel_clif(&self) -> Result<String> {
        crate::cpu::emit_clif(self.kernel_module()?.ir(), codegen::KERNEL)
    }

    /// That kernel as WGSL, as the `wgpu` backend compiles it (`kiln emit
    /// --target wgsl`); needs no device.
    pub fn kernel_wgsl(&self) -> Result<String> {
        let module = self.kernel_module()?;
        let id = module.kernel(codegen::KERNEL)?.id();
        Ok(crate::gpu::generate(module.ir(), id, &crate::gpu::wgsl::Wgsl)?.source)
    }

    /// That kernel as CUDA C, as the `cuda` backend hands it to NVRTC
    /// (`kiln emit --target cuda`); needs no device.
    #[cfg(feature = "cuda")]
    pub fn kernel_cuda(&self) -> Result<String> {
        let module = self.kernel_module()?;
        let id = module.kernel(codegen::KERNEL)?.id();
        Ok(crate::cuda::generate(module.ir(), id)?.source)
    }
}

impl Expr<bool> {
    fn test(&self, r: Reduce) -> Result<bool> {
        let lowered = codegen::lower(&self.node, ScalarType::Bool, Kind::Full(r), None)?;
        let init = Value::I32(if r == Reduce::All { 1 } else { 0 });
        let v: i32 = result(launch(self, &lowered, &[init], None)?)?;
        Ok(v != 0)
    }

    /// Whether any element holds (`false` for an empty expression).
    pub fn any(&self) -> Result<bool> {
        self.test(Reduce::Any)
    }

    /// Whether every element holds (`true` for an empty expression).
    pub fn all(&self) -> Result<bool> {
        self.test(Reduce::All)
    }
}

/// A new array of zeros for a result: a GPU that computes it allocates
/// zeroed memory rather than uploading the zeros.
fn new_array<T: Numeric>(shape: &[usize]) -> Result<Array<T>> {
    let n = shape.iter().product();
    let out = Array::from_shape_vec(shape.to_vec(), vec![T::ZERO; n]).map_err(|e| Error::Expr {
        message: e.to_string(),
    })?;
    out.shared().known_zeros();
    Ok(out)
}

/// The reductions and `assign`, inherent on `Array<T>` too.
impl<T: Numeric> Array<T> {
    /// Writes `e` into this array in place, in one kernel launch; `e` may
    /// read this array (`y.assign(&y * a + &x)`: `y` is passed once, as
    /// `mut`). `e` broadcasts to this array's shape or it is an error.
    pub fn assign(&mut self, e: impl IntoExpr<T>) -> Result<()> {
        let e = e.into_expr();
        let target: &Arc<AnyArray> = self.shared();
        let lowered = codegen::lower(&e.node, T::SCALAR, Kind::Assign, Some(target))?;
        launch(&e, &lowered, &[], Some((target, true)))?;
        Ok(())
    }

    /// See [`Expr::sum`].
    pub fn sum(&self) -> Result<T> {
        self.expr().sum()
    }
    /// See [`Expr::prod`].
    pub fn prod(&self) -> Result<T> {
        self.expr().prod()
    }
    /// See [`Expr::min`].
    pub fn min(&self) -> Result<T> {
        self.expr().min()
    }
    /// See [`Expr::max`].
    pub fn max(&self) -> Result<T> {
        self.expr().max()
    }
    /// See [`Expr::mean`].
    pub fn mean(&self) -> Result<T> {
        self.expr().mean()
    }
    /// See [`Expr::dot`].
    pub fn dot(&self, other: impl IntoExpr<T>) -> Result<T> {
        self.expr().dot(other)
    }
    /// See [`Expr::sum_axis`].
    pub fn sum_axis(&self, axis: usize) -> Result<Array<T>> {
        self.expr().sum_axis(axis)
    }
    /// See [`Expr::prod_axis`].
    pub fn prod_axis(&self, axis: usize) -> Result<Array<T>> {
        self.expr().prod_axis(axis)
    }
    /// See [`Expr::min_axis`].
    pub fn min_axis(&self, axis: usize) -> Result<Array<T>> {
        self.expr().min_axis(axis)
    }
    /// See [`Expr::max_axis`].
    pub fn max_axis(&self, axis: usize) -> Result<Array<T>> {
        self.expr().max_axis(axis)
    }
    /// See [`Expr::mean_axis`].
    pub fn mean_axis(&self, axis: usize) -> Result<Array<T>> {
        self.expr().mean_axis(axis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_values_and_sizes_reuse_the_compiled_kernel() {
        // A shape no other unit test builds.
        let x = Array::from(vec![1.0f64; 3]);
        let e = (x.hypot(&x).cbrt() * 3.0f64).on(Backend::Interp);
        let first = e.eval().unwrap().to_vec().unwrap();
        assert!((first[0] - 3.0 * 2f64.sqrt().cbrt()).abs() < 1e-12);
        let built = cache::kernels_built();
        let y = Array::from(vec![2.0f64; 50]);
        let again = (y.hypot(&y).cbrt() * 5.0f64)
            .on(Backend::Interp)
            .eval()
            .unwrap();
        assert_eq!(again.shape(), [50]);
        assert_eq!(
            cache::kernels_built(),
            built,
            "a new value or size compiled again"
        );
        // Another shape (a different operator) is a new kernel.
        (y.hypot(&y).cbrt() / 5.0f64)
            .on(Backend::Interp)
            .eval()
            .unwrap();
        assert_eq!(cache::kernels_built(), built + 1);
    }

    #[test]
    fn reductions_generate_one_kernel_with_a_reduction_variable() {
        let a = Array::from(vec![1.0f32, 2.0]);
        let e = (&a - 1.0f32) * (&a - 1.0f32);
        let l = codegen::lower(&e.node, ScalarType::F32, Kind::Full(Reduce::Sum), None).unwrap();
        let src = codegen::source(&e.node, &l, None);
        assert!(src.contains("acc += ") && src.contains("-> f32"), "{src}");
        assert_eq!(l.arrays.len(), 1);
        assert_eq!(l.scalars.len(), 2);
    }
}
