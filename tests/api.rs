//! The public Rust API: argument checking (SPEC section 8), backend names,
//! ndarray arguments, launches on the interpreter.

use kiln::runtime::{engine, Backend, ParamType};
use kiln::{Arg, Error, Fault, Module, ScalarType, Value};
use ndarray::{s, Array1, Array2};

const SOURCE: &str = r#"
kernel saxpy(a: f32, x: f32[:], y: mut f32[:]) {
    for i in prange(0..y.len()) {
        y[i] = a * x[i] + y[i];
    }
}

kernel total(x: f64[:]) -> f64 {
    let mut t = 0.0;
    for i in prange(0..x.len()) {
        t += x[i];
    }
    return t;
}

kernel pair_sum(a: f64[:], b: f64[:]) -> f64 {
    let mut t = 0.0;
    for i in prange(0..a.len()) {
        t += a[i] + b[i];
    }
    return t;
}

kernel stamp(m: mut f64[:, :], s: f64) {
    for (i, j) in prange(0..m.shape(0), 0..m.shape(1)) {
        m[i, j] = m[i, j] * s + (i * 10 + j) as f64;
    }
}

kernel poke(x: mut i32[:], at: i64) {
    x[at] = 7;
}
"#;

fn module() -> Module {
    Module::from_source("api.kn", SOURCE).expect("test source compiles")
}

/// The message of an `Error::Argument`, after checking the kernel name.
fn argument_error(e: Error, kernel: &str) -> String {
    match e {
        Error::Argument {
            kernel: k, message, ..
        } => {
            assert_eq!(k, kernel);
            message
        }
        other => panic!("expected an argument error, got {other:?}"),
    }
}

fn saxpy_error(args: &mut [Arg]) -> String {
    let m = module();
    let e = m
        .kernel("saxpy")
        .unwrap()
        .launch_on(Backend::Interp, args)
        .unwrap_err();
    argument_error(e, "saxpy")
}

#[test]
fn saxpy_runs_on_the_interpreter() {
    let m = module();
    let x = vec![1.0f32, 2.0, 3.0];
    let mut y = vec![10.0f32; 3];
    let r = m.kernel("saxpy").unwrap().launch_on(
        Backend::Interp,
        &mut [2.0f32.into(), (&x).into(), (&mut y).into()],
    );
    assert_eq!(r.unwrap(), None);
    assert_eq!(y, [12.0, 14.0, 16.0]);
}

#[test]
fn a_result_is_returned() {
    let m = module();
    let x: Vec<f64> = (1..=4).map(f64::from).collect();
    let r = m
        .kernel("total")
        .unwrap()
        .launch_on(Backend::Interp, &mut [Arg::slice(&x)])
        .unwrap();
    assert_eq!(r, Some(Value::F64(10.0)));
}

#[test]
fn wrong_argument_count() {
    let x = vec![1.0f32];
    let msg = saxpy_error(&mut [2.0f32.into(), (&x).into()]);
    assert_eq!(
        msg,
        "expected 3 arguments (a: f32, x: f32[:], y: mut f32[:]), got 2"
    );
}

#[test]
fn wrong_scalar_type() {
    let x = vec![1.0f32];
    let mut y = vec![1.0f32];
    let msg = saxpy_error(&mut [2.0f64.into(), (&x).into(), (&mut y).into()]);
    assert_eq!(msg, "argument 1 `a`: expected `f32`, got `f64`");
}

#[test]
fn wrong_element_type() {
    let x = vec![1.0f64];
    let mut y = vec![1.0f32];
    let msg = saxpy_error(&mut [2.0f32.into(), (&x).into(), (&mut y).into()]);
    assert_eq!(msg, "argument 2 `x`: expected `f32[:]`, got `f64[:]`");
    let e = module()
        .kernel("saxpy")
        .unwrap()
        .launch_on(
            Backend::Interp,
            &mut [2.0f32.into(), (&x).into(), (&mut y).into()],
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "kernel `saxpy`: argument 2 `x`: expected `f32[:]`, got `f64[:]`"
    );
}

