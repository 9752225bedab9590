// The element type of an array argument is checked by rustc.
kiln::kernels! {
    kernel saxpy(a: f32, x: f32[:], y: mut f32[:]) {
        for i in prange(0..y.len()) { y[i] = a * x[i] + y[i]; }
    }
}

fn main() {
    let x = vec![1.0f64; 4];
    let mut y = vec![0.0f32; 4];
    let _ = saxpy(2.0, &x, &mut y);
}
