//! Array expressions (src/expr, docs/expr.md): random expressions over
//! every operator, broadcasting and reduction, for f32/f64/i32/i64,
//! evaluated by the fused kernel on every backend present, equal a direct
//! interpretation written here in plain Rust; plus the error contract.

use kiln::expr::{IntoExpr, Signed};
use kiln::{Array, Backend, Error, Expr};
use proptest::prelude::*;
use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Sub};

/// The backends each case runs on; absent ones are skipped with a reason
/// (printed once per test binary).
fn backends() -> Vec<Backend> {
    static PRESENT: std::sync::OnceLock<Vec<Backend>> = std::sync::OnceLock::new();
    PRESENT
        .get_or_init(|| {
            let probe = Array::from(vec![1.0f32, 2.0]);
            let mut out = Vec::new();
            for b in [
                Backend::Interp,
                Backend::Cpu,
                Backend::Wgpu,
                Backend::Cuda,
                Backend::Auto,
            ] {
                match (&probe * 2.0f32).on(b).eval() {
                    Ok(_) => out.push(b),
                    Err(e) => eprintln!("expr tests: skipping backend {}: {e}", b.name()),
                }
            }
            out
        })
        .clone()
}

/// A backend that cannot run one element type (wgpu without 64-bit
/// types): that backend is skipped for the case, and the error must say so.
fn unsupported(e: &Error) -> bool {
    matches!(
        e,
        Error::Unsupported { .. } | Error::BackendUnavailable { .. }
    )
}

/// What the tests need of an element type, beyond kiln's traits.
trait Num:
    Signed
    + Debug
    + PartialEq
    + PartialOrd
    + IntoExpr<Self>
    + Add<Expr<Self>, Output = Expr<Self>>
    + Sub<Expr<Self>, Output = Expr<Self>>
    + Mul<Expr<Self>, Output = Expr<Self>>
    + Div<Expr<Self>, Output = Expr<Self>>
{
    const FLOAT: bool;
    fn of(i: i32) -> Self;
    fn r_add(a: Self, b: Self) -> Self;
    fn r_sub(a: Self, b: Self) -> Self;
    fn r_mul(a: Self, b: Self) -> Self;
    /// `None`: integer division by zero (an error in the language).
    fn r_div(a: Self, b: Self) -> Option<Self>;
    fn r_neg(a: Self) -> Self;
    fn r_abs(a: Self) -> Self;
    fn r_max(a: Self, b: Self) -> Self;
    fn r_min(a: Self, b: Self) -> Self;
    /// `(a as f64) as Self`.
    fn via_f64(a: Self) -> Self;
    fn to_f64(a: Self) -> f64;
    /// A float math function applied at the root: (kiln, reference).
    fn math(e: &Expr<Self>, which: u8) -> Expr<Self>;
    fn math_ref(a: Self, which: u8) -> Self;
    fn via_f64_expr(e: &Expr<Self>) -> Expr<Self>;
}

macro_rules! int_num {
    ($t:ty) => {
        impl Num for $t {
            const FLOAT: bool = false;
            fn of(i: i32) -> Self {
                i as $t
            }
            fn r_add(a: Self, b: Self) -> Self {
                a.wrapping_add(b)
            }
            fn r_sub(a: Self, b: Self) -> Self {
                a.wrapping_sub(b)
            }
            fn r_mul(a: Self, b: Self) -> Self {
                a.wrapping_mul(b)
            }
            fn r_div(a: Self, b: Self) -> Option<Self> {
                (b != 0).then(|| a.wrapping_div(b))
            }
            fn r_neg(a: Self) -> Self {
                a.wrapping_neg()
            }
            fn r_abs(a: Self) -> Self {
                a.wrapping_abs()
            }
            fn r_max(a: Self, b: Self) -> Self {
                Ord::max(a, b)
            }
            fn r_min(a: Self, b: Self) -> Self {
                Ord::min(a, b)
            }
            fn via_f64(a: Self) -> Self {
                (a as f64) as $t
            }
            fn to_f64(a: Self) -> f64 {
                a as f64
            }
            fn math(e: &Expr<Self>, _: u8) -> Expr<Self> {
                e.abs()
            }
            fn math_ref(a: Self, _: u8) -> Self {
                a.wrapping_abs()
            }
            fn via_f64_expr(e: &Expr<Self>) -> Expr<Self> {
                e.cast::<f64>().cast::<$t>()
            }
        }
    };
}
int_num!(i32);
int_num!(i64);

