//! Kernels built directly as IR (independent of the front end), run on the
//! CPU backend and on the interpreter; results and faults must agree.

use super::CpuEngine;
use crate::engine::args::Arg;
use crate::engine::Engine;
use crate::error::{Error, Fault};
use crate::ir::*;
use std::sync::Arc;

fn sp(col: u32) -> Span {
    Span {
        lo: col,
        hi: col + 1,
        line: 1,
        col,
    }
}

fn ex(kind: ExprKind, ty: ScalarType) -> Expr {
    Expr {
        kind,
        ty,
        span: sp(1),
    }
}

fn c64(v: i64) -> Expr {
    ex(ExprKind::Const(Value::I64(v)), ScalarType::I64)
}

fn cst(v: Value) -> Expr {
    ex(ExprKind::Const(v), v.ty())
}

fn var(id: VarId, ty: ScalarType) -> Expr {
    ex(ExprKind::Var(id), ty)
}

fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    let ty = if op.is_comparison() || matches!(op, BinOp::And | BinOp::Or) {
        ScalarType::Bool
    } else {
        a.ty
    };
    ex(ExprKind::Binary(op, Box::new(a), Box::new(b)), ty)
}

fn at(array: ArrayId, index: Vec<Expr>, checked: bool) -> Access {
    let n = index.len();
    Access {
        array,
        index,
        needs_check: vec![checked; n],
    }
}

fn load(acc: Access, ty: ScalarType) -> Expr {
    ex(ExprKind::Load(acc), ty)
}

fn st(kind: StmtKind) -> Stmt {
    Stmt { kind, span: sp(5) }
}

#[derive(Default)]
struct Kb {
    vars: Vec<Var>,
    arrays: Vec<ArrayParam>,
    params: Vec<Param>,
}

impl Kb {
    fn local(&mut self, name: &str, ty: ScalarType) -> VarId {
        self.vars.push(Var {
            name: name.into(),
            ty,
            mutable: true,
            span: sp(1),
        });
        VarId(self.vars.len() as u32 - 1)
    }
    fn scalar(&mut self, name: &str, ty: ScalarType) -> VarId {
        let v = self.local(name, ty);
        self.params.push(Param::Scalar(v));
        v
    }
    fn array(&mut self, name: &str, elem: ScalarType, rank: u8, mutable: bool) -> ArrayId {
        self.arrays.push(ArrayParam {
            name: name.into(),
            elem,
            rank,
            mutable,
            span: sp(1),
        });
        let id = ArrayId(self.arrays.len() as u32 - 1);
        self.params.push(Param::Array(id));
        id
    }
    fn kernel(self, name: &str, ret: Option<ScalarType>, stmts: Vec<Stmt>) -> Arc<Module> {
        let f = Function {
            name: name.into(),
            kind: FunctionKind::Kernel,
            span: sp(1),
            params: self.params,
            ret,
            vars: self.vars,
            arrays: self.arrays,
            body: Block { stmts },
        };
        Arc::new(Module {
            file: "t.kn".into(),
            functions: vec![f],
        })
    }
}

fn cpu(m: &Arc<Module>, args: &mut [Arg]) -> crate::error::Result<Option<Value>> {
    CpuEngine::new()?.compile(m, FuncId(0))?.launch(args)
}

fn interp(m: &Arc<Module>, args: &mut [Arg]) -> crate::error::Result<Option<Value>> {
    Ok(crate::interp::run(m, &m.functions[0], args)?)
}

fn saxpy() -> Arc<Module> {
    let mut k = Kb::default();
    let a = k.scalar("a", ScalarType::F32);
    let x = k.array("x", ScalarType::F32, 1, false);
    let y = k.array("y", ScalarType::F32, 1, true);
    let i = k.local("i", ScalarType::I64);
    let iv = || var(i, ScalarType::I64);
    let body = bin(
        BinOp::Add,
        bin(
            BinOp::Mul,
            var(a, ScalarType::F32),
            load(at(x, vec![iv()], true), ScalarType::F32),
        ),
        load(at(y, vec![iv()], false), ScalarType::F32),
    );
    let par = ParLoop {
        vars: vec![i],
        ranges: vec![(c64(0), ex(ExprKind::Len(y), ScalarType::I64))],
        reductions: vec![],
        body: Block {
            stmts: vec![st(StmtKind::Store {
                access: at(y, vec![iv()], false),
                value: body,
            })],
        },
    };
    k.kernel("saxpy", None, vec![st(StmtKind::ParFor(par))])
}

