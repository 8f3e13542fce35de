//! A run's output folder: one run at a time (an advisory lock file holding the writer's pid),
//! no silent overwrite of an earlier run, and no leftovers of a killed one.

use crate::error::{file_error, Result};
use std::path::{Path, PathBuf};

/// The lock file's name inside the output folder.
pub const LOCK_FILE: &str = ".downhill.lock";

/// Files a run writes into its folder (removed before an `--overwrite` run starts).
pub const RUN_FILES: [&str; 7] = [
    "checkpoint.safetensors",
    "best.safetensors",
    "metrics.csv",
    "metrics.jsonl",
    "curves.png",
    "config.toml",
    "confusion.csv",
];

/// Holds the output folder for one run; dropping it releases the lock.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether a process with this pid is running (unknown platforms: assume it is).
pub fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        let Ok(pid) = i32::try_from(pid) else { return false };
        // SAFETY: kill with signal 0 only checks that the process exists; it sends nothing.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// Takes `out` for a run: creates it, refuses it while another live run holds its lock, and
/// refuses a folder that already holds a run unless `overwrite` (which removes that run's
/// files) or the run continues from a checkpoint inside it (`resume`). Removes temporary
/// files that killed writers left behind.
pub fn claim(out: &Path, overwrite: bool, resume: Option<&Path>) -> Result<OutputLock> {
    std::fs::create_dir_all(out).map_err(|e| file_error(out, format!("cannot create the output folder: {e}")))?;
    let lock = take_lock(out)?;
    let existing: Vec<&str> = RUN_FILES.iter().copied().filter(|f| out.join(f).exists()).collect();
    let resuming_here = resume.is_some_and(|r| same_folder(r, out));
    if !existing.is_empty() && !resuming_here {
        if !overwrite {
            return Err(file_error(
                out,
                format!(
                    "already holds a run ({}); pass --overwrite to replace it, --resume {} to continue it, \
                     or choose another --out",
                    existing.join(", "),
                    out.join("checkpoint.safetensors").display()
                ),
            ));
        }
        for f in existing {
            std::fs::remove_file(out.join(f))
                .map_err(|e| file_error(out.join(f), format!("cannot remove the earlier run's file: {e}")))?;
        }
    }
    remove_stale_temporaries(out);
    Ok(lock)
}

/// Puts back an output folder that was removed while its run was going (as Lightning's
/// checkpointing does): the folder, its lock file and `config.toml`, so the checkpoint about
/// to be written lands and loses nothing of the run. Returns what to tell the user, or None
/// when the folder is there.
pub fn recreate_if_removed(out: &Path, config_toml: &str) -> Result<Option<String>> {
    if out.is_dir() {
        return Ok(None);
    }
    std::fs::create_dir_all(out).map_err(|e| {
        file_error(out, format!("the output folder was removed during the run and cannot be made again: {e}"))
    })?;
    std::fs::write(out.join(LOCK_FILE), format!("{}\n", std::process::id()))
        .map_err(|e| file_error(out.join(LOCK_FILE), format!("cannot create the lock file: {e}")))?;
    crate::checkpoint::write_atomically(&out.join("config.toml"), config_toml.as_bytes())?;
    Ok(Some(format!(
        "the output folder {} was removed during the run; made it again (the checkpoint, metrics and plot are \
         rewritten from the run's state; best.safetensors returns when an epoch improves)",
        out.display()
    )))
}

/// True when `file` lies directly inside `dir`.
fn same_folder(file: &Path, dir: &Path) -> bool {
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match (parent.canonicalize(), dir.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn take_lock(out: &Path) -> Result<OutputLock> {
    let path = out.join(LOCK_FILE);
    for _ in 0..2 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                use std::io::Write;
                let _ = writeln!(f, "{}", std::process::id());
                return Ok(OutputLock { path });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(&path).ok().and_then(|t| t.trim().parse::<u32>().ok());
                match holder {
                    Some(pid) if process_alive(pid) => {
                        return Err(file_error(
                            out,
                            format!(
                                "another downhill run (pid {pid}) is writing into this folder; wait for it to end \
                                 or choose another --out (remove {} if no such run exists)",
                                path.display()
                            ),
                        ))
                    }
                    // A killed run's lock (or an unreadable one): take it over.
                    _ => {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
            Err(e) => return Err(file_error(&path, format!("cannot create the lock file: {e}"))),
        }
    }
    Err(file_error(&path, "another process keeps taking the lock file"))
}

/// Removes `.<name>.tmp-<pid>` files (see `checkpoint::write_atomically`) whose writer is gone.
fn remove_stale_temporaries(out: &Path) {
    let Ok(entries) = std::fs::read_dir(out) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name.strip_prefix('.').and_then(|n| n.rsplit_once(".tmp-")).map(|(_, pid)| pid) else {
            continue;
        };
        if let Ok(pid) = pid.parse::<u32>() {
            if !process_alive(pid) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}
