//! IR → Cranelift IR.
//!
//! A kernel becomes one `main` function `(ctx, scalar args, result) -> status`
//! for its serial code and one chunk function per `prange`
//! `(ctx, captures, flat_start, flat_end, partials) -> status` (see
//! `launch`). Helpers are inlined. Status 0 is success; any fault records
//! itself through `kiln_cpu_fault` and returns 1, so generated code never
//! traps: bounds checks, zero divisors and bad steps branch to cold exits,
//! `MIN / -1` is steered to a non-trapping divisor, float → int conversions
//! saturate.
//!
//! A `prange` body's unused-result integer `atomic_add`s into an array it
//! touches no other way are counted in a private stack buffer per chunk when
//! the array has at most `PRIVATE_MAX_LEN` elements (checked at run time),
//! then merged with one atomic add per nonzero count at the end of the chunk
//! (also on its early exits). Wrapping adds commute, so the bits are the same.

use super::checks::{self, access_key};
use super::launch::{self, ParInfo, BOUNDS_WORDS};
use super::vector;
use crate::error::{Error, Result};
use crate::ir::builtins::{CpuInst, CpuLowering, Generic, Lowering};
use crate::ir::{
    self, Access, ArrayId, AtomicOp, BinOp, Builtin, Expr, ExprKind, ForLoop, FuncId, ParLoop,
    ScalarType, Span, StmtKind, UnOp, Value, VarId,
};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::Value as CValue;
use cranelift_codegen::ir::{
    types, AbiParam, AtomicRmwOp, Block, BlockArg, FuncRef, InstBuilder, MemFlagsData, Signature,
    StackSlot, StackSlotData, StackSlotKind, Type, UserFuncName,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId as ClifId, Linkage, Module as _};
use std::collections::{HashMap, HashSet};

const PTR: Type = types::I64;

/// Nesting depth of loops with a hoisted-check copy (each level doubles the
/// code below it).
const MAX_HOIST_DEPTH: u32 = 3;

/// Arrays of at most this many elements that a `prange` body only
/// `atomic_add`s into (integer elements, result unused) are counted in a
/// private per-chunk buffer of this size and merged at the end of the chunk.
const PRIVATE_MAX_LEN: i64 = 1024;

/// Where a fault can happen.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    pub span: Span,
    pub kind: SiteKind,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum SiteKind {
    Index(ArrayId),
    Div,
    Rem,
    Step,
}

/// A kernel lowered into a JIT module (not yet finalized).
pub(crate) struct Lowered {
    pub main: ClifId,
    pub chunks: Vec<ClifId>,
    pub pars: Vec<ParInfo>,
    pub sites: Vec<Site>,
    /// Printed Cranelift IR of every function, when asked for.
    pub text: Vec<String>,
}

pub(crate) fn backend_err(message: impl std::fmt::Display) -> Error {
    Error::Backend {
        backend: "cpu".to_string(),
        message: message.to_string(),
    }
}

pub(crate) fn clif_type(t: ScalarType) -> Type {
    match t {
        ScalarType::Bool => types::I8,
        ScalarType::I32 | ScalarType::U32 => types::I32,
        ScalarType::I64 => types::I64,
        ScalarType::F32 => types::F32,
        ScalarType::F64 => types::F64,
    }
}

fn flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

struct ChunkJob<'m> {
    id: usize,
    par: &'m ParLoop,
    captures: Vec<VarId>,
}

/// State shared by the functions of one kernel.
struct Shared<'m> {
    module: &'m ir::Module,
    kernel: &'m ir::Function,
    sites: Vec<Site>,
    pars: Vec<ParInfo>,
    jobs: Vec<ChunkJob<'m>>,
    imports: HashMap<&'static str, ClifId>,
}

impl<'m> Shared<'m> {
    fn unsupported(&self, span: Span, message: &str) -> Error {
        Error::Unsupported {
            backend: "cpu".to_string(),
            kernel: self.kernel.name.clone(),
            file: self.module.file.clone(),
            span,
            message: message.to_string(),
        }
    }
}

/// Lowers kernel `kid` of `module` into `jit`.
pub(crate) fn lower_kernel(
    jit: &mut JITModule,
    module: &ir::Module,
    kid: FuncId,
    keep_text: bool,
) -> Result<Lowered> {
    let kernel = module.function(kid);
    let mut sh = Shared {
        module,
        kernel,
        sites: Vec::new(),
        pars: Vec::new(),
        jobs: Vec::new(),
        imports: HashMap::new(),
    };
    let mut cctx = jit.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let mut text = Vec::new();

    let mut sig = jit.make_signature();
    sig.params.extend([AbiParam::new(PTR); 3]);
    sig.returns.push(AbiParam::new(types::I32));
    let main = jit
        .declare_function("kiln_main", Linkage::Local, &sig)
        .map_err(backend_err)?;
    cctx.func.signature = sig;
    cctx.func.name = UserFuncName::user(0, main.as_u32());
    {
        let b = FunctionBuilder::new(&mut cctx.func, &mut fctx);
        let mut fx = Fx::new(b, jit, &mut sh, Mode::Main);
        fx.build_main()?;
        fx.b.finalize(jit.target_config());
    }
    define(
        jit,
        main,
        &mut cctx,
        keep_text.then_some(&mut text),
        &format!("main of kernel `{}`", kernel.name),
    )?;

    let mut chunks = Vec::new();
    let jobs = std::mem::take(&mut sh.jobs);
    for job in &jobs {
        let mut sig = jit.make_signature();
        sig.params.extend([
            AbiParam::new(PTR),
            AbiParam::new(PTR),
            AbiParam::new(types::I64),
            AbiParam::new(types::I64),
            AbiParam::new(PTR),
        ]);
        sig.returns.push(AbiParam::new(types::I32));
        let id = jit
            .declare_function(&format!("kiln_chunk_{}", job.id), Linkage::Local, &sig)
            .map_err(backend_err)?;
        cctx.func.signature = sig;
        cctx.func.name = UserFuncName::user(0, id.as_u32());
        {
            let b = FunctionBuilder::new(&mut cctx.func, &mut fctx);
            let mut fx = Fx::new(b, jit, &mut sh, Mode::Chunk);
            fx.build_chunk(job)?;
            fx.b.finalize(jit.target_config());
        }
        define(
            jit,
            id,
            &mut cctx,
            keep_text.then_some(&mut text),
            &format!("prange {} of kernel `{}`", job.id, kernel.name),
        )?;
        chunks.push(id);
    }
    Ok(Lowered {
        main,
        chunks,
        pars: sh.pars,
        sites: sh.sites,
        text,
    })
}

fn define(
    jit: &mut JITModule,
    id: ClifId,
    cctx: &mut cranelift_codegen::Context,
    text: Option<&mut Vec<String>>,
    what: &str,
) -> Result<()> {
    if let Some(t) = text {
        t.push(format!("; {what}\n{}", cctx.func.display()));
    }
    jit.define_function(id, cctx)
        .map_err(|e| backend_err(format!("{what}: {e:?}")))?;
    jit.clear_context(cctx);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Main,
    Chunk,
}

/// An array's base pointer, length and shape, loaded once per function.
#[derive(Clone, Copy)]
struct ArrayVals {
    ptr: CValue,
    len: CValue,
    shape: [CValue; 3],
}

/// One function body being inlined (the kernel itself, or a helper).
struct Frame<'m> {
    func: &'m ir::Function,
    vars: HashMap<VarId, Variable>,
    /// Where a helper's `return` jumps (block with the result parameter).
    ret: Option<Block>,
}

struct Fx<'a, 'b, 'm> {
    b: FunctionBuilder<'b>,
    jit: &'a mut JITModule,
    sh: &'a mut Shared<'m>,
    mode: Mode,
    ctx: CValue,
    ret_ptr: Option<CValue>,
    arrays: Vec<ArrayVals>,
    frames: Vec<Frame<'m>>,
    /// `(continue target, break target)` of the enclosing loops.
    loops: Vec<(Block, Block)>,
    funcs: HashMap<&'static str, FuncRef>,
    /// `(access, dim)` pairs whose check a hoisted check covers.
    proven: HashSet<(usize, usize)>,
    /// Loops lowered twice (hoisted + checked copy) around the current
    /// point; bounded so that deep nests do not grow code exponentially.
    hoist_depth: u32,
    /// In a chunk function: its flat start (to poll the stop mark).
    chunk_start: Option<CValue>,
    /// The float Add/Min/Max reductions of the chunk being built (the ones
    /// the vector lowering can accumulate per lane).
    chunk_reductions: Vec<(VarId, ir::ReduceOp)>,
    /// While lowering a chunk's privatized copy: the private buffer of each
    /// array whose `atomic_add`s become plain adds (see `privatizable`).
    privs: HashMap<ArrayId, StackSlot>,
}

