//! Per-device figures for the cost model, measured by a short
//! micro-benchmark on first use and cached on disk.
//!
//! The cache is `$KILN_CACHE_DIR/calibration.json` (default
//! `~/.cache/kiln/`), one entry per placement (`cpu-serial`,
//! `cpu-pool/8` with the pool size, `interp`, `wgpu:0`, ...), written
//! atomically (temporary file + rename). Throughputs are measured in the
//! cost model's own units (`cost::estimate` of the calibration kernels), so
//! the model's counting conventions cancel out.

use super::array::AnyArray;
use super::cost;
use super::exec::{self, Placement, Target};
use super::{Arg, Module};
use crate::error::Result;
use crate::inputs::host::HostArray;
use crate::ir::Value;
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// The environment variable naming the cache directory.
pub const CACHE_DIR_ENV: &str = "KILN_CACHE_DIR";

/// Bumped when the calibration or the cost model changes meaning.
const VERSION: u64 = 2;

/// One placement's measured figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    /// Seconds for a launch that does nothing.
    pub overhead_s: f64,
    /// Cost-model operations per second in parallel loops (all lanes).
    pub ops_per_s: f64,
    /// Cost-model operations per second on the serial path (one lane).
    pub lane_ops_per_s: f64,
    /// Bytes of array traffic per second.
    pub bytes_per_s: f64,
    /// Host <-> device copy speed in bytes per second (0: host memory).
    pub transfer_bytes_per_s: f64,
}

impl Figures {
    fn to_json(self) -> serde_json::Value {
        json!({
            "overhead_s": self.overhead_s,
            "ops_per_s": self.ops_per_s,
            "lane_ops_per_s": self.lane_ops_per_s,
            "bytes_per_s": self.bytes_per_s,
            "transfer_bytes_per_s": self.transfer_bytes_per_s,
        })
    }

    fn from_json(v: &serde_json::Value) -> Option<Figures> {
        let f = |k: &str| v.get(k)?.as_f64().filter(|x| x.is_finite() && *x >= 0.0);
        Some(Figures {
            overhead_s: f("overhead_s")?,
            ops_per_s: f("ops_per_s")?.max(1.0),
            lane_ops_per_s: f("lane_ops_per_s")?.max(1.0),
            bytes_per_s: f("bytes_per_s")?.max(1.0),
            transfer_bytes_per_s: f("transfer_bytes_per_s")?,
        })
    }
}

/// The cache directory (`engine::cache_dir`'s rule), else a folder in the
/// system's temporary directory.
pub fn cache_dir() -> PathBuf {
    crate::engine::cache_dir().unwrap_or_else(|| std::env::temp_dir().join("kiln"))
}

/// The calibration file in `dir`.
pub fn cache_file(dir: &std::path::Path) -> PathBuf {
    dir.join("calibration.json")
}

/// Figures per cache key, loaded from disk once per directory.
type Table = HashMap<String, Figures>;

fn tables() -> &'static Mutex<HashMap<PathBuf, Table>> {
    static T: OnceLock<Mutex<HashMap<PathBuf, Table>>> = OnceLock::new();
    T.get_or_init(|| Mutex::new(HashMap::new()))
}

