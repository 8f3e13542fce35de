//! `--png`: a still of a race drawn with plotters: the heat map with contour lines, a colour
//! bar, the known minima, each racer's path and where it ended, and a legend.

use super::colour::{contour_segments, viridis, Scale, CONTOURS};
use super::presets::Preset;
use super::run::Trajectory;
use super::surfaces::{MarkerKind, Surface};
use plotters::prelude::*;

const WIDTH: u32 = 860;
const HEIGHT: u32 = 700;

fn hex(colour: &str) -> RGBColor {
    let v = u32::from_str_radix(colour.trim_start_matches('#'), 16).unwrap_or(0xff0000);
    RGBColor((v >> 16) as u8, (v >> 8) as u8, v as u8)
}

/// Draws the still and returns it as PNG bytes. `values` is the surface on an n×n grid of cell
/// centres, row 0 at the top.
pub fn render(
    surface: &Surface,
    values: &[f32],
    n: usize,
    runs: &[(Preset, Trajectory)],
    start: [f64; 2],
) -> std::result::Result<Vec<u8>, String> {
    crate::report::register_font();
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (plot, bar) = root.split_horizontally(WIDTH - 130);
        let [[x0, x1], [y0, y1]] = surface.info.region;
        let floor = surface.minima().iter().map(|m| m.value).fold(f64::INFINITY, f64::min);
        let scale = Scale::new(values, floor);
        let mut chart = ChartBuilder::on(&plot)
            .caption(format!("{}: {}", surface.info.title, surface.info.formula), ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().disable_mesh().x_desc("x").y_desc("y").draw().map_err(|e| e.to_string())?;
        let (dx, dy) = ((x1 - x0) / n as f64, (y1 - y0) / n as f64);
        let t: Vec<f64> = values.iter().map(|&v| scale.t(v as f64)).collect();
        chart
            .draw_series((0..n * n).map(|i| {
                let (row, col) = (i / n, i % n);
                let [r, g, b] = viridis(t[i]);
                let (cx, cy) = (x0 + col as f64 * dx, y1 - row as f64 * dy);
                Rectangle::new([(cx, cy), (cx + dx, cy - dy)], RGBColor(r, g, b).filled())
            }))
            .map_err(|e| e.to_string())?;
        // Contours as the page draws them: interpolated lines, not darkened cells.
        let to_plot = |(gx, gy): (f64, f64)| (x0 + gx * dx, y1 - gy * dy);
        let ink = BLACK.mix(0.4).stroke_width(1);
        chart
            .draw_series(
                contour_segments(&t, n, CONTOURS)
                    .into_iter()
                    .map(|[p, q]| PathElement::new(vec![to_plot(p), to_plot(q)], ink)),
            )
            .map_err(|e| e.to_string())?;
        for m in &surface.info.markers {
            let at = (m.at[0], m.at[1]);
            let style = ShapeStyle::from(&WHITE).stroke_width(2);
            match m.kind {
                MarkerKind::Global => chart.draw_series([Cross::new(at, 7, style)]),
                MarkerKind::Local => chart.draw_series([Circle::new(at, 6, style)]),
                MarkerKind::Saddle => chart.draw_series([TriangleMarker::new(at, 7, style)]),
            }
            .map_err(|e| e.to_string())?;
        }
        chart
            .draw_series([Circle::new((start[0], start[1]), 5, ShapeStyle::from(&BLACK).stroke_width(2))])
            .map_err(|e| e.to_string())?;
        for (preset, t) in runs {
            let colour = hex(preset.colour);
            let path: Vec<(f64, f64)> = t.points.iter().map(|p| (p[0] as f64, p[1] as f64)).collect();
            let label = match t.diverged_at {
                Some(k) => format!("{} lr {} (diverged at step {k})", preset.label, preset.optimizer.lr),
                None => format!(
                    "{} lr {}: f = {:.3e}",
                    preset.label,
                    preset.optimizer.lr,
                    t.losses.last().copied().unwrap_or(f32::NAN)
                ),
            };
            chart
                .draw_series(LineSeries::new(path.clone(), colour.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3)));
            if let Some(&end) = path.last() {
                if t.diverged_at.is_some() {
                    chart.draw_series([Cross::new(end, 9, colour.stroke_width(3))]).map_err(|e| e.to_string())?;
                } else {
                    chart.draw_series([Circle::new(end, 6, colour.filled())]).map_err(|e| e.to_string())?;
                    chart.draw_series([Circle::new(end, 6, BLACK.stroke_width(1))]).map_err(|e| e.to_string())?;
                }
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .draw()
            .map_err(|e| e.to_string())?;
        draw_colour_bar(&bar, &scale)?;
        root.present().map_err(|e| e.to_string())?;
    }
    encode_png(&rgb, WIDTH, HEIGHT)
}

fn draw_colour_bar(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    scale: &Scale,
) -> std::result::Result<(), String> {
    let title = if scale.is_log() { "f (log scale)" } else { "f" };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin_top(50)
        .margin_bottom(50)
        .margin_right(10)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_style(("sans-serif", 13))
        .y_label_formatter(&|t| format!("{:.3}", scale.value(*t)))
        .draw()
        .map_err(|e| e.to_string())?;
    let steps = 200;
    chart
        .draw_series((0..steps).map(|i| {
            let t = i as f64 / steps as f64;
            let [r, g, b] = viridis(t + 0.5 / steps as f64);
            Rectangle::new([(0.0, t), (1.0, t + 1.0 / steps as f64)], RGBColor(r, g, b).filled())
        }))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// RGB8 pixels → PNG bytes.
pub fn encode_png(rgb: &[u8], width: u32, height: u32) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}
