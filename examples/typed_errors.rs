//! Errors of typed launches: every fault and every mismatch rustc cannot
//! see is a `kiln::Error` value (never a panic), with a message that names
//! the kernel, the parameter or the source line.
//!
//! `cargo run --example typed_errors`

use kiln::{Backend, Error};

kiln::kernels!("kernels/dot.kn"); // dot(x: f64[:], y: f64[:]) -> f64

kiln::kernels! {
    /// The mean of each row of `m`, into `out`.
    kernel row_means(m: f64[:, :], out: mut f64[:]) {
        let cols = m.shape(1);
        for r in prange(0..m.shape(0)) {
            let mut s = 0.0;
            for c in 0..cols { s += m[r, c]; }
            out[r] = s / (cols as f64);
        }
    }
}

/// One line per error, and its causes (each printed once).
fn report(what: &str, e: &Error) {
    let kind = match e {
        Error::Runtime(fault) => format!(
            "a fault at {}:{}:{}",
            fault.file, fault.span.line, fault.span.col
        ),
        Error::Argument { kernel, .. } => format!("an argument of `{kernel}`"),
        Error::BackendUnavailable { backend, .. } => format!("`{backend}` is absent"),
        // `Error` is `#[non_exhaustive]`: later versions may add kinds.
        _ => "another error".to_string(),
    };
    println!("{what}: {kind}\n  {e}");
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        println!("  caused by: {c}");
        cause = c.source();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let x = vec![1.0; 8];
    let short = vec![1.0; 4];

    // A kernel fault: `dot` reads y[4] of a 4-element `y`.
    let e = dot(&x, &short).unwrap_err();
    assert!(matches!(e, Error::Runtime(_)));
    report("dot of unequal lengths", &e);

    // A `Vec` is one-dimensional: for a 2-D parameter it is a launch error
    // (an ndarray `Array1` there would not compile).
    let e = row_means(&vec![1.0; 4], &mut vec![0.0; 2]).unwrap_err();
    assert!(matches!(e, Error::Argument { .. }));
    report("a Vec for a matrix", &e);

    // A forced backend that this machine lacks.
    match dot_on(Backend::Cuda, &x, &x) {
        Ok(v) => println!("cuda ran: {v}"),
        Err(e) => report("forcing cuda", &e),
    }

    // Errors convert into `Box<dyn Error>` (or anyhow/eyre) with `?`.
    let m = kiln::ndarray::Array2::from_shape_fn((2, 3), |(r, c)| (r * 3 + c) as f64);
    let mut means = vec![0.0; 2];
    row_means(&m, &mut means)?;
    assert_eq!(means, [1.0, 4.0]);
    println!("row means: {means:?}; dot(x, x) = {}", dot(&x, &x)?);
    Ok(())
}
