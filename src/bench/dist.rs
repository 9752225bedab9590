//! `kiln bench --distributed`: strong scaling over MPI ranks.
//!
//! Run under `mpirun -np N`: each kernel runs on the first 1, 2, 4, … ranks
//! of the job (and N), each on sub-communicators of the world, from the
//! same inputs at one size. Each timed launch starts from freshly scattered
//! blocks (the scatter is not timed), so the halo exchanges, gathers and
//! partials a launch needs are inside its time; `comm` is that part.

use super::cli::BenchArgs;
use super::run::kernel_files;
use crate::dist::{run_host_timed, share_module, share_values, Comm, DistKernel};
use crate::error::{Error, Result};
use crate::inputs::cases::Cases;
use crate::inputs::params::params_of;
use crate::inputs::HostValue;
use crate::util::median;

const DEFAULT_KERNELS: [&str; 4] = ["saxpy", "sum_sq", "jacobi2d", "matmul"];
/// Timed launches per kernel and rank count (after one warm-up).
const RUNS: usize = 3;

/// One row of the table.
struct Row {
    kernel: String,
    np: usize,
    launch: f64,
    comm: f64,
    scatter: f64,
    gather: f64,
}

pub fn main(args: &BenchArgs) -> Result<()> {
    let comm = Comm::init()?;
    crate::dist::abort_on_panic();
    let label = args
        .size
        .split(',')
        .next()
        .unwrap_or("S")
        .trim()
        .to_string();
    let kernels: Vec<String> = match &args.kernels {
        Some(k) => k.split(',').map(|s| s.trim().to_string()).collect(),
        None => DEFAULT_KERNELS.iter().map(|s| s.to_string()).collect(),
    };
    let n = comm.size();
    let mut counts: Vec<usize> = [1, 2, 4, 8, 16, 32, 64]
        .into_iter()
        .filter(|&c| c <= n)
        .collect();
    if counts.last() != Some(&n) {
        counts.push(n);
    }
    let cores = comm.node_cores();
    if comm.is_root() {
        println!(
            "kiln bench --distributed: size {label}, {n} ranks in the job, {} on this node, {cores} cores here, {} thread(s) per rank",
            comm.local_ranks(),
            comm.threads()
        );
        println!("each timed launch starts from scattered blocks; median of {RUNS} launches after one warm-up");
    }
    let mut rows: Vec<Row> = Vec::new();
    for name in &kernels {
        // The kernel files of `--dir`, else those carried in the binary.
        let shown = match &args.dir {
            Some(dir) => dir.join(format!("{name}.kn")).display().to_string(),
            None => format!("kernels/{name}.kn"),
        };
        let root_module = comm.is_root().then(|| {
            let files = kernel_files(args.dir.as_deref(), Some(std::slice::from_ref(name)))?;
            files
                .first()
                .ok_or_else(|| Error::argument(name.clone(), format!("no kernel file {shown}")))?
                .module()
        });
        let module = share_module(&comm, root_module, &shown)?;
        let kernel = module.kernel(name)?;
        let dk = DistKernel::new(&kernel)?;
        let params = kernel.param_slice().to_vec();
        for &np in &counts {
            comm.idle_barrier();
            let Some(sub) = comm.split(np) else {
                continue;
            };
            let root_values = sub.is_root().then(|| {
                let ir = module
                    .ir()
                    .kernel(name)
                    .ok_or_else(|| Error::argument(name.clone(), "no such kernel".to_string()))?;
                Cases::parse(module.source())
                    .map_err(|e| Error::argument(name.clone(), e.to_string()))?
                    .build_args(name, &params_of(ir), &label, 0)
            });
            let mut values = share_values(&sub, &params, root_values)?;
            let originals: Vec<Option<HostValue>> = values
                .iter()
                .zip(&params)
                .map(|(v, p)| (sub.is_root() && p.ty.is_mut_array()).then(|| v.clone()))
                .collect();
            let mut times = Vec::new();
            for run in 0..=RUNS {
                for (v, o) in values.iter_mut().zip(&originals) {
                    if let Some(o) = o {
                        v.restore_from(o);
                    }
                }
                let (_, t) = run_host_timed(&sub, &dk, &params, &mut values)?;
                if run > 0 {
                    times.push(t);
                }
            }
            if sub.is_root() {
                let med = |f: &dyn Fn(&crate::dist::Timings) -> f64| {
                    median(&times.iter().map(f).collect::<Vec<_>>()).unwrap_or(0.0)
                };
                rows.push(Row {
                    kernel: name.clone(),
                    np,
                    launch: med(&|t| t.launch),
                    comm: med(&|t| t.launch_comm),
                    scatter: med(&|t| t.scatter),
                    gather: med(&|t| t.gather),
                });
            }
        }
    }
    comm.idle_barrier();
    if !comm.is_root() {
        return Ok(());
    }
    println!(
        "{:<10} {:>3} {:>12} {:>8} {:>10} {:>7} {:>11} {:>11}",
        "kernel", "np", "launch", "speedup", "efficiency", "comm", "scatter", "gather"
    );
    let mut json = Vec::new();
    for r in &rows {
        let t1 = rows
            .iter()
            .find(|x| x.kernel == r.kernel && x.np == 1)
            .map_or(r.launch, |x| x.launch);
        let speedup = t1 / r.launch.max(1e-12);
        let eff = speedup / r.np as f64;
        let share = r.comm / r.launch.max(1e-12);
        println!(
            "{:<10} {:>3} {:>12} {:>7.2}x {:>9.0}% {:>6.0}% {:>11} {:>11}",
            r.kernel,
            r.np,
            crate::util::duration(r.launch),
            speedup,
            eff * 100.0,
            share * 100.0,
            crate::util::duration(r.scatter),
            crate::util::duration(r.gather)
        );
        json.push(serde_json::json!({
            "kernel": r.kernel, "size": label, "ranks": r.np, "threads_per_rank": comm.threads(),
            "launch_seconds": r.launch, "comm_seconds": r.comm, "speedup": speedup,
            "efficiency": eff, "comm_share": share, "scatter_seconds": r.scatter,
            "gather_seconds": r.gather,
            "oversubscribed": r.np.min(comm.local_ranks()) * comm.threads() > cores,
        }));
    }
    for &np in &counts {
        if np.min(comm.local_ranks()) * comm.threads() > cores {
            println!(
                "note: np {np} runs {np} ranks x {} thread(s) on {cores} cores: oversubscribed, so its figures do not measure scaling on real cores",
                comm.threads()
            );
        }
    }
    if let Some(path) = &args.json {
        let text =
            serde_json::to_string_pretty(&serde_json::Value::Array(json)).unwrap_or_default();
        std::fs::write(path, text).map_err(|e| Error::Io {
            path: path.display().to_string(),
            error: e,
        })?;
    }
    Ok(())
}
