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

/// Endless or oversized inputs end at once with a located error naming the
/// kernel and parameter (issue 17 items 4 and 10): `/dev/zero` as a `.npy`
/// or as the kernel file, a header declaring terabytes, a file that is not
/// `.npy`.
#[cfg(unix)]
#[test]
fn endless_and_oversized_inputs_are_refused_at_once() {
    let (dir, file) = kernels();
    let file = file.to_str().unwrap();
    let run = |arg: &str| {
        let start = std::time::Instant::now();
        let o = kiln(&["run", file, "--kernel", "total", "--arg", arg]);
        assert!(start.elapsed().as_secs() < 20, "{arg}: took too long");
        assert_eq!(code(&o), 1, "{arg}: {}", stderr(&o));
        stderr(&o)
    };
    let e = run("x=@/dev/zero");
    assert!(
        e.contains("kernel `total`") && e.contains("`x`") && e.contains("not a valid .npy"),
        "{e}"
    );
    let text = dir.join("text.npy");
    std::fs::write(&text, "hello").unwrap();
    let e = run(&format!("x=@{}", text.display()));
    assert!(e.contains("`x`") && e.contains("not a valid .npy"), "{e}");
    // A valid header declaring 16 TB of float64, then a few bytes.
    let huge = dir.join("huge.npy");
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2000000000000,), }";
    let mut header = dict.to_string();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&[0u8; 64]);
    std::fs::write(&huge, bytes).unwrap();
    let e = run(&format!("x=@{}", huge.display()));
    assert!(e.contains("`x`") && e.contains("bytes of data"), "{e}");
    let o = kiln(&["check", "/dev/zero"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("MiB"), "{}", stderr(&o));
}

/// `--repeat` keeps a copy of each `mut` array; when memory for it is short
/// that is an error naming the array, not an abort (issue 17 item 4).
#[cfg(target_os = "linux")]
#[test]
fn a_repeat_copy_that_does_not_fit_is_an_error() {
    let (_, file) = kernels();
    let script = format!(
        "ulimit -v 3000000; exec {} run {} --kernel bump --backend cpu --arg x=zeros:200000000 --repeat 2",
        env!("CARGO_BIN_EXE_kiln"),
        file.display()
    );
    let o = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("--repeat"), "{}", stderr(&o));
}
