//! NVRTC: finding the library and compiling CUDA C to PTX or CUBIN.
//!
//! cudarc loads `libnvrtc` lazily and PANICS when it cannot, so every entry
//! point here first goes through [`library`], which checks presence with
//! cudarc's own probe and turns absence into a reason string. When the
//! library is not on the loader's search path, well-known install places
//! (the `nvidia-cuda-nvrtc` pip wheel, `/usr/local/cuda`, `$CUDA_PATH`,
//! `$KILN_NVRTC_LIB`) are preloaded by absolute path: the dynamic loader then
//! resolves cudarc's `dlopen("libnvrtc.so.13")` to the already loaded object
//! by its soname.

use cudarc::nvrtc::sys;
use std::ffi::{c_char, c_int, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What NVRTC produces: PTX (JIT-compiled by the driver when loaded; needs
/// a driver at least as new as NVRTC) or CUBIN (machine code for exactly one
/// `sm_XY`; loads on older drivers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageKind {
    Ptx,
    Cubin,
}

impl ImageKind {
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Ptx => "ptx",
            ImageKind::Cubin => "cubin",
        }
    }
}

/// A compiled module image. PTX keeps its terminating NUL, which
/// `cuModuleLoadData` needs; CUBIN is the raw ELF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub kind: ImageKind,
    pub bytes: Vec<u8>,
}

/// A GPU architecture as a compute capability, `(9, 0)` for `sm_90`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arch {
    pub major: u32,
    pub minor: u32,
}

impl Arch {
    /// The architecture tests compile for when no GPU is present (H100).
    pub const SM_90: Arch = Arch { major: 9, minor: 0 };

    /// `XY` as NVRTC's option values spell it (`90`, `120`).
    pub fn number(self) -> u32 {
        self.major * 10 + self.minor
    }

    fn from_number(n: u32) -> Arch {
        Arch {
            major: n / 10,
            minor: n % 10,
        }
    }
}

/// The loaded NVRTC library and what it supports.
#[derive(Clone, Debug)]
pub struct Nvrtc {
    pub version: (i32, i32),
    /// Architectures NVRTC can generate code for, ascending.
    pub archs: Vec<Arch>,
}

impl Nvrtc {
    /// The architecture to compile for on a device of compute capability
    /// `device`: the device's own when NVRTC supports it; for PTX, otherwise
    /// the newest supported one below it (the driver JIT-compiles PTX for
    /// newer GPUs). `None` when NVRTC cannot target the device at all.
    pub fn target(&self, device: Arch, kind: ImageKind) -> Option<Arch> {
        if self.archs.is_empty() || self.archs.contains(&device) {
            return Some(device);
        }
        match kind {
            ImageKind::Cubin => None,
            ImageKind::Ptx => self.archs.iter().rev().find(|&&a| a <= device).copied(),
        }
    }

    pub fn version_string(&self) -> String {
        format!("{}.{}", self.version.0, self.version.1)
    }
}

/// NVRTC, loaded once per process, or why it cannot be.
pub fn library() -> Result<&'static Nvrtc, String> {
    static LIB: OnceLock<Result<Nvrtc, String>> = OnceLock::new();
    LIB.get_or_init(load).as_ref().map_err(|e| e.clone())
}

fn load() -> Result<Nvrtc, String> {
    // SAFETY: only probes whether the library can be opened.
    if !unsafe { sys::is_culib_present() } {
        let tried = preload_from_known_places();
        if !unsafe { sys::is_culib_present() } {
            return Err(format!(
                "NVRTC (libnvrtc.so.13) was not found on the library search path{}; \
                 install it with `pip install nvidia-cuda-nvrtc` and put its lib folder \
                 on LD_LIBRARY_PATH, or set KILN_NVRTC_LIB to the library file",
                if tried.is_empty() {
                    String::new()
                } else {
                    format!(" nor at {}", tried.join(", "))
                }
            ));
        }
    }
    // A symbol missing from an unexpected NVRTC build panics inside cudarc:
    // contain it here, once, as an "unavailable" reason.
    std::panic::catch_unwind(query_library)
        .unwrap_or_else(|_| Err("the NVRTC library lacks a required symbol".to_string()))
}

