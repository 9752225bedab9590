//! Random well-typed kernels for differential testing: expression trees
//! over every scalar type (operators, casts, builtins, `select`,
//! if-expressions, untyped literals, helper calls) evaluated per element
//! inside a `prange` and written to an output array, reduced, or iterated
//! by serial `for` (every range form) and `while` loops with `break` and
//! `continue`. Inputs hold edge
//! values (MIN, MAX, 0, -1, NaN, ±inf, -0.0, huge and tiny floats).
//!
//! Generated programs avoid run-time faults by construction (integer
//! divisors are forced odd with `| 1`), so every backend must produce the
//! interpreter's outputs.

use super::inputs::{Data, Input};
use crate::inputs::gen::SplitMix64 as Rng;
use crate::ir::{Builtin, BuiltinSig, ScalarType, Value};

use ScalarType as T;

pub(super) const NUMERIC: [ScalarType; 5] = [T::I32, T::U32, T::I64, T::F32, T::F64];

/// Elements per input array.
pub const LEN: usize = 64;

/// One generated kernel: source, name and inputs (the output array last).
pub struct RandomKernel {
    pub source: String,
    pub name: String,
    pub inputs: Vec<Input>,
}

pub(super) struct Gen {
    pub(super) rng: Rng,
    /// The variables and array elements a leaf may name, with their types.
    pub(super) vars: Vec<(String, ScalarType)>,
    /// Helpers the expression may call: name, parameter types, result type.
    pub(super) helpers: Vec<(String, [ScalarType; 2], ScalarType)>,
    /// Whether transcendental builtins may appear. Their results may differ
    /// by a few ulp between backends, which a later comparison or cast can
    /// turn into a large difference; backends that share the interpreter's
    /// math library (cpu) get them, others get only correctly rounded
    /// operations.
    pub(super) transcendentals: bool,
}

/// What a kernel body can read: every array element at `i` and every
/// scalar parameter.
pub(super) fn kernel_vars() -> Vec<(String, ScalarType)> {
    vars_at("i")
}

/// Every array element at `index` and every scalar parameter.
pub(super) fn vars_at(index: &str) -> Vec<(String, ScalarType)> {
    NUMERIC
        .iter()
        .flat_map(|&ty| {
            [
                (format!("x{}[{index}]", short(ty)), ty),
                (format!("a{}", short(ty)), ty),
            ]
        })
        .collect()
}

