//! The public API: modules, kernels, launches, backend selection.

pub mod args;

use crate::error::{Error, Result};
use crate::ir::{self, Value};
use args::Arg;
use std::sync::Arc;

/// Where a launch runs. `Auto` lets the runtime choose; the others force one
/// (an absent forced backend is an error, never a silent fallback).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    Auto,
    Cpu,
    Cuda,
    Wgpu,
    Interp,
}

/// A compiled kernel on one backend, ready to launch many times.
pub trait CompiledKernel: Send + Sync {
    /// Runs on arguments already checked against the kernel's parameters.
    fn launch(&self, args: &mut [Arg]) -> Result<Option<Value>>;
}

/// One execution backend: compiles IR kernels.
pub trait Engine: Send + Sync {
    fn backend(&self) -> Backend;
    fn compile(&self, module: &Arc<ir::Module>, kernel: ir::FuncId) -> Result<Arc<dyn CompiledKernel>>;
}

/// A checked source file.
pub struct Module {
    ir: Arc<ir::Module>,
}

/// A kernel of a module, found by name.
pub struct Kernel<'m> {
    module: &'m Module,
    id: ir::FuncId,
}

impl Module {
    pub fn from_source(file: &str, source: &str) -> Result<Module> {
        let ir = crate::lang::compile(file, source)?;
        Ok(Module { ir: Arc::new(ir) })
    }

    pub fn ir(&self) -> &Arc<ir::Module> {
        &self.ir
    }

    pub fn kernel(&self, name: &str) -> Result<Kernel<'_>> {
        let id = self
            .ir
            .functions
            .iter()
            .position(|f| f.kind == ir::FunctionKind::Kernel && f.name == name)
            .ok_or_else(|| Error::NoSuchKernel {
                name: name.to_string(),
                file: self.ir.file.clone(),
                available: self.ir.kernels().map(|k| k.name.clone()).collect(),
            })?;
        Ok(Kernel { module: self, id: ir::FuncId(id as u32) })
    }
}

impl Kernel<'_> {
    pub fn launch_on(&self, backend: Backend, args: &mut [Arg]) -> Result<Option<Value>> {
        let _ = (backend, args, self.module, self.id);
        unimplemented!("launch")
    }
}
