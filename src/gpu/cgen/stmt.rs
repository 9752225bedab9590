//! The statement walk: checks, fault exits, control flow, chunked loops and
//! leaving to the host.

use super::*;

impl<'a> Gen<'a> {
    pub(super) fn stmts(&mut self, block: &Block) -> Result<()> {
        for s in &block.stmts {
            self.stmt(s)?;
        }
        Ok(())
    }

    /// The statement that leaves the current function after a fault.
    pub(super) fn fault_exit(&self) -> String {
        match self.ctx.kind {
            FnKind::Serial => self.d.ret(None),
            FnKind::Parallel => self.d.ret(Some(&self.d.literal(Value::Bool(false)))),
            FnKind::Helper(Some(t)) => self.d.ret(Some(&self.d.literal(Value::zero(t)))),
            FnKind::Helper(None) => self.d.ret(None),
        }
    }

    /// `if (cond) { raise(site, operands); exit }`.
    pub(super) fn check(&mut self, cond: &str, span: Span, kind: SiteKind, operands: &[String]) {
        let site = self.sites.len() as u32;
        self.sites.push(FaultSite { span, kind });
        let open = self.d.if_open(cond);
        self.open(&open);
        let r = self.d.raise(site, operands);
        self.line(&r);
        let exit = self.fault_exit();
        self.line(&exit);
        self.close();
    }

    pub(super) fn assign_var(&mut self, v: VarId, value: &str) {
        let place = self.var_ref(v);
        let a = self.d.assign(&place, value);
        self.line(&a);
    }

    pub(super) fn stmt(&mut self, s: &Stmt) -> Result<()> {
        match &s.kind {
            StmtKind::Let { var, init } | StmtKind::Assign { var, value: init } => {
                let v = self.expr(init)?;
                self.assign_var(*var, &v);
            }
            StmtKind::Store { access, value } => {
                let v = self.expr(value)?;
                let vt = self.temp();
                let b = self.d.bind(&vt, value.ty, &v);
                self.line(&b);
                let index = self.access(access, s.span)?;
                let arr = self.array_ref(access.array);
                let st = self.d.array_store(&arr, &index, &vt);
                self.line(&st);
            }
            StmtKind::Eval(e) => {
                self.expr(e)?;
            }
            StmtKind::If { cond, then, els } => {
                let c = self.expr(cond)?;
                let open = self.d.if_open(&c);
                self.open(&open);
                self.stmts(then)?;
                if !els.stmts.is_empty() {
                    self.ctx.indent -= 1;
                    let e = self.d.else_open();
                    self.line(&e);
                    self.ctx.indent += 1;
                    self.stmts(els)?;
                }
                self.close();
            }
            StmtKind::While { cond, body } => {
                let chunked = self.chunk_open();
                if chunked.is_none() {
                    let open = self.d.loop_open();
                    self.open(&open);
                }
                let c = self.expr(cond)?;
                let not = self.d.unary(UnOp::Not, ScalarType::Bool, &c);
                let open = self.d.if_open(&not);
                self.open(&open);
                self.loop_exit(chunked.as_deref());
                self.close();
                self.loop_body(body, chunked.clone())?;
                self.chunk_close(chunked);
            }
            StmtKind::For(lp) => {
                let mut vals = Vec::new();
                for e in [&lp.start, &lp.count, &lp.stride] {
                    let v = self.expr(e)?;
                    let t = self.temp();
                    let b = self.d.bind(&t, ScalarType::I64, &v);
                    self.line(&b);
                    vals.push(t);
                }
                let counter = self.temp();
                let chunked = if self.d.max_loop_trips().is_some() {
                    let decl = self.d.declare(&counter, ScalarType::I64);
                    self.line(&decl);
                    self.chunk_open()
                } else {
                    None
                };
                if chunked.is_some() {
                    // `counter` counts across chunks; test, then advance it
                    // before the body so `continue` keeps the count.
                    let done = self
                        .d
                        .binary(BinOp::Ge, ScalarType::I64, &counter, &vals[1]);
                    let open = self.d.if_open(&done);
                    self.open(&open);
                    self.loop_exit(chunked.as_deref());
                    self.close();
                } else {
                    let open = self.d.for_open(&counter, &vals[1]);
                    self.open(&open);
                }
                let step = self
                    .d
                    .binary(BinOp::Mul, ScalarType::I64, &counter, &vals[2]);
                let value = self.d.binary(BinOp::Add, ScalarType::I64, &vals[0], &step);
                self.assign_var(lp.var, &value);
                if chunked.is_some() {
                    let next = self.d.binary(
                        BinOp::Add,
                        ScalarType::I64,
                        &counter,
                        &self.d.literal(Value::I64(1)),
                    );
                    let a = self.d.assign(&counter, &next);
                    self.line(&a);
                }
                self.loop_body(&lp.body, chunked.clone())?;
                self.chunk_close(chunked);
            }
            StmtKind::ParFor(_) => {
                return Err(
                    self.unsupported(s.span, "a parallel loop here (inside device code)".into())
                )
            }
            StmtKind::Break | StmtKind::Continue => {
                let is_break = matches!(s.kind, StmtKind::Break);
                if self.ctx.loop_depth > 0 {
                    if is_break {
                        let flag = self.ctx.loop_flags.last().cloned().flatten();
                        self.loop_exit(flag.as_deref());
                    } else {
                        let t = self.d.cont();
                        self.line(&t);
                    }
                } else {
                    // Leaves a host-driven loop: tell the host.
                    let word = if is_break {
                        CONTROL_BREAK
                    } else {
                        CONTROL_CONTINUE
                    };
                    self.leave_to_host(word);
                }
            }
            StmtKind::Return(value) => match self.ctx.kind {
                FnKind::Helper(_) => {
                    let v = match value {
                        Some(e) => Some(self.expr(e)?),
                        None => None,
                    };
                    let r = self.d.ret(v.as_deref());
                    self.line(&r);
                }
                _ => {
                    if let (Some(e), Some(t)) = (value, self.kernel.ret) {
                        let v = self.expr(e)?;
                        let st = self.d.frame_store(t, &self.frame.result.to_string(), &v);
                        self.line(&st);
                    }
                    self.leave_to_host(CONTROL_RETURN);
                }
            },
            StmtKind::CheckStep(e) => {
                let v = self.expr(e)?;
                let t = self.temp();
                let b = self.d.bind(&t, ScalarType::I64, &v);
                self.line(&b);
                let cond = self.d.binary(
                    BinOp::Le,
                    ScalarType::I64,
                    &t,
                    &self.d.literal(Value::I64(0)),
                );
                self.check(&cond, e.span, SiteKind::Step, &[t]);
            }
        }
        Ok(())
    }

