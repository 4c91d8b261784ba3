//! Dataset insights (seed 001 §6, P22–P26): the `datasetInsights`
//! mutation, which queues an `INSIGHTS` job, and the types of
//! `Dataset.insights`, the stored result of the latest one. Every figure
//! carries the statement it came from (`InsightEvidence.sql`, runnable as
//! is with `runSql`).

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use alatar_agents::datasets::insights as found;
use alatar_entity::dataset;

use crate::context::ContextExt;
use crate::service::dataset_insights as service;

use super::datasets::Job;
use super::parse_id;

/// How much a finding matters.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::datasets::insights::Severity")]
pub enum InsightSeverity {
    /// Worth knowing.
    Low,
    /// Worth a look.
    Medium,
    /// Look now.
    High,
}

/// What an anomaly is.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::datasets::insights::AnomalyKind")]
pub enum AnomalyType {
    /// A row's value outside its column's Tukey fences (1.5 interquartile
    /// ranges beyond the quartiles).
    Value,
    /// A period whose average per row departs from the column's own
    /// least-squares line by a robust z-score over 3.5.
    Period,
}

/// Which side of its expected range an anomaly lies on.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::datasets::insights::Direction")]
pub enum AnomalyDirection {
    /// Above it.
    Above,
    /// Below it.
    Below,
}

/// Which way a trend goes.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::datasets::insights::TrendDirection")]
pub enum TrendDirection {
    /// Rising.
    Up,
    /// Falling.
    Down,
}

/// How long the periods of trends and period anomalies are.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::datasets::insights::Grain")]
pub enum PeriodGrain {
    /// Calendar days (UTC), for data spanning under 60 days.
    Day,
    /// Weeks from Monday, under 210 days.
    Week,
    /// Calendar months, otherwise.
    Month,
}

/// A figure and the statement it came from.
#[derive(SimpleObject)]
pub struct InsightEvidence {
    /// What the figure is.
    pub label: String,
    /// The figure.
    pub value: f64,
    /// The statement (over `data`, as `runSql` takes it) whose result it is
    /// or was computed from.
    pub sql: String,
    /// How it follows from that result, when it is not read off it.
    pub derivation: Option<String>,
}

