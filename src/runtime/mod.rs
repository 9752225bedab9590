//! The public API: modules, kernels, launches, backend selection.
//!
//! A [`Module`] is a checked source file; [`Module::kernel`] finds a
//! [`Kernel`] by name; [`Kernel::launch_on`] checks the arguments against the
//! kernel's parameters (SPEC section 8), compiles the kernel for the backend
//! (once: compiled kernels are cached inside the module) and runs it.

pub mod args;
pub mod backend;
pub mod cases;
pub mod check;
pub mod device;
pub mod engines;
pub mod gen;
pub mod host;
pub mod npy;
pub mod params;
pub mod values;

pub use backend::{Backend, ParseBackendError};
pub use device::{DeviceArg, DeviceBuffer, DeviceId, Transfers};
pub use engines::engine;
pub use host::{HostArray, HostData, HostElement};
pub use params::{ParamInfo, ParamType};
pub use values::HostValue;

use crate::error::{Error, Result};
use crate::ir::{self, Value};
use args::Arg;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A compiled kernel on one backend, ready to launch many times.
pub trait CompiledKernel: Send + Sync {
    /// Runs on arguments already checked against the kernel's parameters.
    /// Host arrays: an engine with device memory copies them in and the
    /// writable ones back out itself.
    fn launch(&self, args: &mut [Arg]) -> Result<Option<Value>>;

    /// Runs with every array already in this kernel's device memory (see
    /// `runtime::device`); writes stay on the device. Only called on kernels
    /// of engines whose `has_device_memory()` is true.
    fn launch_resident(&self, args: &mut [DeviceArg]) -> Result<Option<Value>> {
        let _ = args;
        Err(Error::Backend {
            backend: "host".into(),
            message: "this kernel's engine has no device memory".into(),
        })
    }

    /// Runs like `launch` but entirely on the calling thread. Engines with a
    /// thread pool override it; the runtime uses it for work too small to
    /// pay for waking the pool.
    fn launch_serial(&self, args: &mut [Arg]) -> Result<Option<Value>> {
        self.launch(args)
    }
}

/// One execution backend: compiles IR kernels. The device-memory methods
/// have host defaults (no device memory); GPU engines override them all.
pub trait Engine: Send + Sync {
    fn backend(&self) -> Backend;
    fn compile(
        &self,
        module: &Arc<ir::Module>,
        kernel: ir::FuncId,
    ) -> Result<Arc<dyn CompiledKernel>>;

    /// The device this engine runs on (part of the kernel-cache key).
    fn device(&self) -> DeviceId {
        DeviceId::new(self.backend(), 0)
    }

    /// Whether arrays must be copied to run here (`upload`/`download` work).
    fn has_device_memory(&self) -> bool {
        false
    }

    /// Uninitialised (or zeroed) memory for `len` elements of `elem`.
    fn alloc(&self, elem: ir::ScalarType, len: usize) -> Result<DeviceBuffer> {
        let _ = (elem, len);
        Err(device::no_device_memory(self.backend()))
    }

    /// A new device buffer holding a copy of `data`.
    fn upload(&self, data: &args::ArrayData<'_>) -> Result<DeviceBuffer> {
        let _ = data;
        Err(device::no_device_memory(self.backend()))
    }

    /// Overwrites `dst` (same element type and length, made by this engine)
    /// with `data`, reusing its memory. The default allocates anew.
    fn upload_into(&self, dst: &mut DeviceBuffer, data: &args::ArrayData<'_>) -> Result<()> {
        *dst = self.upload(data)?;
        Ok(())
    }

    /// Copies `src` (made by this engine) into `dst` (same element type and
    /// length), waiting for every launch that writes `src` to finish.
    fn download(&self, src: &DeviceBuffer, dst: &mut args::ArrayDataMut<'_>) -> Result<()> {
        let _ = (src, dst);
        Err(device::no_device_memory(self.backend()))
    }
}

/// A kernel compiled for a requested backend, with the backend that actually
/// compiled it (they differ only for `Auto`).
#[derive(Clone)]
struct CacheEntry {
    used: Backend,
    compiled: Arc<dyn CompiledKernel>,
}

/// A checked source file.
pub struct Module {
    ir: Arc<ir::Module>,
    source: String,
    /// Parameters of every function, indexed by `FuncId`, computed once so
    /// that checking a launch's arguments allocates nothing.
    params: Vec<Vec<ParamInfo>>,
    /// Compiled kernels per (kernel, requested backend). Guarded by a mutex so
    /// one `Module` can be shared between threads; a kernel is compiled at
    /// most once per backend.
    cache: Mutex<HashMap<(ir::FuncId, Backend), CacheEntry>>,
}

/// A kernel of a module, found by name.
pub struct Kernel<'m> {
    module: &'m Module,
    id: ir::FuncId,
}

