//! Market data for the API: `ingestTicks`, `stockIndicators`,
//! `stockSymbols`, `stockHistory` and `stockUpdates` (seed 000 §8). Every
//! member reads; owners, admins and analysts send ticks (a viewer's
//! `ingestTicks` is `FORBIDDEN`). Symbols are the account's own.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use alatar_agents::market::history::{self, HistoryBar, HistoryError, Interval};
use alatar_agents::market::indicators::IndicatorSet;
use alatar_agents::market::ingest::{Accepted, accept};
use alatar_agents::market::tick::{self, BatchError, TickInput};
use alatar_agents::market::{STOCK_UPDATED, symbol_key};
use alatar_agents::pipeline::{Event, Pipeline};
use alatar_entity::AccountScope;

use crate::auth::AccessClaims;
use crate::error::{ApiError, ApiResult};
use crate::service::knowledge::may_edit;

/// Most symbols one `stockUpdates` subscription follows.
pub const MAX_SUBSCRIBED_SYMBOLS: usize = 50;

/// A symbol argument, normalised, or `BAD_USER_INPUT` naming `field`.
pub fn parse_symbol(field: &'static str, raw: &str) -> ApiResult<String> {
    tick::symbol(raw).ok_or_else(|| ApiError::bad_input(field, "must be 1 to 32 letters, digits or . - : ^ = / _"))
}

/// Validates `ticks` whole and accepts them for the caller's account.
pub async fn ingest_ticks(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    ticks: Vec<TickInput>,
) -> ApiResult<Accepted> {
    may_edit(viewer, "viewers cannot send ticks")?;
    // The message names the bad entry: `ticks[3].price: …`.
    let ticks = tick::validate(ticks, Utc::now(), &p.market.settings)
        .map_err(|e: BatchError| ApiError::bad_input("ticks", e.to_string()))?;
    Ok(accept(p, scope.account_id(), ticks).await?)
}

/// The latest indicators of `symbol`, if it has any.
pub async fn indicators(p: &Pipeline, scope: AccountScope, symbol: &str) -> ApiResult<Option<IndicatorSet>> {
    let symbol = parse_symbol("symbol", symbol)?;
    let found = p.market.latest.latest(scope.account_id(), &[symbol]).await.map_err(ApiError::internal)?;
    Ok(found.into_iter().next().flatten())
}

/// The account's symbols.
pub async fn symbols(p: &Pipeline, scope: AccountScope) -> ApiResult<Vec<String>> {
    p.market.latest.symbols(scope.account_id()).await.map_err(ApiError::internal)
}

/// `symbol`'s bars of `interval` in `[from, to)`.
pub async fn stock_history(
    p: &Pipeline,
    scope: AccountScope,
    symbol: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Interval,
) -> ApiResult<Vec<HistoryBar>> {
    let symbol = parse_symbol("symbol", symbol)?;
    let zone = p.market.settings.session_time_zone;
    history::read(&p.db, scope, zone, &symbol, from, to, interval).await.map_err(|e| match e {
        HistoryError::EmptyRange => ApiError::bad_input("to", e.to_string()),
        HistoryError::TooManyBars { .. } => ApiError::bad_input("interval", e.to_string()),
        HistoryError::Db(db) => db.into(),
    })
}

/// The symbols a subscription follows: normalised, distinct, 1 to
/// [`MAX_SUBSCRIBED_SYMBOLS`].
pub fn subscribed_symbols(raw: &[String]) -> ApiResult<Vec<String>> {
    if raw.is_empty() || raw.len() > MAX_SUBSCRIBED_SYMBOLS {
        return Err(ApiError::bad_input("symbols", format!("must name 1 to {MAX_SUBSCRIBED_SYMBOLS} symbols")));
    }
    let mut symbols = Vec::with_capacity(raw.len());
    for s in raw {
        let s = parse_symbol("symbols", s)?;
        if !symbols.contains(&s) {
            symbols.push(s);
        }
    }
    Ok(symbols)
}

/// Each new indicator set of `symbols` (already normalised), as the
/// partitions' consumers publish them, newest per symbol only: a set no
/// newer than the last one yielded for its symbol is skipped. After a lag
/// (the subscriber fell behind the bus) the latest store is read instead,
/// so a slow client skips to the present rather than replaying.
pub fn stock_updates(
    p: Pipeline,
    scope: AccountScope,
    symbols: Vec<String>,
) -> impl Stream<Item = ApiResult<IndicatorSet>> + Send + 'static {
    let account_id = scope.account_id();
    let streams = symbols.iter().map(|s| BroadcastStream::new(p.bus.hub().subscribe(symbol_key(account_id, s))));
    let merged = futures_util::stream::select_all(streams);
    let seen: HashMap<String, DateTime<Utc>> = HashMap::new();
    let state = (merged, seen, p, symbols, std::collections::VecDeque::<IndicatorSet>::new());
    futures_util::stream::unfold(state, move |(mut merged, mut seen, p, symbols, mut pending)| async move {
        loop {
            if let Some(set) = pending.pop_front() {
                return Some((Ok(set), (merged, seen, p, symbols, pending)));
            }
            let sets: Vec<IndicatorSet> = match merged.next().await? {
                Ok(event) => own_set(&event, account_id).into_iter().collect(),
                Err(BroadcastStreamRecvError::Lagged(_)) => match p.market.latest.latest(account_id, &symbols).await {
                    Ok(found) => found.into_iter().flatten().collect(),
                    Err(e) => return Some((Err(ApiError::internal(e)), (merged, seen, p, symbols, pending))),
                },
            };
            for set in sets {
                if seen.get(&set.symbol).is_none_or(|at| set.as_of > *at) {
                    seen.insert(set.symbol.clone(), set.as_of);
                    pending.push_back(set);
                }
            }
        }
    })
}

/// The indicator set an event carries, when it is one of the account's.
fn own_set(event: &Arc<Event>, account_id: uuid::Uuid) -> Option<IndicatorSet> {
    (event.account_id == account_id && event.kind == STOCK_UPDATED)
        .then(|| serde_json::from_value(event.payload.clone()).ok())
        .flatten()
}
