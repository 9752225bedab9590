//! The worker pool that runs the chunks of a `prange`.
//!
//! A launch of a 1e6-element loop is a few hundred microseconds of work, so
//! what a general task scheduler spends on splitting, stealing and waking is
//! visible (rayon's `par_chunks_mut` on two threads was no faster than one).
//! This pool is built for one shape of job — "run chunk functions 0..n" —
//! and keeps its cost to a few atomic operations:
//!
//! - One word holds the whole job state: `epoch | chunk count | next chunk`.
//!   The caller publishes a job by storing it; threads claim chunks by
//!   compare-and-swap on it, so a thread that saw an older job can never
//!   claim a chunk of a newer one (the epoch differs) nor one past the end.
//!   A claim takes a share of the chunks left (guided self-scheduling), so
//!   the contended word is touched a few times per thread, not per chunk.
//! - The calling thread works too; workers spin briefly after a job (the
//!   next launch usually follows within microseconds), then sleep on a
//!   condition variable. With more threads than cores they never spin.
//! - No allocation per job: the job is a pointer to the caller's closure,
//!   valid because the caller returns only after every claimed chunk ended.
//! - One job at a time: a second thread that launches while the pool is busy
//!   (or a chunk that reaches a `prange` itself) runs its chunks on its own
//!   thread. Chunk boundaries never depend on who runs them, so results are
//!   the same bits either way.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Most chunks one job may have (the word keeps 16 bits for each count).
pub(crate) const MAX_JOB_CHUNKS: usize = u16::MAX as usize;

/// Cores this process may use (0: all of `available_parallelism`). A
/// distributed run sets it to the node's cores divided by its ranks, so that
/// pools of oversubscribed ranks never spin.
static CORE_SHARE: AtomicUsize = AtomicUsize::new(0);

/// Sets the cores this process's pools may count on (0: all); pools built
/// afterwards spin only when their threads fit in them.
#[cfg(feature = "mpi")]
pub(crate) fn set_core_share(cores: usize) {
    CORE_SHARE.store(cores, Ordering::Relaxed);
}

