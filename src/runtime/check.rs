//! Launch-time argument checking (SPEC section 8), done before any backend
//! sees the arguments: count, kind, element type, rank, shape against data
//! length, aliasing, writability. Every message names the parameter with the
//! expected and the given type.

use super::args::Arg;
use crate::error::{Error, Result};
use crate::inputs::params::{ParamInfo, ParamType};

/// Checks `args` against the kernel's parameters.
pub fn check_args(kernel: &str, params: &[ParamInfo], args: &[Arg]) -> Result<()> {
    let fail = |message: String| Err(Error::argument(kernel, message));
    // An error about argument `k`: its parameter, and the two types when
    // they are what differs.
    let at = |k: usize, types: bool, message: String| {
        Err(Error::Argument {
            kernel: kernel.to_string(),
            index: Some(k),
            param: Some(params[k].name.clone()),
            expected: types.then(|| params[k].ty.to_string()),
            given: types.then(|| args[k].type_name()),
            message: format!("argument {} `{}`: {message}", k + 1, params[k].name),
        })
    };
    if args.len() != params.len() {
        let sig: Vec<String> = params
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect();
        return fail(format!(
            "expected {} argument{} ({}), got {}",
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            sig.join(", "),
            args.len()
        ));
    }
    for (k, (param, arg)) in params.iter().zip(args).enumerate() {
        if let Err((types, message)) = check_one(param, arg) {
            return at(k, types, message);
        }
    }
    if let Some(message) = find_alias(params, args) {
        return fail(message);
    }
    for (k, (param, arg)) in params.iter().zip(args).enumerate() {
        let read_only = matches!(
            arg,
            Arg::Array { .. }
                | Arg::Resident {
                    writable: false,
                    ..
                }
        );
        if param.ty.is_mut_array() && read_only {
            return at(
                k,
                true,
                format!(
                    "expected `{}`, got `{}` (a read-only array cannot be written; pass a mutable slice)",
                    param.ty,
                    arg.type_name()
                ),
            );
        }
    }
    Ok(())
}

/// Kind, element type, rank and shape of one argument (writability is
/// checked after aliasing, see `check_args`): the message, and whether the
/// types differ (else the shape does not fit its data).
fn check_one(param: &ParamInfo, arg: &Arg) -> Result<(), (bool, String)> {
    let mismatch = || {
        Err((
            true,
            format!("expected `{}`, got `{}`", param.ty, arg.type_name()),
        ))
    };
    match (param.ty, arg) {
        (_, Arg::Device { .. } | Arg::DeviceMut { .. }) => Err((
            true,
            format!(
                "got `{}`: a device buffer is an engine-level argument; pass data on a device as a `kiln::Array`",
                arg.type_name()
            ),
        )),
        (ParamType::Scalar(t), Arg::Scalar(v)) => {
            if v.ty() != t {
                return mismatch();
            }
            Ok(())
        }
        (ParamType::Array { elem, rank, .. }, Arg::Array { data, shape }) => {
            if data.elem() != elem || shape.len() != rank as usize {
                return mismatch();
            }
            check_shape(shape, data.len()).map_err(|m| (false, m))
        }
        (ParamType::Array { elem, rank, .. }, Arg::ArrayMut { data, shape }) => {
            if data.elem() != elem || shape.len() != rank as usize {
                return mismatch();
            }
            check_shape(shape, data.len()).map_err(|m| (false, m))
        }
        (ParamType::Array { elem, rank, .. }, Arg::Resident { array, .. }) => {
            let shape = array.shape();
            if array.elem() != elem || shape.len() != rank as usize {
                return mismatch();
            }
            check_shape(&shape, super::array::managed(*array).len()).map_err(|m| (false, m))
        }
        _ => mismatch(),
    }
}

