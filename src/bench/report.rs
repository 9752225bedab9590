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
        /// Host↔device transfer time per launch where a backend moves data.
        transfer_s: Option<f64>,
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
    /// Work per launch, from the kernel's directives.
    pub bytes: Option<f64>,
    pub flops: Option<f64>,
    pub outcome: Outcome,
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
    /// GPU devices found, one line each.
    pub devices: Vec<String>,
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
        }
    }
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
}

fn time_of(rows: &[&Row], kernel: &str, runner: &str) -> Option<f64> {
    rows.iter()
        .find(|r| r.kernel == kernel && r.runner == runner)
        .and_then(|r| r.median())
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
        let kiln = |runner: &str| Backend::ALL.iter().any(|b| b.name() == runner);
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
            let mut peers: Vec<&str> = runners.iter().copied().filter(|r| !kiln(r)).collect();
            if peers.contains(&"numba") && peers.contains(&"numba-parallel") {
                peers.push(NUMBA_BEST);
            }
            let mut kernels: Vec<&str> = Vec::new();
            for r in &rows {
                if !kernels.contains(&r.kernel.as_str()) {
                    kernels.push(&r.kernel);
                }
            }
            for runner in runners.iter().copied().filter(|r| kiln(r)) {
                for &peer in &peers {
                    let ratios: Vec<f64> = kernels
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
                        });
                    }
                }
            }
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
        let _ = writeln!(
            out,
            "{:<22} {:<4} {:<14} {:>10} {:>10} {:>8} {:>9} {:>6} {:>10}",
            "kernel", "size", "runner", "compile", "median", "GB/s", "GFLOP/s", "%BW", "vs rayon"
        );
        for r in &self.rows {
            let _ = write!(out, "{:<22} {:<4} {:<14} ", r.kernel, r.size, r.runner);
            match &r.outcome {
                Outcome::Timed {
                    compile_s,
                    median_s,
                    ..
                } => {
                    let vs = self
                        .baseline(r)
                        .map(|b| format!("{:.2}x", median_s / b))
                        .unwrap_or_else(|| "-".into());
                    let pct = r.gbps().map(|g| 100.0 * g / m.stream_gbps);
                    let _ = writeln!(
                        out,
                        "{:>10} {:>10} {:>8} {:>9} {:>6} {:>10}",
                        compile_s.map(duration).unwrap_or_else(|| "-".into()),
                        duration(*median_s),
                        opt(r.gbps(), 1),
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
            "(vs rayon: time relative to hand-written Rust + rayon; lower is better)"
        );
        let summary = self.summary();
        if !summary.is_empty() {
            let _ = writeln!(
                out,
                "\ngeometric mean of time ratios (kiln runner / other; below 1 kiln is faster):"
            );
            for s in summary {
                let _ = writeln!(
                    out,
                    "  {:<4} {:<8} vs {:<16} {:>6.2}x  ({} kernels)",
                    s.size, s.runner, s.against, s.geomean, s.kernels
                );
            }
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
                    "bytes": r.bytes, "flops": r.flops,
                });
                let extra = match &r.outcome {
                    Outcome::Timed { compile_s, median_s, runs, transfer_s } => json!({
                        "status": "ok", "compile_seconds": compile_s, "seconds": median_s, "runs": runs,
                        "transfer_seconds": transfer_s, "gbps": r.gbps(), "gflops": r.gflops(),
                        "fraction_of_bandwidth": r.gbps().map(|g| g / m.stream_gbps),
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
            },
            "rows": rows,
            "summary": self.summary().iter().map(|s| json!({
                "size": s.size, "runner": s.runner, "against": s.against,
                "geomean_ratio": s.geomean, "kernels": s.kernels,
            })).collect::<Vec<_>>(),
        })
    }

    /// One panel per kernel: median time against `n` (log-log), one line per
    /// runner, so crossovers between backends are visible.
    pub fn plot_svg(&self, path: &Path) -> Result<(), String> {
        use plotters::prelude::*;
        let mut kernels: Vec<&str> = self.rows.iter().map(|r| r.kernel.as_str()).collect();
        kernels.dedup();
        kernels.sort();
        kernels.dedup();
        let mut runners: Vec<&str> = self.rows.iter().map(|r| r.runner.as_str()).collect();
        runners.sort();
        runners.dedup();
        let cols = 3usize;
        let nrows = kernels.len().div_ceil(cols).max(1);
        // Drawn in memory, then written atomically (`util::write_atomic`).
        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (1200, 320 * nrows as u32)).into_drawing_area();
            let err = |e: &dyn std::fmt::Display| format!("cannot draw {}: {e}", path.display());
            root.fill(&WHITE).map_err(|e| err(&e))?;
            let panels = root.split_evenly((nrows, cols));
            for (panel, kernel) in panels.iter().zip(&kernels) {
                let pts = |runner: &str| -> Vec<(f64, f64)> {
                    let mut v: Vec<(f64, f64)> = self
                        .rows
                        .iter()
                        .filter(|r| r.kernel == *kernel && r.runner == runner)
                        .filter_map(|r| Some((r.n as f64, r.median()?)))
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
                    // Log axes get a label per minor step otherwise.
                    .x_labels(4)
                    .y_labels(5)
                    .light_line_style(TRANSPARENT)
                    .x_desc("n")
                    .y_desc("seconds")
                    .y_label_formatter(&|y| format!("{y:.0e}"))
                    .x_label_formatter(&|x| format!("{x:.0e}"))
                    .draw()
                    .map_err(|e| err(&e))?;
                for (k, runner) in runners.iter().enumerate() {
                    let p = pts(runner);
                    if p.is_empty() {
                        continue;
                    }
                    let color = Palette99::pick(k).to_rgba();
                    chart
                        .draw_series(LineSeries::new(p.clone(), color.stroke_width(2)))
                        .map_err(|e| err(&e))?
                        .label(*runner)
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                        });
                    chart
                        .draw_series(p.into_iter().map(|q| Circle::new(q, 3, color.filled())))
                        .map_err(|e| err(&e))?;
                }
                chart
                    .configure_series_labels()
                    // Time grows with n, so the upper left is usually free.
                    .position(SeriesLabelPosition::UpperLeft)
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()
                    .map_err(|e| err(&e))?;
            }
            root.present().map_err(|e| err(&e))?;
        }
        crate::util::write_atomic(path, svg.as_bytes()).map_err(|e| e.to_string())
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
            bytes: Some(12.0 * n as f64),
            flops: Some(2.0 * n as f64),
            outcome: Outcome::Timed {
                compile_s: None,
                median_s: t,
                runs: 3,
                transfer_s: None,
            },
        };
        Report {
            machine: Machine {
                cpu: "test".into(),
                threads: 2,
                os: "linux".into(),
                stream_gbps: 10.0,
                devices: vec![],
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

    #[test]
    fn summary_takes_geometric_means_per_size_and_the_better_numba() {
        let mut r = sample();
        let timed = |kernel: &str, runner: &str, t: f64| Row {
            kernel: kernel.into(),
            size: "M".into(),
            n: 100000,
            runner: runner.into(),
            bytes: None,
            flops: None,
            outcome: Outcome::Timed {
                compile_s: None,
                median_s: t,
                runs: 3,
                transfer_s: None,
            },
        };
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