macro_rules! float_num {
    ($t:ty) => {
        impl Num for $t {
            const FLOAT: bool = true;
            fn of(i: i32) -> Self {
                i as $t
            }
            fn r_add(a: Self, b: Self) -> Self {
                a + b
            }
            fn r_sub(a: Self, b: Self) -> Self {
                a - b
            }
            fn r_mul(a: Self, b: Self) -> Self {
                a * b
            }
            fn r_div(a: Self, b: Self) -> Option<Self> {
                Some(a / b)
            }
            fn r_neg(a: Self) -> Self {
                -a
            }
            fn r_abs(a: Self) -> Self {
                a.abs()
            }
            fn r_max(a: Self, b: Self) -> Self {
                a.max(b)
            }
            fn r_min(a: Self, b: Self) -> Self {
                a.min(b)
            }
            fn via_f64(a: Self) -> Self {
                (a as f64) as $t
            }
            fn to_f64(a: Self) -> f64 {
                a as f64
            }
            fn math(e: &Expr<Self>, which: u8) -> Expr<Self> {
                match which % 4 {
                    0 => e.abs().sqrt(),
                    1 => e.tanh(),
                    2 => e.sin(),
                    _ => e.abs().log1p(),
                }
            }
            fn math_ref(a: Self, which: u8) -> Self {
                match which % 4 {
                    0 => a.abs().sqrt(),
                    1 => a.tanh(),
                    2 => a.sin(),
                    _ => a.abs().ln_1p(),
                }
            }
            fn via_f64_expr(e: &Expr<Self>) -> Expr<Self> {
                e.cast::<f64>().cast::<$t>()
            }
        }
    };
}
float_num!(f32);
float_num!(f64);

#[derive(Clone, Copy, Debug)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

#[derive(Clone, Copy, Debug)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A random expression: leaves are arrays (by index) or small scalars.
#[derive(Clone, Debug)]
enum E {
    Leaf(usize),
    Scalar(i8),
    Bin(Op, Box<E>, Box<E>),
    /// A scalar on the left of an operator (`2.0 * &x`).
    ScalarLeft(Op, i8, Box<E>),
    Neg(Box<E>),
    Abs(Box<E>),
    Cast(Box<E>),
    Clamp(Box<E>),
    Select(Cmp, Box<E>, Box<E>, Box<E>, Box<E>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Add),
        Just(Op::Sub),
        Just(Op::Mul),
        Just(Op::Div),
        Just(Op::Max),
        Just(Op::Min)
    ]
}

fn cmp() -> impl Strategy<Value = Cmp> {
    prop_oneof![
        Just(Cmp::Lt),
        Just(Cmp::Le),
        Just(Cmp::Gt),
        Just(Cmp::Ge),
        Just(Cmp::Eq),
        Just(Cmp::Ne)
    ]
}

fn expr_tree() -> impl Strategy<Value = E> {
    let leaf = prop_oneof![
        3 => (0usize..3).prop_map(E::Leaf),
        1 => (-3i8..4).prop_map(E::Scalar),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        let b = || inner.clone().prop_map(Box::new);
        prop_oneof![
            4 => (op(), b(), b()).prop_map(|(o, x, y)| E::Bin(o, x, y)),
            1 => (op(), -3i8..4, b()).prop_map(|(o, s, x)| E::ScalarLeft(o, s, x)),
            1 => b().prop_map(E::Neg),
            1 => b().prop_map(E::Abs),
            1 => b().prop_map(E::Cast),
            1 => b().prop_map(E::Clamp),
            1 => (cmp(), b(), b(), b(), b()).prop_map(|(c, p, q, x, y)| E::Select(c, p, q, x, y)),
        ]
    })
}

/// What is done with the expression.
#[derive(Clone, Copy, Debug)]
enum Red {
    Eval,
    Assign,
    Sum,
    Prod,
    Min,
    Max,
    Mean,
    Any,
    All,
    SumAxis(usize),
    MaxAxis(usize),
    MeanAxis(usize),
}

fn red() -> impl Strategy<Value = Red> {
    prop_oneof![
        3 => Just(Red::Eval),
        1 => Just(Red::Assign),
        1 => Just(Red::Sum),
        1 => Just(Red::Prod),
        1 => Just(Red::Min),
        1 => Just(Red::Max),
        1 => Just(Red::Mean),
        1 => Just(Red::Any),
        1 => Just(Red::All),
        1 => (0usize..2).prop_map(Red::SumAxis),
        1 => (0usize..2).prop_map(Red::MaxAxis),
        1 => (0usize..2).prop_map(Red::MeanAxis),
    ]
}

/// One case: the broadcast output shape, each leaf's shape form, values.
#[derive(Clone, Debug)]
struct Case {
    tree: E,
    /// `[n]` or `[r, c]`.
    shape: Vec<usize>,
    /// Per leaf: 0 full, 1 a row (last axis only), 2 a column `(r, 1)`
    /// (rank 2) or `[1]` (rank 1).
    forms: [u8; 3],
    values: Vec<i8>,
    math: Option<u8>,
    red: Red,
}

fn case() -> impl Strategy<Value = Case> {
    (
        expr_tree(),
        prop_oneof![
            (1usize..9).prop_map(|n| vec![n]),
            (1usize..4, 1usize..5).prop_map(|(r, c)| vec![r, c])
        ],
        [0u8..3, 0u8..3, 0u8..3],
        proptest::collection::vec(-4i8..5, 3 * 12),
        proptest::option::of(0u8..4),
        red(),
    )
        .prop_map(|(tree, shape, forms, values, math, red)| Case {
            tree,
            shape,
            forms,
            values,
            math,
            red,
        })
}

