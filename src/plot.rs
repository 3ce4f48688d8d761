//! PNG charts (plotters, bitmap backend), drawn with the bundled DejaVu Sans font so that no
//! system font library is needed, encoded in memory and written atomically.

use crate::atomic;
use anyhow::{Result, anyhow};
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::Once;

/// DejaVu Sans (Bitstream Vera licence, see assets/fonts/LICENSE-DejaVu.txt).
static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
/// Size of one chart in pixels.
const CELL: (u32, u32) = (900, 550);

/// A named series of points.
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Points (x, y).
    pub points: Vec<(f64, f64)>,
    /// Colour.
    pub color: RGBColor,
}

/// One chart: title, axis labels, series, and optional vertical marker lines.
pub struct Chart<'a> {
    /// Title above the chart.
    pub title: String,
    /// X axis label.
    pub x_label: &'a str,
    /// Y axis label.
    pub y_label: &'a str,
    /// Lines (or points, for a scatter).
    pub series: Vec<Series<'a>>,
    /// X positions of dashed vertical markers, with a legend label.
    pub markers: Vec<(f64, &'a str)>,
    /// Draw points instead of lines.
    pub scatter: bool,
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the bundled font is a valid TTF"));
    });
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
    if lo > hi {
        (0.0, 1.0)
    } else if hi - lo < 1e-9 {
        (lo - 0.5, hi + 0.5)
    } else {
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    }
}

fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    chart: &Chart,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing {}: {e:?}", chart.title);
    let (x0, x1) = range(
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0)),
    );
    let (y0, y1) = range(
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1)),
    );
    let mut ctx = ChartBuilder::on(area)
        .caption(&chart.title, ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    ctx.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(err)?;
    for s in &chart.series {
        let style = s.color.stroke_width(2);
        if chart.scatter {
            ctx.draw_series(
                s.points
                    .iter()
                    .map(|&p| Circle::new(p, 2, s.color.mix(0.4).filled())),
            )
            .map_err(err)?
            .label(s.label)
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, style.filled()));
        } else {
            ctx.draw_series(LineSeries::new(s.points.iter().copied(), style))
                .map_err(err)?
                .label(s.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
    }
    for &(x, label) in &chart.markers {
        let style = BLACK.mix(0.6).stroke_width(1);
        ctx.draw_series(DashedLineSeries::new(vec![(x, y0), (x, y1)], 6, 4, style))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    ctx.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Draws `charts` in a grid of `cols` columns into one PNG at `path`.
pub fn save(path: &Path, charts: &[Chart], cols: usize) -> Result<()> {
    register_font();
    let cols = cols.clamp(1, charts.len().max(1));
    let rows = charts.len().div_ceil(cols).max(1);
    let (w, h) = (CELL.0 * cols as u32, CELL.1 * rows as u32);
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| anyhow!("drawing {}: {e:?}", path.display()))?;
        let areas = root.split_evenly((rows, cols));
        for (area, chart) in areas.iter().zip(charts) {
            draw(area, chart)?;
        }
        root.present()
            .map_err(|e| anyhow!("drawing {}: {e:?}", path.display()))?;
    }
    let image =
        image::RgbImage::from_raw(w, h, pixels).ok_or_else(|| anyhow!("image buffer size"))?;
    let mut png = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    atomic::write(path, png)
}
