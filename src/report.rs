//! What a run leaves in its output folder besides checkpoints: the metrics log (CSV and JSONL,
//! one row per epoch) and a PNG of the loss and accuracy curves.

use crate::checkpoint::{write_atomically, EpochRecord};
use crate::error::{file_error, Result};
use crate::metrics::{ClassScore, RegressionMetrics};
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// Writes `metrics.csv` and `metrics.jsonl` under `dir` from the whole history (rewritten each
/// epoch, so a resumed run's log is complete).
pub fn write_metrics(dir: &Path, history: &[EpochRecord]) -> Result<()> {
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    let mut csv =
        String::from("epoch,train_loss,val_loss,val_accuracy,val_mae,val_rmse,val_r2,lr,samples_per_s,seconds\n");
    let mut jsonl = String::new();
    for r in history {
        let reg = |pick: fn(&RegressionMetrics) -> f64| opt(r.val_regression.as_ref().map(pick));
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            r.epoch,
            r.train_loss,
            opt(r.val_loss),
            opt(r.val_accuracy),
            reg(|m| m.mae),
            reg(|m| m.rmse),
            reg(|m| m.r2),
            r.lr,
            r.samples_per_s,
            r.seconds
        ));
        jsonl.push_str(&serde_json::to_string(r).unwrap_or_default());
        jsonl.push('\n');
    }
    write_atomically(&dir.join("metrics.csv"), csv.as_bytes())?;
    write_atomically(&dir.join("metrics.jsonl"), jsonl.as_bytes())
}

/// DejaVu Sans (Bitstream Vera licence, assets/fonts/DejaVuSans.LICENSE), so plots need no
/// system fonts.
static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// A CSV field: quoted when it holds a comma, quote or line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes `confusion.csv` under `dir` (rows: true class, columns: predicted; each class named
/// by `names[c]`, its original label, or its index) and returns its path; the file holds the
/// whole matrix whatever the class count.
pub fn write_confusion(dir: &Path, m: &[Vec<u64>], names: &[String]) -> Result<std::path::PathBuf> {
    let name = |c: usize| csv_field(&names.get(c).cloned().unwrap_or_else(|| c.to_string()));
    let mut csv = String::from("true\\predicted");
    for c in 0..m.len() {
        csv.push_str(&format!(",{}", name(c)));
    }
    csv.push('\n');
    for (t, row) in m.iter().enumerate() {
        csv.push_str(&name(t));
        for v in row {
            csv.push_str(&format!(",{v}"));
        }
        csv.push('\n');
    }
    let path = dir.join("confusion.csv");
    write_atomically(&path, csv.as_bytes())?;
    Ok(path)
}

/// Writes `per_class.csv` under `dir`: precision, recall, F1 and support of every class, then
/// their macro average (support: all rows); returns its path.
pub fn write_class_scores(dir: &Path, scores: &[ClassScore]) -> Result<std::path::PathBuf> {
    let mut csv = String::from("class,precision,recall,f1,support\n");
    for s in scores {
        csv.push_str(&format!("{},{},{},{},{}\n", csv_field(&s.class), s.precision, s.recall, s.f1, s.support));
    }
    let n = scores.len().max(1) as f64;
    let mean = |pick: fn(&ClassScore) -> f64| scores.iter().map(pick).sum::<f64>() / n;
    let rows: u64 = scores.iter().map(|s| s.support).sum();
    csv.push_str(&format!("macro avg,{},{},{},{rows}\n", mean(|s| s.precision), mean(|s| s.recall), mean(|s| s.f1)));
    let path = dir.join("per_class.csv");
    write_atomically(&path, csv.as_bytes())?;
    Ok(path)
}

/// One curve of a panel: its name, colour and (epoch, value) points.
type Curve = (&'static str, RGBColor, Vec<(f64, f64)>);

/// Draws one panel: every curve as a line with a dot per epoch (so a single epoch shows),
/// integer epoch ticks, labelled axes, the legend where `legend` puts it.
fn draw_panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    title: &str,
    y_desc: &str,
    epochs: usize,
    y: std::ops::Range<f64>,
    curves: Vec<Curve>,
    legend: SeriesLabelPosition,
) -> std::result::Result<(), String> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(65)
        .build_cartesian_2d(0.5..epochs as f64 + 0.5, y)
        .map_err(|e| e.to_string())?;
    let integer = |x: &f64| {
        if (x - x.round()).abs() < 1e-6 {
            format!("{}", x.round() as i64)
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .x_labels(epochs.clamp(2, 12) + 1)
        .x_label_formatter(&integer)
        .draw()
        .map_err(|e| e.to_string())?;
    for (name, color, points) in curves {
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 4, color.filled()))).map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .position(legend)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()
        .map_err(|e| e.to_string())
}

