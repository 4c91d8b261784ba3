//! The model families a training tries, each a `smartcore` estimator with
//! fixed, moderate settings (no grid search: the families are the
//! search), and the fitted models as they are stored (serde JSON, through
//! `smartcore`'s `serde` feature).
//!
//! - Regression: linear regression (least squares, SVD), ridge regression
//!   (α = 1, on centred columns and target, so the penalty never shrinks
//!   the intercept), a decision tree (depth ≤ 12) and a random forest (30
//!   trees, depth ≤ 10, a third of the columns tried at each split).
//! - Classification: logistic regression (L-BFGS, α = 1: without a
//!   penalty separable classes send the weights to infinity), a decision
//!   tree (depth ≤ 12), a random forest (30 trees, depth ≤ 10) and
//!   k-nearest neighbours (k = 5, uniform weights, linear search; skipped
//!   above [`KNN_MAX_ROWS`] rows: it keeps every training row and compares
//!   each prediction with all of them).
//!
//! Class probabilities, by family: logistic regression's own (the sigmoid,
//! or the softmax over classes, of its linear scores, from its
//! coefficients); a random forest's share of trees voting for each class
//! (its trees are kept individually for that: `smartcore` keeps a forest's
//! trees private, so they are taken out of its serialized form once,
//! after fitting); k-nearest neighbours' share of neighbours in each
//! class; a decision tree's 1 for its leaf's class (`smartcore`'s tree
//! keeps only the majority class of a leaf). Labels are always the class
//! of highest probability (the first of equals), as each family predicts.
//!
//! Depth and tree limits also bound the stored model: a forest of 30
//! trees of depth 10 has at most 61,410 nodes.
//!
//! `smartcore` panics on some degenerate inputs; every fit and prediction
//! runs under `catch_unwind`, so a panic is that family's failure, not the
//! job's.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::{Deserialize, Serialize};
use smartcore::algorithm::neighbour::KNNAlgorithmName;
use smartcore::ensemble::random_forest_classifier::{RandomForestClassifier, RandomForestClassifierParameters};
use smartcore::ensemble::random_forest_regressor::{RandomForestRegressor, RandomForestRegressorParameters};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::{LinearRegression, LinearRegressionParameters, LinearRegressionSolverName};
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
use smartcore::linear::ridge_regression::{RidgeRegression, RidgeRegressionParameters, RidgeRegressionSolverName};
use smartcore::metrics::distance::euclidian::Euclidian;
use smartcore::neighbors::KNNWeightFunction;
use smartcore::neighbors::knn_classifier::{KNNClassifier, KNNClassifierParameters};
use smartcore::tree::decision_tree_classifier::{DecisionTreeClassifier, DecisionTreeClassifierParameters};
use smartcore::tree::decision_tree_regressor::{DecisionTreeRegressor, DecisionTreeRegressorParameters};

use alatar_entity::ml_model::ProblemType;

use super::SEED;
use super::features::Rows;

/// Rows above which k-nearest neighbours is not tried.
pub const KNN_MAX_ROWS: usize = 10_000;
/// Neighbours k-nearest neighbours counts.
const KNN_K: usize = 5;
/// Trees per forest.
const FOREST_TREES: u16 = 30;
/// Deepest a forest's tree grows.
const FOREST_DEPTH: u16 = 10;
/// Deepest a lone tree grows.
const TREE_DEPTH: u16 = 12;
/// Ridge's and logistic regression's L2 penalty.
const PENALTY: f64 = 1.0;

type Matrix = DenseMatrix<f64>;
type Linear = LinearRegression<f64, f64, Matrix, Vec<f64>>;
type Ridge = RidgeRegression<f64, f64, Matrix, Vec<f64>>;
type TreeRegressor = DecisionTreeRegressor<f64, f64, Matrix, Vec<f64>>;
type ForestRegressor = RandomForestRegressor<f64, f64, Matrix, Vec<f64>>;
type Logistic = LogisticRegression<f64, u32, Matrix, Vec<u32>>;
type TreeClassifier = DecisionTreeClassifier<f64, u32, Matrix, Vec<u32>>;
type ForestClassifier = RandomForestClassifier<f64, u32, Matrix, Vec<u32>>;
type Knn = KNNClassifier<f64, u32, Matrix, Vec<u32>, Euclidian<f64>>;

