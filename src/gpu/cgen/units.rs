//! Function layout: serial segments, parallel grid-stride loops, reduction
//! combine functions and helper functions (one per scheduled unit).

use super::*;

impl<'a> Gen<'a> {
    pub(super) fn unit(
        &mut self,
        k: usize,
        unit: &Unit<'a>,
        partial_slots: &mut usize,
    ) -> Result<(String, EntryInfo)> {
        let kernel = self.kernel;
        match unit {
            Unit::Serial(stmts) => {
                let inner = format!("kiln_serial{k}");
                self.serial_function(&inner, stmts, &[])?;
                let name = format!("entry{k}");
                Ok((
                    self.d.serial_entry(&name, &inner),
                    EntryInfo {
                        name,
                        kind: EntryKind::Serial,
                        workgroup_size: 1,
                    },
                ))
            }
            Unit::Header(exprs) => {
                let inner = format!("kiln_header{k}");
                self.serial_function(&inner, &[], exprs)?;
                let name = format!("entry{k}");
                Ok((
                    self.d.serial_entry(&name, &inner),
                    EntryInfo {
                        name,
                        kind: EntryKind::Serial,
                        workgroup_size: 1,
                    },
                ))
            }
            Unit::Parallel(lp, from_scratch) => {
                let inner = format!("kiln_parallel{k}");
                self.parallel_function(&inner, lp, *from_scratch)?;
                let reds = self.reduction_slots(kernel, lp, *partial_slots);
                *partial_slots =
                    (*partial_slots).max(lp.reductions.len() * MAX_REDUCE_GROUPS as usize);
                let name = format!("entry{k}");
                Ok((
                    self.d
                        .parallel_entry(&name, &inner, &reds, self.frame.groups),
                    EntryInfo {
                        name,
                        kind: EntryKind::Parallel {
                            reductions: lp.reductions.len(),
                        },
                        workgroup_size: WORKGROUP_SIZE,
                    },
                ))
            }
            Unit::Combine(lp) => {
                let reds = self.reduction_slots(kernel, lp, 0);
                let name = format!("entry{k}");
                Ok((
                    self.d.combine_entry(&name, &reds, self.frame.groups),
                    EntryInfo {
                        name,
                        kind: EntryKind::Combine,
                        workgroup_size: WORKGROUP_SIZE,
                    },
                ))
            }
        }
    }

    pub(super) fn reduction_slots(
        &mut self,
        kernel: &Function,
        lp: &ir::ParLoop,
        _: usize,
    ) -> Vec<ReductionSlot> {
        lp.reductions
            .iter()
            .enumerate()
            .map(|(r, red)| {
                let ty = self.var_ty(kernel, red.var);
                self.combine_fns.insert((op_code(red.op), ty));
                ReductionSlot {
                    ty,
                    identity: self.d.literal(red.op.identity(ty)),
                    combine_fn: combine_fn_name(red.op, ty),
                    partial_base: r * MAX_REDUCE_GROUPS as usize,
                    frame_slot: self.frame.var(red.var),
                }
            })
            .collect()
    }

    /// `fn kiln_combine_<op>_<ty>(a, b) -> ty` for every reduction used.
    pub(super) fn combine_functions(&mut self) -> String {
        let mut text = String::new();
        let fns: Vec<(u8, ScalarType)> = self.combine_fns.iter().copied().collect();
        for (code, ty) in fns {
            let op = REDUCE_OPS[code as usize];
            let params = [
                FnParam {
                    name: "a".into(),
                    ty,
                    by_ref: false,
                },
                FnParam {
                    name: "b".into(),
                    ty,
                    by_ref: false,
                },
            ];
            let value = self.combine_expr(op, ty, "a", "b");
            text.push_str(
                &self
                    .d
                    .function_open(&combine_fn_name(op, ty), &params, Some(ty)),
            );
            text.push('\n');
            text.push_str("    ");
            text.push_str(&self.d.ret(Some(&value)));
            text.push('\n');
            text.push_str(&self.d.close());
            text.push('\n');
        }
        text
    }

