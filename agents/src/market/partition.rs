//! Partitioning by symbol (seed 000 P29): every tick of a symbol goes to
//! the same partition, whose queue has one active consumer, so a symbol's
//! ticks are handled in order by one consumer.
//!
//! The hash is FNV-1a over the symbol's bytes: stable across processes,
//! builds and Rust versions (std's `DefaultHasher` is not), so every
//! instance and every restart agree on where a symbol lives.

/// The queue of partition `index`.
pub fn queue_name(index: u16) -> String {
    format!("alatar.market.ticks.{index}")
}

/// The partition of `symbol` among `partitions` (at least one).
pub fn of(symbol: &str, partitions: u16) -> u16 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let hash = symbol.bytes().fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    // The remainder is below `partitions`, a u16.
    (hash % u64::from(partitions.max(1))) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symbol_always_lands_in_the_same_partition() {
        // Fixed values: a change here re-homes every symbol of a running
        // deployment, so it must be deliberate.
        assert_eq!(of("AAPL", 4), of("AAPL", 4));
        assert_eq!(of("", 4), (0xcbf2_9ce4_8422_2325_u64 % 4) as u16);
        assert!(of("MSFT", 1) == 0);
        let spread: std::collections::HashSet<u16> =
            ["AAPL", "MSFT", "GOOG", "AMZN", "TSLA", "NVDA", "META", "SHOP", "NFLX", "ORCL"]
                .iter()
                .map(|s| of(s, 4))
                .collect();
        assert!(spread.len() >= 3, "ten symbols spread over the partitions: {spread:?}");
    }
}
