//! The one eviction rule of the per-process caches (tokens, members,
//! documents): memory stays bounded whatever clients send.

use std::collections::HashMap;
use std::hash::Hash;

/// Makes room for one more entry in `map` of at most `max` entries: drops
/// those no longer `fresh`, and everything if that is not enough.
pub(crate) fn make_room<K: Eq + Hash, V>(map: &mut HashMap<K, V>, max: usize, mut fresh: impl FnMut(&V) -> bool) {
    if map.len() >= max {
        map.retain(|_, v| fresh(v));
        if map.len() >= max {
            map.clear();
        }
    }
}
