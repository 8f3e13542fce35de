//! Model descriptions: a stack of layers, its parameter layout and its seeded initial weights.

use super::init::Init;
use crate::backend::Activation;
use crate::error::{Error, Result};
use crate::params::ParamLayout;
use crate::rng::Rng;
use crate::tensor::Tensor;

/// One layer of a stack.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Layer {
    /// `y = x·Wᵀ + b`, W (outputs, inputs), as torch.nn.Linear.
    Linear {
        /// Input features.
        inputs: usize,
        /// Output features.
        outputs: usize,
    },
    /// An elementwise activation.
    Act(Activation),
    /// Inverted dropout with this drop probability (identity when not training).
    Dropout(f32),
}

/// A model: layers in order plus how to initialise them.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// The layers, input first.
    pub layers: Vec<Layer>,
    /// Weight initialisation for every Linear layer.
    pub init: Init,
}

impl ModelSpec {
    /// An MLP over `sizes` (inputs, hidden…, outputs) with `act` (and dropout `p` when > 0)
    /// after every Linear layer but the last.
    pub fn mlp(sizes: &[usize], act: Activation, dropout: f32, init: Init) -> Result<Self> {
        if sizes.len() < 2 {
            return Err(Error::InvalidArgument {
                what: "mlp".into(),
                detail: format!("needs at least input and output sizes, got {sizes:?}"),
            });
        }
        let mut layers = Vec::new();
        for (i, pair) in sizes.windows(2).enumerate() {
            layers.push(Layer::Linear { inputs: pair[0], outputs: pair[1] });
            if i + 2 < sizes.len() {
                layers.push(Layer::Act(act));
                if dropout > 0.0 {
                    layers.push(Layer::Dropout(dropout));
                }
            }
        }
        let spec = Self { layers, init };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks that widths chain, sizes are non-zero and dropout probabilities are in [0, 1).
    pub fn validate(&self) -> Result<()> {
        let bad = |detail: String| Err(Error::InvalidArgument { what: "model".into(), detail });
        let mut width: Option<usize> = None;
        for (i, layer) in self.layers.iter().enumerate() {
            match *layer {
                Layer::Linear { inputs, outputs } => {
                    if inputs == 0 || outputs == 0 {
                        return bad(format!("layer {i}: Linear({inputs}, {outputs}) has a zero size"));
                    }
                    if let Some(w) = width {
                        if w != inputs {
                            return bad(format!("layer {i}: Linear expects {inputs} inputs but receives {w}"));
                        }
                    }
                    width = Some(outputs);
                }
                Layer::Dropout(p) if !(0.0..1.0).contains(&p) => {
                    return bad(format!("layer {i}: dropout probability {p} is outside [0, 1)"))
                }
                _ => {}
            }
        }
        if width.is_none() {
            return bad("no Linear layer".into());
        }
        Ok(())
    }

    /// Input features (of the first Linear layer).
    pub fn inputs(&self) -> usize {
        self.layers
            .iter()
            .find_map(|l| if let Layer::Linear { inputs, .. } = l { Some(*inputs) } else { None })
            .unwrap_or(0)
    }

    /// Output features (of the last Linear layer).
    pub fn outputs(&self) -> usize {
        self.layers
            .iter()
            .rev()
            .find_map(|l| if let Layer::Linear { outputs, .. } = l { Some(*outputs) } else { None })
            .unwrap_or(0)
    }

    /// Width of each layer's output for one sample.
    pub fn widths(&self) -> Vec<usize> {
        let mut w = self.inputs();
        self.layers
            .iter()
            .map(|l| {
                if let Layer::Linear { outputs, .. } = l {
                    w = *outputs;
                }
                w
            })
            .collect()
    }

    /// Parameter names and shapes in order: `fc1.weight` (out, in), `fc1.bias`, `fc2.weight`, …
    pub fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut specs = Vec::new();
        let mut k = 0;
        for layer in &self.layers {
            if let Layer::Linear { inputs, outputs } = *layer {
                k += 1;
                specs.push((format!("fc{k}.weight"), vec![outputs, inputs]));
                specs.push((format!("fc{k}.bias"), vec![outputs]));
            }
        }
        specs
    }

    /// The flat-buffer layout of the parameters.
    pub fn layout(&self) -> Result<ParamLayout> {
        ParamLayout::new(&self.param_shapes())
    }

    /// Initial parameters drawn from `seed` with this spec's [`Init`], weight then bias per layer.
    pub fn initial_params(&self, seed: u64) -> Result<Vec<(String, Tensor)>> {
        let mut rng = Rng::new(seed);
        let mut out = Vec::new();
        for (name, shape) in self.param_shapes() {
            let data = if shape.len() == 2 {
                self.init.weight(&mut rng, shape[1], shape[0])
            } else {
                let fan_in = out.last().map(|(_, w): &(String, Tensor)| w.shape()[1]).unwrap_or(1);
                self.init.bias(&mut rng, fan_in, shape[0])
            };
            out.push((name, Tensor::from_vec(&shape, data)?));
        }
        Ok(out)
    }
}