/// Draws the loss per epoch, and for classification the accuracy beside it, into a PNG at
/// `path`. Written at the start of a run (empty axes) and after every epoch.
pub fn plot_curves(path: &Path, history: &[EpochRecord], classification: bool) -> Result<()> {
    register_font();
    let fail = |e: String| file_error(path, format!("cannot draw the plot: {e}"));
    let width = if classification { 1200 } else { 600 };
    let root = BitMapBackend::new(path, (width, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let epochs = history.last().map_or(1, |r| r.epoch.max(1));
    let series = |pick: &dyn Fn(&EpochRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        history.iter().filter_map(|r| pick(r).map(|v| (r.epoch as f64, v))).filter(|p| p.1.is_finite()).collect()
    };

    let losses: Vec<Curve> =
        vec![("train", BLUE, series(&|r| Some(r.train_loss))), ("validation", GREEN, series(&|r| r.val_loss))];
    let (lo, hi) = losses
        .iter()
        .flat_map(|c| c.2.iter().map(|p| p.1))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    // Head room above the highest point keeps the legend (upper right) off the curves' ends.
    let loss_range = if lo.is_finite() { 0.0f64.min(lo)..hi * 1.3 + 1e-9 } else { 0.0..1.0 };
    let (left, right) = if classification {
        let (l, r) = root.split_horizontally(600);
        (l, Some(r))
    } else {
        (root.clone(), None)
    };
    draw_panel(&left, "loss", "mean loss", epochs, loss_range, losses, SeriesLabelPosition::UpperRight)
        .map_err(fail)?;

    if let Some(right) = right {
        let accs: Vec<Curve> = vec![("validation", GREEN, series(&|r| r.val_accuracy))];
        let lowest = accs.iter().flat_map(|c| c.2.iter().map(|p| p.1)).fold(1.0f64, f64::min);
        let floor = ((lowest - 0.05) * 20.0).floor().max(0.0) / 20.0;
        draw_panel(&right, "accuracy", "accuracy", epochs, floor..1.0, accs, SeriesLabelPosition::LowerRight)
            .map_err(fail)?;
    }
    root.present().map_err(|e| fail(e.to_string()))
}

/// Line colours of a comparison: Tableau's ten, then six more, every one dark enough to read
/// on white (Palette99 gave Muon a near-white).
pub const SERIES_COLOURS: [[u8; 3]; 16] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
    [0, 0, 0],
    [0, 0, 128],
    [128, 0, 0],
    [0, 128, 128],
    [102, 51, 153],
    [0, 100, 0],
];

/// Labelled values for a log axis over [lo, hi]: the coarsest of 1·10^k, {1, 2, 5}·10^k,
/// {1, …, 9}·10^k, or steps of 0.1·10^k, that puts at least four labels in range (a range
/// within one decade, 0.4 to 0.9 say, gets 0.4, 0.5, …, not just the powers of ten outside it).
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let mantissas: [&[f64]; 3] = [&[1.0], &[1.0, 2.0, 5.0], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]];
    let fine: Vec<f64> = (10..100).map(|m| m as f64 / 10.0).collect();
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let within = |set: &[f64]| -> Vec<f64> {
        (first..=last)
            .flat_map(|e| set.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
            .collect()
    };
    for set in mantissas.iter().copied().chain(std::iter::once(&fine[..])) {
        let ticks = within(set);
        if ticks.len() >= 4 {
            let every = ticks.len().div_ceil(12);
            return ticks.into_iter().step_by(every).collect();
        }
    }
    within(&fine)
}

/// A tick value with the digits it needs (0.45, 2, 1e-05).
fn tick_label(v: f64) -> String {
    if (1e-3..1e5).contains(&v) {
        let digits = (2 - v.log10().floor() as i32).clamp(0, 6) as usize;
        let text = format!("{v:.digits$}");
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        }
    } else {
        format!("{v:.0e}")
    }
}

/// Draws several runs' validation loss per epoch into one PNG at `path` (log scale), one colour and
/// legend entry per run: `downhill compare-optimizers`' figure.
pub fn plot_comparison(path: &Path, title: &str, runs: &[(String, Vec<(f64, f64)>)]) -> Result<()> {
    register_font();
    let fail = |e: String| file_error(path, format!("cannot draw the plot: {e}"));
    let tmp = path.with_extension("tmp.png");
    {
        let root = BitMapBackend::new(&tmp, (1000, 620)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let epochs = runs.iter().flat_map(|r| r.1.iter().map(|p| p.0)).fold(1.0f64, f64::max);
        let values = runs.iter().flat_map(|r| r.1.iter().map(|p| p.1)).filter(|v| v.is_finite() && *v > 0.0);
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        let (lo, hi) = if lo.is_finite() { (lo * 0.8, hi * 1.25) } else { (1e-3, 1.0) };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.5..epochs + 0.5, (lo..hi).log_scale().with_key_points(log_ticks(lo, hi)))
            .map_err(|e| fail(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("validation loss (log scale)")
            .y_label_formatter(&|v| tick_label(*v))
            .x_labels((epochs as usize).clamp(2, 12) + 1)
            .x_label_formatter(&|x| if (x - x.round()).abs() < 1e-6 { format!("{}", x.round()) } else { String::new() })
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        for (i, (name, points)) in runs.iter().enumerate() {
            let [r, g, b] = SERIES_COLOURS[i % SERIES_COLOURS.len()];
            let colour = RGBColor(r, g, b).to_rgba();
            let pts: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.1.is_finite() && p.1 > 0.0).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
                .map_err(|e| fail(e.to_string()))?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3)));
            chart
                .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, colour.filled())))
                .map_err(|e| fail(e.to_string()))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| file_error(path, format!("cannot write: {e}")))
}

