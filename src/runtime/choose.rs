//! Device choice for `Backend::Auto`: predict each candidate placement's
//! time from the launch's work (`cost`), the bytes that would move given
//! where each argument is now, and the placement's figures (`calibrate`);
//! pick the fastest; learn from the measured time.
//!
//! - **Lazy GPUs.** A plan starts with the CPU's placements only. A GPU
//!   runtime is considered only for launches large enough that a GPU could
//!   win (an optimistic bound: its dispatch floor and the copies the launch
//!   needs, or its cached figures made 8x faster), never for the tiny
//!   launches a CPU always wins; it is started (on the launching thread)
//!   once the time it could have saved on such launches pays for its start
//!   (ski rental: at most twice the cost of knowing in advance). No GPU
//!   runtime starts on a background thread: one still starting when the
//!   process exits can crash the driver's teardown. A GPU whose last start
//!   found it unusable by `auto` (absent, a software adapter) is not started
//!   again for a day (`calibrate::DeviceRecord`).
//! - **Calibration never blocks a small launch.** Tiny launches need no
//!   figures (they run on the calling thread); a launch that needs figures
//!   the cache lacks uses defaults while they are measured in the
//!   background.
//! - **Online refinement.** Every launch that is not tiny compares its
//!   measured time with its prediction: per kernel, placement and size
//!   class, the lower quartile of the recent measured times (`Arm`)
//!   replaces the model's prediction, and when a placement's
//!   figures disagree beyond the noise (3 launches in a row more than 2x off
//!   in the same direction, the same term of the model dominating) the
//!   figure is corrected and written back to the cache (`calibrate::correct`).
//! - **Exploration.** A placement not chosen is re-tried on the second
//!   launch of a size class when predicted within 32x of the best, then
//!   after ever longer gaps: each re-try waits at least (its predicted cost
//!   over the best) / 2% launches and twice the previous gap, so exploring
//!   costs at most 2% over many launches and a wrong belief cannot lock a
//!   placement out. A placement switched to runs cold (workers asleep), so
//!   an exploration that ends close to the best is repeated soon for twice
//!   as long (`record`), and a switch's first launch is not a sample.
//!
//! A tiny launch's choice (the fast path, which reads no figures) is cached
//! per kernel by a signature of its arguments (`FastCache`), so repeating it
//! costs a hash instead of an estimate. `KILN_LOG=dispatch` prints each
//! choice with its predictions, each measured time and each correction.

use super::args::Arg;
use super::calibrate::{self, Figures, Source};
use super::cost::Work;
use super::exec::{Placement, Target};
use super::Backend;
use crate::error::Result;
use crate::util::duration;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// A light `prange` (no inner loop) shorter than this runs on the calling
/// thread even on the pool (the CPU engine's own rule, `LIGHT_SERIAL_BELOW`).
const CPU_LIGHT_SERIAL_BELOW: f64 = 32.0 * 1024.0;

/// Launches predicted shorter than this never measure an alternative (the
/// fast path's bound: below it the bookkeeping is a visible share).
const EXPLORE_ABOVE: f64 = 5e-6;

/// Launches shorter than this feel a placement switch (a pool whose
/// workers slept, caches another placement filled): they explore in
/// streaks and take a few samples, judged by the fastest. Longer ones
/// measure the calling thread (`cpu-serial`) in one launch, where the
/// switch is lost in the noise and an extra slow launch is what exploring
/// costs; other threads still get a streak (on the development VM a pool
/// whose cores idled for a 60 ms serial launch ran 1.8x slower once).
const WARM_MATTERS_BELOW: f64 = 1e-3;

/// Launches the model puts below this run on the calling thread without
/// corrections (see `choose`).
const FAST_PATH_BELOW: f64 = 5e-6;

/// Launches of more work units than this always learn, whatever the
/// figures predict: no CPU does 1e6 units (operations plus bytes) in the
/// fast path's 5 us (2e11 a second), so figures that say so are wrong and
/// must be measured.
const FAST_PATH_MAX_UNITS: f64 = 1e6;

/// A sample faster than the model by this factor, or an exploration
/// slower than the best by less, is confirmed by more samples soon
/// (`record`).
const DOUBT: f64 = 1.5;

/// Exploration may cost this fraction of the launches of a size class.
pub const EXPLORE_BUDGET: f64 = 0.02;

/// Candidates predicted slower than this many times the best are not
/// explored (a GPU whose copies alone take 100 launches).
const EXPLORE_WITHIN: f64 = 32.0;

/// Disagreement beyond which a placement's figures are corrected, and the
/// launches in a row that must show it.
const DISAGREE: f64 = 2.0;
const DISAGREE_RUNS: usize = 3;

/// The optimistic floor of any GPU: seconds per dispatch and copy speed.
const GPU_FLOOR_DISPATCH_S: f64 = 5e-6;
const GPU_FLOOR_COPY_BYTES_PER_S: f64 = 32e9;

/// Seconds assumed to start a GPU runtime never started here before.
const GPU_START_GUESS_S: f64 = 0.3;

/// One candidate's prediction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// The candidate.
    pub place: Placement,
    /// Seconds from the model alone.
    pub model_s: f64,
    /// Seconds after the measured correction.
    pub predicted_s: f64,
    /// Seconds of copies included in the prediction.
    pub transfer_s: f64,
}

/// What `Auto` chose for one launch, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// The placement chosen.
    pub place: Placement,
    /// The launch's estimated work.
    pub work: Work,
    /// Every candidate's prediction.
    pub predictions: Vec<Prediction>,
    /// Chosen to measure a candidate that is not the predicted best.
    pub exploring: bool,
    /// The launch's time will correct later predictions (false on the
    /// fast path of tiny launches).
    pub learn: bool,
    /// The figures' generation the predictions were made with
    /// (`calibrate::generation`).
    pub generation: u64,
}

/// The term of the model that dominates a prediction (the one a
/// disagreement corrects).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Term {
    Overhead,
    Serial,
    Compute,
    Memory,
    Transfer,
}

const TERMS: usize = 5;

impl Term {
    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Term::Overhead => "overhead",
            Term::Serial => "lane ops/s",
            Term::Compute => "ops/s",
            Term::Memory => "bytes/s",
            Term::Transfer => "copy B/s",
        }
    }

    /// `fig` with this term scaled so that its time is `m` times longer.
    fn scale(self, mut fig: Figures, m: f64, serial_is_ops: bool) -> Figures {
        match self {
            Term::Overhead => fig.overhead_s *= m,
            Term::Serial if serial_is_ops => fig.ops_per_s /= m,
            Term::Serial => fig.lane_ops_per_s /= m,
            Term::Compute => fig.ops_per_s /= m,
            Term::Memory => fig.bytes_per_s /= m,
            Term::Transfer => fig.transfer_bytes_per_s /= m,
        }
        fig
    }
}

/// A model time with the term that dominates it and whose figures it used.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Breakdown {
    pub seconds: f64,
    pub term: Term,
    /// The dominant term's share of `seconds`.
    pub share: f64,
    /// The model used the serial placement's figures (a light loop on the
    /// pool runs on the calling thread).
    pub serial_figures: bool,
}

fn breakdown(parts: [(Term, f64); 4], serial_figures: bool) -> Breakdown {
    let seconds: f64 = parts.iter().map(|p| p.1).sum();
    let (term, t) =
        parts
            .iter()
            .copied()
            .fold((Term::Overhead, -1.0), |a, p| if p.1 > a.1 { p } else { a });
    Breakdown {
        seconds,
        term,
        share: if seconds > 0.0 { t / seconds } else { 0.0 },
        serial_figures,
    }
}

