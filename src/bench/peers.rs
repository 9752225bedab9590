//! Peers measured in the same run: Numba (`njit` and `njit(parallel=True)`)
//! through `python3` and benches/numba_peer.py. Inputs go to the script as
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
}

pub struct Numba {
    python: String,
    script: PathBuf,
    /// The carried script, written out for `python3` (removed on drop).
    _written: Option<tempfile::TempPath>,
}

/// benches/numba_peer.py, carried in the binary so the peer runs from any
/// directory (`KILN_NUMBA_SCRIPT` names another file).
const SCRIPT: &str = include_str!("../../benches/numba_peer.py");

impl Numba {
    /// Finds `python3` with numba importable and the peer script.
    pub fn detect() -> Result<Numba, String> {
        let python = std::env::var("KILN_PYTHON").unwrap_or_else(|_| "python3".into());
        let probe = Command::new(&python)
            .args(["-c", "import numba, numpy"])
            .output();
        match probe {
            Ok(o) if o.status.success() => {
                let (script, written) = match std::env::var_os("KILN_NUMBA_SCRIPT") {
                    Some(path) => (PathBuf::from(path), None),
                    None => {
                        let mut file = tempfile::Builder::new()
                            .prefix("kiln-numba-peer-")
                            .suffix(".py")
                            .tempfile()
                            .map_err(|e| format!("cannot write the Numba peer script: {e}"))?;
                        std::io::Write::write_all(&mut file, SCRIPT.as_bytes())
                            .map_err(|e| format!("cannot write the Numba peer script: {e}"))?;
                        let path = file.into_temp_path();
                        (path.to_path_buf(), Some(path))
                    }
                };
                Ok(Numba {
                    python,
                    script,
                    _written: written,
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
        let modes = ["numba", "numba-parallel"];
        let fail = |why: String| {
            modes
                .iter()
                .map(|m| PeerRun {
                    runner: m.to_string(),
                    result: Err(why.clone()),
                })
                .collect()
        };
        let dir = std::env::temp_dir().join(format!("kiln-numba-{}-{kernel}", std::process::id()));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return fail(format!("cannot create {}: {e}", dir.display()));
        }
        let outcome = self.exchange(kernel, params, inputs, target_s, &dir, &modes);
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
                "numba_peer.py failed: {}",
                err.lines().last().unwrap_or("")
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let report: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or(""))
            .map_err(|e| format!("numba_peer.py printed no JSON: {e}"))?;
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
