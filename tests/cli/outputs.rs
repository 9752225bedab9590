//! (A submodule of tests/cli.rs, sharing its process helpers.)
//! `kiln run --out DIR` writes its outputs all or nothing: every output goes
//! to a temporary file in DIR, and only when all were written are they
//! renamed into place. An existing output is never overwritten in place, so
//! a failure leaves every file as it was and a symbolic link is replaced
//! rather than followed.

use super::{code, kiln, read_npy_f64, scratch, stderr};
use std::path::{Path, PathBuf};

/// Two outputs, `x` then `y`, of their own lengths.
const KERNEL: &str = r#"
kernel two(x: mut f64[:], y: mut f64[:]) {
    for i in prange(0..x.len()) {
        x[i] = 1.0;
    }
    for i in prange(0..y.len()) {
        y[i] = 2.0;
    }
}
"#;

/// A fresh directory with the kernel file and an output directory `out`
/// holding `x.npy` with the text `old x`.
fn setup() -> (PathBuf, PathBuf, PathBuf) {
    let dir = scratch();
    let file = dir.join("two.kn");
    std::fs::write(&file, KERNEL).unwrap();
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("x.npy"), "old x").unwrap();
    (dir, file, out)
}

fn run_args<'a>(file: &'a Path, out: &'a Path, y: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        file.to_str().unwrap(),
        "--kernel",
        "two",
        "--backend",
        "interp",
        "--arg",
        "x=zeros:4",
        "--arg",
        y,
        "--out",
        out.to_str().unwrap(),
    ]
}

/// The names in `dir`, sorted (temporary files would show here).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_failed_second_output_leaves_the_first_untouched() {
    let (_dir, file, out) = setup();
    // `y.npy` is a directory: no file can be renamed over it, and by then
    // `x.npy` has already been replaced once.
    std::fs::create_dir(out.join("y.npy")).unwrap();
    std::fs::write(out.join("y.npy").join("keep"), "k").unwrap();
    let o = kiln(&run_args(&file, &out, "y=zeros:4"));
    assert_eq!(code(&o), 1, "stderr: {}", stderr(&o));
    assert!(stderr(&o).contains("y.npy"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out.join("x.npy")).unwrap(), "old x");
    assert!(out.join("y.npy").join("keep").exists());
    assert_eq!(names(&out), ["x.npy", "y.npy"]);
}

/// An output that cannot be written (a file-size limit smaller than `y`)
/// fails before any file is renamed.
#[cfg(unix)]
#[test]
fn an_output_that_cannot_be_written_changes_no_file() {
    let (_dir, file, out) = setup();
    std::fs::write(out.join("y.npy"), "old y").unwrap();
    // The limit is in blocks of 512 or 1024 bytes: 16 of either hold `x`
    // (4 f64s) and not `y` (800 kB). An ignored SIGXFSZ is inherited, so
    // the write fails with an error instead of killing the process.
    let mut script = String::from("trap '' XFSZ; ulimit -f 16; exec \"$0\"");
    for a in run_args(&file, &out, "y=zeros:100000") {
        script += &format!(" '{a}'");
    }
    let o = std::process::Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_kiln")])
        .env_remove("KILN_BACKEND")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "stderr: {}", stderr(&o));
    assert!(stderr(&o).contains("y.npy"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out.join("x.npy")).unwrap(), "old x");
    assert_eq!(std::fs::read_to_string(out.join("y.npy")).unwrap(), "old y");
    assert_eq!(names(&out), ["x.npy", "y.npy"]);
}

/// Outputs that are symbolic links are replaced by the new files; the
/// files they pointed to stay as they were (`/dev/full` used to make the
/// run fail after `x` was already written through its link).
#[cfg(unix)]
#[test]
fn outputs_replace_symbolic_links_not_their_targets() {
    let (dir, file, out) = setup();
    let target = dir.join("elsewhere.npy");
    std::fs::write(&target, "not mine").unwrap();
    std::fs::remove_file(out.join("x.npy")).unwrap();
    std::os::unix::fs::symlink(&target, out.join("x.npy")).unwrap();
    std::os::unix::fs::symlink("/dev/full", out.join("y.npy")).unwrap();
    let o = kiln(&run_args(&file, &out, "y=zeros:3"));
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "not mine");
    for (name, shape, value) in [("x.npy", 4, 1.0), ("y.npy", 3, 2.0)] {
        let path = out.join(name);
        assert!(!path.symlink_metadata().unwrap().is_symlink(), "{name}");
        assert_eq!(
            read_npy_f64(&path),
            (vec![shape], vec![value; shape as usize])
        );
    }
    assert_eq!(names(&out), ["x.npy", "y.npy"]);
}
