//! Unit tests of the shared GPU layer: schedule shapes on their printed
//! form, and naga parsing and validating the WGSL of every kernel.

use super::wgsl::Wgsl;
use super::{generate, EntryKind, GpuProgram};
use crate::Module;
use wgpu::naga;

fn module(source: &str) -> Module {
    Module::from_source("test.kn", source).unwrap_or_else(|e| panic!("{e}"))
}

fn program(m: &Module, kernel: &str) -> GpuProgram {
    let k = m.kernel(kernel).unwrap_or_else(|e| panic!("{e}"));
    generate(m.ir(), k.id(), &Wgsl).unwrap_or_else(|e| panic!("{e}"))
}

fn schedule_of(source: &str, kernel: &str) -> String {
    let m = module(source);
    let p = program(&m, kernel);
    p.schedule.print(m.kernel(kernel).unwrap().function())
}

/// The naga capabilities the program says it needs, and no more: a
/// feature the scan missed fails validation here.
fn capabilities(p: &GpuProgram) -> naga::valid::Capabilities {
    use naga::valid::Capabilities as C;
    let mut caps = C::SHADER_INT64;
    if p.features.f64.is_some() {
        caps |= C::FLOAT64;
    }
    if p.features.atomic64.is_some() {
        caps |= C::SHADER_INT64_ATOMIC_ALL_OPS | C::SHADER_INT64_ATOMIC_MIN_MAX;
    }
    caps
}

fn validate(p: &GpuProgram) -> Result<(), String> {
    let src = &p.source;
    let module = naga::front::wgsl::parse_str(src).map_err(|e| e.emit_to_string(src))?;
    let mut validator =
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities(p));
    validator
        .validate(&module)
        .map_err(|e| e.emit_to_string(src))?;
    for entry in &p.entries {
        if !module.entry_points.iter().any(|e| e.name == entry.name) {
            return Err(format!("entry point `{}` missing", entry.name));
        }
    }
    Ok(())
}

#[test]
fn schedule_of_a_kernel_without_prange_is_one_serial_segment() {
    let s = schedule_of(
        "kernel k(x: mut i64[:], n: i32) -> i64 { let mut s = 0; for i in 0..n { s += i; } x[0] = s; return s; }",
        "k",
    );
    assert_eq!(s, "serial e0 (exits)\n");
}

#[test]
fn schedule_splits_serial_code_around_pranges() {
    let s = schedule_of(
        "kernel k(x: mut f64[:]) -> f64 {
            let mut t = 0.0;
            for i in prange(0..x.len()) { x[i] = 1.0; }
            t += 1.0;
            for i in prange(0..x.len()) { t += x[i]; }
            return t;
        }",
        "k",
    );
    assert_eq!(
        s,
        "serial e0\nparallel e1 dims 1\nserial e2\nparallel e3 dims 1 combine e4\nserial e5 (exits)\n"
    );
}

#[test]
fn schedule_runs_loops_and_ifs_around_pranges_on_the_host() {
    let s = schedule_of(
        "kernel k(a: mut f64[:, :], iters: i32, flag: bool) {
            for sweep in 0..iters {
                for (i, j) in prange(0..a.shape(0), 0..a.shape(1)) { a[i, j] += 1.0; }
                if sweep == 3 { break; }
            }
            let mut t = 0;
            while t < 3 {
                if flag {
                    for i in prange(0..a.shape(0)) { a[i, 0] = 0.0; }
                } else {
                    t += 1;
                }
                t += 1;
            }
        }",
        "k",
    );
    assert_eq!(
        s,
        // e0 binds the range's end (`iters as i64`) before the loop.
        "serial e0\nfor v2:sweep header e1 {\n    parallel e2 dims 2\n    serial e3 (exits)\n}\nserial e4\nwhile header e5 {\n    if header e6 {\n        parallel e7 dims 1\n    } else {\n        serial e8\n    }\n    serial e9\n}\n"
    );
}

#[test]
fn entries_have_the_kinds_the_schedule_uses() {
    let m = module(
        "kernel k(x: f32[:]) -> f32 { let mut s = 0.0; for i in prange(0..x.len()) { s += x[i]; } return s; }",
    );
    let p = program(&m, "k");
    let kinds: Vec<EntryKind> = p.entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EntryKind::Serial,
            EntryKind::Parallel { reductions: 1 },
            EntryKind::Combine,
            EntryKind::Serial
        ]
    );
    assert!(p.features.f64.is_none());
    validate(&p).unwrap_or_else(|e| panic!("{e}\n{}", p.source));
}