    /// Opens a chunked loop when the dialect bounds loop trips: an outer
    /// endless loop around an inner one of at most `max_loop_trips`
    /// iterations; returns the "done" flag (`None`: open nothing).
    pub(super) fn chunk_open(&mut self) -> Option<String> {
        let trips = self.d.max_loop_trips()?;
        let flag = self.temp();
        let decl = self.d.declare(&flag, ScalarType::Bool);
        self.line(&decl);
        let open = self.d.loop_open();
        self.open(&open);
        let chunk = self.temp();
        let open = self
            .d
            .for_open(&chunk, &self.d.literal(Value::I64(trips as i64)));
        self.open(&open);
        Some(flag)
    }

    pub(super) fn chunk_close(&mut self, flag: Option<String>) {
        self.close();
        if let Some(flag) = flag {
            let open = self.d.if_open(&flag);
            self.open(&open);
            let b = self.d.brk();
            self.line(&b);
            self.close();
            self.close();
        }
    }

    /// Leaves the innermost serial loop (setting its done flag if chunked).
    pub(super) fn loop_exit(&mut self, flag: Option<&str>) {
        if let Some(flag) = flag {
            let a = self.d.assign(flag, &self.d.literal(Value::Bool(true)));
            self.line(&a);
        }
        let b = self.d.brk();
        self.line(&b);
    }

    pub(super) fn loop_body(&mut self, body: &Block, flag: Option<String>) -> Result<()> {
        self.ctx.loop_depth += 1;
        self.ctx.loop_flags.push(flag);
        let r = self.stmts(body);
        self.ctx.loop_flags.pop();
        self.ctx.loop_depth -= 1;
        r
    }

    /// Stores the written variables, sets the control word and returns.
    pub(super) fn leave_to_host(&mut self, word: u64) {
        self.flush();
        let st = self.d.frame_store(
            ScalarType::I64,
            &self.frame.control.to_string(),
            &self.d.literal(Value::I64(word as i64)),
        );
        self.line(&st);
        let r = self.d.ret(None);
        self.line(&r);
    }

    pub(super) fn array_ref(&self, a: ir::ArrayId) -> ArrayRef {
        self.arrays.get(a.index()).cloned().unwrap_or(ArrayRef {
            name: format!("a{}", a.0),
            elem: ScalarType::I32,
            atomic: false,
        })
    }

    /// Evaluates the indices, checks them and returns the narrowed offset.
    pub(super) fn access(&mut self, access: &Access, span: Span) -> Result<String> {
        let mut idx = Vec::new();
        for e in &access.index {
            let v = self.expr(e)?;
            let t = self.temp();
            let b = self.d.bind(&t, ScalarType::I64, &v);
            self.line(&b);
            idx.push(t);
        }
        let a = access.array;
        let rank = self
            .kernel
            .arrays
            .get(a.index())
            .map_or(1, |x| x.rank as usize);
        let zero = self.d.literal(Value::I64(0));
        let mut conds = Vec::new();
        for (d, i) in idx.iter().enumerate().take(rank) {
            if !access.needs_check.get(d).copied().unwrap_or(true) {
                continue;
            }
            let n = Self::shape_name(a, d as u8);
            let lo = self.d.binary(BinOp::Lt, ScalarType::I64, i, &zero);
            let hi = self.d.binary(BinOp::Ge, ScalarType::I64, i, &n);
            conds.push(self.d.binary(BinOp::BitOr, ScalarType::Bool, &lo, &hi));
        }
        if !conds.is_empty() {
            let cond = conds
                .into_iter()
                .reduce(|x, y| self.d.binary(BinOp::BitOr, ScalarType::Bool, &x, &y))
                .unwrap_or_default();
            let rank8 = idx.len().min(3) as u8;
            let operands = idx.iter().take(3).cloned().collect::<Vec<_>>();
            self.check(
                &cond,
                span,
                SiteKind::Index {
                    array: a,
                    rank: rank8,
                },
                &operands,
            );
        }
        let mut offset = idx.first().cloned().unwrap_or_else(|| zero.clone());
        for (d, i) in idx.iter().enumerate().skip(1) {
            let n = Self::shape_name(a, d as u8);
            let scaled = self.d.binary(BinOp::Mul, ScalarType::I64, &offset, &n);
            offset = self.d.binary(BinOp::Add, ScalarType::I64, &scaled, i);
        }
        Ok(self.d.narrow_index(&offset))
    }
}
