//! `kiln bench --sweep saxpy,sum_sq`: each kernel at sizes 1e2..1e8, `auto`
//! against every forced placement, medians side by side from one run, the
//! ratio auto / best forced per size and its geometric mean. Columns take
//! turns in rounds (see [`ROUNDS`]), each block after a short warm-up
//! ([`WARM_S`]); auto learns from its first launch of each size on, and
//! the re-tries it makes later fall among its samples. `--sweep` alone
//! runs [`DEFAULT_KERNELS`]. A size is the element count of each array (a
//! matrix is square); a placement whose launch would take longer than
//! [`SLOW_S`] (projected from the previous size by the cost model's work)
//! is skipped there, and the kernel stops when every one would.

use crate::error::{Error, Result};
use crate::inputs::host::HostArray;
use crate::inputs::params::ParamType;
use crate::ir::{ScalarType, Value};
use crate::runtime::args::Arg;
use crate::runtime::{engines, AnyArray, Backend, Kernel, Placement};
use crate::util::{duration, median};
use std::path::Path;
use std::time::{Duration, Instant};

/// Sizes of the sweep: 1e2 to 1e8.
pub const SIZES: [usize; 7] = [
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The interpreter is skipped above this size (seconds per launch).
const INTERP_MAX: usize = 100_000;

/// The kernels `--sweep` runs when it names none.
pub const DEFAULT_KERNELS: [&str; 5] = ["saxpy", "sum_sq", "dot", "matmul", "blackscholes"];

/// Seconds per launch above which a placement is skipped at a size.
pub const SLOW_S: f64 = 1.5;

/// One argument: a scalar or a managed array.
enum Value1 {
    Scalar(Value),
    Array(AnyArray, bool),
}

/// Arguments of `n` elements for every array parameter; scalars are 1.5 (or
/// `n` for integers).
fn make_args(kernel: &Kernel, n: usize) -> Vec<Value1> {
    kernel
        .param_slice()
        .iter()
        .map(|p| match p.ty {
            ParamType::Scalar(t) => Value1::Scalar(match t {
                ScalarType::F32 => Value::F32(1.5),
                ScalarType::F64 => Value::F64(1.5),
                ScalarType::I32 => Value::I32(n as i32),
                ScalarType::U32 => Value::U32(n as u32),
                ScalarType::I64 => Value::I64(n as i64),
                ScalarType::Bool => Value::Bool(true),
            }),
            ParamType::Array { elem, rank, .. } => {
                // A matrix of about n elements is square.
                let shape = match rank {
                    2 => {
                        let s = ((n as f64).sqrt().round() as usize).max(1);
                        vec![s, s]
                    }
                    _ => vec![n],
                };
                let len: usize = shape.iter().product();
                let h = match elem {
                    ScalarType::F32 => {
                        shaped((0..len).map(|i| (i % 1000) as f32 * 1e-3).collect(), shape)
                    }
                    ScalarType::F64 => {
                        shaped((0..len).map(|i| (i % 1000) as f64 * 1e-3).collect(), shape)
                    }
                    ScalarType::I32 => shaped(vec![1i32; len], shape),
                    ScalarType::U32 => shaped(vec![1u32; len], shape),
                    _ => shaped(vec![1i64; len], shape),
                };
                Value1::Array(AnyArray::from_host(h), p.ty.is_mut_array())
            }
        })
        .collect()
}

/// `v` with `shape` (whose product is `v.len()` by construction; 1-D if not).
fn shaped<T: crate::inputs::host::HostElement>(v: Vec<T>, shape: Vec<usize>) -> HostArray {
    if shape.iter().product::<usize>() != v.len() {
        return HostArray::from_vec_1d(v);
    }
    HostArray::from_vec(v, shape).unwrap_or_else(|_| HostArray::from_vec_1d(Vec::<T>::new()))
}

fn as_args(values: &mut [Value1]) -> Vec<Arg<'_>> {
    values
        .iter_mut()
        .map(|v| match v {
            Value1::Scalar(x) => Arg::Scalar(*x),
            Value1::Array(a, true) => a.arg_mut(),
            Value1::Array(a, false) => a.arg(),
        })
        .collect()
}

