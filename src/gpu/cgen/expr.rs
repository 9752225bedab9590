//! Expression flattening: array accesses with bounds checks, and `expr`,
//! which emits what an expression needs and returns a side-effect-free string.

use super::*;

impl<'a> Gen<'a> {
    pub(super) fn expr(&mut self, e: &Expr) -> Result<String> {
        Ok(match &e.kind {
            ExprKind::Const(v) => self.d.literal(*v),
            ExprKind::Var(v) => self.var_ref(*v),
            ExprKind::Unary(op, a) => {
                let x = self.expr(a)?;
                self.d.unary(*op, a.ty, &x)
            }
            ExprKind::Binary(op @ (BinOp::And | BinOp::Or), a, b) => {
                let t = self.temp();
                let decl = self.d.declare(&t, ScalarType::Bool);
                self.line(&decl);
                let x = self.expr(a)?;
                let asg = self.d.assign(&t, &x);
                self.line(&asg);
                let cond = if *op == BinOp::And {
                    t.clone()
                } else {
                    self.d.unary(UnOp::Not, ScalarType::Bool, &t)
                };
                let open = self.d.if_open(&cond);
                self.open(&open);
                let y = self.expr(b)?;
                let asg = self.d.assign(&t, &y);
                self.line(&asg);
                self.close();
                t
            }
            ExprKind::Binary(op @ (BinOp::Div | BinOp::Rem), a, b) if !a.ty.is_float() => {
                let x = self.expr(a)?;
                let xt = self.temp();
                let bind = self.d.bind(&xt, a.ty, &x);
                self.line(&bind);
                let y = self.expr(b)?;
                let yt = self.temp();
                let bind = self.d.bind(&yt, b.ty, &y);
                self.line(&bind);
                let zero = self.d.literal(Value::zero(b.ty));
                let cond = self.d.binary(BinOp::Eq, b.ty, &yt, &zero);
                let kind = if *op == BinOp::Div {
                    SiteKind::DivisionByZero
                } else {
                    SiteKind::RemainderByZero
                };
                self.check(&cond, e.span, kind, &[]);
                let r = self.d.div_rem(*op, a.ty, &xt, &yt);
                let rt = self.temp();
                let bind = self.d.bind(&rt, e.ty, &r);
                self.line(&bind);
                rt
            }
            ExprKind::Binary(op @ (BinOp::Div | BinOp::Rem), a, b) => {
                let x = self.expr(a)?;
                let y = self.expr(b)?;
                self.d.div_rem(*op, a.ty, &x, &y)
            }
            ExprKind::Binary(op, a, b) => {
                let x = self.expr(a)?;
                let xt = self.temp();
                let bind = self.d.bind(&xt, a.ty, &x);
                self.line(&bind);
                let y = self.expr(b)?;
                self.d.binary(*op, a.ty, &xt, &y)
            }
            ExprKind::Cast(a) => {
                // Folded here: naga's constant evaluator rejects some casts
                // of literals (`f32(123456789li)`) that are fine at run time.
                if let ExprKind::Const(v) = a.kind {
                    return Ok(self.d.literal(ir::value::cast(v, e.ty)));
                }
                let x = self.expr(a)?;
                self.d.cast(a.ty, e.ty, &x)
            }
            ExprKind::Builtin(f, args) => {
                let mut vals = Vec::new();
                for a in args {
                    let v = self.expr(a)?;
                    let t = self.temp();
                    let b = self.d.bind(&t, a.ty, &v);
                    self.line(&b);
                    vals.push(t);
                }
                let t = match f {
                    Builtin::Select => args.get(1).map_or(e.ty, |a| a.ty),
                    _ => args.first().map_or(e.ty, |a| a.ty),
                };
                self.builtins.insert((*f, t));
                let Some(text) = self.d.builtin(*f, t, &vals) else {
                    return Err(self.unsupported(e.span, format!("builtin `{}` on {t}", f.name())));
                };
                text
            }
            ExprKind::Call(id, args) => {
                let mut vals = Vec::new();
                for a in args {
                    let v = self.expr(a)?;
                    let t = self.temp();
                    let b = self.d.bind(&t, a.ty, &v);
                    self.line(&b);
                    vals.push(t);
                }
                let name = self.helper_names.get(id).cloned().ok_or_else(|| {
                    self.unsupported(e.span, format!("a call of unknown function #{}", id.0))
                })?;
                let t = self.temp();
                let call = format!("{name}({})", vals.join(", "));
                let b = self.d.bind(&t, e.ty, &call);
                self.line(&b);
                if self.can_fault.get(id).copied().unwrap_or(true) {
                    let raised = self.d.raised();
                    let open = self.d.if_open(&raised);
                    self.open(&open);
                    let exit = self.fault_exit();
                    self.line(&exit);
                    self.close();
                }
                t
            }
            ExprKind::If(c, a, b) => {
                let t = self.temp();
                let decl = self.d.declare(&t, e.ty);
                self.line(&decl);
                let cv = self.expr(c)?;
                let open = self.d.if_open(&cv);
                self.open(&open);
                let x = self.expr(a)?;
                let asg = self.d.assign(&t, &x);
                self.line(&asg);
                self.ctx.indent -= 1;
                let el = self.d.else_open();
                self.line(&el);
                self.ctx.indent += 1;
                let y = self.expr(b)?;
                let asg = self.d.assign(&t, &y);
                self.line(&asg);
                self.close();
                t
            }
            ExprKind::Load(access) => {
                let index = self.access(access, e.span)?;
                let arr = self.array_ref(access.array);
                let t = self.temp();
                let load = self.d.array_load(&arr, &index);
                let b = self.d.bind(&t, e.ty, &load);
                self.line(&b);
                t
            }
            ExprKind::Len(a) => Self::len_name(*a),
            ExprKind::Shape(a, d) => {
                let rank = self.kernel.arrays.get(a.index()).map_or(1, |x| x.rank);
                if *d < rank {
                    Self::shape_name(*a, *d)
                } else {
                    self.d.literal(Value::I64(1))
                }
            }
            ExprKind::Atomic { op, access, value } => {
                let index = self.access(access, e.span)?;
                let v = self.expr(value)?;
                let vt = self.temp();
                let b = self.d.bind(&vt, value.ty, &v);
                self.line(&b);
                let arr = self.array_ref(access.array);
                let t = self.temp();
                let decl = self.d.declare(&t, e.ty);
                self.line(&decl);
                let text = self.d.atomic(*op, &arr, &index, &vt, &t);
                self.line(&text);
                t
            }
        })
    }
}