    pub(super) fn combine_expr(&self, op: ReduceOp, ty: ScalarType, a: &str, b: &str) -> String {
        let bin = match op {
            ReduceOp::Add => BinOp::Add,
            ReduceOp::Mul => BinOp::Mul,
            ReduceOp::BitAnd => BinOp::BitAnd,
            ReduceOp::BitOr => BinOp::BitOr,
            ReduceOp::BitXor => BinOp::BitXor,
            ReduceOp::Min | ReduceOp::Max => {
                let f = if op == ReduceOp::Min {
                    Builtin::Min
                } else {
                    Builtin::Max
                };
                return self
                    .d
                    .builtin(f, ty, &[a.to_string(), b.to_string()])
                    .unwrap_or_else(|| a.to_string());
            }
        };
        self.d.binary(bin, ty, a, b)
    }

    /// Variables the statements use (read or define), sorted.
    pub(super) fn used_vars(
        stmts: &[&Stmt],
        exprs: &[&Expr],
    ) -> (BTreeSet<VarId>, BTreeSet<VarId>) {
        let mut used = BTreeSet::new();
        let mut written = BTreeSet::new();
        for s in stmts {
            visit::walk_stmt(s, &mut |s| match &s.kind {
                StmtKind::Let { var, .. }
                | StmtKind::Assign { var, .. }
                | StmtKind::For(ir::ForLoop { var, .. }) => {
                    used.insert(*var);
                    written.insert(*var);
                }
                StmtKind::ParFor(lp) => used.extend(lp.vars.iter().copied()),
                _ => {}
            });
        }
        let mut note = |x: &Expr| {
            if let ExprKind::Var(v) = &x.kind {
                used.insert(*v);
            }
        };
        for s in stmts {
            visit::walk_stmt_exprs(s, &mut note);
        }
        for e in exprs {
            visit::walk_expr(e, &mut note);
        }
        (used, written)
    }

    /// Arrays whose extents the code reads (every access and len/shape).
    pub(super) fn used_arrays(stmts: &[&Stmt], exprs: &[&Expr]) -> BTreeSet<ir::ArrayId> {
        let mut arrays = BTreeSet::new();
        let mut note = |e: &Expr| match &e.kind {
            ExprKind::Len(a) | ExprKind::Shape(a, _) => {
                arrays.insert(*a);
            }
            ExprKind::Load(acc) | ExprKind::Atomic { access: acc, .. } => {
                arrays.insert(acc.array);
            }
            _ => {}
        };
        for s in stmts {
            visit::walk_stmt_exprs(s, &mut note);
        }
        for e in exprs {
            visit::walk_expr(e, &mut note);
        }
        for s in stmts {
            visit::walk_stmt(s, &mut |s| {
                if let StmtKind::Store { access, .. } = &s.kind {
                    arrays.insert(access.array);
                }
            });
        }
        arrays
    }

    pub(super) fn load_extents(&mut self, arrays: &BTreeSet<ir::ArrayId>) {
        for &a in arrays {
            let rank = self.kernel.arrays.get(a.index()).map_or(1, |x| x.rank);
            for d in 0..rank {
                let slot = self.frame.shape_slots[a.index()][d as usize].to_string();
                let load = self.d.frame_load(ScalarType::I64, &slot);
                let l = self.d.bind(&Self::shape_name(a, d), ScalarType::I64, &load);
                self.line(&l);
            }
            let slot = self.frame.len_slots[a.index()].to_string();
            let load = self.d.frame_load(ScalarType::I64, &slot);
            let l = self.d.bind(&Self::len_name(a), ScalarType::I64, &load);
            self.line(&l);
        }
    }

    /// A serial segment (or a header: `exprs` stored to scratch slots).
    pub(super) fn serial_function(
        &mut self,
        name: &str,
        stmts: &[&Stmt],
        exprs: &[&Expr],
    ) -> Result<()> {
        let kernel = self.kernel;
        let (used, written) = Self::used_vars(stmts, exprs);
        self.ctx = Ctx {
            kind: FnKind::Serial,
            written: written.clone(),
            ..Ctx::default()
        };
        let open = self.d.function_open(name, &[], None);
        self.open(&open);
        for &v in &used {
            let decl = self.d.declare(&self.var_name(v), self.var_ty(kernel, v));
            self.line(&decl);
        }
        for &v in &used {
            let load = self
                .d
                .frame_load(self.var_ty(kernel, v), &self.frame.var(v).to_string());
            let a = self.d.assign(&self.var_name(v), &load);
            self.line(&a);
        }
        self.load_extents(&Self::used_arrays(stmts, exprs));
        for s in stmts {
            self.stmt(s)?;
        }
        for (i, e) in exprs.iter().enumerate() {
            let v = self.expr(e)?;
            let slot = (self.frame.scratch + i).to_string();
            let st = self.d.frame_store(e.ty, &slot, &v);
            self.line(&st);
        }
        self.flush();
        self.close();
        Ok(())
    }

