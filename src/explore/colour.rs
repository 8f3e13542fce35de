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

/// One contour segment, from one point to another, in grid units: sample (row r, column c)
/// sits at (c + 0.5, r + 0.5).
pub type Segment = [(f64, f64); 2];

/// Contour lines of an n×n grid of scaled values `t` (row-major, each in [0, 1]) at
/// `levels − 1` even steps, by marching squares with linear interpolation along each cell edge:
/// smooth lines where darkening whole cells drew staircases. The page draws the same
/// (`drawContours` in `web/explore.js`).
pub fn contour_segments(t: &[f64], n: usize, levels: usize) -> Vec<Segment> {
    let mut segments = Vec::new();
    for level in 1..levels {
        let level = level as f64 / levels as f64;
        for r in 0..n.saturating_sub(1) {
            for c in 0..n - 1 {
                let (a, b, d, e) = (t[r * n + c], t[r * n + c + 1], t[(r + 1) * n + c], t[(r + 1) * n + c + 1]);
                let mut pts: Vec<(f64, f64)> = Vec::with_capacity(4);
                let mut edge = |v0: f64, v1: f64, p0: (f64, f64), p1: (f64, f64)| {
                    if (v0 < level) != (v1 < level) {
                        let w = (level - v0) / (v1 - v0);
                        pts.push((p0.0 + w * (p1.0 - p0.0) + 0.5, p0.1 + w * (p1.1 - p0.1) + 0.5));
                    }
                };
                let (x, y) = (c as f64, r as f64);
                edge(a, b, (x, y), (x + 1.0, y));
                edge(b, e, (x + 1.0, y), (x + 1.0, y + 1.0));
                edge(d, e, (x, y + 1.0), (x + 1.0, y + 1.0));
                edge(a, d, (x, y), (x, y + 1.0));
                for pair in pts.chunks_exact(2) {
                    segments.push([pair[0], pair[1]]);
                }
            }
        }
    }
    segments
}

#[cfg(test)]
mod contour_tests {
    use super::*;

    #[test]
    fn contours_of_a_cone_lie_on_circles() {
        // t = distance from the centre / radius: the level-k line is a circle of radius k·R/L.
        let n = 41;
        let centre = 20.5;
        let t: Vec<f64> = (0..n * n)
            .map(|i| {
                let (r, c) = ((i / n) as f64 + 0.5, (i % n) as f64 + 0.5);
                ((r - centre).hypot(c - centre) / 30.0).min(1.0)
            })
            .collect();
        let segments = contour_segments(&t, n, 4);
        assert!(!segments.is_empty());
        for [p, q] in segments {
            for (x, y) in [p, q] {
                let radius = (x - centre).hypot(y - centre);
                let nearest = [7.5, 15.0, 22.5].iter().map(|l| (radius - l).abs()).fold(f64::INFINITY, f64::min);
                // Linear interpolation of a cone is exact along rows and columns up to the
                // curvature within one cell: far below the half cell a staircase is off by.
                assert!(nearest < 0.1, "({x}, {y}) is {nearest} from its circle");
            }
        }
    }
}