fn leaf_shape(shape: &[usize], form: u8) -> Vec<usize> {
    match (shape, form) {
        (s, 0) => s.to_vec(),
        ([_], _) => vec![1],
        ([_, c], 1) => vec![*c],
        ([r, _], _) => vec![*r, 1],
        _ => shape.to_vec(),
    }
}

/// The reference: broadcasting written out, independent of kiln's.
fn broadcast_ref(shapes: &[Vec<usize>]) -> Option<Vec<usize>> {
    let rank = shapes.iter().map(Vec::len).max()?;
    let mut out = vec![1usize; rank];
    for s in shapes {
        for (k, &d) in s.iter().rev().enumerate() {
            let o = &mut out[rank - 1 - k];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return None;
            }
        }
    }
    Some(out)
}

fn leaves_used(e: &E, out: &mut Vec<usize>) {
    match e {
        E::Leaf(k) => {
            if !out.contains(k) {
                out.push(*k)
            }
        }
        E::Scalar(_) => {}
        E::Bin(_, a, b) => {
            leaves_used(a, out);
            leaves_used(b, out);
        }
        E::ScalarLeft(_, _, a) | E::Neg(a) | E::Abs(a) | E::Cast(a) | E::Clamp(a) => {
            leaves_used(a, out)
        }
        E::Select(_, p, q, x, y) => [p, q, x, y].iter().for_each(|z| leaves_used(z, out)),
    }
}

struct Ref<'a, T> {
    leaves: &'a [(Vec<usize>, Vec<T>)],
    out: &'a [usize],
}

impl<T: Num> Ref<'_, T> {
    fn leaf(&self, k: usize, idx: &[usize]) -> T {
        let (shape, data) = &self.leaves[k];
        let skip = self.out.len() - shape.len();
        let mut flat = 0;
        for (a, &d) in shape.iter().enumerate() {
            let i = if d == 1 { 0 } else { idx[skip + a] };
            flat = flat * d + i;
        }
        data[flat]
    }

    fn op(o: Op, a: T, b: T) -> Option<T> {
        Some(match o {
            Op::Add => T::r_add(a, b),
            Op::Sub => T::r_sub(a, b),
            Op::Mul => T::r_mul(a, b),
            Op::Div => T::r_div(a, b)?,
            Op::Max => T::r_max(a, b),
            Op::Min => T::r_min(a, b),
        })
    }

    /// The element at `idx`; `None` for an integer division by zero.
    fn eval(&self, e: &E, idx: &[usize]) -> Option<T> {
        Some(match e {
            E::Leaf(k) => self.leaf(*k, idx),
            E::Scalar(s) => T::of(*s as i32),
            E::Bin(o, a, b) => Self::op(*o, self.eval(a, idx)?, self.eval(b, idx)?)?,
            E::ScalarLeft(o, s, a) => Self::op(*o, T::of(*s as i32), self.eval(a, idx)?)?,
            E::Neg(a) => T::r_neg(self.eval(a, idx)?),
            E::Abs(a) => T::r_abs(self.eval(a, idx)?),
            E::Cast(a) => T::via_f64(self.eval(a, idx)?),
            E::Clamp(a) => T::r_min(T::r_max(self.eval(a, idx)?, T::of(-2)), T::of(3)),
            E::Select(c, p, q, x, y) => {
                // Both branches are evaluated (a division by zero in either
                // is an error), as the language's `select`.
                let (p, q) = (self.eval(p, idx)?, self.eval(q, idx)?);
                let (x, y) = (self.eval(x, idx)?, self.eval(y, idx)?);
                let holds = match c {
                    Cmp::Lt => p < q,
                    Cmp::Le => p <= q,
                    Cmp::Gt => p > q,
                    Cmp::Ge => p >= q,
                    Cmp::Eq => p == q,
                    Cmp::Ne => p != q,
                };
                if holds {
                    x
                } else {
                    y
                }
            }
        })
    }
}

