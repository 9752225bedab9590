//! The CUDA C dialect of the shared GPU walk (`gpu::cgen`): spelling only.
//!
//! Every operation whose C meaning differs from SPEC goes through a helper
//! of `shaders/cuda_prelude.cu` (wrapping signed arithmetic, masked shifts,
//! guarded division, saturating conversions, NaN-ignoring min/max,
//! atomics). Buffers are reached through one `__constant__` struct,
//! `kiln_b`, that the host fills with device pointers (field order =
//! binding order), so helper functions of the walk see them without extra
//! parameters and entry points take no arguments.
//!
//! Reductions: each lane keeps a private partial; the parallel entry folds
//! them over its block with warp shuffles (`__shfl_down_sync`, offsets
//! 16..1) and one shared-memory step between the 8 warps, and lane 0 stores
//! the block's partial; the combine entry (one block) folds the partials in
//! a fixed order. No float atomics: the same grid gives the same bits.

use crate::gpu::cgen::{ArrayRef, Dialect, FnParam, PreludeInfo, ReductionSlot};
use crate::gpu::{BindingKind, WORKGROUP_SIZE};
use crate::ir::builtins::{Generic, Lowering};
use crate::ir::{AtomicOp, BinOp, Builtin, ScalarType, UnOp, Value};
use std::fmt::Write;

/// The hand-written part of every module.
pub const PRELUDE: &str = include_str!("../../shaders/cuda_prelude.cu");

/// The `__constant__` struct holding the buffer pointers.
pub const BINDINGS_SYMBOL: &str = "kiln_b";

pub struct CudaC;

/// `i32`, `f64`, … (the prelude's typedefs), `bool` for bool.
fn ty_name(t: ScalarType) -> &'static str {
    match t {
        ScalarType::Bool => "bool",
        ScalarType::I32 => "i32",
        ScalarType::U32 => "u32",
        ScalarType::I64 => "i64",
        ScalarType::F32 => "f32",
        ScalarType::F64 => "f64",
    }
}

/// The suffix of the per-type prelude helpers (`kiln_min_f32`).
fn suffix(t: ScalarType) -> &'static str {
    ty_name(t)
}

fn call(name: &str, t: ScalarType, args: &[&str]) -> String {
    format!("kiln_{name}_{}({})", suffix(t), args.join(", "))
}

impl CudaC {
    /// The per-module part of the prelude: the bindings struct and the
    /// error-record helpers that use it.
    fn bindings(&self, info: &PreludeInfo) -> String {
        let mut fields = String::new();
        for b in info.bindings {
            let (ty, name) = match b.kind {
                BindingKind::Frame => ("u64".to_string(), "frame".to_string()),
                BindingKind::Error => ("u32".to_string(), "err".to_string()),
                BindingKind::Partials => ("u64".to_string(), "partials".to_string()),
                BindingKind::Array(a) => match info.arrays.get(a.index()) {
                    Some((array, name)) => (ty_name(array.elem).to_string(), name.clone()),
                    None => ("u64".to_string(), format!("unused{}", b.binding)),
                },
            };
            let _ = writeln!(fields, "    {ty}* {name};  // binding {}", b.binding);
        }
        format!(
            "struct KilnBindings {{\n{fields}}};\n\
             __constant__ KilnBindings {BINDINGS_SYMBOL};\n\n\
             // Some lane has recorded a fault (read through to memory: other\n\
             // blocks set it while this one runs).\n\
             KILN_D bool kiln_raised() {{ return *(volatile u32*)&{BINDINGS_SYMBOL}.err[0] != 0u; }}\n\
             // The first lane to raise the flag writes the site and operands.\n\
             KILN_D void kiln_raise(u32 site, i64 a, i64 b, i64 c) {{\n\
             \x20   u32* e = {BINDINGS_SYMBOL}.err;\n\
             \x20   if (atomicCAS(&e[0], 0u, 1u) != 0u) return;\n\
             \x20   e[1] = site;\n\
             \x20   e[2] = (u32)(u64)a; e[3] = (u32)((u64)a >> 32);\n\
             \x20   e[4] = (u32)(u64)b; e[5] = (u32)((u64)b >> 32);\n\
             \x20   e[6] = (u32)(u64)c; e[7] = (u32)((u64)c >> 32);\n\
             \x20   __threadfence();\n\
             }}\n"
        )
    }

