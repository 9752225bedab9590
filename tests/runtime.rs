//! The runtime: managed arrays and their residency (with a fake device
//! engine defined here, not in the library), automatic choice, forcing,
//! calibration cache, concurrency, asynchronous launches.

use kiln::inputs::host::{HostArray, HostData};
use kiln::runtime::args::{ArrayData, ArrayDataMut};
use kiln::runtime::calibrate;
use kiln::runtime::{AsyncArg, CompiledKernel, DeviceBuffer, DeviceId, Engine, Placement};
use kiln::{ir, Arg, Array, Backend, Error, Module, Value};
use std::sync::{Arc, Mutex, Once};

const SAXPY: &str = "
kernel saxpy(a: f32, x: f32[:], y: mut f32[:]) {
    for i in prange(0..y.len()) {
        y[i] = a * x[i] + y[i];
    }
}
kernel sum_sq(x: f64[:]) -> f64 {
    let mut total = 0.0;
    for i in prange(0..x.len()) {
        total += x[i] * x[i];
    }
    return total;
}
kernel add1(y: mut f32[:]) {
    for i in prange(0..y.len()) {
        y[i] = y[i] + 1.0;
    }
}";

/// Calibration goes to a private directory, never the user's cache, and
/// starts from known figures (a pool 8x faster than one thread, with a
/// larger overhead) so that choices do not depend on this machine's load.
fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let dir = std::env::temp_dir().join(format!("kiln-runtime-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        calibrate::write_figures(
            &dir,
            &[
                (key(Placement::CpuSerial), fig(1e-6, 1e9, 1e10)),
                (key(Placement::CpuPool), fig(20e-6, 8e9, 8e10)),
            ],
        )
        .unwrap();
        std::env::set_var(calibrate::CACHE_DIR_ENV, dir);
    });
}

fn fig(overhead_s: f64, ops: f64, bytes: f64) -> calibrate::Figures {
    calibrate::Figures {
        overhead_s,
        ops_per_s: ops,
        lane_ops_per_s: 1e9,
        bytes_per_s: bytes,
        transfer_bytes_per_s: 0.0,
    }
}

fn key(p: Placement) -> String {
    calibrate::cpu_key(p).unwrap()
}

fn module() -> Module {
    setup();
    Module::from_source("t.kn", SAXPY).unwrap()
}

// ---------------------------------------------------------------------------
// A fake device: "device memory" is a host array behind a mutex, and kernels
// run on it through the interpreter. It counts its own copies too.

struct FakeMem(Mutex<HostArray>);

#[derive(Default)]
struct FakeDevice {
    uploads: Mutex<u32>,
}

const FAKE: DeviceId = DeviceId::new(Backend::Wgpu, 7);

fn to_host(d: &ArrayData) -> HostArray {
    match d {
        ArrayData::I32(s) => HostArray::from_vec_1d(s.to_vec()),
        ArrayData::U32(s) => HostArray::from_vec_1d(s.to_vec()),
        ArrayData::I64(s) => HostArray::from_vec_1d(s.to_vec()),
        ArrayData::F32(s) => HostArray::from_vec_1d(s.to_vec()),
        ArrayData::F64(s) => HostArray::from_vec_1d(s.to_vec()),
    }
}

impl Engine for FakeDevice {
    fn backend(&self) -> Backend {
        Backend::Wgpu
    }
    fn device(&self) -> DeviceId {
        FAKE
    }
    fn has_device_memory(&self) -> bool {
        true
    }
    fn compile(
        &self,
        module: &Arc<ir::Module>,
        kernel: ir::FuncId,
    ) -> kiln::Result<Arc<dyn CompiledKernel>> {
        let inner = kiln::runtime::engine(Backend::Interp)?.compile(module, kernel)?;
        Ok(Arc::new(FakeKernel(inner)))
    }
    fn upload(&self, data: &ArrayData<'_>) -> kiln::Result<DeviceBuffer> {
        *self.uploads.lock().unwrap() += 1;
        let h = to_host(data);
        Ok(DeviceBuffer::new(
            FAKE,
            h.elem(),
            h.len(),
            FakeMem(Mutex::new(h)),
        ))
    }
    fn download(&self, src: &DeviceBuffer, dst: &mut ArrayDataMut<'_>) -> kiln::Result<()> {
        let mem = src.memory::<FakeMem>().expect("a fake buffer");
        let h = mem.0.lock().unwrap();
        match (h.data(), dst) {
            (HostData::F32(v), ArrayDataMut::F32(d)) => d.copy_from_slice(v),
            (HostData::F64(v), ArrayDataMut::F64(d)) => d.copy_from_slice(v),
            _ => panic!("fake device: unexpected element type"),
        }
        Ok(())
    }
}