/// The model's time for `work` on `fig` (without copies). The larger of
/// the compute and the memory time counts (a roofline); the other is 0.
pub(crate) fn model_parts(
    place: Placement,
    fig: &Figures,
    serial: &Figures,
    work: &Work,
) -> Breakdown {
    match place {
        Placement::CpuSerial | Placement::Interp => {
            let c = work.total_ops() / fig.ops_per_s;
            let m = work.bytes / fig.bytes_per_s;
            let (c, m) = if c >= m { (c, 0.0) } else { (0.0, m) };
            breakdown(
                [
                    (Term::Overhead, fig.overhead_s),
                    (Term::Compute, c),
                    (Term::Memory, m),
                    (Term::Serial, 0.0),
                ],
                false,
            )
        }
        Placement::CpuPool | Placement::Cpu => {
            if !work.heavy && work.max_par_iters < CPU_LIGHT_SERIAL_BELOW {
                // Stays on the calling thread: the serial figures apply.
                let mut b = model_parts(Placement::CpuSerial, serial, serial, work);
                b.serial_figures = true;
                return b;
            }
            let c = work.par_ops / fig.ops_per_s;
            let m = work.bytes / fig.bytes_per_s;
            let (c, m) = if c >= m { (c, 0.0) } else { (0.0, m) };
            let mut b = breakdown(
                [
                    (Term::Overhead, fig.overhead_s),
                    (Term::Compute, c),
                    (Term::Memory, m),
                    (Term::Serial, work.serial_ops / serial.ops_per_s),
                ],
                false,
            );
            // The serial stretch runs on the serial figures: not ours to fix.
            if b.term == Term::Serial {
                b.share = 0.0;
            }
            b
        }
        Placement::Gpu(_) => {
            // One dispatch per serial stretch and two per prange.
            let dispatches = 1.0 + 2.0 * work.par_loops;
            let c = work.par_ops / fig.ops_per_s;
            let m = work.bytes / fig.bytes_per_s;
            let (c, m) = if c >= m { (c, 0.0) } else { (0.0, m) };
            breakdown(
                [
                    (Term::Overhead, fig.overhead_s * dispatches),
                    (Term::Compute, c),
                    (Term::Memory, m),
                    (Term::Serial, work.serial_ops / fig.lane_ops_per_s),
                ],
                false,
            )
        }
    }
}

/// The model's time for `work` on `fig` (without copies).
pub(crate) fn model(place: Placement, fig: &Figures, serial: &Figures, work: &Work) -> f64 {
    model_parts(place, fig, serial, work).seconds
}

/// Seconds of copies a launch on `target` would make for `args`.
fn transfer_time(target: &Target, fig: &Figures, args: &[Arg]) -> f64 {
    let device = target
        .engine
        .has_device_memory()
        .then(|| target.engine.device());
    let rate = |f: &Figures| f.transfer_bytes_per_s.max(1e6);
    let mut t = 0.0;
    for a in args {
        match a {
            Arg::Scalar(_) => {}
            Arg::Array { data, .. } if device.is_some() => {
                t += (data.len() * data.elem().size_bytes()) as f64 / rate(fig)
            }
            Arg::ArrayMut { data, .. } if device.is_some() => {
                t += 2.0 * (data.len() * data.elem().size_bytes()) as f64 / rate(fig)
            }
            Arg::Array { .. } | Arg::ArrayMut { .. } => {}
            // Already on a device: nothing to move.
            Arg::Device { .. } | Arg::DeviceMut { .. } => {}
            Arg::Resident { array, .. } => {
                let array = super::array::managed(*array);
                // A plain lock: a stale view only skews a prediction.
                let (r, len) = {
                    let s = array.lock();
                    (s.residency(), s.host.len())
                };
                if r.valid_on(device) {
                    continue;
                }
                let bytes = (len * array.elem().size_bytes()) as f64;
                // Missing here: comes down from its device first when the
                // host copy is stale, then (for a device) goes up.
                if !r.host {
                    let holder = array.lock().device.as_ref().map(|d| d.buffer.device());
                    let dir = calibrate::cache_dir();
                    let down = holder
                        .and_then(|d| calibrate::device_record(&dir, d.backend))
                        .and_then(|r| calibrate::cached(&dir, &r.key))
                        .map(|f| rate(&f))
                        .unwrap_or(1e9);
                    t += bytes / down;
                }
                if device.is_some() {
                    t += bytes / rate(fig);
                }
            }
        }
    }
    t
}

/// The size class of a launch: launches of one kernel whose work differs
/// by less than a factor of two share a correction.
fn bucket(work: &Work) -> i32 {
    units(work).log2().floor() as i32
}

/// Starts a GPU backend for one kernel: its engine and the kernel compiled.
pub(crate) type Starter = Arc<dyn Fn(Backend) -> Result<Target> + Send + Sync>;

/// A GPU candidate of a plan, started on demand.
struct GpuSlot {
    backend: Backend,
    /// `SLOT_*`.
    state: AtomicU8,
    target: OnceLock<Target>,
    /// Seconds a GPU could have saved on launches so far (the optimistic
    /// bound against the CPU's best): it starts once this pays its start.
    could_save: Mutex<f64>,
}

const SLOT_UNKNOWN: u8 = 0;
const SLOT_STARTING: u8 = 1;
const SLOT_READY: u8 = 2;
const SLOT_UNUSABLE: u8 = 3;

/// A candidate's figures as of one generation.
#[derive(Clone, Copy)]
struct Known {
    figures: Figures,
    source: Source,
}

/// Most candidates a plan has (CPU placements and GPU backends).
const MAX_CANDIDATES: usize = 8;

/// Figures per candidate index (CPU targets, then GPU slots); `None`:
/// absent. Copied per launch without allocating.
type KnownList = [Option<Known>; MAX_CANDIDATES];

struct Snapshot {
    generation: u64,
    known: KnownList,
}

/// Samples an arm keeps (the most recent).
const RECENT: usize = 16;

/// Samples this far from the model (either way) say its figures are
/// wrong rather than that the launch started cold (a cold pool on the
/// development VM costs up to 1.5x).
const MODEL_WRONG: f64 = 2.0;

/// One placement's learning in one size class of one kernel.
#[derive(Clone, Copy, Debug)]
struct Arm {
    /// ln(measured seconds per unit of work) of the last launches (a ring;
    /// the first `min(n, RECENT)` are valid). Measured times stay true when
    /// figures are corrected, so they are kept per unit of work rather than
    /// as a ratio to the model.
    recent: [f64; RECENT],
    /// Their lower quartile (`ln_per_unit`), kept: predicted every launch.
    quartile: f64,
    n: u32,
    /// Launches of the class before which it is not explored again.
    next_explore: u64,
    gap: u64,
    /// Launches of its last exploration; how many times a close result has
    /// had it explored again soon (`record`), and whether the next
    /// exploration is such a one (twice as long).
    streak: u32,
    close_calls: u32,
    longer: bool,
}

impl Default for Arm {
    fn default() -> Arm {
        Arm {
            recent: [0.0; RECENT],
            quartile: 0.0,
            n: 0,
            // Never measured: explored from the class's second launch.
            next_explore: 1,
            gap: 1,
            streak: 0,
            close_calls: 0,
            longer: false,
        }
    }
}

impl Arm {
    fn push(&mut self, ln_per_unit: f64) {
        self.recent[self.n as usize % RECENT] = ln_per_unit;
        self.n = self.n.saturating_add(1);
        self.quartile = self.ln_per_unit();
    }

