//! The module layers of ARCHITECTURE.md, checked on the source: `backend/` names nothing above
//! it (no op, layer, optimizer or explorer), `ops/` nothing above it (no layer, optimizer,
//! trainer, run or explorer). A `use crate::…` or `crate::…` path in code (not in comments)
//! that crosses upward fails, naming the file and line.

use std::path::Path;

/// Every `crate::<module>` a file's code (comments stripped) names, with its line.
fn crate_paths(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let name: String = rest[at + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            out.push((i + 1, name));
            rest = &rest[at + 7..];
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Fails if a file under `src/<layer>` names one of `above`.
fn assert_below(layer: &str, above: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(layer);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(!files.is_empty(), "no source under src/{layer}");
    let mut bad = Vec::new();
    for f in &files {
        for (line, name) in crate_paths(f) {
            if above.contains(&name.as_str()) {
                bad.push(format!("{}:{line} names crate::{name}", f.display()));
            }
        }
    }
    assert!(bad.is_empty(), "src/{layer} must stay below {above:?}:\n{}", bad.join("\n"));
}

#[test]
fn backend_names_no_op_layer_optimizer_or_explorer() {
    assert_below("backend", &["ops", "nn", "optim", "explore", "train", "run", "loss", "feed", "data", "kernels"]);
}

#[test]
fn ops_name_no_layer_optimizer_trainer_or_explorer() {
    assert_below("ops", &["nn", "optim", "explore", "train", "run", "loss", "feed", "data"]);
}

#[test]
fn layers_and_optimizers_do_not_name_each_other_or_the_trainer() {
    assert_below("nn", &["optim", "train", "run", "explore"]);
    assert_below("optim", &["nn", "train", "run", "explore"]);
}
