//! Which licence a repository is under, and which one it should be under
//! (Property 44: every analysed repository gets a recommendation built from
//! its own characteristics).
//!
//! **Detection** reads three places, because each is authoritative for a
//! different reader: the licence files at the root (`LICENSE`, `LICENCE`,
//! `COPYING`, `LICENSE-MIT`, `LICENSE-APACHE`, `.md`/`.txt` variants, and
//! REUSE's `LICENSES/<id>.txt`), told apart by the phrases only that licence
//! contains; `SPDX-License-Identifier:` lines in the first 20 lines of any
//! text file (each distinct expression once, with the first file); and the
//! licence the manifest declares. A licence file whose text is not
//! recognised is still reported, with no SPDX identifier.
//!
//! **Recommendation** ([`recommend`]) applies these rules, first match wins:
//!
//! 1. A strong-copyleft dependency (GPL, AGPL) forces a compatible copyleft
//!    licence on software distributed with it: GPL-3.0-or-later, or
//!    AGPL-3.0-or-later when a dependency is AGPL (an existing GPL-family
//!    licence that satisfies this is kept). Those dependencies are named in
//!    `conflicts` when the goal is anything but copyleft.
//! 2. An existing licence is kept when there is no goal or the goal agrees
//!    with it; when the goal contradicts it, the goal's licence is
//!    recommended and the reasoning says that relicensing needs every
//!    copyright holder's agreement.
//! 3. A goal picks: Permissive → Apache-2.0 for libraries (patent grant),
//!    MIT for applications; Copyleft → GPL-3.0-or-later, AGPL-3.0-or-later
//!    for network services; WeakCopyleft → MPL-2.0; PublicDomain →
//!    Unlicense for software with a manifest, CC0-1.0 otherwise;
//!    Proprietary → `LicenseRef-Proprietary` (all rights reserved).
//! 4. Without a goal, the ecosystem's convention: Rust `MIT OR Apache-2.0`,
//!    npm MIT, Python MIT (Apache-2.0 for libraries), Go BSD-3-Clause (Go's
//!    own licence), anything else MIT.
//!
//! Every reasoning sentence names the trait of the repository behind it.

use serde::{Deserialize, Serialize};

use super::files::RepoFile;
use super::manifests::ProjectMeta;

mod choice;
mod recommend;
mod spdx;

pub use recommend::{LicenceGoal, LicenceRecommendation, recommend};

/// Where a licence was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LicenceSource {
    /// A licence file's text.
    File,
    /// An `SPDX-License-Identifier:` line.
    SpdxLine,
    /// The manifest's `license` field.
    Manifest,
}

/// One licence the repository declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FoundLicence {
    /// The file it was found in.
    pub path: String,
    /// Its SPDX expression; `None` for a licence file not recognised.
    pub spdx: Option<String>,
    /// How it was found.
    pub source: LicenceSource,
}

/// Every licence the repository declares: files, SPDX lines, manifest.
pub fn detect(files: &[RepoFile], meta: &ProjectMeta) -> Vec<FoundLicence> {
    let mut found: Vec<FoundLicence> = files
        .iter()
        .filter(|file| is_licence_file(&file.path))
        .map(|file| FoundLicence {
            path: file.path.clone(),
            spdx: file.text.as_deref().and_then(identify).map(str::to_owned).or_else(|| reuse_id(&file.path)),
            source: LicenceSource::File,
        })
        .collect();
    let mut seen: Vec<String> = Vec::new();
    for file in files {
        let Some(text) = file.text.as_deref() else { continue };
        for expression in text.lines().take(20).filter_map(spdx_line) {
            if !seen.contains(&expression) {
                seen.push(expression.clone());
                found.push(FoundLicence {
                    path: file.path.clone(),
                    spdx: Some(expression),
                    source: LicenceSource::SpdxLine,
                });
            }
        }
    }
    if let Some(licence) = meta.licence.as_deref().map(str::trim).filter(|licence| !licence.is_empty()) {
        found.push(FoundLicence {
            path: meta.manifest.clone().unwrap_or_default(),
            spdx: Some(licence.to_owned()),
            source: LicenceSource::Manifest,
        });
    }
    found
}

/// A root licence file (`LICENSE`, `COPYING.md`, `LICENSE-MIT`, …) or a
/// REUSE `LICENSES/<id>.txt`.
fn is_licence_file(path: &str) -> bool {
    if let Some(rest) = path.strip_prefix("LICENSES/") {
        return !rest.contains('/');
    }
    if path.contains('/') {
        return false;
    }
    let upper = path.to_ascii_uppercase();
    ["LICENSE", "LICENCE", "COPYING", "UNLICENSE"].iter().any(|prefix| {
        upper.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '.', '_']))
    })
}

/// `LICENSES/MIT.txt` → `MIT`, the REUSE convention.
fn reuse_id(path: &str) -> Option<String> {
    let name = path.strip_prefix("LICENSES/")?;
    let id = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    (!id.is_empty()).then(|| id.to_owned())
}

/// The expression of an `SPDX-License-Identifier:` line, up to whatever
/// closes the comment (`*/`, `-->`).
fn spdx_line(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("SPDX-License-Identifier:")?;
    let expression = rest
        .split_whitespace()
        .take_while(|word| {
            word.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '+' | '(' | ')' | ':'))
        })
        .collect::<Vec<_>>()
        .join(" ");
    (!expression.is_empty()).then_some(expression)
}

/// The licence a file's text is, by phrases distinctive of each.
fn identify(text: &str) -> Option<&'static str> {
    let normal = text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let head: String = normal.chars().take(400).collect();
    let has = |phrase: &str| normal.contains(phrase);
    let starts = |phrase: &str| head.contains(phrase);
    // The GNU licences mention one another, so only their title counts.
    if starts("gnu affero general public license") {
        return Some("AGPL-3.0");
    }
    if starts("gnu lesser general public license") {
        return Some(if starts("version 2.1") { "LGPL-2.1" } else { "LGPL-3.0" });
    }
    if starts("gnu library general public license") {
        return Some("LGPL-2.0");
    }
    if starts("gnu general public license") {
        return if starts("version 3") {
            Some("GPL-3.0")
        } else if starts("version 2") {
            Some("GPL-2.0")
        } else {
            None
        };
    }
    if has("mozilla public license version 2.0") || (has("mozilla public license") && has("2.0")) {
        return Some("MPL-2.0");
    }
    if has("apache license") && has("version 2.0") {
        return Some("Apache-2.0");
    }
    if has("boost software license") {
        return Some("BSL-1.0");
    }
    if has("permission is hereby granted, free of charge") {
        return Some("MIT");
    }
    if has("redistribution and use in source and binary forms") {
        return Some(if has("all advertising materials") {
            "BSD-4-Clause"
        } else if has("neither the name") || has("may be used to endorse or promote") {
            "BSD-3-Clause"
        } else {
            "BSD-2-Clause"
        });
    }
    if has("permission to use, copy, modify, and/or distribute this software for any purpose")
        || has("permission to use, copy, modify, and distribute this software for any purpose")
    {
        // 0BSD is ISC without the condition to keep the notice.
        return Some(if has("above copyright notice and this permission notice appear in all copies") {
            "ISC"
        } else {
            "0BSD"
        });
    }
    if has("this is free and unencumbered software released into the public domain") {
        return Some("Unlicense");
    }
    if has("cc0 1.0 universal") || (has("creative commons") && has("cc0")) {
        return Some("CC0-1.0");
    }
    None
}

#[cfg(test)]
mod tests;
