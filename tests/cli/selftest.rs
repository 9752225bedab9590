//! (A submodule of tests/cli.rs.) `kiln selftest` and `kiln bench` from a
//! directory outside the checkout: the kernels (and the Numba peer script)
//! are carried in the binary; `kiln devices` names the NVRTC file.

use super::{code, stderr, stdout};
use std::path::PathBuf;
use std::process::{Command, Output};

/// A fresh directory under the system's temporary directory (not under the
/// checkout, where `target/` lives).
fn outside() -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix("kiln-selftest-")
        .tempdir()
        .unwrap()
        .keep();
    assert!(!dir.starts_with(env!("CARGO_MANIFEST_DIR")));
    dir
}

/// `kiln SUBCOMMAND ARGS...` run from a fresh directory outside the checkout.
fn outside_run(subcommand: &str, args: &[&str]) -> Output {
    let dir = outside();
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg(subcommand)
        .args(args)
        .current_dir(&dir)
        .env_remove("KILN_BACKEND")
        .env("KILN_CACHE_DIR", dir.join("cache"))
        .output()
        .expect("kiln runs");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn selftest(args: &[&str]) -> Output {
    outside_run("selftest", args)
}

fn required(backend: &str) -> bool {
    std::env::var("KILN_REQUIRE").is_ok_and(|l| l.split(',').any(|b| b.trim() == backend))
}

#[test]
fn selftest_passes_on_cpu_and_wgpu_from_outside_the_checkout() {
    let o = selftest(&["--backend", "cpu,wgpu", "--random", "10", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(stdout(&o).trim())
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&o), stderr(&o)));
    let rows = doc["backends"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{doc}");
    for row in rows {
        let backend = row["backend"].as_str().unwrap();
        if let Some(why) = row["unavailable"].as_str() {
            assert!(
                backend == "wgpu" && !required("wgpu"),
                "{backend} is unavailable: {why}"
            );
            eprintln!("skipping the selftest of {backend}: {why}");
            continue;
        }
        assert!(
            row["device"].as_str().is_some_and(|d| !d.is_empty()),
            "{row}"
        );
        assert_eq!(row["failures"].as_array().unwrap().len(), 0, "{row}");
        // Every library and conformance kernel, every fault case, N random.
        let files = kiln::selftest::files::LIBRARY.len() + kiln::selftest::files::CONFORMANCE.len();
        assert_eq!(row["kernels"]["passed"], files, "{row}");
        let faults = kiln::selftest::faults::fault_cases().len();
        assert_eq!(row["faults"]["passed"], faults, "{row}");
        assert_eq!(row["random"]["passed"], 10, "{row}");
        assert!(row["max_ulp_f32"].as_f64().is_some(), "{row}");
    }
    let wgpu_ran = rows
        .iter()
        .any(|r| r["backend"] == "wgpu" && r["unavailable"].is_null());
    // A named backend that cannot run here fails the selftest.
    assert_eq!(code(&o), if wgpu_ran { 0 } else { 1 }, "{}", stderr(&o));
}

#[test]
fn the_table_names_devices_and_a_named_absent_backend_fails() {
    let o = selftest(&["--backend", "cpu,cuda", "--random", "2"]);
    let out = stdout(&o);
    assert!(out.contains("backend") && out.contains("device"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("cpu ")), "{out}");
    let cuda_absent = out
        .lines()
        .any(|l| l.starts_with("cuda") && l.contains("UNAVAILABLE"));
    assert_eq!(
        code(&o),
        if cuda_absent { 1 } else { 0 },
        "{out}\n{}",
        stderr(&o)
    );
}

#[test]
fn an_unknown_backend_is_a_usage_error() {
    let o = selftest(&["--backend", "cpu,tpu"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("tpu"), "{}", stderr(&o));
}

#[test]
fn bench_runs_from_any_directory_names_every_device_and_writes_its_report() {
    let dir = outside();
    let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args([
            "bench",
            "--backend",
            "cpu",
            "--size",
            "T",
            "--kernels",
            "saxpy,dot",
            "--seconds",
            "0",
            "--no-peers",
        ])
        .current_dir(&dir)
        .env_remove("KILN_BACKEND")
        .env_remove("CARGO_TARGET_DIR")
        .env("KILN_CACHE_DIR", dir.join("cache"))
        .output()
        .expect("kiln runs");
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    // Not a cargo project: the report folder is ./kiln-bench.
    let report = dir.join("kiln-bench");
    assert!(
        stdout(&o).contains(&format!("report: {}", report.display())),
        "{}",
        stdout(&o)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert!(rows.len() >= 2, "{json}");
    for row in rows {
        assert!(
            row["device"].as_str().is_some_and(|d| !d.is_empty()),
            "{row}"
        );
        assert!(row["software"].is_boolean(), "{row}");
    }
    let svg = std::fs::read_to_string(report.join("report.svg")).unwrap();
    assert!(
        svg.contains("time relative to rust-rayon"),
        "one size: bars"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn devices_names_the_nvrtc_file_and_logs_it() {
    let dir = outside();
    let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("devices")
        .env("KILN_LOG", "cuda")
        .env("KILN_CACHE_DIR", dir.join("cache"))
        .output()
        .expect("kiln runs");
    let _ = std::fs::remove_dir_all(&dir);
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.starts_with("nvrtc: "))
        .unwrap_or_default();
    if line.contains("unavailable") {
        assert!(!required("nvrtc"), "{line}");
        return;
    }
    assert!(
        line.contains("libnvrtc") && line.contains("found by"),
        "{out}"
    );
    assert!(stderr(&o).contains("kiln cuda: NVRTC"), "{}", stderr(&o));
}

fn fuzz(args: &[&str]) -> Output {
    outside_run("fuzz", args)
}

#[test]
fn fuzz_runs_for_a_time_and_reports_counts_per_family() {
    let out = fuzz(&[
        "--seconds",
        "2",
        "--seed",
        "9",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(doc["seed"], 9);
    assert_eq!(doc["backends"], serde_json::json!(["cpu"]));
    let cases: u64 = doc["differential"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["cases"].as_u64().unwrap())
        .sum();
    assert!(cases > 0, "{doc}");
    assert!(doc["front_end"]["cases"].as_u64().unwrap() > 0, "{doc}");
    assert_eq!(doc["findings"], serde_json::json!([]));
    assert!(stderr(&out).contains("fuzz: seed 9"), "{}", stderr(&out));
}

#[test]
fn fuzz_replays_one_case_and_refuses_bad_options() {
    let out = fuzz(&["--seed", "9", "--case", "3", "--backend", "cpu"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("differential 1 ("),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("front-end 1;"), "{}", stdout(&out));
    // A replay needs the seed that numbered the case.
    assert_eq!(code(&fuzz(&["--case", "3"])), 2);
    assert_eq!(code(&fuzz(&["--seconds", "1e20"])), 2);
    assert_eq!(code(&fuzz(&["--backend", "nope"])), 2);
}
