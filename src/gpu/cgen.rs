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
    self, Access, AtomicOp, BinOp, Block, Builtin, Expr, ExprKind, FuncId, Function, ReduceOp,
    ScalarType, Span, Stmt, StmtKind, UnOp, Value, VarId,
};
use std::collections::{BTreeSet, HashMap};

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
    fn brk(&self) -> String;
    fn cont(&self) -> String;
    fn ret(&self, value: Option<&str>) -> String;
    fn function_open(&self, name: &str, params: &[FnParam], ret: Option<ScalarType>) -> String;
    /// The value behind a `by_ref` parameter (also assignable).
    fn deref(&self, ptr: &str) -> String;
    /// A pointer to a local, to pass as a `by_ref` argument.
    fn address_of(&self, var: &str) -> String;
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

fn frame_layout(kernel: &Function) -> FrameLayout {
    let var_slots = kernel.vars.len();
    let mut next = var_slots;
    let mut shape_slots = Vec::new();
    let mut len_slots = Vec::new();
    for _ in &kernel.arrays {
        shape_slots.push([next, next + 1, next + 2]);
        len_slots.push(next + 3);
        next += 4;
    }
    let control = next;
    let result = next + 1;
    let groups = next + 2;
    let scratch = next + 3;
    FrameLayout {
        var_slots,
        shape_slots,
        len_slots,
        control,
        result,
        groups,
        scratch,
        slots: scratch + 6,
    }
}

fn array_infos(kernel: &Function) -> Vec<ArrayInfo> {
    let mut atomic = vec![false; kernel.arrays.len()];
    visit_exprs(&kernel.body, &mut |e| {
        if let ExprKind::Atomic { access, .. } = &e.kind {
            if let Some(slot) = atomic.get_mut(access.array.index()) {
                *slot = true;
            }
        }
    });
    kernel
        .arrays
        .iter()
        .zip(atomic)
        .map(|(a, atomic)| ArrayInfo {
            name: a.name.clone(),
            elem: a.elem,
            rank: a.rank,
            mutable: a.mutable,
            atomic,
        })
        .collect()
}

/// Calls every expression of the block (pre-order), statements in order.
fn visit_exprs(block: &Block, f: &mut dyn FnMut(&Expr)) {
    for s in &block.stmts {
        visit_stmt_exprs(s, f);
    }
}

fn visit_stmt_exprs(s: &Stmt, f: &mut dyn FnMut(&Expr)) {
    match &s.kind {
        StmtKind::Let { init: e, .. }
        | StmtKind::Assign { value: e, .. }
        | StmtKind::Eval(e)
        | StmtKind::CheckStep(e)
        | StmtKind::Return(Some(e)) => visit_expr(e, f),
        StmtKind::Store { access, value } => {
            visit_expr(value, f);
            access.index.iter().for_each(|e| visit_expr(e, f));
        }
        StmtKind::If { cond, then, els } => {
            visit_expr(cond, f);
            visit_exprs(then, f);
            visit_exprs(els, f);
        }
        StmtKind::While { cond, body } => {
            visit_expr(cond, f);
            visit_exprs(body, f);
        }
        StmtKind::For(lp) => {
            visit_expr(&lp.start, f);
            visit_expr(&lp.count, f);
            visit_expr(&lp.stride, f);
            visit_exprs(&lp.body, f);
        }
        StmtKind::ParFor(lp) => {
            for (lo, hi) in &lp.ranges {
                visit_expr(lo, f);
                visit_expr(hi, f);
            }
            visit_exprs(&lp.body, f);
        }
        StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
    }
}

fn visit_expr(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Const(_) | ExprKind::Var(_) | ExprKind::Len(_) | ExprKind::Shape(..) => {}
        ExprKind::Unary(_, a) | ExprKind::Cast(a) => visit_expr(a, f),
        ExprKind::Binary(_, a, b) => {
            visit_expr(a, f);
            visit_expr(b, f);
        }
        ExprKind::Builtin(_, args) | ExprKind::Call(_, args) => {
            args.iter().for_each(|a| visit_expr(a, f))
        }
        ExprKind::If(c, a, b) => {
            visit_expr(c, f);
            visit_expr(a, f);
            visit_expr(b, f);
        }
        ExprKind::Load(access) => access.index.iter().for_each(|i| visit_expr(i, f)),
        ExprKind::Atomic { access, value, .. } => {
            access.index.iter().for_each(|i| visit_expr(i, f));
            visit_expr(value, f);
        }
    }
}

