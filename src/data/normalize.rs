//! Feature normalisation fitted on training rows and applied to any rows: per-feature
//! standardisation, one scalar mean/std, or min-max scaling.

use super::Dataset;
use crate::error::{Error, Result};
use std::str::FromStr;

/// How features are rescaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalization {
    /// The data's own default, chosen when the data are read ([`Normalization::resolve`]):
    /// `standardize` for CSV tables (columns in their own units), `scalar` for images (IDX, or
    /// CSV rows given a [C, H, W] input shape: pixels share one unit).
    Auto,
    /// Leave features as read.
    None,
    /// `(x − mean_j) / std_j` per feature j (std 0 → 1), as scikit-learn's StandardScaler.
    Standardize,
    /// `(x − mean) / std` with one mean and std over every feature (as torchvision's MNIST
    /// transform with 0.1307/0.3081).
    Scalar,
    /// `(x − min_j) / (max_j − min_j)` per feature (range 0 → 1).
    MinMax,
    /// `(x − mean_c) / std_c` with one mean and std per channel of [C, H, W] images (as
    /// torchvision's `Normalize(mean, std)` with per-channel statistics).
    PerChannel,
}

impl FromStr for Normalization {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Normalization::Auto),
            "none" => Ok(Normalization::None),
            "standardize" => Ok(Normalization::Standardize),
            "scalar" => Ok(Normalization::Scalar),
            "min-max" | "minmax" => Ok(Normalization::MinMax),
            "per-channel" => Ok(Normalization::PerChannel),
            other => Err(Error::InvalidArgument {
                what: "normalization".into(),
                detail: format!("unknown {other:?}; expected auto, none, standardize, scalar, min-max or per-channel"),
            }),
        }
    }
}

impl Normalization {
    /// The kind to fit for data read as `schema` (`images`: the rows are [C, H, W] images):
    /// `Auto` becomes `Standardize` for a CSV table (one mean and std over columns in
    /// different units leaves the small-valued columns all but constant: wine scored 0.64
    /// that way, 1.00 per column) and `Scalar` for images, IDX or CSV (pixels share one
    /// unit); any other kind is kept.
    pub fn resolve(self, schema: &super::InputSchema, images: bool) -> Normalization {
        match (self, schema) {
            (Normalization::Auto, super::InputSchema::Csv { .. }) if !images => Normalization::Standardize,
            (Normalization::Auto, super::InputSchema::Image { .. }) => Normalization::PerChannel,
            (Normalization::Auto, _) => Normalization::Scalar,
            (kind, _) => kind,
        }
    }
}

impl Normalization {
    /// The kind to fit on regression targets under `loss`: `Auto` standardises them under
    /// `mse` (so a target in the hundreds trains like one near 1) and leaves other losses'
    /// targets (BCE's 0/1) alone; any other kind is kept.
    pub fn resolve_targets(self, loss: crate::loss::LossKind) -> Normalization {
        match (self, loss) {
            (Normalization::Auto, crate::loss::LossKind::Mse) => Normalization::Standardize,
            (Normalization::Auto, _) => Normalization::None,
            (kind, _) => kind,
        }
    }
}

/// A fitted normalisation: `x' = (x − shift_j) · factor_j`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalizer {
    /// The kind that was fitted.
    pub kind: Normalization,
    /// Per-feature shift.
    pub shift: Vec<f32>,
    /// Per-feature factor.
    pub factor: Vec<f32>,
}

impl Normalizer {
    /// Fits `kind` on the rows of `data` (statistics in f64).
    pub fn fit(kind: Normalization, data: &Dataset) -> Self {
        Self::fit_rows(kind, &data.x)
    }

