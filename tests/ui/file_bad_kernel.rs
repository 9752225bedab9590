// A kernel file with errors: every diagnostic is reported at the path,
// with the file's own line and column.
kiln::kernels!("bad.kn");

fn main() {
    // A kernel whose signature parsed is still generated: no second error.
    let _ = ok(&vec![1.0f32]);
}
