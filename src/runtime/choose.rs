//! Device choice for `Backend::Auto`: predict each candidate placement's
//! time from the launch's work (`cost`), the bytes that would move given
//! where each argument is now, and the placement's calibrated figures
//! (`calibrate`); correct by measured launch times (an exponentially
//! weighted ratio per kernel, placement and size class); pick the fastest.
//! `KILN_LOG=dispatch` prints each choice with its predictions. A tiny
//! launch's choice (the fast path, which reads the model alone) is cached
//! per kernel by a signature of its arguments (`FastCache`), so repeating it
//! costs a hash instead of an estimate.

use super::args::Arg;
use super::calibrate::{self, Figures};
use super::cost::Work;
use super::exec::{Placement, Target};
use crate::util::duration;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// A light `prange` (no inner loop) shorter than this runs on the calling
/// thread even on the pool (the CPU engine's own rule, `LIGHT_SERIAL_BELOW`).
const CPU_LIGHT_SERIAL_BELOW: f64 = 32.0 * 1024.0;

/// Launches predicted shorter than this never measure an alternative.
const EXPLORE_ABOVE: f64 = 50e-6;

/// Launches the model puts below this run on the calling thread without
/// corrections (see `choose`).
const FAST_PATH_BELOW: f64 = 5e-6;

/// Weight of a new measurement in the correction ratio.
const EWMA_ALPHA: f64 = 0.3;

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
    /// Chosen to measure a candidate never measured at this size.
    pub exploring: bool,
    /// The launch's time will correct later predictions (false on the
    /// fast path of tiny launches).
    pub learn: bool,
}

