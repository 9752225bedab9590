//! A distributed launch: every rank runs the kernel's serial code on the CPU
//! engine; at each `prange` the hook below exchanges rows, picks the rank's
//! share of the iterations (whole global chunks when the loop reduces) and
//! afterwards merges partials, faults, rows written away from their owner
//! and atomic scatter updates.

use super::array::{DistBuffer, RawArray};
use super::comm::Comm;
use super::layout::{owned, Layout, Rows};
use super::plan::{self, Combine, LoopPlan, Plan, COMBINE_MAX_BYTES};
use crate::cpu::{FaultRecord, HookedKernel, ParHook};
use crate::error::{Error, Result};
use crate::ir::{self, ArrayId, ReduceOp, ScalarType, Value};
use crate::runtime::args::{Arg, ArrayData, ArrayDataMut};
use crate::runtime::Kernel;
use std::cell::RefCell;

/// One argument of a distributed launch.
pub enum DistArg<'a> {
    /// A scalar (the same on every rank).
    Scalar(Value),
    /// A distributed array.
    Array(&'a mut dyn DistBuffer),
}

impl<'a, T: crate::runtime::args::Element> From<&'a mut super::DistArray<T>> for DistArg<'a> {
    fn from(a: &'a mut super::DistArray<T>) -> DistArg<'a> {
        DistArg::Array(a)
    }
}

impl From<Value> for DistArg<'_> {
    fn from(v: Value) -> Self {
        DistArg::Scalar(v)
    }
}

/// A kernel compiled and planned for distributed launches.
pub struct DistKernel {
    kernel: Kernel,
    code: HookedKernel,
    plan: Plan,
    /// The plan of each `prange` by the id the CPU driver gives it.
    loops: Vec<Option<LoopPlan>>,
}

impl std::fmt::Debug for DistKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistKernel")
            .field("kernel", &self.kernel.name())
            .finish()
    }
}

impl DistKernel {
    /// Plans `kernel` (refusing writes that are not owner writes, with the
    /// array and line) and compiles it for the CPU engine.
    pub fn new(kernel: &Kernel) -> Result<DistKernel> {
        let module = kernel.module().ir().clone();
        let f = module.function(kernel.id());
        let plan = plan::plan(&module, f)?;
        let code = HookedKernel::compile(&module, kernel.id())?;
        // A loop the plan does not know (none should exist) runs whole on
        // every rank on gathered arrays: slow, never wrong.
        let unplanned = LoopPlan {
            redundant: Some("a `prange` the distributed plan does not know".into()),
            touched: (0..f.arrays.len() as u32).map(ArrayId).collect(),
            ..LoopPlan::default()
        };
        let loops = code
            .par_vars()
            .iter()
            .map(|v| {
                Some(
                    plan.loops
                        .get(v)
                        .cloned()
                        .unwrap_or_else(|| unplanned.clone()),
                )
            })
            .collect();
        Ok(DistKernel {
            kernel: kernel.clone(),
            code,
            plan,
            loops,
        })
    }

