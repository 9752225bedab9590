//! `kiln selftest`: the conformance checks, runnable from the binary alone.
//!
//! Every kernel file kiln carries ([`files`]: the library and the language
//! coverage kernels, at size T), every run-time fault case ([`faults`]) and
//! N random well-typed kernels ([`random`]) run on a backend and on the
//! reference interpreter from identical inputs; outputs must agree (exact
//! for integers, within the tolerance of [`compare`] for floats) and faults
//! must be the interpreter's, at the same place. The same code backs the
//! conformance tests (`tests/conformance.rs`), so the command checks on a
//! new machine what CI checks here.

pub mod compare;
mod families;
pub mod faults;
pub mod files;
pub mod fuzz;
pub mod inputs;
pub mod random;

use crate::inputs::cases::Cases;
use crate::inputs::params::params_of;
use crate::ir::Value;
use crate::runtime::{Backend, Module};
use inputs::{as_args, Data, Input};
use std::time::Instant;

/// The seed of the inputs generated from kernel-file directives (`kiln
/// run`'s default, so the inputs are the ones `kiln run` and the tests use).
pub const SEED: u64 = 0;
/// The seed of the random kernels (the conformance tests' own).
pub const RANDOM_SEED: u64 = 0x6B69_6C6E;

/// One kernel file: its kernel (named like the file) compiled, with its
/// directive header.
pub struct Case {
    pub name: String,
    pub module: Module,
    pub directives: Cases,
}

impl Case {
    /// Compiles `source`, named `file` in messages, whose kernel is `name`.
    pub fn from_source(file: &str, name: &str, source: &str) -> Result<Case, String> {
        let directives = Cases::parse(source).map_err(|e| format!("{file}: bad directive: {e}"))?;
        let module = Module::from_source(file, source)
            .map_err(|e| format!("{file} does not compile:\n{e}"))?;
        Ok(Case {
            name: name.to_string(),
            module,
            directives,
        })
    }

    /// Inputs at the size labelled `label` (`T`, `S`, ...).
    pub fn inputs(&self, label: &str) -> Result<Vec<Input>, String> {
        let kernel = self
            .module
            .ir()
            .kernel(&self.name)
            .ok_or_else(|| format!("no kernel `{}` in its file", self.name))?;
        let values = self
            .directives
            .build_args(&self.name, &params_of(kernel), label, SEED)
            .map_err(|e| {
                format!(
                    "`{}`: cannot build the size-{label} arguments: {e}",
                    self.name
                )
            })?;
        Ok(inputs::from_host(kernel, values))
    }

    pub fn launch(&self, backend: Backend, inputs: &mut [Input]) -> crate::Result<Option<Value>> {
        let kernel = self.module.kernel(&self.name)?;
        kernel.launch_on(backend, &mut as_args(inputs))
    }
}

/// The largest float error seen, in units in the last place (see
/// [`ulp_error`]), per float type.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UlpErrors {
    pub f32: Option<f64>,
    pub f64: Option<f64>,
}

impl UlpErrors {
    fn add(&mut self, other: UlpErrors) {
        let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, None) => x,
            (None, y) => y,
        };
        self.f32 = max(self.f32, other.f32);
        self.f64 = max(self.f64, other.f64);
    }
}

/// `|a - b|` in units in the last place of `max(|a|, |b|, scale / 100)`
/// (`scale`: the array's largest magnitude; the floor the tolerance of
/// [`compare`] uses, so values produced by cancellation are measured at the
/// array's scale). `mantissa`: 23 for f32, 52 for f64. Equal values
/// (NaN and NaN, equal infinities, -0 and 0) are 0; `None` for a mismatch
/// of non-finite values (a failure the comparison reports).
pub fn ulp_error(a: f64, b: f64, scale: f64, mantissa: i32) -> Option<f64> {
    if a == b || (a.is_nan() && b.is_nan()) {
        return Some(0.0);
    }
    if !(a.is_finite() && b.is_finite()) {
        return None;
    }
    let min_exp = if mantissa == 23 { -126 } else { -1022 };
    let at = a.abs().max(b.abs()).max(scale / 100.0);
    let exp = if at > 0.0 {
        (at.log2().floor() as i32).max(min_exp)
    } else {
        min_exp
    };
    Some((a - b).abs() / 2f64.powi(exp - mantissa))
}

