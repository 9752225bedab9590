//! Backend names: parsing (`auto cpu cuda wgpu interp`), printing and the
//! `KILN_BACKEND` default.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// Where a launch runs. `Auto` lets the runtime choose; the others force one
/// (an absent forced backend is an error, never a silent fallback).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// The runtime chooses per launch, among every backend present here
    /// (docs: DESIGN.md section 5).
    Auto,
    /// The CPU: Cranelift JIT, `prange` on a rayon pool.
    Cpu,
    /// NVIDIA GPUs: CUDA C compiled by NVRTC (docs/cuda.md).
    Cuda,
    /// Any Vulkan/Metal/DX12 GPU through WGSL and wgpu (docs/wgpu.md).
    Wgpu,
    /// The reference interpreter, the oracle of every other backend.
    Interp,
}

/// The environment variable that sets the default backend.
pub const BACKEND_ENV: &str = "KILN_BACKEND";

impl Backend {
    /// Every backend, `Auto` first.
    pub const ALL: [Backend; 5] = [
        Backend::Auto,
        Backend::Cpu,
        Backend::Cuda,
        Backend::Wgpu,
        Backend::Interp,
    ];

    /// The name `KILN_BACKEND`, `--backend` and messages use.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Cpu => "cpu",
            Backend::Cuda => "cuda",
            Backend::Wgpu => "wgpu",
            Backend::Interp => "interp",
        }
    }

    /// `KILN_BACKEND` when set and not empty (a value that is not a backend
    /// name is an error, not a silent default), `Auto` otherwise.
    pub fn from_env() -> Result<Backend> {
        match std::env::var(BACKEND_ENV) {
            // `KILN_BACKEND= cmd` (set but empty) means "not set".
            Ok(value) if value.trim().is_empty() => Ok(Backend::Auto),
            Ok(value) => value
                .parse()
                .map_err(|e: ParseBackendError| Error::BackendUnavailable {
                    backend: value.clone(),
                    reason: format!("{BACKEND_ENV}={value:?}: {e}"),
                }),
            Err(std::env::VarError::NotPresent) => Ok(Backend::Auto),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::BackendUnavailable {
                backend: "?".into(),
                reason: format!("{BACKEND_ENV} is not valid UTF-8"),
            }),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that names no backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseBackendError {
    /// The string given.
    pub given: String,
}

impl fmt::Display for ParseBackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Backend::ALL.iter().map(|b| b.name()).collect();
        write!(
            f,
            "unknown backend `{}` (valid: {})",
            self.given,
            names.join(", ")
        )
    }
}

impl std::error::Error for ParseBackendError {}

impl FromStr for Backend {
    type Err = ParseBackendError;

    /// Case-insensitive, surrounding whitespace ignored.
    fn from_str(s: &str) -> Result<Backend, ParseBackendError> {
        let wanted = s.trim();
        Backend::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| ParseBackendError {
                given: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_name_in_any_case() {
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>(), Ok(b));
            assert_eq!(b.name().to_uppercase().parse::<Backend>(), Ok(b));
            assert_eq!(b.to_string(), b.name());
        }
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let err = "gpu".parse::<Backend>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown backend `gpu` (valid: auto, cpu, cuda, wgpu, interp)"
        );
    }
}