struct FakeKernel(Arc<dyn CompiledKernel>);

impl CompiledKernel for FakeKernel {
    fn launch(&self, args: &mut [Arg]) -> kiln::Result<Option<Value>> {
        self.launch_on_device(args)
    }
}

impl FakeKernel {
    /// Works on copies of the "device" arrays, then stores them back.
    fn launch_on_device(&self, args: &mut [Arg]) -> kiln::Result<Option<Value>> {
        fn copy(b: &DeviceBuffer, shape: &[usize]) -> HostArray {
            let h = b.memory::<FakeMem>().unwrap().0.lock().unwrap().clone();
            HostArray::new(h.into_data(), shape.to_vec()).unwrap()
        }
        let mut copies: Vec<Option<HostArray>> = args
            .iter()
            .map(|a| match a {
                Arg::Device { buffer, shape } => Some(copy(buffer, shape)),
                Arg::DeviceMut { buffer, shape } => Some(copy(buffer, shape)),
                _ => None,
            })
            .collect();
        let result = {
            let mut host_args: Vec<Arg> = args
                .iter_mut()
                .zip(copies.iter_mut())
                .map(|(a, c)| match (a, c) {
                    (Arg::Device { .. }, Some(h)) => h.as_arg(),
                    (Arg::DeviceMut { .. }, Some(h)) => h.as_arg_mut(),
                    (Arg::Scalar(v), _) => Arg::Scalar(*v),
                    (Arg::Array { data, shape }, _) => Arg::Array {
                        data: data.reborrow(),
                        shape: shape.clone(),
                    },
                    (Arg::ArrayMut { data, shape }, _) => Arg::ArrayMut {
                        data: data.reborrow_mut(),
                        shape: shape.clone(),
                    },
                    _ => unreachable!("the runtime resolves managed arrays"),
                })
                .collect();
            self.0.launch(&mut host_args)?
        };
        for (a, c) in args.iter_mut().zip(copies) {
            if let (Arg::DeviceMut { buffer, .. }, Some(h)) = (a, c) {
                let flat = HostArray::new(h.data().clone(), vec![h.len()]).unwrap();
                *buffer.memory::<FakeMem>().unwrap().0.lock().unwrap() = flat;
            }
        }
        Ok(result)
    }
}

#[test]
fn residency_moves_data_only_when_needed() {
    let m = module();
    let k = m.kernel("saxpy").unwrap();
    let fake = Arc::new(FakeDevice::default());
    let engine: Arc<dyn Engine> = fake.clone();
    let x = Array::from(vec![1.0f32, 2.0, 3.0]);
    let mut y = Array::from(vec![10.0f32; 3]);

    // First launch on the device: both arrays go up once.
    k.launch_with_engine(&engine, &mut [2.0f32.into(), (&x).into(), (&mut y).into()])
        .unwrap();
    assert_eq!((x.transfers().uploads, y.transfers().uploads), (1, 1));
    let r = y.residency();
    assert!(!r.host, "the kernel wrote y on the device only");
    assert_eq!(r.device, Some((FAKE, true)));

    // Second launch: everything is already there, nothing moves.
    k.launch_with_engine(&engine, &mut [2.0f32.into(), (&x).into(), (&mut y).into()])
        .unwrap();
    assert_eq!(x.transfers().total() + y.transfers().total(), 2);
    assert_eq!(*fake.uploads.lock().unwrap(), 2);

    // Reading on the host syncs back once; the device copy stays valid.
    assert_eq!(y.to_vec().unwrap(), [14.0, 18.0, 22.0]);
    assert_eq!(y.transfers().downloads, 1);
    assert_eq!(y.to_vec().unwrap(), [14.0, 18.0, 22.0]);
    assert_eq!(y.transfers().downloads, 1);
    assert!(y.residency().host && y.residency().valid_on(Some(FAKE)));

    // A CPU launch needs no copy and leaves the device copy stale.
    k.launch_on(
        Backend::Cpu,
        &mut [1.0f32.into(), (&x).into(), (&mut y).into()],
    )
    .unwrap();
    assert_eq!(y.transfers().total(), 2);
    assert_eq!(y.residency().device, Some((FAKE, false)));

    // Back on the device: only y (stale there) goes up again, x does not.
    k.launch_with_engine(&engine, &mut [1.0f32.into(), (&x).into(), (&mut y).into()])
        .unwrap();
    assert_eq!((x.transfers().uploads, y.transfers().uploads), (1, 2));
    assert_eq!(y.to_vec().unwrap(), [16.0, 22.0, 28.0]);
}