fn data_ulps(expected: &Data, actual: &Data) -> UlpErrors {
    fn worst(e: &[f64], a: &[f64], mantissa: i32) -> Option<f64> {
        let scale = e
            .iter()
            .filter(|x| x.is_finite())
            .fold(0.0f64, |m, x| m.max(x.abs()));
        e.iter()
            .zip(a)
            .filter_map(|(&x, &y)| ulp_error(x, y, scale, mantissa))
            .reduce(f64::max)
    }
    let wide = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    match (expected, actual) {
        (Data::F32(e), Data::F32(a)) => UlpErrors {
            f32: worst(&wide(e), &wide(a), 23),
            f64: None,
        },
        (Data::F64(e), Data::F64(a)) => UlpErrors {
            f32: None,
            f64: worst(e, a, 52),
        },
        _ => UlpErrors::default(),
    }
}

/// The float errors of one launch against the reference: every float
/// array and a float result.
pub fn ulp_errors(
    expected: &[Input],
    actual: &[Input],
    expected_result: Option<Value>,
    actual_result: Option<Value>,
) -> UlpErrors {
    let mut out = UlpErrors::default();
    for (e, a) in expected.iter().zip(actual) {
        if let (Input::Array { data: de, .. }, Input::Array { data: da, .. }) = (e, a) {
            out.add(data_ulps(de, da));
        }
    }
    match (expected_result, actual_result) {
        (Some(Value::F32(e)), Some(Value::F32(a))) => out.add(UlpErrors {
            f32: ulp_error(e as f64, a as f64, 0.0, 23),
            f64: None,
        }),
        (Some(Value::F64(e)), Some(Value::F64(a))) => out.add(UlpErrors {
            f32: None,
            f64: ulp_error(e, a, 0.0, 52),
        }),
        _ => {}
    }
    out
}

/// Runs one kernel file on `backend` and on the interpreter and compares.
pub fn check_file(
    backend: Backend,
    file: &str,
    name: &str,
    source: &str,
    label: &str,
) -> Result<UlpErrors, String> {
    let case = Case::from_source(file, name, source)?;
    let inputs = case.inputs(label)?;
    let mut expected = inputs.clone();
    let expected_result = case
        .launch(Backend::Interp, &mut expected)
        .map_err(|e| format!("fails on the interpreter: {e}"))?;
    let mut actual = inputs;
    let actual_result = case
        .launch(backend, &mut actual)
        .map_err(|e| format!("fails on {backend}: {e}"))?;
    let what = format!("{file} (size {label}) on {backend}");
    compare::compare_result(&what, expected_result, actual_result)?;
    compare::compare_inputs(&what, &expected, &actual)?;
    Ok(ulp_errors(
        &expected,
        &actual,
        expected_result,
        actual_result,
    ))
}

/// Runs random kernel `k` (of [`RANDOM_SEED`]) on `backend` and on the
/// interpreter and compares. Transcendental builtins appear only for
/// backends that share the interpreter's math (cpu, interp, auto): others
/// may differ by a few ulp there, which later casts can magnify.
pub fn check_random(backend: Backend, k: u64) -> Result<UlpErrors, String> {
    let transcendentals = matches!(backend, Backend::Cpu | Backend::Interp | Backend::Auto);
    let rk = random::random_kernel(RANDOM_SEED, k, transcendentals);
    let outcome = (|| {
        let module = Module::from_source("random.kn", &rk.source)
            .map_err(|e| format!("does not compile:\n{e}"))?;
        let kernel = module.kernel(&rk.name).map_err(|e| e.to_string())?;
        let mut expected = rk.inputs.clone();
        let expected_result = kernel
            .launch_on(Backend::Interp, &mut as_args(&mut expected))
            .map_err(|e| format!("interp: {e}"))?;
        let mut actual = rk.inputs.clone();
        let actual_result = kernel
            .launch_on(backend, &mut as_args(&mut actual))
            .map_err(|e| format!("{backend}: {e}"))?;
        let name = backend.name();
        compare::compare_result(name, expected_result, actual_result)?;
        compare::compare_inputs(name, &expected, &actual)?;
        Ok(ulp_errors(
            &expected,
            &actual,
            expected_result,
            actual_result,
        ))
    })();
    outcome.map_err(|e: String| format!("{}: {e}\n{}", rk.name, rk.source))
}

