//! Charts drawn as SVG by plotters, for exports and previews that need no
//! browser. Text stays `<text>` in DejaVu Sans (the one font we embed), so
//! it rasterises the same everywhere.
//!
//! Every title, label and cell is untrusted: plotters escapes XML's special
//! characters, and [`clean`] removes what escaping cannot make valid
//! (control characters) or honest (bidirectional overrides), and bounds the
//! length.

use std::f64::consts::{FRAC_PI_2, TAU};
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::chart::{ChartData, ChartType, number, text};
use super::fonts::FAMILY;
use super::layout::LayoutError;

/// A chart's size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Size {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Why a chart or a dashboard could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Plotting failed (a backend error, or a panic inside plotters).
    #[error("the chart could not be drawn: {0}")]
    Draw(String),
    /// The page or an image would be too large to produce.
    #[error("the dashboard is too large to render")]
    TooLarge,
    /// A chart's place on the grid is not valid.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The SVG could not be read.
    #[error("the drawing could not be read: {0}")]
    Svg(String),
    /// The PNG or PDF could not be written.
    #[error("the file could not be written: {0}")]
    Encode(String),
}

/// The largest side of one chart, in pixels.
pub(crate) const MAX_SIDE: u32 = 20_000;
/// Slices a pie draws; the smallest beyond are merged into "Other".
const MAX_SLICES: usize = 12;

/// Vega's default category colours, so the SVG matches what clients draw
/// from the Vega-Lite spec.
pub(crate) static PALETTE: [RGBColor; 10] = [
    RGBColor(0x4C, 0x78, 0xA8),
    RGBColor(0xF5, 0x85, 0x18),
    RGBColor(0xE4, 0x57, 0x56),
    RGBColor(0x72, 0xB7, 0xB2),
    RGBColor(0x54, 0xA2, 0x4B),
    RGBColor(0xEE, 0xCA, 0x3B),
    RGBColor(0xB2, 0x79, 0xA2),
    RGBColor(0xFF, 0x9D, 0xA6),
    RGBColor(0x9D, 0x75, 0x5D),
    RGBColor(0xBA, 0xB0, 0xAC),
];
const INK: RGBColor = RGBColor(33, 37, 41);
const MUTED: RGBColor = RGBColor(108, 117, 125);
const RULE: RGBColor = RGBColor(222, 226, 230);
const STRIPE: RGBColor = RGBColor(246, 247, 249);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Draws `chart` as a standalone SVG document of `size`.
pub fn chart_svg(chart: &ChartData, size: Size) -> Result<String, RenderError> {
    if size.width == 0 || size.height == 0 {
        return Err(RenderError::Draw("the chart has no room to draw in".into()));
    }
    if size.width > MAX_SIDE || size.height > MAX_SIDE {
        return Err(RenderError::TooLarge);
    }
    let mut svg = String::new();
    // plotters panics on some degenerate layouts; one bad chart must not
    // take the caller down with it.
    match panic::catch_unwind(AssertUnwindSafe(|| draw(chart, size, &mut svg))) {
        Ok(Ok(())) => Ok(svg),
        Ok(Err(e)) => Err(RenderError::Draw(e.to_string())),
        Err(_) => Err(RenderError::Draw("its values could not be laid out".into())),
    }
}