    /// The kernel.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// Launches on every rank (collective: all ranks pass the same scalars
    /// and arrays of the same shapes). Returns the same result, or the same
    /// located error, on every rank. Arrays stay distributed.
    pub fn launch(&self, comm: &Comm, args: &mut [DistArg]) -> Result<Option<Value>> {
        let module = self.kernel.module().ir().clone();
        let f = module.function(self.kernel.id());
        let bad = |m: String| Error::argument(f.name.clone(), m);
        if args.len() != f.params.len() {
            return Err(bad(format!(
                "expected {} arguments, got {}",
                f.params.len(),
                args.len()
            )));
        }
        let parts = comm.size();
        let mut layouts: Vec<Option<Layout>> = (0..f.arrays.len()).map(|_| None).collect();
        let mut scalars: Vec<Option<Value>> = vec![None; args.len()];
        for (k, (p, a)) in f.params.iter().zip(args.iter_mut()).enumerate() {
            match (p, a) {
                (ir::Param::Scalar(_), DistArg::Scalar(v)) => scalars[k] = Some(*v),
                (ir::Param::Array(id), DistArg::Array(buf)) => {
                    let RawArray { ptr, elem, shape } = buf.raw();
                    let decl = f.array(*id);
                    if elem != decl.elem || shape.len() != decl.rank as usize {
                        return Err(bad(format!(
                            "array `{}` is {}[{}-d], the kernel takes {}[{}-d]",
                            decl.name,
                            elem,
                            shape.len(),
                            decl.elem,
                            decl.rank
                        )));
                    }
                    let valid = buf.valid_mut().clone();
                    if valid.len() != parts {
                        return Err(bad(format!(
                            "array `{}` was distributed over {} ranks, this run has {parts}",
                            decl.name,
                            valid.len()
                        )));
                    }
                    let row_elems = shape.iter().skip(1).product();
                    layouts[id.index()] = Some(Layout {
                        ptr,
                        elem,
                        shape,
                        row_elems,
                        valid,
                    });
                }
                _ => return Err(bad(format!("argument {k} has the wrong kind"))),
            }
        }
        let mut layouts: Vec<Layout> = layouts
            .into_iter()
            .map(|l| l.ok_or_else(|| bad("an array parameter has no argument".into())))
            .collect::<Result<_>>()?;
        for (a, l) in layouts.iter_mut().enumerate() {
            if self.plan.serial_reads[a] && !l.replicated() {
                slow(
                    comm,
                    format_args!(
                        "`{}`: serial code reads `{}`, kept whole on every rank",
                        f.name, f.arrays[a].name
                    ),
                );
                l.replicate(comm);
            }
        }
        // The arguments of the one-process launch, over the full-size buffers.
        let mut cpu_args: Vec<Arg> = Vec::with_capacity(args.len());
        for (k, p) in f.params.iter().enumerate() {
            match p {
                ir::Param::Scalar(_) => {
                    cpu_args.push(Arg::Scalar(scalars[k].unwrap_or(Value::I32(0))))
                }
                ir::Param::Array(id) => {
                    // SAFETY: the buffer holds the shape's element count of
                    // its element type and outlives the launch; the hook
                    // writes only rows the generated code is not running on.
                    cpu_args.push(unsafe { arg_of(&layouts[id.index()], f.array(*id).mutable) })
                }
            }
        }
        let hook = Hook {
            comm,
            f,
            plan: &self.plan,
            loops: &self.loops,
            layouts: RefCell::new(std::mem::take(&mut layouts)),
            pending: RefCell::new(None),
        };
        let result = self.code.launch(&mut cpu_args, &hook);
        drop(cpu_args);
        let layouts = hook.layouts.into_inner();
        for (p, a) in f.params.iter().zip(args.iter_mut()) {
            if let (ir::Param::Array(id), DistArg::Array(buf)) = (p, a) {
                *buf.valid_mut() = layouts[id.index()].valid.clone();
            }
        }
        result
    }
}

/// Logs a slow path of a distributed launch (`KILN_LOG=dist`), once: on
/// rank 0 (every rank takes the same paths).
fn slow(comm: &Comm, what: std::fmt::Arguments) {
    if comm.is_root() {
        tracing::info!(target: "kiln::dist", "slow: {what}");
    }
}

/// A launch argument viewing a layout's buffer.
unsafe fn arg_of(l: &Layout, mutable: bool) -> Arg<'static> {
    let n: usize = l.shape.iter().product();
    let shape = l.shape.clone();
    macro_rules! view {
        ($t:ty, $v:ident) => {{
            let p = if n == 0 {
                std::ptr::NonNull::<$t>::dangling().as_ptr()
            } else {
                l.ptr.cast::<$t>()
            };
            if mutable {
                Arg::ArrayMut {
                    data: ArrayDataMut::$v(std::slice::from_raw_parts_mut(p, n)),
                    shape,
                }
            } else {
                Arg::Array {
                    data: ArrayData::$v(std::slice::from_raw_parts(p, n)),
                    shape,
                }
            }
        }};
    }
    match l.elem {
        ScalarType::I32 => view!(i32, I32),
        ScalarType::U32 => view!(u32, U32),
        ScalarType::I64 => view!(i64, I64),
        ScalarType::F32 => view!(f32, F32),
        ScalarType::F64 => view!(f64, F64),
        ScalarType::Bool => Arg::Scalar(Value::Bool(false)),
    }
}

/// What `enter` decided, for `exit`.
struct Pending {
    redundant: bool,
    /// Flat iteration range of every rank.
    ranges: Vec<(u64, u64)>,
    len: u64,
    /// First-axis values `[lo, hi)` each rank's range covers.
    rows: Vec<Option<(i128, i128)>>,
    /// Rows this rank writes but does not own, as they were before the loop.
    snapshots: Vec<(ArrayId, Rows, Vec<u8>)>,
}

