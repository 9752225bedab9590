//! SPMD execution over MPI ranks (feature `mpi`; docs/distributed.md).
//!
//! A kernel written once runs on N ranks and returns the same bits as one
//! process on the CPU backend. Every rank runs the kernel's serial code
//! (scalars are identical everywhere); arrays are split in blocks of their
//! first axis ([`DistArray`]); a `prange` runs on each rank over the
//! iterations whose first index it owns, after halo rows (reads at constant
//! offsets of the loop's first variable) were exchanged or arrays read at
//! rows the analysis cannot bound were gathered. Loops with reductions run
//! whole global chunks (cut as in one process) and combine the partials in
//! global chunk order, so the bits do not depend on the number of ranks.
//!
//! ```no_run
//! use kiln::dist::{Comm, DistArg, DistArray, DistKernel};
//! use kiln::{Module, Value};
//!
//! let comm = Comm::init()?;
//! let module = Module::from_file("kernels/saxpy.kn")?;
//! let k = DistKernel::new(&module.kernel("saxpy")?)?;
//! let (x, y, shape) = (vec![1.0f32; 1000], vec![2.0f32; 1000], [1000usize]);
//! // Rank 0's data goes to the owners of its rows; the others pass `None`.
//! let mut x = DistArray::scatter(&comm, comm.is_root().then(|| (&x[..], &shape[..])))?;
//! let mut y = DistArray::scatter(&comm, comm.is_root().then(|| (&y[..], &shape[..])))?;
//! k.launch(&comm, &mut [DistArg::Scalar(Value::F32(2.0)), (&mut x).into(), (&mut y).into()])?;
//! if let Some(y) = y.gather(&comm) {
//!     assert_eq!(y[0], 4.0);
//! }
//! # Ok::<(), kiln::Error>(())
//! ```

mod array;
mod comm;
mod launch;
mod layout;
mod plan;

pub use array::{DistArray, DistBuffer, RawArray};
pub use comm::Comm;
pub use launch::{DistArg, DistKernel};

use crate::error::{Error, Result};
use crate::inputs::{HostValue, ParamInfo};
use crate::ir::Value;
use array::HostDist;
use layout::Layout;

/// The rows `[lo, hi)` of an array with `rows` rows that this rank owns:
/// `[p·rows/N, (p+1)·rows/N)` for rank p of N.
pub fn block(comm: &Comm, rows: usize) -> std::ops::Range<usize> {
    let (lo, hi) = layout::owned(rows, comm.size(), comm.rank());
    lo..hi
}

/// Launches `kernel` once on distributed arrays (plans and compiles it each
/// time; keep a [`DistKernel`] to launch repeatedly).
pub fn launch(comm: &Comm, kernel: &crate::Kernel, args: &mut [DistArg]) -> Result<Option<Value>> {
    DistKernel::new(kernel)?.launch(comm, args)
}

/// Ends every rank when this process panics (MPI_Abort after the message),
/// so that no rank waits forever for a rank that died.
pub fn abort_on_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        // SAFETY: MPI_Abort on the world communicator; MPI is initialised
        // while a `Comm` lives (and aborting otherwise is harmless).
        unsafe {
            mpi::ffi::MPI_Abort(mpi::ffi::RSMPI_COMM_WORLD, 1);
        }
    }));
}

/// Rank 0's kernel module on every rank: rank 0 passes the module it read
/// (or the error reading it), the others `None` and compile the source it
/// sends under the name `file`. An error on rank 0 is returned there; the
/// others get [`Error::Backend`] saying rank 0 failed (rank 0 reports the
/// cause), as [`share_values`].
pub fn share_module(
    comm: &Comm,
    root: Option<Result<crate::runtime::Module>>,
    file: &str,
) -> Result<crate::runtime::Module> {
    let text = match &root {
        Some(Ok(m)) => [&[0u8][..], m.source().as_bytes()].concat(),
        Some(Err(_)) => vec![1u8],
        None => vec![],
    };
    let text = comm.broadcast_bytes(&text);
    match root {
        Some(m) => m,
        None if text.first() == Some(&0) => {
            crate::runtime::Module::from_source(file, &String::from_utf8_lossy(&text[1..]))
        }
        None => Err(Error::Backend {
            backend: "mpi".into(),
            message: "rank 0 could not read the kernel file".into(),
        }),
    }
}

