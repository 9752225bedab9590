//! The `//!` directive header of a kernel file (see the brief / DESIGN):
//! `args:` (launch values in the `kiln run --arg` grammar, `{n}` for the
//! size), `sizes:` (T for tests, S/M/L for benchmarks), and the optional
//! `flops:` / `bytes:` work formulas.

/// A parsed header.
#[derive(Clone, Debug, Default)]
pub struct Directives {
    /// `NAME=VALUE` pairs in the order written.
    pub args: Vec<(String, String)>,
    /// `LABEL=N` pairs in the order written.
    pub sizes: Vec<(String, u64)>,
    pub flops: Option<String>,
    pub bytes: Option<String>,
}

impl Directives {
    /// Reads every `//! key: value` line of `source` (anywhere in the file;
    /// by convention they open it). Unknown keys and malformed entries are
    /// errors, so a typo cannot silently drop an argument.
    pub fn parse(source: &str) -> Result<Directives, String> {
        let mut d = Directives::default();
        for (lineno, line) in source.lines().enumerate() {
            let Some(rest) = line.trim_start().strip_prefix("//!") else { continue };
            let at = |msg: String| format!("line {}: {msg}", lineno + 1);
            let (key, value) = rest.split_once(':').ok_or_else(|| at(format!("expected `key: value` in `{line}`")))?;
            let value = value.trim();
            match key.trim() {
                "args" => {
                    for word in value.split_whitespace() {
                        let (name, v) = word.split_once('=').ok_or_else(|| at(format!("argument `{word}` lacks `=`")))?;
                        d.args.push((name.to_string(), v.to_string()));
                    }
                }
                "sizes" => {
                    for word in value.split_whitespace() {
                        let (label, v) = word.split_once('=').ok_or_else(|| at(format!("size `{word}` lacks `=`")))?;
                        let n = v.parse::<u64>().map_err(|e| at(format!("size `{word}`: {e}")))?;
                        d.sizes.push((label.to_string(), n));
                    }
                }
                "flops" => d.flops = Some(value.to_string()),
                "bytes" => d.bytes = Some(value.to_string()),
                other => return Err(at(format!("unknown directive `{other}`"))),
            }
        }
        Ok(d)
    }

    pub fn size(&self, label: &str) -> Option<u64> {
        self.sizes.iter().find(|(l, _)| l == label).map(|&(_, n)| n)
    }

    /// The `args` with `{n}` replaced by `n`.
    pub fn args_at(&self, n: u64) -> Vec<(String, String)> {
        self.args.iter().map(|(k, v)| (k.clone(), v.replace("{n}", &n.to_string()))).collect()
    }
}

/// Evaluates a work formula: a `*` product of integers and `{n}`.
pub fn work(formula: &str, n: u64) -> Result<u64, String> {
    formula.split('*').try_fold(1u64, |acc, factor| {
        let factor = factor.trim();
        let v = if factor == "{n}" {
            n
        } else {
            factor.parse::<u64>().map_err(|_| format!("bad factor `{factor}` in `{formula}`"))?
        };
        acc.checked_mul(v).ok_or_else(|| format!("`{formula}` overflows at n = {n}"))
    })
}