    /// ln(seconds per unit) this placement takes: the lower quartile of the
    /// recent samples (their fastest while there are fewer than four).
    /// Load, a switch of placement (workers asleep, caches another filled)
    /// and clock ramps only ever slow a launch, and a placement that is
    /// chosen runs warm, so its fast samples say what it costs; a quantile
    /// rather than the minimum, so one lucky launch does not decide.
    fn ln_per_unit(&self) -> f64 {
        let len = (self.n as usize).min(RECENT);
        let mut v = self.recent;
        *v[..len].select_nth_unstable_by(len / 4, f64::total_cmp).1
    }

    /// Seconds predicted for `units` of work: the measurements once there
    /// are [`EARLY_SAMPLES`], before that the model counting as one of them
    /// (geometric mean). A placement measured just after another ran is
    /// slow at first (its threads' cores idled: a pool on the development
    /// VM takes 10-20 ms of work to reach full speed), so its first samples
    /// alone would make a faster placement look no better; a calibrated
    /// model knows better until the samples are several, unless they
    /// disagree with it by more than [`MODEL_WRONG`].
    fn predict(&self, model_s: f64, units: f64) -> f64 {
        if self.n == 0 {
            return model_s;
        }
        let measured = self.quartile + units.ln();
        // Past the noise the figures are what is wrong: samples rule.
        let wrong = !(model_s > 0.0) || (measured - model_s.ln()).abs() > MODEL_WRONG.ln();
        if self.n >= EARLY_SAMPLES || wrong {
            return measured.exp();
        }
        let n = f64::from(self.n);
        ((model_s.ln() + n * measured) / (n + 1.0)).exp()
    }
}

/// Samples of a placement (per size class) before its measurements alone
/// predict it (`Arm::predict`); until then a doubtful one is re-sampled two
/// launches later (`record`), before the explore budget spaces re-tries out.
const EARLY_SAMPLES: u32 = 3;

/// A measured placement is not re-tried for this many launches of its
/// class at least (1 / the explore budget).
const MIN_RETRY: u64 = (1.0 / EXPLORE_BUDGET) as u64;

/// The work units of a launch (what its size class is a log of).
fn units(work: &Work) -> f64 {
    (work.total_ops() + work.bytes).max(1.0)
}

/// Launches of one size class of a kernel and each candidate's arm
/// (indexed like the plan's candidates).
#[derive(Default)]
struct Class {
    launches: u64,
    arms: Vec<Arm>,
    /// An exploration in progress: the candidate and the launches it still
    /// takes. An exploration runs several launches back to back (its arm's
    /// `streak`): a placement switched to after another ran is slower at
    /// first (workers asleep, caches of the other placement).
    streak: Option<(usize, u32)>,
    /// The candidate the last recorded launch ran on.
    last: Option<usize>,
}

/// Launches per exploration (but one for the calling thread in launches
/// longer than [`WARM_MATTERS_BELOW`]).
const EXPLORE_STREAK: u32 = 2;

/// Explorations ending close to the best that are followed soon by one
/// twice as long (`record`), this many launches later: soon, but not
/// before a size's first launches have settled on their best.
const CLOSE_CALLS: u32 = 3;
const CLOSE_RETRY: u64 = 8;

/// How close a placement's first samples count as close in launches
/// shorter than [`WARM_MATTERS_BELOW`], and on other threads at any length:
/// a pool whose workers slept ran a 1e5-element sum 4x slower on its first
/// launch (development VM).
const FIRST_DOUBT: f64 = 4.0;

/// Recent disagreements per candidate and term: the last few ratios
/// measured / model (a ring), for figure corrections.
#[derive(Clone, Copy, Default)]
struct Window {
    ratios: [f64; DISAGREE_RUNS],
    len: usize,
}

/// The candidates of one kernel: the CPU's, compiled when the plan is made,
/// and the GPUs', started when a launch could use them.
pub(crate) struct Plan {
    cpu: Vec<Target>,
    gpus: Vec<GpuSlot>,
    starter: Starter,
    dir: PathBuf,
    snapshot: Mutex<Snapshot>,
    classes: Mutex<HashMap<i32, Class>>,
    windows: Mutex<Vec<[Window; TERMS]>>,
}

impl Plan {
    /// A plan over the CPU `cpu` targets; `starter` starts a GPU backend.
    pub(crate) fn new(cpu: Vec<Target>, starter: Starter) -> Plan {
        let gpus: Vec<Backend> = Backend::devices()
            .filter(|b| b.is_built())
            .take(MAX_CANDIDATES - cpu.len())
            .collect();
        Plan::with(cpu, starter, calibrate::cache_dir(), &gpus)
    }

    /// A plan with its figures in `dir` and `gpus` as GPU candidates.
    pub(crate) fn with(cpu: Vec<Target>, starter: Starter, dir: PathBuf, gpus: &[Backend]) -> Plan {
        let gpus: Vec<GpuSlot> = gpus
            .iter()
            .map(|&backend| GpuSlot {
                backend,
                state: AtomicU8::new(SLOT_UNKNOWN),
                target: OnceLock::new(),
                could_save: Mutex::new(0.0),
            })
            .collect();
        let n = cpu.len() + gpus.len();
        Plan {
            cpu,
            gpus,
            starter,
            dir,
            snapshot: Mutex::new(Snapshot {
                generation: 0,
                known: [None; MAX_CANDIDATES],
            }),
            classes: Mutex::new(HashMap::new()),
            windows: Mutex::new(vec![[Window::default(); TERMS]; n]),
        }
    }

    /// Candidate `i` when it is present (a GPU: once started, and only
    /// while its device works: one that failed for good, such as a CUDA
    /// context lost to a sticky error, is left out from then on).
    pub(crate) fn candidate(&self, i: usize) -> Option<&Target> {
        match self.cpu.get(i) {
            Some(t) => Some(t),
            None => {
                let slot = self.gpus.get(i - self.cpu.len())?;
                if !crate::backends::healthy(slot.backend) {
                    slot.state.store(SLOT_UNUSABLE, Ordering::Release);
                    return None;
                }
                slot.target.get()
            }
        }
    }

    fn len(&self) -> usize {
        self.cpu.len() + self.gpus.len()
    }

    fn index_of(&self, place: Placement) -> Option<usize> {
        (0..self.len()).find(|&i| self.candidate(i).is_some_and(|t| t.place == place))
    }

    /// The target of `place` (the first candidate when it is not one).
    pub(crate) fn target(&self, place: Placement) -> &Target {
        self.index_of(place)
            .and_then(|i| self.candidate(i))
            .unwrap_or(&self.cpu[0])
    }

    /// The GPUs started so far (tests, `kiln devices`).
    pub(crate) fn started_gpus(&self) -> Vec<Backend> {
        self.gpus
            .iter()
            .filter(|g| g.target.get().is_some())
            .map(|g| g.backend)
            .collect()
    }

    /// The figures of every present candidate, current as of now (loaded
    /// or, when the cache lacks them, defaults while measured in the
    /// background).
    fn known(&self) -> (u64, KnownList) {
        let generation = calibrate::generation();
        let mut s = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        let present = (0..self.len())
            .filter(|&i| self.candidate(i).is_some())
            .count();
        let have = s.known.iter().filter(|k| k.is_some()).count();
        if s.generation != generation || present != have {
            // Calibrating may bump the generation: read it before.
            let mut known = [None; MAX_CANDIDATES];
            for (i, k) in known.iter_mut().enumerate().take(self.len()) {
                *k = self.candidate(i).map(|t| {
                    let (figures, source) = calibrate::figures_for(&self.dir, t, true);
                    Known { figures, source }
                });
            }
            *s = Snapshot { generation, known };
        }
        (s.generation, s.known)
    }

