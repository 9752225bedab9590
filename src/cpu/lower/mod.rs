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
//!
//! This module holds the entry point, the per-kernel and per-function
//! lowering state (`Shared`, `Fx`), fault sites and function shells; the
//! `impl Fx` continues by concern in `stmt` (statements), `expr`
//! (expressions, accesses, atomics), `ops` (scalar operations), `loops`
//! (serial counted loops and hoisted bounds checks), `vector` (the vector
//! plan and vector loops) and `chunks` (`prange`: the serial call and the
//! chunk functions); `codegen` compiles the built functions, overlapped
//! with the lowering of the next ones.

use super::launch::{self, ParInfo};
pub(crate) use codegen::start_helper;
use codegen::{Batch, Built};
mod chunks;
mod codegen;
mod exp;
mod expr;
mod lanes;
pub(crate) use lanes::ITERATIONS as LANE_ITERATIONS;
mod loops;
mod ops;
mod sincos;
mod stmt;
mod trig;
mod vector;

use crate::error::{Error, Result};
use crate::ir::{self, ArrayId, FuncId, ParLoop, ScalarType, Span, Value, VarId};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::Function as ClifFunction;
use cranelift_codegen::ir::Value as CValue;
use cranelift_codegen::ir::{
    types, AbiParam, Block, FuncRef, InstBuilder, MemFlagsData, Signature, StackSlot, Type,
    UserFuncName,
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

pub(crate) use crate::engine::fault::{FaultSite as Site, SiteKind};

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
    keep_text: Option<Listing>,
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
    // Compiled while the rest is lowered (see `codegen`); a listing keeps
    // each function's text, so it compiles them one by one at the end.
    let batch = keep_text.is_none().then(Batch::new);
    let mut listed = Vec::new();
    let mut emit = |b: Built| match &batch {
        Some(batch) => batch.push(b),
        None => listed.push(b),
    };
    emit(Built {
        id: main,
        func: std::mem::replace(&mut cctx.func, ClifFunction::new()),
        what: format!("main of kernel `{}`", kernel.name),
    });

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
        emit(Built {
            id,
            func: std::mem::replace(&mut cctx.func, ClifFunction::new()),
            what: format!("prange {} of kernel `{}`", job.id, kernel.name),
        });
        chunks.push(id);
    }
    match batch {
        Some(batch) => batch.finish(jit)?,
        None => {
            for b in listed {
                cctx.func = b.func;
                let listing = keep_text.map(|l| (l, &mut text));
                define(jit, b.id, &mut cctx, listing, &b.what)?;
            }
        }
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
    mut text: Option<(Listing, &mut Vec<String>)>,
    what: &str,
) -> Result<()> {
    if let Some((Listing::Clif, t)) = &mut text {
        t.push(format!("; {what}\n{}", cctx.func.display()));
    }
    cctx.set_disasm(matches!(text, Some((Listing::Machine, _))));
    let err = |e: &dyn std::fmt::Debug| backend_err(format!("{what}: {e:?}"));
    if cctx.func.dfg.num_insts() <= codegen::OPTIMIZE_MAX_INSTS {
        jit.define_function(id, cctx).map_err(|e| err(&e))?;
    } else {
        let code = codegen::compile(
            std::mem::replace(&mut cctx.func, ClifFunction::new()),
            id,
            what,
        )?;
        code.define(jit, what)?;
    }
    if let Some((Listing::Machine, t)) = text {
        let code = cctx.compiled_code().and_then(|c| c.vcode.clone());
        t.push(format!("; {what}\n{}", code.unwrap_or_default()));
    }
    jit.clear_context(cctx);
    Ok(())
}

/// What `lower_kernel` keeps as text of each function it defines.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Listing {
    /// The Cranelift IR given to Cranelift (before its optimizer).
    Clif,
    /// Cranelift's listing of the machine instructions it emitted, after
    /// optimization and register allocation.
    Machine,
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
    /// Variables bound to one value for the loops being lowered (see
    /// `Fx::pin_invariants`).
    pinned: HashMap<VarId, CValue>,
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
    /// `sin`/`cos` results computed ahead by a fused call (see `trig`).
    trig_memo: Vec<(ir::Expr, ir::Builtin, CValue)>,
    /// The statement whose `sin`/`cos` pairs may be fused.
    trig_stmt: Option<&'m ir::Stmt>,
    /// Loops lowered twice (hoisted + checked copy) around the current
    /// point; bounded so that deep nests do not grow code exponentially.
    hoist_depth: u32,
    /// The float Add/Min/Max reductions of the chunk being built (the ones
    /// the vector lowering can accumulate per lane).
    chunk_reductions: Vec<(VarId, ir::ReduceOp)>,
    /// While lowering a chunk's privatized copy: the private buffer of each
    /// array whose `atomic_add`s become plain adds (see `privatizable`).
    privs: HashMap<ArrayId, StackSlot>,
    /// In the scalar copies of a loop whose body runs as vectors: `exp`,
    /// and `sin`/`cos` of `f64`, are computed inline as in the vector lanes
    /// (`exp`, `sincos`), not called.
    inline_math_here: bool,
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
                pinned: HashMap::new(),
                ret: None,
            }],
            loops: Vec::new(),
            funcs: HashMap::new(),
            proven: HashSet::new(),
            hoist_depth: 0,
            trig_memo: Vec::new(),
            trig_stmt: None,
            inline_math_here: false,
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

    // ---- variables and constants ------------------------------------------

    fn frame(&self) -> &Frame<'m> {
        self.frames.last().expect("a frame")
    }

    /// The value of variable `id` here.
    fn read_var(&mut self, id: VarId) -> CValue {
        if let Some(v) = self.frame().pinned.get(&id) {
            return *v;
        }
        let var = self.var(id);
        self.b.use_var(var)
    }

    /// Binds the variables a loop over `body` reads and never changes
    /// (`checks::loop_invariants`) to their values here, before the loop,
    /// until `unpin`. Without it the loop header gets a block parameter for
    /// each (its block is sealed only after the back edge), one Cranelift
    /// does not remove when the value is an outer loop's parameter, and then
    /// nothing computed from it, such as a row offset `r * stride`, is
    /// hoisted out of the loop.
    fn pin_invariants(
        &mut self,
        body: &ir::Block,
        cond: Option<&ir::Expr>,
        exclude: &[VarId],
    ) -> Vec<VarId> {
        let mut pinned = Vec::new();
        for v in super::checks::loop_invariants(body, cond, exclude) {
            if self.frame().pinned.contains_key(&v) {
                continue;
            }
            let value = self.read_var(v);
            self.frames
                .last_mut()
                .expect("a frame")
                .pinned
                .insert(v, value);
            pinned.push(v);
        }
        pinned
    }

    fn unpin(&mut self, pinned: Vec<VarId>) {
        let frame = self.frames.last_mut().expect("a frame");
        for v in pinned {
            frame.pinned.remove(&v);
        }
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
}
