//! `kiln bench`: options, the run, and where the results go.

use super::measure::Budget;
use super::run::{run, Options};
use crate::error::{Error, Result};
use crate::runtime::Backend;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// auto (default: $KILN_BACKEND, else auto), cpu, cuda, wgpu, interp, or
    /// all (every GPU and CPU backend; absent ones are listed as skipped).
    #[arg(long, value_name = "B")]
    pub backend: Option<String>,
    /// Sizes to run, from the kernels' `//! sizes:` (S, M, L; T is the test
    /// size), comma-separated.
    #[arg(long, value_name = "S|M|L", default_value = "S")]
    pub size: String,
    /// Only these kernels (comma-separated names of kernels/*.kn).
    #[arg(long, value_name = "a,b")]
    pub kernels: Option<String>,
    /// Where the kernel files are.
    #[arg(long, value_name = "DIR", default_value = "kernels")]
    pub dir: PathBuf,
    /// Also write every figure and the machine's description as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw time against size per runner as an SVG chart.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Skip the hand-written Rust baselines.
    #[arg(long)]
    pub no_baselines: bool,
    /// Skip the peers (Numba).
    #[arg(long)]
    pub no_peers: bool,
    /// Target seconds of repeats per measurement (at least 3 runs each).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.4)]
    pub seconds: f64,
    /// Instead of the suite: these kernels (kernels/NAME.kn, kernel NAME)
    /// at sizes 1e2..1e8, auto against every forced placement; alone:
    /// saxpy, sum_sq, dot, matmul, blackscholes.
    #[arg(long, value_name = "a,b", num_args = 0..=1, default_missing_value = "")]
    pub sweep: Option<String>,
    /// The largest size of `--sweep`.
    #[arg(long, value_name = "N", default_value_t = 100_000_000)]
    pub sweep_max: usize,
    /// Strong scaling over MPI ranks (run under `mpirun -np N`, kiln built
    /// with feature `mpi`): saxpy, sum_sq, jacobi2d and matmul (or
    /// `--kernels`) on the first 1, 2, 4, … ranks, with parallel efficiency
    /// and the share of time spent in communication (docs/distributed.md).
    #[arg(long)]
    pub distributed: bool,
}

fn usage(message: String) -> Error {
    Error::Usage { message }
}

fn backends(spec: Option<&str>) -> Result<Vec<Backend>> {
    match spec {
        Some("all") => Ok(Backend::compiled().collect()),
        Some(b) => Ok(vec![b
            .parse::<Backend>()
            .map_err(|e| usage(e.to_string()))?]),
        None => Ok(vec![Backend::from_env()?]),
    }
}

/// Runs the suite and prints the table; writes JSON and SVG when asked.
pub fn main(args: &BenchArgs) -> Result<()> {
    if !(args.seconds.is_finite() && args.seconds >= 0.0) {
        return Err(usage(format!(
            "--seconds must be a non-negative number, got {}",
            args.seconds
        )));
    }
    if let Some(spec) = &args.sweep {
        let kernels = super::sweep::parse(spec)?;
        let budget = Duration::from_secs_f64(args.seconds);
        print!(
            "{}",
            super::sweep::sweep(&args.dir, &kernels, budget, args.sweep_max)?
        );
        return Ok(());
    }
    let sizes: Vec<String> = args
        .size
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if sizes.is_empty() {
        return Err(usage("--size needs at least one size label".into()));
    }
    let opts = Options {
        backends: backends(args.backend.as_deref())?,
        sizes,
        kernels: args
            .kernels
            .as_ref()
            .map(|k| k.split(',').map(|s| s.trim().to_string()).collect()),
        dir: args.dir.clone(),
        baselines: !args.no_baselines,
        peers: !args.no_peers,
        budget: Budget {
            min_runs: 3,
            max_runs: 50,
            target: Duration::from_secs_f64(args.seconds),
        },
        progress: true,
    };
    let report = run(&opts)?;
    print!("{}", report.table());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
        crate::util::write_atomic(path, (text + "\n").as_bytes())?;
        let _ = writeln!(std::io::stderr(), "wrote {}", path.display());
    }
    if let Some(path) = &args.plot {
        report.plot_svg(path).map_err(|message| Error::Backend {
            backend: "plot".into(),
            message,
        })?;
        let _ = writeln!(std::io::stderr(), "wrote {}", path.display());
    }
    Ok(())
}
