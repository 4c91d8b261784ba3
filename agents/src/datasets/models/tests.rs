//! Unit tests of training: the encoding, fold assignment, the metrics
//! against independent formulas (proptest, 256 cases each; regression and
//! accuracy against `smartcore`'s own metrics too), every family fitted,
//! stored and read back with the same predictions, known relationships
//! recovered, the watch stopping a training between folds, and the spec's
//! checks.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use serde_json::{Value, json};

use alatar_entity::ml_model::ProblemType;

use super::MAX_CATEGORIES;
use super::families::{self, Family, Fitted, Labels};
use super::features::{Encoder, Encoding, FeatureColumn, InputError, Rows};
use super::folds;
use super::metrics::{self, Scores};
use super::predict::{ARTIFACT_FORMAT, Artifact, ClassLabel, TargetCodec};
use super::spec::TrainSpec;
use super::train::{self, CandidateStatus, Target, TrainError, TrainingSet, Watch};
use crate::datasets::column::{ColumnSpec, ColumnType};

/// A deterministic stream of numbers in [0, 1) for test data.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Goes on and forgets what it is told.
struct Always;

impl Watch for Always {
    fn proceed(&self) -> bool {
        true
    }
    fn advanced(&self, _done: usize, _total: usize) {}
}

fn column(name: &str, kind: ColumnType) -> FeatureColumn {
    FeatureColumn { name: name.into(), kind }
}

fn close(actual: f64, expected: f64, tolerance: f64) -> bool {
    (actual - expected).abs() <= tolerance * expected.abs().max(1.0)
}

/// `n` rows of x1, x2 in [0, 10) and y = 3·x1 − 2·x2 + 5 + noise in ±0.05.
fn linear_rows(n: usize) -> Vec<Vec<Value>> {
    let mut noise = Noise(7);
    (0..n)
        .map(|_| {
            let (x1, x2) = (noise.next() * 10.0, noise.next() * 10.0);
            let y = 3.0 * x1 - 2.0 * x2 + 5.0 + (noise.next() - 0.5) * 0.1;
            vec![json!(x1), json!(x2), json!(y)]
        })
        .collect()
}

fn regression_set(rows: &[Vec<Value>]) -> (Encoder, TrainingSet) {
    let columns = [column("x1", ColumnType::Float), column("x2", ColumnType::Float)];
    let (encoder, x) = Encoder::fit(&columns, rows);
    let y = rows.iter().map(|r| r[2].as_f64().unwrap_or(f64::NAN)).collect();
    (encoder, TrainingSet { x, target: Target::Numbers(y) })
}

/// `n` rows of x1, x2 in [0, 10) and the class x1 > x2.
fn comparison_rows(n: usize) -> Vec<Vec<Value>> {
    let mut noise = Noise(11);
    (0..n)
        .map(|_| {
            let (x1, x2) = (noise.next() * 10.0, noise.next() * 10.0);
            vec![json!(x1), json!(x2), json!(x1 > x2)]
        })
        .collect()
}

fn classification_set(rows: &[Vec<Value>]) -> (Encoder, TrainingSet) {
    let columns = [column("x1", ColumnType::Float), column("x2", ColumnType::Float)];
    let (encoder, x) = Encoder::fit(&columns, rows);
    let index: Vec<u32> = rows.iter().map(|r| u32::from(r[2].as_bool().unwrap_or(false))).collect();
    (encoder, TrainingSet { x, target: Target::Classes { index, count: 2 } })
}

fn booleans() -> TargetCodec {
    TargetCodec::Classes {
        classes: vec![
            ClassLabel { value: json!(false), label: "false".into() },
            ClassLabel { value: json!(true), label: "true".into() },
        ],
    }
}

