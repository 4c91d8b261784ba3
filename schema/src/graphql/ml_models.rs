//! Trained models: `trainModel`, `mlModels`, `mlModel`, `predict` and
//! `deleteMlModel`.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::Value;

use alatar_agents::datasets::column::ColumnType as StoredColumnType;
use alatar_agents::datasets::models::train::Candidate;
use alatar_agents::datasets::models::{Family, Scores};
use alatar_entity::AccountScope;
use alatar_entity::ml_model::{ProblemType as EntityProblemType, Summary};

use crate::context::ContextExt;
use crate::error::ApiError;
use crate::service::datasets as dataset_service;
use crate::service::ml_models as service;

use super::datasets::{ColumnType, Dataset, Job};
use super::knowledge::{connection, page};
use super::parse_id;

/// What a model predicts.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_entity::ml_model::ProblemType")]
pub enum ProblemType {
    /// One of at most 50 classes, with each class's probability.
    Classification,
    /// A number.
    Regression,
}

/// A family of models a training tries.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::datasets::models::Family")]
pub enum ModelFamily {
    /// Least squares.
    LinearRegression,
    /// Least squares with an L2 penalty (α = 1).
    RidgeRegression,
    /// One regression tree (depth ≤ 12).
    DecisionTreeRegressor,
    /// 30 regression trees (depth ≤ 10), averaged.
    RandomForestRegressor,
    /// Logistic regression (L2 penalty, α = 1).
    LogisticRegression,
    /// One classification tree (depth ≤ 12).
    DecisionTreeClassifier,
    /// 30 classification trees (depth ≤ 10), voting.
    RandomForestClassifier,
    /// The majority class of the 5 nearest training rows.
    KNearestNeighbors,
}

/// How a family fared in cross-validation.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::datasets::models::train::CandidateStatus")]
pub enum CandidateStatus {
    /// Scored on every fold.
    Scored,
    /// Failed on a fold (see `reason`).
    Failed,
    /// Not tried (see `reason`).
    Skipped,
}

/// Cross-validated scores: means over the folds' test rows. A classifier
/// has accuracy, precision, recall and F1 (macro-averaged over classes);
/// a regressor RMSE, MAE and R².
#[derive(SimpleObject)]
pub struct ModelMetrics {
    /// Folds the scores are the means of.
    pub folds: i32,
    /// Share of rows classified right.
    pub accuracy: Option<f64>,
    /// Macro-averaged precision.
    pub precision: Option<f64>,
    /// Macro-averaged recall.
    pub recall: Option<f64>,
    /// Macro-averaged F1 (what classifiers are chosen by).
    pub f1: Option<f64>,
    /// Root mean squared error (what regressors are chosen by).
    pub rmse: Option<f64>,
    /// Mean absolute error.
    pub mae: Option<f64>,
    /// Coefficient of determination.
    pub r2: Option<f64>,
}

impl ModelMetrics {
    fn of(scores: Scores, folds: usize) -> Self {
        ModelMetrics {
            folds: i32::try_from(folds).unwrap_or(i32::MAX),
            accuracy: scores.accuracy,
            precision: scores.precision,
            recall: scores.recall,
            f1: scores.f1,
            rmse: scores.rmse,
            mae: scores.mae,
            r2: scores.r2,
        }
    }
}

/// One family's cross-validation.
#[derive(SimpleObject)]
pub struct ModelCandidate {
    /// The family.
    pub family: ModelFamily,
    /// How it fared.
    pub status: CandidateStatus,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// Its mean scores, when scored.
    pub metrics: Option<ModelMetrics>,
    /// Each fold's F1 (classification) or RMSE (regression).
    pub fold_scores: Vec<f64>,
    /// Milliseconds its folds took.
    pub fit_ms: i64,
    /// Whether it is the model registered.
    pub chosen: bool,
}

