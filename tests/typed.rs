//! Typed kernels from Rust (`kiln::kernels!`, docs/typed.md): the file and
//! the inline form side by side in one module, run on every backend present
//! (interp, cpu, wgpu, cuda, auto; an absent one is skipped with its reason
//! unless `KILN_REQUIRE` names it) with every argument kind, results of
//! every scalar type, and faults returned as errors.

use kiln::ndarray::{s, Array1, Array2, Array3, ArrayD, IxDyn};
use kiln::{Array, Backend, Error, Fault};

kiln::kernels!("tests/typed/ops.kn");

kiln::kernels! {
    /// Sum of the elements.
    kernel total(x: f32[:]) -> f32 {
        let mut s = 0.0f32;
        for i in prange(0..x.len()) { s += x[i]; }
        return s;
    }

    // Literal and operator spellings that Rust's tokenizer must hand over
    // unchanged (docs/typed.md, "The inline form").
    kernel lexical(out: mut i64[:], n: i32) {
        let big = 1_000i64;
        let hex = 0x2A;
        let small = 1e-3;
        let third = 2.5e1f32;
        let mut acc = 0i64;
        for i in 0..=n { acc += i as i64; }
        for i in (0..n).step_by(2) { acc -= 1; }
        let mut sh = 1i64;
        sh <<= 3;
        sh >>= 1;
        out[0] = acc;
        out[1] = big + hex;
        out[2] = (small * 1000.0) as i64;
        out[3] = third as i64;
        out[4] = sh;
        for i in (0..3).rev() { out[5] = out[5] * 10 + i; }
        out[6] = -7 / 2 % 3 + (5 & 3 | 8 ^ 1) as i64;
        out[7] = if n >= 4 && !(n != 4) || false { 1 } else { 0 };
    }

    /// Reads `x[i]` (a fault for `i` out of bounds).
    kernel at(x: i32[:], i: i64) -> i32 {
        return x[i];
    }
}

const BACKENDS: [Backend; 5] = [
    Backend::Interp,
    Backend::Cpu,
    Backend::Wgpu,
    Backend::Cuda,
    Backend::Auto,
];

/// Whether `KILN_REQUIRE` lists the backend.
fn required(backend: Backend) -> bool {
    std::env::var("KILN_REQUIRE")
        .map(|list| list.split(',').any(|n| n.trim() == backend.name()))
        .unwrap_or(false)
}

/// The backends that run here; an absent one prints why (and fails the
/// test when `KILN_REQUIRE` names it).
fn backends() -> Vec<Backend> {
    BACKENDS
        .into_iter()
        .filter(|&b| match total_on(b, &vec![1.0f32]) {
            Err(Error::BackendUnavailable { reason, .. }) => {
                assert!(!required(b), "{b} is required by KILN_REQUIRE: {reason}");
                eprintln!("skipping {b}: {reason}");
                false
            }
            other => {
                assert_eq!(other.unwrap(), 1.0, "{b}");
                true
            }
        })
        .collect()
}

/// `Some(value)`, or `None` when a GPU backend cannot compile the kernel
/// (a device without `f64` or `i64`, docs/wgpu.md).
fn ran<R: std::fmt::Debug>(backend: Backend, result: kiln::Result<R>) -> Option<R> {
    match result {
        Err(Error::Unsupported { message, .. })
            if matches!(backend, Backend::Wgpu | Backend::Cuda) =>
        {
            eprintln!("{backend} cannot run this kernel here: {message}");
            None
        }
        other => Some(other.unwrap_or_else(|e| panic!("{backend}: {e}"))),
    }
}

