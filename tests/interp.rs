//! The reference interpreter on hand-built IR (independent of the front end)
//! and, in `end_to_end`, on kernels compiled from source.

use kiln::error::Fault;
use kiln::interp;
use kiln::ir::*;
use kiln::{Arg, RuntimeError};

// ---- a tiny IR builder -------------------------------------------------

fn at(line: u32, col: u32) -> Span {
    Span {
        lo: 0,
        hi: 0,
        line,
        col,
    }
}

fn ex(kind: ExprKind, ty: ScalarType) -> Expr {
    Expr {
        kind,
        ty,
        span: at(1, 1),
    }
}

fn located(mut e: Expr, line: u32, col: u32) -> Expr {
    e.span = at(line, col);
    e
}

fn int(v: i64) -> Expr {
    ex(ExprKind::Const(Value::I64(v)), ScalarType::I64)
}

fn konst(v: Value) -> Expr {
    ex(ExprKind::Const(v), v.ty())
}

fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    let ty = if op.is_comparison() || matches!(op, BinOp::And | BinOp::Or) {
        ScalarType::Bool
    } else {
        a.ty
    };
    ex(ExprKind::Binary(op, Box::new(a), Box::new(b)), ty)
}

fn cast(a: Expr, to: ScalarType) -> Expr {
    ex(ExprKind::Cast(Box::new(a)), to)
}

fn access(array: ArrayId, index: Vec<Expr>) -> Access {
    let needs_check = vec![true; index.len()];
    Access {
        array,
        index,
        needs_check,
    }
}

fn st(kind: StmtKind) -> Stmt {
    Stmt {
        kind,
        span: at(1, 1),
    }
}

fn block(stmts: Vec<Stmt>) -> Block {
    Block { stmts }
}

#[derive(Default)]
struct FnBuilder {
    params: Vec<Param>,
    vars: Vec<Var>,
    arrays: Vec<ArrayParam>,
}

/// A variable's id and type, usable as an expression.
#[derive(Clone, Copy)]
struct V(VarId, ScalarType);

impl V {
    fn e(self) -> Expr {
        ex(ExprKind::Var(self.0), self.1)
    }
}

/// An array's id and element type.
#[derive(Clone, Copy)]
struct A(ArrayId, ScalarType);

impl A {
    fn at(self, index: Vec<Expr>) -> Expr {
        ex(ExprKind::Load(access(self.0, index)), self.1)
    }
    fn len(self) -> Expr {
        ex(ExprKind::Len(self.0), ScalarType::I64)
    }
    fn shape(self, d: u8) -> Expr {
        ex(ExprKind::Shape(self.0, d), ScalarType::I64)
    }
    fn store(self, index: Vec<Expr>, value: Expr) -> Stmt {
        st(StmtKind::Store {
            access: access(self.0, index),
            value,
        })
    }
}

impl FnBuilder {
    fn local(&mut self, name: &str, ty: ScalarType) -> V {
        self.vars.push(Var {
            name: name.into(),
            ty,
            mutable: true,
            span: at(1, 1),
        });
        V(VarId(self.vars.len() as u32 - 1), ty)
    }
    fn scalar(&mut self, name: &str, ty: ScalarType) -> V {
        let v = self.local(name, ty);
        self.params.push(Param::Scalar(v.0));
        v
    }
    fn array(&mut self, name: &str, elem: ScalarType, rank: u8, mutable: bool) -> A {
        self.arrays.push(ArrayParam {
            name: name.into(),
            elem,
            rank,
            mutable,
            span: at(1, 1),
        });
        let id = ArrayId(self.arrays.len() as u32 - 1);
        self.params.push(Param::Array(id));
        A(id, elem)
    }
    fn finish(
        self,
        name: &str,
        kind: FunctionKind,
        ret: Option<ScalarType>,
        body: Vec<Stmt>,
    ) -> Function {
        Function {
            name: name.into(),
            kind,
            span: at(1, 1),
            params: self.params,
            ret,
            vars: self.vars,
            arrays: self.arrays,
            body: block(body),
        }
    }
}

fn module(functions: Vec<Function>) -> Module {
    Module {
        file: "test.kn".into(),
        functions,
    }
}

fn run1(f: Function, args: &mut [Arg]) -> Result<Option<Value>, RuntimeError> {
    let m = module(vec![f]);
    interp::run(&m, &m.functions[0], args)
}

fn let_(v: V, init: Expr) -> Stmt {
    st(StmtKind::Let { var: v.0, init })
}

fn assign(v: V, value: Expr) -> Stmt {
    st(StmtKind::Assign { var: v.0, value })
}

fn ret(e: Expr) -> Stmt {
    st(StmtKind::Return(Some(e)))
}

fn prange(
    vars: Vec<V>,
    ranges: Vec<(Expr, Expr)>,
    reductions: Vec<(V, ReduceOp)>,
    body: Vec<Stmt>,
) -> Stmt {
    st(StmtKind::ParFor(ParLoop {
        vars: vars.iter().map(|v| v.0).collect(),
        ranges,
        reductions: reductions
            .into_iter()
            .map(|(v, op)| Reduction { var: v.0, op })
            .collect(),
        body: block(body),
    }))
}

fn for_(var: V, start: Expr, count: Expr, stride: Expr, body: Vec<Stmt>) -> Stmt {
    st(StmtKind::For(ForLoop {
        var: var.0,
        start,
        count,
        stride,
        body: block(body),
    }))
}

// ---- kernels --------------------------------------------------------------

fn saxpy() -> Function {
    use ScalarType::*;
    let mut b = FnBuilder::default();
    let a = b.scalar("a", F32);
    let x = b.array("x", F32, 1, false);
    let y = b.array("y", F32, 1, true);
    let i = b.local("i", I64);
    let body = vec![prange(
        vec![i],
        vec![(int(0), y.len())],
        vec![],
        vec![y.store(
            vec![i.e()],
            bin(
                BinOp::Add,
                bin(BinOp::Mul, a.e(), x.at(vec![i.e()])),
                y.at(vec![i.e()]),
            ),
        )],
    )];
    b.finish("saxpy", FunctionKind::Kernel, None, body)
}

#[test]
fn saxpy_computes_and_accepts_mut_for_read_only() {
    let x = vec![1.0f32, 2.0, 3.0];
    let mut x_mut = x.clone();
    let mut y = vec![10.0f32; 3];
    run1(
        saxpy(),
        &mut [Arg::from(2.0f32), Arg::from(&x), Arg::from(&mut y)],
    )
    .unwrap();
    assert_eq!(y, [12.0, 14.0, 16.0]);
    // A read-only parameter may be given a writable array.
    run1(
        saxpy(),
        &mut [Arg::from(1.0f32), Arg::from(&mut x_mut), Arg::from(&mut y)],
    )
    .unwrap();
    assert_eq!(y, [13.0, 16.0, 19.0]);
}