fn draw(chart: &ChartData, size: Size, svg: &mut String) -> Drawn {
    let root = SVGBackend::with_string(svg, (size.width, size.height)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = clean(&chart.title, fit(size.width, 16.0));
    let area = if title.is_empty() { root.clone() } else { root.titled(&title, bold(20.0))? };
    if chart.rows.is_empty() {
        message(&area, "No data")?;
    } else {
        match chart.chart_type {
            ChartType::Table => table(chart, &area)?,
            ChartType::Pie => pie(chart, &area)?,
            ChartType::Line | ChartType::Bar | ChartType::Scatter => xy(chart, &area)?,
        }
    }
    root.present()
}

/// Line, bar and scatter charts. Categories (and every x of a line or bar
/// chart) sit at 0, 1, 2… and are labelled by name; a scatter over numbers
/// uses their values.
fn xy(chart: &ChartData, area: &Area) -> Drawn {
    let n = chart.rows.len();
    let labels: Vec<String> = chart.labels().iter().map(|l| clean(l, 16)).collect();
    let numeric_x = chart.chart_type == ChartType::Scatter
        && chart.x.as_deref().is_some_and(|x| {
            let mut cells = chart.cells(x).filter(|c| !c.is_null()).peekable();
            cells.peek().is_some() && cells.all(|c| number(c).is_some())
        });
    let xs: Vec<Option<f64>> = match (&chart.x, numeric_x) {
        (Some(x), true) => chart.values(x),
        _ => (0..n).map(|i| Some(i as f64)).collect(),
    };
    let series: Vec<(&String, Vec<Option<f64>>)> = chart.y.iter().map(|y| (y, chart.values(y))).collect();
    let bar = chart.chart_type == ChartType::Bar;
    if !series.iter().any(|(_, v)| v.iter().any(Option::is_some)) {
        return message(area, "No data");
    }
    let y_range = span(series.iter().flat_map(|(_, v)| v.iter().flatten().copied()), bar);
    let x_range = if numeric_x { span(xs.iter().flatten().copied(), false) } else { Some(-0.5..n as f64 - 0.5) };
    let (Some(x_range), Some(y_range)) = (x_range, y_range) else {
        return message(area, "Values are too large to plot");
    };

    let (w, h) = area.dim_in_pixel();
    let (x_area, y_area) = ((h / 6).clamp(16, 44), (w / 8).clamp(24, 64));
    if w < y_area + 40 || h < x_area + 40 {
        return message(area, "Not enough room to plot");
    }
    let x_fmt = |v: &f64| if numeric_x { short_number(*v) } else { category(&labels, *v) };
    let y_fmt = |v: &f64| short_number(*v);
    let mut ctx = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x_range, y_range)?;
    {
        let mut mesh = ctx.configure_mesh();
        mesh.x_labels(if numeric_x { 6 } else { n.clamp(1, (w / 70).max(2) as usize) })
            .y_labels((h / 50).max(2) as usize)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(font(12.0))
            .axis_desc_style(font(13.0))
            .x_desc(chart.x.as_deref().map(|x| clean(x, 40)).unwrap_or_default())
            .y_desc(if series.len() == 1 { clean(series[0].0, 40) } else { String::new() })
            .bold_line_style(RULE)
            .light_line_style(TRANSPARENT);
        if !numeric_x {
            mesh.disable_x_mesh();
        }
        mesh.draw()?;
    }

    let groups = series.len() as f64;
    for (k, (name, values)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let label = clean(name, 24);
        match chart.chart_type {
            ChartType::Bar => {
                let width = 0.8 / groups;
                let bars = values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).map(|(i, v)| {
                    let left = i as f64 - 0.4 + k as f64 * width;
                    Rectangle::new([(left + width * 0.05, v), (left + width * 0.95, 0.0)], color.filled())
                });
                ctx.draw_series(bars)?
                    .label(label)
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
            }
            ChartType::Line => {
                let lines = segments(&xs, values).into_iter().map(|s| PathElement::new(s, color.stroke_width(2)));
                ctx.draw_series(lines)?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2)));
                ctx.draw_series(points(&xs, values).map(|p| Circle::new(p, 3, color.filled())))?;
            }
            _ => {
                ctx.draw_series(points(&xs, values).map(|p| Circle::new(p, 4, color.mix(0.75).filled())))?
                    .label(label)
                    .legend(move |(x, y)| Circle::new((x + 5, y), 4, color.filled()));
            }
        }
    }
    if series.len() > 1 {
        ctx.configure_series_labels()
            .label_font(font(12.0))
            .background_style(WHITE.mix(0.85))
            .border_style(RULE)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    Ok(())
}