#[test]
fn host_slices_still_work_on_a_device_engine() {
    let m = module();
    let k = m.kernel("saxpy").unwrap();
    let engine: Arc<dyn Engine> = Arc::new(FakeDevice::default());
    let x = vec![1.0f32, 2.0];
    let mut y = vec![1.0f32; 2];
    let before = kiln::runtime::device::transfer_totals();
    // Mixed: a managed x with a plain slice y.
    let xa = Array::from(x.clone());
    k.launch_with_engine(&engine, &mut [3.0f32.into(), (&xa).into(), (&mut y).into()])
        .unwrap();
    assert_eq!(y, [4.0, 7.0]);
    let after = kiln::runtime::device::transfer_totals();
    assert!(after.uploads >= before.uploads + 2 && after.downloads > before.downloads);
}

#[test]
fn ndarray_and_slices_convert() {
    let a = ndarray::arr2(&[[1.0f64, 2.0], [3.0, 4.0]]);
    let arr = Array::from(a.clone());
    assert_eq!(arr.shape(), [2, 2]);
    assert_eq!(arr.to_ndarray().unwrap(), a.into_dyn());
    // A transposed view is copied in logical order.
    let t = ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]);
    let at = Array::from_ndarray(t.t());
    assert_eq!(at.to_vec().unwrap(), [1.0, 3.0, 2.0, 4.0]);
    let s: &[i32] = &[1, 2, 3];
    assert_eq!(Array::from(s).to_vec().unwrap(), [1, 2, 3]);
    assert!(Array::from_shape_vec(vec![2, 2], vec![1u32, 2, 3]).is_err());
}

#[test]
fn managed_arrays_are_checked_like_slices() {
    let m = module();
    let k = m.kernel("saxpy").unwrap();
    let x = Array::from(vec![1.0f32; 3]);
    let y = Array::from(vec![1.0f32; 3]);
    // y passed read-only to a `mut` parameter.
    let err = k
        .launch_on(Backend::Cpu, &mut [1.0f32.into(), (&x).into(), (&y).into()])
        .unwrap_err();
    assert!(err.to_string().contains("cannot be written"), "{err}");
    // Wrong element type.
    let xd = Array::from(vec![1.0f64; 3]);
    let mut y2 = Array::from(vec![1.0f32; 3]);
    let err = k
        .launch_on(
            Backend::Cpu,
            &mut [1.0f32.into(), (&xd).into(), (&mut y2).into()],
        )
        .unwrap_err();
    assert!(err.to_string().contains("f64[:]"), "{err}");
}

#[test]
fn auto_runs_tiny_work_serially_and_large_work_on_the_pool() {
    let m = module();
    let k = m.kernel("sum_sq").unwrap();
    let tiny = vec![1.0f64; 100];
    let c = k.choose(&[Arg::from(&tiny)]).unwrap();
    assert_eq!(c.place, Placement::CpuSerial, "{c:?}");
    let (place, r) = k
        .launch_placing(Backend::Auto, &mut [Arg::from(&tiny)])
        .unwrap();
    assert_eq!((place, r), (Placement::CpuSerial, Some(Value::F64(100.0))));
    // A large reduction: the pool, by the model (nothing measured yet at
    // this size), with the predictions behind it.
    let big = vec![1.0f64; 1 << 24];
    let c = k.choose(&[Arg::from(&big)]).unwrap();
    assert_eq!(c.place, Placement::CpuPool, "{c:?}");
    // cpu-serial, cpu-pool, then any GPU present.
    assert!(c.predictions.len() >= 2);
    assert!(c.predictions[1].predicted_s * 2.0 < c.predictions[0].predicted_s);
    assert_eq!(c.work.max_par_iters, (1u64 << 24) as f64);
    let (_, r) = k
        .launch_placing(Backend::Auto, &mut [Arg::from(&big)])
        .unwrap();
    assert_eq!(r, Some(Value::F64((1u64 << 24) as f64)));
}