impl<'a, 'b, 'm> Fx<'a, 'b, 'm> {
    fn new(
        b: FunctionBuilder<'b>,
        jit: &'a mut JITModule,
        sh: &'a mut Shared<'m>,
        mode: Mode,
    ) -> Self {
        let kernel = sh.kernel;
        Fx {
            b,
            jit,
            sh,
            mode,
            ctx: CValue::from_u32(0),
            ret_ptr: None,
            arrays: Vec::new(),
            frames: vec![Frame {
                func: kernel,
                vars: HashMap::new(),
                ret: None,
            }],
            loops: Vec::new(),
            funcs: HashMap::new(),
            proven: HashSet::new(),
            hoist_depth: 0,
            chunk_start: None,
            chunk_reductions: Vec::new(),
            privs: HashMap::new(),
        }
    }

    // ---- function shells -------------------------------------------------

    fn entry(&mut self) -> Vec<CValue> {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry).to_vec();
        self.ctx = params[0];
        self.load_arrays();
        params
    }

    fn load_arrays(&mut self) {
        let table = self
            .b
            .ins()
            .load(PTR, flags(), self.ctx, launch::CTX_ARRAYS);
        let kernel = self.sh.kernel;
        for (i, a) in kernel.arrays.iter().enumerate() {
            let base = i as i32 * launch::ARRAY_DESC_SIZE;
            let ptr = self.b.ins().load(
                PTR,
                flags().with_readonly(),
                table,
                base + launch::ARRAY_PTR,
            );
            let len = self.b.ins().load(
                types::I64,
                flags().with_readonly(),
                table,
                base + launch::ARRAY_LEN,
            );
            let mut shape = [len; 3];
            for (d, s) in shape.iter_mut().enumerate().take(a.rank as usize) {
                *s = self.b.ins().load(
                    types::I64,
                    flags().with_readonly(),
                    table,
                    base + launch::ARRAY_SHAPE + 8 * d as i32,
                );
            }
            self.arrays.push(ArrayVals { ptr, len, shape });
        }
    }

    fn build_main(&mut self) -> Result<()> {
        let params = self.entry();
        let args = params[1];
        self.ret_ptr = Some(params[2]);
        let kernel = self.sh.kernel;
        for (k, p) in kernel.params.iter().enumerate() {
            if let ir::Param::Scalar(v) = p {
                let ty = clif_type(kernel.var(*v).ty);
                let val = self.b.ins().load(ty, flags(), args, 8 * k as i32);
                let var = self.var(*v);
                self.b.def_var(var, val);
            }
        }
        self.block(&kernel.body)?;
        let zero = self.b.ins().iconst(types::I32, 0);
        self.b.ins().return_(&[zero]);
        self.b.seal_all_blocks();
        Ok(())
    }

    fn build_chunk(&mut self, job: &ChunkJob<'m>) -> Result<()> {
        let params = self.entry();
        let (caps, start, end, partials) = (params[1], params[2], params[3], params[4]);
        self.chunk_start = Some(start);
        self.chunk_reductions = job
            .par
            .reductions
            .iter()
            .filter(|r| {
                matches!(
                    r.op,
                    ir::ReduceOp::Add | ir::ReduceOp::Min | ir::ReduceOp::Max
                ) && self.sh.kernel.var(r.var).ty.is_float()
            })
            .map(|r| (r.var, r.op))
            .collect();
        let kernel = self.sh.kernel;
        let rank = job.par.vars.len();
        let mut lo = Vec::new();
        let mut n = Vec::new();
        for d in 0..rank {
            lo.push(self.b.ins().load(types::I64, flags(), caps, 16 * d as i32));
            n.push(
                self.b
                    .ins()
                    .load(types::I64, flags(), caps, 16 * d as i32 + 8),
            );
        }
        for (k, v) in job.captures.iter().enumerate() {
            let ty = clif_type(kernel.var(*v).ty);
            let val = self
                .b
                .ins()
                .load(ty, flags(), caps, 8 * (BOUNDS_WORDS + k) as i32);
            let var = self.var(*v);
            self.b.def_var(var, val);
        }
        for r in &job.par.reductions {
            let ty = kernel.var(r.var).ty;
            let id = self.constant(r.op.identity(ty));
            let var = self.var(r.var);
            self.b.def_var(var, id);
        }
        let privs = privatizable(kernel, &job.par.body);
        if privs.is_empty() {
            self.chunk_loop(job, &lo, &n, start, end)?;
        } else {
            // Two copies of the loop: with private buffers when every such
            // array is small enough, with per-element atomics otherwise.
            let mut small: Option<CValue> = None;
            for a in &privs {
                let len = self.arrays[a.index()].len;
                let ok =
                    self.b
                        .ins()
                        .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, len, PRIVATE_MAX_LEN);
                small = Some(match small {
                    Some(s) => self.b.ins().band(s, ok),
                    None => ok,
                });
            }
            let (pblk, ablk, join) = (
                self.b.create_block(),
                self.b.create_block(),
                self.b.create_block(),
            );
            self.b
                .ins()
                .brif(small.expect("a candidate"), pblk, &[], ablk, &[]);
            self.b.switch_to_block(pblk);
            for &a in &privs {
                let elem = kernel.array(a).elem;
                let slot = self.b.create_sized_stack_slot(StackSlotData::new(
                    StackSlotKind::ExplicitSlot,
                    PRIVATE_MAX_LEN as u32 * elem.size_bytes() as u32,
                    3,
                ));
                self.private_pass(a, slot, false);
                self.privs.insert(a, slot);
            }
            let looped = self.chunk_loop(job, &lo, &n, start, end);
            let slots = std::mem::take(&mut self.privs);
            looped?;
            for &a in &privs {
                self.private_pass(a, slots[&a], true);
            }
            self.b.ins().jump(join, &[]);
            self.b.switch_to_block(ablk);
            self.chunk_loop(job, &lo, &n, start, end)?;
            self.b.ins().jump(join, &[]);
            self.b.switch_to_block(join);
        }
        for (r, red) in job.par.reductions.iter().enumerate() {
            let var = self.var(red.var);
            let v = self.b.use_var(var);
            self.b.ins().store(flags(), v, partials, 8 * r as i32);
        }
        let zero = self.b.ins().iconst(types::I32, 0);
        self.b.ins().return_(&[zero]);
        self.b.seal_all_blocks();
        Ok(())
    }

    /// The loop over `start..end` of a chunk.
    fn chunk_loop(
        &mut self,
        job: &ChunkJob<'m>,
        lo: &[CValue],
        n: &[CValue],
        start: CValue,
        end: CValue,
    ) -> Result<()> {
        let body = &job.par.body;
        if job.par.vars.len() == 1 {
            let first = self.b.ins().iadd(lo[0], start);
            let count = self.b.ins().isub(end, start);
            let one = self.b.ins().iconst(types::I64, 1);
            self.counted_loop(job.par.vars[0], first, count, one, body, true)
        } else {
            self.flat_loop(&job.par.vars, lo, n, start, end, body)
        }
    }

    /// On an early exit of a privatized chunk: merges what it counted so
    /// far, so that its updates before a fault stay visible as with atomics.
    fn merge_privates(&mut self) {
        let mut privs: Vec<(ArrayId, StackSlot)> =
            self.privs.iter().map(|(a, s)| (*a, *s)).collect();
        privs.sort_by_key(|p| p.0);
        for (a, slot) in privs {
            self.private_pass(a, slot, true);
        }
    }

    /// A loop over the `len()` elements of array `a`'s private buffer
    /// `slot`: zeroes them, or (`merge`) atomically adds each nonzero one
    /// into `a`.
    fn private_pass(&mut self, a: ArrayId, slot: StackSlot, merge: bool) {
        let arr = self.arrays[a.index()];
        let elem = self.sh.kernel.array(a).elem;
        let ty = clif_type(elem);
        let shift = elem.size_bytes().trailing_zeros() as i64;
        let base = self.b.ins().stack_addr(PTR, slot, 0);
        let (header, body, exit) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.append_block_param(header, types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.ins().jump(header, &[BlockArg::from(zero)]);
        self.b.switch_to_block(header);
        let k = self.b.block_params(header)[0];
        let more = self.b.ins().icmp(IntCC::SignedLessThan, k, arr.len);
        self.b.ins().brif(more, body, &[], exit, &[]);
        self.b.switch_to_block(body);
        let off = self.b.ins().ishl_imm_s(k, shift);
        let paddr = self.b.ins().iadd(base, off);
        let next = self.b.ins().iadd_imm_s(k, 1);
        if merge {
            let v = self.b.ins().load(ty, flags(), paddr, 0);
            let (add, skip) = (self.b.create_block(), self.b.create_block());
            self.b.ins().brif(v, add, &[], skip, &[]);
            self.b.switch_to_block(add);
            let addr = self.b.ins().iadd(arr.ptr, off);
            self.b
                .ins()
                .atomic_rmw(ty, flags(), AtomicRmwOp::Add, addr, v);
            self.b.ins().jump(skip, &[]);
            self.b.switch_to_block(skip);
        } else {
            let z = self.b.ins().iconst(ty, 0);
            self.b.ins().store(flags(), z, paddr, 0);
        }
        self.b.ins().jump(header, &[BlockArg::from(next)]);
        self.b.switch_to_block(exit);
    }

    /// A 2-D/3-D chunk: walks `start..end` of the flattened space row by
    /// row. Each row segment is a counted loop over the innermost variable,
    /// so stencil-like indices get their checks hoisted like a serial loop's
    /// (the outer variables are invariant inside it).
    fn flat_loop(
        &mut self,
        vars: &[VarId],
        lo: &[CValue],
        n: &[CValue],
        start: CValue,
        end: CValue,
        body: &'m ir::Block,
    ) -> Result<()> {
        let rank = vars.len();
        let last = rank - 1;
        let mut idx = vec![start; rank];
        let mut rest = start;
        for d in (1..rank).rev() {
            let q = self.b.ins().udiv(rest, n[d]);
            let qn = self.b.ins().imul(q, n[d]);
            idx[d] = self.b.ins().isub(rest, qn);
            rest = q;
        }
        idx[0] = rest;
        let counters: Vec<Variable> = (0..rank).map(|_| self.b.declare_var(types::I64)).collect();
        for d in 0..rank {
            self.b.def_var(counters[d], idx[d]);
        }
        let flat = self.b.declare_var(types::I64);
        self.b.def_var(flat, start);
        let header = self.b.create_block();
        let row = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let f = self.b.use_var(flat);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, f, end);
        self.b.ins().brif(more, row, &[], exit, &[]);
        self.b.switch_to_block(row);
        for d in 0..last {
            let c = self.b.use_var(counters[d]);
            let v = self.b.ins().iadd(lo[d], c);
            let var = self.var(vars[d]);
            self.b.def_var(var, v);
        }
        let cj = self.b.use_var(counters[last]);
        let row_left = self.b.ins().isub(n[last], cj);
        let chunk_left = self.b.ins().isub(end, f);
        let seg = self.b.ins().smin(row_left, chunk_left);
        let first = self.b.ins().iadd(lo[last], cj);
        let one = self.b.ins().iconst(types::I64, 1);
        self.counted_loop(vars[last], first, seg, one, body, true)?;
        let f = self.b.use_var(flat);
        let f1 = self.b.ins().iadd(f, seg);
        self.b.def_var(flat, f1);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(counters[last], zero);
        // Next row: increment the next-inner counter and carry outwards.
        let mut carry = self.b.ins().iconst(types::I8, 1);
        for d in (0..last).rev() {
            let c = self.b.use_var(counters[d]);
            let cx = self.b.ins().uextend(types::I64, carry);
            let c1 = self.b.ins().iadd(c, cx);
            if d > 0 {
                let wrap = self.b.ins().icmp(IntCC::Equal, c1, n[d]);
                let c2 = self.b.ins().select(wrap, zero, c1);
                self.b.def_var(counters[d], c2);
                carry = wrap;
            } else {
                self.b.def_var(counters[d], c1);
            }
        }
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(exit);
        Ok(())
    }

    /// At the end of an iteration of a chunk loop: every 4096 iterations,
    /// returns early when a chunk that starts earlier faulted; otherwise
    /// jumps to `header`.
    fn poll_stop(&mut self, counter: CValue, header: Block) {
        let Some(chunk_start) = self.chunk_start else {
            self.b.ins().jump(header, &[]);
            return;
        };
        let check = self.b.create_block();
        let stop = self.b.create_block();
        let low = self.b.ins().band_imm_s(counter, 4095);
        self.b.ins().brif(low, header, &[], check, &[]);
        self.b.switch_to_block(check);
        let ptr = self
            .b
            .ins()
            .load(PTR, flags(), self.ctx, launch::CTX_STOP_BEFORE);
        let stop_before = self.b.ins().atomic_load(types::I64, flags(), ptr);
        let later = self
            .b
            .ins()
            .icmp(IntCC::SignedLessThan, stop_before, chunk_start);
        self.b.ins().brif(later, stop, &[], header, &[]);
        self.b.switch_to_block(stop);
        self.b.set_cold_block(stop);
        self.merge_privates();
        let two = self.b.ins().iconst(types::I32, 2);
        self.b.ins().return_(&[two]);
    }

    // ---- variables and constants ------------------------------------------

    fn frame(&self) -> &Frame<'m> {
        self.frames.last().expect("a frame")
    }

    fn var(&mut self, id: VarId) -> Variable {
        let ty = clif_type(self.frame().func.var(id).ty);
        if let Some(v) = self.frame().vars.get(&id) {
            return *v;
        }
        let v = self.b.declare_var(ty);
        self.frames.last_mut().expect("a frame").vars.insert(id, v);
        v
    }

    fn constant(&mut self, v: Value) -> CValue {
        match v {
            Value::Bool(x) => self.b.ins().iconst(types::I8, x as i64),
            Value::I32(x) => self.b.ins().iconst(types::I32, x as u32 as i64),
            Value::U32(x) => self.b.ins().iconst(types::I32, x as i64),
            Value::I64(x) => self.b.ins().iconst(types::I64, x),
            Value::F32(x) => self.b.ins().f32const(Ieee32::with_bits(x.to_bits())),
            Value::F64(x) => self.b.ins().f64const(Ieee64::with_bits(x.to_bits())),
        }
    }

    fn int_const(&mut self, ty: ScalarType, v: i64) -> CValue {
        match ty {
            ScalarType::I64 => self.b.ins().iconst(types::I64, v),
            ScalarType::Bool => self.b.ins().iconst(types::I8, v & 0xff),
            _ => self.b.ins().iconst(types::I32, v as u32 as i64),
        }
    }

    /// Continues code generation in a fresh block after a terminator.
    fn unreachable_block(&mut self) {
        let blk = self.b.create_block();
        self.b.switch_to_block(blk);
    }

    fn site(&mut self, span: Span, kind: SiteKind) -> i64 {
        self.sh.sites.push(Site { span, kind });
        (self.sh.sites.len() - 1) as i64
    }

    fn import(
        &mut self,
        name: &'static str,
        params: &[Type],
        ret: Option<Type>,
    ) -> Result<FuncRef> {
        if let Some(f) = self.funcs.get(name) {
            return Ok(*f);
        }
        let id = match self.sh.imports.get(name) {
            Some(id) => *id,
            None => {
                let mut sig: Signature = self.jit.make_signature();
                sig.params.extend(params.iter().map(|t| AbiParam::new(*t)));
                sig.returns.extend(ret.map(AbiParam::new));
                let id = self
                    .jit
                    .declare_function(name, Linkage::Import, &sig)
                    .map_err(backend_err)?;
                self.sh.imports.insert(name, id);
                id
            }
        };
        let f = self.jit.declare_func_in_func(id, self.b.func);
        self.funcs.insert(name, f);
        Ok(f)
    }

    /// Branches to a cold exit recording fault `site` with `operands` when
    /// `bad` is nonzero; continues in a fresh block otherwise.
    fn fault_if(&mut self, bad: CValue, site: i64, operands: &[CValue]) -> Result<()> {
        let fail = self.b.create_block();
        let ok = self.b.create_block();
        self.b.ins().brif(bad, fail, &[], ok, &[]);
        self.b.switch_to_block(fail);
        self.b.set_cold_block(fail);
        let f = self.import(
            "kiln_cpu_fault",
            &[PTR, types::I64, types::I64, types::I64, types::I64],
            None,
        )?;
        let site_v = self.b.ins().iconst(types::I64, site);
        let mut args = vec![self.ctx, site_v];
        for k in 0..3 {
            let v = match operands.get(k) {
                Some(v) => *v,
                None => self.b.ins().iconst(types::I64, 0),
            };
            args.push(v);
        }
        self.b.ins().call(f, &args);
        self.merge_privates();
        let one = self.b.ins().iconst(types::I32, 1);
        self.b.ins().return_(&[one]);
        self.b.switch_to_block(ok);
        Ok(())
    }

    // ---- statements -------------------------------------------------------

    fn block(&mut self, blk: &'m ir::Block) -> Result<()> {
        for s in &blk.stmts {
            self.stmt(s)?;
        }
        Ok(())
    }

    fn stmt(&mut self, s: &'m ir::Stmt) -> Result<()> {
        match &s.kind {
            StmtKind::Let { var, init: value } | StmtKind::Assign { var, value } => {
                let v = self.expr(value)?;
                let var = self.var(*var);
                self.b.def_var(var, v);
            }
            StmtKind::Store { access, value } => {
                let v = self.expr(value)?;
                let addr = self.address(access, s.span)?;
                self.b.ins().store(flags(), v, addr, 0);
            }
            StmtKind::Eval(e) => match &e.kind {
                ExprKind::Atomic {
                    op: AtomicOp::Add,
                    access,
                    value,
                } if self.frames.len() == 1 && self.privs.contains_key(&access.array) => {
                    // A privatized `atomic_add`: a plain wrapping add into
                    // the chunk's buffer, checked against the real shape.
                    let slot = self.privs[&access.array];
                    let off = self.offset(access, e.span)?;
                    let v = self.expr(value)?;
                    let base = self.b.ins().stack_addr(PTR, slot, 0);
                    let addr = self.b.ins().iadd(base, off);
                    let old = self.b.ins().load(clif_type(e.ty), flags(), addr, 0);
                    let new = self.b.ins().iadd(old, v);
                    self.b.ins().store(flags(), new, addr, 0);
                }
                _ => {
                    self.expr(e)?;
                }
            },
            StmtKind::If { cond, then, els } => {
                let c = self.expr(cond)?;
                let (tb, eb, join) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                self.b.ins().brif(c, tb, &[], eb, &[]);
                self.b.switch_to_block(tb);
                self.block(then)?;
                self.b.ins().jump(join, &[]);
                self.b.switch_to_block(eb);
                self.block(els)?;
                self.b.ins().jump(join, &[]);
                self.b.switch_to_block(join);
            }
            StmtKind::While { cond, body } => {
                let (header, body_blk, exit) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                self.b.ins().jump(header, &[]);
                self.b.switch_to_block(header);
                let c = self.expr(cond)?;
                self.b.ins().brif(c, body_blk, &[], exit, &[]);
                self.b.switch_to_block(body_blk);
                self.loops.push((header, exit));
                self.block(body)?;
                self.loops.pop();
                self.b.ins().jump(header, &[]);
                self.b.switch_to_block(exit);
            }
            StmtKind::For(f) => self.for_loop(f)?,
            StmtKind::ParFor(p) => {
                if self.mode != Mode::Main || self.frames.len() != 1 {
                    return Err(self
                        .sh
                        .unsupported(s.span, "a `prange` inside another `prange`"));
                }
                self.par_call(p)?;
            }
            StmtKind::Break | StmtKind::Continue => {
                let Some(&(cont, brk)) = self.loops.last() else {
                    return Err(self
                        .sh
                        .unsupported(s.span, "`break`/`continue` outside a loop"));
                };
                let target = if matches!(s.kind, StmtKind::Break) {
                    brk
                } else {
                    cont
                };
                self.b.ins().jump(target, &[]);
                self.unreachable_block();
            }
            StmtKind::Return(value) => {
                let v = match value {
                    Some(e) => Some(self.expr(e)?),
                    None => None,
                };
                if let Some(ret) = self.frame().ret {
                    let v = v.ok_or_else(|| {
                        self.sh
                            .unsupported(s.span, "a helper `return` without a value")
                    })?;
                    self.b.ins().jump(ret, &[BlockArg::from(v)]);
                } else {
                    if self.mode != Mode::Main {
                        return Err(self.sh.unsupported(s.span, "`return` inside a `prange`"));
                    }
                    if let (Some(v), Some(ptr)) = (v, self.ret_ptr) {
                        self.b.ins().store(flags(), v, ptr, 0);
                    }
                    let zero = self.b.ins().iconst(types::I32, 0);
                    self.b.ins().return_(&[zero]);
                }
                self.unreachable_block();
            }
            StmtKind::CheckStep(e) => {
                let v = self.expr(e)?;
                let bad = self.b.ins().icmp_imm_s(IntCC::SignedLessThanOrEqual, v, 0);
                let site = self.site(e.span, SiteKind::Step);
                self.fault_if(bad, site, &[v])?;
            }
        }
        Ok(())
    }

    fn for_loop(&mut self, f: &'m ForLoop) -> Result<()> {
        let start = self.expr(&f.start)?;
        let count = self.expr(&f.count)?;
        let stride = self.expr(&f.stride)?;
        self.counted_loop(f.var, start, count, stride, &f.body, false)
    }

    /// `var` takes `start + k*stride` for `k` in `0..count`. Indices affine in
    /// `var` are range-checked once before the loop; when that check passes
    /// the loop runs without them, otherwise a fully checked copy runs (so a
    /// fault is reported at the exact access and iteration).
    fn counted_loop(
        &mut self,
        var: VarId,
        start: CValue,
        count: CValue,
        stride: CValue,
        body: &'m ir::Block,
        poll: bool,
    ) -> Result<()> {
        let hoisted: Vec<_> = checks::hoistable(body, var)
            .into_iter()
            .filter(|h| !self.proven.contains(&(h.access, h.dim)))
            .collect();
        if hoisted.is_empty() || self.hoist_depth >= MAX_HOIST_DEPTH {
            return self.plain_loop(var, start, count, stride, body, poll);
        }
        let ok = self.hoisted_check(var, start, count, stride, &hoisted)?;
        let (fast, slow, join) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.ins().brif(ok, fast, &[], slow, &[]);
        self.b.switch_to_block(fast);
        self.hoist_depth += 1;
        for h in &hoisted {
            self.proven.insert((h.access, h.dim));
        }
        let fast_loop = self.plain_loop(var, start, count, stride, body, poll);
        for h in &hoisted {
            self.proven.remove(&(h.access, h.dim));
        }
        let slow_loop = fast_loop.and_then(|_| {
            self.b.ins().jump(join, &[]);
            self.b.switch_to_block(slow);
            self.plain_loop(var, start, count, stride, body, poll)
        });
        self.hoist_depth -= 1;
        slow_loop?;
        self.b.ins().jump(join, &[]);
        self.b.switch_to_block(join);
        Ok(())
    }

    /// Whether every hoisted index is in range for the first and the last
    /// value of `var` (see `checks`).
    fn hoisted_check(
        &mut self,
        var: VarId,
        start: CValue,
        count: CValue,
        stride: CValue,
        hoisted: &[checks::Hoisted],
    ) -> Result<CValue> {
        let cm1 = self.b.ins().iadd_imm_s(count, -1);
        let span = self.b.ins().imul(cm1, stride);
        let last = self.b.ins().iadd(start, span);
        let first128 = self.b.ins().sextend(types::I128, start);
        let last128 = self.b.ins().sextend(types::I128, last);
        let mut ok = self.b.ins().iconst(types::I8, 1);
        let loop_var = self.var(var);
        for h in hoisted {
            let zero = self.b.ins().iconst(types::I64, 0);
            self.b.def_var(loop_var, zero);
            let e0 = self.expr(&h.expr)?;
            let one = self.b.ins().iconst(types::I64, 1);
            self.b.def_var(loop_var, one);
            let e1 = self.expr(&h.expr)?;
            let c = self.b.ins().isub(e1, e0);
            let e = self.b.ins().sextend(types::I128, e0);
            let c = self.b.ins().sextend(types::I128, c);
            let shape = self
                .b
                .ins()
                .sextend(types::I128, self.arrays[h.array.index()].shape[h.dim]);
            for v in [first128, last128] {
                let cv = self.b.ins().imul(c, v);
                let val = self.b.ins().iadd(e, cv);
                let ge = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, val, 0);
                let lt = self.b.ins().icmp(IntCC::SignedLessThan, val, shape);
                let both = self.b.ins().band(ge, lt);
                ok = self.b.ins().band(ok, both);
            }
        }
        Ok(ok)
    }

    fn plain_loop(
        &mut self,
        var: VarId,
        start: CValue,
        count: CValue,
        stride: CValue,
        body: &'m ir::Block,
        poll: bool,
    ) -> Result<()> {
        // Chunk loops (the only ones that poll) have unit stride.
        let (start, count) = if poll {
            self.vector_loop(var, start, count, body)?
        } else {
            (start, count)
        };
        let k = self.b.declare_var(types::I64);
        let cur = self.b.declare_var(types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(k, zero);
        self.b.def_var(cur, start);
        let (header, body_blk, inc, exit) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let kv = self.b.use_var(k);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, kv, count);
        self.b.ins().brif(more, body_blk, &[], exit, &[]);
        self.b.switch_to_block(body_blk);
        let v = self.b.use_var(cur);
        let loop_var = self.var(var);
        self.b.def_var(loop_var, v);
        self.loops.push((inc, exit));
        self.block(body)?;
        self.loops.pop();
        self.b.ins().jump(inc, &[]);
        self.b.switch_to_block(inc);
        let kv = self.b.use_var(k);
        let k1 = self.b.ins().iadd_imm_s(kv, 1);
        self.b.def_var(k, k1);
        let c = self.b.use_var(cur);
        let c1 = self.b.ins().iadd(c, stride);
        self.b.def_var(cur, c1);
        if poll {
            self.poll_stop(k1, header);
        } else {
            self.b.ins().jump(header, &[]);
        }
        self.b.switch_to_block(exit);
        Ok(())
    }

    /// Runs the largest multiple of the vector width of `count` iterations
    /// with vector instructions when `vector::plan` allows it; returns the
    /// `(start, count)` left for the scalar loop.
    fn vector_loop(
        &mut self,
        var: VarId,
        start: CValue,
        count: CValue,
        body: &'m ir::Block,
    ) -> Result<(CValue, CValue)> {
        let kernel = self.sh.kernel;
        let proven = &self.proven;
        let unchecked = |a: &Access| {
            let key = access_key(a);
            a.needs_check
                .iter()
                .enumerate()
                .all(|(d, &c)| !c || proven.contains(&(key, d)))
        };
        let Some(ty) = vector::plan(body, var, kernel, &unchecked, &self.chunk_reductions) else {
            return Ok((start, count));
        };
        let (vty, lanes) = if ty == ScalarType::F32 {
            (types::F32X4, 4i64)
        } else {
            (types::F64X2, 2i64)
        };
        let nvec = self.b.ins().band_imm_s(count, !(lanes - 1));
        // One vector accumulator per updated reduction, starting at its
        // identity in every lane.
        let mut accs: HashMap<VarId, (Variable, ir::ReduceOp)> = HashMap::new();
        for st in &body.stmts {
            if let StmtKind::Assign { var: r, .. } = &st.kind {
                if !accs.contains_key(r) {
                    let op = self
                        .chunk_reductions
                        .iter()
                        .find(|(v, _)| v == r)
                        .map_or(ir::ReduceOp::Add, |x| x.1);
                    let acc = self.b.declare_var(vty);
                    let id = self.constant(op.identity(ty));
                    let init = self.b.ins().splat(vty, id);
                    self.b.def_var(acc, init);
                    accs.insert(*r, (acc, op));
                }
            }
        }
        let k = self.b.declare_var(types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(k, zero);
        let (header, body_blk, exit) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let kv = self.b.use_var(k);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, kv, nvec);
        self.b.ins().brif(more, body_blk, &[], exit, &[]);
        self.b.switch_to_block(body_blk);
        let i = self.b.ins().iadd(start, kv);
        let mut lets: HashMap<VarId, CValue> = HashMap::new();
        for s in &body.stmts {
            match &s.kind {
                StmtKind::Let { var: v, init } => {
                    let x = self.vexpr(init, vty, i, &lets)?;
                    lets.insert(*v, x);
                }
                StmtKind::Store { access, value } => {
                    let x = self.vexpr(value, vty, i, &lets)?;
                    let addr = self.unit_address(access, i);
                    self.b
                        .ins()
                        .store(MemFlagsData::new().with_notrap(), x, addr, 0);
                }
                StmtKind::Assign { var: r, value } => {
                    let Some((&(acc, op), e)) = accs
                        .get(r)
                        .and_then(|a| Some((a, vector::update(*r, a.1, value)?)))
                    else {
                        return Err(self
                            .sh
                            .unsupported(s.span, "an update the vector plan excludes"));
                    };
                    let x = self.vexpr(e, vty, i, &lets)?;
                    let a = self.b.use_var(acc);
                    let next = match (&value.kind, op) {
                        (_, ir::ReduceOp::Min) => self.float_minmax(a, x, true),
                        (_, ir::ReduceOp::Max) => self.float_minmax(a, x, false),
                        (ExprKind::Binary(BinOp::Sub, ..), _) => self.b.ins().fsub(a, x),
                        _ => self.b.ins().fadd(a, x),
                    };
                    self.b.def_var(acc, next);
                }
                _ => {
                    return Err(self
                        .sh
                        .unsupported(s.span, "a statement the vector plan excludes"))
                }
            }
        }
        let k1 = self.b.ins().iadd_imm_s(kv, lanes);
        self.b.def_var(k, k1);
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(exit);
        let mut sums: Vec<_> = accs.into_iter().collect();
        sums.sort_by_key(|(r, _)| *r);
        for (r, (acc, op)) in sums {
            let var = self.var(r);
            let mut total = self.b.use_var(var);
            let lanes_v = self.b.use_var(acc);
            for lane in 0..lanes as u8 {
                let x = self.b.ins().extractlane(lanes_v, lane);
                total = match op {
                    ir::ReduceOp::Min => self.float_minmax(total, x, true),
                    ir::ReduceOp::Max => self.float_minmax(total, x, false),
                    _ => self.b.ins().fadd(total, x),
                };
            }
            self.b.def_var(var, total);
        }
        let rest_start = self.b.ins().iadd(start, nvec);
        let rest = self.b.ins().isub(count, nvec);
        Ok((rest_start, rest))
    }

    fn unit_address(&mut self, acc: &Access, i: CValue) -> CValue {
        let base = self.arrays[acc.array.index()].ptr;
        let size = self.sh.kernel.array(acc.array).elem.size_bytes();
        let off = self.b.ins().ishl_imm_s(i, size.trailing_zeros() as i64);
        self.b.ins().iadd(base, off)
    }

    fn vexpr(
        &mut self,
        e: &Expr,
        vty: Type,
        i: CValue,
        lets: &HashMap<VarId, CValue>,
    ) -> Result<CValue> {
        Ok(match &e.kind {
            ExprKind::Const(v) => {
                let x = self.constant(*v);
                self.b.ins().splat(vty, x)
            }
            ExprKind::Var(v) => match lets.get(v) {
                Some(x) => *x,
                None => {
                    let var = self.var(*v);
                    let x = self.b.use_var(var);
                    self.b.ins().splat(vty, x)
                }
            },
            ExprKind::Unary(UnOp::Neg, a) => {
                let x = self.vexpr(a, vty, i, lets)?;
                self.b.ins().fneg(x)
            }
            ExprKind::Binary(op, a, b) => {
                let x = self.vexpr(a, vty, i, lets)?;
                let y = self.vexpr(b, vty, i, lets)?;
                match op {
                    BinOp::Add => self.b.ins().fadd(x, y),
                    BinOp::Sub => self.b.ins().fsub(x, y),
                    BinOp::Mul => self.b.ins().fmul(x, y),
                    _ => self.b.ins().fdiv(x, y),
                }
            }
            ExprKind::Builtin(f, args) => {
                let x = self.vexpr(&args[0], vty, i, lets)?;
                if *f == Builtin::Sqrt {
                    self.b.ins().sqrt(x)
                } else {
                    self.b.ins().fabs(x)
                }
            }
            ExprKind::Load(acc) => {
                let addr = self.unit_address(acc, i);
                self.b
                    .ins()
                    .load(vty, MemFlagsData::new().with_notrap(), addr, 0)
            }
            _ => {
                return Err(self
                    .sh
                    .unsupported(e.span, "an expression the vector plan excludes"))
            }
        })
    }

    /// A `prange` in serial code: store bounds, captures and the reduction
    /// variables in stack buffers, run the chunks, read the reductions back.
    fn par_call(&mut self, p: &'m ParLoop) -> Result<()> {
        let kernel = self.sh.kernel;
        let mut exclude: Vec<VarId> = p.vars.clone();
        exclude.extend(p.reductions.iter().map(|r| r.var));
        let captures = checks::captures(&p.body, &exclude);
        let words = BOUNDS_WORDS + captures.len();
        let caps = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            8 * words as u32,
            3,
        ));
        let caps_ptr = self.b.ins().stack_addr(PTR, caps, 0);
        for (d, (lo, hi)) in p.ranges.iter().enumerate() {
            let lo = self.expr(lo)?;
            let hi = self.expr(hi)?;
            let diff = self.b.ins().isub(hi, lo);
            let nonempty = self.b.ins().icmp(IntCC::SignedGreaterThan, hi, lo);
            let zero = self.b.ins().iconst(types::I64, 0);
            let n = self.b.ins().select(nonempty, diff, zero);
            self.b.ins().store(flags(), lo, caps_ptr, 16 * d as i32);
            self.b.ins().store(flags(), n, caps_ptr, 16 * d as i32 + 8);
        }
        for (k, v) in captures.iter().enumerate() {
            let var = self.var(*v);
            let val = self.b.use_var(var);
            self.b
                .ins()
                .store(flags(), val, caps_ptr, 8 * (BOUNDS_WORDS + k) as i32);
        }
        let nred = p.reductions.len().max(1);
        let reds = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            8 * nred as u32,
            3,
        ));
        let reds_ptr = self.b.ins().stack_addr(PTR, reds, 0);
        let zero = self.b.ins().iconst(types::I64, 0);
        for r in 0..nred {
            self.b.ins().store(flags(), zero, reds_ptr, 8 * r as i32);
        }
        for (r, red) in p.reductions.iter().enumerate() {
            let var = self.var(red.var);
            let val = self.b.use_var(var);
            self.b.ins().store(flags(), val, reds_ptr, 8 * r as i32);
        }
        let id = self.sh.pars.len();
        self.sh.pars.push(ParInfo {
            rank: p.vars.len(),
            reductions: p
                .reductions
                .iter()
                .map(|r| (r.op, kernel.var(r.var).ty))
                .collect(),
            heavy: checks::has_loop(&p.body, self.sh.module, 0),
        });
        self.sh.jobs.push(ChunkJob {
            id,
            par: p,
            captures,
        });
        let f = self.import(
            "kiln_cpu_par",
            &[PTR, types::I64, PTR, PTR],
            Some(types::I32),
        )?;
        let id_v = self.b.ins().iconst(types::I64, id as i64);
        let call = self.b.ins().call(f, &[self.ctx, id_v, caps_ptr, reds_ptr]);
        let status = self.b.inst_results(call)[0];
        let (fail, ok) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(status, fail, &[], ok, &[]);
        self.b.switch_to_block(fail);
        self.b.set_cold_block(fail);
        let one = self.b.ins().iconst(types::I32, 1);
        self.b.ins().return_(&[one]);
        self.b.switch_to_block(ok);
        for (r, red) in p.reductions.iter().enumerate() {
            let ty = clif_type(kernel.var(red.var).ty);
            let v = self.b.ins().load(ty, flags(), reds_ptr, 8 * r as i32);
            let var = self.var(red.var);
            self.b.def_var(var, v);
        }
        Ok(())
    }

    // ---- expressions ------------------------------------------------------

    fn expr(&mut self, e: &Expr) -> Result<CValue> {
        Ok(match &e.kind {
            ExprKind::Const(v) => self.constant(*v),
            ExprKind::Var(id) => {
                let var = self.var(*id);
                self.b.use_var(var)
            }
            ExprKind::Unary(op, a) => {
                let x = self.expr(a)?;
                match (op, a.ty) {
                    (UnOp::Neg, t) if t.is_float() => self.b.ins().fneg(x),
                    (UnOp::Neg, _) => self.b.ins().ineg(x),
                    (UnOp::Not, ScalarType::Bool) => self.b.ins().bxor_imm_s(x, 1),
                    (UnOp::Not, _) => self.b.ins().bnot(x),
                }
            }
            ExprKind::Binary(BinOp::And, a, b) => self.short_circuit(a, b, true)?,
            ExprKind::Binary(BinOp::Or, a, b) => self.short_circuit(a, b, false)?,
            ExprKind::Binary(op, a, b) => {
                let x = self.expr(a)?;
                let y = self.expr(b)?;
                self.binary(*op, a.ty, x, y, e.span)?
            }
            ExprKind::Cast(a) => {
                let x = self.expr(a)?;
                self.cast(x, a.ty, e.ty)
            }
            ExprKind::Builtin(f, args) => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.expr(a)?);
                }
                let ty = args
                    .get(1)
                    .filter(|_| *f == Builtin::Select)
                    .map_or(args[0].ty, |a| a.ty);
                self.builtin(*f, ty, &vals)?
            }
            ExprKind::Call(fid, args) => self.inline_call(*fid, args)?,
            ExprKind::If(c, a, b) => {
                let cv = self.expr(c)?;
                let (tb, eb, join) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                self.b.append_block_param(join, clif_type(e.ty));
                self.b.ins().brif(cv, tb, &[], eb, &[]);
                self.b.switch_to_block(tb);
                let x = self.expr(a)?;
                self.b.ins().jump(join, &[BlockArg::from(x)]);
                self.b.switch_to_block(eb);
                let y = self.expr(b)?;
                self.b.ins().jump(join, &[BlockArg::from(y)]);
                self.b.switch_to_block(join);
                self.b.block_params(join)[0]
            }
            ExprKind::Load(acc) => {
                let addr = self.address(acc, e.span)?;
                let ty = clif_type(self.sh.kernel.array(acc.array).elem);
                self.b.ins().load(ty, flags(), addr, 0)
            }
            ExprKind::Len(a) => self.arrays[a.index()].len,
            ExprKind::Shape(a, d) => self.arrays[a.index()].shape[(*d as usize).min(2)],
            ExprKind::Atomic { op, access, value } => {
                // Arguments left to right: the element (checked), the value.
                let addr = self.address(access, e.span)?;
                let v = self.expr(value)?;
                self.atomic(*op, e.ty, addr, v)
            }
        })
    }

    fn short_circuit(&mut self, a: &Expr, b: &Expr, is_and: bool) -> Result<CValue> {
        let x = self.expr(a)?;
        let (rhs, join) = (self.b.create_block(), self.b.create_block());
        self.b.append_block_param(join, types::I8);
        if is_and {
            self.b.ins().brif(x, rhs, &[], join, &[BlockArg::from(x)]);
        } else {
            self.b.ins().brif(x, join, &[BlockArg::from(x)], rhs, &[]);
        }
        self.b.switch_to_block(rhs);
        let y = self.expr(b)?;
        self.b.ins().jump(join, &[BlockArg::from(y)]);
        self.b.switch_to_block(join);
        Ok(self.b.block_params(join)[0])
    }

    fn inline_call(&mut self, fid: FuncId, args: &[Expr]) -> Result<CValue> {
        let callee = self.sh.module.function(fid);
        if self.frames.len() > 64 {
            return Err(self
                .sh
                .unsupported(callee.span, "helper calls nested too deeply"));
        }
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(self.expr(a)?);
        }
        let ret_ty = callee.ret.unwrap_or(ScalarType::I32);
        let join = self.b.create_block();
        self.b.append_block_param(join, clif_type(ret_ty));
        self.frames.push(Frame {
            func: callee,
            vars: HashMap::new(),
            ret: Some(join),
        });
        let outer_loops = std::mem::take(&mut self.loops);
        for (p, v) in callee.params.iter().zip(vals) {
            if let ir::Param::Scalar(id) = p {
                let var = self.var(*id);
                self.b.def_var(var, v);
            }
        }
        let body = self.block(&callee.body);
        self.loops = outer_loops;
        body?;
        // Every path of a helper returns; this jump is unreachable.
        let zero = self.constant(Value::zero(ret_ty));
        self.b.ins().jump(join, &[BlockArg::from(zero)]);
        self.frames.pop();
        self.b.switch_to_block(join);
        Ok(self.b.block_params(join)[0])
    }

    /// Address of an element, bounds-checked in every dimension that needs
    /// it (one branch per access).
    fn address(&mut self, acc: &Access, span: Span) -> Result<CValue> {
        let off = self.offset(acc, span)?;
        let ptr = self.arrays[acc.array.index()].ptr;
        Ok(self.b.ins().iadd(ptr, off))
    }

    /// Byte offset of an element from its array's start, bounds-checked
    /// like `address`.
    fn offset(&mut self, acc: &Access, span: Span) -> Result<CValue> {
        let arr = self.arrays[acc.array.index()];
        let mut idx = Vec::with_capacity(acc.index.len());
        for i in &acc.index {
            idx.push(self.expr(i)?);
        }
        let key = access_key(acc);
        let mut bad: Option<CValue> = None;
        for (d, &i) in idx.iter().enumerate() {
            if !acc.needs_check.get(d).copied().unwrap_or(true) || self.proven.contains(&(key, d)) {
                continue;
            }
            let out = self
                .b
                .ins()
                .icmp(IntCC::UnsignedGreaterThanOrEqual, i, arr.shape[d]);
            bad = Some(match bad {
                Some(b) => self.b.ins().bor(b, out),
                None => out,
            });
        }
        if let Some(bad) = bad {
            let site = self.site(span, SiteKind::Index(acc.array));
            self.fault_if(bad, site, &idx)?;
        }
        let mut flat = idx[0];
        for d in 1..idx.len() {
            let m = self.b.ins().imul(flat, arr.shape[d]);
            flat = self.b.ins().iadd(m, idx[d]);
        }
        let size = self.sh.kernel.array(acc.array).elem.size_bytes();
        Ok(self.b.ins().ishl_imm_s(flat, size.trailing_zeros() as i64))
    }

    fn atomic(&mut self, op: AtomicOp, ty: ScalarType, addr: CValue, v: CValue) -> CValue {
        let f = flags();
        if ty.is_int() {
            let signed = ty.is_signed();
            let rmw = match (op, signed) {
                (AtomicOp::Add, _) => AtomicRmwOp::Add,
                (AtomicOp::Min, true) => AtomicRmwOp::Smin,
                (AtomicOp::Min, false) => AtomicRmwOp::Umin,
                (AtomicOp::Max, true) => AtomicRmwOp::Smax,
                (AtomicOp::Max, false) => AtomicRmwOp::Umax,
            };
            return self.b.ins().atomic_rmw(clif_type(ty), f, rmw, addr, v);
        }
        // Floats: compare-and-swap loop on the bits.
        let fty = clif_type(ty);
        let ity = if ty == ScalarType::F32 {
            types::I32
        } else {
            types::I64
        };
        let init = self.b.ins().atomic_load(ity, f, addr);
        let (retry, done) = (self.b.create_block(), self.b.create_block());
        self.b.append_block_param(retry, ity);
        self.b.append_block_param(done, ity);
        self.b.ins().jump(retry, &[BlockArg::from(init)]);
        self.b.switch_to_block(retry);
        let cur = self.b.block_params(retry)[0];
        let old = self.b.ins().bitcast(fty, MemFlagsData::new(), cur);
        let new = match op {
            AtomicOp::Add => self.b.ins().fadd(old, v),
            AtomicOp::Min => self.float_minmax(old, v, true),
            AtomicOp::Max => self.float_minmax(old, v, false),
        };
        let new_bits = self.b.ins().bitcast(ity, MemFlagsData::new(), new);
        let seen = self.b.ins().atomic_cas(f, addr, cur, new_bits);
        let same = self.b.ins().icmp(IntCC::Equal, seen, cur);
        self.b.ins().brif(
            same,
            done,
            &[BlockArg::from(cur)],
            retry,
            &[BlockArg::from(seen)],
        );
        self.b.switch_to_block(done);
        let bits = self.b.block_params(done)[0];
        self.b.ins().bitcast(fty, MemFlagsData::new(), bits)
    }

    fn binary(
        &mut self,
        op: BinOp,
        ty: ScalarType,
        x: CValue,
        y: CValue,
        span: Span,
    ) -> Result<CValue> {
        use BinOp as B;
        let float = ty.is_float();
        let signed = ty.is_signed() && !float;
        Ok(match op {
            B::Add if float => self.b.ins().fadd(x, y),
            B::Sub if float => self.b.ins().fsub(x, y),
            B::Mul if float => self.b.ins().fmul(x, y),
            B::Div if float => self.b.ins().fdiv(x, y),
            B::Rem if float => {
                let name = if ty == ScalarType::F32 {
                    "kiln_fmod_f32"
                } else {
                    "kiln_fmod_f64"
                };
                let t = clif_type(ty);
                let f = self.import(name, &[t, t], Some(t))?;
                let call = self.b.ins().call(f, &[x, y]);
                self.b.inst_results(call)[0]
            }
            B::Add => self.b.ins().iadd(x, y),
            B::Sub => self.b.ins().isub(x, y),
            B::Mul => self.b.ins().imul(x, y),
            B::Div | B::Rem => self.int_divrem(op == B::Div, ty, x, y, span)?,
            B::BitAnd | B::And => self.b.ins().band(x, y),
            B::BitOr | B::Or => self.b.ins().bor(x, y),
            B::BitXor => self.b.ins().bxor(x, y),
            B::Shl | B::Shr => {
                let amt = self.b.ins().band_imm_s(y, ty.bits() as i64 - 1);
                match (op, signed) {
                    (B::Shl, _) => self.b.ins().ishl(x, amt),
                    (_, true) => self.b.ins().sshr(x, amt),
                    _ => self.b.ins().ushr(x, amt),
                }
            }
            B::Eq | B::Ne | B::Lt | B::Le | B::Gt | B::Ge if float => {
                let cc = match op {
                    B::Eq => FloatCC::Equal,
                    B::Ne => FloatCC::NotEqual,
                    B::Lt => FloatCC::LessThan,
                    B::Le => FloatCC::LessThanOrEqual,
                    B::Gt => FloatCC::GreaterThan,
                    _ => FloatCC::GreaterThanOrEqual,
                };
                self.b.ins().fcmp(cc, x, y)
            }
            B::Eq | B::Ne | B::Lt | B::Le | B::Gt | B::Ge => {
                let cc = match (op, signed) {
                    (B::Eq, _) => IntCC::Equal,
                    (B::Ne, _) => IntCC::NotEqual,
                    (B::Lt, true) => IntCC::SignedLessThan,
                    (B::Le, true) => IntCC::SignedLessThanOrEqual,
                    (B::Gt, true) => IntCC::SignedGreaterThan,
                    (B::Ge, true) => IntCC::SignedGreaterThanOrEqual,
                    (B::Lt, false) => IntCC::UnsignedLessThan,
                    (B::Le, false) => IntCC::UnsignedLessThanOrEqual,
                    (B::Gt, false) => IntCC::UnsignedGreaterThan,
                    _ => IntCC::UnsignedGreaterThanOrEqual,
                };
                self.b.ins().icmp(cc, x, y)
            }
        })
    }

    /// Integer `/` and `%`: a zero divisor faults; `MIN / -1` divides by 1
    /// instead (same quotient MIN after wrapping, remainder 0), so `sdiv`
    /// never traps.
    fn int_divrem(
        &mut self,
        div: bool,
        ty: ScalarType,
        x: CValue,
        y: CValue,
        span: Span,
    ) -> Result<CValue> {
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        let site = self.site(span, if div { SiteKind::Div } else { SiteKind::Rem });
        self.fault_if(zero, site, &[])?;
        if ty == ScalarType::U32 {
            return Ok(if div {
                self.b.ins().udiv(x, y)
            } else {
                self.b.ins().urem(x, y)
            });
        }
        let min = if ty == ScalarType::I32 {
            i32::MIN as i64
        } else {
            i64::MIN
        };
        let minus_one = self.int_const(ty, -1);
        let min_v = self.int_const(ty, min);
        let is_m1 = self.b.ins().icmp(IntCC::Equal, y, minus_one);
        let is_min = self.b.ins().icmp(IntCC::Equal, x, min_v);
        let both = self.b.ins().band(is_m1, is_min);
        let one = self.int_const(ty, 1);
        let y = self.b.ins().select(both, one, y);
        Ok(if div {
            self.b.ins().sdiv(x, y)
        } else {
            self.b.ins().srem(x, y)
        })
    }

    fn cast(&mut self, x: CValue, from: ScalarType, to: ScalarType) -> CValue {
        use ScalarType as T;
        let ins = self.b.ins();
        match (from, to) {
            _ if from == to => x,
            (T::I32, T::U32) | (T::U32, T::I32) => x,
            (T::Bool, T::I32 | T::U32 | T::I64) => ins.uextend(clif_type(to), x),
            (T::Bool, T::F32 | T::F64) => {
                let w = ins.uextend(types::I32, x);
                self.b.ins().fcvt_from_uint(clif_type(to), w)
            }
            (T::I32, T::I64) => ins.sextend(types::I64, x),
            (T::U32, T::I64) => ins.uextend(types::I64, x),
            (T::I64, T::I32 | T::U32) => ins.ireduce(types::I32, x),
            (T::I32 | T::I64, T::F32 | T::F64) => ins.fcvt_from_sint(clif_type(to), x),
            (T::U32, T::F32 | T::F64) => ins.fcvt_from_uint(clif_type(to), x),
            (T::F32 | T::F64, T::I32 | T::I64) => ins.fcvt_to_sint_sat(clif_type(to), x),
            (T::F32 | T::F64, T::U32) => ins.fcvt_to_uint_sat(types::I32, x),
            (T::F32, T::F64) => ins.fpromote(types::F64, x),
            (T::F64, T::F32) => ins.fdemote(types::F32, x),
            // Numbers never cast to bool (a compile error); nonzero is true.
            (_, T::Bool) => {
                if from.is_float() {
                    let z = if from == T::F32 {
                        ins.f32const(0.0)
                    } else {
                        ins.f64const(0.0)
                    };
                    self.b.ins().fcmp(FloatCC::NotEqual, x, z)
                } else {
                    ins.icmp_imm_s(IntCC::NotEqual, x, 0)
                }
            }
            _ => x,
        }
    }

    /// Rust's `f64::min`/`max`: a NaN operand yields the other one.
    /// SPEC `min`/`max` on floats or float vectors, lane by lane: a NaN
    /// `b` yields `a` (and a NaN `a` yields `b`), and -0 < +0 (as in
    /// `value::min_max`: or the bits of equal operands for min, and them for
    /// max). The selects work on the integer view, where `fcmp` masks live.
    fn float_minmax(&mut self, a: CValue, b: CValue, min: bool) -> CValue {
        let cc = if min {
            FloatCC::LessThan
        } else {
            FloatCC::GreaterThan
        };
        let fty = self.b.func.dfg.value_type(a);
        let ity = fty.as_int();
        let flags = MemFlagsData::new();
        let (ai, bi) = (
            self.b.ins().bitcast(ity, flags, a),
            self.b.ins().bitcast(ity, flags, b),
        );
        let zi = if min {
            self.b.ins().bor(ai, bi)
        } else {
            self.b.ins().band(ai, bi)
        };
        let (pick_a, equal, b_nan) = (
            self.b.ins().fcmp(cc, a, b),
            self.b.ins().fcmp(FloatCC::Equal, a, b),
            self.b.ins().fcmp(FloatCC::Unordered, b, b),
        );
        let r = if fty.is_vector() {
            let r = self.b.ins().bitselect(pick_a, ai, bi);
            let r = self.b.ins().bitselect(equal, zi, r);
            self.b.ins().bitselect(b_nan, ai, r)
        } else {
            let r = self.b.ins().select(pick_a, ai, bi);
            let r = self.b.ins().select(equal, zi, r);
            self.b.ins().select(b_nan, ai, r)
        };
        self.b.ins().bitcast(fty, flags, r)
    }

    fn int_minmax(&mut self, ty: ScalarType, a: CValue, b: CValue, min: bool) -> CValue {
        match (min, ty.is_signed()) {
            (true, true) => self.b.ins().smin(a, b),
            (true, false) => self.b.ins().umin(a, b),
            (false, true) => self.b.ins().smax(a, b),
            (false, false) => self.b.ins().umax(a, b),
        }
    }

    fn minmax(&mut self, ty: ScalarType, a: CValue, b: CValue, min: bool) -> CValue {
        if ty.is_float() {
            self.float_minmax(a, b, min)
        } else if ty == ScalarType::Bool {
            if min {
                self.b.ins().band(a, b)
            } else {
                self.b.ins().bor(a, b)
            }
        } else {
            self.int_minmax(ty, a, b, min)
        }
    }

    fn builtin(&mut self, f: Builtin, ty: ScalarType, a: &[CValue]) -> Result<CValue> {
        let func = match f.lowering() {
            Lowering::Generic(g) => return Ok(self.generic_builtin(g, ty, a)),
            Lowering::Float(func) => func,
        };
        Ok(match func.cpu {
            CpuLowering::Call(names) => {
                let t = clif_type(ty);
                let params = vec![t; a.len()];
                let fr = self.import(names.get(ty), &params, Some(t))?;
                let call = self.b.ins().call(fr, a);
                self.b.inst_results(call)[0]
            }
            CpuLowering::Inst(CpuInst::Sqrt) => self.b.ins().sqrt(a[0]),
            CpuLowering::Inst(CpuInst::Floor) => self.b.ins().floor(a[0]),
            CpuLowering::Inst(CpuInst::Ceil) => self.b.ins().ceil(a[0]),
            CpuLowering::Inst(CpuInst::Trunc) => self.b.ins().trunc(a[0]),
            CpuLowering::Inst(CpuInst::RoundAway) => {
                // Half away from zero: trunc, then step away when the
                // dropped fraction is at least one half (exact in floats).
                let t = self.b.ins().trunc(a[0]);
                let frac = self.b.ins().fsub(a[0], t);
                let d = self.b.ins().fabs(frac);
                let (half, one) = if ty == ScalarType::F32 {
                    (self.b.ins().f32const(0.5), self.b.ins().f32const(1.0))
                } else {
                    (self.b.ins().f64const(0.5), self.b.ins().f64const(1.0))
                };
                let ge = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, d, half);
                let step = self.b.ins().fcopysign(one, a[0]);
                let away = self.b.ins().fadd(t, step);
                self.b.ins().select(ge, away, t)
            }
        })
    }

    fn generic_builtin(&mut self, g: Generic, ty: ScalarType, a: &[CValue]) -> CValue {
        match g {
            Generic::Abs if ty.is_float() => self.b.ins().fabs(a[0]),
            Generic::Abs if ty == ScalarType::U32 || ty == ScalarType::Bool => a[0],
            Generic::Abs => self.b.ins().iabs(a[0]),
            Generic::Min => self.minmax(ty, a[0], a[1], true),
            Generic::Max => self.minmax(ty, a[0], a[1], false),
            Generic::Clamp => {
                let m = self.minmax(ty, a[0], a[1], false);
                self.minmax(ty, m, a[2], true)
            }
            Generic::IsNan => self.b.ins().fcmp(FloatCC::Unordered, a[0], a[0]),
            Generic::IsInf => {
                let m = self.b.ins().fabs(a[0]);
                let inf = if ty == ScalarType::F32 {
                    self.b.ins().f32const(f32::INFINITY)
                } else {
                    self.b.ins().f64const(f64::INFINITY)
                };
                self.b.ins().fcmp(FloatCC::Equal, m, inf)
            }
            Generic::Select => self.b.ins().select(a[0], a[1], a[2]),
        }
    }
}

