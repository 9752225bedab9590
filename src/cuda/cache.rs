//! The compiled-module cache: in memory for the process and on disk across
//! processes (`~/.cache/kiln/cuda/`, or `$KILN_CACHE_DIR/cuda/`).
//!
//! The key hashes everything that decides the image: the generated source
//! (which embeds the IR of the kernel, so an IR change is a new key), the
//! NVRTC version, the options (architecture included) and the output kind.
//! Disk entries are written to a temporary file and renamed into place, so
//! a reader never sees a half-written file, and carry the full key in a
//! header that is checked on read (a hash collision or a corrupt file is a
//! miss, never a wrong module). The disk cache is an optimisation: any I/O
//! failure just means compiling again.

use super::nvrtc::{self, CompileFailure, Image, ImageKind};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Where a module image came from (for logging and compile-latency figures).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Memory,
    Disk,
    Compiled,
}

/// Everything that determines a compiled image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub source: String,
    pub nvrtc_version: (i32, i32),
    pub options: Vec<String>,
    pub kind: ImageKind,
}

impl Key {
    /// A 128-bit FNV-1a hash of the key's fields (stable across processes
    /// and Rust versions, unlike `DefaultHasher`), as 32 hex digits.
    pub fn digest(&self) -> String {
        let mut h = Fnv128::new();
        h.field(self.source.as_bytes());
        h.field(format!("{}.{}", self.nvrtc_version.0, self.nvrtc_version.1).as_bytes());
        for o in &self.options {
            h.field(o.as_bytes());
        }
        h.field(self.kind.extension().as_bytes());
        format!("{:032x}", h.0)
    }

    /// The header line a disk entry starts with: the digest alone could
    /// collide, so the options and version are checked too, and a hash of
    /// the source under a second seed.
    fn header(&self) -> String {
        let mut h = Fnv128(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834);
        h.field(self.source.as_bytes());
        format!(
            "kiln-cuda-cache 1 {} {} {}.{} {:032x} {}\n",
            self.digest(),
            self.kind.extension(),
            self.nvrtc_version.0,
            self.nvrtc_version.1,
            h.0,
            self.options.join(" ")
        )
    }
}

struct Fnv128(u128);

impl Fnv128 {
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

    fn new() -> Fnv128 {
        Fnv128(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d)
    }

    /// Hashes the bytes and then their length, so field boundaries count.
    fn field(&mut self, bytes: &[u8]) {
        for &b in bytes
            .iter()
            .chain((bytes.len() as u64).to_le_bytes().iter())
        {
            self.0 ^= b as u128;
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }
}

/// The process-wide cache.
pub struct ModuleCache {
    memory: Mutex<HashMap<String, Arc<Image>>>,
    dir: Option<PathBuf>,
}

impl ModuleCache {
    /// A cache over `dir` (`None`: memory only).
    pub fn new(dir: Option<PathBuf>) -> ModuleCache {
        ModuleCache {
            memory: Mutex::new(HashMap::new()),
            dir,
        }
    }