/// A model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Family {
    /// Least squares.
    LinearRegression,
    /// Least squares with an L2 penalty.
    RidgeRegression,
    /// One regression tree.
    DecisionTreeRegressor,
    /// Bagged regression trees on random feature subsets.
    RandomForestRegressor,
    /// Linear scores through a sigmoid (softmax for more than two classes).
    LogisticRegression,
    /// One classification tree.
    DecisionTreeClassifier,
    /// Bagged classification trees on random feature subsets, voting.
    RandomForestClassifier,
    /// The majority class of the nearest training rows.
    KNearestNeighbors,
}

impl Family {
    /// Every family, regression's then classification's.
    pub const ALL: [Family; 8] = [
        Self::LinearRegression,
        Self::RidgeRegression,
        Self::DecisionTreeRegressor,
        Self::RandomForestRegressor,
        Self::LogisticRegression,
        Self::DecisionTreeClassifier,
        Self::RandomForestClassifier,
        Self::KNearestNeighbors,
    ];

    /// The families tried for `problem`, simplest first (a tie goes to
    /// the earlier).
    pub fn for_problem(problem: ProblemType) -> &'static [Family] {
        match problem {
            ProblemType::Regression => &Self::ALL[..4],
            ProblemType::Classification => &Self::ALL[4..],
        }
    }

    /// Stable text form, as stored and as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LinearRegression => "LINEAR_REGRESSION",
            Self::RidgeRegression => "RIDGE_REGRESSION",
            Self::DecisionTreeRegressor => "DECISION_TREE_REGRESSOR",
            Self::RandomForestRegressor => "RANDOM_FOREST_REGRESSOR",
            Self::LogisticRegression => "LOGISTIC_REGRESSION",
            Self::DecisionTreeClassifier => "DECISION_TREE_CLASSIFIER",
            Self::RandomForestClassifier => "RANDOM_FOREST_CLASSIFIER",
            Self::KNearestNeighbors => "K_NEAREST_NEIGHBORS",
        }
    }

    /// The family stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == text)
    }

    /// Why this family is not tried on `rows` rows, if it is not.
    pub fn skipped(self, rows: usize) -> Option<String> {
        (self == Self::KNearestNeighbors && rows > KNN_MAX_ROWS).then(|| {
            format!("not tried above {KNN_MAX_ROWS} rows: it keeps every row and compares each prediction with all")
        })
    }
}

/// Why a family could not fit or predict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FitError(pub String);

/// What a family fits to.
#[derive(Debug, Clone, Copy)]
pub enum Labels<'a> {
    /// A regression's targets.
    Numbers(&'a [f64]),
    /// A classification's class indices (0 to `count` − 1).
    Classes(&'a [u32]),
}

/// A fitted model, as stored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "family", content = "model", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Fitted {
    /// See [`Family::LinearRegression`].
    LinearRegression(Linear),
    /// See [`Family::RidgeRegression`]: fitted on columns minus
    /// `x_offset` and targets minus `y_offset`.
    RidgeRegression {
        /// The estimator.
        ridge: Ridge,
        /// The training columns' means.
        x_offset: Vec<f64>,
        /// The training targets' mean.
        y_offset: f64,
    },
    /// See [`Family::DecisionTreeRegressor`].
    DecisionTreeRegressor(TreeRegressor),
    /// See [`Family::RandomForestRegressor`].
    RandomForestRegressor(ForestRegressor),
    /// See [`Family::LogisticRegression`].
    LogisticRegression(Logistic),
    /// See [`Family::DecisionTreeClassifier`].
    DecisionTreeClassifier(TreeClassifier),
    /// See [`Family::RandomForestClassifier`]: the forest's trees, which vote.
    RandomForestClassifier {
        /// Each tree of the forest.
        trees: Vec<TreeClassifier>,
    },
    /// See [`Family::KNearestNeighbors`].
    KNearestNeighbors(Knn),
}

/// The fields of a serialized forest this module reads.
#[derive(Deserialize)]
struct ForestParts {
    trees: Option<Vec<TreeClassifier>>,
}

/// `rows` as a `smartcore` matrix (column-major, as it builds its own).
fn dense(rows: &Rows) -> Result<Matrix, FitError> {
    let mut values = Vec::with_capacity(rows.n * rows.p);
    for column in 0..rows.p {
        values.extend((0..rows.n).map(|i| rows.values[i * rows.p + column]));
    }
    DenseMatrix::new(rows.n, rows.p, values, true).map_err(|e| FitError(e.to_string()))
}