/// A column a model reads.
#[derive(SimpleObject)]
pub struct ModelFeature {
    /// As the dataset has it.
    pub name: String,
    /// Its type at training; a prediction gives a value of it.
    #[graphql(name = "type")]
    pub kind: ColumnType,
}

/// A model trained on a dataset and registered.
pub struct MlModel(pub Summary);

#[Object]
impl MlModel {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// What the merchant called it.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    async fn dataset_id(&self) -> ID {
        ID(self.0.dataset_id.to_string())
    }
    /// The dataset it was trained on (a model goes with its dataset).
    async fn dataset(&self, ctx: &Context<'_>) -> Result<Option<Dataset>> {
        let scope = AccountScope::new(self.0.account_id);
        match dataset_service::get_dataset(&ctx.state().pipeline, scope, self.0.dataset_id).await {
            Ok(found) => Ok(Some(Dataset(found))),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
    /// The dataset's version it read.
    async fn dataset_version(&self) -> i32 {
        self.0.dataset_version
    }
    /// The `TRAINING` job that registered it.
    async fn job_id(&self) -> ID {
        ID(self.0.job_id.to_string())
    }
    async fn problem_type(&self) -> ProblemType {
        self.0.problem().into()
    }
    /// The column it predicts.
    async fn target_column(&self) -> &str {
        &self.0.target_column
    }
    /// The columns it reads, in order.
    async fn features(&self) -> Vec<ModelFeature> {
        let Some(list) = self.0.features.as_array() else { return Vec::new() };
        list.iter()
            .filter_map(|f| {
                let name = f.get("name")?.as_str()?.to_owned();
                let kind = StoredColumnType::parse(f.get("type")?.as_str()?)?;
                Some(ModelFeature { name, kind: kind.into() })
            })
            .collect()
    }
    /// A classifier's classes, as text, in the model's order; empty for a
    /// regressor.
    async fn classes(&self) -> Vec<String> {
        let Some(Value::Array(list)) = &self.0.classes else { return Vec::new() };
        list.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect()
    }
    /// The family that won cross-validation.
    async fn family(&self) -> Option<ModelFamily> {
        Family::parse(&self.0.family).map(Into::into)
    }
    /// The winner's cross-validated scores.
    async fn metrics(&self) -> ModelMetrics {
        let scores: Scores = serde_json::from_value(self.0.metrics.clone()).unwrap_or_default();
        let folds = self.0.metrics.get("folds").and_then(Value::as_u64).unwrap_or(0);
        ModelMetrics::of(scores, usize::try_from(folds).unwrap_or(0))
    }
    /// Every family tried, in order, with its scores or why it is out.
    async fn candidates(&self) -> Vec<ModelCandidate> {
        let list: Vec<Candidate> = serde_json::from_value(self.0.candidates.clone()).unwrap_or_default();
        list.into_iter()
            .map(|c| ModelCandidate {
                family: c.family.into(),
                status: c.status.into(),
                reason: c.reason,
                metrics: c.metrics.map(|m| ModelMetrics::of(m, c.fold_scores.len())),
                fold_scores: c.fold_scores,
                fit_ms: i64::try_from(c.fit_ms).unwrap_or(i64::MAX),
                chosen: c.chosen,
            })
            .collect()
    }
    /// Rows it was trained on (a sample of at most 100,000; rows without a
    /// target left out).
    async fn row_count(&self) -> i64 {
        self.0.row_count
    }
    /// Wall time of the training, reading included.
    async fn training_ms(&self) -> i64 {
        self.0.training_ms
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A class and its probability.
#[derive(SimpleObject)]
pub struct ClassProbability {
    /// The class, as text.
    pub label: String,
    /// The class as the dataset has it (a string, number or boolean).
    pub value: Json<Value>,
    /// 0–1; a prediction's sum to 1.
    pub probability: f64,
}

/// What a model predicts for one input.
#[derive(SimpleObject)]
pub struct Prediction {
    /// The predicted number, or the predicted class as the dataset has it.
    pub value: Json<Value>,
    /// A classifier's predicted class, as text; null for a regressor.
    pub label: Option<String>,
    /// A classifier's classes with their probabilities, most probable
    /// first; empty for a regressor.
    pub probabilities: Vec<ClassProbability>,
    /// Features the input lacked (or gave as null), filled with the
    /// training rows' median or most frequent value.
    pub imputed: Vec<String>,
}

impl From<alatar_agents::datasets::models::Prediction> for Prediction {
    fn from(p: alatar_agents::datasets::models::Prediction) -> Self {
        Prediction {
            value: Json(p.value),
            label: p.label,
            probabilities: p
                .probabilities
                .into_iter()
                .map(|c| ClassProbability { label: c.label, value: Json(c.value), probability: c.probability })
                .collect(),
            imputed: p.imputed,
        }
    }
}

/// Model queries.
#[derive(Default)]
pub struct MlModelQuery;

#[Object]
impl MlModelQuery {
    /// The account's models (of one dataset, when given), newest first.
    async fn ml_models(
        &self,
        ctx: &Context<'_>,
        dataset_id: Option<ID>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, MlModel>> {
        let dataset_id = dataset_id.as_ref().map(|id| parse_id("datasetId", id)).transpose()?;
        let (first, before) = page(first, 100, after.as_deref())?;
        let rows = service::list_models(&ctx.state().pipeline, ctx.scope()?, dataset_id, before, first + 1).await?;
        Ok(connection(rows, first, before.is_some(), |m| m.id.to_string(), MlModel))
    }

    /// One of the account's models.
    async fn ml_model(&self, ctx: &Context<'_>, id: ID) -> Result<MlModel> {
        let id = parse_id("id", &id)?;
        Ok(MlModel(service::get_model(&ctx.state().pipeline, ctx.scope()?, id).await?))
    }

    /// Predicts with one of the account's models. `features` is a JSON
    /// object of feature names and values, each of its feature's type
    /// (numbers, booleans, dates as "YYYY-MM-DD", timestamps in RFC 3339,
    /// text); an unknown name or a value of another type is
    /// `BAD_USER_INPUT`; a feature left out is filled as training filled
    /// nulls (see `imputed`).
    async fn predict(&self, ctx: &Context<'_>, model_id: ID, features: Json<Value>) -> Result<Prediction> {
        let id = parse_id("modelId", &model_id)?;
        let prediction = service::predict(&ctx.state().pipeline, ctx.scope()?, id, features.0).await?;
        Ok(prediction.into())
    }
}

/// Model mutations.
#[derive(Default)]
pub struct MlModelMutation;

#[Object]
impl MlModelMutation {
    /// Trains models of several families on a `READY` dataset with k-fold
    /// cross-validation and registers the best, as a `TRAINING` job
    /// (answered at once; follow it with `job` or `jobUpdates`, then find
    /// the model in `mlModels`). `features` defaults to every other column.
    /// The job stops at `datasets.training_time_limit_secs` (30 minutes by
    /// default). Viewers may not.
    async fn train_model(
        &self,
        ctx: &Context<'_>,
        dataset_id: ID,
        target_column: String,
        problem_type: ProblemType,
        features: Option<Vec<String>>,
        name: Option<String>,
    ) -> Result<Job> {
        let viewer = ctx.viewer()?;
        let dataset_id = parse_id("datasetId", &dataset_id)?;
        let request = service::TrainRequest {
            dataset_id,
            target_column: &target_column,
            problem_type: EntityProblemType::from(problem_type),
            features: features.as_deref(),
            name: name.as_deref(),
        };
        Ok(Job(service::train_model(&ctx.state().pipeline, ctx.scope()?, viewer, request).await?))
    }

    /// Deletes one of the account's models; its id. Viewers may not.
    async fn delete_ml_model(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = ctx.viewer()?;
        let parsed = parse_id("id", &id)?;
        service::delete_model(&ctx.state().pipeline, ctx.scope()?, viewer, parsed).await?;
        Ok(id)
    }
}
