//! The `kiln` command line (DESIGN.md section 1).
//!
//! Exit codes: 0 success; 1 a kernel, argument or input-file error (with a
//! located message on stderr); 2 a usage error of the command line itself
//! (clap's own). Diagnostics always go to stderr; no panic reaches the user
//! as a backtrace.

use clap::{Parser, Subcommand, ValueEnum};
use kiln::inputs::cases::Cases;
use kiln::inputs::{npy, values, HostValue, ParamInfo};
use kiln::runtime::{engines, Backend, Kernel};
use kiln::util::{duration, median, Staged};
use kiln::{Error, Module, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "kiln",
    version,
    about = "Numerical kernels written once, run on CPU and GPU backends"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check kernel files; print diagnostics.
    Check {
        /// Kernel files (.kn).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Also compile every kernel for this backend.
        #[arg(long, value_name = "B")]
        backend: Option<Backend>,
    },
    /// Show what a backend generates for a kernel.
    Emit {
        /// The kernel file (.kn).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The kernel to show.
        #[arg(long, value_name = "K")]
        kernel: String,
        /// What to show: the checked IR, Cranelift IR, the CPU backend's machine code (asm), CUDA C or WGSL.
        #[arg(long, value_enum)]
        target: Target,
    },
    /// Run a kernel on arguments given as NAME=VALUE.
    Run(RunArgs),
    /// List the backends of this build and whether they can run here, and
    /// the cost model's figures with how and when each was measured.
    Devices {
        /// Measure every figure again (a cache written while the machine
        /// was busy), replacing the cached ones.
        #[arg(long)]
        recalibrate: bool,
    },
    /// Run the benchmark suite: kernels/ on the chosen backends against
    /// hand-written Rust and Numba, validated, with the memory bandwidth.
    Bench(kiln::bench::cli::BenchArgs),
    /// Check the backends of this machine against the reference
    /// interpreter: every library and conformance kernel (carried in the
    /// binary), every run-time fault case and N random kernels. Prints a
    /// table; exits 1 on any failure.
    Selftest {
        /// Backends to check, comma-separated (cpu, cuda, wgpu, auto).
        /// Default: every backend present here (absent ones are listed, not
        /// failed); a named backend that cannot run here is a failure.
        #[arg(long, value_name = "B,...")]
        backend: Option<String>,
        /// Random kernels per backend.
        #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=100_000))]
        random: u64,
        /// Print one JSON document on stdout instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// A fuzz campaign: random kernels on every backend against the
    /// interpreter, and mutated kernels through the front end and every
    /// code generator. Runs until --seconds or --cases; exits 1 on any
    /// failure, each printed with the command that replays it.
    Fuzz(FuzzArgs),
}

#[derive(clap::Args)]
struct FuzzArgs {
    /// Stop after this many seconds (default 60 unless --cases is given).
    #[arg(long, value_name = "S", value_parser = fuzz_seconds)]
    seconds: Option<f64>,
    /// Stop after this many cases per target.
    #[arg(long, value_name = "N")]
    cases: Option<u64>,
    /// The campaign's seed (default: from the clock, printed).
    #[arg(long, value_name = "SEED")]
    seed: Option<u64>,
    /// Replay one case of --seed (as a failure report prints it).
    #[arg(long, value_name = "K", requires = "seed")]
    case: Option<u64>,
    /// Backends compared with the interpreter, comma-separated. Default:
    /// every backend of this build that can run here.
    #[arg(long, value_name = "B,...")]
    backend: Option<String>,
    /// Which target to run.
    #[arg(long, value_enum, default_value = "both")]
    target: FuzzTarget,
    /// Write each failing case into this directory: its source (with the
    /// replay and `kiln run` commands) and its inputs as .npy files.
    #[arg(long, value_name = "DIR")]
    save: Option<PathBuf>,
    /// Print one JSON document on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FuzzTarget {
    Differential,
    FrontEnd,
    Both,
}

/// The most `kiln fuzz --seconds` accepts: a week.
const MAX_FUZZ_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

fn fuzz_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=MAX_FUZZ_SECONDS).contains(&v) => Ok(v),
        _ => Err(format!(
            "expected a number of seconds from 0 to {MAX_FUZZ_SECONDS}"
        )),
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Target {
    Ir,
    Clif,
    /// The host machine code of the CPU backend, after Cranelift's optimizer.
    Asm,
    Cuda,
    Wgsl,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The kernel file (.kn).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The kernel to run.
    #[arg(long, value_name = "K")]
    kernel: String,
    /// auto, cpu, cuda, wgpu or interp (default: $KILN_BACKEND, else auto).
    #[arg(long, value_name = "B")]
    backend: Option<Backend>,
    /// A scalar (`2.5`, `inf`, `true`) or an array (`@x.npy`, `zeros:SHAPE`,
    /// `range:SHAPE`, `rand:SHAPE`, SHAPE like `1000` or `512x512`).
    #[arg(long = "arg", value_name = "NAME=VALUE", value_parser = parse_assignment)]
    args: Vec<(String, String)>,
    /// Take the arguments from the file's `//! args:` directive at this size
    /// (`T`, `S`, `M`, `L` from `//! sizes:`); `--arg` overrides single ones.
    #[arg(long, value_name = "LABEL")]
    size: Option<String>,
    /// Write each `mut` array to DIR/NAME.npy.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Launch N times (at most 1,000,000), each from the original argument values.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_REPEAT))]
    repeat: u32,
    /// Seed of the `rand:` generator.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Print exactly one JSON line on stdout.
    #[arg(long)]
    json: bool,
    /// Run as one rank of an MPI job (`mpirun -np N kiln run … --distributed`):
    /// rank 0 reads the inputs and scatters them, every rank runs its rows,
    /// rank 0 gathers and writes the outputs and alone prints; the bits are
    /// those of a one-process `--backend cpu` run (docs/distributed.md).
    /// Needs kiln built with feature `mpi`.
    #[arg(long)]
    distributed: bool,
}

