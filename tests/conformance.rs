//! The conformance suite: ONE set of tests instantiated for every backend
//! (`conformance_suite!`). Each backend must
//! - run every kernel of kernels/ and tests/conformance/ at size T with the
//!   same outputs and result as the reference interpreter (exact for
//!   integers, bools and integer reductions; floats within the relative
//!   tolerance documented in `common::compare`: 1e-4 for f32, 1e-10 for f64);
//! - stop on every run-time error class of SPEC section 9 with the same
//!   fault, kernel, file, line and column as the interpreter, which are also
//!   checked against the locations the language decisions prescribe.
//!
//! `KILN_CONFORMANCE_SIZE=S` (or M, L) runs the kernel files that define
//! that size at it instead of T.
//!
//! A backend that answers `Error::BackendUnavailable` is skipped with its
//! reason printed, unless the environment variable `KILN_REQUIRE` names it
//! (comma-separated, e.g. `KILN_REQUIRE=cpu,wgpu`): then the test fails.

mod common;

use common::compare::{compare_inputs, compare_result};
use common::Case;
use kiln::selftest::faults::{check_fault, fault_cases};
use kiln::{Backend, Error, Module};

/// The library kernels (kernels/) and the language-coverage kernels
/// (tests/conformance/); `listed_files_match_the_directories` keeps these
/// lists equal to the directories' contents.
macro_rules! for_each_kernel_file {
    ($m:ident) => {
        $m! {
            kernels: blackscholes, dot, histogram, jacobi2d, mandelbrot, matmul, minmax, nbody, saxpy,
                scale_inplace, softmax_rows, sum_of_squares_range, sum_sq, triad;
            conformance: atomics, const_casts, folded_constants, guarded_access, helpers_consts, inference, int_edges, loops, math_f32,
                math_f64, no_reassociation, par_patterns, prange_dims, reductions, scalar_types, serial_result, shadowing,
                short_circuit, signed_zero;
        }
    };
}

macro_rules! file_lists {
    (kernels: $($k:ident),*; conformance: $($c:ident),*;) => {
        const LIBRARY_FILES: &[&str] = &[$(stringify!($k)),*];
        const CONFORMANCE_FILES: &[&str] = &[$(stringify!($c)),*];
    };
}
for_each_kernel_file!(file_lists);

#[test]
fn listed_files_match_the_directories() {
    assert_eq!(common::kernel_stems("kernels"), LIBRARY_FILES);
    assert_eq!(common::kernel_stems("tests/conformance"), CONFORMANCE_FILES);
    // What `kiln selftest` and `kiln bench` carry in the binary, byte for byte.
    for (dir, embedded) in [
        ("kernels", kiln::selftest::files::LIBRARY),
        ("tests/conformance", kiln::selftest::files::CONFORMANCE),
    ] {
        let stems: Vec<&str> = embedded.iter().map(|(stem, _)| *stem).collect();
        assert_eq!(common::kernel_stems(dir), stems, "{dir}");
        for (stem, source) in embedded {
            let on_disk =
                std::fs::read_to_string(common::root().join(format!("{dir}/{stem}.kn"))).unwrap();
            assert_eq!(&on_disk, source, "{dir}/{stem}.kn");
        }
    }
}

fn backend_name(backend: Backend) -> &'static str {
    backend.name()
}

/// Whether `KILN_REQUIRE` lists the backend.
fn required(backend: Backend) -> bool {
    std::env::var("KILN_REQUIRE")
        .map(|list| {
            list.split(',')
                .any(|name| name.trim() == backend_name(backend))
        })
        .unwrap_or(false)
}

/// Whether the backend can run here. An unavailable backend prints why
/// and is skipped, unless `KILN_REQUIRE` names it: then this panics.
fn available(backend: Backend) -> bool {
    let module = Module::from_source("probe.kn", "kernel probe(x: mut i32[:]) { x[0] = 1; }")
        .unwrap_or_else(|e| panic!("the probe kernel does not compile:\n{e}"));
    let mut x = vec![0i32];
    let kernel = module.kernel("probe").unwrap_or_else(|e| panic!("{e}"));
    match kernel.launch_on(backend, &mut [kiln::Arg::from(&mut x)]) {
        Err(Error::BackendUnavailable { reason, .. }) => {
            let name = backend_name(backend);
            assert!(
                !required(backend),
                "backend `{name}` is required by KILN_REQUIRE but unavailable: {reason}"
            );
            eprintln!("skipping a {name} conformance test: {reason}");
            false
        }
        _ => true,
    }
}

/// The size the kernel files run at: T, or the label in
/// `KILN_CONFORMANCE_SIZE` (e.g. `S`, to exercise a backend's parallel paths
/// on larger inputs) for files whose header defines it.
fn size_label(case: &Case) -> String {
    match std::env::var("KILN_CONFORMANCE_SIZE") {
        Ok(label) if case.directives.size(&label).is_some() => label,
        _ => "T".to_string(),
    }
}

