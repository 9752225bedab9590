//! Launch inputs built from directive values, owned by the test so that
//! the same case can be launched on several backends from identical copies.

use kiln::ir::{self, Param, ScalarType, Value};
use kiln::Arg;

/// An owned array's elements.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    I32(Vec<i32>),
    U32(Vec<u32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// One positional argument, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    Scalar { name: String, value: Value },
    Array { name: String, data: Data, shape: Vec<usize>, mutable: bool },
}

impl Input {
    pub fn name(&self) -> &str {
        match self {
            Input::Scalar { name, .. } | Input::Array { name, .. } => name,
        }
    }
}

/// A small deterministic generator (SplitMix64): the tests need
/// reproducible inputs, not statistical quality.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Parses a scalar by its declared type: integers exactly, floats in any
/// Rust spelling (`inf`, `-inf`, `nan` included), `true`/`false`.
pub fn parse_scalar(text: &str, ty: ScalarType) -> Result<Value, String> {
    let bad = |e: &dyn std::fmt::Display| format!("`{text}` is not a valid {ty}: {e}");
    Ok(match ty {
        ScalarType::Bool => Value::Bool(text.parse().map_err(|e| bad(&e))?),
        ScalarType::I32 => Value::I32(text.parse().map_err(|e| bad(&e))?),
        ScalarType::U32 => Value::U32(text.parse().map_err(|e| bad(&e))?),
        ScalarType::I64 => Value::I64(text.parse().map_err(|e| bad(&e))?),
        ScalarType::F32 => Value::F32(text.parse().map_err(|e| bad(&e))?),
        ScalarType::F64 => Value::F64(text.parse().map_err(|e| bad(&e))?),
    })
}

fn parse_shape(text: &str) -> Result<Vec<usize>, String> {
    text.split('x')
        .map(|d| d.parse::<usize>().map_err(|e| format!("bad shape `{text}`: {e}")))
        .collect()
}

/// `zeros:SHAPE`, `range:SHAPE` (row-major 0, 1, 2, …) or `rand:SHAPE`
/// (floats uniform in [0, 1), integers uniform in [0, 100)).
fn generate(spec: &str, elem: ScalarType, rng: &mut Rng) -> Result<(Data, Vec<usize>), String> {
    let (kind, shape) = spec.split_once(':').ok_or_else(|| format!("`{spec}` is not an array generator"))?;
    let shape = parse_shape(shape)?;
    let len: usize = shape.iter().product();
    let value = |k: usize, rng: &mut Rng| -> Result<f64, String> {
        match kind {
            "zeros" => Ok(0.0),
            "range" => Ok(k as f64),
            "rand" if elem.is_float() => Ok(rng.unit_f64()),
            "rand" => Ok((rng.next_u64() % 100) as f64),
            _ => Err(format!("unknown generator `{kind}` in `{spec}`")),
        }
    };
    let mut vals = Vec::with_capacity(len);
    for k in 0..len {
        vals.push(value(k, rng)?);
    }
    // Every generated value is exact in each element type (range values
    // stay far below 2^24 at test sizes), so one conversion is enough.
    let data = match elem {
        ScalarType::I32 => Data::I32(vals.iter().map(|&v| v as i32).collect()),
        ScalarType::U32 => Data::U32(vals.iter().map(|&v| v as u32).collect()),
        ScalarType::I64 => Data::I64(vals.iter().map(|&v| v as i64).collect()),
        ScalarType::F32 => Data::F32(vals.iter().map(|&v| v as f32).collect()),
        ScalarType::F64 => Data::F64(vals),
        ScalarType::Bool => return Err("arrays of bool do not exist".to_string()),
    };
    Ok((data, shape))
}

