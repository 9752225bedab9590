//! The GPU layer shared by the CUDA and wgpu backends (DESIGN section 4).
//!
//! A kernel becomes a [`GpuProgram`]: device source in one C-like dialect,
//! its entry points, and a host-driven [`schedule::Schedule`] of dispatches.
//! - `schedule` — the IR pass splitting a kernel into serial segments,
//!   parallel loops and host-driven control flow around them;
//! - `cgen` — THE one IR walk that emits device source through a
//!   [`cgen::Dialect`] (spelling only: all structure lives there);
//! - `host` — runs a program's schedule on any [`host::GpuDevice`] and turns
//!   the device's error record into the interpreter's `RuntimeError`;
//! - `wgsl` — the WGSL dialect.
//!
//! Device memory model, identical for every dialect:
//! - binding 0, the *frame*: 8-byte slots holding the bits of scalars
//!   (zero-extended `Value::to_bits`; bools 0/1). Slot `v` is kernel
//!   variable `VarId(v)`; after the variables come each array's extents and
//!   length, the control word, the result and scratch slots ([`FrameLayout`]);
//! - binding 1, the *error record*: [`ERROR_WORDS`] 32-bit words
//!   `{flag, site, op0 lo, op0 hi, op1 lo, op1 hi, op2 lo, op2 hi, zero}`
//!   (`zero` is never written: a 0 the shader compiler cannot see, for
//!   float zero literals that Mesa would otherwise fold `x * 0.0` with); the
//!   first invocation to raise the flag (atomic add returning 0) writes the
//!   rest; every dispatch does nothing once the flag is set;
//! - binding 2, the *reduction partials*: 8-byte slots, one per workgroup
//!   and reduction of a parallel loop ([`MAX_REDUCE_GROUPS`] per reduction);
//! - bindings 3.. : the array parameters in `ArrayId` order, each as a plain
//!   array of its element type (an array used by an atomic is an array of
//!   atomics; f32 atomics use 32-bit unsigned atomics holding the bits).

pub mod cgen;
pub mod host;
pub mod schedule;
pub mod wgsl;

// They validate WGSL with naga, which comes with the `wgpu` feature.
#[cfg(all(test, feature = "wgpu"))]
mod tests;

use crate::error::Result;
use crate::ir::{self, ArrayId, ScalarType, Span};

pub use cgen::Dialect;
pub use host::{ArrayBinding, GpuDevice, LaunchLayout};
pub use schedule::{Schedule, Step};

/// Lanes per workgroup of parallel and combine entries.
pub const WORKGROUP_SIZE: u32 = 256;
/// The most workgroups a parallel loop with reductions is dispatched with:
/// the combine entry (one workgroup) folds at most this many partials.
pub const MAX_REDUCE_GROUPS: u32 = 1024;
/// Words of the error record.
pub const ERROR_WORDS: usize = 9;

/// Control word values a serial segment leaves for the host.
pub const CONTROL_NONE: u64 = 0;
pub const CONTROL_BREAK: u64 = 1;
pub const CONTROL_CONTINUE: u64 = 2;
pub const CONTROL_RETURN: u64 = 3;

/// What one entry point does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// One lane runs a serial segment (dispatch exactly one workgroup).
    Serial,
    /// A parallel loop as a grid-stride loop; with reductions it writes one
    /// partial per workgroup and reduction into the partials buffer.
    Parallel { reductions: usize },
    /// One workgroup folds the partials of a parallel loop, in a fixed
    /// order, into the frame (dispatch exactly one workgroup).
    Combine,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EntryInfo {
    /// The entry point's name in the source.
    pub name: String,
    pub kind: EntryKind,
    /// Lanes per workgroup (`@workgroup_size` / CUDA block size).
    pub workgroup_size: u32,
}

/// Device capabilities a program needs, with the first construct needing
/// each (for the error when the device lacks it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Features {
    /// 64-bit floats anywhere (`SHADER_F64`).
    pub f64: Option<Span>,
    /// 64-bit integers (`SHADER_INT64`): always, since indices, extents and
    /// the frame are 64-bit.
    pub i64: bool,
    /// 64-bit atomics (`atomic_*` on i64/f64 arrays: add and CAS on u64).
    pub atomic64: Option<Span>,
}

/// What one binding holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingKind {
    Frame,
    Error,
    Partials,
    Array(ArrayId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The binding number (group 0 / kernel parameter position).
    pub binding: u32,
    pub kind: BindingKind,
    /// Only read by every entry (`var<storage, read>`).
    pub read_only: bool,
}

/// Where each scalar lives in the frame (indices are 8-byte slots).
#[derive(Clone, Debug, PartialEq)]
pub struct FrameLayout {
    /// Slot of kernel variable `v` is `v` (listed for readers: `var_slots`
    /// is the number of variables).
    pub var_slots: usize,
    /// Per array: the slots of its extents (3, padded with 1) and its length.
    pub shape_slots: Vec<[usize; 3]>,
    pub len_slots: Vec<usize>,
    /// The control word serial segments leave for host-driven loops.
    pub control: usize,
    /// The kernel's result (bits), written by `return`.
    pub result: usize,
    /// The workgroup count a parallel loop ran with (read by its combine).
    pub groups: usize,
    /// Scratch slots (6) written by header/condition entries for the host
    /// (and prange bounds for the parallel entry after them).
    pub scratch: usize,
    /// Total slots.
    pub slots: usize,
}

impl FrameLayout {
    pub fn var(&self, v: ir::VarId) -> usize {
        v.index()
    }
}

pub use crate::engine::fault::{FaultSite, SiteKind};

/// An array parameter as the device sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayInfo {
    pub name: String,
    pub elem: ScalarType,
    pub rank: u8,
    pub mutable: bool,
    /// Some access is atomic: the binding is an array of atomics.
    pub atomic: bool,
}

/// A kernel compiled to device source plus everything the host needs.
#[derive(Clone, Debug)]
pub struct GpuProgram {
    pub kernel: String,
    pub file: String,
    /// The dialect's name (`wgsl`, `cuda`).
    pub dialect: String,
    pub source: String,
    pub entries: Vec<EntryInfo>,
    pub schedule: Schedule,
    pub features: Features,
    pub frame: FrameLayout,
    pub bindings: Vec<Binding>,
    pub sites: Vec<FaultSite>,
    /// Indexed by `ArrayId`.
    pub arrays: Vec<ArrayInfo>,
    /// The kernel's parameters in order (scalars go to their frame slot).
    pub params: Vec<ir::Param>,
    pub ret: Option<ScalarType>,
    /// 8-byte slots of the partials buffer (at least 1).
    pub partial_slots: usize,
}

/// Compiles kernel `kernel` of `module` for `dialect`.
pub fn generate(
    module: &ir::Module,
    kernel: ir::FuncId,
    dialect: &dyn Dialect,
) -> Result<GpuProgram> {
    cgen::generate(module, kernel, dialect)
}
