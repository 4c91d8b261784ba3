//! Dashboards on a grid: where each chart sits, and the whole page composed
//! as one SVG (for PNG and PDF exports).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::chart::ChartData;
use super::fonts::FAMILY;
use super::svg::{RenderError, Size, chart_svg, clean, escape, fit};

/// Charts one dashboard renders; more is refused, not drawn slowly.
pub const MAX_CHARTS: usize = 50;
/// The tallest chart, in grid rows.
pub const MAX_ROWS_TALL: u32 = 24;
/// The lowest row a chart may start on.
pub const MAX_ROW: u32 = 1000;
/// Space between neighbouring charts, in pixels (half on each side).
const GUTTER: u32 = 16;
/// The band at the top of a page holding the dashboard's title.
pub const TITLE_HEIGHT: u32 = 56;

/// The page grid charts are placed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grid {
    /// Columns across the page.
    pub columns: u32,
    /// Height of one grid row, in pixels.
    pub row_height: u32,
    /// Page width, in pixels.
    pub width: u32,
}

impl Default for Grid {
    fn default() -> Self {
        Self { columns: 12, row_height: 80, width: 1200 }
    }
}

/// Where a chart sits, in grid cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// First column (from 0).
    pub x: u32,
    /// First row (from 0).
    pub y: u32,
    /// Width in columns.
    pub w: u32,
    /// Height in rows.
    pub h: u32,
}

/// Why a placement does not fit the grid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// Zero width or height.
    #[error("a chart must be at least one column wide and one row tall")]
    Empty,
    /// Past the right edge.
    #[error("a chart must fit within the grid's {columns} columns")]
    TooWide {
        /// The grid's columns.
        columns: u32,
    },
    /// Taller than [`MAX_ROWS_TALL`].
    #[error("a chart can be at most {} rows tall", MAX_ROWS_TALL)]
    TooTall,
    /// Starts below [`MAX_ROW`].
    #[error("a chart must start within the first {} rows", MAX_ROW)]
    TooLow,
}

impl Grid {
    /// Checks that `p` fits the grid.
    pub fn validate(&self, p: &Placement) -> Result<(), LayoutError> {
        if p.w == 0 || p.h == 0 {
            Err(LayoutError::Empty)
        } else if p.x.checked_add(p.w).is_none_or(|right| right > self.columns) {
            Err(LayoutError::TooWide { columns: self.columns })
        } else if p.h > MAX_ROWS_TALL {
            Err(LayoutError::TooTall)
        } else if p.y > MAX_ROW {
            Err(LayoutError::TooLow)
        } else {
            Ok(())
        }
    }

    fn column_width(&self) -> u32 {
        self.width / self.columns.max(1)
    }

    /// The pixel size of a chart at `p`: its cells less the gutter.
    pub fn size_of(&self, p: &Placement) -> Size {
        Size {
            width: p.w.saturating_mul(self.column_width()).saturating_sub(GUTTER).max(1),
            height: p.h.saturating_mul(self.row_height).saturating_sub(GUTTER).max(1),
        }
    }

    /// The pixel position of a chart's top-left corner on the page.
    pub fn origin_of(&self, p: &Placement) -> (u32, u32) {
        (
            p.x.saturating_mul(self.column_width()).saturating_add(GUTTER / 2),
            p.y.saturating_mul(self.row_height).saturating_add(TITLE_HEIGHT + GUTTER / 2),
        )
    }

    /// The page height holding charts down to row `bottom` (exclusive).
    pub fn page_height(&self, bottom: u32) -> u32 {
        bottom.saturating_mul(self.row_height).saturating_add(TITLE_HEIGHT)
    }
}

/// The dashboard as one SVG page: white, its title at the top, each chart
/// nested at its place. A chart that cannot be drawn shows why in its
/// place rather than failing the page.
pub fn compose(title: &str, grid: &Grid, charts: &[(Placement, ChartData)]) -> Result<String, RenderError> {
    if charts.len() > MAX_CHARTS {
        return Err(RenderError::TooLarge);
    }
    for (p, _) in charts {
        grid.validate(p)?;
    }
    let bottom = charts.iter().map(|(p, _)| p.y + p.h).max().unwrap_or(0);
    let (width, height) = (grid.width, grid.page_height(bottom));
    let title = escape(&clean(title, fit(width.saturating_sub(2 * GUTTER), 22.0)));
    let mut page = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        page,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"><rect width="{width}" height="{height}" fill="#FFFFFF"/><text x="{GUTTER}" y="36" font-family="{FAMILY}" font-size="22" font-weight="bold" fill="#212529">{title}</text>"##
    );
    for (p, chart) in charts {
        let size = grid.size_of(p);
        let (x, y) = grid.origin_of(p);
        let body = chart_svg(chart, size).unwrap_or_else(|e| {
            tracing::warn!(error = %e, chart = %chart.title, "dashboard chart not drawn");
            placeholder(size, &e)
        });
        page.push_str(&nest(&body, x, y));
    }
    page.push_str("</svg>");
    Ok(page)
}

