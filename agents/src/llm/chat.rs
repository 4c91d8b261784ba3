//! The OpenAI-compatible chat client (OpenRouter by default), through
//! langchain-rust: tool calls, streaming, a timeout per call, retries of
//! 429/5xx/timeouts (by the answer's status code) with exponential backoff
//! and jitter, a circuit breaker per model (a call counts once, after its
//! retries; while it is open, calls fail at once with
//! `LlmError::CircuitOpen`), and a log line and a [`ClientObserver`] report
//! per call with model, tokens, estimated cost and duration.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_openai::error::OpenAIError;
use futures_util::StreamExt;
use langchain_rust::language_models::llm::LLM;
use langchain_rust::language_models::options::CallOptions;
use langchain_rust::language_models::{GenerateResult, LLMError, LLMEvent, TokenUsage};
use langchain_rust::llm::openai::{OpenAI, OpenAIConfig};
use langchain_rust::schemas::{FunctionDefinition, Message};
use langchain_rust::tools::Tool as LcTool;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::mpsc;

use super::LlmError;
use crate::breaker::{Breaker, BreakerConfig, Breakers};
use crate::telemetry::{ClientObserver, LlmCall, NoObserver};

/// Price of a model per million tokens, in USD.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Price {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million completion tokens.
    pub output: f64,
}

impl Price {
    /// What `usage` costs at this price, in USD.
    pub fn cost(&self, usage: Usage) -> f64 {
        (f64::from(usage.prompt_tokens) * self.input + f64::from(usage.completion_tokens) * self.output) / 1_000_000.0
    }
}

/// Where and how to call the model.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// `https://openrouter.ai/api/v1` or any OpenAI-compatible base URL.
    pub base_url: String,
    /// Bearer key.
    pub api_key: SecretString,
    /// Per attempt.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First retry delay (doubles, with jitter).
    pub backoff: Duration,
    /// Prices for the cost estimate, by model id.
    pub prices: HashMap<String, Price>,
}

/// One model call's bill.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Completion tokens.
    pub completion_tokens: u32,
}

/// Calls an OpenAI-compatible chat endpoint.
#[derive(Clone)]
pub struct ChatClient {
    config: Arc<ChatConfig>,
    /// One per model: one model's outage does not stop the others.
    breakers: Arc<Breakers<String>>,
    observer: Arc<dyn ClientObserver>,
}

/// Worth another attempt: a 429 or 5xx answer, or no answer at all (the
/// connection failed, timed out or broke off). Any other answer is final.
fn retryable(error: &LLMError) -> bool {
    use langchain_rust::language_models::LLMError as E;
    match error {
        E::OpenAIError(OpenAIError::ApiError(answer)) => {
            let status = answer.status_code;
            status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
        }
        E::OpenAIError(OpenAIError::Reqwest(_) | OpenAIError::StreamError(_)) => true,
        E::RequestError(_) | E::Timeout(_) | E::IoError(_) => true,
        _ => false,
    }
}

impl ChatClient {
    /// A client for `config`, with the default circuit breaker per model and
    /// no observer.
    pub fn new(config: ChatConfig) -> Self {
        Self {
            config: Arc::new(config),
            breakers: Arc::new(Breakers::new("llm", BreakerConfig::default())),
            observer: Arc::new(NoObserver),
        }
    }

    /// Reports every call to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn ClientObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// Opens each model's circuit by `config` instead of the default.
    pub fn with_breaker(mut self, config: BreakerConfig) -> Self {
        self.breakers = Arc::new(Breakers::new("llm", config));
        self
    }

    /// The model's breaker, if it lets a call through now.
    fn admit(&self, model: &str) -> Result<Arc<Breaker>, LlmError> {
        let breaker = self.breakers.get(model);
        if let Err(open) = breaker.admit() {
            tracing::warn!(model, retry_in_s = open.retry_in_secs(), "llm circuit open; failing fast");
            return Err(LlmError::CircuitOpen(open.refusing(format!("model {model}"))));
        }
        Ok(breaker)
    }

    /// Tells the breaker how a call ended (only "unavailable" is a failure:
    /// a rejected answer came from a working model) and reports a failed
    /// call to the observer; `log` reports the successful ones.
    fn settle(&self, breaker: &Breaker, model: &str, started: Instant, error: Option<&LlmError>) {
        match error {
            Some(LlmError::Unavailable(_)) => breaker.failed(),
            // Refused before the call: nothing happened to tell.
            Some(LlmError::CircuitOpen(_)) => {}
            Some(LlmError::Invalid(_)) | None => breaker.succeeded(),
        }
        if error.is_some() {
            let seconds = started.elapsed().as_secs_f64();
            self.observer.llm_call(&LlmCall { model, tokens_in: 0, tokens_out: 0, cost_usd: 0.0, seconds, ok: false });
        }
    }

