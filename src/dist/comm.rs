//! The communicator handle and the few MPI operations kiln uses: row
//! transfers between ranks (non-blocking point-to-point, matched in one
//! order that every rank computes alike), all-gathers of small words, and
//! broadcasts from rank 0.

use crate::error::{Error, Result};
use mpi::collective::{CommunicatorCollectives, Root};
use mpi::point_to_point::{Destination, Source};
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::Equivalence;
use std::cell::Cell;
use std::time::Instant;

/// The ranks of one distributed run: MPI's world communicator. Made once per
/// process ([`Comm::init`]); MPI is finalised when it is dropped.
pub struct Comm {
    world: SimpleCommunicator,
    local_ranks: usize,
    node_cores: usize,
    threads: usize,
    /// Seconds spent in communication since the last [`Comm::take_seconds`].
    seconds: Cell<f64>,
    // Dropped with the last communicator made from it: finalises MPI.
    universe: std::rc::Rc<mpi::environment::Universe>,
}

impl std::fmt::Debug for Comm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Comm")
            .field("rank", &self.rank())
            .field("size", &self.size())
            .finish()
    }
}

impl Comm {
    /// Initialises MPI (once per process) and sizes the CPU backend's pool:
    /// the cores divided by the ranks on this node (`KILN_NUM_THREADS`
    /// overrides), so oversubscribed nodes get one thread per rank and no
    /// spinning.
    pub fn init() -> Result<Comm> {
        let universe = mpi::initialize().ok_or_else(|| Error::Backend {
            backend: "mpi".into(),
            message: "MPI was already initialised in this process".into(),
        })?;
        let world = universe.world();
        let local_ranks = world.split_shared(0).size().max(1) as usize;
        let affinity = std::thread::available_parallelism().map_or(1, |n| n.get());
        let node_cores = node_cores().max(affinity);
        let env = std::env::var("KILN_NUM_THREADS")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|&n| n > 0);
        // A rank that mpirun bound to some cores uses those; an unbound one
        // shares the node's cores with the node's other ranks.
        let share = if affinity < node_cores {
            affinity
        } else {
            (node_cores / local_ranks).max(1)
        };
        let threads = env.unwrap_or(share);
        crate::cpu::set_core_share(share);
        crate::cpu::set_num_threads(threads);
        Ok(Comm {
            world,
            local_ranks,
            node_cores,
            threads,
            seconds: Cell::new(0.0),
            universe: std::rc::Rc::new(universe),
        })
    }

    /// The first `ranks` ranks as a communicator of their own (`None` on
    /// the others). Collective over `self`. `kiln bench --distributed` runs
    /// on 1, 2, 4 … ranks of one job this way.
    pub fn split(&self, ranks: usize) -> Option<Comm> {
        use mpi::topology::Color;
        let color = if self.rank() < ranks {
            Color::with_value(0)
        } else {
            Color::undefined()
        };
        let sub = self.world.split_by_color(color)?;
        Some(Comm {
            local_ranks: sub.split_shared(0).size().max(1) as usize,
            world: sub,
            node_cores: self.node_cores,
            threads: self.threads,
            seconds: Cell::new(0.0),
            universe: self.universe.clone(),
        })
    }

    /// This process's rank, `0..size()`.
    pub fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.world.size() as usize
    }

    /// Whether this is rank 0 (reads inputs, writes outputs, prints).
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// Ranks on this node (sharing its memory).
    pub fn local_ranks(&self) -> usize {
        self.local_ranks
    }

    /// Cores of this node (online CPUs, whatever this rank is bound to).
    pub fn node_cores(&self) -> usize {
        self.node_cores
    }

    /// Threads each rank's CPU engine runs `prange` chunks on.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Waits for every rank.
    pub fn barrier(&self) {
        self.timed(|| self.world.barrier());
    }

    /// Waits for every rank without spinning (a non-blocking barrier polled
    /// every 200 µs): for ranks that idle while others work, so that they
    /// leave the cores to them.
    pub fn idle_barrier(&self) {
        let mut req = self.world.immediate_barrier();
        loop {
            match req.test() {
                Ok(_) => return,
                Err(r) => {
                    req = r;
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            }
        }
    }

    /// Seconds spent in communication since the last call (scatter, halo
    /// exchanges, gathers, partials), and resets the count.
    pub fn take_seconds(&self) -> f64 {
        self.seconds.replace(0.0)
    }

    /// Ends every rank's process with `code` (MPI_Abort): for a rank that
    /// cannot go on while others wait for it.
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    pub(crate) fn timed<R>(&self, f: impl FnOnce() -> R) -> R {
        let t = Instant::now();
        let r = f();
        self.seconds
            .set(self.seconds.get() + t.elapsed().as_secs_f64());
        r
    }

    /// Rank 0's bytes on every rank (`data` is read on rank 0 only).
    pub fn broadcast_bytes(&self, data: &[u8]) -> Vec<u8> {
        self.timed(|| {
            let root = self.world.process_at_rank(0);
            let mut len = [data.len() as u64];
            root.broadcast_into(&mut len[..]);
            let mut buf = if self.is_root() {
                data.to_vec()
            } else {
                vec![0u8; len[0] as usize]
            };
            for piece in buf.chunks_mut(MAX_MESSAGE) {
                root.broadcast_into(piece);
            }
            buf
        })
    }

    /// Every rank's `words`, concatenated in rank order (same length on all).
    pub(crate) fn all_gather_u64(&self, words: &[u64]) -> Vec<u64> {
        self.timed(|| {
            let mut out = vec![0u64; words.len() * self.size()];
            self.world.all_gather_into(words, &mut out[..]);
            out
        })
    }

    /// Every rank's `words` of lengths `counts[rank]`, concatenated in rank
    /// order.
    pub(crate) fn all_gather_varcount_u64(&self, words: &[u64], counts: &[usize]) -> Vec<u64> {
        self.timed(|| {
            let total: usize = counts.iter().sum();
            let mut out = vec![0u64; total];
            let c: Vec<i32> = counts.iter().map(|&n| n as i32).collect();
            let d: Vec<i32> = counts
                .iter()
                .scan(0i32, |acc, &n| {
                    let at = *acc;
                    *acc += n as i32;
                    Some(at)
                })
                .collect();
            let mut part = mpi::datatype::PartitionMut::new(&mut out[..], &c[..], &d[..]);
            self.world.all_gather_varcount_into(words, &mut part);
            out
        })
    }

    /// Runs the byte transfers `list` (all ranks pass the same list): rank
    /// `from` sends `src` of its buffer, rank `to` receives it into `dst`.
    /// Sends and receives between one pair match in list order.
    ///
    /// # Safety
    /// The pointers of each transfer this rank takes part in must be valid
    /// for its length; received ranges must not overlap sent ones.
    pub(crate) unsafe fn exchange(&self, list: &[Transfer]) {
        let me = self.rank();
        if !list.iter().any(|t| t.from == me || t.to == me) {
            return;
        }
        self.timed(|| {
            mpi::request::scope(|scope| {
                let mut reqs = Vec::new();
                for t in list.iter().filter(|t| t.from == me) {
                    let s = std::slice::from_raw_parts(t.src, t.len);
                    reqs.push(
                        self.world
                            .process_at_rank(t.to as i32)
                            .immediate_send(scope, s),
                    );
                }
                for t in list.iter().filter(|t| t.to == me) {
                    let r = std::slice::from_raw_parts_mut(t.dst, t.len);
                    reqs.push(
                        self.world
                            .process_at_rank(t.from as i32)
                            .immediate_receive_into(scope, r),
                    );
                }
                for r in reqs {
                    r.wait();
                }
            })
        })
    }

    /// Sends each `(to, bytes)` and receives one message from each rank in
    /// `from` (in that order), of any length.
    pub(crate) fn exchange_vecs(&self, sends: &[(usize, Vec<u8>)], from: &[usize]) -> Vec<Vec<u8>> {
        self.timed(|| {
            mpi::request::scope(|scope| {
                let reqs: Vec<_> = sends
                    .iter()
                    .map(|(to, bytes)| {
                        self.world
                            .process_at_rank(*to as i32)
                            .immediate_send(scope, &bytes[..])
                    })
                    .collect();
                let got = from
                    .iter()
                    .map(|&p| self.world.process_at_rank(p as i32).receive_vec::<u8>().0)
                    .collect();
                for r in reqs {
                    r.wait();
                }
                got
            })
        })
    }

    /// Every rank's bytes (each rank passes the same length), in rank order.
    pub(crate) fn all_gather_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        self.timed(|| {
            let mut out = vec![0u8; bytes.len() * self.size()];
            if bytes.len() <= MAX_MESSAGE {
                self.world.all_gather_into(bytes, &mut out[..]);
            } else {
                // Piecewise, then reassembled per rank.
                let n = bytes.len();
                let p = self.size();
                for (k, piece) in bytes.chunks(MAX_MESSAGE).enumerate() {
                    let mut tmp = vec![0u8; piece.len() * p];
                    self.world.all_gather_into(piece, &mut tmp[..]);
                    for r in 0..p {
                        let at = r * n + k * MAX_MESSAGE;
                        out[at..at + piece.len()]
                            .copy_from_slice(&tmp[r * piece.len()..(r + 1) * piece.len()]);
                    }
                }
            }
            out
        })
    }

    /// Rank 0's value of `x` on every rank.
    pub(crate) fn broadcast_u64(&self, x: u64) -> u64 {
        broadcast_one(self, x)
    }
}

