//! NVRTC: finding the library and compiling CUDA C to PTX or CUBIN.
//!
//! kiln opens NVRTC itself, by a path it chooses and logs (target
//! `kiln::cuda`), and calls it through its own function pointers: cudarc's
//! loader tries `libnvrtc.so` and older sonames first and cannot be told
//! which file to use, so a system CUDA 12 could silently replace the NVRTC a
//! user pointed `KILN_NVRTC_LIB` at. The order ([`candidates`]):
//!
//! 1. `$KILN_NVRTC_LIB` when set: that file and nothing else (a file that
//!    cannot be opened is the reason the backend is unavailable);
//! 2. `libnvrtc.so.13` on the loader's search path (`LD_LIBRARY_PATH`);
//! 3. `libnvrtc.so.13` in well-known install places (`$CUDA_PATH/lib64`,
//!    `/usr/local/cuda/lib64`, the `nvidia-cuda-nvrtc` pip wheel);
//! 4. an NVRTC of CUDA 12 on the search path (`libnvrtc.so.12`).

use std::ffi::{c_char, c_int, c_void, CStr, CString};
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
    /// The file the library was loaded from (as the loader resolved it).
    pub path: String,
    /// Why that file: which rule of [`candidates`] found it.
    pub found_by: String,
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
    LIB.get_or_init(|| {
        let lib = load()?;
        crate::logging::init();
        tracing::info!(
            target: "kiln::cuda",
            "NVRTC {} from {} ({})",
            lib.version_string(),
            lib.path,
            lib.found_by
        );
        Ok(lib)
    })
    .as_ref()
    .map_err(|e| e.clone())
}

/// One place NVRTC may be opened from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// A file path, or a bare soname the dynamic loader searches for.
    pub name: String,
    /// Which rule produced it (for the log and for error messages).
    pub rule: &'static str,
}

/// Where NVRTC is looked for, in order, given the environment (`var`) and
/// which files exist (`exists`). With `KILN_NVRTC_LIB` set, only that file.
pub fn candidates(
    var: &dyn Fn(&str) -> Option<String>,
    exists: &dyn Fn(&Path) -> bool,
    python_roots: &[PathBuf],
) -> Vec<Candidate> {
    const SONAME: &str = "libnvrtc.so.13";
    if let Some(file) = var("KILN_NVRTC_LIB").filter(|v| !v.trim().is_empty()) {
        return vec![Candidate {
            name: file,
            rule: "KILN_NVRTC_LIB",
        }];
    }
    let mut out = vec![Candidate {
        name: SONAME.into(),
        rule: "the library search path",
    }];
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(cuda) = var("CUDA_PATH").or_else(|| var("CUDA_HOME")) {
        dirs.push(Path::new(&cuda).join("lib64"));
    }
    dirs.push(PathBuf::from("/usr/local/cuda/lib64"));
    // The pip wheel installs into site-packages/nvidia/cu13/lib.
    for root in python_roots {
        dirs.push(root.join("nvidia/cu13/lib"));
    }
    for dir in dirs {
        let file = dir.join(SONAME);
        if exists(&file) {
            out.push(Candidate {
                name: file.display().to_string(),
                rule: "a well-known install place",
            });
        }
    }
    out.push(Candidate {
        name: "libnvrtc.so.12".into(),
        rule: "the library search path (CUDA 12)",
    });
    out
}

