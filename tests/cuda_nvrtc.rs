//! The CUDA backend without a GPU: the CUDA C of EVERY kernel in kernels/
//! and tests/conformance/ is generated and compiled by NVRTC to a CUBIN for
//! sm_90 (the full pipeline, ptxas included: what an H100 with a driver
//! older than NVRTC loads). A compile failure is a test failure.
//!
//! Without NVRTC the tests print why and pass, unless `KILN_REQUIRE`
//! names `nvrtc` (CI installs it): then they fail.

use kiln::cuda::nvrtc::{self, Arch, ImageKind};
use kiln::Module;
use std::path::PathBuf;

fn nvrtc_present() -> bool {
    match nvrtc::library() {
        Ok(_) => true,
        Err(reason) => {
            assert!(
                !kiln::cuda::required("nvrtc"),
                "NVRTC is required by KILN_REQUIRE but unavailable: {reason}"
            );
            eprintln!("skipping: NVRTC is unavailable: {reason}");
            false
        }
    }
}

fn kernel_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["kernels", "tests/conformance"] {
        let mut in_dir: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "kn"))
            .collect();
        in_dir.sort();
        files.extend(in_dir);
    }
    files
}

/// Generates and compiles every kernel of every file; returns the number
/// compiled and the failures.
fn compile_all(kind: ImageKind) -> (usize, Vec<String>) {
    let mut compiled = 0;
    let mut failures = Vec::new();
    for path in kernel_files() {
        let module = Module::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for name in module.kernel_names() {
            let id = module.kernel(&name).unwrap().id();
            let outcome = kiln::cuda::generate(module.ir(), id)
                .and_then(|program| kiln::cuda::compile_for(&program, Arch::SM_90, kind));
            match outcome {
                Ok((image, _)) => {
                    assert!(!image.bytes.is_empty());
                    compiled += 1;
                }
                Err(e) => failures.push(format!("{}: kernel `{name}`: {e}", path.display())),
            }
        }
    }
    (compiled, failures)
}

#[test]
fn every_kernel_compiles_to_cubin_for_sm_90() {
    if !nvrtc_present() {
        return;
    }
    let (compiled, failures) = compile_all(ImageKind::Cubin);
    assert!(
        failures.is_empty(),
        "{} of {} kernel(s) failed to compile:\n{}",
        failures.len(),
        compiled + failures.len(),
        failures.join("\n\n")
    );
    // kernels/ alone holds 14 files; a collapsed directory listing must not
    // pass vacuously.
    assert!(compiled >= 30, "only {compiled} kernels were compiled");
}

#[test]
fn generated_source_avoids_undefined_behaviour_traps() {
    let module = Module::from_source(
        "traps.kn",
        "kernel traps(x: mut i32[:], f: f32[:], n: i32) -> i32 {
            let mut s = 0;
            for i in prange(0..x.len()) { x[i] = (x[i] << n) / (n - 3) + (f[i] as i32); }
            for i in prange(0..x.len()) { s += x[i] * 3; }
            return s;
        }",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let id = module.kernel("traps").unwrap().id();
    let source = kiln::cuda::generate(module.ir(), id).unwrap().source;
    for needle in [
        "kiln_shl_i32",
        "kiln_div_i32",
        "kiln_f32_to_i32",
        "kiln_mul_i32",
        "kiln_add_i32",
        "__shfl_down_sync",
    ] {
        assert!(
            source.contains(needle),
            "`{needle}` missing from:\n{source}"
        );
    }
    // No float atomics in reductions: the only atomics are the error flag's.
    assert!(!source.contains("atomicAdd(&kiln_b.frame"), "{source}");
    if nvrtc_present() {
        let program = kiln::cuda::generate(module.ir(), id).unwrap();
        kiln::cuda::compile_for(&program, Arch::SM_90, ImageKind::Ptx)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