fn query_library() -> Result<Nvrtc, String> {
    let (mut major, mut minor) = (0 as c_int, 0 as c_int);
    // SAFETY: the library is present; both out-pointers are valid.
    unsafe { sys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .map_err(|e| format!("nvrtcVersion failed: {e}"))?;
    let mut count: c_int = 0;
    let mut archs = Vec::new();
    // SAFETY: `raw` has room for `count` entries, as NVRTC requires.
    unsafe {
        if sys::nvrtcGetNumSupportedArchs(&mut count).result().is_ok() && count > 0 {
            let mut raw = vec![0 as c_int; count as usize];
            if sys::nvrtcGetSupportedArchs(raw.as_mut_ptr())
                .result()
                .is_ok()
            {
                archs = raw
                    .into_iter()
                    .filter(|&n| n > 0)
                    .map(|n| Arch::from_number(n as u32))
                    .collect();
            }
        }
    }
    archs.sort();
    Ok(Nvrtc {
        version: (major, minor),
        archs,
    })
}

/// Library files worth trying when `libnvrtc.so.13` is not on the search
/// path, most specific first.
fn candidate_files() -> Vec<PathBuf> {
    const SONAME: &str = "libnvrtc.so.13";
    let mut files = Vec::new();
    if let Some(path) = std::env::var_os("KILN_NVRTC_LIB") {
        files.push(PathBuf::from(path));
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(cuda) = std::env::var_os("CUDA_PATH").or_else(|| std::env::var_os("CUDA_HOME")) {
        dirs.push(Path::new(&cuda).join("lib64"));
    }
    dirs.push(PathBuf::from("/usr/local/cuda/lib64"));
    // The pip wheel installs into site-packages/nvidia/cu13/lib.
    for root in python_roots() {
        dirs.push(root.join("nvidia/cu13/lib"));
    }
    files.extend(dirs.into_iter().map(|d| d.join(SONAME)));
    files.retain(|f| f.is_file());
    files
}

/// site-packages / dist-packages folders of the usual Python installs.
fn python_roots() -> Vec<PathBuf> {
    let mut lib_dirs: Vec<PathBuf> =
        vec![PathBuf::from("/usr/local/lib"), PathBuf::from("/usr/lib")];
    if let Some(home) = std::env::var_os("HOME") {
        let pyenv = Path::new(&home).join(".pyenv/versions");
        if let Ok(entries) = std::fs::read_dir(pyenv) {
            lib_dirs.extend(entries.flatten().map(|e| e.path().join("lib")));
        }
        lib_dirs.push(Path::new(&home).join(".local/lib"));
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        lib_dirs.push(Path::new(&venv).join("lib"));
    }
    let mut roots = Vec::new();
    for lib in lib_dirs {
        let Ok(entries) = std::fs::read_dir(&lib) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("python3") {
                roots.push(entry.path().join("site-packages"));
                roots.push(entry.path().join("dist-packages"));
            }
        }
    }
    roots
}

/// Opens the first candidate that loads, keeping it loaded for the life of
/// the process. Returns the paths tried.
fn preload_from_known_places() -> Vec<String> {
    let mut tried = Vec::new();
    for file in candidate_files() {
        tried.push(file.display().to_string());
        if dl::open_global(&file) {
            break;
        }
    }
    tried
}

mod dl {
    //! `dlopen` by absolute path. glibc's loader matches a later
    //! `dlopen("libnvrtc.so.13")` against the soname of objects already
    //! loaded, so cudarc then finds this one.
    use std::ffi::{c_char, c_int, c_void, CString};
    use std::path::Path;

    #[cfg(target_os = "linux")]
    extern "C" {
        fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    }

    #[cfg(target_os = "linux")]
    pub fn open_global(path: &Path) -> bool {
        const RTLD_NOW: c_int = 2;
        const RTLD_GLOBAL: c_int = 0x100;
        let Some(text) = path.to_str() else {
            return false;
        };
        let Ok(c_path) = CString::new(text) else {
            return false;
        };
        // SAFETY: a valid NUL-terminated path; the handle is deliberately
        // never closed (the library stays loaded for the process).
        !unsafe { dlopen(c_path.as_ptr(), RTLD_NOW | RTLD_GLOBAL) }.is_null()
    }

    #[cfg(not(target_os = "linux"))]
    pub fn open_global(_path: &Path) -> bool {
        false
    }
}

/// The NVRTC options for one compile. `--fmad=false` keeps `a*b+c` two
/// rounded operations, as SPEC requires; precise division and square root
/// and no flush-to-zero are NVRTC's defaults, spelled out so a changed
/// default cannot change results.
pub fn options(target: Arch, kind: ImageKind) -> Vec<String> {
    let arch = match kind {
        // compute_XY: NVRTC stops at PTX (no ptxas run); the driver JITs it.
        ImageKind::Ptx => format!("--gpu-architecture=compute_{}", target.number()),
        ImageKind::Cubin => format!("--gpu-architecture=sm_{}", target.number()),
    };
    vec![
        arch,
        "--fmad=false".into(),
        "--ftz=false".into(),
        "--prec-div=true".into(),
        "--prec-sqrt=true".into(),
        "--std=c++17".into(),
    ]
}

/// Why a compile failed: NVRTC's result and its log (the compiler's
/// messages, with line numbers into the generated source).
#[derive(Clone, Debug)]
pub struct CompileFailure {
    pub message: String,
    pub log: String,
}

impl std::fmt::Display for CompileFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)?;
        if !self.log.trim().is_empty() {
            write!(f, "\nNVRTC log:\n{}", self.log.trim_end())?;
        }
        Ok(())
    }
}

