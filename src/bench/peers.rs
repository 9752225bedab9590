//! Peers measured in the same run: Numba (`njit` and `njit(parallel=True)`)
//! through `python3` and benches/numba_peer.py, and on NVIDIA machines CuPy
//! (elementwise and reduction kernels; arrays resident, and with copies)
//! through benches/cupy_peer.py. Both scripts are carried in the binary.
//! Inputs go to the script as
//! `.npy` files, so it computes on exactly the arrays kiln did, and its
//! outputs come back as `.npy` files to be validated like any other runner.

use crate::inputs::npy;
use crate::inputs::params::ParamInfo;
use crate::inputs::values::HostValue;
use crate::ir::Value;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

/// One timed mode of a peer, with the outputs of one run to validate.
pub struct PeerRun {
    pub runner: String,
    pub result: Result<PeerTiming, String>,
}

pub struct PeerTiming {
    /// First call: compile plus one run.
    pub first_call_s: f64,
    pub median_s: f64,
    pub runs: usize,
    /// Every `mut` array after one run, by parameter name.
    pub arrays: Vec<(String, HostValue)>,
    /// The kernel's result of that run, as a float (Python's view of it).
    pub result: Option<f64>,
    /// The device the peer ran on, when it says (CuPy: the GPU's name).
    pub device: Option<String>,
}

/// A peer: a Python script run by `python3` with its modes.
pub struct Peer {
    python: String,
    script: PathBuf,
    /// The carried script, written out for `python3` (removed on drop).
    _written: Option<tempfile::TempPath>,
    /// The script's modes, each a runner (`numba`, `numba-parallel`).
    modes: &'static [&'static str],
    /// The script's file name, for messages.
    label: &'static str,
}

/// The Numba peer (kept under its old name).
pub type Numba = Peer;

/// benches/numba_peer.py, carried in the binary so the peer runs from any
/// directory (`KILN_NUMBA_SCRIPT` names another file).
const SCRIPT: &str = include_str!("../../benches/numba_peer.py");
/// benches/cupy_peer.py (`KILN_CUPY_SCRIPT` names another file).
const CUPY_SCRIPT: &str = include_str!("../../benches/cupy_peer.py");

/// Writes a carried script to a temporary file (unless `env` names one).
fn script_file(
    env: &str,
    text: &str,
    prefix: &str,
) -> Result<(PathBuf, Option<tempfile::TempPath>), String> {
    if let Some(path) = std::env::var_os(env) {
        return Ok((PathBuf::from(path), None));
    }
    let mut file = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".py")
        .tempfile()
        .map_err(|e| format!("cannot write the peer script: {e}"))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .map_err(|e| format!("cannot write the peer script: {e}"))?;
    let path = file.into_temp_path();
    Ok((path.to_path_buf(), Some(path)))
}

impl Peer {
    /// CuPy on an NVIDIA GPU: when `python3 -c "import cupy"` works and
    /// CuPy sees a device.
    pub fn detect_cupy() -> Result<Peer, String> {
        let python = std::env::var("KILN_PYTHON").unwrap_or_else(|_| "python3".into());
        let probe = Command::new(&python)
            .args([
                "-c",
                "import cupy, numpy; assert cupy.cuda.runtime.getDeviceCount() > 0",
            ])
            .output();
        match probe {
            Ok(o) if o.status.success() => {
                let (script, written) =
                    script_file("KILN_CUPY_SCRIPT", CUPY_SCRIPT, "kiln-cupy-peer-")?;
                Ok(Peer {
                    python,
                    script,
                    _written: written,
                    modes: &["cupy", "cupy-copy"],
                    label: "cupy_peer.py",
                })
            }
            Ok(_) => Err(format!(
                "cupy is not installed for {python} or sees no GPU: peer skipped"
            )),
            Err(e) => Err(format!("{python} not found ({e}): peer skipped")),
        }
    }