#[test]
fn each_type_is_encoded_and_nulls_take_the_median_or_mode() {
    let columns = [
        column("n", ColumnType::Integer),
        column("b", ColumnType::Boolean),
        column("d", ColumnType::Date),
        column("t", ColumnType::Timestamp),
        column("s", ColumnType::Text),
    ];
    let rows = vec![
        vec![json!(1), json!(true), json!("1970-01-02"), json!("1970-01-01T12:00:00Z"), json!("a")],
        vec![json!(3), json!(true), json!("1970-01-11"), json!("1970-01-03T00:00:00Z"), json!("b")],
        vec![json!(10), json!(false), Value::Null, Value::Null, json!("a")],
        vec![Value::Null, Value::Null, json!("1970-01-04"), json!("1970-01-02T00:00:00Z"), Value::Null],
    ];
    let (encoder, x) = Encoder::fit(&columns, &rows);
    let fills: Vec<&Encoding> = encoder.features.iter().map(|f| &f.encoding).collect();
    // Medians: of 1, 3, 10; of days 1, 10, 3; of 0.5, 2, 1 days. Modes: true; "a".
    assert_eq!(fills[0], &Encoding::Number { fill: 3.0 });
    assert_eq!(fills[1], &Encoding::Number { fill: 1.0 });
    assert_eq!(fills[2], &Encoding::Number { fill: 3.0 });
    assert_eq!(fills[3], &Encoding::Number { fill: 1.0 });
    // Two values: "a" the baseline (all zeros), one column for "b".
    assert_eq!(
        fills[4],
        &Encoding::Categories { categories: vec!["b".into()], baseline: Some("a".into()), fill: Some("a".into()) }
    );
    assert_eq!((x.n, x.p), (4, 5));
    // Standardised: every column has mean 0.
    for j in 0..x.p {
        let mean: f64 = (0..x.n).map(|i| x.row(i)[j]).sum::<f64>() / x.n as f64;
        assert!(mean.abs() < 1e-9, "column {j} mean {mean}");
    }
    // The null row encodes as its fills: the same as an input without them.
    let input = encoder.encode_input(&json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(input.imputed, ["n", "b", "d", "t", "s"]);
    let filled =
        encoder.encode_input(&json!({ "n": 3, "b": true, "d": "1970-01-04", "t": "1970-01-02T00:00:00Z", "s": "a" }));
    assert_eq!(filled.unwrap_or_else(|e| panic!("{e}")).values, input.values);
    // Row 0 through the input path is row 0 of the matrix.
    let first = json!({ "n": 1, "b": true, "d": "1970-01-02", "t": "1970-01-01T12:00:00Z", "s": "a" });
    let encoded = encoder.encode_input(&first).unwrap_or_else(|e| panic!("{e}"));
    for (a, b) in encoded.values.iter().zip(x.row(0)) {
        assert!((a - b).abs() < 1e-12, "{:?} vs {:?}", encoded.values, x.row(0));
    }
}

#[test]
fn text_beyond_the_category_cap_has_no_baseline_and_unseen_values_are_none() {
    let values: Vec<Vec<Value>> = (0..MAX_CATEGORIES + 5)
        .flat_map(|i| std::iter::repeat_n(vec![json!(format!("c{i:02}"))], MAX_CATEGORIES + 5 - i))
        .collect();
    let (encoder, x) = Encoder::fit(&[column("s", ColumnType::Text)], &values);
    let Encoding::Categories { categories, baseline, fill } = &encoder.features[0].encoding else {
        panic!("not categories: {:?}", encoder.features[0]);
    };
    assert_eq!(categories.len(), MAX_CATEGORIES);
    assert_eq!(categories[0], "c00", "most frequent first");
    assert_eq!((baseline, fill.as_deref()), (&None, Some("c00")));
    assert_eq!(x.p, MAX_CATEGORIES);
    let unseen = encoder.encode_input(&json!({ "s": "never seen" })).unwrap_or_else(|e| panic!("{e}"));
    let rare =
        encoder.encode_input(&json!({ "s": format!("c{:02}", MAX_CATEGORIES + 2) })).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(unseen.values, rare.values, "unseen and rare values both encode as none of the categories");
}

#[test]
fn inputs_with_unknown_names_or_wrong_types_are_refused() {
    let columns = [column("x1", ColumnType::Float), column("when", ColumnType::Date), column("s", ColumnType::Text)];
    let rows =
        vec![vec![json!(1.0), json!("2024-01-01"), json!("a")], vec![json!(2.0), json!("2024-01-02"), json!("b")]];
    let (encoder, _) = Encoder::fit(&columns, &rows);
    match encoder.encode_input(&json!({ "x1": 1, "x9": 2, "y": 3 })) {
        Err(InputError::Unknown { names, expected }) => {
            assert_eq!(names, ["x9", "y"]);
            assert_eq!(expected, ["x1", "when", "s"]);
        }
        other => panic!("{other:?}"),
    }
    let message = encoder.encode_input(&json!({ "x9": 2 })).err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(message, "\"x9\" is not a feature of the model; its features are \"x1\", \"when\", \"s\"");
    for (input, name) in [
        (json!({ "x1": "abc" }), "x1"),
        (json!({ "when": "yesterday" }), "when"),
        (json!({ "when": 3 }), "when"),
        (json!({ "s": 4 }), "s"),
    ] {
        match encoder.encode_input(&input) {
            Err(InputError::WrongType { name: got, .. }) => assert_eq!(got, name, "{input}"),
            other => panic!("{input}: {other:?}"),
        }
    }
    assert!(matches!(encoder.encode_input(&json!([1, 2])), Err(InputError::NotAnObject { .. })));
    let ok = encoder.encode_input(&json!({ "x1": 1.5, "when": null })).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.imputed, ["when", "s"]);
}