#[test]
fn saxpy_million_is_fast() {
    let n = 1_000_000;
    let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let mut y = vec![1.0f32; n];
    let t = std::time::Instant::now();
    run1(
        saxpy(),
        &mut [Arg::from(0.5f32), Arg::from(&x), Arg::from(&mut y)],
    )
    .unwrap();
    let took = t.elapsed();
    eprintln!("saxpy 1e6: {took:?}");
    assert_eq!(y[10], 6.0);
    assert_eq!(y[n - 1], 0.5 * (n - 1) as f32 + 1.0);
    // Well under a second on an idle machine; generous for a shared one.
    assert!(took.as_secs_f64() < 5.0, "saxpy 1e6 took {took:?}");
}

/// `let mut total = init; prange(0..x.len()) { total OP= f(x[i]) }; return total`
fn reduce_kernel(ty: ScalarType, init: Value, op: ReduceOp, update: BinOp) -> Function {
    let mut b = FnBuilder::default();
    let x = b.array("x", ty, 1, false);
    let total = b.local("total", ty);
    let i = b.local("i", ScalarType::I64);
    let new = match op {
        ReduceOp::Min | ReduceOp::Max => {
            let f = if op == ReduceOp::Min {
                Builtin::Min
            } else {
                Builtin::Max
            };
            ex(ExprKind::Builtin(f, vec![total.e(), x.at(vec![i.e()])]), ty)
        }
        _ => bin(update, total.e(), x.at(vec![i.e()])),
    };
    let body = vec![
        let_(total, konst(init)),
        prange(
            vec![i],
            vec![(int(0), x.len())],
            vec![(total, op)],
            vec![assign(total, new)],
        ),
        ret(total.e()),
    ];
    b.finish("reduce", FunctionKind::Kernel, Some(ty), body)
}

#[test]
fn reductions_combine_with_the_value_before_the_loop() {
    use ScalarType::*;
    let x = vec![1.0f64, 2.0, 3.0, 4.0];
    let r = |op, update, init| {
        run1(reduce_kernel(F64, init, op, update), &mut [Arg::from(&x)]).unwrap()
    };
    assert_eq!(
        r(ReduceOp::Add, BinOp::Add, Value::F64(100.0)),
        Some(Value::F64(110.0))
    );
    // `v -= e` is an Add reduction whose partial accumulates -e.
    assert_eq!(
        r(ReduceOp::Add, BinOp::Sub, Value::F64(100.0)),
        Some(Value::F64(90.0))
    );
    assert_eq!(
        r(ReduceOp::Mul, BinOp::Mul, Value::F64(0.5)),
        Some(Value::F64(12.0))
    );
    assert_eq!(
        r(ReduceOp::Min, BinOp::Add, Value::F64(2.5)),
        Some(Value::F64(1.0))
    );
    assert_eq!(
        r(ReduceOp::Max, BinOp::Add, Value::F64(2.5)),
        Some(Value::F64(4.0))
    );
    let xi = vec![0b0110i32, 0b0011];
    let ri = |op, update, init| {
        run1(reduce_kernel(I32, init, op, update), &mut [Arg::from(&xi)]).unwrap()
    };
    assert_eq!(
        ri(ReduceOp::BitXor, BinOp::BitXor, Value::I32(0b1000)),
        Some(Value::I32(0b1101))
    );
    assert_eq!(
        ri(ReduceOp::BitOr, BinOp::BitOr, Value::I32(0)),
        Some(Value::I32(0b0111))
    );
    assert_eq!(
        ri(ReduceOp::BitAnd, BinOp::BitAnd, Value::I32(-1)),
        Some(Value::I32(0b0010))
    );
    assert_eq!(
        ri(ReduceOp::Add, BinOp::Add, Value::I32(i32::MAX)),
        Some(Value::I32(i32::MAX.wrapping_add(9)))
    );
}

#[test]
fn empty_reduction_keeps_negative_zero() {
    let x: Vec<f64> = vec![];
    let r = run1(
        reduce_kernel(ScalarType::F64, Value::F64(-0.0), ReduceOp::Add, BinOp::Add),
        &mut [Arg::from(&x)],
    );
    assert_eq!(
        r.unwrap().map(Value::to_bits),
        Some(Value::F64(-0.0).to_bits())
    );
}

#[test]
fn prange_2d_is_row_major_and_continue_ends_iteration() {
    use ScalarType::*;
    let mut b = FnBuilder::default();
    let out = b.array("out", I64, 2, true);
    let (i, j) = (b.local("i", I64), b.local("j", I64));
    let skip = st(StmtKind::If {
        cond: bin(BinOp::Eq, j.e(), int(1)),
        then: block(vec![st(StmtKind::Continue)]),
        els: Block::default(),
    });
    let value = bin(BinOp::Add, bin(BinOp::Mul, i.e(), int(10)), j.e());
    let body = vec![prange(
        vec![i, j],
        vec![(int(0), out.shape(0)), (int(0), out.shape(1))],
        vec![],
        vec![skip, out.store(vec![i.e(), j.e()], value)],
    )];
    let f = b.finish("grid", FunctionKind::Kernel, None, body);
    let mut data = vec![-1i64; 6];
    let mut args = [Arg::ArrayMut {
        data: kiln::ArrayDataMut::I64(&mut data),
        shape: vec![2, 3],
    }];
    run1(f, &mut args).unwrap();
    assert_eq!(data, [0, -1, 2, 10, -1, 12]);
}

#[test]
fn prange_empty_and_reversed_ranges_do_nothing() {
    use ScalarType::*;
    let mut b = FnBuilder::default();
    let out = b.array("out", I32, 1, true);
    let i = b.local("i", I64);
    let body = vec![
        prange(
            vec![i],
            vec![(int(5), int(2))],
            vec![],
            vec![out.store(vec![int(100)], konst(Value::I32(1)))],
        ),
        prange(
            vec![i],
            vec![(int(i64::MIN), int(i64::MIN))],
            vec![],
            vec![out.store(vec![int(0)], konst(Value::I32(1)))],
        ),
    ];
    let f = b.finish("k", FunctionKind::Kernel, None, body);
    let mut data = vec![0i32; 1];
    run1(f, &mut [Arg::from(&mut data)]).unwrap();
    assert_eq!(data, [0]);
}

/// Runs `for i in start + k*stride (k < count) { extra(i); out[n] = i; n += 1 }`
/// and returns the values the loop variable took.
fn trace(start: i64, count: i64, stride: i64, extra: impl Fn(V) -> Vec<Stmt>) -> Vec<i64> {
    use ScalarType::*;
    let mut b = FnBuilder::default();
    let out = b.array("out", I64, 1, true);
    let n = b.local("n", I64);
    let i = b.local("i", I64);
    let mut body = extra(i);
    body.push(out.store(vec![n.e()], i.e()));
    body.push(assign(n, bin(BinOp::Add, n.e(), int(1))));
    let stmts = vec![
        let_(n, int(0)),
        for_(i, int(start), int(count), int(stride), body),
        ret(n.e()),
    ];
    let f = b.finish("trace", FunctionKind::Kernel, Some(I64), stmts);
    let mut out = vec![0i64; 16];
    let Some(Value::I64(n)) = run1(f, &mut [Arg::from(&mut out)]).unwrap() else {
        panic!("no count returned")
    };
    out.truncate(n as usize);
    out
}