fn core_share() -> usize {
    match CORE_SHARE.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// How long an idle worker spins before it sleeps. Waking a sleeping
/// worker costs tens of microseconds (a futex wake, and on a virtual machine
/// an interrupt to an idle vCPU), a fifth of a 1e6-element saxpy; launches
/// are often a host copy or a small serial step apart, so 200 µs was too
/// short (two threads ran a restored saxpy 1.3x faster than one, 1.8x with
/// 2 ms). libgomp spins for a comparable time by default.
const SPIN: Duration = Duration::from_micros(2000);

/// The packed job word: epoch in the high 32 bits, then the number of chunks
/// and the next unclaimed chunk, 16 bits each.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Word(u64);

impl Word {
    fn new(epoch: u32, n: usize, next: usize) -> Word {
        Word((epoch as u64) << 32 | (n as u64) << 16 | next as u64)
    }
    fn epoch(self) -> u32 {
        (self.0 >> 32) as u32
    }
    fn n(self) -> usize {
        (self.0 >> 16) as usize & 0xffff
    }
    fn next(self) -> usize {
        self.0 as usize & 0xffff
    }
}

/// The caller's closure, type-erased. Lives on the caller's stack for the
/// duration of [`Pool::run`].
type Job<'a> = &'a (dyn Fn(usize) + Sync);

struct Shared {
    word: AtomicU64,
    /// The current job (a `*const Job`): read only after claiming a chunk.
    job: AtomicPtr<()>,
    /// Chunks of the current job that have finished.
    done: AtomicUsize,
    /// Workers asleep (or about to sleep) on `wake`.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
    /// Whether idle workers spin (false when there are more threads than cores).
    spin: bool,
    /// The epoch of the last job when [`Pool::nap`] was called: workers
    /// that finished that job sleep instead of spinning for the next.
    nap_after: AtomicU32,
    /// Workers that went to sleep early because of a nap (for tests).
    napped: AtomicUsize,
    /// Threads the pool was asked for (workers and caller).
    threads: usize,
    shutdown: AtomicBool,
}

/// A fixed set of worker threads plus the thread that calls [`Pool::run`].
pub(crate) struct Pool {
    shared: Arc<Shared>,
    /// Held by the thread whose job the pool runs.
    busy: Mutex<()>,
    threads: usize,
    workers: Vec<JoinHandle<()>>,
}

thread_local! {
    /// Set on the pool's own worker threads.
    static IS_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Pool {
    /// A pool running jobs on `threads` threads in all: the caller and
    /// `threads - 1` workers. Fewer workers when the system refuses threads.
    pub(crate) fn new(threads: usize) -> Pool {
        let cores = core_share();
        let shared = Arc::new(Shared {
            word: AtomicU64::new(Word::new(0, 0, 0).0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            done: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            spin: threads <= cores,
            nap_after: AtomicU32::new(u32::MAX),
            napped: AtomicUsize::new(0),
            threads: threads.max(1),
            shutdown: AtomicBool::new(false),
        });
        let mut workers = Vec::new();
        for i in 1..threads.max(1) {
            let s = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("kiln-cpu-{i}"))
                .spawn(move || worker(&s));
            match spawned {
                Ok(h) => workers.push(h),
                Err(e) => {
                    tracing::warn!(target: "kiln::cpu", "only {i} of {threads} threads: {e}");
                    break;
                }
            }
        }
        Pool {
            threads: workers.len() + 1,
            shared,
            busy: Mutex::new(()),
            workers,
        }
    }

    /// Sends workers that spin waiting for the next job to sleep now: the
    /// caller is about to do something else for a while (compile a kernel)
    /// and wants the cores. The next job wakes them as usual.
    pub(crate) fn nap(&self) {
        let last = Word(self.shared.word.load(Ordering::SeqCst)).epoch();
        self.shared.nap_after.store(last, Ordering::Relaxed);
    }

    /// Threads that run a job: the workers and the caller.
    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f(0)`, …, `f(n - 1)`, each exactly once, on the pool's threads
    /// and the caller's; returns when all have returned. Runs them on the
    /// calling thread alone when the pool is busy with another job, when
    /// called from a worker, or when there are no workers.
    pub(crate) fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        let guard = if self.workers.is_empty() || n <= 1 || IS_WORKER.with(|w| w.get()) {
            None
        } else {
            self.busy.try_lock().ok()
        };
        let Some(_guard) = guard else {
            (0..n).for_each(f);
            return;
        };
        if n > MAX_JOB_CHUNKS {
            // Callers keep far below this; stay correct anyway.
            for base in (0..n).step_by(MAX_JOB_CHUNKS) {
                let len = MAX_JOB_CHUNKS.min(n - base);
                self.run_one(len, &|c| f(base + c));
            }
        } else {
            self.run_one(n, f);
        }
    }

    /// One job, with `busy` held.
    fn run_one(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        let s = &*self.shared;
        let job: Job = f;
        s.done.store(0, Ordering::Relaxed);
        s.job
            .store((&job as *const Job).cast_mut().cast(), Ordering::Relaxed);
        let epoch = Word(s.word.load(Ordering::Relaxed)).epoch().wrapping_add(1);
        // SeqCst pairs with the sleepers' check (no lost wake-up).
        s.word.store(Word::new(epoch, n, 0).0, Ordering::SeqCst);
        if s.sleepers.load(Ordering::SeqCst) > 0 {
            let _l = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        work(s, epoch);
        // Every chunk is claimed; wait for those still running elsewhere.
        // They are short (a chunk is a slice of one loop), so spin.
        let mut spins = 0u32;
        while s.done.load(Ordering::Acquire) < n {
            spins += 1;
            if spins < 1 << 12 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Claims and runs chunks of job `epoch` until none is left.
fn work(s: &Shared, epoch: u32) {
    let mut w = Word(s.word.load(Ordering::Acquire));
    loop {
        if w.epoch() != epoch || w.next() >= w.n() {
            return;
        }
        // Guided self-scheduling: take a share of what is left (at least
        // one chunk), so that a job of hundreds of short chunks costs a few
        // claims per thread instead of one contended atomic per chunk, and
        // the last claims are single chunks that balance the load.
        let left = w.n() - w.next();
        let take = (left / (2 * s.threads)).max(1);
        let claimed = Word::new(epoch, w.n(), w.next() + take);
        match s
            .word
            .compare_exchange_weak(w.0, claimed.0, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => {
                // SAFETY: chunks of job `epoch` are claimed and not yet
                // counted done, so the job's caller is still waiting in
                // `run_one` and the closure it published is alive.
                let job = unsafe { *s.job.load(Ordering::Acquire).cast::<Job>() };
                for c in w.next()..w.next() + take {
                    job(c);
                }
                s.done.fetch_add(take, Ordering::Release);
                w = Word(s.word.load(Ordering::Acquire));
            }
            Err(now) => w = Word(now),
        }
    }
}

fn worker(s: &Shared) {
    IS_WORKER.with(|w| w.set(true));
    let mut seen = 0u32;
    loop {
        let epoch = match wait_for_job(s, seen) {
            Some(e) => e,
            None => return,
        };
        seen = epoch;
        work(s, epoch);
    }
}

/// The epoch of the next job after `seen`, or `None` at shutdown.
fn wait_for_job(s: &Shared, seen: u32) -> Option<u32> {
    let fresh = |s: &Shared| {
        let w = Word(s.word.load(Ordering::SeqCst));
        (w.epoch() != seen).then_some(w.epoch())
    };
    if s.spin {
        let start = Instant::now();
        let mut k = 0u32;
        loop {
            if let Some(e) = fresh(s) {
                return Some(e);
            }
            if s.shutdown.load(Ordering::Relaxed) {
                return None;
            }
            std::hint::spin_loop();
            k += 1;
            if k % 64 == 0 {
                if s.nap_after.load(Ordering::Relaxed) == seen {
                    s.napped.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                if start.elapsed() > SPIN {
                    break;
                }
            }
        }
    }
    let mut l = s.lock.lock().unwrap_or_else(|e| e.into_inner());
    s.sleepers.fetch_add(1, Ordering::SeqCst);
    let out = loop {
        if let Some(e) = fresh(s) {
            break Some(e);
        }
        if s.shutdown.load(Ordering::SeqCst) {
            break None;
        }
        l = s.wake.wait(l).unwrap_or_else(|e| e.into_inner());
    };
    s.sleepers.fetch_sub(1, Ordering::SeqCst);
    out
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        {
            let _l = self.shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_runs_exactly_once() {
        for threads in [1, 2, 3, 8] {
            let pool = Pool::new(threads);
            for n in [0, 1, 2, 7, 64, 1000, MAX_JOB_CHUNKS + 3] {
                let hits: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
                pool.run(n, &|c| {
                    hits[c].fetch_add(1, Ordering::Relaxed);
                });
                assert!(
                    hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                    "threads {threads}, n {n}"
                );
            }
        }
    }

    #[test]
    fn concurrent_and_nested_jobs_run_serially_and_completely() {
        let pool = Arc::new(Pool::new(3));
        let total = AtomicUsize::new(0);
        std::thread::scope(|sc| {
            for _ in 0..4 {
                sc.spawn(|| {
                    for _ in 0..200 {
                        pool.run(16, &|_| {
                            // A job started from inside a chunk runs inline.
                            pool.run(4, &|_| {
                                total.fetch_add(1, Ordering::Relaxed);
                            });
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 4 * 200 * 16 * 4);
    }

    #[test]
    fn a_nap_sends_spinning_workers_to_sleep_and_the_next_job_wakes_them() {
        let pool = Pool::new(2);
        if !pool.shared.spin {
            return; // fewer cores than threads: workers never spin
        }
        let count = AtomicUsize::new(0);
        for _ in 0..20 {
            pool.run(8, &|_| {
                count.fetch_add(1, Ordering::Relaxed);
            });
            pool.nap();
            // Bounded generously; a nap only makes it sooner than SPIN.
            let t = Instant::now();
            while pool.shared.sleepers.load(Ordering::SeqCst) < pool.workers.len()
                && t.elapsed() < Duration::from_secs(5)
            {
                std::thread::yield_now();
            }
        }
        pool.run(8, &|_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 21 * 8);
        // A worker descheduled for all of SPIN sleeps without seeing the
        // nap; in 20 rounds some nap is seen.
        assert!(pool.shared.napped.load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn sleeping_workers_wake_for_the_next_job() {
        let pool = Pool::new(2);
        let count = AtomicUsize::new(0);
        pool.run(8, &|_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        std::thread::sleep(SPIN * 5);
        pool.run(8, &|_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 16);
    }
}
