//! Where the rows of a distributed array live.
//!
//! Every rank holds a buffer of the array's full (global) size, so a kernel's
//! indices and bounds checks are the one-process ones; only the rows a rank
//! owns (a block of the first axis) plus the rows it fetched are ever
//! written, and pages never touched are never committed by the operating
//! system (the buffers are allocated zeroed), so a rank's memory is its
//! block. Every rank tracks, identically, which rows each rank holds valid:
//! the owner always holds its rows; others hold halos and gathered copies
//! until a `prange` writes the array.

use super::comm::{Comm, Transfer, MAX_MESSAGE};
use crate::ir::ScalarType;

/// Rows `[lo, hi)` of the first axis.
pub(crate) type Rows = (usize, usize);

/// The block of `rows` rows rank `p` of `parts` owns.
pub(crate) fn owned(rows: usize, parts: usize, p: usize) -> Rows {
    let at = |k: usize| ((rows as u128 * k as u128) / parts.max(1) as u128) as usize;
    (at(p), at(p + 1))
}

/// The rank owning row `r` (rows past either end go to the first or last rank).
#[cfg(test)]
pub(crate) fn owner(rows: usize, parts: usize, r: i128) -> usize {
    if r < 0 || rows == 0 {
        return 0;
    }
    let r = (r as u128).min(rows as u128 - 1) as usize;
    // The largest p with owned(p).0 <= r.
    let mut p = ((r as u128 * parts as u128) / rows as u128) as usize;
    p = p.min(parts - 1);
    while p + 1 < parts && owned(rows, parts, p + 1).0 <= r {
        p += 1;
    }
    while p > 0 && owned(rows, parts, p).0 > r {
        p -= 1;
    }
    p
}

fn is_empty(r: Rows) -> bool {
    r.1 <= r.0
}

/// `a` minus `b`: up to two intervals.
fn minus(a: Rows, b: Rows) -> Vec<Rows> {
    if is_empty(a) {
        return vec![];
    }
    if is_empty(b) || b.1 <= a.0 || b.0 >= a.1 {
        return vec![a];
    }
    let mut out = vec![];
    if a.0 < b.0 {
        out.push((a.0, b.0));
    }
    if b.1 < a.1 {
        out.push((b.1, a.1));
    }
    out
}

/// One array's buffer on this rank and the validity of every rank's copy.
pub(crate) struct Layout {
    pub ptr: *mut u8,
    pub elem: ScalarType,
    pub shape: Vec<usize>,
    /// Elements per row (product of the shape after the first axis).
    pub row_elems: usize,
    /// Rows each rank holds valid (one interval per rank, containing its
    /// own block except before the first scatter).
    pub valid: Vec<Rows>,
}

impl Layout {
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }
    pub fn elem_size(&self) -> usize {
        self.elem.size_bytes()
    }
    pub fn row_bytes(&self) -> usize {
        self.row_elems * self.elem_size()
    }
    pub fn bytes(&self) -> usize {
        self.rows() * self.row_bytes()
    }
    pub fn owned(&self, parts: usize, p: usize) -> Rows {
        owned(self.rows(), parts, p)
    }
    pub fn all(&self) -> Rows {
        (0, self.rows())
    }
    pub fn replicated(&self) -> bool {
        self.valid.iter().all(|&v| v == self.all())
    }

    /// Makes `need[q]` valid on every rank `q`, fetching each missing row
    /// from its owner (or from rank 0 when `from_root`: the first scatter).
    pub fn fetch(&mut self, comm: &Comm, need: &[Rows], from_root: bool) {
        let parts = comm.size();
        let rb = self.row_bytes();
        let mut list = Vec::new();
        if rb > 0 {
            for (q, &n) in need.iter().enumerate() {
                let n = (n.0.min(self.rows()), n.1.min(self.rows()));
                for gap in minus(n, self.valid[q]) {
                    let sources: Vec<(usize, Rows)> = if from_root {
                        vec![(0, gap)]
                    } else {
                        (0..parts)
                            .map(|p| {
                                let o = self.owned(parts, p);
                                (p, (gap.0.max(o.0), gap.1.min(o.1)))
                            })
                            .filter(|(_, r)| !is_empty(*r))
                            .collect()
                    };
                    for (p, r) in sources {
                        if p == q {
                            continue;
                        }
                        let per = MAX_MESSAGE.checked_div(rb).unwrap_or(1).max(1);
                        let mut lo = r.0;
                        while lo < r.1 {
                            let hi = (lo + per).min(r.1);
                            // SAFETY: inside this rank's full-size buffer.
                            let at = unsafe { self.ptr.add(lo * rb) };
                            list.push(Transfer {
                                from: p,
                                to: q,
                                src: at,
                                dst: at,
                                len: (hi - lo) * rb,
                            });
                            lo = hi;
                        }
                    }
                }
            }
        }
        // SAFETY: every range lies in the buffer; a rank receives only rows
        // it does not hold valid and sends only rows it holds (its own).
        unsafe { comm.exchange(&list) };
        for (q, &n) in need.iter().enumerate() {
            let n = (n.0.min(self.rows()), n.1.min(self.rows()));
            let v = self.valid[q];
            if is_empty(n) {
                continue;
            }
            if is_empty(v) {
                self.valid[q] = n;
            } else if n.0 <= v.1 && v.0 <= n.1 {
                self.valid[q] = (n.0.min(v.0), n.1.max(v.1));
            }
        }
    }

    /// Makes the whole array valid on every rank.
    pub fn replicate(&mut self, comm: &Comm) {
        if !self.replicated() {
            let need = vec![self.all(); comm.size()];
            self.fetch(comm, &need, false);
        }
    }

    /// Makes the whole array valid on rank 0.
    pub fn gather_to_root(&mut self, comm: &Comm) {
        let mut need = vec![(0, 0); comm.size()];
        need[0] = self.all();
        self.fetch(comm, &need, false);
    }

    /// After a write by the owners: only owners hold valid rows.
    pub fn written(&mut self, parts: usize) {
        for q in 0..parts {
            self.valid[q] = self.owned(parts, q);
        }
    }

    /// Validity of a buffer that only rank 0 filled.
    pub fn on_root(rows: usize, parts: usize) -> Vec<Rows> {
        let mut v = vec![(0, 0); parts];
        v[0] = (0, rows);
        v
    }

    /// Validity of buffers each rank filled with its own block.
    pub fn blocks(rows: usize, parts: usize) -> Vec<Rows> {
        (0..parts).map(|p| owned(rows, parts, p)).collect()
    }

    /// Spreads rank 0's rows: each rank gets its block (or everything when
    /// `whole`).
    pub fn scatter(&mut self, comm: &Comm, whole: bool) {
        let parts = comm.size();
        let need: Vec<Rows> = (0..parts)
            .map(|q| {
                if whole {
                    self.all()
                } else {
                    self.owned(parts, q)
                }
            })
            .collect();
        self.fetch(comm, &need, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_rows_and_owner_inverts_them() {
        for rows in [0usize, 1, 2, 3, 7, 10, 1000] {
            for parts in 1..6 {
                let mut next = 0;
                for p in 0..parts {
                    let (lo, hi) = owned(rows, parts, p);
                    assert_eq!(lo, next);
                    next = hi;
                    for r in lo..hi {
                        assert_eq!(owner(rows, parts, r as i128), p);
                    }
                }
                assert_eq!(next, rows);
            }
        }
        assert_eq!(minus((0, 10), (3, 5)), vec![(0, 3), (5, 10)]);
        assert_eq!(minus((0, 10), (0, 10)), vec![]);
    }
}