fn parse_assignment(text: &str) -> Result<(String, String), String> {
    values::split_assignment(text).map(|(n, v)| (n.to_string(), v.to_string()))
}

/// Writes a line to stdout, ignoring a closed pipe (`kiln … | head`).
macro_rules! say {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// Most launches of one `kiln run --repeat` (`docs/limits.md`): the
/// timings are kept, so the count bounds memory.
const MAX_REPEAT: i64 = 1_000_000;
/// Longest `kiln bench --seconds` per measurement (`docs/limits.md`).
const MAX_BENCH_SECONDS: f64 = 3600.0;

/// `eprint!` that ignores a closed or failing stderr instead of panicking
/// (`kiln check bad.kn 2>&1 | head -1` must not abort).
macro_rules! err {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr().lock(), $($t)*);
    }};
}

/// `eprintln!` that ignores a closed or failing stderr.
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($t)*);
    }};
}

fn main() -> ExitCode {
    install_panic_hook();
    kiln::logging::init();
    let cli = Cli::try_parse().unwrap_or_else(|e| e.exit());
    // The hook has already printed the message; this only turns a panic into
    // exit status 1 instead of an abort-like 101.
    match std::panic::catch_unwind(move || execute(cli)) {
        Ok(code) => code,
        Err(_) => ExitCode::from(1),
    }
}

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let location = info
            .location()
            .map(|l| format!(" ({}:{})", l.file(), l.line()))
            .unwrap_or_default();
        errln!("kiln: internal error: {message}{location}");
        errln!("kiln: this is a bug in kiln; please report it with the command that caused it");
    }));
}

fn execute(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Check { files, backend } => check(&files, backend),
        Command::Emit {
            file,
            kernel,
            target,
        } => emit(&file, &kernel, target),
        Command::Run(args) => run(&args),
        Command::Devices { recalibrate } => devices(recalibrate),
        Command::Selftest {
            backend,
            random,
            json,
        } => selftest(backend.as_deref(), random, json),
        Command::Fuzz(args) => fuzz(&args),
        Command::Bench(args) => {
            if let Some(message) = bench_usage_error(&args) {
                errln!("error: {message}\n\nFor more information, try '--help'.");
                return ExitCode::from(2);
            }
            bench(&args)
        }
    };
    // Figures refined in the last second are written before exiting.
    kiln::runtime::calibrate::flush_pending();
    match outcome {
        Ok(code) => code,
        // A usage error of the command line: status 2, as clap's own.
        Err(Failure {
            error: Error::Usage { message },
            ..
        }) => {
            errln!("error: {message}\n\nFor more information, try '--help'.");
            ExitCode::from(2)
        }
        Err(failure) => {
            report(&failure);
            ExitCode::from(1)
        }
    }
}

/// An error with the module it happened in, when there is one, so run-time
/// faults can show the source line.
struct Failure {
    error: Error,
    source: Option<String>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            error,
            source: None,
        }
    }
}

fn report(failure: &Failure) {
    match &failure.error {
        // Rendered with carets and a summary line already.
        Error::Compile(diagnostics) => err!("{diagnostics}"),
        Error::Runtime(e) => {
            errln!("error: {e}");
            if let Some(source) = &failure.source {
                err!("{}", snippet(source, e.span));
            }
        }
        other => errln!("error: {other}"),
    }
}

/// The source line of `span` with carets under it (the compiler's own
/// rendering, long lines shown as a window).
fn snippet(source: &str, span: kiln::ir::Span) -> String {
    let line_no = span.line.max(1) as usize;
    let Some(text) = source.lines().nth(line_no - 1) else {
        return String::new();
    };
    let span_chars = source
        .get(span.lo as usize..span.hi as usize)
        .map(|s| s.chars().take_while(|&c| c != '\n').count())
        .unwrap_or(1);
    kiln::lang::diag::snippet(text, line_no, span.col, span_chars)
}

