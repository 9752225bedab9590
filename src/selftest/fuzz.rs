//! `kiln fuzz`: a fuzz campaign with two targets, run for a number of cases
//! or a time budget, reproducible case by case from its seed.
//!
//! - **differential**: random well-typed kernels (the expression kernels of
//!   [`super::random`] and the families of `src/selftest/families.rs`: huge and
//!   negative range bounds, deep nesting, helper graphs; float inputs of
//!   edge values) run on every backend asked for and on the interpreter
//!   from identical inputs. Outputs must agree as in `kiln selftest`; a
//!   fault must be the interpreter's fault class at the same line and
//!   column; a kernel the checker refuses is refused before any backend is
//!   involved. A backend that says a construct is unsupported is counted,
//!   not failed.
//! - **front-end**: mutants of the kernels kiln carries and of generated
//!   ones (spans deleted, duplicated or swapped, tokens replaced, bytes
//!   flipped, text cut off) go through the parser and checker and, when
//!   they compile, through every code generator of the build (printed IR,
//!   Cranelift, WGSL validated by naga, CUDA C). None may panic.
//!
//! Each case is a pure function of `(seed, case)`, so a failure is replayed
//! with `kiln fuzz --seed S --case K`.

use super::families;
use super::inputs::as_args;
use super::random::{self, Gen, RandomKernel};
use crate::error::Error;
use crate::inputs::gen::SplitMix64 as Rng;
use crate::runtime::{Backend, Module};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// Which target a case belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Differential,
    FrontEnd,
}

/// The generators of the differential target.
pub const FAMILIES: [&str; 5] = ["expressions", "ranges", "nesting", "helpers", "float-edges"];

/// How cases ended, per family.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub cases: u64,
    /// Every backend gave the interpreter's outputs.
    pub agreed: u64,
    /// Every backend reported the interpreter's fault.
    pub faulted: u64,
    /// The kernel does not compile (a limit, a mutant): refused alike.
    pub refused: u64,
    /// A backend said it cannot run a construct (counted per backend).
    pub unsupported: u64,
    pub failed: u64,
}

/// One failure: the case that reproduces it, what went wrong, the source.
#[derive(Clone, Debug)]
pub struct Finding {
    pub case: u64,
    pub family: String,
    pub message: String,
    pub source: String,
    /// The kernel launched and its inputs (none for a front-end case).
    pub kernel: String,
    pub inputs: Vec<super::inputs::Input>,
}

impl Finding {
    /// Writes the case into `dir`: `FAMILY-SEED-CASE.kn` (the source, with
    /// the message, the replay command and a `kiln run` command line as
    /// comments) and the input arrays as `.npy` files in `FAMILY-SEED-CASE/`.
    /// Returns the kernel file's path.
    pub fn save(&self, dir: &std::path::Path, seed: u64) -> crate::Result<std::path::PathBuf> {
        use super::inputs::{Data, Input};
        use crate::inputs::{HostArray, HostData};
        let stem = format!("{}-{seed}-{}", self.family, self.case);
        let io = |path: &std::path::Path| {
            let path = path.display().to_string();
            move |error| Error::Io { path, error }
        };
        let mut run = format!("kiln run {stem}.kn --kernel {} --backend B", self.kernel);
        if !self.inputs.is_empty() {
            let arrays = dir.join(&stem);
            std::fs::create_dir_all(&arrays).map_err(io(&arrays))?;
            for input in &self.inputs {
                match input {
                    Input::Scalar { name, value } => {
                        run.push_str(&format!(
                            " --arg {name}={}",
                            crate::inputs::values::scalar_text(*value)
                        ));
                    }
                    Input::Array {
                        name, data, shape, ..
                    } => {
                        let data = match data.clone() {
                            Data::I32(v) => HostData::I32(v),
                            Data::U32(v) => HostData::U32(v),
                            Data::I64(v) => HostData::I64(v),
                            Data::F32(v) => HostData::F32(v),
                            Data::F64(v) => HostData::F64(v),
                        };
                        let path = arrays.join(format!("{name}.npy"));
                        let array = HostArray::new(data, shape.clone())
                            .map_err(|e| std::io::Error::other(e.to_string()))
                            .map_err(io(&path))?;
                        crate::inputs::npy::write(&path, &array)?;
                        run.push_str(&format!(" --arg {name}=@{stem}/{name}.npy"));
                    }
                }
            }
        }
        let comment = |text: &str| {
            text.lines()
                .map(|l| format!("// {l}\n"))
                .collect::<String>()
        };
        let text = format!(
            "{}{}{}{}",
            comment(&format!(
                "kiln fuzz --seed {seed} --case {}: {}",
                self.case, self.message
            )),
            comment(&format!(
                "replay: kiln fuzz --seed {seed} --case {}",
                self.case
            )),
            if self.inputs.is_empty() {
                String::new()
            } else {
                comment(&format!("run: {run}"))
            },
            self.source
        );
        let path = dir.join(format!("{stem}.kn"));
        std::fs::write(&path, text).map_err(io(&path))?;
        Ok(path)
    }
}