fn load() -> Result<Nvrtc, String> {
    let var = |name: &str| std::env::var(name).ok();
    let list = candidates(&var, &|p: &Path| p.is_file(), &python_roots());
    let mut tried = Vec::new();
    for c in &list {
        // SAFETY: loading NVRTC runs no initialisers with preconditions.
        match unsafe { libloading::Library::new(&c.name) } {
            Ok(lib) => {
                let api = Api::from(&lib).map_err(|e| {
                    format!(
                        "{} (found by {}) is not a usable NVRTC: {e}",
                        c.name, c.rule
                    )
                })?;
                let path = loaded_path(api.version as *const c_void).unwrap_or(c.name.clone());
                // Kept loaded for the life of the process: the function
                // pointers in `API` point into it.
                std::mem::forget(lib);
                let api = API.get_or_init(|| api);
                let mut nvrtc = query_library(api)?;
                nvrtc.path = path;
                nvrtc.found_by = c.rule.to_string();
                return Ok(nvrtc);
            }
            Err(e) => tried.push(format!("{} ({}): {}", c.name, c.rule, loader_error(&e))),
        }
    }
    if list.first().is_some_and(|c| c.rule == "KILN_NVRTC_LIB") {
        return Err(format!(
            "KILN_NVRTC_LIB names a library that cannot be loaded: {}",
            tried.join("; ")
        ));
    }
    Err(format!(
        "NVRTC (libnvrtc.so.13) was not found (tried {}); install it with \
         `pip install nvidia-cuda-nvrtc` and put its lib folder on LD_LIBRARY_PATH, \
         or set KILN_NVRTC_LIB to the library file",
        list.iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// A loader error with the loader's own words (libloading's `Display`
/// alone says only "dlopen failed").
fn loader_error(e: &libloading::Error) -> String {
    match std::error::Error::source(e) {
        Some(why) => format!("{e}: {why}"),
        None => e.to_string(),
    }
}

type Prog = *mut c_void;
type Status = c_int;

/// The NVRTC entry points kiln calls, resolved from the file it opened.
struct Api {
    version: unsafe extern "C" fn(*mut c_int, *mut c_int) -> Status,
    num_archs: unsafe extern "C" fn(*mut c_int) -> Status,
    archs: unsafe extern "C" fn(*mut c_int) -> Status,
    create: unsafe extern "C" fn(
        *mut Prog,
        *const c_char,
        *const c_char,
        c_int,
        *const *const c_char,
        *const *const c_char,
    ) -> Status,
    compile: unsafe extern "C" fn(Prog, c_int, *const *const c_char) -> Status,
    destroy: unsafe extern "C" fn(*mut Prog) -> Status,
    error_string: unsafe extern "C" fn(Status) -> *const c_char,
    log_size: SizeFn,
    log: DataFn,
    ptx_size: SizeFn,
    ptx: DataFn,
    cubin_size: SizeFn,
    cubin: DataFn,
}

static API: OnceLock<Api> = OnceLock::new();

impl Api {
    fn from(lib: &libloading::Library) -> Result<Api, libloading::Error> {
        /// A symbol's value (a function pointer), copied out of the library.
        unsafe fn sym<T: Copy>(
            lib: &libloading::Library,
            name: &'static [u8],
        ) -> Result<T, libloading::Error> {
            Ok(*lib.get::<T>(name)?)
        }
        // SAFETY: each symbol is declared with NVRTC's documented signature.
        unsafe {
            Ok(Api {
                version: sym(lib, b"nvrtcVersion\0")?,
                num_archs: sym(lib, b"nvrtcGetNumSupportedArchs\0")?,
                archs: sym(lib, b"nvrtcGetSupportedArchs\0")?,
                create: sym(lib, b"nvrtcCreateProgram\0")?,
                compile: sym(lib, b"nvrtcCompileProgram\0")?,
                destroy: sym(lib, b"nvrtcDestroyProgram\0")?,
                error_string: sym(lib, b"nvrtcGetErrorString\0")?,
                log_size: sym(lib, b"nvrtcGetProgramLogSize\0")?,
                log: sym(lib, b"nvrtcGetProgramLog\0")?,
                ptx_size: sym(lib, b"nvrtcGetPTXSize\0")?,
                ptx: sym(lib, b"nvrtcGetPTX\0")?,
                cubin_size: sym(lib, b"nvrtcGetCUBINSize\0")?,
                cubin: sym(lib, b"nvrtcGetCUBIN\0")?,
            })
        }
    }

    fn check(&self, status: Status, what: &str) -> Result<(), String> {
        if status == 0 {
            return Ok(());
        }
        // SAFETY: NVRTC returns a static string for every status.
        let text = unsafe {
            let p = (self.error_string)(status);
            if p.is_null() {
                format!("NVRTC error {status}")
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        Err(format!("{what} failed: {text}"))
    }
}

/// The file the loader mapped `symbol` from (`dladdr`), when it says.
#[cfg(target_os = "linux")]
fn loaded_path(symbol: *const c_void) -> Option<String> {
    #[repr(C)]
    struct DlInfo {
        fname: *const c_char,
        fbase: *mut c_void,
        sname: *const c_char,
        saddr: *mut c_void,
    }
    extern "C" {
        fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int;
    }
    let mut info = DlInfo {
        fname: std::ptr::null(),
        fbase: std::ptr::null_mut(),
        sname: std::ptr::null(),
        saddr: std::ptr::null_mut(),
    };
    // SAFETY: a valid out-pointer; `fname` is read only when dladdr succeeds.
    unsafe {
        if dladdr(symbol, &mut info) == 0 || info.fname.is_null() {
            return None;
        }
        let path = CStr::from_ptr(info.fname).to_string_lossy().into_owned();
        Some(std::fs::canonicalize(&path).map_or(path, |p| p.display().to_string()))
    }
}

#[cfg(not(target_os = "linux"))]
fn loaded_path(_symbol: *const c_void) -> Option<String> {
    None
}

fn api() -> Result<&'static Api, String> {
    library()?;
    API.get().ok_or_else(|| "NVRTC is not loaded".to_string())
}

fn query_library(api: &Api) -> Result<Nvrtc, String> {
    let (mut major, mut minor) = (0 as c_int, 0 as c_int);
    // SAFETY: both out-pointers are valid.
    api.check(
        unsafe { (api.version)(&mut major, &mut minor) },
        "nvrtcVersion",
    )?;
    let mut count: c_int = 0;
    let mut archs = Vec::new();
    // SAFETY: `raw` has room for `count` entries, as NVRTC requires.
    unsafe {
        if (api.num_archs)(&mut count) == 0 && count > 0 {
            let mut raw = vec![0 as c_int; count as usize];
            if (api.archs)(raw.as_mut_ptr()) == 0 {
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
        path: String::new(),
        found_by: String::new(),
    })
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
    let api = api().map_err(fail)?;
    let c_source =
        CString::new(source).map_err(|_| fail("the source contains a NUL byte".into()))?;
    let c_name = CString::new(name).map_err(|_| fail("the name contains a NUL byte".into()))?;
    let c_options: Vec<CString> = options
        .iter()
        .map(|o| CString::new(o.as_str()))
        .collect::<Result<_, _>>()
        .map_err(|_| fail("an option contains a NUL byte".into()))?;
    let program = Program::create(api, &c_source, &c_name).map_err(fail)?;
    let pointers: Vec<*const c_char> = c_options.iter().map(|o| o.as_ptr()).collect();
    // SAFETY: `program` is live; `pointers` holds `len` valid C strings
    // that outlive the call.
    let status = unsafe { (api.compile)(program.raw, pointers.len() as c_int, pointers.as_ptr()) };
    let log = program.log();
    if let Err(e) = api.check(status, "nvrtcCompileProgram") {
        return Err(CompileFailure {
            message: format!("NVRTC could not compile `{name}` ({e})"),
            log,
        });
    }
    let bytes = match kind {
        ImageKind::Ptx => program.output(api.ptx_size, api.ptx),
        ImageKind::Cubin => program.output(api.cubin_size, api.cubin),
    }
    .map_err(|message| CompileFailure {
        message,
        log: log.clone(),
    })?;
    Ok(Image { kind, bytes })
}

/// An `nvrtcProgram`, destroyed on drop.
struct Program {
    api: &'static Api,
    raw: Prog,
}

type SizeFn = unsafe extern "C" fn(Prog, *mut usize) -> Status;
type DataFn = unsafe extern "C" fn(Prog, *mut c_char) -> Status;

impl Program {
    fn create(api: &'static Api, source: &CStr, name: &CStr) -> Result<Program, String> {
        let mut raw: Prog = std::ptr::null_mut();
        // SAFETY: valid C strings; no headers (the count is 0, both header
        // arrays null).
        let status = unsafe {
            (api.create)(
                &mut raw,
                source.as_ptr(),
                name.as_ptr(),
                0,
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        api.check(status, "nvrtcCreateProgram")?;
        Ok(Program { api, raw })
    }

    fn log(&self) -> String {
        self.output(self.api.log_size, self.api.log)
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
            self.api
                .check(size_fn(self.raw, &mut size), "reading NVRTC output size")?;
            let mut bytes = vec![0u8; size];
            self.api.check(
                data_fn(self.raw, bytes.as_mut_ptr() as *mut c_char),
                "reading NVRTC output",
            )?;
            Ok(bytes)
        }
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: created by nvrtcCreateProgram and destroyed only here.
        unsafe {
            let _ = (self.api.destroy)(&mut self.raw);
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
            path: String::new(),
            found_by: String::new(),
        };
        let sm = Arch::from_number;
        assert_eq!(lib.target(sm(90), ImageKind::Cubin), Some(sm(90)));
        assert_eq!(lib.target(sm(89), ImageKind::Ptx), Some(sm(80)));
        assert_eq!(lib.target(sm(89), ImageKind::Cubin), None);
        assert_eq!(lib.target(sm(61), ImageKind::Ptx), None);
        assert_eq!(lib.target(sm(120), ImageKind::Ptx), Some(sm(100)));
    }

    #[test]
    fn kiln_nvrtc_lib_is_the_only_candidate_when_set() {
        let env = |name: &str| {
            (name == "KILN_NVRTC_LIB").then(|| "/opt/nvrtc/libnvrtc.so.13.5".to_string())
        };
        let list = candidates(&env, &|_| true, &[PathBuf::from("/py")]);
        assert_eq!(
            list,
            [Candidate {
                name: "/opt/nvrtc/libnvrtc.so.13.5".into(),
                rule: "KILN_NVRTC_LIB"
            }]
        );
    }

    #[test]
    fn candidates_prefer_cuda_13_and_never_the_unversioned_name() {
        let env = |name: &str| (name == "CUDA_PATH").then(|| "/cuda".to_string());
        let exists = |p: &Path| p.starts_with("/cuda") || p.starts_with("/py");
        let list = candidates(&env, &exists, &[PathBuf::from("/py")]);
        let names: Vec<&str> = list.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "libnvrtc.so.13",
                "/cuda/lib64/libnvrtc.so.13",
                "/py/nvidia/cu13/lib/libnvrtc.so.13",
                "libnvrtc.so.12"
            ]
        );
    }

    #[test]
    fn the_loaded_library_says_where_it_is() {
        let Some(lib) = nvrtc_or_skip() else { return };
        assert!(lib.path.contains("libnvrtc"), "{lib:?}");
        assert!(!lib.found_by.is_empty(), "{lib:?}");
    }
}