fn default_backend(flag: Option<Backend>) -> Result<Backend, Error> {
    match flag {
        Some(b) => Ok(b),
        None => Backend::from_env(),
    }
}

fn check(files: &[PathBuf], backend: Option<Backend>) -> Result<ExitCode, Failure> {
    let mut failed = 0;
    for file in files {
        let module = match Module::from_file(file) {
            Ok(m) => m,
            Err(error) => {
                report(&error.into());
                failed += 1;
                continue;
            }
        };
        let names = module.kernel_names();
        let mut ok = true;
        if let Some(backend) = backend {
            for name in &names {
                if let Err(error) = module.kernel(name).and_then(|k| k.prepare(backend)) {
                    // An absent backend fails every kernel alike: say it once.
                    let absent = matches!(error, Error::BackendUnavailable { .. });
                    report(&error.into());
                    ok = false;
                    if absent {
                        break;
                    }
                }
            }
        }
        if ok {
            let list = if names.is_empty() {
                String::new()
            } else {
                format!(": {}", names.join(", "))
            };
            let n = names.len();
            say!(
                "{}: ok ({n} kernel{}{list})",
                file.display(),
                if n == 1 { "" } else { "s" }
            );
        } else {
            failed += 1;
        }
    }
    if failed > 0 {
        errln!(
            "{failed} of {} file{} failed",
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "cuda")]
fn cuda_source(module: &Module, id: kiln::ir::FuncId) -> Result<String, Failure> {
    Ok(kiln::cuda::generate(module.ir(), id)?.source)
}

#[cfg(not(feature = "cuda"))]
fn cuda_source(_: &Module, _: kiln::ir::FuncId) -> Result<String, Failure> {
    Err(kiln::Error::BackendUnavailable {
        backend: "cuda".into(),
        reason: "built without feature `cuda`".into(),
    }
    .into())
}

fn emit(file: &Path, kernel: &str, target: Target) -> Result<ExitCode, Failure> {
    let module = Module::from_file(file)?;
    let k = module.kernel(kernel)?;
    let text = match target {
        Target::Ir => kiln::ir::print::print_function(module.ir(), k.function()),
        Target::Clif => kiln::cpu::emit_clif(module.ir(), kernel)?,
        Target::Asm => kiln::cpu::emit_asm(module.ir(), kernel)?,
        Target::Cuda => cuda_source(&module, k.id())?,
        Target::Wgsl => kiln::gpu::generate(module.ir(), k.id(), &kiln::gpu::wgsl::Wgsl)?.source,
    };
    say!("{}", text.trim_end());
    Ok(ExitCode::SUCCESS)
}

/// A `kiln bench` option value that is not one the command accepts (exit 2,
/// like clap's own usage errors): an unknown backend name or size label.
fn bench_usage_error(args: &kiln::bench::cli::BenchArgs) -> Option<String> {
    if let Some(b) = args.backend.as_deref().filter(|&b| b != "all") {
        if let Err(e) = b.parse::<Backend>() {
            return Some(format!(
                "invalid value '{b}' for '--backend <B>': {e} or all"
            ));
        }
    }
    const SIZES: [&str; 4] = ["S", "M", "L", "T"];
    if let Some(label) = args
        .size
        .split(',')
        .map(str::trim)
        .find(|l| !l.is_empty() && !SIZES.contains(l))
    {
        return Some(format!(
            "invalid value '{}' for '--size <S|M|L>': unknown size `{label}` (valid: S, M, L, T, comma-separated)",
            args.size
        ));
    }
    if !(args.seconds.is_finite() && (0.0..=MAX_BENCH_SECONDS).contains(&args.seconds)) {
        return Some(format!(
            "invalid value '{}' for '--seconds <SECONDS>': expected a number of seconds from 0 to {MAX_BENCH_SECONDS}",
            args.seconds
        ));
    }
    None
}

/// `kiln bench`. One forced backend (`--backend B` or `KILN_BACKEND`) that
/// cannot run here is an error saying why, not a table of baselines with
/// the backend skipped; `--backend all` lists absent backends as skipped.
fn bench(args: &kiln::bench::cli::BenchArgs) -> Result<ExitCode, Failure> {
    if args.distributed {
        #[cfg(feature = "mpi")]
        {
            kiln::bench::dist::main(args)?;
            return Ok(ExitCode::SUCCESS);
        }
        #[cfg(not(feature = "mpi"))]
        return run_distributed_unavailable();
    }
    let forced = match args.backend.as_deref() {
        Some("all") => None,
        Some(b) => b.parse::<Backend>().ok(),
        None => Some(Backend::from_env()?),
    };
    if let Some(backend) = forced {
        if let Err(reason) = engines::availability(backend) {
            return Err(Error::BackendUnavailable {
                backend: backend.to_string(),
                reason,
            }
            .into());
        }
    }
    kiln::bench::cli::main(args)
        .map(|()| ExitCode::SUCCESS)
        .map_err(Failure::from)
}

/// `kiln selftest`: see `Command::Selftest`.
fn selftest(list: Option<&str>, random: u64, json: bool) -> Result<ExitCode, Failure> {
    use std::io::IsTerminal;
    let (backends, named) = match list {
        Some(list) => {
            let mut out = Vec::new();
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                out.push(name.parse::<Backend>().map_err(|e| Error::Usage {
                    message: format!("invalid value '{name}' for '--backend <B,...>': {e}"),
                })?);
            }
            if out.is_empty() {
                return Err(Error::Usage {
                    message: "--backend names no backend".into(),
                }
                .into());
            }
            (out, true)
        }
        None => (Backend::compiled().collect(), false),
    };
    let live = std::io::stderr().is_terminal() && !json;
    let mut reports = Vec::new();
    for backend in backends {
        let mut progress = |what: &str| {
            if live {
                err!("\r\x1b[2Kselftest {backend}: {what}");
            }
        };
        let report = kiln::selftest::run_backend(backend, random, &mut progress);
        if live {
            err!("\r\x1b[2K");
        }
        reports.push(report);
    }
    // Absent backends fail only when named.
    let failed = reports
        .iter()
        .any(|r| r.failed() > 0 || (named && r.unavailable.is_some()));
    if json {
        let doc = serde_json::json!({
            "kiln": env!("CARGO_PKG_VERSION"),
            "random_kernels": random,
            "passed": !failed,
            "backends": reports.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        });
        say!("{doc}");
    } else {
        say!("{}", kiln::selftest::table(&reports).trim_end());
        for r in &reports {
            for f in &r.failures {
                errln!("{}: {f}", r.backend);
            }
        }
        say!(
            "{}",
            if failed {
                "selftest FAILED"
            } else {
                "selftest passed"
            }
        );
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `kiln fuzz`: see `Command::Fuzz`.
fn fuzz(args: &FuzzArgs) -> Result<ExitCode, Failure> {
    use kiln::selftest::fuzz::{campaign, Options, Target};
    use std::io::IsTerminal;
    let backends: Vec<Backend> = match args.backend.as_deref() {
        Some(list) => {
            let mut out = Vec::new();
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let backend = name.parse::<Backend>().map_err(|e| Error::Usage {
                    message: format!("invalid value '{name}' for '--backend <B,...>': {e}"),
                })?;
                kiln::runtime::device_name(backend).map_err(|reason| {
                    Error::BackendUnavailable {
                        backend: backend.name().into(),
                        reason,
                    }
                })?;
                out.push(backend);
            }
            out
        }
        None => Backend::compiled()
            .filter(|&b| b != Backend::Interp && kiln::runtime::device_name(b).is_ok())
            .collect(),
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let targets = match args.target {
        FuzzTarget::Differential => vec![Target::Differential],
        FuzzTarget::FrontEnd => vec![Target::FrontEnd],
        FuzzTarget::Both => vec![Target::Differential, Target::FrontEnd],
    };
    let options = Options {
        seed,
        backends: backends.clone(),
        targets,
        cases: if args.case.is_some() {
            Some(1)
        } else {
            args.cases
        },
        time: match (args.seconds, args.cases, args.case) {
            (_, _, Some(_)) => None,
            (Some(s), _, _) => Some(std::time::Duration::from_secs_f64(s)),
            (None, Some(_), _) => None,
            (None, None, _) => Some(std::time::Duration::from_secs(60)),
        },
        first: args.case.unwrap_or(0),
    };
    let names: Vec<&str> = backends.iter().map(|b| b.name()).collect();
    errln!(
        "fuzz: seed {seed}, interp against {}",
        if names.is_empty() {
            "nothing (front end only)".to_string()
        } else {
            names.join(", ")
        }
    );
    let live = std::io::stderr().is_terminal() && !args.json;
    // Panics become findings; the default hook would print each one too.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut last = Instant::now();
    let mut shown = 0;
    let report = campaign(&options, &mut |report, case| {
        for f in &report.findings[shown..] {
            errln!(
                "\r\x1b[2K{}: case {} FAILED: {}",
                f.family,
                f.case,
                f.message
            );
        }
        shown = report.findings.len();
        if live {
            err!(
                "\r\x1b[2Kfuzz: case {case}, {}: {}",
                duration(report.seconds),
                report.summary()
            );
        } else if last.elapsed().as_secs() >= 30 {
            errln!(
                "fuzz: case {case}, {}: {}",
                duration(report.seconds),
                report.summary()
            );
            last = Instant::now();
        }
    });
    std::panic::set_hook(hook);
    if live {
        err!("\r\x1b[2K");
    }
    if let Some(dir) = &args.save {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            path: dir.display().to_string(),
            error: e,
        })?;
        for f in &report.findings {
            let path = f.save(dir, seed)?;
            errln!("fuzz: saved {}", path.display());
        }
    }
    if args.json {
        let mut doc = report.to_json();
        doc["seed"] = seed.into();
        doc["backends"] = names.into();
        say!("{doc}");
    } else {
        say!("{}", report.table().trim_end());
        for f in &report.findings {
            errln!("\n{}", f.describe(seed));
        }
        say!(
            "fuzz: {} in {} (seed {seed}): {}",
            if report.failed() > 0 {
                "FAILED"
            } else {
                "passed"
            },
            duration(report.seconds),
            report.summary()
        );
    }
    Ok(if report.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn devices(recalibrate: bool) -> Result<ExitCode, Failure> {
    say!("{:<8} status", "backend");
    for backend in Backend::engines() {
        let status = match engines::availability(backend) {
            Ok(()) => "available".to_string(),
            Err(reason) => format!("unavailable: {reason}"),
        };
        say!("{:<8} {status}", backend.name());
    }
    let auto = if engines::availability(Backend::Cpu).is_ok() {
        "cpu"
    } else {
        "interp"
    };
    say!("{:<8} runs on {auto}", "auto");
    cuda_devices();
    let (threads, why) = cpu_threads();
    say!("cpu threads: {threads} ({why})");
    wgpu_adapters();
    calibration_figures(recalibrate);
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "cuda")]
fn cuda_devices() {
    match kiln::cuda::device::devices() {
        Ok(list) => list.iter().for_each(|d| say!("{d}")),
        Err(reason) => say!("cuda devices: none ({reason})"),
    }
    match kiln::cuda::nvrtc::library() {
        Ok(lib) => say!(
            "nvrtc: {} from {} (found by {})",
            lib.version_string(),
            lib.path,
            lib.found_by
        ),
        Err(reason) => say!("nvrtc: unavailable ({reason})"),
    }
    if let Ok(gpu) = kiln::cuda::device::gpu() {
        say!(
            "cuda driver: {} ({}); module format with this NVRTC: {}",
            kiln::cuda::device::version_text(gpu.driver_version),
            gpu.driver_version,
            kiln::cuda::nvrtc::library()
                .map_err(|e| e.to_string())
                .and_then(
                    |lib| kiln::cuda::image_kind(gpu.driver_version, lib.version, false)
                        .map(|k| k.extension().to_string())
                        .map_err(|e| e.to_string())
                )
                .unwrap_or_else(|e| format!("none ({e})"))
        );
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda_devices() {
    say!("cuda devices: none (built without feature `cuda`)");
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_adapters() {
    say!("wgpu adapters: none (built without feature `wgpu`)");
}

/// The wgpu adapters this machine offers (honouring `WGPU_BACKEND`), with
/// the one kiln uses marked.
#[cfg(feature = "wgpu")]
fn wgpu_adapters() {
    let adapters = kiln::wgpu::adapters();
    if adapters.is_empty() {
        say!("wgpu adapters: none");
        return;
    }
    let used = kiln::wgpu::gpu().ok().map(|g| g.info.clone());
    say!("wgpu adapters:");
    for a in &adapters {
        let mark = match &used {
            Some(u) if u.name == a.info.name && u.backend == a.info.backend => "* ",
            _ => "  ",
        };
        for (i, line) in a.lines().iter().enumerate() {
            say!("{}{line}", if i == 0 { mark } else { "  " });
        }
    }
}

/// The cost model's per-device figures (measured now when not cached, or
/// when `recalibrate`), each with how and when it was measured, and what
/// the last start of each GPU backend found.
fn calibration_figures(recalibrate: bool) {
    use kiln::runtime::{calibrate, Placement};
    let dir = calibrate::cache_dir();
    say!("calibration ({}):", calibrate::cache_file(&dir).display());
    say!(
        "  {:<12} {:>10} {:>12} {:>12} {:>12} {:>12}  how, when",
        "placement",
        "overhead",
        "ops/s",
        "lane ops/s",
        "bytes/s",
        "copy B/s"
    );
    let places = [
        Placement::CpuSerial,
        Placement::CpuPool,
        Placement::Interp,
        Placement::Gpu(Backend::Cuda),
        Placement::Gpu(Backend::Wgpu),
    ];
    for p in places {
        if engines::availability(p.backend()).is_err() {
            continue;
        }
        match calibrate::calibrate_entry(&dir, p, recalibrate) {
            Ok((key, e)) => {
                let f = e.figures;
                let (name, what) = key.split_once('|').unwrap_or((key.as_str(), ""));
                say!(
                    "  {:<12} {:>10} {:>12.3e} {:>12.3e} {:>12.3e} {:>12.3e}  {}",
                    name,
                    duration(f.overhead_s),
                    f.ops_per_s,
                    f.lane_ops_per_s,
                    f.bytes_per_s,
                    f.transfer_bytes_per_s,
                    e.provenance()
                );
                say!("  {:<12} on {what}", "");
            }
            Err(e) => say!("  {:<12} calibration failed: {e}", p.name()),
        }
    }
    // What `auto` remembers of each GPU backend: starting it anew to check.
    for b in Backend::devices() {
        if !b.is_built() {
            continue;
        }
        let (auto, why) = match engines::engine(b) {
            Ok(e) if e.auto_candidate() => (true, String::new()),
            Ok(e) => (false, format!("{} is not one auto uses", e.describe())),
            Err(e) => (false, e.to_string()),
        };
        let key = engines::engine(b)
            .map(|e| format!("{}|{}", e.device(), e.describe()))
            .unwrap_or_default();
        calibrate::remember_device(&dir, b, key, auto, why.clone());
        say!(
            "  auto {} {b}{}",
            if auto { "uses" } else { "skips" },
            if why.is_empty() {
                String::new()
            } else {
                format!(": {why}")
            }
        );
    }
}

/// The CPU backend's pool size: `KILN_NUM_THREADS` or the hardware's.
fn cpu_threads() -> (usize, String) {
    let hardware = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    match std::env::var("KILN_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        Some(n) if n > 0 => (n, "KILN_NUM_THREADS".to_string()),
        _ => (hardware, "available parallelism".to_string()),
    }
}

/// Timings and the outcome of the last launch.
struct RunReport {
    used: Backend,
    result: Option<Value>,
    compile_seconds: f64,
    seconds: Vec<f64>,
}

impl RunReport {
    /// The median launch time (`--repeat` is at least 1, so there is one).
    fn median_seconds(&self) -> f64 {
        median(&self.seconds).unwrap_or(0.0)
    }
}

fn run(opts: &RunArgs) -> Result<ExitCode, Failure> {
    if opts.distributed {
        return run_distributed(opts);
    }
    let backend = default_backend(opts.backend)?;
    let module = Module::from_file(&opts.file)?;
    let kernel = module.kernel(&opts.kernel)?;
    let params = kernel.param_slice();
    let pairs = match &opts.size {
        Some(label) => directive_args(&module, kernel.name(), label, &opts.args)?,
        None => opts.args.clone(),
    };
    let mut values = values::bind_args(kernel.name(), params, &pairs, opts.seed)?;
    let report =
        launch_repeatedly(&kernel, params, &mut values, backend, opts.repeat).map_err(|error| {
            Failure {
                error,
                source: Some(module.source().to_string()),
            }
        })?;
    let written = match &opts.out {
        Some(dir) => write_outputs(dir, params, &values)?,
        None => Vec::new(),
    };
    if opts.json {
        say!("{}", json_line(kernel.name(), &report));
    } else {
        print_human(&kernel, params, &values, &report, &written);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "mpi"))]
fn run_distributed(_: &RunArgs) -> Result<ExitCode, Failure> {
    run_distributed_unavailable()
}

#[cfg(not(feature = "mpi"))]
fn run_distributed_unavailable() -> Result<ExitCode, Failure> {
    Err(Error::Backend {
        backend: "mpi".into(),
        message: "this kiln was built without feature `mpi`, so `--distributed` is not \
                  available; build it with `cargo build --features mpi` (needs OpenMPI: \
                  `libopenmpi-dev`, and `libclang-dev`) and start it under `mpirun`"
            .into(),
    }
    .into())
}

/// `kiln run … --distributed` on one rank: every rank returns the same exit
/// status; only rank 0 prints (the result, or the one located error).
#[cfg(feature = "mpi")]
fn run_distributed(opts: &RunArgs) -> Result<ExitCode, Failure> {
    let comm = kiln::dist::Comm::init()?;
    kiln::dist::abort_on_panic();
    match run_ranks(opts, &comm) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(failure) => {
            if comm.is_root() {
                match &failure.error {
                    Error::Usage { message } => {
                        errln!("error: {message}\n\nFor more information, try '--help'.");
                        return Ok(ExitCode::from(2));
                    }
                    _ => report(&failure),
                }
            }
            Ok(ExitCode::from(match failure.error {
                Error::Usage { .. } => 2,
                _ => 1,
            }))
        }
    }
}

#[cfg(feature = "mpi")]
fn run_ranks(opts: &RunArgs, comm: &kiln::dist::Comm) -> Result<(), Failure> {
    use kiln::dist::{run_host_timed, share_module, share_values, DistKernel};
    match default_backend(opts.backend)? {
        Backend::Cpu | Backend::Auto => {}
        other => {
            return Err(Error::Backend {
                backend: other.to_string(),
                message: "under `--distributed` every rank runs the cpu engine; GPU ranks \
                          are not supported yet (leave `--backend` out or pass `cpu`)"
                    .into(),
            }
            .into())
        }
    }
    // Rank 0 reads the file; the others compile the text it sends.
    let root_module = comm.is_root().then(|| Module::from_file(&opts.file));
    let module = match share_module(&comm, root_module, &opts.file.display().to_string()) {
        Ok(m) => m,
        // Rank 0 reports why; the others end quietly.
        Err(_) if !comm.is_root() => return Err(silent()),
        Err(e) => return Err(e.into()),
    };
    let with_source = |error: Error| Failure {
        error,
        source: Some(module.source().to_string()),
    };
    let kernel = module.kernel(&opts.kernel)?;
    let params = kernel.param_slice();
    let start = Instant::now();
    let dk = DistKernel::new(&kernel).map_err(with_source)?;
    let compile_seconds = start.elapsed().as_secs_f64();
    let root_values = comm.is_root().then(|| {
        let pairs = match &opts.size {
            Some(label) => directive_args(&module, kernel.name(), label, &opts.args)?,
            None => opts.args.clone(),
        };
        values::bind_args(kernel.name(), params, &pairs, opts.seed)
    });
    let mut values = share_values(comm, params, root_values).map_err(|e| {
        if comm.is_root() {
            Failure::from(e)
        } else {
            silent()
        }
    })?;
    let originals: Vec<Option<HostValue>> = values
        .iter()
        .zip(params)
        .map(|(v, p)| (comm.is_root() && opts.repeat > 1 && p.ty.is_mut_array()).then(|| v.clone()))
        .collect();
    let mut seconds = Vec::new();
    let mut comm_seconds = Vec::new();
    let mut result = None;
    for run in 0..opts.repeat {
        if run > 0 {
            for (v, original) in values.iter_mut().zip(&originals) {
                if let Some(original) = original {
                    v.restore_from(original);
                }
            }
        }
        let (r, t) = run_host_timed(comm, &dk, params, &mut values).map_err(with_source)?;
        result = r;
        seconds.push(t.scatter + t.launch + t.gather);
        comm_seconds.push(t.scatter + t.launch_comm + t.gather);
    }
    if !comm.is_root() {
        return Ok(());
    }
    let written = match &opts.out {
        Some(dir) => write_outputs(dir, params, &values)?,
        None => Vec::new(),
    };
    let report = RunReport {
        used: Backend::Cpu,
        result,
        compile_seconds,
        seconds,
    };
    let comm_median = median(&comm_seconds).unwrap_or(0.0);
    if opts.json {
        let line = json_line(kernel.name(), &report);
        say!(
            "{}, \"ranks\": {}, \"threads_per_rank\": {}, \"comm_seconds\": {:?}}}",
            &line[..line.len() - 1],
            comm.size(),
            comm.threads(),
            comm_median
        );
    } else {
        print_human(&kernel, params, &values, &report, &written);
        say!(
            "distributed: ranks {}, threads per rank {}, communication {} of the launch",
            comm.size(),
            comm.threads(),
            duration(comm_median)
        );
    }
    Ok(())
}

/// The failure of a rank other than 0 whose cause rank 0 reports.
#[cfg(feature = "mpi")]
fn silent() -> Failure {
    Failure::from(Error::Backend {
        backend: "mpi".into(),
        message: "rank 0 failed".into(),
    })
}

/// The `//! args:` pairs at size `label`, with `overrides` replacing or
/// adding single values.
fn directive_args(
    module: &Module,
    kernel: &str,
    label: &str,
    overrides: &[(String, String)],
) -> Result<Vec<(String, String)>, Error> {
    let fail = |message: String| Error::argument(kernel, message);
    let cases =
        Cases::parse(module.source()).map_err(|e| fail(format!("{}: {e}", module.file())))?;
    let n = cases.size(label).ok_or_else(|| {
        let labels: Vec<&str> = cases.sizes.iter().map(|(l, _)| l.as_str()).collect();
        fail(format!(
            "{} has no size `{label}` (its `//! sizes:` directive lists: {})",
            module.file(),
            if labels.is_empty() {
                "none".to_string()
            } else {
                labels.join(", ")
            }
        ))
    })?;
    let mut pairs = cases.args_at(n);
    for (name, value) in overrides {
        match pairs.iter_mut().find(|(n, _)| n == name) {
            Some(pair) => pair.1 = value.clone(),
            None => pairs.push((name.clone(), value.clone())),
        }
    }
    Ok(pairs)
}

/// Compiles (timed once), then launches `repeat` times, each from the
/// original values; restoring them is not timed. `values` ends holding the
/// last launch's outputs.
fn launch_repeatedly(
    kernel: &Kernel,
    params: &[ParamInfo],
    values: &mut [HostValue],
    backend: Backend,
    repeat: u32,
) -> Result<RunReport, Error> {
    let start = Instant::now();
    kernel.prepare(backend)?;
    let compile_seconds = start.elapsed().as_secs_f64();
    // Only arrays the kernel may write need a pristine copy; one that does
    // not fit in memory is an error, not an abort.
    let mut originals: Vec<Option<HostValue>> = Vec::with_capacity(values.len());
    for (v, p) in values.iter_mut().zip(params) {
        let copy = match v {
            HostValue::Array(a) if repeat > 1 && p.ty.is_mut_array() => {
                Some(HostValue::Array(a.try_clone().ok_or_else(|| {
                    Error::Argument {
                        kernel: kernel.name().to_string(),
                        index: None,
                        param: Some(p.name.clone()),
                        expected: None,
                        given: None,
                        message: format!(
                            "argument `{}`: not enough memory to keep a copy of it ({} bytes) between the runs of `--repeat {repeat}`; use `--repeat 1`",
                            p.name,
                            a.len() * a.elem().size_bytes()
                        ),
                    }
                })?))
            }
            // A timed read-only array moves to a copy on huge pages, where
            // the machine offers them (`kiln::util::huge`).
            HostValue::Array(a) if repeat > 1 => {
                if let Some(c) = a.try_clone() {
                    *a = c;
                }
                None
            }
            _ => None,
        };
        // The launches run on the copy (on huge pages when large); the
        // value read or generated stays pristine.
        let copy = match copy {
            Some(mut c) => {
                std::mem::swap(v, &mut c);
                Some(c)
            }
            None => None,
        };
        originals.push(copy);
    }
    let mut seconds = Vec::with_capacity(repeat as usize);
    let mut last = (backend, None);
    for run in 0..repeat {
        if run > 0 {
            for (v, original) in values.iter_mut().zip(&originals) {
                if let Some(original) = original {
                    v.restore_from(original);
                }
            }
        }
        let mut args = values::args_for(params, values);
        let start = Instant::now();
        last = kernel.launch_on_reporting(backend, &mut args)?;
        seconds.push(start.elapsed().as_secs_f64());
    }
    Ok(RunReport {
        used: last.0,
        result: last.1,
        compile_seconds,
        seconds,
    })
}

/// Writes each `mut` array to `DIR/NAME.npy`, all or nothing: every array
/// goes to a temporary file in DIR first, and only when all were written are
/// they renamed into place (`util::Staged`). A failure leaves every existing
/// file as it was; an existing symbolic link is replaced, not followed.
fn write_outputs(
    dir: &Path,
    params: &[ParamInfo],
    values: &[HostValue],
) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        error: source,
    })?;
    let mut staged = Staged::default();
    let mut written = Vec::new();
    for (p, v) in params.iter().zip(values) {
        if let (true, Some(array)) = (p.ty.is_mut_array(), v.as_array()) {
            let path = dir.join(format!("{}.npy", p.name));
            staged.add(&path, |out| npy::write_to(out, array))?;
            written.push(path);
        }
    }
    staged.commit()?;
    Ok(written)
}