/// Compiles `source` (named `name` in messages) with `options`.
pub fn compile(
    source: &str,
    name: &str,
    options: &[String],
    kind: ImageKind,
) -> Result<Image, CompileFailure> {
    let fail = |message: String| CompileFailure {
        message,
        log: String::new(),
    };
    library().map_err(fail)?;
    let c_source =
        CString::new(source).map_err(|_| fail("the source contains a NUL byte".into()))?;
    let c_name = CString::new(name).map_err(|_| fail("the name contains a NUL byte".into()))?;
    let c_options: Vec<CString> = options
        .iter()
        .map(|o| CString::new(o.as_str()))
        .collect::<Result<_, _>>()
        .map_err(|_| fail("an option contains a NUL byte".into()))?;
    let program = Program::create(&c_source, &c_name).map_err(fail)?;
    let pointers: Vec<*const c_char> = c_options.iter().map(|o| o.as_ptr()).collect();
    // SAFETY: `program` is live; `pointers` holds `len` valid C strings
    // that outlive the call.
    let status =
        unsafe { sys::nvrtcCompileProgram(program.0, pointers.len() as c_int, pointers.as_ptr()) };
    let log = program.log();
    if let Err(e) = status.result() {
        return Err(CompileFailure {
            message: format!("NVRTC could not compile `{name}` ({e})"),
            log,
        });
    }
    let bytes = match kind {
        ImageKind::Ptx => program.output(sys::nvrtcGetPTXSize, sys::nvrtcGetPTX),
        ImageKind::Cubin => program.output(sys::nvrtcGetCUBINSize, sys::nvrtcGetCUBIN),
    }
    .map_err(|message| CompileFailure {
        message,
        log: log.clone(),
    })?;
    Ok(Image { kind, bytes })
}

/// An `nvrtcProgram`, destroyed on drop.
struct Program(sys::nvrtcProgram);

type SizeFn = unsafe fn(sys::nvrtcProgram, *mut usize) -> sys::nvrtcResult;
type DataFn = unsafe fn(sys::nvrtcProgram, *mut c_char) -> sys::nvrtcResult;