#[test]
fn vecs_slices_and_arrays_of_one_dimension() {
    for b in backends() {
        let x = vec![1.0f32, 2.0, 3.0];
        let mut y = vec![10.0f32; 3];
        saxpy_on(b, 2.0, &x, &mut y).unwrap();
        assert_eq!(y, [12.0, 14.0, 16.0], "{b}: &Vec, &mut Vec");
        saxpy_on(b, 1.0, x.as_slice(), y.as_mut_slice()).unwrap();
        assert_eq!(y, [13.0, 16.0, 19.0], "{b}: &[T], &mut [T]");
        let mut fixed = [0.0f32; 3];
        saxpy_on(b, 1.0, &[1.0, 1.0, 1.0], &mut fixed).unwrap();
        assert_eq!(fixed, [1.0; 3], "{b}: &[T; N], &mut [T; N]");
        // Read-only parameters also take the `&mut` forms.
        let mut xm = x.clone();
        saxpy_on(b, 0.0, &mut xm, &mut y[..2]).unwrap();
        assert_eq!(y, [13.0, 16.0, 19.0], "{b}: &mut Vec as read-only");
        assert_eq!(total_on(b, &mut vec![1.5f32, 2.5]).unwrap(), 4.0, "{b}");
    }
}

#[test]
fn ndarray_arrays_and_views() {
    for b in backends() {
        let x = Array1::from(vec![1.0f32, 2.0, 3.0, 4.0]);
        let mut y = Array1::from(vec![1.0f32; 4]);
        saxpy_on(b, 2.0, &x, &mut y).unwrap();
        assert_eq!(
            y.to_vec(),
            [3.0, 5.0, 7.0, 9.0],
            "{b}: &Array1, &mut Array1"
        );
        saxpy_on(b, 1.0, x.view(), y.view_mut()).unwrap();
        assert_eq!(y.to_vec(), [4.0, 7.0, 10.0, 13.0], "{b}: views");
        saxpy_on(b, 1.0, x.slice(s![..2]), y.slice_mut(s![2..])).unwrap();
        assert_eq!(y.to_vec(), [4.0, 7.0, 11.0, 15.0], "{b}: sliced views");

        let mut m = Array2::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as f64);
        if ran(b, scale2d_on(b, 2.0, &mut m)).is_none() {
            continue;
        }
        assert_eq!(m[[2, 3]], 22.0, "{b}: &mut Array2");
        assert_eq!(ran(b, sum2d_on(b, &m)), Some(132.0), "{b}: &Array2");
        assert_eq!(ran(b, sum2d_on(b, m.view())), Some(132.0), "{b}: view");
        // Dynamic dimension: the rank is checked at launch.
        let d: ArrayD<f64> = m.clone().into_dyn();
        assert_eq!(ran(b, sum2d_on(b, &d)), Some(132.0), "{b}: ArrayD");

        let mut v = Array3::<i32>::zeros((2, 3, 4));
        iota3_on(b, &mut v).unwrap();
        assert_eq!(
            v.iter().copied().collect::<Vec<_>>(),
            (0..24).collect::<Vec<_>>()
        );
    }
}

#[test]
fn kiln_arrays_stay_managed() {
    for b in backends() {
        let x = Array::from(vec![1.0f32, 2.0, 3.0]);
        let mut y = Array::from(vec![1.0f32; 3]);
        saxpy_on(b, 3.0, &x, &mut y).unwrap();
        saxpy_on(b, 1.0, &x, &mut y).unwrap();
        assert_eq!(y.to_vec().unwrap(), [5.0, 9.0, 13.0], "{b}: &kiln::Array");
        assert_eq!(total_on(b, &y).unwrap(), 27.0, "{b}");

        let mut m = Array::from_shape_vec(vec![2, 2], vec![1.0f64, 2.0, 3.0, 4.0]).unwrap();
        if ran(b, scale2d_on(b, 10.0, &mut m)).is_some() {
            assert_eq!(ran(b, sum2d_on(b, &m)), Some(100.0), "{b}: 2-D kiln::Array");
        }
        let mut v = Array::from_shape_vec(vec![1, 2, 2], vec![0i32; 4]).unwrap();
        iota3_on(b, &mut v).unwrap();
        assert_eq!(v.to_vec().unwrap(), [0, 1, 2, 3], "{b}: 3-D kiln::Array");
    }
}

