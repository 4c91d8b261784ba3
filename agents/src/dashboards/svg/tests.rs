//! The drawings checked by reading the SVG text back.

use super::*;
use crate::dashboards::chart::Encoding;
use crate::dashboards::fonts;
use serde_json::json;

const SIZE: Size = Size { width: 480, height: 320 };

fn chart(kind: ChartType, title: &str, rows: Vec<Vec<Value>>) -> ChartData {
    ChartData::new(title, kind, vec!["k".into(), "v".into()], rows, &Encoding::default()).unwrap()
}

fn rows(values: &[f64]) -> Vec<Vec<Value>> {
    values.iter().enumerate().map(|(i, v)| vec![json!(format!("c{i}")), json!(v)]).collect()
}

/// The elements named `tag` filled with `fill`, as their attribute text.
fn elements<'a>(svg: &'a str, tag: &str, fill: &str) -> Vec<&'a str> {
    let fill = format!(" fill=\"{fill}\"");
    svg.split(&format!("<{tag} "))
        .skip(1)
        .map(|s| &s[..s.find('>').unwrap_or(s.len())])
        .filter(|s| s.contains(&fill))
        .collect()
}

fn attr(element: &str, name: &str) -> f64 {
    let element = format!(" {element}");
    let key = format!(" {name}=\"");
    let rest = &element[element.find(&key).unwrap() + key.len()..];
    rest[..rest.find('"').unwrap()].parse().unwrap()
}

fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

fn parses(svg: &str) -> bool {
    resvg::usvg::Tree::from_str(svg, &fonts::svg_options()).is_ok()
}

#[test]
fn bar_heights_are_proportional_to_values() {
    let svg = chart_svg(&chart(ChartType::Bar, "Sales", rows(&[1.0, 2.0, 4.0])), SIZE).unwrap();
    let heights: Vec<f64> = elements(&svg, "rect", &hex(PALETTE[0])).iter().map(|r| attr(r, "height")).collect();
    assert_eq!(heights.len(), 3, "{svg}");
    assert!((heights[1] / heights[0] - 2.0).abs() < 0.05, "{heights:?}");
    assert!((heights[2] / heights[0] - 4.0).abs() < 0.1, "{heights:?}");
    assert!(parses(&svg));
}

#[test]
fn negative_bars_hang_from_zero() {
    let svg = chart_svg(&chart(ChartType::Bar, "Margin", rows(&[-2.0, 2.0])), SIZE).unwrap();
    let bars = elements(&svg, "rect", &hex(PALETTE[0]));
    assert_eq!(bars.len(), 2);
    // Same height, and the negative bar starts where the positive one ends.
    assert!((attr(bars[0], "height") - attr(bars[1], "height")).abs() <= 1.0);
    assert!((attr(bars[0], "y") - (attr(bars[1], "y") + attr(bars[1], "height"))).abs() <= 1.0);
}

#[test]
fn pie_slices_are_sized_by_share() {
    let svg = chart_svg(&chart(ChartType::Pie, "Mix", rows(&[1.0, 1.0, 2.0])), SIZE).unwrap();
    let areas: Vec<f64> = (0..3)
        .map(|i| {
            let polygons = elements(&svg, "polygon", &hex(PALETTE[i]));
            assert_eq!(polygons.len(), 1, "{svg}");
            polygon_area(polygons[0])
        })
        .collect();
    let total: f64 = areas.iter().sum();
    for (area, want) in areas.iter().zip([0.25, 0.25, 0.5]) {
        assert!((area / total - want).abs() < 0.01, "{areas:?}");
    }
    assert!(svg.contains("50%"));
}

fn polygon_area(element: &str) -> f64 {
    let start = element.find("points=\"").unwrap() + 8;
    let rest = &element[start..];
    let points: Vec<(f64, f64)> = rest[..rest.find('"').unwrap()]
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    let n = points.len();
    (0..n).map(|i| points[i].0 * points[(i + 1) % n].1 - points[(i + 1) % n].0 * points[i].1).sum::<f64>().abs() / 2.0
}

#[test]
fn hostile_titles_are_escaped() {
    let title = "</svg><script>alert(1)</script>&\u{0}\u{202E}";
    for kind in ChartType::ALL {
        let svg = chart_svg(&chart(kind, title, rows(&[1.0, 2.0])), SIZE).unwrap();
        assert!(svg.contains("&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;"), "{svg}");
        assert!(!svg.contains("<script") && !svg.contains('\u{0}') && !svg.contains('\u{202E}'));
        assert!(parses(&svg), "{kind:?}: {svg}");
    }
}

#[test]
fn an_empty_chart_says_so() {
    for kind in ChartType::ALL {
        let svg = chart_svg(&chart(kind, "Nothing", Vec::new()), SIZE).unwrap();
        assert!(svg.contains("No data"), "{kind:?}");
        assert!(parses(&svg));
    }
}

#[test]
fn odd_values_do_not_panic() {
    let odd = vec![
        vec![json!("a"), json!("NaN")],
        vec![json!("b"), json!(null)],
        vec![json!("c"), json!("inf")],
        vec![json!("d"), json!(1e308)],
        vec![json!("e"), json!(-1e308)],
    ];
    let same = vec![vec![json!("a"), json!(5)], vec![json!("b"), json!(5)]];
    let single = vec![vec![json!(3), json!(-7)]];
    let encoding = Encoding { x: Some("k".into()), y: vec!["v".into()] };
    for data in [odd, same, single] {
        for kind in ChartType::ALL {
            let c = ChartData::new("t", kind, vec!["k".into(), "v".into()], data.clone(), &encoding).unwrap();
            let svg = chart_svg(&c, SIZE).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert!(parses(&svg));
            // Too small to plot: a message or an error, never a panic.
            if let Ok(svg) = chart_svg(&c, Size { width: 40, height: 30 }) {
                assert!(parses(&svg));
            }
        }
    }
}

#[test]
fn tables_say_how_much_is_left_out() {
    let c = chart(ChartType::Table, "Rows", rows(&(0..100).map(f64::from).collect::<Vec<_>>()));
    let svg = chart_svg(&c, Size { width: 300, height: 200 }).unwrap();
    assert!(svg.contains("c0") && svg.contains("more rows"), "{svg}");
    assert!(!svg.contains(">\nc99\n<"));
}

#[test]
fn text_is_cleaned_and_bounded() {
    assert_eq!(clean(" a\u{1b}b\nc ", 10), "ab c");
    assert_eq!(clean("abcdefgh", 4), "abc…");
    assert_eq!(clean("abcd", 4), "abcd");
    assert_eq!(escape("<a href='x'>&"), "&lt;a href=&apos;x&apos;&gt;&amp;");
    assert_eq!(short_number(12_500.0), "12.5k");
    assert_eq!(short_number(-3.0), "-3");
    assert_eq!(short_number(0.25), "0.25");
}
