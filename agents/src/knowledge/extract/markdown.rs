//! Markdown to plain text through a real CommonMark parser: the text a
//! reader sees, blocks apart by a blank line, list items on their own lines,
//! table cells by tabs, code as written; markup, link targets and raw HTML
//! tags are gone. Chunk offsets point into this text, not into the source.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// The readable text of `source`.
pub(super) fn to_text(source: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS | Options::ENABLE_FOOTNOTES;
    let mut out = String::with_capacity(source.len());
    for event in Parser::new_ext(source, options) {
        match event {
            Event::Text(text) | Event::Code(text) | Event::InlineMath(text) | Event::DisplayMath(text) => {
                out.push_str(&text);
            }
            Event::Html(html) | Event::InlineHtml(html) => out.push_str(&super::html::to_text(&html)),
            Event::SoftBreak | Event::HardBreak => out.push('\n'),
            Event::FootnoteReference(name) => {
                out.push('[');
                out.push_str(&name);
                out.push(']');
            }
            Event::TaskListMarker(done) => out.push_str(if done { "[x] " } else { "[ ] " }),
            Event::Rule => blank_line(&mut out),
            Event::Start(Tag::Item) => {
                line_break(&mut out);
                out.push_str("- ");
            }
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::CodeBlock
                | TagEnd::BlockQuote(_)
                | TagEnd::List(_)
                | TagEnd::Table
                | TagEnd::HtmlBlock
                | TagEnd::FootnoteDefinition,
            ) => blank_line(&mut out),
            Event::End(TagEnd::Item | TagEnd::TableHead | TagEnd::TableRow) => line_break(&mut out),
            Event::End(TagEnd::TableCell) => out.push('\t'),
            _ => {}
        }
    }
    super::normalize(&out)
}

/// Ends the current line, unless at the start of one.
fn line_break(out: &mut String) {
    trim_spaces(out);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

/// Ends the current block with one blank line.
fn blank_line(out: &mut String) {
    trim_spaces(out);
    if out.is_empty() {
        return;
    }
    while !out.ends_with("\n\n") {
        out.push('\n');
    }
}

fn trim_spaces(out: &mut String) {
    let kept = out.trim_end_matches([' ', '\t']).len();
    out.truncate(kept);
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn markup_goes_text_stays() {
        let source = "# Returns\n\nItems can be returned **within 30 days** of [delivery](https://x.example).\n\n\
                      - unworn\n- with tags\n\n| Item | Days |\n|---|---|\n| Shoes | 30 |\n\n```\ncode = 1\n```\n";
        let text = to_text(source);
        assert_eq!(
            text,
            "Returns\n\nItems can be returned within 30 days of delivery.\n\n- unworn\n- with tags\n\n\
             Item\tDays\nShoes\t30\n\ncode = 1"
        );
    }
}
