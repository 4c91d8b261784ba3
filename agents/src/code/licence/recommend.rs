//! The licence to recommend and why, by the rules in the [parent
//! module](super): copyleft dependencies first, then the existing licence,
//! then the merchant's goal, then the ecosystem's convention. Deterministic:
//! the same repository and goal always give the same recommendation and
//! the same sentences.

use serde::{Deserialize, Serialize};

use super::choice::{by_ecosystem, by_goal};
use super::spdx::{Family, family, name};
use super::{FoundLicence, LicenceSource, ProjectMeta};

/// What the merchant wants others to be allowed to do with the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LicenceGoal {
    /// Anyone may reuse it, even in closed products (MIT, Apache-2.0).
    Permissive,
    /// Modified versions must stay open under the same licence (GPL).
    Copyleft,
    /// Changes to these files stay open; combining is free (MPL).
    WeakCopyleft,
    /// No rights reserved (CC0, Unlicense).
    PublicDomain,
    /// All rights reserved.
    Proprietary,
}

impl LicenceGoal {
    /// `PERMISSIVE`, `COPYLEFT`, `WEAK_COPYLEFT`, `PUBLIC_DOMAIN` or
    /// `PROPRIETARY` (any case, `-` or space for `_`).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_uppercase().replace(['-', ' '], "_").as_str() {
            "PERMISSIVE" => Some(Self::Permissive),
            "COPYLEFT" => Some(Self::Copyleft),
            "WEAK_COPYLEFT" => Some(Self::WeakCopyleft),
            "PUBLIC_DOMAIN" => Some(Self::PublicDomain),
            "PROPRIETARY" => Some(Self::Proprietary),
            _ => None,
        }
    }

    /// Its wire name (`WEAK_COPYLEFT`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permissive => "PERMISSIVE",
            Self::Copyleft => "COPYLEFT",
            Self::WeakCopyleft => "WEAK_COPYLEFT",
            Self::PublicDomain => "PUBLIC_DOMAIN",
            Self::Proprietary => "PROPRIETARY",
        }
    }

    fn family(self) -> Family {
        match self {
            Self::Permissive => Family::Permissive,
            Self::Copyleft => Family::StrongCopyleft,
            Self::WeakCopyleft => Family::WeakCopyleft,
            Self::PublicDomain => Family::PublicDomain,
            Self::Proprietary => Family::Proprietary,
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            Self::Permissive => "a permissive licence",
            Self::Copyleft => "a copyleft licence",
            Self::WeakCopyleft => "a weak-copyleft licence",
            Self::PublicDomain => "a public-domain dedication",
            Self::Proprietary => "a proprietary licence",
        }
    }
}

/// The licence recommended, with what exists and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenceRecommendation {
    /// Its SPDX expression (`MIT OR Apache-2.0`, `LicenseRef-Proprietary`).
    pub spdx: String,
    /// Its full name.
    pub name: String,
    /// The licences already declared.
    pub existing: Vec<FoundLicence>,
    /// Why, in sentences a merchant understands.
    pub reasoning: Vec<String>,
    /// Dependencies whose licence stands in the way (`readline (GPL-3.0-only)`).
    pub conflicts: Vec<String>,
}

fn is_agpl(spdx: &str) -> bool {
    spdx.to_ascii_uppercase().contains("AGPL")
}

fn is_gpl2_only(spdx: &str) -> bool {
    matches!(spdx, "GPL-2.0" | "GPL-2.0-only")
}

