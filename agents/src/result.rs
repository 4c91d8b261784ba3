//! The shape of an answer: what departments produce and the orchestrator
//! assembles into an `AnalysisResult`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Where a number came from: the tool call and the query behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// The recorded tool call (`tool_calls.id`).
    pub tool_call_id: Uuid,
    /// Tool name.
    pub tool: String,
    /// The tool's input: the query behind the number.
    pub query: Value,
}

/// A number worth showing, with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyFigure {
    /// Stable key, e.g. `net_revenue`.
    pub key: String,
    /// Human label.
    pub label: String,
    /// The value (money in major units).
    pub value: f64,
    /// `USD`, `%`, `orders`, `units`, `days`, `customers`.
    pub unit: String,
    /// The tool calls it was computed from (data first, then statistics).
    pub provenance: Vec<Provenance>,
}

/// A titled paragraph of the narrative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Section {
    /// Heading.
    pub title: String,
    /// Text.
    pub body: String,
}

/// A chart: its data and a Vega-Lite spec that renders it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Visualization {
    /// Title.
    pub title: String,
    /// `LINE`, `BAR`.
    pub chart_type: String,
    /// The rows plotted.
    pub data: Vec<Value>,
    /// A complete Vega-Lite v5 spec with the data inlined.
    pub spec: Value,
}

impl Visualization {
    /// A chart of `y` over `x` (`x` is ordinal, `y` quantitative).
    pub fn new(title: &str, chart_type: &str, x: (&str, &str), y: (&str, &str), data: Vec<Value>) -> Self {
        let mark = match chart_type {
            "LINE" => serde_json::json!({ "type": "line", "point": true }),
            _ => serde_json::json!({ "type": "bar" }),
        };
        let spec = serde_json::json!({
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "title": title,
            "data": { "values": data },
            "mark": mark,
            "encoding": {
                "x": { "field": x.0, "type": "ordinal", "title": x.1, "sort": null },
                "y": { "field": y.0, "type": "quantitative", "title": y.1 },
            },
        });
        Self { title: title.to_owned(), chart_type: chart_type.to_owned(), data, spec }
    }
}

/// Advice in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// What to do.
    pub title: String,
    /// Why, citing the figures.
    pub rationale: String,
}

/// A store change an agent proposes; it becomes a `PENDING` `ProposedAction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProposalDraft {
    /// `CREATE_DISCOUNT`, `UPDATE_PRODUCT`.
    pub kind: String,
    /// Validated parameters.
    pub parameters: Value,
    /// What changes and the expected effect, for the approver.
    pub preview: Value,
    /// Shopify scopes needed to run it.
    pub required_scopes: Vec<String>,
}

/// The reviewed answer, as stored in `analysis_results.body`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisBody {
    /// Narrative sections.
    pub sections: Vec<Section>,
    /// Figures with provenance.
    pub key_figures: Vec<KeyFigure>,
    /// Charts.
    pub visualizations: Vec<Visualization>,
    /// Advice.
    pub recommendations: Vec<Recommendation>,
    /// What the data could not support (a period beyond the history the
    /// store lets us read, say): the answer says so instead of guessing.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Who wrote the words: the model, or the offline rules.
    #[serde(default)]
    pub written_by: Option<String>,
}