    fn llm(&self, model: &str, tools: &[Arc<dyn LcTool>]) -> OpenAI<OpenAIConfig> {
        let config = OpenAIConfig::new()
            .with_api_base(self.config.base_url.trim_end_matches('/'))
            .with_api_key(self.config.api_key.expose_secret());
        let mut options = CallOptions::new().with_stream_usage(true);
        if !tools.is_empty() {
            options = options.with_functions(tools.iter().map(FunctionDefinition::from_langchain_tool).collect());
        }
        OpenAI::new(config).with_model(model).with_options(options)
    }

    fn log(&self, model: &str, tokens: Option<&TokenUsage>, started: Instant, attempts: u32) -> Usage {
        let usage = tokens
            .map(|t| Usage { prompt_tokens: t.prompt_tokens, completion_tokens: t.completion_tokens })
            .unwrap_or_default();
        let cost = self.config.prices.get(model).map(|p| p.cost(usage));
        self.observer.llm_call(&LlmCall {
            model,
            tokens_in: u64::from(usage.prompt_tokens),
            tokens_out: u64::from(usage.completion_tokens),
            cost_usd: cost.unwrap_or(0.0),
            seconds: started.elapsed().as_secs_f64(),
            ok: true,
        });
        tracing::info!(
            model,
            prompt_tokens = usage.prompt_tokens,
            completion_tokens = usage.completion_tokens,
            estimated_cost_usd = cost,
            duration_ms = started.elapsed().as_millis() as u64,
            attempts,
            "llm call"
        );
        usage
    }

    async fn pause(&self, attempt: u32) {
        let jitter: f64 = rand::rng().random_range(0.5..1.5);
        let base = self.config.backoff.saturating_mul(1 << attempt.min(6));
        tokio::time::sleep(base.mul_f64(jitter)).await;
    }

    /// One completion, retried on transient failures; fails fast while the
    /// model's circuit is open.
    pub async fn complete(
        &self,
        model: &str,
        messages: &[Message],
        tools: &[Arc<dyn LcTool>],
    ) -> Result<GenerateResult, LlmError> {
        let breaker = self.admit(model)?;
        let started = Instant::now();
        let outcome = self.complete_retried(model, messages, tools, started).await;
        self.settle(&breaker, model, started, outcome.as_ref().err());
        outcome
    }

    async fn complete_retried(
        &self,
        model: &str,
        messages: &[Message],
        tools: &[Arc<dyn LcTool>],
        started: Instant,
    ) -> Result<GenerateResult, LlmError> {
        let llm = self.llm(model, tools);
        let mut attempt = 0;
        loop {
            let error = match tokio::time::timeout(self.config.timeout, llm.generate(messages)).await {
                Ok(Ok(result)) => {
                    self.log(model, result.tokens.as_ref(), started, attempt + 1);
                    return Ok(result);
                }
                Ok(Err(e)) if retryable(&e) => e.to_string(),
                Ok(Err(e)) => return Err(LlmError::Invalid(e.to_string())),
                Err(_) => format!("timed out after {} ms", self.config.timeout.as_millis()),
            };
            tracing::warn!(model, attempt, error = %error, "llm call failed");
            if attempt >= self.config.max_retries {
                return Err(LlmError::Unavailable(error));
            }
            self.pause(attempt).await;
            attempt += 1;
        }
    }

    /// Streams a completion and returns the whole text. A failure before the
    /// first chunk is retried; one after it is not (the text would repeat).
    /// Fails fast while the model's circuit is open.
    pub async fn stream_text(&self, model: &str, messages: &[Message]) -> Result<String, LlmError> {
        self.stream(model, messages, None).await.map(|(text, _)| text)
    }

    /// Streams a completion, sending each piece of text to `deltas` as it
    /// arrives, and returns the whole text with the call's usage (zero when
    /// the provider reported none). Retried like [`Self::stream_text`]: only
    /// before the first piece, so no piece is ever sent twice.
    pub async fn stream_to(
        &self,
        model: &str,
        messages: &[Message],
        deltas: &mpsc::Sender<String>,
    ) -> Result<(String, Usage), LlmError> {
        self.stream(model, messages, Some(deltas)).await
    }

    async fn stream(
        &self,
        model: &str,
        messages: &[Message],
        deltas: Option<&mpsc::Sender<String>>,
    ) -> Result<(String, Usage), LlmError> {
        let breaker = self.admit(model)?;
        let started = Instant::now();
        let outcome = self.stream_retried(model, messages, deltas, started).await;
        self.settle(&breaker, model, started, outcome.as_ref().err());
        outcome
    }