    /// Finds `python3` with numba importable and the peer script.
    pub fn detect() -> Result<Numba, String> {
        let python = std::env::var("KILN_PYTHON").unwrap_or_else(|_| "python3".into());
        let probe = Command::new(&python)
            .args(["-c", "import numba, numpy"])
            .output();
        match probe {
            Ok(o) if o.status.success() => {
                let (script, written) =
                    script_file("KILN_NUMBA_SCRIPT", SCRIPT, "kiln-numba-peer-")?;
                Ok(Peer {
                    python,
                    script,
                    _written: written,
                    modes: &["numba", "numba-parallel"],
                    label: "numba_peer.py",
                })
            }
            Ok(_) => Err(format!(
                "numba is not installed for {python} (pip install numba): peer skipped"
            )),
            Err(e) => Err(format!("{python} not found ({e}): peer skipped")),
        }
    }

    /// Runs both modes of `kernel` on `inputs` (in parameter order).
    pub fn measure(
        &self,
        kernel: &str,
        params: &[ParamInfo],
        inputs: &[HostValue],
        target_s: f64,
    ) -> Vec<PeerRun> {
        let modes = self.modes;
        let fail = |why: String| {
            modes
                .iter()
                .map(|m| PeerRun {
                    runner: m.to_string(),
                    result: Err(why.clone()),
                })
                .collect()
        };
        let dir =
            std::env::temp_dir().join(format!("kiln-{}-{}-{kernel}", modes[0], std::process::id()));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return fail(format!("cannot create {}: {e}", dir.display()));
        }
        let outcome = self.exchange(kernel, params, inputs, target_s, &dir, modes);
        let _ = std::fs::remove_dir_all(&dir);
        outcome.unwrap_or_else(fail)
    }

    fn exchange(
        &self,
        kernel: &str,
        params: &[ParamInfo],
        inputs: &[HostValue],
        target_s: f64,
        dir: &std::path::Path,
        modes: &[&str],
    ) -> Result<Vec<PeerRun>, String> {
        let mut spec = Vec::new();
        let mut scalars = serde_json::Map::new();
        for (p, v) in params.iter().zip(inputs) {
            match v {
                HostValue::Array(a) => {
                    npy::write(dir.join(format!("{}.npy", p.name)), a)
                        .map_err(|e| e.to_string())?;
                    spec.push(json!([p.name, "array", npy::numpy_name(a.elem())]));
                }
                HostValue::Scalar(s) => {
                    let (dtype, value) = match *s {
                        Value::Bool(b) => ("bool", json!(b)),
                        Value::I32(x) => ("int32", json!(x)),
                        Value::U32(x) => ("uint32", json!(x)),
                        Value::I64(x) => ("int64", json!(x)),
                        Value::F32(x) => ("float32", json!(x)),
                        Value::F64(x) => ("float64", json!(x)),
                    };
                    spec.push(json!([p.name, "scalar", dtype]));
                    scalars.insert(p.name.clone(), value);
                }
            }
        }
        let spec = json!({"params": spec, "scalars": scalars});
        std::fs::write(dir.join("scalars.json"), spec.to_string()).map_err(|e| e.to_string())?;
        let out = Command::new(&self.python)
            .arg(&self.script)
            .arg(kernel)
            .arg(dir)
            .arg("30")
            .arg(target_s.to_string())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.python))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "{} failed: {}",
                self.label,
                err.lines().last().unwrap_or("")
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let report: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or(""))
            .map_err(|e| format!("{} printed no JSON: {e}", self.label))?;
        let device = report["device"].as_str().map(str::to_string);
        Ok(modes
            .iter()
            .map(|mode| {
                let r = &report[*mode];
                let result = match (r["seconds"].as_f64(), r["error"].as_str()) {
                    (_, Some(e)) => Err(e.to_string()),
                    (None, None) => Err("no timing reported".to_string()),
                    (Some(median_s), None) => params
                        .iter()
                        .filter(|p| p.ty.is_mut_array())
                        .map(|p| {
                            let path = dir.join(format!("{mode}__{}.npy", p.name));
                            npy::read(&path)
                                .map(|a| (p.name.clone(), HostValue::Array(a)))
                                .map_err(|e| e.to_string())
                        })
                        .collect::<Result<Vec<_>, String>>()
                        .map(|arrays| PeerTiming {
                            first_call_s: r["compile_seconds"].as_f64().unwrap_or(f64::NAN),
                            median_s,
                            runs: r["runs"].as_u64().unwrap_or(0) as usize,
                            arrays,
                            result: r["result"].as_f64(),
                            device: device.clone(),
                        }),
                };
                PeerRun {
                    runner: mode.to_string(),
                    result,
                }
            })
            .collect())
    }
}
