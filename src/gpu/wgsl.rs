//! The WGSL dialect: spelling only (structure is in `cgen`).
//!
//! Needs SHADER_INT64 always (indices, extents and frame slots are 64-bit),
//! SHADER_F64 for f64, and 64-bit atomics for atomics on i64/f64 arrays.
//! Scalar semantics come from shaders/gpu_prelude*.wgsl; transcendentals
//! from the math polyfills (shaders/f32_math.wgsl, shaders/f64_math.wgsl).

use super::cgen::{ArrayRef, Dialect, FnParam, PreludeInfo, ReductionSlot};
use super::{BindingKind, WORKGROUP_SIZE};
use crate::ir::builtins::{Generic, Lowering};
use crate::ir::{AtomicOp, BinOp, Builtin, ScalarType, UnOp, Value};
use std::fmt::Write;

const PRELUDE: &str = include_str!("../../shaders/gpu_prelude.wgsl");
const PRELUDE_F64: &str = include_str!("../../shaders/gpu_prelude_f64.wgsl");
const MATH_F32: &str = include_str!("../../shaders/f32_math.wgsl");
const MATH_F64: &str = include_str!("../../shaders/f64_math.wgsl");

/// Starts the part of a WGSL library whose functions are included only into
/// shaders that call them; each such function's section starts with
/// [`ON_DEMAND_SECTION`] followed by its name and runs to the next section.
const ON_DEMAND: &str = "// ==== on demand";
const ON_DEMAND_SECTION: &str = "// ---- on demand: ";

/// A library's always-included part and its on-demand sections (function
/// name, text), in file order.
fn split_library(text: &str) -> (&str, Vec<(&str, &str)>) {
    let Some(at) = text.find(ON_DEMAND) else {
        return (text, Vec::new());
    };
    let (base, rest) = text.split_at(at);
    let mut sections = Vec::new();
    let mut starts: Vec<usize> = rest
        .match_indices(ON_DEMAND_SECTION)
        .map(|(k, _)| k)
        .collect();
    starts.push(rest.len());
    for w in starts.windows(2) {
        let section = &rest[w[0]..w[1]];
        let name = section[ON_DEMAND_SECTION.len()..]
            .lines()
            .next()
            .unwrap_or("")
            .trim();
        sections.push((name, section));
    }
    (base, sections)
}

/// The WGSL spelling of the shared walk.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wgsl;

fn t(ty: ScalarType) -> &'static str {
    match ty {
        ScalarType::Bool => "bool",
        ScalarType::I32 => "i32",
        ScalarType::U32 => "u32",
        ScalarType::I64 => "i64",
        ScalarType::F32 => "f32",
        ScalarType::F64 => "f64",
    }
}

/// The storage type of an atomic array's elements (floats as their bits).
fn atomic_elem(ty: ScalarType) -> &'static str {
    match ty {
        ScalarType::I32 => "i32",
        ScalarType::I64 => "i64",
        ScalarType::F64 => "u64",
        _ => "u32",
    }
}

impl Wgsl {
    fn bits(ty: ScalarType, x: &str) -> String {
        format!("kiln_bits_{}({x})", t(ty))
    }

    fn from_bits(ty: ScalarType, b: &str) -> String {
        format!("kiln_from_bits_{}({b})", t(ty))
    }

    /// The workgroup tree over `kiln_wg` (already holding each lane's bits),
    /// unrolled so every barrier is in uniform control flow.
    fn tree(out: &mut String, r: &ReductionSlot) {
        let mut s = WORKGROUP_SIZE / 2;
        while s > 0 {
            let a = Self::from_bits(r.ty, "kiln_wg[kiln_lid.x]");
            let b = Self::from_bits(r.ty, &format!("kiln_wg[kiln_lid.x + {s}u]"));
            let _ = writeln!(
                out,
                "    if (kiln_lid.x < {s}u) {{ kiln_wg[kiln_lid.x] = {}; }}\n    workgroupBarrier();",
                Self::bits(r.ty, &format!("{}({a}, {b})", r.combine_fn))
            );
            s /= 2;
        }
    }
}

