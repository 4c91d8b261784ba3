//! Model selection by k-fold cross-validation, on the thread that runs it
//! (blocking: it is all arithmetic). Every family of the problem is fitted
//! on each fold's training rows and scored on its test rows; the family
//! with the best mean score (see [`Scores::objective`]; a tie goes to the
//! simpler, earlier family) is fitted again on every row and kept. A family
//! that fails on any fold (its estimator refused the data, or panicked, or
//! predicted something not finite) is out, with the reason recorded.
//!
//! [`Watch`] is how the job steers it: asked before every fit whether to go
//! on (cancellation and the time limit are the job's, checked between
//! folds and families), told after every fold how far it is.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use alatar_entity::ml_model::ProblemType;

use super::SEED;
use super::families::{self, Family, FitError, Fitted, Labels};
use super::features::Rows;
use super::folds;
use super::metrics::{self, Scores};

/// What a training learns from: the encoded rows and their targets.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSet {
    /// Encoded, standardised features.
    pub x: Rows,
    /// One per row.
    pub target: Target,
}

/// A training's targets.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Regression.
    Numbers(Vec<f64>),
    /// Classification: each row's class index, and how many classes.
    Classes {
        /// Each row's class, 0 to `count` − 1.
        index: Vec<u32>,
        /// Classes.
        count: usize,
    },
}

impl Target {
    /// The problem it is.
    pub fn problem(&self) -> ProblemType {
        match self {
            Target::Numbers(_) => ProblemType::Regression,
            Target::Classes { .. } => ProblemType::Classification,
        }
    }

    fn labels(&self) -> Labels<'_> {
        match self {
            Target::Numbers(y) => Labels::Numbers(y),
            Target::Classes { index, .. } => Labels::Classes(index),
        }
    }

    fn select(&self, rows: &[usize]) -> Target {
        match self {
            Target::Numbers(y) => Target::Numbers(rows.iter().map(|r| y[*r]).collect()),
            Target::Classes { index, count } => {
                Target::Classes { index: rows.iter().map(|r| index[*r]).collect(), count: *count }
            }
        }
    }
}

/// How the job steers a training.
pub trait Watch: Sync {
    /// Whether to go on (asked before every fit).
    fn proceed(&self) -> bool;
    /// `done` of `total` fits are behind.
    fn advanced(&self, done: usize, total: usize);
}

/// How a family fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CandidateStatus {
    /// Scored on every fold.
    Scored,
    /// Failed on a fold; `reason` says why.
    Failed,
    /// Not tried; `reason` says why.
    Skipped,
}

/// One family's cross-validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// The family.
    pub family: Family,
    /// How it fared.
    pub status: CandidateStatus,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Mean scores over the folds, when scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Scores>,
    /// Each fold's selection score (macro F1, or RMSE), in fold order.
    #[serde(default)]
    pub fold_scores: Vec<f64>,
    /// Milliseconds its folds took.
    pub fit_ms: u64,
    /// Whether it won.
    #[serde(default)]
    pub chosen: bool,
}

/// The winner, fitted on every row.
#[derive(Debug)]
pub struct Trained {
    /// The fitted model.
    pub fitted: Fitted,
    /// Its mean fold scores.
    pub metrics: Scores,
    /// Folds.
    pub folds: usize,
    /// Every family, in the order tried.
    pub candidates: Vec<Candidate>,
}

/// Why a training produced no model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrainError {
    /// The watch said to stop.
    #[error("the training was stopped")]
    Stopped,
    /// No family could be scored (or refitted).
    #[error("no model family could be trained: {0}")]
    NoFamily(String),
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// One fold's scores for `fitted` on `test` rows.
fn score(fitted: &Fitted, set: &TrainingSet, test: &[usize]) -> Result<Scores, FitError> {
    let x = set.x.select(test);
    match &set.target {
        Target::Numbers(y) => {
            let truth: Vec<f64> = test.iter().map(|r| y[*r]).collect();
            Ok(metrics::regression(&truth, &fitted.predict_numbers(&x)?))
        }
        Target::Classes { index, count } => {
            let truth: Vec<u32> = test.iter().map(|r| index[*r]).collect();
            Ok(metrics::classification(&truth, &fitted.predict_classes(&x, *count)?))
        }
    }
}

