//! The README drafted from the analysis, before (or instead of) the LLM
//! rewrite: Properties 42–43 ask that every analysed repository gets a
//! non-empty README with description, installation, usage and contribution
//! sections, and a template guarantees that even for an empty repository or
//! when the model is unavailable.
//!
//! The sections are fixed, in order: `## Description`, `## Installation`,
//! `## Usage`, `## API` (libraries with public items only), `## Contributing`,
//! `## Licence`. Commands follow the project's toolchain (see `stack`). All
//! text taken from the repository goes through `text`, so it cannot add,
//! hide or reorder sections.

use super::licence::{LicenceRecommendation, LicenceSource};
use super::manifests::{Dependency, ProjectMeta};

mod stack;
mod text;

use stack::Stack;
use text::{block, code, line};

/// Everything the README is written from.
#[derive(Debug, Clone, Copy)]
pub struct ReadmeInput<'a> {
    /// The repository's name (`acme/storefront` or `storefront`).
    pub name: &'a str,
    /// What its manifest says.
    pub meta: &'a ProjectMeta,
    /// Languages and their bytes, biggest first.
    pub languages: &'a [(String, u64)],
    /// Top-level entries (`src/ (42 files)`).
    pub tree: &'a [String],
    /// Declared dependencies.
    pub dependencies: &'a [Dependency],
    /// The licence recommended.
    pub licence: &'a LicenceRecommendation,
    /// Public items of a library as (qualified name, signature, doc).
    pub api: &'a [(String, String, String)],
    /// The README the repository already has.
    pub existing_readme: Option<&'a str>,
}

/// The most API items listed.
const API_ITEMS: usize = 30;

/// The README in Markdown.
pub fn template(input: &ReadmeInput) -> String {
    let stack = Stack::of(input);
    let title = line(input.name);
    let title = if title.is_empty() { "Project".to_owned() } else { title };
    let mut out = format!("# {title}\n");
    section(&mut out, "Description", &description(input, stack));
    section(&mut out, "Installation", &stack.installation(input));
    section(&mut out, "Usage", &stack.usage(input));
    if input.meta.is_library && !input.api.is_empty() {
        section(&mut out, "API", &api(input.api));
    }
    section(&mut out, "Contributing", &stack.contributing(input));
    section(&mut out, "Licence", &licence(input.licence));
    out
}

/// The H2 titles of `markdown`, in order (fenced code skipped).
pub fn sections(markdown: &str) -> Vec<String> {
    let mut fenced = false;
    let mut titles = Vec::new();
    for raw in markdown.lines() {
        let trimmed = raw.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        } else if !fenced && let Some(title) = trimmed.strip_prefix("## ") {
            titles.push(title.trim().trim_end_matches('#').trim_end().to_owned());
        }
    }
    titles
}

fn section(out: &mut String, title: &str, body: &str) {
    out.push_str(&format!("\n## {title}\n\n{}\n", body.trim()));
}

fn description(input: &ReadmeInput, stack: Stack) -> String {
    let declared = input.meta.description.as_deref().map(block).filter(|text| !text.is_empty());
    let from_readme = || input.existing_readme.and_then(first_paragraph).map(|p| block(&p)).filter(|t| !t.is_empty());
    let mut out = declared.or_else(from_readme).unwrap_or_else(|| summary(input, stack));
    let total: u64 = input.languages.iter().map(|(_, bytes)| bytes).sum();
    if total > 0 {
        let shares: Vec<String> = input
            .languages
            .iter()
            .take(5)
            .map(|(name, bytes)| format!("{} ({}%)", line(name), (*bytes as f64 * 100.0 / total as f64).round()))
            .collect();
        out.push_str(&format!("\n\n**Languages:** {}.", shares.join(", ")));
    }
    if !input.tree.is_empty() {
        let entries: Vec<String> = input.tree.iter().take(20).map(|entry| format!("- `{}`", code(entry))).collect();
        out.push_str(&format!("\n\n**Layout:**\n\n{}", entries.join("\n")));
    }
    out
}

/// A sentence for a repository that does not describe itself.
fn summary(input: &ReadmeInput, stack: Stack) -> String {
    let name = line(input.name);
    if input.languages.is_empty() && input.tree.is_empty() {
        return format!("{name} is an empty repository: no files have been committed yet.");
    }
    match input.languages.first() {
        Some((language, _)) => format!("{name} is {} written mainly in {}.", stack.noun(input), line(language)),
        None => format!("{name} is {}.", stack.noun(input)),
    }
}

/// The first paragraph of prose in a README, past its title and badges.
fn first_paragraph(readme: &str) -> Option<String> {
    let mut fenced = false;
    let mut paragraph: Vec<&str> = Vec::new();
    for raw in readme.lines() {
        let text = raw.trim();
        if text.starts_with("```") || text.starts_with("~~~") {
            fenced = !fenced;
            if paragraph.is_empty() {
                continue;
            }
            break;
        }
        if fenced {
            continue;
        }
        if !text.is_empty() && text.chars().all(|c| matches!(c, '=' | '-')) {
            // A setext underline: the lines above were a heading.
            paragraph.clear();
        } else if !text.is_empty() && !is_decoration(text) {
            paragraph.push(text);
        } else if !paragraph.is_empty() {
            break;
        }
    }
    (!paragraph.is_empty()).then(|| paragraph.join(" "))
}

/// Headings, badges, images and HTML: not prose.
fn is_decoration(text: &str) -> bool {
    text.starts_with('#') || text.starts_with("[![") || text.starts_with("![") || text.starts_with('<')
}

fn api(items: &[(String, String, String)]) -> String {
    let mut lines: Vec<String> = items
        .iter()
        .take(API_ITEMS)
        .map(|(name, signature, doc)| {
            let mut item = format!("- `{}`", code(name));
            if !signature.trim().is_empty() {
                item.push_str(&format!(": `{}`", code(signature)));
            }
            let summary = line(doc.lines().next().unwrap_or(""));
            if !summary.is_empty() {
                item.push_str(&format!(" — {summary}"));
            }
            item
        })
        .collect();
    if items.len() > API_ITEMS {
        lines.push(format!("\n…and {} more public items.", items.len() - API_ITEMS));
    }
    lines.join("\n")
}

fn licence(recommendation: &LicenceRecommendation) -> String {
    let spdx = code(&recommendation.spdx);
    let name = line(&recommendation.name);
    let file = recommendation
        .existing
        .iter()
        .find(|f| f.source == LicenceSource::File && f.spdx.as_deref() == Some(recommendation.spdx.as_str()));
    let mut out = match file {
        Some(file) => format!("This project is licensed under the {name} (`{spdx}`): see `{}`.", code(&file.path)),
        None if recommendation.spdx == "LicenseRef-Proprietary" => {
            "Copyright the authors. All rights reserved: no licence is granted to copy, modify or distribute this code."
                .to_owned()
        }
        None => format!("Recommended licence: {name} (`{spdx}`). Add its full text as `LICENSE` to apply it."),
    };
    for reason in recommendation.reasoning.iter().take(5) {
        out.push_str(&format!("\n- {}", line(reason)));
    }
    if !recommendation.conflicts.is_empty() {
        let conflicts: Vec<String> = recommendation.conflicts.iter().map(|c| format!("`{}`", code(c))).collect();
        out.push_str(&format!("\n\nDependencies to review: {}.", conflicts.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests;