#[test]
fn saxpy_matches_interpreter() {
    let m = saxpy();
    for n in [0usize, 1, 1000, 100_000] {
        let x: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
        let mut y1: Vec<f32> = (0..n).map(|i| 1.0 - i as f32).collect();
        let mut y2 = y1.clone();
        cpu(
            &m,
            &mut [Arg::from(2.5f32), Arg::from(&x), Arg::from(&mut y1)],
        )
        .unwrap();
        interp(
            &m,
            &mut [Arg::from(2.5f32), Arg::from(&x), Arg::from(&mut y2)],
        )
        .unwrap();
        assert_eq!(y1, y2);
    }
}

#[test]
fn saxpy_reports_short_x() {
    let m = saxpy();
    let x = vec![1.0f32; 10];
    let mut y1 = vec![0.0f32; 50_000];
    let mut y2 = y1.clone();
    let e1 = cpu(
        &m,
        &mut [Arg::from(1.0f32), Arg::from(&x), Arg::from(&mut y1)],
    )
    .unwrap_err();
    let e2 = interp(
        &m,
        &mut [Arg::from(1.0f32), Arg::from(&x), Arg::from(&mut y2)],
    )
    .unwrap_err();
    match (&e1, &e2) {
        (Error::Runtime(a), Error::Runtime(b)) => {
            assert_eq!(a.span, b.span);
            assert!(
                matches!(&a.fault, Fault::IndexOutOfBounds { array, shape, .. } if array == "x" && shape == &vec![10])
            );
        }
        _ => panic!("{e1} / {e2}"),
    }
}

/// `let mut t = 0; for (i, j) in prange(0..h, 0..w) { t += a[i, j] * a[i, j] } return t;`
fn sum_sq_2d(ty: ScalarType, op: ReduceOp) -> Arc<Module> {
    let mut k = Kb::default();
    let a = k.array("a", ty, 2, false);
    let t = k.local("t", ty);
    let i = k.local("i", ScalarType::I64);
    let j = k.local("j", ScalarType::I64);
    let elem = || {
        load(
            at(
                a,
                vec![var(i, ScalarType::I64), var(j, ScalarType::I64)],
                true,
            ),
            ty,
        )
    };
    let binop = match op {
        ReduceOp::Add => BinOp::Add,
        ReduceOp::Mul => BinOp::Mul,
        ReduceOp::BitAnd => BinOp::BitAnd,
        ReduceOp::BitOr => BinOp::BitOr,
        ReduceOp::BitXor => BinOp::BitXor,
        _ => BinOp::Add,
    };
    let contribution = if ty.is_float() && op == ReduceOp::Add {
        bin(BinOp::Mul, elem(), elem())
    } else {
        elem()
    };
    let update = match op {
        ReduceOp::Min | ReduceOp::Max => ex(
            ExprKind::Builtin(
                if op == ReduceOp::Min {
                    Builtin::Min
                } else {
                    Builtin::Max
                },
                vec![var(t, ty), contribution],
            ),
            ty,
        ),
        _ => bin(binop, var(t, ty), contribution),
    };
    let par = ParLoop {
        vars: vec![i, j],
        ranges: vec![
            (c64(0), ex(ExprKind::Shape(a, 0), ScalarType::I64)),
            (c64(0), ex(ExprKind::Shape(a, 1), ScalarType::I64)),
        ],
        reductions: vec![Reduction { var: t, op }],
        body: Block {
            stmts: vec![st(StmtKind::Assign {
                var: t,
                value: update,
            })],
        },
    };
    k.kernel(
        "sum",
        Some(ty),
        vec![
            st(StmtKind::Let {
                var: t,
                init: cst(Value::one(ty)),
            }),
            st(StmtKind::ParFor(par)),
            st(StmtKind::Return(Some(var(t, ty)))),
        ],
    )
}