/// A chart's own `<svg>` placed at (x, y): a nested `svg` clips to its own
/// size, so a chart cannot draw over its neighbours.
fn nest(svg: &str, x: u32, y: u32) -> String {
    svg.replacen("<svg ", &format!("<svg x=\"{x}\" y=\"{y}\" "), 1)
}

fn placeholder(size: Size, error: &RenderError) -> String {
    let Size { width, height } = size;
    let why = escape(&clean(&error.to_string(), fit(width, 12.0)));
    format!(
        r##"<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg"><rect width="{width}" height="{height}" fill="#F6F7F9"/><text x="{}" y="{}" text-anchor="middle" font-family="{FAMILY}" font-size="12" fill="#6C757D">{why}</text></svg>"##,
        width / 2,
        height / 2
    )
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails loudly on what it did not expect")]
mod tests {
    use super::*;
    use crate::dashboards::chart::{ChartType, Encoding};
    use crate::dashboards::fonts;
    use serde_json::json;

    fn sample(kind: ChartType) -> ChartData {
        let rows = vec![vec![json!("a"), json!(1)], vec![json!("b"), json!(3)]];
        ChartData::new("Chart", kind, vec!["k".into(), "v".into()], rows, &Encoding::default()).unwrap()
    }

    #[test]
    fn placements_must_fit_the_grid() {
        let grid = Grid::default();
        let ok = Placement { x: 6, y: 0, w: 6, h: 4 };
        assert_eq!(grid.validate(&ok), Ok(()));
        assert_eq!(grid.validate(&Placement { w: 0, ..ok }), Err(LayoutError::Empty));
        assert_eq!(grid.validate(&Placement { x: 7, ..ok }), Err(LayoutError::TooWide { columns: 12 }));
        assert_eq!(grid.validate(&Placement { x: u32::MAX, ..ok }), Err(LayoutError::TooWide { columns: 12 }));
        assert_eq!(grid.validate(&Placement { h: 25, ..ok }), Err(LayoutError::TooTall));
        assert_eq!(grid.validate(&Placement { y: 1001, ..ok }), Err(LayoutError::TooLow));
        assert_eq!(grid.size_of(&ok), Size { width: 600 - 16, height: 320 - 16 });
    }

    #[test]
    fn six_charts_make_one_page_as_tall_as_the_lowest() {
        let grid = Grid::default();
        let kinds =
            [ChartType::Line, ChartType::Bar, ChartType::Scatter, ChartType::Pie, ChartType::Table, ChartType::Bar];
        let charts: Vec<(Placement, ChartData)> = kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                let i = i as u32;
                (Placement { x: (i % 3) * 4, y: (i / 3) * 4, w: 4, h: if i == 4 { 6 } else { 4 } }, sample(*kind))
            })
            .collect();
        let svg = compose("Weekly <review> & more", &grid, &charts).unwrap();
        // The table starts on row 4 and is 6 rows tall: the page ends at row 10.
        let tree = resvg::usvg::Tree::from_str(&svg, &fonts::svg_options()).unwrap();
        assert_eq!(tree.size().height(), (TITLE_HEIGHT + 10 * 80) as f32);
        assert_eq!(tree.size().width(), 1200.0);
        assert_eq!(svg.matches("<svg ").count(), 7);
        assert!(svg.contains("Weekly &lt;review&gt; &amp; more"));
        assert!(svg.contains(r#"<svg x="808" y="384" "#), "third chart of the second row");
    }

    #[test]
    fn too_many_or_misplaced_charts_are_refused() {
        let grid = Grid::default();
        let chart = (Placement { x: 0, y: 0, w: 1, h: 1 }, sample(ChartType::Bar));
        assert!(matches!(compose("t", &grid, &vec![chart.clone(); MAX_CHARTS + 1]), Err(RenderError::TooLarge)));
        let bad = (Placement { x: 12, ..chart.0 }, chart.1.clone());
        assert!(matches!(compose("t", &grid, &[bad]), Err(RenderError::Layout(LayoutError::TooWide { .. }))));
        // A chart too small to plot still leaves a valid page.
        let svg = compose("t", &grid, &[chart]).unwrap();
        assert!(resvg::usvg::Tree::from_str(&svg, &fonts::svg_options()).is_ok());
    }
}
