//! The heat map's colour scale, the same as the page's (`web/explore.js`, `colourScale`):
//! viridis over f − floor, log-scaled when the range is wide, with contour levels at even steps
//! of the scaled value.

/// Viridis at nine stops (matplotlib's), interpolated linearly.
const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];

/// Contour levels drawn over the heat map.
pub const CONTOURS: usize = 14;

/// Maps a surface's values to [0, 1].
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    lo: f64,
    span: f64,
    /// Log scale: t = log(1 + shift/δ) / log(1 + span/δ).
    log: bool,
    delta: f64,
}

impl Scale {
    /// The scale for `values` of a surface whose lowest known value is `floor`: log when the
    /// largest value is more than 5 times the median's height above the floor.
    pub fn new(values: &[f32], floor: f64) -> Self {
        let mut sorted: Vec<f64> = values.iter().map(|&v| v as f64).filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let lo = floor.min(sorted.first().copied().unwrap_or(0.0));
        let hi = sorted.last().copied().unwrap_or(1.0);
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(hi);
        let span = (hi - lo).max(1e-12);
        let log = span > 5.0 * (median - lo).max(1e-12);
        Self { lo, span, log, delta: span * 1e-4 }
    }

    /// Whether the scale is logarithmic.
    pub fn is_log(&self) -> bool {
        self.log
    }

    /// f → t in [0, 1].
    pub fn t(&self, f: f64) -> f64 {
        let shift = (f - self.lo).max(0.0);
        let t =
            if self.log { (shift / self.delta).ln_1p() / (self.span / self.delta).ln_1p() } else { shift / self.span };
        t.clamp(0.0, 1.0)
    }

    /// t → f (for colour-bar labels).
    pub fn value(&self, t: f64) -> f64 {
        if self.log {
            self.lo + self.delta * (t * (self.span / self.delta).ln_1p()).exp_m1()
        } else {
            self.lo + t * self.span
        }
    }
}

/// The viridis colour at t in [0, 1].
pub fn viridis(t: f64) -> [u8; 3] {
    let x = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let w = x - i as f64;
    let mix = |k: usize| (VIRIDIS[i][k] as f64 * (1.0 - w) + VIRIDIS[i + 1][k] as f64 * w).round() as u8;
    [mix(0), mix(1), mix(2)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_round_trips_and_goes_log_for_wide_ranges() {
        let wide: Vec<f32> = (0..100).map(|i| (i as f32).powi(4)).collect();
        let s = Scale::new(&wide, 0.0);
        assert!(s.is_log());
        for t in [0.0, 0.3, 0.9, 1.0] {
            assert!((s.t(s.value(t)) - t).abs() < 1e-9);
        }
        let narrow: Vec<f32> = (0..100).map(|i| i as f32).collect();
        assert!(!Scale::new(&narrow, 0.0).is_log());
        assert_eq!(viridis(0.0), VIRIDIS[0]);
        assert_eq!(viridis(1.0), VIRIDIS[8]);
    }
}