    /// Stores every variable the serial segment writes back to the frame.
    pub(super) fn flush(&mut self) {
        let vars: Vec<VarId> = self.ctx.written.iter().copied().collect();
        for v in vars {
            let st = self.d.frame_store(
                self.var_ty(self.kernel, v),
                &self.frame.var(v).to_string(),
                &self.var_name(v),
            );
            self.line(&st);
        }
    }

    pub(super) fn parallel_function(
        &mut self,
        name: &str,
        lp: &'a ir::ParLoop,
        from_scratch: bool,
    ) -> Result<()> {
        let kernel = self.kernel;
        let body: Vec<&Stmt> = lp.body.stmts.iter().collect();
        let bound_exprs: Vec<&Expr> = lp.ranges.iter().flat_map(|(a, b)| [a, b]).collect();
        let (used, written) = Self::used_vars(&body, &bound_exprs);
        let reds: BTreeSet<VarId> = lp.reductions.iter().map(|r| r.var).collect();
        self.ctx = Ctx {
            kind: FnKind::Parallel,
            reductions: reds.clone(),
            ..Ctx::default()
        };
        let mut params = vec![
            FnParam {
                name: "lane".into(),
                ty: ScalarType::I64,
                by_ref: false,
            },
            FnParam {
                name: "lanes".into(),
                ty: ScalarType::I64,
                by_ref: false,
            },
        ];
        for r in &lp.reductions {
            params.push(FnParam {
                name: self.var_name(r.var),
                ty: self.var_ty(kernel, r.var),
                by_ref: true,
            });
        }
        let open = self.d.function_open(name, &params, Some(ScalarType::Bool));
        self.open(&open);
        let mut locals: BTreeSet<VarId> =
            used.iter().copied().filter(|v| !reds.contains(v)).collect();
        locals.extend(lp.vars.iter().copied());
        for &v in &locals {
            let decl = self.d.declare(&self.var_name(v), self.var_ty(kernel, v));
            self.line(&decl);
        }
        // Captured: used, not defined in the body, not a loop variable.
        for &v in &locals {
            if written.contains(&v) || lp.vars.contains(&v) {
                continue;
            }
            let load = self
                .d
                .frame_load(self.var_ty(kernel, v), &self.frame.var(v).to_string());
            let a = self.d.assign(&self.var_name(v), &load);
            self.line(&a);
        }
        self.load_extents(&Self::used_arrays(&body, &bound_exprs));
        let dims = lp.vars.len().min(lp.ranges.len());
        let mut los = Vec::new();
        let mut ns = Vec::new();
        for (d, (lo, hi)) in lp.ranges.iter().take(dims).enumerate() {
            let base = self.frame.scratch + 2 * d;
            let scratch = |k: usize| (base + k).to_string();
            let l = if from_scratch {
                self.d.frame_load(ScalarType::I64, &scratch(0))
            } else {
                self.expr(lo)?
            };
            let lt = self.temp();
            let b = self.d.bind(&lt, ScalarType::I64, &l);
            self.line(&b);
            let h = if from_scratch {
                self.d.frame_load(ScalarType::I64, &scratch(1))
            } else {
                self.expr(hi)?
            };
            let ht = self.temp();
            let b = self.d.bind(&ht, ScalarType::I64, &h);
            self.line(&b);
            // n = hi - lo when hi > lo, else 0. A difference past i64::MAX
            // (a range like `i64::MIN..n`) saturates, so the loop runs and
            // faults as on the interpreter, instead of wrapping negative
            // and being skipped.
            let nt = self.temp();
            let decl = self.d.declare(&nt, ScalarType::I64);
            self.line(&decl);
            let zero = self.d.literal(Value::I64(0));
            let a = self.d.assign(&nt, &zero);
            self.line(&a);
            let open = self
                .d
                .if_open(&self.d.binary(BinOp::Gt, ScalarType::I64, &ht, &lt));
            self.open(&open);
            let diff = self.d.binary(BinOp::Sub, ScalarType::I64, &ht, &lt);
            let a = self.d.assign(&nt, &diff);
            self.line(&a);
            let open = self
                .d
                .if_open(&self.d.binary(BinOp::Lt, ScalarType::I64, &nt, &zero));
            self.open(&open);
            let a = self.d.assign(&nt, &self.d.literal(Value::I64(i64::MAX)));
            self.line(&a);
            self.close();
            self.close();
            los.push(lt);
            ns.push(nt);
        }
        // The flat count, saturating like the host's (a saturated count
        // still faults at its first out-of-range index).
        let tt = self.temp();
        let decl = self.d.declare(&tt, ScalarType::I64);
        self.line(&decl);
        let a = self.d.assign(&tt, &ns[0]);
        self.line(&a);
        for n in &ns[1..] {
            let zero = self.d.literal(Value::I64(0));
            let max = self.d.literal(Value::I64(i64::MAX));
            let limit = self.d.div_rem(BinOp::Div, ScalarType::I64, &max, n);
            let overflows = self.d.binary(
                BinOp::And,
                ScalarType::Bool,
                &self.d.binary(BinOp::Ne, ScalarType::I64, n, &zero),
                &self.d.binary(BinOp::Gt, ScalarType::I64, &tt, &limit),
            );
            let open = self.d.if_open(&overflows);
            self.open(&open);
            let a = self.d.assign(&tt, &max);
            self.line(&a);
            self.ctx.indent -= 1;
            let e = self.d.else_open();
            self.line(&e);
            self.ctx.indent += 1;
            let a = self
                .d
                .assign(&tt, &self.d.binary(BinOp::Mul, ScalarType::I64, &tt, n));
            self.line(&a);
            self.close();
        }
        let open = self.d.grid_loop_open("flat", "lane", &tt, "lanes");
        self.open(&open);
        // Row-major: the last dimension varies fastest.
        let mut rest = "flat".to_string();
        for d in (0..dims).rev() {
            let idx = if d == 0 {
                rest.clone()
            } else {
                self.d.div_rem(BinOp::Rem, ScalarType::I64, &rest, &ns[d])
            };
            let value = self.d.binary(BinOp::Add, ScalarType::I64, &los[d], &idx);
            let a = self.d.assign(&self.var_name(lp.vars[d]), &value);
            self.line(&a);
            if d > 0 {
                let q = self.d.div_rem(BinOp::Div, ScalarType::I64, &rest, &ns[d]);
                let qt = self.temp();
                let b = self.d.bind(&qt, ScalarType::I64, &q);
                self.line(&b);
                rest = qt;
            }
        }
        // The grid-stride loop is the body's loop: `continue` ends the
        // iteration.
        self.ctx.loop_depth = 1;
        for s in &body {
            self.stmt(s)?;
        }
        self.close();
        let r = self.d.ret(Some(&self.d.literal(Value::Bool(true))));
        self.line(&r);
        self.close();
        Ok(())
    }