impl Finding {
    /// The failure with the command that replays it and the source.
    pub fn describe(&self, seed: u64) -> String {
        format!(
            "{} case {} failed: {}\nreplay: kiln fuzz --seed {seed} --case {}\n{}",
            self.family,
            self.case,
            self.message,
            self.case,
            self.source.trim_end()
        )
    }
}

/// How one case ended.
enum Verdict {
    Agreed,
    Faulted,
    Refused,
    Failed(String),
}

/// Runs `f`, turning a panic into `Err(message)`.
fn guarded<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into())
    })
}

/// The family and kernel of differential case `case`. Transcendental
/// builtins appear only when every backend shares the interpreter's math.
pub fn differential_kernel(
    seed: u64,
    case: u64,
    transcendentals: bool,
) -> (&'static str, RandomKernel) {
    let mut rng = Rng::new(seed ^ case.wrapping_mul(0xD1B5_4A32_D192_ED03));
    let mut g = Gen {
        rng: Rng::new(rng.next_u64()),
        vars: random::kernel_vars(),
        helpers: Vec::new(),
        transcendentals,
    };
    let family = FAMILIES[g.below(FAMILIES.len())];
    let name = format!("fuzz_{case}");
    let kernel = match family {
        "ranges" => families::ranges(&mut g, &mut rng, &name),
        "nesting" => families::nesting(&mut g, &mut rng, &name),
        "helpers" => families::helpers(&mut g, &mut rng, &name),
        "float-edges" => {
            let mut k = random::random_kernel(seed, case, transcendentals);
            families::float_edges(&mut k, &mut g);
            k
        }
        _ => random::random_kernel(seed, case, transcendentals),
    };
    (family, kernel)
}

/// Runs one kernel on the interpreter and on `backends`; counts
/// unsupported constructs into `unsupported`.
fn differential(backends: &[Backend], rk: &RandomKernel, unsupported: &mut u64) -> Verdict {
    let module = match guarded(|| Module::from_source("fuzz.kn", &rk.source)) {
        Err(panic) => return Verdict::Failed(format!("the front end panicked: {panic}")),
        Ok(Err(_)) => return Verdict::Refused,
        Ok(Ok(m)) => m,
    };
    let kernel = match module.kernel(&rk.name) {
        Ok(k) => k,
        Err(e) => return Verdict::Failed(format!("no kernel `{}`: {e}", rk.name)),
    };
    let mut expected = rk.inputs.clone();
    let reference = match guarded(|| kernel.launch_on(Backend::Interp, &mut as_args(&mut expected)))
    {
        Ok(r) => r,
        Err(panic) => return Verdict::Failed(format!("interp panicked: {panic}")),
    };
    let mut faulted = false;
    for &backend in backends {
        let name = backend.name();
        let mut actual = rk.inputs.clone();
        let got = match guarded(|| kernel.launch_on(backend, &mut as_args(&mut actual))) {
            Ok(r) => r,
            Err(panic) => return Verdict::Failed(format!("{name} panicked: {panic}")),
        };
        let outcome = match (&reference, got) {
            (Ok(want), Ok(got)) => super::compare::compare_result(name, *want, got)
                .and_then(|()| super::compare::compare_inputs(name, &expected, &actual)),
            (_, Err(Error::Unsupported { .. })) => {
                *unsupported += 1;
                continue;
            }
            (Err(Error::Runtime(want)), Err(Error::Runtime(got))) => {
                faulted = true;
                // Which iteration of a prange faults first is unspecified
                // (language.md §11): the class and the place must agree.
                let same = std::mem::discriminant(&want.fault)
                    == std::mem::discriminant(&got.fault)
                    && (want.span.line, want.span.col) == (got.span.line, got.span.col)
                    && want.kernel == got.kernel;
                if same {
                    Ok(())
                } else {
                    Err(format!("{name} reports `{got}`, interp `{want}`"))
                }
            }
            (Err(want), Err(got)) if want.to_string() == got.to_string() => {
                faulted = true;
                Ok(())
            }
            (Ok(_), Err(got)) => Err(format!("{name} fails, interp does not: {got}")),
            (Err(want), Ok(_)) => Err(format!("{name} succeeds, interp fails: {want}")),
            (Err(want), Err(got)) => Err(format!("{name}: `{got}`, interp: `{want}`")),
        };
        if let Err(e) = outcome {
            return Verdict::Failed(e);
        }
    }
    if faulted || reference.is_err() {
        Verdict::Faulted
    } else {
        Verdict::Agreed
    }
}