    /// Fits `kind` on the rows of a (rows, columns) tensor (statistics in f64).
    pub fn fit_rows(kind: Normalization, x: &crate::tensor::Tensor) -> Self {
        let (n, f) = (x.shape()[0], x.shape().get(1).copied().unwrap_or(0));
        let x = x.data();
        let col = |j: usize| (0..n).map(move |r| x[r * f + j] as f64);
        let (shift, factor): (Vec<f64>, Vec<f64>) = match kind {
            // Resolved before fitting (per-channel by `fit_per_channel`); left unresolved, it
            // changes nothing.
            Normalization::Auto | Normalization::None | Normalization::PerChannel => (vec![0.0; f], vec![1.0; f]),
            Normalization::Standardize => (0..f)
                .map(|j| {
                    let mean = col(j).sum::<f64>() / n.max(1) as f64;
                    let var = col(j).map(|v| (v - mean).powi(2)).sum::<f64>() / n.max(1) as f64;
                    let std = var.sqrt();
                    (mean, if std > 0.0 { 1.0 / std } else { 1.0 })
                })
                .unzip(),
            Normalization::Scalar => {
                let all = || x.iter().map(|&v| v as f64);
                let mean = all().sum::<f64>() / x.len().max(1) as f64;
                let std = (all().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt();
                (vec![mean; f], vec![if std > 0.0 { 1.0 / std } else { 1.0 }; f])
            }
            Normalization::MinMax => (0..f)
                .map(|j| {
                    let (lo, hi) = col(j).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
                    let range = hi - lo;
                    (if lo.is_finite() { lo } else { 0.0 }, if range > 0.0 { 1.0 / range } else { 1.0 })
                })
                .unzip(),
        };
        Self {
            kind,
            shift: shift.iter().map(|&v| v as f32).collect(),
            factor: factor.iter().map(|&v| v as f32).collect(),
        }
    }

    /// Fits per-channel statistics on rows of `channels`-channel images (channel-major: each
    /// channel's pixels contiguous), stored per feature.
    pub fn fit_per_channel(x: &crate::tensor::Tensor, channels: usize) -> Result<Self> {
        let (n, f) = (x.shape()[0], x.shape().get(1).copied().unwrap_or(0));
        if channels == 0 || !f.is_multiple_of(channels) {
            return Err(Error::InvalidArgument {
                what: "normalization".into(),
                detail: format!("per-channel: {f} values a row do not split into {channels} channels"),
            });
        }
        let plane = f / channels;
        let (mut shift, mut factor) = (Vec::with_capacity(f), Vec::with_capacity(f));
        for c in 0..channels {
            let values = || {
                (0..n).flat_map(move |r| x.data()[r * f + c * plane..r * f + (c + 1) * plane].iter().map(|&v| v as f64))
            };
            let count = (n * plane).max(1) as f64;
            let mean = values().sum::<f64>() / count;
            let std = (values().map(|v| (v - mean).powi(2)).sum::<f64>() / count).sqrt();
            shift.extend(std::iter::repeat_n(mean as f32, plane));
            factor.extend(std::iter::repeat_n(if std > 0.0 { (1.0 / std) as f32 } else { 1.0 }, plane));
        }
        Ok(Self { kind: Normalization::PerChannel, shift, factor })
    }

    /// Applies the fitted transform to every row of `data` in place.
    pub fn apply(&self, data: &mut Dataset) -> Result<()> {
        self.apply_rows(&mut data.x)
    }

    /// Undoes the fitted transform on every row of a (rows, features) tensor in place: what a
    /// model trained on standardised targets predicts, back in the targets' units.
    pub fn invert_rows(&self, x: &mut crate::tensor::Tensor) -> Result<()> {
        self.map_rows(x, "inverted on", |v, shift, factor| v / factor + shift)
    }

    /// Each column's scale in the original units (1 / factor): what an error in the fitted
    /// units is worth in the data's.
    pub fn scales(&self) -> Vec<f64> {
        self.factor.iter().map(|&f| 1.0 / f as f64).collect()
    }

    /// Applies the fitted transform to every row of a (rows, features) tensor in place.
    pub fn apply_rows(&self, x: &mut crate::tensor::Tensor) -> Result<()> {
        self.map_rows(x, "applied to", |v, shift, factor| (v - shift) * factor)
    }

    /// A row of `features` zeros under the fitted transform: a black image in the model's
    /// input units (what augmentation pads with); zeros when nothing was fitted.
    pub fn of_zeros(&self, features: usize) -> Result<Vec<f32>> {
        if self.shift.is_empty() {
            return Ok(vec![0.0; features]);
        }
        let mut row = crate::tensor::Tensor::from_vec(&[1, features], vec![0.0; features])?;
        self.apply_rows(&mut row)?;
        Ok(row.data().to_vec())
    }

    /// `f(value, shift_j, factor_j)` on every element of a (rows, features) tensor, whose
    /// width must be the fitted one (`doing` says how it was used, for the error).
    fn map_rows(&self, x: &mut crate::tensor::Tensor, doing: &str, f: impl Fn(f32, f32, f32) -> f32) -> Result<()> {
        let cols = x.shape().get(1).copied().unwrap_or(0);
        if cols != self.shift.len() {
            return Err(Error::InvalidArgument {
                what: "normalization".into(),
                detail: format!("fitted on {} columns, {doing} {cols}", self.shift.len()),
            });
        }
        for row in x.data_mut().chunks_mut(cols.max(1)) {
            for (j, v) in row.iter_mut().enumerate() {
                *v = f(*v, self.shift[j], self.factor[j]);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    #[test]
    fn zeros_map_to_black_in_the_fitted_units() {
        // Two RGB-like channels of 2 pixels: channel 0 holds 1 and 3 (mean 2, std 1), channel 1
        // holds 4 and 4 (std 0 → factor 1).
        let x = Tensor::from_vec(&[2, 4], vec![1.0, 1.0, 4.0, 4.0, 3.0, 3.0, 4.0, 4.0]).unwrap();
        let n = Normalizer::fit_per_channel(&x, 2).unwrap();
        assert_eq!(n.of_zeros(4).unwrap(), vec![-2.0, -2.0, -4.0, -4.0]);
        let none = Normalizer { kind: Normalization::None, shift: Vec::new(), factor: Vec::new() };
        assert_eq!(none.of_zeros(3).unwrap(), vec![0.0; 3]);
        assert!(n.of_zeros(3).is_err(), "a width the normaliser was not fitted on is refused");
    }
}
