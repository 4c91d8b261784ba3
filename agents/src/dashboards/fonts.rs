//! The one font charts are drawn in, DejaVu Sans, bundled with the binary
//! (its licence beside it in `assets/fonts/LICENSE`). System fonts are never
//! loaded: an export must look the same on every machine.

use std::sync::{Arc, OnceLock};

use resvg::usvg::{self, ImageHrefResolver, fontdb};

/// The family name every chart's text asks for.
pub(crate) const FAMILY: &str = "DejaVu Sans";

static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// A font database holding only DejaVu Sans, which also answers for every
/// generic family (serif, monospace…), so no text falls back to nothing.
pub(crate) fn fontdb() -> Arc<fontdb::Database> {
    static DATABASE: OnceLock<Arc<fontdb::Database>> = OnceLock::new();
    DATABASE
        .get_or_init(|| {
            let mut db = fontdb::Database::new();
            db.load_font_data(DEJAVU_SANS.to_vec());
            db.set_sans_serif_family(FAMILY);
            db.set_serif_family(FAMILY);
            db.set_monospace_family(FAMILY);
            db.set_cursive_family(FAMILY);
            db.set_fantasy_family(FAMILY);
            Arc::new(db)
        })
        .clone()
}

/// Options for reading our SVGs: the bundled font, and no images fetched
/// from paths (an SVG must not read files from the server's disk).
pub(crate) fn svg_options() -> usvg::Options<'static> {
    usvg::Options {
        font_family: FAMILY.to_owned(),
        fontdb: fontdb(),
        image_href_resolver: ImageHrefResolver {
            resolve_data: ImageHrefResolver::default_data_resolver(),
            resolve_string: Box::new(|_: &str, _: &usvg::Options| -> Option<usvg::ImageKind> { None }),
        },
        ..usvg::Options::default()
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails loudly on what it did not expect")]
mod tests {
    use super::*;

    #[test]
    fn only_the_bundled_face_is_loaded() {
        let db = fontdb();
        assert_eq!(db.len(), 1);
        let face = db.faces().next().unwrap();
        assert!(face.families.iter().any(|(name, _)| name == FAMILY));
        let sans = db.query(&fontdb::Query { families: &[fontdb::Family::SansSerif], ..Default::default() });
        assert_eq!(sans, Some(face.id));
    }

    #[test]
    fn file_images_are_not_read() {
        // A file the default resolver would happily embed.
        let path = std::env::temp_dir().join(format!("alatar-image-{}.svg", std::process::id()));
        std::fs::write(
            &path,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>"#,
        )
        .unwrap();
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="{}" width="10" height="10"/></svg>"#,
            path.display()
        );
        let with_default = usvg::Tree::from_str(&svg, &usvg::Options::default()).unwrap();
        let ours = usvg::Tree::from_str(&svg, &svg_options()).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(with_default.root().has_children(), "the probe image was not readable at all");
        assert!(!ours.root().has_children());
    }
}
