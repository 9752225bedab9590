//! Cranelift IR → machine code for the functions of one kernel, overlapped
//! with their lowering.
//!
//! `lower_kernel` hands each function to a `Batch` as soon as it is built.
//! One helper thread, shared by the process, starts compiling the first
//! function (`main`) while the calling thread lowers the `prange`s; then
//! the calling thread compiles whatever is still queued, and both take
//! functions until none is left. Why: a kernel's first compile after other
//! work runs with cold caches, and `main` alone cost a quarter of a small
//! kernel's compile (about 260 µs cold for 30 instructions); on the helper
//! it overlaps with the rest, and so does the helper's wake-up, which on a
//! VM with an idle core costs as much as compiling a small function.
//! Results are placed in the JIT module in build order, so the code is the
//! same whichever thread compiled it.

use super::backend_err;
use crate::error::Result;
use cranelift_codegen::ir::Function as ClifFunction;
use cranelift_jit::JITModule;
use cranelift_module::{FuncId as ClifId, Module as _, ModuleReloc};
use std::collections::VecDeque;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// A function built by the lowering, not yet compiled.
pub(super) struct Built {
    pub id: ClifId,
    pub func: ClifFunction,
    pub what: String,
}

/// The functions of one kernel: queued, being compiled, compiled.
pub(super) struct Batch {
    state: Mutex<State>,
    finished: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<(usize, Built)>,
    /// By build order; `None` while queued or being compiled.
    done: Vec<Option<(String, Result<Compiled>)>>,
    /// Taken from the queue and not yet done.
    in_flight: usize,
    /// Whether the helper was told about this batch.
    offered: bool,
}

impl Batch {
    pub(super) fn new() -> Arc<Batch> {
        Arc::new(Batch {
            state: Mutex::new(State::default()),
            finished: Condvar::new(),
        })
    }

    /// Queues `b`; the first function queued wakes the helper.
    pub(super) fn push(self: &Arc<Batch>, b: Built) {
        let offer = {
            let mut s = lock(&self.state);
            let k = s.done.len();
            s.done.push(None);
            s.queue.push_back((k, b));
            !std::mem::replace(&mut s.offered, true)
        };
        if offer {
            if let Some(helper) = helper() {
                // A helper that is gone leaves the work to `finish`.
                let _ = lock(helper).send(self.clone());
            }
        }
    }

    /// Compiles what is still queued on this thread, waits for the helper's
    /// functions, and defines every function in `jit` in build order.
    pub(super) fn finish(self: &Arc<Batch>, jit: &mut JITModule) -> Result<()> {
        self.work();
        let done = {
            let mut s = lock(&self.state);
            while s.in_flight > 0 {
                s = self
                    .finished
                    .wait(s)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            std::mem::take(&mut s.done)
        };
        for slot in done {
            let (what, code) =
                slot.ok_or_else(|| backend_err("a function's compilation did not finish"))?;
            code?.define(jit, &what)?;
        }
        Ok(())
    }

    /// Takes and compiles queued functions until the queue is empty.
    fn work(&self) {
        loop {
            let (k, b) = {
                let mut s = lock(&self.state);
                match s.queue.pop_front() {
                    Some(job) => {
                        s.in_flight += 1;
                        job
                    }
                    None => return,
                }
            };
            let code = compile(b.func, b.id, &b.what);
            let mut s = lock(&self.state);
            s.done[k] = Some((b.what, code));
            s.in_flight -= 1;
            if s.in_flight == 0 {
                self.finished.notify_all();
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The process's compile helper: a thread that works on the batches it is
/// offered. `None` when it cannot be started (the caller then compiles
/// everything itself).
fn helper() -> Option<&'static Mutex<Sender<Arc<Batch>>>> {
    static HELPER: OnceLock<Option<Mutex<Sender<Arc<Batch>>>>> = OnceLock::new();
    HELPER
        .get_or_init(|| {
            let (tx, rx) = channel::<Arc<Batch>>();
            std::thread::Builder::new()
                .name("kiln-compile".into())
                .spawn(move || {
                    for batch in rx {
                        batch.work();
                    }
                })
                .ok()
                .map(|_| Mutex::new(tx))
        })
        .as_ref()
}

/// Starts the helper thread ahead of the first compile (from
/// `CpuEngine::new`), so that no kernel pays for spawning it.
pub(crate) fn start_helper() {
    helper();
}

/// One function's machine code, ready to be placed in a JIT module.
pub(super) struct Compiled {
    id: ClifId,
    align: u64,
    bytes: Vec<u8>,
    relocs: Vec<ModuleReloc>,
}

impl Compiled {
    pub(super) fn define(self, jit: &mut JITModule, what: &str) -> Result<()> {
        jit.define_function_bytes(self.id, self.align, &self.bytes, &self.relocs)
            .map_err(|e| backend_err(format!("{what}: {e:?}")))?;
        Ok(())
    }
}

/// What `JITModule::define_function` does before placing the code: with
/// Cranelift's optimizer unless the function is too long for it
/// (`OPTIMIZE_MAX_INSTS`). Needs no module, so it runs on any thread.
pub(super) fn compile(func: ClifFunction, id: ClifId, what: &str) -> Result<Compiled> {
    thread_local! {
        /// Kept between compilations: Cranelift's context holds the
        /// register allocator's working memory, whose set-up was a fifth of
        /// a small kernel's compile time when made anew for each function.
        static CONTEXT: std::cell::RefCell<cranelift_codegen::Context> =
            std::cell::RefCell::new(cranelift_codegen::Context::new());
    }
    CONTEXT.with(|c| match c.try_borrow_mut() {
        Ok(mut cctx) => compile_in(&mut cctx, func, id, what),
        Err(_) => compile_in(&mut cranelift_codegen::Context::new(), func, id, what),
    })
}

fn compile_in(
    cctx: &mut cranelift_codegen::Context,
    func: ClifFunction,
    id: ClifId,
    what: &str,
) -> Result<Compiled> {
    let isa = crate::cpu::isa(func.dfg.num_insts() <= OPTIMIZE_MAX_INSTS)?;
    cctx.clear();
    cctx.func = func;
    let compiled = cctx
        .compile(&*isa, &mut Default::default())
        .map_err(|e| backend_err(format!("{what}: {:?}", e.inner)))
        .map(|code| {
            let align = (code.buffer.alignment as u64)
                .max(isa.function_alignment().minimum as u64)
                .max(isa.symbol_alignment());
            (align, code.code_buffer().to_vec())
        });
    let out = compiled.map(|(align, bytes)| {
        let code = cctx.compiled_code().expect("compiled just above");
        let relocs = code
            .buffer
            .relocs()
            .iter()
            .map(|r| ModuleReloc::from_mach_reloc(r, &cctx.func, id))
            .collect();
        Compiled {
            id,
            align,
            bytes,
            relocs,
        }
    });
    cctx.clear();
    out
}

/// Functions of more Cranelift instructions than this are compiled without
/// its optimizer, whose e-graph pass grows faster than linearly on very long
/// straight-line kernels (20,000 statements took 3.3 s, 40,000 7.9 s);
/// without it compile time grows about linearly (issue 17 item 6). Library
/// kernels are below 2,000.
pub(super) const OPTIMIZE_MAX_INSTS: usize = 20_000;
