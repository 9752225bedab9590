//! THE one IR walk emitting device source for both C-like targets. All
//! structure (flattening expressions into temporaries, checks, fault exits,
//! frame traffic, grid-stride loops, function layout) lives here; a
//! [`Dialect`] only spells things.
//!
//! Expressions are flattened: `expr` emits the statements an expression
//! needs (bounds and divisor checks, short-circuit branches, calls, loads,
//! atomics bound to temporaries) and returns a side-effect-free expression
//! string, so evaluation order and fault order follow the interpreter's.

use super::schedule::{self, Unit};
use super::{
    ArrayInfo, Binding, BindingKind, EntryInfo, EntryKind, FaultSite, Features, FrameLayout,
    GpuProgram, SiteKind, CONTROL_BREAK, CONTROL_CONTINUE, CONTROL_RETURN, MAX_REDUCE_GROUPS,
    WORKGROUP_SIZE,
};
use crate::error::{Error, Result};
use crate::ir::{
    self, visit, Access, AtomicOp, BinOp, Block, Builtin, Expr, ExprKind, FuncId, Function,
    ReduceOp, ScalarType, Span, Stmt, StmtKind, UnOp, Value, VarId,
};
use std::collections::{BTreeSet, HashMap};

mod analysis;
mod expr;
mod stmt;
mod units;

use analysis::{array_infos, frame_layout, function_can_fault, helper_order};

/// A function parameter as a dialect declares it.
#[derive(Clone, Debug)]
pub struct FnParam {
    pub name: String,
    pub ty: ScalarType,
    /// Passed by pointer (a reduction partial the callee updates).
    pub by_ref: bool,
}

/// An array binding as code refers to it.
#[derive(Clone, Debug)]
pub struct ArrayRef {
    /// The binding's name in the source.
    pub name: String,
    pub elem: ScalarType,
    pub atomic: bool,
}

/// One reduction of a parallel loop, for the entry wrappers.
#[derive(Clone, Debug)]
pub struct ReductionSlot {
    pub ty: ScalarType,
    /// The identity as a literal of `ty`.
    pub identity: String,
    /// Name of the emitted `fn(a: ty, b: ty) -> ty` combining two partials.
    pub combine_fn: String,
    /// First partials slot of this reduction (one per workgroup).
    pub partial_base: usize,
    /// The frame slot of the reduction variable.
    pub frame_slot: usize,
}

/// What the module prelude must declare.
#[derive(Clone, Debug)]
pub struct PreludeInfo<'a> {
    pub bindings: &'a [Binding],
    /// Indexed by `ArrayId`, with each binding's source name.
    pub arrays: &'a [(ArrayInfo, String)],
    /// Some parallel loop reduces (workgroup scratch memory is needed).
    pub reductions: bool,
    pub features: &'a Features,
    /// The builtins the program calls, with their argument type (a dialect
    /// may include library functions on demand).
    pub builtins: &'a BTreeSet<(Builtin, ScalarType)>,
}

