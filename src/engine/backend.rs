//! The table of backends (names, cargo features, kinds): parsing (`auto cpu
//! cuda wgpu interp`), printing and the `KILN_BACKEND` default.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// What role a backend plays: the chooser, the reference, an engine on
/// host memory, or an engine with device memory of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendKind {
    /// `auto`: not an engine; the runtime picks one per launch.
    Chooser,
    /// The interpreter: the oracle every engine is tested against.
    Reference,
    /// Runs on host memory (the CPU JIT).
    Host,
    /// Has device memory: arrays are copied to it (`Engine::alloc` ...).
    Device,
}

/// The table of backends: one row each (variant, name, the cargo feature
/// that builds it, its kind). The enum and its facts are generated from it,
/// and `crate::backends` matches every variant to its engine, so adding a
/// backend is its folder, one row here and one arm there (a missing arm
/// fails the build).
macro_rules! backend_table {
    ($($(#[$doc:meta])* $variant:ident $name:literal $feature:expr, $kind:ident;)*) => {
        /// Where a launch runs. `Auto` lets the runtime choose; the others
        /// force one (an absent forced backend is an error, never a silent
        /// fallback). Every variant exists in every feature configuration.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Backend {
            $($(#[$doc])* $variant,)*
        }

        impl Backend {
            /// Every backend, in table order.
            pub const ALL: [Backend; [$($name),*].len()] = [$(Backend::$variant),*];

            /// The name `KILN_BACKEND`, `--backend` and messages use.
            pub fn name(self) -> &'static str {
                match self {
                    $(Backend::$variant => $name,)*
                }
            }

            /// The cargo feature that builds this backend's engine (`None`:
            /// always built).
            pub fn feature(self) -> Option<&'static str> {
                match self {
                    $(Backend::$variant => $feature,)*
                }
            }

            /// The role this backend plays.
            pub fn kind(self) -> BackendKind {
                match self {
                    $(Backend::$variant => BackendKind::$kind,)*
                }
            }
        }
    };
}

backend_table! {
    /// The runtime chooses per launch, among every backend present here
    /// (docs: DESIGN.md section 5).
    Auto   "auto"   None,         Chooser;
    /// The CPU: Cranelift JIT, `prange` on a rayon pool.
    Cpu    "cpu"    Some("cpu"),  Host;
    /// NVIDIA GPUs: CUDA C compiled by NVRTC (docs/cuda.md).
    Cuda   "cuda"   Some("cuda"), Device;
    /// Any Vulkan/Metal/DX12 GPU through WGSL and wgpu (docs/wgpu.md).
    Wgpu   "wgpu"   Some("wgpu"), Device;
    /// The reference interpreter, the oracle of every other backend.
    Interp "interp" None,         Reference;
}

/// The environment variable that sets the default backend.
pub const BACKEND_ENV: &str = "KILN_BACKEND";

impl Backend {
    /// Every backend that is an engine (all but `auto`), in table order:
    /// what listings, `kiln devices`, the bench and the tests iterate.
    pub fn engines() -> impl Iterator<Item = Backend> {
        Backend::ALL
            .into_iter()
            .filter(|b| b.kind() != BackendKind::Chooser)
    }

    /// The backends with device memory of their own (the GPUs).
    pub fn devices() -> impl Iterator<Item = Backend> {
        Backend::ALL
            .into_iter()
            .filter(|b| b.kind() == BackendKind::Device)
    }

    /// The compiling engines (host and device), the reference left out:
    /// what `--backend all` means to the bench.
    pub fn compiled() -> impl Iterator<Item = Backend> {
        Backend::ALL
            .into_iter()
            .filter(|b| matches!(b.kind(), BackendKind::Host | BackendKind::Device))
    }

    /// Whether this build has the backend's engine (its feature is on).
    pub fn is_built(self) -> bool {
        match self.feature() {
            None => true,
            Some("cpu") => cfg!(feature = "cpu"),
            Some("cuda") => cfg!(feature = "cuda"),
            Some("wgpu") => cfg!(feature = "wgpu"),
            Some(_) => false,
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
    fn table_facts_agree() {
        assert_eq!(
            Backend::engines().collect::<Vec<_>>(),
            [Backend::Cpu, Backend::Cuda, Backend::Wgpu, Backend::Interp]
        );
        assert_eq!(
            Backend::devices().collect::<Vec<_>>(),
            [Backend::Cuda, Backend::Wgpu]
        );
        assert!(Backend::Interp.is_built() && !Backend::Interp.feature().is_some());
        for b in Backend::devices() {
            assert_eq!(
                b.feature(),
                Some(b.name()),
                "a device backend's feature is its name"
            );
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
