//! Helpers shared by the integration tests: kernel files with their
//! directive headers, inputs built from them by the runtime's
//! `kiln::inputs::cases` (the same inputs `kiln run` and `kiln bench` use),
//! and tolerant comparisons.
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

pub mod compare;
pub mod inputs;
pub mod random_kernels;

use inputs::Input;
use kiln::inputs::cases::Cases;
use kiln::inputs::params::params_of;
use kiln::{Backend, Module, Value};
use std::path::PathBuf;

/// The seed every test input is generated with (`kiln run`'s default), so
/// tests see the same inputs as `kiln run` and `kiln bench`.
pub const SEED: u64 = 0;

/// The repository root (where kernels/ and tests/ live).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The stems of the `.kn` files of a directory relative to the root, sorted.
pub fn kernel_stems(dir: &str) -> Vec<String> {
    let mut stems: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "kn").then(|| path.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    stems.sort();
    stems
}

/// A kernel file: one kernel named like the file, compiled, with its header.
pub struct Case {
    pub name: String,
    pub module: Module,
    pub directives: Cases,
}

impl Case {
    /// Loads `dir/name.kn`; panics with the diagnostics if it does not
    /// compile (a test failure that shows the error).
    pub fn load(dir: &str, name: &str) -> Case {
        let rel = format!("{dir}/{name}.kn");
        let source = std::fs::read_to_string(root().join(&rel))
            .unwrap_or_else(|e| panic!("cannot read {rel}: {e}"));
        let directives =
            Cases::parse(&source).unwrap_or_else(|e| panic!("{rel}: bad directive: {e}"));
        let module = Module::from_source(&rel, &source)
            .unwrap_or_else(|e| panic!("{rel} does not compile:\n{e}"));
        Case {
            name: name.to_string(),
            module,
            directives,
        }
    }

    pub fn kernel_ir(&self) -> &kiln::ir::Function {
        self.module
            .ir()
            .kernel(&self.name)
            .unwrap_or_else(|| panic!("no kernel `{}` in its file", self.name))
    }

    /// Inputs at the size labelled `label` (T for tests).
    pub fn inputs(&self, label: &str) -> Vec<Input> {
        let kernel = self.kernel_ir();
        let values = self
            .directives
            .build_args(&self.name, &params_of(kernel), label, SEED)
            .unwrap_or_else(|e| {
                panic!(
                    "`{}`: cannot build the size-{label} arguments: {e}",
                    self.name
                )
            });
        inputs::from_host(kernel, values)
    }

    // The public API's result type, passed through unchanged.
    #[allow(clippy::result_large_err)]
    pub fn launch(&self, backend: Backend, inputs: &mut [Input]) -> kiln::Result<Option<Value>> {
        let kernel = self.module.kernel(&self.name)?;
        kernel.launch_on(backend, &mut inputs::as_args(inputs))
    }
}
