//! The `kiln` command line as external scripts use it (DESIGN.md section 1):
//! exit codes, stderr diagnostics, VALUE grammar, .npy in and out, the
//! `--json` contract line, `--repeat`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Contract deviations found in review (bench exit codes, npy of every dtype).
#[path = "cli/review.rs"]
mod review;

/// `--out` writes all outputs or none, replacing links instead of following them.
#[path = "cli/outputs.rs"]
mod outputs;

/// Closed pipes and documented maxima (issue 17 items 3-5).
#[path = "cli/limits.rs"]
mod limits;

/// `kiln selftest` and `kiln bench` from outside the checkout (issue 14).
#[path = "cli/selftest.rs"]
mod selftest;

const KERNELS: &str = r#"
kernel total(x: f64[:]) -> f64 {
    let mut t = 0.0;
    for i in prange(0..x.len()) {
        t += x[i];
    }
    return t;
}

kernel same_i64(v: i64) -> i64 {
    return v;
}

kernel same_f32(v: f32) -> f32 {
    return v;
}

kernel same_f64(v: f64) -> f64 {
    return v;
}

kernel negate(b: bool) -> bool {
    return !b;
}

kernel bump(x: mut i64[:]) {
    for i in prange(0..x.len()) {
        x[i] += 1;
    }
}

kernel copy2(a: f64[:, :], b: mut f64[:, :]) {
    for (i, j) in prange(0..a.shape(0), 0..a.shape(1)) {
        b[i, j] = a[i, j];
    }
}

kernel poke(x: mut i32[:], at: i64) {
    x[at] = 7;
}
"#;

/// A fresh directory under Cargo's per-test temporary directory.
fn scratch() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cli-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes the test kernels into a fresh directory; returns (dir, file).
fn kernels() -> (PathBuf, PathBuf) {
    let dir = scratch();
    let file = dir.join("k.kn");
    std::fs::write(&file, KERNELS).unwrap();
    (dir, file)
}

/// Runs `kiln` with `KILN_BACKEND` unset plus the given environment.
fn kiln_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.args(args).env_remove("KILN_BACKEND");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("kiln runs")
}

fn kiln(args: &[&str]) -> Output {
    kiln_env(args, &[])
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs with `--json` and parses the single stdout line.
fn run_json(file: &Path, kernel: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["run", file.to_str().unwrap(), "--kernel", kernel, "--json"];
    args.extend_from_slice(extra);
    let o = kiln(&args);
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "exactly one line: {out:?}");
    serde_json::from_str(out.trim_end()).expect("valid JSON")
}

/// The raw JSON text of the `result` field.
fn raw_result(file: &Path, kernel: &str, arg: &str) -> String {
    let o = kiln(&[
        "run",
        file.to_str().unwrap(),
        "--kernel",
        kernel,
        "--json",
        "--arg",
        arg,
    ]);
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    let line = stdout(&o);
    let start = line.find("\"result\": ").expect("result field") + "\"result\": ".len();
    let rest = &line[start..];
    rest[..rest.find(", \"compile_seconds\"").unwrap()].to_string()
}

fn read_npy_f64(path: &Path) -> (Vec<u64>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    (shape, npy.into_vec::<f64>().unwrap())
}

fn write_npy_f64(path: &Path, shape: &[u64], data: &[f64], order: npyz::Order) {
    use npyz::WriterBuilder;
    let file = std::fs::File::create(path).unwrap();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .order(order)
        .writer(file)
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
}