#[test]
fn scalar_for_array_and_array_for_scalar() {
    let x = vec![1.0f32];
    let mut y = vec![1.0f32];
    let msg = saxpy_error(&mut [2.0f32.into(), 1.0f32.into(), (&mut y).into()]);
    assert_eq!(msg, "argument 2 `x`: expected `f32[:]`, got `f32`");
    let msg = saxpy_error(&mut [(&x).into(), (&x).into(), (&mut y).into()]);
    assert_eq!(msg, "argument 1 `a`: expected `f32`, got `f32[:]`");
}

#[test]
fn wrong_rank() {
    let x = vec![1.0f32; 4];
    let mut y = vec![1.0f32; 4];
    let x2 = Arg::Array {
        data: kiln::ArrayData::F32(&x),
        shape: vec![2, 2],
    };
    let msg = saxpy_error(&mut [2.0f32.into(), x2, (&mut y).into()]);
    assert_eq!(msg, "argument 2 `x`: expected `f32[:]`, got `f32[:, :]`");
}

#[test]
fn shape_must_match_data_length() {
    let x = vec![1.0f32; 4];
    let mut y = vec![1.0f32; 4];
    let bad = Arg::Array {
        data: kiln::ArrayData::F32(&x),
        shape: vec![5],
    };
    let msg = saxpy_error(&mut [2.0f32.into(), bad, (&mut y).into()]);
    assert_eq!(
        msg,
        "argument 2 `x`: shape [5] holds 5 elements, but the data has 4"
    );
}

#[test]
fn read_only_array_for_mut_parameter() {
    let x = vec![1.0f32; 2];
    let y = vec![1.0f32; 2];
    let msg = saxpy_error(&mut [2.0f32.into(), (&x).into(), (&y).into()]);
    assert!(
        msg.starts_with("argument 3 `y`: expected `mut f32[:]`, got `f32[:]`"),
        "{msg}"
    );
}

#[test]
fn mutable_slice_for_read_only_parameter_is_fine() {
    let m = module();
    let mut x = vec![1.0f32, 2.0];
    let mut y = vec![0.0f32; 2];
    m.kernel("saxpy")
        .unwrap()
        .launch_on(
            Backend::Interp,
            &mut [1.0f32.into(), (&mut x).into(), (&mut y).into()],
        )
        .unwrap();
    assert_eq!(y, [1.0, 2.0]);
}

#[test]
fn aliasing_a_written_array_is_an_error_naming_both() {
    let v = vec![1.0f32; 3];
    let msg = saxpy_error(&mut [2.0f32.into(), (&v).into(), (&v).into()]);
    assert!(
        msg.starts_with("arguments 2 `x` and 3 `y` share memory, and `y` is written"),
        "{msg}"
    );
    // Overlapping (not identical) ranges alias too.
    let msg = saxpy_error(&mut [2.0f32.into(), Arg::slice(&v[..2]), Arg::slice(&v[1..])]);
    assert!(
        msg.starts_with("arguments 2 `x` and 3 `y` share memory"),
        "{msg}"
    );
}

#[test]
fn the_same_array_may_be_read_twice() {
    let m = module();
    let v = vec![1.0f64, 2.0];
    let r = m
        .kernel("pair_sum")
        .unwrap()
        .launch_on(Backend::Interp, &mut [Arg::slice(&v), Arg::slice(&v)]);
    assert_eq!(r.unwrap(), Some(Value::F64(6.0)));
}

