//! What the targets share: a scratch file for readers that take a path.

use std::path::PathBuf;

/// Writes `bytes` to this process's scratch file named `name` (in the temp folder, replaced
/// on every input) and returns its path.
pub fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("downhill-fuzz-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).expect("the fuzzer's scratch file is writable");
    path
}
