// ndarray's fixed dimensions are checked by rustc against the kernel's rank.
use kiln::ndarray::Array2;

kiln::kernels! {
    kernel total(x: f32[:]) -> f32 {
        let mut s = 0.0f32;
        for i in prange(0..x.len()) { s += x[i]; }
        return s;
    }
}

fn main() {
    let m = Array2::<f32>::zeros((2, 2));
    let _ = total(&m);
}
