//! Statement execution and expression evaluation.

use super::arrays::{BoundArray, MAX_RANK};
use crate::error::{Fault, RuntimeError};
use crate::ir::value::{self, ArithError};
use crate::ir::{
    self, BinOp, Block, Builtin, Expr, ExprKind, ReduceOp, Span, Stmt, StmtKind, Value,
};

/// How a statement ended.
enum Flow {
    Normal,
    Break,
    Continue,
    Return(Option<Value>),
}

/// Errors are boxed so that the `Result` every evaluation returns stays two
/// words wide (the hot path never builds one).
type Res<T> = Result<T, Box<RuntimeError>>;

/// A function's variables, indexed by `VarId`, each starting as zero of its
/// type (the checker guarantees a definition before every use).
pub fn new_frame(function: &ir::Function) -> Vec<Value> {
    function.vars.iter().map(|v| Value::zero(v.ty)).collect()
}

pub struct Interp<'m, 'b, 'r> {
    module: &'m ir::Module,
    kernel: &'m ir::Function,
    arrays: &'b mut [BoundArray<'r>],
    /// Helper frames no longer in use, kept for the next call.
    spare_frames: Vec<Vec<Value>>,
}

impl<'m, 'b, 'r> Interp<'m, 'b, 'r> {
    pub fn new(
        module: &'m ir::Module,
        kernel: &'m ir::Function,
        arrays: &'b mut [BoundArray<'r>],
    ) -> Self {
        Interp {
            module,
            kernel,
            arrays,
            spare_frames: Vec::new(),
        }
    }

    pub fn run_kernel(&mut self, frame: &mut [Value]) -> Result<Option<Value>, RuntimeError> {
        let kernel = self.kernel;
        match self.block(frame, &kernel.body).map_err(|e| *e)? {
            Flow::Return(v) => Ok(v.or_else(|| kernel.ret.map(Value::zero))),
            // Falling off the end: only kernels without a result type do
            // (the checker proves every path of the others returns).
            _ => Ok(kernel.ret.map(Value::zero)),
        }
    }

    /// A located fault: always reported against the launched kernel, even
    /// when it happens inside a helper.
    fn fault(&self, span: Span, fault: Fault) -> Box<RuntimeError> {
        Box::new(RuntimeError {
            kernel: self.kernel.name.clone(),
            file: self.module.file.clone(),
            span,
            fault,
        })
    }

    fn block(&mut self, frame: &mut [Value], block: &Block) -> Res<Flow> {
        for stmt in &block.stmts {
            match self.stmt(frame, stmt)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn stmt(&mut self, frame: &mut [Value], stmt: &Stmt) -> Res<Flow> {
        match &stmt.kind {
            StmtKind::Let { var, init } | StmtKind::Assign { var, value: init } => {
                let v = self.eval(frame, init)?;
                set(frame, *var, v);
            }
            StmtKind::Store { access, value } => {
                // Rust order: the assigned value first, then the place.
                let v = self.eval(frame, value)?;
                let (array, offset) = self.locate(frame, access, stmt.span)?;
                self.arrays[array].set(offset, v);
            }
            StmtKind::Eval(e) => {
                self.eval(frame, e)?;
            }
            StmtKind::If { cond, then, els } => {
                let taken = if truth(self.eval(frame, cond)?) {
                    then
                } else {
                    els
                };
                return self.block(frame, taken);
            }
            StmtKind::While { cond, body } => {
                while truth(self.eval(frame, cond)?) {
                    match self.block(frame, body)? {
                        Flow::Normal | Flow::Continue => {}
                        Flow::Break => break,
                        ret @ Flow::Return(_) => return Ok(ret),
                    }
                }
            }
            StmtKind::For(lp) => return self.for_loop(frame, lp),
            StmtKind::ParFor(lp) => return self.par_loop(frame, lp),
            StmtKind::Break => return Ok(Flow::Break),
            StmtKind::Continue => return Ok(Flow::Continue),
            StmtKind::Return(e) => {
                let v = match e {
                    Some(e) => Some(self.eval(frame, e)?),
                    None => None,
                };
                return Ok(Flow::Return(v));
            }
            StmtKind::CheckStep(e) => {
                let step = as_i64(self.eval(frame, e)?);
                if step <= 0 {
                    // Located at the `step_by` argument itself.
                    return Err(self.fault(e.span, Fault::StepNotPositive { step }));
                }
            }
        }
        Ok(Flow::Normal)
    }

    /// `var = start + k*stride` for `k in 0..count`, wrapping.
    fn for_loop(&mut self, frame: &mut [Value], lp: &ir::ForLoop) -> Res<Flow> {
        let start = as_i64(self.eval(frame, &lp.start)?);
        let count = as_i64(self.eval(frame, &lp.count)?);
        let stride = as_i64(self.eval(frame, &lp.stride)?);
        let mut current = start;
        for _ in 0..count {
            set(frame, lp.var, Value::I64(current));
            match self.block(frame, &lp.body)? {
                Flow::Normal | Flow::Continue => {}
                Flow::Break => break,
                ret @ Flow::Return(_) => return Ok(ret),
            }
            current = current.wrapping_add(stride);
        }
        Ok(Flow::Normal)
    }

    /// Runs the iteration space sequentially in row-major order. Each
    /// reduction variable is a private partial starting at the operator's
    /// identity while the body runs, then folded into the variable's value
    /// from before the loop (`v = v OP partial`), as the parallel backends do.
    fn par_loop(&mut self, frame: &mut [Value], lp: &ir::ParLoop) -> Res<Flow> {
        let dims = lp.vars.len().min(lp.ranges.len()).min(MAX_RANK);
        let mut bounds = [(0i64, 0i64); MAX_RANK];
        for (d, (lo, hi)) in lp.ranges.iter().enumerate().take(dims) {
            bounds[d].0 = as_i64(self.eval(frame, lo)?);
            bounds[d].1 = as_i64(self.eval(frame, hi)?);
        }
        let mut before = Vec::with_capacity(lp.reductions.len());
        for r in &lp.reductions {
            let slot = &mut frame[r.var.index()];
            before.push(*slot);
            *slot = r.op.identity(slot.ty());
        }
        let flow = self.par_dim(frame, lp, &bounds[..dims], 0);
        for (r, old) in lp.reductions.iter().zip(before) {
            let partial = frame[r.var.index()];
            frame[r.var.index()] = combine(r.op, old, partial);
        }
        flow
    }

    fn par_dim(
        &mut self,
        frame: &mut [Value],
        lp: &ir::ParLoop,
        bounds: &[(i64, i64)],
        d: usize,
    ) -> Res<Flow> {
        let Some(&(lo, hi)) = bounds.get(d) else {
            return match self.block(frame, &lp.body)? {
                // `continue` ends the iteration; `break` never appears here.
                Flow::Normal | Flow::Continue | Flow::Break => Ok(Flow::Normal),
                ret @ Flow::Return(_) => Ok(ret),
            };
        };
        for i in lo..hi {
            set(frame, lp.vars[d], Value::I64(i));
            if let ret @ Flow::Return(_) = self.par_dim(frame, lp, bounds, d + 1)? {
                return Ok(ret);
            }
        }
        Ok(Flow::Normal)
    }

    /// Evaluates the indices of `access` (into a fixed array: no allocation
    /// per access) and bounds-checks every dimension.
    #[inline]
    fn locate(
        &mut self,
        frame: &mut [Value],
        access: &ir::Access,
        span: Span,
    ) -> Res<(usize, usize)> {
        let mut index = [0i64; MAX_RANK];
        let count = access.index.len().min(MAX_RANK);
        for (slot, e) in index.iter_mut().zip(&access.index) {
            *slot = as_i64(self.eval(frame, e)?);
        }
        let array = access.array.index();
        let Some(bound) = self.arrays.get(array) else {
            // An array id outside the kernel (never produced by the checker).
            let fault = Fault::IndexOutOfBounds {
                array: format!("#{array}"),
                index: index[..count].to_vec(),
                shape: vec![],
                dim: 0,
            };
            return Err(self.fault(span, fault));
        };
        match bound.offset(&index, count) {
            Ok(offset) => Ok((array, offset)),
            Err(fault) => Err(self.fault(span, fault)),
        }
    }

    #[inline]
    fn load(&self, array: usize, offset: usize) -> Value {
        // `locate` checked the offset against a shape whose product is the
        // data length, so the element exists.
        self.arrays[array].get(offset).unwrap_or(Value::F64(0.0))
    }

    fn eval(&mut self, frame: &mut [Value], e: &Expr) -> Res<Value> {
        Ok(match &e.kind {
            ExprKind::Const(v) => *v,
            ExprKind::Var(id) => frame[id.index()],
            ExprKind::Unary(op, a) => value::unary(*op, self.eval(frame, a)?),
            ExprKind::Binary(BinOp::And, a, b) => {
                if truth(self.eval(frame, a)?) {
                    self.eval(frame, b)?
                } else {
                    Value::Bool(false)
                }
            }
            ExprKind::Binary(BinOp::Or, a, b) => {
                if truth(self.eval(frame, a)?) {
                    Value::Bool(true)
                } else {
                    self.eval(frame, b)?
                }
            }
            ExprKind::Binary(op, a, b) => {
                let x = self.eval(frame, a)?;
                let y = self.eval(frame, b)?;
                value::binary(*op, x, y).map_err(|err| {
                    let fault = match err {
                        ArithError::DivisionByZero => Fault::DivisionByZero,
                        ArithError::RemainderByZero => Fault::RemainderByZero,
                    };
                    self.fault(e.span, fault)
                })?
            }
            ExprKind::Cast(a) => value::cast(self.eval(frame, a)?, e.ty),
            ExprKind::Builtin(f, args) => {
                let mut vals = [Value::Bool(false); 3];
                let n = args.len().min(vals.len());
                for (slot, a) in vals.iter_mut().zip(args) {
                    *slot = self.eval(frame, a)?;
                }
                value::builtin(*f, &vals[..n])
            }
            ExprKind::Call(id, args) => self.call(frame, *id, args, e)?,
            ExprKind::If(c, a, b) => {
                if truth(self.eval(frame, c)?) {
                    self.eval(frame, a)?
                } else {
                    self.eval(frame, b)?
                }
            }
            ExprKind::Load(access) => {
                let (array, offset) = self.locate(frame, access, e.span)?;
                self.load(array, offset)
            }
            ExprKind::Len(id) => {
                Value::I64(self.arrays.get(id.index()).map_or(0, |a| a.len()) as i64)
            }
            ExprKind::Shape(id, d) => Value::I64(
                self.arrays
                    .get(id.index())
                    .map_or(0, |a| a.extent(*d as usize)) as i64,
            ),
            ExprKind::Atomic { op, access, value } => {
                // Arguments left to right: the element (checked), then the value.
                let (array, offset) = self.locate(frame, access, e.span)?;
                let v = self.eval(frame, value)?;
                let old = self.load(array, offset);
                let new = match op {
                    ir::AtomicOp::Add => value::binary(BinOp::Add, old, v).unwrap_or(old),
                    ir::AtomicOp::Min => value::builtin(Builtin::Min, &[old, v]),
                    ir::AtomicOp::Max => value::builtin(Builtin::Max, &[old, v]),
                };
                self.arrays[array].set(offset, new);
                old
            }
        })
    }

    /// A helper call: arguments evaluated left to right into a fresh frame.
    fn call(&mut self, frame: &mut [Value], id: ir::FuncId, args: &[Expr], e: &Expr) -> Res<Value> {
        let module = self.module;
        let Some(callee) = module.functions.get(id.index()) else {
            return Ok(Value::zero(e.ty));
        };
        // Frames are recycled: a helper called once per element must not
        // allocate once per element.
        let mut callee_frame = self.spare_frames.pop().unwrap_or_default();
        callee_frame.clear();
        callee_frame.extend(callee.vars.iter().map(|v| Value::zero(v.ty)));
        let result = self.call_in(frame, &mut callee_frame, callee, args);
        self.spare_frames.push(callee_frame);
        match result? {
            Flow::Return(Some(v)) => Ok(v),
            // Helpers always return a value (checked); defined fallback.
            _ => Ok(Value::zero(e.ty)),
        }
    }

    fn call_in(
        &mut self,
        frame: &mut [Value],
        callee_frame: &mut [Value],
        callee: &ir::Function,
        args: &[Expr],
    ) -> Res<Flow> {
        for (param, arg) in callee.params.iter().zip(args) {
            let v = self.eval(frame, arg)?;
            if let ir::Param::Scalar(var) = param {
                set(callee_frame, *var, v);
            }
        }
        self.block(callee_frame, &callee.body)
    }
}

#[inline]
fn set(frame: &mut [Value], var: ir::VarId, v: Value) {
    frame[var.index()] = v;
}

#[inline]
fn truth(v: Value) -> bool {
    matches!(v, Value::Bool(true))
}

/// An `i64` from an index, bound or step (the checker makes them `i64`;
/// other types are converted with `as`).
#[inline]
fn as_i64(v: Value) -> i64 {
    match v {
        Value::I64(x) => x,
        other => match value::cast(other, ir::ScalarType::I64) {
            Value::I64(x) => x,
            _ => 0,
        },
    }
}

/// Folds a reduction's partial into the value from before the loop.
fn combine(op: ReduceOp, old: Value, partial: Value) -> Value {
    let bin = |b| value::binary(b, old, partial).unwrap_or(old);
    match op {
        ReduceOp::Add => bin(BinOp::Add),
        ReduceOp::Mul => bin(BinOp::Mul),
        ReduceOp::BitAnd => bin(BinOp::BitAnd),
        ReduceOp::BitOr => bin(BinOp::BitOr),
        ReduceOp::BitXor => bin(BinOp::BitXor),
        ReduceOp::Min => value::builtin(Builtin::Min, &[old, partial]),
        ReduceOp::Max => value::builtin(Builtin::Max, &[old, partial]),
    }
}
