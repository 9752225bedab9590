//! Runs the suite: every kernel of kernels/ at the chosen sizes on the chosen
//! backends, plus the hand-written Rust baselines and the Numba peer. Every
//! result is validated before it is timed; an invalid one is reported, not
//! timed.

use super::baseline::{self, Flavour};
use super::measure::{self, Budget};
use super::peers;
use super::report::{Machine, Outcome, Report, Row};
use crate::error::{Error, Result};
use crate::inputs::cases::Cases;
use crate::inputs::params::ParamInfo;
use crate::inputs::values::{self, HostValue};
use crate::ir::{self, ScalarType, Value};
use crate::runtime::{AnyArray, Backend, DeviceName, Module};
use std::path::{Path, PathBuf};

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// kiln backends to time (`interp` is allowed but slow).
    pub backends: Vec<Backend>,
    /// Size labels of the kernels' `//! sizes:` directives (S, M, L, T).
    pub sizes: Vec<String>,
    /// Kernel names to run; all of `dir` when `None`.
    pub kernels: Option<Vec<String>>,
    /// Where the kernel files are (`None`: the ones built into kiln).
    pub dir: Option<PathBuf>,
    /// Time the hand-written Rust baselines.
    pub baselines: bool,
    /// Time Numba through `python3` when it is installed.
    pub peers: bool,
    pub budget: Budget,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// Above this many operations per launch the interpreter is too slow to be
/// the reference, and the hand-written Rust version is used instead.
const INTERP_REFERENCE_LIMIT: f64 = 2e7;

/// Compiles timed per row (the median is reported).
const COMPILE_SAMPLES: usize = 3;

/// A kernel file of the suite: its stem (the kernel's name), the name
/// messages use, and its source.
#[derive(Clone, Debug)]
pub struct KernelFile {
    pub name: String,
    pub file: String,
    pub source: String,
}

impl KernelFile {
    pub fn module(&self) -> Result<Module> {
        Module::from_source(&self.file, &self.source)
    }
}

/// The suite's kernel files (sorted), restricted to `wanted` when given:
/// those of `dir`, or without one the library kernels carried in the binary
/// (`kernels/`, so `kiln bench` runs from any directory).
pub fn kernel_files(dir: Option<&Path>, wanted: Option<&[String]>) -> Result<Vec<KernelFile>> {
    let mut found: Vec<KernelFile> = match dir {
        None => crate::selftest::files::LIBRARY
            .iter()
            .map(|(name, source)| KernelFile {
                name: name.to_string(),
                file: format!("kernels/{name}.kn"),
                source: source.to_string(),
            })
            .collect(),
        Some(dir) => {
            let io = |source: std::io::Error| Error::Io {
                path: dir.display().to_string(),
                error: source,
            };
            let mut out = Vec::new();
            for entry in std::fs::read_dir(dir).map_err(io)? {
                let path = entry.map_err(io)?.path();
                if path.extension().is_none_or(|x| x != "kn") {
                    continue;
                }
                let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                let source = std::fs::read_to_string(&path).map_err(|error| Error::Io {
                    path: path.display().to_string(),
                    error,
                })?;
                out.push(KernelFile {
                    name: name.to_string(),
                    file: path.display().to_string(),
                    source,
                });
            }
            out
        }
    };
    found.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(wanted) = wanted {
        for w in wanted {
            if !found.iter().any(|f| &f.name == w) {
                let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
                return Err(Error::Usage {
                    message: format!(
                        "no kernel file `{w}.kn` in {} (kernels: {})",
                        dir.map_or("the built-in kernels".to_string(), |d| d
                            .display()
                            .to_string()),
                        names.join(", ")
                    ),
                });
            }
        }
        found.retain(|f| wanted.contains(&f.name));
    }
    Ok(found)
}

/// The outputs of one run: the result and every `mut` array.
struct Outputs {
    result: Option<Value>,
    arrays: Vec<(String, HostValue)>,
}

fn outputs(params: &[ParamInfo], args: Vec<HostValue>, result: Option<Value>) -> Outputs {
    let arrays = params
        .iter()
        .zip(args)
        .filter(|(p, _)| p.ty.is_mut_array())
        .map(|(p, a)| (p.name.clone(), a))
        .collect();
    Outputs { result, arrays }
}

/// Relative tolerance of a float comparison: reductions may sum in another
/// order, and libm and the platform's math library may differ by an ulp.
fn tolerance(t: ScalarType) -> f64 {
    if t == ScalarType::F32 {
        1e-4
    } else {
        1e-9
    }
}

