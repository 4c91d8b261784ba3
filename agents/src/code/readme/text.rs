//! Repository text made safe to place in a generated README. Whatever a
//! repository says (its description, README, paths, script commands) is
//! data, never structure: control and bidirectional-override characters
//! are dropped, every field is capped at 500 characters, and in prose the
//! characters that could open a heading, a code fence or an HTML block are
//! escaped, so no repository line can add, hide or reorder a section.

const CAP: usize = 500;

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Without control characters (newlines kept, tabs as spaces), capped.
fn clean(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .filter(|c| *c == '\n' || *c == '\t' || !(c.is_control() || is_bidi(*c)))
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    if cleaned.chars().count() <= CAP {
        return cleaned;
    }
    let mut capped: String = cleaned.chars().take(CAP).collect();
    capped.push('…');
    capped
}

/// One line of prose with Markdown structure escaped: `#` (headings, also
/// inside list items), backticks (fences), `<` (HTML), and lines of only
/// `=`/`-` that would turn the line above into a heading.
fn escape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.trim().chars() {
        match c {
            '#' => out.push_str("\\#"),
            '`' => out.push_str("\\`"),
            '~' => out.push_str("\\~"),
            '<' => out.push_str("&lt;"),
            _ => out.push(c),
        }
    }
    let underline = !out.is_empty() && out.chars().all(|c| matches!(c, '=' | '-' | ' '));
    if underline { format!("\\{out}") } else { out }
}

/// A single line of prose (newlines become spaces).
pub(super) fn line(text: &str) -> String {
    let single = clean(text).split_whitespace().collect::<Vec<_>>().join(" ");
    escape(&single)
}

/// Paragraphs of prose, line breaks kept, runs of blank lines collapsed.
pub(super) fn block(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for raw in clean(text).lines() {
        let escaped = escape(raw);
        if escaped.is_empty() && out.last().is_none_or(String::is_empty) {
            continue;
        }
        out.push(escaped);
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out.join("\n")
}

/// Text for inside backticks or a code block: one line, no backticks (so
/// it cannot close the span or fence it sits in).
pub(super) fn code(text: &str) -> String {
    clean(text).split_whitespace().collect::<Vec<_>>().join(" ").replace('`', "'")
}
