//! Writing a Hugging Face folder back: config.json (the one read, updated), model.safetensors
//! under the reference's names and layout, tokenizer.json copied.

use super::folder::{Architecture, HfModel};
use super::gpt2::is_conv1d;
use super::safetensors_io::{transpose, write_floats};
use crate::error::{file_error, Result};
use crate::tensor::Tensor;
use std::collections::HashMap;
use std::path::Path;

/// Writes `model`'s folder to `dir` with `params` (the reference's names, downhill's layout;
/// as [`HfModel::params`]) and `head` tensors (a task head, written under their own names).
pub fn export_folder(
    model: &HfModel,
    params: &[(String, Tensor)],
    head: &[(String, Tensor)],
    dir: &Path,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, format!("cannot create the folder: {e}")))?;
    let mut tensors = Vec::new();
    for (name, t) in params {
        match &model.arch {
            // The tied head is the token embedding: GPT-2 files leave it out.
            Architecture::Gpt2(_) if name == "lm_head.weight" => continue,
            Architecture::Gpt2(_) if is_conv1d(name) => tensors.push((name.clone(), transpose(t)?)),
            _ => tensors.push((name.clone(), t.clone())),
        }
    }
    tensors.extend(model.extra.iter().cloned());
    tensors.extend(head.iter().cloned());
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    write_floats(&dir.join("model.safetensors"), &tensors, metadata)?;
    let config = serde_json::to_string_pretty(&model.config).expect("a JSON value serialises");
    crate::checkpoint::write_atomically(&dir.join("config.json"), config.as_bytes())?;
    if let Some(tok) = &model.tokenizer {
        let bytes = std::fs::read(tok).map_err(|e| file_error(tok, format!("cannot read: {e}")))?;
        crate::checkpoint::write_atomically(&dir.join("tokenizer.json"), &bytes)?;
    }
    Ok(())
}