fn build<T: Num>(e: &E, arrays: &[&Array<T>]) -> Expr<T> {
    let bin = |o: Op, a: Expr<T>, b: Expr<T>| match o {
        Op::Add => a + b,
        Op::Sub => a - b,
        Op::Mul => &a * &b,
        Op::Div => a / b,
        Op::Max => a.maximum(b),
        Op::Min => a.minimum(&b),
    };
    match e {
        E::Leaf(k) => arrays[*k].expr(),
        E::Scalar(s) => T::of(*s as i32).into_expr(),
        E::Bin(o, a, b) => match (o, &**b) {
            // An array or a scalar directly on the right: the `&Array op x`
            // and `Expr op scalar` impls.
            (Op::Add, E::Leaf(k)) => build(a, arrays) + arrays[*k],
            (Op::Mul, E::Scalar(s)) => build(a, arrays) * T::of(*s as i32),
            _ => bin(*o, build(a, arrays), build(b, arrays)),
        },
        E::ScalarLeft(o, s, a) => {
            let s = T::of(*s as i32);
            let x = build(a, arrays);
            match o {
                Op::Add => s + x,
                Op::Sub => s - x,
                Op::Mul => s * x,
                Op::Div => s / x,
                Op::Max => s.into_expr().maximum(x),
                Op::Min => s.into_expr().minimum(x),
            }
        }
        E::Neg(a) => match &**a {
            E::Leaf(k) => -arrays[*k],
            _ => -build(a, arrays),
        },
        E::Abs(a) => match &**a {
            E::Leaf(k) => arrays[*k].abs(),
            _ => build(a, arrays).abs(),
        },
        E::Cast(a) => T::via_f64_expr(&build(a, arrays)),
        E::Clamp(a) => build(a, arrays).clamp(T::of(-2), T::of(3)),
        E::Select(c, p, q, x, y) => {
            let (p, q) = (build(p, arrays), build(q, arrays));
            let cond = match c {
                Cmp::Lt => p.lt(&q),
                Cmp::Le => p.le(&q),
                Cmp::Gt => p.gt(&q),
                Cmp::Ge => p.ge(&q),
                Cmp::Eq => p.eq_(&q),
                Cmp::Ne => p.ne_(&q),
            };
            kiln::select(cond, build(x, arrays), build(y, arrays))
        }
    }
}

/// Equal as the language computes: bit for bit for integers and for
/// elementwise float arithmetic; within `tol` (relative to `scale`) after a
/// math function or a float reduction (its order is the backend's).
fn same<T: Num>(got: T, want: T, tol: f64, scale: f64) -> bool {
    let (g, w) = (T::to_f64(got), T::to_f64(want));
    if !T::FLOAT || tol == 0.0 {
        return got == want || (g.is_nan() && w.is_nan());
    }
    g == w || (g.is_nan() && w.is_nan()) || (g - w).abs() <= tol * (1.0 + scale)
}

fn index_of(flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    let mut r = flat;
    for a in (0..shape.len()).rev() {
        idx[a] = r % shape[a];
        r /= shape[a];
    }
    idx
}