/// How one target spells what the walk emits. Every method returns source
/// text; statement methods include their terminator.
pub trait Dialect {
    /// `wgsl` or `cuda`.
    fn name(&self) -> &'static str;
    fn ty(&self, t: ScalarType) -> String;
    fn literal(&self, v: Value) -> String;
    /// A mutable local, zero-initialised.
    fn declare(&self, name: &str, t: ScalarType) -> String;
    /// An immutable temporary.
    fn bind(&self, name: &str, t: ScalarType, value: &str) -> String;
    fn assign(&self, place: &str, value: &str) -> String;
    /// `t` is the operand type.
    fn unary(&self, op: UnOp, t: ScalarType, a: &str) -> String;
    /// Any operator but integer `/` `%` and `&&` `||` (handled by the walk);
    /// `t` is the operand type. Integers wrap, shifts mask the amount.
    fn binary(&self, op: BinOp, t: ScalarType, a: &str, b: &str) -> String;
    /// `/` or `%`: for integers the divisor is known non-zero (`MIN / -1`
    /// must wrap, `MIN % -1` is 0); floats: IEEE `/` and Rust's `%` (fmod).
    fn div_rem(&self, op: BinOp, t: ScalarType, a: &str, b: &str) -> String;
    /// Rust `as`.
    fn cast(&self, from: ScalarType, to: ScalarType, a: &str) -> String;
    /// A builtin with Rust semantics; `t` is the type of the (first numeric)
    /// argument. `None`: the target cannot express it.
    fn builtin(&self, f: Builtin, t: ScalarType, args: &[String]) -> Option<String>;
    /// A bounds-checked `i64` offset narrowed to the target's index type.
    fn narrow_index(&self, offset: &str) -> String;
    fn array_load(&self, array: &ArrayRef, index: &str) -> String;
    fn array_store(&self, array: &ArrayRef, index: &str, value: &str) -> String;
    /// Statements that apply `op` atomically and leave the element's old
    /// value in the already declared local `result`.
    fn atomic(
        &self,
        op: AtomicOp,
        array: &ArrayRef,
        index: &str,
        value: &str,
        result: &str,
    ) -> String;
    /// The frame slot `slot` (an expression of the index type) as a `t`.
    fn frame_load(&self, t: ScalarType, slot: &str) -> String;
    fn frame_store(&self, t: ScalarType, slot: &str, value: &str) -> String;
    /// Records a fault at `site` with `i64` operands, unless another
    /// invocation recorded one first.
    fn raise(&self, site: u32, operands: &[String]) -> String;
    /// A `bool` expression: some invocation has faulted.
    fn raised(&self) -> String;
    /// Block structure: both targets use C's braces, so these default to it.
    fn if_open(&self, cond: &str) -> String {
        format!("if ({cond}) {{")
    }
    fn else_open(&self) -> String {
        "} else {".into()
    }
    fn close(&self) -> String {
        "}".into()
    }
    /// An endless loop (left with `brk`).
    fn loop_open(&self) -> String;
    /// `for (counter = 0; counter < count; counter += 1) {` over `i64`.
    fn for_open(&self, counter: &str, count: &str) -> String;
    /// `for (counter = first; counter < total; counter += step) {` over
    /// `i64`, `continue` going to the increment.
    fn grid_loop_open(&self, counter: &str, first: &str, total: &str, step: &str) -> String;
    /// The most iterations one loop may run on this target's weakest
    /// driver (lavapipe stops any loop after 65535): serial loops are then
    /// split into chunks of at most this many. `None`: no limit.
    fn max_loop_trips(&self) -> Option<u32> {
        None
    }
    /// Jumps, spelled alike in C and WGSL.
    fn brk(&self) -> String {
        "break;".into()
    }
    fn cont(&self) -> String {
        "continue;".into()
    }
    fn ret(&self, value: Option<&str>) -> String {
        match value {
            Some(v) => format!("return {v};"),
            None => "return;".into(),
        }
    }
    fn function_open(&self, name: &str, params: &[FnParam], ret: Option<ScalarType>) -> String;
    /// The value behind a `by_ref` parameter (also assignable).
    fn deref(&self, ptr: &str) -> String {
        format!("(*{ptr})")
    }
    /// A pointer to a local, to pass as a `by_ref` argument.
    fn address_of(&self, var: &str) -> String {
        format!("(&{var})")
    }
    /// A call evaluated only for its effects.
    fn discard(&self, call: &str) -> String;
    /// Buffer declarations and helper functions.
    fn prelude(&self, info: &PreludeInfo) -> String;
    /// An entry running `inner()` (no parameters, no result) on one lane
    /// when no fault has been recorded.
    fn serial_entry(&self, name: &str, inner: &str) -> String;
    /// An entry calling `inner(lane: i64, lanes: i64, partials…) -> bool`
    /// on every lane of a 1-D grid (when no fault has been recorded), then
    /// reducing each partial over the workgroup and storing it at
    /// `partial_base + workgroup`; lane 0 of workgroup 0 stores the group
    /// count in frame slot `groups_slot`.
    fn parallel_entry(
        &self,
        name: &str,
        inner: &str,
        reductions: &[ReductionSlot],
        groups_slot: usize,
    ) -> String;
    /// One workgroup folding the partials written by a parallel entry (their
    /// count in frame slot `groups_slot`) in a fixed order, then storing
    /// `v = v OP folded` into each reduction's frame slot.
    fn combine_entry(&self, name: &str, reductions: &[ReductionSlot], groups_slot: usize)
        -> String;
}