/// Draws the learning-rate finder's sweep into a PNG at `path`: the smoothed loss over the
/// rate (log axis), each step's loss faint behind it, the suggestion as a red dot with its rate.
pub fn plot_lr_find(path: &Path, found: &crate::run::lr_find::LrFind) -> Result<()> {
    register_font();
    let fail = |e: String| file_error(path, format!("cannot draw the plot: {e}"));
    let tmp = path.with_extension("tmp.png");
    {
        let root = BitMapBackend::new(&tmp, (900, 560)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let lrs = &found.lrs;
        let (x0, x1) = match (lrs.first(), lrs.last()) {
            (Some(a), Some(b)) if b > a => (*a, *b),
            (Some(a), _) => (*a / 10.0, *a * 10.0),
            _ => (1e-8, 1.0),
        };
        // Up to 2.5× the first smoothed loss: the diverged tail would flatten the descent.
        let cap = found.smoothed.first().copied().unwrap_or(1.0).abs() * 2.5;
        let shown = found.smoothed.iter().chain(&found.losses).copied().filter(|v| v.is_finite()).map(|v| v.min(cap));
        let (lo, hi) = shown.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        let (lo, hi) = if lo.is_finite() { (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo) + 1e-9) } else { (0.0, 1.0) };
        let mut chart = ChartBuilder::on(&root)
            .caption("learning-rate range test", ("sans-serif", 22))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x0..x1).log_scale().with_key_points(log_ticks(x0, x1)), lo..hi)
            .map_err(|e| fail(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("learning rate (log scale)")
            .y_desc("loss")
            .x_label_formatter(&|v| tick_label(*v))
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        let clip = |v: f64| v.clamp(lo, hi);
        let raw: Vec<(f64, f64)> = lrs.iter().zip(&found.losses).map(|(x, y)| (*x, clip(*y))).collect();
        let smooth: Vec<(f64, f64)> = lrs.iter().zip(&found.smoothed).map(|(x, y)| (*x, clip(*y))).collect();
        chart
            .draw_series(LineSeries::new(raw, RGBColor(31, 119, 180).mix(0.3).stroke_width(1)))
            .map_err(|e| fail(e.to_string()))?
            .label("loss per step")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RGBColor(31, 119, 180).mix(0.3)));
        chart
            .draw_series(LineSeries::new(smooth, RGBColor(31, 119, 180).stroke_width(2)))
            .map_err(|e| fail(e.to_string()))?
            .label("smoothed (EMA 0.98)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RGBColor(31, 119, 180).stroke_width(3)));
        if let Some(lr) = found.suggestion {
            let k = lrs.iter().position(|x| *x == lr).unwrap_or(0);
            let at = (lr, clip(found.smoothed[k]));
            chart
                .draw_series([Circle::new(at, 7, RED.filled())])
                .map_err(|e| fail(e.to_string()))?
                .label(format!("suggestion: {lr:.2e}"))
                .legend(|(x, y)| Circle::new((x + 9, y), 5, RED.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| file_error(path, format!("cannot write: {e}")))
}

/// Throughput over a sliding window of completed steps: rows per second between the oldest
/// and the newest step in the window. None until two steps are in it, so the first step of an
/// epoch never shows a rate measured over microseconds.
#[derive(Clone, Debug, Default)]
pub struct Throughput {
    window: std::collections::VecDeque<(std::time::Instant, usize)>,
}

impl Throughput {
    /// Steps the window holds.
    pub const WINDOW: usize = 20;

    /// Forgets every step (a new epoch starts).
    pub fn clear(&mut self) {
        self.window.clear();
    }

    /// A step completed at `at`, with `rows` rows done so far in the epoch.
    pub fn push(&mut self, at: std::time::Instant, rows: usize) {
        self.window.push_back((at, rows));
        if self.window.len() > Self::WINDOW {
            self.window.pop_front();
        }
    }

    /// Rows per second over the window.
    pub fn rate(&self) -> Option<f64> {
        let (&(t0, r0), &(t1, r1)) = (self.window.front()?, self.window.back()?);
        let dt = t1.duration_since(t0).as_secs_f64();
        (r1 > r0 && dt > 0.0).then(|| (r1 - r0) as f64 / dt)
    }
}