/// Helpers reachable from `kernel`, callees before callers (no recursion:
/// the checker rejects it).
fn helper_order(module: &ir::Module, kernel: &Function) -> Vec<FuncId> {
    fn visit(
        module: &ir::Module,
        f: &Function,
        seen: &mut BTreeSet<FuncId>,
        out: &mut Vec<FuncId>,
    ) {
        let mut callees = Vec::new();
        visit_exprs(&f.body, &mut |e| {
            if let ExprKind::Call(id, _) = &e.kind {
                callees.push(*id);
            }
        });
        for id in callees {
            if module.functions.get(id.index()).is_some() && seen.insert(id) {
                visit(module, module.function(id), seen, out);
                out.push(id);
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    visit(module, kernel, &mut seen, &mut out);
    out
}

/// Whether a helper can raise a fault (so callers check the flag after the
/// call). Callees are classified first (`known`).
fn function_can_fault(_module: &ir::Module, f: &Function, known: &HashMap<FuncId, bool>) -> bool {
    let mut fault = false;
    visit_exprs(&f.body, &mut |e| match &e.kind {
        ExprKind::Binary(BinOp::Div | BinOp::Rem, a, _)
            if a.ty.is_int() || a.ty == ScalarType::Bool =>
        {
            fault = true
        }
        ExprKind::Call(id, _) if known.get(id).copied().unwrap_or(true) => fault = true,
        _ => {}
    });
    fn has_step(b: &Block) -> bool {
        b.stmts.iter().any(|s| match &s.kind {
            StmtKind::CheckStep(_) => true,
            StmtKind::If { then, els, .. } => has_step(then) || has_step(els),
            StmtKind::While { body, .. } => has_step(body),
            StmtKind::For(lp) => has_step(&lp.body),
            _ => false,
        })
    }
    fault || has_step(&f.body)
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
        visit_exprs(&f.body, &mut |e| {
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

    // ----------------------------------------------------------------------
    // Units.

    fn unit(
        &mut self,
        k: usize,
        unit: &Unit<'a>,
        partial_slots: &mut usize,
    ) -> Result<(String, EntryInfo)> {
        let kernel = self.kernel;
        match unit {
            Unit::Serial(stmts) => {
                let inner = format!("kiln_serial{k}");
                self.serial_function(&inner, stmts, &[])?;
                let name = format!("entry{k}");
                Ok((
                    self.d.serial_entry(&name, &inner),
                    EntryInfo {
                        name,
                        kind: EntryKind::Serial,
                        workgroup_size: 1,
                    },
                ))
            }
            Unit::Header(exprs) => {
                let inner = format!("kiln_header{k}");
                self.serial_function(&inner, &[], exprs)?;
                let name = format!("entry{k}");
                Ok((
                    self.d.serial_entry(&name, &inner),
                    EntryInfo {
                        name,
                        kind: EntryKind::Serial,
                        workgroup_size: 1,
                    },
                ))
            }
            Unit::Parallel(lp, from_scratch) => {
                let inner = format!("kiln_parallel{k}");
                self.parallel_function(&inner, lp, *from_scratch)?;
                let reds = self.reduction_slots(kernel, lp, *partial_slots);
                *partial_slots =
                    (*partial_slots).max(lp.reductions.len() * MAX_REDUCE_GROUPS as usize);
                let name = format!("entry{k}");
                Ok((
                    self.d
                        .parallel_entry(&name, &inner, &reds, self.frame.groups),
                    EntryInfo {
                        name,
                        kind: EntryKind::Parallel {
                            reductions: lp.reductions.len(),
                        },
                        workgroup_size: WORKGROUP_SIZE,
                    },
                ))
            }
            Unit::Combine(lp) => {
                let reds = self.reduction_slots(kernel, lp, 0);
                let name = format!("entry{k}");
                Ok((
                    self.d.combine_entry(&name, &reds, self.frame.groups),
                    EntryInfo {
                        name,
                        kind: EntryKind::Combine,
                        workgroup_size: WORKGROUP_SIZE,
                    },
                ))
            }
        }
    }

    fn reduction_slots(
        &mut self,
        kernel: &Function,
        lp: &ir::ParLoop,
        _: usize,
    ) -> Vec<ReductionSlot> {
        lp.reductions
            .iter()
            .enumerate()
            .map(|(r, red)| {
                let ty = self.var_ty(kernel, red.var);
                self.combine_fns.insert((op_code(red.op), ty));
                ReductionSlot {
                    ty,
                    identity: self.d.literal(red.op.identity(ty)),
                    combine_fn: combine_fn_name(red.op, ty),
                    partial_base: r * MAX_REDUCE_GROUPS as usize,
                    frame_slot: self.frame.var(red.var),
                }
            })
            .collect()
    }

    /// `fn kiln_combine_<op>_<ty>(a, b) -> ty` for every reduction used.
    fn combine_functions(&mut self) -> String {
        let mut text = String::new();
        let fns: Vec<(u8, ScalarType)> = self.combine_fns.iter().copied().collect();
        for (code, ty) in fns {
            let op = REDUCE_OPS[code as usize];
            let params = [
                FnParam {
                    name: "a".into(),
                    ty,
                    by_ref: false,
                },
                FnParam {
                    name: "b".into(),
                    ty,
                    by_ref: false,
                },
            ];
            let value = self.combine_expr(op, ty, "a", "b");
            text.push_str(
                &self
                    .d
                    .function_open(&combine_fn_name(op, ty), &params, Some(ty)),
            );
            text.push('\n');
            text.push_str("    ");
            text.push_str(&self.d.ret(Some(&value)));
            text.push('\n');
            text.push_str(&self.d.close());
            text.push('\n');
        }
        text
    }

    fn combine_expr(&self, op: ReduceOp, ty: ScalarType, a: &str, b: &str) -> String {
        let bin = match op {
            ReduceOp::Add => BinOp::Add,
            ReduceOp::Mul => BinOp::Mul,
            ReduceOp::BitAnd => BinOp::BitAnd,
            ReduceOp::BitOr => BinOp::BitOr,
            ReduceOp::BitXor => BinOp::BitXor,
            ReduceOp::Min | ReduceOp::Max => {
                let f = if op == ReduceOp::Min {
                    Builtin::Min
                } else {
                    Builtin::Max
                };
                return self
                    .d
                    .builtin(f, ty, &[a.to_string(), b.to_string()])
                    .unwrap_or_else(|| a.to_string());
            }
        };
        self.d.binary(bin, ty, a, b)
    }

    /// Variables the statements use (read or define), sorted.
    fn used_vars(stmts: &[&Stmt], exprs: &[&Expr]) -> (BTreeSet<VarId>, BTreeSet<VarId>) {
        let mut used = BTreeSet::new();
        let mut written = BTreeSet::new();
        fn stmt_vars(s: &Stmt, used: &mut BTreeSet<VarId>, written: &mut BTreeSet<VarId>) {
            match &s.kind {
                StmtKind::Let { var, .. } | StmtKind::Assign { var, .. } => {
                    used.insert(*var);
                    written.insert(*var);
                }
                StmtKind::For(lp) => {
                    used.insert(lp.var);
                    written.insert(lp.var);
                    lp.body
                        .stmts
                        .iter()
                        .for_each(|s| stmt_vars(s, used, written));
                }
                StmtKind::ParFor(lp) => {
                    used.extend(lp.vars.iter().copied());
                    lp.body
                        .stmts
                        .iter()
                        .for_each(|s| stmt_vars(s, used, written));
                }
                StmtKind::If { then, els, .. } => {
                    then.stmts.iter().for_each(|s| stmt_vars(s, used, written));
                    els.stmts.iter().for_each(|s| stmt_vars(s, used, written));
                }
                StmtKind::While { body, .. } => {
                    body.stmts.iter().for_each(|s| stmt_vars(s, used, written))
                }
                _ => {}
            }
            visit_stmt_exprs_shallow(s, &mut |e| {
                visit_expr(e, &mut |x| {
                    if let ExprKind::Var(v) = &x.kind {
                        used.insert(*v);
                    }
                })
            });
        }
        for s in stmts {
            stmt_vars(s, &mut used, &mut written);
        }
        for e in exprs {
            visit_expr(e, &mut |x| {
                if let ExprKind::Var(v) = &x.kind {
                    used.insert(*v);
                }
            });
        }
        (used, written)
    }

    /// Arrays whose extents the code reads (every access and len/shape).
    fn used_arrays(stmts: &[&Stmt], exprs: &[&Expr]) -> BTreeSet<ir::ArrayId> {
        let mut arrays = BTreeSet::new();
        let mut note = |e: &Expr| match &e.kind {
            ExprKind::Len(a) | ExprKind::Shape(a, _) => {
                arrays.insert(*a);
            }
            ExprKind::Load(acc) | ExprKind::Atomic { access: acc, .. } => {
                arrays.insert(acc.array);
            }
            _ => {}
        };
        for s in stmts {
            visit_stmt_exprs(s, &mut note);
        }
        for e in exprs {
            visit_expr(e, &mut note);
        }
        for s in stmts {
            collect_store_arrays(s, &mut |a| {
                arrays.insert(a);
            });
        }
        arrays
    }

    fn load_extents(&mut self, arrays: &BTreeSet<ir::ArrayId>) {
        for &a in arrays {
            let rank = self.kernel.arrays.get(a.index()).map_or(1, |x| x.rank);
            for d in 0..rank {
                let slot = self.frame.shape_slots[a.index()][d as usize].to_string();
                let load = self.d.frame_load(ScalarType::I64, &slot);
                let l = self.d.bind(&Self::shape_name(a, d), ScalarType::I64, &load);
                self.line(&l);
            }
            let slot = self.frame.len_slots[a.index()].to_string();
            let load = self.d.frame_load(ScalarType::I64, &slot);
            let l = self.d.bind(&Self::len_name(a), ScalarType::I64, &load);
            self.line(&l);
        }
    }

    /// A serial segment (or a header: `exprs` stored to scratch slots).
    fn serial_function(&mut self, name: &str, stmts: &[&Stmt], exprs: &[&Expr]) -> Result<()> {
        let kernel = self.kernel;
        let (used, written) = Self::used_vars(stmts, exprs);
        self.ctx = Ctx {
            kind: FnKind::Serial,
            written: written.clone(),
            ..Ctx::default()
        };
        let open = self.d.function_open(name, &[], None);
        self.open(&open);
        for &v in &used {
            let decl = self.d.declare(&self.var_name(v), self.var_ty(kernel, v));
            self.line(&decl);
        }
        for &v in &used {
            let load = self
                .d
                .frame_load(self.var_ty(kernel, v), &self.frame.var(v).to_string());
            let a = self.d.assign(&self.var_name(v), &load);
            self.line(&a);
        }
        self.load_extents(&Self::used_arrays(stmts, exprs));
        for s in stmts {
            self.stmt(s)?;
        }
        for (i, e) in exprs.iter().enumerate() {
            let v = self.expr(e)?;
            let slot = (self.frame.scratch + i).to_string();
            let st = self.d.frame_store(e.ty, &slot, &v);
            self.line(&st);
        }
        self.flush();
        self.close();
        Ok(())
    }

    /// Stores every variable the serial segment writes back to the frame.
    fn flush(&mut self) {
        let vars: Vec<VarId> = self.ctx.written.iter().copied().collect();
        for v in vars {
            let st = self.d.frame_store(
                self.var_ty(self.kernel, v),
                &self.frame.var(v).to_string(),
                &self.var_name(v),
            );
            self.line(&st);
        }
    }

    fn parallel_function(
        &mut self,
        name: &str,
        lp: &'a ir::ParLoop,
        from_scratch: bool,
    ) -> Result<()> {
        let kernel = self.kernel;
        let body: Vec<&Stmt> = lp.body.stmts.iter().collect();
        let bound_exprs: Vec<&Expr> = lp.ranges.iter().flat_map(|(a, b)| [a, b]).collect();
        let (used, written) = Self::used_vars(&body, &bound_exprs);
        let reds: BTreeSet<VarId> = lp.reductions.iter().map(|r| r.var).collect();
        self.ctx = Ctx {
            kind: FnKind::Parallel,
            reductions: reds.clone(),
            ..Ctx::default()
        };
        let mut params = vec![
            FnParam {
                name: "lane".into(),
                ty: ScalarType::I64,
                by_ref: false,
            },
            FnParam {
                name: "lanes".into(),
                ty: ScalarType::I64,
                by_ref: false,
            },
        ];
        for r in &lp.reductions {
            params.push(FnParam {
                name: self.var_name(r.var),
                ty: self.var_ty(kernel, r.var),
                by_ref: true,
            });
        }
        let open = self.d.function_open(name, &params, Some(ScalarType::Bool));
        self.open(&open);
        let mut locals: BTreeSet<VarId> =
            used.iter().copied().filter(|v| !reds.contains(v)).collect();
        locals.extend(lp.vars.iter().copied());
        for &v in &locals {
            let decl = self.d.declare(&self.var_name(v), self.var_ty(kernel, v));
            self.line(&decl);
        }
        // Captured: used, not defined in the body, not a loop variable.
        for &v in &locals {
            if written.contains(&v) || lp.vars.contains(&v) {
                continue;
            }
            let load = self
                .d
                .frame_load(self.var_ty(kernel, v), &self.frame.var(v).to_string());
            let a = self.d.assign(&self.var_name(v), &load);
            self.line(&a);
        }
        self.load_extents(&Self::used_arrays(&body, &bound_exprs));
        let dims = lp.vars.len().min(lp.ranges.len());
        let mut los = Vec::new();
        let mut ns = Vec::new();
        for (d, (lo, hi)) in lp.ranges.iter().take(dims).enumerate() {
            let base = self.frame.scratch + 2 * d;
            let scratch = |k: usize| (base + k).to_string();
            let l = if from_scratch {
                self.d.frame_load(ScalarType::I64, &scratch(0))
            } else {
                self.expr(lo)?
            };
            let lt = self.temp();
            let b = self.d.bind(&lt, ScalarType::I64, &l);
            self.line(&b);
            let h = if from_scratch {
                self.d.frame_load(ScalarType::I64, &scratch(1))
            } else {
                self.expr(hi)?
            };
            let ht = self.temp();
            let b = self.d.bind(&ht, ScalarType::I64, &h);
            self.line(&b);
            // n = max(hi - lo, 0)
            let diff = self.d.binary(BinOp::Sub, ScalarType::I64, &ht, &lt);
            let n = self
                .d
                .builtin(
                    Builtin::Max,
                    ScalarType::I64,
                    &[diff, self.d.literal(Value::I64(0))],
                )
                .unwrap_or_default();
            let nt = self.temp();
            let b = self.d.bind(&nt, ScalarType::I64, &n);
            self.line(&b);
            los.push(lt);
            ns.push(nt);
        }
        let mut total = self.d.literal(Value::I64(1));
        for n in &ns {
            total = self.d.binary(BinOp::Mul, ScalarType::I64, &total, n);
        }
        let tt = self.temp();
        let b = self.d.bind(&tt, ScalarType::I64, &total);
        self.line(&b);
        let open = self.d.grid_loop_open("flat", "lane", &tt, "lanes");
        self.open(&open);
        // Row-major: the last dimension varies fastest.
        let mut rest = "flat".to_string();
        for d in (0..dims).rev() {
            let idx = if d == 0 {
                rest.clone()
            } else {
                self.d.div_rem(BinOp::Rem, ScalarType::I64, &rest, &ns[d])
            };
            let value = self.d.binary(BinOp::Add, ScalarType::I64, &los[d], &idx);
            let a = self.d.assign(&self.var_name(lp.vars[d]), &value);
            self.line(&a);
            if d > 0 {
                let q = self.d.div_rem(BinOp::Div, ScalarType::I64, &rest, &ns[d]);
                let qt = self.temp();
                let b = self.d.bind(&qt, ScalarType::I64, &q);
                self.line(&b);
                rest = qt;
            }
        }
        // The grid-stride loop is the body's loop: `continue` ends the
        // iteration.
        self.ctx.loop_depth = 1;
        for s in &body {
            self.stmt(s)?;
        }
        self.close();
        let r = self.d.ret(Some(&self.d.literal(Value::Bool(true))));
        self.line(&r);
        self.close();
        Ok(())
    }

    fn helper(&mut self, id: FuncId) -> Result<()> {
        let f = self.module.function(id);
        let name = self.helper_names.get(&id).cloned().unwrap_or_default();
        let saved_kernel = self.kernel;
        self.kernel = f;
        self.ctx = Ctx {
            kind: FnKind::Helper(f.ret),
            ..Ctx::default()
        };
        let params: Vec<FnParam> = f
            .params
            .iter()
            .filter_map(|p| match p {
                ir::Param::Scalar(v) => Some(FnParam {
                    name: format!("p{}", v.0),
                    ty: self.var_ty(f, *v),
                    by_ref: false,
                }),
                ir::Param::Array(_) => None,
            })
            .collect();
        let open = self.d.function_open(&name, &params, f.ret);
        self.open(&open);
        let body: Vec<&Stmt> = f.body.stmts.iter().collect();
        let (mut used, _) = Self::used_vars(&body, &[]);
        for p in &f.params {
            if let ir::Param::Scalar(v) = p {
                used.insert(*v);
            }
        }
        for &v in &used {
            let decl = self.d.declare(&self.var_name(v), self.var_ty(f, v));
            self.line(&decl);
        }
        for p in &f.params {
            if let ir::Param::Scalar(v) = p {
                let a = self.d.assign(&self.var_name(*v), &format!("p{}", v.0));
                self.line(&a);
            }
        }
        let result = self.stmts(&f.body);
        // Every path returns (checked); a defined fallback keeps the target
        // compilers' return analysis happy.
        if let Some(t) = f.ret {
            let r = self.d.ret(Some(&self.d.literal(Value::zero(t))));
            self.line(&r);
        }
        self.close();
        self.kernel = saved_kernel;
        result
    }

    // ----------------------------------------------------------------------
    // Statements.

    fn stmts(&mut self, block: &Block) -> Result<()> {
        for s in &block.stmts {
            self.stmt(s)?;
        }
        Ok(())
    }

    /// The statement that leaves the current function after a fault.
    fn fault_exit(&self) -> String {
        match self.ctx.kind {
            FnKind::Serial => self.d.ret(None),
            FnKind::Parallel => self.d.ret(Some(&self.d.literal(Value::Bool(false)))),
            FnKind::Helper(Some(t)) => self.d.ret(Some(&self.d.literal(Value::zero(t)))),
            FnKind::Helper(None) => self.d.ret(None),
        }
    }

    /// `if (cond) { raise(site, operands); exit }`.
    fn check(&mut self, cond: &str, span: Span, kind: SiteKind, operands: &[String]) {
        let site = self.sites.len() as u32;
        self.sites.push(FaultSite { span, kind });
        let open = self.d.if_open(cond);
        self.open(&open);
        let r = self.d.raise(site, operands);
        self.line(&r);
        let exit = self.fault_exit();
        self.line(&exit);
        self.close();
    }

    fn assign_var(&mut self, v: VarId, value: &str) {
        let place = self.var_ref(v);
        let a = self.d.assign(&place, value);
        self.line(&a);
    }

    fn stmt(&mut self, s: &Stmt) -> Result<()> {
        match &s.kind {
            StmtKind::Let { var, init } | StmtKind::Assign { var, value: init } => {
                let v = self.expr(init)?;
                self.assign_var(*var, &v);
            }
            StmtKind::Store { access, value } => {
                let v = self.expr(value)?;
                let vt = self.temp();
                let b = self.d.bind(&vt, value.ty, &v);
                self.line(&b);
                let index = self.access(access, s.span)?;
                let arr = self.array_ref(access.array);
                let st = self.d.array_store(&arr, &index, &vt);
                self.line(&st);
            }
            StmtKind::Eval(e) => {
                self.expr(e)?;
            }
            StmtKind::If { cond, then, els } => {
                let c = self.expr(cond)?;
                let open = self.d.if_open(&c);
                self.open(&open);
                self.stmts(then)?;
                if !els.stmts.is_empty() {
                    self.ctx.indent -= 1;
                    let e = self.d.else_open();
                    self.line(&e);
                    self.ctx.indent += 1;
                    self.stmts(els)?;
                }
                self.close();
            }
            StmtKind::While { cond, body } => {
                let chunked = self.chunk_open();
                if chunked.is_none() {
                    let open = self.d.loop_open();
                    self.open(&open);
                }
                let c = self.expr(cond)?;
                let not = self.d.unary(UnOp::Not, ScalarType::Bool, &c);
                let open = self.d.if_open(&not);
                self.open(&open);
                self.loop_exit(chunked.as_deref());
                self.close();
                self.loop_body(body, chunked.clone())?;
                self.chunk_close(chunked);
            }
            StmtKind::For(lp) => {
                let mut vals = Vec::new();
                for e in [&lp.start, &lp.count, &lp.stride] {
                    let v = self.expr(e)?;
                    let t = self.temp();
                    let b = self.d.bind(&t, ScalarType::I64, &v);
                    self.line(&b);
                    vals.push(t);
                }
                let counter = self.temp();
                let chunked = if self.d.max_loop_trips().is_some() {
                    let decl = self.d.declare(&counter, ScalarType::I64);
                    self.line(&decl);
                    self.chunk_open()
                } else {
                    None
                };
                if chunked.is_some() {
                    // `counter` counts across chunks; test, then advance it
                    // before the body so `continue` keeps the count.
                    let done = self
                        .d
                        .binary(BinOp::Ge, ScalarType::I64, &counter, &vals[1]);
                    let open = self.d.if_open(&done);
                    self.open(&open);
                    self.loop_exit(chunked.as_deref());
                    self.close();
                } else {
                    let open = self.d.for_open(&counter, &vals[1]);
                    self.open(&open);
                }
                let step = self
                    .d
                    .binary(BinOp::Mul, ScalarType::I64, &counter, &vals[2]);
                let value = self.d.binary(BinOp::Add, ScalarType::I64, &vals[0], &step);
                self.assign_var(lp.var, &value);
                if chunked.is_some() {
                    let next = self.d.binary(
                        BinOp::Add,
                        ScalarType::I64,
                        &counter,
                        &self.d.literal(Value::I64(1)),
                    );
                    let a = self.d.assign(&counter, &next);
                    self.line(&a);
                }
                self.loop_body(&lp.body, chunked.clone())?;
                self.chunk_close(chunked);
            }
            StmtKind::ParFor(_) => {
                return Err(
                    self.unsupported(s.span, "a parallel loop here (inside device code)".into())
                )
            }
            StmtKind::Break | StmtKind::Continue => {
                let is_break = matches!(s.kind, StmtKind::Break);
                if self.ctx.loop_depth > 0 {
                    if is_break {
                        let flag = self.ctx.loop_flags.last().cloned().flatten();
                        self.loop_exit(flag.as_deref());
                    } else {
                        let t = self.d.cont();
                        self.line(&t);
                    }
                } else {
                    // Leaves a host-driven loop: tell the host.
                    let word = if is_break {
                        CONTROL_BREAK
                    } else {
                        CONTROL_CONTINUE
                    };
                    self.leave_to_host(word);
                }
            }
            StmtKind::Return(value) => match self.ctx.kind {
                FnKind::Helper(_) => {
                    let v = match value {
                        Some(e) => Some(self.expr(e)?),
                        None => None,
                    };
                    let r = self.d.ret(v.as_deref());
                    self.line(&r);
                }
                _ => {
                    if let (Some(e), Some(t)) = (value, self.kernel.ret) {
                        let v = self.expr(e)?;
                        let st = self.d.frame_store(t, &self.frame.result.to_string(), &v);
                        self.line(&st);
                    }
                    self.leave_to_host(CONTROL_RETURN);
                }
            },
            StmtKind::CheckStep(e) => {
                let v = self.expr(e)?;
                let t = self.temp();
                let b = self.d.bind(&t, ScalarType::I64, &v);
                self.line(&b);
                let cond = self.d.binary(
                    BinOp::Le,
                    ScalarType::I64,
                    &t,
                    &self.d.literal(Value::I64(0)),
                );
                self.check(&cond, e.span, SiteKind::Step, &[t]);
            }
        }
        Ok(())
    }

    /// Opens a chunked loop when the dialect bounds loop trips: an outer
    /// endless loop around an inner one of at most `max_loop_trips`
    /// iterations; returns the "done" flag (`None`: open nothing).
    fn chunk_open(&mut self) -> Option<String> {
        let trips = self.d.max_loop_trips()?;
        let flag = self.temp();
        let decl = self.d.declare(&flag, ScalarType::Bool);
        self.line(&decl);
        let open = self.d.loop_open();
        self.open(&open);
        let chunk = self.temp();
        let open = self
            .d
            .for_open(&chunk, &self.d.literal(Value::I64(trips as i64)));
        self.open(&open);
        Some(flag)
    }

    fn chunk_close(&mut self, flag: Option<String>) {
        self.close();
        if let Some(flag) = flag {
            let open = self.d.if_open(&flag);
            self.open(&open);
            let b = self.d.brk();
            self.line(&b);
            self.close();
            self.close();
        }
    }

    /// Leaves the innermost serial loop (setting its done flag if chunked).
    fn loop_exit(&mut self, flag: Option<&str>) {
        if let Some(flag) = flag {
            let a = self.d.assign(flag, &self.d.literal(Value::Bool(true)));
            self.line(&a);
        }
        let b = self.d.brk();
        self.line(&b);
    }

    fn loop_body(&mut self, body: &Block, flag: Option<String>) -> Result<()> {
        self.ctx.loop_depth += 1;
        self.ctx.loop_flags.push(flag);
        let r = self.stmts(body);
        self.ctx.loop_flags.pop();
        self.ctx.loop_depth -= 1;
        r
    }

    /// Stores the written variables, sets the control word and returns.
    fn leave_to_host(&mut self, word: u64) {
        self.flush();
        let st = self.d.frame_store(
            ScalarType::I64,
            &self.frame.control.to_string(),
            &self.d.literal(Value::I64(word as i64)),
        );
        self.line(&st);
        let r = self.d.ret(None);
        self.line(&r);
    }

    fn array_ref(&self, a: ir::ArrayId) -> ArrayRef {
        self.arrays.get(a.index()).cloned().unwrap_or(ArrayRef {
            name: format!("a{}", a.0),
            elem: ScalarType::I32,
            atomic: false,
        })
    }

    /// Evaluates the indices, checks them and returns the narrowed offset.
    fn access(&mut self, access: &Access, span: Span) -> Result<String> {
        let mut idx = Vec::new();
        for e in &access.index {
            let v = self.expr(e)?;
            let t = self.temp();
            let b = self.d.bind(&t, ScalarType::I64, &v);
            self.line(&b);
            idx.push(t);
        }
        let a = access.array;
        let rank = self
            .kernel
            .arrays
            .get(a.index())
            .map_or(1, |x| x.rank as usize);
        let zero = self.d.literal(Value::I64(0));
        let mut conds = Vec::new();
        for (d, i) in idx.iter().enumerate().take(rank) {
            if !access.needs_check.get(d).copied().unwrap_or(true) {
                continue;
            }
            let n = Self::shape_name(a, d as u8);
            let lo = self.d.binary(BinOp::Lt, ScalarType::I64, i, &zero);
            let hi = self.d.binary(BinOp::Ge, ScalarType::I64, i, &n);
            conds.push(self.d.binary(BinOp::BitOr, ScalarType::Bool, &lo, &hi));
        }
        if !conds.is_empty() {
            let cond = conds
                .into_iter()
                .reduce(|x, y| self.d.binary(BinOp::BitOr, ScalarType::Bool, &x, &y))
                .unwrap_or_default();
            let rank8 = idx.len().min(3) as u8;
            let operands = idx.iter().take(3).cloned().collect::<Vec<_>>();
            self.check(
                &cond,
                span,
                SiteKind::Index {
                    array: a,
                    rank: rank8,
                },
                &operands,
            );
        }
        let mut offset = idx.first().cloned().unwrap_or_else(|| zero.clone());
        for (d, i) in idx.iter().enumerate().skip(1) {
            let n = Self::shape_name(a, d as u8);
            let scaled = self.d.binary(BinOp::Mul, ScalarType::I64, &offset, &n);
            offset = self.d.binary(BinOp::Add, ScalarType::I64, &scaled, i);
        }
        Ok(self.d.narrow_index(&offset))
    }

    // ----------------------------------------------------------------------
    // Expressions.

    fn expr(&mut self, e: &Expr) -> Result<String> {
        Ok(match &e.kind {
            ExprKind::Const(v) => self.d.literal(*v),
            ExprKind::Var(v) => self.var_ref(*v),
            ExprKind::Unary(op, a) => {
                let x = self.expr(a)?;
                self.d.unary(*op, a.ty, &x)
            }
            ExprKind::Binary(op @ (BinOp::And | BinOp::Or), a, b) => {
                let t = self.temp();
                let decl = self.d.declare(&t, ScalarType::Bool);
                self.line(&decl);
                let x = self.expr(a)?;
                let asg = self.d.assign(&t, &x);
                self.line(&asg);
                let cond = if *op == BinOp::And {
                    t.clone()
                } else {
                    self.d.unary(UnOp::Not, ScalarType::Bool, &t)
                };
                let open = self.d.if_open(&cond);
                self.open(&open);
                let y = self.expr(b)?;
                let asg = self.d.assign(&t, &y);
                self.line(&asg);
                self.close();
                t
            }
            ExprKind::Binary(op @ (BinOp::Div | BinOp::Rem), a, b) if !a.ty.is_float() => {
                let x = self.expr(a)?;
                let xt = self.temp();
                let bind = self.d.bind(&xt, a.ty, &x);
                self.line(&bind);
                let y = self.expr(b)?;
                let yt = self.temp();
                let bind = self.d.bind(&yt, b.ty, &y);
                self.line(&bind);
                let zero = self.d.literal(Value::zero(b.ty));
                let cond = self.d.binary(BinOp::Eq, b.ty, &yt, &zero);
                let kind = if *op == BinOp::Div {
                    SiteKind::DivisionByZero
                } else {
                    SiteKind::RemainderByZero
                };
                self.check(&cond, e.span, kind, &[]);
                let r = self.d.div_rem(*op, a.ty, &xt, &yt);
                let rt = self.temp();
                let bind = self.d.bind(&rt, e.ty, &r);
                self.line(&bind);
                rt
            }
            ExprKind::Binary(op @ (BinOp::Div | BinOp::Rem), a, b) => {
                let x = self.expr(a)?;
                let y = self.expr(b)?;
                self.d.div_rem(*op, a.ty, &x, &y)
            }
            ExprKind::Binary(op, a, b) => {
                let x = self.expr(a)?;
                let xt = self.temp();
                let bind = self.d.bind(&xt, a.ty, &x);
                self.line(&bind);
                let y = self.expr(b)?;
                self.d.binary(*op, a.ty, &xt, &y)
            }
            ExprKind::Cast(a) => {
                // Folded here: naga's constant evaluator rejects some casts
                // of literals (`f32(123456789li)`) that are fine at run time.
                if let ExprKind::Const(v) = a.kind {
                    return Ok(self.d.literal(ir::value::cast(v, e.ty)));
                }
                let x = self.expr(a)?;
                self.d.cast(a.ty, e.ty, &x)
            }
            ExprKind::Builtin(f, args) => {
                let mut vals = Vec::new();
                for a in args {
                    let v = self.expr(a)?;
                    let t = self.temp();
                    let b = self.d.bind(&t, a.ty, &v);
                    self.line(&b);
                    vals.push(t);
                }
                let t = match f {
                    Builtin::Select => args.get(1).map_or(e.ty, |a| a.ty),
                    _ => args.first().map_or(e.ty, |a| a.ty),
                };
                let Some(text) = self.d.builtin(*f, t, &vals) else {
                    return Err(self.unsupported(e.span, format!("builtin `{}` on {t}", f.name())));
                };
                text
            }
            ExprKind::Call(id, args) => {
                let mut vals = Vec::new();
                for a in args {
                    let v = self.expr(a)?;
                    let t = self.temp();
                    let b = self.d.bind(&t, a.ty, &v);
                    self.line(&b);
                    vals.push(t);
                }
                let name = self.helper_names.get(id).cloned().ok_or_else(|| {
                    self.unsupported(e.span, format!("a call of unknown function #{}", id.0))
                })?;
                let t = self.temp();
                let call = format!("{name}({})", vals.join(", "));
                let b = self.d.bind(&t, e.ty, &call);
                self.line(&b);
                if self.can_fault.get(id).copied().unwrap_or(true) {
                    let raised = self.d.raised();
                    let open = self.d.if_open(&raised);
                    self.open(&open);
                    let exit = self.fault_exit();
                    self.line(&exit);
                    self.close();
                }
                t
            }
            ExprKind::If(c, a, b) => {
                let t = self.temp();
                let decl = self.d.declare(&t, e.ty);
                self.line(&decl);
                let cv = self.expr(c)?;
                let open = self.d.if_open(&cv);
                self.open(&open);
                let x = self.expr(a)?;
                let asg = self.d.assign(&t, &x);
                self.line(&asg);
                self.ctx.indent -= 1;
                let el = self.d.else_open();
                self.line(&el);
                self.ctx.indent += 1;
                let y = self.expr(b)?;
                let asg = self.d.assign(&t, &y);
                self.line(&asg);
                self.close();
                t
            }
            ExprKind::Load(access) => {
                let index = self.access(access, e.span)?;
                let arr = self.array_ref(access.array);
                let t = self.temp();
                let load = self.d.array_load(&arr, &index);
                let b = self.d.bind(&t, e.ty, &load);
                self.line(&b);
                t
            }
            ExprKind::Len(a) => Self::len_name(*a),
            ExprKind::Shape(a, d) => {
                let rank = self.kernel.arrays.get(a.index()).map_or(1, |x| x.rank);
                if *d < rank {
                    Self::shape_name(*a, *d)
                } else {
                    self.d.literal(Value::I64(1))
                }
            }
            ExprKind::Atomic { op, access, value } => {
                let index = self.access(access, e.span)?;
                let v = self.expr(value)?;
                let vt = self.temp();
                let b = self.d.bind(&vt, value.ty, &v);
                self.line(&b);
                let arr = self.array_ref(access.array);
                let t = self.temp();
                let decl = self.d.declare(&t, e.ty);
                self.line(&decl);
                let text = self.d.atomic(*op, &arr, &index, &vt, &t);
                self.line(&text);
                t
            }
        })
    }
}

/// Visits the expressions directly in `s` (not in nested statements).
fn visit_stmt_exprs_shallow(s: &Stmt, f: &mut dyn FnMut(&Expr)) {
    match &s.kind {
        StmtKind::Let { init: e, .. }
        | StmtKind::Assign { value: e, .. }
        | StmtKind::Eval(e)
        | StmtKind::CheckStep(e)
        | StmtKind::Return(Some(e)) => f(e),
        StmtKind::Store { access, value } => {
            f(value);
            access.index.iter().for_each(&mut *f);
        }
        StmtKind::If { cond, .. } | StmtKind::While { cond, .. } => f(cond),
        StmtKind::For(lp) => {
            f(&lp.start);
            f(&lp.count);
            f(&lp.stride);
        }
        StmtKind::ParFor(lp) => {
            for (lo, hi) in &lp.ranges {
                f(lo);
                f(hi);
            }
        }
        StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
    }
}

/// Calls `f` with the array of every store in `s`, nested ones included.
fn collect_store_arrays(s: &Stmt, f: &mut dyn FnMut(ir::ArrayId)) {
    match &s.kind {
        StmtKind::Store { access, .. } => f(access.array),
        StmtKind::If { then, els, .. } => {
            then.stmts.iter().for_each(|s| collect_store_arrays(s, f));
            els.stmts.iter().for_each(|s| collect_store_arrays(s, f));
        }
        StmtKind::While { body, .. } => body.stmts.iter().for_each(|s| collect_store_arrays(s, f)),
        StmtKind::For(lp) => lp
            .body
            .stmts
            .iter()
            .for_each(|s| collect_store_arrays(s, f)),
        StmtKind::ParFor(lp) => lp
            .body
            .stmts
            .iter()
            .for_each(|s| collect_store_arrays(s, f)),
        _ => {}
    }
}