impl Program {
    fn create(source: &CStr, name: &CStr) -> Result<Program, String> {
        let mut raw: sys::nvrtcProgram = std::ptr::null_mut();
        // SAFETY: valid C strings; no headers (the count is 0, both header
        // arrays null).
        unsafe {
            sys::nvrtcCreateProgram(
                &mut raw,
                source.as_ptr(),
                name.as_ptr(),
                0,
                std::ptr::null(),
                std::ptr::null(),
            )
        }
        .result()
        .map_err(|e| format!("nvrtcCreateProgram failed: {e}"))?;
        Ok(Program(raw))
    }

    fn log(&self) -> String {
        self.output(sys::nvrtcGetProgramLogSize, sys::nvrtcGetProgramLog)
            .map(|mut bytes| {
                while bytes.last() == Some(&0) {
                    bytes.pop();
                }
                String::from_utf8_lossy(&bytes).into_owned()
            })
            .unwrap_or_default()
    }

    /// Reads a size-then-data output (PTX, CUBIN, log).
    fn output(&self, size_fn: SizeFn, data_fn: DataFn) -> Result<Vec<u8>, String> {
        let mut size = 0usize;
        // SAFETY: the program is live; the buffer holds `size` bytes.
        unsafe {
            size_fn(self.0, &mut size)
                .result()
                .map_err(|e| format!("reading NVRTC output size failed: {e}"))?;
            let mut bytes = vec![0u8; size];
            data_fn(self.0, bytes.as_mut_ptr() as *mut c_char)
                .result()
                .map_err(|e| format!("reading NVRTC output failed: {e}"))?;
            Ok(bytes)
        }
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: created by nvrtcCreateProgram and destroyed only here.
        unsafe {
            let _ = sys::nvrtcDestroyProgram(&mut self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nvrtc_or_skip() -> Option<&'static Nvrtc> {
        match library() {
            Ok(lib) => Some(lib),
            Err(reason) => {
                super::super::skip_or_fail_without_nvrtc(&reason);
                None
            }
        }
    }

    #[test]
    fn compiles_ptx_and_cubin() {
        let Some(lib) = nvrtc_or_skip() else { return };
        let src = "extern \"C\" __global__ void k(float* x) { x[0] = x[0] * 2.0f + 1.0f; }";
        for kind in [ImageKind::Ptx, ImageKind::Cubin] {
            let image = compile(src, "k.cu", &options(Arch::SM_90, kind), kind)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(image.kind, kind);
            match kind {
                ImageKind::Ptx => {
                    assert_eq!(image.bytes.last(), Some(&0), "PTX keeps its NUL");
                    let text = String::from_utf8_lossy(&image.bytes);
                    assert!(text.contains(".target sm_90"), "{text}");
                    // --fmad=false: a separate multiply and add, no fma.
                    assert!(!text.contains("fma.rn.f32"), "{text}");
                }
                ImageKind::Cubin => assert_eq!(&image.bytes[..4], b"\x7fELF"),
            }
        }
        assert!(lib.version.0 >= 12, "{:?}", lib.version);
    }

    #[test]
    fn compile_errors_carry_the_log() {
        if nvrtc_or_skip().is_none() {
            return;
        }
        let err = compile(
            "__global__ void k() { undefined_name(); }",
            "bad.cu",
            &options(Arch::SM_90, ImageKind::Ptx),
            ImageKind::Ptx,
        )
        .unwrap_err();
        assert!(err.to_string().contains("undefined_name"), "{err}");
        assert!(err.to_string().contains("bad.cu"), "{err}");
    }

    #[test]
    fn target_falls_back_to_older_ptx_only() {
        let lib = Nvrtc {
            version: (13, 0),
            archs: [75, 80, 90, 100].map(Arch::from_number).to_vec(),
        };
        let sm = Arch::from_number;
        assert_eq!(lib.target(sm(90), ImageKind::Cubin), Some(sm(90)));
        assert_eq!(lib.target(sm(89), ImageKind::Ptx), Some(sm(80)));
        assert_eq!(lib.target(sm(89), ImageKind::Cubin), None);
        assert_eq!(lib.target(sm(61), ImageKind::Ptx), None);
        assert_eq!(lib.target(sm(120), ImageKind::Ptx), Some(sm(100)));
    }
}
