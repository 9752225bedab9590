//! Running compiled kernels: the context the generated code sees, the rayon
//! pool, the parallel-loop driver and the fault recorder.
//!
//! Generated code receives a pointer to a [`Ctx`]. At each `prange` the serial
//! code stores the loop bounds and captured scalars in a stack buffer and calls
//! [`kiln_cpu_par`], which splits the flattened iteration space into chunks
//! whose boundaries depend only on the iteration count (never on the thread
//! count), runs the chunk function on each, and combines the per-chunk
//! reduction partials in chunk order: the same bits for any number of threads.

use super::pool::Pool;
use crate::ir::{ReduceOp, ScalarType, Value};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// One array as the generated code sees it (`#[repr(C)]`: offsets are baked
/// into the code, see `ARRAY_*`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ArrayDesc {
    pub ptr: usize,
    pub len: i64,
    pub shape: [i64; 3],
}

pub(crate) const ARRAY_DESC_SIZE: i32 = 40;
pub(crate) const ARRAY_PTR: i32 = 0;
pub(crate) const ARRAY_LEN: i32 = 8;
pub(crate) const ARRAY_SHAPE: i32 = 16;

/// The launch context (`#[repr(C)]`; `CTX_*` are the offsets the code uses).
#[repr(C)]
pub(crate) struct Ctx {
    pub arrays: *const ArrayDesc,
    pub state: *const LaunchState<'static>,
}

pub(crate) const CTX_ARRAYS: i32 = 0;

/// Words at the start of a `prange` capture buffer: `lo, n` per dimension.
pub(crate) const BOUNDS_WORDS: usize = 6;

/// What the driver needs to know about one `prange` of a kernel.
#[derive(Clone, Debug)]
pub(crate) struct ParInfo {
    pub rank: usize,
    pub reductions: Vec<(ReduceOp, ScalarType)>,
    /// The body contains a loop: chunks may be as small as one iteration.
    pub heavy: bool,
    /// The loop's first variable: names the `prange` in the IR (variable ids
    /// are unique within a kernel), for the distributed driver's plan.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub first_var: crate::ir::VarId,
}

/// Where one process's share of a `prange` comes from and goes to when
/// several processes run one launch together (`crate::dist`, SPMD): every
/// process runs the same serial code, and at each `prange` the hook says
/// which flat iterations this process runs (exchanging array rows first),
/// then merges every process's reduction partials and faults so that all of
/// them continue with the same values: the ones a single process computes.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) trait ParHook: Sync {
    /// Called on entry of `prange` `loop_id` with its bounds `(lo, n)` per
    /// dimension, its flat iteration count and chunk length (as
    /// [`chunk_len`] fixes them). Returns the flat range this process runs;
    /// for a loop with reductions it starts and ends on chunk boundaries
    /// (or at `total`).
    fn enter(&self, loop_id: usize, bounds: &[(i64, u64)], total: u64, len: u64) -> (u64, u64);
    /// Called after this process ran its range: `local` holds the partials
    /// (`stride` words each) of the global chunks `first_chunk..` it ran,
    /// `fault` its earliest fault. Returns the partials of all `n_chunks`
    /// chunks (empty for a loop without reductions) and the earliest fault
    /// of all processes; every process gets the same answer.
    #[allow(clippy::too_many_arguments)]
    fn exit(
        &self,
        loop_id: usize,
        first_chunk: usize,
        n_chunks: usize,
        stride: usize,
        local: &[u64],
        fault: Option<(i64, FaultRecord)>,
    ) -> (Vec<u64>, Option<(i64, FaultRecord)>);
}

/// `(ctx, captures, flat_start, flat_end, partials) -> status`.
pub(crate) type ChunkFn = unsafe extern "C" fn(*const Ctx, *const u64, i64, i64, *mut u64) -> i32;

/// A recorded fault: the site id and up to three integer operands (the index
/// tuple of an access, the step of a `step_by`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct FaultRecord {
    pub site: u32,
    pub operands: [i64; 3],
}

/// Per-launch state behind `Ctx::state`.
pub(crate) struct LaunchState<'k> {
    pub chunks: &'k [ChunkFn],
    pub pars: &'k [ParInfo],
    /// The fault of the earliest chunk (by flat start) that faulted.
    pub fault: Mutex<Option<(i64, FaultRecord)>>,
    /// The smallest flat start of a chunk that faulted (`i64::MAX` while
    /// none has): no chunk that starts after it is started.
    pub stop_before: AtomicI64,
    /// Run every chunk on the calling thread (the runtime chose serial
    /// execution for this launch); results are the same bits either way.
    pub serial: bool,
    /// Set when this launch is one process's part of a distributed launch.
    pub hook: Option<&'k dyn ParHook>,
}

