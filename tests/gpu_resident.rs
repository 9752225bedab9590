//! Resident launches on every GPU backend present (issue 14 item 1): a
//! kernel launched first with host arrays, then with managed `kiln::Array`s
//! that stay on the device, then with host arrays again, must bind the
//! right buffers every time (no stale reads of an earlier launch's buffer,
//! no lost writes), and must not copy resident arrays again. Runs on wgpu
//! here (lavapipe) and on cuda where a GPU is present; a backend that is
//! absent skips, unless `KILN_REQUIRE` names it.

use kiln::{Arg, Array, Backend, Error, Module};

const SOURCE: &str = "kernel add1(x: f32[:], y: mut f32[:]) {
    for i in prange(0..y.len()) { y[i] = x[i] + 1.0; }
}";

fn required(backend: Backend) -> bool {
    std::env::var("KILN_REQUIRE").is_ok_and(|l| l.split(',').any(|b| b.trim() == backend.name()))
}

fn check(backend: Backend) {
    let module = Module::from_source("resident.kn", SOURCE).unwrap();
    let kernel = module.kernel("add1").unwrap();
    let n = 5000;
    // 1. Host arrays: the kernel's own buffers.
    let x = vec![1.0f32; n];
    let mut y = vec![0.0f32; n];
    match kernel.launch_on(backend, &mut [Arg::from(&x), Arg::from(&mut y)]) {
        Err(Error::BackendUnavailable { reason, .. }) => {
            assert!(!required(backend), "{backend} is required: {reason}");
            eprintln!("skipping {backend}: {reason}");
            return;
        }
        other => other.unwrap(),
    };
    assert!(y.iter().all(|&v| v == 2.0), "host launch on {backend}");
    // 2. Managed arrays, moved to the device by this launch.
    let xa = Array::from(vec![10.0f32; n]);
    let mut ya = Array::from(vec![0.0f32; n]);
    kernel
        .launch_on(backend, &mut [(&xa).into(), (&mut ya).into()])
        .unwrap();
    // 3. Again, now resident: chained through a second managed output.
    let mut za = Array::from(vec![0.0f32; n]);
    kernel
        .launch_on(backend, &mut [(&ya).into(), (&mut za).into()])
        .unwrap();
    let uploads_before = xa.transfers().uploads + ya.transfers().uploads;
    kernel
        .launch_on(backend, &mut [(&xa).into(), (&mut ya).into()])
        .unwrap();
    assert_eq!(
        xa.transfers().uploads + ya.transfers().uploads,
        uploads_before,
        "resident arrays are not copied again on {backend}"
    );
    // 4. Host arrays once more, after resident launches.
    let x2 = vec![100.0f32; n];
    let mut y2 = vec![0.0f32; n];
    kernel
        .launch_on(backend, &mut [Arg::from(&x2), Arg::from(&mut y2)])
        .unwrap();
    assert!(
        y2.iter().all(|&v| v == 101.0),
        "host launch after resident ones on {backend}"
    );
    assert!(ya.to_vec().unwrap().iter().all(|&v| v == 11.0), "{backend}");
    assert!(za.to_vec().unwrap().iter().all(|&v| v == 12.0), "{backend}");
    assert!(xa.to_vec().unwrap().iter().all(|&v| v == 10.0), "{backend}");
}

#[test]
fn wgpu_binds_resident_arrays() {
    check(Backend::Wgpu);
}

#[test]
fn cuda_binds_resident_arrays() {
    check(Backend::Cuda);
}