impl Gen {
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n as u64) as usize
    }

    pub(super) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub(super) fn pick<X: Copy>(&mut self, xs: &[X]) -> X {
        xs[self.below(xs.len())]
    }

    /// A builtin from the table taking `arity` floats to a float (`Float`
    /// and `Numeric` typing rules), exact ones only unless
    /// `transcendentals`.
    fn float_builtin(&mut self, arity: usize) -> &'static str {
        let fs: Vec<&'static str> = Builtin::ALL
            .into_iter()
            .filter(|b| b.arity() == arity && (self.transcendentals || b.exact()))
            .filter(|b| matches!(b.sig(), BuiltinSig::Float | BuiltinSig::Numeric))
            .map(Builtin::name)
            .collect();
        self.pick(&fs)
    }

    /// A literal of `ty`, sometimes without its suffix so that inference
    /// must type it from its context (`typed_context`).
    pub(super) fn literal(&mut self, ty: ScalarType, typed_context: bool) -> String {
        let suffix = if typed_context && self.chance(60) {
            ""
        } else {
            ty.name()
        };
        match ty {
            T::Bool => self.pick(&["true", "false"]).to_string(),
            T::I32 | T::I64 => {
                let v = self.pick(&[0i64, 1, 2, 3, 7, 31, 32, 100, 65535, 2147483647]);
                if self.chance(30) {
                    format!("(-{v}{suffix})")
                } else {
                    format!("{v}{suffix}")
                }
            }
            T::U32 => format!(
                "{}{suffix}",
                self.pick(&[0u64, 1, 5, 255, 4294967295, 2147483648])
            ),
            T::F32 | T::F64 => {
                let v = self.pick(&["0.0", "1.0", "0.5", "2.5", "1e-3", "3.0e5", "1e30", "0.1"]);
                let neg = if self.chance(30) { "-" } else { "" };
                format!("({neg}{v}{suffix})")
            }
        }
    }

    /// A leaf: an array element, a scalar parameter or a literal.
    fn leaf(&mut self, ty: ScalarType) -> String {
        let named: Vec<String> = self
            .vars
            .iter()
            .filter(|(_, t)| *t == ty)
            .map(|(n, _)| n.clone())
            .collect();
        if !named.is_empty() && self.chance(75) {
            return named[self.below(named.len())].clone();
        }
        if ty == T::Bool && self.chance(60) {
            let num = self.pick(&NUMERIC);
            return format!("({} < {})", self.leaf(num), self.leaf(num));
        }
        self.literal(ty, false)
    }

    pub(super) fn expr(&mut self, ty: ScalarType, depth: u32) -> String {
        if depth == 0 || self.chance(15) {
            return self.leaf(ty);
        }
        let d = depth - 1;
        let callable: Vec<_> = self.helpers.iter().filter(|h| h.2 == ty).cloned().collect();
        if !callable.is_empty() && self.chance(25) {
            // One candidate costs no draw (the kernels of a given seed stay
            // the same as when there was at most one helper).
            let (name, [p0, p1], _) = if callable.len() == 1 {
                callable[0].clone()
            } else {
                callable[self.below(callable.len())].clone()
            };
            return format!("{name}({}, {})", self.expr(p0, d), self.expr(p1, d));
        }
        match ty {
            T::Bool => self.bool_expr(d),
            T::I32 | T::U32 | T::I64 => self.int_expr(ty, d),
            T::F32 | T::F64 => self.float_expr(ty, d),
        }
    }

    /// The right operand of a binary operator: sometimes an untyped literal.
    fn operand(&mut self, ty: ScalarType, depth: u32) -> String {
        if self.chance(20) {
            self.literal(ty, true)
        } else {
            self.expr(ty, depth)
        }
    }

    fn bool_expr(&mut self, d: u32) -> String {
        match self.below(6) {
            0 => {
                let ty = self.pick(&NUMERIC);
                let op = self.pick(&["==", "!=", "<", "<=", ">", ">="]);
                format!("({} {op} {})", self.expr(ty, d), self.operand(ty, d))
            }
            1 => format!(
                "({} {} {})",
                self.expr(T::Bool, d),
                self.pick(&["&&", "||", "&", "|", "^"]),
                self.expr(T::Bool, d)
            ),
            2 => format!("(!{})", self.expr(T::Bool, d)),
            3 => {
                let ty = self.pick(&[T::F32, T::F64]);
                format!("{}({})", self.pick(&["is_nan", "is_inf"]), self.expr(ty, d))
            }
            4 => format!("({} < {})", self.expr(T::Bool, d), self.expr(T::Bool, d)),
            _ => self.leaf(T::Bool),
        }
    }

    fn int_expr(&mut self, ty: ScalarType, d: u32) -> String {
        match self.below(11) {
            0 | 1 => {
                let op = self.pick(&["+", "-", "*", "&", "|", "^"]);
                format!("({} {op} {})", self.expr(ty, d), self.operand(ty, d))
            }
            2 => {
                // Odd divisors never fault; MIN / -1 wraps.
                let op = self.pick(&["/", "%"]);
                format!("({} {op} ({} | 1))", self.expr(ty, d), self.expr(ty, d))
            }
            3 => {
                let amount_ty = self.pick(&[T::I32, T::U32, T::I64]);
                let op = self.pick(&["<<", ">>"]);
                format!("({} {op} {})", self.expr(ty, d), self.expr(amount_ty, d))
            }
            4 if ty != T::U32 => format!("(-{})", self.expr(ty, d)),
            4 | 5 => format!("(!{})", self.expr(ty, d)),
            6 => {
                let from = self.pick(&[T::Bool, T::I32, T::U32, T::I64, T::F32, T::F64]);
                format!("({} as {ty})", self.expr(from, d))
            }
            7 => match self.below(4) {
                0 => format!("abs({})", self.expr(ty, d)),
                1 => format!("min({}, {})", self.expr(ty, d), self.operand(ty, d)),
                2 => format!("{}.max({})", self.expr(ty, d), self.operand(ty, d)),
                _ => format!(
                    "clamp({}, {}, {})",
                    self.expr(ty, d),
                    self.operand(ty, d),
                    self.operand(ty, d)
                ),
            },
            8 => self.choice(ty, d, false),
            9 => self.choice(ty, d, true),
            _ => self.leaf(ty),
        }
    }

    fn float_expr(&mut self, ty: ScalarType, d: u32) -> String {
        match self.below(10) {
            0 | 1 => {
                let op = self.pick(&["+", "-", "*", "/", "%"]);
                format!("({} {op} {})", self.expr(ty, d), self.operand(ty, d))
            }
            2 => format!("(-{})", self.expr(ty, d)),
            3 => {
                let from = self.pick(&[T::Bool, T::I32, T::U32, T::I64, T::F32, T::F64]);
                format!("({} as {ty})", self.expr(from, d))
            }
            4 | 5 => {
                let f = self.float_builtin(1);
                format!("{f}({})", self.expr(ty, d))
            }
            6 => {
                let f = self.float_builtin(2);
                format!("{f}({}, {})", self.expr(ty, d), self.operand(ty, d))
            }
            7 => {
                let f = self.float_builtin(3);
                format!(
                    "{f}({}, {}, {})",
                    self.expr(ty, d),
                    self.operand(ty, d),
                    self.operand(ty, d)
                )
            }
            8 => self.choice(ty, d, false),
            _ => self.choice(ty, d, true),
        }
    }

    /// A two-way choice of type `ty`: `select(c, a, b)`, or an
    /// if-expression when `branch`.
    fn choice(&mut self, ty: ScalarType, d: u32, branch: bool) -> String {
        let cond = self.expr(T::Bool, d);
        let a = self.expr(ty, d);
        if branch {
            format!("(if {cond} {{ {a} }} else {{ {} }})", self.expr(ty, d))
        } else {
            format!("select({cond}, {a}, {})", self.operand(ty, d))
        }
    }
}

