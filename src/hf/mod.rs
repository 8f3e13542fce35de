//! Hugging Face model folders in and out: `config.json` + `model.safetensors` +
//! `tokenizer.json`, as `save_pretrained` writes them and `from_pretrained` reads them.
//!
//! - [`folder`] opens a folder: reads the config, picks the architecture, reads the tensors
//!   (f32, f16 or bf16) under the reference's names, checks every shape against the config;
//! - [`bert`] and [`gpt2`] turn a config into a model in the spec language and list the
//!   reference's parameter names in the spec's parameter order (GPT-2's Conv1D weights are
//!   stored transposed; they are turned on the way in and out);
//! - [`tokenizer`] wraps Hugging Face's own `tokenizers` crate (truncation, padding, masks);
//! - [`task`] builds a model for a task (embedding, classification head, language model) with
//!   LoRA and frozen parameters, and writes it back out ([`export`]; LoRA adapters in PEFT's
//!   layout);
//! - [`embed`], [`finetune`] (classification from a [`text_csv`] file) and [`finetune_lm`]
//!   (causal LM on a text file) are the loops behind `downhill embed` and `downhill finetune`.
//!
//! Pickle checkpoints (`pytorch_model.bin`) are never unpickled.

pub mod bert;
pub mod embed;
pub mod export;
pub mod finetune;
pub mod finetune_lm;
pub mod folder;
pub mod gpt2;
pub mod safetensors_io;
pub mod task;
pub mod text_csv;
pub mod tokenizer;

pub use folder::{Architecture, HfModel};
pub use task::{task_model, Task};
pub use tokenizer::{Encoded, TextTokenizer};