/// The arrays a `prange` body uses only as the target of integer
/// `atomic_add`s whose result is unused (`StmtKind::Eval`): no other load,
/// store or atomic of them anywhere in the body. Their updates commute and
/// wrap, so counting them privately per chunk and merging gives the same
/// bits. (Helpers cannot access arrays.)
fn privatizable(kernel: &ir::Function, body: &ir::Block) -> Vec<ArrayId> {
    #[derive(Default)]
    struct Uses {
        good: HashSet<ArrayId>,
        bad: HashSet<ArrayId>,
    }
    fn access(u: &mut Uses, acc: &Access) {
        for i in &acc.index {
            expr(u, i);
        }
    }
    fn expr(u: &mut Uses, e: &Expr) {
        match &e.kind {
            ExprKind::Const(_) | ExprKind::Var(_) | ExprKind::Len(_) | ExprKind::Shape(..) => {}
            ExprKind::Unary(_, a) | ExprKind::Cast(a) => expr(u, a),
            ExprKind::Binary(_, a, b) => {
                expr(u, a);
                expr(u, b);
            }
            ExprKind::Builtin(_, args) | ExprKind::Call(_, args) => {
                for a in args {
                    expr(u, a);
                }
            }
            ExprKind::If(c, a, b) => {
                expr(u, c);
                expr(u, a);
                expr(u, b);
            }
            ExprKind::Load(acc) => {
                u.bad.insert(acc.array);
                access(u, acc);
            }
            ExprKind::Atomic {
                access: acc, value, ..
            } => {
                u.bad.insert(acc.array);
                access(u, acc);
                expr(u, value);
            }
        }
    }
    fn block(u: &mut Uses, k: &ir::Function, b: &ir::Block) {
        for s in &b.stmts {
            match &s.kind {
                StmtKind::Let { init: e, .. }
                | StmtKind::Assign { value: e, .. }
                | StmtKind::CheckStep(e)
                | StmtKind::Return(Some(e)) => expr(u, e),
                StmtKind::Eval(e) => match &e.kind {
                    ExprKind::Atomic {
                        op: AtomicOp::Add,
                        access: acc,
                        value,
                    } if e.ty.is_int() && k.array(acc.array).elem.is_int() => {
                        u.good.insert(acc.array);
                        access(u, acc);
                        expr(u, value);
                    }
                    _ => expr(u, e),
                },
                StmtKind::Store { access: acc, value } => {
                    u.bad.insert(acc.array);
                    access(u, acc);
                    expr(u, value);
                }
                StmtKind::If { cond, then, els } => {
                    expr(u, cond);
                    block(u, k, then);
                    block(u, k, els);
                }
                StmtKind::While { cond, body } => {
                    expr(u, cond);
                    block(u, k, body);
                }
                StmtKind::For(f) => {
                    expr(u, &f.start);
                    expr(u, &f.count);
                    expr(u, &f.stride);
                    block(u, k, &f.body);
                }
                StmtKind::ParFor(p) => {
                    for (lo, hi) in &p.ranges {
                        expr(u, lo);
                        expr(u, hi);
                    }
                    block(u, k, &p.body);
                }
                StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
            }
        }
    }
    let mut u = Uses::default();
    block(&mut u, kernel, body);
    let mut out: Vec<ArrayId> = u.good.difference(&u.bad).copied().collect();
    out.sort();
    out
}