fn as_f64(v: Value) -> Option<f64> {
    match v {
        Value::F32(x) => Some(x as f64),
        Value::F64(x) => Some(x),
        _ => None,
    }
}

/// `None` when `got` matches `want`; otherwise why not. Integers must be
/// equal; floats must agree in NaN positions and within `tolerance` in the
/// norm of the difference relative to the norm of the reference.
fn mismatch(want: &Outputs, got: &Outputs) -> Option<String> {
    match (want.result, got.result) {
        (Some(w), Some(g)) => match (as_f64(w), as_f64(g)) {
            (Some(a), Some(b)) => {
                let close = (a.is_nan() && b.is_nan())
                    || a == b
                    || (a - b).abs() <= tolerance(w.ty()) * a.abs().max(1e-300);
                if !close {
                    return Some(format!("result {g} differs from the reference {w}"));
                }
            }
            _ if w != g => return Some(format!("result {g} differs from the reference {w}")),
            _ => {}
        },
        (w, g) if w.is_some() != g.is_some() => return Some("result missing".into()),
        _ => {}
    }
    for ((name, w), (_, g)) in want.arrays.iter().zip(&got.arrays) {
        let (Some(w), Some(g)) = (w.as_array(), g.as_array()) else {
            continue;
        };
        let (mut diff2, mut norm2) = (0.0f64, 0.0f64);
        for i in 0..w.len() {
            let (a, b) = (w.get(i), g.get(i));
            match (a.and_then(as_f64), b.and_then(as_f64)) {
                (Some(x), Some(y)) => {
                    if x.is_nan() != y.is_nan() {
                        return Some(format!("`{name}`[{i}] is {y}, the reference has {x}"));
                    }
                    if x.is_finite() && y.is_finite() {
                        diff2 += (x - y) * (x - y);
                        norm2 += x * x;
                    } else if x != y && !x.is_nan() {
                        return Some(format!("`{name}`[{i}] is {y}, the reference has {x}"));
                    }
                }
                _ if a != b => {
                    return Some(format!(
                        "`{name}`[{i}] is {}, the reference has {}",
                        b.map(|v| v.to_string()).unwrap_or_default(),
                        a.map(|v| v.to_string()).unwrap_or_default()
                    ))
                }
                _ => {}
            }
        }
        let rel = diff2.sqrt() / norm2.sqrt().max(1e-300);
        if rel > tolerance(w.elem()) {
            return Some(format!(
                "`{name}` differs from the reference by {rel:.2e} (relative norm)"
            ));
        }
    }
    None
}

/// One kernel at one size: its inputs and what it should produce.
struct Case<'m> {
    module: &'m Module,
    id: ir::FuncId,
    name: String,
    label: String,
    n: u64,
    params: Vec<ParamInfo>,
    inputs: Vec<HostValue>,
    bytes: Option<f64>,
    flops: Option<f64>,
    /// Runners that compute this kernel in closed form (`//! folded:`).
    folded: Vec<String>,
}