pub(super) fn short(ty: ScalarType) -> &'static str {
    match ty {
        T::I32 => "i",
        T::U32 => "u",
        T::I64 => "l",
        T::F32 => "f",
        T::F64 => "d",
        T::Bool => "b",
    }
}

/// Edge-heavy input values, as f64 seeds converted per type.
pub(super) fn inputs(rng: &mut Rng) -> Vec<Input> {
    let mut g = Gen {
        rng: Rng::new(rng.next_u64()),
        vars: Vec::new(),
        helpers: Vec::new(),
        transcendentals: false,
    };
    let int_edges: [i64; 8] = [
        0,
        1,
        -1,
        i32::MIN as i64,
        i32::MAX as i64,
        i64::MIN,
        i64::MAX,
        255,
    ];
    let float_edges: [f64; 10] = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e300,
        1e-300,
        0.5,
    ];
    let mut ints = Vec::with_capacity(LEN);
    let mut floats = Vec::with_capacity(LEN);
    for _ in 0..LEN {
        ints.push(if g.chance(40) {
            g.pick(&int_edges)
        } else {
            (g.rng.next_u64() as i64) >> g.below(64)
        });
        floats.push(if g.chance(30) {
            g.pick(&float_edges)
        } else {
            (g.rng.next_f64() - 0.5) * 10f64.powi(g.below(12) as i32 - 4)
        });
    }
    let arr = |name: &str, data: Data| Input::Array {
        name: name.to_string(),
        data,
        shape: vec![LEN],
        mutable: false,
    };
    let scalar = |name: &str, value: Value| Input::Scalar {
        name: name.to_string(),
        value,
    };
    vec![
        arr("xi", Data::I32(ints.iter().map(|&v| v as i32).collect())),
        arr("xu", Data::U32(ints.iter().map(|&v| v as u32).collect())),
        arr("xl", Data::I64(ints.clone())),
        arr("xf", Data::F32(floats.iter().map(|&v| v as f32).collect())),
        arr("xd", Data::F64(floats.clone())),
        scalar("ai", Value::I32(ints[0] as i32)),
        scalar("au", Value::U32(ints[1] as u32)),
        scalar("al", Value::I64(ints[2])),
        scalar("af", Value::F32(floats[0] as f32)),
        scalar("ad", Value::F64(floats[1])),
    ]
}

pub(super) const PARAMS: &str = "xi: i32[:], xu: u32[:], xl: i64[:], xf: f32[:], xd: f64[:], ai: i32, au: u32, al: i64, af: f32, ad: f64";

/// A serial range over small bounds in one of the language's loop forms.
fn serial_range(g: &mut Gen) -> String {
    let a = g.below(12) as i64 - 5;
    let b = g.below(12) as i64 - 3;
    let step = 1 + g.below(4);
    match g.below(6) {
        0 => format!("{a}..{b}"),
        1 => format!("{a}..={b}"),
        2 => format!("({a}..{b}).step_by({step})"),
        3 => format!("({a}..{b}).rev()"),
        4 => format!("({a}..={b}).step_by({step}).rev()"),
        _ => format!("({a}..{b}).rev().step_by({step})"),
    }
}

