//! Asynchronous typed launches: `k_async` starts a kernel on a background
//! thread and returns a future of its result. Arrays are `kiln::Array`s
//! shared with the launch: the host goes on working, and reading an array
//! (or launching on it again) waits for the launches that write it, in
//! call order.
//!
//! `cargo run --example typed_async`

use kiln::{Array, Backend};

kiln::kernels!("kernels/saxpy.kn"); // saxpy(a: f32, x: f32[:], y: mut f32[:])
kiln::kernels!("kernels/dot.kn"); // dot(x: f64[:], y: f64[:]) -> f64

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = 100_000;
    let x = Array::from(vec![1.0f32; n]);
    let mut y = Array::from(vec![0.0f32; n]);
    let a = Array::from((0..n).map(|i| i as f64).collect::<Vec<_>>());

    // Two launches on `y`, queued in call order, and an independent one.
    let first = saxpy_async(Backend::Auto, 2.0, &x, &mut y)?;
    let second = saxpy_async(Backend::Auto, 3.0, &x, &mut y)?;
    let d = dot_async(Backend::Auto, &a, &a)?;
    println!("three launches started; the host is free meanwhile");

    // `.wait()` blocks; inside an async runtime, `.await` the same values.
    first.wait()?;
    let d: f64 = d.wait()?;
    second.wait()?;
    // Reading waits for every launch writing `y` (already done here).
    assert!(y.to_vec()?.iter().all(|&v| v == 5.0));
    println!("y = 2x + 3x = 5 everywhere; dot(a, a) = {d}");

    // The futures are ordinary `Future`s: any executor can drive them.
    let r = pollster_like_block_on(dot_async(Backend::Auto, &a, &a)?)?;
    assert_eq!(r, d);
    Ok(())
}

/// A minimal executor, to show that `Pending` is a plain `Future`.
fn pollster_like_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