struct Hook<'a> {
    comm: &'a Comm,
    f: &'a ir::Function,
    plan: &'a Plan,
    loops: &'a [Option<LoopPlan>],
    /// By array id.
    layouts: RefCell<Vec<Layout>>,
    pending: RefCell<Option<Pending>>,
}

// SAFETY: the CPU driver calls the hook only from the thread that launched
// (serial code), never from chunk threads.
unsafe impl Sync for Hook<'_> {}

fn clip(r: (i128, i128), rows: usize) -> Rows {
    let lo = r.0.clamp(0, rows as i128) as usize;
    let hi = r.1.clamp(0, rows as i128) as usize;
    (lo, hi.max(lo))
}

/// `a` minus `b` (both row intervals): up to two intervals.
fn minus(a: Rows, b: Rows) -> Vec<Rows> {
    if a.1 <= a.0 {
        return vec![];
    }
    if b.1 <= b.0 || b.1 <= a.0 || b.0 >= a.1 {
        return vec![a];
    }
    let mut out = vec![];
    if a.0 < b.0 {
        out.push((a.0, b.0));
    }
    if b.1 < a.1 {
        out.push((b.1, a.1));
    }
    out
}

impl Hook<'_> {
    fn name(&self, a: ArrayId) -> &str {
        &self.f.array(a).name
    }

    /// For every rank, the rows it writes (at offsets `lo..=hi` of the rows
    /// it runs) but does not own, split by owner: `(from, to, rows)`.
    fn foreign(
        &self,
        l: &Layout,
        rows: &[Option<(i128, i128)>],
        (lo, hi): (i64, i64),
    ) -> Vec<(usize, usize, Rows)> {
        let parts = self.comm.size();
        let mut out = vec![];
        for (q, r) in rows.iter().enumerate() {
            let Some(r) = r else { continue };
            let w = (r.0 + lo as i128, r.1 + hi as i128);
            for gap in minus(clip(w, l.rows()), l.owned(parts, q)) {
                for p in 0..parts {
                    let o = l.owned(parts, p);
                    let piece = (gap.0.max(o.0), gap.1.min(o.1));
                    if piece.0 < piece.1 {
                        out.push((q, p, piece));
                    }
                }
            }
        }
        out
    }
}

