//! Array expressions: NumPy-style arithmetic on `kiln::Array`s, lazily
//! built and evaluated as ONE fused kernel per expression (docs/expr.md).
//!
//! `cargo run --example expr` (`KILN_LOG=fusion` prints each generated
//! kernel once).

use kiln::Array;

fn main() -> kiln::Result<()> {
    let n = 1_000_000;
    let x = Array::from((0..n).map(|i| i as f32 / n as f32).collect::<Vec<_>>());
    let mut y = Array::from(vec![1.0f32; n]);

    // Building does nothing; `assign` runs one kernel that reads x and y
    // once and writes y in place.
    let a = 2.0f32;
    y.assign(&y * a + &x)?;

    // Elementwise math, comparisons and select, fused with a reduction.
    let clipped = kiln::select(x.gt(0.5f32), x.sqrt(), -&x);
    println!("sum of clipped = {:.3}", clipped.sum()?);

    // A norm: one kernel, no temporaries.
    let norm = ((&y - &x) * (&y - &x)).sum()?.sqrt();
    println!("|y - x| = {norm:.3}");

    // Broadcasting: a row against a matrix, then a reduction per column.
    let m =
        Array::from_shape_vec(vec![2, 3], vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]).map_err(|e| {
            kiln::Error::Usage {
                message: e.to_string(),
            }
        })?;
    let row = Array::from(vec![0.5f64, 1.0, 1.5]);
    let centred = (&m - &row).eval()?;
    println!(
        "centred = {:?}, column sums = {:?}",
        centred.to_vec()?,
        centred.sum_axis(0)?.to_vec()?
    );

    // The kernel that fusion generated for an expression.
    println!("{}", (&x * a + 1.0f32).tanh().kernel_source()?);
    Ok(())
}
