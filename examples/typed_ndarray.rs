//! Typed kernels on ndarray arrays and views: a 2-D parameter takes an
//! `Array2` (its rank is checked by rustc), a view, or an `ArrayD` (its
//! rank is checked at launch). `kiln::ndarray` is the ndarray kiln is built
//! with.
//!
//! `cargo run --example typed_ndarray`

use kiln::ndarray::{s, Array2};

kiln::kernels!("kernels/matmul.kn"); // matmul(a: f32[:, :], b: f32[:, :], c: mut f32[:, :])
kiln::kernels!("kernels/softmax_rows.kn"); // softmax_rows(x: f32[:, :], out: mut f32[:, :])

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Array2::from_shape_fn((4, 3), |(i, j)| (i + j) as f32);
    let b = Array2::from_shape_fn((3, 2), |(i, j)| (i * 2 + j) as f32);
    let mut c = Array2::<f32>::zeros((4, 2));
    matmul(&a, &b, &mut c)?;
    assert_eq!(c, a.dot(&b));
    println!("a * b =\n{c}");

    // Views: the rows 1..3 of `a` times `b`, into the top half of a 4x2.
    let mut top = Array2::<f32>::zeros((4, 2));
    matmul(a.slice(s![1..3, ..]), b.view(), top.slice_mut(s![..2, ..]))?;
    assert_eq!(top.slice(s![..2, ..]), c.slice(s![1..3, ..]));

    // A view that is not row-major contiguous is an error, not a copy.
    let e = matmul(b.t(), a.t(), &mut Array2::<f32>::zeros((2, 4))).unwrap_err();
    println!("transposed views: {e}");
    matmul(
        &b.t().as_standard_layout(),
        &a.t().as_standard_layout(),
        &mut Array2::<f32>::zeros((2, 4)),
    )?;

    let x = Array2::from_shape_fn((3, 256), |(i, j)| ((i * 7 + j) % 11) as f32);
    let mut p = Array2::<f32>::zeros((3, 256));
    softmax_rows(&x, &mut p)?;
    for row in p.rows() {
        assert!((row.sum() - 1.0).abs() < 1e-4);
    }
    println!("softmax rows sum to 1");
    Ok(())
}
