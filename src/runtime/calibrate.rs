//! Per-device figures for the cost model: measured by a short
//! micro-benchmark, corrected by measured launches (`learn`), cached on disk.
//!
//! The cache is `$KILN_CACHE_DIR/calibration.json` (default
//! `~/.cache/kiln/`). Each entry is keyed by what it describes: the
//! placement and the hardware (`cpu-serial|<CPU model>`,
//! `cpu-pool/8|<CPU model>` with the pool size, `wgpu:0|<adapter> <driver>`),
//! so a file copied to another machine, or a pool resized, measures anew.
//! Each entry says how and when it was measured (`calibrated`: the best of
//! several runs of each micro-benchmark, since load only makes a run slower;
//! `refined`: corrected from measured launches; `default`: a guess used until
//! a measurement exists). The file also remembers, per GPU backend, what
//! starting it found (its device, whether `auto` may use it, how long it
//! took), so `auto` need not start a GPU runtime to know it cannot win.
//!
//! Writes are atomic (temporary file + rename) and merged under a lock
//! file with what other processes wrote meanwhile; a write that cannot take
//! the lock is retried later. A corrupt file or one of another version is
//! logged (`KILN_LOG=dispatch`) and measured anew. Throughputs are in the
//! cost model's own units (`cost::estimate` of the calibration kernels), so
//! the model's counting conventions cancel out.

use super::array::AnyArray;
use super::cost;
use super::exec::{self, Placement, Target};
use super::{Arg, Backend, Module};
use crate::error::Result;
use crate::inputs::host::HostArray;
use crate::ir::Value;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The environment variable naming the cache directory.
pub const CACHE_DIR_ENV: &str = "KILN_CACHE_DIR";

/// The file format's version: bumped when the calibration or the cost
/// model changes meaning. A file of another version is measured anew.
pub const VERSION: u64 = 3;

/// Timed runs per micro-benchmark (after a warm-up); the best is kept.
pub const RUNS: u32 = 5;

/// A GPU backend found unusable is not started again under `auto` for
/// this long (`kiln devices` re-checks at once).
const DEVICE_RECORD_TTL_S: u64 = 24 * 3600;

/// Refined figures are written back at most this often.
const WRITE_EVERY: Duration = Duration::from_secs(1);

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

/// How an entry's figures came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A guess: nothing measured yet (never written to the file).
    Default,
    /// The calibration micro-benchmarks, best of [`RUNS`] runs each.
    Calibrated,
    /// Corrected from measured launches under `auto`.
    Refined,
    /// Written by a program or a test ([`write_figures`]).
    Given,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::Calibrated => "calibrated",
            Source::Refined => "refined",
            Source::Given => "given",
        }
    }

    fn parse(s: &str) -> Source {
        match s {
            "calibrated" => Source::Calibrated,
            "refined" => Source::Refined,
            "default" => Source::Default,
            _ => Source::Given,
        }
    }
}

/// One cached entry: the figures, how and when they were measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The figures.
    pub figures: Figures,
    /// How they were measured.
    pub source: Source,
    /// What was done: `best of 5 runs`, `ops/s x0.11 after 3 launches`.
    pub note: String,
    /// When (seconds since the Unix epoch).
    pub when: u64,
    /// Corrections applied by measured launches since the calibration.
    pub corrections: u32,
}

impl Entry {
    fn to_json(&self) -> serde_json::Value {
        let mut v = self.figures.to_json();
        v["how"] = json!(self.source.name());
        v["note"] = json!(self.note);
        v["when"] = json!(self.when);
        v["corrections"] = json!(self.corrections);
        v
    }

    fn from_json(v: &serde_json::Value) -> Option<Entry> {
        Some(Entry {
            figures: Figures::from_json(v)?,
            source: Source::parse(v.get("how").and_then(|h| h.as_str()).unwrap_or("")),
            note: v
                .get("note")
                .and_then(|n| n.as_str())
                .unwrap_or("")
                .to_string(),
            when: v.get("when").and_then(|w| w.as_u64()).unwrap_or(0),
            corrections: v.get("corrections").and_then(|c| c.as_u64()).unwrap_or(0) as u32,
        })
    }

    /// `how` and `when` in words: `calibrated 2026-12-05 18:02 UTC (best of 5 runs)`.
    pub fn provenance(&self) -> String {
        let note = if self.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.note)
        };
        format!("{} {}{note}", self.source.name(), utc(self.when))
    }
}

