//! `downhill summary`'s numbers (Keras's `model.summary()`, torchinfo's table): per leaf layer
//! its state-dict name, output shape, parameters (trainable or frozen), forward FLOPs and
//! activation memory for a batch; the totals, the flat parameter buffer, and what each
//! optimizer's state adds to it.

use crate::error::Result;
use crate::nn::ModelSpec;
use crate::optim::registry::{self, OPTIMIZERS};
use crate::optim::Settings;

/// Whether a layer's parameters train.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trainable {
    /// The layer has no parameters.
    None,
    /// Every parameter trains.
    Yes,
    /// Every parameter is frozen.
    Frozen,
    /// Some of each (LoRA adapters on a frozen attention layer).
    Partly,
}

/// One leaf layer of the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerRow {
    /// The state-dict prefix (`0`, `2.body.1`, `h.3.attn`).
    pub name: String,
    /// The layer in the spec language.
    pub layer: String,
    /// Its output shape, batch first.
    pub output: Vec<usize>,
    /// Parameters stored by this layer (a tied weight counts where it is stored, not here).
    pub params: usize,
    /// Parameters this layer uses from another layer (tied), not counted in `params`.
    pub tied: usize,
    /// Whether they train.
    pub trainable: Trainable,
    /// Forward FLOPs for the batch ([`crate::nn::Layer::flops`]).
    pub flops: u64,
    /// Bytes of its output for the batch (f32).
    pub activation_bytes: u64,
}

/// A model's summary for one batch size.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Input shape, batch first.
    pub input: Vec<usize>,
    /// The leaves in order.
    pub rows: Vec<LayerRow>,
    /// Parameters (each stored one once).
    pub params: usize,
    /// Of which trainable.
    pub trainable: usize,
    /// Forward FLOPs for the batch.
    pub flops: u64,
    /// The layers' outputs for the batch, in bytes (what the forward pass keeps for backward).
    pub activation_bytes: u64,
    /// One training step's estimate: parameters, gradients and optimizer state as 4 f32
    /// copies, plus every activation, gradient and scratch tensor (what `train` checks
    /// against the machine before it starts).
    pub step_bytes: f64,
    /// The flat parameter buffer in bytes (tensors start on 64-element boundaries).
    pub flat_bytes: u64,
    /// Per optimizer (default settings): the bytes of state it keeps for the trainable
    /// parameters, scratch included.
    pub optimizer_state: Vec<(&'static str, u64)>,
}

/// Summarises `spec` for a batch of `batch` samples.
pub fn summarize(spec: &ModelSpec, batch: usize) -> Result<Summary> {
    let layout = spec.layout()?;
    let aliases: Vec<&str> = layout.aliases().iter().map(|(a, _)| a.as_str()).collect();
    let mut shape = vec![batch];
    shape.extend_from_slice(&spec.input);
    let input = shape.clone();
    let mut rows = Vec::new();
    for leaf in spec.leaves() {
        let flops = leaf.layer.flops(&shape);
        shape = leaf.layer.output_shape(&shape)?;
        let (mut params, mut tied, mut frozen, mut trained) = (0, 0, 0, 0);
        for t in leaf.layer.params() {
            let full = format!("{}.{}", leaf.path, t.name);
            let n: usize = t.shape.iter().product();
            if aliases.contains(&full.as_str()) {
                tied += n;
                continue;
            }
            params += n;
            if spec.frozen.contains(&full) {
                frozen += n;
            } else {
                trained += n;
            }
        }
        let trainable = match (trained > 0, frozen > 0) {
            (false, false) => Trainable::None,
            (true, false) => Trainable::Yes,
            (false, true) => Trainable::Frozen,
            (true, true) => Trainable::Partly,
        };
        let activation_bytes = 4 * shape.iter().map(|&d| d as u64).product::<u64>();
        rows.push(LayerRow {
            name: leaf.path.clone(),
            layer: leaf.layer.spec(),
            output: shape.clone(),
            params,
            tied,
            trainable,
            flops,
            activation_bytes,
        });
    }
    let params = rows.iter().map(|r| r.params).sum();
    let (_, trainable_layout) = spec.trainable_layout()?;
    let trainable = trainable_layout.views().iter().map(|v| v.len()).sum();
    let mut optimizer_state = Vec::new();
    for entry in OPTIMIZERS {
        let config = registry::build(entry.name, &Settings::default())?;
        let rule = config.rule();
        let saved: usize = if trainable_layout.views().first().is_some_and(|v| rule.state_of(v).is_some()) {
            trainable_layout.views().iter().flat_map(|v| rule.state_of(v).unwrap_or_default()).map(|s| s.2).sum()
        } else {
            config.state_names().len() * trainable_layout.total()
        };
        let scratch = config.scratch_slots() * trainable_layout.total();
        optimizer_state.push((entry.name, 4 * (saved + scratch) as u64));
    }
    Ok(Summary {
        input,
        params,
        trainable,
        flops: rows.iter().map(|r| r.flops).sum(),
        activation_bytes: rows.iter().map(|r| r.activation_bytes).sum(),
        step_bytes: spec.memory_bytes(batch, 4.0),
        flat_bytes: 4 * layout.total() as u64,
        optimizer_state,
        rows,
    })
}