/// A pie of the first measure's positive values, clockwise from the top,
/// with a legend on the right when there is room.
fn pie(chart: &ChartData, area: &Area) -> Drawn {
    let Some(y) = chart.y.first() else { return message(area, "No data") };
    let mut slices: Vec<(String, f64)> = chart
        .labels()
        .into_iter()
        .zip(chart.values(y))
        .filter_map(|(label, v)| v.filter(|v| *v > 0.0).map(|v| (label, v)))
        .collect();
    if slices.is_empty() {
        return message(area, "No data");
    }
    if slices.len() > MAX_SLICES {
        slices.sort_by(|a, b| b.1.total_cmp(&a.1));
        let rest: f64 = slices[MAX_SLICES - 1..].iter().map(|s| s.1).sum();
        slices.truncate(MAX_SLICES - 1);
        slices.push(("Other".into(), rest));
    }
    if !slices.iter().map(|s| s.1).sum::<f64>().is_finite() {
        return message(area, "Values are too large to plot");
    }
    let fractions = pie_fractions(slices.iter().map(|s| s.1));
    let (w, h) = area.dim_in_pixel();
    let legend_w = if w >= 240 { (w * 2 / 5).min(240) } else { 0 };
    let pie_w = w - legend_w;
    let radius = (f64::from(pie_w.min(h)) / 2.0 - 8.0).max(4.0);
    let center = (f64::from(pie_w) / 2.0, f64::from(h) / 2.0);
    let on_slice = font(12.0).color(&WHITE).pos(Pos::new(HPos::Center, VPos::Center));
    let mut start = -FRAC_PI_2;
    for (i, f) in fractions.iter().enumerate() {
        let sweep = f * TAU;
        area.draw(&Polygon::new(sector(center, radius, start, sweep), PALETTE[i % PALETTE.len()].filled()))?;
        if *f >= 0.06 {
            let mid = start + sweep / 2.0;
            let at = (center.0 + 0.62 * radius * mid.cos(), center.1 + 0.62 * radius * mid.sin());
            area.draw_text(&percent(*f), &on_slice, (at.0.round() as i32, at.1.round() as i32))?;
        }
        start += sweep;
    }
    if legend_w > 0 {
        let style = font(12.0).pos(Pos::new(HPos::Left, VPos::Center));
        let chars = fit(legend_w.saturating_sub(24), 12.0).saturating_sub(6);
        let x = pie_w as i32 + 4;
        for (i, ((label, _), f)) in slices.iter().zip(&fractions).enumerate().take((h / 18) as usize) {
            let y = i as i32 * 18 + 9;
            area.draw(&Rectangle::new([(x, y - 5), (x + 10, y + 5)], PALETTE[i % PALETTE.len()].filled()))?;
            area.draw_text(&format!("{} {}", clean(label, chars), percent(*f)), &style, (x + 16, y))?;
        }
    }
    Ok(())
}

/// The rows as a grid of text: as many rows and columns as fit, then a
/// line saying how many more there are.
fn table(chart: &ChartData, area: &Area) -> Drawn {
    const LINE: i32 = 20;
    const PAD: i32 = 6;
    let (w, h) = area.dim_in_pixel();
    if chart.columns.is_empty() {
        return message(area, "No data");
    }
    let shown = chart.columns.len().min((w / 72).max(1) as usize);
    let col_w = (w / shown as u32) as i32;
    let chars = fit(col_w.saturating_sub(2 * PAD).max(0) as u32, 12.0);
    let capacity = (h as i32 / LINE - 1).max(0) as usize;
    let rows = if chart.rows.len() <= capacity { chart.rows.len() } else { capacity.saturating_sub(1) };
    let mid = |line: usize| line as i32 * LINE + LINE / 2;
    let header = bold(13.0).pos(Pos::new(HPos::Left, VPos::Center));
    let left = font(12.0).pos(Pos::new(HPos::Left, VPos::Center));
    let right = font(12.0).pos(Pos::new(HPos::Right, VPos::Center));
    for (c, name) in chart.columns.iter().take(shown).enumerate() {
        put(area, &clean(name, chars), &header, (c as i32 * col_w + PAD, mid(0)))?;
    }
    area.draw(&PathElement::new(vec![(0, LINE), (w as i32, LINE)], INK.stroke_width(1)))?;
    for (r, row) in chart.rows.iter().take(rows).enumerate() {
        let top = (r as i32 + 1) * LINE;
        if r % 2 == 1 {
            area.draw(&Rectangle::new([(0, top), (w as i32, top + LINE)], STRIPE.filled()))?;
        }
        for c in 0..shown {
            let cell = row.get(c).unwrap_or(&Value::Null);
            let shown_text = clean(&text(cell), chars);
            let x0 = c as i32 * col_w;
            // Numbers right-aligned, so their digits line up.
            if number(cell).is_some() {
                put(area, &shown_text, &right, (x0 + col_w - PAD, top + LINE / 2))?;
            } else {
                put(area, &shown_text, &left, (x0 + PAD, top + LINE / 2))?;
            }
        }
    }
    let mut more = Vec::new();
    if chart.rows.len() > rows {
        more.push(format!("{} more rows", chart.rows.len() - rows));
    }
    if chart.columns.len() > shown {
        more.push(format!("{} more columns", chart.columns.len() - shown));
    }
    if !more.is_empty() {
        let style = font(12.0).color(&MUTED).pos(Pos::new(HPos::Left, VPos::Center));
        put(area, &format!("… {}", more.join(", ")), &style, (PAD, mid(rows + 1)))?;
    }
    Ok(())
}

fn message(area: &Area, text: &str) -> Drawn {
    let (w, h) = area.dim_in_pixel();
    let style = font(16.0).color(&MUTED).pos(Pos::new(HPos::Center, VPos::Center));
    area.draw_text(text, &style, (w as i32 / 2, h as i32 / 2))
}