    /// Whether GPU slot `g` could beat `best_cpu_s` on this launch, and if
    /// so, counts what it could have saved and starts it once that pays
    /// for its start. Returns whether it is ready now.
    fn consider_gpu(&self, g: usize, work: &Work, args: &[Arg], best_cpu_s: f64) -> bool {
        let slot = &self.gpus[g];
        if !crate::backends::healthy(slot.backend) {
            slot.state.store(SLOT_UNUSABLE, Ordering::Release);
            return false;
        }
        match slot.state.load(Ordering::Acquire) {
            SLOT_READY => return true,
            SLOT_STARTING | SLOT_UNUSABLE => return false,
            _ => {}
        }
        // An optimistic bound: the dispatch floor and the copies, or the
        // cached figures 8x faster. The floor first: most launches a CPU
        // wins are decided without looking up the device's record.
        let dispatches = 1.0 + 2.0 * work.par_loops;
        let mut bound =
            dispatches * GPU_FLOOR_DISPATCH_S + host_bytes(args) / GPU_FLOOR_COPY_BYTES_PER_S;
        if bound >= best_cpu_s {
            return false;
        }
        let record = calibrate::device_record(&self.dir, slot.backend);
        if let Some(r) = record.as_ref().filter(|r| r.fresh() && !r.auto) {
            let _ = r;
            slot.state.store(SLOT_UNUSABLE, Ordering::Release);
            return false;
        }
        if let Some(f) = record
            .as_ref()
            .and_then(|r| calibrate::cached(&self.dir, &r.key))
        {
            let m = model(Placement::Gpu(slot.backend), &f, &f, work);
            bound = bound.max(m / 8.0);
        }
        if bound >= best_cpu_s {
            return false;
        }
        // Ski rental: start once the time a GPU could have saved on the
        // launches so far pays for its start (or this launch alone would).
        let start_s = record.map(|r| r.start_s).unwrap_or(GPU_START_GUESS_S);
        let saved = {
            let mut owed = slot.could_save.lock().unwrap_or_else(|e| e.into_inner());
            *owed += best_cpu_s - bound;
            *owed
        };
        if saved < start_s {
            return false;
        }
        if slot
            .state
            .compare_exchange(
                SLOT_UNKNOWN,
                SLOT_STARTING,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            return slot.state.load(Ordering::Acquire) == SLOT_READY;
        }
        if log_dispatch() {
            tracing::info!(
                target: "kiln::dispatch",
                "starting {}: it could have saved {} so far (the CPU's best now {}), more than its start ({})",
                slot.backend,
                duration(saved),
                duration(best_cpu_s),
                duration(start_s)
            );
        }
        self.start_gpu(g);
        slot.state.load(Ordering::Acquire) == SLOT_READY
    }

    /// Starts GPU slot `g`: its engine (remembering what it found), the
    /// kernel compiled, its figures (measured when not cached).
    fn start_gpu(&self, g: usize) {
        let slot = &self.gpus[g];
        let t = Instant::now();
        let engine = super::engine(slot.backend);
        let start_s = t.elapsed().as_secs_f64();
        let record = |key: String, auto: bool, why: String| calibrate::DeviceRecord {
            key,
            auto,
            why,
            start_s,
            when: calibrate::now(),
        };
        let engine = match engine {
            Ok(e) => e,
            Err(e) => {
                calibrate::set_device_record(
                    &self.dir,
                    slot.backend,
                    record(String::new(), false, e.to_string()),
                );
                slot.state.store(SLOT_UNUSABLE, Ordering::Release);
                return;
            }
        };
        let key = format!("{}|{}", engine.device(), engine.describe());
        if !engine.auto_candidate() {
            let why = format!(
                "{} is not one auto uses (a software adapter, or one with a loop budget)",
                engine.describe()
            );
            calibrate::set_device_record(&self.dir, slot.backend, record(key, false, why));
            slot.state.store(SLOT_UNUSABLE, Ordering::Release);
            return;
        }
        calibrate::set_device_record(&self.dir, slot.backend, record(key, true, String::new()));
        match (self.starter)(slot.backend) {
            Ok(target) => {
                // Figures now, off the launching thread when in the background.
                let _ = calibrate::figures_for(&self.dir, &target, false);
                let _ = slot.target.set(target);
                slot.state.store(SLOT_READY, Ordering::Release);
            }
            Err(_) => slot.state.store(SLOT_UNUSABLE, Ordering::Release),
        }
    }
}

/// Bytes of host arrays a device would have to receive (and send back
/// for writable ones).
fn host_bytes(args: &[Arg]) -> f64 {
    args.iter()
        .map(|a| match a {
            Arg::Array { data, .. } => (data.len() * data.elem().size_bytes()) as f64,
            Arg::ArrayMut { data, .. } => 2.0 * (data.len() * data.elem().size_bytes()) as f64,
            Arg::Resident { array, .. } => {
                let a = super::array::managed(*array);
                (a.lock().host.len() * a.elem().size_bytes()) as f64
            }
            _ => 0.0,
        })
        .sum()
}

/// Whether the launch is so small that the calling thread runs it whatever
/// the figures: its parallel loops are light and short (the pool would run
/// them on the calling thread too) and no GPU could beat the CPU even at a
/// guessed speed. Needs no figures, so tiny launches never load or measure
/// any.
fn trivially_serial(work: &Work, args: &[Arg]) -> bool {
    if work.heavy || work.max_par_iters >= CPU_LIGHT_SERIAL_BELOW {
        return false;
    }
    let guess = calibrate::defaults(Placement::CpuSerial);
    let cpu = model(Placement::CpuSerial, &guess, &guess, work);
    let gpu_floor = (1.0 + 2.0 * work.par_loops) * GPU_FLOOR_DISPATCH_S
        + host_bytes(args) / GPU_FLOOR_COPY_BYTES_PER_S;
    cpu < FAST_PATH_BELOW.max(gpu_floor)
}