// Generated code only reads the context and writes array elements through its
// raw pointers; chunks run concurrently exactly as the language allows (data
// races on array elements are unspecified but memory-safe: plain stores).
struct SendPtr<T>(*const T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
impl<T> SendPtr<T> {
    fn get(&self) -> *const T {
        self.0
    }
}

thread_local! {
    /// Flat start of the chunk this thread runs (`i64::MIN` in serial code).
    static CHUNK_START: Cell<i64> = const { Cell::new(i64::MIN) };
    /// The reduction partials of the last `prange` this thread drove.
    static PARTIALS: Cell<Vec<u64>> = const { Cell::new(Vec::new()) };
}

/// Records a fault and stops the chunks after the faulting one. Chunks before
/// it run to completion, and a chunk stops at its first fault, so the fault
/// kept (the earliest chunk's) is the first faulting iteration in flat
/// order: the one the interpreter reports, whatever the thread count.
pub(crate) extern "C" fn kiln_cpu_fault(ctx: *const Ctx, site: i64, a: i64, b: i64, c: i64) {
    // SAFETY: generated code passes the context it was launched with.
    let state = unsafe { &*(*ctx).state };
    let start = CHUNK_START.with(|s| s.get());
    let rec = FaultRecord {
        site: site as u32,
        operands: [a, b, c],
    };
    if let Ok(mut slot) = state.fault.lock() {
        match *slot {
            Some((earlier, _)) if earlier <= start => {}
            _ => *slot = Some((start, rec)),
        }
    }
    state.stop_before.fetch_min(start, Ordering::Relaxed);
}

/// Smallest chunk for a loop body without inner loops: below it the dispatch
/// costs more than the work.
const LIGHT_MIN_CHUNK: u64 = 4096;
/// Below this many iterations a light loop runs on the calling thread.
const LIGHT_SERIAL_BELOW: u64 = 32 * 1024;
/// At most this many chunks per loop (partials stay small).
const MAX_CHUNKS: u64 = 1024;

/// Heavy chunks (a loop body with inner loops) are multiples of the 8
/// iterations that `lower::lanes` runs in vector lanes at once (with 1, a
/// 4096-body n-body had chunks of 4 and ran scalar).
const HEAVY_CHUNK_STEP: u64 = super::lower::LANE_ITERATIONS as u64;

/// Chunk length for `total` iterations: a function of `total` and the body
/// kind only, so that reductions combine identically for any thread count.
pub(crate) fn chunk_len(total: u64, heavy: bool) -> u64 {
    let len = total.div_ceil(MAX_CHUNKS);
    if heavy {
        // Whole steps of `lanes`: only a loop's last chunk has iterations
        // left for the scalar copy.
        len.max(1).next_multiple_of(HEAVY_CHUNK_STEP)
    } else {
        len.max(LIGHT_MIN_CHUNK)
    }
}

/// Runs one `prange`: called from generated serial code.
///
/// `caps` starts with `lo, n` per dimension (`BOUNDS_WORDS` words), then the
/// captured scalars; `reds` holds the reduction variables' values before the
/// loop on entry and their combined values on return. Returns 0, or 1 when a
/// fault was recorded.
pub(crate) extern "C" fn kiln_cpu_par(
    ctx: *const Ctx,
    loop_id: i64,
    caps: *const u64,
    reds: *mut u64,
) -> i32 {
    // SAFETY: generated code passes the context it was launched with and
    // buffers of the sizes the lowering allocated for this loop.
    let state = unsafe { &*(*ctx).state };
    let info = &state.pars[loop_id as usize];
    let mut total: u64 = 1;
    for d in 0..info.rank {
        // The count is `hi - lo` when `hi > lo`, else 0 (`lower::chunks`):
        // read unsigned, since it exceeds i64::MAX for ranges like
        // `i64::MIN..n`, which must run (and fault), not be skipped.
        let n = unsafe { *caps.add(2 * d + 1) };
        total = total.saturating_mul(n);
    }
    let total = total.min(i64::MAX as u64);
    if total == 0 {
        return 0;
    }
    let len = chunk_len(total, info.heavy);
    if let Some(hook) = state.hook {
        return hooked_par(state, hook, loop_id as usize, ctx, caps, reds, total, len);
    }
    let n_chunks = total.div_ceil(len) as usize;
    let nred = info.reductions.len();
    let stride = nred.max(1);
    // The partials buffer is kept per thread between launches: no
    // allocation on the launch path once it has grown.
    let mut partials = PARTIALS.with(|p| p.take());
    partials.clear();
    partials.resize(n_chunks * stride, 0);
    run_chunks(
        state,
        loop_id as usize,
        ctx,
        caps,
        total,
        len,
        (0, total),
        &mut partials,
    );
    let status = finish(state, info, reds, &partials, n_chunks, stride);
    PARTIALS.with(|p| p.set(partials));
    status
}

/// Runs the chunks of `prange` `loop_id` (of `len` iterations each, the
/// last one shorter) that intersect the flat range `f0..f1`, each clipped to
/// it: all of `0..total` in one process, a rank's share in a distributed
/// run. The chunk `first + k` (`first = f0 / len`) writes its partials at
/// `k * stride` of `partials`. Chunks after a recorded fault are skipped;
/// every earlier one runs, so the fault kept is the first.
#[allow(clippy::too_many_arguments)]
fn run_chunks(
    state: &LaunchState,
    loop_id: usize,
    ctx: *const Ctx,
    caps: *const u64,
    total: u64,
    len: u64,
    (f0, f1): (u64, u64),
    partials: &mut [u64],
) {
    let info = &state.pars[loop_id];
    let chunk = state.chunks[loop_id];
    let stride = info.reductions.len().max(1);
    let first = (f0 / len) as usize;
    let n = partials.len() / stride;
    let (ctx_p, caps_p) = (SendPtr(ctx), SendPtr(caps));
    let out_p = SendPtr(partials.as_mut_ptr().cast_const());
    let run = |k: usize| {
        let c = (first + k) as u64;
        let start = (c * len).max(f0);
        let end = ((c + 1) * len).min(f1).min(total);
        if state.stop_before.load(Ordering::Relaxed) < start as i64 || end <= start {
            return;
        }
        let outer = CHUNK_START.with(|s| s.replace(start as i64));
        // SAFETY: the chunk function was compiled for this loop's buffers;
        // chunk `k` alone writes its `stride` partials; its status is also
        // visible as the recorded fault.
        unsafe {
            chunk(
                ctx_p.get(),
                caps_p.get(),
                start as i64,
                end as i64,
                out_p.get().cast_mut().add(k * stride),
            )
        };
        CHUNK_START.with(|s| s.set(outer));
    };
    let parallel = !state.serial && n > 1 && (info.heavy || f1 - f0 >= LIGHT_SERIAL_BELOW);
    if parallel {
        // Every chunk is visited (no short-circuit): chunks before a faulting
        // one must still run for the reported fault to be the first.
        pool().run(n, &run);
    } else {
        (0..n).for_each(run);
    }
}

/// One process's share of a distributed `prange`: the global chunks (cut
/// exactly as in one process) that intersect the flat range the hook
/// assigns, then the hook's merge of every process's partials and faults.
#[allow(clippy::too_many_arguments)]
fn hooked_par(
    state: &LaunchState,
    hook: &dyn ParHook,
    loop_id: usize,
    ctx: *const Ctx,
    caps: *const u64,
    reds: *mut u64,
    total: u64,
    len: u64,
) -> i32 {
    let info = &state.pars[loop_id];
    let bounds: Vec<(i64, u64)> = (0..info.rank)
        // SAFETY: the buffer holds `lo, n` per dimension.
        .map(|d| unsafe { (*caps.add(2 * d) as i64, *caps.add(2 * d + 1)) })
        .collect();
    let (f0, f1) = hook.enter(loop_id, &bounds, total, len);
    let n_chunks = total.div_ceil(len) as usize;
    let (first, last) = if f1 > f0 {
        ((f0 / len) as usize, f1.div_ceil(len) as usize)
    } else {
        (0, 0)
    };
    let n_local = last - first;
    let nred = info.reductions.len();
    let stride = nred.max(1);
    let mut partials = vec![0u64; n_local * stride];
    run_chunks(
        state,
        loop_id,
        ctx,
        caps,
        total,
        len,
        (f0, f1),
        &mut partials,
    );
    let local_fault = state.fault.lock().ok().and_then(|mut g| g.take());
    let (all, fault) = hook.exit(loop_id, first, n_chunks, stride, &partials, local_fault);
    if let Some((start, rec)) = fault {
        if let Ok(mut slot) = state.fault.lock() {
            *slot = Some((start, rec));
        }
        state.stop_before.store(start, Ordering::Relaxed);
        return 1;
    }
    if nred > 0 {
        for (r, &(op, ty)) in info.reductions.iter().enumerate() {
            // SAFETY: `reds` has one word per reduction.
            let mut acc = unsafe { *reds.add(r) };
            for c in 0..n_chunks {
                acc = combine(op, ty, acc, all[c * stride + r]);
            }
            unsafe { *reds.add(r) = acc };
        }
    }
    0
}

/// Combines the chunks' partials in chunk order into `reds`; 1 when a chunk
/// faulted.
fn finish(
    state: &LaunchState,
    info: &ParInfo,
    reds: *mut u64,
    partials: &[u64],
    n_chunks: usize,
    stride: usize,
) -> i32 {
    if state.stop_before.load(Ordering::Relaxed) != i64::MAX {
        return 1;
    }
    for (r, &(op, ty)) in info.reductions.iter().enumerate() {
        // SAFETY: `reds` has one word per reduction.
        let mut acc = unsafe { *reds.add(r) };
        for c in 0..n_chunks {
            acc = combine(op, ty, acc, partials[c * stride + r]);
        }
        unsafe { *reds.add(r) = acc };
    }
    0
}

/// `a op b` on raw value bits, with the language's semantics (defined once,
/// in `ReduceOp::combine`).
pub(crate) fn combine(op: ReduceOp, ty: ScalarType, a: u64, b: u64) -> u64 {
    op.combine(Value::from_bits(ty, a), Value::from_bits(ty, b))
        .to_bits()
}

static POOL: OnceLock<RwLock<Arc<Pool>>> = OnceLock::new();

/// Most threads a pool may have: more only adds wake-ups and memory (a
/// thousand threads on two cores made a 1e6-element sum 100× slower).
/// `docs/limits.md`.
pub const MAX_THREADS: usize = 256;

fn threads_from_env() -> usize {
    std::env::var("KILN_NUM_THREADS")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}

fn build_pool(n: usize) -> Arc<Pool> {
    if n > MAX_THREADS {
        tracing::warn!(
            target: "kiln::cpu",
            "{n} threads asked for; the CPU backend uses at most {MAX_THREADS}"
        );
    }
    Arc::new(Pool::new(n.clamp(1, MAX_THREADS)))
}

fn pool_lock() -> &'static RwLock<Arc<Pool>> {
    POOL.get_or_init(|| RwLock::new(build_pool(threads_from_env())))
}

