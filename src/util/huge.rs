//! Host vectors backed by transparent huge pages where the system offers
//! them on request (Linux `transparent_hugepage=madvise`, the common
//! default). NumPy asks for them for every array of 4 MiB or more, so
//! Numba's kernels stream from 2 MiB pages; with 4 KiB pages a kernel that
//! streams 80 MB pays a TLB miss every 4 KiB, expensive under a hypervisor
//! (a 2-D page walk): a serial in-place scale of 1e7 doubles took 8.5 ms
//! on 4 KiB pages and 4.6 ms (Numba) on huge pages on the development VM.
//! kiln's own host copies (benchmark inputs, `kiln run` arrays) use this.

/// Arrays below this many bytes keep ordinary pages (NumPy's threshold).
pub const HUGE_MIN_BYTES: usize = 4 << 20;

/// A copy of `data` in memory advised for huge pages when it is large; `None`
/// when the memory cannot be had.
pub fn try_copy<T: Copy>(data: &[T]) -> Option<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(data.len()).ok()?;
    advise(&mut v);
    v.extend_from_slice(data);
    Some(v)
}

/// A copy of `data`, advised like [`try_copy`]; aborts when out of memory,
/// like `to_vec`.
pub fn copy<T: Copy>(data: &[T]) -> Vec<T> {
    let mut v = Vec::with_capacity(data.len());
    advise(&mut v);
    v.extend_from_slice(data);
    v
}

/// Asks for huge pages over the whole 2 MiB pages inside `v`'s capacity,
/// before they are first touched (a page faulted in afterwards is huge when
/// one is free). Best effort: a refusal changes nothing but speed.
fn advise<T>(v: &mut Vec<T>) {
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < HUGE_MIN_BYTES {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 2 << 20;
        let start = v.as_mut_ptr() as usize;
        let first = start.div_ceil(PAGE) * PAGE;
        let end = (start + bytes) / PAGE * PAGE;
        if end > first {
            // SAFETY: the range lies inside this vector's allocation;
            // madvise only changes how its pages are backed.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn copies_are_equal_small_and_large() {
        let small: Vec<u32> = (0..1000).collect();
        assert_eq!(super::copy(&small), small);
        let large: Vec<f64> = (0..(super::HUGE_MIN_BYTES / 8 + 77))
            .map(|i| i as f64)
            .collect();
        assert_eq!(super::copy(&large), large);
        assert_eq!(super::try_copy(&large).unwrap(), large);
    }
}