/// A kernel with a helper and serial loops inside the parallel body: the
/// value `v` is updated by a `for` over a random range form and a `while`
/// with `break`/`continue`.
fn looping_source(g: &mut Gen, name: &str, ty: ScalarType) -> String {
    let p = [g.pick(&NUMERIC), T::I64];
    let ret = g.pick(&NUMERIC);
    g.vars = vec![("p".to_string(), p[0]), ("q".to_string(), T::I64)];
    let helper_body = g.expr(ret, 3);
    let helper = format!(
        "fn h_{name}(p: {}, q: i64) -> {ret} {{\n    return {helper_body};\n}}\n",
        p[0]
    );
    g.helpers = vec![(format!("h_{name}"), p, ret)];
    g.vars = kernel_vars();
    let init = g.expr(ty, 2);
    g.vars.push(("v".to_string(), ty));
    g.vars.push(("j".to_string(), T::I64));
    let range = serial_range(g);
    let update = g.expr(ty, 3);
    g.vars.pop();
    g.vars.push(("c".to_string(), T::I64));
    let stop = g.expr(T::Bool, 2);
    let skip = g.expr(T::Bool, 2);
    let again = g.expr(ty, 2);
    format!(
        "{helper}kernel {name}({PARAMS}, out: mut {ty}[:]) {{
    for i in prange(0..out.len()) {{
        let mut v: {ty} = {init};
        for j in {range} {{
            v = {update};
        }}
        let mut c = 0;
        while c < 4 {{
            c += 1;
            if {skip} {{
                continue;
            }}
            v = {again};
            if {stop} {{
                break;
            }}
        }}
        out[i] = v;
    }}
}}
"
    )
}

/// The `k`-th random kernel of the stream seeded by `seed`, with or without
/// transcendental builtins (see `Gen::transcendentals`).
pub fn random_kernel(seed: u64, k: u64, transcendentals: bool) -> RandomKernel {
    let mut rng = Rng::new(seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut g = Gen {
        rng: Rng::new(rng.next_u64()),
        vars: kernel_vars(),
        helpers: Vec::new(),
        transcendentals,
    };
    let mut inputs = inputs(&mut rng);
    let name = format!("random_{k}");
    let ty = g.pick(&[T::Bool, T::I32, T::U32, T::I64, T::F32, T::F64]);
    if ty != T::Bool && g.chance(30) {
        let source = looping_source(&mut g, &name, ty);
        inputs.push(zeros("out", ty));
        return RandomKernel {
            source,
            name,
            inputs,
        };
    }
    let depth = 2 + g.below(4) as u32;
    let expr = g.expr(ty, depth);
    // Integer kernels sometimes reduce instead of storing: integer `+ * & |
    // ^ min max` are order-independent, so the result must match exactly.
    let source = if ty.is_int() && g.chance(30) {
        let (init, update) = match g.below(5) {
            0 => ("0", "acc += e;"),
            1 => ("1", "acc *= e | 1;"),
            2 => ("0", "acc ^= e;"),
            3 => ("0", "acc = max(acc, e);"),
            _ => ("0", "acc = acc.min(e);"),
        };
        format!(
            "kernel {name}({PARAMS}) -> {ty} {{\n    let mut acc: {ty} = {init};\n    for i in prange(0..xi.len()) {{\n        let e = {expr};\n        {update}\n    }}\n    return acc;\n}}\n"
        )
    } else {
        let (out_ty, store) = match ty {
            T::Bool => (T::I32, format!("({expr}) as i32")),
            _ => (ty, expr),
        };
        inputs.push(zeros("out", out_ty));
        format!(
            "kernel {name}({PARAMS}, out: mut {out_ty}[:]) {{\n    for i in prange(0..out.len()) {{\n        out[i] = {store};\n    }}\n}}\n"
        )
    };
    RandomKernel {
        source,
        name,
        inputs,
    }
}

/// A writable array of `LEN` zeros.
pub(super) fn zeros(name: &str, ty: ScalarType) -> Input {
    let data = match ty {
        T::I32 => Data::I32(vec![0; LEN]),
        T::U32 => Data::U32(vec![0; LEN]),
        T::I64 => Data::I64(vec![0; LEN]),
        T::F32 => Data::F32(vec![0.0; LEN]),
        _ => Data::F64(vec![0.0; LEN]),
    };
    Input::Array {
        name: name.to_string(),
        data,
        shape: vec![LEN],
        mutable: true,
    }
}