/// The result as JSON: integers exactly, floats as the shortest text that
/// reads back as the same value of their own type (`0.1` for an f32 0.1),
/// non-finite floats as strings, no result as null.
fn json_result(result: Option<Value>) -> String {
    let finite = match result {
        Some(Value::F32(x)) => x.is_finite(),
        Some(Value::F64(x)) => x.is_finite(),
        _ => true,
    };
    match result {
        None => "null".into(),
        // Everything else is already JSON (floats keep a `.0` or an
        // exponent); non-finite floats become strings.
        Some(v) if finite => values::scalar_text(v),
        Some(v) => format!("\"{}\"", values::scalar_text(v)),
    }
}

fn json_line(kernel: &str, r: &RunReport) -> String {
    let name = serde_json::to_string(kernel).unwrap_or_else(|_| "\"?\"".into());
    format!(
        "{{\"kernel\": {name}, \"backend\": \"{}\", \"result\": {}, \"compile_seconds\": {:?}, \"seconds\": {:?}, \"runs\": {}}}",
        r.used,
        json_result(r.result),
        r.compile_seconds,
        r.median_seconds(),
        r.seconds.len()
    )
}

fn print_human(
    kernel: &Kernel,
    params: &[ParamInfo],
    values: &[HostValue],
    r: &RunReport,
    written: &[PathBuf],
) {
    let result = match r.result {
        Some(v) => format!("{v} ({})", v.ty()),
        None => "no result".to_string(),
    };
    say!("{} on {}: {result}", kernel.name(), r.used);
    for (p, v) in params.iter().zip(values) {
        if let (true, Some(a)) = (p.ty.is_mut_array(), v.as_array()) {
            let shape: Vec<String> = a.shape().iter().map(|d| d.to_string()).collect();
            say!(
                "  {} = {}[{}] {}",
                p.name,
                a.elem(),
                shape.join("x"),
                a.preview(8)
            );
        }
    }
    let n = r.seconds.len();
    say!(
        "compile {}, launch {} ({})",
        duration(r.compile_seconds),
        duration(r.median_seconds()),
        if n == 1 {
            "1 run".to_string()
        } else {
            format!("median of {n} runs")
        }
    );
    for path in written {
        say!("wrote {}", path.display());
    }
}