/// Cross-validates each of `families` on `set` and refits the best (see
/// the module documentation).
pub fn train(set: &TrainingSet, families: &[Family], watch: &dyn Watch) -> Result<Trained, TrainError> {
    let problem = set.target.problem();
    let n = set.x.n;
    let k = folds::fold_count(n);
    let assigned = match &set.target {
        Target::Numbers(_) => folds::assign(n, k, SEED),
        Target::Classes { index, .. } => folds::assign_stratified(index, k, SEED),
    };
    let total = families.len() * k + 1;
    let mut done = 0;
    watch.advanced(done, total);
    let mut candidates = Vec::with_capacity(families.len());
    for &family in families {
        let started = Instant::now();
        if let Some(reason) = family.skipped(n) {
            done += k;
            watch.advanced(done, total);
            candidates.push(Candidate {
                family,
                status: CandidateStatus::Skipped,
                reason: Some(reason),
                metrics: None,
                fold_scores: Vec::new(),
                fit_ms: 0,
                chosen: false,
            });
            continue;
        }
        let mut fold_scores = Vec::with_capacity(k);
        let mut scored = Vec::with_capacity(k);
        let mut failure = None;
        for fold in 0..k {
            if !watch.proceed() {
                return Err(TrainError::Stopped);
            }
            let (train_rows, test_rows) = folds::split(&assigned, fold);
            let outcome = families::fit(family, &set.x.select(&train_rows), set.target.select(&train_rows).labels())
                .and_then(|fitted| score(&fitted, set, &test_rows));
            done += 1;
            watch.advanced(done, total);
            match outcome {
                Ok(scores) => {
                    let objective = match problem {
                        ProblemType::Classification => scores.f1,
                        ProblemType::Regression => scores.rmse,
                    };
                    // A score that is not finite (an error that overflowed)
                    // fails the family: stored, it would be JSON null, and
                    // the candidates could no longer be read back.
                    let Some(objective) = objective.filter(|o| o.is_finite()) else {
                        failure = Some(format!("fold {} of {k}: its score was not finite", fold + 1));
                        done += k - fold - 1;
                        watch.advanced(done, total);
                        break;
                    };
                    fold_scores.push(objective);
                    scored.push(scores);
                }
                Err(e) => {
                    failure = Some(format!("fold {} of {k}: {e}", fold + 1));
                    done += k - fold - 1;
                    watch.advanced(done, total);
                    break;
                }
            }
        }
        let metrics = Scores::mean(&scored);
        let failure =
            failure.or_else(|| metrics.objective(problem).is_none().then(|| "its scores were not finite".to_owned()));
        candidates.push(Candidate {
            family,
            status: if failure.is_some() { CandidateStatus::Failed } else { CandidateStatus::Scored },
            metrics: failure.is_none().then_some(metrics),
            reason: failure,
            fold_scores,
            fit_ms: millis(started),
            chosen: false,
        });
    }
    // Best first; a stable sort keeps the earlier of equals first.
    let mut ranked: Vec<usize> =
        (0..candidates.len()).filter(|i| candidates[*i].status == CandidateStatus::Scored).collect();
    let objective = |i: &usize| candidates[*i].metrics.and_then(|m| m.objective(problem)).unwrap_or(f64::NEG_INFINITY);
    ranked.sort_by(|a, b| objective(b).total_cmp(&objective(a)));
    let mut refusals = Vec::new();
    for i in ranked {
        if !watch.proceed() {
            return Err(TrainError::Stopped);
        }
        let family = candidates[i].family;
        match families::fit(family, &set.x, set.target.labels()) {
            Ok(fitted) => {
                watch.advanced(total, total);
                candidates[i].chosen = true;
                let metrics = candidates[i].metrics.unwrap_or_default();
                return Ok(Trained { fitted, metrics, folds: k, candidates });
            }
            Err(e) => {
                refusals.push(format!("{} on every row: {e}", family.as_str()));
                candidates[i].status = CandidateStatus::Failed;
                candidates[i].reason = Some(format!("fitting it on every row failed: {e}"));
            }
        }
    }
    let mut reasons: Vec<String> = candidates
        .iter()
        .filter(|c| c.status == CandidateStatus::Failed && !refusals.iter().any(|r| r.starts_with(c.family.as_str())))
        .map(|c| format!("{}: {}", c.family.as_str(), c.reason.as_deref().unwrap_or("failed")))
        .collect();
    reasons.extend(refusals);
    Err(TrainError::NoFamily(if reasons.is_empty() { "no family applies".to_owned() } else { reasons.join("; ") }))
}
