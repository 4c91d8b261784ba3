//! Which model answers: the user's explicit choice first, then a model for
//! long contexts, then one per task, then the default (seed 000 §6).

/// What the model is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Classify the question and plan.
    Plan,
    /// Write the narrative.
    Write,
    /// Summarize a document (cheap: a small model reads and condenses).
    Summary,
}

/// Model choice rules, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRouter {
    /// The fallback.
    pub default_model: String,
    /// For planning (small and fast is enough).
    pub planning_model: Option<String>,
    /// For writing.
    pub writing_model: Option<String>,
    /// For document summaries; without one, the planning model (the
    /// small, cheap one), then the default.
    pub summary_model: Option<String>,
    /// For prompts over `long_context_tokens`.
    pub long_context_model: Option<String>,
    /// Threshold for `long_context_model`, in estimated tokens.
    pub long_context_tokens: usize,
}

impl ModelRouter {
    /// The model for `task` with about `context_chars` characters of input.
    pub fn pick(&self, preferred: Option<&str>, task: Task, context_chars: usize) -> String {
        if let Some(model) = preferred.filter(|m| !m.is_empty() && *m != "offline") {
            return model.to_owned();
        }
        // About four characters per token for English prose and JSON.
        if context_chars / 4 > self.long_context_tokens
            && let Some(model) = &self.long_context_model
        {
            return model.clone();
        }
        let by_task = match task {
            Task::Plan => &self.planning_model,
            Task::Write => &self.writing_model,
            Task::Summary => {
                if self.summary_model.is_some() {
                    &self.summary_model
                } else {
                    &self.planning_model
                }
            }
        };
        by_task.clone().unwrap_or_else(|| self.default_model.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_then_context_then_task_then_default() {
        let router = ModelRouter {
            default_model: "d".into(),
            planning_model: Some("p".into()),
            writing_model: None,
            summary_model: None,
            long_context_model: Some("long".into()),
            long_context_tokens: 1_000,
        };
        assert_eq!(router.pick(Some("mine"), Task::Plan, 10), "mine");
        assert_eq!(router.pick(None, Task::Write, 8_000), "long");
        assert_eq!(router.pick(None, Task::Plan, 10), "p");
        assert_eq!(router.pick(Some("offline"), Task::Write, 10), "d");
        // Summaries take the cheap planning model unless one is named.
        assert_eq!(router.pick(None, Task::Summary, 10), "p");
        let named = ModelRouter { summary_model: Some("s".into()), ..router };
        assert_eq!(named.pick(None, Task::Summary, 10), "s");
    }
}
