//! Timing primitives: repeats within a budget and a STREAM-style copy that
//! measures the machine's memory bandwidth in the same run as the kernels
//! (medians come from `util::median`).

use crate::util::median;
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// How long to keep repeating a measurement, and the bounds on repeats.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub min_runs: usize,
    pub max_runs: usize,
    pub target: Duration,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            min_runs: 3,
            max_runs: 30,
            target: Duration::from_millis(400),
        }
    }
}

/// Calls `run` once for warm-up and then repeatedly within `budget`; `run`
/// does its own untimed set-up and returns the seconds of its timed part.
pub fn repeat<E>(budget: Budget, mut run: impl FnMut() -> Result<f64, E>) -> Result<Vec<f64>, E> {
    run()?;
    let mut times = Vec::new();
    let started = Instant::now();
    while times.len() < budget.min_runs
        || (times.len() < budget.max_runs && started.elapsed() < budget.target)
    {
        times.push(run()?);
    }
    Ok(times)
}

/// Seconds taken by `f`, and its result.
pub fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let r = f();
    (t.elapsed().as_secs_f64(), r)
}

/// Memory bandwidth in GB/s (bytes read + bytes written per second) of a
/// parallel copy of `bytes` bytes between two f64 buffers, median of runs.
/// Buffers should be well above the last-level cache (e.g. 256 MiB).
pub fn stream_copy_gbps(bytes: usize, budget: Budget) -> f64 {
    let n = (bytes / 8).max(1);
    let src: Vec<f64> = (0..n).into_par_iter().map(|i| i as f64).collect();
    let mut dst = vec![0.0f64; n];
    let chunk = 1 << 16;
    let times = repeat::<()>(budget, || {
        Ok(timed(|| {
            dst.par_chunks_mut(chunk)
                .zip(src.par_chunks(chunk))
                .for_each(|(d, s)| d.copy_from_slice(s))
        })
        .0)
    })
    .unwrap_or_default();
    std::hint::black_box(&dst);
    median(&times).map_or(f64::NAN, |s| 2.0 * (n * 8) as f64 / s / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_respects_min_runs_and_propagates_errors() {
        let b = Budget {
            min_runs: 4,
            max_runs: 4,
            target: Duration::from_secs(10),
        };
        let mut calls = 0;
        let t = repeat::<()>(b, || {
            calls += 1;
            Ok(1.0)
        })
        .unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(calls, 5, "one warm-up plus four timed runs");
        let mut calls = 0;
        let r: Result<Vec<f64>, &str> = repeat(b, || {
            calls += 1;
            if calls == 2 {
                Err("boom")
            } else {
                Ok(1.0)
            }
        });
        assert_eq!(r.unwrap_err(), "boom");
    }

    #[test]
    fn stream_copy_reports_a_positive_bandwidth() {
        let b = Budget {
            min_runs: 2,
            max_runs: 2,
            target: Duration::ZERO,
        };
        let g = stream_copy_gbps(1 << 20, b);
        assert!(g.is_finite() && g > 0.0, "{g}");
    }
}