/// Compiles one kernel (see [`super::generate`]).
pub fn generate(
    module: &ir::Module,
    kernel_id: FuncId,
    dialect: &dyn Dialect,
) -> Result<GpuProgram> {
    let kernel = module
        .functions
        .get(kernel_id.index())
        .ok_or_else(|| Error::Backend {
            backend: dialect.name().into(),
            message: format!("no function #{}", kernel_id.0),
        })?;
    let (schedule, units) = schedule::build(kernel);
    let frame = frame_layout(kernel);
    let arrays = array_infos(kernel);
    let mut bindings = vec![
        Binding {
            binding: 0,
            kind: BindingKind::Frame,
            read_only: false,
        },
        Binding {
            binding: 1,
            kind: BindingKind::Error,
            read_only: false,
        },
        Binding {
            binding: 2,
            kind: BindingKind::Partials,
            read_only: false,
        },
    ];
    for (a, info) in arrays.iter().enumerate() {
        bindings.push(Binding {
            binding: 3 + a as u32,
            kind: BindingKind::Array(ir::ArrayId(a as u32)),
            read_only: !info.mutable && !info.atomic,
        });
    }
    let mut g = Gen {
        d: dialect,
        module,
        kernel,
        out: String::new(),
        sites: Vec::new(),
        features: Features {
            i64: true,
            ..Features::default()
        },
        frame: frame.clone(),
        arrays: arrays
            .iter()
            .enumerate()
            .map(|(a, info)| ArrayRef {
                name: format!("a{a}"),
                elem: info.elem,
                atomic: info.atomic,
            })
            .collect(),
        ctx: Ctx::default(),
        temps: 0,
        helper_names: HashMap::new(),
        can_fault: HashMap::new(),
        combine_fns: BTreeSet::new(),
        builtins: BTreeSet::new(),
    };
    g.scan_features(kernel)?;
    let helpers = helper_order(module, kernel);
    for &h in &helpers {
        let name = format!("kiln_fn{}_{}", h.0, sanitize(&module.function(h).name));
        g.helper_names.insert(h, name);
        let fault = function_can_fault(module, module.function(h), &g.can_fault);
        g.can_fault.insert(h, fault);
        g.scan_features(module.function(h))?;
    }
    let mut body = String::new();
    for &h in &helpers {
        g.helper(h)?;
        body.push_str(&std::mem::take(&mut g.out));
    }
    let mut entries = Vec::new();
    let mut partial_slots = 1usize;
    for (k, unit) in units.iter().enumerate() {
        let (text, info) = g.unit(k, unit, &mut partial_slots)?;
        body.push_str(&std::mem::take(&mut g.out));
        body.push_str(&text);
        entries.push(info);
    }
    let combine_text = g.combine_functions();
    let named: Vec<(ArrayInfo, String)> = arrays
        .iter()
        .cloned()
        .zip(g.arrays.iter().map(|a| a.name.clone()))
        .collect();
    let prelude = dialect.prelude(&PreludeInfo {
        bindings: &bindings,
        arrays: &named,
        reductions: units.iter().any(|u| matches!(u, Unit::Combine(_))),
        features: &g.features,
        builtins: &g.builtins,
    });
    let source = format!(
        "// kernel `{}` of {}, generated by kiln\n{prelude}\n{combine_text}\n{body}",
        kernel.name, module.file
    );
    Ok(GpuProgram {
        kernel: kernel.name.clone(),
        file: module.file.clone(),
        dialect: dialect.name().to_string(),
        source,
        entries,
        schedule,
        features: g.features,
        frame,
        bindings,
        sites: g.sites,
        arrays,
        params: kernel.params.clone(),
        ret: kernel.ret,
        partial_slots,
    })
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// What kind of function is being emitted: decides how a fault exits and
/// how `break`/`continue`/`return` leave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum FnKind {
    /// A serial segment: `return;`, flushing written variables first when
    /// leaving normally.
    #[default]
    Serial,
    /// A parallel loop body: `return false;` on a fault.
    Parallel,
    /// A helper returning `ty`: a fault returns zero.
    Helper(Option<ScalarType>),
}

#[derive(Clone, Debug, Default)]
struct Ctx {
    kind: FnKind,
    /// Loops opened inside the current function around the current point.
    loop_depth: usize,
    /// Per open serial loop: the "done" flag of a chunked loop (see
    /// `Dialect::max_loop_trips`), which `break` must set.
    loop_flags: Vec<Option<String>>,
    /// Reduction variables of the current parallel loop (by-pointer params).
    reductions: BTreeSet<VarId>,
    /// Variables a serial segment writes (stored to the frame on exits).
    written: BTreeSet<VarId>,
    indent: usize,
}