/// Where a value was expected to lie.
#[derive(SimpleObject)]
pub struct ExpectedRange {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

/// Something out of the ordinary in a dataset.
#[derive(SimpleObject)]
pub struct InsightAnomaly {
    /// A row's value, or a period's average.
    #[graphql(name = "type")]
    pub kind: AnomalyType,
    /// The numeric column.
    pub column: String,
    /// The value (for a period: its average per row).
    pub value: f64,
    /// Where it was expected.
    pub expected_range: ExpectedRange,
    /// Above or below that range.
    pub direction: AnomalyDirection,
    /// Values: by interquartile ranges beyond the nearer quartile (under 3
    /// `LOW`, under 6 `MEDIUM`); periods: by |z| (under 6, under 10).
    pub severity: InsightSeverity,
    /// Robust z-score: (value − expected centre) / robust scale.
    pub score: f64,
    /// A period's first day (`YYYY-MM-DD`).
    pub period: Option<String>,
    /// A value's row's date, when the dataset has a date column.
    pub at: Option<String>,
    /// In plain words (a template).
    pub explanation: String,
    /// The figures behind it, each with its statement.
    pub evidence: Vec<InsightEvidence>,
}

/// A column moving one way over time.
#[derive(SimpleObject)]
pub struct InsightTrend {
    /// The numeric column (its average per row, per period).
    pub column: String,
    /// Up or down.
    pub direction: TrendDirection,
    /// The periods it was measured over.
    pub grain: PeriodGrain,
    /// Periods with data.
    pub periods: i32,
    /// The first period's first day.
    pub first_period: String,
    /// The last period's first day.
    pub last_period: String,
    /// The first period's average.
    pub first_value: f64,
    /// The last period's average.
    pub last_value: f64,
    /// (last − first) / |first|, as a fraction; null when the first is 0.
    pub change: Option<f64>,
    /// The least-squares line's change per period.
    pub slope: f64,
    /// The line's R², 0–1; trends rank by it.
    pub r_squared: f64,
    /// The line's value one period after the last.
    pub next_value: f64,
    /// In plain words (a template).
    pub explanation: String,
    /// The figures behind it, each with its statement.
    pub evidence: Vec<InsightEvidence>,
}

/// Something to do about the findings.
#[derive(SimpleObject)]
pub struct InsightRecommendation {
    /// How soon.
    pub priority: InsightSeverity,
    /// What to do.
    pub action: String,
    /// Why, from the findings.
    pub rationale: String,
    /// The figures it rests on, each with its statement.
    pub evidence: Vec<InsightEvidence>,
}

/// A dataset's insights, as its latest `INSIGHTS` job computed them.
#[derive(SimpleObject)]
pub struct DatasetInsights {
    /// The dataset version they describe.
    pub version: i32,
    /// The dataset was reloaded since (its version is newer): ask again.
    pub stale: bool,
    /// When they were computed.
    pub generated_at: DateTime<Utc>,
    /// Rows of the table.
    pub row_count: i64,
    /// The column placing rows in time, if any.
    pub date_column: Option<String>,
    /// The periods of trends and period anomalies, with a date column.
    pub grain: Option<PeriodGrain>,
    /// The numeric columns analysed.
    pub measures: Vec<String>,
    /// One paragraph.
    pub summary: String,
    /// Most severe first.
    pub anomalies: Vec<InsightAnomaly>,
    /// Steadiest first; three or more when the data has them.
    pub trends: Vec<InsightTrend>,
    /// How many trends there are and, when fewer than three, why.
    pub trend_note: String,
    /// At least one; most urgent first.
    pub recommendations: Vec<InsightRecommendation>,
    /// What was left out or approximated, and why.
    pub notes: Vec<String>,
    /// Who wrote the words: `offline rules` (templates).
    pub written_by: String,
    /// Statements run over the table.
    pub statement_count: i32,
    /// Milliseconds the computation took.
    pub elapsed_ms: i64,
}

fn evidence(list: Vec<found::Evidence>) -> Vec<InsightEvidence> {
    list.into_iter()
        .map(|e| InsightEvidence { label: e.label, value: e.value, sql: e.sql, derivation: e.derivation })
        .collect()
}

fn anomaly(a: found::Anomaly) -> InsightAnomaly {
    InsightAnomaly {
        kind: a.kind.into(),
        column: a.column,
        value: a.value,
        expected_range: ExpectedRange { low: a.expected_low, high: a.expected_high },
        direction: a.direction.into(),
        severity: a.severity.into(),
        score: a.score,
        period: a.period,
        at: a.at,
        explanation: a.explanation,
        evidence: evidence(a.evidence),
    }
}

fn trend(t: found::Trend) -> InsightTrend {
    InsightTrend {
        column: t.column,
        direction: t.direction.into(),
        grain: t.grain.into(),
        periods: i32::try_from(t.periods).unwrap_or(i32::MAX),
        first_period: t.first_period,
        last_period: t.last_period,
        first_value: t.first_value,
        last_value: t.last_value,
        change: t.change,
        slope: t.slope,
        r_squared: t.r_squared,
        next_value: t.next_value,
        explanation: t.explanation,
        evidence: evidence(t.evidence),
    }
}

fn recommendation(r: found::Recommendation) -> InsightRecommendation {
    InsightRecommendation {
        priority: r.priority.into(),
        action: r.action,
        rationale: r.rationale,
        evidence: evidence(r.evidence),
    }
}

/// The stored insights of `model`; `None` before any run (or if the
/// stored JSON no longer reads, which a new run replaces).
pub fn stored(model: &dataset::Model) -> Option<DatasetInsights> {
    let json = model.insights.as_ref()?;
    let i: found::DatasetInsights = serde_json::from_value(json.clone()).ok()?;
    Some(DatasetInsights {
        version: i.version,
        stale: i.version != model.version,
        generated_at: i.generated_at,
        row_count: i64::try_from(i.row_count).unwrap_or(i64::MAX),
        date_column: i.date_column,
        grain: i.grain.map(Into::into),
        measures: i.measures,
        summary: i.summary,
        anomalies: i.anomalies.into_iter().map(anomaly).collect(),
        trends: i.trends.into_iter().map(trend).collect(),
        trend_note: i.trend_note,
        recommendations: i.recommendations.into_iter().map(recommendation).collect(),
        notes: i.notes,
        written_by: i.written_by,
        statement_count: i32::try_from(i.statements).unwrap_or(i32::MAX),
        elapsed_ms: i64::try_from(i.elapsed_ms).unwrap_or(i64::MAX),
    })
}

/// Dataset insights mutations.
#[derive(Default)]
pub struct DatasetInsightsMutation;

#[Object]
impl DatasetInsightsMutation {
    /// Computes a `READY` dataset's insights as an `INSIGHTS` job,
    /// answered at once with the `QUEUED` job (follow it with `job` or
    /// `jobUpdates`; read the result as `Dataset.insights`): anomalies
    /// (values beyond Tukey's fences; periods off the column's line), at
    /// least three trends when the data has them (`trendNote` says why
    /// when fewer), at least one recommendation and a summary. While an
    /// insights job of the dataset is unfinished, that job is the answer;
    /// during a reload, `CONFLICT`. Viewers may not.
    async fn dataset_insights(&self, ctx: &Context<'_>, dataset_id: ID) -> Result<Job> {
        let viewer = ctx.viewer()?;
        let id = parse_id("datasetId", &dataset_id)?;
        Ok(Job(service::request(&ctx.state().pipeline, ctx.scope()?, viewer, id).await?))
    }
}
