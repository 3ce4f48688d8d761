//! PNG charts (plotters, bitmap backend), drawn with the bundled DejaVu Sans font so that no
//! system font library is needed, encoded in memory and written atomically.

use crate::atomic;
use anyhow::{Result, anyhow};
use plotters::element::DynElement;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::Once;

/// DejaVu Sans (Bitstream Vera licence, see assets/fonts/LICENSE-DejaVu.txt).
static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
/// Size of one chart in pixels.
const CELL: (u32, u32) = (900, 550);

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A line through the points; a point whose y is NaN breaks it (a gap, left undrawn).
    Line,
    /// A dot at each point.
    Dots,
    /// A ring at each point: a dot of another series at the same point shows through.
    Rings,
}

/// A named series of points.
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Points (x, y).
    pub points: Vec<(f64, f64)>,
    /// Colour.
    pub color: RGBColor,
    /// Line or dots.
    pub mark: Mark,
}

/// Vertical lines at `xs`, under one legend label.
pub struct Markers<'a> {
    /// Legend label.
    pub label: &'a str,
    /// X positions.
    pub xs: Vec<f64>,
    /// Colour.
    pub color: RGBColor,
    /// Width in pixels: a wider group drawn first stays visible under a narrower one at the
    /// same x.
    pub width: u32,
    /// Dashed, or solid (a solid line shows under a dashed one at the same x).
    pub dashed: bool,
}

/// One chart: title, axis labels, series, vertical marker lines and notes.
pub struct Chart<'a> {
    /// Title above the chart.
    pub title: String,
    /// X axis label.
    pub x_label: &'a str,
    /// Y axis label.
    pub y_label: &'a str,
    /// Lines and dots.
    pub series: Vec<Series<'a>>,
    /// Vertical lines, each group with a legend label.
    pub markers: Vec<Markers<'a>>,
    /// Text written beside points: (x, y, text).
    pub notes: Vec<(f64, f64, String)>,
}

/// Pixels of margin around a chart.
const MARGIN_PX: u32 = 15;
/// A series of at most this many dots draws them large and nearly opaque (each one matters);
/// more, small and see-through (where they crowd, the density shows).
const FEW_DOTS: usize = 100;
/// Pixels of one chart's plotting area in height (the cell less the title, margins and x
/// labels), give or take a few.
const PLOT_HEIGHT_PX: f64 = 435.0;
/// Pixels a legend takes in height: a margin, and a row per entry.
const LEGEND_MARGIN_PX: f64 = 14.0;
/// See [`LEGEND_MARGIN_PX`].
const LEGEND_ROW_PX: f64 = 22.0;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the bundled font is a valid TTF"));
    });
}

/// The range of the finite `values`, padded by 5 % each way; (0, 1) when there is none, one
/// unit wide about a single value.
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

/// The y range `(lo, hi)` raised at the top so that a legend of `entries` rows in the upper
/// right corner lies above every point: the band the legend takes holds no value of `lo..hi`.
pub fn legend_room((lo, hi): (f64, f64), entries: usize) -> (f64, f64) {
    let legend = LEGEND_MARGIN_PX + LEGEND_ROW_PX * entries as f64;
    let share = (legend / PLOT_HEIGHT_PX).min(0.5);
    (lo, hi + (hi - lo) * share / (1.0 - share))
}

/// A tick label: whole numbers without decimals (`5`, not `5.0`), others with at most six.
pub fn tick_label(value: f64) -> String {
    let rounded = (value * 1e6).round() / 1e6 + 0.0;
    format!("{rounded}")
}

/// `text` cut to at most `max` characters, an ellipsis in place of its middle where it is longer
/// (so that both the start and the end of a long name stay).
pub fn shorten(text: &str, max: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= max {
        return text.to_string();
    }
    let kept = max.saturating_sub(1);
    let head = kept.div_ceil(2);
    let tail = kept - head;
    let start: String = chars[..head].iter().collect();
    let end: String = chars[chars.len() - tail..].iter().collect();
    format!("{start}…{end}")
}