/// Rounds per size: each column (auto, then each forced placement) runs a
/// block of launches in turn, [`ROUNDS`] times, so that what drifts while
/// the sweep runs (other load, clock speeds) falls on every column alike.
const ROUNDS: usize = 3;

/// Each block first runs its column for this long (at least one launch, at
/// most [`WARM_LAUNCHES`]) unmeasured: the column before it left other
/// threads' cores idle or caches full of other data, and on the 2-vCPU
/// development VM a pool whose workers slept runs up to 2x slower for its
/// first milliseconds. Every column gets the same warm-up.
const WARM_S: f64 = 40e-3;
const WARM_LAUNCHES: usize = 30;

/// Samples per block at least (within 4x its budget): at 1e8 elements a
/// block's budget holds one or two launches, and auto's median must not be
/// one exploration.
const MIN_SAMPLES: usize = 3;

/// Seconds of `launch` after its warm-up, repeated for about `budget` (at
/// least [`MIN_SAMPLES`], at most 30 runs): one block of a round.
fn block(budget: Duration, mut launch: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    let warm = Instant::now();
    for _ in 0..WARM_LAUNCHES {
        launch()?;
        if warm.elapsed().as_secs_f64() >= WARM_S {
            break;
        }
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    loop {
        let spent = start.elapsed();
        let more = if samples.len() < MIN_SAMPLES {
            samples.is_empty() || spent < 4 * budget
        } else {
            spent < budget && samples.len() < 30
        };
        if !more {
            break;
        }
        let t = Instant::now();
        launch()?;
        samples.push(t.elapsed().as_secs_f64());
    }
    Ok(samples)
}

/// The forced placements that can run here.
fn forced() -> Vec<Placement> {
    let mut v = vec![Placement::CpuSerial, Placement::CpuPool];
    for b in Backend::devices() {
        if engines::availability(b).is_ok() {
            v.push(Placement::Gpu(b));
        }
    }
    v.push(Placement::Interp);
    v
}

fn cell(s: Option<f64>) -> String {
    match s {
        Some(s) => duration(s),
        None => "-".into(),
    }
}

/// Runs the sweep and returns the table.
pub fn sweep(
    dir: Option<&Path>,
    kernels: &[String],
    budget: Duration,
    max: usize,
) -> Result<String> {
    let places = forced();
    let mut out = String::new();
    let mut all_ratios = Vec::new();
    for name in kernels {
        let files = super::run::kernel_files(dir, Some(std::slice::from_ref(name)))?;
        let module = files[0].module()?;
        let kernel = module.kernel(name)?;
        out += &format!("\n{name}: median seconds per launch (auto's pick in brackets)\n");
        out += &format!("{:>10} {:>22}", "n", "auto");
        for p in &places {
            out += &format!(" {:>11}", p.name());
        }
        out += &format!(" {:>11}\n", "auto/best");
        let mut ratios = Vec::new();
        // Per column (auto, then each placement): the last size's work and
        // time, to project this size's.
        let mut last: Vec<Option<(f64, f64)>> = vec![None; places.len() + 1];
        for &n in SIZES.iter().filter(|&&n| n <= max) {
            let mut values = make_args(&kernel, n);
            let work = {
                let args = as_args(&mut values);
                let w = crate::runtime::cost::estimate(module.ir(), kernel.id(), &args);
                (w.total_ops() + w.bytes).max(1.0)
            };
            let too_slow =
                |col: usize| last[col].is_some_and(|(w, t): (f64, f64)| t * work / w > SLOW_S);
            if (0..=places.len()).all(too_slow) {
                out += &format!(
                    "{n:>10} (stopped: every placement would take over {})\n",
                    duration(SLOW_S)
                );
                break;
            }
            let mut picked = Placement::Cpu;
            // Per column: its samples so far, or None once skipped or failed
            // (a GPU that cannot run this kernel is a gap, not a failure).
            let mut samples: Vec<Option<Vec<f64>>> = (0..=places.len())
                .map(|c| {
                    let skip = too_slow(c)
                        || (c > 0 && places[c - 1] == Placement::Interp && n > INTERP_MAX);
                    (!skip).then(Vec::new)
                })
                .collect();
            let per_block = budget / ROUNDS as u32;
            let columns = samples.len();
            for round in 0..ROUNDS {
                for j in 0..columns {
                    // Each round starts one column later: no column always
                    // follows the same one (a GPU runtime's threads, the
                    // interpreter's caches) or always comes first.
                    let c = (j + round) % columns;
                    let col = &mut samples[c];
                    let Some(v) = col else { continue };
                    let t = if c == 0 {
                        block(per_block, || {
                            let mut args = as_args(&mut values);
                            picked = kernel.launch_placing(Backend::Auto, &mut args)?.0;
                            Ok(())
                        })?
                    } else {
                        let p = places[c - 1];
                        match block(per_block, || {
                            let mut args = as_args(&mut values);
                            kernel.launch_placed(p, &mut args).map(|_| ())
                        }) {
                            Ok(t) => t,
                            Err(_) => {
                                *col = None;
                                continue;
                            }
                        }
                    };
                    v.extend(t);
                }
            }
            let mut medians = samples
                .iter()
                .map(|s| s.as_deref().and_then(median).filter(|t| t.is_finite()));
            let auto = medians.next().flatten();
            let row: Vec<Option<f64>> = medians.collect();
            last[0] = auto.map(|t| (work, t)).or(last[0]);
            for (c, t) in row.iter().enumerate() {
                last[c + 1] = t.map(|t| (work, t)).or(last[c + 1]);
            }
            let best = row.iter().flatten().copied().fold(f64::INFINITY, f64::min);
            let ratio = auto.map(|a| a / best).filter(|r| r.is_finite());
            ratios.extend(ratio);
            let auto_cell = match auto {
                Some(_) => format!("{} [{}]", cell(auto), picked),
                None => "-".into(),
            };
            out += &format!("{n:>10} {auto_cell:>22}");
            for t in &row {
                out += &format!(" {:>11}", cell(*t));
            }
            match ratio {
                Some(r) => out += &format!(" {r:>11.3}\n"),
                None => out += &format!(" {:>11}\n", "-"),
            }
        }
        let g = geomean(&ratios);
        all_ratios.extend(ratios);
        out += &format!("{name}: geomean auto/best = {g:.3}\n");
    }
    out += &format!(
        "\nall: geomean auto/best = {:.3} over {} sizes\n",
        geomean(&all_ratios),
        all_ratios.len()
    );
    Ok(out)
}

fn geomean(v: &[f64]) -> f64 {
    crate::util::stats::geomean(v).unwrap_or(f64::NAN)
}

/// The kernel names of `--sweep a,b`; `--sweep` alone (an empty list) is
/// [`DEFAULT_KERNELS`].
pub fn parse(spec: &str) -> Result<Vec<String>> {
    let names: Vec<String> = spec
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        if spec.trim().is_empty() {
            return Ok(DEFAULT_KERNELS.iter().map(|s| s.to_string()).collect());
        }
        return Err(Error::Usage {
            message: "--sweep needs kernel names (e.g. saxpy,sum_sq) or none".into(),
        });
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_alone_runs_the_default_set() {
        assert_eq!(parse("").unwrap(), DEFAULT_KERNELS);
        assert_eq!(parse("saxpy, dot").unwrap(), ["saxpy", "dot"]);
        assert!(parse(",").is_err());
        for k in DEFAULT_KERNELS {
            let path = format!("{}/kernels/{k}.kn", env!("CARGO_MANIFEST_DIR"));
            assert!(std::path::Path::new(&path).exists(), "{path}");
        }
    }
}