/// Predicts every candidate and picks the fastest (or one to explore).
/// `kernel` identifies the kernel for the measured corrections; `launching`:
/// a launch follows (counts for exploration), else a query.
pub(crate) fn choose(
    kernel: u64,
    plan: &Arc<Plan>,
    work: &Work,
    args: &[Arg],
    launching: bool,
) -> Choice {
    let _ = kernel;
    let first = plan.cpu[0].place;
    if trivially_serial(work, args) {
        return Choice {
            place: first,
            work: *work,
            predictions: Vec::new(),
            exploring: false,
            learn: false,
            generation: 0,
        };
    }
    let (generation, known) = plan.known();
    let serial_fig = known
        .first()
        .copied()
        .flatten()
        .filter(|_| first == Placement::CpuSerial)
        .map(|k| k.figures);
    let mut predictions = Vec::with_capacity(plan.len());
    let mut index = [0usize; MAX_CANDIDATES];
    for (i, k) in known.iter().enumerate().take(plan.len()) {
        let (Some(k), Some(t)) = (k, plan.candidate(i)) else {
            continue;
        };
        let serial = serial_fig.unwrap_or(k.figures);
        let transfer_s = transfer_time(t, &k.figures, args);
        let model_s = model(t.place, &k.figures, &serial, work) + transfer_s;
        predictions.push(Prediction {
            place: t.place,
            model_s,
            predicted_s: model_s,
            transfer_s,
        });
        index[predictions.len() - 1] = i;
    }
    // Tiny launches: the first candidate (the calling thread) when the model
    // says it is the fastest or close, without corrections or measuring:
    // their bookkeeping would cost as much as the launch.
    let first_s = predictions.first().map(|p| p.model_s).unwrap_or(0.0);
    if first_s < FAST_PATH_BELOW
        && units(work) < FAST_PATH_MAX_UNITS
        && predictions.iter().all(|p| first_s <= p.model_s * 1.5)
    {
        return Choice {
            place: first,
            work: *work,
            predictions,
            exploring: false,
            learn: false,
            generation,
        };
    }
    let b = bucket(work);
    let mut classes = plan.classes.lock().unwrap_or_else(|e| e.into_inner());
    let class = classes.entry(b).or_default();
    class.arms.resize(plan.len(), Arm::default());
    for (p, &i) in predictions.iter_mut().zip(&index) {
        let arm = &class.arms[i];
        p.predicted_s = arm.predict(p.model_s, units(work));
    }
    // Ties go to the earlier candidate (serial before pool before GPUs).
    let best = (0..predictions.len())
        .min_by(|&a, &c| {
            predictions[a]
                .predicted_s
                .total_cmp(&predictions[c].predicted_s)
        })
        .unwrap_or(0);
    let best_s = predictions.get(best).map(|p| p.predicted_s).unwrap_or(0.0);
    let mut explore = None;
    if let Some((cand, left)) = class.streak.filter(|_| launching) {
        // The rest of an exploration in progress.
        explore = index[..predictions.len()]
            .iter()
            .position(|&i| i == cand)
            .filter(|&k| k != best);
        class.streak = (left > 1 && explore.is_some()).then_some((cand, left - 1));
    } else if launching && best_s > EXPLORE_ABOVE {
        for (k, p) in predictions.iter().enumerate() {
            let arm = &class.arms[index[k]];
            if k != best
                && class.launches >= arm.next_explore
                && p.predicted_s <= EXPLORE_WITHIN * best_s
            {
                explore = Some(k);
                break;
            }
        }
        if let Some(k) = explore {
            // The next re-try: its extra cost within the budget, and at
            // least twice the previous gap.
            let base =
                if best_s < WARM_MATTERS_BELOW || predictions[k].place != Placement::CpuSerial {
                    EXPLORE_STREAK
                } else {
                    1
                };
            let extra = (predictions[k].predicted_s / best_s - 1.0).max(0.0);
            let arm = &mut class.arms[index[k]];
            // After a close call, twice the previous streak (`record`).
            let streak = if arm.longer {
                (2 * arm.streak).max(base)
            } else {
                base
            };
            arm.streak = streak;
            arm.longer = false;
            let cost = extra * f64::from(streak);
            arm.gap = (2 * arm.gap).max((cost / EXPLORE_BUDGET).ceil() as u64);
            arm.next_explore = class.launches + arm.gap;
            class.streak = (streak > 1).then_some((index[k], streak - 1));
        }
    }
    if launching {
        class.launches += 1;
    }
    drop(classes);
    // GPUs not started yet: started when one could beat the best CPU time.
    let cpu_best_s = best_s;
    if launching {
        for g in 0..plan.gpus.len() {
            plan.consider_gpu(g, work, args, cpu_best_s);
        }
    }
    let pick = explore.unwrap_or(best);
    Choice {
        place: predictions.get(pick).map(|p| p.place).unwrap_or(first),
        work: *work,
        predictions,
        exploring: explore.is_some(),
        learn: true,
        generation,
    }
}

/// Folds a measured launch time into the kernel's correction for its
/// placement and size class, and into the placement's disagreement window;
/// corrects the figures when the window is beyond the noise.
pub(crate) fn record(kernel_name: &str, plan: &Plan, choice: &Choice, measured_s: f64) {
    let Some(p) = choice.predictions.iter().find(|p| p.place == choice.place) else {
        return;
    };
    if !(p.model_s > 0.0 && measured_s.is_finite() && measured_s > 0.0) {
        return;
    }
    let Some(i) = plan.index_of(choice.place) else {
        return;
    };
    let observed = (measured_s / p.model_s).clamp(1e-3, 1e3);
    let sampled = {
        let mut classes = plan.classes.lock().unwrap_or_else(|e| e.into_inner());
        let class = classes.entry(bucket(&choice.work)).or_default();
        class.arms.resize(plan.len(), Arm::default());
        let launches = class.launches;
        let streak_over = class.streak.is_none_or(|(c, _)| c != i);
        // The first launch on other threads after a launch elsewhere pays
        // for waking them (and, on the development VM, a vCPU that idled):
        // the switch's cost, not the placement's, so it is not a sample
        // once the placement has one.
        let switched = class.last.is_some_and(|l| l != i);
        class.last = Some(i);
        let arm = &mut class.arms[i];
        let sampled = !(switched && choice.place != Placement::CpuSerial && arm.n > 0);
        if sampled {
            arm.push((measured_s / units(&choice.work)).ln());
        }
        if !choice.exploring {
            // Chosen as the best: should it lose narrowly later, it gets
            // its close calls again.
            arm.close_calls = 0;
        }
        // Measured: re-tried (once no longer the best) after a while, but
        // soon when its samples may have been unlucky and it matters:
        // - fewer than `EARLY_SAMPLES` and much faster than the model (the
        //   figures are wrong; correcting them takes a few samples) or not
        //   far behind the best (a class's first launch is its coldest);
        // - an exploration that ended close to the best without winning:
        //   a placement switched to runs cold at first (workers asleep,
        //   caches full of the other placement's data, and on the
        //   development VM a vCPU that idled runs slow for its first
        //   milliseconds), so it is explored again for twice as long, up
        //   to `CLOSE_CALLS` times, before the gaps grow. The calling
        //   thread (`cpu-serial`) runs warm and needs no second look.
        //   A clear loser is not re-tried soon; one unlucky time cannot
        //   lock a winner out.
        let rival_s = choice
            .predictions
            .iter()
            .filter(|q| q.place != choice.place)
            .map(|q| q.predicted_s)
            .fold(f64::INFINITY, f64::min);
        let now_s = arm.predict(p.model_s, units(&choice.work));
        // A first look is all cold samples, which matters for short
        // launches and for other threads at any length (a pool's first
        // launch of a 2 ms size ran 2.9x slower after other work on the
        // development VM): close within more there.
        let short = rival_s < WARM_MATTERS_BELOW;
        let first_within = if short || choice.place != Placement::CpuSerial {
            FIRST_DOUBT
        } else {
            DOUBT
        };
        // The calling thread in long launches is sampled one at a time and
        // runs warm: a second sample confirms the first.
        let early_samples = if short || choice.place != Placement::CpuSerial {
            EARLY_SAMPLES
        } else {
            2
        };
        let first = arm.n <= arm.streak;
        let within = if first { first_within } else { DOUBT };
        let close = choice.exploring
            && choice.place != Placement::CpuSerial
            && streak_over
            && now_s > rival_s
            && now_s <= within * rival_s
            && arm.close_calls < CLOSE_CALLS;
        if close {
            arm.close_calls += 1;
            arm.longer = true;
            arm.next_explore = launches + CLOSE_RETRY;
        } else if arm.n < early_samples
            && (observed < 1.0 / DOUBT || now_s <= first_within * rival_s)
        {
            arm.next_explore = launches + 2;
        } else {
            arm.next_explore = arm.next_explore.max(launches + arm.gap.max(MIN_RETRY));
        }
        sampled
    };
    let logging = log_dispatch();
    if logging {
        tracing::info!(
            target: "kiln::dispatch",
            "{kernel_name}: ran on {} in {}, predicted {} (model {}, x{:.3}){}{}",
            choice.place,
            duration(measured_s),
            duration(p.predicted_s),
            duration(p.model_s),
            observed,
            if choice.exploring { " (measuring)" } else { "" },
            if sampled { "" } else { " (a switch: not a sample)" }
        );
    }
    disagree(kernel_name, plan, choice, i, p, observed);
    calibrate::maybe_flush();
}

