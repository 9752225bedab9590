//! The kernel families of the fuzz campaign ([`super::fuzz`]) beyond the
//! expression kernels of [`super::random`]: ranges with huge and negative
//! bounds, deep nesting of control flow, and graphs of helpers. Every
//! kernel is well typed and terminates (loop trip counts are bounded when
//! the kernel is generated); some fault on purpose (a range past an array's
//! end, a step of zero), and then every backend must report the
//! interpreter's fault at the same place.

use super::inputs::{Data, Input};
use super::random::{inputs, kernel_vars, vars_at, zeros, Gen, RandomKernel, NUMERIC, PARAMS};
use crate::inputs::gen::SplitMix64 as Rng;
use crate::ir::{ScalarType, Value};

use ScalarType as T;

/// The most iterations a generated serial range runs.
const MAX_TRIPS: i128 = 40;

fn type_bounds(ty: ScalarType) -> (i128, i128) {
    match ty {
        T::I32 => (i32::MIN as i128, i32::MAX as i128),
        T::U32 => (0, u32::MAX as i128),
        _ => (i64::MIN as i128, i64::MAX as i128),
    }
}

fn value_of(ty: ScalarType, v: i128) -> Value {
    match ty {
        T::I32 => Value::I32(v as i32),
        T::U32 => Value::U32(v as u32),
        _ => Value::I64(v as i64),
    }
}

fn scalar(name: &str, value: Value) -> Input {
    Input::Scalar {
        name: name.to_string(),
        value,
    }
}

/// A bound of type `ty`: mostly at or next to the type's extremes, else
/// near zero or anywhere.
fn edge_bound(g: &mut Gen, ty: ScalarType) -> i128 {
    let (min, max) = type_bounds(ty);
    match g.below(8) {
        0 => min,
        1 => min + 1 + g.below(3) as i128,
        2 => max,
        3 => max - 1 - g.below(3) as i128,
        4 | 5 => (g.below(21) as i128 - 10).clamp(min, max),
        _ => {
            let r = g.rng.next_u64() as i128 - (1i128 << 63);
            r.clamp(min, max)
        }
    }
}

/// A serial range over the parameters `lo`, `hi` (of `ty`) and `st`: the
/// form (a string) and the parameter values, chosen so that the loop runs
/// at most [`MAX_TRIPS`] times; with `fault`, a step of zero or below.
fn wide_range(g: &mut Gen, ty: ScalarType, fault: bool) -> (String, [Value; 3]) {
    let (_, max) = type_bounds(ty);
    let inclusive = g.chance(40);
    let stepped = fault || g.chance(70);
    let lo = edge_bound(g, ty);
    let mut hi = edge_bound(g, ty);
    let span = |lo: i128, hi: i128| (hi - lo + inclusive as i128).max(0);
    if !stepped && span(lo, hi) > MAX_TRIPS {
        hi = (lo + g.below(MAX_TRIPS as usize) as i128).min(max);
    }
    let step: i128 = if fault {
        -(g.below(3) as i128)
    } else if stepped {
        // The smallest step keeping the trip count in budget, sometimes
        // larger (a huge step runs once).
        let least = (span(lo, hi) + MAX_TRIPS - 1) / MAX_TRIPS;
        let step = least.max(1) * (1 + g.below(3) as i128);
        if g.chance(10) {
            i64::MAX as i128
        } else {
            step.min(i64::MAX as i128)
        }
    } else {
        1
    };
    let dots = if inclusive { "..=" } else { ".." };
    let form = if !stepped {
        match g.below(2) {
            0 => format!("lo{dots}hi"),
            _ => format!("(lo{dots}hi).rev()"),
        }
    } else {
        match g.below(3) {
            0 => format!("(lo{dots}hi).step_by(st)"),
            1 => format!("(lo{dots}hi).step_by(st).rev()"),
            _ => format!("(lo{dots}hi).rev().step_by(st)"),
        }
    };
    (
        form,
        [value_of(ty, lo), value_of(ty, hi), Value::I64(step as i64)],
    )
}