/// The runs of a line's points between gaps (points whose y is not finite); empty runs left
/// out.
pub fn segments(points: &[(f64, f64)]) -> Vec<&[(f64, f64)]> {
    points
        .split(|p| !p.1.is_finite())
        .filter(|run| !run.is_empty())
        .collect()
}

/// The two ends of the line y = x across `points`: from their least to their greatest
/// coordinate, either axis (so that the line spans both axes' ranges).
pub fn identity_line(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let (lo, hi) = points
        .iter()
        .flat_map(|&(x, y)| [x, y])
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
    if lo > hi {
        return Vec::new();
    }
    vec![(lo, lo), (hi, hi)]
}

/// `title` [`shorten`]ed as much as it must be to fit across `area` in the title's font.
fn fitting_title<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
) -> Result<String, DrawingAreaErrorKind<DB::ErrorType>> {
    let font = ("sans-serif", 24).into_text_style(area);
    let room = area.dim_in_pixel().0.saturating_sub(2 * MARGIN_PX);
    let mut chars = title.chars().count();
    loop {
        let text = shorten(title, chars);
        if chars <= 1 || area.estimate_text_size(&text, &font)?.0 <= room {
            return Ok(text);
        }
        chars -= 1;
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
    let points = || chart.series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = range(points().map(|p| p.0));
    let entries = chart.series.len() + chart.markers.len();
    let (y0, y1) = legend_room(range(points().map(|p| p.1)), entries);
    let title = fitting_title(area, &chart.title).map_err(err)?;
    let mut ctx = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 24))
        .margin(MARGIN_PX)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    ctx.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .x_label_formatter(&|v| tick_label(*v))
        .y_label_formatter(&|v| tick_label(*v))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(err)?;
    for s in &chart.series {
        let style = s.color.stroke_width(2);
        let drawn = match s.mark {
            Mark::Dots => {
                let (radius, alpha) = if s.points.len() <= FEW_DOTS {
                    (4, 0.8)
                } else {
                    (2, 0.4)
                };
                let dot = s.color.mix(alpha).filled();
                ctx.draw_series(s.points.iter().map(|&p| Circle::new(p, radius, dot)))
            }
            Mark::Rings => ctx.draw_series(
                (s.points.iter()).map(|&p| Circle::new(p, 6, s.color.stroke_width(2))),
            ),
            Mark::Line => {
                let runs = segments(&s.points);
                // A run of one point is a dot: a line through it would not show.
                let single = runs.iter().filter(|run| run.len() == 1);
                ctx.draw_series(single.map(|run| Circle::new(run[0], 1, style.filled())))
                    .map_err(err)?;
                ctx.draw_series(runs.iter().map(|run| PathElement::new(run.to_vec(), style)))
            }
        };
        let legend = move |(x, y): (i32, i32)| -> DynElement<'static, DB, (i32, i32)> {
            match s.mark {
                Mark::Dots => Circle::new((x + 10, y), 4, style.filled()).into_dyn(),
                Mark::Rings => Circle::new((x + 10, y), 5, style).into_dyn(),
                Mark::Line => PathElement::new(vec![(x, y), (x + 20, y)], style).into_dyn(),
            }
        };
        drawn.map_err(err)?.label(s.label).legend(legend);
    }
    for m in &chart.markers {
        let style = m.color.stroke_width(m.width);
        let lines = m.xs.iter().map(|&x| vec![(x, y0), (x, y1)]);
        let drawn = if m.dashed {
            ctx.draw_series(lines.flat_map(|line| DashedLineSeries::new(line, 6, 4, style)))
        } else {
            ctx.draw_series(lines.map(|line| PathElement::new(line, style)))
        };
        drawn
            .map_err(err)?
            .label(m.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    let middle = (x0 + x1) / 2.0;
    ctx.draw_series(chart.notes.iter().map(|(x, y, text)| {
        // Beside the point, towards the middle, so that the text stays inside the chart.
        let (h, dx) = if *x > middle {
            (HPos::Right, -10)
        } else {
            (HPos::Left, 10)
        };
        let font = ("sans-serif", 14).into_font().color(&BLACK);
        EmptyElement::at((*x, *y))
            + Text::new(text.clone(), (dx, 0), font.pos(Pos::new(h, VPos::Center)))
    }))
    .map_err(err)?;
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
    let png = png(charts, cols).map_err(|e| anyhow!("drawing {}: {e:#}", path.display()))?;
    atomic::write(path, png)
}

/// The bytes of a PNG of `charts` in a grid of `cols` columns, for a caller that writes it
/// with other files ([`atomic::write_all`]).
pub fn png(charts: &[Chart], cols: usize) -> Result<Vec<u8>> {
    register_font();
    let cols = cols.clamp(1, charts.len().max(1));
    let rows = charts.len().div_ceil(cols).max(1);
    let (w, h) = (CELL.0 * cols as u32, CELL.1 * rows as u32);
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
        let areas = root.split_evenly((rows, cols));
        for (area, chart) in areas.iter().zip(charts) {
            draw(area, chart)?;
        }
        root.present().map_err(|e| anyhow!("{e:?}"))?;
    }
    let image =
        image::RgbImage::from_raw(w, h, pixels).ok_or_else(|| anyhow!("image buffer size"))?;
    let mut png = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_breaks_at_nan_and_keeps_single_points() {
        let nan = f64::NAN;
        let points = [
            (0.0, nan),
            (1.0, 1.0),
            (2.0, 2.0),
            (3.0, nan),
            (4.0, nan),
            (5.0, 5.0),
            (6.0, nan),
        ];
        let runs = segments(&points);
        assert_eq!(runs, [&points[1..3], &points[5..6]]);
        assert!(segments(&[(0.0, nan)]).is_empty());
    }

    #[test]
    fn the_identity_line_spans_both_axes() {
        let points = [(80.0, 120.0), (190.0, 150.0), (100.0, 70.0)];
        assert_eq!(identity_line(&points), [(70.0, 70.0), (190.0, 190.0)]);
        assert!(identity_line(&[]).is_empty());
        assert!(identity_line(&[(f64::NAN, f64::NAN)]).is_empty());
    }

    #[test]
    fn whole_ticks_have_no_decimals() {
        assert_eq!(tick_label(5.0), "5");
        assert_eq!(tick_label(140.0), "140");
        assert_eq!(tick_label(0.4), "0.4");
        assert_eq!(tick_label(0.1 + 0.2), "0.3");
        assert_eq!(tick_label(-0.0), "0");
        assert_eq!(tick_label(2.5), "2.5");
    }

    #[test]
    fn the_legend_band_lies_above_the_data() {
        for entries in [1, 2, 4] {
            let (lo, hi) = legend_room((100.0, 200.0), entries);
            assert_eq!(lo, 100.0);
            let legend_px = LEGEND_MARGIN_PX + LEGEND_ROW_PX * entries as f64;
            // The share of the plot's height above the data is the legend's.
            let above = (hi - 200.0) / (hi - lo);
            assert!(
                (above - legend_px / PLOT_HEIGHT_PX).abs() < 1e-12,
                "{entries}"
            );
        }
        assert_eq!(legend_room((0.0, 1.0), 0).0, 0.0);
    }

    #[test]
    fn long_titles_keep_their_start_and_end() {
        assert_eq!(shorten("short", 10), "short");
        let long = "pyfitness/Luciano_indoor_climb_1562m.fit (window 34)";
        let cut = shorten(long, 20);
        assert_eq!(cut.chars().count(), 20);
        assert_eq!(cut, "pyfitness/…indow 34)");
    }
}
