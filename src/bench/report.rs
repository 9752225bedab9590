//! Benchmark results: the row model, the text table, `--json` and `--plot`.

use crate::engine::Backend;
use crate::util::duration;
use crate::util::stats::geomean;
use serde_json::{json, Value as Json};
use std::fmt::Write as _;
use std::path::Path;

/// What happened to one (kernel, size, runner) cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Timed {
        /// First-call compile time (kiln backends only).
        compile_s: Option<f64>,
        /// Median time of one launch, transfers included.
        median_s: f64,
        runs: usize,
        /// Host↔device transfer time per launch where a backend moves data:
        /// the median with host arrays less the median with the arrays
        /// resident on the device.
        transfer_s: Option<f64>,
        /// GPU backends: the median launch with every array resident on the
        /// device (`kiln::Array`s already there): the kernel's own cost.
        resident_s: Option<f64>,
        /// The spread of the timed runs: interquartile range / median.
        spread: Option<f64>,
    },
    /// The result did not match the reference: reported, not timed.
    Invalid(String),
    /// Compile or run failed (the backend's error message).
    Failed(String),
    /// Not run here (backend absent, peer not installed, …).
    Skipped(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub kernel: String,
    pub size: String,
    /// The `{n}` the inputs were generated with.
    pub n: u64,
    /// `cpu`, `interp`, `cuda`, `wgpu`, `rust-serial`, `rust-rayon`, `numba`, …
    pub runner: String,
    /// The device the runner ran on: the adapter's name verbatim (GPUs),
    /// else the CPU model.
    pub device: String,
    /// A software adapter (llvmpipe/lavapipe): not a GPU's figures.
    pub software: bool,
    /// Work per launch, from the kernel's directives.
    pub bytes: Option<f64>,
    pub flops: Option<f64>,
    pub outcome: Outcome,
    /// The runner computes this kernel's loop in closed form (the kernel's
    /// `//! folded:` names it): timed, but left out of the geometric means.
    pub folded: bool,
}

impl Row {
    pub fn median(&self) -> Option<f64> {
        match self.outcome {
            Outcome::Timed { median_s, .. } => Some(median_s),
            _ => None,
        }
    }

    pub fn gbps(&self) -> Option<f64> {
        Some(self.bytes? / self.median()? / 1e9)
    }

    /// The median with arrays resident on the device (GPU rows).
    pub fn resident(&self) -> Option<f64> {
        match self.outcome {
            Outcome::Timed { resident_s, .. } => resident_s,
            _ => None,
        }
    }

    /// GB/s of the kernel itself: from the resident time where there is
    /// one, else the median.
    pub fn kernel_gbps(&self) -> Option<f64> {
        Some(self.bytes? / self.resident().or(self.median())? / 1e9)
    }

    /// The device as tables show it: "(software)" after a software adapter.
    pub fn device_label(&self) -> String {
        if self.software {
            format!("{} (software)", self.device)
        } else {
            self.device.clone()
        }
    }

    pub fn gflops(&self) -> Option<f64> {
        Some(self.flops? / self.median()? / 1e9)
    }
}

/// The machine the run was made on.
#[derive(Clone, Debug)]
pub struct Machine {
    pub cpu: String,
    pub threads: usize,
    pub os: String,
    /// STREAM-style copy bandwidth measured in the same run, GB/s.
    pub stream_gbps: f64,
    /// Backends and peers that could not run here, one line each (said
    /// once, not per kernel).
    pub devices: Vec<String>,
    /// Copy bandwidth of each GPU runner's device, GB/s, measured by kiln on
    /// arrays resident on it in the same run: %BW of GPU rows is against
    /// this, not the host's.
    pub device_gbps: Vec<(String, f64)>,
    /// The CPU JIT's compiles of a small unrelated kernel made just before
    /// each row's compile, seconds: a compile with cold caches (it follows
    /// the previous row's runs), which leaves the row's compile timed with
    /// the compiler's code in cache.
    pub cold_compile_s: Vec<f64>,
}

impl Machine {
    pub fn describe(stream_gbps: f64, devices: Vec<String>) -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        Machine {
            cpu,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            os: std::env::consts::OS.to_string(),
            stream_gbps,
            devices,
            device_gbps: Vec::new(),
            cold_compile_s: Vec::new(),
        }
    }

    /// The bandwidth `%BW` of a row of `runner` is measured against.
    pub fn bandwidth_for(&self, runner: &str) -> f64 {
        self.device_gbps
            .iter()
            .find(|(r, _)| r == runner)
            .map_or(self.stream_gbps, |(_, g)| *g)
    }
}