fn check_case<T: Num>(c: &Case, tol: f64) -> Result<(), TestCaseError> {
    let leaves: Vec<(Vec<usize>, Vec<T>)> = (0..3)
        .map(|k| {
            let s = leaf_shape(&c.shape, c.forms[k]);
            let n: usize = s.iter().product();
            let v = c.values[k * 12..k * 12 + n]
                .iter()
                .map(|&x| T::of(x as i32))
                .collect();
            (s, v)
        })
        .collect();
    let mut used = Vec::new();
    leaves_used(&c.tree, &mut used);
    let shapes: Vec<Vec<usize>> = used.iter().map(|&k| leaves[k].0.clone()).collect();
    // The reference's result: the broadcast shape and each element (None:
    // the kiln expression must fail).
    let out_shape = broadcast_ref(&shapes);
    let n: usize = out_shape.as_ref().map_or(0, |s| s.iter().product());
    let want: Option<Vec<T>> = out_shape.as_ref().and_then(|s| {
        let r = Ref {
            leaves: &leaves,
            out: s,
        };
        (0..n)
            .map(|i| {
                let v = r.eval(&c.tree, &index_of(i, s))?;
                Some(c.math.map_or(v, |m| T::math_ref(v, m)))
            })
            .collect()
    });
    let elem_tol = if c.math.is_some() { tol } else { 0.0 };

    for b in backends() {
        let arrays: Vec<Array<T>> = leaves
            .iter()
            .map(|(s, v)| Array::from_shape_vec(s.clone(), v.clone()).unwrap())
            .collect();
        // An assignment writes into `y` of the full shape; when leaf 0 has
        // the full shape, `y` holds its values and stands for it in the
        // expression (`y.assign(&y * 2 + …)`: read and written at once).
        let assign = matches!(c.red, Red::Assign) && out_shape.as_deref() == Some(&c.shape[..]);
        let mut y = if assign && c.forms[0] == 0 {
            Array::from_shape_vec(c.shape.clone(), leaves[0].1.clone()).unwrap()
        } else {
            Array::from_shape_vec(c.shape.clone(), vec![T::of(7); c.shape.iter().product()])
                .unwrap()
        };
        let mut e = {
            let refs: Vec<&Array<T>> = if assign && c.forms[0] == 0 {
                vec![&y, &arrays[1], &arrays[2]]
            } else {
                arrays.iter().collect()
            };
            build(&c.tree, &refs).on(b)
        };
        if let Some(m) = c.math {
            e = T::math(&e, m);
        }
        let ctx = format!("backend {}, {c:?}", b.name());
        let scale: f64 = want.as_ref().map_or(0.0, |w| {
            w.iter()
                .map(|&x| T::to_f64(x).abs())
                .filter(|x| x.is_finite())
                .sum()
        });
        macro_rules! outcome {
            ($r:expr) => {
                match ($r, want.as_ref()) {
                    (Err(e), _) if unsupported(&e) && b != Backend::Interp => continue,
                    (Err(_), None) => continue,
                    (Err(e), Some(_)) => {
                        return Err(TestCaseError::fail(format!("{ctx}: unexpected error {e}")))
                    }
                    (Ok(_), None) => {
                        return Err(TestCaseError::fail(format!(
                            "{ctx}: no error, the reference fails"
                        )))
                    }
                    (Ok(v), Some(w)) => (v, w, out_shape.as_ref().unwrap()),
                }
            };
        }
        match c.red {
            Red::Eval | Red::Assign => {
                let r = if assign {
                    y.assign(e).map(|_| y)
                } else {
                    e.eval()
                };
                let (got, w, s) = outcome!(r);
                prop_assert_eq!(&got.shape(), s, "{}", ctx);
                let got = got.to_vec().unwrap();
                for (i, (&g, &w)) in got.iter().zip(w).enumerate() {
                    prop_assert!(
                        same(g, w, elem_tol, T::to_f64(w).abs()),
                        "{}: element {}: {:?} != {:?}",
                        ctx,
                        i,
                        g,
                        w
                    );
                }
            }
            Red::Sum | Red::Prod | Red::Min | Red::Max | Red::Mean => {
                if matches!(c.red, Red::Prod) && T::FLOAT {
                    continue; // float products overflow in an order-dependent way
                }
                let r = match c.red {
                    Red::Sum => e.sum(),
                    Red::Prod => e.prod(),
                    Red::Min => e.min(),
                    Red::Max => e.max(),
                    _ => e.mean(),
                };
                let (got, w, _) = outcome!(r);
                let want = match c.red {
                    Red::Sum | Red::Mean => {
                        let s = w.iter().fold(T::of(0), |a, &x| T::r_add(a, x));
                        if matches!(c.red, Red::Mean) {
                            T::r_div(s, T::of(w.len() as i32)).unwrap()
                        } else {
                            s
                        }
                    }
                    Red::Prod => w.iter().fold(T::of(1), |a, &x| T::r_mul(a, x)),
                    // From the identity, as the kernels start (docs/expr.md):
                    // NaN loses, so the minimum of only NaNs is +inf.
                    Red::Min => w.iter().copied().fold(T::MIN_IDENTITY, T::r_min),
                    _ => w.iter().copied().fold(T::MAX_IDENTITY, T::r_max),
                };
                let t = if matches!(c.red, Red::Min | Red::Max) {
                    elem_tol
                } else {
                    tol.max(1e-12)
                };
                prop_assert!(
                    same(got, want, t, scale),
                    "{}: {:?} != {:?}",
                    ctx,
                    got,
                    want
                );
            }
            Red::Any | Red::All => {
                let cond = e.gt(T::of(0));
                let r = if matches!(c.red, Red::Any) {
                    cond.any()
                } else {
                    cond.all()
                };
                let (got, w, _) = outcome!(r);
                let want = if matches!(c.red, Red::Any) {
                    w.iter().any(|&x| x > T::of(0))
                } else {
                    w.iter().all(|&x| x > T::of(0))
                };
                if c.math.is_none() {
                    prop_assert_eq!(got, want, "{}", ctx);
                }
            }
            Red::SumAxis(ax) | Red::MaxAxis(ax) | Red::MeanAxis(ax) => {
                let r = match c.red {
                    Red::SumAxis(_) => e.sum_axis(ax),
                    Red::MaxAxis(_) => e.max_axis(ax),
                    _ => e.mean_axis(ax),
                };
                let rank = out_shape.as_ref().map_or(0, Vec::len);
                if rank != 2 {
                    // A 1-D expression has no axis to reduce along: an error.
                    prop_assert!(
                        r.is_err(),
                        "{}: reduced a 1-D expression along an axis",
                        ctx
                    );
                    continue;
                }
                let (got, w, s) = outcome!(r);
                let (rows, cols) = (s[0], s[1]);
                let mut out_s = s.clone();
                out_s.remove(ax);
                prop_assert_eq!(&got.shape(), &out_s, "{}", ctx);
                let got = got.to_vec().unwrap();
                for (j, &g) in got.iter().enumerate() {
                    let line: Vec<T> = if ax == 0 {
                        (0..rows).map(|i| w[i * cols + j]).collect()
                    } else {
                        (0..cols).map(|k| w[j * cols + k]).collect()
                    };
                    let sum = line.iter().fold(T::of(0), |a, &x| T::r_add(a, x));
                    let want = match c.red {
                        Red::SumAxis(_) => sum,
                        Red::MaxAxis(_) => line.iter().copied().reduce(T::r_max).unwrap(),
                        _ => T::r_div(sum, T::of(line.len() as i32)).unwrap(),
                    };
                    let sc: f64 = line
                        .iter()
                        .map(|&x| T::to_f64(x).abs())
                        .filter(|x| x.is_finite())
                        .sum();
                    let t = if matches!(c.red, Red::MaxAxis(_)) {
                        elem_tol
                    } else {
                        tol.max(1e-12)
                    };
                    prop_assert!(
                        same(g, want, t, sc),
                        "{}: out[{}] {:?} != {:?}",
                        ctx,
                        j,
                        g,
                        want
                    );
                }
            }
        }
    }
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Shrinking reruns failing cases on every backend: keep it short.
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn random_f32_expressions_match_the_reference(c in case()) {
        check_case::<f32>(&c, 1e-5)?;
    }

    #[test]
    fn random_f64_expressions_match_the_reference(c in case()) {
        check_case::<f64>(&c, 1e-12)?;
    }

    #[test]
    fn random_i32_expressions_match_the_reference(c in case()) {
        check_case::<i32>(&c, 0.0)?;
    }

    #[test]
    fn random_i64_expressions_match_the_reference(c in case()) {
        check_case::<i64>(&c, 0.0)?;
    }
}