/// Serial loops over huge, negative and extreme ranges of every integer
/// type inside a `prange` (`step_by`, `rev`, inclusive ends at the type's
/// MAX), or a `prange` placed at the extremes of `i64`.
pub(super) fn ranges(g: &mut Gen, rng: &mut Rng, name: &str) -> RandomKernel {
    let mut inputs = inputs(rng);
    let source = if g.chance(60) {
        let ty = g.pick(&[T::I32, T::U32, T::I64]);
        let fault = g.chance(8);
        let (form, [lo, hi, st]) = wide_range(g, ty, fault);
        inputs.extend([scalar("lo", lo), scalar("hi", hi), scalar("st", st)]);
        g.vars = kernel_vars();
        g.vars.push(("v".into(), T::I64));
        g.vars.push(("w".into(), T::I64));
        let extra = g.expr(T::I64, 2);
        let cond = g.expr(T::Bool, 2);
        let leave = g.pick(&["continue", "break"]);
        format!(
            "kernel {name}({PARAMS}, lo: {ty}, hi: {ty}, st: i64, out: mut i64[:]) {{
    for i in prange(0..out.len()) {{
        let mut v: i64 = xl[i];
        for j in {form} {{
            let w = j as i64;
            v = (v * 31) ^ w;
            if {cond} {{
                {leave};
            }}
            v = v + {extra};
        }}
        out[i] = v;
    }}
}}
"
        )
    } else {
        // A 1-D or 2-D prange whose first dimension starts at an extreme
        // of i64; it fits the output unless `overrun` (then it faults).
        let overrun = g.chance(25);
        let two_d = g.chance(50);
        // Rows that fit: the whole output (1-D), 4 rows of 16 (2-D).
        let fit = if two_d { 4 } else { super::random::LEN as i128 };
        let at_max = g.chance(50);
        let lo = if at_max {
            i64::MAX as i128 - g.below(200) as i128
        } else {
            i64::MIN as i128 + g.below(200) as i128
        };
        let span = if overrun {
            fit + 1 + g.below(1 << 20) as i128
        } else {
            g.below(fit as usize + 1) as i128
        };
        let hi = (lo + span).min(i64::MAX as i128);
        inputs.extend([
            scalar("lo", Value::I64(lo as i64)),
            scalar("hi", Value::I64(hi as i64)),
        ]);
        g.vars = vars_at("k");
        g.vars.push(("k".into(), T::I64));
        let value = g.expr(T::I64, 3);
        if !two_d {
            format!(
                "kernel {name}({PARAMS}, lo: i64, hi: i64, out: mut i64[:]) {{
    for i in prange(lo..hi) {{
        let k = i - lo;
        out[k] = {value};
    }}
}}
"
            )
        } else {
            format!(
                "kernel {name}({PARAMS}, lo: i64, hi: i64, out: mut i64[:]) {{
    let w = out.len() / 4;
    for (r, c) in prange(lo..hi, 0..w) {{
        let k = (r - lo) * w + c;
        out[k] = {value} + c;
    }}
}}
"
            )
        }
    };
    inputs.push(zeros("out", T::I64));
    RandomKernel {
        source,
        name: name.to_string(),
        inputs,
    }
}

/// Control flow nested `depth` deep (`if`/`else`, serial `for` and `while`
/// with `break` and `continue`), the `prange` itself sometimes inside
/// serial loops, and expressions wrapped in long chains of parentheses.
pub(super) fn nesting(g: &mut Gen, rng: &mut Rng, name: &str) -> RandomKernel {
    let mut inputs = inputs(rng);
    let ty = g.pick(&NUMERIC);
    let depth = 2 + g.below(40) as u32;
    g.vars = kernel_vars();
    let init = g.expr(ty, 2);
    g.vars.push(("v".into(), ty));
    let mut n = Nest {
        ty,
        statements: 0,
        work: 1,
        loops: 0,
    };
    let body = n.block(g, depth, false, 2);
    // Past the nesting limit now and then: refused alike everywhere.
    let parens = match g.below(20) {
        0 => g.below(300),
        1..=4 => g.below(120),
        _ => 0,
    };
    let store = format!("{}v{}", "(".repeat(parens), ")".repeat(parens));
    let outer = g.below(3);
    let (open, close) = match outer {
        0 => (String::new(), String::new()),
        1 => ("for rep in 0..2 {\n".to_string(), "}\n".to_string()),
        _ => ("if al != 7 {\n".to_string(), "}\n".to_string()),
    };
    let source = format!(
        "kernel {name}({PARAMS}, out: mut {ty}[:]) {{
{open}    for i in prange(0..out.len()) {{
        let mut v: {ty} = {init};
{body}        out[i] = {store};
    }}
{close}}}
"
    );
    inputs.push(zeros("out", ty));
    RandomKernel {
        source,
        name: name.to_string(),
        inputs,
    }
}

struct Nest {
    ty: ScalarType,
    statements: usize,
    /// The product of the trip counts of the enclosing loops: bounded so
    /// that deep nesting cannot run long.
    work: u64,
    /// Loop variables made so far (unique names).
    loops: usize,
}

