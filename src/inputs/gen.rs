//! Input generators: `zeros:SHAPE`, `range:SHAPE`, `rand:SHAPE`.
//!
//! `rand` is deterministic on every platform: SplitMix64 (Steele, Lea and
//! Flood, 2014; the constants of Java's `SplittableRandom`) written out below,
//! integer arithmetic only. Each array argument draws from its own stream,
//! seeded with `mix(seed ^ mix(stream + 1))` where `stream` is the
//! parameter's position, so `x=rand:N y=rand:N` gives two different arrays.
//! Floats are uniform in [0, 1): the top 53 (f64) or 24 (f32) bits of a draw
//! times 2^-53 / 2^-24, exact. Integers are uniform in [0, 100): the high 32
//! bits of a draw times 100, shifted down by 32 (Lemire's multiply-shift; its
//! bias is below 100 / 2^32).

use super::host::{HostArray, HostData};
use crate::ir::ScalarType;
use std::fmt;
use std::str::FromStr;

/// Which values a generator fills an array with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generator {
    /// All zero.
    Zeros,
    /// 0, 1, 2, … in row-major order, converted with `as` (so an `i32`
    /// array longer than 2^31 would wrap, and `f32` rounds past 2^24).
    Range,
    /// Uniform: floats in [0, 1), integers in [0, 100).
    Rand,
}

impl Generator {
    /// The name `rand:`, `range:`, `zeros:` use.
    pub fn name(self) -> &'static str {
        match self {
            Generator::Zeros => "zeros",
            Generator::Range => "range",
            Generator::Rand => "rand",
        }
    }
}

impl fmt::Display for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Generator {
    type Err = String;

    fn from_str(s: &str) -> Result<Generator, String> {
        match s {
            "zeros" => Ok(Generator::Zeros),
            "range" => Ok(Generator::Range),
            "rand" => Ok(Generator::Rand),
            _ => Err(format!(
                "unknown generator `{s}` (valid: zeros, range, rand)"
            )),
        }
    }
}

/// The SplitMix64 generator.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function (a 64-bit finaliser).
/// `n` elements `f(0), f(1), …`; a size the allocator refuses is an error
/// instead of an abort.
fn filled<T>(n: usize, f: impl FnMut(usize) -> T) -> Result<Vec<T>, String> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| format!("cannot allocate an array of {n} elements"))?;
    v.extend((0..n).map(f));
    Ok(v)
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl SplitMix64 {
    /// The generator of `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// Stream `stream` of `seed`: independent streams for the arguments of
    /// one launch.
    pub fn stream(seed: u64, stream: u64) -> SplitMix64 {
        SplitMix64::new(mix(seed ^ mix(stream.wrapping_add(1))))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix(self.state)
    }

    /// Uniform in [0, 1), 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, 1), 24 random bits.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// Uniform in [0, bound).
    pub fn below(&mut self, bound: u32) -> u32 {
        (((self.next_u64() >> 32) * bound as u64) >> 32) as u32
    }
}

/// Parses `1000`, `512x512`, `4x5x6` (1 to 3 extents; `_` separators are
/// allowed inside numbers: `1_000_000`).
pub fn parse_shape(text: &str) -> Result<Vec<usize>, String> {
    let bad = || {
        format!("bad shape `{text}`: expected extents separated by `x`, e.g. `1000` or `512x512`")
    };
    let shape: Vec<usize> = text
        .split(['x', 'X'])
        .map(|d| {
            let digits = d.trim().replace('_', "");
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            digits
                .parse::<usize>()
                .map_err(|_| format!("extent `{d}` in shape `{text}` is too large"))
        })
        .collect::<Result<_, _>>()?;
    if shape.len() > 3 {
        return Err(format!(
            "shape `{text}` has {} dimensions; kiln arrays have 1 to 3",
            shape.len()
        ));
    }
    // Refuse sizes whose allocation could not succeed anyway (8-byte
    // elements), instead of aborting on a failed allocation.
    match shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) {
        Some(n) if n <= (isize::MAX as usize) / 8 => Ok(shape),
        _ => Err(format!("shape `{text}` is too large")),
    }
}

