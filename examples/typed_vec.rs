//! Typed kernels on `Vec`s and slices: `kiln::kernels!` reads kernel files
//! at build time and generates one Rust function per kernel
//! (docs/typed.md).
//!
//! `cargo run --example typed_vec`

kiln::kernels!("kernels/saxpy.kn"); // saxpy(a: f32, x: f32[:], y: mut f32[:])
kiln::kernels!("kernels/dot.kn"); // dot(x: f64[:], y: f64[:]) -> f64

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = 1_000;
    let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let mut y = vec![1.0f32; n];

    // `Backend::Auto` picks the device; the kernel is checked and compiled
    // on the first call only.
    saxpy(2.0, &x, &mut y)?;
    assert_eq!(y[10], 21.0);

    // Slices work too, and `_on` forces a backend.
    saxpy_on(kiln::Backend::Interp, 1.0, &x[..10], &mut y[..10])?;
    assert_eq!(y[9], 28.0);

    let a: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let d: f64 = dot(&a, &a)?;
    println!("saxpy: y[10] = {}; dot(a, a) = {d}", y[10]);
    assert_eq!(d, (0..n).map(|i| (i * i) as f64).sum::<f64>());
    Ok(())
}