#[test]
fn runtime_faults_are_errors() {
    let m = module();
    let mut x = vec![0i32; 3];
    let e = m
        .kernel("poke")
        .unwrap()
        .launch_on(Backend::Interp, &mut [(&mut x).into(), 3i64.into()])
        .unwrap_err();
    match e {
        Error::Runtime(r) => {
            assert_eq!(r.kernel, "poke");
            assert_eq!(r.file, "api.kn");
            assert!(
                matches!(r.fault, Fault::IndexOutOfBounds { .. }),
                "{:?}",
                r.fault
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn backend_names_parse_case_insensitively() {
    for (text, b) in [
        ("auto", Backend::Auto),
        ("CPU", Backend::Cpu),
        ("Cuda", Backend::Cuda),
        ("wgpu", Backend::Wgpu),
        ("interp", Backend::Interp),
    ] {
        assert_eq!(text.parse::<Backend>().unwrap(), b);
    }
    assert_eq!(Backend::Interp.to_string(), "interp");
    let e = "tpu".parse::<Backend>().unwrap_err().to_string();
    assert!(e.contains("auto, cpu, cuda, wgpu, interp"), "{e}");
}

#[test]
fn backend_from_env() {
    // The only test that touches KILN_BACKEND.
    std::env::set_var("KILN_BACKEND", "Interp");
    assert_eq!(Backend::from_env().unwrap(), Backend::Interp);
    std::env::set_var("KILN_BACKEND", "nope");
    let e = Backend::from_env().unwrap_err().to_string();
    assert!(e.contains("KILN_BACKEND") && e.contains("nope"), "{e}");
    std::env::set_var("KILN_BACKEND", "");
    assert_eq!(Backend::from_env().unwrap(), Backend::Auto);
    std::env::remove_var("KILN_BACKEND");
    assert_eq!(Backend::from_env().unwrap(), Backend::Auto);
}

/// A backend left out of the build (cargo features) still exists as a
/// `Backend` variant; forcing it says which feature is missing.
#[test]
fn backends_left_out_of_the_build_name_their_feature() {
    let m = module();
    let x = vec![1.0f64];
    // The table's facts against the cargo features this test was built with.
    let features = [
        ("cpu", cfg!(feature = "cpu")),
        ("wgpu", cfg!(feature = "wgpu")),
        ("cuda", cfg!(feature = "cuda")),
    ];
    for backend in Backend::engines() {
        let built = match backend.feature() {
            None => true,
            Some(f) => features.iter().any(|&(name, on)| name == f && on),
        };
        assert_eq!(backend.is_built(), built, "{backend}");
        if built {
            continue;
        }
        let want = format!("built without feature `{}`", backend.name());
        let e = engine(backend).err().expect("a backend that was not built");
        assert!(matches!(e, Error::BackendUnavailable { .. }), "{e:?}");
        assert!(e.to_string().contains(&want), "{e}");
        let e = m
            .kernel("total")
            .unwrap()
            .launch_on(backend, &mut [Arg::from(&x)])
            .unwrap_err();
        assert!(e.to_string().contains(&want), "{e}");
    }
}

#[test]
fn unavailable_backends_say_why() {
    // Without a GPU (or driver, or NVRTC) cuda is unavailable and says
    // which piece is missing; with one it is simply available.
    if let Err(e) = engine(Backend::Cuda) {
        assert!(matches!(e, Error::BackendUnavailable { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            ["driver", "device", "NVRTC", "built without feature `cuda`"]
                .iter()
                .any(|w| text.contains(w)),
            "{text}"
        );
    }
    // wgpu runs wherever a Vulkan/Metal/DX12 adapter exists (lavapipe
    // included); absent, it is unavailable with a reason, never a panic.
    let m = module();
    let x = vec![1.0f64];
    match m
        .kernel("total")
        .unwrap()
        .launch_on(Backend::Wgpu, &mut [Arg::slice(&x)])
    {
        Ok(result) => assert_eq!(result, Some(kiln::Value::F64(1.0))),
        Err(e) => assert!(matches!(e, Error::BackendUnavailable { .. }), "{e:?}"),
    }
}

#[test]
fn auto_reports_the_backend_it_used() {
    let m = module();
    let x = vec![2.0f64; 5];
    let (used, r) = m
        .kernel("total")
        .unwrap()
        .launch_on_reporting(Backend::Auto, &mut [Arg::slice(&x)])
        .unwrap();
    assert!(matches!(used, Backend::Cpu | Backend::Interp), "{used}");
    assert_eq!(r, Some(Value::F64(10.0)));
}

#[test]
fn module_introspection() {
    let m = module();
    assert_eq!(
        m.kernel_names(),
        ["saxpy", "total", "pair_sum", "stamp", "poke"]
    );
    let k = m.kernel("stamp").unwrap();
    assert_eq!(k.name(), "stamp");
    let p = k.params();
    assert_eq!(p[0].name, "m");
    assert_eq!(
        p[0].ty,
        ParamType::Array {
            elem: ScalarType::F64,
            rank: 2,
            mutable: true
        }
    );
    assert_eq!(p[1].ty, ParamType::Scalar(ScalarType::F64));
    assert_eq!(k.signature(), "stamp(m: mut f64[:, :], s: f64)");
    let e = m.kernel("nope").err().unwrap().to_string();
    assert!(
        e.starts_with("no kernel named `nope` in api.kn (kernels: saxpy"),
        "{e}"
    );
}

#[test]
fn from_file_errors_name_the_path() {
    let e = Module::from_file("/definitely/not/here.kn").err().unwrap();
    assert!(matches!(e, Error::Io { .. }));
    assert!(
        e.to_string().starts_with("/definitely/not/here.kn: "),
        "{e}"
    );
}

#[test]
fn compile_errors_are_diagnostics() {
    let e = Module::from_source("bad.kn", "kernel k(x: f32[:]) { x[0] = 1.0; }")
        .err()
        .unwrap();
    assert!(matches!(e, Error::Compile(_)), "{e:?}");
}

#[test]
fn ndarray_views_of_any_rank() {
    let m = module();
    let mut a = Array2::<f64>::ones((2, 3));
    m.kernel("stamp")
        .unwrap()
        .launch_on(
            Backend::Interp,
            &mut [Arg::from_ndarray_mut(a.view_mut()).unwrap(), 2.0f64.into()],
        )
        .unwrap();
    assert_eq!(a, ndarray::arr2(&[[2.0, 3.0, 4.0], [12.0, 13.0, 14.0]]));
    let v = Array1::from(vec![1.0f64, 2.0, 3.0]);
    let r = m
        .kernel("total")
        .unwrap()
        .launch_on(Backend::Interp, &mut [Arg::try_from(&v).unwrap()])
        .unwrap();
    assert_eq!(r, Some(Value::F64(6.0)));
}

#[test]
fn non_contiguous_ndarray_views_are_errors() {
    let mut a = Array2::<f64>::zeros((3, 4));
    let e = Arg::from_ndarray(a.t()).unwrap_err();
    assert!(matches!(e, Error::NotContiguous { .. }), "{e:?}");
    assert!(e.to_string().contains("not contiguous"), "{e}");
    assert!(Arg::from_ndarray(a.slice(s![.., ..;2])).is_err());
    assert!(Arg::from_ndarray_mut(a.slice_mut(s![..;-1, ..])).is_err());
    // A contiguous sub-block (whole rows) is fine.
    assert!(Arg::from_ndarray(a.slice(s![1.., ..])).is_ok());
}

#[test]
fn a_module_is_shared_between_threads() {
    let m = module();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let m = &m;
            scope.spawn(move || {
                let x = vec![t as f64; 10];
                let r = m
                    .kernel("total")
                    .unwrap()
                    .launch_on(Backend::Interp, &mut [Arg::slice(&x)])
                    .unwrap();
                assert_eq!(r, Some(Value::F64(10.0 * t as f64)));
            });
        }
    });
}

#[test]
fn cpu_backend_agrees_with_the_interpreter_when_built_in() {
    if let Err(e) = engine(Backend::Cpu) {
        eprintln!("skipping: {e}");
        return;
    }
    let m = module();
    let k = m.kernel("saxpy").unwrap();
    let x: Vec<f32> = (0..1000).map(|i| i as f32 * 0.5).collect();
    let mut y_cpu = vec![1.0f32; 1000];
    let mut y_ref = y_cpu.clone();
    let (used, _) = k
        .launch_on_reporting(
            Backend::Auto,
            &mut [3.0f32.into(), (&x).into(), (&mut y_cpu).into()],
        )
        .unwrap();
    assert_eq!(used, Backend::Cpu, "auto prefers the JIT");
    k.launch_on(
        Backend::Interp,
        &mut [3.0f32.into(), (&x).into(), (&mut y_ref).into()],
    )
    .unwrap();
    assert_eq!(y_cpu, y_ref);
    let mut z = vec![0i32; 3];
    let e = m
        .kernel("poke")
        .unwrap()
        .launch_on(Backend::Cpu, &mut [(&mut z).into(), 3i64.into()])
        .unwrap_err();
    assert!(matches!(e, Error::Runtime(_)), "{e:?}");
}
