//! NumPy `.npy` files (through `npyz`): reading any array kiln can hold
//! (`int32 uint32 int64 float32 float64`, either byte order, 1 to 3
//! dimensions, C or Fortran order, converted to row-major) and writing
//! arrays back (little-endian, C order).

use super::host::{each, HostArray, HostData};
use super::params::{ParamInfo, ParamType};
use crate::error::{Error, Result};
use crate::ir::ScalarType;
use npyz::{DType, NpyFile, NpyHeader, Order, TypeChar, WriterBuilder};
use std::io::{self, Read as _, Write};
use std::path::Path;

/// What a `.npy` header says, before the data is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyInfo {
    /// NumPy's name for the dtype: `float64`, `int16`, `bool`, …
    pub dtype: String,
    /// The kiln element type, when kiln arrays can hold the dtype.
    pub elem: Option<ScalarType>,
    /// The shape.
    pub shape: Vec<usize>,
}

impl NpyInfo {
    /// `float64 with 2 dimensions`
    pub fn describe(&self) -> String {
        let n = self.shape.len();
        format!(
            "{} with {n} dimension{}",
            self.dtype,
            if n == 1 { "" } else { "s" }
        )
    }
}

fn invalid(path: &str, message: impl Into<String>) -> Error {
    Error::Io {
        path: path.to_string(),
        error: io::Error::new(io::ErrorKind::InvalidData, message.into()),
    }
}

/// NumPy's name for a plain dtype, and the kiln element type if any.
fn dtype_of(dtype: &DType) -> (String, Option<ScalarType>) {
    let DType::Plain(ts) = dtype else {
        return ("a structured dtype".to_string(), None);
    };
    let bytes = ts.size_field();
    let (name, elem) = match (ts.type_char(), bytes) {
        (TypeChar::Int, 4) => ("int32".to_string(), Some(ScalarType::I32)),
        (TypeChar::Uint, 4) => ("uint32".to_string(), Some(ScalarType::U32)),
        (TypeChar::Int, 8) => ("int64".to_string(), Some(ScalarType::I64)),
        (TypeChar::Float, 4) => ("float32".to_string(), Some(ScalarType::F32)),
        (TypeChar::Float, 8) => ("float64".to_string(), Some(ScalarType::F64)),
        (TypeChar::Int, b) => (format!("int{}", b * 8), None),
        (TypeChar::Uint, b) => (format!("uint{}", b * 8), None),
        (TypeChar::Float, b) => (format!("float{}", b * 8), None),
        (TypeChar::Bool, _) => ("bool".to_string(), None),
        (TypeChar::Complex, b) => (format!("complex{}", b * 8), None),
        _ => (format!("dtype `{ts}`"), None),
    };
    (name, elem)
}

/// The NumPy dtype name of a kiln element type.
pub fn numpy_name(elem: ScalarType) -> &'static str {
    match elem {
        ScalarType::Bool => "bool",
        ScalarType::I32 => "int32",
        ScalarType::U32 => "uint32",
        ScalarType::I64 => "int64",
        ScalarType::F32 => "float32",
        ScalarType::F64 => "float64",
    }
}

/// Reads any array kiln can hold. Errors name the file.
pub fn read(path: impl AsRef<Path>) -> Result<HostArray> {
    read_checked(path.as_ref(), |_| Ok(()))
}

/// Reads the array for parameter `param`: its dtype and rank must match the
/// parameter's (an error names both, e.g. "x.npy holds float64 with 2
/// dimensions, parameter `x` is `f32[:]`").
pub fn read_for(path: impl AsRef<Path>, param: &ParamInfo) -> Result<HostArray> {
    let shown = path.as_ref().display().to_string();
    read_checked(path.as_ref(), |info| match param.ty {
        ParamType::Array { elem, rank, .. }
            if info.elem == Some(elem) && info.shape.len() == rank as usize =>
        {
            Ok(())
        }
        _ => Err(invalid(
            &shown,
            format!(
                "holds {}, parameter `{}` is `{}`",
                info.describe(),
                param.name,
                param.ty
            ),
        )),
    })
}

fn read_checked(path: &Path, accept: impl FnOnce(&NpyInfo) -> Result<()>) -> Result<HostArray> {
    let shown = path.display().to_string();
    let io = |error| Error::Io {
        path: shown.clone(),
        error,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    // The header first, kept byte for byte: it says how many data bytes
    // follow, and no more than those are read. A file that is not `.npy`
    // (`/dev/zero`, a text file) is refused after a few bytes, and a header
    // declaring more data than memory holds is refused before any is read.
    let mut head = Keep {
        inner: io::BufReader::new(file),
        kept: Vec::new(),
    };
    let header = NpyHeader::from_reader(&mut head)
        .map_err(|e| invalid(&shown, format!("not a valid .npy file: {e}")))?;
    let elems = header
        .shape()
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d));
    let data_len = elems
        .zip(header.dtype().num_bytes())
        .and_then(|(n, b)| n.checked_mul(b as u64))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| invalid(&shown, "declares more data than this machine can address"))?;
    let Keep {
        inner,
        kept: mut bytes,
    } = head;
    bytes.try_reserve_exact(data_len).map_err(|_| {
        invalid(
            &shown,
            format!("declares {data_len} bytes of data: not enough memory to read them"),
        )
    })?;
    // One byte more than declared, so that a longer file is still refused
    // by the parser as before.
    io::Read::take(inner, data_len as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    parse_checked(&bytes, &shown, accept)
}

