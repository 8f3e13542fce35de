//! What an evaluation reports beyond the loss: regression's MAE, RMSE and R² (from sums that
//! add up over chunks and replicas), and classification's per-class precision, recall and F1
//! with their macro average (from the confusion matrix), as scikit-learn defines them.

/// Per-target-column sums over evaluated rows, in the units the model trains in; they add up
/// over evaluation chunks and over replicas ([`ValueSums::to_vec`] / [`ValueSums::from_vec`]
/// for an all-reduce).
#[derive(Clone, Debug, PartialEq)]
pub struct ValueSums {
    /// Rows summed.
    pub rows: f64,
    /// Σ |prediction − target| per column.
    pub abs_err: Vec<f64>,
    /// Σ (prediction − target)² per column.
    pub sq_err: Vec<f64>,
    /// Σ target per column.
    pub target: Vec<f64>,
    /// Σ target² per column.
    pub target_sq: Vec<f64>,
}

/// Regression metrics in the data's own units, averaged uniformly over target columns
/// (scikit-learn's `multioutput="uniform_average"`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RegressionMetrics {
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Coefficient of determination: 1 − SS_res / SS_tot (0 for predicting the mean; a
    /// constant target column with a perfect fit scores 1, an imperfect one 0).
    pub r2: f64,
}

impl ValueSums {
    /// Empty sums for `columns` target columns.
    pub fn new(columns: usize) -> Self {
        Self {
            rows: 0.0,
            abs_err: vec![0.0; columns],
            sq_err: vec![0.0; columns],
            target: vec![0.0; columns],
            target_sq: vec![0.0; columns],
        }
    }

    /// Adds rows of predictions and targets, both row-major with this many columns.
    pub fn add(&mut self, predictions: &[f32], targets: &[f32]) {
        let cols = self.abs_err.len().max(1);
        for (p, t) in predictions.chunks(cols).zip(targets.chunks(cols)) {
            for j in 0..cols.min(p.len()) {
                let (p, t) = (p[j] as f64, t[j] as f64);
                self.abs_err[j] += (p - t).abs();
                self.sq_err[j] += (p - t) * (p - t);
                self.target[j] += t;
                self.target_sq[j] += t * t;
            }
            self.rows += 1.0;
        }
    }

    /// The sums as one flat vector (rows first), for an all-reduce.
    pub fn to_vec(&self) -> Vec<f64> {
        let mut v = vec![self.rows];
        for part in [&self.abs_err, &self.sq_err, &self.target, &self.target_sq] {
            v.extend_from_slice(part);
        }
        v
    }

    /// The sums back from [`ValueSums::to_vec`]'s layout.
    pub fn from_vec(v: &[f64], columns: usize) -> Self {
        let part = |k: usize| v[1 + k * columns..1 + (k + 1) * columns].to_vec();
        Self { rows: v[0], abs_err: part(0), sq_err: part(1), target: part(2), target_sq: part(3) }
    }

    /// The metrics in the data's units: column j's errors are multiplied by `scale[j]` (the
    /// target standardisation's std; 1 when the targets were not rescaled). R² does not change
    /// under that rescaling.
    pub fn metrics(&self, scale: &[f64]) -> RegressionMetrics {
        let n = self.rows.max(1.0);
        let cols = self.abs_err.len().max(1) as f64;
        let s = |j: usize| scale.get(j).copied().unwrap_or(1.0);
        let mut m = RegressionMetrics { mae: 0.0, rmse: 0.0, r2: 0.0 };
        for j in 0..self.abs_err.len() {
            m.mae += self.abs_err[j] / n * s(j) / cols;
            m.rmse += (self.sq_err[j] / n).sqrt() * s(j) / cols;
            let ss_tot = (self.target_sq[j] - self.target[j] * self.target[j] / n).max(0.0);
            let r2 = if ss_tot > 1e-12 * n {
                1.0 - self.sq_err[j] / ss_tot
            } else if self.sq_err[j] == 0.0 {
                1.0
            } else {
                0.0
            };
            m.r2 += r2 / cols;
        }
        m
    }
}

/// One class's scores against the rest.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassScore {
    /// The class's name (its original label, or its index).
    pub class: String,
    /// Of the rows predicted as this class, the fraction that are (0 when none is).
    pub precision: f64,
    /// Of the rows of this class, the fraction predicted as it (0 when there is none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are).
    pub f1: f64,
    /// Rows of this class.
    pub support: u64,
}

/// Per-class precision, recall and F1 from `confusion[true][predicted]`; `names[c]` names
/// class c (its index when `names` is shorter). Empty denominators give 0, as scikit-learn's
/// `zero_division=0`.
pub fn class_scores(confusion: &[Vec<u64>], names: &[String]) -> Vec<ClassScore> {
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    (0..confusion.len())
        .map(|c| {
            let hits = confusion[c][c];
            let support: u64 = confusion[c].iter().sum();
            let predicted: u64 = confusion.iter().map(|row| row[c]).sum();
            let (precision, recall) = (ratio(hits, predicted), ratio(hits, support));
            let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
            let class = names.get(c).cloned().unwrap_or_else(|| c.to_string());
            ClassScore { class, precision, recall, f1, support }
        })
        .collect()
}

/// The unweighted mean of the classes' F1 (scikit-learn's `f1_score(average="macro")`).
pub fn macro_f1(scores: &[ClassScore]) -> f64 {
    scores.iter().map(|s| s.f1).sum::<f64>() / scores.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_metrics_match_their_definitions() {
        let mut s = ValueSums::new(1);
        s.add(&[1.0, 2.0], &[1.5, 3.0]);
        s.add(&[4.0], &[4.5]);
        let m = s.metrics(&[2.0]);
        // errors 0.5, 1.0, 0.5 scaled by 2: MAE 4/3, RMSE 2·sqrt(0.5)
        assert!((m.mae - 4.0 / 3.0).abs() < 1e-12, "{m:?}");
        assert!((m.rmse - 2.0 * 0.5f64.sqrt()).abs() < 1e-12, "{m:?}");
        // targets 1.5, 3, 4.5: mean 3, SS_tot 4.5; SS_res 1.5 → R² 2/3
        assert!((m.r2 - 2.0 / 3.0).abs() < 1e-12, "{m:?}");
        let back = ValueSums::from_vec(&s.to_vec(), 1);
        assert_eq!(back, s);
    }

    #[test]
    fn class_scores_follow_scikit_learn() {
        // true 0: 3 rows (2 right, 1 as class 1); true 1: 1 row (as 1); class 2 never occurs.
        let m = vec![vec![2, 1, 0], vec![0, 1, 0], vec![0, 0, 0]];
        let s = class_scores(&m, &["a".into(), "b".into()]);
        assert_eq!((s[0].class.as_str(), s[1].class.as_str(), s[2].class.as_str()), ("a", "b", "2"));
        assert_eq!((s[0].precision, s[0].recall), (1.0, 2.0 / 3.0));
        assert_eq!((s[1].precision, s[1].recall, s[1].support), (0.5, 1.0, 1));
        assert_eq!((s[2].precision, s[2].recall, s[2].f1), (0.0, 0.0, 0.0));
        let f1 = [0.8, 2.0 / 3.0, 0.0];
        assert!((macro_f1(&s) - f1.iter().sum::<f64>() / 3.0).abs() < 1e-12);
    }
}
