//! The department's reading: which symbols a question names, their moves
//! over the period, and the figures with the calls behind them.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::{MarketFindings, NO_QUOTES};
use crate::market::quotes::Quotes;
use crate::result::{KeyFigure, Provenance, Section};
use crate::tools::{
    HistoryInterval, StocksHistory, StocksHistoryInput, StocksIndicators, StocksIndicatorsInput, SymbolIndicators,
    TaskFailure, ToolRunner,
};

use super::super::TaskContext;

/// Most symbols one answer covers (the rest are named in a warning).
pub const MAX_ANSWERED: usize = 10;

/// The symbols among `known` that `prompt` names, in the order it names
/// them: `$shop` in any case, or the symbol as written in capitals (`SHOP`;
/// so the word "a" never names the symbol `A`).
pub fn named(prompt: &str, known: &[String]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let is_symbol_char = |c: char| c.is_ascii_alphanumeric() || "$.-:^=/_".contains(c);
    for word in prompt.split(|c: char| !is_symbol_char(c)) {
        // A sentence's full stop or a possessive is not part of a symbol.
        let word = word.trim_end_matches(['.', '-', ':', '/']);
        let (candidate, tagged) = match word.strip_prefix('$') {
            Some(rest) => (rest.to_ascii_uppercase(), true),
            None => (word.to_owned(), false),
        };
        let written_as_symbol = tagged || candidate.chars().any(|c| c.is_ascii_uppercase());
        if written_as_symbol && known.contains(&candidate) && !found.contains(&candidate) {
            found.push(candidate);
        }
    }
    found
}

/// The shop's midnight starting `day` (the period's days are the shop's
/// days, as every department's are); a midnight a DST change skips starts
/// at the earliest time that exists.
fn start_of(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    zone.from_local_datetime(&midnight).earliest().map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// Symbols' keys as figure keys: `BRK.B` → `brk_b`.
fn key_of(symbol: &str) -> String {
    symbol.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

fn figure(key: String, label: String, value: f64, unit: &str, provenance: &Provenance) -> KeyFigure {
    KeyFigure { key, label, value, unit: unit.to_owned(), provenance: vec![provenance.clone()] }
}

/// Rounds to `places` decimals, as figures are shown.
fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

pub(super) async fn answer(
    task: &TaskContext,
    quotes: Arc<dyn Quotes>,
    tools: &mut ToolRunner,
) -> Result<MarketFindings, TaskFailure> {
    let (listed, listing) = tools.call(&StocksIndicators(quotes.clone()), StocksIndicatorsInput::default()).await?;
    let known: Vec<String> = listed.symbols.iter().map(|s| s.symbol.clone()).collect();
    if known.is_empty() {
        return Ok(MarketFindings::unanswered(NO_QUOTES));
    }
    let mut findings = MarketFindings::default();
    let asked = named(&task.prompt, &known);
    let mut chosen: Vec<&SymbolIndicators> = if asked.is_empty() {
        listed.symbols.iter().collect()
    } else {
        asked.iter().filter_map(|a| listed.symbols.iter().find(|s| &s.symbol == a)).collect()
    };
    if chosen.len() > MAX_ANSWERED {
        let rest: Vec<&str> = chosen[MAX_ANSWERED..].iter().map(|s| s.symbol.as_str()).collect();
        findings.warnings.push(format!("Only the first {MAX_ANSWERED} symbols are answered; not {}.", rest.join(", ")));
        chosen.truncate(MAX_ANSWERED);
    }
    let zone = task.store.time_zone();
    let from = start_of(task.period.current.from, zone);
    // The period may reach past today ("this month"): read to now.
    let to = start_of(task.period.current.to, zone).min(Utc::now() + chrono::Duration::seconds(1));
    let label = task.period.label();
    let mut rows = Vec::new();
    let mut moves = Vec::new();
    for symbol in chosen {
        let Some(latest) = &symbol.latest else { continue };
        let name = &symbol.symbol;
        let key = key_of(name);
        findings.figures.push(figure(
            format!("stock_{key}_price"),
            format!("{name} last price"),
            latest.price,
            "price",
            &listing,
        ));
        if let Some(volatility) = latest.volatility {
            findings.figures.push(figure(
                format!("stock_{key}_volatility"),
                format!("{name} volatility (annualised, last 20 returns)"),
                round(volatility * 100.0, 2),
                "%",
                &listing,
            ));
        }
        let input = StocksHistoryInput { symbol: name.clone(), from, to, interval: HistoryInterval::Day };
        let change = match tools.call(&StocksHistory(quotes.clone()), input).await {
            Ok((history, provenance)) => match (history.bars.first(), history.bars.last()) {
                (Some(first), Some(last)) if first.open > 0.0 => {
                    let change = round((last.close / first.open - 1.0) * 100.0, 2);
                    findings.figures.push(figure(
                        format!("stock_{key}_change"),
                        format!("{name} change, {label}"),
                        change,
                        "%",
                        &provenance,
                    ));
                    moves.push(format!("{name} {change:+.2} % (to {:.2})", last.close));
                    Some(change)
                }
                _ => {
                    findings.warnings.push(format!("{name} has no trades in {label}: its move cannot be told."));
                    None
                }
            },
            Err(TaskFailure::Tool { error, .. }) => {
                findings.warnings.push(format!("{name}'s history could not be read: {error}"));
                None
            }
            Err(other) => return Err(other),
        };
        let shown = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.2}"));
        rows.push(format!(
            "| {name} | {:.2} | {} | {} | {} | {} | {} | {} |",
            latest.price,
            change.map_or("–".to_owned(), |c| format!("{c:+.2} %")),
            shown(latest.sma20),
            shown(latest.ema12),
            shown(latest.vwap),
            latest.volatility.map_or("–".to_owned(), |v| format!("{:.1} %", v * 100.0)),
            latest.as_of.format("%Y-%m-%d %H:%M UTC"),
        ));
    }
    if !rows.is_empty() {
        let header = "| Symbol | Last | Change | SMA(20) | EMA(12) | VWAP | Volatility | As of |\n\
                      |---|---|---|---|---|---|---|---|";
        findings
            .sections
            .push(Section { title: "Share prices".into(), body: format!("{header}\n{}", rows.join("\n")) });
    }
    findings.answer = if moves.is_empty() {
        findings.warnings.first().cloned()
    } else {
        Some(format!("Share prices, {label}: {}.", moves.join("; ")))
    };
    Ok(findings)
}