/// Online CPUs of this machine (Linux: /sys/devices/system/cpu/online,
/// e.g. `0-3,8-11`); 0 where unknown.
fn node_cores() -> usize {
    let Ok(text) = std::fs::read_to_string("/sys/devices/system/cpu/online") else {
        return 0;
    };
    text.trim()
        .split(',')
        .filter_map(|part| match part.split_once('-') {
            Some((a, b)) => {
                Some(b.trim().parse::<usize>().ok()? + 1 - a.trim().parse::<usize>().ok()?)
            }
            None => part.trim().parse::<usize>().ok().map(|_| 1),
        })
        .sum()
}

fn broadcast_one<T: Equivalence + Copy>(c: &Comm, x: T) -> T {
    c.timed(|| {
        let mut v = [x];
        c.world.process_at_rank(0).broadcast_into(&mut v[..]);
        v[0]
    })
}

/// Largest message in bytes (MPI counts are `int`).
pub(crate) const MAX_MESSAGE: usize = 1 << 30;

/// One contiguous byte range sent from rank `from` to rank `to`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Transfer {
    pub from: usize,
    pub to: usize,
    /// Source address on `from` (meaningful there only).
    pub src: *const u8,
    /// Destination address on `to` (meaningful there only).
    pub dst: *mut u8,
    pub len: usize,
}