#[test]
fn for_loops_follow_start_count_stride() {
    assert_eq!(trace(2, 4, 3, |_| vec![]), [2, 5, 8, 11]);
    assert_eq!(trace(9, 3, -2, |_| vec![]), [9, 7, 5]);
    assert_eq!(trace(0, 0, 1, |_| vec![]), Vec::<i64>::new());
    // The variable wraps rather than faulting.
    assert_eq!(trace(i64::MAX, 2, 1, |_| vec![]), [i64::MAX, i64::MIN]);
    let brk = |i: V| {
        vec![st(StmtKind::If {
            cond: bin(BinOp::Eq, i.e(), int(3)),
            then: block(vec![st(StmtKind::Break)]),
            els: Block::default(),
        })]
    };
    assert_eq!(trace(0, 10, 1, brk), [0, 1, 2]);
    let cont = |i: V| {
        vec![st(StmtKind::If {
            cond: bin(BinOp::Eq, bin(BinOp::Rem, i.e(), int(2)), int(1)),
            then: block(vec![st(StmtKind::Continue)]),
            els: Block::default(),
        })]
    };
    assert_eq!(trace(0, 6, 1, cont), [0, 2, 4]);
}

#[test]
fn while_break_and_return_from_inside_loops() {
    use ScalarType::*;
    let mut b = FnBuilder::default();
    let n = b.local("n", I32);
    let body = vec![
        let_(n, konst(Value::I32(0))),
        st(StmtKind::While {
            cond: konst(Value::Bool(true)),
            body: block(vec![
                assign(n, bin(BinOp::Add, n.e(), konst(Value::I32(1)))),
                st(StmtKind::If {
                    cond: bin(BinOp::Ge, n.e(), konst(Value::I32(5))),
                    then: block(vec![st(StmtKind::Break)]),
                    els: Block::default(),
                }),
            ]),
        }),
        st(StmtKind::While {
            cond: bin(BinOp::Lt, n.e(), konst(Value::I32(100))),
            body: block(vec![
                assign(n, bin(BinOp::Mul, n.e(), konst(Value::I32(2)))),
                st(StmtKind::If {
                    cond: bin(BinOp::Gt, n.e(), konst(Value::I32(30))),
                    then: block(vec![ret(n.e())]),
                    els: Block::default(),
                }),
            ]),
        }),
        ret(konst(Value::I32(-1))),
    ];
    let f = b.finish("w", FunctionKind::Kernel, Some(I32), body);
    assert_eq!(run1(f, &mut []).unwrap(), Some(Value::I32(40)));
}

#[test]
fn short_circuit_and_if_expression_evaluate_only_what_is_needed() {
    use ScalarType::*;
    let mut b = FnBuilder::default();
    let z = b.scalar("z", I32);
    let div = || {
        bin(
            BinOp::Eq,
            bin(BinOp::Div, konst(Value::I32(1)), z.e()),
            konst(Value::I32(0)),
        )
    };
    let and = bin(BinOp::And, konst(Value::Bool(false)), div());
    let or = bin(BinOp::Or, konst(Value::Bool(true)), div());
    let pick = ex(
        ExprKind::If(
            Box::new(bin(BinOp::Eq, z.e(), konst(Value::I32(0)))),
            Box::new(konst(Value::I32(7))),
            Box::new(bin(BinOp::Div, konst(Value::I32(1)), z.e())),
        ),
        I32,
    );
    let body = vec![ret(ex(
        ExprKind::Builtin(
            Builtin::Select,
            vec![
                bin(
                    BinOp::Or,
                    and,
                    bin(BinOp::Eq, or.clone(), konst(Value::Bool(false))),
                ),
                konst(Value::I32(-1)),
                pick,
            ],
        ),
        I32,
    ))];
    let f = b.finish("sc", FunctionKind::Kernel, Some(I32), body);
    assert_eq!(
        run1(f, &mut [Arg::from(0i32)]).unwrap(),
        Some(Value::I32(7))
    );
}

fn helper_module() -> Module {
    use ScalarType::*;
    // fn inv(d: i32) -> i32 { return 100 / d; }
    let mut h = FnBuilder::default();
    let d = h.scalar("d", I32);
    let division = located(bin(BinOp::Div, konst(Value::I32(100)), d.e()), 2, 12);
    let inv = h.finish("inv", FunctionKind::Helper, Some(I32), vec![ret(division)]);
    // fn twice(d: i32) -> i32 { return inv(d) + inv(d); }  (helpers call helpers)
    let mut t = FnBuilder::default();
    let d2 = t.scalar("d", I32);
    let call = || ex(ExprKind::Call(FuncId(0), vec![d2.e()]), I32);
    let twice = t.finish(
        "twice",
        FunctionKind::Helper,
        Some(I32),
        vec![ret(bin(BinOp::Add, call(), call()))],
    );
    // kernel k(x: i32) -> i32 { let d = 3; return twice(x) + d; }
    let mut k = FnBuilder::default();
    let x = k.scalar("x", I32);
    let local = k.local("d", I32);
    let body = vec![
        let_(local, konst(Value::I32(3))),
        ret(bin(
            BinOp::Add,
            ex(ExprKind::Call(FuncId(1), vec![x.e()]), I32),
            local.e(),
        )),
    ];
    let kernel = k.finish("k", FunctionKind::Kernel, Some(I32), body);
    module(vec![inv, twice, kernel])
}

#[test]
fn helpers_get_their_own_frames() {
    let m = helper_module();
    let r = interp::run(&m, &m.functions[2], &mut [Arg::from(7i32)]).unwrap();
    assert_eq!(r, Some(Value::I32(14 + 14 + 3)));
}

#[test]
fn fault_in_helper_names_the_launched_kernel() {
    let m = helper_module();
    let err = interp::run(&m, &m.functions[2], &mut [Arg::from(0i32)]).unwrap_err();
    assert_eq!(err.kernel, "k");
    assert_eq!(err.fault, Fault::DivisionByZero);
    assert_eq!((err.span.line, err.span.col), (2, 12));
    assert_eq!(
        err.to_string(),
        "test.kn:2:12: run-time error in kernel `k`: integer division by zero"
    );
}

fn atomic(op: AtomicOp, arr: A, index: Expr, value: Expr) -> Expr {
    ex(
        ExprKind::Atomic {
            op,
            access: access(arr.0, vec![index]),
            value: Box::new(value),
        },
        arr.1,
    )
}