// ---- The contract, case by case ----

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
}

#[test]
fn operators_take_arrays_expressions_and_scalars_on_either_side() {
    let x = Array::from(vec![1.0f32, 2.0, 3.0]);
    let y = Array::from(vec![10.0f32, 20.0, 30.0]);
    let e = &x * 2.0f32 + 2.0f32 * &x - &y / 10.0f32;
    assert_eq!(e.eval().unwrap().to_vec().unwrap(), [3.0, 6.0, 9.0]);
    let e = (-&x).maximum(&y).minimum(15.0f32) + (1.0f32 - &x) * (&y - &x);
    assert_eq!(e.eval().unwrap().to_vec().unwrap(), [10.0, -3.0, -39.0]);
    assert_eq!(
        x.sqrt()
            .powf(2.0f32)
            .round()
            .eval()
            .unwrap()
            .to_vec()
            .unwrap(),
        [1.0, 2.0, 3.0]
    );
}

#[test]
fn every_math_method_matches_rust() {
    let v = vec![0.25f32, 0.5, 0.75];
    let x = Array::from(v.clone());
    type Case = (Expr<f32>, fn(f32) -> f32);
    let cases: Vec<Case> = vec![
        (x.sqrt(), f32::sqrt),
        (x.cbrt(), f32::cbrt),
        (x.exp(), f32::exp),
        (x.exp2(), f32::exp2),
        (x.expm1(), f32::exp_m1),
        (x.log(), f32::ln),
        (x.log1p(), f32::ln_1p),
        (x.log2(), f32::log2),
        (x.log10(), f32::log10),
        (x.sin(), f32::sin),
        (x.cos(), f32::cos),
        (x.tan(), f32::tan),
        (x.asin(), f32::asin),
        (x.acos(), f32::acos),
        (x.atan(), f32::atan),
        (x.sinh(), f32::sinh),
        (x.cosh(), f32::cosh),
        (x.tanh(), f32::tanh),
        (x.floor(), f32::floor),
        (x.ceil(), f32::ceil),
        (x.round(), f32::round),
        (x.trunc(), f32::trunc),
        (x.abs(), f32::abs),
        (x.atan2(0.5f32), |a| a.atan2(0.5)),
        (x.powf(1.5f32), |a| a.powf(1.5)),
        (x.hypot(&x), |a| a.hypot(a)),
        (x.fma(2.0f32, &x), |a| a.mul_add(2.0, a)),
        (x.clamp(0.3f32, 0.6f32), |a| a.clamp(0.3, 0.6)),
    ];
    for b in backends() {
        for (e, f) in &cases {
            let want: Vec<f32> = v.iter().map(|&a| f(a)).collect();
            let got = e.on(b).eval().unwrap().to_vec().unwrap();
            assert!(
                close(&got, &want),
                "{} on {}: {got:?} != {want:?}",
                e.kernel_source().unwrap(),
                b.name()
            );
        }
        let erf = x.erf().on(b).eval().unwrap().to_vec().unwrap();
        assert!((erf[1] - 0.520_499_9).abs() < 1e-5, "{erf:?}");
        let nan = Array::from(vec![f32::NAN, f32::INFINITY, 1.0]);
        let both = nan.is_nan().or(nan.is_inf());
        assert_eq!(
            kiln::select(both, 1.0f32, 0.0f32)
                .on(b)
                .eval()
                .unwrap()
                .to_vec()
                .unwrap(),
            [1.0, 1.0, 0.0]
        );
    }
}

#[test]
fn comparisons_select_and_conditions() {
    let x = Array::from(vec![1i32, -2, 3, -4]);
    let pos = x.gt(0);
    assert_eq!(
        kiln::select(&pos, &x, -&x)
            .eval()
            .unwrap()
            .to_vec()
            .unwrap(),
        [1, 2, 3, 4]
    );
    assert!(pos.any().unwrap());
    assert!(!pos.all().unwrap());
    assert!(x.ne_(0).all().unwrap());
    assert!(!x.eq_(5).any().unwrap());
    assert!((x.ge(-4) & x.le(3)).all().unwrap());
    assert!((!x.lt(-10)).all().unwrap());
    assert_eq!(pos.cast::<i32>().sum().unwrap(), 2);
}

#[test]
fn casts_follow_the_language() {
    let x = Array::from(vec![1.5f32, -2.5, 3e10]);
    assert_eq!(
        x.cast::<f64>().eval().unwrap().to_vec().unwrap(),
        [1.5, -2.5, 3e10f32 as f64]
    );
    // float -> int saturates, as Rust's `as`.
    assert_eq!(
        x.cast::<i32>().eval().unwrap().to_vec().unwrap(),
        [1, -2, i32::MAX]
    );
}