    pub(super) fn helper(&mut self, id: FuncId) -> Result<()> {
        let f = self.module.function(id);
        let name = self.helper_names.get(&id).cloned().unwrap_or_default();
        let saved_kernel = self.kernel;
        self.kernel = f;
        self.ctx = Ctx {
            kind: FnKind::Helper(f.ret),
            ..Ctx::default()
        };
        let params: Vec<FnParam> = f
            .params
            .iter()
            .filter_map(|p| match p {
                ir::Param::Scalar(v) => Some(FnParam {
                    name: format!("p{}", v.0),
                    ty: self.var_ty(f, *v),
                    by_ref: false,
                }),
                ir::Param::Array(_) => None,
            })
            .collect();
        let open = self.d.function_open(&name, &params, f.ret);
        self.open(&open);
        let body: Vec<&Stmt> = f.body.stmts.iter().collect();
        let (mut used, _) = Self::used_vars(&body, &[]);
        for p in &f.params {
            if let ir::Param::Scalar(v) = p {
                used.insert(*v);
            }
        }
        for &v in &used {
            let decl = self.d.declare(&self.var_name(v), self.var_ty(f, v));
            self.line(&decl);
        }
        for p in &f.params {
            if let ir::Param::Scalar(v) = p {
                let a = self.d.assign(&self.var_name(*v), &format!("p{}", v.0));
                self.line(&a);
            }
        }
        let result = self.stmts(&f.body);
        // Every path returns (checked); a defined fallback keeps the target
        // compilers' return analysis happy.
        if let Some(t) = f.ret {
            let r = self.d.ret(Some(&self.d.literal(Value::zero(t))));
            self.line(&r);
        }
        self.close();
        self.kernel = saved_kernel;
        result
    }
}