/// Every kernel file's kernels, as (file, module).
fn kernel_files() -> Vec<(String, Module)> {
    let mut out = Vec::new();
    for dir in ["kernels", "tests/conformance"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut entries: Vec<_> = std::fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "kn"))
            .collect();
        entries.sort();
        for p in entries {
            let m = Module::from_file(&p).unwrap_or_else(|e| panic!("{e}"));
            out.push((p.display().to_string(), m));
        }
    }
    out
}

#[test]
fn wgsl_of_every_kernel_parses_and_validates() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (file, m) in kernel_files() {
        for name in m.kernel_names() {
            count += 1;
            let k = m.kernel(&name).unwrap();
            match generate(m.ir(), k.id(), &Wgsl) {
                Ok(p) => {
                    if let Err(e) = validate(&p) {
                        failures.push(format!("{file} `{name}`:\n{e}"));
                    }
                }
                Err(e) => failures.push(format!("{file} `{name}`: {e}")),
            }
        }
    }
    assert!(count > 20, "only {count} kernels found");
    assert!(
        failures.is_empty(),
        "{} of {count} kernels fail:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn faults_have_sites_and_f64_is_detected() {
    let m = module(
        "kernel k(x: f64[:], i: i64, d: i32) -> f64 { let q = 10 / d; return x[i] + (q as f64); }",
    );
    let p = program(&m, "k");
    assert!(p.features.f64.is_some());
    assert_eq!(p.sites.len(), 2);
    validate(&p).unwrap_or_else(|e| panic!("{e}\n{}", p.source));
}

/// Whether wgpu runs here; unavailable is a skip (printed), unless
/// `KILN_REQUIRE` lists `wgpu`.
fn wgpu_available() -> bool {
    match crate::backends::availability(crate::Backend::Wgpu) {
        Ok(()) => true,
        Err(reason) => {
            let required = std::env::var("KILN_REQUIRE")
                .is_ok_and(|l| l.split(',').any(|n| n.trim() == "wgpu"));
            assert!(
                !required,
                "KILN_REQUIRE=wgpu but wgpu is unavailable: {reason}"
            );
            eprintln!("skipping a wgpu test: {reason}");
            false
        }
    }
}

#[test]
fn float_reductions_give_the_same_bits_every_run_on_wgpu() {
    if !wgpu_available() {
        return;
    }
    let m = module(
        "kernel s(x: f32[:]) -> f32 { let mut t = 0.0; for i in prange(0..x.len()) { t += x[i] * 1.37; } return t; }",
    );
    let k = m.kernel("s").unwrap();
    // Enough elements for the maximum reduction grid (1024 groups, several
    // elements per lane) and values whose sum depends on the order.
    let x: Vec<f32> = (0..1_000_003u64)
        .map(|i| ((i * 7919) % 1000) as f32 * 0.001 + 1e-3)
        .collect();
    let run = || {
        k.launch_on(crate::Backend::Wgpu, &mut [crate::Arg::from(&x)])
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let first = run();
    for _ in 0..3 {
        assert_eq!(run().map(|v| v.to_bits()), first.map(|v| v.to_bits()));
    }
    let Some(crate::Value::F32(got)) = first else {
        panic!("no f32 result: {first:?}")
    };
    let exact: f64 = x.iter().map(|&v| (v * 1.37) as f64).sum();
    assert!(
        ((got as f64 - exact) / exact).abs() < 1e-4,
        "{got} vs {exact}"
    );
}

#[test]
fn iteration_spaces_beyond_65535_workgroups_run_completely_on_wgpu() {
    if !wgpu_available() {
        return;
    }
    // 20 million iterations: more than 65535 workgroups of 256 lanes, so
    // the grid is capped and lanes stride.
    let m = module(
        "kernel c(n: i64) -> i64 { let mut s = 0; for (i, j) in prange(0..n, 0..4000) { s += i * 4000 + j; } return s; }",
    );
    let k = m.kernel("c").unwrap();
    let n = 5000i64;
    let got = k
        .launch_on(crate::Backend::Wgpu, &mut [crate::Arg::from(n)])
        .unwrap_or_else(|e| panic!("{e}"));
    let total = n * 4000;
    assert_eq!(got, Some(crate::Value::I64(total * (total - 1) / 2)));
}
