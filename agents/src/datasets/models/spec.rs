//! What a training is asked to do, checked against the dataset: the target
//! column exists and is not a feature; a regression's target is a number;
//! a classification's has at most [`MAX_CLASSES`] distinct values (by the
//! dataset's profile; the job counts them again in the rows it reads);
//! every feature exists (the unknown ones named, with the columns there
//! are). Stored as the job's `input`.

use std::collections::HashSet;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use alatar_entity::ml_model::ProblemType;

use super::MAX_CLASSES;
use crate::datasets::column::ColumnSpec;
use crate::datasets::profile::Profile;

/// Longest model name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Column names an error lists at most.
const LISTED: usize = 30;

/// A training's target, problem and features, as checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainSpec {
    /// The column predicted.
    pub target_column: String,
    /// Classification or regression.
    #[serde(with = "problem_text")]
    pub problem_type: ProblemType,
    /// The columns it predicts from, in table order, none twice.
    pub features: Vec<String>,
    /// What the merchant calls the model.
    #[serde(default)]
    pub name: Option<String>,
}

/// Why a training cannot be asked for: the argument at fault and a
/// sentence saying what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SpecError {
    /// `targetColumn`, `problemType`, `features` or `name`.
    pub field: &'static str,
    /// What is wrong, naming the columns concerned.
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> SpecError {
    SpecError { field, message: message.into() }
}

/// `names` quoted and joined, at most [`LISTED`] of them.
fn listed<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    let mut shown: Vec<String> = names.iter().take(LISTED).map(|n| format!("\"{n}\"")).collect();
    if names.len() > LISTED {
        shown.push(format!("and {} more", names.len() - LISTED));
    }
    shown.join(", ")
}

impl TrainSpec {
    /// Checks a training of `target` as `problem` from `features` (every
    /// other column when `None`) against a dataset's `columns` and
    /// `profile`; `name` is trimmed (empty: none).
    pub fn check(
        columns: &[ColumnSpec],
        profile: Option<&Profile>,
        target: &str,
        problem: ProblemType,
        features: Option<&[String]>,
        name: Option<&str>,
    ) -> Result<TrainSpec, SpecError> {
        let all = || listed(columns.iter().map(|c| c.name.as_str()));
        let Some(target_column) = columns.iter().find(|c| c.name == target) else {
            return Err(refuse(
                "targetColumn",
                format!("\"{target}\" is not a column of the dataset; its columns are {}", all()),
            ));
        };
        match problem {
            ProblemType::Regression if !target_column.kind.is_numeric() => {
                return Err(refuse(
                    "targetColumn",
                    format!(
                        "\"{target}\" is {}: a REGRESSION target must be INTEGER or FLOAT (a CLASSIFICATION predicts classes)",
                        target_column.kind
                    ),
                ));
            }
            ProblemType::Classification => {
                let distinct =
                    profile.and_then(|p| p.columns.iter().find(|c| c.name == target)).map(|c| c.unique_count);
                match distinct {
                    Some(n) if n > MAX_CLASSES as u64 => {
                        return Err(refuse(
                            "targetColumn",
                            format!(
                                "\"{target}\" has {n} distinct values: a CLASSIFICATION target may have at most {MAX_CLASSES}"
                            ),
                        ));
                    }
                    Some(n) if n < 2 => {
                        return Err(refuse(
                            "targetColumn",
                            format!("\"{target}\" has fewer than two distinct values: there is nothing to classify"),
                        ));
                    }
                    _ => {}
                }
            }
            ProblemType::Regression => {}
        }
        let features = match features {
            None => {
                let rest: Vec<String> = columns.iter().filter(|c| c.name != target).map(|c| c.name.clone()).collect();
                if rest.is_empty() {
                    return Err(refuse("features", "the dataset has no column besides the target to predict from"));
                }
                rest
            }
            Some(asked) => Self::check_features(columns, target, asked)?,
        };
        let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
            None => None,
            Some(n) if n.chars().count() > MAX_NAME_CHARS => {
                return Err(refuse("name", format!("must be at most {MAX_NAME_CHARS} characters")));
            }
            Some(n) if n.chars().any(char::is_control) => {
                return Err(refuse("name", "must not contain control characters"));
            }
            Some(n) => Some(n.to_owned()),
        };
        Ok(TrainSpec { target_column: target.to_owned(), problem_type: problem, features, name })
    }

    /// The features asked for, in table order: each a column, none the
    /// target, none twice.
    fn check_features(columns: &[ColumnSpec], target: &str, asked: &[String]) -> Result<Vec<String>, SpecError> {
        if asked.is_empty() {
            return Err(refuse("features", "must name at least one column (or be left out: every other column)"));
        }
        let mut seen: HashSet<&str> = HashSet::new();
        for name in asked {
            if !seen.insert(name.as_str()) {
                return Err(refuse("features", format!("must not name \"{name}\" twice")));
            }
        }
        let unknown: Vec<&str> =
            asked.iter().map(String::as_str).filter(|n| !columns.iter().any(|c| c.name == *n)).collect();
        if !unknown.is_empty() {
            return Err(refuse(
                "features",
                format!(
                    "{} {} not a column of the dataset; its columns are {}",
                    listed(unknown.iter().copied()),
                    if unknown.len() == 1 { "is" } else { "are" },
                    listed(columns.iter().map(|c| c.name.as_str()))
                ),
            ));
        }
        if seen.contains(target) {
            return Err(refuse("features", format!("must not include the target column \"{target}\"")));
        }
        Ok(columns.iter().filter(|c| seen.contains(c.name.as_str())).map(|c| c.name.clone()).collect())
    }

    /// Checks this spec again against the dataset as it now is (a reload
    /// may have changed its columns).
    pub fn recheck(&self, columns: &[ColumnSpec], profile: Option<&Profile>) -> Result<TrainSpec, SpecError> {
        Self::check(
            columns,
            profile,
            &self.target_column,
            self.problem_type,
            Some(&self.features),
            self.name.as_deref(),
        )
    }
}

/// [`ProblemType`] as its text form.
mod problem_text {
    use super::*;

    pub fn serialize<S: Serializer>(problem: &ProblemType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(problem.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ProblemType, D::Error> {
        let text = String::deserialize(d)?;
        ProblemType::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("unknown problem type {text}")))
    }
}