/// Runs `work`, a panic inside it a [`FitError`].
fn guarded<T>(work: impl FnOnce() -> Result<T, FitError>) -> Result<T, FitError> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(outcome) => outcome,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".to_owned());
            Err(FitError(format!("the estimator stopped: {message}")))
        }
    }
}

fn failed(e: smartcore::error::Failed) -> FitError {
    FitError(e.to_string())
}

fn needs_numbers(family: Family) -> FitError {
    FitError(format!("{} fits numbers, not classes", family.as_str()))
}

fn needs_classes(family: Family) -> FitError {
    FitError(format!("{} fits classes, not numbers", family.as_str()))
}

/// Each column's mean.
fn column_means(rows: &Rows) -> Vec<f64> {
    let mut means = vec![0.0; rows.p];
    for i in 0..rows.n {
        for (mean, x) in means.iter_mut().zip(rows.row(i)) {
            *mean += x;
        }
    }
    let n = rows.n.max(1) as f64;
    means.iter_mut().for_each(|m| *m /= n);
    means
}

/// `rows` minus `offset`, column by column.
fn centred(rows: &Rows, offset: &[f64]) -> Rows {
    let mut out = rows.clone();
    for i in 0..out.n {
        let start = i * out.p;
        for (x, mean) in out.values[start..start + out.p].iter_mut().zip(offset) {
            *x -= mean;
        }
    }
    out
}

/// Fits `family` to `x` and `labels`.
pub fn fit(family: Family, x: &Rows, labels: Labels<'_>) -> Result<Fitted, FitError> {
    guarded(|| fit_unguarded(family, x, labels))
}

fn fit_unguarded(family: Family, x: &Rows, labels: Labels<'_>) -> Result<Fitted, FitError> {
    match (family, labels) {
        (Family::LinearRegression, Labels::Numbers(y)) => {
            let parameters = LinearRegressionParameters::default().with_solver(LinearRegressionSolverName::SVD);
            Linear::fit(&dense(x)?, &y.to_vec(), parameters).map(Fitted::LinearRegression).map_err(failed)
        }
        (Family::RidgeRegression, Labels::Numbers(y)) => {
            let x_offset = column_means(x);
            let y_offset = y.iter().sum::<f64>() / y.len().max(1) as f64;
            let targets: Vec<f64> = y.iter().map(|v| v - y_offset).collect();
            let parameters = RidgeRegressionParameters {
                solver: RidgeRegressionSolverName::Cholesky,
                alpha: PENALTY,
                normalize: false,
            };
            let ridge = Ridge::fit(&dense(&centred(x, &x_offset))?, &targets, parameters).map_err(failed)?;
            Ok(Fitted::RidgeRegression { ridge, x_offset, y_offset })
        }
        (Family::DecisionTreeRegressor, Labels::Numbers(y)) => {
            let parameters = DecisionTreeRegressorParameters {
                max_depth: Some(TREE_DEPTH),
                min_samples_leaf: 2,
                min_samples_split: 4,
                seed: Some(SEED),
            };
            TreeRegressor::fit(&dense(x)?, &y.to_vec(), parameters).map(Fitted::DecisionTreeRegressor).map_err(failed)
        }
        (Family::RandomForestRegressor, Labels::Numbers(y)) => {
            // A third of the columns per split (Breiman's rule for regression).
            let parameters = RandomForestRegressorParameters::default()
                .with_n_trees(usize::from(FOREST_TREES))
                .with_max_depth(FOREST_DEPTH)
                .with_min_samples_leaf(2)
                .with_m((x.p / 3).max(1))
                .with_seed(SEED);
            ForestRegressor::fit(&dense(x)?, &y.to_vec(), parameters).map(Fitted::RandomForestRegressor).map_err(failed)
        }
        (Family::LogisticRegression, Labels::Classes(y)) => {
            let parameters = LogisticRegressionParameters::default().with_alpha(PENALTY);
            Logistic::fit(&dense(x)?, &y.to_vec(), parameters).map(Fitted::LogisticRegression).map_err(failed)
        }
        (Family::DecisionTreeClassifier, Labels::Classes(y)) => {
            let mut parameters =
                DecisionTreeClassifierParameters::default().with_max_depth(TREE_DEPTH).with_min_samples_leaf(2);
            parameters.seed = Some(SEED);
            TreeClassifier::fit(&dense(x)?, &y.to_vec(), parameters).map(Fitted::DecisionTreeClassifier).map_err(failed)
        }
        (Family::RandomForestClassifier, Labels::Classes(y)) => {
            let parameters = RandomForestClassifierParameters::default()
                .with_n_trees(FOREST_TREES)
                .with_max_depth(FOREST_DEPTH)
                .with_seed(SEED);
            let forest = ForestClassifier::fit(&dense(x)?, &y.to_vec(), parameters).map_err(failed)?;
            // The trees are private to the forest; its serialized form has them.
            let value = serde_json::to_value(&forest).map_err(|e| FitError(e.to_string()))?;
            let parts: ForestParts = serde_json::from_value(value).map_err(|e| FitError(e.to_string()))?;
            let trees =
                parts.trees.filter(|t| !t.is_empty()).ok_or_else(|| FitError("the forest has no trees".into()))?;
            Ok(Fitted::RandomForestClassifier { trees })
        }
        (Family::KNearestNeighbors, Labels::Classes(y)) => {
            // smartcore needs k > 1, and no more neighbours than rows.
            let k = KNN_K.min(x.n.saturating_sub(1)).max(2);
            let parameters = KNNClassifierParameters::<f64, Euclidian<f64>>::default()
                .with_k(k)
                .with_algorithm(KNNAlgorithmName::LinearSearch)
                .with_weight(KNNWeightFunction::Uniform);
            Knn::fit(&dense(x)?, &y.to_vec(), parameters).map(Fitted::KNearestNeighbors).map_err(failed)
        }
        (
            Family::LinearRegression
            | Family::RidgeRegression
            | Family::DecisionTreeRegressor
            | Family::RandomForestRegressor,
            Labels::Classes(_),
        ) => Err(needs_numbers(family)),
        (_, Labels::Numbers(_)) => Err(needs_classes(family)),
    }
}