#[test]
fn forced_absent_backends_fail_and_say_why() {
    let m = module();
    let k = m.kernel("sum_sq").unwrap();
    let x = vec![1.0f64; 4];
    for b in [Backend::Cuda] {
        if kiln::runtime::engines::availability(b).is_ok() {
            continue;
        }
        let err = k.launch_on(b, &mut [Arg::from(&x)]).unwrap_err();
        assert!(matches!(err, Error::BackendUnavailable { .. }), "{err}");
        let err = k
            .launch_placed(Placement::Gpu(b), &mut [Arg::from(&x)])
            .unwrap_err();
        assert!(err.to_string().contains("not available"), "{err}");
        assert!(k.prepare(b).is_err());
    }
    // Auto still runs.
    assert_eq!(
        k.launch_on(Backend::Auto, &mut [Arg::from(&x)]).unwrap(),
        Some(Value::F64(4.0))
    );
}

#[test]
fn calibration_is_cached_on_disk_and_reused() {
    setup();
    let dir = std::env::temp_dir().join(format!("kiln-calib-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (key, first) = calibrate::calibrate_in(&dir, Placement::CpuSerial).unwrap();
    let file = calibrate::cache_file(&dir);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&key), "{text}");
    assert!(first.ops_per_s > 0.0 && first.overhead_s >= 0.0);
    // Plant a recognisable figure: a reload must read it, not re-measure.
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["entries"][&key]["overhead_s"] = serde_json::json!(0.125);
    std::fs::write(&file, v.to_string()).unwrap();
    calibrate::forget(&dir);
    let (_, again) = calibrate::calibrate_in(&dir, Placement::CpuSerial).unwrap();
    assert_eq!(again.overhead_s, 0.125);
    assert_eq!(again.ops_per_s, first.ops_per_s);
    // No temporary file is left behind (writes are rename-atomic).
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_kernel_launched_from_many_threads() {
    let m = module();
    std::thread::scope(|s| {
        for t in 0..6 {
            let m = &m;
            s.spawn(move || {
                let k = m.kernel("saxpy").unwrap();
                let x = vec![1.0f32; 1000 + t];
                let mut y = Array::from(vec![t as f32; 1000 + t]);
                for _ in 0..20 {
                    k.launch_on(
                        Backend::Auto,
                        &mut [1.0f32.into(), (&x).into(), (&mut y).into()],
                    )
                    .unwrap();
                }
                assert!(y.to_vec().unwrap().iter().all(|&v| v == t as f32 + 20.0));
            });
        }
    });
    // A shared read-only array used by all threads at once.
    let x = Array::from(vec![2.0f64; 5000]);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let k = m.kernel("sum_sq").unwrap();
                for _ in 0..10 {
                    let r = k.launch_on(Backend::Auto, &mut [(&x).into()]).unwrap();
                    assert_eq!(r, Some(Value::F64(20000.0)));
                }
            });
        }
    });
}

#[test]
fn launch_async_overlaps_and_keeps_launch_order() {
    let m = module();
    let k = m.kernel("add1").unwrap();
    let mut y = Array::from(vec![0.0f32; 100_000]);
    let first = k
        .launch_async(Backend::Auto, vec![AsyncArg::from(&mut y)])
        .unwrap();
    let second = k
        .launch_async(Backend::Cpu, vec![AsyncArg::from(&mut y)])
        .unwrap();
    // Host work while the launches run.
    let host: f64 = (0..10_000).map(|i| i as f64).sum();
    assert_eq!(host, 49_995_000.0);
    assert_eq!(pollster::block_on(second).unwrap(), None);
    assert_eq!(pollster::block_on(first).unwrap(), None);
    assert!(y.to_vec().unwrap().iter().all(|&v| v == 2.0));
    // Reading waits for pending launches even without awaiting them.
    let s = m.kernel("sum_sq").unwrap();
    let x = Array::from(vec![3.0f64; 10]);
    let f = s.launch_async(Backend::Auto, vec![(&x).into()]).unwrap();
    assert_eq!(x.to_vec().unwrap(), vec![3.0; 10]);
    assert_eq!(pollster::block_on(f).unwrap(), Some(Value::F64(90.0)));
    // Errors arrive through the future.
    let bad = k.launch_async(Backend::Auto, vec![1.0f32.into()]);
    assert!(bad.is_err());
}