/// The model's time for `work` on `fig` (without copies).
pub(crate) fn model(place: Placement, fig: &Figures, serial: &Figures, work: &Work) -> f64 {
    match place {
        Placement::CpuSerial | Placement::Interp => {
            fig.overhead_s + (work.total_ops() / fig.ops_per_s).max(work.bytes / fig.bytes_per_s)
        }
        Placement::CpuPool | Placement::Cpu => {
            if !work.heavy && work.max_par_iters < CPU_LIGHT_SERIAL_BELOW {
                // Stays on the calling thread: the serial figures apply.
                return model(Placement::CpuSerial, serial, serial, work);
            }
            fig.overhead_s
                + work.serial_ops / serial.ops_per_s
                + (work.par_ops / fig.ops_per_s).max(work.bytes / fig.bytes_per_s)
        }
        Placement::Gpu(_) => {
            // One dispatch per serial stretch and two per prange.
            let dispatches = 1.0 + 2.0 * work.par_loops;
            fig.overhead_s * dispatches
                + work.serial_ops / fig.lane_ops_per_s
                + (work.par_ops / fig.ops_per_s).max(work.bytes / fig.bytes_per_s)
        }
    }
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
                    let holder = array
                        .lock()
                        .device
                        .as_ref()
                        .map(|d| d.buffer.device().to_string());
                    let down = holder
                        .and_then(|k| calibrate::cached(&calibrate::cache_dir(), &k))
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

type RatioKey = (u64, Placement, i32);

fn ratios() -> &'static Mutex<HashMap<RatioKey, f64>> {
    static R: OnceLock<Mutex<HashMap<RatioKey, f64>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The size class of a launch: launches of one kernel whose work differs
/// by less than a factor of two share a correction.
fn bucket(work: &Work) -> i32 {
    (work.total_ops() + work.bytes).max(1.0).log2().floor() as i32
}

/// The candidates of one kernel with their figures, computed once per
/// kernel (the per-launch choice then allocates and locks little).
pub(crate) struct Plan {
    pub targets: Vec<Target>,
    figures: Vec<Figures>,
    serial: Option<Figures>,
}

impl Plan {
    pub(crate) fn new(targets: Vec<Target>) -> Plan {
        let figures: Vec<Figures> = targets.iter().map(calibrate::figures).collect();
        let serial = targets
            .iter()
            .zip(&figures)
            .find(|(t, _)| t.place == Placement::CpuSerial)
            .map(|(_, f)| *f);
        Plan {
            targets,
            figures,
            serial,
        }
    }

    pub(crate) fn target(&self, place: Placement) -> &Target {
        self.targets
            .iter()
            .find(|t| t.place == place)
            .unwrap_or(&self.targets[0])
    }
}

/// Predicts every target and picks the fastest. `kernel` identifies the
/// kernel for the measured corrections.
pub(crate) fn choose(kernel: u64, plan: &Plan, work: &Work, args: &[Arg]) -> Choice {
    let targets = &plan.targets;
    let b = bucket(work);
    let mut predictions = Vec::with_capacity(targets.len());
    for (t, &fig) in targets.iter().zip(&plan.figures) {
        let serial = plan.serial.unwrap_or(fig);
        let transfer_s = transfer_time(t, &fig, args);
        let model_s = model(t.place, &fig, &serial, work) + transfer_s;
        predictions.push(Prediction {
            place: t.place,
            model_s,
            predicted_s: model_s,
            transfer_s,
        });
    }
    // Tiny launches: the first candidate (the calling thread) when the model
    // says it is the fastest or close, without corrections or measuring:
    // their bookkeeping would cost as much as the launch.
    let first = predictions.first().map(|p| p.model_s).unwrap_or(0.0);
    if first < FAST_PATH_BELOW && predictions.iter().all(|p| first <= p.model_s * 1.5) {
        return Choice {
            place: predictions
                .first()
                .map(|p| p.place)
                .unwrap_or(Placement::Cpu),
            work: *work,
            predictions,
            exploring: false,
            learn: false,
        };
    }
    let r = ratios().lock().unwrap_or_else(|e| e.into_inner());
    let mut unmeasured = Vec::new();
    for k in 0..predictions.len() {
        let t = &targets[k];
        let model_s = predictions[k].model_s;
        let transfer_s = predictions[k].transfer_s;
        let ratio = r.get(&(kernel, t.place, b)).copied();
        if ratio.is_none() {
            unmeasured.push(k);
        }
        predictions[k] = Prediction {
            place: t.place,
            model_s,
            predicted_s: model_s * ratio.unwrap_or(1.0),
            transfer_s,
        };
    }
    drop(r);
    // Ties go to the earlier candidate (serial before pool before GPUs).
    let best = (0..predictions.len())
        .min_by(|&a, &c| {
            predictions[a]
                .predicted_s
                .total_cmp(&predictions[c].predicted_s)
        })
        .unwrap_or(0);
    let best_s = predictions.get(best).map(|p| p.predicted_s).unwrap_or(0.0);
    // Measure once a candidate the model puts within 2x of the best: one
    // launch learns whether the model was wrong about it.
    // Below EXPLORE_ABOVE seconds a wrong choice costs too little to learn.
    let explore = unmeasured
        .iter()
        .copied()
        .filter(|_| best_s > EXPLORE_ABOVE)
        .find(|&k| k != best && predictions[k].predicted_s <= 2.0 * best_s);
    let pick = explore.unwrap_or(best);
    Choice {
        place: predictions
            .get(pick)
            .map(|p| p.place)
            .unwrap_or(Placement::Cpu),
        work: *work,
        predictions,
        exploring: explore.is_some(),
        learn: true,
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
        if let Some(i) = plan.targets.iter().position(|t| t.place == choice.place) {
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

/// Folds a measured launch time into the correction for its prediction.
pub(crate) fn record(kernel: u64, choice: &Choice, measured_s: f64) {
    let Some(p) = choice.predictions.iter().find(|p| p.place == choice.place) else {
        return;
    };
    if !(p.model_s > 0.0 && measured_s.is_finite()) {
        return;
    }
    let observed = (measured_s / p.model_s).clamp(1e-3, 1e3);
    let mut r = ratios().lock().unwrap_or_else(|e| e.into_inner());
    let e = r
        .entry((kernel, choice.place, bucket(&choice.work)))
        .or_insert(observed);
    *e = (1.0 - EWMA_ALPHA) * *e + EWMA_ALPHA * observed;
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
