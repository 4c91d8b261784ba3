//! Ticks and their validation. A batch is taken whole or not at all: the
//! first bad entry refuses it, naming its index and field, so a feed never
//! has to guess which of its ticks were kept.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::settings::MarketSettings;

/// The longest symbol, in characters.
pub const MAX_SYMBOL_LEN: usize = 32;

/// One trade: a symbol's price and volume at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// Upper case, as [`symbol`] normalises it.
    pub symbol: String,
    /// Finite and above zero.
    pub price: f64,
    /// Finite and not negative (zero for a quote without a trade).
    pub volume: f64,
    /// When it traded.
    pub time: DateTime<Utc>,
}

/// A tick as a feed sends it: on the exchange, JSON with exactly these
/// fields (an unknown one refuses the message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TickInput {
    /// Ticker, case-insensitive.
    pub symbol: String,
    /// Price.
    pub price: f64,
    /// Volume.
    pub volume: f64,
    /// RFC 3339 time.
    pub time: DateTime<Utc>,
}

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    /// More ticks than `market.max_batch`.
    #[error("a batch holds at most {max} ticks; this one has {count}")]
    TooLarge {
        /// Ticks sent.
        count: usize,
        /// The cap.
        max: usize,
    },
    /// One entry is bad; nothing of the batch was taken.
    #[error("ticks[{index}].{field}: {reason}")]
    Bad {
        /// The entry's position in the batch, from 0.
        index: usize,
        /// `symbol`, `price`, `volume` or `time`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// `raw` trimmed and upper-cased, if it is a symbol: 1 to 32 ASCII
/// letters, digits or `. - : ^ = / _` (tickers like `BRK.B`, `^GSPC`,
/// `EURUSD=X`, `BTC-USD`).
pub fn symbol(raw: &str) -> Option<String> {
    let s = raw.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-:^=/_".contains(c);
    (!s.is_empty() && s.len() <= MAX_SYMBOL_LEN && s.chars().all(allowed)).then(|| s.to_ascii_uppercase())
}

/// The earliest time a tick may carry: older than this is a unit mistake
/// (seconds read as milliseconds), not market history.
fn earliest() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1990, 1, 1, 0, 0, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The batch as ticks, or the first reason it cannot be taken.
pub fn validate(batch: Vec<TickInput>, now: DateTime<Utc>, settings: &MarketSettings) -> Result<Vec<Tick>, BatchError> {
    if batch.len() > settings.max_batch {
        return Err(BatchError::TooLarge { count: batch.len(), max: settings.max_batch });
    }
    let latest = now + Duration::from_std(settings.max_future).unwrap_or(Duration::zero());
    let earliest = earliest();
    batch
        .into_iter()
        .enumerate()
        .map(|(index, t)| {
            let bad = |field, reason: &str| BatchError::Bad { index, field, reason: reason.to_owned() };
            let symbol =
                symbol(&t.symbol).ok_or_else(|| bad("symbol", "must be 1 to 32 letters, digits or . - : ^ = / _"))?;
            if !t.price.is_finite() || t.price <= 0.0 {
                return Err(bad("price", "must be a finite number above zero"));
            }
            if !t.volume.is_finite() || t.volume < 0.0 {
                return Err(bad("volume", "must be a finite number, zero or more"));
            }
            if t.time > latest {
                let ahead = format!(
                    "is {} s ahead of the server's clock (at most {} s allowed)",
                    (t.time - now).num_seconds(),
                    settings.max_future.as_secs()
                );
                return Err(bad("time", &ahead));
            }
            if t.time < earliest {
                return Err(bad("time", "is before 1990: is it in seconds where milliseconds were meant?"));
            }
            Ok(Tick { symbol, price: t.price, volume: t.volume, time: t.time })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(symbol: &str, price: f64, volume: f64, time: DateTime<Utc>) -> TickInput {
        TickInput { symbol: symbol.to_owned(), price, volume, time }
    }

    #[test]
    fn the_first_bad_entry_refuses_the_batch_by_index() {
        let now = Utc::now();
        let settings = MarketSettings::default();
        let good = input(" aapl ", 190.5, 100.0, now);
        let Ok(ticks) = validate(vec![good.clone()], now, &settings) else { panic!("a good tick") };
        assert_eq!(ticks[0].symbol, "AAPL");
        let cases = [
            (input("AAPL", -1.0, 1.0, now), "price"),
            (input("AAPL", 0.0, 1.0, now), "price"),
            (input("AAPL", f64::NAN, 1.0, now), "price"),
            (input("AAPL", f64::INFINITY, 1.0, now), "price"),
            (input("AAPL", 1.0, -5.0, now), "volume"),
            (input("AAPL", 1.0, f64::NAN, now), "volume"),
            (input("AAPL", 1.0, 1.0, now + Duration::hours(1)), "time"),
            (input("AAPL", 1.0, 1.0, DateTime::<Utc>::UNIX_EPOCH), "time"),
            (input("", 1.0, 1.0, now), "symbol"),
            (input("AA PL", 1.0, 1.0, now), "symbol"),
            (input(&"X".repeat(33), 1.0, 1.0, now), "symbol"),
        ];
        for (bad, want) in cases {
            let got = validate(vec![good.clone(), good.clone(), bad.clone()], now, &settings);
            let Err(BatchError::Bad { index, field, .. }) = got else { panic!("{bad:?} must be refused") };
            assert_eq!((index, field), (2, want), "{bad:?}");
        }
        let many = vec![good; settings.max_batch + 1];
        assert!(matches!(validate(many, now, &settings), Err(BatchError::TooLarge { .. })));
    }

    #[test]
    fn unknown_fields_refuse_a_feed_message() {
        let json = r#"{"symbol":"AAPL","price":1,"volume":1,"time":"2026-12-01T15:00:00Z","venue":"X"}"#;
        assert!(serde_json::from_str::<TickInput>(json).is_err());
        let json = r#"{"symbol":"AAPL","price":1,"volume":1,"time":"2026-12-01T15:00:00Z"}"#;
        assert!(serde_json::from_str::<TickInput>(json).is_ok());
        assert_eq!(symbol("brk.b").as_deref(), Some("BRK.B"));
        assert_eq!(symbol("^gspc").as_deref(), Some("^GSPC"));
    }
}
