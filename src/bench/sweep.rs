//! `kiln bench --sweep saxpy,sum_sq`: each kernel at sizes 1e2..1e8, `auto`
//! against every forced placement, medians side by side from one run, the
//! ratio auto / best forced per size and its geometric mean.

use crate::error::{Error, Result};
use crate::inputs::host::HostArray;
use crate::inputs::params::ParamType;
use crate::ir::{ScalarType, Value};
use crate::runtime::args::Arg;
use crate::runtime::{engines, AnyArray, Backend, Kernel, Module, Placement};
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
            ParamType::Array { elem, .. } => {
                let h = match elem {
                    ScalarType::F32 => {
                        HostArray::from_vec_1d((0..n).map(|i| (i % 1000) as f32 * 1e-3).collect())
                    }
                    ScalarType::F64 => {
                        HostArray::from_vec_1d((0..n).map(|i| (i % 1000) as f64 * 1e-3).collect())
                    }
                    ScalarType::I32 => HostArray::from_vec_1d(vec![1i32; n]),
                    ScalarType::U32 => HostArray::from_vec_1d(vec![1u32; n]),
                    _ => HostArray::from_vec_1d(vec![1i64; n]),
                };
                Value1::Array(AnyArray::from_host(h), p.ty.is_mut_array())
            }
        })
        .collect()
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

/// Median seconds of `launch` after one warm-up run, repeated for about
/// `budget` (3 to 30 runs).
fn time(budget: Duration, mut launch: impl FnMut() -> Result<()>) -> Result<f64> {
    launch()?;
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 3 || (start.elapsed() < budget && samples.len() < 30) {
        let t = Instant::now();
        launch()?;
        samples.push(t.elapsed().as_secs_f64());
    }
    Ok(median(&samples).unwrap_or(f64::NAN))
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
pub fn sweep(dir: &Path, kernels: &[String], budget: Duration, max: usize) -> Result<String> {
    let places = forced();
    let mut out = String::new();
    let mut all_ratios = Vec::new();
    for name in kernels {
        let module = Module::from_file(dir.join(format!("{name}.kn")))?;
        let kernel = module.kernel(name)?;
        out += &format!("\n{name}: median seconds per launch (auto's pick in brackets)\n");
        out += &format!("{:>10} {:>22}", "n", "auto");
        for p in &places {
            out += &format!(" {:>11}", p.name());
        }
        out += &format!(" {:>11}\n", "auto/best");
        let mut ratios = Vec::new();
        for &n in SIZES.iter().filter(|&&n| n <= max) {
            let mut values = make_args(&kernel, n);
            let mut picked = Placement::Cpu;
            let auto = time(budget, || {
                let mut args = as_args(&mut values);
                picked = kernel.launch_placing(Backend::Auto, &mut args)?.0;
                Ok(())
            })?;
            let mut row = Vec::new();
            for &p in &places {
                if p == Placement::Interp && n > INTERP_MAX {
                    row.push(None);
                    continue;
                }
                let t = time(budget, || {
                    let mut args = as_args(&mut values);
                    kernel.launch_placed(p, &mut args).map(|_| ())
                });
                // A GPU that cannot run this kernel is a gap, not a failure.
                row.push(t.ok());
            }
            let best = row.iter().flatten().copied().fold(f64::INFINITY, f64::min);
            let ratio = auto / best;
            ratios.push(ratio);
            out += &format!(
                "{n:>10} {:>22}",
                format!("{} [{}]", cell(Some(auto)), picked)
            );
            for t in &row {
                out += &format!(" {:>11}", cell(*t));
            }
            out += &format!(" {ratio:>11.3}\n");
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

/// The kernel names of `--sweep a,b`.
pub fn parse(spec: &str) -> Result<Vec<String>> {
    let names: Vec<String> = spec
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        return Err(Error::Usage {
            message: "--sweep needs kernel names (e.g. saxpy,sum_sq)".into(),
        });
    }
    Ok(names)
}