#[test]
fn results_of_every_scalar_type() {
    for b in backends() {
        let r: f32 = total_on(b, &vec![0.5f32, 0.25]).unwrap();
        assert_eq!(r, 0.75, "{b}");
        let r: i32 = sum_i32_on(b, &vec![1, -2, 40]).unwrap();
        assert_eq!(r, 39, "{b}");
        let r: u32 = sum_u32_on(b, &vec![u32::MAX, 2]).unwrap();
        assert_eq!(r, 1, "{b}: wrapping");
        let r: Option<i64> = ran(b, sum_i64_on(b, &vec![1i64 << 40, 1]));
        assert!(r.is_none() || r == Some((1 << 40) + 1), "{b}");
        let r: Option<f64> = ran(b, sum_f64_on(b, &vec![0.5, 0.25]));
        assert!(r.is_none() || r == Some(0.75), "{b}");
        let yes: bool = contains_on(b, &vec![3, 5, 7], 5).unwrap();
        let no: bool = contains_on(b, &vec![3, 5, 7], 4).unwrap();
        assert!(yes && !no, "{b}");
        let r: i32 = at_on(b, &vec![4, 5, 6], 2).unwrap();
        assert_eq!(r, 6, "{b}");
        // `()` for a kernel without a result.
        let unit: () = saxpy_on(b, 1.0, &vec![1.0], &mut vec![1.0]).unwrap();
        assert_eq!(unit, ());
    }
}

#[test]
fn auto_functions_launch() {
    let mut y = vec![1.0f32; 4];
    saxpy(2.0, &vec![1.0; 4], &mut y).unwrap();
    assert_eq!(y, [3.0; 4]);
    assert_eq!(total(&y).unwrap(), 12.0);
    assert!(contains(&vec![1, 2], 2).unwrap());
}

#[test]
fn faults_are_errors_located_in_the_source() {
    for b in backends() {
        // The file form: located in the file as written.
        let e = element_on(b, &vec![1.0f32, 2.0], 5).unwrap_err();
        let Error::Runtime(e) = e else {
            panic!("{b}: not a run-time error: {e:?}")
        };
        assert_eq!(e.kernel, "element");
        assert_eq!(e.file, "tests/typed/ops.kn");
        let source = include_str!("typed/ops.kn");
        let line = source.lines().nth(e.span.line as usize - 1).unwrap();
        assert!(line.contains("return x[i];"), "{b}: {e}");
        assert!(
            matches!(&e.fault, Fault::IndexOutOfBounds { index, .. } if index == &[5]),
            "{b}: {e}"
        );

        // The inline form: located in this file, at the kernel's own line.
        let e = at_on(b, &vec![1, 2], -1).unwrap_err();
        let Error::Runtime(e) = e else {
            panic!("{b}: not a run-time error: {e:?}")
        };
        assert!(e.file.ends_with("typed.rs"), "{b}: {e}");
        let line = include_str!("typed.rs")
            .lines()
            .nth(e.span.line as usize - 1)
            .unwrap();
        assert!(
            line.contains("return x[i];"),
            "{b}: line {}: {line}",
            e.span.line
        );
        let column = line.find("x[i]").unwrap() + 1;
        assert_eq!(e.span.col as usize, column, "{b}: {e}");
    }
}