fn sizes(folds: &[usize], k: usize) -> Vec<usize> {
    (0..k).map(|f| folds.iter().filter(|x| **x == f).count()).collect()
}

#[test]
fn fold_counts_follow_the_rows() {
    assert_eq!([4, 5, 6, 9, 10, 11, 1000].map(folds::fold_count), [2, 2, 3, 4, 5, 5, 5]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn folds_cover_every_row_once_in_near_equal_parts(n in 4usize..300, seed in any::<u64>()) {
        let k = folds::fold_count(n);
        let assigned = folds::assign(n, k, seed);
        prop_assert_eq!(assigned.len(), n);
        let sizes = sizes(&assigned, k);
        let (min, max) = (sizes.iter().min().copied().unwrap_or(0), sizes.iter().max().copied().unwrap_or(0));
        prop_assert!(max - min <= 1, "{:?}", sizes);
        prop_assert_eq!(&assigned, &folds::assign(n, k, seed), "not deterministic");
        for fold in 0..k {
            let (train, test) = folds::split(&assigned, fold);
            prop_assert_eq!(train.len() + test.len(), n);
            prop_assert!(!test.is_empty());
            prop_assert!(test.iter().all(|r| !train.contains(r)));
        }
    }

    #[test]
    fn stratified_folds_hold_each_class_in_proportion(classes in prop::collection::vec(0u32..4, 4..200), seed in any::<u64>()) {
        let k = folds::fold_count(classes.len());
        let assigned = folds::assign_stratified(&classes, k, seed);
        let sizes = sizes(&assigned, k);
        let (min, max) = (sizes.iter().min().copied().unwrap_or(0), sizes.iter().max().copied().unwrap_or(0));
        prop_assert!(max - min <= 1, "{:?}", sizes);
        for class in 0..4u32 {
            let per_fold: Vec<usize> = (0..k)
                .map(|f| classes.iter().zip(&assigned).filter(|(c, a)| **c == class && **a == f).count())
                .collect();
            let (lo, hi) = (per_fold.iter().min().copied().unwrap_or(0), per_fold.iter().max().copied().unwrap_or(0));
            prop_assert!(hi - lo <= 1, "class {} per fold {:?}", class, per_fold);
        }
    }

    #[test]
    fn regression_metrics_match_their_formulas(pairs in prop::collection::vec((-1e3f64..1e3, -1e3f64..1e3), 1..80)) {
        let truth: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let predicted: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        let scores = metrics::regression(&truth, &predicted);
        let n = truth.len() as f64;
        let mse = smartcore::metrics::mean_squared_error(&truth, &predicted);
        let mae = smartcore::metrics::mean_absolute_error(&truth, &predicted);
        prop_assert!(close(scores.rmse.unwrap_or(f64::NAN), mse.sqrt(), 1e-9));
        prop_assert!(close(scores.mae.unwrap_or(f64::NAN), mae, 1e-9));
        // R² from its definition, and from smartcore where the truth varies.
        let mean = truth.iter().sum::<f64>() / n;
        let total: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
        let residual: f64 = truth.iter().zip(&predicted).map(|(t, p)| (t - p).powi(2)).sum();
        if total > 1e-6 {
            prop_assert!(close(scores.r2.unwrap_or(f64::NAN), 1.0 - residual / total, 1e-9));
            prop_assert!(close(scores.r2.unwrap_or(f64::NAN), smartcore::metrics::r2(&truth, &predicted), 1e-6));
        }
    }

    #[test]
    fn classification_metrics_match_their_formulas(pairs in prop::collection::vec((0u32..5, 0u32..5), 1..100)) {
        let truth: Vec<u32> = pairs.iter().map(|p| p.0).collect();
        let predicted: Vec<u32> = pairs.iter().map(|p| p.1).collect();
        let scores = metrics::classification(&truth, &predicted);
        prop_assert!(close(scores.accuracy.unwrap_or(f64::NAN), smartcore::metrics::accuracy(&truth, &predicted), 1e-12));
        // Per class by counting pairs, F1 as 2·TP / (2·TP + FP + FN).
        let labels: Vec<u32> = (0..5).filter(|c| truth.contains(c) || predicted.contains(c)).collect();
        let (mut precision, mut recall, mut f1) = (0.0, 0.0, 0.0);
        for c in &labels {
            let tp = pairs.iter().filter(|(t, p)| t == c && p == c).count() as f64;
            let fp = pairs.iter().filter(|(t, p)| t != c && p == c).count() as f64;
            let fn_ = pairs.iter().filter(|(t, p)| t == c && p != c).count() as f64;
            precision += if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
            recall += if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 };
            f1 += if tp > 0.0 { 2.0 * tp / (2.0 * tp + fp + fn_) } else { 0.0 };
        }
        let k = labels.len() as f64;
        prop_assert!(close(scores.precision.unwrap_or(f64::NAN), precision / k, 1e-12));
        prop_assert!(close(scores.recall.unwrap_or(f64::NAN), recall / k, 1e-12));
        prop_assert!(close(scores.f1.unwrap_or(f64::NAN), f1 / k, 1e-12));
    }
}