struct Gen<'a> {
    d: &'a dyn Dialect,
    module: &'a ir::Module,
    kernel: &'a Function,
    out: String,
    sites: Vec<FaultSite>,
    features: Features,
    frame: FrameLayout,
    arrays: Vec<ArrayRef>,
    ctx: Ctx,
    temps: usize,
    helper_names: HashMap<FuncId, String>,
    can_fault: HashMap<FuncId, bool>,
    /// (op, type) pairs whose combine function is needed.
    combine_fns: BTreeSet<(u8, ScalarType)>,
    /// The builtins the program calls, with their argument type.
    builtins: BTreeSet<(Builtin, ScalarType)>,
}

fn op_code(op: ReduceOp) -> u8 {
    match op {
        ReduceOp::Add => 0,
        ReduceOp::Mul => 1,
        ReduceOp::BitAnd => 2,
        ReduceOp::BitOr => 3,
        ReduceOp::BitXor => 4,
        ReduceOp::Min => 5,
        ReduceOp::Max => 6,
    }
}

const REDUCE_OPS: [ReduceOp; 7] = [
    ReduceOp::Add,
    ReduceOp::Mul,
    ReduceOp::BitAnd,
    ReduceOp::BitOr,
    ReduceOp::BitXor,
    ReduceOp::Min,
    ReduceOp::Max,
];

fn combine_fn_name(op: ReduceOp, ty: ScalarType) -> String {
    format!("kiln_combine_{}_{}", op.name(), ty.name())
}

impl<'a> Gen<'a> {
    fn line(&mut self, text: &str) {
        for l in text.lines() {
            for _ in 0..self.ctx.indent {
                self.out.push_str("    ");
            }
            self.out.push_str(l);
            self.out.push('\n');
        }
    }

    fn open(&mut self, text: &str) {
        self.line(text);
        self.ctx.indent += 1;
    }

    fn close(&mut self) {
        self.ctx.indent = self.ctx.indent.saturating_sub(1);
        let c = self.d.close();
        self.line(&c);
    }

    fn temp(&mut self) -> String {
        self.temps += 1;
        format!("t{}", self.temps)
    }

    fn unsupported(&self, span: Span, message: String) -> Error {
        Error::Unsupported {
            backend: self.d.name().into(),
            kernel: self.kernel.name.clone(),
            file: self.module.file.clone(),
            span,
            message,
        }
    }

    /// Records features: f64 anywhere, 64-bit atomics.
    fn scan_features(&mut self, f: &Function) -> Result<()> {
        let mut f64_at = None;
        let mut atomic64_at = None;
        let note = |e: &Expr, f64_at: &mut Option<Span>| {
            if e.ty == ScalarType::F64 && f64_at.is_none() {
                *f64_at = Some(e.span);
            }
        };
        visit::walk_block_exprs(&f.body, &mut |e| {
            note(e, &mut f64_at);
            if let ExprKind::Atomic { value, .. } = &e.kind {
                if value.ty.bits() == 64 && atomic64_at.is_none() {
                    atomic64_at = Some(e.span);
                }
            }
        });
        if f64_at.is_none() {
            if let Some(v) = f.vars.iter().find(|v| v.ty == ScalarType::F64) {
                f64_at = Some(v.span);
            }
        }
        if f64_at.is_none() {
            if let Some(a) = f.arrays.iter().find(|a| a.elem == ScalarType::F64) {
                f64_at = Some(a.span);
            }
        }
        if self.features.f64.is_none() {
            self.features.f64 = f64_at;
        }
        if self.features.atomic64.is_none() {
            self.features.atomic64 = atomic64_at;
        }
        Ok(())
    }

    fn var_name(&self, v: VarId) -> String {
        format!("v{}", v.0)
    }

    /// How code reads variable `v` here.
    fn var_ref(&self, v: VarId) -> String {
        if self.ctx.reductions.contains(&v) {
            self.d.deref(&self.var_name(v))
        } else {
            self.var_name(v)
        }
    }

    fn var_ty(&self, f: &Function, v: VarId) -> ScalarType {
        f.vars.get(v.index()).map_or(ScalarType::I64, |x| x.ty)
    }

    fn shape_name(a: ir::ArrayId, d: u8) -> String {
        format!("a{}_n{}", a.0, d)
    }

    fn len_name(a: ir::ArrayId) -> String {
        format!("a{}_len", a.0)
    }
}
