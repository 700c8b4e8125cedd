//! Outputs appear whole or not at all. Every file is written into a temporary folder
//! and flushed to disk; only when all of them are written do they replace the outputs
//! in place: in one atomic folder swap when the output folder holds nothing but
//! poolscreen's outputs (so even a killed run leaves the old outputs or the new ones,
//! never a mix), file by file with `manifest.json` last otherwise. A failed run removes
//! its temporary folder and leaves earlier outputs as they were.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The prefix of temporary output folders and files; leftovers of a killed run are
/// removed by the next run in the same folder.
pub const TEMP_PREFIX: &str = ".poolscreen-tmp-";

/// A test-only setting: when this environment variable holds a number of
/// milliseconds, a run says on standard error when its outputs are staged and waits
/// that long before switching them in (and, switching file by file, after each
/// rename), so that a test can kill it inside the switch.
pub const TEST_SWITCH_PAUSE: &str = "POOLSCREEN_TEST_SWITCH_PAUSE_MS";

/// How staged outputs reach the output folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// The staging folder replaces the output folder in one rename (a new folder) or one
    /// atomic exchange (a folder holding nothing but poolscreen outputs): readers and a
    /// killed run see the old outputs or the new ones, never a mix.
    WholeFolder,
    /// The output folder holds other files too, is the working folder, or its parent
    /// folder cannot be written: the files are staged inside it and renamed in one by
    /// one, `manifest.json` last.
    FileByFile,
}

/// The file a staged output is written through: buffered, and remembering the first
/// error of the file system (a full disk, a file too large), so that the error is
/// reported as an I/O error naming the file whatever library was writing.
pub type Output = BufWriter<Watched>;

/// A file that keeps the first error a write or flush met.
pub struct Watched {
    file: File,
    failed: Option<std::io::Error>,
}

impl Watched {
    fn keep<T>(&mut self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result {
            // An interrupted write is retried by the writer above; it is no failure.
            if self.failed.is_none() && e.kind() != std::io::ErrorKind::Interrupted {
                self.failed = Some(std::io::Error::new(e.kind(), e.to_string()));
            }
        }
        result
    }
}

impl Write for Watched {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = self.file.write(buf);
        self.keep(result)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let result = self.file.flush();
        self.keep(result)
    }
}

/// Outputs written to a temporary folder, waiting to replace the outputs in place.
pub struct Staging {
    out: PathBuf,
    stage: PathBuf,
    switch: Switch,
    staged: std::sync::Mutex<Vec<String>>,
    /// The names that [`Staging::commit`] leaves in the output folder; a whole-folder
    /// switch replaces anything else of poolscreen's there.
    known: Vec<String>,
    committed: bool,
}

impl Staging {
    /// Prepares to write into `out`, whose poolscreen outputs are the files `known`:
    /// removes what a killed run left, decides how the outputs will be switched in, and
    /// makes the temporary folder.
    pub fn new(out: &Path, known: &[&str]) -> Result<Staging> {
        let out = absolute(out)?;
        let parent = out
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let sibling_prefix = format!(".{name}{TEMP_PREFIX}");
        remove_leftovers(&parent, &sibling_prefix);
        remove_leftovers(&out, TEMP_PREFIX);

        let cwd = std::env::current_dir()
            .ok()
            .and_then(|d| d.canonicalize().ok());
        let meta = std::fs::symlink_metadata(&out).ok();
        let only_ours = || {
            std::fs::read_dir(&out).is_ok_and(|entries| {
                entries
                    .flatten()
                    .all(|e| known.contains(&e.file_name().to_string_lossy().as_ref()))
            })
        };
        // A folder on a file system of its own (a mount point) cannot be swapped: its
        // files are renamed in one by one.
        let own_device = || {
            use std::os::unix::fs::MetadataExt;
            match (std::fs::metadata(&out), std::fs::metadata(&parent)) {
                (Ok(o), Ok(p)) => o.dev() != p.dev(),
                _ => false,
            }
        };
        if meta.as_ref().is_some_and(|m| m.is_dir()) && !writable(&out) {
            return Err(Error::io(
                &out,
                std::io::Error::from_raw_os_error(libc::EACCES),
            ));
        }
        let mut switch = match &meta {
            None => Switch::WholeFolder,
            Some(m)
                if m.is_dir()
                    && !m.file_type().is_symlink()
                    && Some(&out) != cwd.as_ref()
                    && !own_device()
                    && only_ours() =>
            {
                Switch::WholeFolder
            }
            Some(m) if m.is_dir() || m.file_type().is_symlink() => Switch::FileByFile,
            Some(_) => return Err(Error::output_is_file(&out)),
        };
        let inside = out.join(format!("{TEMP_PREFIX}{}", std::process::id()));
        let stage = match switch {
            Switch::WholeFolder => {
                let beside = parent.join(format!("{sibling_prefix}{}", std::process::id()));
                let made =
                    std::fs::create_dir_all(&parent).and_then(|()| std::fs::create_dir(&beside));
                match made {
                    Ok(()) => beside,
                    // The parent folder cannot take a new folder (read-only, or not
                    // ours), but an existing output folder may still be writable: stage
                    // inside it and switch file by file.
                    Err(_) if meta.as_ref().is_some_and(|m| m.is_dir()) => {
                        switch = Switch::FileByFile;
                        inside
                    }
                    Err(e) => return Err(Error::io(&parent, e)),
                }
            }
            Switch::FileByFile => inside,
        };
        if switch == Switch::FileByFile {
            std::fs::create_dir_all(&stage).map_err(|e| Error::io(&out, e))?;
        }
        Ok(Staging {
            out,
            stage,
            switch,
            staged: Default::default(),
            known: known.iter().map(|k| k.to_string()).collect(),
            committed: false,
        })
    }