impl Case<'_> {
    fn row(&self, runner: &str, device: &DeviceName, outcome: Outcome) -> Row {
        Row {
            kernel: self.name.clone(),
            size: self.label.clone(),
            n: self.n,
            runner: runner.to_string(),
            device: device.name.clone(),
            software: device.software,
            bytes: self.bytes,
            flops: self.flops,
            outcome,
            folded: self.folded.iter().any(|r| r == runner),
        }
    }

    /// Times `kernel` on `backend` with every array a `kiln::Array` already
    /// resident on the device (moved there by an untimed first launch):
    /// the kernel's own cost. Each run starts from the previous run's
    /// outputs (restoring them would be a transfer); the timing does not
    /// depend on the values. Returns the median and the spread.
    fn measure_resident(
        &self,
        budget: Budget,
        backend: Backend,
        kernel: &crate::runtime::Kernel,
    ) -> Result<(f64, Option<f64>), String> {
        enum Slot {
            Scalar(Value),
            Array(AnyArray),
        }
        let mut slots: Vec<Slot> = self
            .inputs
            .iter()
            .map(|v| match v {
                HostValue::Scalar(x) => Slot::Scalar(*x),
                HostValue::Array(a) => Slot::Array(AnyArray::from_host(a.clone())),
            })
            .collect();
        let launch = |slots: &mut Vec<Slot>| {
            let mut args: Vec<crate::Arg> = slots
                .iter_mut()
                .zip(&self.params)
                .map(|(s, p)| match s {
                    Slot::Scalar(x) => crate::Arg::Scalar(*x),
                    Slot::Array(a) => {
                        if p.ty.is_mut_array() {
                            a.arg_mut()
                        } else {
                            a.arg()
                        }
                    }
                })
                .collect();
            kernel
                .launch_on(backend, &mut args)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        launch(&mut slots)?;
        let times = measure::repeat(budget, || {
            let (t, r) = measure::timed(|| launch(&mut slots));
            r.map(|()| t)
        })?;
        let median = crate::util::median(&times).unwrap_or(f64::NAN);
        Ok((median, super::report::spread(&times)))
    }

    /// Runs `f` on a fresh copy of the inputs and returns the outputs.
    fn once(
        &self,
        f: &mut dyn FnMut(&mut [crate::Arg]) -> Result<Option<Value>, String>,
    ) -> Result<Outputs, String> {
        let mut work = self.inputs.clone();
        let result = f(&mut values::args_for(&self.params, &mut work))?;
        Ok(outputs(&self.params, work, result))
    }

    /// Validates `f` against `reference`, then times it; each timed run starts
    /// from the original inputs (restoring them is not timed).
    fn measure(
        &self,
        budget: Budget,
        reference: &Outputs,
        compile_s: Option<f64>,
        f: &mut dyn FnMut(&mut [crate::Arg]) -> Result<Option<Value>, String>,
    ) -> Outcome {
        match self.once(f) {
            Err(e) => return Outcome::Failed(e),
            Ok(got) => {
                if let Some(why) = mismatch(reference, &got) {
                    return Outcome::Invalid(why);
                }
            }
        }
        let mut work = self.inputs.clone();
        let times = measure::repeat(budget, || {
            for (w, o) in work.iter_mut().zip(&self.inputs) {
                w.restore_from(o);
            }
            let mut args = values::args_for(&self.params, &mut work);
            let (t, r) = measure::timed(|| f(&mut args));
            r.map(|_| t)
        });
        match times {
            Ok(times) => Outcome::Timed {
                compile_s,
                median_s: crate::util::median(&times).unwrap_or(f64::NAN),
                runs: times.len(),
                transfer_s: None,
                resident_s: None,
                spread: super::report::spread(&times),
            },
            Err(e) => Outcome::Failed(e),
        }
    }
}

fn interp_run(case: &Case, args: &mut [crate::Arg]) -> Result<Option<Value>, String> {
    let ir = case.module.ir();
    crate::interp::run(ir, ir.function(case.id), args).map_err(|e| e.to_string())
}

