//! Files that appear whole or not at all.
//!
//! kiln writes files that other processes and later runs read: calibration
//! figures, compiled CUDA images, `.npy` outputs, benchmark reports. A reader
//! must see the old file or the new one, never a part of one, and a failed
//! write must leave the old file as it was. So each file is written to a
//! temporary file (`tempfile`) in its destination's own directory, flushed to
//! the disk, and renamed over the destination. A rename replaces a symbolic
//! link itself, never the file the link points to.
//!
//! [`Staged`] does this for several files at once, all or nothing: `kiln run
//! --out` writes every output before it renames any, and a rename that fails
//! puts back the files already replaced.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use tempfile::{NamedTempFile, TempDir};

/// A write that failed: the file it was for and why. Small (unlike
/// `crate::Error`, which it converts into as `Error::Io`), so that callers
/// that only note the failure (the caches) carry little.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl WriteError {
    pub fn new(path: &Path, source: io::Error) -> WriteError {
        WriteError {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<WriteError> for crate::Error {
    fn from(e: WriteError) -> crate::Error {
        crate::Error::Io {
            path: e.path.display().to_string(),
            error: e.source,
        }
    }
}

type Result<T> = std::result::Result<T, WriteError>;

/// Replaces `path` with `bytes` atomically.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

/// Replaces `path` atomically with what `write` writes (buffered).
pub fn write_atomic_with(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let mut staged = Staged::default();
    staged.add(path, write)?;
    staged.commit()
}

/// Files written beside their destinations but not yet in place. Dropping
/// it without [`Staged::commit`] deletes them and changes nothing.
#[derive(Default)]
pub struct Staged {
    files: Vec<(NamedTempFile, PathBuf)>,
}

/// What a destination held before the commit replaced it.
enum Before {
    /// Nothing: undoing removes the new file.
    Absent,
    /// A hard link to the old file (or link), in a temporary directory
    /// beside it: undoing renames it back.
    Saved(TempDir, PathBuf),
    /// Something that could not be linked (a file system without hard
    /// links): undoing leaves the new file.
    Lost,
}

impl Staged {
    /// Writes the future contents of `path` to a temporary file in `path`'s
    /// directory (which must exist) and flushes it to the disk.
    pub fn add(
        &mut self,
        path: impl AsRef<Path>,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<()> {
        let path = path.as_ref();
        let io_err = |source| WriteError::new(path, source);
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let prefix = format!(".tmp-{name}-");
        let mut tmp = file_builder(&prefix)
            .tempfile_in(parent(path))
            .map_err(io_err)?;
        let mut out = BufWriter::new(tmp.as_file_mut());
        write(&mut out).and_then(|()| out.flush()).map_err(io_err)?;
        drop(out);
        tmp.as_file().sync_all().map_err(io_err)?;
        self.files.push((tmp, path.to_path_buf()));
        Ok(())
    }

    /// Renames every staged file over its destination, in the order added.
    /// When one rename fails, the destinations already replaced get their
    /// old contents back and the error names the one that failed.
    pub fn commit(self) -> Result<()> {
        let several = self.files.len() > 1;
        let mut done: Vec<(PathBuf, Before)> = Vec::new();
        for (tmp, dest) in self.files {
            // One file needs no undo: its rename either happens or not.
            let before = if several { save(&dest) } else { Before::Lost };
            if let Err(e) = tmp.persist(&dest) {
                undo(done);
                return Err(WriteError::new(&dest, e.error));
            }
            done.push((dest, before));
        }
        Ok(())
    }
}

/// The directory `path` is in (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Temporary files named `PREFIX` + 6 random characters (`.tmp-NAME-`),
/// created with the permissions a plain `File::create` gives (0666 less the
/// umask, not tempfile's 0600).
fn file_builder(prefix: &str) -> tempfile::Builder<'_, 'static> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix).rand_bytes(6);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    b
}

/// Keeps what `dest` holds now, so that a failed commit can put it back.
fn save(dest: &Path) -> Before {
    if std::fs::symlink_metadata(dest).is_err() {
        return Before::Absent;
    }
    let Ok(dir) = tempfile::Builder::new()
        .prefix(".tmp-old-")
        .tempdir_in(parent(dest))
    else {
        return Before::Lost;
    };
    let link = dir.path().join("old");
    // A hard link to a symbolic link links the link itself (not followed).
    match std::fs::hard_link(dest, &link) {
        Ok(()) => Before::Saved(dir, link),
        Err(_) => Before::Lost,
    }
}

/// Puts back, newest first, what the renames in `done` replaced (best
/// effort: the error being reported is the one that caused the undo).
fn undo(done: Vec<(PathBuf, Before)>) {
    for (dest, before) in done.into_iter().rev() {
        match before {
            Before::Absent => {
                let _ = std::fs::remove_file(&dest);
            }
            Before::Saved(_dir, link) => {
                let _ = std::fs::rename(&link, &dest);
            }
            Before::Lost => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> TempDir {
        tempfile::Builder::new()
            .prefix(&format!("kiln-atomic-{name}-"))
            .tempdir()
            .unwrap()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_a_file_and_leaves_no_temporary_behind() {
        let dir = scratch("replace");
        let path = dir.path().join("a.json");
        std::fs::write(&path, "old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(names(dir.path()), ["a.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn new_files_get_the_usual_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("mode");
        let path = dir.path().join("a.bin");
        write_atomic(&path, b"x").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        // Readable by the group and others under any usual umask (tempfile's
        // own default, 0600, would fail this).
        assert_eq!(mode & 0o044, 0o044, "{mode:o}");
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let dir = scratch("fail");
        let path = dir.path().join("a.npy");
        std::fs::write(&path, "old").unwrap();
        let err = write_atomic_with(&path, |out| {
            out.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("a.npy"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(names(dir.path()), ["a.npy"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_replaced_not_followed() {
        let dir = scratch("link");
        let target = dir.path().join("target");
        std::fs::write(&target, "kept").unwrap();
        let link = dir.path().join("out");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept");
        assert!(!std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "new");
    }

    #[test]
    fn a_failed_rename_puts_back_the_files_already_replaced() {
        let dir = scratch("undo");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let c = dir.path().join("c");
        std::fs::write(&a, "old a").unwrap();
        // `c` is a directory: renaming a file over it fails, after `a` and
        // `b` were renamed into place.
        std::fs::create_dir(&c).unwrap();
        std::fs::write(c.join("inside"), "x").unwrap();
        let mut staged = Staged::default();
        for p in [&a, &b, &c] {
            staged.add(p, |out| out.write_all(b"new")).unwrap();
        }
        let err = staged.commit().unwrap_err();
        assert!(err.to_string().contains(&*c.to_string_lossy()), "{err}");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old a");
        assert!(!b.exists(), "`b` did not exist before");
        assert!(c.join("inside").exists());
        assert_eq!(names(dir.path()), ["a", "c"]);
    }

    #[test]
    fn dropping_a_staged_set_writes_nothing() {
        let dir = scratch("drop");
        let mut staged = Staged::default();
        staged
            .add(dir.path().join("a"), |out| out.write_all(b"new"))
            .unwrap();
        drop(staged);
        assert!(names(dir.path()).is_empty());
    }
}