impl Nest {
    fn block(&mut self, g: &mut Gen, depth: u32, in_loop: bool, indent: usize) -> String {
        let pad = "    ".repeat(indent);
        let mut out = String::new();
        let count = 1 + g.below(2);
        for _ in 0..count {
            self.statements += 1;
            if depth == 0 || self.statements > 80 {
                let e = g.expr(self.ty, 2);
                out.push_str(&format!("{pad}v = {e};\n"));
                continue;
            }
            match g.below(6) {
                0 | 1 => {
                    let cond = g.expr(T::Bool, 2);
                    let a = self.block(g, depth - 1, in_loop, indent + 1);
                    if g.chance(50) {
                        let b = self.block(g, depth - 1, in_loop, indent + 1);
                        out.push_str(&format!(
                            "{pad}if {cond} {{\n{a}{pad}}} else {{\n{b}{pad}}}\n"
                        ));
                    } else {
                        out.push_str(&format!("{pad}if {cond} {{\n{a}{pad}}}\n"));
                    }
                }
                2 | 3 if self.work * 3 <= 4096 => {
                    let trips = 1 + g.below(3) as u64;
                    let var = format!("j{}", self.loops);
                    self.loops += 1;
                    self.work *= trips;
                    let (vty, head) = if g.chance(60) {
                        let base = g.below(7) as i64 - 3;
                        let form = match g.below(3) {
                            0 => format!("{base}..{}", base + trips as i64),
                            1 => format!("({base}..{}).rev()", base + trips as i64),
                            _ => format!("({base}..={}).step_by(2)", base + 2 * trips as i64 - 2),
                        };
                        (T::I64, format!("for {var} in {form} {{\n"))
                    } else {
                        (
                            T::I32,
                            format!("let mut {var}: i32 = 0;\n{pad}while {var} < {trips} {{\n{pad}    {var} += 1;\n"),
                        )
                    };
                    g.vars.push((var.clone(), vty));
                    let inner = self.block(g, depth - 1, true, indent + 1);
                    g.vars.pop();
                    self.work /= trips;
                    out.push_str(&format!("{pad}{head}{inner}{pad}}}\n"));
                }
                4 if in_loop => {
                    let cond = g.expr(T::Bool, 2);
                    let leave = g.pick(&["continue", "break"]);
                    out.push_str(&format!("{pad}if {cond} {{\n{pad}    {leave};\n{pad}}}\n"));
                }
                _ => {
                    let e = g.expr(self.ty, 3);
                    out.push_str(&format!("{pad}v = {e};\n"));
                }
            }
        }
        out
    }
}

/// A graph of helpers: helper `k` calls helpers of higher numbers only
/// (calls form a DAG, sometimes a long chain or a doubling one past the
/// inlining budget, which every backend must refuse alike), each with a
/// serial loop bounded by its `q` parameter.
pub(super) fn helpers(g: &mut Gen, rng: &mut Rng, name: &str) -> RandomKernel {
    let mut inputs = inputs(rng);
    let count = 2 + if g.chance(15) {
        g.below(80)
    } else {
        g.below(12)
    };
    let sigs: Vec<(String, [ScalarType; 2], ScalarType)> = (0..count)
        .map(|k| {
            (
                format!("h{k}_{name}"),
                [g.pick(&NUMERIC), T::I64],
                g.pick(&NUMERIC),
            )
        })
        .collect();
    let mut source = String::new();
    for k in (0..count).rev() {
        let (hname, [p, _], ret) = sigs[k].clone();
        g.helpers = sigs[k + 1..].to_vec();
        g.vars = vec![("p".into(), p), ("q".into(), T::I64)];
        let init = g.expr(ret, 3);
        g.vars.push(("r".into(), ret));
        g.vars.push(("t".into(), T::I64));
        // No calls inside the loop: trip counts would multiply along a
        // chain of helpers.
        g.helpers = Vec::new();
        let step = g.expr(ret, 2);
        source.push_str(&format!(
            "fn {hname}(p: {p}, q: i64) -> {ret} {{
    let mut r: {ret} = {init};
    for t in 0..(q & 3) {{
        r = {step};
    }}
    return r;
}}
"
        ));
    }
    let ty = g.pick(&NUMERIC);
    g.helpers = sigs;
    g.vars = kernel_vars();
    let value = g.expr(ty, 4);
    let (h0, [p0, _], _) = g.helpers[0].clone();
    let first = g.expr(p0, 2);
    source.push_str(&format!(
        "kernel {name}({PARAMS}, out: mut {ty}[:]) {{
    for i in prange(0..out.len()) {{
        out[i] = {value} + ({h0}({first}, xl[i]) as {ty});
    }}
}}
"
    ));
    g.helpers = Vec::new();
    inputs.push(zeros("out", ty));
    RandomKernel {
        source,
        name: name.to_string(),
        inputs,
    }
}

/// Float inputs holding only edge values: subnormals, the largest and
/// smallest normals, ±0, ±inf, NaN.
pub(super) fn float_edges(rk: &mut RandomKernel, g: &mut Gen) {
    const EDGES: [f64; 12] = [
        5e-324,
        -2.2250738585072014e-308,
        1.7976931348623157e308,
        -1.7976931348623157e308,
        1.401298464324817e-45,
        1.1754943508222875e-38,
        3.4028234663852886e38,
        -0.0,
        0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    for input in &mut rk.inputs {
        match input {
            Input::Array {
                data: Data::F32(v),
                mutable: false,
                ..
            } => v.iter_mut().for_each(|x| *x = g.pick(&EDGES) as f32),
            Input::Array {
                data: Data::F64(v),
                mutable: false,
                ..
            } => v.iter_mut().for_each(|x| *x = g.pick(&EDGES)),
            Input::Scalar {
                value: Value::F32(x),
                ..
            } => *x = g.pick(&EDGES) as f32,
            Input::Scalar {
                value: Value::F64(x),
                ..
            } => *x = g.pick(&EDGES),
            _ => {}
        }
    }
}