#[test]
fn reductions_match_interpreter_for_every_op() {
    let (h, w) = (70, 1000);
    let ints: Vec<i64> = (0..h * w)
        .map(|k| ((k * 7919) % 2001) as i64 - 1000)
        .collect();
    for op in [
        ReduceOp::Add,
        ReduceOp::Mul,
        ReduceOp::BitAnd,
        ReduceOp::BitOr,
        ReduceOp::BitXor,
        ReduceOp::Min,
        ReduceOp::Max,
    ] {
        for ty in [ScalarType::I32, ScalarType::U32, ScalarType::I64] {
            let m = sum_sq_2d(ty, op);
            let shape = vec![h, w];
            macro_rules! go {
                ($t:ty) => {{
                    let data: Vec<$t> = ints.iter().map(|&v| v as $t).collect();
                    let r1 = cpu(
                        &m,
                        &mut [Arg::Array {
                            data: <$t as crate::Element>::data(&data),
                            shape: shape.clone(),
                        }],
                    )
                    .unwrap();
                    let r2 = interp(
                        &m,
                        &mut [Arg::Array {
                            data: <$t as crate::Element>::data(&data),
                            shape: shape.clone(),
                        }],
                    )
                    .unwrap();
                    assert_eq!(r1, r2, "{op:?} {ty}");
                }};
            }
            match ty {
                ScalarType::I32 => go!(i32),
                ScalarType::U32 => go!(u32),
                _ => go!(i64),
            }
        }
    }
}

#[test]
fn float_sums_are_deterministic_across_thread_counts() {
    let (h, w) = (300, 1000);
    let data: Vec<f64> = (0..h * w).map(|k| ((k as f64) * 0.37).sin()).collect();
    let m = sum_sq_2d(ScalarType::F64, ReduceOp::Add);
    let mut results = Vec::new();
    for threads in [1, 2, 3] {
        super::set_num_threads(threads);
        let r = cpu(
            &m,
            &mut [Arg::Array {
                data: crate::ArrayData::F64(&data),
                shape: vec![h, w],
            }],
        )
        .unwrap();
        results.push(r);
    }
    super::set_num_threads(0);
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
    let exact: f64 = 1.0 + data.iter().map(|v| v * v).sum::<f64>();
    let Some(Value::F64(got)) = results[0] else {
        panic!()
    };
    assert!((got - exact).abs() < 1e-9 * exact.abs());
}

/// Serial `for i in 0..n { y[i] = y[i] / d; }` and friends: faults agree.
fn serial_div(ty: ScalarType, rem: bool) -> Arc<Module> {
    let mut k = Kb::default();
    let n = k.scalar("n", ScalarType::I64);
    let d = k.scalar("d", ty);
    let y = k.array("y", ty, 1, true);
    let i = k.local("i", ScalarType::I64);
    let iv = || var(i, ScalarType::I64);
    let value = bin(
        if rem { BinOp::Rem } else { BinOp::Div },
        load(at(y, vec![iv()], true), ty),
        var(d, ty),
    );
    let lp = ForLoop {
        var: i,
        start: c64(0),
        count: var(n, ScalarType::I64),
        stride: c64(1),
        body: Block {
            stmts: vec![st(StmtKind::Store {
                access: at(y, vec![iv()], true),
                value,
            })],
        },
    };
    k.kernel("div", None, vec![st(StmtKind::For(lp))])
}

#[test]
fn serial_faults_and_wrapping_division_match_interpreter() {
    for rem in [false, true] {
        let m = serial_div(ScalarType::I32, rem);
        for (n, d) in [(4i64, -1i32), (4, 0), (5, 3), (1 << 40, 2), (-3, 2)] {
            let mut y1 = vec![i32::MIN, 7, -7, 100];
            let mut y2 = y1.clone();
            let r1 = cpu(&m, &mut [Arg::from(n), Arg::from(d), Arg::from(&mut y1)]);
            let r2 = interp(&m, &mut [Arg::from(n), Arg::from(d), Arg::from(&mut y2)]);
            assert_eq!(y1, y2, "n={n} d={d} rem={rem}");
            assert_eq!(
                format!("{r1:?}"),
                format!("{r2:?}"),
                "n={n} d={d} rem={rem}"
            );
        }
    }
}