/// Rank 0's launch values on every rank, for the command line: rank 0 passes
/// the values it read (or the error reading them), the others `None`. The
/// other ranks get the scalars and zeroed arrays of the same shapes (filled
/// by the scatter). An error on rank 0 is returned there; the others get
/// [`Error::Backend`] saying rank 0 failed (rank 0 reports the cause).
pub fn share_values(
    comm: &Comm,
    params: &[ParamInfo],
    root: Option<Result<Vec<HostValue>>>,
) -> Result<Vec<HostValue>> {
    let mut head: Vec<u64> = vec![];
    let mut root_values = None;
    let mut root_error = None;
    match root {
        Some(Ok(values)) if comm.is_root() => {
            head.push(0);
            for v in &values {
                match v {
                    HostValue::Scalar(x) => head.push(x.to_bits()),
                    HostValue::Array(a) => {
                        head.push(a.shape().len() as u64);
                        head.extend(a.shape().iter().map(|&d| d as u64));
                    }
                }
            }
            root_values = Some(values);
        }
        Some(Err(e)) if comm.is_root() => {
            head.push(1);
            root_error = Some(e);
        }
        _ => {}
    }
    let bytes: Vec<u8> = head.iter().flat_map(|w| w.to_le_bytes()).collect();
    let bytes = comm.broadcast_bytes(&bytes);
    let words: Vec<u64> = bytes
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    if let Some(e) = root_error {
        return Err(e);
    }
    if words.first() != Some(&0) {
        return Err(Error::Backend {
            backend: "mpi".into(),
            message: "rank 0 could not prepare the arguments".into(),
        });
    }
    if let Some(v) = root_values {
        return Ok(v);
    }
    let mut at = 1;
    let mut next = || {
        let w = words.get(at).copied().unwrap_or(0);
        at += 1;
        w
    };
    params
        .iter()
        .map(|p| {
            if p.ty.is_array() {
                let rank = next() as usize;
                let shape: Vec<usize> = (0..rank).map(|_| next() as usize).collect();
                array::zeroed_host(p.ty.elem(), &shape)
                    .map(HostValue::Array)
                    .ok_or_else(|| Error::Backend {
                        backend: "mpi".into(),
                        message: format!("cannot make a buffer for `{}`", p.name),
                    })
            } else {
                Ok(HostValue::Scalar(Value::from_bits(p.ty.elem(), next())))
            }
        })
        .collect()
}

/// One distributed launch on the command line's values: rank 0's arrays
/// are scattered, the kernel runs on every rank, the `mut` arrays are
/// gathered back to rank 0. Collective.
pub fn run_host(
    comm: &Comm,
    kernel: &DistKernel,
    params: &[ParamInfo],
    values: &mut [HostValue],
) -> Result<Option<Value>> {
    run_host_timed(comm, kernel, params, values).map(|r| r.0)
}

/// Seconds of the phases of [`run_host_timed`] (each phase starts and ends
/// with a barrier, so these are the slowest rank's).
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Rank 0's arrays to their owners.
    pub scatter: f64,
    /// The launch, halo exchanges and gathers inside it included.
    pub launch: f64,
    /// The part of `launch` spent in communication (on rank 0).
    pub launch_comm: f64,
    /// The `mut` arrays back to rank 0.
    pub gather: f64,
}

/// [`run_host`], timing its phases.
pub fn run_host_timed(
    comm: &Comm,
    kernel: &DistKernel,
    params: &[ParamInfo],
    values: &mut [HostValue],
) -> Result<(Option<Value>, Timings)> {
    let mut t = Timings::default();
    let clock = |comm: &Comm| {
        comm.barrier();
        comm.take_seconds();
        std::time::Instant::now()
    };
    let start = clock(comm);
    let parts = comm.size();
    let scalars: Vec<Option<Value>> = values
        .iter()
        .map(|v| match v {
            HostValue::Scalar(x) => Some(*x),
            _ => None,
        })
        .collect();
    let mut bufs: Vec<Option<HostDist>> = Vec::new();
    for v in values.iter_mut() {
        match v {
            HostValue::Array(a) => {
                let rows = a.shape().first().copied().unwrap_or(0);
                let mut d = HostDist::new(a, Layout::on_root(rows, parts));
                let mut l = layout_of(&mut d);
                l.scatter(comm, false);
                d.valid = l.valid;
                bufs.push(Some(d));
            }
            _ => bufs.push(None),
        }
    }
    t.scatter = start.elapsed().as_secs_f64();
    let start = clock(comm);
    let mut args: Vec<DistArg> = Vec::new();
    for (b, s) in bufs.iter_mut().zip(&scalars) {
        match b {
            Some(d) => args.push(DistArg::Array(d)),
            None => args.push(DistArg::Scalar(s.unwrap_or(Value::I32(0)))),
        }
    }
    let result = kernel.launch(comm, &mut args);
    drop(args);
    let launch_comm = comm.take_seconds();
    comm.barrier();
    t.launch = start.elapsed().as_secs_f64();
    t.launch_comm = launch_comm;
    let result = result?;
    let start = clock(comm);
    for (b, p) in bufs.iter_mut().zip(params) {
        if let (Some(d), true) = (b, p.ty.is_mut_array()) {
            let mut l = layout_of(d);
            l.gather_to_root(comm);
            d.valid = l.valid;
        }
    }
    t.gather = start.elapsed().as_secs_f64();
    Ok((result, t))
}

fn layout_of(d: &mut dyn DistBuffer) -> Layout {
    let RawArray { ptr, elem, shape } = d.raw();
    let row_elems = shape.iter().skip(1).product();
    Layout {
        ptr,
        elem,
        shape,
        row_elems,
        valid: d.valid_mut().clone(),
    }
}