/// Runs one kernel file on `backend` and on the interpreter from identical
/// inputs and compares every array and the result.
fn check_file(backend: Backend, dir: &str, name: &str) {
    let case = Case::load(dir, name);
    let label = size_label(&case);
    let inputs = case.inputs(&label);
    let mut expected = inputs.clone();
    let expected_result = case
        .launch(Backend::Interp, &mut expected)
        .unwrap_or_else(|e| panic!("{dir}/{name} fails on the interpreter: {e}"));
    let mut actual = inputs;
    let actual_result = case
        .launch(backend, &mut actual)
        .unwrap_or_else(|e| panic!("{dir}/{name} fails on {}: {e}", backend_name(backend)));
    let label = format!("{dir}/{name} (size {label}) on {}", backend_name(backend));
    compare_result(&label, expected_result, actual_result).unwrap_or_else(|e| panic!("{e}"));
    compare_inputs(&label, &expected, &actual).unwrap_or_else(|e| panic!("{e}"));
}

// ---------------------------------------------------------------------------
// Run-time errors (SPEC section 9): the cases are `kiln::selftest::faults`.

/// Runs every fault case and reports all failures at once.
fn check_all_faults(backend: Backend) {
    let failures: Vec<String> = fault_cases()
        .into_iter()
        .filter_map(|(what, case)| {
            check_fault(backend, &case)
                .err()
                .map(|e| format!("{what} (`{}`): {e}", case.kernel))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} fault case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Random kernels (differential testing).

/// How many random kernels each backend runs (`KILN_RANDOM_KERNELS`
/// overrides, e.g. for a longer soak).
fn random_kernel_count() -> u64 {
    std::env::var("KILN_RANDOM_KERNELS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// Random well-typed kernels on `backend` against the interpreter; reports
/// every mismatch with the kernel's source.
fn check_random_kernels(backend: Backend) {
    // The self-test's check (`kiln selftest --random N` runs the same
    // kernels): the cpu backend calls the interpreter's own math functions,
    // so it must match even through transcendentals; other backends are not
    // given them (they may differ in the last ulp, which casts magnify).
    let failures: Vec<String> = (0..random_kernel_count())
        .filter_map(|k| kiln::selftest::check_random(backend, k).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} random kernel(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Cases of the fuzz campaign's differential target per backend
/// (`KILN_FUZZ_CASES` overrides; `kiln fuzz --seconds S` runs it for a
/// time).
fn fuzz_case_count() -> u64 {
    std::env::var("KILN_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120)
}

/// A bounded slice of `kiln fuzz`'s differential target, at a fixed seed:
/// expression kernels, huge and negative ranges, deep nesting, helper
/// graphs and float edge values against the interpreter.
fn check_fuzz_slice(backend: Backend) {
    use kiln::selftest::fuzz::{campaign, Options, Target};
    let options = Options {
        seed: 0x66757a7a,
        backends: vec![backend],
        targets: vec![Target::Differential],
        cases: Some(fuzz_case_count()),
        time: None,
        first: 0,
    };
    let report = campaign(&options, &mut |_, _| {});
    let failures: Vec<String> = report
        .findings
        .iter()
        .map(|f| f.describe(options.seed))
        .collect();
    assert!(
        failures.is_empty(),
        "{}\n{}",
        report.table(),
        failures.join("\n")
    );
    let total = report.differential_total();
    // The generators make kernels that run: a slice mostly refused or
    // unsupported would test nothing.
    assert!(
        total.agreed + total.faulted >= total.cases * 9 / 10,
        "{}",
        report.table()
    );
}

/// One test per kernel file and one for all fault cases, for one backend.
macro_rules! kernel_file_tests {
    (kernels: $($k:ident),*; conformance: $($c:ident),*;) => {
        mod library {
            $(
                #[test]
                fn $k() {
                    if super::available(super::BACKEND) {
                        crate::check_file(super::BACKEND, "kernels", stringify!($k));
                    }
                }
            )*
        }
        mod language {
            $(
                #[test]
                fn $c() {
                    if super::available(super::BACKEND) {
                        crate::check_file(super::BACKEND, "tests/conformance", stringify!($c));
                    }
                }
            )*
        }
    };
}

/// Instantiates the whole suite for one backend.
macro_rules! conformance_suite {
    ($name:ident, $backend:expr) => {
        mod $name {
            use super::*;
            const BACKEND: Backend = $backend;

            for_each_kernel_file!(kernel_file_tests);

            #[test]
            fn run_time_errors() {
                if available(BACKEND) {
                    check_all_faults(BACKEND);
                }
            }

            #[test]
            fn random_kernels() {
                if available(BACKEND) {
                    check_random_kernels(BACKEND);
                }
            }

            #[test]
            fn fuzz_slice() {
                if available(BACKEND) {
                    check_fuzz_slice(BACKEND);
                }
            }
        }
    };
}

// The interpreter's own instance checks the kernels run and the faults
// match the locations prescribed by the language decisions.
conformance_suite!(interp, Backend::Interp);
conformance_suite!(cpu, Backend::Cpu);
conformance_suite!(cuda, Backend::Cuda);
conformance_suite!(wgpu, Backend::Wgpu);
// `auto` picks a backend per kernel; whatever it picks must conform too.
conformance_suite!(auto, Backend::Auto);