/// With a real GPU backend present (wgpu on lavapipe counts), managed
/// arrays stay on the device between launches.
#[test]
fn real_gpu_backends_keep_arrays_resident() {
    let m = module();
    let k = m.kernel("saxpy").unwrap();
    for b in Backend::devices() {
        if kiln::runtime::engines::availability(b).is_err() {
            continue;
        }
        let x = Array::from(vec![1.0f32, 2.0, 3.0, 4.0]);
        let mut y = Array::from(vec![1.0f32; 4]);
        for _ in 0..3 {
            k.launch_on(b, &mut [2.0f32.into(), (&x).into(), (&mut y).into()])
                .unwrap();
        }
        assert_eq!(
            (x.transfers().uploads, y.transfers().uploads),
            (1, 1),
            "{b}"
        );
        assert_eq!(y.transfers().downloads, 0);
        assert_eq!(y.to_vec().unwrap(), [7.0, 13.0, 19.0, 25.0], "{b}");
        assert_eq!(y.transfers().downloads, 1);
    }
}

/// `KILN_LOG=dispatch` prints the choice and its predictions; a forced
/// absent backend is an error naming the reason, not a fallback.
#[test]
fn cli_logs_choices_and_rejects_absent_backends() {
    setup();
    let dir = std::env::var(calibrate::CACHE_DIR_ENV).unwrap();
    let kernel = concat!(env!("CARGO_MANIFEST_DIR"), "/kernels/saxpy.kn");
    let run = |envs: &[(&str, &str)], extra: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"));
        c.args(["run", kernel, "--kernel", "saxpy", "--arg", "a=2"])
            .args(["--arg", "x=rand:1000", "--arg", "y=rand:1000"])
            .args(extra)
            .env(calibrate::CACHE_DIR_ENV, &dir)
            .env_remove("KILN_BACKEND");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = run(&[("KILN_LOG", "dispatch")], &[]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kiln dispatch: saxpy:"), "{err}");
    assert!(err.contains("cpu-serial") && err.contains("->"), "{err}");
    if kiln::runtime::engines::availability(Backend::Cuda).is_err() {
        let out = run(&[], &["--backend", "cuda"]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not available"), "{err}");
        let out = run(&[("KILN_BACKEND", "cuda")], &[]);
        assert_eq!(out.status.code(), Some(1));
    }
}

// ---------------------------------------------------------------------------
// Calibration that learns: whole `kiln` processes on a private cache
// directory with planted figures. The figures are wrong by orders of
// magnitude, so that no load on the machine can make a launch agree with
// them: the assertions are on what was chosen and corrected, never on times.

fn kiln(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .env(calibrate::CACHE_DIR_ENV, dir)
        .env("KILN_LOG", "dispatch")
        .env_remove("KILN_BACKEND")
        .output()
        .unwrap()
}

fn sum_sq_run(dir: &std::path::Path, n: &str, repeat: &str) -> (bool, String) {
    let kernel = concat!(env!("CARGO_MANIFEST_DIR"), "/kernels/sum_sq.kn");
    let x = format!("x=rand:{n}");
    let out = kiln(
        dir,
        &[
            "run", kernel, "--kernel", "sum_sq", "--arg", &x, "--repeat", repeat,
        ],
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CPU entries of `dir`'s file, as the next process reads them.
fn cpu_entries(dir: &std::path::Path) -> Vec<calibrate::Entry> {
    [key(Placement::CpuSerial), key(Placement::CpuPool)]
        .iter()
        .filter_map(|k| {
            calibrate::cached_all(dir)
                .into_iter()
                .find(|(kk, _)| kk == k)
                .map(|(_, e)| e)
        })
        .collect()
}

#[test]
fn figures_far_too_slow_are_corrected_and_written_back() {
    let dir = tempfile::tempdir().unwrap();
    // 100x slower than any CPU JIT: a 2e6-element reduction "takes" 0.8 s.
    let planted = [
        (key(Placement::CpuSerial), fig(1e-3, 1e7, 5e7)),
        (key(Placement::CpuPool), fig(1e-3, 2e7, 1e8)),
    ];
    calibrate::write_figures(dir.path(), &planted).unwrap();
    let (ok, log) = sum_sq_run(dir.path(), "2000000", "8");
    assert!(ok, "{log}");
    assert!(log.contains("correcting cpu-"), "{log}");
    let entries = cpu_entries(dir.path());
    let refined: Vec<_> = entries
        .iter()
        .filter(|e| e.source == calibrate::Source::Refined)
        .collect();
    assert!(!refined.is_empty(), "{entries:?}");
    for e in refined {
        assert!(e.note.contains("sum_sq"), "{e:?}");
        assert!(
            e.figures.ops_per_s >= 1e8 || e.figures.bytes_per_s >= 5e8,
            "not corrected 10x: {e:?}"
        );
    }
}

#[test]
fn figures_far_too_fast_are_corrected_and_written_back() {
    let dir = tempfile::tempdir().unwrap();
    // 1000x faster than any CPU: the reduction "takes" under 5 us.
    let planted = [
        (key(Placement::CpuSerial), fig(1e-9, 1e13, 5e13)),
        (key(Placement::CpuPool), fig(1e-9, 2e13, 1e14)),
    ];
    calibrate::write_figures(dir.path(), &planted).unwrap();
    let (ok, log) = sum_sq_run(dir.path(), "2000000", "8");
    assert!(ok, "{log}");
    assert!(log.contains("correcting cpu-"), "{log}");
    let refined: Vec<_> = cpu_entries(dir.path())
        .into_iter()
        .filter(|e| e.source == calibrate::Source::Refined)
        .collect();
    assert!(!refined.is_empty());
    for e in refined {
        assert!(
            e.figures.ops_per_s <= 1e12 || e.figures.bytes_per_s <= 5e12,
            "not corrected 10x: {e:?}"
        );
    }
}

#[test]
fn corrupt_or_foreign_calibration_files_are_measured_anew() {
    let dir = tempfile::tempdir().unwrap();
    let file = calibrate::cache_file(dir.path());
    for (text, why) in [
        ("{\"version\": 3, \"entries\": {", "not valid JSON"),
        ("{\"version\": 2, \"figures\": {}}", "version 2"),
    ] {
        std::fs::write(&file, text).unwrap();
        let (ok, log) = sum_sq_run(dir.path(), "2000000", "2");
        assert!(ok, "{log}");
        assert!(log.contains(why) && log.contains("measured anew"), "{log}");
        assert!(!log.contains("panicked"), "{log}");
    }
    // `kiln devices` measures them now and writes a file of this version.
    std::fs::write(&file, "garbage").unwrap();
    let out = kiln(dir.path(), &["devices"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("calibrated"), "{stdout}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(v["version"], calibrate::VERSION);
    assert_eq!(cpu_entries(dir.path()).len(), 2);
}

#[test]
fn devices_shows_how_and_when_and_recalibrates() {
    let dir = tempfile::tempdir().unwrap();
    calibrate::write_figures(
        dir.path(),
        &[(key(Placement::CpuSerial), fig(0.125, 1e9, 1e10))],
    )
    .unwrap();
    let out = kiln(dir.path(), &["devices"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let serial = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("cpu-serial"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        serial.contains("125 ms") && serial.contains("given"),
        "{serial}"
    );
    assert!(serial.contains(" UTC"), "{serial}");
    assert!(stdout.contains("auto "), "{stdout}");
    let out = kiln(dir.path(), &["devices", "--recalibrate"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let serial = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("cpu-serial"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        serial.contains("calibrated") && serial.contains("best of"),
        "{serial}"
    );
    assert_ne!(
        cpu_entries(dir.path())[0].figures.overhead_s,
        0.125,
        "re-measured"
    );
}

#[test]
fn tiny_auto_launches_start_no_gpu_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = concat!(env!("CARGO_MANIFEST_DIR"), "/kernels/saxpy.kn");
    let out = kiln(
        dir.path(),
        &[
            "run",
            kernel,
            "--kernel",
            "saxpy",
            "--arg",
            "a=2",
            "--arg",
            "x=rand:1000",
            "--arg",
            "y=rand:1000",
            "--repeat",
            "3",
        ],
    );
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.contains("starting"), "{log}");
    // Nor calibrated: tiny launches need no figures.
    assert!(!calibrate::cache_file(dir.path()).exists(), "{log}");
    // In process too.
    let m = module();
    let k = m.kernel("saxpy").unwrap();
    let x = vec![1.0f32; 100];
    let mut y = vec![1.0f32; 100];
    k.launch_on(
        Backend::Auto,
        &mut [2.0f32.into(), (&x).into(), (&mut y).into()],
    )
    .unwrap();
    assert!(k.started_gpus().is_empty());
}