#[test]
fn atomics_update_and_return_the_old_value() {
    use ScalarType::*;
    let mut b = FnBuilder::default();
    let keys = b.array("keys", I32, 1, false);
    let hist = b.array("hist", I32, 1, true);
    let lo = b.array("lo", F64, 1, true);
    let olds = b.array("olds", I32, 1, true);
    let i = b.local("i", I64);
    let key = cast(keys.at(vec![i.e()]), I64);
    let body = vec![
        prange(
            vec![i],
            vec![(int(0), keys.len())],
            vec![],
            vec![
                olds.store(
                    vec![i.e()],
                    atomic(AtomicOp::Add, hist, key.clone(), konst(Value::I32(1))),
                ),
                st(StmtKind::Eval(atomic(
                    AtomicOp::Min,
                    lo,
                    int(0),
                    cast(i.e(), F64),
                ))),
                st(StmtKind::Eval(atomic(
                    AtomicOp::Max,
                    lo,
                    int(1),
                    cast(i.e(), F64),
                ))),
            ],
        ),
        st(StmtKind::Eval(atomic(
            AtomicOp::Max,
            hist,
            int(3),
            konst(Value::I32(-5)),
        ))),
    ];
    let f = b.finish("hist", FunctionKind::Kernel, None, body);
    let keys_data = vec![0i32, 2, 2, 1, 2];
    let mut hist_data = vec![0i32; 4];
    let mut lo_data = vec![10.0f64, -1.0];
    let mut olds_data = vec![-9i32; 5];
    run1(
        f,
        &mut [
            Arg::from(&keys_data),
            Arg::from(&mut hist_data),
            Arg::from(&mut lo_data),
            Arg::from(&mut olds_data),
        ],
    )
    .unwrap();
    assert_eq!(hist_data, [1, 1, 3, 0]);
    assert_eq!(olds_data, [0, 0, 1, 0, 2]);
    assert_eq!(lo_data, [0.0, 4.0]);
}

// ---- run-time faults ------------------------------------------------------

/// `kernel k(x: f32[:, :], i: i64, j: i64) -> f32 { return x[i, j]; }`
fn load2() -> Function {
    use ScalarType::*;
    let mut b = FnBuilder::default();
    let x = b.array("x", F32, 2, false);
    let i = b.scalar("i", I64);
    let j = b.scalar("j", I64);
    let body = vec![ret(located(x.at(vec![i.e(), j.e()]), 4, 9))];
    b.finish("k", FunctionKind::Kernel, Some(F32), body)
}

fn load2_at(i: i64, j: i64) -> Result<Option<Value>, RuntimeError> {
    let data = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let arr = Arg::Array {
        data: kiln::ArrayData::F32(&data),
        shape: vec![2, 3],
    };
    run1(load2(), &mut [arr, Arg::from(i), Arg::from(j)])
}

#[test]
fn in_bounds_2d_load() {
    assert_eq!(load2_at(1, 2).unwrap(), Some(Value::F32(6.0)));
    assert_eq!(load2_at(0, 1).unwrap(), Some(Value::F32(2.0)));
}

#[test]
fn out_of_bounds_reports_array_index_shape_and_dimension() {
    for (i, j, dim) in [
        (2, 0, 0),
        (0, 3, 1),
        (-1, 0, 0),
        (0, -1, 1),
        (1 << 40, 0, 0),
        (0, 1 << 40, 1),
        (i64::MIN, i64::MAX, 0),
    ] {
        let err = load2_at(i, j).unwrap_err();
        assert_eq!(
            err.fault,
            Fault::IndexOutOfBounds {
                array: "x".into(),
                index: vec![i, j],
                shape: vec![2, 3],
                dim
            }
        );
        assert_eq!(
            (err.kernel.as_str(), err.span.line, err.span.col),
            ("k", 4, 9)
        );
    }
    // [0, 4] has flat offset 4, inside the data, but dimension 1 is out of range.
    let err = load2_at(0, 4).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("test.kn:4:9: run-time error in kernel `k`: index [0, 4]"),
        "{msg}"
    );
    assert!(
        msg.contains("`x`") && msg.contains("[2, 3]") && msg.contains("dimension 1"),
        "{msg}"
    );
}

#[test]
fn store_out_of_bounds_is_checked_even_when_marked_proven() {
    use ScalarType::*;
    let mut b = FnBuilder::default();
    let y = b.array("y", I32, 1, true);
    let i = b.scalar("i", I64);
    let mut store = y.store(vec![i.e()], konst(Value::I32(1)));
    store.span = at(7, 5);
    if let StmtKind::Store { access, .. } = &mut store.kind {
        access.needs_check = vec![false];
    }
    let f = b.finish("st", FunctionKind::Kernel, None, vec![store]);
    let mut data = vec![0i32; 3];
    let err = run1(f.clone(), &mut [Arg::from(&mut data), Arg::from(3i64)]).unwrap_err();
    assert_eq!(
        err.fault,
        Fault::IndexOutOfBounds {
            array: "y".into(),
            index: vec![3],
            shape: vec![3],
            dim: 0
        }
    );
    assert_eq!((err.span.line, err.span.col), (7, 5));
    assert_eq!(err.to_string(), "test.kn:7:5: run-time error in kernel `st`: index 3 is out of bounds for array `y` with shape [3]");
    run1(f, &mut [Arg::from(&mut data), Arg::from(2i64)]).unwrap();
    assert_eq!(data, [0, 0, 1]);
}

#[test]
fn writes_before_a_fault_remain() {
    use ScalarType::*;
    let mut b = FnBuilder::default();
    let y = b.array("y", I32, 1, true);
    let i = b.local("i", I64);
    let body = vec![prange(
        vec![i],
        vec![(int(0), int(5))],
        vec![],
        vec![y.store(vec![i.e()], konst(Value::I32(7)))],
    )];
    let f = b.finish("w", FunctionKind::Kernel, None, body);
    let mut data = vec![0i32; 3];
    let err = run1(f, &mut [Arg::from(&mut data)]).unwrap_err();
    assert!(matches!(err.fault, Fault::IndexOutOfBounds { dim: 0, .. }));
    assert_eq!(data, [7, 7, 7]);
}

#[test]
fn division_and_remainder_by_zero_fault() {
    use ScalarType::*;
    for (op, fault) in [
        (BinOp::Div, Fault::DivisionByZero),
        (BinOp::Rem, Fault::RemainderByZero),
    ] {
        let mut b = FnBuilder::default();
        let a = b.scalar("a", U32);
        let d = b.scalar("d", U32);
        let f = b.finish(
            "dz",
            FunctionKind::Kernel,
            Some(U32),
            vec![ret(located(bin(op, a.e(), d.e()), 3, 14))],
        );
        let err = run1(f.clone(), &mut [Arg::from(7u32), Arg::from(0u32)]).unwrap_err();
        assert_eq!(
            (err.fault, err.span.line, err.span.col, err.kernel.as_str()),
            (fault, 3, 14, "dz")
        );
        assert_eq!(
            run1(f, &mut [Arg::from(7u32), Arg::from(2u32)]).unwrap(),
            Some(Value::U32(if op == BinOp::Div { 3 } else { 1 }))
        );
    }
    // Float division by zero is IEEE, not a fault.
    let mut b = FnBuilder::default();
    let d = b.scalar("d", F64);
    let f = b.finish(
        "fz",
        FunctionKind::Kernel,
        Some(F64),
        vec![ret(bin(BinOp::Div, konst(Value::F64(1.0)), d.e()))],
    );
    assert_eq!(
        run1(f, &mut [Arg::from(0.0f64)]).unwrap(),
        Some(Value::F64(f64::INFINITY))
    );
}

