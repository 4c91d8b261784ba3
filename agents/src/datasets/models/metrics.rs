//! How good a model is, on one fold's test rows, and the means over folds.
//!
//! - Regression: RMSE (root of the mean squared error), MAE (mean absolute
//!   error) and R² (1 − residual sum of squares / total sum of squares
//!   about the truth's mean; when the truth is constant, 1 for a perfect
//!   fit and 0 otherwise, as scikit-learn does).
//! - Classification: accuracy, and precision, recall and F1 macro-averaged
//!   over the classes present in the truth or the predictions (each class
//!   counts the same, however rare; a class never predicted has precision
//!   0, one never true has recall 0; F1 is the mean of the classes' F1s,
//!   not the F1 of the means), as scikit-learn's `average="macro"` with
//!   `zero_division=0`.

use alatar_entity::ml_model::ProblemType;
use serde::{Deserialize, Serialize};

/// A model's scores; regression fills `rmse`, `mae` and `r2`,
/// classification the others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scores {
    /// Share of rows classified right.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Macro precision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<f64>,
    /// Macro recall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall: Option<f64>,
    /// Macro F1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f1: Option<f64>,
    /// Root mean squared error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rmse: Option<f64>,
    /// Mean absolute error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
    /// Coefficient of determination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r2: Option<f64>,
}

impl Scores {
    /// What model selection maximises: macro F1 for classification, minus
    /// RMSE for regression; `None` when it is missing or not finite.
    pub fn objective(&self, problem: ProblemType) -> Option<f64> {
        let value = match problem {
            ProblemType::Classification => self.f1?,
            ProblemType::Regression => -self.rmse?,
        };
        value.is_finite().then_some(value)
    }

    /// Each field's mean over `folds` (of the folds that have it).
    pub fn mean(folds: &[Scores]) -> Scores {
        let mean = |field: fn(&Scores) -> Option<f64>| -> Option<f64> {
            let values: Vec<f64> = folds.iter().filter_map(field).collect();
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        Scores {
            accuracy: mean(|s| s.accuracy),
            precision: mean(|s| s.precision),
            recall: mean(|s| s.recall),
            f1: mean(|s| s.f1),
            rmse: mean(|s| s.rmse),
            mae: mean(|s| s.mae),
            r2: mean(|s| s.r2),
        }
    }
}

/// Regression scores of `predicted` against `truth` (same length, not empty).
pub fn regression(truth: &[f64], predicted: &[f64]) -> Scores {
    let n = truth.len().min(predicted.len());
    if n == 0 {
        return Scores::default();
    }
    let pairs = || truth.iter().zip(predicted).take(n);
    let squared: f64 = pairs().map(|(t, p)| (t - p) * (t - p)).sum();
    let absolute: f64 = pairs().map(|(t, p)| (t - p).abs()).sum();
    let mean = truth.iter().take(n).sum::<f64>() / n as f64;
    let total: f64 = truth.iter().take(n).map(|t| (t - mean) * (t - mean)).sum();
    let r2 = if total > 0.0 {
        1.0 - squared / total
    } else if squared == 0.0 {
        1.0
    } else {
        0.0
    };
    Scores {
        rmse: Some((squared / n as f64).sqrt()),
        mae: Some(absolute / n as f64),
        r2: Some(r2),
        ..Scores::default()
    }
}

/// Classification scores of `predicted` against `truth` (class indices,
/// same length, not empty).
pub fn classification(truth: &[u32], predicted: &[u32]) -> Scores {
    let n = truth.len().min(predicted.len());
    if n == 0 {
        return Scores::default();
    }
    let classes = truth.iter().chain(predicted).map(|c| *c as usize + 1).max().unwrap_or(0);
    // Per class: true positives, predicted, actual.
    let mut hits = vec![0usize; classes];
    let mut said = vec![0usize; classes];
    let mut were = vec![0usize; classes];
    let mut right = 0usize;
    for (t, p) in truth.iter().zip(predicted).take(n) {
        said[*p as usize] += 1;
        were[*t as usize] += 1;
        if t == p {
            hits[*t as usize] += 1;
            right += 1;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let present: Vec<usize> = (0..classes).filter(|c| said[*c] > 0 || were[*c] > 0).collect();
    let per_class: Vec<(f64, f64, f64)> = present
        .iter()
        .map(|c| {
            let precision = ratio(hits[*c], said[*c]);
            let recall = ratio(hits[*c], were[*c]);
            let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
            (precision, recall, f1)
        })
        .collect();
    let average = |pick: fn(&(f64, f64, f64)) -> f64| per_class.iter().map(pick).sum::<f64>() / per_class.len() as f64;
    Scores {
        accuracy: Some(right as f64 / n as f64),
        precision: Some(average(|c| c.0)),
        recall: Some(average(|c| c.1)),
        f1: Some(average(|c| c.2)),
        ..Scores::default()
    }
}
