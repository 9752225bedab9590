//! Hand-written Rust versions of the kernels in kernels/, compiled ahead of
//! time: the baselines of `kiln bench` (serial iterators and rayon) and the
//! references its results are validated against where the interpreter would
//! be too slow. Each takes the kernel's arguments in its parameter order and
//! does the same arithmetic in the same order as the kernel (no FMA
//! contraction), so serial results match kiln's up to reduction order.

use crate::ir::Value;
use crate::runtime::args::{Arg, ArrayData, ArrayDataMut};
use rayon::prelude::*;

/// Serial or parallel flavour of a baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Serial,
    Rayon,
}

impl Flavour {
    pub fn runner_name(self) -> &'static str {
        match self {
            Flavour::Serial => "rust-serial",
            Flavour::Rayon => "rust-rayon",
        }
    }
}

pub type Baseline = fn(Flavour, &mut [Arg]) -> Result<Option<Value>, String>;

/// The baseline for a kernel of kernels/, by name.
pub fn find(kernel: &str) -> Option<Baseline> {
    Some(match kernel {
        "saxpy" => saxpy,
        "triad" => triad,
        "scale_inplace" => scale_inplace,
        "sum_sq" => sum_sq,
        "dot" => dot,
        "minmax" => minmax,
        "sum_of_squares_range" => sum_of_squares_range,
        "mandelbrot" => mandelbrot,
        "blackscholes" => blackscholes,
        "nbody" => nbody,
        "matmul" => matmul,
        "jacobi2d" => jacobi2d,
        "histogram" => histogram,
        "softmax_rows" => softmax_rows,
        _ => return None,
    })
}

// ---- argument access: each baseline takes its kernel's arguments in order,
// as disjoint borrows (no copies inside the timed region) ----

type Args<'s, 'a> = std::slice::IterMut<'s, Arg<'a>>;

fn next<'s, 'a>(it: &mut Args<'s, 'a>, what: &str) -> Result<&'s mut Arg<'a>, String> {
    it.next()
        .ok_or_else(|| format!("baseline: missing argument ({what})"))
}

macro_rules! accessors {
    ($get:ident, $get_mut:ident, $t:ty, $v:ident) => {
        /// A read-only view of the next argument (either array kind).
        #[allow(dead_code)]
        fn $get<'s>(it: &mut Args<'s, '_>) -> Result<(&'s [$t], Vec<usize>), String> {
            match next(it, stringify!($t))? {
                Arg::Array {
                    data: ArrayData::$v(s),
                    shape,
                } => Ok((&**s, shape.clone())),
                Arg::ArrayMut {
                    data: ArrayDataMut::$v(s),
                    shape,
                } => Ok((&**s, shape.clone())),
                _ => Err(format!("baseline: expected a {} array", stringify!($t))),
            }
        }
        /// The next argument as a writable array.
        fn $get_mut<'s>(it: &mut Args<'s, '_>) -> Result<(&'s mut [$t], Vec<usize>), String> {
            match next(it, stringify!($t))? {
                Arg::ArrayMut {
                    data: ArrayDataMut::$v(s),
                    shape,
                } => Ok((&mut **s, shape.clone())),
                _ => Err(format!(
                    "baseline: expected a mutable {} array",
                    stringify!($t)
                )),
            }
        }
    };
}
accessors!(f32s, f32s_mut, f32, F32);
accessors!(f64s, f64s_mut, f64, F64);
accessors!(i32s, i32s_mut, i32, I32);
accessors!(i64s, i64s_mut, i64, I64);

fn scalar(it: &mut Args<'_, '_>) -> Result<Value, String> {
    match next(it, "scalar")? {
        Arg::Scalar(v) => Ok(*v),
        _ => Err("baseline: expected a scalar".into()),
    }
}

fn f64_scalar(it: &mut Args<'_, '_>) -> Result<f64, String> {
    match scalar(it)? {
        Value::F64(v) => Ok(v),
        v => Err(format!("baseline: expected an f64 scalar, got {}", v.ty())),
    }
}

fn f32_scalar(it: &mut Args<'_, '_>) -> Result<f32, String> {
    match scalar(it)? {
        Value::F32(v) => Ok(v),
        v => Err(format!("baseline: expected an f32 scalar, got {}", v.ty())),
    }
}

fn int_scalar(it: &mut Args<'_, '_>) -> Result<i64, String> {
    match scalar(it)? {
        Value::I32(v) => Ok(v as i64),
        Value::I64(v) => Ok(v),
        Value::U32(v) => Ok(v as i64),
        v => Err(format!(
            "baseline: expected an integer scalar, got {}",
            v.ty()
        )),
    }
}

const CHUNK: usize = 4096;

// ---- streaming kernels ----

