//! NumPy broadcasting, for the ranks the language has (1 to 3): shapes are
//! aligned on their last axis; along each axis the sizes are equal or one
//! of them is 1 (that operand is repeated). So a 1-D array of length `n`
//! is a row against an `(m, n)` matrix and an `(m, 1)` array a column.

use crate::error::{Error, Result};

/// The error for shapes that do not broadcast: it names both.
pub fn mismatch(what: &str, a: &[usize], b: &[usize]) -> Error {
    Error::Expr {
        message: format!("{what}: shapes {a:?} and {b:?} do not broadcast together"),
    }
}

/// The shape `a` and `b` broadcast to.
pub fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for k in 0..rank {
        // Axis k counted from the end; a missing axis has size 1.
        let da = if k < a.len() { a[a.len() - 1 - k] } else { 1 };
        let db = if k < b.len() { b[b.len() - 1 - k] } else { 1 };
        out[rank - 1 - k] = match (da, db) {
            _ if da == db => da,
            (1, d) | (d, 1) => d,
            _ => return Err(mismatch("operands", a, b)),
        };
    }
    Ok(out)
}

/// How an operand of shape `leaf` is indexed inside a loop over `out`:
/// per axis of `leaf`, the loop variable of the output axis it follows, or
/// `None` where it is repeated (size 1 against a larger output).
pub fn index_map(leaf: &[usize], out: &[usize]) -> Vec<Option<usize>> {
    let skip = out.len() - leaf.len();
    leaf.iter()
        .enumerate()
        .map(|(k, &d)| (d == out[skip + k]).then_some(skip + k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasts_like_numpy() {
        assert_eq!(broadcast(&[3, 4], &[4]).unwrap(), [3, 4]);
        assert_eq!(broadcast(&[3, 1], &[4]).unwrap(), [3, 4]);
        assert_eq!(broadcast(&[3, 1], &[1, 4]).unwrap(), [3, 4]);
        assert_eq!(broadcast(&[2, 3, 4], &[3, 1]).unwrap(), [2, 3, 4]);
        assert_eq!(broadcast(&[5], &[5]).unwrap(), [5]);
        let e = broadcast(&[3, 4], &[3]).unwrap_err().to_string();
        assert!(e.contains("[3, 4]") && e.contains("[3]"), "{e}");
    }

    #[test]
    fn index_maps_follow_the_output_axes() {
        assert_eq!(index_map(&[4], &[3, 4]), [Some(1)]);
        assert_eq!(index_map(&[3, 1], &[3, 4]), [Some(0), None]);
        assert_eq!(index_map(&[3, 4], &[3, 4]), [Some(0), Some(1)]);
        assert_eq!(index_map(&[1], &[1]), [Some(0)]);
    }
}