/// The spread of timed runs: interquartile range over the median (`None`
/// for fewer than 3 runs).
pub fn spread(times: &[f64]) -> Option<f64> {
    if times.len() < 3 {
        return None;
    }
    let mut t = times.to_vec();
    t.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let x = q * (t.len() - 1) as f64;
        let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
        t[lo] + (t[hi] - t[lo]) * (x - lo as f64)
    };
    let median = at(0.5);
    (median > 0.0).then(|| (at(0.75) - at(0.25)) / median)
}

/// The synthetic peer "the better of `numba` and `numba-parallel`".
pub const NUMBA_BEST: &str = "numba-best";

/// One line of the summary: kiln `runner` against `against` at `size`.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub size: String,
    pub runner: String,
    pub against: String,
    /// Geometric mean over kernels of `time(runner) / time(against)`.
    pub geomean: f64,
    pub kernels: usize,
    /// Kernels left out because `against` computes them in closed form.
    pub left_out: Vec<String>,
}

/// The compile times of one kiln runner at one size.
#[derive(Clone, Debug, PartialEq)]
pub struct CompileSummary {
    pub size: String,
    pub runner: String,
    /// The median over kernels, seconds.
    pub median_s: f64,
    /// The slowest kernel and its compile, seconds.
    pub max: (String, f64),
    pub kernels: usize,
}

/// Whether `runner` is one of kiln's backends (not a peer or baseline).
fn is_kiln(runner: &str) -> bool {
    Backend::ALL.iter().any(|b| b.name() == runner)
}

fn time_of(rows: &[&Row], kernel: &str, runner: &str) -> Option<f64> {
    rows.iter()
        .find(|r| r.kernel == kernel && r.runner == runner)
        .and_then(|r| r.median())
}

fn folded(rows: &[&Row], kernel: &str, runner: &str) -> bool {
    let runners: &[&str] = if runner == NUMBA_BEST {
        &["numba", "numba-parallel"]
    } else {
        &[runner]
    };
    rows.iter()
        .any(|r| r.kernel == kernel && r.folded && runners.contains(&r.runner.as_str()))
}

