//! (A submodule of tests/cli.rs, sharing its process helpers.)
//! Review of the `kiln` command-line contract (DESIGN.md section 1) as an
//! external script drives it: deviations found in review, each with the
//! exact behaviour the contract asks for, plus .npy inputs of every dtype and
//! rank.

use super::{code, kiln, kiln_env, scratch, stderr};
use std::path::{Path, PathBuf};
use std::process::Output;

const KERNELS: &str = r#"
kernel w3(x: i32[:, :, :]) -> i64 {
    let mut t: i64 = 0;
    for i in 0..x.shape(0) {
        for j in 0..x.shape(1) {
            for k in 0..x.shape(2) {
                t += (x[i, j, k] as i64) * (i * 10000 + j * 100 + k);
            }
        }
    }
    return t;
}

kernel cp_u32(a: u32[:, :], b: mut u32[:, :]) {
    for (i, j) in prange(0..a.shape(0), 0..a.shape(1)) {
        b[i, j] = a[i, j];
    }
}

kernel cp_i64(a: i64[:], b: mut i64[:]) {
    for i in prange(0..a.len()) {
        b[i] = a[i];
    }
}

kernel cp_f32(a: f32[:, :, :], b: mut f32[:, :, :]) {
    for (i, j, k) in prange(0..a.shape(0), 0..a.shape(1), 0..a.shape(2)) {
        b[i, j, k] = a[i, j, k];
    }
}
"#;

/// Writes the review kernels into a fresh directory; returns (dir, file).
fn kernels() -> (PathBuf, PathBuf) {
    let dir = scratch();
    let file = dir.join("review.kn");
    std::fs::write(&file, KERNELS).unwrap();
    (dir, file)
}