impl ParHook for Hook<'_> {
    fn enter(&self, loop_id: usize, bounds: &[(i64, u64)], total: u64, len: u64) -> (u64, u64) {
        let comm = self.comm;
        let (parts, me) = (comm.size(), comm.rank());
        let Some(lp) = self.loops.get(loop_id).and_then(|l| l.as_ref()) else {
            return (0, total);
        };
        let mut lay = self.layouts.borrow_mut();
        let too_big = lp
            .combines
            .iter()
            .find(|(a, _)| lay[a.index()].bytes() > COMBINE_MAX_BYTES);
        let why = match (&lp.redundant, too_big) {
            (Some(w), _) => Some(w.clone()),
            (None, Some((a, _))) => Some(format!(
                "`{}` takes scatter atomics and is larger than {} MiB",
                self.name(*a),
                COMBINE_MAX_BYTES >> 20
            )),
            _ => None,
        };
        if parts == 1 || why.is_some() {
            if let (Some(why), true) = (&why, parts > 1) {
                slow(
                    comm,
                    format_args!(
                        "`{}`: a `prange` runs whole on every rank: {why}",
                        self.f.name
                    ),
                );
            }
            for a in &lp.touched {
                lay[a.index()].replicate(comm);
            }
            *self.pending.borrow_mut() = Some(Pending {
                redundant: true,
                ranges: vec![(0, total); parts],
                len,
                rows: vec![],
                snapshots: vec![],
            });
            return (0, total);
        }
        let (lo0, n0) = (bounds[0].0 as i128, bounds[0].1 as i128);
        let inner = (total as u128 / n0.max(1) as u128).max(1);
        let mut flat = vec![0u64; parts + 1];
        flat[parts] = total;
        for (q, slot) in flat.iter_mut().enumerate().take(parts).skip(1) {
            let b = match lp.partition {
                Some(a) => owned(lay[a.index()].rows(), parts, q).0 as i128,
                None => lo0 + n0 * q as i128 / parts as i128,
            };
            let f = ((b.clamp(lo0, lo0 + n0) - lo0) as u128 * inner).min(total as u128) as u64;
            *slot = if lp.reductions {
                f.div_ceil(len).saturating_mul(len).min(total)
            } else {
                f
            };
        }
        for q in 1..=parts {
            flat[q] = flat[q].max(flat[q - 1]);
        }
        let ranges: Vec<(u64, u64)> = (0..parts).map(|q| (flat[q], flat[q + 1])).collect();
        let rows: Vec<Option<(i128, i128)>> = ranges
            .iter()
            .map(|&(a, b)| {
                (b > a).then(|| {
                    (
                        lo0 + (a as u128 / inner) as i128,
                        lo0 + ((b - 1) as u128 / inner) as i128 + 1,
                    )
                })
            })
            .collect();
        for a in lp.gathers.iter().chain(lp.combines.iter().map(|(a, _)| a)) {
            let l = &mut lay[a.index()];
            if !l.replicated() {
                slow(
                    comm,
                    format_args!(
                        "`{}`: `{}` is {}: gathered whole on every rank",
                        self.f.name,
                        self.name(*a),
                        if lp.gathers.contains(a) {
                            "read at rows the analysis cannot bound"
                        } else {
                            "updated by scatter atomics"
                        }
                    ),
                );
                l.replicate(comm);
            }
        }
        for &(a, cmin, cmax) in &lp.halos {
            let l = &mut lay[a.index()];
            let need: Vec<Rows> = rows
                .iter()
                .map(|r| match r {
                    Some((r0, r1)) => clip((r0 + cmin as i128, r1 + cmax as i128), l.rows()),
                    None => (0, 0),
                })
                .collect();
            l.fetch(comm, &need, false);
        }
        for (a, c) in &lp.combines {
            if *c == Combine::Add && me != 0 {
                let l = &lay[a.index()];
                fill_identity(l, ReduceOp::Add);
            }
        }
        let mut snapshots = vec![];
        for &(a, wlo, whi) in &lp.writes {
            let l = &lay[a.index()];
            let rb = l.row_bytes();
            for (q, _, r) in self.foreign(l, &rows, (wlo, whi)) {
                if q == me {
                    // SAFETY: rows inside this rank's full-size buffer.
                    let bytes = unsafe {
                        std::slice::from_raw_parts(l.ptr.add(r.0 * rb), (r.1 - r.0) * rb)
                    };
                    snapshots.push((a, r, bytes.to_vec()));
                }
            }
        }
        *self.pending.borrow_mut() = Some(Pending {
            redundant: false,
            ranges: ranges.clone(),
            len,
            rows,
            snapshots,
        });
        ranges[me]
    }

    fn exit(
        &self,
        loop_id: usize,
        _first_chunk: usize,
        n_chunks: usize,
        stride: usize,
        local: &[u64],
        fault: Option<(i64, FaultRecord)>,
    ) -> (Vec<u64>, Option<(i64, FaultRecord)>) {
        let comm = self.comm;
        let (parts, me) = (comm.size(), comm.rank());
        let pending = self.pending.borrow_mut().take();
        let (Some(lp), Some(pending)) = (self.loops.get(loop_id).and_then(|l| l.as_ref()), pending)
        else {
            return (local.to_vec(), fault);
        };
        // The earliest fault of all ranks (by flat chunk start).
        let fault = if parts > 1 {
            let words = match fault {
                Some((start, rec)) => [
                    1,
                    start as u64,
                    rec.site as u64,
                    rec.operands[0] as u64,
                    rec.operands[1] as u64,
                    rec.operands[2] as u64,
                ],
                None => [0; 6],
            };
            let all = comm.all_gather_u64(&words);
            all.chunks(6)
                .filter(|w| w[0] == 1)
                .map(|w| {
                    (
                        w[1] as i64,
                        FaultRecord {
                            site: w[2] as u32,
                            operands: [w[3] as i64, w[4] as i64, w[5] as i64],
                        },
                    )
                })
                .min_by_key(|(s, _)| *s)
        } else {
            fault
        };
        let partials = if lp.reductions && !pending.redundant {
            let len = pending.len;
            let counts: Vec<usize> = pending
                .ranges
                .iter()
                .map(|&(a, b)| {
                    if b > a {
                        (b.div_ceil(len) - a / len) as usize * stride
                    } else {
                        0
                    }
                })
                .collect();
            let all = comm.all_gather_varcount_u64(local, &counts);
            debug_assert_eq!(all.len(), n_chunks * stride);
            all
        } else {
            local.to_vec()
        };
        if fault.is_some() {
            return (partials, fault);
        }
        let mut lay = self.layouts.borrow_mut();
        if !pending.redundant {
            // Rows written away from their owner go to it: the elements
            // that changed, as (index, bytes).
            for &(a, wlo, whi) in &lp.writes {
                let l = &mut lay[a.index()];
                let pairs = self.foreign(l, &pending.rows, (wlo, whi));
                if pairs.is_empty() {
                    l.written(parts);
                    continue;
                }
                let es = l.elem_size();
                let rb = l.row_bytes();
                let mut sends: Vec<(usize, Vec<u8>)> = vec![];
                for (q, p, r) in &pairs {
                    if *q != me {
                        continue;
                    }
                    let snap = pending
                        .snapshots
                        .iter()
                        .find(|(x, rr, _)| *x == a && rr == r)
                        .map(|s| &s.2[..])
                        .unwrap_or(&[]);
                    // SAFETY: rows inside this rank's buffer.
                    let now = unsafe {
                        std::slice::from_raw_parts(l.ptr.add(r.0 * rb), (r.1 - r.0) * rb)
                    };
                    let mut msg = Vec::new();
                    for (k, (old, new)) in snap.chunks(es).zip(now.chunks(es)).enumerate() {
                        if old != new {
                            let at = (r.0 * rb / es + k) as u64;
                            msg.extend_from_slice(&at.to_le_bytes());
                            msg.extend_from_slice(new);
                        }
                    }
                    sends.push((*p, msg));
                }
                let from: Vec<usize> = pairs
                    .iter()
                    .filter(|(_, p, _)| *p == me)
                    .map(|(q, _, _)| *q)
                    .collect();
                for msg in comm.exchange_vecs(&sends, &from) {
                    for rec in msg.chunks(8 + es) {
                        if rec.len() < 8 + es {
                            continue;
                        }
                        let at = u64::from_le_bytes(rec[..8].try_into().unwrap_or([0; 8])) as usize;
                        if (at + 1) * es <= l.bytes() {
                            // SAFETY: checked against the buffer's size.
                            unsafe {
                                std::ptr::copy_nonoverlapping(
                                    rec[8..].as_ptr(),
                                    l.ptr.add(at * es),
                                    es,
                                )
                            };
                        }
                    }
                }
                l.written(parts);
            }
            for (a, c) in &lp.combines {
                let l = &mut lay[a.index()];
                combine_copies(comm, l, *c);
            }
        }
        for a in lp
            .writes
            .iter()
            .map(|w| &w.0)
            .chain(lp.combines.iter().map(|(a, _)| a))
        {
            if self.plan.serial_reads[a.index()] {
                lay[a.index()].replicate(comm);
            }
        }
        (partials, None)
    }
}

