//! Scalar operations: binary operators (non-trapping division), casts,
//! `min`/`max`, and builtins (inline instructions or `math` imports).

use super::{clif_type, Fx, SiteKind};
use crate::error::Result;
use crate::ir::builtins::{CpuInst, CpuLowering, Generic, Lowering};
use crate::ir::{BinOp, Builtin, ScalarType, Span};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::Value as CValue;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData};

impl<'m> Fx<'_, '_, 'm> {
    pub(super) fn binary(
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
    pub(super) fn int_divrem(
        &mut self,
        div: bool,
        ty: ScalarType,
        x: CValue,
        y: CValue,
        span: Span,
    ) -> Result<CValue> {
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        let site = self.site(
            span,
            if div {
                SiteKind::DivisionByZero
            } else {
                SiteKind::RemainderByZero
            },
        );
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

    pub(super) fn cast(&mut self, x: CValue, from: ScalarType, to: ScalarType) -> CValue {
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
    pub(super) fn float_minmax(&mut self, a: CValue, b: CValue, min: bool) -> CValue {
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

    pub(super) fn int_minmax(&mut self, ty: ScalarType, a: CValue, b: CValue, min: bool) -> CValue {
        match (min, ty.is_signed()) {
            (true, true) => self.b.ins().smin(a, b),
            (true, false) => self.b.ins().umin(a, b),
            (false, true) => self.b.ins().smax(a, b),
            (false, false) => self.b.ins().umax(a, b),
        }
    }

    pub(super) fn minmax(&mut self, ty: ScalarType, a: CValue, b: CValue, min: bool) -> CValue {
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

    pub(super) fn builtin(&mut self, f: Builtin, ty: ScalarType, a: &[CValue]) -> Result<CValue> {
        if f == Builtin::Exp && self.inline_math_here {
            return Ok(self.inline_exp(a[0]));
        }
        if matches!(f, Builtin::Sin | Builtin::Cos)
            && ty == ScalarType::F64
            && self.inline_math_here
        {
            let (sin, cos) = self.inline_sincos(a[0])?;
            return Ok(if f == Builtin::Sin { sin } else { cos });
        }
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