/// One group of checks of a backend: how many passed and failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
}

impl Tally {
    fn count(&mut self, ok: bool) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
    }
}

/// What `kiln selftest` found on one backend.
#[derive(Clone, Debug, Default)]
pub struct BackendReport {
    pub backend: String,
    /// The device (adapter name verbatim, "(software)" for lavapipe), or
    /// `None` when the backend cannot run here.
    pub device: Option<String>,
    /// Why the backend cannot run here.
    pub unavailable: Option<String>,
    pub kernels: Tally,
    pub faults: Tally,
    pub random: Tally,
    pub ulps: UlpErrors,
    /// The checks that gave the largest f32 and f64 errors.
    pub worst: (Option<String>, Option<String>),
    pub seconds: f64,
    /// One message per failed check.
    pub failures: Vec<String>,
}

impl BackendReport {
    /// Folds in one check's float errors, remembering which check gave
    /// the largest.
    fn add_ulps(&mut self, what: &str, ulps: UlpErrors) {
        if ulps
            .f32
            .is_some_and(|u| self.ulps.f32.is_none_or(|m| u > m))
        {
            self.worst.0 = Some(what.to_string());
        }
        if ulps
            .f64
            .is_some_and(|u| self.ulps.f64.is_none_or(|m| u > m))
        {
            self.worst.1 = Some(what.to_string());
        }
        self.ulps.add(ulps);
    }

    pub fn passed(&self) -> usize {
        self.kernels.passed + self.faults.passed + self.random.passed
    }

    pub fn failed(&self) -> usize {
        self.kernels.failed + self.faults.failed + self.random.failed
    }

    /// Whether the backend ran and every check passed.
    pub fn ok(&self) -> bool {
        self.unavailable.is_none() && self.failed() == 0
    }

    pub fn to_json(&self) -> serde_json::Value {
        let tally = |t: &Tally| serde_json::json!({"passed": t.passed, "failed": t.failed});
        serde_json::json!({
            "backend": self.backend,
            "device": self.device,
            "unavailable": self.unavailable,
            "kernels": tally(&self.kernels),
            "faults": tally(&self.faults),
            "random": tally(&self.random),
            "max_ulp_f32": self.ulps.f32,
            "max_ulp_f64": self.ulps.f64,
            "max_ulp_f32_at": self.worst.0,
            "max_ulp_f64_at": self.worst.1,
            "seconds": self.seconds,
            "failures": self.failures,
        })
    }
}