fn json(o: &Output) -> serde_json::Value {
    assert_eq!(code(o), 0, "stderr: {}", stderr(o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(out.lines().count(), 1, "exactly one line: {out:?}");
    serde_json::from_str(out.trim_end()).expect("valid JSON")
}

fn write_npy<T: npyz::AutoSerialize + Copy>(
    path: &Path,
    shape: &[u64],
    data: &[T],
    order: npyz::Order,
) {
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

/// (dtype descr, shape, data) of a written .npy file.
fn read_npy<T: npyz::Deserialize>(path: &Path) -> (String, Vec<u64>, Vec<T>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let descr = npy.dtype().descr();
    let shape = npy.shape().to_vec();
    (descr, shape, npy.into_vec::<T>().unwrap())
}

/// Column-major data of a row-major array of `shape` (for writing Fortran files).
fn to_fortran<T: Copy>(c: &[T], shape: &[usize]) -> Vec<T> {
    let n = c.len();
    let mut f = Vec::with_capacity(n);
    for lin in 0..n {
        // `lin` counts in column-major order: first index fastest.
        let mut rest = lin;
        let mut idx = vec![0; shape.len()];
        for (d, &e) in shape.iter().enumerate() {
            idx[d] = rest % e;
            rest /= e;
        }
        let mut off = 0;
        for (d, &e) in shape.iter().enumerate() {
            off = off * e + idx[d];
        }
        f.push(c[off]);
    }
    f
}

#[test]
fn npy_inputs_and_outputs_of_every_dtype_and_rank_in_both_orders() {
    let (dir, file) = kernels();
    let f = file.to_str().unwrap();
    // int32, rank 3, C and Fortran order give the same weighted sum.
    let shape = [2usize, 3, 4];
    let c: Vec<i32> = (0..24).map(|v| v * 7 - 50).collect();
    let mut expected = 0i64;
    for i in 0..2 {
        for j in 0..3 {
            for k in 0..4 {
                expected += c[i * 12 + j * 4 + k] as i64 * (i * 10000 + j * 100 + k) as i64;
            }
        }
    }
    let pc = dir.join("c.npy");
    let pf = dir.join("f.npy");
    write_npy(&pc, &[2, 3, 4], &c, npyz::Order::C);
    write_npy(
        &pf,
        &[2, 3, 4],
        &to_fortran(&c, &shape),
        npyz::Order::Fortran,
    );
    for p in [&pc, &pf] {
        let v = json(&kiln(&[
            "run",
            f,
            "--kernel",
            "w3",
            "--json",
            "--arg",
            &format!("x=@{}", p.display()),
        ]));
        assert_eq!(v["result"], expected, "{}", p.display());
    }
    // uint32 rank 2 Fortran in, written back C order with dtype <u4.
    let u: Vec<u32> = vec![0, 1, u32::MAX, 3_000_000_000, 5, 6];
    let pu = dir.join("u.npy");
    write_npy(&pu, &[2, 3], &to_fortran(&u, &[2, 3]), npyz::Order::Fortran);
    let out = dir.join("out_u");
    let o = kiln(&[
        "run",
        f,
        "--kernel",
        "cp_u32",
        "--json",
        "--arg",
        &format!("a=@{}", pu.display()),
        "--arg",
        "b=zeros:2x3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(json(&o)["result"], serde_json::Value::Null);
    let (descr, s, data) = read_npy::<u32>(&out.join("b.npy"));
    assert_eq!((descr.as_str(), s, data), ("'<u4'", vec![2, 3], u));
    // int64 exact past 2^53.
    let l: Vec<i64> = vec![9_007_199_254_740_993, i64::MIN, i64::MAX];
    let pl = dir.join("l.npy");
    write_npy(&pl, &[3], &l, npyz::Order::C);
    let out = dir.join("out_l");
    json(&kiln(&[
        "run",
        f,
        "--kernel",
        "cp_i64",
        "--json",
        "--arg",
        &format!("a=@{}", pl.display()),
        "--arg",
        "b=zeros:3",
        "--out",
        out.to_str().unwrap(),
    ]));
    let (descr, s, data) = read_npy::<i64>(&out.join("b.npy"));
    assert_eq!((descr.as_str(), s, data), ("'<i8'", vec![3], l));
    // float32 rank 3 Fortran in, C out.
    let x: Vec<f32> = (0..24).map(|v| v as f32 * 0.1).collect();
    let px = dir.join("x.npy");
    write_npy(
        &px,
        &[2, 3, 4],
        &to_fortran(&x, &shape),
        npyz::Order::Fortran,
    );
    let out = dir.join("out_x");
    json(&kiln(&[
        "run",
        f,
        "--kernel",
        "cp_f32",
        "--json",
        "--arg",
        &format!("a=@{}", px.display()),
        "--arg",
        "b=zeros:2x3x4",
        "--out",
        out.to_str().unwrap(),
    ]));
    let (descr, s, data) = read_npy::<f32>(&out.join("b.npy"));
    assert_eq!((descr.as_str(), s, data), ("'<f4'", vec![2, 3, 4], x));
    // A float64 file for an f32 parameter names both.
    let pd = dir.join("d.npy");
    write_npy(&pd, &[2, 3, 4], &[0.0f64; 24], npyz::Order::C);
    let o = kiln(&[
        "run",
        f,
        "--kernel",
        "cp_f32",
        "--arg",
        &format!("a=@{}", pd.display()),
        "--arg",
        "b=zeros:2x3x4",
    ]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("holds float64 with 3 dimensions, parameter `a` is `f32[:, :, :]`"),
        "{}",
        stderr(&o)
    );
}

fn bench_args<'a>(dir: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "bench",
        "--dir",
        dir,
        "--kernels",
        "saxpy",
        "--size",
        "T",
        "--no-peers",
        "--seconds",
        "0",
    ];
    v.extend_from_slice(extra);
    v
}

const KERNEL_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/kernels");

#[test]
fn bench_forced_unavailable_backend_is_an_error_not_a_skip() {
    // DESIGN §1: forcing a backend that is not available is an error that
    // says why, never a silent fallback to the baselines (exit 0).
    for backend in ["cuda", "wgpu"] {
        let devices = String::from_utf8_lossy(&kiln(&["devices"]).stdout).into_owned();
        if !devices
            .lines()
            .any(|l| l.starts_with(backend) && l.contains("unavailable"))
        {
            continue;
        }
        let o = kiln(&bench_args(KERNEL_DIR, &["--backend", backend]));
        assert_eq!(code(&o), 1, "--backend {backend}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("backend `{backend}` is not available")),
            "{}",
            stderr(&o)
        );
        let o = kiln_env(&bench_args(KERNEL_DIR, &[]), &[("KILN_BACKEND", backend)]);
        assert_eq!(code(&o), 1, "KILN_BACKEND={backend}: {}", stderr(&o));
    }
}

#[test]
fn bench_usage_errors_exit_2() {
    // An unknown backend name or size label is a usage error of the command
    // line (exit 2), not an empty table with exit 0 or an exit 1.
    for extra in [
        &["--backend", "gpu"][..],
        &["--size", "Q"],
        &["--size", "S,XL"],
        &["--seconds", "nan"],
    ] {
        let mut args = vec![
            "bench",
            "--dir",
            KERNEL_DIR,
            "--kernels",
            "saxpy",
            "--no-peers",
            "--no-baselines",
        ];
        args.extend_from_slice(extra);
        let o = kiln(&args);
        assert_eq!(code(&o), 2, "{extra:?}: {}", stderr(&o));
        assert!(
            o.stdout.is_empty(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
}

#[test]
fn bench_all_and_available_backends_still_run() {
    let o = kiln(&bench_args(
        KERNEL_DIR,
        &["--backend", "all", "--no-baselines"],
    ));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = kiln(&bench_args(
        KERNEL_DIR,
        &["--backend", "interp", "--no-baselines"],
    ));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}