/// The shape must describe exactly the data, and every extent must fit the
/// language's `i64` (`a.shape(d)` and `a.len()` are `i64`).
fn check_shape(shape: &[usize], len: usize) -> Result<(), String> {
    if let Some(&too_big) = shape.iter().find(|&&d| d > i64::MAX as usize) {
        return Err(format!(
            "extent {too_big} of shape {shape:?} does not fit in i64"
        ));
    }
    let product = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match product {
        Some(n) if n == len => Ok(()),
        Some(n) => Err(format!(
            "shape {shape:?} holds {n} element{}, but the data has {len}",
            if n == 1 { "" } else { "s" }
        )),
        None => Err(format!("shape {shape:?} overflows the address space")),
    }
}

/// One array argument's memory: the byte range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Region {
    /// Two empty ranges never conflict: nothing can be written through them.
    pub fn overlaps(self, other: Region) -> bool {
        self.start < self.end
            && other.start < other.end
            && self.start < other.end
            && other.start < self.end
    }
}

fn region(arg: &Arg) -> Option<Region> {
    let (ptr, len, elem) = match arg {
        // Device buffers never reach a checked launch (`check_one`).
        Arg::Scalar(_) | Arg::Device { .. } | Arg::DeviceMut { .. } => return None,
        Arg::Array { data, .. } => (data.as_ptr() as usize, data.len(), data.elem()),
        Arg::ArrayMut { data, .. } => {
            // `as_mut_ptr` needs `&mut`; the address is all we want, so go
            // through a shared reborrow of the slice.
            let (ptr, len) = match data {
                super::args::ArrayDataMut::I32(s) => (s.as_ptr() as usize, s.len()),
                super::args::ArrayDataMut::U32(s) => (s.as_ptr() as usize, s.len()),
                super::args::ArrayDataMut::I64(s) => (s.as_ptr() as usize, s.len()),
                super::args::ArrayDataMut::F32(s) => (s.as_ptr() as usize, s.len()),
                super::args::ArrayDataMut::F64(s) => (s.as_ptr() as usize, s.len()),
            };
            (ptr, len, data.elem())
        }
        // A managed array owns its data: it can only alias itself, so its
        // address stands for its memory.
        Arg::Resident { array, .. } => {
            let start = super::array::managed(*array) as *const _ as usize;
            return Some(Region {
                start,
                end: start + 1,
            });
        }
    };
    Some(Region {
        start: ptr,
        end: ptr + len * elem.size_bytes(),
    })
}

/// The first pair of array arguments that share memory while at least one
/// of their parameters is `mut`, as a message naming both.
fn find_alias(params: &[ParamInfo], args: &[Arg]) -> Option<String> {
    // Launches have a handful of arguments: a quadratic scan without
    // allocation is cheaper than sorting.
    let (i, j) = (0..args.len()).find_map(|i| {
        let a = region(&args[i])?;
        (i + 1..args.len())
            .find(|&j| {
                let writer = params[i].ty.is_mut_array() || params[j].ty.is_mut_array();
                writer && region(&args[j]).is_some_and(|b| a.overlaps(b))
            })
            .map(|j| (i, j))
    })?;
    let written: Vec<&str> = [i, j]
        .iter()
        .filter(|&&k| params[k].ty.is_mut_array())
        .map(|&k| params[k].name.as_str())
        .collect();
    Some(format!(
        "arguments {} `{}` and {} `{}` share memory, and `{}` is written by the kernel (aliasing is not allowed; pass separate arrays)",
        i + 1,
        params[i].name,
        j + 1,
        params[j].name,
        written.join("` and `")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_half_open() {
        let a = Region { start: 0, end: 16 };
        assert!(a.overlaps(Region { start: 8, end: 24 }));
        assert!(a.overlaps(Region { start: 4, end: 8 }));
        // Touching ranges do not overlap.
        assert!(!a.overlaps(Region { start: 16, end: 32 }));
    }

    #[test]
    fn empty_ranges_never_alias() {
        assert!(!Region { start: 8, end: 8 }.overlaps(Region { start: 0, end: 16 }));
    }
}