impl Dialect for Wgsl {
    fn name(&self) -> &'static str {
        "wgsl"
    }

    fn ty(&self, ty: ScalarType) -> String {
        t(ty).to_string()
    }

    fn literal(&self, v: Value) -> String {
        match v {
            Value::Bool(b) => b.to_string(),
            Value::I32(i32::MIN) => "(-2147483647i - 1i)".into(),
            Value::I32(x) if x < 0 => format!("({x}i)"),
            Value::I32(x) => format!("{x}i"),
            Value::U32(x) => format!("{x}u"),
            Value::I64(i64::MIN) => "(-9223372036854775807li - 1li)".into(),
            Value::I64(x) if x < 0 => format!("({x}li)"),
            Value::I64(x) => format!("{x}li"),
            // Exact and total: normal numbers in decimal (Rust prints the
            // shortest string that reads back to the same bits), the rest
            // (zeros, subnormals, infinities, NaNs) as bits.
            Value::F32(x) if x.is_normal() => {
                if x < 0.0 {
                    format!("({x:?}f)")
                } else {
                    format!("{x:?}f")
                }
            }
            // Zeros are read from the error record's never-written zero
            // word: Mesa applies real-number identities (`x * 0.0 -> 0.0`,
            // `x + 0.0 -> x`) to constants, wrong for NaN, Inf and -0.
            Value::F32(x) if x == 0.0 => {
                format!("bitcast<f32>(kiln_err.zero | {:#x}u)", x.to_bits())
            }
            Value::F32(x) => format!("bitcast<f32>({:#x}u)", x.to_bits()),
            Value::F64(x) if x.is_normal() => {
                if x < 0.0 {
                    format!("({x:?}lf)")
                } else {
                    format!("{x:?}lf")
                }
            }
            Value::F64(x) if x == 0.0 => {
                format!("bitcast<f64>(u64(kiln_err.zero) | {:#x}lu)", x.to_bits())
            }
            Value::F64(x) => format!("bitcast<f64>({:#x}lu)", x.to_bits()),
        }
    }

    fn declare(&self, name: &str, ty: ScalarType) -> String {
        format!("var {name}: {};", t(ty))
    }

    fn bind(&self, name: &str, ty: ScalarType, value: &str) -> String {
        format!("let {name}: {} = {value};", t(ty))
    }

    fn assign(&self, place: &str, value: &str) -> String {
        format!("{place} = {value};")
    }

    fn unary(&self, op: UnOp, ty: ScalarType, a: &str) -> String {
        match (op, ty) {
            (UnOp::Not, ScalarType::Bool) => format!("(!({a}))"),
            (UnOp::Not, _) => format!("(~({a}))"),
            (UnOp::Neg, ScalarType::Bool) => a.to_string(),
            (UnOp::Neg, _) => format!("(-({a}))"),
        }
    }

    fn binary(&self, op: BinOp, ty: ScalarType, a: &str, b: &str) -> String {
        use ScalarType as T;
        if ty == T::Bool {
            // Bools: logical forms; order comparisons as 0/1.
            let as_u = |x: &str| format!("select(0u, 1u, {x})");
            return match op {
                BinOp::BitAnd | BinOp::And | BinOp::Mul => format!("({a} & {b})"),
                BinOp::BitOr | BinOp::Or => format!("({a} | {b})"),
                BinOp::BitXor | BinOp::Ne | BinOp::Add | BinOp::Sub => format!("({a} != {b})"),
                BinOp::Eq => format!("({a} == {b})"),
                BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                    format!("({} {} {})", as_u(a), op.symbol(), as_u(b))
                }
                BinOp::Shl | BinOp::Shr | BinOp::Div | BinOp::Rem => a.to_string(),
            };
        }
        match op {
            BinOp::Shl | BinOp::Shr if ty.is_int() => {
                // The amount modulo the width, as the u32 WGSL wants.
                let amount = match ty {
                    T::I32 => format!("(bitcast<u32>({b}) & 31u)"),
                    T::U32 => format!("({b} & 31u)"),
                    // 64-bit shifts in 32-bit halves (shaders/gpu_prelude.wgsl).
                    _ => {
                        let dir = if op == BinOp::Shl { "shl" } else { "shr" };
                        return format!("kiln_{dir}_i64({a}, u32(bitcast<u64>({b}) & 63lu))");
                    }
                };
                format!("({a} {} {amount})", op.symbol())
            }
            BinOp::Shl | BinOp::Shr | BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor
                if ty.is_float() =>
            {
                a.to_string()
            }
            // Float comparisons test NaN by bits first: Mesa compiles `!=`
            // (and folds others) as if no operand were NaN.
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
                if ty.is_float() =>
            {
                let name = match op {
                    BinOp::Eq => "eq",
                    BinOp::Ne => "ne",
                    BinOp::Lt => "lt",
                    BinOp::Le => "le",
                    BinOp::Gt => "gt",
                    _ => "ge",
                };
                format!("kiln_{name}_{}({a}, {b})", t(ty))
            }
            // Mesa folds `x - x` to 0, wrong for infinities and NaN (the
            // IEEE result is NaN): the subtrahend goes through an OR with the
            // never-written zero word, a value the driver cannot prove equal
            // to the minuend (docs/gpu-math.md, "Driver rewrites").
            BinOp::Sub if ty == T::F32 => {
                format!("({a} - bitcast<f32>(bitcast<u32>({b}) | kiln_err.zero))")
            }
            BinOp::Sub if ty == T::F64 => {
                format!("({a} - bitcast<f64>(bitcast<u64>({b}) | u64(kiln_err.zero)))")
            }
            BinOp::And => format!("({a} && {b})"),
            BinOp::Or => format!("({a} || {b})"),
            _ => format!("({a} {} {b})", op.symbol()),
        }
    }

    fn div_rem(&self, op: BinOp, ty: ScalarType, a: &str, b: &str) -> String {
        let name = if op == BinOp::Div { "div" } else { "rem" };
        match ty {
            ScalarType::F32 | ScalarType::F64 if op == BinOp::Div => format!("({a} / {b})"),
            ScalarType::F32 | ScalarType::F64 => format!("kiln_fmod_{}({a}, {b})", t(ty)),
            // `b` is true (checked): a / true = a, a % true = false.
            ScalarType::Bool if op == BinOp::Div => a.to_string(),
            ScalarType::Bool => "false".into(),
            _ => format!("kiln_{name}_{}({a}, {b})", t(ty)),
        }
    }

    fn cast(&self, from: ScalarType, to: ScalarType, a: &str) -> String {
        if from == to {
            return a.to_string();
        }
        // An integer or bool converted to a float goes through an OR with
        // the never-written zero word, as float literal zeros do: Mesa folds
        // `0 * x` and `0 / x` to 0 (wrong for NaN, inf and zero x) when it
        // can prove an integer constant zero (kiln fuzz).
        let converted = convert(self, from, to, a);
        if to.is_float() && !from.is_float() {
            opaque(to, &converted)
        } else {
            converted
        }
    }

    fn builtin(&self, f: Builtin, ty: ScalarType, args: &[String]) -> Option<String> {
        use ScalarType as T;
        let a = args.first()?.as_str();
        let arg = |k: usize| args.get(k).map_or(a, |s| s.as_str());
        let tn = t(ty);
        let func = match f.lowering() {
            Lowering::Generic(g) => {
                return Some(match g {
                    Generic::Abs => match ty {
                        T::F32 | T::F64 => opaque(ty, &format!("abs({a})")),
                        T::I32 | T::I64 => format!("kiln_abs_{tn}({a})"),
                        T::U32 | T::Bool => a.to_string(),
                    },
                    Generic::Min | Generic::Max => {
                        let max = g == Generic::Max;
                        let b = arg(1);
                        match ty {
                            T::F32 | T::F64 => {
                                format!("kiln_f{}_{tn}({a}, {b})", if max { "max" } else { "min" })
                            }
                            T::Bool => format!("({a} {} {b})", if max { "|" } else { "&" }),
                            _ => format!("{}({a}, {b})", if max { "max" } else { "min" }),
                        }
                    }
                    Generic::Clamp => {
                        let lo = arg(1);
                        let hi = arg(2);
                        let inner = self.builtin(Builtin::Max, ty, &[a.into(), lo.into()])?;
                        self.builtin(Builtin::Min, ty, &[inner, hi.into()])?
                    }
                    Generic::Select => format!("select({}, {}, {a})", arg(2), arg(1)),
                    Generic::IsNan | Generic::IsInf if ty.is_float() => {
                        let which = if g == Generic::IsNan { "nan" } else { "inf" };
                        format!("kiln_{which}_{tn}({a})")
                    }
                    Generic::IsNan | Generic::IsInf => "false".into(),
                })
            }
            Lowering::Float(func) => func,
        };
        if !ty.is_float() {
            return None;
        }
        // Native only where exact (`sqrt floor ceil trunc`); everything else
        // is a function of the math libraries (within SPEC's bound on every
        // Vulkan driver; naga's f64 transcendentals are wrong, native `fma`
        // is unfused on Mesa, native `round` is half to even).
        let list: Vec<&str> = (0..f.arity()).map(arg).collect();
        let name = func.wgsl.name(ty);
        let call = format!("{name}({})", list.join(", "));
        Some(if name.starts_with("kiln_") {
            call
        } else {
            opaque(ty, &call)
        })
    }

    fn narrow_index(&self, offset: &str) -> String {
        format!("u32(bitcast<u64>({offset}) & 4294967295lu)")
    }

    fn array_load(&self, array: &ArrayRef, index: &str) -> String {
        let place = format!("{}[{index}]", array.name);
        if !array.atomic {
            return place;
        }
        match array.elem {
            ScalarType::F32 => format!("bitcast<f32>(atomicLoad(&{place}))"),
            ScalarType::F64 => format!("bitcast<f64>(atomicLoad(&{place}))"),
            _ => format!("atomicLoad(&{place})"),
        }
    }

    fn array_store(&self, array: &ArrayRef, index: &str, value: &str) -> String {
        let place = format!("{}[{index}]", array.name);
        if !array.atomic {
            return format!("{place} = {value};");
        }
        match array.elem {
            ScalarType::F32 => format!("atomicStore(&{place}, bitcast<u32>({value}));"),
            ScalarType::F64 => format!("atomicStore(&{place}, bitcast<u64>({value}));"),
            _ => format!("atomicStore(&{place}, {value});"),
        }
    }

    fn atomic(
        &self,
        op: AtomicOp,
        array: &ArrayRef,
        index: &str,
        value: &str,
        result: &str,
    ) -> String {
        let place = format!("{}[{index}]", array.name);
        let ty = array.elem;
        if ty.is_int() {
            let f = match op {
                AtomicOp::Add => "atomicAdd",
                AtomicOp::Min => "atomicMin",
                AtomicOp::Max => "atomicMax",
            };
            return format!("{result} = {f}(&{place}, {value});");
        }
        // Floats: compare-and-swap on the bits until no other lane got in
        // between; min/max with the language's NaN and signed-zero rules.
        let (word, tn) = if ty == ScalarType::F64 {
            ("u64", "f64")
        } else {
            ("u32", "f32")
        };
        let new = match op {
            AtomicOp::Add => format!("(bitcast<{tn}>(kiln_old) + {value})"),
            AtomicOp::Min => format!("kiln_fmin_{tn}(bitcast<{tn}>(kiln_old), {value})"),
            AtomicOp::Max => format!("kiln_fmax_{tn}(bitcast<{tn}>(kiln_old), {value})"),
        };
        format!(
            "loop {{\n    let kiln_old = atomicLoad(&{place});\n    let kiln_cas = atomicCompareExchangeWeak(&{place}, kiln_old, bitcast<{word}>({new}));\n    if (kiln_cas.exchanged) {{ {result} = bitcast<{tn}>(kiln_old); break; }}\n}}"
        )
    }

    fn frame_load(&self, ty: ScalarType, slot: &str) -> String {
        Self::from_bits(ty, &format!("kiln_frame[{slot}]"))
    }

    fn frame_store(&self, ty: ScalarType, slot: &str, value: &str) -> String {
        format!("kiln_frame[{slot}] = {};", Self::bits(ty, value))
    }

    fn raise(&self, site: u32, operands: &[String]) -> String {
        let op = |k: usize| operands.get(k).cloned().unwrap_or_else(|| "0li".into());
        format!("kiln_raise({site}u, {}, {}, {});", op(0), op(1), op(2))
    }

    fn raised(&self) -> String {
        "(atomicLoad(&kiln_err.flag) != 0u)".into()
    }

    fn loop_open(&self) -> String {
        "loop {".into()
    }

    fn for_open(&self, counter: &str, count: &str) -> String {
        format!(
            "for (var {counter}: i64 = 0li; {counter} < {count}; {counter} = {counter} + 1li) {{"
        )
    }

    fn grid_loop_open(&self, counter: &str, first: &str, total: &str, step: &str) -> String {
        format!(
            "for (var {counter}: i64 = {first}; {counter} < {total}; {counter} = {counter} + {step}) {{"
        )
    }

    fn max_loop_trips(&self) -> Option<u32> {
        // llvmpipe (lavapipe) ends every loop after 65535 iterations.
        Some(32768)
    }

    fn function_open(&self, name: &str, params: &[FnParam], ret: Option<ScalarType>) -> String {
        let ps: Vec<String> = params
            .iter()
            .map(|p| {
                if p.by_ref {
                    format!("{}: ptr<function, {}>", p.name, t(p.ty))
                } else {
                    format!("{}: {}", p.name, t(p.ty))
                }
            })
            .collect();
        let r = ret.map(|r| format!(" -> {}", t(r))).unwrap_or_default();
        format!("fn {name}({}){r} {{", ps.join(", "))
    }

    fn discard(&self, call: &str) -> String {
        format!("_ = {call};")
    }

    fn prelude(&self, info: &PreludeInfo) -> String {
        let mut out = String::new();
        out.push_str(
            "struct KilnError {\n    flag: atomic<u32>,\n    site: u32,\n    ops: array<u32, 6>,\n    zero: u32,\n}\n",
        );
        for b in info.bindings {
            let access = if b.read_only { "read" } else { "read_write" };
            let decl = match b.kind {
                BindingKind::Frame => "kiln_frame: array<u64>".to_string(),
                BindingKind::Error => "kiln_err: KilnError".to_string(),
                BindingKind::Partials => "kiln_partials: array<u64>".to_string(),
                BindingKind::Array(a) => {
                    let Some((array, name)) = info.arrays.get(a.index()) else {
                        continue;
                    };
                    if array.atomic {
                        format!("{name}: array<atomic<{}>>", atomic_elem(array.elem))
                    } else {
                        format!("{name}: array<{}>", t(array.elem))
                    }
                }
            };
            let _ = writeln!(
                out,
                "@group(0) @binding({}) var<storage, {access}> {decl};",
                b.binding
            );
        }
        if info.reductions {
            let _ = writeln!(out, "var<workgroup> kiln_wg: array<u64, {WORKGROUP_SIZE}>;");
        }
        // Library functions after a library's on-demand marker go only into
        // shaders that call them.
        let wanted: Vec<&str> = info
            .builtins
            .iter()
            .filter_map(|&(b, ty)| b.wgsl_name(ty))
            .collect();
        let mut library = |text: &str| {
            let (base, on_demand) = split_library(text);
            out.push_str(base);
            for (name, section) in on_demand {
                if wanted.contains(&name) {
                    out.push_str(section);
                }
            }
        };
        library(PRELUDE);
        library(MATH_F32);
        if info.features.f64.is_some() {
            library(PRELUDE_F64);
            library(MATH_F64);
        }
        out
    }

    fn serial_entry(&self, name: &str, inner: &str) -> String {
        format!(
            "@compute @workgroup_size(1)\nfn {name}() {{\n    if (atomicLoad(&kiln_err.flag) == 0u) {{\n        {inner}();\n    }}\n}}\n"
        )
    }

    fn parallel_entry(
        &self,
        name: &str,
        inner: &str,
        reductions: &[ReductionSlot],
        groups_slot: usize,
    ) -> String {
        let wg = WORKGROUP_SIZE;
        let mut out = format!(
            "@compute @workgroup_size({wg})\nfn {name}(@builtin(local_invocation_id) kiln_lid: vec3<u32>, @builtin(workgroup_id) kiln_wid: vec3<u32>, @builtin(num_workgroups) kiln_nwg: vec3<u32>) {{\n    let lane = i64(kiln_wid.x) * {wg}li + i64(kiln_lid.x);\n    let lanes = i64(kiln_nwg.x) * {wg}li;\n"
        );
        let mut args = vec!["lane".to_string(), "lanes".to_string()];
        for (r, red) in reductions.iter().enumerate() {
            let _ = writeln!(out, "    var r{r}: {} = {};", t(red.ty), red.identity);
            args.push(format!("&r{r}"));
        }
        // No early return: the barriers below must be reached by every lane.
        let _ = writeln!(
            out,
            "    if (atomicLoad(&kiln_err.flag) == 0u) {{\n        _ = {inner}({});\n    }}",
            args.join(", ")
        );
        if !reductions.is_empty() {
            let _ = writeln!(
                out,
                "    if (kiln_lid.x == 0u && kiln_wid.x == 0u) {{ kiln_frame[{groups_slot}] = u64(kiln_nwg.x); }}"
            );
        }
        for (r, red) in reductions.iter().enumerate() {
            let _ = writeln!(
                out,
                "    kiln_wg[kiln_lid.x] = {};\n    workgroupBarrier();",
                Self::bits(red.ty, &format!("r{r}"))
            );
            Self::tree(&mut out, red);
            let _ = writeln!(
                out,
                "    if (kiln_lid.x == 0u) {{ kiln_partials[{}u + kiln_wid.x] = kiln_wg[0]; }}\n    workgroupBarrier();",
                red.partial_base
            );
        }
        out.push_str("}\n");
        out
    }

    fn combine_entry(
        &self,
        name: &str,
        reductions: &[ReductionSlot],
        groups_slot: usize,
    ) -> String {
        let wg = WORKGROUP_SIZE;
        let mut out = format!(
            "@compute @workgroup_size({wg})\nfn {name}(@builtin(local_invocation_id) kiln_lid: vec3<u32>) {{\n    let live = atomicLoad(&kiln_err.flag) == 0u;\n    let groups = u32(kiln_frame[{groups_slot}] & 4294967295lu);\n"
        );
        for (r, red) in reductions.iter().enumerate() {
            let part =
                Self::from_bits(red.ty, &format!("kiln_partials[{}u + g]", red.partial_base));
            let _ = writeln!(
                out,
                "    var acc{r}: {} = {};\n    for (var g: u32 = kiln_lid.x; g < groups; g = g + {wg}u) {{ acc{r} = {}(acc{r}, {part}); }}\n    kiln_wg[kiln_lid.x] = {};\n    workgroupBarrier();",
                t(red.ty),
                red.identity,
                red.combine_fn,
                Self::bits(red.ty, &format!("acc{r}"))
            );
            Self::tree(&mut out, red);
            let slot = red.frame_slot;
            let old = Self::from_bits(red.ty, &format!("kiln_frame[{slot}]"));
            let total = Self::from_bits(red.ty, "kiln_wg[0]");
            let _ = writeln!(
                out,
                "    if (live && kiln_lid.x == 0u) {{ kiln_frame[{slot}] = {}; }}\n    workgroupBarrier();",
                Self::bits(red.ty, &format!("{}({old}, {total})", red.combine_fn))
            );
        }
        out.push_str("}\n");
        out
    }
}