    /// How the outputs will be switched in.
    pub fn switch(&self) -> Switch {
        self.switch
    }

    /// The temporary folder, where the staged files are (a history's publication reads
    /// them back from there).
    pub fn folder(&self) -> &Path {
        &self.stage
    }

    /// The path of output `name` as the user will find it, for messages.
    pub fn target(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }

    /// Writes `name` into the temporary folder with `write`, then flushes it to disk.
    /// Several files may be written at once, from different threads. An error of the
    /// file system while writing is an I/O error naming the output, whatever `write`
    /// made of it.
    pub fn write(&self, name: &str, write: impl FnOnce(&mut Output) -> Result<()>) -> Result<()> {
        let path = self.stage.join(name);
        let target = self.target(name);
        let file = File::create(&path).map_err(|e| Error::io(&target, e))?;
        self.staged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name.to_string());
        let mut out = BufWriter::with_capacity(1 << 20, Watched { file, failed: None });
        let written = write(&mut out).and_then(|()| out.flush().map_err(|e| Error::io(&target, e)));
        if let Some(e) = out.get_mut().failed.take() {
            return Err(Error::io(&target, e));
        }
        written?;
        let watched = out
            .into_inner()
            .map_err(|e| Error::io(&target, e.into_error()))?;
        watched.file.sync_all().map_err(|e| Error::io(&target, e))?;
        Ok(())
    }

    /// Puts every staged file in place, all at once where the folder allows it.
    pub fn commit(mut self) -> Result<()> {
        sync_dir(&self.stage);
        pause_for_tests();
        let parent = self
            .out
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        if self.switch == Switch::WholeFolder {
            if !self.out.exists() {
                std::fs::rename(&self.stage, &self.out).map_err(|e| Error::io(&self.out, e))?;
                sync_dir(&parent);
                self.committed = true;
                return Ok(());
            }
            // The folder may have changed since the run began (a file of the user's
            // added, a lock file of a spreadsheet): swap it only if it still holds
            // nothing but poolscreen's outputs, and give the new folder its mode.
            let still_ours = std::fs::read_dir(&self.out).is_ok_and(|entries| {
                entries.flatten().all(|e| {
                    self.known
                        .iter()
                        .any(|k| *k == e.file_name().to_string_lossy())
                })
            });
            if let Ok(meta) = std::fs::metadata(&self.out) {
                let _ = std::fs::set_permissions(&self.stage, meta.permissions());
            }
            if still_ours && exchange(&self.stage, &self.out).is_ok() {
                // The temporary folder now holds the previous outputs.
                self.committed = true;
                sync_dir(&parent);
                let _ = std::fs::remove_dir_all(&self.stage);
                return Ok(());
            }
        }
        let mut staged = std::mem::take(self.staged.get_mut().unwrap_or_else(|e| e.into_inner()));
        // The manifest goes last: until it is in place, the folder's manifest describes
        // the earlier outputs.
        staged.sort_by_key(|n| n == "manifest.json");
        let pause = test_pause();
        for name in &staged {
            let target = self.out.join(name);
            std::fs::rename(self.stage.join(name), &target).map_err(|e| Error::io(&target, e))?;
            if let Some(pause) = pause {
                crate::say!("poolscreen: switched in {name}");
                std::thread::sleep(pause);
            }
        }
        // Outputs of an earlier run that this run does not write any more would
        // otherwise sit beside the new ones as if they were current.
        for name in &self.known {
            if !staged.contains(name) {
                let _ = std::fs::remove_file(self.out.join(name));
            }
        }
        self.committed = true;
        sync_dir(&self.out);
        let _ = std::fs::remove_dir_all(&self.stage);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.stage);
        }
    }
}

/// The pause [`TEST_SWITCH_PAUSE`] asks for, if any.
fn test_pause() -> Option<std::time::Duration> {
    std::env::var(TEST_SWITCH_PAUSE)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(std::time::Duration::from_millis)
}

/// See [`TEST_SWITCH_PAUSE`]: before the switch, and between the renames of a switch
/// file by file.
fn pause_for_tests() {
    if let Some(pause) = test_pause() {
        crate::say!("poolscreen: outputs staged; switching them in after {pause:?}");
        std::thread::sleep(pause);
    }
}

/// Whether this process may create files in `dir`.
fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path that outlives the call.
    unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// `path` made absolute without requiring it to exist.
fn absolute(path: &Path) -> Result<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Ok(p);
    }
    let full = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
    match (full.parent(), full.file_name()) {
        (Some(parent), Some(name)) => Ok(parent
            .canonicalize()
            .map(|p| p.join(name))
            .unwrap_or(full.clone())),
        _ => Ok(full),
    }
}

/// Removes the entries of `dir` whose names start with `prefix`: what a killed run left.
fn remove_leftovers(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let path = entry.path();
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Swaps two folders in one atomic step (Linux `renameat2` with `RENAME_EXCHANGE`).
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let a = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let b = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both pointers are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