/// Fills this rank's copy with the operator's identity.
fn fill_identity(l: &Layout, op: ReduceOp) {
    let bits = op.identity(l.elem).to_bits();
    let es = l.elem_size();
    let n = l.bytes() / es.max(1);
    let bytes = bits.to_le_bytes();
    for k in 0..n {
        // SAFETY: inside the buffer.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), l.ptr.add(k * es), es) };
    }
}

/// Combines every rank's copy of a scatter-updated array, in rank order,
/// into every rank's buffer.
fn combine_copies(comm: &Comm, l: &mut Layout, c: Combine) {
    let n = l.bytes();
    let es = l.elem_size();
    // SAFETY: the whole buffer.
    let mine = unsafe { std::slice::from_raw_parts(l.ptr, n) };
    let all = comm.all_gather_bytes(mine);
    let op = match c {
        Combine::Add => ReduceOp::Add,
        Combine::MinMax(op) => op,
    };
    let read = |b: &[u8]| {
        let mut w = [0u8; 8];
        w[..es].copy_from_slice(b);
        Value::from_bits(l.elem, u64::from_le_bytes(w))
    };
    let mut out = all[..n].to_vec();
    for r in 1..comm.size() {
        let other = &all[r * n..(r + 1) * n];
        for (acc, x) in out.chunks_mut(es).zip(other.chunks(es)) {
            let v = op.combine(read(acc), read(x)).to_bits().to_le_bytes();
            acc.copy_from_slice(&v[..es]);
        }
    }
    // SAFETY: the whole buffer; `mine` is no longer used.
    unsafe { std::ptr::copy_nonoverlapping(out.as_ptr(), l.ptr, n) };
    let all_rows = l.all();
    for v in l.valid.iter_mut() {
        *v = all_rows;
    }
}
