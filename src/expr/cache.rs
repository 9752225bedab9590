//! Compiled fused kernels, one per key (`codegen::Lowered::key`: the
//! expression's structure, types, ranks and broadcast pattern, never values
//! or sizes; it determines the generated source). Each entry is a `Module` like any other, so the
//! runtime's own per-device compile cache and `Auto`'s choices apply.

use super::codegen::KERNEL;
use crate::error::Result;
use crate::runtime::{Kernel, Module};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

fn cache() -> &'static Mutex<HashMap<Vec<u8>, Kernel>> {
    static CACHE: OnceLock<Mutex<HashMap<Vec<u8>, Kernel>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

static BUILT: AtomicUsize = AtomicUsize::new(0);

/// How many fused kernels this process generated and checked so far (each
/// new expression shape adds one; a new value or size adds none).
pub fn kernels_built() -> usize {
    BUILT.load(Ordering::Relaxed)
}

/// The kernel for `key`, built from `source()` on first use; `what`
/// describes the expression for the log.
pub fn kernel(
    key: &[u8],
    source: impl FnOnce() -> String,
    what: &dyn std::fmt::Display,
) -> Result<Kernel> {
    if let Some(k) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(key) {
        return Ok(k.clone());
    }
    let source = source();
    // Built outside the lock: another thread may build the same source at
    // the same time; the first insert wins and both are correct.
    let module = Module::from_source("fused.kn", &source)?;
    let kernel = module.kernel(KERNEL)?;
    BUILT.fetch_add(1, Ordering::Relaxed);
    crate::logging::init();
    if tracing::enabled!(target: "kiln::fusion", tracing::Level::INFO) {
        let ir = crate::ir::print::print_module(module.ir());
        tracing::info!(
            target: "kiln::fusion",
            "new kernel for {what}\n{source}--- IR ---\n{ir}"
        );
    }
    let mut map = cache().lock().unwrap_or_else(|e| e.into_inner());
    Ok(map.entry(key.to_vec()).or_insert(kernel).clone())
}