/// The figure correction: the term dominating this prediction, when it is
/// the same for the last few launches of this placement and they all
/// disagree with the model beyond the noise in the same direction.
fn disagree(
    kernel_name: &str,
    plan: &Plan,
    choice: &Choice,
    i: usize,
    p: &Prediction,
    observed: f64,
) {
    let known = plan
        .snapshot
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .known;
    let Some(Some(k)) = known.get(i).copied() else {
        return;
    };
    let Some(target) = plan.candidate(i) else {
        return;
    };
    let serial_i = (plan.cpu[0].place == Placement::CpuSerial).then_some(0);
    let serial = serial_i
        .and_then(|s| known.get(s).copied().flatten())
        .map(|k| k.figures)
        .unwrap_or(k.figures);
    let mut b = model_parts(choice.place, &k.figures, &serial, &choice.work);
    if ((b.seconds + p.transfer_s) / p.model_s - 1.0).abs() > 1e-9 {
        return; // The figures changed meanwhile: measured against old ones.
    }
    if p.transfer_s > b.seconds {
        b = Breakdown {
            seconds: p.model_s,
            term: Term::Transfer,
            share: p.transfer_s / p.model_s,
            serial_figures: false,
        };
    } else {
        b.share *= b.seconds / p.model_s;
    }
    if b.share < 0.6 {
        return;
    }
    // The figures to fix: the serial placement's when the model used them.
    let (owner, owner_known, owner_target) = if b.serial_figures {
        let Some(s) = serial_i else { return };
        let (Some(Some(sk)), Some(st)) = (known.get(s).copied(), plan.candidate(s)) else {
            return;
        };
        (s, sk, st)
    } else {
        (i, k, target)
    };
    let full = {
        let mut w = plan.windows.lock().unwrap_or_else(|e| e.into_inner());
        let win = &mut w[owner][b.term.index()];
        win.ratios.rotate_left(1);
        win.ratios[DISAGREE_RUNS - 1] = observed;
        win.len = (win.len + 1).min(DISAGREE_RUNS);
        let full = win.len == DISAGREE_RUNS
            && (win.ratios.iter().all(|&r| r > DISAGREE)
                || win.ratios.iter().all(|&r| r < 1.0 / DISAGREE));
        let mut sorted = win.ratios;
        sorted.sort_by(f64::total_cmp);
        if full {
            *win = Window::default();
        }
        full.then_some(sorted[DISAGREE_RUNS / 2])
    };
    let Some(m) = full else { return };
    let key = calibrate::key(owner_target);
    let serial_is_ops = !matches!(owner_target.place, Placement::Gpu(_));
    let mut fixed = b.term.scale(owner_known.figures, m, serial_is_ops);
    if m < 1.0 {
        // Faster than predicted: no throughput term of the roofline can
        // take longer than the launches did.
        let took = m * p.model_s;
        let w = &choice.work;
        let ops = if b.serial_figures || choice.place == Placement::CpuSerial {
            w.total_ops()
        } else {
            w.par_ops
        };
        if took > 0.0 {
            fixed.ops_per_s = fixed.ops_per_s.max(ops / took);
            fixed.bytes_per_s = fixed.bytes_per_s.max(w.bytes / took);
        }
    }
    let note = format!(
        "{} x{:.3} after {DISAGREE_RUNS} launches of `{kernel_name}` (was {})",
        b.term.name(),
        1.0 / m,
        owner_known.source_name()
    );
    if log_dispatch() {
        tracing::info!(
            target: "kiln::dispatch",
            "correcting {key}: measured {:.3}x the model, {}; {} -> {}",
            m,
            note,
            calibrate::describe_figures(&owner_known.figures),
            calibrate::describe_figures(&fixed)
        );
    }
    let _ = owner;
    calibrate::correct(&plan.dir, &key, fixed, note);
}

impl Known {
    fn source_name(&self) -> &'static str {
        match self.source {
            Source::Default => "a default",
            Source::Calibrated => "calibrated",
            Source::Refined => "refined",
            Source::Given => "given",
        }
    }
}

/// The last fast-path choice of one kernel (`learn == false`), keyed by
/// the launch's [`signature`]: a repeated tiny launch with the same shapes,
/// scalars and residency skips the estimate and the predictions. Only
/// fast-path choices are kept: they read the model alone (no measured
/// corrections), so the same signature always gives the same choice, and
/// larger work still goes through `choose` and learns.
///
/// One atomic word, no lock: the signature's upper 56 bits and the
/// candidate's index in the plan plus one in the low 8 (0: empty).
#[derive(Debug, Default)]
pub(crate) struct FastCache(AtomicU64);

impl FastCache {
    /// The cached candidate's index in the plan for `sig`.
    pub(crate) fn get(&self, sig: u64) -> Option<usize> {
        let w = self.0.load(Ordering::Relaxed);
        let idx = (w & 0xff) as usize;
        (idx != 0 && (w & !0xff) == (sig & !0xff)).then(|| idx - 1)
    }

    /// Remembers `choice` for `sig` when it came from the fast path.
    pub(crate) fn put(&self, sig: u64, plan: &Plan, choice: &Choice) {
        if choice.learn || choice.exploring {
            return;
        }
        if let Some(i) = plan.index_of(choice.place) {
            if i < 0xff {
                self.0
                    .store((sig & !0xff) | (i as u64 + 1), Ordering::Relaxed);
            }
        }
    }
}

