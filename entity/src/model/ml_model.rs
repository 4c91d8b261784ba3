//! `ml_models`: a model trained on a dataset by a `TRAINING` job
//! (`alatar_agents::datasets::models`), registered with what it predicts,
//! from which features, the family that won cross-validation, its metrics,
//! every family's scores and the fitted model itself (`artifact`, serde
//! JSON), so any instance can predict with it after a restart. A model
//! goes with its dataset (foreign key, `ON DELETE CASCADE`): some families
//! (k-nearest neighbours, trees' split values) hold the dataset's values.

use sea_orm::FromQueryResult;
use sea_orm::entity::prelude::*;

/// What a model predicts. Stored as its text form in `problem_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemType {
    /// One of a few classes (at most 50), with class probabilities.
    Classification,
    /// A number.
    Regression,
}

impl ProblemType {
    /// Stable text form, as stored and as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Classification => "CLASSIFICATION",
            Self::Regression => "REGRESSION",
        }
    }

    /// The problem type stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Classification, Self::Regression].into_iter().find(|p| p.as_str() == text)
    }
}

/// A trained model of an account.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ml_models")]
pub struct Model {
    /// Primary key (UUIDv7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The dataset it was trained on.
    pub dataset_id: Uuid,
    /// The dataset's version it read.
    pub dataset_version: i32,
    /// The `TRAINING` job that registered it (unique: one model a job).
    pub job_id: Uuid,
    /// What the merchant called it.
    pub name: Option<String>,
    /// [`ProblemType`] as text.
    pub problem_type: String,
    /// The column it predicts.
    pub target_column: String,
    /// `[{name, type}]`: the columns it reads, in order, with their types.
    pub features: Json,
    /// Classification: the class labels as text, in the order the model
    /// numbers them; `None` for regression.
    pub classes: Option<Json>,
    /// The family that won (`LINEAR_REGRESSION`, `RANDOM_FOREST_CLASSIFIER`, …).
    pub family: String,
    /// Cross-validated metrics of the winner: `{folds, accuracy, precision,
    /// recall, f1}` or `{folds, rmse, mae, r2}`.
    pub metrics: Json,
    /// Every family tried: `[{family, status, reason, metrics, foldScores, fitMs}]`.
    pub candidates: Json,
    /// The fitted model with its feature encoding, serde JSON (read back
    /// before it was stored). Large: listings do not select it.
    #[sea_orm(column_type = "Text")]
    pub artifact: String,
    /// Rows it was trained on (after the sample and rows without a target).
    pub row_count: i64,
    /// Wall time of the training, reading included, in milliseconds.
    pub training_ms: i64,
    /// The member who asked for it.
    pub created_by: Uuid,
    /// When it was registered.
    pub created_at: ChronoDateTimeUtc,
}

impl Model {
    /// `problem_type` as a [`ProblemType`]; an unknown text counts as regression.
    pub fn problem(&self) -> ProblemType {
        ProblemType::parse(&self.problem_type).unwrap_or(ProblemType::Regression)
    }
}

/// A model without its artifact: what listings and lookups read.
#[derive(Clone, Debug, PartialEq, FromQueryResult)]
pub struct Summary {
    /// See [`Model::id`].
    pub id: Uuid,
    /// See [`Model::account_id`].
    pub account_id: Uuid,
    /// See [`Model::dataset_id`].
    pub dataset_id: Uuid,
    /// See [`Model::dataset_version`].
    pub dataset_version: i32,
    /// See [`Model::job_id`].
    pub job_id: Uuid,
    /// See [`Model::name`].
    pub name: Option<String>,
    /// See [`Model::problem_type`].
    pub problem_type: String,
    /// See [`Model::target_column`].
    pub target_column: String,
    /// See [`Model::features`].
    pub features: Json,
    /// See [`Model::classes`].
    pub classes: Option<Json>,
    /// See [`Model::family`].
    pub family: String,
    /// See [`Model::metrics`].
    pub metrics: Json,
    /// See [`Model::candidates`].
    pub candidates: Json,
    /// See [`Model::row_count`].
    pub row_count: i64,
    /// See [`Model::training_ms`].
    pub training_ms: i64,
    /// See [`Model::created_by`].
    pub created_by: Uuid,
    /// See [`Model::created_at`].
    pub created_at: ChronoDateTimeUtc,
}

impl Summary {
    /// Every column but `artifact`, in [`Summary`]'s order.
    pub const COLUMNS: [Column; 17] = [
        Column::Id,
        Column::AccountId,
        Column::DatasetId,
        Column::DatasetVersion,
        Column::JobId,
        Column::Name,
        Column::ProblemType,
        Column::TargetColumn,
        Column::Features,
        Column::Classes,
        Column::Family,
        Column::Metrics,
        Column::Candidates,
        Column::RowCount,
        Column::TrainingMs,
        Column::CreatedBy,
        Column::CreatedAt,
    ];

    /// `problem_type` as a [`ProblemType`]; an unknown text counts as regression.
    pub fn problem(&self) -> ProblemType {
        ProblemType::parse(&self.problem_type).unwrap_or(ProblemType::Regression)
    }
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

// As `workflow` does: the one-line mapping every tenant table has, beside its model.
impl crate::TenantOwned for Entity {
    fn account_column() -> Self::Column {
        Column::AccountId
    }
}
