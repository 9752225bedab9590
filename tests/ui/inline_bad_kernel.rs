// Two independent errors in an inline kernel: both are reported, each at
// its own tokens, with kiln's message, caret and hint.
kiln::kernels! {
    kernel bad(x: f32[:], y: mut f32[:]) -> f32 {
        for i in prange(0..y.len()) {
            y[i] = x[i] + 1.0f64;
        }
        let n = undefined_name;
    }
}

fn main() {}
