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
    /// Where the kernel files are (default: the library kernels built into
    /// kiln, so the suite runs from any directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Also write every figure and the machine's description as JSON here
    /// (besides the report folder).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also draw the chart here (besides the report folder): one size, bars
    /// of each runner's time relative to the baseline per kernel; several
    /// sizes, throughput against n.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// The report folder, where every run writes `report.json` and
    /// `report.svg` (default: `target/kiln-bench/` inside a cargo project,
    /// else `./kiln-bench/`).
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Write no report folder.
    #[arg(long)]
    pub no_report: bool,
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
            super::sweep::sweep(args.dir.as_deref(), &kernels, budget, args.sweep_max)?
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
    let mut json_paths: Vec<PathBuf> = args.json.iter().cloned().collect();
    let mut plot_paths: Vec<PathBuf> = args.plot.iter().cloned().collect();
    if !args.no_report {
        let dir = match &args.report_dir {
            Some(d) => d.clone(),
            None => report_dir(&std::env::current_dir().unwrap_or_default()),
        };
        std::fs::create_dir_all(&dir).map_err(|error| Error::Io {
            path: dir.display().to_string(),
            error,
        })?;
        json_paths.push(dir.join("report.json"));
        plot_paths.push(dir.join("report.svg"));
        let _ = writeln!(
            std::io::stdout(),
            "report: {} (report.json, report.svg)",
            dir.display()
        );
    }
    let text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default() + "\n";
    for path in &json_paths {
        crate::util::write_atomic(path, text.as_bytes())?;
        let _ = writeln!(std::io::stderr(), "wrote {}", path.display());
    }
    for path in &plot_paths {
        report.plot_svg(path).map_err(|message| Error::Backend {
            backend: "plot".into(),
            message,
        })?;
        let _ = writeln!(std::io::stderr(), "wrote {}", path.display());
    }
    Ok(())
}

/// Where a run's report goes, as criterion does: `target/kiln-bench/` of
/// the cargo project `cwd` is in (`$CARGO_TARGET_DIR/kiln-bench/` when that
/// is set), else `cwd/kiln-bench/`.
pub fn report_dir(cwd: &std::path::Path) -> PathBuf {
    let project = cwd.ancestors().find(|d| d.join("Cargo.toml").is_file());
    match project {
        Some(root) => match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
            Some(target) => root.join(target).join("kiln-bench"),
            None => root.join("target").join("kiln-bench"),
        },
        None => cwd.join("kiln-bench"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_goes_to_target_in_a_cargo_project_else_here() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        let nested = dir.path().join("proj/src/deep");
        std::fs::create_dir_all(&plain).unwrap();
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(dir.path().join("proj/Cargo.toml"), "[package]\n").unwrap();
        assert_eq!(report_dir(&plain), plain.join("kiln-bench"));
        let got = report_dir(&nested);
        assert!(got.ends_with("kiln-bench"), "{}", got.display());
        assert!(
            got.starts_with(dir.path().join("proj"))
                || std::env::var_os("CARGO_TARGET_DIR").is_some(),
            "{}",
            got.display()
        );
    }
}
