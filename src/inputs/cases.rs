//! Directives in the header of a kernel file (kernels/*.kn), which say how
//! to make inputs for tests and benchmarks:
//!
//! ```text
//! //! args: a=2.5 x=rand:{n} y=rand:{n}
//! //! sizes: T=1000 S=100000 M=1000000 L=30000000
//! //! flops: 2*{n}
//! //! bytes: 12*{n}
//! //! folded: numba rust-rayon
//! ```
//!
//! A directive is a `//!` line of the form `key: value` with a lowercase
//! key; other `//!` lines (prose) are ignored, and an unknown lowercase key
//! is an error (so a typo such as `arg:` is not silently dropped). `args`
//! uses the `kiln run --arg` VALUE grammar with `{n}` replaced by the size;
//! `flops`/`bytes` are products of integers and `{n}`. `folded` names the
//! `kiln bench` runners whose compiler computes the kernel's loop in closed
//! form: their times measure no loop, so the bench's geometric means leave
//! the kernel out against them.

use super::params::ParamInfo;
use super::values::{self, HostValue};
use crate::error::{Error, Result};
use std::fmt;

/// The parsed directives of one kernel file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cases {
    /// `NAME=VALUE` pairs, `{n}` not yet substituted.
    pub args: Vec<(String, String)>,
    /// Size labels in the order written, e.g. `("T", 1000)`.
    pub sizes: Vec<(String, u64)>,
    /// Floating-point operations per launch (`//! flops:`).
    pub flops: Option<WorkFormula>,
    /// Bytes moved per launch (`//! bytes:`).
    pub bytes: Option<WorkFormula>,
    /// Bench runners that compute the kernel in closed form (`//! folded:`,
    /// names separated by spaces or commas).
    pub folded: Vec<String>,
}

/// `coefficient * n^power`: the work per launch as a function of the size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorkFormula {
    /// The factor.
    pub coefficient: f64,
    /// The power of `n`.
    pub power: u32,
}

impl WorkFormula {
    /// The work at size `n`.
    pub fn eval(self, n: u64) -> f64 {
        self.coefficient * (n as f64).powi(self.power as i32)
    }

    /// Parses `2*{n}`, `{n}*{n}*2`, `12`: integers and `{n}` joined by `*`.
    pub fn parse(text: &str) -> Result<WorkFormula, String> {
        let mut formula = WorkFormula {
            coefficient: 1.0,
            power: 0,
        };
        for factor in text.split('*') {
            let factor = factor.trim();
            if factor == "{n}" {
                formula.power += 1;
            } else if let Some(k) = parse_count(factor) {
                formula.coefficient *= k as f64;
            } else {
                return Err(format!(
                    "bad factor `{factor}` in `{}`: expected integers and `{{n}}` joined by `*`",
                    text.trim()
                ));
            }
        }
        Ok(formula)
    }
}

/// A directive error with its 1-based line number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectiveError {
    /// The line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for DirectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for DirectiveError {}

/// An unsigned integer with optional `_` separators.
fn parse_count(text: &str) -> Option<u64> {
    let digits = text.replace('_', "");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `key` when `line` is a directive line `//! key: value`.
fn directive(line: &str) -> Option<(&str, &str)> {
    let body = line.trim_start().strip_prefix("//!")?;
    let (key, value) = body.split_once(':')?;
    let key = key.trim();
    let is_key = !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    is_key.then_some((key, value.trim()))
}

impl Cases {
    /// Parses the directives of a kernel file's source text.
    pub fn parse(source: &str) -> Result<Cases, DirectiveError> {
        let mut cases = Cases::default();
        let mut seen: Vec<&str> = Vec::new();
        for (k, line) in source.lines().enumerate() {
            let Some((key, value)) = directive(line) else {
                continue;
            };
            let fail = |message: String| DirectiveError {
                line: k + 1,
                message,
            };
            if seen.contains(&key) {
                return Err(fail(format!("directive `{key}` is given twice")));
            }
            seen.push(key);
            match key {
                "args" => cases.args = parse_pairs(value).map_err(fail)?,
                "sizes" => cases.sizes = parse_sizes(value).map_err(fail)?,
                "flops" => cases.flops = Some(WorkFormula::parse(value).map_err(fail)?),
                "bytes" => cases.bytes = Some(WorkFormula::parse(value).map_err(fail)?),
                "folded" => {
                    cases.folded = value
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|w| !w.is_empty())
                        .map(String::from)
                        .collect();
                    if cases.folded.is_empty() {
                        return Err(fail("`folded` names no runner".into()));
                    }
                }
                _ => {
                    return Err(fail(format!(
                        "unknown directive `{key}` (known: args, sizes, flops, bytes, folded)"
                    )))
                }
            }
        }
        Ok(cases)
    }

    /// The size for `label` (`T`, `S`, `M`, `L`, …).
    pub fn size(&self, label: &str) -> Option<u64> {
        self.sizes.iter().find(|(l, _)| l == label).map(|&(_, n)| n)
    }

    /// Floating-point operations per launch at size `n`, when given.
    pub fn flops_at(&self, n: u64) -> Option<f64> {
        self.flops.map(|f| f.eval(n))
    }

    /// Bytes moved per launch at size `n`, when given.
    pub fn bytes_at(&self, n: u64) -> Option<f64> {
        self.bytes.map(|f| f.eval(n))
    }

    /// The `args` pairs with `{n}` replaced by `n`.
    pub fn args_at(&self, n: u64) -> Vec<(String, String)> {
        let n = n.to_string();
        self.args
            .iter()
            .map(|(name, v)| (name.clone(), v.replace("{n}", &n)))
            .collect()
    }

    /// Builds the arguments of `kernel` (with parameters `params`) at size
    /// label `label`, drawing random inputs from `seed`.
    pub fn build_args(
        &self,
        kernel: &str,
        params: &[ParamInfo],
        label: &str,
        seed: u64,
    ) -> Result<Vec<HostValue>> {
        let fail = |message: String| Error::argument(kernel, message);
        if self.args.is_empty() && !params.is_empty() {
            return Err(fail(
                "the kernel file has no `//! args:` directive".to_string(),
            ));
        }
        let needs_size = self.args.iter().any(|(_, v)| v.contains("{n}"));
        let n = match self.size(label) {
            Some(n) => n,
            None if !needs_size => 0,
            None => {
                let labels: Vec<&str> = self.sizes.iter().map(|(l, _)| l.as_str()).collect();
                return Err(fail(format!(
                    "no size `{label}` in the `//! sizes:` directive (sizes: {})",
                    if labels.is_empty() {
                        "none".to_string()
                    } else {
                        labels.join(", ")
                    }
                )));
            }
        };
        values::bind_args(kernel, params, &self.args_at(n), seed)
    }
}