    /// Folds `var` over the block; afterwards lane 0 holds the result.
    /// Needs `__shared__ u64 kiln_red[32]` and a block size that is a
    /// multiple of 32 (every lane must reach the `__syncthreads`).
    fn block_reduce(&self, r: &ReductionSlot, var: &str) -> String {
        let t = suffix(r.ty);
        let f = &r.combine_fn;
        format!(
            "    for (unsigned o = 16u; o > 0u; o >>= 1) {var} = {f}({var}, kiln_shfl_down({var}, o));\n\
             \x20   if ((threadIdx.x & 31u) == 0u) kiln_red[threadIdx.x >> 5] = kiln_bits_{t}({var});\n\
             \x20   __syncthreads();\n\
             \x20   if (threadIdx.x < 32u) {{\n\
             \x20       {var} = threadIdx.x < (blockDim.x >> 5) ? kiln_from_bits_{t}(kiln_red[threadIdx.x]) : {id};\n\
             \x20       for (unsigned o = 16u; o > 0u; o >>= 1) {var} = {f}({var}, kiln_shfl_down({var}, o));\n\
             \x20   }}\n\
             \x20   __syncthreads();\n",
            id = r.identity
        )
    }
}

impl Dialect for CudaC {
    fn name(&self) -> &'static str {
        "cuda"
    }

    fn ty(&self, t: ScalarType) -> String {
        ty_name(t).to_string()
    }

    fn literal(&self, v: Value) -> String {
        match v {
            Value::Bool(b) => b.to_string(),
            Value::I32(i32::MIN) => "KILN_I32_MIN".into(),
            Value::I32(x) if x < 0 => format!("({x})"),
            Value::I32(x) => x.to_string(),
            Value::U32(x) => format!("{x}u"),
            Value::I64(i64::MIN) => "KILN_I64_MIN".into(),
            Value::I64(x) if x < 0 => format!("({x}LL)"),
            Value::I64(x) => format!("{x}LL"),
            // Rust's shortest round-trip form parsed as a float literal
            // (the `f` suffix parses straight to f32: no double rounding);
            // non-finite values by their bits.
            Value::F32(x) if x.is_finite() => format!("({x:?}f)"),
            Value::F32(x) => format!("__int_as_float((i32){:#010x}u)", x.to_bits()),
            Value::F64(x) if x.is_finite() => format!("({x:?})"),
            Value::F64(x) => format!("__longlong_as_double((i64){:#018x}ull)", x.to_bits()),
        }
    }

    fn declare(&self, name: &str, t: ScalarType) -> String {
        let zero = if t == ScalarType::Bool { "false" } else { "0" };
        format!("{} {name} = {zero};", ty_name(t))
    }

    fn bind(&self, name: &str, t: ScalarType, value: &str) -> String {
        format!("const {} {name} = {value};", ty_name(t))
    }

    fn assign(&self, place: &str, value: &str) -> String {
        format!("{place} = {value};")
    }

    fn unary(&self, op: UnOp, t: ScalarType, a: &str) -> String {
        use ScalarType as T;
        match (op, t) {
            (UnOp::Neg, T::I32 | T::I64) => call("neg", t, &[a]),
            (UnOp::Neg, T::U32) => format!("(0u - {a})"),
            (UnOp::Neg, T::F32 | T::F64) => format!("(-{a})"),
            (UnOp::Not, T::Bool) => format!("(!{a})"),
            (UnOp::Not, T::I32 | T::U32 | T::I64) => format!("(~{a})"),
            // Never produced by the checker (`-bool`, `!float`): unchanged,
            // as `ir::value::unary` defines.
            (UnOp::Neg, T::Bool) | (UnOp::Not, T::F32 | T::F64) => a.to_string(),
        }
    }

    fn binary(&self, op: BinOp, t: ScalarType, a: &str, b: &str) -> String {
        use ScalarType as T;
        if op.is_comparison() {
            return format!("({a} {} {b})", op.symbol());
        }
        match t {
            T::Bool => match op {
                BinOp::BitAnd | BinOp::And | BinOp::Mul => format!("({a} && {b})"),
                BinOp::BitOr | BinOp::Or => format!("({a} || {b})"),
                BinOp::BitXor | BinOp::Add | BinOp::Sub => format!("({a} != {b})"),
                _ => a.to_string(),
            },
            T::I32 | T::I64 => match op {
                BinOp::Add => call("add", t, &[a, b]),
                BinOp::Sub => call("sub", t, &[a, b]),
                BinOp::Mul => call("mul", t, &[a, b]),
                BinOp::Shl => call("shl", t, &[a, b]),
                BinOp::Shr => call("shr", t, &[a, b]),
                BinOp::Div | BinOp::Rem => self.div_rem(op, t, a, b),
                BinOp::BitAnd | BinOp::And => format!("({a} & {b})"),
                BinOp::BitOr | BinOp::Or => format!("({a} | {b})"),
                BinOp::BitXor => format!("({a} ^ {b})"),
                _ => a.to_string(),
            },
            // Unsigned C arithmetic already wraps (u32 is not promoted).
            T::U32 => match op {
                BinOp::Shl => call("shl", t, &[a, b]),
                BinOp::Shr => call("shr", t, &[a, b]),
                BinOp::Div | BinOp::Rem => self.div_rem(op, t, a, b),
                BinOp::BitAnd | BinOp::And => format!("({a} & {b})"),
                BinOp::BitOr | BinOp::Or => format!("({a} | {b})"),
                BinOp::BitXor => format!("({a} ^ {b})"),
                _ => format!("({a} {} {b})", op.symbol()),
            },
            T::F32 | T::F64 => match op {
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => {
                    format!("({a} {} {b})", op.symbol())
                }
                BinOp::Rem => self.div_rem(op, t, a, b),
                _ => a.to_string(),
            },
        }
    }

    fn div_rem(&self, op: BinOp, t: ScalarType, a: &str, b: &str) -> String {
        let rem = op == BinOp::Rem;
        match t {
            ScalarType::F32 if rem => format!("fmodf({a}, {b})"),
            ScalarType::F64 if rem => format!("fmod({a}, {b})"),
            ScalarType::F32 | ScalarType::F64 => format!("({a} / {b})"),
            ScalarType::Bool if rem => "false".into(),
            ScalarType::Bool => a.to_string(),
            _ => call(if rem { "rem" } else { "div" }, t, &[a, b]),
        }
    }

    fn cast(&self, from: ScalarType, to: ScalarType, a: &str) -> String {
        use ScalarType as T;
        if from == to {
            return a.to_string();
        }
        match (from, to) {
            (_, T::Bool) => format!("({a} != 0)"),
            (T::F32 | T::F64, T::I32 | T::U32 | T::I64) => {
                format!("kiln_{}_to_{}({a})", suffix(from), suffix(to))
            }
            // Integer truncation/extension, int -> float (round to nearest),
            // f64 -> f32 (round to nearest), f32 -> f64 (exact), bool -> 0/1.
            _ => format!("(({}){a})", ty_name(to)),
        }
    }

    fn builtin(&self, f: Builtin, t: ScalarType, args: &[String]) -> Option<String> {
        use ScalarType as T;
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let arg = |i: usize| a.get(i).copied().or(a.last().copied()).unwrap_or("false");
        let func = match f.lowering() {
            Lowering::Generic(g) => {
                return Some(match g {
                    Generic::Abs => match t {
                        T::I32 | T::I64 => call("abs", t, &[arg(0)]),
                        T::F32 => format!("fabsf({})", arg(0)),
                        T::F64 => format!("fabs({})", arg(0)),
                        T::U32 | T::Bool => arg(0).to_string(),
                    },
                    Generic::Min => call("min", t, &[arg(0), arg(1)]),
                    Generic::Max => call("max", t, &[arg(0), arg(1)]),
                    Generic::Clamp => {
                        let lo = call("max", t, &[arg(0), arg(1)]);
                        call("min", t, &[&lo, arg(2)])
                    }
                    Generic::IsNan if t.is_float() => call("is_nan", t, &[arg(0)]),
                    Generic::IsInf if t.is_float() => call("is_inf", t, &[arg(0)]),
                    Generic::IsNan | Generic::IsInf => "false".into(),
                    Generic::Select => format!("({} ? {} : {})", arg(0), arg(1), arg(2)),
                })
            }
            Lowering::Float(func) => func,
        };
        if !t.is_float() {
            // Float-only builtins on other types are never produced;
            // `ir::value::builtin` returns the first argument.
            return Some(arg(0).to_string());
        }
        // The CUDA math library's function: `sinf` for f32, `sin` for f64, so
        // f32 stays single precision. C `round` rounds half away from zero,
        // as SPEC's `round`.
        let n = f.arity().min(a.len().max(1));
        let list: Vec<&str> = (0..n).map(arg).collect();
        Some(format!("{}({})", func.cuda.get(t), list.join(", ")))
    }

    fn narrow_index(&self, offset: &str) -> String {
        // CUDA indexes with 64-bit offsets directly.
        offset.to_string()
    }

    fn array_load(&self, array: &ArrayRef, index: &str) -> String {
        format!("{BINDINGS_SYMBOL}.{}[{index}]", array.name)
    }

    fn array_store(&self, array: &ArrayRef, index: &str, value: &str) -> String {
        format!("{BINDINGS_SYMBOL}.{}[{index}] = {value};", array.name)
    }

    fn atomic(
        &self,
        op: AtomicOp,
        array: &ArrayRef,
        index: &str,
        value: &str,
        result: &str,
    ) -> String {
        let name = match op {
            AtomicOp::Add => "atomic_add",
            AtomicOp::Min => "atomic_min",
            AtomicOp::Max => "atomic_max",
        };
        let place = format!("&{BINDINGS_SYMBOL}.{}[{index}]", array.name);
        format!("{result} = {};", call(name, array.elem, &[&place, value]))
    }

    fn frame_load(&self, t: ScalarType, slot: &str) -> String {
        format!(
            "kiln_from_bits_{}({BINDINGS_SYMBOL}.frame[{slot}])",
            suffix(t)
        )
    }

    fn frame_store(&self, t: ScalarType, slot: &str, value: &str) -> String {
        format!(
            "{BINDINGS_SYMBOL}.frame[{slot}] = kiln_bits_{}({value});",
            suffix(t)
        )
    }

    fn raise(&self, site: u32, operands: &[String]) -> String {
        let op = |i: usize| {
            operands
                .get(i)
                .map(|o| format!("(i64)({o})"))
                .unwrap_or_else(|| "0LL".into())
        };
        format!("kiln_raise({site}u, {}, {}, {});", op(0), op(1), op(2))
    }

    fn raised(&self) -> String {
        "kiln_raised()".into()
    }

    fn loop_open(&self) -> String {
        "for (;;) {".into()
    }

    fn for_open(&self, counter: &str, count: &str) -> String {
        format!("for (i64 {counter} = 0; {counter} < {count}; {counter} += 1) {{")
    }

    fn grid_loop_open(&self, counter: &str, first: &str, total: &str, step: &str) -> String {
        format!("for (i64 {counter} = {first}; {counter} < {total}; {counter} += {step}) {{")
    }

    fn function_open(&self, name: &str, params: &[FnParam], ret: Option<ScalarType>) -> String {
        let list: Vec<String> = params
            .iter()
            .map(|p| {
                let star = if p.by_ref { "*" } else { "" };
                format!("{}{star} {}", ty_name(p.ty), p.name)
            })
            .collect();
        let ret = ret.map_or("void", ty_name);
        format!("__device__ static {ret} {name}({}) {{", list.join(", "))
    }

    fn discard(&self, call: &str) -> String {
        format!("(void)({call});")
    }

    fn prelude(&self, info: &PreludeInfo) -> String {
        format!("{PRELUDE}\n{}", self.bindings(info))
    }

    fn serial_entry(&self, name: &str, inner: &str) -> String {
        format!(
            "extern \"C\" __global__ void {name}() {{\n\
             \x20   if (threadIdx.x == 0u && blockIdx.x == 0u && !kiln_raised()) {inner}();\n\
             }}\n"
        )
    }

    fn parallel_entry(
        &self,
        name: &str,
        inner: &str,
        reductions: &[ReductionSlot],
        groups_slot: usize,
    ) -> String {
        let mut s = format!(
            "extern \"C\" __global__ void __launch_bounds__({WORKGROUP_SIZE}) {name}() {{\n\
             \x20   const i64 lane = (i64)blockIdx.x * (i64)blockDim.x + (i64)threadIdx.x;\n\
             \x20   const i64 lanes = (i64)gridDim.x * (i64)blockDim.x;\n"
        );
        let mut args = vec!["lane".to_string(), "lanes".to_string()];
        for (r, red) in reductions.iter().enumerate() {
            let _ = writeln!(s, "    {} p{r} = {};", ty_name(red.ty), red.identity);
            args.push(format!("&p{r}"));
        }
        // No early return: every lane must reach the block reduction's
        // barriers, so a faulted launch only skips the body.
        let _ = writeln!(
            s,
            "    if (!kiln_raised()) (void){inner}({});",
            args.join(", ")
        );
        if !reductions.is_empty() {
            s.push_str("    __shared__ u64 kiln_red[32];\n");
        }
        for (r, red) in reductions.iter().enumerate() {
            s.push_str(&self.block_reduce(red, &format!("p{r}")));
            let _ = writeln!(
                s,
                "    if (threadIdx.x == 0u) {BINDINGS_SYMBOL}.partials[{} + blockIdx.x] = kiln_bits_{}(p{r});",
                red.partial_base,
                suffix(red.ty)
            );
        }
        let _ = writeln!(
            s,
            "    if (threadIdx.x == 0u && blockIdx.x == 0u) {BINDINGS_SYMBOL}.frame[{groups_slot}] = (u64)gridDim.x;\n}}"
        );
        s
    }

    fn combine_entry(
        &self,
        name: &str,
        reductions: &[ReductionSlot],
        groups_slot: usize,
    ) -> String {
        let mut s = format!(
            "extern \"C\" __global__ void __launch_bounds__({WORKGROUP_SIZE}) {name}() {{\n\
             \x20   __shared__ u64 kiln_red[32];\n\
             \x20   const i64 groups = (i64){BINDINGS_SYMBOL}.frame[{groups_slot}];\n"
        );
        for (r, red) in reductions.iter().enumerate() {
            let t = suffix(red.ty);
            let f = &red.combine_fn;
            // Lane k folds partials k, k+256, … in order; then the block
            // tree: a fixed order for a given partial count.
            let _ = writeln!(
                s,
                "    {ty} c{r} = {id};\n\
                 \x20   for (i64 g = threadIdx.x; g < groups; g += blockDim.x)\n\
                 \x20       c{r} = {f}(c{r}, kiln_from_bits_{t}({BINDINGS_SYMBOL}.partials[{base} + g]));",
                ty = ty_name(red.ty),
                id = red.identity,
                base = red.partial_base
            );
            s.push_str(&self.block_reduce(red, &format!("c{r}")));
            let _ = writeln!(
                s,
                "    if (threadIdx.x == 0u && !kiln_raised()) {{\n\
                 \x20       u64* v = &{BINDINGS_SYMBOL}.frame[{slot}];\n\
                 \x20       *v = kiln_bits_{t}({f}(kiln_from_bits_{t}(*v), c{r}));\n\
                 \x20   }}",
                slot = red.frame_slot
            );
        }
        s.push_str("}\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_keep_their_bits() {
        let d = CudaC;
        assert_eq!(d.literal(Value::I32(i32::MIN)), "KILN_I32_MIN");
        assert_eq!(d.literal(Value::I32(-5)), "(-5)");
        assert_eq!(d.literal(Value::U32(7)), "7u");
        assert_eq!(d.literal(Value::I64(3)), "3LL");
        assert_eq!(d.literal(Value::F32(0.1)), "(0.1f)");
        assert_eq!(d.literal(Value::F32(1.0)), "(1.0f)");
        assert_eq!(d.literal(Value::F32(-0.0)), "(-0.0f)");
        assert_eq!(d.literal(Value::F64(1e300)), "(1e300)");
        assert_eq!(
            d.literal(Value::F32(f32::INFINITY)),
            "__int_as_float((i32)0x7f800000u)"
        );
        assert_eq!(
            d.literal(Value::F64(f64::NEG_INFINITY)),
            "__longlong_as_double((i64)0xfff0000000000000ull)"
        );
    }

    #[test]
    fn semantics_traps_use_the_prelude() {
        let d = CudaC;
        let (a, b) = ("a", "b");
        assert_eq!(
            d.binary(BinOp::Add, ScalarType::I32, a, b),
            "kiln_add_i32(a, b)"
        );
        assert_eq!(
            d.binary(BinOp::Shl, ScalarType::U32, a, b),
            "kiln_shl_u32(a, b)"
        );
        assert_eq!(d.binary(BinOp::Add, ScalarType::U32, a, b), "(a + b)");
        assert_eq!(
            d.div_rem(BinOp::Div, ScalarType::I64, a, b),
            "kiln_div_i64(a, b)"
        );
        assert_eq!(d.div_rem(BinOp::Rem, ScalarType::F32, a, b), "fmodf(a, b)");
        assert_eq!(
            d.cast(ScalarType::F32, ScalarType::U32, a),
            "kiln_f32_to_u32(a)"
        );
        assert_eq!(d.cast(ScalarType::I64, ScalarType::F32, a), "((f32)a)");
        assert_eq!(
            d.builtin(Builtin::Sin, ScalarType::F32, &["x".into()])
                .unwrap(),
            "sinf(x)"
        );
        assert_eq!(
            d.builtin(Builtin::Pow, ScalarType::F64, &["x".into(), "y".into()])
                .unwrap(),
            "pow(x, y)"
        );
        assert_eq!(
            d.builtin(Builtin::Max, ScalarType::F64, &["x".into(), "y".into()])
                .unwrap(),
            "kiln_max_f64(x, y)"
        );
    }

    /// Every builtin, on every type its typing rule admits, spells CUDA C
    /// that NVRTC compiles (one device function calling all of them).
    #[test]
    fn every_builtin_compiles_with_nvrtc() {
        use crate::cuda::nvrtc::{self, Arch, ImageKind};
        use crate::ir::BuiltinSig;
        if let Err(reason) = nvrtc::library() {
            crate::cuda::skip_or_fail_without_nvrtc(&reason);
            return;
        }
        let d = CudaC;
        let numeric = [
            ScalarType::I32,
            ScalarType::U32,
            ScalarType::I64,
            ScalarType::F32,
            ScalarType::F64,
        ];
        let mut body = String::new();
        for f in Builtin::ALL {
            let types: &[ScalarType] = match f.sig() {
                BuiltinSig::Numeric => &numeric,
                BuiltinSig::Float | BuiltinSig::FloatPredicate => {
                    &[ScalarType::F32, ScalarType::F64]
                }
                BuiltinSig::Select => &ScalarType::ALL,
            };
            for &t in types {
                let n = ty_name(t);
                let args: Vec<String> = match f.sig() {
                    BuiltinSig::Select => vec!["c".into(), format!("x_{n}"), format!("y_{n}")],
                    _ => ["x", "y", "z"].map(|v| format!("{v}_{n}")).into(),
                };
                let text = d
                    .builtin(f, t, &args[..f.arity()])
                    .unwrap_or_else(|| panic!("{} on {t} has no CUDA spelling", f.name()));
                let _ = writeln!(body, "    sink += (double)({text});");
            }
        }
        let mut params = String::from("bool c");
        for t in ScalarType::ALL {
            let n = ty_name(t);
            let _ = write!(params, ", {n} x_{n}, {n} y_{n}, {n} z_{n}");
        }
        let src = format!(
            "{PRELUDE}\nextern \"C\" __global__ void k(double* out, {params}) {{\n    double sink = 0.0;\n{body}    out[0] = sink;\n}}\n"
        );
        let options = nvrtc::options(Arch::SM_90, ImageKind::Ptx);
        if let Err(e) = nvrtc::compile(&src, "builtins.cu", &options, ImageKind::Ptx) {
            panic!("{e}\n{src}");
        }
    }
}
