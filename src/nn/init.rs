//! Seeded weight initialisation: PyTorch's nn.Linear default, Xavier/Glorot and He/Kaiming
//! (uniform and normal), zeros. Formulas follow torch.nn.init.

use crate::rng::Rng;

/// How a Linear layer's weight (out, in) is initialised. Biases follow PyTorch's nn.Linear
/// default (uniform ±1/√fan_in) unless the scheme is `Zeros` or a `*Normal`/`*Uniform` scheme
/// with `zero_bias` set in [`super::ModelSpec`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// nn.Linear's default: kaiming_uniform(a=√5), i.e. uniform ±1/√fan_in.
    TorchDefault,
    /// Glorot uniform: ±gain·√(6/(fan_in+fan_out)).
    XavierUniform {
        /// The gain (1 for linear/sigmoid, 5/3 for tanh, √2 for ReLU).
        gain: f64,
    },
    /// Glorot normal: std gain·√(2/(fan_in+fan_out)).
    XavierNormal {
        /// The gain.
        gain: f64,
    },
    /// He uniform (fan_in mode): ±gain·√(3/fan_in).
    KaimingUniform {
        /// The gain (√2 for ReLU).
        gain: f64,
    },
    /// He normal (fan_in mode): std gain/√fan_in.
    KaimingNormal {
        /// The gain (√2 for ReLU).
        gain: f64,
    },
    /// All zeros (weights and biases).
    Zeros,
    /// Weights normal(0, std), biases zero: GPT-2's and nanoGPT's initialisation (std 0.02).
    Normal {
        /// The standard deviation.
        std: f64,
    },
}

impl Init {
    /// Fills a weight of `fan_out` rows and `fan_in` columns, drawing from `rng`.
    pub fn weight(self, rng: &mut Rng, fan_in: usize, fan_out: usize) -> Vec<f32> {
        self.fill(rng, fan_in * fan_out, fan_in, fan_out)
    }

    /// Fills `n` weights of a layer with these fans (as torch.nn.init computes them: a conv's
    /// fan_in is in_channels/groups·kh·kw and its fan_out out_channels·kh·kw).
    pub fn fill(self, rng: &mut Rng, n: usize, fan_in: usize, fan_out: usize) -> Vec<f32> {
        let (fi, fo) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
        let uniform = |rng: &mut Rng, bound: f64| (0..n).map(|_| rng.uniform(-bound, bound) as f32).collect();
        let normal = |rng: &mut Rng, std: f64| (0..n).map(|_| (rng.normal() * std) as f32).collect();
        match self {
            Init::TorchDefault => uniform(rng, 1.0 / fi.sqrt()),
            Init::XavierUniform { gain } => uniform(rng, gain * (6.0 / (fi + fo)).sqrt()),
            Init::XavierNormal { gain } => normal(rng, gain * (2.0 / (fi + fo)).sqrt()),
            Init::KaimingUniform { gain } => uniform(rng, gain * (3.0 / fi).sqrt()),
            Init::KaimingNormal { gain } => normal(rng, gain / fi.sqrt()),
            Init::Zeros => vec![0.0; n],
            Init::Normal { std } => normal(rng, std),
        }
    }

    /// Fills a bias of `fan_out` elements: PyTorch's default uniform ±1/√fan_in, zeros for `Zeros`.
    pub fn bias(self, rng: &mut Rng, fan_in: usize, fan_out: usize) -> Vec<f32> {
        match self {
            Init::Zeros | Init::Normal { .. } => vec![0.0; fan_out],
            _ => {
                let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
                (0..fan_out).map(|_| rng.uniform(-bound, bound) as f32).collect()
            }
        }
    }
}