    /// The cache every engine shares.
    pub fn global() -> &'static ModuleCache {
        static CACHE: OnceLock<ModuleCache> = OnceLock::new();
        CACHE.get_or_init(|| ModuleCache::new(default_dir()))
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The image for `key`: from memory, else disk, else compiled by NVRTC
    /// (and then stored in both).
    pub fn get_or_compile(
        &self,
        key: &Key,
        name: &str,
    ) -> Result<(Arc<Image>, Origin), CompileFailure> {
        let digest = key.digest();
        if let Some(image) = self.lock().get(&digest) {
            return Ok((image.clone(), Origin::Memory));
        }
        if let Some(image) = self.read_disk(key, &digest) {
            let image = Arc::new(image);
            self.lock().insert(digest, image.clone());
            return Ok((image, Origin::Disk));
        }
        let image = Arc::new(nvrtc::compile(&key.source, name, &key.options, key.kind)?);
        self.write_disk(key, &digest, &image);
        self.lock().insert(digest, image.clone());
        Ok((image, Origin::Compiled))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Image>>> {
        // Entries are inserted whole, so a poisoned map is still consistent.
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn path(&self, key: &Key, digest: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{digest}.{}", key.kind.extension())))
    }

    fn read_disk(&self, key: &Key, digest: &str) -> Option<Image> {
        let bytes = std::fs::read(self.path(key, digest)?).ok()?;
        let header = key.header();
        let body = bytes.strip_prefix(header.as_bytes())?;
        if body.is_empty() {
            return None;
        }
        Some(Image {
            kind: key.kind,
            bytes: body.to_vec(),
        })
    }

    fn write_disk(&self, key: &Key, digest: &str, image: &Image) {
        let Some(path) = self.path(key, digest) else {
            return;
        };
        // Ignored on failure: a read-only or full disk only costs a compile.
        let _ = write_atomically(&path, key.header().as_bytes(), &image.bytes);
    }
}

/// Writes `header` + `body` to `path` through `util::write_atomic_with` (a
/// temporary file beside it, renamed into place).
fn write_atomically(
    path: &Path,
    header: &[u8],
    body: &[u8],
) -> Result<(), crate::util::WriteError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| crate::util::WriteError::new(dir, e))?;
    crate::util::write_atomic_with(path, |out| {
        out.write_all(header)?;
        out.write_all(body)
    })
}

/// `cuda/` in kiln's cache directory (`engine::cache_dir`); `None` (memory
/// only) when none is known.
pub fn default_dir() -> Option<PathBuf> {
    crate::engine::cache_dir().map(|dir| dir.join("cuda"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(source: &str, option: &str) -> Key {
        Key {
            source: source.to_string(),
            nvrtc_version: (13, 5),
            options: vec![option.to_string()],
            kind: ImageKind::Ptx,
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("kiln-cuda-cache-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn every_field_changes_the_digest() {
        let base = key("a", "x");
        let mut other_version = base.clone();
        other_version.nvrtc_version = (13, 0);
        let mut other_kind = base.clone();
        other_kind.kind = ImageKind::Cubin;
        let digests = [
            base.digest(),
            key("b", "x").digest(),
            key("a", "y").digest(),
            other_version.digest(),
            other_kind.digest(),
            // Field boundaries count: ("ab", "") differs from ("a", "b").
            key("ab", "").digest(),
        ];
        for (i, a) in digests.iter().enumerate() {
            assert_eq!(a.len(), 32);
            for b in &digests[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(base.digest(), key("a", "x").digest());
    }

    #[test]
    fn disk_entries_round_trip_and_reject_other_keys() {
        let dir = temp_dir("roundtrip");
        let cache = ModuleCache::new(Some(dir.clone()));
        let k = key("source", "opt");
        let image = Image {
            kind: ImageKind::Ptx,
            bytes: b"PTX\0".to_vec(),
        };
        cache.write_disk(&k, &k.digest(), &image);
        assert_eq!(cache.read_disk(&k, &k.digest()), Some(image));
        // The same file name under a different key (a forced collision) is
        // a miss: the header does not match.
        let other = key("other", "opt");
        let path = cache.path(&k, &k.digest()).unwrap();
        let renamed = cache.path(&other, &other.digest()).unwrap();
        std::fs::copy(&path, &renamed).unwrap();
        assert_eq!(cache.read_disk(&other, &other.digest()), None);
        // No temporary files are left behind.
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn compiles_once_then_hits_memory_then_disk() {
        if let Err(reason) = nvrtc::library() {
            super::super::skip_or_fail_without_nvrtc(&reason);
            return;
        }
        let dir = temp_dir("origins");
        let src = "extern \"C\" __global__ void k(int* x) { x[0] = 1; }";
        let k = Key {
            source: src.to_string(),
            nvrtc_version: nvrtc::library().unwrap().version,
            options: nvrtc::options(nvrtc::Arch::SM_90, ImageKind::Ptx),
            kind: ImageKind::Ptx,
        };
        let first = ModuleCache::new(Some(dir.clone()));
        let (a, origin) = first.get_or_compile(&k, "k.cu").unwrap();
        assert_eq!(origin, Origin::Compiled);
        let (b, origin) = first.get_or_compile(&k, "k.cu").unwrap();
        assert_eq!(origin, Origin::Memory);
        assert_eq!(a, b);
        // A fresh process (a new cache over the same folder) reads the disk.
        let second = ModuleCache::new(Some(dir.clone()));
        let (c, origin) = second.get_or_compile(&k, "k.cu").unwrap();
        assert_eq!(origin, Origin::Disk);
        assert_eq!(a, c);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