#[test]
fn metrics_of_perfect_and_constant_predictions() {
    let perfect = metrics::regression(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]);
    assert_eq!((perfect.rmse, perfect.mae, perfect.r2), (Some(0.0), Some(0.0), Some(1.0)));
    assert_eq!(metrics::regression(&[2.0, 2.0], &[2.0, 2.0]).r2, Some(1.0));
    assert_eq!(metrics::regression(&[2.0, 2.0], &[1.0, 3.0]).r2, Some(0.0));
    let scores = metrics::classification(&[0, 0, 1, 1], &[0, 0, 0, 0]);
    // Class 1 never predicted: precision 0 for it.
    assert_eq!(scores.accuracy, Some(0.5));
    assert_eq!(scores.precision, Some(0.25));
    assert_eq!(scores.recall, Some(0.5));
    let mean = Scores::mean(&[
        Scores { rmse: Some(1.0), ..Scores::default() },
        Scores { rmse: Some(3.0), ..Scores::default() },
    ]);
    assert_eq!(mean.rmse, Some(2.0));
    assert_eq!(mean.objective(ProblemType::Regression), Some(-2.0));
}

/// Fits `family`, stores it as an artifact, reads it back: the same predictions.
fn round_trip(family: Family, encoder: &Encoder, set: &TrainingSet, target: TargetCodec) {
    let labels = match &set.target {
        Target::Numbers(y) => Labels::Numbers(y),
        Target::Classes { index, .. } => Labels::Classes(index),
    };
    let fitted = families::fit(family, &set.x, labels).unwrap_or_else(|e| panic!("{family:?}: {e}"));
    assert_eq!(fitted.family(), family);
    let probe = set.x.select(&[0, 1, 2, 3, 4]);
    let before = predictions(&fitted, &probe, &set.target);
    let artifact = Artifact { format: ARTIFACT_FORMAT, encoder: encoder.clone(), target, model: fitted };
    let text = serde_json::to_string(&artifact).unwrap_or_else(|e| panic!("{family:?}: {e}"));
    let loaded = Artifact::load(&text).unwrap_or_else(|e| panic!("{family:?}: {e}"));
    assert_eq!(predictions(&loaded.model, &probe, &set.target), before, "{family:?} changed when stored");
}