fn load(dir: &std::path::Path) -> Table {
    let Ok(text) = std::fs::read_to_string(cache_file(dir)) else {
        return Table::new();
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Table::new();
    };
    if v.get("version").and_then(|x| x.as_u64()) != Some(VERSION) {
        return Table::new();
    }
    v.get("figures")
        .and_then(|f| f.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), Figures::from_json(v)?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Writes `table` atomically (`util::write_atomic`): a reader sees the old
/// file or the new one.
fn save(dir: &std::path::Path, table: &Table) -> std::result::Result<(), crate::util::WriteError> {
    std::fs::create_dir_all(dir).map_err(|e| crate::util::WriteError::new(dir, e))?;
    let figures: serde_json::Map<String, serde_json::Value> = table
        .iter()
        .map(|(k, f)| (k.clone(), f.to_json()))
        .collect();
    let text = serde_json::to_string_pretty(&json!({ "version": VERSION, "figures": figures }))
        .unwrap_or_default();
    crate::util::write_atomic(cache_file(dir), text.as_bytes())
}

/// The cache key of a target: the pool size matters to the pool's figures.
pub(crate) fn key(target: &Target) -> String {
    match target.place {
        Placement::CpuPool | Placement::Cpu => {
            format!("cpu-pool/{}", cpu_threads())
        }
        Placement::Gpu(_) => target.engine.device().to_string(),
        p => p.name().to_string(),
    }
}

/// Figures for `target`, from the cache in `dir` or measured now (and then
/// saved). A failed measurement yields conservative defaults, not an error:
/// the choice degrades, the launch still runs.
pub(crate) fn figures_in(dir: &std::path::Path, target: &Target) -> Figures {
    let k = key(target);
    {
        let mut t = tables().lock().unwrap_or_else(|e| e.into_inner());
        let table = t.entry(dir.to_path_buf()).or_insert_with(|| load(dir));
        if let Some(f) = table.get(&k) {
            return *f;
        }
    }
    // Measured outside the lock: calibration launches kernels.
    let measured = measure(target).unwrap_or_else(|_| defaults(target.place));
    let mut t = tables().lock().unwrap_or_else(|e| e.into_inner());
    let table = t.entry(dir.to_path_buf()).or_insert_with(|| load(dir));
    // Another thread may have measured meanwhile; keep the first.
    let f = *table.entry(k).or_insert(measured);
    // The disk copy is a cache: failing to write it only costs a re-run.
    let mut merged = load(dir);
    merged.extend(table.iter().map(|(k, v)| (k.clone(), *v)));
    let _ = save(dir, &merged);
    f
}

pub(crate) fn figures(target: &Target) -> Figures {
    figures_in(&cache_dir(), target)
}

/// Figures already known for cache key `k` (no measuring).
pub fn cached(dir: &std::path::Path, k: &str) -> Option<Figures> {
    let mut t = tables().lock().unwrap_or_else(|e| e.into_inner());
    t.entry(dir.to_path_buf())
        .or_insert_with(|| load(dir))
        .get(k)
        .copied()
}

/// Every cached entry in `dir` (for `kiln devices`).
pub fn cached_all(dir: &std::path::Path) -> Vec<(String, Figures)> {
    let mut v: Vec<(String, Figures)> = load(dir).into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Guesses used when measuring fails.
fn defaults(place: Placement) -> Figures {
    let (overhead_s, ops, bw, xfer) = match place {
        Placement::CpuSerial => (2e-6, 1e9, 5e9, 0.0),
        Placement::CpuPool | Placement::Cpu => (30e-6, 4e9, 15e9, 0.0),
        Placement::Interp => (5e-6, 2e7, 2e8, 0.0),
        Placement::Gpu(_) => (50e-6, 1e11, 2e11, 5e9),
    };
    Figures {
        overhead_s,
        ops_per_s: ops,
        lane_ops_per_s: if matches!(place, Placement::Gpu(_)) {
            1e8
        } else {
            ops
        },
        bytes_per_s: bw,
        transfer_bytes_per_s: xfer,
    }
}

const SOURCE: &str = r#"
kernel cal_compute(n: i64, out: mut f64[:]) {
    for i in prange(0..out.len()) {
        let mut a = 1.0;
        let mut b = 2.0;
        let mut c = 3.0;
        let mut d = 4.0;
        for k in 0..n {
            a = a * 0.999 + 1.0;
            b = b * 0.999 + 1.0;
            c = c * 0.999 + 1.0;
            d = d * 0.999 + 1.0;
        }
        out[i] = a + b + c + d;
    }
}

kernel cal_stream(x: f64[:], y: mut f64[:]) {
    for i in prange(0..y.len()) {
        y[i] = 2.0 * x[i] + y[i];
    }
}

kernel cal_serial(n: i64, out: mut f64[:]) {
    let mut a = 1.0;
    for k in 0..n {
        a = a * 0.999 + 1.0;
    }
    out[0] = a;
}
"#;

/// Sizes of one calibration run: compute lanes, inner trips, a big and a
/// mid stream length, serial trips, transfer bytes.
struct Plan {
    lanes: usize,
    trips: i64,
    stream: usize,
    stream_mid: usize,
    serial_trips: i64,
    transfer: usize,
}

fn plan(place: Placement) -> Plan {
    match place {
        Placement::CpuSerial => Plan {
            lanes: 16,
            trips: 20_000,
            stream: 1 << 20,
            stream_mid: 1,
            serial_trips: 100_000,
            transfer: 0,
        },
        Placement::CpuPool | Placement::Cpu => Plan {
            lanes: 256,
            trips: 5_000,
            stream: 1 << 21,
            stream_mid: 1 << 16,
            serial_trips: 100_000,
            transfer: 0,
        },
        Placement::Interp => Plan {
            lanes: 4,
            trips: 2_000,
            stream: 1 << 14,
            stream_mid: 1,
            serial_trips: 4_000,
            transfer: 0,
        },
        Placement::Gpu(_) => Plan {
            lanes: 1 << 16,
            trips: 256,
            stream: 1 << 22,
            stream_mid: 1,
            serial_trips: 20_000,
            transfer: 1 << 22,
        },
    }
}

/// The best of three timed runs of `f` (after one warm-up), in seconds.
fn best_of(mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn measure(target: &Target) -> Result<Figures> {
    let module = Module::from_source("<calibration>", SOURCE)?;
    let p = plan(target.place);
    // The calibration kernels run on the same engine and placement.
    let compile = |name: &str| -> Result<(Target, crate::ir::FuncId)> {
        let k = module.kernel(name)?;
        let compiled = target.engine.compile(module.ir(), k.id())?;
        Ok((
            Target {
                place: target.place,
                engine: target.engine.clone(),
                compiled,
            },
            k.id(),
        ))
    };
    let arr = |n: usize, v: f64| AnyArray::from_host(HostArray::from_vec_1d(vec![v; n]));
    let timed = |t: &Target, args: &mut Vec<Arg>| best_of(|| exec::run(t, args, None).map(|_| ()));
    let ops_of = |id, args: &[Arg]| cost::estimate(module.ir(), id, args);

    // Overhead: the smallest stream.
    let (stream, sid) = compile("cal_stream")?;
    let (x1, mut y1) = (arr(1, 1.0), arr(1, 0.0));
    let overhead_s = timed(&stream, &mut vec![x1.arg(), y1.arg_mut()])?;

    // Parallel throughput: many lanes of a dependent multiply-add chain.
    let (compute, cid) = compile("cal_compute")?;
    let mut out = arr(p.lanes, 0.0);
    let mut args = vec![Arg::Scalar(Value::I64(p.trips)), out.arg_mut()];
    let t = timed(&compute, &mut args)?;
    let w = ops_of(cid, &args);
    drop(args);
    let ops_per_s = w.total_ops() / (t - overhead_s).max(1e-9);

    // One lane: the same chain outside any prange.
    let (serial, lid) = compile("cal_serial")?;
    let mut one = arr(1, 0.0);
    let mut args = vec![Arg::Scalar(Value::I64(p.serial_trips)), one.arg_mut()];
    let t = timed(&serial, &mut args)?;
    let w = ops_of(lid, &args);
    drop(args);
    let lane_ops_per_s = w.total_ops() / (t - overhead_s).max(1e-9);

    // Bandwidth: a big stream, less its arithmetic.
    let (x, mut y) = (arr(p.stream, 1.0), arr(p.stream, 0.0));
    let mut args = vec![x.arg(), y.arg_mut()];
    let t = timed(&stream, &mut args)?;
    let w = ops_of(sid, &args);
    drop(args);
    // Streams are memory-bound: the model takes the larger of the compute
    // and the memory time (a roofline), so all of it is memory time.
    let bytes_per_s = w.bytes / (t - overhead_s).max(1e-9);

    // The pool's real overhead shows at a length that wakes it.
    let overhead_s = if p.stream_mid > 1 {
        let (x, mut y) = (arr(p.stream_mid, 1.0), arr(p.stream_mid, 0.0));
        let mut args = vec![x.arg(), y.arg_mut()];
        let t = timed(&stream, &mut args)?;
        let w = ops_of(sid, &args);
        (t - (w.par_ops / ops_per_s).max(w.bytes / bytes_per_s)).max(overhead_s)
    } else {
        overhead_s
    };

    // Copies: a buffer up and down.
    let transfer_bytes_per_s = if p.transfer > 0 && target.engine.has_device_memory() {
        let h = HostArray::from_vec_1d(vec![0.0f64; p.transfer / 8]);
        let mut back = h.clone();
        let data = super::array::host_data(h.data());
        let e = &target.engine;
        let t = best_of(|| {
            let b = e.upload(&data)?;
            let mut dst = back.as_arg_mut();
            if let Arg::ArrayMut { data, .. } = &mut dst {
                e.download(&b, data)?;
            }
            Ok(())
        })?;
        2.0 * p.transfer as f64 / t.max(1e-9)
    } else {
        0.0
    };
    Ok(Figures {
        overhead_s,
        ops_per_s,
        lane_ops_per_s,
        bytes_per_s,
        transfer_bytes_per_s,
    })
}

/// Clears the in-memory copy of `dir`'s figures (tests: force a reload).
pub fn forget(dir: &std::path::Path) {
    tables()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(dir);
}

/// The figures of a built-in placement, from the cache in `dir` or
/// measured now and saved there (what `kiln devices` shows).
pub fn calibrate_in(dir: &std::path::Path, place: Placement) -> Result<(String, Figures)> {
    let engine = super::engine(place.backend())?;
    // Any kernel compiles for the key; the calibration compiles its own.
    let module = Module::from_source("<calibration>", SOURCE)?;
    let k = module.kernel("cal_stream")?;
    let compiled = engine.compile(module.ir(), k.id())?;
    let target = Target {
        place,
        engine,
        compiled,
    };
    Ok((key(&target), figures_in(dir, &target)))
}

/// The CPU pool's size (part of the pool's figures' key); 1 in a build
/// without the CPU backend.
fn cpu_threads() -> usize {
    #[cfg(feature = "cpu")]
    return crate::cpu::num_threads();
    #[cfg(not(feature = "cpu"))]
    1
}