/// Runs differential case `case` of `seed` on `backends`, counted under
/// its family in `counts`.
pub fn check_differential(
    backends: &[Backend],
    seed: u64,
    case: u64,
    counts: &mut BTreeMap<&'static str, Counts>,
) -> Result<(), Finding> {
    let transcendentals = backends
        .iter()
        .all(|b| matches!(b, Backend::Cpu | Backend::Interp | Backend::Auto));
    let (family, rk) = differential_kernel(seed, case, transcendentals);
    let counts = counts.entry(family).or_default();
    counts.cases += 1;
    match differential(backends, &rk, &mut counts.unsupported) {
        Verdict::Agreed => counts.agreed += 1,
        Verdict::Faulted => counts.faulted += 1,
        Verdict::Refused => counts.refused += 1,
        Verdict::Failed(message) => {
            counts.failed += 1;
            return Err(Finding {
                case,
                family: family.to_string(),
                message,
                source: rk.source,
                kernel: rk.name,
                inputs: rk.inputs,
            });
        }
    }
    Ok(())
}

/// Tokens of the language and near misses (malformed literals, stray
/// punctuation, non-ASCII) that fuzzers splice into programs.
pub const TOKENS: &[&str] = &[
    "kernel",
    "fn",
    "const",
    "let",
    "mut",
    "if",
    "else",
    "while",
    "for",
    "in",
    "prange",
    "break",
    "continue",
    "return",
    "true",
    "false",
    "as",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ";",
    ":",
    ".",
    "..",
    "..=",
    "->",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "!",
    "<<",
    ">>",
    "&&",
    "||",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "+=",
    "-=",
    "*=",
    "/=",
    "%=",
    "&=",
    "|=",
    "^=",
    "<<=",
    ">>=",
    "0",
    "1",
    "42",
    "0x2A",
    "1_000",
    "7u32",
    "3i64",
    "1.0",
    "1.",
    "1e-3",
    "2.5e10f32",
    "1f64",
    "99999999999999999999",
    "1u8",
    "x",
    "y",
    "a",
    "i",
    "n",
    "len",
    "shape",
    "sqrt",
    "max",
    "step_by",
    "rev",
    "atomic_add",
    "select",
    "f32",
    "f64",
    "i32",
    "u32",
    "i64",
    "bool",
    "/*",
    "*/",
    "//",
    "\n",
    "@",
    "é",
    "-1",
    "2147483648",
    "9223372036854775807",
    "1e309",
    "0.0",
    ".len()",
    ".shape(0)",
    ".step_by(0)",
    ".rev()",
    "min",
];