#[test]
fn check_ok_and_errors() {
    let (dir, file) = kernels();
    let o = kiln(&["check", file.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("ok (8 kernels"), "{}", stdout(&o));

    let bad = dir.join("bad.kn");
    std::fs::write(&bad, "kernel k(x: f32[:]) {\n    let y: f32 = 1.0f64;\n}\n").unwrap();
    let o = kiln(&["check", file.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("error: "), "{err}");
    assert!(err.contains("bad.kn:2:"), "{err}");
    assert!(err.contains('^'), "{err}");
    assert!(
        stdout(&o).contains("k.kn: ok"),
        "the good file is still reported"
    );

    let o = kiln(&["check", dir.join("missing.kn").to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("missing.kn"), "{}", stderr(&o));
}

#[test]
fn run_with_generators_human_output() {
    let (_dir, file) = kernels();
    let o = kiln(&[
        "run",
        file.to_str().unwrap(),
        "--kernel",
        "total",
        "--arg",
        "x=range:5",
        "--backend",
        "interp",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("total on interp: 10.0 (f64)"), "{out}");
}

#[test]
fn json_contract_line() {
    let (_dir, file) = kernels();
    let v = run_json(
        &file,
        "total",
        &["--arg", "x=range:4", "--repeat", "3", "--backend", "interp"],
    );
    let obj = v.as_object().unwrap();
    let keys: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
    for key in [
        "kernel",
        "backend",
        "result",
        "compile_seconds",
        "seconds",
        "runs",
    ] {
        assert!(keys.contains(&key), "missing {key} in {v}");
    }
    assert_eq!(obj.len(), 6);
    assert_eq!(v["kernel"], "total");
    assert_eq!(v["backend"], "interp");
    assert_eq!(v["result"].as_f64(), Some(6.0));
    assert_eq!(v["runs"], 3);
    assert!(v["seconds"].as_f64().unwrap() >= 0.0);
    assert!(v["compile_seconds"].as_f64().unwrap() >= 0.0);
}

#[test]
fn auto_reports_a_concrete_backend() {
    let (_dir, file) = kernels();
    let v = run_json(&file, "total", &["--arg", "x=rand:100"]);
    let used = v["backend"].as_str().unwrap();
    assert!(used == "cpu" || used == "interp", "{used}");
}

#[test]
fn json_results_are_exact() {
    let (_dir, file) = kernels();
    // Integers exactly, even past 2^53.
    assert_eq!(
        raw_result(&file, "same_i64", "v=9007199254740993"),
        "9007199254740993"
    );
    assert_eq!(
        raw_result(&file, "same_i64", "v=-9223372036854775808"),
        "-9223372036854775808"
    );
    // f32 printed as f32: shortest text that reads back as the same f32.
    assert_eq!(raw_result(&file, "same_f32", "v=0.1"), "0.1");
    assert_eq!(raw_result(&file, "same_f64", "v=1e-05"), "1e-5");
    assert_eq!(raw_result(&file, "same_f64", "v=2"), "2.0");
    assert_eq!(raw_result(&file, "same_f64", "v=1e20"), "1e20");
    assert_eq!(raw_result(&file, "same_f64", "v=inf"), "\"inf\"");
    assert_eq!(raw_result(&file, "same_f32", "v=-inf"), "\"-inf\"");
    assert_eq!(raw_result(&file, "same_f64", "v=nan"), "\"nan\"");
    assert_eq!(raw_result(&file, "negate", "b=false"), "true");
    let v = run_json(&file, "bump", &["--arg", "x=zeros:3"]);
    assert!(v["result"].is_null());
}

#[test]
fn integer_values_out_of_range_are_errors() {
    let (_dir, file) = kernels();
    let o = kiln(&[
        "run",
        file.to_str().unwrap(),
        "--kernel",
        "same_i64",
        "--arg",
        "v=9223372036854775808",
    ]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("out of range for i64"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn repeats_start_from_the_original_values() {
    let (dir, file) = kernels();
    let out = dir.join("out");
    let v = run_json(
        &file,
        "bump",
        &[
            "--arg",
            "x=range:4",
            "--repeat",
            "5",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(v["runs"], 5);
    let bytes = std::fs::read(out.join("x.npy")).unwrap();
    let x = npyz::NpyFile::new(&bytes[..])
        .unwrap()
        .into_vec::<i64>()
        .unwrap();
    assert_eq!(x, [1, 2, 3, 4], "one bump, not five");
}

#[test]
fn npy_in_c_and_fortran_order_round_trips() {
    let (dir, file) = kernels();
    // a = [[0, 1, 2], [3, 4, 5]]
    let c_path = dir.join("a_c.npy");
    write_npy_f64(
        &c_path,
        &[2, 3],
        &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        npyz::Order::C,
    );
    let f_path = dir.join("a_f.npy");
    write_npy_f64(
        &f_path,
        &[2, 3],
        &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0],
        npyz::Order::Fortran,
    );
    for input in [&c_path, &f_path] {
        let out = dir.join(format!(
            "out_{}",
            input.file_stem().unwrap().to_str().unwrap()
        ));
        let a = format!("a=@{}", input.display());
        let o = kiln(&[
            "run",
            file.to_str().unwrap(),
            "--kernel",
            "copy2",
            "--arg",
            &a,
            "--arg",
            "b=zeros:2x3",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(stdout(&o).contains("wrote"), "{}", stdout(&o));
        let (shape, data) = read_npy_f64(&out.join("b.npy"));
        assert_eq!(shape, [2, 3]);
        assert_eq!(data, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "{}", input.display());
        assert!(
            !out.join("a.npy").exists(),
            "read-only arrays are not written"
        );
    }
}

#[test]
fn bad_npy_inputs_are_errors_naming_file_and_parameter() {
    let (dir, file) = kernels();
    let wrong = dir.join("wrong.npy");
    write_npy_f64(&wrong, &[6], &[0.0; 6], npyz::Order::C);
    let a = format!("a=@{}", wrong.display());
    let o = kiln(&[
        "run",
        file.to_str().unwrap(),
        "--kernel",
        "copy2",
        "--arg",
        &a,
        "--arg",
        "b=zeros:2x3",
    ]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains("wrong.npy") && err.contains("float64 with 1 dimension"),
        "{err}"
    );
    assert!(err.contains("parameter `a` is `f64[:, :]`"), "{err}");

    let garbage = dir.join("garbage.npy");
    std::fs::write(&garbage, b"not numpy at all").unwrap();
    let a = format!("a=@{}", garbage.display());
    let o = kiln(&[
        "run",
        file.to_str().unwrap(),
        "--kernel",
        "copy2",
        "--arg",
        &a,
        "--arg",
        "b=zeros:2x3",
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("garbage.npy"), "{}", stderr(&o));

    let a = format!("a=@{}", dir.join("absent.npy").display());
    let o = kiln(&[
        "run",
        file.to_str().unwrap(),
        "--kernel",
        "copy2",
        "--arg",
        &a,
        "--arg",
        "b=zeros:2x3",
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("absent.npy"), "{}", stderr(&o));
}

#[test]
fn unknown_and_missing_args_exit_1_naming_them() {
    let (_dir, file) = kernels();
    let f = file.to_str().unwrap();
    let o = kiln(&[
        "run",
        f,
        "--kernel",
        "total",
        "--arg",
        "x=range:3",
        "--arg",
        "z=1",
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("`z`"), "{}", stderr(&o));
    let o = kiln(&["run", f, "--kernel", "total"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("`x: f64[:]`"), "{}", stderr(&o));
    let o = kiln(&["run", f, "--kernel", "nope"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("no kernel named `nope`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn runtime_fault_exits_1_with_location() {
    let (_dir, file) = kernels();
    let o = kiln(&[
        "run",
        file.to_str().unwrap(),
        "--kernel",
        "poke",
        "--arg",
        "x=zeros:3",
        "--arg",
        "at=3",
    ]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("run-time error in kernel `poke`"), "{err}");
    assert!(err.contains("k.kn:"), "{err}");
    assert!(err.contains("x[at] = 7;") && err.contains('^'), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let (_dir, file) = kernels();
    let f = file.to_str().unwrap();
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["run", f],
        vec!["run", f, "--kernel", "total", "--backend", "tpu"],
        vec!["run", f, "--kernel", "total", "--repeat", "0"],
        vec!["run", f, "--kernel", "total", "--arg", "novalue"],
        vec!["run", f, "--kernel", "total", "--seed", "-1"],
        vec!["emit", f, "--kernel", "total", "--target", "ptx"],
        vec!["emit", f, "--kernel", "total"],
        vec!["check"],
    ] {
        let o = kiln(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn forced_unavailable_backend_is_an_error() {
    let (_dir, file) = kernels();
    let o = kiln(&[
        "run",
        file.to_str().unwrap(),
        "--kernel",
        "total",
        "--arg",
        "x=range:3",
        "--backend",
        "cuda",
    ]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("backend `cuda` is not available"),
        "{}",
        stderr(&o)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--kernel",
            "total",
            "--arg",
            "x=range:3",
        ])
        .env("KILN_BACKEND", "bogus")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("bogus"), "{}", stderr(&o));
}

#[test]
fn kiln_backend_env_sets_the_default() {
    let (_dir, file) = kernels();
    let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--kernel",
            "total",
            "--arg",
            "x=range:3",
            "--json",
        ])
        .env("KILN_BACKEND", "interp")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["backend"], "interp");
}

#[test]
fn emit_and_devices() {
    let (_dir, file) = kernels();
    let o = kiln(&[
        "emit",
        file.to_str().unwrap(),
        "--kernel",
        "total",
        "--target",
        "ir",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("total"), "{}", stdout(&o));
    let o = kiln(&[
        "emit",
        file.to_str().unwrap(),
        "--kernel",
        "total",
        "--target",
        "clif",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("function"), "{}", stdout(&o));
    // The machine code after Cranelift's optimizer: one listing per
    // function, with this host's instructions and a return.
    let o = kiln(&[
        "emit",
        file.to_str().unwrap(),
        "--kernel",
        "total",
        "--target",
        "asm",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let asm = stdout(&o);
    assert!(
        asm.contains("; main of kernel `total`") && asm.contains("ret"),
        "{asm}"
    );
    let o = kiln(&[
        "emit",
        file.to_str().unwrap(),
        "--kernel",
        "total",
        "--target",
        "wgsl",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("@compute"), "{}", stdout(&o));
    // CUDA C needs neither a GPU nor NVRTC to be generated.
    let o = kiln(&[
        "emit",
        file.to_str().unwrap(),
        "--kernel",
        "total",
        "--target",
        "cuda",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("__global__"), "{}", stdout(&o));
    let o = kiln(&["devices"]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    assert!(
        out.contains("interp") && out.contains("available") && out.contains("cpu threads:"),
        "{out}"
    );
}

#[test]
fn seeds_change_random_inputs_deterministically() {
    let (_dir, file) = kernels();
    let a = run_json(&file, "total", &["--arg", "x=rand:1000", "--seed", "1"]);
    let b = run_json(&file, "total", &["--arg", "x=rand:1000", "--seed", "1"]);
    let c = run_json(&file, "total", &["--arg", "x=rand:1000"]);
    assert_eq!(a["result"], b["result"]);
    assert_ne!(a["result"], c["result"]);
    let r = a["result"].as_f64().unwrap();
    assert!(r > 400.0 && r < 600.0, "mean of uniform [0,1) draws: {r}");
}

#[test]
fn size_takes_arguments_from_directives() {
    let dir = scratch();
    let file = dir.join("scale.kn");
    std::fs::write(
        &file,
        "//! args: x=range:{n} s=2.0\n//! sizes: T=4 S=10\n\
         kernel scale(x: mut f64[:], s: f64) -> f64 {\n    let mut t = 0.0;\n    \
         for i in prange(0..x.len()) {\n        x[i] = x[i] * s;\n        t += x[i];\n    }\n    return t;\n}\n",
    )
    .unwrap();
    // 2 * (0 + 1 + 2 + 3)
    let v = run_json(&file, "scale", &["--size", "T"]);
    assert_eq!(v["result"].as_f64(), Some(12.0));
    // --arg overrides one value.
    let v = run_json(&file, "scale", &["--size", "S", "--arg", "s=1"]);
    assert_eq!(v["result"].as_f64(), Some(45.0));
    let o = kiln(&[
        "run",
        file.to_str().unwrap(),
        "--kernel",
        "scale",
        "--size",
        "XL",
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no size `XL`"), "{}", stderr(&o));
}

#[test]
fn bench_usage_errors_exit_2_without_naming_a_kernel() {
    for args in [
        vec!["bench", "--sweep", ","],
        vec!["bench", "--kernels", "no_such_kernel", "--size", "T"],
    ] {
        let o = kiln(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.starts_with("error: ") && !err.contains("kernel `"),
            "{err}"
        );
    }
}

/// Without feature `mpi`, `--distributed` says kiln was built without it
/// (exit 1), for `run` and `bench` alike.
#[cfg(not(feature = "mpi"))]
#[test]
fn distributed_needs_feature_mpi() {
    let file = format!("{}/kernels/saxpy.kn", env!("CARGO_MANIFEST_DIR"));
    for args in [
        vec![
            "run",
            file.as_str(),
            "--kernel",
            "saxpy",
            "--size",
            "T",
            "--distributed",
        ],
        vec!["bench", "--distributed"],
    ] {
        let o = kiln(&args);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        assert!(
            stderr(&o).contains("built without feature `mpi`"),
            "{}",
            stderr(&o)
        );
    }
}