// saxpy(a: f32, x: f32[:], y: mut f32[:])
fn saxpy(fl: Flavour, args: &mut [Arg]) -> Result<Option<Value>, String> {
    let it = &mut args.iter_mut();
    let (a, (x, _), (y, _)) = (f32_scalar(it)?, f32s(it)?, f32s_mut(it)?);
    let body = |(y, x): (&mut f32, &f32)| *y = a * *x + *y;
    match fl {
        Flavour::Serial => y.iter_mut().zip(x).for_each(body),
        Flavour::Rayon => y
            .par_iter_mut()
            .with_min_len(CHUNK)
            .zip(x.par_iter())
            .for_each(body),
    }
    Ok(None)
}

// triad(a: mut f64[:], b: f64[:], c: f64[:], s: f64)
fn triad(fl: Flavour, args: &mut [Arg]) -> Result<Option<Value>, String> {
    let it = &mut args.iter_mut();
    let ((a, _), (b, _), (c, _), s) = (f64s_mut(it)?, f64s(it)?, f64s(it)?, f64_scalar(it)?);
    let body = |((a, b), c): ((&mut f64, &f64), &f64)| *a = *b + s * *c;
    match fl {
        Flavour::Serial => a.iter_mut().zip(b).zip(c).for_each(body),
        Flavour::Rayon => a
            .par_iter_mut()
            .with_min_len(CHUNK)
            .zip(b.par_iter())
            .zip(c.par_iter())
            .for_each(body),
    }
    Ok(None)
}

// scale_inplace(x: mut f64[:], s: f64)
fn scale_inplace(fl: Flavour, args: &mut [Arg]) -> Result<Option<Value>, String> {
    let it = &mut args.iter_mut();
    let ((x, _), s) = (f64s_mut(it)?, f64_scalar(it)?);
    match fl {
        Flavour::Serial => x.iter_mut().for_each(|v| *v *= s),
        Flavour::Rayon => x.par_iter_mut().with_min_len(CHUNK).for_each(|v| *v *= s),
    }
    Ok(None)
}

// sum_sq(x: f64[:]) -> f64
fn sum_sq(fl: Flavour, args: &mut [Arg]) -> Result<Option<Value>, String> {
    let (x, _) = f64s(&mut args.iter_mut())?;
    let total = match fl {
        Flavour::Serial => x.iter().map(|v| v * v).sum(),
        Flavour::Rayon => x
            .par_chunks(CHUNK)
            .map(|c| c.iter().map(|v| v * v).sum::<f64>())
            .sum(),
    };
    Ok(Some(Value::F64(total)))
}

// dot(x: f64[:], y: f64[:]) -> f64
fn dot(fl: Flavour, args: &mut [Arg]) -> Result<Option<Value>, String> {
    let it = &mut args.iter_mut();
    let ((x, _), (y, _)) = (f64s(it)?, f64s(it)?);
    if y.len() < x.len() {
        return Err("baseline dot: y is shorter than x".into());
    }
    let total = match fl {
        Flavour::Serial => x.iter().zip(y).map(|(a, b)| a * b).sum(),
        Flavour::Rayon => x
            .par_chunks(CHUNK)
            .zip(y.par_chunks(CHUNK))
            .map(|(a, b)| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>())
            .sum(),
    };
    Ok(Some(Value::F64(total)))
}

// minmax(x: f32[:], out: mut f32[:]) -> f32
fn minmax(fl: Flavour, args: &mut [Arg]) -> Result<Option<Value>, String> {
    let it = &mut args.iter_mut();
    let ((x, _), (out, _)) = (f32s(it)?, f32s_mut(it)?);
    let fold = |(lo, hi): (f32, f32), v: &f32| (lo.min(*v), hi.max(*v));
    let ident = (f32::INFINITY, f32::NEG_INFINITY);
    let (lo, hi) = match fl {
        Flavour::Serial => x.iter().fold(ident, fold),
        Flavour::Rayon => x
            .par_chunks(CHUNK)
            .map(|c| c.iter().fold(ident, fold))
            .reduce(|| ident, |a, b| (a.0.min(b.0), a.1.max(b.1))),
    };
    if out.len() < 2 {
        return Err("baseline minmax: out needs 2 elements".into());
    }
    out[0] = lo;
    out[1] = hi;
    Ok(Some(Value::F32(hi - lo)))
}