/// A mutant of `source`: one to four edits.
fn mutate(source: &str, rng: &mut Rng) -> String {
    let mut text: Vec<u8> = source.as_bytes().to_vec();
    let edits = 1 + rng.next_u64() % 4;
    for _ in 0..edits {
        let n = text.len().max(1);
        let at = (rng.next_u64() as usize) % n;
        let len = 1 + (rng.next_u64() as usize) % 40;
        let end = (at + len).min(text.len());
        match rng.next_u64() % 7 {
            0 => {
                text.drain(at.min(text.len())..end);
            }
            1 => {
                let span: Vec<u8> = text[at.min(text.len())..end].to_vec();
                let to = (rng.next_u64() as usize) % n;
                text.splice(to.min(text.len())..to.min(text.len()), span);
            }
            2 | 3 => {
                let word = TOKENS[(rng.next_u64() as usize) % TOKENS.len()];
                let cut = if rng.next_u64() % 2 == 0 { at } else { end };
                let pad = format!(" {word} ");
                text.splice(at.min(text.len())..cut.min(text.len()), pad.into_bytes());
            }
            4 => {
                if let Some(b) = text.get_mut(at) {
                    *b ^= 1 << (rng.next_u64() % 7);
                }
            }
            5 => text.truncate(at),
            _ => {
                // Swap two lines.
                let s = String::from_utf8_lossy(&text).into_owned();
                let mut lines: Vec<&str> = s.lines().collect();
                if lines.len() > 1 {
                    let a = (rng.next_u64() as usize) % lines.len();
                    let b = (rng.next_u64() as usize) % lines.len();
                    lines.swap(a, b);
                }
                text = lines.join("\n").into_bytes();
            }
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// The source front-end case `case` mutates: a kernel kiln carries or a
/// generated one.
fn front_end_original(seed: u64, case: u64, rng: &mut Rng) -> String {
    let carried: Vec<&str> = super::files::LIBRARY
        .iter()
        .chain(super::files::CONFORMANCE)
        .map(|(_, source)| *source)
        .collect();
    let pick = (rng.next_u64() as usize) % (carried.len() + 8);
    match carried.get(pick) {
        Some(source) => source.to_string(),
        None => differential_kernel(seed, case, true).1.source,
    }
}

/// Every code generator of this build over every kernel of `module`.
fn generate_everything(module: &Module) -> Result<(), String> {
    let ir = module.ir();
    for name in ir.kernels().map(|f| f.name.clone()) {
        let Ok(kernel) = module.kernel(&name) else {
            continue;
        };
        let (id, func) = (kernel.id(), kernel.function());
        let _ = crate::ir::print::print_function(ir, func);
        #[cfg(feature = "cpu")]
        let _ = crate::cpu::emit_clif(ir, &func.name);
        if let Ok(program) = crate::gpu::generate(ir, id, &crate::gpu::wgsl::Wgsl) {
            #[cfg(feature = "wgpu")]
            {
                let target = crate::wgpu::exact::SpirvTarget {
                    spirv_version: (1, 3),
                    native_workgroup_zeroing: true,
                    preserve_specials: &[32, 64],
                };
                let entries: Vec<&str> = program.entries.iter().map(|e| e.name.as_str()).collect();
                crate::wgpu::exact::exact_spirv(&program.source, target, &entries).map_err(
                    |e| {
                        format!(
                            "kernel `{}`: the generated WGSL does not validate: {e}",
                            func.name
                        )
                    },
                )?;
            }
            #[cfg(not(feature = "wgpu"))]
            let _ = program;
        }
        #[cfg(feature = "cuda")]
        let _ = crate::cuda::generate(ir, id);
    }
    Ok(())
}

/// Runs front-end case `case` of `seed`.
pub fn check_front_end(seed: u64, case: u64, counts: &mut Counts) -> Result<(), Finding> {
    let mut rng = Rng::new(seed ^ case.wrapping_mul(0x9FB2_1C65_1E98_DF25) ^ 0xF0);
    let original = front_end_original(seed, case, &mut rng);
    let source = mutate(&original, &mut rng);
    counts.cases += 1;
    let outcome = guarded(|| match Module::from_source("mutant.kn", &source) {
        Err(e) => {
            // Rendering the diagnostic is part of the front end.
            let _ = e.to_string();
            Ok(false)
        }
        Ok(module) => generate_everything(&module).map(|()| true),
    });
    let message = match outcome {
        Ok(Ok(true)) => {
            counts.agreed += 1;
            return Ok(());
        }
        Ok(Ok(false)) => {
            counts.refused += 1;
            return Ok(());
        }
        Ok(Err(e)) => e,
        Err(panic) => format!("panicked: {panic}"),
    };
    counts.failed += 1;
    Err(Finding {
        case,
        family: "mutants".into(),
        message,
        source,
        kernel: String::new(),
        inputs: Vec::new(),
    })
}

/// What a campaign runs.
#[derive(Clone, Debug)]
pub struct Options {
    pub seed: u64,
    /// The backends compared with the interpreter.
    pub backends: Vec<Backend>,
    pub targets: Vec<Target>,
    /// Stop after this many cases per target...
    pub cases: Option<u64>,
    /// ... or after this long, whichever comes first.
    pub time: Option<Duration>,
    /// The first case number (a replay runs one case from here).
    pub first: u64,
}

/// What a campaign found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Differential cases per family.
    pub differential: BTreeMap<&'static str, Counts>,
    pub front_end: Counts,
    pub findings: Vec<Finding>,
    pub seconds: f64,
}

impl Report {
    /// Every differential case, all families together.
    pub fn differential_total(&self) -> Counts {
        let mut t = Counts::default();
        for c in self.differential.values() {
            t.cases += c.cases;
            t.agreed += c.agreed;
            t.faulted += c.faulted;
            t.refused += c.refused;
            t.unsupported += c.unsupported;
            t.failed += c.failed;
        }
        t
    }

    pub fn failed(&self) -> u64 {
        self.differential_total().failed + self.front_end.failed
    }

    /// A one-line summary, for a progress line.
    pub fn summary(&self) -> String {
        let d = self.differential_total();
        let f = &self.front_end;
        format!(
            "differential {} ({} agreed, {} faulted alike, {} refused), front-end {}; {} failed",
            d.cases,
            d.agreed,
            d.faulted,
            d.refused,
            f.cases,
            d.failed + f.failed
        )
    }

    /// The table `kiln fuzz` prints: one row per family and target.
    pub fn table(&self) -> String {
        let mut rows: Vec<[String; 7]> = vec![[
            "target".into(),
            "cases".into(),
            "agreed".into(),
            "faulted alike".into(),
            "refused".into(),
            "unsupported".into(),
            "failed".into(),
        ]];
        let row = |name: String, c: &Counts| {
            [
                name,
                c.cases.to_string(),
                c.agreed.to_string(),
                c.faulted.to_string(),
                c.refused.to_string(),
                c.unsupported.to_string(),
                c.failed.to_string(),
            ]
        };
        for (family, c) in &self.differential {
            rows.push(row(format!("differential/{family}"), c));
        }
        if self.front_end.cases > 0 {
            let mut c = self.front_end.clone();
            // For mutants, "agreed" means compiled and generated cleanly.
            c.faulted = 0;
            rows.push(row("front-end/mutants".into(), &c));
        }
        super::columns(&rows, 1)
    }

    pub fn to_json(&self) -> serde_json::Value {
        let counts = |c: &Counts| {
            serde_json::json!({
                "cases": c.cases, "agreed": c.agreed, "faulted": c.faulted,
                "refused": c.refused, "unsupported": c.unsupported, "failed": c.failed,
            })
        };
        serde_json::json!({
            "differential": self.differential.iter().map(|(k, c)| (k.to_string(), counts(c))).collect::<serde_json::Map<_, _>>(),
            "front_end": counts(&self.front_end),
            "findings": self.findings.iter().map(|f| serde_json::json!({
                "case": f.case, "family": f.family, "message": f.message, "source": f.source,
            })).collect::<Vec<_>>(),
            "seconds": self.seconds,
        })
    }
}

/// Runs a campaign. `progress` is called after every case with the report
/// so far and the case just run; a finding is in the report as soon as it
/// is made. Panics are caught and reported as findings (the process's
/// panic hook still prints them; `kiln fuzz` silences it).
pub fn campaign(options: &Options, progress: &mut dyn FnMut(&Report, u64)) -> Report {
    let start = Instant::now();
    let mut report = Report::default();
    let mut case = options.first;
    loop {
        let done = case - options.first;
        if options.cases.is_some_and(|n| done >= n)
            || options.time.is_some_and(|t| start.elapsed() >= t)
        {
            break;
        }
        for target in &options.targets {
            let found = match target {
                Target::Differential => check_differential(
                    &options.backends,
                    options.seed,
                    case,
                    &mut report.differential,
                ),
                Target::FrontEnd => check_front_end(options.seed, case, &mut report.front_end),
            };
            if let Err(finding) = found {
                report.findings.push(finding);
            }
        }
        report.seconds = start.elapsed().as_secs_f64();
        progress(&report, case);
        case += 1;
    }
    report.seconds = start.elapsed().as_secs_f64();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generated kernels are well typed: the checker refuses only those
    /// past a documented limit (nesting, helper depth, inlined size).
    #[test]
    fn generated_kernels_compile_unless_past_a_limit() {
        let mut refused = 0;
        for case in 0..300 {
            let (family, rk) = differential_kernel(7, case, true);
            if let Err(e) = Module::from_source("fuzz.kn", &rk.source) {
                let text = e.to_string();
                let limit = ["nest", "helper calls", "inlined", "too deep"]
                    .iter()
                    .any(|w| text.contains(w));
                assert!(limit, "{family} case {case}:\n{text}\n{}", rk.source);
                refused += 1;
            }
        }
        assert!(refused < 30, "{refused} of 300 refused");
    }
}