/// FxHash-style mixing: cheap, and good in the upper bits the cache keeps.
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u8(&mut self, x: u8) {
        self.write_u64(x as u64);
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(x as u64);
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        // A final avalanche so that every input bit reaches the upper bits.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

/// A hash of what `choose`'s model reads from the arguments: each
/// argument's kind, scalar values (as bits), array lengths, shapes and
/// element types, and a managed array's residency (which decides its
/// copies). Locks each managed array once, briefly.
pub(crate) fn signature(args: &[Arg]) -> u64 {
    let mut h = Fx(0x9e37_79b9_7f4a_7c15);
    h.write_usize(args.len());
    for a in args {
        match a {
            Arg::Scalar(v) => {
                h.write_u8(1);
                let bits = match *v {
                    crate::ir::Value::Bool(b) => b as u64,
                    crate::ir::Value::I32(x) => x as u32 as u64,
                    crate::ir::Value::U32(x) => x as u64,
                    crate::ir::Value::I64(x) => x as u64,
                    crate::ir::Value::F32(x) => x.to_bits() as u64,
                    crate::ir::Value::F64(x) => x.to_bits(),
                };
                v.ty().hash(&mut h);
                h.write_u64(bits);
            }
            Arg::Array { data, shape } => {
                h.write_u8(2);
                data.elem().hash(&mut h);
                h.write_usize(data.len());
                h.write_usize(shape.len());
                shape.iter().for_each(|&d| h.write_usize(d));
            }
            Arg::ArrayMut { data, shape } => {
                h.write_u8(3);
                data.elem().hash(&mut h);
                h.write_usize(data.len());
                h.write_usize(shape.len());
                shape.iter().for_each(|&d| h.write_usize(d));
            }
            Arg::Device { buffer, shape } => {
                h.write_u8(6);
                buffer.device().hash(&mut h);
                buffer.elem().hash(&mut h);
                shape.iter().for_each(|&d| h.write_usize(d));
            }
            Arg::DeviceMut { buffer, shape } => {
                h.write_u8(7);
                buffer.device().hash(&mut h);
                buffer.elem().hash(&mut h);
                shape.iter().for_each(|&d| h.write_usize(d));
            }
            Arg::Resident { array, writable } => {
                let array = super::array::managed(*array);
                h.write_u8(4 + *writable as u8);
                array.elem().hash(&mut h);
                let s = array.lock();
                h.write_usize(s.host.len());
                h.write_usize(s.shape.len());
                s.shape.iter().for_each(|&d| h.write_usize(d));
                let r = s.residency();
                h.write_u8(r.host as u8);
                r.device.hash(&mut h);
            }
        }
    }
    h.finish()
}

/// Whether `KILN_LOG` asks for dispatch logging (topic `dispatch`, target
/// `kiln::dispatch`; see `crate::logging`).
pub fn log_dispatch() -> bool {
    crate::logging::init();
    tracing::enabled!(target: "kiln::dispatch", tracing::Level::INFO)
}

/// One line per choice on stderr.
pub(crate) fn log(kernel: &str, c: &Choice) {
    let preds: Vec<String> = c
        .predictions
        .iter()
        .map(|p| {
            let mut s = format!("{} {}", p.place, duration(p.predicted_s));
            if p.transfer_s > 0.0 {
                s += &format!(" (copies {})", duration(p.transfer_s));
            }
            if p.predicted_s != p.model_s {
                s += &format!(" [model {}]", duration(p.model_s));
            }
            s
        })
        .collect();
    tracing::info!(
        target: "kiln::dispatch",
        "{kernel}: ops {:.3e} serial + {:.3e} parallel, {:.3e} bytes; predicted {} -> {}{}",
        c.work.serial_ops,
        c.work.par_ops,
        c.work.bytes,
        preds.join(", "),
        c.place,
        if c.exploring { " (measuring)" } else { "" }
    );
}

/// The learning on a simulated machine: launches "take" the model's time
/// on the true figures, while the plan starts from planted wrong ones. No
/// clock is read, so the assertions on choices cannot flake.
#[cfg(all(test, feature = "cpu"))]
mod tests {
    use super::*;
    use crate::runtime::Module;
    use std::path::Path;

    const SUM_SQ: &str = "kernel sum_sq(x: f64[:]) -> f64 {
    let mut t = 0.0;
    for i in prange(0..x.len()) {
        t += x[i] * x[i];
    }
    return t;
}";

    fn fig(overhead_s: f64, ops: f64, bytes: f64) -> Figures {
        Figures {
            overhead_s,
            ops_per_s: ops,
            lane_ops_per_s: ops,
            bytes_per_s: bytes,
            transfer_bytes_per_s: 0.0,
        }
    }

    /// The simulated machine's true figures: serial, pool.
    fn truth() -> (Figures, Figures) {
        (fig(1e-6, 4e9, 10e9), fig(20e-6, 8e9, 20e9))
    }

    fn keys() -> (String, String) {
        (
            calibrate::cpu_key(Placement::CpuSerial).unwrap(),
            calibrate::cpu_key(Placement::CpuPool).unwrap(),
        )
    }

    fn plan_in(dir: &Path, serial: Figures, pool: Figures) -> Arc<Plan> {
        let (ks, kp) = keys();
        calibrate::write_figures(dir, &[(ks, serial), (kp, pool)]).unwrap();
        let m = Module::from_source("sim.kn", SUM_SQ).unwrap();
        let k = m.kernel("sum_sq").unwrap();
        let cpu = m.cpu_targets(k.id()).unwrap();
        let starter: Starter = Arc::new(|b: Backend| {
            Err(crate::Error::BackendUnavailable {
                backend: b.name().into(),
                reason: "simulated".into(),
            })
        });
        Arc::new(Plan::with(cpu, starter, dir.to_path_buf(), &[]))
    }

    /// A streaming reduction over n elements (light), or one whose body
    /// has an inner loop of 40 ops per element (heavy).
    fn work(n: f64, heavy: bool) -> Work {
        let per = if heavy { 40.0 } else { 4.0 };
        Work {
            serial_ops: 4.0,
            par_ops: per * n,
            bytes: 8.0 * n,
            par_loops: 1.0,
            max_par_iters: n,
            heavy,
        }
    }

    fn true_time(place: Placement, w: &Work) -> f64 {
        let (s, p) = truth();
        match place {
            Placement::CpuSerial => model(place, &s, &s, w),
            _ => model(place, &p, &s, w),
        }
    }

    fn truly_best(w: &Work) -> Placement {
        let (s, p) = (
            true_time(Placement::CpuSerial, w),
            true_time(Placement::CpuPool, w),
        );
        if p < s {
            Placement::CpuPool
        } else {
            Placement::CpuSerial
        }
    }

    /// `launches` launches of `w`; the placements chosen.
    fn run(plan: &Arc<Plan>, w: &Work, launches: usize, noise: &mut u64) -> Vec<Choice> {
        (0..launches)
            .map(|_| {
                let c = choose(0, plan, w, &[], true);
                // Load only slows a launch: 0-30% more, deterministic.
                *noise = noise
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let slow = 1.0 + 0.3 * ((*noise >> 33) as f64 / (1u64 << 31) as f64);
                if c.learn {
                    record("sim", plan, &c, true_time(c.place, w) * slow);
                }
                c
            })
            .collect()
    }

    /// From the third launch of a size on, every choice that is not a
    /// measurement is the true best, and at most one launch measures.
    fn assert_recovers(n: f64, choices: &[Choice], best: Placement) {
        let chosen: Vec<(Placement, bool)> =
            choices.iter().map(|c| (c.place, c.exploring)).collect();
        assert!(
            chosen[2..].iter().all(|&(p, e)| p == best || e),
            "n = {n:e}: chose {chosen:?}, the best is {best}"
        );
        let measuring = chosen[2..].iter().filter(|c| c.1).count();
        assert!(
            measuring <= 2 * EXPLORE_STREAK as usize,
            "n = {n:e}: {chosen:?}"
        );
        assert_eq!(
            chosen.last().map(|c| c.0),
            Some(best),
            "n = {n:e}: {chosen:?}"
        );
    }

    fn recovers(
        planted_serial: Figures,
        planted_pool: Figures,
        sizes: &[(f64, bool)],
    ) -> Arc<Plan> {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_in(dir.path(), planted_serial, planted_pool);
        let mut noise = 7;
        for &(n, heavy) in sizes {
            let w = work(n, heavy);
            let best = truly_best(&w);
            let choices = run(&plan, &w, 8, &mut noise);
            assert_recovers(n, &choices, best);
        }
        calibrate::flush(dir.path());
        calibrate::forget(dir.path());
        // Written back: the file now holds refined figures.
        let (_, kp) = keys();
        let e = calibrate::entry(dir.path(), &kp).unwrap();
        assert_eq!(e.source, Source::Refined, "{e:?}");
        assert!(e.corrections >= 1 && e.note.contains("sim"), "{e:?}");
        plan
    }

    #[test]
    fn planted_ten_times_slow_pool_recovers_within_a_few_launches() {
        let (s, p) = truth();
        let slow = Figures {
            overhead_s: p.overhead_s * 10.0,
            ops_per_s: p.ops_per_s / 10.0,
            lane_ops_per_s: p.lane_ops_per_s,
            bytes_per_s: p.bytes_per_s / 10.0,
            transfer_bytes_per_s: 0.0,
        };
        let sizes: Vec<(f64, bool)> = [1e5, 1e6, 1e7, 1e8].iter().map(|&n| (n, false)).collect();
        recovers(s, slow, &sizes);
    }

    #[test]
    fn planted_ten_times_fast_pool_recovers_within_a_few_launches() {
        let (s, p) = truth();
        let fast = Figures {
            overhead_s: p.overhead_s / 10.0,
            ops_per_s: p.ops_per_s * 10.0,
            lane_ops_per_s: p.lane_ops_per_s,
            bytes_per_s: p.bytes_per_s * 10.0,
            transfer_bytes_per_s: 0.0,
        };
        // Heavy loops: the pool is woken at every size; serial wins the
        // small ones, the pool the large ones.
        let sizes: Vec<(f64, bool)> = [1e3, 2e3, 1e4, 1e5, 1e6]
            .iter()
            .map(|&n| (n, true))
            .collect();
        recovers(s, fast, &sizes);
    }

    #[test]
    fn planted_ten_times_slow_serial_recovers_within_a_few_launches() {
        let (s, p) = truth();
        let slow = Figures {
            overhead_s: s.overhead_s * 10.0,
            ops_per_s: s.ops_per_s / 10.0,
            lane_ops_per_s: s.lane_ops_per_s / 10.0,
            bytes_per_s: s.bytes_per_s / 10.0,
            transfer_bytes_per_s: 0.0,
        };
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_in(dir.path(), slow, p);
        let mut noise = 3;
        for n in [1e3, 2e3, 1e4] {
            let w = work(n, true);
            let choices = run(&plan, &w, 8, &mut noise);
            assert_recovers(n, &choices, truly_best(&w));
        }
    }

    #[test]
    fn exploring_costs_under_two_percent_over_many_launches() {
        let (s, p) = truth();
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_in(dir.path(), s, p);
        let mut noise = 11;
        for (n, heavy) in [(1e6, false), (2e3, true)] {
            let w = work(n, heavy);
            let choices = run(&plan, &w, 5000, &mut noise);
            let spent: f64 = choices.iter().map(|c| true_time(c.place, &w)).sum();
            let best = 5000.0 * true_time(truly_best(&w), &w);
            let explored = choices.iter().filter(|c| c.exploring).count();
            assert!(explored >= 2, "never re-tried: {explored}");
            assert!(
                spent / best - 1.0 <= EXPLORE_BUDGET,
                "n = {n:e}: {:.4}",
                spent / best - 1.0
            );
        }
        // Right figures with noise: nothing corrected.
        calibrate::flush(dir.path());
        calibrate::forget(dir.path());
        let e = calibrate::entry(dir.path(), &keys().1).unwrap();
        assert_eq!(e.source, Source::Given, "{e:?}");
    }

    #[test]
    fn short_launches_explore_in_streaks_long_ones_on_the_calling_thread_singly() {
        let (s, p) = truth();
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_in(dir.path(), s, p);
        let mut noise = 5;
        // 1e5 light: ~60 us on the pool; 1e8 light: ~40 ms on the pool,
        // where the serial one explored is the calling thread.
        for (n, streak) in [(1e5, EXPLORE_STREAK as usize), (1e8, 1)] {
            let choices = run(&plan, &work(n, false), 400, &mut noise);
            let mut runs = Vec::new();
            let mut len = 0;
            for c in &choices {
                if c.exploring {
                    len += 1;
                } else if len > 0 {
                    runs.push(len);
                    len = 0;
                }
            }
            assert!(!runs.is_empty(), "n = {n:e}: never explored");
            // A streak is the base length, or twice the one before after a
            // close call (at most `CLOSE_CALLS` of them).
            assert_eq!(runs[0], streak, "n = {n:e}: streaks {runs:?}");
            let doubled = runs.windows(2).filter(|w| w[1] == 2 * w[0]).count();
            assert!(
                runs.windows(2).all(|w| w[1] == streak || w[1] == 2 * w[0])
                    && doubled <= CLOSE_CALLS as usize,
                "n = {n:e}: streaks {runs:?}, base {streak}"
            );
        }
    }

    #[test]
    fn cold_starts_do_not_lock_a_faster_placement_out() {
        // The pool truly 1.3x faster than serial, but each switch to it
        // costs its next four launches 2.2x, 1.9x, 1.6x and 1.3x (a vCPU
        // that idled, caches full of the calling thread's data).
        let (s, p) = truth();
        let w = work(1e5, false);
        let (ts, tp) = (
            true_time(Placement::CpuSerial, &w),
            true_time(Placement::CpuPool, &w),
        );
        let scale = Figures {
            overhead_s: p.overhead_s * ts / tp / 1.3,
            ops_per_s: p.ops_per_s * tp / ts * 1.3,
            lane_ops_per_s: p.lane_ops_per_s,
            bytes_per_s: p.bytes_per_s * tp / ts * 1.3,
            transfer_bytes_per_s: 0.0,
        };
        let pool_s = model(Placement::CpuPool, &scale, &s, &w);
        assert!((ts / pool_s - 1.3).abs() < 0.05, "{}", ts / pool_s);
        // The figures put the pool 1.6x slower than it is (serial looks
        // faster): the pool must earn it from cold samples.
        let planted = Figures {
            overhead_s: scale.overhead_s * 1.6,
            ops_per_s: scale.ops_per_s / 1.6,
            lane_ops_per_s: scale.lane_ops_per_s,
            bytes_per_s: scale.bytes_per_s / 1.6,
            transfer_bytes_per_s: 0.0,
        };
        assert!(model(Placement::CpuPool, &planted, &s, &w) > ts);
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_in(dir.path(), s, planted);
        let cold = [2.2, 1.9, 1.6, 1.3];
        let (mut last, mut run_len) = (Placement::CpuSerial, 99usize);
        let mut on_pool = 0;
        for l in 0..400 {
            let c = choose(0, &plan, &w, &[], true);
            run_len = if c.place == last { run_len + 1 } else { 0 };
            last = c.place;
            let t = if c.place == Placement::CpuPool {
                pool_s * cold.get(run_len).copied().unwrap_or(1.0)
            } else {
                ts
            };
            record("sim", &plan, &c, t);
            if l >= 200 && c.place == Placement::CpuPool {
                on_pool += 1;
            }
        }
        assert!(on_pool >= 190, "on the pool {on_pool} of the last 200");
    }

    #[test]
    fn arm_trusts_a_close_model_until_samples_are_several() {
        let mut arm = Arm::default();
        assert_eq!(arm.predict(1e-3, 1.0), 1e-3);
        // A cold first sample 1.44x the model: the model is one of two.
        arm.push(1.44e-3f64.ln());
        assert!((arm.predict(1e-3, 1.0) - 1.2e-3).abs() < 1e-9);
        // Two more: the samples alone, their lower quartile.
        arm.push(1.1e-3f64.ln());
        arm.push(1.3e-3f64.ln());
        assert!((arm.predict(1e-3, 1.0) - 1.1e-3).abs() < 1e-9);
        // Far from the model (figures wrong): samples rule at once.
        let mut wrong = Arm::default();
        wrong.push(1e-4f64.ln());
        assert!((wrong.predict(1e-3, 1.0) - 1e-4).abs() < 1e-12);
        // A window of the recent: old samples leave it.
        let mut window = Arm::default();
        for _ in 0..RECENT {
            window.push(1e-6f64.ln());
        }
        for _ in 0..RECENT {
            window.push(1e-3f64.ln());
        }
        assert!((window.predict(1.0, 1.0) - 1e-3).abs() < 1e-12);
    }

    #[test]
    fn queries_neither_explore_nor_count() {
        let (s, p) = truth();
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_in(dir.path(), s, p);
        let w = work(1e6, false);
        for _ in 0..5 {
            let c = choose(0, &plan, &w, &[], false);
            assert!(!c.exploring && c.place == truly_best(&w), "{c:?}");
        }
        assert_eq!(plan.classes.lock().unwrap()[&bucket(&w)].launches, 0);
    }

    #[test]
    fn tiny_launches_need_no_figures() {
        let w = work(1000.0, false);
        assert!(trivially_serial(&w, &[]));
        assert!(!trivially_serial(&work(1e6, false), &[]));
        assert!(!trivially_serial(&work(1000.0, true), &[]));
    }
}