/// An array of `elem` with `shape` filled by `gen`; `seed` and `stream`
/// select the random sequence (see the module documentation). Arrays never
/// hold `bool`, so that element type is an error.
pub fn generate(
    gen: Generator,
    elem: ScalarType,
    shape: &[usize],
    seed: u64,
    stream: u64,
) -> Result<HostArray, String> {
    let n: usize = shape.iter().product();
    let mut rng = SplitMix64::stream(seed, stream);
    let data = match (gen, elem) {
        (_, ScalarType::Bool) => return Err("arrays cannot hold `bool`".to_string()),
        (Generator::Zeros, ScalarType::I32) => HostData::I32(filled(n, |_| 0)?),
        (Generator::Zeros, ScalarType::U32) => HostData::U32(filled(n, |_| 0)?),
        (Generator::Zeros, ScalarType::I64) => HostData::I64(filled(n, |_| 0)?),
        (Generator::Zeros, ScalarType::F32) => HostData::F32(filled(n, |_| 0.0)?),
        (Generator::Zeros, ScalarType::F64) => HostData::F64(filled(n, |_| 0.0)?),
        (Generator::Range, ScalarType::I32) => HostData::I32(filled(n, |i| i as i32)?),
        (Generator::Range, ScalarType::U32) => HostData::U32(filled(n, |i| i as u32)?),
        (Generator::Range, ScalarType::I64) => HostData::I64(filled(n, |i| i as i64)?),
        (Generator::Range, ScalarType::F32) => HostData::F32(filled(n, |i| i as f32)?),
        (Generator::Range, ScalarType::F64) => HostData::F64(filled(n, |i| i as f64)?),
        (Generator::Rand, ScalarType::I32) => HostData::I32(filled(n, |_| rng.below(100) as i32)?),
        (Generator::Rand, ScalarType::U32) => HostData::U32(filled(n, |_| rng.below(100))?),
        (Generator::Rand, ScalarType::I64) => HostData::I64(filled(n, |_| rng.below(100) as i64)?),
        (Generator::Rand, ScalarType::F32) => HostData::F32(filled(n, |_| rng.next_f32())?),
        (Generator::Rand, ScalarType::F64) => HostData::F64(filled(n, |_| rng.next_f64())?),
    };
    HostArray::new(data, shape.to_vec()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_reference_values() {
        // First outputs of SplitMix64 seeded with 0 (reference C
        // implementation by Vigna).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn shapes_parse() {
        assert_eq!(parse_shape("1000"), Ok(vec![1000]));
        assert_eq!(parse_shape("512x512"), Ok(vec![512, 512]));
        assert_eq!(parse_shape("4x5x6"), Ok(vec![4, 5, 6]));
        assert_eq!(parse_shape("1_000"), Ok(vec![1000]));
        assert!(parse_shape("").is_err());
        assert!(parse_shape("4x").is_err());
        assert!(parse_shape("-4").is_err());
        assert!(parse_shape("1x2x3x4").is_err());
        assert!(parse_shape("99999999999x99999999999").is_err());
    }

    #[test]
    fn range_is_row_major_count() {
        let a = generate(Generator::Range, ScalarType::F32, &[2, 3], 0, 0).unwrap();
        assert_eq!(
            a.as_slice::<f32>().unwrap(),
            &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
        );
        assert_eq!(a.shape(), &[2, 3]);
    }

    #[test]
    fn rand_is_in_range_and_deterministic() {
        let a = generate(Generator::Rand, ScalarType::F64, &[1000], 7, 1).unwrap();
        let b = generate(Generator::Rand, ScalarType::F64, &[1000], 7, 1).unwrap();
        assert_eq!(a, b);
        assert!(a
            .as_slice::<f64>()
            .unwrap()
            .iter()
            .all(|&x| (0.0..1.0).contains(&x)));
        let c = generate(Generator::Rand, ScalarType::F64, &[1000], 7, 2).unwrap();
        assert_ne!(a, c, "streams differ");
        let ints = generate(Generator::Rand, ScalarType::I32, &[10000], 0, 0).unwrap();
        let v = ints.as_slice::<i32>().unwrap();
        assert!(v.iter().all(|&x| (0..100).contains(&x)));
        assert!(v.contains(&0) && v.contains(&99));
        let f = generate(Generator::Rand, ScalarType::F32, &[1000], 0, 0).unwrap();
        assert!(f
            .as_slice::<f32>()
            .unwrap()
            .iter()
            .all(|&x| (0.0..1.0).contains(&x)));
        assert!(generate(Generator::Zeros, ScalarType::Bool, &[3], 0, 0).is_err());
    }
}