/// The licence to recommend for a repository with the licences `found`,
/// dependencies under `deps_licences` (name, SPDX), manifest `meta` and the
/// merchant's `goal`.
pub fn recommend(
    found: &[FoundLicence],
    deps_licences: &[(String, String)],
    meta: &ProjectMeta,
    goal: Option<LicenceGoal>,
) -> LicenceRecommendation {
    let mut reasoning = Vec::new();
    let mut conflicts = Vec::new();
    let current = primary(found);
    if current.is_none() {
        match found.iter().find(|f| f.source == LicenceSource::File) {
            Some(file) => reasoning.push(format!(
                "{} is not a licence this analysis recognises: have it checked before relying on this recommendation.",
                file.path
            )),
            None => reasoning.push(
                "No licence was found: without one nobody may legally reuse the code, even though it is public."
                    .to_owned(),
            ),
        }
    }
    let copyleft: Vec<&(String, String)> =
        deps_licences.iter().filter(|(_, spdx)| family(spdx) == Some(Family::StrongCopyleft)).collect();
    let spdx = if !copyleft.is_empty() {
        let agpl = copyleft.iter().find(|(_, spdx)| is_agpl(spdx));
        let keep =
            current.filter(|(_, cur)| family(cur) == Some(Family::StrongCopyleft) && (agpl.is_none() || is_agpl(cur)));
        let spdx = match (keep, agpl) {
            (Some((_, cur)), _) => cur.to_owned(),
            (None, Some(_)) => "AGPL-3.0-or-later".to_owned(),
            (None, None) => "GPL-3.0-or-later".to_owned(),
        };
        let named: Vec<String> = copyleft.iter().map(|(name, licence)| format!("{name} ({licence})")).collect();
        reasoning.push(format!(
            "It depends on strong-copyleft code ({}): software distributed with it must be released under a \
             compatible copyleft licence, so {spdx} is needed.",
            named.join(", ")
        ));
        if let Some((name, _)) = agpl {
            reasoning.push(format!(
                "{name} is under the AGPL, which also covers use over a network, so the project must be AGPL too."
            ));
        }
        if let Some(goal) = goal.filter(|goal| goal.family() != Family::StrongCopyleft) {
            reasoning.push(format!(
                "You asked for {}, which these dependencies do not allow: replace them to keep that goal.",
                goal.phrase()
            ));
            conflicts.extend(named);
        }
        for (name, licence) in copyleft.iter().filter(|(_, licence)| is_gpl2_only(licence)) {
            if !spdx.starts_with("GPL-2.0") {
                conflicts.push(format!("{name} ({licence}) cannot be combined with {spdx}"));
            }
        }
        if let Some((licence, cur)) = current.filter(|(_, cur)| *cur != spdx) {
            reasoning.push(relicensing(licence, cur, &spdx));
        }
        spdx
    } else if let Some((licence, cur)) = current {
        let agrees = match (goal, family(cur)) {
            (None, _) => true,
            (Some(goal), Some(family)) => goal.family() == family,
            (Some(_), None) => false,
        };
        if agrees {
            reasoning.push(format!(
                "The repository already declares {cur} ({}): keeping it means no contributor has to agree to a change.",
                licence.path
            ));
            if !found.iter().any(|f| f.source == LicenceSource::File && f.spdx.is_some()) {
                reasoning.push(
                    "Add a LICENSE file with its full text: a manifest field alone does not ship the terms.".to_owned(),
                );
            }
            cur.to_owned()
        } else {
            let goal = goal.unwrap_or(LicenceGoal::Permissive);
            let (spdx, why) = by_goal(goal, meta);
            reasoning.push(format!("You asked for {}, but {cur} ({}) is not one.", goal.phrase(), licence.path));
            reasoning.push(relicensing(licence, cur, &spdx));
            reasoning.push(why);
            spdx
        }
    } else {
        let (spdx, why) = match goal {
            Some(goal) => by_goal(goal, meta),
            None => by_ecosystem(meta),
        };
        reasoning.push(why);
        spdx
    };
    LicenceRecommendation { name: name(&spdx), spdx, existing: found.to_vec(), reasoning, conflicts }
}

/// The licence in force: the manifest's, else a recognised file's, else an
/// SPDX line's.
fn primary(found: &[FoundLicence]) -> Option<(&FoundLicence, &str)> {
    [LicenceSource::Manifest, LicenceSource::File, LicenceSource::SpdxLine]
        .iter()
        .find_map(|source| found.iter().filter(|f| f.source == *source).find_map(|f| Some((f, f.spdx.as_deref()?))))
}

fn relicensing(licence: &FoundLicence, current: &str, new: &str) -> String {
    format!(
        "Changing from {current} ({}) to {new} needs the agreement of every copyright holder (each contributor, \
         unless they assigned their copyright); releases already published stay under {current}.",
        licence.path
    )
}
