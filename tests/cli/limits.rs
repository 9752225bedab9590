//! (A submodule of tests/cli.rs.) Process-level abuse ends cleanly: no abort
//! on a closed stderr, documented maxima refused as usage errors (exit 2)
//! before any work or allocation (`docs/limits.md`).

use super::{code, kernels, kiln, stderr};
use std::process::{Command, Stdio};

#[test]
fn a_closed_stderr_does_not_abort() {
    let (dir, _) = kernels();
    let bad = dir.join("bad.kn");
    std::fs::write(&bad, "kernel k(x: mut f64[:]) { x[0] = 1.0 + true; }\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("check")
        .arg(&bad)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kiln runs");
    // Close the read end before kiln writes its diagnostic: the write fails
    // with a broken pipe, which must not become a panic and an abort.
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{status:?}");
}

#[test]
fn a_huge_repeat_is_a_usage_error() {
    let (_, file) = kernels();
    let file = file.to_str().unwrap();
    for n in ["4294967295", "1000001"] {
        let o = kiln(&[
            "run", file, "--kernel", "total", "--arg", "x=4", "--repeat", n,
        ]);
        assert_eq!(code(&o), 2, "--repeat {n}: {}", stderr(&o));
        assert!(stderr(&o).contains("--repeat"), "{}", stderr(&o));
    }
}

#[test]
fn bench_seconds_out_of_range_is_a_usage_error() {
    for s in ["1e20", "3601", "-1", "nan"] {
        let flag = format!("--seconds={s}");
        let o = kiln(&["bench", &flag, "--kernels", "saxpy"]);
        assert_eq!(code(&o), 2, "--seconds {s}: {}", stderr(&o));
        assert!(stderr(&o).contains("--seconds"), "{}", stderr(&o));
    }
}

#[test]
fn a_non_utf8_kernel_file_is_an_error_with_line_and_column() {
    let (dir, _) = kernels();
    let bad = dir.join("latin1.kn");
    std::fs::write(&bad, b"// ok\n// caf\xe9\n").unwrap();
    let o = kiln(&["check", bad.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("2:7: not valid UTF-8"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_empty_at_file_names_the_parameter() {
    let (_, file) = kernels();
    let o = kiln(&[
        "run",
        file.to_str().unwrap(),
        "--kernel",
        "total",
        "--arg",
        "x=@",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("`x`") && e.contains("names no file"), "{e}");
}

#[test]
fn an_error_in_a_huge_line_prints_a_window_of_it() {
    let (dir, _) = kernels();
    let big = dir.join("long.kn");
    let mut src = String::from("kernel k(x: mut f64[:]) { ");
    src.push_str(&"x[0] = 1.0; ".repeat(100_000));
    src.push_str("x[0] = 1.0 + true; }\n");
    std::fs::write(&big, &src).unwrap();
    let o = kiln(&["check", big.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.len() < 4_000,
        "{} bytes of stderr for a {} byte line",
        e.len(),
        src.len()
    );
    assert!(e.contains("1 | …") && e.contains("1.0 + true"), "{e}");
}