/// `values` if every one is finite.
fn finite(values: Vec<f64>) -> Result<Vec<f64>, FitError> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(values)
    } else {
        Err(FitError("the model's predictions were not finite".into()))
    }
}

/// The class of highest probability (the first of equals).
pub fn most_probable(probabilities: &[f64]) -> u32 {
    let mut best = 0;
    for (i, p) in probabilities.iter().enumerate() {
        if *p > probabilities[best] {
            best = i;
        }
    }
    u32::try_from(best).unwrap_or(0)
}

fn at(m: &Matrix, row: usize, column: usize) -> f64 {
    *Array::get(m, (row, column))
}

impl Fitted {
    /// Its family.
    pub fn family(&self) -> Family {
        match self {
            Self::LinearRegression(_) => Family::LinearRegression,
            Self::RidgeRegression { .. } => Family::RidgeRegression,
            Self::DecisionTreeRegressor(_) => Family::DecisionTreeRegressor,
            Self::RandomForestRegressor(_) => Family::RandomForestRegressor,
            Self::LogisticRegression(_) => Family::LogisticRegression,
            Self::DecisionTreeClassifier(_) => Family::DecisionTreeClassifier,
            Self::RandomForestClassifier { .. } => Family::RandomForestClassifier,
            Self::KNearestNeighbors(_) => Family::KNearestNeighbors,
        }
    }

    /// A regression's predictions for `x`, each finite.
    pub fn predict_numbers(&self, x: &Rows) -> Result<Vec<f64>, FitError> {
        guarded(|| {
            let predicted: Vec<f64> = match self {
                Self::LinearRegression(model) => model.predict(&dense(x)?).map_err(failed)?,
                Self::RidgeRegression { ridge, x_offset, y_offset } => {
                    let centred = dense(&centred(x, x_offset))?;
                    ridge.predict(&centred).map_err(failed)?.into_iter().map(|v| v + y_offset).collect()
                }
                Self::DecisionTreeRegressor(model) => model.predict(&dense(x)?).map_err(failed)?,
                Self::RandomForestRegressor(model) => model.predict(&dense(x)?).map_err(failed)?,
                _ => return Err(needs_numbers(self.family())),
            };
            finite(predicted)
        })
    }

    /// A classification's classes for `x`, as each family predicts them.
    pub fn predict_classes(&self, x: &Rows, classes: usize) -> Result<Vec<u32>, FitError> {
        guarded(|| match self {
            Self::LogisticRegression(model) => model.predict(&dense(x)?).map_err(failed),
            Self::DecisionTreeClassifier(model) => model.predict(&dense(x)?).map_err(failed),
            Self::KNearestNeighbors(model) => model.predict(&dense(x)?).map_err(failed),
            Self::RandomForestClassifier { .. } => {
                Ok(self.probabilities_unguarded(x, classes)?.iter().map(|p| most_probable(p)).collect())
            }
            _ => Err(needs_classes(self.family())),
        })
    }

