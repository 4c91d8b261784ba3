//! The production engine: a Redis hash per symbol,
//! `alatar:market:{account}:{SYMBOL}`, whose fields are the indicators as
//! text (`price`, `volume`, `sma20`, `ema12`, `vwap`, `volatility`,
//! `session`, `sessionVolume`, `ticks`, `asOf`; an empty field is no value
//! yet), readable by any other system, plus `state`, the JSON that
//! continues them. A set per account, `alatar:market:{account}:symbols`,
//! lists its symbols.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use redis::aio::ConnectionManager;
use uuid::Uuid;

use super::LatestIndicators;
use crate::market::indicators::{IndicatorSet, SymbolState};

/// Latest indicators in Redis.
pub struct RedisLatest {
    connection: ConnectionManager,
}

impl RedisLatest {
    /// Over `connection`.
    pub fn new(connection: ConnectionManager) -> Self {
        Self { connection }
    }
}

fn key(account_id: Uuid, symbol: &str) -> String {
    format!("alatar:market:{account_id}:{symbol}")
}

fn symbols_key(account_id: Uuid) -> String {
    format!("alatar:market:{account_id}:symbols")
}

fn text(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The hash's fields for `set`.
fn fields(set: &IndicatorSet, state: &str) -> Vec<(&'static str, String)> {
    vec![
        ("price", set.price.to_string()),
        ("volume", set.volume.to_string()),
        ("sma20", text(set.sma20)),
        ("ema12", text(set.ema12)),
        ("vwap", text(set.vwap)),
        ("volatility", text(set.volatility)),
        ("session", set.session.to_string()),
        ("sessionVolume", set.session_volume.to_string()),
        ("ticks", set.ticks.to_string()),
        ("asOf", set.as_of.to_rfc3339()),
        ("state", state.to_owned()),
    ]
}

/// The set the hash `fields` of `symbol` holds, if whole.
fn parse(symbol: &str, fields: &HashMap<String, String>) -> Option<IndicatorSet> {
    let number = |name: &str| fields.get(name).and_then(|v| v.parse::<f64>().ok());
    Some(IndicatorSet {
        symbol: symbol.to_owned(),
        price: number("price")?,
        volume: number("volume")?,
        sma20: number("sma20"),
        ema12: number("ema12"),
        vwap: number("vwap"),
        volatility: number("volatility"),
        session: fields.get("session")?.parse::<NaiveDate>().ok()?,
        session_volume: number("sessionVolume")?,
        ticks: fields.get("ticks")?.parse().ok()?,
        as_of: DateTime::parse_from_rfc3339(fields.get("asOf")?).ok()?.with_timezone(&Utc),
    })
}

#[async_trait]
impl LatestIndicators for RedisLatest {
    async fn states(&self, account_id: Uuid, symbols: &[String]) -> anyhow::Result<Vec<Option<SymbolState>>> {
        if symbols.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for symbol in symbols {
            pipe.cmd("HGET").arg(key(account_id, symbol)).arg("state");
        }
        let found: Vec<Option<String>> = pipe.query_async(&mut self.connection.clone()).await?;
        found
            .into_iter()
            .map(|state| state.map(|s| serde_json::from_str(&s)).transpose().map_err(anyhow::Error::from))
            .collect()
    }

    async fn save(&self, account_id: Uuid, states: &[SymbolState]) -> anyhow::Result<()> {
        let mut pipe = redis::pipe();
        for state in states {
            let Some(set) = state.indicators() else { continue };
            let json = serde_json::to_string(state)?;
            pipe.cmd("HSET").arg(key(account_id, state.symbol())).arg(fields(&set, &json)).ignore();
            pipe.cmd("SADD").arg(symbols_key(account_id)).arg(state.symbol()).ignore();
        }
        let () = pipe.query_async(&mut self.connection.clone()).await?;
        Ok(())
    }

    async fn latest(&self, account_id: Uuid, symbols: &[String]) -> anyhow::Result<Vec<Option<IndicatorSet>>> {
        if symbols.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for symbol in symbols {
            pipe.cmd("HGETALL").arg(key(account_id, symbol));
        }
        let found: Vec<HashMap<String, String>> = pipe.query_async(&mut self.connection.clone()).await?;
        Ok(symbols.iter().zip(found).map(|(symbol, fields)| parse(symbol, &fields)).collect())
    }

    async fn symbols(&self, account_id: Uuid) -> anyhow::Result<Vec<String>> {
        let mut symbols: Vec<String> =
            redis::cmd("SMEMBERS").arg(symbols_key(account_id)).query_async(&mut self.connection.clone()).await?;
        symbols.sort();
        Ok(symbols)
    }

    async fn erase(&self, account_id: Uuid) -> anyhow::Result<()> {
        let symbols = self.symbols(account_id).await?;
        let mut keys: Vec<String> = symbols.iter().map(|s| key(account_id, s)).collect();
        keys.push(symbols_key(account_id));
        let () = redis::cmd("DEL").arg(keys).query_async(&mut self.connection.clone()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_reads_back_as_the_set_it_was_written_from() {
        let set = IndicatorSet {
            symbol: "AAPL".into(),
            price: 190.25,
            volume: 300.0,
            sma20: None,
            ema12: Some(189.912_345_678_9),
            vwap: Some(190.0),
            volatility: Some(0.31),
            session: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default(),
            session_volume: 1200.0,
            ticks: 14,
            as_of: Utc::now(),
        };
        let map: HashMap<String, String> = fields(&set, "{}").into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let back = parse("AAPL", &map);
        // RFC 3339 keeps nanoseconds, `f64::to_string` round-trips exactly.
        assert_eq!(back, Some(set));
        assert_eq!(parse("AAPL", &HashMap::new()), None);
    }
}