/// Builds the positional inputs of `kernel` from `NAME=VALUE` pairs; every
/// parameter needs exactly one value, and every value a parameter.
pub fn build(kernel: &ir::Function, args: &[(String, String)], seed: u64) -> Result<Vec<Input>, String> {
    let mut rng = Rng::new(seed);
    for (name, _) in args {
        let known = kernel.params.iter().any(|p| param_name(kernel, *p) == name);
        if !known {
            return Err(format!("kernel `{}` has no parameter `{name}`", kernel.name));
        }
    }
    kernel
        .params
        .iter()
        .map(|&p| {
            let name = param_name(kernel, p).to_string();
            let text = &args
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| format!("no value for parameter `{name}` of `{}`", kernel.name))?
                .1;
            match p {
                Param::Scalar(v) => Ok(Input::Scalar { value: parse_scalar(text, kernel.var(v).ty)?, name }),
                Param::Array(a) => {
                    let decl = kernel.array(a);
                    let (data, shape) = generate(text, decl.elem, &mut rng)?;
                    if shape.len() != decl.rank as usize {
                        return Err(format!("`{name}` has rank {} but `{text}` has {}", decl.rank, shape.len()));
                    }
                    Ok(Input::Array { name, data, shape, mutable: decl.mutable })
                }
            }
        })
        .collect()
}

fn param_name(kernel: &ir::Function, p: Param) -> &str {
    match p {
        Param::Scalar(v) => &kernel.var(v).name,
        Param::Array(a) => &kernel.array(a).name,
    }
}

/// Borrows the inputs as launch arguments.
pub fn as_args(inputs: &mut [Input]) -> Vec<Arg<'_>> {
    inputs
        .iter_mut()
        .map(|input| match input {
            Input::Scalar { value, .. } => Arg::Scalar(*value),
            Input::Array { data, shape, mutable, .. } => {
                let shape = shape.clone();
                if *mutable {
                    let data = match data {
                        Data::I32(v) => kiln::ArrayDataMut::I32(v),
                        Data::U32(v) => kiln::ArrayDataMut::U32(v),
                        Data::I64(v) => kiln::ArrayDataMut::I64(v),
                        Data::F32(v) => kiln::ArrayDataMut::F32(v),
                        Data::F64(v) => kiln::ArrayDataMut::F64(v),
                    };
                    Arg::ArrayMut { data, shape }
                } else {
                    let data = match data {
                        Data::I32(v) => kiln::ArrayData::I32(v),
                        Data::U32(v) => kiln::ArrayData::U32(v),
                        Data::I64(v) => kiln::ArrayData::I64(v),
                        Data::F32(v) => kiln::ArrayData::F32(v),
                        Data::F64(v) => kiln::ArrayData::F64(v),
                    };
                    Arg::Array { data, shape }
                }
            }
        })
        .collect()
}

/// The input named `name`; panics when there is none (a test bug).
pub fn get<'a>(inputs: &'a [Input], name: &str) -> &'a Input {
    inputs.iter().find(|i| i.name() == name).unwrap_or_else(|| panic!("no input named `{name}`"))
}

/// A scalar input's value.
pub fn scalar(inputs: &[Input], name: &str) -> Value {
    match get(inputs, name) {
        Input::Scalar { value, .. } => *value,
        other => panic!("`{name}` is not a scalar: {other:?}"),
    }
}

/// An array input's data and shape.
pub fn array<'a>(inputs: &'a [Input], name: &str) -> (&'a Data, &'a [usize]) {
    match get(inputs, name) {
        Input::Array { data, shape, .. } => (data, shape),
        other => panic!("`{name}` is not an array: {other:?}"),
    }
}

macro_rules! typed_view {
    ($fn_name:ident, $variant:ident, $t:ty) => {
        /// The elements of an array input of this element type.
        pub fn $fn_name<'a>(inputs: &'a [Input], name: &str) -> &'a [$t] {
            match array(inputs, name).0 {
                Data::$variant(v) => v,
                other => panic!("`{name}` has another element type: {other:?}"),
            }
        }
    };
}
typed_view!(i32s, I32, i32);
typed_view!(i64s, I64, i64);
typed_view!(u32s, U32, u32);
typed_view!(f32s, F32, f32);
typed_view!(f64s, F64, f64);