/// What starting a GPU backend found, remembered so that `auto` can skip
/// one that cannot be used without starting it again.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceRecord {
    /// The figures' key of its device (empty when none was found).
    pub key: String,
    /// Whether `auto` may choose it.
    pub auto: bool,
    /// Why not, when not.
    pub why: String,
    /// Seconds the start took (runtime, adapter, device).
    pub start_s: f64,
    /// When it was checked (seconds since the Unix epoch).
    pub when: u64,
}

impl DeviceRecord {
    fn to_json(&self) -> serde_json::Value {
        json!({"key": self.key, "auto": self.auto, "why": self.why,
               "start_s": self.start_s, "when": self.when})
    }

    fn from_json(v: &serde_json::Value) -> Option<DeviceRecord> {
        Some(DeviceRecord {
            key: v.get("key")?.as_str()?.to_string(),
            auto: v.get("auto")?.as_bool()?,
            why: v.get("why").and_then(|w| w.as_str()).unwrap_or("").into(),
            start_s: v.get("start_s").and_then(|s| s.as_f64()).unwrap_or(0.25),
            when: v.get("when").and_then(|w| w.as_u64()).unwrap_or(0),
        })
    }

    /// Whether the record is recent enough to skip starting the backend.
    pub fn fresh(&self) -> bool {
        now().saturating_sub(self.when) < DEVICE_RECORD_TTL_S
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM UTC` for seconds since the epoch.
pub fn utc(secs: u64) -> String {
    if secs == 0 {
        return "(time unknown)".into();
    }
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// The cache directory (`engine::cache_dir`'s rule), else a folder in the
/// system's temporary directory.
pub fn cache_dir() -> PathBuf {
    crate::engine::cache_dir().unwrap_or_else(|| std::env::temp_dir().join("kiln"))
}

/// The calibration file in `dir`.
pub fn cache_file(dir: &Path) -> PathBuf {
    dir.join("calibration.json")
}

/// One directory's figures in memory.
#[derive(Default)]
struct Store {
    entries: HashMap<String, Entry>,
    devices: HashMap<String, DeviceRecord>,
    /// Keys changed here and not yet written.
    dirty: HashSet<String>,
    dirty_devices: HashSet<String>,
    /// When refined figures were last written (the rate limit counts those
    /// only: calibrations and device records are written at once).
    last_write: Option<Instant>,
    /// Calibrations started (in the background or not) by this process.
    calibrating: HashSet<String>,
}

fn stores() -> &'static Mutex<HashMap<PathBuf, Store>> {
    static T: OnceLock<Mutex<HashMap<PathBuf, Store>>> = OnceLock::new();
    T.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Bumped whenever any figure changes in memory: plans holding a copy of
/// figures refresh it when they see a new value (one atomic load a launch).
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// Whether a writer thread is waiting for the rate limit.
static WRITER: AtomicBool = AtomicBool::new(false);

/// Whether some store has unwritten changes (checked without a lock).
static DIRTY: AtomicBool = AtomicBool::new(false);

/// The current generation of the figures.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

fn bump() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Runs `f` on `dir`'s store, loading the file on first use.
fn with_store<R>(dir: &Path, f: impl FnOnce(&mut Store) -> R) -> R {
    let mut t = stores().lock().unwrap_or_else(|e| e.into_inner());
    let store = t.entry(dir.to_path_buf()).or_insert_with(|| {
        let (entries, devices) = load(dir);
        Store {
            entries,
            devices,
            ..Store::default()
        }
    });
    f(store)
}

type Loaded = (HashMap<String, Entry>, HashMap<String, DeviceRecord>);

/// The file's entries; a missing file is empty, a corrupt one or one of
/// another version is logged and treated as empty (measured anew).
fn load(dir: &Path) -> Loaded {
    let path = cache_file(dir);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Loaded::default();
    };
    match parse(&text) {
        Ok(loaded) => loaded,
        Err(why) => {
            crate::logging::init();
            tracing::warn!(
                target: "kiln::dispatch",
                "{}: {why}; the figures will be measured anew",
                path.display()
            );
            Loaded::default()
        }
    }
}

fn parse(text: &str) -> std::result::Result<Loaded, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e})"))?;
    match v.get("version").and_then(|x| x.as_u64()) {
        Some(VERSION) => {}
        Some(other) => return Err(format!("version {other}, this kiln reads {VERSION}")),
        None => return Err("no version".into()),
    }
    let entries = v
        .get("entries")
        .and_then(|f| f.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), Entry::from_json(v)?)))
                .collect()
        })
        .unwrap_or_default();
    let devices = v
        .get("devices")
        .and_then(|f| f.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), DeviceRecord::from_json(v)?)))
                .collect()
        })
        .unwrap_or_default();
    Ok((entries, devices))
}

fn render(entries: &HashMap<String, Entry>, devices: &HashMap<String, DeviceRecord>) -> String {
    let mut e: Vec<_> = entries
        .iter()
        .filter(|(_, e)| e.source != Source::Default)
        .collect();
    e.sort_by(|a, b| a.0.cmp(b.0));
    let entries: serde_json::Map<String, serde_json::Value> = e
        .into_iter()
        .map(|(k, e)| (k.clone(), e.to_json()))
        .collect();
    let mut d: Vec<_> = devices.iter().collect();
    d.sort_by(|a, b| a.0.cmp(b.0));
    let devices: serde_json::Map<String, serde_json::Value> = d
        .into_iter()
        .map(|(k, r)| (k.clone(), r.to_json()))
        .collect();
    serde_json::to_string_pretty(
        &json!({ "version": VERSION, "entries": entries, "devices": devices }),
    )
    .unwrap_or_default()
}

/// A lock file beside the cache, holding its owner's process id: held
/// while a process merges and writes. One whose owner is gone (a process
/// that exited while a background thread wrote), or older than a few
/// seconds, is taken over.
struct FileLock(PathBuf);

impl FileLock {
    fn take(dir: &Path) -> Option<FileLock> {
        use std::io::Write;
        let path = dir.join("calibration.json.lock");
        for _ in 0..200 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let _ = write!(f, "{}", std::process::id());
                    return Some(FileLock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if FileLock::stale(&path) {
                        let _ = std::fs::remove_file(&path);
                    } else {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                Err(_) => return None,
            }
        }
        None
    }

    fn stale(path: &Path) -> bool {
        let old = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(5));
        let owner_gone = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            .is_some_and(|pid| {
                Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{pid}")).exists()
            });
        old || owner_gone
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes `dir`'s unwritten changes: under the lock file, the file as it is
/// now (other processes' entries kept) with this process's changed entries
/// over it, renamed into place. `force`: now, on this thread; otherwise a
/// writer thread does it once [`WRITE_EVERY`] has passed since the last
/// write. Failing to write only costs a later measurement.
fn flush_dir(dir: &Path, force: bool) {
    // One write at a time in this process, so that a `flush` that finds
    // nothing left to write returns after the writer thread's write.
    static WRITING: Mutex<()> = Mutex::new(());
    let _writing = force.then(|| WRITING.lock().unwrap_or_else(|e| e.into_inner()));
    let (entries, devices) = {
        let mut t = stores().lock().unwrap_or_else(|e| e.into_inner());
        let Some(s) = t.get_mut(dir) else { return };
        if s.dirty.is_empty() && s.dirty_devices.is_empty() {
            return;
        }
        if !force {
            // Never on the launching thread (a write takes a lock, reads,
            // parses and renames: milliseconds): a writer thread writes it,
            // once the rate limit allows.
            DIRTY.store(true, Ordering::Release);
            let wait = s
                .last_write
                .map_or(Duration::ZERO, |w| WRITE_EVERY.saturating_sub(w.elapsed()));
            let dir = dir.to_path_buf();
            if !WRITER.swap(true, Ordering::AcqRel) {
                let spawned = std::thread::Builder::new()
                    .name("kiln-calibration-writer".into())
                    .spawn(move || {
                        std::thread::sleep(wait);
                        WRITER.store(false, Ordering::Release);
                        flush_dir(&dir, true);
                    });
                if spawned.is_err() {
                    WRITER.store(false, Ordering::Release);
                }
            }
            return;
        }
        s.last_write = Some(Instant::now());
        let e: HashMap<String, Entry> = s
            .dirty
            .drain()
            .filter_map(|k| Some((k.clone(), s.entries.get(&k)?.clone())))
            .collect();
        let d: HashMap<String, DeviceRecord> = s
            .dirty_devices
            .drain()
            .filter_map(|k| Some((k.clone(), s.devices.get(&k)?.clone())))
            .collect();
        (e, d)
    };
    let written = (|| {
        std::fs::create_dir_all(dir).ok()?;
        let _lock = FileLock::take(dir)?;
        let (mut all, mut all_devices) = std::fs::read_to_string(cache_file(dir))
            .ok()
            .and_then(|t| parse(&t).ok())
            .unwrap_or_default();
        all.extend(entries.iter().map(|(k, v)| (k.clone(), v.clone())));
        all_devices.extend(devices.iter().map(|(k, v)| (k.clone(), v.clone())));
        crate::util::write_atomic(cache_file(dir), render(&all, &all_devices).as_bytes()).ok()
    })();
    if written.is_none() {
        // Keep them for the next try.
        with_store(dir, |s| {
            s.dirty.extend(entries.into_keys());
            s.dirty_devices.extend(devices.into_keys());
        });
        DIRTY.store(true, Ordering::Release);
    }
}

/// Writes every directory's pending changes when the rate limit allows:
/// one atomic load when there are none (called after measured launches).
pub(crate) fn maybe_flush() {
    // A writer thread already waiting writes its store; the others are
    // looked at once it is done (`DIRTY` stays set).
    if !DIRTY.load(Ordering::Acquire) || WRITER.load(Ordering::Acquire) {
        return;
    }
    DIRTY.store(false, Ordering::Release);
    flush_all(false);
}

/// `flush_dir` on every cache directory this process has used.
fn flush_all(force: bool) {
    let dirs: Vec<PathBuf> = stores()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .cloned()
        .collect();
    for d in dirs {
        flush_dir(&d, force);
    }
}

/// Writes `dir`'s pending changes now (ignoring the rate limit).
pub fn flush(dir: &Path) {
    flush_dir(dir, true);
}

/// Writes every cache's pending changes now: what a program calls before
/// it exits so that figures refined in its last second are kept (the
/// writer thread may not have run yet). `kiln` does so on every command.
pub fn flush_pending() {
    flush_all(true);
}

/// The CPU's model name (`/proc/cpuinfo`), else the architecture; read once.
pub fn cpu_model() -> &'static str {
    static MODEL: OnceLock<String> = OnceLock::new();
    MODEL.get_or_init(|| {
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name") || l.starts_with("Model"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| std::env::consts::ARCH.to_string())
    })
}

/// The cache key of a built-in CPU placement (`cpu-pool/8|<CPU model>`);
/// `None` for a GPU (its key names its device: [`key`]).
pub fn cpu_key(place: Placement) -> Option<String> {
    let name = match place {
        Placement::CpuPool | Placement::Cpu => format!("cpu-pool/{}", cpu_threads()),
        Placement::CpuSerial => "cpu-serial".to_string(),
        Placement::Interp => "interp".to_string(),
        Placement::Gpu(_) => return None,
    };
    Some(format!("{name}|{}", cpu_model()))
}

/// The cache key of a target: its placement and the hardware it runs on.
pub(crate) fn key(target: &Target) -> String {
    cpu_key(target.place)
        .unwrap_or_else(|| format!("{}|{}", target.engine.device(), target.engine.describe()))
}

/// The entry for `k` in `dir`, if one is known (no measuring).
pub fn entry(dir: &Path, k: &str) -> Option<Entry> {
    with_store(dir, |s| s.entries.get(k).cloned())
}

/// Figures already known for cache key `k` (no measuring).
pub fn cached(dir: &Path, k: &str) -> Option<Figures> {
    entry(dir, k).map(|e| e.figures)
}

/// Every entry in `dir`'s file, sorted by key (for `kiln devices`).
pub fn cached_all(dir: &Path) -> Vec<(String, Entry)> {
    let mut v: Vec<(String, Entry)> = load(dir).0.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Writes `figures` for the given keys into `dir`'s file (source `given`),
/// replacing what was there, and drops this process's copy of `dir`: what a
/// test or a tool plants.
pub fn write_figures(dir: &Path, figures: &[(String, Figures)]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| crate::util::WriteError::new(dir, e))?;
    let entries: HashMap<String, Entry> = figures
        .iter()
        .map(|(k, f)| {
            (
                k.clone(),
                Entry {
                    figures: *f,
                    source: Source::Given,
                    note: String::new(),
                    when: now(),
                    corrections: 0,
                },
            )
        })
        .collect();
    crate::util::write_atomic(
        cache_file(dir),
        render(&entries, &HashMap::new()).as_bytes(),
    )?;
    forget(dir);
    Ok(())
}

/// The figures for `target` in `dir`: the cached entry, else defaults while
/// a calibration runs in the background (`background`) or now. A failed
/// measurement keeps the defaults: the choice degrades, the launch runs.
pub(crate) fn figures_for(dir: &Path, target: &Target, background: bool) -> (Figures, Source) {
    let k = key(target);
    let start = with_store(dir, |s| match s.entries.get(&k) {
        Some(e) => Err((e.figures, e.source)),
        None => Ok(s.calibrating.insert(k.clone())),
    });
    let first = match start {
        Err(known) => return known,
        Ok(first) => first,
    };
    if first {
        if background {
            let (dir, target, k) = (dir.to_path_buf(), target.clone(), k.clone());
            let place = target.place;
            let spawned = std::thread::Builder::new()
                .name("kiln-calibrate".into())
                .spawn(move || calibrate_into(&dir, &target, &k));
            if spawned.is_ok() {
                return (defaults(place), Source::Default);
            }
        }
        calibrate_into(dir, target, &k);
        if let Some(e) = entry(dir, &k) {
            return (e.figures, e.source);
        }
    }
    (defaults(target.place), Source::Default)
}

/// Measures `target` and stores the result under `k` (written at once).
fn calibrate_into(dir: &Path, target: &Target, k: &str) {
    let t = Instant::now();
    let measured = measure(target);
    let entry = match measured {
        Ok(f) => Entry {
            figures: f,
            source: Source::Calibrated,
            note: format!(
                "best of {RUNS} runs, {:.0} ms",
                t.elapsed().as_secs_f64() * 1e3
            ),
            when: now(),
            corrections: 0,
        },
        Err(e) => {
            crate::logging::init();
            tracing::warn!(target: "kiln::dispatch", "calibrating {k} failed: {e}");
            with_store(dir, |s| s.calibrating.remove(k));
            return;
        }
    };
    crate::logging::init();
    tracing::info!(
        target: "kiln::dispatch",
        "calibrated {k}: {}",
        describe_figures(&entry.figures)
    );
    with_store(dir, |s| {
        s.entries.insert(k.to_string(), entry);
        s.dirty.insert(k.to_string());
        s.calibrating.remove(k);
    });
    bump();
    flush(dir);
}

/// The figures in one line (logs).
pub fn describe_figures(f: &Figures) -> String {
    format!(
        "overhead {}, {:.3e} ops/s, {:.3e} lane ops/s, {:.3e} B/s, copies {:.3e} B/s",
        crate::util::duration(f.overhead_s),
        f.ops_per_s,
        f.lane_ops_per_s,
        f.bytes_per_s,
        f.transfer_bytes_per_s
    )
}

/// Replaces the figures of `k` by corrected ones from measured launches
/// (`note` says what changed); written back within [`WRITE_EVERY`].
pub(crate) fn correct(dir: &Path, k: &str, figures: Figures, note: String) {
    with_store(dir, |s| {
        let corrections = s.entries.get(k).map(|e| e.corrections).unwrap_or(0) + 1;
        s.entries.insert(
            k.to_string(),
            Entry {
                figures,
                source: Source::Refined,
                note,
                when: now(),
                corrections,
            },
        );
        s.dirty.insert(k.to_string());
    });
    bump();
    DIRTY.store(true, Ordering::Release);
    maybe_flush();
}

/// What the last start of `backend` found (from this process or the file).
pub fn device_record(dir: &Path, backend: Backend) -> Option<DeviceRecord> {
    with_store(dir, |s| s.devices.get(backend.name()).cloned())
}

/// Remembers what starting `backend` found (written at once).
pub(crate) fn set_device_record(dir: &Path, backend: Backend, record: DeviceRecord) {
    let changed = with_store(dir, |s| {
        let old = s.devices.get(backend.name());
        let same = old.is_some_and(|o| {
            o.key == record.key && o.auto == record.auto && o.why == record.why && o.fresh()
        });
        if !same {
            s.devices.insert(backend.name().to_string(), record);
            s.dirty_devices.insert(backend.name().to_string());
        }
        !same
    });
    if changed {
        flush(dir);
    }
}

/// Records what a start of `backend` found (`kiln devices`): `key` of its
/// device's figures, whether `auto` may use it and why not.
pub fn remember_device(dir: &Path, backend: Backend, key: String, auto: bool, why: String) {
    let start_s = device_record(dir, backend)
        .map(|r| r.start_s)
        .unwrap_or(0.25);
    set_device_record(
        dir,
        backend,
        DeviceRecord {
            key,
            auto,
            why,
            start_s,
            when: now(),
        },
    );
}

/// Guesses used until a measurement exists.
pub fn defaults(place: Placement) -> Figures {
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

/// The best of [`RUNS`] timed runs of `f` (after one warm-up), in seconds:
/// load only makes a run slower, so the fastest is the machine's figure.
fn best_of(mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let mut best = f64::INFINITY;
    for _ in 0..RUNS {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn measure(target: &Target) -> Result<Figures> {
    // One calibration at a time: two measuring at once slow each other.
    static ONE: Mutex<()> = Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
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
pub fn forget(dir: &Path) {
    stores()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(dir);
    bump();
}

/// The target of a built-in placement on the calibration module.
fn builtin_target(place: Placement) -> Result<Target> {
    let engine = super::engine(place.backend())?;
    // Any kernel compiles for the key; the calibration compiles its own.
    let module = Module::from_source("<calibration>", SOURCE)?;
    let k = module.kernel("cal_stream")?;
    let compiled = engine.compile(module.ir(), k.id())?;
    Ok(Target {
        place,
        engine,
        compiled,
    })
}

/// The entry of a built-in placement, from the cache in `dir` or measured
/// now and saved there (what `kiln devices` shows); `fresh`: measured now
/// whatever the cache holds (`kiln devices --recalibrate`).
pub fn calibrate_in(dir: &Path, place: Placement) -> Result<(String, Figures)> {
    calibrate_entry(dir, place, false).map(|(k, e)| (k, e.figures))
}

/// Like [`calibrate_in`], with the entry's provenance; `fresh` re-measures.
pub fn calibrate_entry(dir: &Path, place: Placement, fresh: bool) -> Result<(String, Entry)> {
    let target = builtin_target(place)?;
    let k = key(&target);
    if fresh {
        with_store(dir, |s| {
            s.entries.remove(&k);
        });
    }
    if let Some(e) = entry(dir, &k).filter(|e| e.source != Source::Default) {
        return Ok((k, e));
    }
    let t = Instant::now();
    let f = measure(&target)?;
    let e = Entry {
        figures: f,
        source: Source::Calibrated,
        note: format!(
            "best of {RUNS} runs, {:.0} ms",
            t.elapsed().as_secs_f64() * 1e3
        ),
        when: now(),
        corrections: 0,
    };
    with_store(dir, |s| {
        s.entries.insert(k.clone(), e.clone());
        s.dirty.insert(k.clone());
    });
    bump();
    flush(dir);
    Ok((k, e))
}

/// The CPU pool's size (part of the pool's figures' key); 1 in a build
/// without the CPU backend.
fn cpu_threads() -> usize {
    #[cfg(feature = "cpu")]
    return crate::cpu::num_threads();
    #[cfg(not(feature = "cpu"))]
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_in_utc() {
        assert_eq!(utc(0), "(time unknown)");
        assert_eq!(utc(86_400 * 365), "1971-01-01 00:00 UTC");
        assert_eq!(utc(1_764_958_320), "2025-12-05 18:12 UTC");
    }

    #[test]
    fn corrupt_and_foreign_files_are_refused_with_a_reason() {
        assert!(parse("{not json").unwrap_err().contains("JSON"));
        assert!(parse(r#"{"version": 2, "figures": {}}"#)
            .unwrap_err()
            .contains("version 2"));
        assert!(parse("[]").unwrap_err().contains("no version"));
        let (e, d) = parse(r#"{"version": 3, "entries": {"a": {"overhead_s": "x"}}}"#).unwrap();
        assert!(e.is_empty() && d.is_empty());
    }

    #[test]
    fn entries_round_trip_through_the_file_format() {
        let mut entries = HashMap::new();
        entries.insert(
            "cpu-serial|x".to_string(),
            Entry {
                figures: defaults(Placement::CpuSerial),
                source: Source::Refined,
                note: "ops/s x0.5".into(),
                when: 1_700_000_000,
                corrections: 2,
            },
        );
        let mut devices = HashMap::new();
        devices.insert(
            "wgpu".to_string(),
            DeviceRecord {
                key: "wgpu:0|llvmpipe".into(),
                auto: false,
                why: "software adapter".into(),
                start_s: 0.06,
                when: 1_700_000_000,
            },
        );
        let (e, d) = parse(&render(&entries, &devices)).unwrap();
        assert_eq!(e, entries);
        assert_eq!(d, devices);
    }
}