#[test]
fn shapes_the_rust_type_does_not_fix_are_checked_at_launch() {
    // A Vec is one-dimensional: a 2-D parameter is a launch error naming it.
    let e = sum2d_on(Backend::Interp, &vec![1.0f64; 4]).unwrap_err();
    match &e {
        Error::Argument {
            kernel, message, ..
        } => {
            assert_eq!(kernel, "sum2d");
            assert!(
                message.contains("`m`") && message.contains("f64[:, :]"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    // IxDyn of the wrong rank, and a kiln::Array of the wrong rank.
    let d = ArrayD::<f64>::zeros(IxDyn(&[2, 2, 2]));
    assert!(matches!(
        sum2d_on(Backend::Interp, &d),
        Err(Error::Argument { .. })
    ));
    let a = Array::from(vec![1.0f64; 4]);
    assert!(matches!(
        sum2d_on(Backend::Interp, &a),
        Err(Error::Argument { .. })
    ));
    // A non-contiguous view cannot be passed without a copy.
    let m = Array2::<f64>::zeros((3, 4));
    let e = sum2d_on(Backend::Interp, m.t()).unwrap_err();
    assert!(matches!(e, Error::NotContiguous { .. }), "{e:?}");
    assert_eq!(
        sum2d_on(Backend::Interp, &m.t().as_standard_layout()).unwrap(),
        0.0
    );
}

#[test]
fn inline_tokens_keep_their_meaning() {
    for b in backends() {
        let mut out = vec![0i64; 8];
        if ran(b, lexical_on(b, &mut out, 4)).is_none() {
            continue;
        }
        // -7 / 2 % 3 is ((-7) / 2) % 3 = 0; 5 & 3 | 8 ^ 1 is 1 | 9.
        let expected = [8, 1042, 1, 25, 4, 210, 9, 1];
        assert_eq!(out, expected, "{b}");
    }
}

#[test]
fn typed_functions_run_from_many_threads() {
    let x: Vec<f32> = (0..1000).map(|i| i as f32).collect();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let x = x.clone();
            std::thread::spawn(move || {
                for _ in 0..20 {
                    assert_eq!(total(&x).unwrap(), 499_500.0);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// Every message of an error's `source` chain, as `anyhow` prints them.
fn chain(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push(c.to_string());
        cause = c.source();
    }
    out
}

#[test]
fn errors_print_each_message_once() {
    let compile =
        kiln::Module::from_source("bad.kn", "kernel k(x: f32[:]) { x[0] = 1.0; }").unwrap_err();
    let fault = at_on(Backend::Interp, &vec![1], 3).unwrap_err();
    let io = kiln::Module::from_file("/no/such/dir/k.kn").unwrap_err();
    let value = f32::try_from(kiln::Value::I64(3))
        .map_err(Error::from)
        .unwrap_err();
    for e in [compile, fault, io, value] {
        let messages = chain(&e);
        for (i, m) in messages.iter().enumerate() {
            for later in &messages[i + 1..] {
                assert!(!m.contains(later.as_str()), "printed twice: {messages:?}");
            }
        }
    }
}

#[test]
fn debug_output_is_short() {
    let source = "kernel k(x: f32[:]) -> f32 { return x[0]; }\n";
    let m = kiln::Module::from_source("short.kn", source).unwrap();
    let k = m.kernel("k").unwrap();
    assert_eq!(
        format!("{m:?}"),
        r#"Module { file: "short.kn", kernels: ["k"] }"#
    );
    assert_eq!(format!("{k:?}"), "Kernel(k(x: f32[:]) -> f32 in short.kn)");
    let long = format!(
        "{}kernel bad() {{ let y = nope; }}",
        "// padding\n".repeat(200)
    );
    let e = kiln::Module::from_source("long.kn", &long).unwrap_err();
    let debug = format!("{e:?}");
    assert!(
        !debug.contains("padding") && debug.contains("nope"),
        "{debug}"
    );
}

#[test]
fn kernel_handles_are_owned() {
    use kiln::prelude::*;
    fn shareable<T: Clone + Send + Sync + 'static>(t: T) -> T {
        t
    }
    // The module is a temporary: the handle keeps what it needs alive.
    let k: Kernel = Module::from_source("own.kn", "kernel twice(x: i64) -> i64 { return 2 * x; }")
        .unwrap()
        .kernel("twice")
        .unwrap();
    let k = shareable(k);
    let threads: Vec<_> = (0..3i64)
        .map(|i| {
            let k = k.clone();
            std::thread::spawn(move || {
                let r = k.launch_on(Backend::Interp, &mut [Arg::from(i)]);
                r.map_err(|e| e.to_string())
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let v = t.join().unwrap().unwrap().unwrap();
        assert_eq!(i64::try_from(v).unwrap(), 2 * i as i64);
    }
}

#[test]
fn async_launches_are_typed_futures() {
    let x = Array::from(vec![1.0f32, 2.0, 3.0]);
    let mut y = Array::from(vec![0.0f32; 3]);
    let first = saxpy_async(Backend::Interp, 2.0, &x, &mut y).unwrap();
    let sum = total_async(Backend::Interp, &x).unwrap();
    first.wait().unwrap();
    let s: f32 = sum.wait().unwrap();
    assert_eq!(s, 6.0);
    assert_eq!(y.to_vec().unwrap(), [2.0, 4.0, 6.0]);
    // A fault comes back through the future.
    let i = Array::from(vec![1i32]);
    let e = at_async(Backend::Interp, &i, 9)
        .unwrap()
        .wait()
        .unwrap_err();
    assert!(matches!(e, Error::Runtime(_)), "{e:?}");
}