#[test]
fn check_step_rejects_zero_and_negative() {
    use ScalarType::*;
    let mut b = FnBuilder::default();
    let k = b.scalar("k", I64);
    let mut check = st(StmtKind::CheckStep(located(k.e(), 5, 30)));
    check.span = at(5, 9);
    let f = b.finish("steps", FunctionKind::Kernel, None, vec![check]);
    for step in [0, -3] {
        let err = run1(f.clone(), &mut [Arg::from(step)]).unwrap_err();
        assert_eq!(err.fault, Fault::StepNotPositive { step });
        assert_eq!((err.span.line, err.span.col), (5, 30));
    }
    assert_eq!(run1(f, &mut [Arg::from(2i64)]).unwrap(), None);
}

#[test]
fn len_and_shape_come_from_the_arguments() {
    use ScalarType::*;
    let mut b = FnBuilder::default();
    let x = b.array("x", U32, 3, false);
    let body = vec![ret(bin(
        BinOp::Add,
        bin(BinOp::Mul, x.len(), int(1000)),
        bin(
            BinOp::Add,
            bin(BinOp::Mul, x.shape(0), int(100)),
            bin(BinOp::Add, bin(BinOp::Mul, x.shape(1), int(10)), x.shape(2)),
        ),
    ))];
    let f = b.finish("shape", FunctionKind::Kernel, Some(I64), body);
    let data = vec![0u32; 24];
    let arr = Arg::Array {
        data: kiln::ArrayData::U32(&data),
        shape: vec![2, 3, 4],
    };
    assert_eq!(run1(f, &mut [arr]).unwrap(), Some(Value::I64(24_000 + 234)));
}

// ---- end to end: source kernels through the front end ---------------------

mod end_to_end {
    use kiln::error::Fault;
    use kiln::interp;
    use kiln::ir::{Module, Value};
    use kiln::{Arg, ArrayData, ArrayDataMut, RuntimeError};

    fn compile(source: &str) -> Module {
        kiln::lang::compile("e2e.kn", source).unwrap_or_else(|d| panic!("does not compile:\n{d}"))
    }

    fn launch(m: &Module, name: &str, args: &mut [Arg]) -> Result<Option<Value>, RuntimeError> {
        let kernel = m.kernel(name).unwrap_or_else(|| panic!("no kernel {name}"));
        interp::run(m, kernel, args)
    }