/// Sends the pool's spinning workers to sleep, if there is a pool (see
/// [`Pool::nap`]); never starts one.
pub(crate) fn nap_pool() {
    if POOL.get().is_some() {
        pool().nap();
    }
}

pub(crate) fn pool() -> Arc<Pool> {
    match pool_lock().read() {
        Ok(p) => p.clone(),
        Err(e) => e.into_inner().clone(),
    }
}

/// Threads the CPU backend runs parallel loops on.
pub fn num_threads() -> usize {
    pool().threads()
}

/// Sets the number of threads for parallel loops (0 restores the default:
/// `KILN_NUM_THREADS`, else `available_parallelism()`; at most
/// [`MAX_THREADS`]). Results of reductions do not depend on it.
pub fn set_num_threads(n: usize) {
    let n = if n == 0 { threads_from_env() } else { n };
    let new = build_pool(n);
    match pool_lock().write() {
        Ok(mut p) => *p = new,
        Err(e) => *e.into_inner() = new,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_boundaries_ignore_thread_count() {
        assert_eq!(chunk_len(10, false), 4096);
        assert_eq!(chunk_len(10, true), 8);
        assert_eq!(chunk_len(100_000, true), 104);
        assert_eq!(chunk_len(10_000_000, false), 9766);
    }

    #[test]
    fn combine_follows_language_semantics() {
        let f = |x: f64| x.to_bits();
        assert_eq!(
            combine(ReduceOp::Min, ScalarType::F64, f(f64::NAN), f(2.0)),
            f(2.0)
        );
        assert_eq!(
            combine(ReduceOp::Add, ScalarType::I32, i32::MAX as u32 as u64, 1),
            i32::MIN as u32 as u64
        );
        assert_eq!(
            combine(ReduceOp::Min, ScalarType::I32, (-5i32) as u32 as u64, 3),
            (-5i32) as u32 as u64
        );
        assert_eq!(
            combine(ReduceOp::Max, ScalarType::U32, u32::MAX as u64, 3),
            u32::MAX as u64
        );
        assert_eq!(combine(ReduceOp::BitXor, ScalarType::Bool, 1, 1), 0);
    }
}
