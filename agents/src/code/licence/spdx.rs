//! What an SPDX expression means here: how much each licence asks of
//! those who reuse the code (its [`Family`]), and its full name. Only the
//! identifiers common in package registries are known; anything else has
//! no family and is never called a conflict.

/// How much a licence asks of those who reuse the code, least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Family {
    PublicDomain,
    Permissive,
    WeakCopyleft,
    StrongCopyleft,
    Proprietary,
}

/// The family of an SPDX expression, approximately: of `OR` choices the
/// least demanding (the licensee picks), of `AND` terms the most demanding.
pub(super) fn family(expression: &str) -> Option<Family> {
    expression
        .split(" OR ")
        .filter_map(|choice| {
            let terms = choice.split(" AND ").map(|term| {
                let id = term.split(" WITH ").next().unwrap_or(term);
                single(id.trim_matches(|c: char| c == '(' || c == ')' || c.is_whitespace()))
            });
            terms.collect::<Option<Vec<_>>>()?.into_iter().max()
        })
        .min()
}

const PERMISSIVE: &[&str] = &[
    "MIT",
    "MIT-0",
    "APACHE-2.0",
    "APACHE-1.1",
    "ISC",
    "0BSD",
    "ZLIB",
    "BSL-1.0",
    "PYTHON-2.0",
    "PSF-2.0",
    "X11",
    "POSTGRESQL",
    "NCSA",
    "BLUEOAK-1.0.0",
    "UNICODE-DFS-2016",
    "UNICODE-3.0",
    "CC-BY-4.0",
    "ARTISTIC-2.0",
];

fn single(id: &str) -> Option<Family> {
    let upper = id.trim_end_matches('+').to_ascii_uppercase();
    if upper.starts_with("GPL") || upper.starts_with("AGPL") {
        Some(Family::StrongCopyleft)
    } else if ["LGPL", "MPL", "EPL", "CDDL"].iter().any(|prefix| upper.starts_with(prefix)) {
        Some(Family::WeakCopyleft)
    } else if matches!(upper.as_str(), "CC0-1.0" | "UNLICENSE" | "WTFPL") {
        Some(Family::PublicDomain)
    } else if upper == "UNLICENSED" || upper == "PROPRIETARY" || upper.starts_with("LICENSEREF-PROPRIETARY") {
        Some(Family::Proprietary)
    } else if PERMISSIVE.contains(&upper.as_str()) || upper.starts_with("BSD-") {
        Some(Family::Permissive)
    } else {
        None
    }
}

/// The full name of an SPDX expression (`MIT OR Apache-2.0` → `MIT License
/// or Apache License 2.0`).
pub(super) fn name(expression: &str) -> String {
    expression.split(" OR ").map(single_name).collect::<Vec<_>>().join(" or ")
}

fn single_name(id: &str) -> String {
    let known = match id.trim_matches(['(', ')']) {
        "MIT" => "MIT License",
        "Apache-2.0" => "Apache License 2.0",
        "GPL-3.0-or-later" | "GPL-3.0+" => "GNU General Public License v3.0 or later",
        "GPL-3.0" | "GPL-3.0-only" => "GNU General Public License v3.0",
        "GPL-2.0-or-later" | "GPL-2.0+" => "GNU General Public License v2.0 or later",
        "GPL-2.0" | "GPL-2.0-only" => "GNU General Public License v2.0",
        "AGPL-3.0-or-later" => "GNU Affero General Public License v3.0 or later",
        "AGPL-3.0" | "AGPL-3.0-only" => "GNU Affero General Public License v3.0",
        "LGPL-3.0" | "LGPL-3.0-only" | "LGPL-3.0-or-later" => "GNU Lesser General Public License v3.0",
        "LGPL-2.1" | "LGPL-2.1-only" | "LGPL-2.1-or-later" => "GNU Lesser General Public License v2.1",
        "MPL-2.0" => "Mozilla Public License 2.0",
        "BSD-3-Clause" => "BSD 3-Clause License",
        "BSD-2-Clause" => "BSD 2-Clause License",
        "ISC" => "ISC License",
        "0BSD" => "BSD Zero Clause License",
        "Unlicense" => "The Unlicense",
        "CC0-1.0" => "Creative Commons Zero v1.0 Universal",
        "BSL-1.0" => "Boost Software License 1.0",
        "LicenseRef-Proprietary" => "Proprietary (all rights reserved)",
        other => return other.to_owned(),
    };
    known.to_owned()
}