fn predictions(fitted: &Fitted, x: &Rows, target: &Target) -> Vec<String> {
    match target {
        Target::Numbers(_) => {
            fitted.predict_numbers(x).unwrap_or_else(|e| panic!("{e}")).iter().map(|v| format!("{v:.9}")).collect()
        }
        Target::Classes { count, .. } => {
            let probabilities = fitted.probabilities(x, *count).unwrap_or_else(|e| panic!("{e}"));
            for row in &probabilities {
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{:?}: {row:?}", fitted.family());
            }
            let classes = fitted.predict_classes(x, *count).unwrap_or_else(|e| panic!("{e}"));
            // The label is the most probable class, as each family predicts it.
            for (row, class) in probabilities.iter().zip(&classes) {
                assert_eq!(families::most_probable(row), *class, "{:?}: {row:?}", fitted.family());
            }
            probabilities.iter().map(|row| format!("{row:?}")).collect()
        }
    }
}

#[test]
fn every_family_fits_and_survives_storage() {
    let rows = linear_rows(120);
    let (encoder, set) = regression_set(&rows);
    for family in Family::for_problem(ProblemType::Regression) {
        round_trip(*family, &encoder, &set, TargetCodec::Number);
    }
    let rows = comparison_rows(120);
    let (encoder, set) = classification_set(&rows);
    for family in Family::for_problem(ProblemType::Classification) {
        round_trip(*family, &encoder, &set, booleans());
    }
}

#[test]
fn a_linear_relationship_is_recovered() {
    let rows = linear_rows(400);
    let (encoder, set) = regression_set(&rows);
    let trained =
        train::train(&set, Family::for_problem(ProblemType::Regression), &Always).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(trained.folds, 5);
    assert!(trained.metrics.r2.unwrap_or(0.0) > 0.99, "{:?}", trained.metrics);
    let chosen: Vec<Family> = trained.candidates.iter().filter(|c| c.chosen).map(|c| c.family).collect();
    assert_eq!(chosen, [trained.fitted.family()]);
    assert!(
        matches!(trained.fitted.family(), Family::LinearRegression | Family::RidgeRegression),
        "{:?}",
        trained.candidates
    );
    assert!(trained.candidates.iter().all(|c| c.status == CandidateStatus::Scored && c.fold_scores.len() == 5));
    let artifact = Artifact { format: ARTIFACT_FORMAT, encoder, target: TargetCodec::Number, model: trained.fitted };
    let at = artifact.predict(&json!({ "x1": 4.0, "x2": 1.5 })).unwrap_or_else(|e| panic!("{e}"));
    let expected = 3.0 * 4.0 - 2.0 * 1.5 + 5.0;
    assert!((at.value.as_f64().unwrap_or(f64::NAN) - expected).abs() < 0.2, "{at:?} vs {expected}");
}

#[test]
fn a_comparison_is_recovered_with_probabilities() {
    let rows = comparison_rows(400);
    let (encoder, set) = classification_set(&rows);
    let trained =
        train::train(&set, Family::for_problem(ProblemType::Classification), &Always).unwrap_or_else(|e| panic!("{e}"));
    assert!(trained.metrics.accuracy.unwrap_or(0.0) > 0.9, "{:?}", trained.candidates);
    let artifact = Artifact { format: ARTIFACT_FORMAT, encoder, target: booleans(), model: trained.fitted };
    for (x1, x2, class) in [(9.0, 1.0, true), (1.0, 9.0, false), (8.0, 2.5, true), (0.5, 6.0, false)] {
        let at = artifact.predict(&json!({ "x1": x1, "x2": x2 })).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(at.value, json!(class), "({x1}, {x2}): {at:?}");
        assert_eq!(at.label.as_deref(), Some(if class { "true" } else { "false" }));
        let sum: f64 = at.probabilities.iter().map(|p| p.probability).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{at:?}");
        assert_eq!(at.probabilities[0].label, if class { "true" } else { "false" }, "most probable first");
    }
}

