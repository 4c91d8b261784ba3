//! The analyst team's port onto one account's market data: its symbols,
//! their latest indicators and their history, bound to the account's
//! scope when the department's task is built, so nothing holding it can
//! read another account's symbols.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use alatar_entity::AccountScope;

use super::Market;
use super::history::{self, HistoryBar, HistoryError, Interval};
use super::indicators::IndicatorSet;

/// One account's market data.
#[async_trait]
pub trait Quotes: Send + Sync {
    /// Every symbol the account has ticks of, sorted.
    async fn symbols(&self) -> anyhow::Result<Vec<String>>;
    /// The latest indicators of `symbols`, in the order asked.
    async fn latest(&self, symbols: &[String]) -> anyhow::Result<Vec<Option<IndicatorSet>>>;
    /// `symbol`'s bars of `interval` in `[from, to)`.
    async fn history(
        &self,
        symbol: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        interval: Interval,
    ) -> Result<Vec<HistoryBar>, HistoryError>;
}

/// [`Quotes`] over the latest store and the bars table.
pub struct AccountQuotes {
    db: DatabaseConnection,
    scope: AccountScope,
    market: Arc<Market>,
}

impl AccountQuotes {
    /// `scope`'s market data.
    pub fn new(db: DatabaseConnection, scope: AccountScope, market: Arc<Market>) -> Self {
        Self { db, scope, market }
    }
}

#[async_trait]
impl Quotes for AccountQuotes {
    async fn symbols(&self) -> anyhow::Result<Vec<String>> {
        self.market.latest.symbols(self.scope.account_id()).await
    }

    async fn latest(&self, symbols: &[String]) -> anyhow::Result<Vec<Option<IndicatorSet>>> {
        self.market.latest.latest(self.scope.account_id(), symbols).await
    }

    async fn history(
        &self,
        symbol: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        interval: Interval,
    ) -> Result<Vec<HistoryBar>, HistoryError> {
        let zone = self.market.settings.session_time_zone;
        history::read(&self.db, self.scope, zone, symbol, from, to, interval).await
    }
}
