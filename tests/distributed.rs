//! Distributed runs (feature `mpi`): `mpirun -np N kiln run … --distributed`
//! must give the bits of a one-process `--backend cpu` run for every kernel
//! of kernels/ and tests/conformance/ and a subset of the random kernels, at
//! N = 1, 2, 3, 4; faults end every rank with exit 1 and one located
//! message; writes that are not owner writes are refused before the launch.
//!
//! Without `mpirun` on the PATH every test prints why and passes, unless
//! `KILN_REQUIRE` lists `mpi`: then it fails. `KILN_MPI_NP` (e.g. `1,2`)
//! narrows the rank counts.
#![cfg(feature = "mpi")]

mod common;

use common::inputs::{Data, Input};
use common::random_kernels::random_kernel;
use kiln::inputs::{npy, HostArray};
use kiln::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KILN: &str = env!("CARGO_BIN_EXE_kiln");

fn required() -> bool {
    std::env::var("KILN_REQUIRE")
        .map(|l| l.split(',').any(|n| n.trim() == "mpi"))
        .unwrap_or(false)
}

/// Whether `mpirun` runs here; prints why not (or panics under KILN_REQUIRE).
fn mpi_available() -> bool {
    let ok = Command::new("mpirun")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            !required(),
            "KILN_REQUIRE lists mpi but `mpirun` does not run here"
        );
        eprintln!("skipping a distributed test: `mpirun` (OpenMPI) is not installed");
    }
    ok
}

fn rank_counts() -> Vec<usize> {
    std::env::var("KILN_MPI_NP")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 3, 4])
}

/// `mpirun` with a session directory of its own: OpenMPI creates
/// `$TMPDIR/ompi.HOST.UID` racily, and tests run several mpiruns at once.
fn mpirun_command() -> Command {
    let mut c = Command::new("mpirun");
    c.env("TMPDIR", tempdir("ompi"));
    c
}

/// Runs an `mpirun_command`, then removes its session directory.
fn output_of(mut c: Command) -> Output {
    let out = c.output().expect("mpirun starts");
    if let Some((_, Some(dir))) = c.get_envs().find(|(k, _)| *k == "TMPDIR") {
        let _ = std::fs::remove_dir_all(dir);
    }
    out
}

fn mpirun(np: usize, args: &[String]) -> Output {
    let mut c = mpirun_command();
    c.args([
        "--allow-run-as-root",
        "--oversubscribe",
        "-np",
        &np.to_string(),
    ])
    .arg(KILN)
    .args(args)
    // One thread per rank: 2-core CI machines run up to 4 ranks.
    .env("KILN_NUM_THREADS", "1")
    .env_remove("KILN_BACKEND");
    output_of(c)
}