/// Runs the whole suite.
pub fn run(opts: &Options) -> Result<Report> {
    let files = kernel_files(opts.dir.as_deref(), opts.kernels.as_deref())?;
    let baselines = if opts.baselines {
        vec![Flavour::Serial, Flavour::Rayon]
    } else {
        vec![]
    };
    let numba = if opts.peers {
        peers::Numba::detect()
    } else {
        Err("peers not requested".into())
    };
    let cupy = if opts.peers {
        peers::Peer::detect_cupy()
    } else {
        Err("peers not requested".into())
    };
    // Absent backends are reported once (in the machine's notes), not as a
    // skipped row per kernel. Each backend present names its device.
    let mut absent = Vec::new();
    let mut backends: Vec<(Backend, DeviceName)> = Vec::new();
    for &b in &opts.backends {
        match crate::runtime::device_name(b) {
            Ok(d) => backends.push((b, d)),
            Err(why) => absent.push(format!("{}: {why}", b.name())),
        }
    }
    let cpu = DeviceName {
        name: crate::runtime::calibrate::cpu_model().to_string(),
        software: false,
    };
    let runners = backends.len()
        + baselines.len()
        + usize::from(numba.is_ok()) * 2
        + usize::from(cupy.is_ok()) * 2;
    let total = (files.len() * opts.sizes.len() * runners) as u64;
    let bar = if opts.progress {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("measuring memory bandwidth");
    let stream = measure::stream_copy_gbps(
        256 << 20,
        Budget {
            min_runs: 5,
            max_runs: 10,
            ..Budget::default()
        },
    );
    let mut device_gbps = Vec::new();
    for (b, _) in &backends {
        if b.kind() == crate::engine::BackendKind::Device {
            bar.set_message(format!("measuring {b}'s memory bandwidth"));
            match device_copy_gbps(*b, opts.budget) {
                Ok(g) => device_gbps.push((b.name().to_string(), g)),
                Err(e) => absent.push(format!("{b}: copy bandwidth not measured: {e}")),
            }
        }
    }
    let mut rows = Vec::new();
    let warm_cpu = backends
        .iter()
        .any(|(b, _)| matches!(b, Backend::Cpu | Backend::Auto));
    let mut cold_compiles = Vec::new();
    for kf in &files {
        let name = &kf.name;
        let first = kf.module()?;
        let cases = Cases::parse(first.source())
            .map_err(|e| Error::argument(name.clone(), format!("{}: {e}", kf.file)))?;
        let params = first.kernel(name)?.params();
        for label in &opts.sizes {
            let Some(n) = cases.size(label) else {
                bar.inc(runners as u64);
                continue;
            };
            bar.set_message(format!("{name} {label}"));
            // A fresh module per size: modules cache compiled kernels, and
            // each row reports a first compile.
            let module = kf.module()?;
            let kernel = module.kernel(name)?;
            let id = kernel.id();
            let inputs = cases.build_args(name, &params, label, 0)?;
            let case = Case {
                module: &module,
                id,
                name: name.clone(),
                label: label.clone(),
                n,
                params: params.clone(),
                inputs,
                bytes: cases.bytes_at(n),
                flops: cases.flops_at(n),
                folded: cases.folded.clone(),
            };
            let work = case.flops.or(case.bytes).unwrap_or(n as f64);
            let base = baseline::find(name);
            // Compiled before the reference run, as a user's program compiles
            // and then launches, and after a compile of a small unrelated
            // kernel (reported apart, `cold_compile_s`): on this project's
            // shared VM other tenants evict the caches within a second, so
            // the first compile after the previous row's runs took 5-9 ms
            // for any kernel, the copy kernel included, instead of 0.3-1.6
            // ms; a 4 MiB pointer chase likewise took 9x as long after our
            // thread spun for 1.5 s, touching no memory. The row's compile
            // is then kiln's cost for this kernel, as a program that
            // compiles several kernels sees it for all but its first.
            if warm_cpu {
                if let Ok(t) = cold_compile() {
                    cold_compiles.push(t);
                }
            }
            let mut prepared = Vec::with_capacity(backends.len());
            for (b, _) in &backends {
                // The median of `COMPILE_SAMPLES` first compiles, the
                // others in fresh modules: one sample on this VM strayed
                // by 2x from run to run.
                let mut times = Vec::with_capacity(COMPILE_SAMPLES);
                for _ in 1..COMPILE_SAMPLES {
                    let scratch = kf.module()?;
                    let k = scratch.kernel(name)?;
                    match measure::timed(|| k.prepare(*b)) {
                        (t, Ok(_)) => times.push(t),
                        (_, Err(_)) => break,
                    }
                }
                let (t, used) = measure::timed(|| kernel.prepare(*b));
                times.push(t);
                let median = crate::util::stats::median(&times).unwrap_or(t);
                prepared.push((median, used));
            }
            let reference = match base {
                Some(b) if work > INTERP_REFERENCE_LIMIT => {
                    case.once(&mut |a| b(Flavour::Serial, a))
                }
                _ => case.once(&mut |a| interp_run(&case, a)),
            };
            let reference = match reference {
                Ok(r) => r,
                Err(e) => {
                    rows.push(case.row("reference", &cpu, Outcome::Failed(e)));
                    bar.inc(runners as u64);
                    continue;
                }
            };
            for ((backend, device), prepared) in backends.iter().zip(prepared) {
                let backend = *backend;
                // As a launch would: `auto` resolves per kernel (the CPU JIT,
                // else the interpreter), and rows name the backend used. The
                // timed launches include argument checking, as a user's do.
                let mut runner = backend.name().to_string();
                let mut device = device.clone();
                let mut outcome = match prepared {
                    (_, Err(e @ Error::BackendUnavailable { .. })) => {
                        Outcome::Skipped(e.to_string())
                    }
                    (_, Err(e)) => Outcome::Failed(e.to_string()),
                    (compile_s, Ok(used)) => {
                        runner = used.name().to_string();
                        if used != backend {
                            device = crate::runtime::device_name(used).unwrap_or(device);
                        }
                        case.measure(opts.budget, &reference, Some(compile_s), &mut |a| {
                            kernel.launch_on(used, a).map_err(|e| e.to_string())
                        })
                    }
                };
                // GPU rows: the kernel's own cost, arrays resident.
                if let Outcome::Timed {
                    median_s,
                    resident_s,
                    transfer_s,
                    ..
                } = &mut outcome
                {
                    if backend.kind() == crate::engine::BackendKind::Device {
                        match case.measure_resident(opts.budget, backend, &kernel) {
                            Ok((r, _)) => {
                                *resident_s = Some(r);
                                *transfer_s = Some((*median_s - r).max(0.0));
                            }
                            Err(e) => absent.push(format!(
                                "{backend}: {name} {label} with resident arrays failed: {e}"
                            )),
                        }
                    }
                }
                rows.push(case.row(&runner, &device, outcome));
                bar.inc(1);
            }
            for &fl in &baselines {
                let outcome = match base {
                    None => Outcome::Skipped("no hand-written baseline".into()),
                    Some(b) => case.measure(opts.budget, &reference, None, &mut |a| b(fl, a)),
                };
                rows.push(case.row(fl.runner_name(), &cpu, outcome));
                bar.inc(1);
            }
            for peer_script in [&numba, &cupy].into_iter().flatten() {
                for peer in peer_script.measure(
                    name,
                    &case.params,
                    &case.inputs,
                    opts.budget.target.as_secs_f64(),
                ) {
                    let mut device = cpu.clone();
                    let outcome = match peer.result {
                        Err(e) => Outcome::Failed(e),
                        Ok(t) => {
                            if let Some(d) = &t.device {
                                device = DeviceName {
                                    name: d.clone(),
                                    software: false,
                                };
                            }
                            let result = match (reference.result, t.result) {
                                (Some(Value::F32(_)), Some(x)) => Some(Value::F32(x as f32)),
                                (Some(Value::F64(_)), Some(x)) => Some(Value::F64(x)),
                                (Some(Value::I32(_)), Some(x)) => Some(Value::I32(x as i32)),
                                (Some(Value::I64(_)), Some(x)) => Some(Value::I64(x as i64)),
                                (r, _) => r,
                            };
                            match mismatch(
                                &reference,
                                &Outputs {
                                    result,
                                    arrays: t.arrays,
                                },
                            ) {
                                Some(why) => Outcome::Invalid(why),
                                None => Outcome::Timed {
                                    compile_s: Some(t.first_call_s),
                                    median_s: t.median_s,
                                    runs: t.runs,
                                    transfer_s: None,
                                    resident_s: None,
                                    spread: None,
                                },
                            }
                        }
                    };
                    rows.push(case.row(&peer.runner, &device, outcome));
                    bar.inc(1);
                }
            }
        }
    }
    bar.finish_and_clear();
    let mut machine = Machine::describe(stream, absent);
    machine.device_gbps = device_gbps;
    machine.cold_compile_s = cold_compiles;
    if let (true, Err(why)) = (opts.peers, numba) {
        machine.devices.push(format!("numba: {why}"));
    }
    // CuPy is a peer on NVIDIA machines only: its absence elsewhere is no news.
    if let (true, Err(why), true) = (opts.peers, cupy, engines_has_cuda()) {
        machine.devices.push(format!("cupy: {why}"));
    }
    Ok(Report { machine, rows })
}

/// Whether this machine has a CUDA device kiln can use.
fn engines_has_cuda() -> bool {
    crate::runtime::engines::availability(Backend::Cuda).is_ok()
}

/// Compiles `COPY_KERNEL` on the CPU JIT in a fresh module: seconds.
fn cold_compile() -> Result<f64, Error> {
    let module = Module::from_source("copy.kn", COPY_KERNEL)?;
    let kernel = module.kernel("copy")?;
    let (t, used) = measure::timed(|| kernel.prepare(Backend::Cpu));
    used.map(|_| t)
}

/// A copy kernel for measuring a device's own memory bandwidth, and the
/// small kernel compiled before each row's compile.
const COPY_KERNEL: &str =
    "kernel copy(x: f32[:], y: mut f32[:]) { for i in prange(0..y.len()) { y[i] = x[i]; } }";

/// The copy bandwidth of `backend`'s device in GB/s (bytes read plus
/// written per second), measured with kiln's own copy kernel on 64 MiB
/// arrays resident on the device; the best of the runs.
pub fn device_copy_gbps(backend: Backend, budget: Budget) -> Result<f64, String> {
    let module = Module::from_source("copy.kn", COPY_KERNEL).map_err(|e| e.to_string())?;
    let kernel = module.kernel("copy").map_err(|e| e.to_string())?;
    let n = 16usize << 20;
    let x = crate::Array::from(vec![1.0f32; n]);
    let mut y = crate::Array::from(vec![0.0f32; n]);
    let mut launch = || {
        kernel
            .launch_on(backend, &mut [(&x).into(), (&mut y).into()])
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    launch()?;
    let times = measure::repeat(budget, || {
        let (t, r) = measure::timed(&mut launch);
        r.map(|()| t)
    })?;
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(2.0 * (n * 4) as f64 / best / 1e9)
}