// histogram(x: f32[:], bins: mut i32[:])
fn histogram(fl: Flavour, args: &mut [Arg]) -> Result<Option<Value>, String> {
    let it = &mut args.iter_mut();
    let ((x, _), (bins, _)) = (f32s(it)?, i32s_mut(it)?);
    let nb = bins.len() as i64;
    if nb == 0 {
        return Err("baseline histogram: no bins".into());
    }
    let bin_of = |v: f32| ((v * nb as f32) as i64).max(0).min(nb - 1) as usize;
    let local = |xs: &[f32]| {
        let mut h = vec![0i32; nb as usize];
        xs.iter().for_each(|&v| h[bin_of(v)] += 1);
        h
    };
    let counts = match fl {
        Flavour::Serial => local(x),
        Flavour::Rayon => x.par_chunks(1 << 16).map(local).reduce(
            || vec![0; nb as usize],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(p, q)| *p += q);
                a
            },
        ),
    };
    bins.iter_mut()
        .zip(counts)
        .for_each(|(b, c)| *b = b.wrapping_add(c));
    Ok(None)
}

// ---- compute-bound kernels ----

// sum_of_squares_range(out: mut i64[:], iters: i64)
fn sum_of_squares_range(fl: Flavour, args: &mut [Arg]) -> Result<Option<Value>, String> {
    let it = &mut args.iter_mut();
    let ((out, _), iters) = (i64s_mut(it)?, int_scalar(it)?);
    if iters == 0 {
        return Err("baseline sum_of_squares_range: iters is 0 (the kernel faults)".into());
    }
    let task = |(k, o): (usize, &mut i64)| {
        let n_k = (k as i64).wrapping_mul(7919).wrapping_rem(iters);
        let mut s = 0i64;
        for i in 0..n_k {
            s = s.wrapping_add(i.wrapping_mul(i));
        }
        *o = s;
    };
    match fl {
        Flavour::Serial => out.iter_mut().enumerate().for_each(task),
        Flavour::Rayon => out.par_iter_mut().enumerate().for_each(task),
    }
    Ok(None)
}

// mandelbrot(out: mut i32[:, :], max_iter: i32)
fn mandelbrot(fl: Flavour, args: &mut [Arg]) -> Result<Option<Value>, String> {
    let it = &mut args.iter_mut();
    let ((out, sh), max_iter) = (i32s_mut(it)?, int_scalar(it)? as i32);
    let (h, w) = (sh[0], sh[1]);
    let row = |(py, r): (usize, &mut [i32])| {
        for (px, o) in r.iter_mut().enumerate() {
            let cr = -2.0 + 3.0 * (px as f64) / (w as f64);
            let ci = -1.5 + 3.0 * (py as f64) / (h as f64);
            let (mut zr, mut zi, mut n) = (0.0f64, 0.0f64, 0i32);
            while n < max_iter && zr * zr + zi * zi <= 4.0 {
                let t = zr * zr - zi * zi + cr;
                zi = 2.0 * zr * zi + ci;
                zr = t;
                n += 1;
            }
            *o = n;
        }
    };
    match fl {
        Flavour::Serial => out.chunks_mut(w.max(1)).enumerate().for_each(row),
        Flavour::Rayon => out.par_chunks_mut(w.max(1)).enumerate().for_each(row),
    }
    Ok(None)
}

fn cnd(d: f64) -> f64 {
    0.5 * (1.0 + libm::erf(d / 2.0f64.sqrt()))
}

// blackscholes(spot, strike, years: f64[:], rate: f64, vol: f64, call: mut f64[:], put: mut f64[:])
fn blackscholes(fl: Flavour, args: &mut [Arg]) -> Result<Option<Value>, String> {
    let it = &mut args.iter_mut();
    let ((spot, _), (strike, _), (years, _)) = (f64s(it)?, f64s(it)?, f64s(it)?);
    let (rate, vol) = (f64_scalar(it)?, f64_scalar(it)?);
    let ((call, _), (put, _)) = (f64s_mut(it)?, f64s_mut(it)?);
    let price = |(i, (c, p)): (usize, (&mut f64, &mut f64))| {
        let s = 10.0 + 90.0 * spot[i];
        let k = 10.0 + 90.0 * strike[i];
        let t = 0.1 + 1.9 * years[i];
        let vol_sqrt_t = vol * t.sqrt();
        let d1 = ((s / k).ln() + (rate + 0.5 * vol * vol) * t) / vol_sqrt_t;
        let d2 = d1 - vol_sqrt_t;
        let dk = k * (-rate * t).exp();
        *c = s * cnd(d1) - dk * cnd(d2);
        *p = dk * cnd(-d2) - s * cnd(-d1);
    };
    match fl {
        Flavour::Serial => call
            .iter_mut()
            .zip(put.iter_mut())
            .enumerate()
            .for_each(price),
        Flavour::Rayon => call
            .par_iter_mut()
            .with_min_len(1024)
            .zip(put.par_iter_mut())
            .enumerate()
            .for_each(price),
    }
    Ok(None)
}

