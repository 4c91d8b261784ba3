//! A registered model, as stored, and a prediction with it: the input
//! encoded exactly as the training rows were ([`Encoder`]), the fitted
//! model applied, and for a classifier every class's probability (see
//! `families` for how each family gets them), the label the most probable
//! class.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::families::{Fitted, most_probable};
use super::features::{Encoder, InputError, Rows};

/// The artifact format this code writes and reads.
pub const ARTIFACT_FORMAT: u32 = 1;

/// What a model predicts, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum TargetCodec {
    /// A number.
    Number,
    /// One of `classes`, by index.
    Classes {
        /// In the model's order.
        classes: Vec<ClassLabel>,
    },
}

/// A class: its value as the table had it, and as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassLabel {
    /// As a JSON value (a string, number or boolean).
    pub value: Value,
    /// As text.
    pub label: String,
}

/// Everything a prediction needs, stored as `ml_models.artifact`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// [`ARTIFACT_FORMAT`] when written.
    pub format: u32,
    /// How inputs become numbers.
    pub encoder: Encoder,
    /// What comes out.
    pub target: TargetCodec,
    /// The fitted model.
    pub model: Fitted,
}

/// A class and its probability.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassProbability {
    /// The class as text.
    pub label: String,
    /// The class as the table had it.
    pub value: Value,
    /// 0–1; a prediction's sum to 1.
    pub probability: f64,
}

/// One prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The predicted number, or the predicted class's value.
    pub value: Value,
    /// Classification: the predicted class as text.
    pub label: Option<String>,
    /// Classification: every class's probability, most probable first
    /// (ties in the model's order).
    pub probabilities: Vec<ClassProbability>,
    /// Features missing or null in the input, filled as training filled nulls.
    pub imputed: Vec<String>,
}

/// Why there is no prediction.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// The input is at fault (names, types, shape): the caller's to fix.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The stored model cannot be read or applied.
    #[error("the model could not be applied: {0}")]
    Model(String),
}

impl Artifact {
    /// Reads a stored artifact.
    pub fn load(text: &str) -> Result<Artifact, PredictError> {
        let artifact: Artifact = serde_json::from_str(text).map_err(|e| PredictError::Model(e.to_string()))?;
        if artifact.format != ARTIFACT_FORMAT {
            return Err(PredictError::Model(format!(
                "it is stored in format {}, this server reads {ARTIFACT_FORMAT}",
                artifact.format
            )));
        }
        Ok(artifact)
    }

    /// Predicts for `input`, a JSON object of feature names and values.
    pub fn predict(&self, input: &Value) -> Result<Prediction, PredictError> {
        let encoded = self.encoder.encode_input(input)?;
        let x = Rows { n: 1, p: encoded.values.len(), values: encoded.values };
        let model = |e: super::families::FitError| PredictError::Model(e.to_string());
        match &self.target {
            TargetCodec::Number => {
                let predicted = self.model.predict_numbers(&x).map_err(model)?;
                let number = predicted.first().copied().and_then(serde_json::Number::from_f64);
                let value =
                    number.map(Value::Number).ok_or_else(|| PredictError::Model("no number came out".into()))?;
                Ok(Prediction { value, label: None, probabilities: Vec::new(), imputed: encoded.imputed })
            }
            TargetCodec::Classes { classes } => {
                let rows = self.model.probabilities(&x, classes.len()).map_err(model)?;
                let row = rows.into_iter().next().ok_or_else(|| PredictError::Model("no class came out".into()))?;
                let best = usize::try_from(most_probable(&row)).unwrap_or(0);
                let chosen = classes.get(best).ok_or_else(|| PredictError::Model("no such class".into()))?;
                let mut probabilities: Vec<ClassProbability> = classes
                    .iter()
                    .zip(row)
                    .map(|(class, probability)| ClassProbability {
                        label: class.label.clone(),
                        value: class.value.clone(),
                        probability,
                    })
                    .collect();
                probabilities.sort_by(|a, b| b.probability.total_cmp(&a.probability));
                Ok(Prediction {
                    value: chosen.value.clone(),
                    label: Some(chosen.label.clone()),
                    probabilities,
                    imputed: encoded.imputed,
                })
            }
        }
    }
}