#[test]
fn integers_wrap_and_divide_by_zero_is_an_error() {
    let x = Array::from(vec![i32::MAX, i32::MIN, 7]);
    assert_eq!(
        (&x + 1).eval().unwrap().to_vec().unwrap(),
        [i32::MIN, i32::MIN + 1, 8]
    );
    assert_eq!(
        x.abs().eval().unwrap().to_vec().unwrap(),
        [i32::MAX, i32::MIN, 7]
    );
    assert_eq!(
        x.sum().unwrap(),
        i32::MAX.wrapping_add(i32::MIN).wrapping_add(7)
    );
    let z = Array::from(vec![1i32, 0, 1]);
    let err = (&x / &z).eval().unwrap_err();
    assert!(matches!(err, Error::Runtime(_)), "{err}");
}

#[test]
fn reductions_and_dot() {
    let a = Array::from(vec![1.0f64, 2.0, 3.0, 4.0]);
    let b = Array::from(vec![4.0f64, 3.0, 2.0, 1.0]);
    assert_eq!(a.sum().unwrap(), 10.0);
    assert_eq!(a.prod().unwrap(), 24.0);
    assert_eq!((&a - &b).min().unwrap(), -3.0);
    assert_eq!((&a - &b).max().unwrap(), 3.0);
    assert_eq!(a.mean().unwrap(), 2.5);
    assert_eq!(a.dot(&b).unwrap(), 20.0);
    let norm = ((&a - &b) * (&a - &b)).sum().unwrap().sqrt();
    assert_eq!(norm, 20f64.sqrt());
    let m = Array::from_shape_vec(vec![2, 3], vec![1i64, 2, 3, 4, 5, 6]).unwrap();
    assert_eq!(m.sum_axis(0).unwrap().to_vec().unwrap(), [5, 7, 9]);
    assert_eq!(m.sum_axis(1).unwrap().to_vec().unwrap(), [6, 15]);
    assert_eq!(m.max_axis(0).unwrap().to_vec().unwrap(), [4, 5, 6]);
    assert_eq!(m.min_axis(1).unwrap().to_vec().unwrap(), [1, 4]);
    assert_eq!(m.prod_axis(1).unwrap().to_vec().unwrap(), [6, 120]);
    assert_eq!((&m * 2).mean_axis(1).unwrap().to_vec().unwrap(), [4, 10]);
    let empty = Array::from(Vec::<f32>::new());
    assert_eq!(empty.sum().unwrap(), 0.0);
    assert!(empty.min().unwrap_err().to_string().contains("empty"));
    // NaN loses; only NaNs leave the identity.
    let nans = Array::from(vec![f32::NAN, 2.0, f32::NAN]);
    assert_eq!((nans.min().unwrap(), nans.max().unwrap()), (2.0, 2.0));
    let only_nan = Array::from(vec![f64::NAN; 3]);
    assert_eq!(only_nan.min().unwrap(), f64::INFINITY);
    assert_eq!(only_nan.max().unwrap(), f64::NEG_INFINITY);
    assert!(m.sum_axis(2).unwrap_err().to_string().contains("axis 2"));
}