/// Stops once it has been told of `after` fits.
struct StopAfter {
    after: usize,
    seen: AtomicUsize,
}

impl Watch for StopAfter {
    fn proceed(&self) -> bool {
        self.seen.load(Ordering::Relaxed) < self.after
    }
    fn advanced(&self, done: usize, _total: usize) {
        self.seen.store(done, Ordering::Relaxed);
    }
}

#[test]
fn a_training_stops_between_folds_when_told() {
    let rows = linear_rows(60);
    let (_, set) = regression_set(&rows);
    let watch = StopAfter { after: 1, seen: AtomicUsize::new(0) };
    let families = Family::for_problem(ProblemType::Regression);
    assert_eq!(train::train(&set, families, &watch).err(), Some(TrainError::Stopped));
    // It stopped after the first fold, not at the end.
    assert_eq!(watch.seen.load(Ordering::Relaxed), 1);
    let at_once = StopAfter { after: 0, seen: AtomicUsize::new(0) };
    assert_eq!(train::train(&set, families, &at_once).err(), Some(TrainError::Stopped));
}

#[test]
fn the_same_rows_give_the_same_model() {
    let rows = comparison_rows(150);
    let (_, set) = classification_set(&rows);
    let families = Family::for_problem(ProblemType::Classification);
    let first = train::train(&set, families, &Always).unwrap_or_else(|e| panic!("{e}"));
    let second = train::train(&set, families, &Always).unwrap_or_else(|e| panic!("{e}"));
    let scores = |t: &train::Trained| -> Vec<(Family, CandidateStatus, Vec<f64>)> {
        t.candidates.iter().map(|c| (c.family, c.status, c.fold_scores.clone())).collect()
    };
    assert_eq!(scores(&first), scores(&second));
    assert_eq!(first.fitted.family(), second.fitted.family());
}

fn spec_columns() -> Vec<ColumnSpec> {
    [("x1", ColumnType::Float), ("x2", ColumnType::Integer), ("kind", ColumnType::Text), ("y", ColumnType::Float)]
        .into_iter()
        .map(|(name, kind)| ColumnSpec { name: name.into(), kind, inferred: kind })
        .collect()
}

#[test]
fn specs_are_checked_against_the_columns() {
    let columns = spec_columns();
    let check = |target: &str, problem, features: Option<&[String]>| {
        TrainSpec::check(&columns, None, target, problem, features, None)
    };
    let all = check("y", ProblemType::Regression, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.features, ["x1", "x2", "kind"]);
    let unknown = check("nope", ProblemType::Regression, None).err().unwrap_or_else(|| panic!("accepted"));
    assert_eq!(unknown.field, "targetColumn");
    assert!(unknown.message.contains("\"x1\", \"x2\", \"kind\", \"y\""), "{unknown}");
    let text = check("kind", ProblemType::Regression, None).err().unwrap_or_else(|| panic!("accepted"));
    assert_eq!(text.field, "targetColumn");
    assert!(text.message.contains("TEXT"), "{text}");
    assert!(check("kind", ProblemType::Classification, None).is_ok());
    let asked = ["x9".to_owned(), "x1".to_owned(), "zz".to_owned()];
    let bad = check("y", ProblemType::Regression, Some(&asked[..])).err().unwrap_or_else(|| panic!("accepted"));
    assert_eq!(bad.field, "features");
    assert!(bad.message.starts_with("\"x9\", \"zz\" are not a column"), "{bad}");
    let with_target = ["x1".to_owned(), "y".to_owned()];
    let bad = check("y", ProblemType::Regression, Some(&with_target[..])).err().unwrap_or_else(|| panic!("accepted"));
    assert!(bad.message.contains("target"), "{bad}");
    // In table order whatever the order asked.
    let reordered = ["kind".to_owned(), "x1".to_owned()];
    let ok = check("y", ProblemType::Regression, Some(&reordered[..])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.features, ["x1", "kind"]);
    let stored = serde_json::to_value(&ok).unwrap_or_default();
    assert_eq!(stored["problemType"], json!("REGRESSION"));
    assert_eq!(serde_json::from_value::<TrainSpec>(stored).ok(), Some(ok));
}