/// Draws text unless it is empty (an empty `<text>` is just noise).
fn put(area: &Area, text: &str, style: &TextStyle, at: (i32, i32)) -> Drawn {
    if text.is_empty() { Ok(()) } else { area.draw_text(text, style, at) }
}

fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).color(&INK)
}

fn bold(size: f64) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size, FontStyle::Bold).into_font()).color(&INK)
}

/// The value range to plot, padded by 5%; from zero for bars; never empty
/// (a single value gets room around it); `None` without finite bounds.
fn span(values: impl Iterator<Item = f64>, from_zero: bool) -> Option<Range<f64>> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    if from_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    let width = hi - lo;
    let pad = if width > 0.0 { width * 0.05 } else { lo.abs().max(1.0) * 0.1 };
    let lo = if from_zero && lo == 0.0 { 0.0 } else { lo - pad };
    let hi = if from_zero && hi == 0.0 && lo < 0.0 { 0.0 } else { hi + pad };
    (lo.is_finite() && hi.is_finite() && hi > lo).then_some(lo..hi)
}

/// Each slice's share of the whole.
pub(crate) fn pie_fractions(values: impl Iterator<Item = f64> + Clone) -> Vec<f64> {
    let total: f64 = values.clone().sum();
    values.map(|v| v / total).collect()
}

/// A pie slice as a polygon: the centre, then the arc in steps of at most 2°.
fn sector(center: (f64, f64), radius: f64, start: f64, sweep: f64) -> Vec<(i32, i32)> {
    let steps = (sweep.to_degrees() / 2.0).ceil().max(1.0) as usize;
    let mut points = vec![(center.0.round() as i32, center.1.round() as i32)];
    for s in 0..=steps {
        let a = start + sweep * s as f64 / steps as f64;
        points.push(((center.0 + radius * a.cos()).round() as i32, (center.1 + radius * a.sin()).round() as i32));
    }
    points
}

/// Runs of consecutive points; a missing value breaks the line.
fn segments(xs: &[Option<f64>], ys: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
    let (mut out, mut current) = (Vec::new(), Vec::new());
    for (x, y) in xs.iter().zip(ys) {
        if let (Some(x), Some(y)) = (x, y) {
            current.push((*x, *y));
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn points<'a>(xs: &'a [Option<f64>], ys: &'a [Option<f64>]) -> impl Iterator<Item = (f64, f64)> + 'a {
    xs.iter().zip(ys).filter_map(|(x, y)| Some(((*x)?, (*y)?)))
}

/// The category at an integral axis position; nothing between them.
fn category(labels: &[String], v: f64) -> String {
    let i = v.round();
    if (v - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    labels.get(i as usize).cloned().unwrap_or_default()
}

/// An axis number in a few characters: 950, 12.5k, 3.2M.
fn short_number(v: f64) -> String {
    let a = v.abs();
    let (unit, suffix) = match a {
        a if a >= 1e12 => (1e12, "T"),
        a if a >= 1e9 => (1e9, "B"),
        a if a >= 1e6 => (1e6, "M"),
        a if a >= 1e4 => (1e3, "k"),
        _ => (1.0, ""),
    };
    let x = v / unit;
    if x.abs() < 1e-9 {
        return "0".into();
    }
    let digits = if x.abs() >= 100.0 {
        0
    } else if x.abs() >= 1.0 {
        2
    } else {
        4
    };
    let s = format!("{x:.digits$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    format!("{s}{suffix}")
}

fn percent(f: f64) -> String {
    format!("{:.0}%", f * 100.0)
}

/// How many characters of `font_px` text fit in `width_px` (an estimate:
/// DejaVu Sans averages a little over half an em per character).
pub(crate) fn fit(width_px: u32, font_px: f64) -> usize {
    (f64::from(width_px) / (font_px * 0.62)).floor().max(1.0) as usize
}

/// Untrusted text made safe to draw: whitespace controls become spaces,
/// other control, bidirectional-override and non-XML characters are
/// dropped, and anything over `max_chars` is cut with an ellipsis.
pub(crate) fn clean(text: &str, max_chars: usize) -> String {
    let chars: Vec<char> = text
        .trim()
        .chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' => Some(' '),
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FFFE}' | '\u{FFFF}' => None,
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    if chars.len() <= max_chars {
        return chars.into_iter().collect();
    }
    let mut out: String = chars.into_iter().take(max_chars.saturating_sub(1)).collect();
    if max_chars > 0 {
        out.push('…');
    }
    out
}

/// Text escaped for SVG we write by hand (plotters escapes its own).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails loudly on what it did not expect")]
mod tests;