#[test]
fn broadcasting_rows_columns_and_scalars() {
    let m = Array::from_shape_vec(vec![2, 3], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let row = Array::from(vec![10.0f32, 20.0, 30.0]);
    let col = Array::from_shape_vec(vec![2, 1], vec![100.0f32, 200.0]).unwrap();
    let r = (&m + &row + &col).eval().unwrap();
    assert_eq!(r.shape(), [2, 3]);
    assert_eq!(
        r.to_vec().unwrap(),
        [111.0, 122.0, 133.0, 214.0, 225.0, 236.0]
    );
    // A row and a column make a matrix.
    let outer = (&col * &row).eval().unwrap();
    assert_eq!(outer.shape(), [2, 3]);
    assert_eq!(
        outer.to_vec().unwrap(),
        [1000.0, 2000.0, 3000.0, 2000.0, 4000.0, 6000.0]
    );
    assert_eq!(
        (&m - &row).sum_axis(0).unwrap().to_vec().unwrap(),
        [-15.0, -33.0, -51.0]
    );
}

#[test]
fn shape_mismatches_are_errors_naming_both_shapes() {
    let m = Array::from_shape_vec(vec![2, 3], vec![0.0f32; 6]).unwrap();
    let v = Array::from(vec![0.0f32; 2]);
    for msg in [
        (&m + &v).eval().unwrap_err().to_string(),
        (&m * &v).sum().unwrap_err().to_string(),
        m.dot(&v).unwrap_err().to_string(),
    ] {
        assert!(msg.contains("[2, 3]") && msg.contains("[2]"), "{msg}");
    }
    let mut y = Array::from(vec![0.0f32; 4]);
    let msg = y.assign(&m * 2.0f32).unwrap_err().to_string();
    assert!(msg.contains("[4]") && msg.contains("[2, 3]"), "{msg}");
    assert!(matches!((&m + &v).eval(), Err(Error::Expr { .. })));
}

#[test]
fn assign_writes_in_place_reading_the_target_once() {
    let x = Array::from(vec![1.0f32, 2.0, 3.0]);
    for b in backends() {
        let mut y = Array::from(vec![10.0f32, 20.0, 30.0]);
        let a = 2.0f32;
        y.assign((&y * a + &x).on(b)).unwrap();
        assert_eq!(y.to_vec().unwrap(), [21.0, 42.0, 63.0], "{}", b.name());
        // A broadcast scalar expression fills the array.
        y.assign((&y * 0.0f32 + 1.0f32).on(b)).unwrap();
        assert_eq!(y.to_vec().unwrap(), [1.0; 3]);
    }
}

#[test]
fn building_does_no_work_and_values_share_one_kernel() {
    let x = Array::from(vec![1.0f32; 4]);
    let before = x.transfers();
    let e = (&x * 3.0f32 + 1.0f32).sqrt();
    let f = (&x * 5.0f32 + 7.0f32).sqrt();
    assert_eq!(x.transfers(), before);
    // Values are parameters: the same kernel serves both, and other
    // sizes too.
    let big = Array::from(vec![1.0f32; 100]);
    let g = (&big * 9.0f32 + 2.0f32).sqrt();
    let src = e.kernel_source().unwrap();
    assert_eq!(src, f.kernel_source().unwrap());
    assert_eq!(src, g.kernel_source().unwrap());
    assert!(src.contains("prange") && src.contains("sqrt"), "{src}");
    assert_eq!(e.eval().unwrap().to_vec().unwrap(), [2.0; 4]);
    assert_eq!(f.eval().unwrap().to_vec().unwrap(), [12f32.sqrt(); 4]);
    // One array read once, however often the expression names it.
    let twice = ((&x - 1.0f32) * (&x - 1.0f32)).kernel_source().unwrap();
    assert!(
        twice.contains("a0: f32[:]") && !twice.contains("a1"),
        "{twice}"
    );
    let ir = e.kernel_ir().unwrap();
    assert!(ir.contains("fused"), "{ir}");
    // What each backend compiles, without a device.
    let clif = e.kernel_clif().unwrap();
    assert!(clif.contains("function") && clif.contains("sqrt"), "{clif}");
    let wgsl = e.kernel_wgsl().unwrap();
    assert!(
        wgsl.contains("@compute") && wgsl.contains("sqrt("),
        "{wgsl}"
    );
    #[cfg(feature = "cuda")]
    {
        let cuda = e.kernel_cuda().unwrap();
        assert!(
            cuda.contains("__global__") && cuda.contains("sqrt"),
            "{cuda}"
        );
    }
    // The same for an integer expression with a reduction's elementwise part.
    let n = Array::from(vec![3i64, 4]);
    let wgsl = (&n * 2i64 + 1i64).kernel_wgsl().unwrap();
    assert!(wgsl.contains("i64"), "{wgsl}");
}

#[test]
fn expressions_read_their_arrays_when_evaluated_and_keep_them_alive() {
    let mut x = Array::from(vec![1.0f32, 2.0]);
    let e = &x * 2.0f32;
    x.assign(&x + 10.0f32).unwrap();
    assert_eq!(e.eval().unwrap().to_vec().unwrap(), [22.0, 24.0]);
    drop(x);
    assert_eq!(e.sum().unwrap(), 46.0);
}

#[test]
fn results_stay_on_the_device_that_computed_them() {
    if !backends().contains(&Backend::Wgpu) {
        eprintln!("skipping: no wgpu");
        return;
    }
    let x = Array::from(vec![1.0f32, 2.0, 3.0, 4.0]);
    let y = (&x * 2.0f32).on(Backend::Wgpu).eval().unwrap();
    let z = (&y + &x).on(Backend::Wgpu).eval().unwrap();
    // x went up once and stayed; y never came down. The results were
    // never uploaded: their device memory starts zeroed.
    assert_eq!(x.transfers().uploads, 1);
    assert_eq!(y.transfers().downloads, 0);
    assert_eq!((y.transfers().uploads, z.transfers().uploads), (0, 0));
    assert_eq!(z.to_vec().unwrap(), [3.0, 6.0, 9.0, 12.0]);
    // A result written on the host first is uploaded whole.
    let mut w = (&x * 3.0f32).on(Backend::Cpu).eval().unwrap();
    w.as_mut_slice().unwrap()[0] = 100.0;
    let v = (&w + 1.0f32).on(Backend::Wgpu).eval().unwrap();
    assert_eq!(w.transfers().uploads, 1);
    assert_eq!(v.to_vec().unwrap(), [101.0, 7.0, 10.0, 13.0]);
}

#[test]
fn an_expression_without_arrays_is_an_error() {
    let e: Expr<f32> = 2.0f32.into_expr() + 1.0f32;
    assert!(e.eval().unwrap_err().to_string().contains("no array"));
}