/// A reader that keeps a copy of what it reads (the `.npy` header).
struct Keep<R> {
    inner: R,
    kept: Vec<u8>,
}

impl<R: io::Read> io::Read for Keep<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.kept.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// Reads an array from the bytes of a `.npy` file; `name` is the file name
/// errors print.
pub fn read_bytes(bytes: &[u8], name: &str) -> Result<HostArray> {
    parse_checked(bytes, name, |_| Ok(()))
}

fn parse_checked(
    bytes: &[u8],
    shown: &str,
    accept: impl FnOnce(&NpyInfo) -> Result<()>,
) -> Result<HostArray> {
    let shown = shown.to_string();
    let mut data_bytes = bytes;
    let header = NpyHeader::from_reader(&mut data_bytes)
        .map_err(|e| invalid(&shown, format!("not a valid .npy file: {e}")))?;
    let npy = NpyFile::with_header(header, data_bytes);
    if npy.uses_pickled_array() {
        return Err(invalid(
            &shown,
            "holds Python objects (a pickled array), not numbers",
        ));
    }
    let (dtype, elem) = dtype_of(&npy.dtype());
    let shape: Vec<usize> = npy
        .shape()
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| invalid(&shown, "an extent of the shape is too large"))
        })
        .collect::<Result<_>>()?;
    let info = NpyInfo { dtype, elem, shape };
    accept(&info)?;
    let Some(elem) = info.elem else {
        return Err(invalid(
            &shown,
            format!(
                "holds {}; kiln arrays hold int32, uint32, int64, float32 or float64",
                info.dtype
            ),
        ));
    };
    if !(1..=3).contains(&info.shape.len()) {
        return Err(invalid(
            &shown,
            format!("holds {}; kiln arrays have 1 to 3", info.describe()),
        ));
    }
    // The header's shape must fit in the file: a corrupt header must not
    // make us allocate a huge vector before finding out.
    let count = info.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    match count.and_then(|n| n.checked_mul(elem.size_bytes())) {
        Some(needed) if needed <= data_bytes.len() => {}
        _ => {
            return Err(invalid(
                &shown,
                format!("the data is shorter than its shape {:?} says", info.shape),
            ))
        }
    }
    let order = npy.order();
    let truncated = |e: io::Error| invalid(&shown, format!("cannot read the data: {e}"));
    let data = match elem {
        ScalarType::I32 => HostData::I32(npy.into_vec().map_err(truncated)?),
        ScalarType::U32 => HostData::U32(npy.into_vec().map_err(truncated)?),
        ScalarType::I64 => HostData::I64(npy.into_vec().map_err(truncated)?),
        ScalarType::F32 => HostData::F32(npy.into_vec().map_err(truncated)?),
        ScalarType::F64 => HostData::F64(npy.into_vec().map_err(truncated)?),
        ScalarType::Bool => return Err(invalid(&shown, "kiln arrays cannot hold bool")),
    };
    let data = if order == Order::Fortran && info.shape.len() > 1 {
        each!(data, v => HostData::from(fortran_to_c(&v, &info.shape)))
    } else {
        data
    };
    HostArray::new(data, info.shape).map_err(|e| invalid(&shown, e.to_string()))
}