fn parse_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split_whitespace()
        .map(|item| {
            let (name, value) = values::split_assignment(item)?;
            if value.is_empty() {
                return Err(format!("`{item}` has no value"));
            }
            Ok((name.to_string(), value.to_string()))
        })
        .collect()
}

fn parse_sizes(text: &str) -> Result<Vec<(String, u64)>, String> {
    let mut sizes: Vec<(String, u64)> = Vec::new();
    for (label, value) in parse_pairs(text)? {
        let n = parse_count(&value)
            .ok_or_else(|| format!("size `{label}={value}` is not a non-negative integer"))?;
        if sizes.iter().any(|(l, _)| *l == label) {
            return Err(format!("size `{label}` is given twice"));
        }
        sizes.push((label, n));
    }
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::params::ParamType;
    use crate::ir::{ScalarType, Value};

    const SAXPY: &str = "//! args: a=2.5 x=rand:{n} y=range:{n}\n\
                         //! sizes: T=1000 S=100_000\n\
                         //! flops: 2*{n}\n\
                         //! bytes: 12 * {n}\n\
                         //! folded: numba, rust-rayon\n\
                         //! Prose such as this line is ignored.\n\
                         kernel saxpy(a: f32, x: f32[:], y: mut f32[:]) {}\n";

    fn saxpy_params() -> Vec<ParamInfo> {
        vec![
            ParamInfo {
                name: "a".into(),
                ty: ParamType::Scalar(ScalarType::F32),
            },
            ParamInfo {
                name: "x".into(),
                ty: ParamType::Array {
                    elem: ScalarType::F32,
                    rank: 1,
                    mutable: false,
                },
            },
            ParamInfo {
                name: "y".into(),
                ty: ParamType::Array {
                    elem: ScalarType::F32,
                    rank: 1,
                    mutable: true,
                },
            },
        ]
    }

    #[test]
    fn parses_all_directives() {
        let c = Cases::parse(SAXPY).unwrap();
        assert_eq!(c.args.len(), 3);
        assert_eq!(c.size("S"), Some(100_000));
        assert_eq!(c.flops_at(1000), Some(2000.0));
        assert_eq!(c.bytes_at(10), Some(120.0));
        assert_eq!(WorkFormula::parse("{n}*{n}*2").unwrap().eval(3), 18.0);
        assert_eq!(c.folded, ["numba", "rust-rayon"]);
    }

    #[test]
    fn builds_arguments_at_a_size() {
        let c = Cases::parse(SAXPY).unwrap();
        let v = c.build_args("saxpy", &saxpy_params(), "T", 0).unwrap();
        assert_eq!(v[0], HostValue::Scalar(Value::F32(2.5)));
        assert_eq!(v[1].as_array().unwrap().shape(), &[1000]);
        let e = c
            .build_args("saxpy", &saxpy_params(), "XL", 0)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "kernel `saxpy`: no size `XL` in the `//! sizes:` directive (sizes: T, S)"
        );
    }

    #[test]
    fn malformed_directives_are_errors() {
        let e = Cases::parse("//! arg: x=1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: unknown directive `arg` (known: args, sizes, flops, bytes, folded)"
        );
        assert_eq!(
            Cases::parse("//! folded: ,\n").unwrap_err().message,
            "`folded` names no runner"
        );
        assert!(Cases::parse("//! sizes: T=ten\n")
            .unwrap_err()
            .message
            .contains("not a non-negative integer"));
        assert!(Cases::parse("//! args: x\n")
            .unwrap_err()
            .message
            .contains("NAME=VALUE"));
        assert!(Cases::parse("//! flops: 2+{n}\n")
            .unwrap_err()
            .message
            .contains("bad factor"));
        assert!(Cases::parse("//! args: a=1\n//! args: a=2\n")
            .unwrap_err()
            .message
            .contains("twice"));
    }
}
