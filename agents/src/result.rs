//! The shape of an answer: what departments produce and the orchestrator
//! assembles into an `AnalysisResult`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Where a number (or a citation) came from: the tool call and the query behind it.
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

/// Where a claim from the merchant's documents comes from: the chunk, its
/// place in the source, and the tool calls that found and re-read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Citation {
    /// `[1]`, `[2]`, … as the answer's text cites it.
    pub marker: u32,
    /// The chunk (`document_chunks.id`).
    pub chunk_id: Uuid,
    /// Its document.
    pub document_id: Uuid,
    /// The name the document was uploaded under.
    pub filename: String,
    /// 1-based page (PDF); `None` for unpaginated documents.
    pub page: Option<i32>,
    /// First character of the quote in the page's extracted text.
    pub char_start: i32,
    /// One past its last character.
    pub char_end: i32,
    /// The words cited, exactly as the document has them.
    pub quote: String,
    /// `rag.search` (found it) and `rag.cite` (re-read it).
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
    /// The merchant's documents behind its document claims.
    #[serde(default)]
    pub citations: Vec<Citation>,
}