/// The float `x` OR-ed with the never-written zero word: the same value,
/// which neither naga's constant evaluator nor the driver can prove
/// constant. Native builtins of constants (`floor(0.5)`) would otherwise
/// become constants the driver folds into `0 / x -> 0` (kiln fuzz).
fn opaque(ty: ScalarType, x: &str) -> String {
    match ty {
        ScalarType::F32 => format!("bitcast<f32>(bitcast<u32>({x}) | kiln_err.zero)"),
        _ => format!("bitcast<f64>(bitcast<u64>({x}) | u64(kiln_err.zero))"),
    }
}

/// `a` of type `from` as `to` (see [`Wgsl::cast`]).
fn convert(w: &Wgsl, from: ScalarType, to: ScalarType, a: &str) -> String {
    use ScalarType as T;
    match (from, to) {
        (T::Bool, _) => format!(
            "select({}, {}, {a})",
            w.literal(Value::zero(to)),
            w.literal(Value::one(to))
        ),
        (_, T::Bool) => format!("({a} != {})", w.literal(Value::zero(from))),
        (T::I32, T::U32) => format!("bitcast<u32>({a})"),
        (T::U32, T::I32) => format!("bitcast<i32>({a})"),
        // Sign extension by shifts: `i64(x)` of a negative i32 compares
        // as non-negative after lavapipe's optimiser (measured).
        (T::I32, T::I64) => format!("kiln_i32_to_i64({a})"),
        (T::U32, T::I64) => format!("bitcast<i64>(u64({a}))"),
        (T::I64, T::I32) => format!("bitcast<i32>(u32(bitcast<u64>({a}) & 4294967295lu))"),
        (T::I64, T::U32) => format!("u32(bitcast<u64>({a}) & 4294967295lu)"),
        (T::F32 | T::F64, T::I32 | T::U32 | T::I64) => {
            format!("kiln_{}_to_{}({a})", t(from), t(to))
        }
        // Functions, not inline conversions: naga's constant evaluator
        // cannot convert constant i64 or f64 values (shaders/).
        (T::I64, T::F32 | T::F64) | (T::F64, T::F32) => {
            format!("kiln_{}_to_{}({a})", t(from), t(to))
        }
        (_, T::F32 | T::F64) => format!("{}({a})", t(to)),
        _ => a.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::builtins::WgslFn;

    /// WGSL builtins that are exact on every driver.
    const EXACT_NATIVE: [&str; 4] = ["sqrt", "floor", "ceil", "trunc"];

    /// Every builtin has a WGSL spelling for both float widths, and every
    /// library function the table names is defined exactly once in the
    /// library of its width.
    #[test]
    fn every_builtin_has_a_wgsl_function() {
        for f in Builtin::ALL {
            for ty in [ScalarType::F32, ScalarType::F64] {
                let args: Vec<String> = ["x", "y", "z"].map(String::from).into();
                let cond: Vec<String> = ["c", "x", "y"].map(String::from).into();
                let args = if f == Builtin::Select { cond } else { args };
                let text = Wgsl.builtin(f, ty, &args[..f.arity()]);
                assert!(text.is_some(), "{} on {ty} has no WGSL spelling", f.name());
                let Lowering::Float(func) = f.lowering() else {
                    continue;
                };
                match func.wgsl {
                    WgslFn::Native(n) => assert!(EXACT_NATIVE.contains(&n), "{n}"),
                    WgslFn::Polyfill(names) => {
                        let name = names.get(ty);
                        let libs = if ty == ScalarType::F64 {
                            [PRELUDE_F64, MATH_F64]
                        } else {
                            [PRELUDE, MATH_F32]
                        };
                        let decl = format!("fn {name}(");
                        let n: usize = libs.iter().map(|l| l.matches(&decl).count()).sum();
                        assert_eq!(n, 1, "`{name}` defined {n} times in the {ty} library");
                    }
                }
            }
        }
    }

    #[test]
    fn on_demand_sections_define_their_function() {
        for lib in [PRELUDE, PRELUDE_F64, MATH_F32, MATH_F64] {
            let (base, sections) = split_library(lib);
            for (name, text) in sections {
                let decl = format!("fn {name}(");
                assert!(text.contains(&decl), "section `{name}` lacks {decl}");
                assert!(!base.contains(&decl), "{name} also outside its section");
            }
        }
    }
}