fn kiln(args: &[String]) -> Output {
    Command::new(KILN)
        .args(args)
        .env_remove("KILN_BACKEND")
        .output()
        .expect("kiln starts")
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "kiln-dist-{}-{tag}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The `"result"` text of the one JSON line.
fn result_of(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: expected one JSON line on stdout, got:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    v["result"].to_string()
}

/// Every file of `dir`, by name, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Runs `args` on one process (`--backend cpu`) and under mpirun at every
/// rank count; the result and every output file must be the same bytes.
fn check_bits(label: &str, args: &[String]) {
    check_bits_at(label, args, &rank_counts())
}

fn check_bits_at(label: &str, args: &[String], counts: &[usize]) {
    let ref_dir = tempdir("ref");
    let mut a = args.to_vec();
    a.extend(["--backend", "cpu", "--json", "--out"].map(String::from));
    a.push(ref_dir.display().to_string());
    let out = kiln(&a);
    assert!(
        out.status.success(),
        "{label}: the one-process run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = result_of(&out, label);
    let expected_files = files(&ref_dir);
    for &np in counts {
        let dir = tempdir(&format!("np{np}"));
        let mut a = args.to_vec();
        a.extend(["--distributed", "--json", "--out"].map(String::from));
        a.push(dir.display().to_string());
        let out = mpirun(np, &a);
        assert!(
            out.status.success(),
            "{label} at np {np} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let what = format!("{label} at np {np}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("\"ranks\": {np}")),
            "{what}: {stdout}"
        );
        assert_eq!(result_of(&out, &what), expected, "{what}: result differs");
        let got = files(&dir);
        assert_eq!(
            got.iter().map(|f| &f.0).collect::<Vec<_>>(),
            expected_files.iter().map(|f| &f.0).collect::<Vec<_>>(),
            "{what}: different output files"
        );
        for (g, e) in got.iter().zip(&expected_files) {
            assert!(g.1 == e.1, "{what}: {} is not bit-identical", g.0);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_dir_all(&ref_dir);
}

fn stems(dir: &str) -> Vec<String> {
    common::kernel_stems(dir)
}

fn check_dir(dir: &str) {
    check_dir_at(dir, "T", &rank_counts());
}

fn check_dir_at(dir: &str, size: &str, counts: &[usize]) {
    if !mpi_available() {
        return;
    }
    for name in stems(dir) {
        let file = common::root().join(format!("{dir}/{name}.kn"));
        let args: Vec<String> = vec![
            "run".into(),
            file.display().to_string(),
            "--kernel".into(),
            name.clone(),
            "--size".into(),
            size.into(),
        ];
        check_bits_at(&format!("{dir}/{name} (size {size})"), &args, counts);
    }
}

#[test]
fn library_kernels_are_bit_identical_at_every_rank_count() {
    check_dir("kernels");
}

/// Size S: more chunks per reduction, more rows per rank, 2-D loops whose
/// reduction chunks end inside rows.
#[test]
fn library_kernels_at_size_s_are_bit_identical() {
    let counts: Vec<usize> = rank_counts()
        .into_iter()
        .filter(|&n| n == 2 || n == 3)
        .collect();
    check_dir_at("kernels", "S", &counts);
}

#[test]
fn conformance_kernels_are_bit_identical_at_every_rank_count() {
    check_dir("tests/conformance");
}

fn host_array(data: &Data, shape: &[usize]) -> HostArray {
    match data {
        Data::I32(v) => HostArray::from_vec(v.clone(), shape.to_vec()),
        Data::U32(v) => HostArray::from_vec(v.clone(), shape.to_vec()),
        Data::I64(v) => HostArray::from_vec(v.clone(), shape.to_vec()),
        Data::F32(v) => HostArray::from_vec(v.clone(), shape.to_vec()),
        Data::F64(v) => HostArray::from_vec(v.clone(), shape.to_vec()),
    }
    .unwrap()
}

fn scalar_text(v: Value) -> String {
    match v {
        Value::F32(x) if x.is_nan() => "nan".into(),
        Value::F64(x) if x.is_nan() => "nan".into(),
        Value::F32(x) => format!("{x:?}"),
        Value::F64(x) => format!("{x:?}"),
        Value::I32(x) => x.to_string(),
        Value::U32(x) => x.to_string(),
        Value::I64(x) => x.to_string(),
        Value::Bool(b) => b.to_string(),
    }
}

/// Random kernels (`KILN_MPI_RANDOM` of them, default 12): inputs as .npy
/// files and scalar `--arg`s.
#[test]
fn random_kernels_are_bit_identical_at_every_rank_count() {
    if !mpi_available() {
        return;
    }
    let count: u64 = std::env::var("KILN_MPI_RANDOM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    for k in 0..count {
        let rk = random_kernel(0x6B69_6C6E, k, true);
        let dir = tempdir(&format!("rk{k}"));
        let file = dir.join(format!("{}.kn", rk.name));
        std::fs::write(&file, &rk.source).unwrap();
        let mut args: Vec<String> = vec![
            "run".into(),
            file.display().to_string(),
            "--kernel".into(),
            rk.name.clone(),
        ];
        for input in &rk.inputs {
            match input {
                Input::Scalar { name, value } => {
                    args.push("--arg".into());
                    args.push(format!("{name}={}", scalar_text(*value)));
                }
                Input::Array {
                    name, data, shape, ..
                } => {
                    let path = dir.join(format!("in_{name}.npy"));
                    npy::write(&path, &host_array(data, shape)).unwrap();
                    args.push("--arg".into());
                    args.push(format!("{name}=@{}", path.display()));
                }
            }
        }
        check_bits(&format!("random kernel {k}:\n{}", rk.source), &args);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn write_kernel(tag: &str, source: &str) -> PathBuf {
    let dir = tempdir(tag);
    let file = dir.join(format!("{tag}.kn"));
    std::fs::write(&file, source).unwrap();
    file
}

/// A fault on one rank's rows: every rank exits 1, the located message is
/// printed once (by rank 0), and it is the one-process message.
#[test]
fn faults_end_every_rank_with_one_located_message() {
    if !mpi_available() {
        return;
    }
    let src = "kernel oob(x: mut f64[:], k: i64) {\n    for i in prange(0..x.len()) {\n        x[i] = 1.0;\n        if i == k {\n            x[i] = x[i + 100000];\n        }\n    }\n}\n\
               kernel div(x: mut i64[:], k: i64) {\n    let mut s = 0;\n    for i in prange(0..x.len()) {\n        s += 7 / (i - k);\n    }\n    x[0] = s;\n}\n";
    let file = write_kernel("faults", src);
    for (kernel, k) in [("oob", "90"), ("oob", "5"), ("div", "99"), ("div", "0")] {
        let args: Vec<String> = [
            "run",
            &file.display().to_string(),
            "--kernel",
            kernel,
            "--arg",
            "x=zeros:100",
            "--arg",
            &format!("k={k}"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut one = args.clone();
        one.extend(["--backend".to_string(), "cpu".to_string()]);
        let reference = kiln(&one);
        assert_eq!(reference.status.code(), Some(1));
        let expected = String::from_utf8_lossy(&reference.stderr).into_owned();
        for np in rank_counts() {
            let mut a = args.clone();
            a.push("--distributed".into());
            let out = mpirun(np, &a);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{kernel} k={k} np {np}: {stderr}"
            );
            assert_eq!(
                stderr.matches("run-time error").count(),
                1,
                "{kernel} k={k} np {np}: one message expected:\n{stderr}"
            );
            assert!(
                stderr.contains(expected.lines().next().unwrap()),
                "{kernel} k={k} np {np}: expected\n{expected}\ngot\n{stderr}"
            );
        }
    }
}

/// A write at a row the analysis cannot bound (not the loop's first
/// variable plus a constant) is refused before the launch, naming the array
/// and the line.
#[test]
fn non_owner_writes_are_refused() {
    if !mpi_available() {
        return;
    }
    let src = "kernel shift(x: mut f64[:]) {\n    for i in prange(0..x.len()) {\n        x[(i * 7) % 10] = 2.0;\n    }\n}\n";
    let file = write_kernel("shift", src);
    let args: Vec<String> = [
        "run",
        &file.display().to_string(),
        "--kernel",
        "shift",
        "--arg",
        "x=zeros:10",
        "--distributed",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for np in [1, 2] {
        let out = mpirun(np, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("shift.kn:3:") && stderr.contains("`x`"),
            "np {np}: {stderr}"
        );
        assert_eq!(stderr.matches("error").count(), 1, "np {np}: {stderr}");
    }
}

/// The Rust API (`kiln::dist`) on several ranks: this test binary itself
/// runs under mpirun, where `rust_api_worker` does the work.
#[test]
fn rust_api_runs_under_mpirun() {
    if !mpi_available() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for np in [1, 3] {
        let mut c = mpirun_command();
        c.args([
            "--allow-run-as-root",
            "--oversubscribe",
            "-np",
            &np.to_string(),
        ])
        .arg(&exe)
        .args([
            "--exact",
            "rust_api_worker",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KILN_DIST_WORKER", "1")
        .env("KILN_NUM_THREADS", "1");
        let out = output_of(c);
        assert!(
            out.status.success(),
            "np {np}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Only under `rust_api_runs_under_mpirun` (`KILN_DIST_WORKER` set).
#[test]
fn rust_api_worker() {
    use kiln::dist::{block, Comm, DistArg, DistArray, DistKernel};
    use kiln::{Arg, ArrayDataMut, Backend, Module};
    if std::env::var("KILN_DIST_WORKER").is_err() {
        return;
    }
    let comm = Comm::init().unwrap();
    kiln::dist::abort_on_panic();
    let (h, w) = (37usize, 23usize);
    let a: Vec<f64> = (0..h * w)
        .map(|k| ((k * 7919) % 1000) as f64 / 7.0)
        .collect();
    let module = Module::from_file(common::root().join("kernels/jacobi2d.kn")).unwrap();
    let kernel = module.kernel("jacobi2d").unwrap();
    // The one-process reference.
    let (mut ra, mut rb) = (a.clone(), vec![0.0f64; h * w]);
    kernel
        .launch_on(
            Backend::Cpu,
            &mut [
                Arg::ArrayMut {
                    data: ArrayDataMut::F64(&mut ra),
                    shape: vec![h, w],
                },
                Arg::ArrayMut {
                    data: ArrayDataMut::F64(&mut rb),
                    shape: vec![h, w],
                },
                Arg::Scalar(Value::I32(3)),
            ],
        )
        .unwrap();
    let dk = DistKernel::new(&kernel).unwrap();
    let shape = [h, w];
    let mut da = DistArray::scatter(&comm, comm.is_root().then(|| (&a[..], &shape[..]))).unwrap();
    let mine = block(&comm, h);
    let mut db = DistArray::from_local(&comm, &shape, &vec![0.0f64; mine.len() * w]).unwrap();
    assert_eq!(da.local_rows(&comm), mine);
    dk.launch(
        &comm,
        &mut [
            (&mut da).into(),
            (&mut db).into(),
            DistArg::Scalar(Value::I32(3)),
        ],
    )
    .unwrap();
    let local: Vec<u64> = da.local(&comm).iter().map(|x| x.to_bits()).collect();
    let expected: Vec<u64> = ra[mine.start * w..mine.end * w]
        .iter()
        .map(|x| x.to_bits())
        .collect();
    assert_eq!(local, expected, "rank {}: own rows of `a`", comm.rank());
    let all_b: Vec<u64> = db.all_gather(&comm).iter().map(|x| x.to_bits()).collect();
    assert_eq!(all_b, rb.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    if let Some(g) = da.gather(&comm) {
        assert_eq!(
            g.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            ra.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }
    // A reduction: the same bits on every rank.
    let m = Module::from_file(common::root().join("kernels/sum_sq.kn")).unwrap();
    let k = m.kernel("sum_sq").unwrap();
    let x: Vec<f64> = (0..100_003).map(|i| (i as f64).sin()).collect();
    let one = k.launch_on(Backend::Cpu, &mut [Arg::from(&x)]).unwrap();
    let r = block(&comm, x.len());
    let mut dx = DistArray::from_local(&comm, &[x.len()], &x[r]).unwrap();
    let got = kiln::dist::launch(&comm, &k, &mut [(&mut dx).into()]).unwrap();
    assert_eq!(got.map(|v| v.to_bits()), one.map(|v| v.to_bits()));
}

/// A 2-D loop whose reduction chunks end inside rows (each rank runs whole
/// global chunks, the rows it shares go to their owner as changed
/// elements), a read the analysis cannot bound (`(i + 1) % n`: gathered),
/// and writes at a constant offset of the loop's row (`acc[i - 1]`).
#[test]
fn split_rows_offset_writes_and_gathers_are_bit_identical() {
    if !mpi_available() {
        return;
    }
    let src = "kernel split(a: f64[:, :], out: mut f64[:, :], acc: mut i64[:]) -> f64 {
    let mut s = 0.0;
    let mut c = 0;
    for (i, j) in prange(0..a.shape(0), 0..a.shape(1)) {
        out[i, j] = a[i, j] * 2.0 + a[(i + 1) % a.shape(0), j];
        s += a[i, j] * a[i, j];
        c += 1;
        acc[i] = (i * 3) as i64;
    }
    for i in prange(1..a.shape(0)) {
        acc[i - 1] = acc[i - 1] + (c % 7) + acc[i];
    }
    return s;
}
";
    let file = write_kernel("split", src);
    let args: Vec<String> = [
        "run",
        &file.display().to_string(),
        "--kernel",
        "split",
        "--arg",
        "a=rand:1000x333",
        "--arg",
        "out=zeros:1000x333",
        "--arg",
        "acc=zeros:1000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    check_bits("split", &args);
}
