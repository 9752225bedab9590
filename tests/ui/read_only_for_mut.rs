// A `mut` array parameter needs a mutable borrow, and a scalar its type.
kiln::kernels! {
    kernel fill(y: mut i32[:], v: i32) {
        for i in prange(0..y.len()) { y[i] = v; }
    }
}

fn main() {
    let y = vec![0i32; 4];
    let _ = fill(&y, 1);
    let mut z = vec![0i32; 4];
    let _ = fill(&mut z, 1.5);
}