    /// A classification's probability of each class (0 to `classes` − 1)
    /// for each row of `x`; see the module documentation. Each row sums
    /// to 1.
    pub fn probabilities(&self, x: &Rows, classes: usize) -> Result<Vec<Vec<f64>>, FitError> {
        guarded(|| self.probabilities_unguarded(x, classes))
    }

    fn probabilities_unguarded(&self, x: &Rows, classes: usize) -> Result<Vec<Vec<f64>>, FitError> {
        let index = |class: u32| usize::try_from(class).ok().filter(|c| *c < classes);
        let out_of_range = || FitError(format!("the model predicted a class outside 0–{}", classes.saturating_sub(1)));
        match self {
            Self::LogisticRegression(model) => logistic_probabilities(model, x, classes),
            Self::DecisionTreeClassifier(model) => {
                let predicted = model.predict(&dense(x)?).map_err(failed)?;
                predicted
                    .into_iter()
                    .map(|class| {
                        let mut row = vec![0.0; classes];
                        row[index(class).ok_or_else(out_of_range)?] = 1.0;
                        Ok(row)
                    })
                    .collect()
            }
            Self::RandomForestClassifier { trees } => {
                let matrix = dense(x)?;
                let mut votes = vec![vec![0.0; classes]; x.n];
                for tree in trees {
                    for (row, class) in tree.predict(&matrix).map_err(failed)?.into_iter().enumerate() {
                        votes[row][index(class).ok_or_else(out_of_range)?] += 1.0;
                    }
                }
                let total = trees.len() as f64;
                Ok(votes.into_iter().map(|row| row.into_iter().map(|v| v / total).collect()).collect())
            }
            Self::KNearestNeighbors(model) => {
                let rows = model.predict_proba(&dense(x)?).map_err(failed)?;
                // Its columns are the classes it was fitted on, in order:
                // all of them for a model fitted on every row.
                if rows.iter().any(|r| r.len() != classes) {
                    return Err(FitError("the neighbours' classes are not the model's".into()));
                }
                Ok(rows)
            }
            _ => Err(needs_classes(self.family())),
        }
    }
}

/// Logistic regression's probabilities from its coefficients: the sigmoid
/// of the one linear score for two classes, the softmax of one score per
/// class for more, placed at the classes the model was fitted on.
fn logistic_probabilities(model: &Logistic, x: &Rows, classes: usize) -> Result<Vec<Vec<f64>>, FitError> {
    let fitted: &Vec<u32> = model.classes();
    let coefficients = model.coefficients();
    let intercept = model.intercept();
    let (scores, width) = Array::shape(coefficients);
    if width != x.p || fitted.len() < 2 || (fitted.len() > 2 && scores != fitted.len()) {
        return Err(FitError("the logistic model's coefficients do not fit its classes".into()));
    }
    let mut out = Vec::with_capacity(x.n);
    for i in 0..x.n {
        let row = x.row(i);
        let linear = |s: usize| -> f64 {
            row.iter().enumerate().map(|(j, v)| v * at(coefficients, s, j)).sum::<f64>() + at(intercept, s, 0)
        };
        let local: Vec<f64> = if fitted.len() == 2 {
            let p1 = 1.0 / (1.0 + (-linear(0)).exp());
            vec![1.0 - p1, p1]
        } else {
            let z: Vec<f64> = (0..scores).map(linear).collect();
            let top = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = z.iter().map(|v| (v - top).exp()).collect();
            let sum: f64 = e.iter().sum();
            e.into_iter().map(|v| v / sum).collect()
        };
        let mut probabilities = vec![0.0; classes];
        for (class, p) in fitted.iter().zip(local) {
            let slot = usize::try_from(*class).ok().filter(|c| *c < classes).ok_or_else(|| {
                FitError(format!("the model predicted a class outside 0–{}", classes.saturating_sub(1)))
            })?;
            probabilities[slot] = p;
        }
        if probabilities.iter().any(|p| !p.is_finite()) {
            return Err(FitError("the model's probabilities were not finite".into()));
        }
        out.push(probabilities);
    }
    Ok(out)
}