/// Runs every check on `backend`; `random` random kernels. `progress` is
/// told what runs (for a progress line).
pub fn run_backend(backend: Backend, random: u64, progress: &mut dyn FnMut(&str)) -> BackendReport {
    let start = Instant::now();
    let mut report = BackendReport {
        backend: backend.name().to_string(),
        ..BackendReport::default()
    };
    match crate::runtime::device_name(backend) {
        Ok(device) => report.device = Some(device.to_string()),
        Err(reason) => {
            report.unavailable = Some(reason);
            return report;
        }
    }
    let sets = [
        ("kernels", files::LIBRARY),
        ("tests/conformance", files::CONFORMANCE),
    ];
    for (dir, list) in sets {
        for (name, source) in list {
            let file = format!("{dir}/{name}.kn");
            progress(&file);
            match check_file(backend, &file, name, source, "T") {
                Ok(ulps) => {
                    report.kernels.count(true);
                    report.add_ulps(&file, ulps);
                }
                Err(e) => {
                    report.kernels.count(false);
                    report.failures.push(format!("{file}: {e}"));
                }
            }
        }
    }
    for (what, case) in faults::fault_cases() {
        progress(what);
        match faults::check_fault(backend, &case) {
            Ok(()) => report.faults.count(true),
            Err(e) => {
                report.faults.count(false);
                report
                    .failures
                    .push(format!("fault case {what} (`{}`): {e}", case.kernel));
            }
        }
    }
    for k in 0..random {
        if k % 10 == 0 {
            progress(&format!("random kernels {k}/{random}"));
        }
        match check_random(backend, k) {
            Ok(ulps) => {
                report.random.count(true);
                report.add_ulps(&format!("random kernel {k}"), ulps);
            }
            Err(e) => {
                report.random.count(false);
                report.failures.push(format!("random kernel {e}"));
            }
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    report
}

/// The table `kiln selftest` prints: one row per backend.
pub fn table(reports: &[BackendReport]) -> String {
    let ulp = |u: Option<f64>| match u {
        Some(x) if x < 10.0 => format!("{x:.2}"),
        Some(x) => format!("{x:.3e}"),
        None => "-".into(),
    };
    let tally = |t: &Tally| format!("{}/{}", t.passed, t.passed + t.failed);
    let mut rows = vec![[
        "backend".to_string(),
        "device".into(),
        "result".into(),
        "kernels".into(),
        "faults".into(),
        "random".into(),
        "max ulp f32".into(),
        "max ulp f64".into(),
        "time".into(),
    ]];
    for r in reports {
        let result = if let Some(why) = &r.unavailable {
            format!("UNAVAILABLE: {why}")
        } else if r.ok() {
            format!("passed {}", r.passed())
        } else {
            format!("FAILED {} of {}", r.failed(), r.passed() + r.failed())
        };
        let ran = r.unavailable.is_none();
        rows.push([
            r.backend.clone(),
            r.device.clone().unwrap_or_else(|| "-".into()),
            result,
            if ran { tally(&r.kernels) } else { "-".into() },
            if ran { tally(&r.faults) } else { "-".into() },
            if ran { tally(&r.random) } else { "-".into() },
            ulp(r.ulps.f32),
            ulp(r.ulps.f64),
            if ran {
                crate::util::duration(r.seconds)
            } else {
                "-".into()
            },
        ]);
    }
    let mut out = columns(&rows, 3);
    for r in reports {
        for (ty, at, u) in [
            ("f32", &r.worst.0, r.ulps.f32),
            ("f64", &r.worst.1, r.ulps.f64),
        ] {
            if let (Some(at), Some(u)) = (at, u) {
                if u > 0.0 {
                    out.push_str(&format!(
                        "{}: largest {ty} error {} ulp in {at}\n",
                        r.backend,
                        ulp(Some(u))
                    ));
                }
            }
        }
    }
    out
}

/// Rows as aligned columns: the first `text` columns to the left, the
/// figures after them to the right; one line per row.
pub fn columns<R: AsRef<[String]>>(rows: &[R], text: usize) -> String {
    let ncols = rows.first().map_or(0, |r| r.as_ref().len());
    let widths: Vec<usize> = (0..ncols)
        .map(|c| {
            rows.iter()
                .map(|r| r.as_ref()[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .as_ref()
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, &w))| {
                if c < text {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulps_are_measured_at_the_larger_value_or_the_array_scale() {
        assert_eq!(ulp_error(1.0, 1.0, 0.0, 23), Some(0.0));
        assert_eq!(ulp_error(f64::NAN, f64::NAN, 0.0, 23), Some(0.0));
        assert_eq!(ulp_error(f64::INFINITY, 1.0, 0.0, 23), None);
        let next = f32::from_bits(1.0f32.to_bits() + 1) as f64;
        assert_eq!(ulp_error(1.0, next, 0.0, 23), Some(1.0));
        // Near zero, against an array of scale 100: ulps of 1.0.
        assert_eq!(ulp_error(0.0, f32::EPSILON as f64, 100.0, 23), Some(1.0));
        let next = f64::from_bits(2.0f64.to_bits() + 3);
        assert_eq!(ulp_error(2.0, next, 0.0, 52), Some(3.0));
    }

    #[test]
    fn the_table_names_each_backend_and_its_device() {
        let ok = BackendReport {
            backend: "wgpu".into(),
            device: Some("llvmpipe (LLVM 15.0.6, 256 bits) (software)".into()),
            kernels: Tally {
                passed: 30,
                failed: 0,
            },
            ulps: UlpErrors {
                f32: Some(2.0),
                f64: None,
            },
            ..BackendReport::default()
        };
        let absent = BackendReport {
            backend: "cuda".into(),
            unavailable: Some("no CUDA driver".into()),
            ..BackendReport::default()
        };
        let t = table(&[ok, absent]);
        assert!(
            t.contains("llvmpipe (LLVM 15.0.6, 256 bits) (software)"),
            "{t}"
        );
        assert!(t.contains("passed 30"), "{t}");
        assert!(t.contains("UNAVAILABLE: no CUDA driver"), "{t}");
        assert!(t.contains("2.00"), "{t}");
    }
}
