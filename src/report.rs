//! What a run leaves in its output folder besides checkpoints: the metrics log (CSV and JSONL,
//! one row per epoch) and a PNG of the loss and accuracy curves.

use crate::checkpoint::{write_atomically, EpochRecord};
use crate::error::{file_error, Result};
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// Writes `metrics.csv` and `metrics.jsonl` under `dir` from the whole history (rewritten each
/// epoch, so a resumed run's log is complete).
pub fn write_metrics(dir: &Path, history: &[EpochRecord]) -> Result<()> {
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    let mut csv =
        String::from("epoch,train_loss,val_loss,val_accuracy,test_loss,test_accuracy,lr,samples_per_s,seconds\n");
    let mut jsonl = String::new();
    for r in history {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            r.epoch,
            r.train_loss,
            opt(r.val_loss),
            opt(r.val_accuracy),
            r.test_loss,
            opt(r.test_accuracy),
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

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Draws loss (left) and accuracy (right) per epoch into a PNG at `path`.
pub fn plot_curves(path: &Path, history: &[EpochRecord]) -> Result<()> {
    register_font();
    let fail = |e: String| file_error(path, format!("cannot draw the plot: {e}"));
    let root = BitMapBackend::new(path, (1200, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let (left, right) = root.split_horizontally(600);
    let epochs = history.len().max(1) as f64;
    let x_range = 0.5..epochs + 0.5;

    let mut losses: Vec<f64> =
        history.iter().flat_map(|r| [Some(r.train_loss), r.val_loss, Some(r.test_loss)]).flatten().collect();
    losses.retain(|v| v.is_finite());
    let (lo, hi) = losses.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo.is_finite() { (0.0f64.min(lo), hi * 1.05 + 1e-9) } else { (0.0, 1.0) };
    let mut chart = ChartBuilder::on(&left)
        .caption("loss", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(x_range.clone(), lo..hi)
        .map_err(|e| fail(e.to_string()))?;
    chart.configure_mesh().x_desc("epoch").draw().map_err(|e| fail(e.to_string()))?;
    let series = |pick: &dyn Fn(&EpochRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        history.iter().filter_map(|r| pick(r).map(|v| (r.epoch as f64, v))).collect()
    };
    for (name, color, points) in [
        ("train", BLUE, series(&|r| Some(r.train_loss))),
        ("validation", GREEN, series(&|r| r.val_loss)),
        ("test", RED, series(&|r| Some(r.test_loss))),
    ] {
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| fail(e.to_string()))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()
        .map_err(|e| fail(e.to_string()))?;

    let lowest = history.iter().flat_map(|r| [r.val_accuracy, r.test_accuracy]).flatten().fold(1.0f64, f64::min);
    let floor = ((lowest - 0.05) * 20.0).floor().max(0.0) / 20.0;
    let mut acc = ChartBuilder::on(&right)
        .caption("accuracy", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(x_range, floor..1.0)
        .map_err(|e| fail(e.to_string()))?;
    acc.configure_mesh().x_desc("epoch").draw().map_err(|e| fail(e.to_string()))?;
    for (name, color, points) in
        [("validation", GREEN, series(&|r| r.val_accuracy)), ("test", RED, series(&|r| r.test_accuracy))]
    {
        if points.is_empty() {
            continue;
        }
        acc.draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| fail(e.to_string()))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    acc.configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    root.present().map_err(|e| fail(e.to_string()))
}