    async fn stream_retried(
        &self,
        model: &str,
        messages: &[Message],
        deltas: Option<&mpsc::Sender<String>>,
        started: Instant,
    ) -> Result<(String, Usage), LlmError> {
        let llm = self.llm(model, &[]);
        let mut attempt = 0;
        loop {
            let mut text = String::new();
            let mut chunks = 0usize;
            let outcome = tokio::time::timeout(self.config.timeout, async {
                let mut events = llm.generate_stream(messages);
                while let Some(event) = events.next().await {
                    match event? {
                        LLMEvent::Text(chunk) => {
                            chunks += 1;
                            if let Some(deltas) = deltas {
                                // A listener gone away stops nothing: the
                                // whole text is still returned.
                                let _ = deltas.send(chunk.clone()).await;
                            }
                            text.push_str(&chunk);
                        }
                        LLMEvent::Done(result) => return Ok(Some(result)),
                        _ => {}
                    }
                }
                Ok::<_, LLMError>(None)
            })
            .await;
            let error = match outcome {
                Ok(Ok(done)) => {
                    let usage = self.log(model, done.as_ref().and_then(|d| d.tokens.as_ref()), started, attempt + 1);
                    tracing::debug!(model, chunks, "llm stream finished");
                    return Ok((text, usage));
                }
                Ok(Err(e)) if retryable(&e) && chunks == 0 => e.to_string(),
                Ok(Err(e)) => return Err(LlmError::Invalid(e.to_string())),
                Err(_) if chunks == 0 => format!("timed out after {} ms", self.config.timeout.as_millis()),
                Err(_) => return Err(LlmError::Unavailable("the stream stalled".into())),
            };
            tracing::warn!(model, attempt, error = %error, "llm stream failed");
            if attempt >= self.config.max_retries {
                return Err(LlmError::Unavailable(error));
            }
            self.pause(attempt).await;
            attempt += 1;
        }
    }

    /// Lets the model call `tools` until it answers in words (at most
    /// `max_rounds` model calls); returns the answer.
    pub async fn run_tools(
        &self,
        model: &str,
        mut messages: Vec<Message>,
        tools: &[Arc<dyn LcTool>],
        max_rounds: usize,
    ) -> Result<String, LlmError> {
        for _ in 0..max_rounds {
            let result = self.complete(model, &messages, tools).await?;
            if !result.has_tool_calls() {
                return Ok(result.generation);
            }
            messages.push(Message::new_ai_message_with_tool_calls("", &result.tool_calls));
            for call in &result.tool_calls {
                let output = match tools.iter().find(|t| t.name() == call.name) {
                    Some(tool) => tool.call(&call.arguments).await.unwrap_or_else(|e| format!("error: {e}")),
                    None => format!("error: there is no tool named {}", call.name),
                };
                messages.push(Message::new_tool_message(output, call.id.clone()));
            }
        }
        Err(LlmError::Invalid(format!("no answer after {max_rounds} rounds of tool calls")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16) -> LLMError {
        use async_openai::error::{ApiError, ApiErrorResponse};
        let status_code = reqwest::StatusCode::from_u16(status).unwrap_or_else(|e| panic!("{e}"));
        LLMError::OpenAIError(OpenAIError::ApiError(ApiErrorResponse { status_code, api_error: ApiError::default() }))
    }

    #[test]
    fn retries_are_decided_by_the_status_code() {
        for status in [429, 500, 502, 503, 504] {
            assert!(retryable(&answered(status)), "{status}");
        }
        for status in [400, 401, 403, 404, 422] {
            assert!(!retryable(&answered(status)), "{status}");
        }
        // A refusal whose text looks like a server error is still a refusal.
        let mut refusal = answered(400);
        if let LLMError::OpenAIError(OpenAIError::ApiError(answer)) = &mut refusal {
            answer.api_error.message = "500 tokens over the limit".into();
        }
        assert!(!retryable(&refusal));
        assert!(!retryable(&LLMError::OpenAIError(OpenAIError::InvalidArgument("5 tools".into()))));
    }

    #[test]
    fn cost_is_priced_per_million_tokens_each_way() {
        let price = Price { input: 0.15, output: 0.60 };
        let usage = Usage { prompt_tokens: 120_000, completion_tokens: 30_000 };
        assert!((price.cost(usage) - (0.018 + 0.018)).abs() < 1e-12, "{}", price.cost(usage));
        assert_eq!(price.cost(Usage::default()), 0.0);
    }
}
