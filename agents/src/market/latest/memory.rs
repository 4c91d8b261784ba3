//! The embedded engine: a map in the process. It does not survive a
//! restart; the bars in the database do.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use uuid::Uuid;

use super::LatestIndicators;
use crate::market::indicators::{IndicatorSet, SymbolState};

/// Latest indicators in memory.
#[derive(Default)]
pub struct MemoryLatest {
    accounts: Mutex<HashMap<Uuid, BTreeMap<String, SymbolState>>>,
}

impl MemoryLatest {
    fn read<T>(&self, account_id: Uuid, f: impl FnOnce(Option<&BTreeMap<String, SymbolState>>) -> T) -> T {
        let accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        f(accounts.get(&account_id))
    }
}

#[async_trait]
impl LatestIndicators for MemoryLatest {
    async fn states(&self, account_id: Uuid, symbols: &[String]) -> anyhow::Result<Vec<Option<SymbolState>>> {
        Ok(self.read(account_id, |map| symbols.iter().map(|s| map.and_then(|m| m.get(s)).cloned()).collect()))
    }

    async fn save(&self, account_id: Uuid, states: &[SymbolState]) -> anyhow::Result<()> {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        let map = accounts.entry(account_id).or_default();
        for state in states {
            map.insert(state.symbol().to_owned(), state.clone());
        }
        Ok(())
    }

    async fn latest(&self, account_id: Uuid, symbols: &[String]) -> anyhow::Result<Vec<Option<IndicatorSet>>> {
        Ok(self.read(account_id, |map| {
            symbols.iter().map(|s| map.and_then(|m| m.get(s)).and_then(SymbolState::indicators)).collect()
        }))
    }

    async fn symbols(&self, account_id: Uuid) -> anyhow::Result<Vec<String>> {
        Ok(self.read(account_id, |map| map.map(|m| m.keys().cloned().collect()).unwrap_or_default()))
    }

    async fn erase(&self, account_id: Uuid) -> anyhow::Result<()> {
        self.accounts.lock().unwrap_or_else(|p| p.into_inner()).remove(&account_id);
        Ok(())
    }
}