    /// 1-based line and column of the first occurrence of `needle`.
    fn position(source: &str, needle: &str) -> (u32, u32) {
        let at = source
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` not in source"));
        let before = &source[..at];
        let line = before.matches('\n').count() as u32 + 1;
        let col = before.rsplit('\n').next().unwrap().chars().count() as u32 + 1;
        (line, col)
    }

    fn assert_at(err: &RuntimeError, source: &str, needle: &str) {
        let (line, col) = position(source, needle);
        assert_eq!(
            (err.span.line, err.span.col),
            (line, col),
            "fault at the wrong place: {err}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("e2e.kn:{line}:{col}: ")),
            "{err}"
        );
    }

    const SPEC_EXAMPLE: &str = r#"
// y = a*x + y
kernel saxpy(a: f32, x: f32[:], y: mut f32[:]) {
    for i in prange(0..y.len()) {
        y[i] = a * x[i] + y[i];
    }
}

kernel sum_sq(x: f64[:]) -> f64 {
    let mut total = 0.0;
    for i in prange(0..x.len()) {
        total += x[i] * x[i];
    }
    return total;
}

fn cnd(d: f64) -> f64 {
    return 0.5 * (1.0 + erf(d / sqrt(2.0)));
}

kernel normal_cdf(x: f64[:], out: mut f64[:]) {
    for i in prange(0..x.len()) {
        out[i] = cnd(x[i]);
    }
}

kernel mandelbrot(out: mut i32[:, :], max_iter: i32) {
    let h = out.shape(0);
    let w = out.shape(1);
    for (py, px) in prange(0..h, 0..w) {
        let cr = -2.0 + 3.0 * (px as f64) / (w as f64);
        let ci = -1.5 + 3.0 * (py as f64) / (h as f64);
        let mut zr = 0.0;
        let mut zi = 0.0;
        let mut n = 0;
        while n < max_iter && zr * zr + zi * zi <= 4.0 {
            let t = zr * zr - zi * zi + cr;
            zi = 2.0 * zr * zi + ci;
            zr = t;
            n += 1;
        }
        out[py, px] = n;
    }
}
"#;

    #[test]
    fn spec_saxpy() {
        let m = compile(SPEC_EXAMPLE);
        let x: Vec<f32> = (0..100).map(|i| i as f32 * 0.25).collect();
        let mut y: Vec<f32> = (0..100).map(|i| 1.0 - i as f32).collect();
        let expected: Vec<f32> = x.iter().zip(&y).map(|(x, y)| 3.5 * x + y).collect();
        launch(
            &m,
            "saxpy",
            &mut [Arg::from(3.5f32), Arg::from(&x), Arg::from(&mut y)],
        )
        .unwrap();
        assert_eq!(y, expected);
    }

    #[test]
    fn spec_sum_sq() {
        let m = compile(SPEC_EXAMPLE);
        let x: Vec<f64> = (0..1000).map(|i| (i as f64).sin()).collect();
        let r = launch(&m, "sum_sq", &mut [Arg::from(&x)]).unwrap();
        // The interpreter folds one partial, started at -0.0, into `total`.
        let partial = x.iter().fold(-0.0f64, |acc, v| acc + v * v);
        assert_eq!(r, Some(Value::F64(0.0 + partial)));
        let empty: Vec<f64> = vec![];
        assert_eq!(
            launch(&m, "sum_sq", &mut [Arg::from(&empty)]).unwrap(),
            Some(Value::F64(0.0))
        );
    }

    #[test]
    fn spec_helper_with_erf() {
        let m = compile(SPEC_EXAMPLE);
        let x = vec![-1.0f64, 0.0, 0.5, 2.0];
        let mut out = vec![0.0f64; 4];
        launch(&m, "normal_cdf", &mut [Arg::from(&x), Arg::from(&mut out)]).unwrap();
        let expected: Vec<f64> = x
            .iter()
            .map(|d| 0.5 * (1.0 + libm_erf(d / 2.0f64.sqrt())))
            .collect();
        assert_eq!(out, expected);
    }

    fn libm_erf(x: f64) -> f64 {
        match kiln::ir::value::builtin(kiln::ir::Builtin::Erf, &[Value::F64(x)]) {
            Value::F64(v) => v,
            other => panic!("erf gave {other:?}"),
        }
    }

    #[test]
    fn spec_mandelbrot() {
        let m = compile(SPEC_EXAMPLE);
        let (h, w, max_iter) = (12usize, 20usize, 50i32);
        let mut out = vec![-1i32; h * w];
        let arg = Arg::ArrayMut {
            data: ArrayDataMut::I32(&mut out),
            shape: vec![h, w],
        };
        launch(&m, "mandelbrot", &mut [arg, Arg::from(max_iter)]).unwrap();
        for py in 0..h {
            for px in 0..w {
                let cr = -2.0 + 3.0 * (px as f64) / (w as f64);
                let ci = -1.5 + 3.0 * (py as f64) / (h as f64);
                let (mut zr, mut zi, mut n) = (0.0f64, 0.0f64, 0);
                while n < max_iter && zr * zr + zi * zi <= 4.0 {
                    let t = zr * zr - zi * zi + cr;
                    zi = 2.0 * zr * zi + ci;
                    zr = t;
                    n += 1;
                }
                assert_eq!(out[py * w + px], n, "pixel ({py}, {px})");
            }
        }
        assert!(out.contains(&max_iter) && out.contains(&1));
    }

    const LOOPS: &str = r#"
kernel forms(out: mut i64[:], form: i32, a: i64, b: i64, k: i64) -> i64 {
    let mut n = 0;
    if form == 0 {
        for i in a..b { out[n] = i; n += 1; }
    } else if form == 1 {
        for i in a..=b { out[n] = i; n += 1; }
    } else if form == 2 {
        for i in (a..b).step_by(k) { out[n] = i; n += 1; }
    } else if form == 3 {
        for i in (a..b).rev() { out[n] = i; n += 1; }
    } else if form == 4 {
        for i in (a..b).step_by(k).rev() { out[n] = i; n += 1; }
    } else if form == 5 {
        for i in (a..b).rev().step_by(k) { out[n] = i; n += 1; }
    } else {
        for i in (a..=b).step_by(k) { out[n] = i; n += 1; }
    }
    return n;
}

kernel control(out: mut i64[:]) -> i64 {
    let mut n = 0;
    let mut x = 0;
    while true {
        x += 1;
        if x % 3 == 0 { continue; }
        if x > 10 { break; }
        out[n] = x;
        n += 1;
    }
    for i in 0..100 {
        if i == 2 { return n * 100 + i; }
    }
    return -1;
}
"#;

    fn run_form(m: &Module, form: i32, a: i64, b: i64, k: i64) -> Vec<i64> {
        let mut out = vec![0i64; 64];
        let args = &mut [
            Arg::from(&mut out),
            Arg::from(form),
            Arg::from(a),
            Arg::from(b),
            Arg::from(k),
        ];
        let Some(Value::I64(n)) = launch(m, "forms", args).unwrap() else {
            panic!("no count")
        };
        out.truncate(n as usize);
        out
    }

    #[test]
    fn every_serial_loop_form_matches_rust_iterators() {
        let m = compile(LOOPS);
        for (a, b) in [(0i64, 10i64), (3, 4), (5, 5), (7, 2), (-6, 5)] {
            assert_eq!(
                run_form(&m, 0, a, b, 1),
                (a..b).collect::<Vec<_>>(),
                "{a}..{b}"
            );
            assert_eq!(
                run_form(&m, 1, a, b, 1),
                (a..=b).collect::<Vec<_>>(),
                "{a}..={b}"
            );
            assert_eq!(
                run_form(&m, 3, a, b, 1),
                (a..b).rev().collect::<Vec<_>>(),
                "({a}..{b}).rev()"
            );
            for k in [1i64, 2, 3, 7] {
                let s = k as usize;
                assert_eq!(
                    run_form(&m, 2, a, b, k),
                    (a..b).step_by(s).collect::<Vec<_>>(),
                    "step_by({k})"
                );
                assert_eq!(
                    run_form(&m, 4, a, b, k),
                    (a..b)
                        .step_by(s)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>(),
                    "step_by({k}).rev()"
                );
                assert_eq!(
                    run_form(&m, 5, a, b, k),
                    (a..b).rev().step_by(s).collect::<Vec<_>>(),
                    "rev().step_by({k})"
                );
                assert_eq!(
                    run_form(&m, 6, a, b, k),
                    (a..=b).step_by(s).collect::<Vec<_>>(),
                    "(..=).step_by({k})"
                );
            }
        }
    }

    #[test]
    fn while_continue_break_and_return_in_a_loop() {
        let m = compile(LOOPS);
        let mut out = vec![0i64; 16];
        let r = launch(&m, "control", &mut [Arg::from(&mut out)]).unwrap();
        // x = 1 2 (3 skipped) 4 5 (6) 7 8 (9) 10, then 11 breaks.
        assert_eq!(&out[..7], &[1, 2, 4, 5, 7, 8, 10]);
        assert_eq!(r, Some(Value::I64(702)));
    }

    #[test]
    fn step_by_zero_and_negative_fault_at_the_argument() {
        let m = compile(LOOPS);
        for k in [0i64, -2] {
            let mut out = vec![0i64; 64];
            let args = &mut [
                Arg::from(&mut out),
                Arg::from(2i32),
                Arg::from(0i64),
                Arg::from(10i64),
                Arg::from(k),
            ];
            let err = launch(&m, "forms", args).unwrap_err();
            assert_eq!(err.fault, Fault::StepNotPositive { step: k });
            assert_eq!(err.kernel, "forms");
            assert_at(
                &err,
                LOOPS,
                "k) { out[n] = i; n += 1; }\n    } else if form == 3",
            );
            assert!(err.to_string().contains("step_by"), "{err}");
        }
    }

    const MISC: &str = r#"
kernel reduce(x: i32[:], y: f64[:]) -> f64 {
    let mut lo = 1000;
    let mut hi = -1000;
    let mut left = 100.0;
    let mut bits = 0;
    for i in prange(0..x.len()) {
        lo = min(lo, x[i]);
        hi = hi.max(x[i]);
        left -= y[i];
        bits ^= x[i];
    }
    return (lo as f64) * 1000000.0 + (hi as f64) * 1000.0 + left + (bits as f64) * 0.001;
}

kernel histogram(keys: i32[:], counts: mut u32[:], firsts: mut u32[:]) {
    for i in prange(0..keys.len()) {
        let old = atomic_add(counts[keys[i]], 1u32);
        firsts[i] = old;
        atomic_max(counts[0], 0u32);
    }
}

kernel ints(a: i32, s: i32) -> i32 {
    let wrapped = a * 2 + 1;
    let shifted = 1 << s;
    return wrapped ^ shifted;
}

fn safe_div(a: i64, b: i64) -> i64 {
    return a / b;
}

kernel faults(x: f32[:], m: mut f32[:, :], i: i64, j: i64, d: i64, which: i32) -> i64 {
    if which == 0 {
        let v = x[i + 5];
    } else if which == 1 {
        m[i, j] = 1.0;
    } else if which == 2 {
        return d % i;
    } else if which == 3 {
        return safe_div(j, d);
    }
    return 0;
}
"#;

    #[test]
    fn reductions_of_every_kind() {
        let m = compile(MISC);
        let x = vec![5i32, -7, 12, 3];
        let y = vec![1.0f64, 2.0, 4.0, 8.0];
        let r = launch(&m, "reduce", &mut [Arg::from(&x), Arg::from(&y)]).unwrap();
        let bits = 5 ^ -7 ^ 12 ^ 3;
        assert_eq!(
            r,
            Some(Value::F64(
                -7.0 * 1e6
                    + 12.0 * 1e3
                    + (100.0 + (-0.0 - 1.0 - 2.0 - 4.0 - 8.0))
                    + bits as f64 * 0.001
            ))
        );
    }

    #[test]
    fn atomics_return_the_previous_value() {
        let m = compile(MISC);
        let keys = vec![1i32, 2, 1, 1, 3];
        let mut counts = vec![0u32; 4];
        let mut firsts = vec![99u32; 5];
        launch(
            &m,
            "histogram",
            &mut [
                Arg::from(&keys),
                Arg::from(&mut counts),
                Arg::from(&mut firsts),
            ],
        )
        .unwrap();
        assert_eq!(counts, [0, 3, 1, 1]);
        assert_eq!(firsts, [0, 0, 1, 2, 0]);
    }

    #[test]
    fn integer_arithmetic_wraps_and_shifts_mask() {
        let m = compile(MISC);
        let r = launch(&m, "ints", &mut [Arg::from(i32::MAX), Arg::from(33i32)]).unwrap();
        assert_eq!(
            r,
            Some(Value::I32(i32::MAX.wrapping_mul(2).wrapping_add(1) ^ 2))
        );
    }

    fn fault_args<'a>(
        x: &'a [f32],
        m: &'a mut [f32],
        i: i64,
        j: i64,
        d: i64,
        which: i32,
    ) -> Vec<Arg<'a>> {
        vec![
            Arg::Array {
                data: ArrayData::F32(x),
                shape: vec![x.len()],
            },
            Arg::ArrayMut {
                data: ArrayDataMut::F32(m),
                shape: vec![2, 3],
            },
            Arg::from(i),
            Arg::from(j),
            Arg::from(d),
            Arg::from(which),
        ]
    }

    #[test]
    fn every_run_time_fault_names_kernel_place_array_index_and_shape() {
        let module = compile(MISC);
        let x = vec![0.0f32; 4];
        let mut mat = vec![0.0f32; 6];
        let mut run = |i, j, d, which| {
            launch(
                &module,
                "faults",
                &mut fault_args(&x, &mut mat, i, j, d, which),
            )
        };

        let err = run(-1, 0, 1, 0).unwrap_err();
        assert_eq!(
            err.fault,
            Fault::IndexOutOfBounds {
                array: "x".into(),
                index: vec![4],
                shape: vec![4],
                dim: 0
            }
        );
        assert_at(&err, MISC, "x[i + 5]");
        assert!(
            err.to_string().contains(
                "in kernel `faults`: index 4 is out of bounds for array `x` with shape [4]"
            ),
            "{err}"
        );
        assert_eq!(run(-2, 0, 1, 0).unwrap(), Some(Value::I64(0)));

        let err = run(1, 3, 1, 1).unwrap_err();
        assert_eq!(
            err.fault,
            Fault::IndexOutOfBounds {
                array: "m".into(),
                index: vec![1, 3],
                shape: vec![2, 3],
                dim: 1
            }
        );
        assert_at(&err, MISC, "m[i, j] = 1.0");
        assert!(
            err.to_string()
                .contains("index [1, 3] is out of bounds for array `m` with shape [2, 3]"),
            "{err}"
        );
        let err = run(1 << 40, 0, 1, 1).unwrap_err();
        assert!(
            matches!(err.fault, Fault::IndexOutOfBounds { dim: 0, .. }),
            "{err}"
        );

        let err = run(0, 0, 5, 2).unwrap_err();
        assert_eq!(err.fault, Fault::RemainderByZero);
        assert_at(&err, MISC, "d % i");

        let err = run(0, 9, 0, 3).unwrap_err();
        assert_eq!(err.fault, Fault::DivisionByZero);
        assert_eq!(err.kernel, "faults");
        assert_at(&err, MISC, "a / b");
        assert_eq!(run(0, 9, 2, 3).unwrap(), Some(Value::I64(4)));
    }

    const MORE: &str = r#"
const SCALE: f32 = 2.0 * HALF;
const HALF: f32 = 0.5;

kernel cube(v: mut f32[:, :, :], bias: f32) {
    for (i, j, k) in prange(0..v.shape(0), 0..v.shape(1), 0..v.shape(2)) {
        if k == 1 { continue; }
        v[i, j, k] += (i * 100 + j * 10 + k) as f32 * SCALE + bias;
    }
}

kernel staged(out: mut i64[:], rounds: i32) -> i64 {
    let mut total = 0;
    for r in 0..rounds {
        if r % 2 == 0 {
            for i in prange(0..out.len()) {
                out[i] += r as i64;
                total += 1;
            }
        }
    }
    return total;
}

kernel early(out: mut i32[:], stop: bool) {
    out[0] = 1;
    if stop { return; }
    out[0] = 2;
}

kernel math(x: f32[:], out: mut f32[:]) {
    for i in prange(0..x.len()) {
        let t = 0.1 * x[i];
        let s = if x[i] > 0.0 { x[i].sqrt() } else { -1.0 };
        out[i] = select(x[i].is_nan(), 7.0, clamp(t.round() + s, -2.0, 100.0));
    }
}

kernel unsigned(a: u32, b: u32) -> u32 {
    let c = a - b;
    return (c >> 31u32) + abs(c) * 0u32 + a.min(b);
}
"#;

    #[test]
    fn prange_3d_with_continue_and_const_folding() {
        let m = compile(MORE);
        let mut v = vec![1.0f32; 2 * 3 * 4];
        let arg = Arg::ArrayMut {
            data: ArrayDataMut::F32(&mut v),
            shape: vec![2, 3, 4],
        };
        launch(&m, "cube", &mut [arg, Arg::from(0.25f32)]).unwrap();
        for i in 0..2 {
            for j in 0..3 {
                for k in 0..4 {
                    let expected = if k == 1 {
                        1.0
                    } else {
                        1.0 + (i * 100 + j * 10 + k) as f32 * 1.0 + 0.25
                    };
                    assert_eq!(v[(i * 3 + j) * 4 + k], expected, "({i}, {j}, {k})");
                }
            }
        }
    }

    #[test]
    fn prange_inside_serial_loops_and_compound_stores() {
        let m = compile(MORE);
        let mut out = vec![10i64; 3];
        let r = launch(&m, "staged", &mut [Arg::from(&mut out), Arg::from(5i32)]).unwrap();
        assert_eq!(out, [16, 16, 16]);
        assert_eq!(r, Some(Value::I64(9)));
    }

    #[test]
    fn bare_return_ends_a_kernel() {
        let m = compile(MORE);
        let mut out = vec![0i32; 1];
        assert_eq!(
            launch(&m, "early", &mut [Arg::from(&mut out), Arg::from(true)]).unwrap(),
            None
        );
        assert_eq!(out, [1]);
        launch(&m, "early", &mut [Arg::from(&mut out), Arg::from(false)]).unwrap();
        assert_eq!(out, [2]);
    }

    #[test]
    fn f32_kernels_compute_in_f32() {
        let m = compile(MORE);
        let x = vec![4.0f32, -3.0, 25.0, f32::NAN, 1e6];
        let mut out = vec![0.0f32; 5];
        launch(&m, "math", &mut [Arg::from(&x), Arg::from(&mut out)]).unwrap();
        let expected: Vec<f32> = x
            .iter()
            .map(|&x| {
                let t = 0.1f32 * x;
                let s = if x > 0.0 { x.sqrt() } else { -1.0 };
                if x.is_nan() {
                    7.0
                } else {
                    (t.round() + s).max(-2.0).min(100.0)
                }
            })
            .collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn unsigned_arithmetic_wraps() {
        let m = compile(MORE);
        let r = launch(&m, "unsigned", &mut [Arg::from(3u32), Arg::from(5u32)]).unwrap();
        assert_eq!(r, Some(Value::U32(1 + 3)));
    }

    const ATOMIC_OOB: &str = r#"
kernel scatter(keys: i64[:], counts: mut i32[:]) {
    for i in prange(0..keys.len()) {
        atomic_add(counts[keys[i]], 1);
    }
}
"#;

    #[test]
    fn atomic_out_of_bounds_faults_without_writing() {
        let m = compile(ATOMIC_OOB);
        let keys = vec![0i64, 1, -1, 1];
        let mut counts = vec![0i32; 2];
        let err = launch(
            &m,
            "scatter",
            &mut [Arg::from(&keys), Arg::from(&mut counts)],
        )
        .unwrap_err();
        assert_eq!(
            err.fault,
            Fault::IndexOutOfBounds {
                array: "counts".into(),
                index: vec![-1],
                shape: vec![2],
                dim: 0
            }
        );
        assert_eq!(
            (err.kernel.as_str(), err.span.line),
            ("scatter", position(ATOMIC_OOB, "counts[keys[i]]").0)
        );
        // Iterations before the fault (in the interpreter's row-major order) took effect.
        assert_eq!(counts, [1, 1]);
    }

    /// 400 helpers, each calling the next at the bottom of a 100-deep
    /// expression: 40 000 levels of recursion, more than a test thread's
    /// 2 MiB stack holds. The interpreter must not overflow.
    #[test]
    fn deep_helper_chains_do_not_overflow_the_stack() {
        // At the checker's helper-depth limit (docs/limits.md): 64 levels
        // from the kernel; a chain one longer is refused at compile time.
        let (helpers, depth) = (64, 100);
        let mut source = String::new();
        for k in 0..helpers {
            let mut e = if k + 1 < helpers {
                format!("h{}(x)", k + 1)
            } else {
                "x".to_string()
            };
            for _ in 0..depth {
                e.push_str(" + 1");
            }
            source.push_str(&format!("fn h{k}(x: i64) -> i64 {{ return {e}; }}\n"));
        }
        source.push_str("kernel deep(x: i64) -> i64 { return h0(x); }\n");
        // Compiling is not what this test is about: give the front end room.
        let m = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(move || compile(&source))
            .unwrap()
            .join()
            .unwrap();
        let r = launch(&m, "deep", &mut [Arg::from(5i64)]).unwrap();
        assert_eq!(r, Some(Value::I64(5 + helpers * depth)));
    }

    const EXTRA: &str = r#"
kernel flags(x: f64[:]) -> i32 {
    let mut any_big = false;
    let mut all_pos = true;
    let mut odd = false;
    for i in prange(0..x.len()) {
        any_big |= x[i] > 3.0;
        all_pos &= x[i] > 0.0;
        odd ^= x[i] < 0.0;
    }
    return (any_big as i32) * 100 + (all_pos as i32) * 10 + (odd as i32);
}

kernel narrow_index(x: f32[:], k: i32) -> f32 {
    let x = x[k];
    return x;
}

fn ratio(a: i32, b: i32) -> i32 {
    return a / b;
}

kernel per_element(a: i32[:], b: i32[:], out: mut i32[:]) {
    for i in prange(0..out.len()) {
        out[i] = ratio(a[i], b[i]);
    }
}
"#;

    #[test]
    fn bool_reductions() {
        let m = compile(EXTRA);
        let x = vec![1.0f64, 5.0, -2.0];
        assert_eq!(
            launch(&m, "flags", &mut [Arg::from(&x)]).unwrap(),
            Some(Value::I32(101))
        );
        let y = vec![1.0f64, 2.0];
        assert_eq!(
            launch(&m, "flags", &mut [Arg::from(&y)]).unwrap(),
            Some(Value::I32(10))
        );
        let empty: Vec<f64> = vec![];
        assert_eq!(
            launch(&m, "flags", &mut [Arg::from(&empty)]).unwrap(),
            Some(Value::I32(10))
        );
    }

    #[test]
    fn narrow_indices_are_reported_as_i64() {
        let m = compile(EXTRA);
        let x = vec![1.5f32, 2.5];
        assert_eq!(
            launch(&m, "narrow_index", &mut [Arg::from(&x), Arg::from(1i32)]).unwrap(),
            Some(Value::F32(2.5))
        );
        let err = launch(&m, "narrow_index", &mut [Arg::from(&x), Arg::from(-1i32)]).unwrap_err();
        assert_eq!(
            err.fault,
            Fault::IndexOutOfBounds {
                array: "x".into(),
                index: vec![-1],
                shape: vec![2],
                dim: 0
            }
        );
        assert_at(&err, EXTRA, "x[k]");
    }

    #[test]
    fn helper_fault_inside_prange_is_located_in_the_helper() {
        let m = compile(EXTRA);
        let a = vec![10i32, 20, 30];
        let b = vec![2i32, 5, 0];
        let mut out = vec![0i32; 3];
        let err = launch(
            &m,
            "per_element",
            &mut [Arg::from(&a), Arg::from(&b), Arg::from(&mut out)],
        )
        .unwrap_err();
        assert_eq!(err.fault, Fault::DivisionByZero);
        assert_eq!(err.kernel, "per_element");
        assert_at(&err, EXTRA, "a / b");
        assert_eq!(out, [5, 4, 0]);
    }
}

#[test]
fn inconsistent_shapes_never_panic() {
    // The runtime never passes these; the interpreter still must not panic.
    let data = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    for shape in [vec![], vec![usize::MAX, 2], vec![1, 1, 1, 6], vec![4, 4]] {
        let arr = Arg::Array {
            data: kiln::ArrayData::F32(&data),
            shape,
        };
        let r = run1(load2(), &mut [arr, Arg::from(0i64), Arg::from(5i64)]);
        assert!(matches!(
            r,
            Ok(Some(Value::F32(_)))
                | Err(RuntimeError {
                    fault: Fault::IndexOutOfBounds { .. },
                    ..
                })
        ));
    }
    // Too few arguments: missing arrays are empty, missing scalars zero.
    let err = run1(load2(), &mut []).unwrap_err();
    assert!(matches!(err.fault, Fault::IndexOutOfBounds { .. }));
}