/// Reorders column-major (first index fastest) data to row-major.
pub fn fortran_to_c<T: Copy>(data: &[T], shape: &[usize]) -> Vec<T> {
    let rank = shape.len();
    // Column-major strides: stride[0] = 1, stride[d] = stride[d-1] * shape[d-1].
    let mut strides = vec![1usize; rank];
    for d in 1..rank {
        strides[d] = strides[d - 1] * shape[d - 1];
    }
    let mut out = Vec::with_capacity(data.len());
    let mut index = vec![0usize; rank];
    for _ in 0..data.len() {
        let offset: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
        out.push(data[offset]);
        // Advance the row-major counter: last dimension fastest.
        for d in (0..rank).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    out
}

/// Writes `array` as a little-endian, C-order `.npy` file, atomically
/// (`util::write_atomic_with`: the old file stays whole if writing fails).
pub fn write(path: impl AsRef<Path>, array: &HostArray) -> Result<()> {
    Ok(crate::util::write_atomic_with(path, |out| {
        write_to(out, array)
    })?)
}

/// Writes `array` in `.npy` format to `out` (for callers that stage several
/// files, such as `kiln run --out`).
pub fn write_to(out: &mut dyn Write, array: &HostArray) -> io::Result<()> {
    let shape: Vec<u64> = array.shape().iter().map(|&d| d as u64).collect();
    each!(array.data(), v => write_typed(out, &shape, v))
}

fn write_typed<T: npyz::AutoSerialize + Copy, W: Write>(
    out: W,
    shape: &[u64],
    data: &[T],
) -> io::Result<()> {
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(out)
        .begin_nd()?;
    writer.extend(data.iter().copied())?;
    writer.finish()
}

macro_rules! host_data_from {
    ($t:ty, $v:ident) => {
        impl From<Vec<$t>> for HostData {
            fn from(v: Vec<$t>) -> HostData {
                HostData::$v(v)
            }
        }
    };
}
host_data_from!(i32, I32);
host_data_from!(u32, U32);
host_data_from!(i64, I64);
host_data_from!(f32, F32);
host_data_from!(f64, F64);

#[cfg(test)]
mod tests {
    use super::*;

    fn npy_bytes<T: npyz::Serialize + Copy>(
        descr: &str,
        shape: &[u64],
        order: Order,
        data: &[T],
    ) -> Vec<u8> {
        let dtype = DType::Plain(descr.parse().unwrap());
        let mut out = Vec::new();
        let mut w = npyz::WriteOptions::<T>::new()
            .dtype(dtype)
            .shape(shape)
            .order(order)
            .writer(&mut out)
            .begin_nd()
            .unwrap();
        w.extend(data.iter().copied()).unwrap();
        w.finish().unwrap();
        out
    }

    #[test]
    fn reads_both_byte_orders_and_every_element_type() {
        let be = npy_bytes(">f8", &[3], Order::C, &[1.5f64, -2.0, 3.25]);
        let a = read_bytes(&be, "be.npy").unwrap();
        assert_eq!(a.as_slice::<f64>().unwrap(), &[1.5, -2.0, 3.25]);
        let a = read_bytes(&npy_bytes(">i4", &[2], Order::C, &[-7i32, 9]), "i.npy").unwrap();
        assert_eq!(a.as_slice::<i32>().unwrap(), &[-7, 9]);
        let a = read_bytes(&npy_bytes("<u4", &[1], Order::C, &[u32::MAX]), "u.npy").unwrap();
        assert_eq!(a.as_slice::<u32>().unwrap(), &[u32::MAX]);
        let a = read_bytes(
            &npy_bytes("<i8", &[1, 1, 1], Order::C, &[i64::MIN]),
            "l.npy",
        )
        .unwrap();
        assert_eq!(
            (a.as_slice::<i64>().unwrap(), a.shape()),
            (&[i64::MIN][..], &[1, 1, 1][..])
        );
        let a = read_bytes(
            &npy_bytes(">f4", &[2, 2], Order::Fortran, &[1.0f32, 3.0, 2.0, 4.0]),
            "f.npy",
        )
        .unwrap();
        assert_eq!(a.as_slice::<f32>().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn unsupported_contents_are_errors_naming_the_file() {
        let e = read_bytes(&npy_bytes("<i2", &[2], Order::C, &[1i16, 2]), "s.npy")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.npy: holds int16;"), "{e}");
        let e = read_bytes(&npy_bytes("<f8", &[], Order::C, &[1.0f64]), "z.npy")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("float64 with 0 dimensions; kiln arrays have 1 to 3"),
            "{e}"
        );
        let e = read_bytes(
            &npy_bytes("<f8", &[1, 1, 1, 1], Order::C, &[1.0f64]),
            "4.npy",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("4 dimensions"), "{e}");
        let mut cut = npy_bytes("<f8", &[4], Order::C, &[1.0f64; 4]);
        cut.truncate(cut.len() - 8);
        let e = read_bytes(&cut, "cut.npy").unwrap_err().to_string();
        assert!(e.starts_with("cut.npy: the data is shorter"), "{e}");
        assert!(read_bytes(b"\x93NUMPY garbage", "g.npy")
            .unwrap_err()
            .to_string()
            .starts_with("g.npy: not a valid .npy"));
    }

    #[test]
    fn written_files_read_back() {
        let dir = std::env::temp_dir().join(format!("kiln-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.npy");
        let a = HostArray::from_vec(vec![1u32, 2, 3, 4, 5, 6], vec![3, 2]).unwrap();
        write(&path, &a).unwrap();
        assert_eq!(read(&path).unwrap(), a);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fortran_order_becomes_row_major() {
        // A 2x3 array [[0,1,2],[3,4,5]] stored column-major.
        let f = [0, 3, 1, 4, 2, 5];
        assert_eq!(fortran_to_c(&f, &[2, 3]), vec![0, 1, 2, 3, 4, 5]);
        // 2x2x2: element (i,j,k) = 4i+2j+k, column-major offset i+2j+4k.
        let mut f3 = [0; 8];
        for i in 0..2 {
            for j in 0..2 {
                for k in 0..2 {
                    f3[i + 2 * j + 4 * k] = 4 * i + 2 * j + k;
                }
            }
        }
        assert_eq!(fortran_to_c(&f3, &[2, 2, 2]), (0..8).collect::<Vec<_>>());
    }
}