// nbody(pos: f32[:, :], mass: f32[:], acc: mut f32[:, :], softening: f32)
fn nbody(fl: Flavour, args: &mut [Arg]) -> Result<Option<Value>, String> {
    let it = &mut args.iter_mut();
    let ((pos, _), (mass, _), (acc, _), soft) =
        (f32s(it)?, f32s(it)?, f32s_mut(it)?, f32_scalar(it)?);
    let eps2 = soft * soft;
    let n = pos.len() / 3;
    let body = |(i, a): (usize, &mut [f32])| {
        let (xi, yi, zi) = (pos[3 * i], pos[3 * i + 1], pos[3 * i + 2]);
        let (mut ax, mut ay, mut az) = (0.0f32, 0.0f32, 0.0f32);
        for j in 0..n {
            let dx = pos[3 * j] - xi;
            let dy = pos[3 * j + 1] - yi;
            let dz = pos[3 * j + 2] - zi;
            let r2 = dx * dx + dy * dy + dz * dz + eps2;
            let inv_r = 1.0 / r2.sqrt();
            let s = mass[j] * inv_r * inv_r * inv_r;
            ax += s * dx;
            ay += s * dy;
            az += s * dz;
        }
        a[0] = ax;
        a[1] = ay;
        a[2] = az;
    };
    match fl {
        Flavour::Serial => acc.chunks_mut(3).enumerate().for_each(body),
        Flavour::Rayon => acc.par_chunks_mut(3).enumerate().for_each(body),
    }
    Ok(None)
}

// matmul(a: f32[:, :], b: f32[:, :], c: mut f32[:, :])
fn matmul(fl: Flavour, args: &mut [Arg]) -> Result<Option<Value>, String> {
    let it = &mut args.iter_mut();
    let ((a, sa), (b, sb), (c, _)) = (f32s(it)?, f32s(it)?, f32s_mut(it)?);
    let (p, q) = (sa[1], sb[1]);
    let row = |(i, c): (usize, &mut [f32])| {
        for (j, cij) in c.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for k in 0..p {
                acc += a[i * p + k] * b[k * q + j];
            }
            *cij = acc;
        }
    };
    match fl {
        Flavour::Serial => c.chunks_mut(q.max(1)).enumerate().for_each(row),
        Flavour::Rayon => c.par_chunks_mut(q.max(1)).enumerate().for_each(row),
    }
    Ok(None)
}

// jacobi2d(a: mut f64[:, :], b: mut f64[:, :], iters: i32)
fn jacobi2d(fl: Flavour, args: &mut [Arg]) -> Result<Option<Value>, String> {
    let it = &mut args.iter_mut();
    let ((a, sh), (b, _), iters) = (f64s_mut(it)?, f64s_mut(it)?, int_scalar(it)?);
    let (h, w) = (sh[0], sh[1]);
    b.copy_from_slice(a);
    fn sweep(fl: Flavour, src: &[f64], dst: &mut [f64], h: usize, w: usize) {
        if h < 3 || w < 3 {
            return;
        }
        let row = |(i, d): (usize, &mut [f64])| {
            let i = i + 1;
            for j in 1..w - 1 {
                d[j] = 0.25
                    * (src[(i - 1) * w + j]
                        + src[(i + 1) * w + j]
                        + src[i * w + j - 1]
                        + src[i * w + j + 1]);
            }
        };
        let inner = &mut dst[w..(h - 1) * w];
        match fl {
            Flavour::Serial => inner.chunks_mut(w).enumerate().for_each(row),
            Flavour::Rayon => inner.par_chunks_mut(w).enumerate().for_each(row),
        }
    }
    for _ in 0..iters.max(0) {
        sweep(fl, a, b, h, w);
        sweep(fl, b, a, h, w);
    }
    Ok(None)
}

// softmax_rows(x: f32[:, :], out: mut f32[:, :])
fn softmax_rows(fl: Flavour, args: &mut [Arg]) -> Result<Option<Value>, String> {
    let it = &mut args.iter_mut();
    let ((x, sx), (out, _)) = (f32s(it)?, f32s_mut(it)?);
    let cols = sx[1];
    let row = |(r, o): (usize, &mut [f32])| {
        let xr = &x[r * cols..(r + 1) * cols];
        let m = xr.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let mut sum = 0.0f32;
        for (oc, &xc) in o.iter_mut().zip(xr) {
            let e = (xc - m).exp();
            *oc = e;
            sum += e;
        }
        let inv = 1.0 / sum;
        o.iter_mut().for_each(|v| *v *= inv);
    };
    match fl {
        Flavour::Serial => out.chunks_mut(cols.max(1)).enumerate().for_each(row),
        Flavour::Rayon => out.par_chunks_mut(cols.max(1)).enumerate().for_each(row),
    }
    Ok(None)
}
