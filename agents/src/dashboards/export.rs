//! A rendered dashboard (or chart) SVG as a file to download: PNG through
//! resvg, PDF through krilla. Both read the same usvg tree with the bundled
//! font, so the two look alike.

use krilla::Document;
use krilla::geom::Size as PageSize;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla_svg::{SurfaceExt, SvgSettings};
use resvg::tiny_skia::{Color, Pixmap, Transform};
use resvg::usvg::Tree;

use super::fonts;
use super::svg::{RenderError, clean};

/// PNGs are drawn at twice the SVG's size, for high-density screens.
const PNG_SCALE: f32 = 2.0;
/// The most pixels a PNG may have; larger pages are scaled down to fit.
const MAX_PIXELS: f32 = 40_000_000.0;
/// CSS pixels to PDF points (96 px = 72 pt = one inch).
const POINTS_PER_PX: f32 = 0.75;
/// The longest page side most PDF readers accept (200 inches), in points;
/// larger pages are scaled down to fit.
const MAX_PAGE_POINTS: f32 = 14_400.0;

/// A file format a dashboard exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// A raster image.
    Png,
    /// A one-page document with selectable text.
    Pdf,
}

impl ExportFormat {
    /// The stable upper-case name ("PNG", "PDF").
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Png => "PNG",
            Self::Pdf => "PDF",
        }
    }

    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Pdf => "pdf",
        }
    }

    /// The media type to send the file with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Pdf => "application/pdf",
        }
    }
}

/// `svg` as a PNG or PDF file; `title` becomes the PDF's document title.
pub fn export(svg: &str, title: &str, format: ExportFormat) -> Result<Vec<u8>, RenderError> {
    let tree = Tree::from_str(svg, &fonts::svg_options()).map_err(|e| RenderError::Svg(e.to_string()))?;
    match format {
        ExportFormat::Png => png(&tree),
        ExportFormat::Pdf => pdf(&tree, title),
    }
}

fn png(tree: &Tree) -> Result<Vec<u8>, RenderError> {
    let (width, height, scale) = png_size(tree.size().width(), tree.size().height());
    let mut pixmap = Pixmap::new(width, height).ok_or(RenderError::TooLarge)?;
    pixmap.fill(Color::WHITE);
    resvg::render(tree, Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| RenderError::Encode(e.to_string()))
}

/// The PNG's pixel size and scale for an SVG of `w` × `h`: twice the size,
/// or less when that would pass [`MAX_PIXELS`].
fn png_size(w: f32, h: f32) -> (u32, u32, f32) {
    let pixels = w * h * PNG_SCALE * PNG_SCALE;
    let scale = if pixels > MAX_PIXELS { PNG_SCALE * (MAX_PIXELS / pixels).sqrt() } else { PNG_SCALE };
    ((w * scale).floor().max(1.0) as u32, (h * scale).floor().max(1.0) as u32, scale)
}

fn pdf(tree: &Tree, title: &str) -> Result<Vec<u8>, RenderError> {
    let (w, h) = (tree.size().width() * POINTS_PER_PX, tree.size().height() * POINTS_PER_PX);
    let fit = (MAX_PAGE_POINTS / w.max(h)).min(1.0);
    let size = PageSize::from_wh(w * fit, h * fit).ok_or(RenderError::TooLarge)?;
    let mut document = Document::new();
    document.set_metadata(Metadata::new().title(clean(title, 200)));
    let mut page = document.start_page_with(PageSettings::new(size));
    let mut surface = page.surface();
    // draw_svg scales the tree to the page size.
    let drawn = surface.draw_svg(tree, size, SvgSettings::default());
    surface.finish();
    page.finish();
    drawn.ok_or_else(|| RenderError::Encode("the drawing could not be placed on the page".into()))?;
    document.finish().map_err(|e| RenderError::Encode(e.to_string()))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails loudly on what it did not expect")]
mod tests {
    use super::*;
    use crate::dashboards::chart::{ChartData, ChartType, Encoding};
    use crate::dashboards::svg::{Size, chart_svg};
    use serde_json::json;

    fn sample_svg() -> String {
        let rows = vec![vec![json!("Jan"), json!(3)], vec![json!("Feb"), json!(5)]];
        let chart =
            ChartData::new("Sales", ChartType::Bar, vec!["month".into(), "sales".into()], rows, &Encoding::default())
                .unwrap();
        chart_svg(&chart, Size { width: 400, height: 300 }).unwrap()
    }

    #[test]
    fn png_is_twice_the_size_and_not_blank() {
        let bytes = export(&sample_svg(), "Sales", ExportFormat::Png).unwrap();
        let image = Pixmap::decode_png(&bytes).unwrap();
        assert_eq!((image.width(), image.height()), (800, 600));
        let mut pixels = image.data().chunks_exact(4);
        let first = pixels.next().unwrap();
        assert!(pixels.any(|p| p != first), "a uniform image");
    }

    #[test]
    fn huge_pages_are_scaled_down_not_refused() {
        assert_eq!(png_size(400.0, 300.0), (800, 600, 2.0));
        let (w, h, scale) = png_size(1200.0, 80_000.0);
        assert!(u64::from(w) * u64::from(h) <= MAX_PIXELS as u64, "{w}x{h}");
        assert!(u64::from(w) * u64::from(h) > (MAX_PIXELS * 0.99) as u64, "{w}x{h}");
        assert!(scale < 1.0 && (w as f32 / h as f32 - 1200.0 / 80_000.0).abs() < 1e-3);
    }

    #[test]
    fn pdf_has_one_page_the_size_of_the_svg() {
        let bytes = export(&sample_svg(), "Sales <Q1>", ExportFormat::Pdf).unwrap();
        let pdf = lopdf::Document::load_mem(&bytes).unwrap();
        let pages = pdf.get_pages();
        assert_eq!(pages.len(), 1);
        let page = pdf.get_dictionary(*pages.values().next().unwrap()).unwrap();
        let media_box: Vec<f32> =
            page.get(b"MediaBox").unwrap().as_array().unwrap().iter().map(|v| v.as_float().unwrap()).collect();
        assert_eq!(media_box, vec![0.0, 0.0, 300.0, 225.0]);
    }

    #[test]
    fn text_that_is_not_svg_is_an_error() {
        assert!(matches!(export("<html>", "t", ExportFormat::Png), Err(RenderError::Svg(_))));
        assert!(matches!(export("not xml", "t", ExportFormat::Pdf), Err(RenderError::Svg(_))));
    }
}