impl Module {
    /// Parses and checks `source`; `file` is the name diagnostics print.
    pub fn from_source(file: &str, source: &str) -> Result<Module> {
        let ir = crate::lang::compile(file, source)?;
        let params = ir.functions.iter().map(params::params_of).collect();
        Ok(Module {
            ir: Arc::new(ir),
            source: source.to_string(),
            params,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Reads, parses and checks a `.kn` file; an unreadable file is an
    /// `Error::Io` naming the path.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: name.clone(),
            source,
        })?;
        Module::from_source(&name, &source)
    }

    pub fn ir(&self) -> &Arc<ir::Module> {
        &self.ir
    }

    /// The source text the module was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The file name diagnostics and run-time errors print.
    pub fn file(&self) -> &str {
        &self.ir.file
    }

    /// Names of the module's kernels, in source order.
    pub fn kernel_names(&self) -> Vec<String> {
        self.ir.kernels().map(|k| k.name.clone()).collect()
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
                available: self.kernel_names(),
            })?;
        Ok(Kernel {
            module: self,
            id: ir::FuncId(id as u32),
        })
    }

    /// Compiles (or finds in the cache) kernel `id` for `backend`.
    fn compiled(&self, id: ir::FuncId, backend: Backend) -> Result<CacheEntry> {
        // A poisoned lock only means another thread panicked mid-compile; the
        // map itself is still consistent (entries are inserted whole).
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = cache.get(&(id, backend)) {
            return Ok(entry.clone());
        }
        let entry = self.compile_uncached(id, backend)?;
        cache.insert((id, backend), entry.clone());
        Ok(entry)
    }

    fn compile_uncached(&self, id: ir::FuncId, backend: Backend) -> Result<CacheEntry> {
        if backend != Backend::Auto {
            let compiled = engine(backend)?.compile(&self.ir, id)?;
            return Ok(CacheEntry {
                used: backend,
                compiled,
            });
        }
        // Auto: the CPU JIT when it is built in and can compile this kernel,
        // otherwise the interpreter (which runs every checked kernel).
        match engine(Backend::Cpu).and_then(|cpu| cpu.compile(&self.ir, id)) {
            Ok(compiled) => Ok(CacheEntry {
                used: Backend::Cpu,
                compiled,
            }),
            Err(Error::BackendUnavailable { .. } | Error::Unsupported { .. }) => {
                let compiled = engine(Backend::Interp)?.compile(&self.ir, id)?;
                Ok(CacheEntry {
                    used: Backend::Interp,
                    compiled,
                })
            }
            Err(other) => Err(other),
        }
    }
}

impl<'m> Kernel<'m> {
    pub fn module(&self) -> &'m Module {
        self.module
    }

    pub fn name(&self) -> &'m str {
        &self.function().name
    }

    /// The kernel's IR.
    pub fn function(&self) -> &'m ir::Function {
        self.module.ir.function(self.id)
    }

    /// The positional parameters with their declared types.
    pub fn params(&self) -> Vec<ParamInfo> {
        self.param_slice().to_vec()
    }

    /// The parameters without a copy (computed once per module).
    pub fn param_slice(&self) -> &'m [ParamInfo] {
        &self.module.params[self.id.index()]
    }

    /// The kernel's id in `module().ir()`.
    pub fn id(&self) -> ir::FuncId {
        self.id
    }

    /// The result type, `None` for a kernel that returns nothing.
    pub fn result_type(&self) -> Option<ir::ScalarType> {
        self.function().ret
    }

    /// The signature as written: `saxpy(a: f32, x: f32[:], y: mut f32[:])`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params()
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect();
        let ret = self
            .result_type()
            .map(|t| format!(" -> {t}"))
            .unwrap_or_default();
        format!("{}({}){ret}", self.name(), params.join(", "))
    }

    /// Launches on the default backend: `KILN_BACKEND` if set, else `Auto`.
    pub fn launch(&self, args: &mut [Arg]) -> Result<Option<Value>> {
        self.launch_on(Backend::from_env()?, args)
    }

    /// Checks the arguments, compiles for `backend` (cached) and runs.
    pub fn launch_on(&self, backend: Backend, args: &mut [Arg]) -> Result<Option<Value>> {
        self.launch_on_reporting(backend, args)
            .map(|(_, result)| result)
    }

    /// Like [`Kernel::launch_on`], also returning the backend that ran the
    /// kernel (the one `Auto` chose).
    pub fn launch_on_reporting(
        &self,
        backend: Backend,
        args: &mut [Arg],
    ) -> Result<(Backend, Option<Value>)> {
        check::check_args(self.name(), self.param_slice(), args)?;
        let entry = self.module.compiled(self.id, backend)?;
        let result = entry.compiled.launch(args)?;
        Ok((entry.used, result))
    }

    /// Compiles for `backend` ahead of the first launch (a no-op when already
    /// cached) and returns the backend that will run it.
    pub fn prepare(&self, backend: Backend) -> Result<Backend> {
        self.module.compiled(self.id, backend).map(|e| e.used)
    }
}