#[derive(Clone, Debug)]
pub struct Report {
    pub machine: Machine,
    pub rows: Vec<Row>,
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

impl Report {
    /// The median of the `rust-rayon` baseline of the same kernel and size.
    fn baseline(&self, row: &Row) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.kernel == row.kernel && r.size == row.size && r.runner == "rust-rayon")
            .and_then(Row::median)
    }

    /// The geometric means of each kiln runner's time against each other
    /// runner (peers and baselines), per size, over the kernels both timed.
    /// `numba-best` is the better of `numba` and `numba-parallel` per kernel.
    pub fn summary(&self) -> Vec<Summary> {
        let mut sizes: Vec<&str> = self.rows.iter().map(|r| r.size.as_str()).collect();
        sizes.dedup();
        let mut seen = std::collections::HashSet::new();
        sizes.retain(|s| seen.insert(*s));
        let mut out = Vec::new();
        for size in sizes {
            let rows: Vec<&Row> = self.rows.iter().filter(|r| r.size == size).collect();
            let time = |kernel: &str, runner: &str| -> Option<f64> {
                if runner == NUMBA_BEST {
                    let a = time_of(&rows, kernel, "numba");
                    let b = time_of(&rows, kernel, "numba-parallel");
                    return match (a, b) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                time_of(&rows, kernel, runner)
            };
            let mut runners: Vec<&str> = Vec::new();
            for r in &rows {
                if !runners.contains(&r.runner.as_str()) {
                    runners.push(&r.runner);
                }
            }
            let mut peers: Vec<&str> = runners.iter().copied().filter(|r| !is_kiln(r)).collect();
            if peers.contains(&"numba") && peers.contains(&"numba-parallel") {
                peers.push(NUMBA_BEST);
            }
            let mut kernels: Vec<&str> = Vec::new();
            for r in &rows {
                if !kernels.contains(&r.kernel.as_str()) {
                    kernels.push(&r.kernel);
                }
            }
            for runner in runners.iter().copied().filter(|r| is_kiln(r)) {
                for &peer in &peers {
                    let (left_out, kept): (Vec<&str>, Vec<&str>) =
                        kernels.iter().partition(|k| folded(&rows, k, peer));
                    let ratios: Vec<f64> = kept
                        .iter()
                        .filter_map(|k| Some(time(k, runner)? / time(k, peer)?))
                        .filter(|r| r.is_finite() && *r > 0.0)
                        .collect();
                    if let Some(g) = geomean(&ratios) {
                        out.push(Summary {
                            size: size.to_string(),
                            runner: runner.to_string(),
                            against: peer.to_string(),
                            geomean: g,
                            kernels: ratios.len(),
                            left_out: left_out.iter().map(|k| k.to_string()).collect(),
                        });
                    }
                }
            }
        }
        out
    }

    /// The median and largest compile time of each kiln runner per size.
    pub fn compile_summary(&self) -> Vec<CompileSummary> {
        let mut out: Vec<CompileSummary> = Vec::new();
        // (size, runner, [(kernel, seconds)]) in the order rows appear.
        type Group<'a> = (&'a str, &'a str, Vec<(&'a str, f64)>);
        let mut times: Vec<Group> = Vec::new();
        for r in &self.rows {
            let Outcome::Timed {
                compile_s: Some(c), ..
            } = r.outcome
            else {
                continue;
            };
            if !is_kiln(&r.runner) {
                continue;
            }
            match times
                .iter_mut()
                .find(|(s, run, _)| *s == r.size && *run == r.runner)
            {
                Some((.., v)) => v.push((&r.kernel, c)),
                None => times.push((&r.size, &r.runner, vec![(&r.kernel, c)])),
            }
        }
        for (size, runner, v) in times {
            let all: Vec<f64> = v.iter().map(|(_, c)| *c).collect();
            let Some(median_s) = crate::util::stats::median(&all) else {
                continue;
            };
            let (k, c) = v
                .iter()
                .copied()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .expect("a median implies a value");
            out.push(CompileSummary {
                size: size.to_string(),
                runner: runner.to_string(),
                median_s,
                max: (k.to_string(), c),
                kernels: v.len(),
            });
        }
        out
    }

    /// A readable table; one line per row, notes for rows that were not timed.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "machine: {} ({} threads, {}); memory bandwidth (copy): {:.1} GB/s",
            m.cpu, m.threads, m.os, m.stream_gbps
        );
        for (runner, gbps) in &m.device_gbps {
            let _ = writeln!(
                out,
                "{runner}: device copy bandwidth {gbps:.1} GB/s (measured by kiln on resident arrays)"
            );
        }
        for line in &m.devices {
            let _ = writeln!(out, "not run: {line}");
        }
        let device_width = self
            .rows
            .iter()
            .map(|r| r.device_label().chars().count())
            .max()
            .unwrap_or(6)
            .clamp(6, 48);
        let _ = writeln!(
            out,
            "{:<22} {:<4} {:<14} {:<device_width$} {:>9} {:>9} {:>9} {:>9} {:>6} {:>8} {:>9} {:>5} {:>8}",
            "kernel",
            "size",
            "runner",
            "device",
            "compile",
            "median",
            "resident",
            "transfer",
            "spread",
            "GB/s",
            "GFLOP/s",
            "%BW",
            "vs rayon"
        );
        for r in &self.rows {
            // Too long a name is cut before its "(software)" flag, never the flag.
            let device = if r.device_label().chars().count() <= device_width {
                r.device_label()
            } else {
                let flag = if r.software { " (software)" } else { "" };
                let keep = device_width.saturating_sub(flag.len() + 1);
                format!("{}~{flag}", r.device.chars().take(keep).collect::<String>())
            };
            let _ = write!(
                out,
                "{:<22} {:<4} {:<14} {:<device_width$} ",
                r.kernel, r.size, r.runner, device
            );
            match &r.outcome {
                Outcome::Timed {
                    compile_s,
                    median_s,
                    resident_s,
                    transfer_s,
                    spread,
                    ..
                } => {
                    let vs = self
                        .baseline(r)
                        .map(|b| format!("{:.2}x", median_s / b))
                        .unwrap_or_else(|| "-".into());
                    let pct = r
                        .kernel_gbps()
                        .map(|g| 100.0 * g / m.bandwidth_for(&r.runner));
                    let _ = writeln!(
                        out,
                        "{:>9} {:>9} {:>9} {:>9} {:>6} {:>8} {:>9} {:>5} {:>8}",
                        compile_s.map(duration).unwrap_or_else(|| "-".into()),
                        duration(*median_s),
                        resident_s.map(duration).unwrap_or_else(|| "-".into()),
                        transfer_s.map(duration).unwrap_or_else(|| "-".into()),
                        spread
                            .map(|s| format!("{:.0}%", 100.0 * s))
                            .unwrap_or_else(|| "-".into()),
                        opt(r.kernel_gbps(), 1),
                        opt(r.gflops(), 2),
                        opt(pct, 0),
                        vs
                    );
                }
                Outcome::Invalid(why) => {
                    let _ = writeln!(out, "INVALID: {why}");
                }
                Outcome::Failed(why) => {
                    let _ = writeln!(out, "FAILED: {}", why.lines().next().unwrap_or(""));
                }
                Outcome::Skipped(why) => {
                    let _ = writeln!(out, "skipped: {why}");
                }
            }
        }
        let _ = writeln!(
            out,
            "(median: per launch with host arrays, transfers included; resident: arrays already on \
             the device (GPU rows), transfer = median - resident; GB/s and %BW from the resident \
             time where there is one, %BW against the device's own copy bandwidth for GPU rows)"
        );
        let _ = writeln!(
            out,
            "(vs rayon: time relative to hand-written Rust + rayon; lower is better)"
        );
        let summary = self.summary();
        if !summary.is_empty() {
            let _ = writeln!(
                out,
                "\ngeometric mean of time ratios (kiln runner / other; below 1 kiln is faster):"
            );
            let mut left_out: Vec<(&str, Vec<&str>)> = Vec::new();
            for s in &summary {
                let _ = writeln!(
                    out,
                    "  {:<4} {:<8} vs {:<16} {:>6.2}x  ({} kernels)",
                    s.size, s.runner, s.against, s.geomean, s.kernels
                );
                for k in &s.left_out {
                    match left_out.iter_mut().find(|(name, _)| name == k) {
                        Some((_, against)) if !against.contains(&s.against.as_str()) => {
                            against.push(&s.against)
                        }
                        Some(_) => {}
                        None => left_out.push((k, vec![&s.against])),
                    }
                }
            }
            for (k, against) in left_out {
                let _ = writeln!(
                    out,
                    "  ({k} left out against {}: they compute its loop in closed form)",
                    against.join(", ")
                );
            }
        }
        let compiles = self.compile_summary();
        if !compiles.is_empty() {
            let _ = writeln!(out, "\ncompile time of each kiln runner, over its kernels:");
            for c in compiles {
                let _ = writeln!(
                    out,
                    "  {:<4} {:<8} median {:>9}, slowest {:>9} ({}), {} kernels",
                    c.size,
                    c.runner,
                    duration(c.median_s),
                    duration(c.max.1),
                    c.max.0,
                    c.kernels
                );
            }
        }
        if let Some(med) = crate::util::stats::median(&m.cold_compile_s) {
            let _ = writeln!(
                out,
                "  (each cpu compile above follows one of a small kernel after the previous \
                 row's runs, whose caches are cold: {} median over {})",
                duration(med),
                m.cold_compile_s.len()
            );
        }
        out
    }

    pub fn to_json(&self) -> Json {
        let m = &self.machine;
        let rows: Vec<Json> = self
            .rows
            .iter()
            .map(|r| {
                let mut o = json!({
                    "kernel": r.kernel, "size": r.size, "n": r.n, "runner": r.runner,
                    "device": r.device, "software": r.software,
                    "bytes": r.bytes, "flops": r.flops,
                });
                let extra = match &r.outcome {
                    Outcome::Timed { compile_s, median_s, runs, transfer_s, resident_s, spread } => json!({
                        "status": "ok", "compile_seconds": compile_s, "seconds": median_s, "runs": runs,
                        "resident_seconds": resident_s, "transfer_seconds": transfer_s,
                        "spread": spread, "gbps": r.kernel_gbps(), "gflops": r.gflops(),
                        "bandwidth_gbps": m.bandwidth_for(&r.runner),
                        "fraction_of_bandwidth": r.kernel_gbps().map(|g| g / m.bandwidth_for(&r.runner)),
                        "vs_rust_rayon": self.baseline(r).map(|b| median_s / b),
                    }),
                    Outcome::Invalid(w) => json!({"status": "invalid", "reason": w}),
                    Outcome::Failed(w) => json!({"status": "failed", "reason": w}),
                    Outcome::Skipped(w) => json!({"status": "skipped", "reason": w}),
                };
                if let (Some(o), Json::Object(e)) = (o.as_object_mut(), extra) {
                    o.extend(e);
                }
                o
            })
            .collect();
        json!({
            "kiln_version": env!("CARGO_PKG_VERSION"),
            "machine": {
                "cpu": m.cpu, "threads": m.threads, "os": m.os,
                "stream_copy_gbps": m.stream_gbps, "devices": m.devices,
                "device_copy_gbps": m.device_gbps.iter().map(|(r, g)| json!({"runner": r, "gbps": g})).collect::<Vec<_>>(),
                "cold_compile_seconds": m.cold_compile_s,
            },
            "rows": rows,
            "summary": self.summary().iter().map(|s| json!({
                "size": s.size, "runner": s.runner, "against": s.against,
                "geomean_ratio": s.geomean, "kernels": s.kernels, "left_out": s.left_out,
            })).collect::<Vec<_>>(),
            "compile": self.compile_summary().iter().map(|c| json!({
                "size": c.size, "runner": c.runner, "median_seconds": c.median_s,
                "slowest_kernel": c.max.0, "slowest_seconds": c.max.1, "kernels": c.kernels,
            })).collect::<Vec<_>>(),
        })
    }

    /// The runner times are shown relative to in a one-size chart:
    /// `rust-rayon` when it ran, else the first runner.
    fn chart_baseline(&self) -> Option<String> {
        let timed = |r: &Row| r.median().is_some();
        self.rows
            .iter()
            .find(|r| r.runner == "rust-rayon" && timed(r))
            .or_else(|| self.rows.iter().find(|r| timed(r)))
            .map(|r| r.runner.clone())
    }

    /// The chart: with one size, grouped bars per kernel of each runner's
    /// time relative to the baseline (log scale, the 1.0 line marked);
    /// with several, one panel per kernel of throughput against n. The
    /// legend sits in its own strip, never over the data.
    pub fn plot_svg(&self, path: &Path) -> Result<(), String> {
        let mut sizes: Vec<&str> = Vec::new();
        for r in &self.rows {
            if r.median().is_some() && !sizes.contains(&r.size.as_str()) {
                sizes.push(&r.size);
            }
        }
        let svg = if sizes.len() <= 1 {
            self.bars_svg()
        } else {
            self.lines_svg()
        }
        .map_err(|e| format!("cannot draw {}: {e}", path.display()))?;
        crate::util::write_atomic(path, svg.as_bytes()).map_err(|e| e.to_string())
    }

    fn runners_and_kernels(&self) -> (Vec<&str>, Vec<&str>) {
        let mut runners: Vec<&str> = Vec::new();
        let mut kernels: Vec<&str> = Vec::new();
        for r in self.rows.iter().filter(|r| r.median().is_some()) {
            if !runners.contains(&r.runner.as_str()) {
                runners.push(&r.runner);
            }
            if !kernels.contains(&r.kernel.as_str()) {
                kernels.push(&r.kernel);
            }
        }
        (runners, kernels)
    }

    /// A runner's label in legends: its device too, "(software)" flagged.
    fn runner_label(&self, runner: &str) -> String {
        match self.rows.iter().find(|r| r.runner == runner) {
            Some(r) => format!("{runner} — {}", r.device_label()),
            None => runner.to_string(),
        }
    }

    fn bars_svg(&self) -> Result<String, String> {
        use plotters::prelude::*;
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let (runners, kernels) = self.runners_and_kernels();
        let base = self.chart_baseline().unwrap_or_default();
        let shown: Vec<&str> = runners.iter().copied().filter(|r| *r != base).collect();
        let time = |kernel: &str, runner: &str| {
            self.rows
                .iter()
                .find(|r| r.kernel == kernel && r.runner == runner)
                .and_then(Row::median)
        };
        // (kernel index, runner index, ratio)
        let mut bars = Vec::new();
        for (k, kernel) in kernels.iter().enumerate() {
            let Some(b) = time(kernel, &base) else {
                continue;
            };
            for (j, runner) in shown.iter().enumerate() {
                if let Some(t) = time(kernel, runner) {
                    if t > 0.0 && b > 0.0 {
                        bars.push((k, j, t / b));
                    }
                }
            }
        }
        let (lo, hi) = bars
            .iter()
            .fold((1.0f64, 1.0f64), |(lo, hi), b| (lo.min(b.2), hi.max(b.2)));
        let (lo, hi) = (lo / 1.5, hi * 1.5);
        let width = (160 + 90 * kernels.len().max(1)) as u32;
        let legend_h = 24 * (shown.len() as u32 + 1) + 16;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (width.max(640), 460 + legend_h))
                .into_drawing_area();
            root.fill(&WHITE).map_err(|e| err(&e))?;
            let (plot, legend) = root.split_vertically(460);
            let size = self
                .rows
                .first()
                .map(|r| r.size.clone())
                .unwrap_or_default();
            let n = kernels.len().max(1) as f64;
            let mut chart = ChartBuilder::on(&plot)
                .caption(
                    format!("time relative to {base} (size {size}; lower is faster)"),
                    ("sans-serif", 18),
                )
                .margin(12)
                .x_label_area_size(70)
                .y_label_area_size(60)
                .build_cartesian_2d(0.0..n, (lo..hi).log_scale())
                .map_err(|e| err(&e))?;
            let names = kernels.clone();
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(kernels.len() * 2 + 1)
                .x_label_formatter(&|x| {
                    let k = x.floor() as usize;
                    // One label at each group's centre.
                    if (x - (k as f64 + 0.5)).abs() < 1e-6 {
                        names.get(k).map(|s| s.to_string()).unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_desc(format!("time / {base}"))
                .y_label_formatter(&|y| format!("{y:.2}"))
                .draw()
                .map_err(|e| err(&e))?;
            let groups = shown.len().max(1) as f64;
            let color = |j: usize| Palette99::pick(j).to_rgba();
            chart
                .draw_series(bars.iter().map(|&(k, j, ratio)| {
                    let x0 = k as f64 + 0.1 + 0.8 * j as f64 / groups;
                    let x1 = x0 + 0.8 / groups * 0.9;
                    Rectangle::new([(x0, lo), (x1, ratio)], color(j).filled())
                }))
                .map_err(|e| err(&e))?;
            // The baseline: 1.0.
            chart
                .draw_series(LineSeries::new(
                    vec![(0.0, 1.0), (n, 1.0)],
                    BLACK.stroke_width(2),
                ))
                .map_err(|e| err(&e))?;
            let font = ("sans-serif", 15).into_font();
            let mut y = 10;
            legend
                .draw(&Text::new(
                    format!("baseline (1.0): {}", self.runner_label(&base)),
                    (20, y),
                    font.clone(),
                ))
                .map_err(|e| err(&e))?;
            for (j, runner) in shown.iter().enumerate() {
                y += 24;
                legend
                    .draw(&Rectangle::new([(20, y), (36, y + 14)], color(j).filled()))
                    .map_err(|e| err(&e))?;
                legend
                    .draw(&Text::new(self.runner_label(runner), (44, y), font.clone()))
                    .map_err(|e| err(&e))?;
            }
            root.present().map_err(|e| err(&e))?;
        }
        Ok(svg)
    }

    fn lines_svg(&self) -> Result<String, String> {
        use plotters::prelude::*;
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let (runners, kernels) = self.runners_and_kernels();
        let cols = 3usize;
        let nrows = kernels.len().div_ceil(cols).max(1);
        let legend_h = 24 * runners.len() as u32 + 20;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (1200, 320 * nrows as u32 + legend_h))
                .into_drawing_area();
            root.fill(&WHITE).map_err(|e| err(&e))?;
            let (legend, grid) = root.split_vertically(legend_h);
            let color = |j: usize| Palette99::pick(j).to_rgba();
            let font = ("sans-serif", 15).into_font();
            for (j, runner) in runners.iter().enumerate() {
                let y = 10 + 24 * j as i32;
                legend
                    .draw(&PathElement::new(
                        vec![(20, y + 7), (44, y + 7)],
                        color(j).stroke_width(3),
                    ))
                    .map_err(|e| err(&e))?;
                legend
                    .draw(&Text::new(self.runner_label(runner), (52, y), font.clone()))
                    .map_err(|e| err(&e))?;
            }
            let panels = grid.split_evenly((nrows, cols));
            for (panel, kernel) in panels.iter().zip(&kernels) {
                // Throughput: GB/s when the kernel's bytes are known, else
                // GFLOP/s, else elements per second.
                let rows: Vec<&Row> = self
                    .rows
                    .iter()
                    .filter(|r| r.kernel == *kernel && r.median().is_some())
                    .collect();
                let (unit, value): (&str, fn(&Row) -> Option<f64>) =
                    if rows.iter().all(|r| r.bytes.is_some()) {
                        ("GB/s", |r: &Row| r.gbps())
                    } else if rows.iter().all(|r| r.flops.is_some()) {
                        ("GFLOP/s", |r: &Row| r.gflops())
                    } else {
                        ("elements/s", |r: &Row| Some(r.n as f64 / r.median()?))
                    };
                let pts = |runner: &str| -> Vec<(f64, f64)> {
                    let mut v: Vec<(f64, f64)> = rows
                        .iter()
                        .filter(|r| r.runner == runner)
                        .filter_map(|r| Some((r.n as f64, value(r)?)))
                        .filter(|p| p.1 > 0.0 && p.1.is_finite())
                        .collect();
                    v.sort_by(|a, b| a.0.total_cmp(&b.0));
                    v
                };
                let all: Vec<(f64, f64)> = runners.iter().flat_map(|r| pts(r)).collect();
                if all.is_empty() {
                    continue;
                }
                let (xmin, xmax) = all
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
                let (ymin, ymax) = all
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
                let mut chart = ChartBuilder::on(panel)
                    .caption(*kernel, ("sans-serif", 18))
                    .margin(8)
                    .x_label_area_size(30)
                    .y_label_area_size(60)
                    .build_cartesian_2d(
                        (xmin / 2.0..xmax * 2.0).log_scale(),
                        (ymin / 2.0..ymax * 2.0).log_scale(),
                    )
                    .map_err(|e| err(&e))?;
                chart
                    .configure_mesh()
                    .x_labels(4)
                    .y_labels(5)
                    .light_line_style(TRANSPARENT)
                    .x_desc("n")
                    .y_desc(unit)
                    .y_label_formatter(&|y| format!("{y:.1e}"))
                    .x_label_formatter(&|x| format!("{x:.0e}"))
                    .draw()
                    .map_err(|e| err(&e))?;
                for (j, runner) in runners.iter().enumerate() {
                    let p = pts(runner);
                    if p.is_empty() {
                        continue;
                    }
                    chart
                        .draw_series(LineSeries::new(p.clone(), color(j).stroke_width(2)))
                        .map_err(|e| err(&e))?;
                    chart
                        .draw_series(p.into_iter().map(|q| Circle::new(q, 3, color(j).filled())))
                        .map_err(|e| err(&e))?;
                }
            }
            root.present().map_err(|e| err(&e))?;
        }
        Ok(svg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let row = |runner: &str, n: u64, t: f64| Row {
            kernel: "saxpy".into(),
            size: if n == 1000 { "S".into() } else { "M".into() },
            n,
            runner: runner.into(),
            device: "Test CPU".into(),
            software: false,
            bytes: Some(12.0 * n as f64),
            flops: Some(2.0 * n as f64),
            outcome: Outcome::Timed {
                compile_s: None,
                median_s: t,
                runs: 3,
                transfer_s: None,
                resident_s: None,
                spread: None,
            },
            folded: false,
        };
        Report {
            machine: Machine {
                cpu: "test".into(),
                threads: 2,
                os: "linux".into(),
                stream_gbps: 10.0,
                devices: vec![],
                device_gbps: vec![],
                cold_compile_s: vec![],
            },
            rows: vec![
                row("rust-rayon", 1000, 1e-6),
                row("cpu", 1000, 2e-6),
                row("rust-rayon", 100000, 1e-4),
                row("cpu", 100000, 1.1e-4),
            ],
        }
    }

    #[test]
    fn table_reports_ratio_to_rayon_and_bandwidth() {
        let t = sample().table();
        assert!(t.contains("2.00x"), "{t}");
        assert!(t.contains("1.10x"), "{t}");
        assert!(t.contains("12.0"), "GB/s of 12e3 bytes in 1 µs:\n{t}");
    }

    #[test]
    fn json_has_machine_and_figures() {
        let j = sample().to_json();
        assert_eq!(j["machine"]["stream_copy_gbps"], 10.0);
        let r = &j["rows"][1];
        assert_eq!(r["runner"], "cpu");
        assert_eq!(r["status"], "ok");
        assert!((r["gbps"].as_f64().unwrap() - 6.0).abs() < 1e-9);
        assert!((r["vs_rust_rayon"].as_f64().unwrap() - 2.0).abs() < 1e-9);
    }

    /// A timed row of size M.
    fn m_row(kernel: &str, runner: &str, t: f64, compile_s: Option<f64>, folded: bool) -> Row {
        Row {
            kernel: kernel.into(),
            size: "M".into(),
            n: 100000,
            runner: runner.into(),
            device: "Test CPU".into(),
            software: false,
            bytes: None,
            flops: None,
            outcome: Outcome::Timed {
                compile_s,
                median_s: t,
                runs: 3,
                transfer_s: None,
                resident_s: None,
                spread: None,
            },
            folded,
        }
    }

    #[test]
    fn summary_takes_geometric_means_per_size_and_the_better_numba() {
        let mut r = sample();
        let timed = |kernel: &str, runner: &str, t: f64| m_row(kernel, runner, t, None, false);
        r.rows.extend([
            timed("saxpy", "numba", 4e-4),
            timed("saxpy", "numba-parallel", 2.2e-4),
            timed("dot", "cpu", 1e-4),
            timed("dot", "numba", 4e-4),
            timed("dot", "numba-parallel", 8e-4),
        ]);
        let s = r.summary();
        let find = |size: &str, against: &str| {
            s.iter()
                .find(|x| x.size == size && x.runner == "cpu" && x.against == against)
                .unwrap_or_else(|| panic!("no {size} cpu vs {against} in {s:?}"))
        };
        assert!((find("S", "rust-rayon").geomean - 2.0).abs() < 1e-12);
        assert!((find("M", "rust-rayon").geomean - 1.1).abs() < 1e-12);
        // saxpy: 1.1e-4 / 2.2e-4 = 0.5; dot: 1e-4 / 4e-4 = 0.25.
        let best = find("M", NUMBA_BEST);
        assert_eq!(best.kernels, 2);
        assert!((best.geomean - (0.5f64 * 0.25).sqrt()).abs() < 1e-12);
        assert!(sample().table().contains("geometric mean"));
        assert_eq!(r.to_json()["summary"].as_array().unwrap().len(), s.len());
    }

    #[test]
    fn summary_leaves_out_folded_kernels_and_reports_compile_times() {
        let mut r = sample();
        r.rows.retain(|row| row.size == "M");
        let timed = m_row;
        assert_eq!(r.rows[1].runner, "cpu");
        r.rows[1].outcome = Outcome::Timed {
            compile_s: Some(1e-3),
            median_s: 1.1e-4,
            runs: 3,
            transfer_s: None,
            resident_s: None,
            spread: None,
        };
        r.rows.extend([
            timed("ssr", "cpu", 1e-2, Some(3e-3), false),
            timed("ssr", "rust-rayon", 1e-4, None, true),
            timed("dot", "cpu", 1e-4, Some(0.5e-3), false),
            timed("dot", "rust-rayon", 2e-4, None, false),
        ]);
        r.machine.cold_compile_s = vec![6e-3, 5e-3, 7e-3];
        let s = r.summary();
        let vs = s.iter().find(|x| x.against == "rust-rayon").unwrap();
        // saxpy 1.1e-4 / 1e-4 and dot 0.5; ssr (100x) left out.
        assert_eq!(vs.kernels, 2);
        assert!((vs.geomean - (1.1f64 * 0.5).sqrt()).abs() < 1e-12);
        assert_eq!(vs.left_out, ["ssr"]);
        let c = r.compile_summary();
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].median_s, c[0].kernels), (1e-3, 3));
        assert_eq!(c[0].max, ("ssr".to_string(), 3e-3));
        let t = r.table();
        assert!(
            t.contains("(ssr left out against rust-rayon: they compute its loop in closed form)"),
            "{t}"
        );
        assert!(t.contains("slowest"), "{t}");
        assert!(t.contains("median over 3"), "{t}");
        let j = r.to_json();
        assert_eq!(j["summary"][0]["left_out"][0], "ssr");
        assert_eq!(j["compile"][0]["slowest_kernel"], "ssr");
        assert_eq!(
            j["machine"]["cold_compile_seconds"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn one_size_draws_bars_relative_to_the_baseline() {
        let mut r = sample();
        r.rows.retain(|row| row.size == "S");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bars.svg");
        r.plot_svg(&path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("time relative to rust-rayon"), "{svg}");
        assert!(svg.contains("baseline (1.0): rust-rayon"), "{svg}");
        assert!(svg.contains("<rect"), "bars are rectangles");
        assert!(svg.contains("cpu — Test CPU"), "legend names the device");
    }

    #[test]
    fn plot_writes_an_svg_with_every_runner() {
        let dir = std::env::temp_dir().join(format!("kiln-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.svg");
        sample().plot_svg(&path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        assert!(svg.contains("rust-rayon") && svg.contains("saxpy"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
